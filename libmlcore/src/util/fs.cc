#include "util/fs.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <vector>

namespace mlcore::util {

Status FromErrno(int err, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  switch (err) {
    case EACCES:
    case EPERM:
    case EROFS:
      return PermissionDeniedError(message + " (check the path's owner and permissions)");
    case ENOENT:
      return NotFoundError(message);
    case EEXIST:
      return AlreadyExistsError(message);
    case ENOTDIR:
    case EISDIR:
    case ELOOP:
      return FailedPreconditionError(message);
    case ENOSPC:
    case EDQUOT:
      return ResourceExhaustedError(message + " (free some disk space and retry)");
    case ENAMETOOLONG:
    case EINVAL:
      return InvalidArgumentError(message);
    case EAGAIN:
    case EBUSY:
      return UnavailableError(message);
    default:
      return InternalError(message);
  }
}

std::string GetEnv(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return value;
}

namespace {

// The passwd entry's field of the calling user, through getpwuid_r: getpwuid's static buffer is
// shared by every thread, and a server asks from many at once.
std::string PasswdField(bool home) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return {};
  }
  const char* field = home ? pw.pw_dir : pw.pw_name;
  return field == nullptr ? std::string() : std::string(field);
}

}  // namespace

std::string HomeDir() {
  std::string home = GetEnv("HOME");
  if (!home.empty()) return home;
  home = PasswdField(/*home=*/true);
  return home.empty() ? "/" : home;
}

namespace {
thread_local std::string scoped_user;  // empty = none
}  // namespace

ScopedCurrentUser::ScopedCurrentUser(std::string user) : previous_(std::move(scoped_user)) {
  scoped_user = std::move(user);
}

ScopedCurrentUser::~ScopedCurrentUser() { scoped_user = std::move(previous_); }

std::string CurrentUser() {
  if (!scoped_user.empty()) return scoped_user;
  std::string user = GetEnv("USER");
  if (!user.empty()) return user;
  // The passwd lookup reads /etc/passwd (or asks NSS), and the SDK names its user on every rpc:
  // looked up once per thread and uid.
  thread_local uid_t looked_up_uid = static_cast<uid_t>(-1);
  thread_local std::string looked_up;
  const uid_t uid = getuid();
  if (looked_up.empty() || looked_up_uid != uid) {
    looked_up = PasswdField(/*home=*/false);
    if (looked_up.empty()) looked_up = "uid:" + std::to_string(uid);
    looked_up_uid = uid;
  }
  return looked_up;
}

std::string AbsolutePath(std::string_view path) {
  std::string p(path);
  if (p == "~") return HomeDir();
  if (p.starts_with("~/")) p = HomeDir() + p.substr(1);
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  if (ec) return p;
  return abs.lexically_normal().string();
}

namespace {

// mkdir -p: the common cases (exists, parent exists) cost one system call.
int MakeDirectories(const std::string& path, std::string* failed_at) {
  if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return 0;
  if (errno != ENOENT) {
    *failed_at = path;
    return errno;
  }
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) {
    *failed_at = path;
    return ENOENT;
  }
  if (int err = MakeDirectories(path.substr(0, slash), failed_at); err != 0) return err;
  if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return 0;
  *failed_at = path;
  return errno;
}

}  // namespace

Status EnsureDirectory(const std::string& path, std::string_view purpose) {
  std::string what = std::string(purpose) + " " + path;
  std::string failed_at;
  if (int err = MakeDirectories(path, &failed_at); err != 0) {
    return FromErrno(
        err, "cannot create " + what + (failed_at == path ? "" : " (at " + failed_at + ")"));
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return FromErrno(errno, "cannot use " + what);
  if (!S_ISDIR(st.st_mode)) {
    return FailedPreconditionError(what +
                                   " exists but is not a directory; remove it or choose "
                                   "another path");
  }
  if (access(path.c_str(), R_OK | W_OK | X_OK) != 0) {
    return FromErrno(errno, "cannot use " + what + " (need read, write and search access)");
  }
  return Status::Ok();
}

Status AtomicWriteFile(const std::string& path, std::string_view contents, int mode, bool sync) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return FromErrno(errno, "cannot write " + path);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return FromErrno(err, "cannot write " + path);
    }
    done += static_cast<size_t>(n);
  }
  if ((sync && ::fsync(fd) != 0) || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return FromErrno(err, "cannot write " + path);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return FromErrno(err, "cannot replace " + path);
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FromErrno(errno, "cannot read " + path);
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return FromErrno(err, "cannot read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace mlcore::util
