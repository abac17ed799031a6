#include "datacache/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <sys/file.h>
#include <sys/stat.h>
#include <vector>

#include "util/fs.h"

namespace mlcore::datacache {
namespace {

std::string RandomName() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  uint64_t v = rng();
  for (int i = 0; i < 16; ++i, v >>= 4) out += kHex[v & 15];
  return out;
}

std::string DirOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::string ObjectPath(const std::string& tier_dir, const std::string& digest) {
  return tier_dir + "/objects/" + digest.substr(0, 2) + "/" + digest;
}

Status WriteError(int err, const std::string& path) {
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    return ResourceExhaustedError("cannot write " + path + ": " + std::strerror(err) +
                                  " (free disk space or lower the cache capacity)");
  }
  return util::FromErrno(err, "cannot write " + path);
}

Result<FileLock> FileLock::Acquire(const std::string& path, bool* waited) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return util::FromErrno(errno, "cannot open lock file " + path);
  *waited = false;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return FileLock(fd);
  if (errno != EWOULDBLOCK) {
    int err = errno;
    ::close(fd);
    return util::FromErrno(err, "cannot lock " + path);
  }
  *waited = true;
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    return util::FromErrno(err, "cannot lock " + path);
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Result<std::unique_ptr<TempObject>> TempObject::Create(const std::string& tier_dir) {
  // Created under another name and renamed once locked, so RemoveStaleTemps never sees an
  // unlocked part of a live writer.
  std::string base = tier_dir + "/tmp/" + RandomName();
  std::string path = base + ".part";
  std::string init = base + ".init";
  int fd = ::open(init.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return WriteError(errno, init);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::rename(init.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(init.c_str());
    return util::FromErrno(err, "cannot prepare " + path);
  }
  return std::unique_ptr<TempObject>(new TempObject(fd, std::move(path)));
}

TempObject::~TempObject() {
  if (!published_) ::unlink(path_.c_str());
  ::close(fd_);
}

Status TempObject::Announce(uint64_t total_bytes) {
  total_ = total_bytes;
  return on_announce_ ? on_announce_(total_bytes) : Status::Ok();
}

Status TempObject::Write(std::string_view bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return WriteError(errno, path_);
    p += n;
    left -= static_cast<size_t>(n);
  }
  sha_->Update(bytes);
  written_ += bytes.size();
  if (progress_ && !progress_(written_, total_)) {
    return CancelledError("load cancelled by its progress callback");
  }
  return Status::Ok();
}

Status TempObject::Restart() {
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) return WriteError(errno, path_);
  sha_ = std::make_unique<util::Sha256>();
  written_ = 0;
  return Status::Ok();
}

std::string TempObject::Digest() { return sha_->HexDigest(); }

Status TempObject::Publish(const std::string& final_path) {
  if (::fsync(fd_) != 0) return WriteError(errno, path_);
  std::string dir = DirOf(final_path);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return WriteError(errno, dir);
  struct stat st {};
  if (::stat(final_path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == written_) {
    return Status::Ok();  // the same content is already published; ours is removed
  }
  if (::rename(path_.c_str(), final_path.c_str()) != 0) return WriteError(errno, final_path);
  published_ = true;
  SyncDir(dir);
  return Status::Ok();
}

Result<std::unique_ptr<TempObject>> CopyToTemp(const std::string& src, const std::string& tier_dir,
                                               const TempObject::OnAnnounce& on_announce) {
  int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return util::FromErrno(errno, "cannot open " + src);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return util::FromErrno(errno, "cannot stat " + src);
  MLC_ASSIGN_OR_RETURN(auto tmp, TempObject::Create(tier_dir));
  tmp->set_on_announce(on_announce);
  MLC_RETURN_IF_ERROR(tmp->Announce(static_cast<uint64_t>(st.st_size)));
  std::vector<char> buffer(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return util::FromErrno(errno, "cannot read " + src);
    if (n == 0) break;
    MLC_RETURN_IF_ERROR(tmp->Write(std::string_view(buffer.data(), static_cast<size_t>(n))));
  }
  return tmp;
}

void RemoveStaleTemps(const std::string& tier_dir) {
  std::string dir = tier_dir + "/tmp";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".part") names.push_back(name);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    std::string path = dir + "/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    // A free lock means the writer is gone (flock dies with its process).
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(path.c_str());
    ::close(fd);
  }
}

}  // namespace mlcore::datacache
