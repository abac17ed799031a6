// Metric ingest through `mlc server` under failure and load, against real servers on 127.0.0.1:
// - an `mlc server` process SIGKILLed while the tracking buffer's IngestMetrics stream has batches
//   in flight, then restarted on the same state directory and port: every point is present
//   exactly once once the client has recovered (resent on a new stream, or spooled and uploaded);
// - a batch the server refuses (its run ended elsewhere) is answered on the shared stream and
//   spooled, while another logger's batches on the same stream go on being written;
// - 50 clients (threads, a Client each) submitting jobs and logging metrics against one server:
//   no errors, the project's quota never exceeded, every point arrived.
// Waits are polls with generous deadlines; nothing depends on timing.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <sys/wait.h>
#include <thread>
#include <vector>

#include "mlcore/client.h"
#include "mlcore/server.h"
#include "mlcore/tracking.h"
#include "unit/test_support.h"

extern char** environ;

namespace mlcore {
namespace {

using std::chrono::seconds;
using testing::TempDir;

// Polls `done` until it holds or `limit` passes; false on timeout.
bool PollUntil(const std::function<bool()>& done, seconds limit = seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// `mlc server` as a child process, so it can be killed without warning.
class ServerProcess {
 public:
  // Starts `mlc server` on `listen` ("127.0.0.1:0" or "127.0.0.1:PORT") and waits for its
  // "serving grpc://..." line.
  ServerProcess(const std::string& state_dir, const std::string& listen) {
    int out[2];
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::vector<std::string> args = {MLC_BINARY, "server", "--insecure-local", "--state", state_dir,
                                     "--listen", listen,   "--grace",          "1"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, MLC_BINARY, &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    std::string text;
    char buf[256];
    while (text.find("serving grpc://") == std::string::npos ||
           text.find('\n', text.find("serving grpc://")) == std::string::npos) {
      const ssize_t n = read(out[0], buf, sizeof buf);
      REQUIRE(n > 0);  // EOF: the server failed to start (its stderr says why)
      text.append(buf, static_cast<size_t>(n));
    }
    fd_ = out[0];  // kept open, so the server's later output never hits a closed pipe
    const size_t at = text.find("serving grpc://") + std::string("serving ").size();
    uri_ = text.substr(at, text.find('\n', at) - at);
  }
  ~ServerProcess() { Kill(); }

  // SIGKILL: no shutdown, no flush, connections reset.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    close(fd_);
  }

  const std::string& uri() const { return uri_; }
  std::string address() const { return uri_.substr(std::string("grpc://").size()); }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string uri_;
};

// mlcore::server::Server in this process on 127.0.0.1:0 over `state_dir`.
std::unique_ptr<server::Server> StartServer(const std::string& state_dir) {
  server::ServerOptions options;
  options.state_dir = state_dir;
  options.insecure_local = true;
  options.listen = {"127.0.0.1:0"};
  auto started = server::Server::Start(options);
  MLC_REQUIRE_OK(started);
  return std::move(started).value();
}

TEST_CASE("a server killed mid-ingest and restarted: every point is present exactly once") {
  TempDir dir;
  testing::IsolatedEnv env(dir);
  const std::string state = dir.path() + "/state";
  auto server = std::make_unique<ServerProcess>(state, "127.0.0.1:0");
  const std::string uri = server->uri();
  const std::string address = server->address();  // every restart takes the same port
  auto client = Client::Open(uri);
  MLC_REQUIRE_OK(client);
  v1::Project p;
  p.set_name("ml");
  MLC_REQUIRE_OK((*client)->CreateProject(p));
  v1::CreateRunRequest create;
  create.mutable_run()->set_project("ml");
  create.mutable_run()->set_name("killed");
  auto run = (*client)->CreateRun(create);
  MLC_REQUIRE_OK(run);

  // Small, frequent batches: the stream always has some in flight.
  RunLoggerOptions options;
  options.spool_dir = dir.path() + "/spool";
  options.flush_interval = std::chrono::milliseconds(2);
  options.max_buffered_points = 4096;
  auto logger = RunLogger::Attach(**client, run->id(), options);
  MLC_REQUIRE_OK(logger);
  RunLogger& log = **logger;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> logged{0};
  std::thread producer([&] {
    for (int64_t step = 0; !stop; ++step) {
      if (!log.LogMetric("loss", static_cast<double>(step), step).ok()) break;
      logged = step + 1;
    }
  });
  auto written = [&] { return log.stats().points_written; };

  // 1. Killed with batches in flight, restarted at once: the buffer resends what was not
  //    acknowledged on a new stream.
  REQUIRE(PollUntil([&] { return written() >= 20000; }));
  server->Kill();
  const uint64_t at_first_kill = written();
  server = std::make_unique<ServerProcess>(state, address);
  REQUIRE(PollUntil([&] { return written() >= at_first_kill + 20000; }));

  // 2. Killed and left down until the buffer gives up: what was not acknowledged goes to the
  //    spool; after the restart, new batches flow again and Close uploads the spool.
  server->Kill();
  REQUIRE(PollUntil([&] { return log.stats().points_spooled > 0; }));
  server = std::make_unique<ServerProcess>(state, address);
  const uint64_t at_restart = written();
  REQUIRE(PollUntil([&] { return written() >= at_restart + 20000; }));
  stop = true;
  producer.join();
  (void)log.Close(v1::RUN_STATUS_FINISHED);  // uploads the spool (an error names what it kept)
  auto sync = SyncSpool(**client, options.spool_dir);  // `mlc sync`: whatever Close left
  MLC_REQUIRE_OK(sync);
  CHECK(sync->files_left == 0);
  bool spool_left = false;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(options.spool_dir, ec)) {
    spool_left = spool_left || e.path().extension() == ".spool";
  }
  CHECK_FALSE(spool_left);

  // Every logged point exactly once: steps 0..n-1, each with its own value.
  const int64_t n = logged;
  INFO("points logged: " << n << ", acknowledged: " << log.stats().points_written);
  v1::GetMetricHistoryRequest history;
  history.set_run_id(run->id());
  history.set_key("loss");
  history.set_page_size(10000000);
  auto series = (*client)->GetMetricHistory(history);
  MLC_REQUIRE_OK(series);
  const auto& s = series->series();
  REQUIRE(s.steps_size() == n);
  bool exact = true;
  for (int64_t i = 0; i < n; ++i) {
    exact = exact && s.steps(static_cast<int>(i)) == i && s.values(static_cast<int>(i)) == i;
  }
  CHECK(exact);
  CHECK(log.stats().points_written >= static_cast<uint64_t>(at_restart));
}

TEST_CASE("a batch the server refuses is answered on the stream, which goes on for the others") {
  TempDir dir;
  testing::IsolatedEnv env(dir);
  std::unique_ptr<server::Server> srv = StartServer(dir.path() + "/state");
  auto client = Client::Open(srv->uris().at(0));
  MLC_REQUIRE_OK(client);
  v1::Project p;
  p.set_name("ml");
  MLC_REQUIRE_OK((*client)->CreateProject(p));
  auto run = [&](const std::string& name) {
    v1::CreateRunRequest create;
    create.mutable_run()->set_project("ml");
    create.mutable_run()->set_name(name);
    auto r = (*client)->CreateRun(create);
    REQUIRE(r.ok());
    return r->id();
  };
  const std::string ended = run("ended"), open = run("open");
  RunLoggerOptions options;
  options.spool_dir = dir.path() + "/spool";
  // Both loggers share the client's backend, hence its one IngestMetrics stream.
  auto to_ended = RunLogger::Attach(**client, ended, options);
  auto to_open = RunLogger::Attach(**client, open, options);
  MLC_REQUIRE_OK(to_ended);
  MLC_REQUIRE_OK(to_open);
  v1::UpdateRunRequest end;
  end.set_id(ended);
  end.set_status(v1::RUN_STATUS_FINISHED);
  MLC_REQUIRE_OK((*client)->UpdateRun(end));  // ended elsewhere: its batches are refused
  for (int i = 0; i < 10; ++i) MLC_REQUIRE_OK((*to_ended)->LogMetric("loss", 1.0, i));
  Status refused = (*to_ended)->Flush();
  CHECK(refused.code() == StatusCode::kFailedPrecondition);  // the server's own answer
  CHECK((*to_ended)->stats().points_spooled == 10);          // kept, not lost
  for (int i = 0; i < 10; ++i) MLC_REQUIRE_OK((*to_open)->LogMetric("loss", 2.0, i));
  MLC_CHECK_OK((*to_open)->Flush());
  CHECK((*to_open)->stats().points_written == 10);
  v1::GetMetricHistoryRequest history;
  history.set_run_id(open);
  history.set_key("loss");
  auto series = (*client)->GetMetricHistory(history);
  MLC_REQUIRE_OK(series);
  CHECK(series->series().steps_size() == 10);
  (void)(*to_ended)->Close(v1::RUN_STATUS_UNSPECIFIED);
  MLC_CHECK_OK((*to_open)->Close(v1::RUN_STATUS_FINISHED));
  to_ended->reset();
  to_open->reset();
  client->reset();
  srv->Shutdown(seconds(1));
}

TEST_CASE("50 clients submit jobs and log metrics at once: no errors, quota kept, all points") {
  TempDir dir;
  testing::IsolatedEnv env(dir);
  testing::ScopedEnv capacity(testing::EnvMap{{"MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0"}});
  std::unique_ptr<server::Server> srv = StartServer(dir.path() + "/state");
  const std::string uri = srv->uris().at(0);
  auto admin = Client::Open(uri);
  MLC_REQUIRE_OK(admin);
  constexpr int64_t kLimitMillis = 2000;  // two of the node's four cores
  v1::Project p;
  p.set_name("team");
  p.mutable_limit()->set_cpu_millis(kLimitMillis);
  MLC_REQUIRE_OK((*admin)->CreateProject(p));

  constexpr int kClients = 50;
  constexpr int kJobsPerClient = 2;
  constexpr int kPoints = 2000;
  std::mutex mu;
  std::vector<std::string> errors, jobs, runs;
  auto fail = [&](const std::string& what, const Status& s) {
    std::lock_guard lock(mu);
    errors.push_back(what + ": " + s.ToString());
  };
  // Samples the project's usage while the clients work.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> max_used{0}, max_running{0}, samples{0};
  std::thread watcher([&] {
    auto c = Client::Open(uri);
    if (!c.ok()) return fail("watcher open", c.status());
    v1::GetQuotaUsageRequest r;
    r.set_project("team");
    while (!stop) {
      auto usage = (*c)->GetQuotaUsage(r);
      if (!usage.ok()) return fail("quota usage", usage.status());
      for (const auto& u : usage->usages()) {
        if (u.project() != "team") continue;
        max_used = std::max<int64_t>(max_used, u.used().cpu_millis());
        max_running = std::max<int64_t>(max_running, u.running_jobs());
      }
      ++samples;
    }
  });
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      auto c = Client::Open(uri);
      if (!c.ok()) return fail("open", c.status());
      v1::CreateRunRequest create;
      create.mutable_run()->set_project("team");
      create.mutable_run()->set_name("client-" + std::to_string(i));
      auto run = (*c)->CreateRun(create);
      if (!run.ok()) return fail("create run", run.status());
      auto logger = RunLogger::Attach(**c, run->id());
      if (!logger.ok()) return fail("attach", logger.status());
      for (int j = 0; j < kJobsPerClient; ++j) {
        v1::JobSpec spec;
        spec.set_project("team");
        spec.add_command("true");
        spec.set_working_dir(dir.path());
        spec.mutable_resources()->set_cpu_millis(1000);
        spec.mutable_resources()->set_memory_bytes(64LL << 20);
        auto job = (*c)->SubmitJob(spec);
        if (!job.ok()) return fail("submit", job.status());
        std::lock_guard lock(mu);
        jobs.push_back(job->id());
      }
      for (int step = 0; step < kPoints; ++step) {
        Status s = (*logger)->LogMetric("acc", step * 0.5, step);
        if (!s.ok()) return fail("log", s);
      }
      Status closed = (*logger)->Close(v1::RUN_STATUS_FINISHED);
      if (!closed.ok()) return fail("close", closed);
      if ((*logger)->stats().points_written != kPoints) {
        return fail("acknowledged",
                    InternalError(std::to_string((*logger)->stats().points_written)));
      }
      std::lock_guard lock(mu);
      runs.push_back(run->id());
    });
  }
  for (auto& t : clients) t.join();
  // Every job ends (two at a time, by the quota).
  std::vector<v1::Job> ended;
  for (const auto& id : jobs) {
    auto job = (*admin)->WaitJob(id, seconds(120));
    if (!job.ok()) {
      fail("wait " + id, job.status());
      continue;
    }
    ended.push_back(*job);
  }
  stop = true;
  watcher.join();
  for (const auto& e : errors) INFO(e);
  CHECK(errors.empty());
  REQUIRE(jobs.size() == size_t{kClients * kJobsPerClient});
  REQUIRE(runs.size() == size_t{kClients});
  CHECK(samples > 0);
  CHECK(max_used <= kLimitMillis);
  CHECK(max_running <= kLimitMillis / 1000);
  // The same from the jobs' own records: never more than two ran at once.
  std::vector<std::pair<int64_t, int>> edges;  // (time in µs, +1 start / -1 end), ends first
  for (const auto& job : ended) {
    CHECK(job.state() == v1::JOB_STATE_SUCCEEDED);
    auto us = [](const google::protobuf::Timestamp& t) {
      return t.seconds() * 1000000 + t.nanos() / 1000;
    };
    edges.emplace_back(us(job.start_time()), 1);
    edges.emplace_back(us(job.end_time()), -1);
  }
  std::sort(edges.begin(), edges.end());
  int running = 0, most = 0;
  for (const auto& [t, d] : edges) most = std::max(most, running += d);
  CHECK(most <= kLimitMillis / 1000);
  // Every point of every run arrived.
  for (const auto& id : runs) {
    v1::GetMetricHistoryRequest history;
    history.set_run_id(id);
    history.set_key("acc");
    auto series = (*admin)->GetMetricHistory(history);
    MLC_REQUIRE_OK(series);
    CHECK(series->series().steps_size() == kPoints);
  }
  srv->Shutdown(seconds(1));
}

}  // namespace
}  // namespace mlcore
