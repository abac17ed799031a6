// mlc job exec JOB -- CMD, and mlc job port-forward JOB LOCAL:REMOTE (local backend: the job runs
// on this machine, so both act directly on its working directory, environment and ports).
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <CLI/CLI.hpp>

#include "app.h"
#include "exit_codes.h"
#include "job_view.h"
#include "mlcore/jobs.h"

namespace mlc {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

mlcore::Result<mlcore::v1::Job> RunningJob(mlcore::Client& client, const std::string& ref) {
  MLC_ASSIGN_OR_RETURN(auto job, client.GetJob(ref));
  if (job.state() != mlcore::v1::JOB_STATE_RUNNING) {
    return mlcore::FailedPreconditionError("job " + job.spec().name() + " is " +
                                           mlcore::JobStateName(job.state()) +
                                           ", not RUNNING; exec and port-forward need a running "
                                           "job");
  }
  if (job.message().rfind("cancelling", 0) == 0 || job.message().rfind("preempting", 0) == 0) {
    return mlcore::FailedPreconditionError("job " + job.spec().name() + " is being stopped (" +
                                           job.message() +
                                           "); exec and port-forward need a running job");
  }
  return job;
}

mlcore::Status Exec(const Globals& globals, const std::string& ref,
                    const std::vector<std::string>& command, int* exit_code) {
  if (command.empty()) {
    return mlcore::InvalidArgumentError("no command: use `mlc job exec JOB -- COMMAND [ARGS]`");
  }
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto job, RunningJob(*client, ref));
  MLC_ASSIGN_OR_RETURN(auto job_dir, LocalJobDir(*client, job));
  std::map<std::string, std::string> env(job.reproducibility().environment().begin(),
                                         job.reproducibility().environment().end());
  for (const auto& [k, v] : job.spec().env()) env[k] = v;
  std::ifstream secrets(job_dir + "/secrets.env");
  for (std::string line; std::getline(secrets, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  env["MLC_JOB_ID"] = job.id();
  env["MLC_JOB_NAME"] = job.spec().name();
  env["MLC_PROJECT"] = job.spec().project();
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> c_env;
  c_env.reserve(env_strings.size() + 1);
  for (auto& e : env_strings) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  std::vector<std::string> argv_strings = command;
  std::vector<char*> c_argv;
  c_argv.reserve(argv_strings.size() + 1);
  for (auto& a : argv_strings) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::string workdir =
      job.spec().snapshot_working_dir() ? job_dir + "/workdir" : job.spec().working_dir();

  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(workdir.c_str()) != 0) {
      std::fprintf(stderr, "mlc: error: cannot enter %s: %s\n", workdir.c_str(),
                   std::strerror(errno));
      _exit(kExitNotFound);
    }
    environ = c_env.data();
    execvp(c_argv[0], c_argv.data());
    std::fprintf(stderr, "mlc: error: cannot run \"%s\": %s [NOT_FOUND]\n", c_argv[0],
                 std::strerror(errno));
    _exit(127);
  }
  if (pid < 0) return mlcore::InternalError(std::string("cannot fork: ") + std::strerror(errno));
  // The terminal's Ctrl-C reaches the command (same process group); mlc just waits.
  std::signal(SIGINT, SIG_IGN);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return mlcore::Status::Ok();
}

mlcore::Result<std::pair<int, int>> ParsePorts(const std::string& spec) {
  auto colon = spec.find(':');
  auto parse = [&](const std::string& s) -> int {
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    return (end != nullptr && *end == '\0' && !s.empty() && v >= 0 && v <= 65535)
               ? static_cast<int>(v)
               : -1;
  };
  int local = parse(colon == std::string::npos ? spec : spec.substr(0, colon));
  int remote = parse(colon == std::string::npos ? spec : spec.substr(colon + 1));
  if (local < 0 || remote <= 0) {
    return mlcore::InvalidArgumentError("invalid ports \"" + spec +
                                        "\"; use LOCAL:REMOTE (e.g. 8888:8888, or 0:8888 to pick "
                                        "a free local port) or just PORT");
  }
  return std::make_pair(local, remote);
}

// Relays bytes between accepted local connections and the job's port until the job ends or
// Ctrl-C.
mlcore::Status PortForward(const Globals& globals, const std::string& ref,
                           const std::string& ports) {
  MLC_ASSIGN_OR_RETURN(auto pair, ParsePorts(ports));
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto job, RunningJob(*client, ref));
  MLC_RETURN_IF_ERROR(LocalJobDir(*client, job).status());
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(pair.first));
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 16) != 0) {
    int err = errno;
    ::close(listener);
    return mlcore::UnavailableError("cannot listen on 127.0.0.1:" + std::to_string(pair.first) +
                                    ": " + std::strerror(err) + " (choose another local port)");
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::cout << "Forwarding from 127.0.0.1:" << ntohs(addr.sin_port) << " -> job "
            << job.spec().name() << " port " << pair.second << " (Ctrl-C to stop)" << std::endl;

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::map<int, int> peer;  // fd -> the fd it relays to
  auto close_pair = [&](int fd) {
    int other = peer[fd];
    peer.erase(fd);
    peer.erase(other);
    ::close(fd);
    ::close(other);
  };
  auto last_check = std::chrono::steady_clock::now();
  while (!g_stop) {
    std::vector<pollfd> fds = {{listener, POLLIN, 0}};
    for (const auto& [fd, other] : peer) fds.push_back({fd, POLLIN, 0});
    int ready = poll(fds.data(), fds.size(), 500);
    if (ready < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() - last_check > std::chrono::seconds(1)) {
      last_check = std::chrono::steady_clock::now();
      auto now = client->GetJob(job.id(), mlcore::v1::JOB_VIEW_BASIC);
      if (now.ok() && mlcore::IsFinalJobState(now->state())) {
        std::cout << "job " << job.spec().name() << " ended; stopping" << std::endl;
        break;
      }
    }
    if (ready <= 0) continue;
    if (fds[0].revents & POLLIN) {
      int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn >= 0) {
        int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in target{};
        target.sin_family = AF_INET;
        target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        target.sin_port = htons(static_cast<uint16_t>(pair.second));
        if (connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
          std::cerr << "mlc: job " << job.spec().name() << " is not listening on port "
                    << pair.second << ": " << std::strerror(errno) << "\n";
          ::close(upstream);
          ::close(conn);
        } else {
          peer[conn] = upstream;
          peer[upstream] = conn;
        }
      }
    }
    char buf[65536];
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)) || !peer.count(fds[i].fd)) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close_pair(fds[i].fd);
        continue;
      }
      int to = peer[fds[i].fd];
      ssize_t off = 0;
      while (off < n) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w <= 0) break;
        off += w;
      }
      if (off < n) close_pair(fds[i].fd);
    }
  }
  for (auto it = peer.begin(); it != peer.end(); it = peer.begin()) close_pair(it->first);
  ::close(listener);
  return mlcore::Status::Ok();
}

}  // namespace

void AddJobAttachCommands(CLI::App* job, Globals& globals) {
  static std::string exec_ref;
  static std::vector<std::string> exec_command;
  auto* exec = job->add_subcommand(
      "exec", "Run a command in a running job's working directory and environment");
  exec->add_option("job", exec_ref, "Job name or id")->required();
  exec->add_option("command", exec_command, "Command and arguments (after --)");
  exec->footer("Example:\n  mlc job exec train-g6d8y6 -- nvidia-smi");
  OnRun(exec, [&globals] { return Exec(globals, exec_ref, exec_command, &CommandExitCode()); });

  static std::string pf_ref, pf_ports;
  auto* pf = job->add_subcommand("port-forward",
                                 "Forward a local TCP port to a port a running job listens on");
  pf->add_option("job", pf_ref, "Job name or id")->required();
  pf->add_option("ports", pf_ports, "LOCAL:REMOTE, or PORT for the same number")->required();
  pf->footer("Example:\n  mlc job port-forward notebook-x1y2z3 8888:8888");
  OnRun(pf, [&globals] { return PortForward(globals, pf_ref, pf_ports); });
}

}  // namespace mlc
