#include "local/process.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>

#include "util/fs.h"

namespace mlcore::local {

const std::string& BootId() {
  static const std::string id = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string value;
    std::getline(in, value);
    return value;
  }();
  return id;
}

ProcessIdentity IdentityOf(pid_t pid) {
  ProcessIdentity id;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return id;
  // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return id;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  // Fields 3..21 precede starttime (field 22).
  for (int i = 3; i <= 21 && (rest >> field); ++i) {
  }
  uint64_t start = 0;
  if (!(rest >> start)) return id;
  id.pid = pid;
  id.start_ticks = start;
  id.boot_id = BootId();
  return id;
}

uint64_t TicksSinceBoot() {
  std::ifstream in("/proc/uptime");
  double seconds = 0;
  if (!(in >> seconds) || seconds <= 0) return 0;
  return static_cast<uint64_t>(seconds * static_cast<double>(sysconf(_SC_CLK_TCK)));
}

int64_t TicksToMicros(uint64_t ticks) {
  const long per_second = sysconf(_SC_CLK_TCK);
  return per_second > 0 ? static_cast<int64_t>(ticks) * 1000000 / per_second : 0;
}

bool IsAlive(const ProcessIdentity& id) {
  if (id.pid <= 0 || id.boot_id != BootId()) return false;
  ProcessIdentity now = IdentityOf(id.pid);
  if (now.pid != id.pid || now.start_ticks != id.start_ticks) return false;
  // A zombie has exited: it no longer supervises anything.
  std::ifstream in("/proc/" + std::to_string(id.pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

namespace {

// A daemon's stdio: stdin from /dev/null, stdout and stderr appended to `output_path`. Only
// async-signal-safe calls: it runs between fork and exec.
void RedirectDaemonStdio(const char* output_path) {
  int null_fd = ::open("/dev/null", O_RDONLY);
  int out_fd = ::open(output_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
  if (null_fd >= 0) dup2(null_fd, 0);
  if (out_fd >= 0) {
    dup2(out_fd, 1);
    dup2(out_fd, 2);
  }
}

}  // namespace

Result<pid_t> SpawnDetached(const std::vector<std::string>& argv, const std::string& output_path) {
  if (argv.empty()) return InvalidArgumentError("no command to start");
  // report[1] carries the daemon's pid (or an exec errno) back to us.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return util::FromErrno(errno, "cannot create pipe");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t child = fork();
  if (child < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return util::FromErrno(err, "cannot fork");
  }
  if (child == 0) {
    // Intermediate child: new session, fork the daemon, exit. Only async-signal-safe calls here.
    setsid();
    pid_t daemon = fork();
    if (daemon != 0) _exit(daemon < 0 ? 1 : 0);
    RedirectDaemonStdio(output_path.c_str());
    // Only stdio and the report pipe (moved to fd 3, closed by exec) reach the daemon: no
    // descriptor the caller happened to leave inheritable.
    if (report[1] != 3) {
      dup2(report[1], 3);
      fcntl(3, F_SETFD, FD_CLOEXEC);
      report[1] = 3;
    }
    close_range(4, ~0U, 0);
    pid_t self = getpid();
    ssize_t ignored = ::write(report[1], &self, sizeof self);
    (void)ignored;
    execv(args[0], args.data());
    int err = errno;
    pid_t failed = -err;
    ignored = ::write(report[1], &failed, sizeof failed);
    (void)ignored;
    _exit(127);
  }
  ::close(report[1]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t daemon = 0;
  pid_t exec_error = 0;
  ssize_t n = ::read(report[0], &daemon, sizeof daemon);
  ssize_t m = n == sizeof daemon ? ::read(report[0], &exec_error, sizeof exec_error) : 0;
  ::close(report[0]);
  if (n != sizeof daemon || daemon <= 0) {
    return InternalError("cannot start " + argv[0] + ": the launcher exited early");
  }
  if (m == sizeof exec_error && exec_error < 0) {
    return util::FromErrno(-exec_error, "cannot execute " + argv[0]);
  }
  return daemon;
}

Result<pid_t> ForkDetached(const std::function<int()>& body, const std::string& output_path) {
  std::cout.flush();
  std::cerr.flush();
  pid_t daemon = fork();
  if (daemon < 0) return util::FromErrno(errno, "cannot fork");
  if (daemon == 0) {
    setsid();
    RedirectDaemonStdio(output_path.c_str());
    close_range(3, ~0U, 0);
    int code = body();
    std::cout.flush();
    std::cerr.flush();
    _exit(code);
  }
  return daemon;
}

Result<std::string> SupervisorBinary() {
  constexpr const char* kName = "mlc-supervisor";
  std::string explicit_path = util::GetEnv("MLC_SUPERVISOR");
  if (!explicit_path.empty()) {
    if (access(explicit_path.c_str(), X_OK) == 0) return explicit_path;
    return NotFoundError("MLC_SUPERVISOR=" + explicit_path + " is not an executable file");
  }
  std::vector<std::string> tried;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&SupervisorBinary), &info) != 0 && info.dli_fname) {
    std::filesystem::path self = std::filesystem::weakly_canonical(info.dli_fname);
    auto dir = self.parent_path();
    for (const auto& candidate :
         {dir / kName, dir / ".." / "cli" / kName, dir / ".." / "libexec" / "mlcore" / kName}) {
      tried.push_back(candidate.lexically_normal().string());
      if (access(candidate.c_str(), X_OK) == 0) return candidate.lexically_normal().string();
    }
  }
  std::string path = util::GetEnv("PATH");
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    std::string dir =
        path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty()) {
      std::string candidate = dir + "/" + kName;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t;
  return NotFoundError(std::string("cannot find the job supervisor (") + kName + "); looked in " +
                       where + " and PATH; reinstall mlcore or set MLC_SUPERVISOR");
}

}  // namespace mlcore::local
