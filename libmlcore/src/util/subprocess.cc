#include "util/subprocess.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <sys/wait.h>

#include "util/fs.h"

namespace mlcore::util {

Result<CommandResult> RunCommand(const std::vector<std::string>& argv, const std::string& cwd,
                                 size_t max_output) {
  if (argv.empty()) return InvalidArgumentError("no command to run");
  int out[2];
  int status_pipe[2];
  if (pipe2(out, O_CLOEXEC) != 0) return FromErrno(errno, "cannot create pipe");
  if (pipe2(status_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(out[0]);
    ::close(out[1]);
    return FromErrno(err, "cannot create pipe");
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      dup2(null_fd, 0);
      dup2(null_fd, 2);
    }
    dup2(out[1], 1);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    execvp(args[0], args.data());
    int err = errno;
    ssize_t ignored = ::write(status_pipe[1], &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  ::close(out[1]);
  ::close(status_pipe[1]);
  if (pid < 0) {
    int err = errno;
    ::close(out[0]);
    ::close(status_pipe[0]);
    return FromErrno(err, "cannot fork");
  }
  CommandResult result;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (result.output.size() < max_output) result.output.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int exec_errno = 0;
  ssize_t got = ::read(status_pipe[0], &exec_errno, sizeof exec_errno);
  ::close(status_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got == sizeof exec_errno) return FromErrno(exec_errno, "cannot run " + argv[0]);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace mlcore::util
