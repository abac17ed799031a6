#include "server_process.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <vector>

namespace mlcore::bench {

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(const std::string& mlc,
                                                            const std::string& state_dir,
                                                            bool insecure_local) {
  std::vector<std::string> argv = {mlc, "server", "--state", state_dir, "--listen", "127.0.0.1:0"};
  if (insecure_local) argv.emplace_back("--insecure-local");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int out[2];
  if (::pipe(out) != 0) return InternalError(std::string("pipe: ") + std::strerror(errno));
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  server->pid_ = ::fork();
  if (server->pid_ < 0) return InternalError(std::string("fork: ") + std::strerror(errno));
  if (server->pid_ == 0) {  // only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  // `mlc server` prints "serving URI" per listen address, then "state DIR" once it serves.
  FILE* from = ::fdopen(out[0], "r");
  char line[4096];
  bool ready = false;
  while (std::fgets(line, sizeof line, from) != nullptr) {
    const std::string text(line);
    if (text.rfind("serving grpc://", 0) == 0 && server->uri_.empty()) {
      server->uri_ = text.substr(8, text.find_last_not_of("\r\n") - 7);
    }
    if (text.rfind("state ", 0) == 0) {
      ready = true;
      break;
    }
  }
  std::fclose(from);  // the server writes nothing more to its stdout
  if (!ready || server->uri_.empty()) {
    return UnavailableError(mlc + " server did not start (its messages are above)");
  }
  return server;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

double ServerProcess::CpuSeconds() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start at field 3; 14 and 15 are
  // utime and stime in clock ticks.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void PinThreads(pid_t pid, const cpu_set_t& cpus) {
  const std::string dir =
      pid == 0 ? std::string("/proc/self/task") : "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(dir)) {
    ::sched_setaffinity(std::atoi(task.path().filename().c_str()), sizeof cpus, &cpus);
  }
}

}  // namespace mlcore::bench
