// mlc job exec JOB -- CMD, mlc job port-forward JOB LOCAL:REMOTE and mlc job watch: thin users
// of Client::ExecJob, Client::PortForward and Client::WatchJobs, so they work the same against
// local:// (the job runs here) and grpc:// (the server runs the command or opens the connection
// on its machine and streams the bytes).
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <list>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <sys/socket.h>
#include <thread>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/time_util.h>

#include "app.h"
#include "exit_codes.h"
#include "mlcore/jobs.h"
#include "mlcore/json.h"

namespace mlc {
namespace {

using google::protobuf::util::TimeUtil;

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

void CatchStopSignals() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool WriteFd(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Puts the terminal on fd 0 into raw mode for the life of the object (exec --tty): keys,
// Ctrl-C included, go to the command's terminal as bytes.
class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(0) && ::tcgetattr(0, &saved_) == 0) {
      termios raw = saved_;
      ::cfmakeraw(&raw);
      active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

mlcore::Status Exec(const Globals& globals, const std::string& ref,
                    const std::vector<std::string>& command, bool tty, bool no_stdin,
                    int* exit_code) {
  if (command.empty()) {
    return mlcore::InvalidArgumentError("no command: use `mlc job exec JOB -- COMMAND [ARGS]`");
  }
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::ExecJobRequest request;
  request.set_id(ref);
  for (const auto& arg : command) request.add_command(arg);
  request.set_tty(tty);
  request.set_close_stdin(no_stdin);
  MLC_ASSIGN_OR_RETURN(auto session, client->ExecJob(request));
  CatchStopSignals();
  std::optional<RawTerminal> raw;
  if (tty) raw.emplace();
  // Our standard input goes to the command's until it ends (end-of-file closes the command's).
  std::atomic<bool> done{false};
  std::thread input;
  if (!no_stdin) {
    input = std::thread([&] {
      char buffer[65536];
      while (!done) {
        pollfd fds{0, POLLIN, 0};
        int ready = ::poll(&fds, 1, 100);
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue;
        ssize_t n = ::read(0, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!session->Write(std::string_view(buffer, static_cast<size_t>(n))).ok()) return;
      }
      if (!done) (void)session->CloseStdin();
    });
  }
  mlcore::Status read = session->Read(
      [](mlcore::ExecStream stream, std::string_view data) {
        return WriteFd(stream == mlcore::ExecStream::kStdout ? 1 : 2, data);
      },
      [] { return g_stop == 0; });
  if (g_stop) session->Cancel();
  auto code = session->Wait();
  done = true;
  if (input.joinable()) input.join();
  raw.reset();
  MLC_RETURN_IF_ERROR(read);
  if (g_stop) return mlcore::CancelledError("interrupted; the command was killed");
  MLC_RETURN_IF_ERROR(code.status());
  *exit_code = *code;
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

// Relays one accepted local connection through its own PortForward until either side closes.
void Relay(mlcore::Client& client, const std::string& job_id, const std::string& job_name,
           int remote_port, int sock) {
  auto connection = client.PortForward(job_id, remote_port);
  if (!connection.ok()) {
    std::cerr << "mlc: " << connection.status().ToString() << std::endl;
    ::close(sock);
    return;
  }
  mlcore::PortConnection& conn = **connection;
  std::thread upstream([&] {
    char buffer[65536];
    while (true) {
      pollfd fds{sock, POLLIN, 0};
      int ready = ::poll(&fds, 1, 250);
      if (ready < 0 && errno != EINTR) break;
      if (g_stop) {
        conn.Cancel();
        return;
      }
      if (ready <= 0) continue;
      ssize_t n = ::recv(sock, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!conn.Write(std::string_view(buffer, static_cast<size_t>(n))).ok()) return;
    }
    (void)conn.CloseWrite();
  });
  mlcore::Status read = conn.Read(
      [&](std::string_view data) {
        while (!data.empty()) {
          ssize_t n = ::send(sock, data.data(), data.size(), MSG_NOSIGNAL);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) return false;
          data.remove_prefix(static_cast<size_t>(n));
        }
        return true;
      },
      [] { return g_stop == 0; });
  if (!read.ok()) {
    std::cerr << "mlc: connection to job " << job_name << " port " << remote_port
              << " ended: " << read.ToString() << std::endl;
  }
  conn.Cancel();
  ::shutdown(sock, SHUT_RDWR);  // ends the upstream thread's reads
  upstream.join();
  ::close(sock);
}

// Listens on 127.0.0.1:LOCAL and forwards each accepted connection through its own
// PortForward, until the job ends or Ctrl-C.
mlcore::Status PortForward(const Globals& globals, const std::string& ref,
                           const std::string& ports) {
  MLC_ASSIGN_OR_RETURN(auto pair, ParsePorts(ports));
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto job, client->GetJob(ref, mlcore::v1::JOB_VIEW_BASIC));
  if (job.state() != mlcore::v1::JOB_STATE_RUNNING) {
    return mlcore::FailedPreconditionError("job " + job.spec().name() + " is " +
                                           mlcore::JobStateName(job.state()) +
                                           ", not RUNNING; port-forward needs a running job");
  }
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
  CatchStopSignals();
  std::list<std::thread> relays;
  auto last_check = std::chrono::steady_clock::now();
  while (!g_stop) {
    pollfd fds{listener, POLLIN, 0};
    int ready = poll(&fds, 1, 250);
    if (ready < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() - last_check > std::chrono::seconds(1)) {
      last_check = std::chrono::steady_clock::now();
      auto now = client->GetJob(job.id(), mlcore::v1::JOB_VIEW_BASIC);
      if (now.ok() && mlcore::IsFinalJobState(now->state())) {
        std::cout << "job " << job.spec().name() << " ended; stopping" << std::endl;
        break;
      }
    }
    if (ready <= 0 || !(fds.revents & POLLIN)) continue;
    int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    relays.emplace_back(Relay, std::ref(*client), job.id(), job.spec().name(), pair.second, conn);
  }
  ::close(listener);
  g_stop = 1;  // relays still open end now
  for (auto& relay : relays) relay.join();
  return mlcore::Status::Ok();
}

struct WatchFlags {
  std::vector<std::string> jobs;
  std::string since;
  int count = 0;
};

std::string TransitionLine(const mlcore::v1::WatchJobsResponse& r) {
  const auto& e = r.event();
  std::string line =
      TimeUtil::ToString(e.time()) + "  " + r.job().spec().project() + "/" + r.job().spec().name() +
      "  " +
      (e.from_state() == mlcore::v1::JOB_STATE_UNSPECIFIED ? std::string("-")
                                                           : mlcore::JobStateName(e.from_state())) +
      " -> " + mlcore::JobStateName(e.to_state());
  if (!e.reason().empty()) line += "  " + e.reason();
  return line;
}

mlcore::Status Watch(const Globals& globals, const WatchFlags& f) {
  mlcore::v1::WatchJobsRequest request;
  request.set_project(globals.project);
  for (const auto& job : f.jobs) request.add_ids(job);
  if (!f.since.empty()) {
    google::protobuf::Timestamp since;
    if (!TimeUtil::FromString(f.since, &since)) {
      MLC_ASSIGN_OR_RETURN(auto ago, mlcore::ParseDurationText(f.since));
      since = TimeUtil::GetCurrentTime() - ago;
    }
    *request.mutable_since() = since;
  }
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  CatchInterrupts();
  int seen = 0;
  const bool table = globals.format() == OutputFormat::kTable;
  mlcore::JsonOptions json;
  return client->WatchJobs(
      request,
      [&](const mlcore::v1::WatchJobsResponse& r) {
        if (table) {
          std::cout << TransitionLine(r) << std::endl;
        } else {
          std::cout << mlcore::ToJson(r, json) << std::endl;  // JSON lines
        }
        ++seen;
        return !Interrupted() && (f.count == 0 || seen < f.count) && std::cout.good();
      },
      [] { return !Interrupted(); });
}

}  // namespace

void AddJobAttachCommands(CLI::App* job, Globals& globals) {
  static std::string exec_ref;
  static std::vector<std::string> exec_command;
  static bool exec_tty = false, exec_no_stdin = false;
  auto* exec = job->add_subcommand(
      "exec", "Run a command in a running job's working directory and environment");
  exec->add_option("job", exec_ref, "Job name or id")->required();
  exec->add_option("command", exec_command, "Command and arguments (after --)");
  exec->add_flag("-t,--tty", exec_tty, "Give the command a terminal (interactive shells)");
  exec->add_flag("--no-stdin", exec_no_stdin, "Do not pass standard input to the command");
  exec->footer(
      "Runs on the machine that runs the job (the server's, with grpc://); the standard streams\n"
      "are attached and mlc exits with the command's exit code.\n"
      "Examples:\n  mlc job exec train-g6d8y6 -- nvidia-smi\n"
      "  mlc job exec -t train-g6d8y6 -- bash");
  OnRun(exec, [&globals] {
    return Exec(globals, exec_ref, exec_command, exec_tty, exec_no_stdin, &CommandExitCode());
  });

  static std::string pf_ref, pf_ports;
  auto* pf = job->add_subcommand("port-forward",
                                 "Forward a local TCP port to a port a running job listens on");
  pf->add_option("job", pf_ref, "Job name or id")->required();
  pf->add_option("ports", pf_ports, "LOCAL:REMOTE, or PORT for the same number")->required();
  pf->footer(
      "Listens on 127.0.0.1:LOCAL (0 picks a free port, printed) and opens one tunnel per\n"
      "accepted connection, until the job ends or Ctrl-C.\n"
      "Example:\n  mlc job port-forward notebook-x1y2z3 8888:8888");
  OnRun(pf, [&globals] { return PortForward(globals, pf_ref, pf_ports); });

  static WatchFlags watch_flags;
  auto* watch = job->add_subcommand(
      "watch", "Print job state transitions as they happen (Ctrl-C stops; -o json for JSON lines)");
  watch->add_option("jobs", watch_flags.jobs, "Only these jobs (names or ids); default: all");
  watch->add_option("--since", watch_flags.since,
                    "Replay transitions newer than 10m, 2h, or an RFC 3339 time first");
  watch->add_option("--count", watch_flags.count, "Stop after this many transitions");
  watch->footer(
      "Watches the project given with -p, or every project you can see.\n"
      "Examples:\n  mlc -p ml job watch\n  mlc job watch train-g6d8y6 --since 1h --count 4");
  OnRun(watch, [&globals] { return Watch(globals, watch_flags); });
}

}  // namespace mlc
