#include "local/job_attach.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

namespace mlcore::local {
namespace {

constexpr int kPollMs = 100;  // how often idle reads look at cancellation and keep_going
constexpr size_t kChunk = size_t{64} * 1024;

std::string Errno(int err) { return std::strerror(err); }

// write(2) that turns a closed reader into EPIPE without a SIGPIPE for the whole process: the
// signal is blocked for this thread and a SIGPIPE the write raised is consumed.
ssize_t WriteNoSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_set, old, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ssize_t written = ::write(fd, data, size);
  const int err = errno;
  if (written < 0 && err == EPIPE && !was_pending) {
    timespec zero{};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return written;
}

// Writes all of `data`; false (errno set) when the reader is gone.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = WriteNoSigpipe(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The value of PATH in "K=V" strings; the POSIX default without one.
std::string PathOf(const std::vector<std::string>& env) {
  for (const std::string& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) return kv.substr(5);
  }
  return "/usr/local/bin:/usr/bin:/bin";
}

// argv[0] as execve needs it: itself when it has a slash, else the first executable match in
// PATH (relative PATH entries count from `cwd`).
Result<std::string> Resolve(const std::string& program, const std::vector<std::string>& env,
                            const std::string& cwd) {
  if (program.find('/') != std::string::npos) {
    std::string path = program[0] == '/' ? program : cwd + "/" + program;
    if (::access(path.c_str(), X_OK) == 0) return path;
    const int err = errno;
    if (err == ENOENT) return NotFoundError("cannot run \"" + program + "\": no such file");
    return PermissionDeniedError("cannot run \"" + program + "\": " + Errno(err));
  }
  const std::string path = PathOf(env);
  bool denied = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) dir = ".";
    if (dir[0] != '/') dir = cwd + "/" + dir;
    std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (errno == EACCES && ::access(candidate.c_str(), F_OK) == 0) denied = true;
  }
  if (denied) {
    return PermissionDeniedError("cannot run \"" + program +
                                 "\": not executable (permission "
                                 "denied) in the job's PATH");
  }
  return NotFoundError("cannot run \"" + program + "\": not found in the job's PATH (" + path +
                       ")");
}

// What the child reports through its close-on-exec pipe when it cannot start the command.
struct ChildFailure {
  int stage = 0;  // 1: chdir, 2: execve, 3: terminal setup
  int err = 0;
};

class LocalExecSession final : public ExecSession {
 public:
  LocalExecSession(pid_t pid, int in_fd, int out_fd, int err_fd, bool tty)
      : pid_(pid), in_fd_(in_fd), out_fd_(out_fd), err_fd_(err_fd), tty_(tty) {}

  ~LocalExecSession() override {
    if (!reaped_) {
      Cancel();
      (void)Wait();
    }
    for (int fd : {in_fd_, out_fd_, err_fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  Status Write(std::string_view data) override {
    std::lock_guard lock(in_mu_);
    if (in_fd_ < 0 || stdin_closed_) {
      return FailedPreconditionError("the command's standard input is already closed");
    }
    if (!WriteAll(in_fd_, data)) {
      return UnavailableError("the command no longer reads its standard input (" + Errno(errno) +
                              "); it may have exited");
    }
    return Status::Ok();
  }

  Status CloseStdin() override {
    std::lock_guard lock(in_mu_);
    if (stdin_closed_) return Status::Ok();
    stdin_closed_ = true;
    if (tty_) {
      // A terminal has no end of its own: Ctrl-D is end-of-file at the start of a line.
      (void)WriteAll(in_fd_, "\x04");
      return Status::Ok();
    }
    ::close(in_fd_);
    in_fd_ = -1;
    return Status::Ok();
  }

  Status Read(const std::function<bool(ExecStream, std::string_view)>& sink,
              const std::function<bool()>& keep_going) override {
    char buffer[kChunk];
    while (out_fd_ >= 0 || err_fd_ >= 0) {
      if (cancelled_) return Status::Ok();
      pollfd fds[2];
      int n = 0;
      if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
      if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
      int ready = ::poll(fds, static_cast<nfds_t>(n), kPollMs);
      if (ready < 0 && errno != EINTR) return InternalError("poll: " + Errno(errno));
      if (ready <= 0) {
        if (keep_going && !keep_going()) return Status::Ok();
        continue;
      }
      for (int i = 0; i < n; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        const ExecStream stream = fds[i].fd == out_fd_ ? ExecStream::kStdout : ExecStream::kStderr;
        if (got <= 0) {  // end of stream (a terminal whose last user left reads EIO)
          int& fd = stream == ExecStream::kStdout ? out_fd_ : err_fd_;
          ::close(fd);
          fd = -1;
          continue;
        }
        if (!sink(stream, std::string_view(buffer, static_cast<size_t>(got)))) {
          return Status::Ok();
        }
      }
    }
    return Status::Ok();
  }

  Result<int> Wait() override {
    std::lock_guard lock(wait_mu_);
    if (exit_code_) return *exit_code_;
    int status = 0;
    pid_t got;
    while ((got = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    if (got < 0) {
      return InternalError("the exit status of the command (pid " + std::to_string(pid_) +
                           ") was lost: " + Errno(errno));
    }
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return *exit_code_;
  }

  void Cancel() override {
    cancelled_ = true;
    if (!reaped_) ::kill(-pid_, SIGKILL);
  }

 private:
  const pid_t pid_;
  std::mutex in_mu_;  // guards in_fd_ and stdin_closed_
  int in_fd_;
  bool stdin_closed_ = false;
  int out_fd_;  // only touched by the reading thread (and the destructor)
  int err_fd_;
  const bool tty_;
  std::mutex wait_mu_;
  std::optional<int> exit_code_;
  std::atomic<bool> reaped_{false};
  std::atomic<bool> cancelled_{false};
};

class LoopbackConnection final : public PortConnection {
 public:
  explicit LoopbackConnection(int fd) : fd_(fd) {}
  ~LoopbackConnection() override { ::close(fd_); }

  Status Write(std::string_view data) override {
    std::lock_guard lock(write_mu_);
    if (write_closed_ || cancelled_) return UnavailableError("the connection is closed");
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return UnavailableError("the job's side closed the connection: " + Errno(errno));
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Status CloseWrite() override {
    std::lock_guard lock(write_mu_);
    if (!write_closed_) {
      write_closed_ = true;
      ::shutdown(fd_, SHUT_WR);
    }
    return Status::Ok();
  }

  Status Read(const std::function<bool(std::string_view)>& sink,
              const std::function<bool()>& keep_going) override {
    char buffer[kChunk];
    while (!cancelled_) {
      pollfd fds{fd_, POLLIN, 0};
      int ready = ::poll(&fds, 1, kPollMs);
      if (ready < 0 && errno != EINTR) return InternalError("poll: " + Errno(errno));
      if (ready <= 0) {
        if (keep_going && !keep_going()) return Status::Ok();
        continue;
      }
      ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got == 0) return Status::Ok();
      if (got < 0) {
        if (cancelled_) return Status::Ok();
        return UnavailableError("the connection to the job was reset: " + Errno(errno));
      }
      if (!sink(std::string_view(buffer, static_cast<size_t>(got)))) return Status::Ok();
    }
    return Status::Ok();
  }

  void Cancel() override {
    cancelled_ = true;
    ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  const int fd_;
  std::mutex write_mu_;
  bool write_closed_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

Result<std::unique_ptr<ExecSession>> StartExec(const std::vector<std::string>& argv,
                                               const std::vector<std::string>& env,
                                               const std::string& cwd, bool tty) {
  if (argv.empty()) return InvalidArgumentError("no command to run");
  MLC_ASSIGN_OR_RETURN(std::string program, Resolve(argv[0], env, cwd));
  // Everything the child needs is prepared here: after fork only async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<char*> c_argv;
  c_argv.reserve(args.size() + 1);
  for (std::string& a : args) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::vector<std::string> vars = env;
  std::vector<char*> c_env;
  c_env.reserve(vars.size() + 1);
  for (std::string& v : vars) c_env.push_back(v.data());
  c_env.push_back(nullptr);

  int report[2], in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  int master = -1, slave = -1;
  auto close_all = [&] {
    for (int fd :
         {report[0], report[1], in[0], in[1], out[0], out[1], err[0], err[1], master, slave}) {
      if (fd >= 0) ::close(fd);
    }
  };
  if (::pipe2(report, O_CLOEXEC) != 0) return InternalError("pipe: " + Errno(errno));
  if (tty) {
    if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
      const int e = errno;
      close_all();
      return InternalError("cannot allocate a pseudo-terminal: " + Errno(e));
    }
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave, F_SETFD, FD_CLOEXEC);
  } else if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
             ::pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    close_all();
    return InternalError("pipe: " + Errno(e));
  }

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    close_all();
    return InternalError("cannot fork: " + Errno(e));
  }
  if (pid == 0) {
    ChildFailure failure;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
    }
    if (tty) {
      if (::setsid() < 0 || ::ioctl(slave, TIOCSCTTY, 0) < 0) {
        failure = {3, errno};
        (void)!::write(report[1], &failure, sizeof failure);
        _exit(127);
      }
      ::dup2(slave, 0);
      ::dup2(slave, 1);
      ::dup2(slave, 2);
    } else {
      ::setpgid(0, 0);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
    }
    if (::chdir(cwd.c_str()) != 0) {
      failure = {1, errno};
      (void)!::write(report[1], &failure, sizeof failure);
      _exit(127);
    }
    ::execve(program.c_str(), c_argv.data(), c_env.data());
    failure = {2, errno};
    (void)!::write(report[1], &failure, sizeof failure);
    _exit(127);
  }
  ::close(report[1]);
  report[1] = -1;
  if (tty) {
    ::close(slave);
    slave = -1;
  } else {
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    in[0] = out[1] = err[1] = -1;
  }
  ChildFailure failure;
  ssize_t got;
  while ((got = ::read(report[0], &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  report[0] = -1;
  if (got == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    close_all();
    const std::string why = Errno(failure.err);
    if (failure.stage == 1) {
      return NotFoundError("cannot enter the job's working directory " + cwd + ": " + why);
    }
    if (failure.stage == 3) return InternalError("cannot set up the terminal: " + why);
    if (failure.err == ENOENT) return NotFoundError("cannot run \"" + argv[0] + "\": " + why);
    return PermissionDeniedError("cannot run \"" + argv[0] + "\": " + why);
  }
  if (tty) {
    const int in_fd = ::dup(master);
    ::fcntl(in_fd, F_SETFD, FD_CLOEXEC);
    return std::unique_ptr<ExecSession>(
        std::make_unique<LocalExecSession>(pid, in_fd, master, -1, true));
  }
  return std::unique_ptr<ExecSession>(
      std::make_unique<LocalExecSession>(pid, in[1], out[0], err[0], false));
}

Result<std::unique_ptr<PortConnection>> ConnectLoopback(int port, const std::string& what) {
  int last_error = 0;
  for (int family : {AF_INET, AF_INET6}) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    int rc;
    if (family == AF_INET) {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port));
      while ((rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr)) < 0 &&
             errno == EINTR) {
      }
    } else {
      sockaddr_in6 addr{};
      addr.sin6_family = AF_INET6;
      addr.sin6_addr = in6addr_loopback;
      addr.sin6_port = htons(static_cast<uint16_t>(port));
      while ((rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr)) < 0 &&
             errno == EINTR) {
      }
    }
    if (rc == 0) {
      return std::unique_ptr<PortConnection>(std::make_unique<LoopbackConnection>(fd));
    }
    last_error = errno;
    ::close(fd);
    if (family == AF_INET && last_error != ECONNREFUSED) break;
  }
  if (last_error == ECONNREFUSED || last_error == EADDRNOTAVAIL || last_error == EAFNOSUPPORT) {
    return UnavailableError("nothing is listening on " + what + " (connection refused)");
  }
  return InternalError("cannot connect to " + what + ": " + Errno(last_error));
}

}  // namespace mlcore::local
