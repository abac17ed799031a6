// RunLogger: buffered logging made durable by Flush/Close, backpressure, backoff under a rate
// limit, the offline spool and exactly-once sync (with injected faults), concurrent writers, and
// a writer killed with SIGKILL mid-stream.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <sys/wait.h>
#include <thread>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "mlcore/client.h"
#include "mlcore/tracking.h"
#include "tracking/spool.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using namespace std::chrono_literals;
using testing::IsolatedEnv;
using testing::ScopedEnv;
using testing::TempDir;

struct Fixture {
  TempDir dir;
  IsolatedEnv env{dir};
  std::string uri = "local://" + (dir / "state");
  std::string spool = dir / "spool";
  std::unique_ptr<Client> client;

  Fixture() {
    auto opened = Client::Open(uri);
    REQUIRE(opened.ok());
    client = std::move(opened).value();
    v1::Project p;
    p.set_name("ml");
    REQUIRE(client->CreateProject(p).ok());
  }

  v1::Run NewRun(const std::string& name) {
    v1::CreateRunRequest create;
    create.mutable_run()->set_project("ml");
    create.mutable_run()->set_name(name);
    auto run = client->CreateRun(create);
    REQUIRE(run.ok());
    return *run;
  }

  int64_t Count(const std::string& run, const std::string& key) {
    v1::GetMetricHistoryRequest get;
    get.set_run_id(run);
    get.set_key(key);
    auto h = client->GetMetricHistory(get);
    if (!h.ok()) return -1;
    return h->total_points();
  }

  RunLoggerOptions Options() {
    RunLoggerOptions o;
    o.spool_dir = spool;
    return o;
  }
};

TEST_CASE("logged points are durable after Flush and Close; Close ends the run") {
  Fixture f;
  const v1::Run run = f.NewRun("train");
  auto logger = RunLogger::Attach(*f.client, run.id(), f.Options());
  REQUIRE(logger.ok());
  for (int step = 0; step < 100000; ++step) {
    MLC_REQUIRE_OK((*logger)->LogMetric("loss", 1.0 / (step + 1), step));
    if (step % 10 == 0) MLC_REQUIRE_OK((*logger)->LogMetric("val/acc", step * 1e-5, step));
  }
  MLC_REQUIRE_OK((*logger)->Flush());
  CHECK(f.Count(run.id(), "loss") == 100000);
  CHECK(f.Count(run.id(), "val/acc") == 10000);
  std::vector<int64_t> steps = {0, 1, 2};
  std::vector<double> values = {3, 2, 1};
  MLC_REQUIRE_OK((*logger)->LogSeries("batch", steps.data(), values.data(), steps.size()));
  MLC_REQUIRE_OK((*logger)->LogParams({{"lr", "0.01"}, {"layers", "4"}}));
  auto conflict = (*logger)->LogParams({{"lr", "0.1"}});
  CHECK(conflict.code() == StatusCode::kFailedPrecondition);
  CHECK(conflict.message().find("\"0.01\"") != std::string::npos);
  CHECK((*logger)->LogMetric("bad key!", 1).code() == StatusCode::kInvalidArgument);
  MLC_REQUIRE_OK((*logger)->Close());
  const RunLoggerStats stats = (*logger)->stats();
  CHECK(stats.points_logged == 110003);
  CHECK(stats.points_written == 110003);
  CHECK(stats.points_dropped == 0);
  auto ended = f.client->GetRun(run.id());
  REQUIRE(ended.ok());
  CHECK(ended->status() == v1::RUN_STATUS_FINISHED);
  CHECK(ended->params().at("layers") == "4");
  CHECK(f.Count(run.id(), "batch") == 3);
  CHECK((*logger)->LogMetric("loss", 1).code() == StatusCode::kFailedPrecondition);
  MLC_CHECK_OK((*logger)->Close());  // idempotent
  CHECK(RunLogger::Attach(*f.client, run.id()).status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("Close wakes the system-metrics sampler instead of waiting out its interval") {
  Fixture f;
  const v1::Run run = f.NewRun("sampled");
  RunLoggerOptions options = f.Options();
  options.system_metrics = true;
  options.system_metrics_interval = std::chrono::hours(1);
  auto logger = RunLogger::Attach(*f.client, run.id(), options);
  REQUIRE(logger.ok());
  MLC_REQUIRE_OK((*logger)->Flush());
  // Without the wake-up, Close would join a sampler asleep for the hour.
  auto closing = std::async(std::launch::async, [&] { return (*logger)->Close(); });
  REQUIRE(closing.wait_for(60s) == std::future_status::ready);
  MLC_CHECK_OK(closing.get());
}

TEST_CASE("a rate limit makes the flusher back off; kDrop drops instead of blocking") {
  Fixture f;
  const v1::Run run = f.NewRun("limited");
  v1::TrackingPolicy policy;
  policy.set_project("ml");
  policy.set_max_points_per_second(100);
  MLC_REQUIRE_OK(f.client->UpdateTrackingPolicy(policy));
  RunLoggerOptions o = f.Options();
  o.max_buffered_points = 1000;
  o.backpressure = Backpressure::kDrop;
  o.flush_interval = 10s;
  auto logger = RunLogger::Attach(*f.client, run.id(), o);
  REQUIRE(logger.ok());
  // The first batch passes (leaving the bucket in debt), the next is refused: the flusher backs
  // off while the loop fills the buffer, and the rest is dropped.
  for (int step = 0; step < 20000; ++step) MLC_REQUIRE_OK((*logger)->LogMetric("k", step, step));
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while ((*logger)->stats().retries == 0 && std::chrono::steady_clock::now() < deadline) {
    // More than half a buffer wakes the flusher (it may have taken everything already).
    for (int i = 0; i < 600; ++i) (void)(*logger)->TryLogMetric("k", 0, 20000 + i, 0);
    std::this_thread::sleep_for(10ms);
  }
  policy.set_max_points_per_second(0);
  MLC_REQUIRE_OK(f.client->UpdateTrackingPolicy(policy));
  MLC_REQUIRE_OK((*logger)->Close());

  const RunLoggerStats stats = (*logger)->stats();
  CHECK(stats.points_dropped > 0);
  CHECK(stats.retries >= 1);
  CHECK(stats.points_logged + stats.points_dropped >= 20000);
  CHECK(stats.points_written == stats.points_logged);
  CHECK(f.Count(run.id(), "k") == static_cast<int64_t>(stats.points_logged));
}

TEST_CASE("refused batches go to the spool and sync uploads them exactly once") {
  Fixture f;
  const v1::Run run = f.NewRun("spooled");
  auto logger = RunLogger::Attach(*f.client, run.id(), f.Options());
  REQUIRE(logger.ok());
  for (int step = 0; step < 1000; ++step) MLC_REQUIRE_OK((*logger)->LogMetric("loss", step, step));
  MLC_REQUIRE_OK((*logger)->Flush());
  v1::TrackingPolicy policy;
  policy.set_project("ml");
  policy.set_max_stored_bytes(1);  // full: further batches are refused
  MLC_REQUIRE_OK(f.client->UpdateTrackingPolicy(policy));
  for (int round = 0; round < 3; ++round) {
    for (int step = 0; step < 1000; ++step) {
      const int s = 1000 * (round + 1) + step;
      MLC_REQUIRE_OK((*logger)->LogMetric("loss", s, s));
    }
    auto flushed = (*logger)->Flush();
    CHECK(flushed.code() == StatusCode::kResourceExhausted);
    CHECK(flushed.message().find("mlc sync") != std::string::npos);
  }
  MLC_CHECK_OK((*logger)->Close(v1::RUN_STATUS_UNSPECIFIED));
  CHECK((*logger)->stats().points_spooled == 3000);
  CHECK(f.Count(run.id(), "loss") == 1000);
  REQUIRE(tracking::ListSpoolFiles(f.spool).size() == 1);

  policy.set_max_stored_bytes(0);
  MLC_REQUIRE_OK(f.client->UpdateTrackingPolicy(policy));
  {
    // The first batch is applied but its acknowledgement is lost: the file stays.
    ScopedEnv fault(testing::EnvMap{{"MLC_FAULT_SYNC_DROP_ACK_AFTER", "1"}});
    auto report = SyncSpool(*f.client, f.spool);
    REQUIRE(report.ok());
    CHECK(report->files_left == 1);
    CHECK(report->errors.size() == 1);
    CHECK(f.Count(run.id(), "loss") == 2000);
  }
  auto report = SyncSpool(*f.client, f.spool);
  REQUIRE(report.ok());
  CHECK(report->files_left == 0);
  CHECK(report->duplicates == 1);
  CHECK(report->batches_sent == 2);
  CHECK(f.Count(run.id(), "loss") == 4000);  // every point once
  CHECK(tracking::ListSpoolFiles(f.spool).empty());
}

TEST_CASE("Close uploads what was spooled once the backend takes it again") {
  Fixture f;
  const v1::Run run = f.NewRun("recovers");
  auto logger = RunLogger::Attach(*f.client, run.id(), f.Options());
  REQUIRE(logger.ok());
  MLC_REQUIRE_OK((*logger)->LogMetric("loss", 0, 0));
  MLC_REQUIRE_OK((*logger)->Flush());
  v1::TrackingPolicy policy;
  policy.set_project("ml");
  policy.set_max_stored_bytes(1);
  MLC_REQUIRE_OK(f.client->UpdateTrackingPolicy(policy));
  for (int step = 1; step <= 500; ++step) MLC_REQUIRE_OK((*logger)->LogMetric("loss", step, step));
  CHECK((*logger)->Flush().code() == StatusCode::kResourceExhausted);
  CHECK(tracking::ListSpoolFiles(f.spool).size() == 1);
  policy.set_max_stored_bytes(0);  // space again before the run ends
  MLC_REQUIRE_OK(f.client->UpdateTrackingPolicy(policy));
  MLC_REQUIRE_OK((*logger)->Close());
  CHECK(tracking::ListSpoolFiles(f.spool).empty());
  CHECK(f.Count(run.id(), "loss") == 501);
  CHECK((*logger)->stats().points_written == 501);
  CHECK((*logger)->stats().points_spooled == 0);
}

TEST_CASE("an offline run lives in the spool until sync creates it, exactly once") {
  Fixture f;
  v1::CreateRunRequest create;
  create.mutable_run()->set_project("ml");
  create.mutable_run()->set_name("on-a-plane");
  auto logger = RunLogger::StartOffline(f.uri, create, f.Options());
  REQUIRE(logger.ok());
  CHECK((*logger)->run_id().rfind("offline-", 0) == 0);
  for (int step = 0; step < 5000; ++step) MLC_REQUIRE_OK((*logger)->LogMetric("loss", step, step));
  MLC_REQUIRE_OK((*logger)->LogParams({{"lr", "0.5"}}));
  MLC_REQUIRE_OK((*logger)->Close(v1::RUN_STATUS_FINISHED));
  CHECK((*logger)->stats().points_spooled == 5000);
  v1::SearchRunsRequest search;
  search.set_project("ml");
  CHECK(f.client->SearchRuns(search)->runs_size() == 0);
  {
    ScopedEnv fault(
        testing::EnvMap{{"MLC_FAULT_SYNC_DROP_ACK_AFTER", "1"}});  // the create's ack is lost
    REQUIRE(SyncSpool(*f.client, f.spool).ok());
  }
  auto report = SyncSpool(*f.client, f.spool);
  REQUIRE(report.ok());
  CHECK(report->files_left == 0);
  auto runs = f.client->SearchRuns(search);
  REQUIRE(runs->runs_size() == 1);  // created once despite the retry
  const v1::Run& run = runs->runs(0);
  CHECK(run.name() == "on-a-plane");
  CHECK(run.status() == v1::RUN_STATUS_FINISHED);
  CHECK(run.params().at("lr") == "0.5");
  CHECK(f.Count(run.id(), "loss") == 5000);
  // Spool files of another backend are left alone.
  auto other = RunLogger::StartOffline("local:///elsewhere", create, f.Options());
  REQUIRE(other.ok());
  MLC_REQUIRE_OK((*other)->Close());
  report = SyncSpool(*f.client, f.spool);
  CHECK(report->files == 0);
  CHECK(tracking::ListSpoolFiles(f.spool).size() == 1);
}

TEST_CASE("several writers (threads with their own connections) log to one store") {
  Fixture f;
  std::vector<std::string> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(f.NewRun("w" + std::to_string(i)).id());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto client = Client::Open(f.uri);
      if (!client.ok()) return void(++failures);
      RunLoggerOptions o;
      o.flush_interval = 5ms;
      auto logger = RunLogger::Attach(**client, runs[i], o);
      if (!logger.ok()) return void(++failures);
      for (int step = 0; step < 50000; ++step) {
        if (!(*logger)->LogMetric("loss", step, step).ok()) ++failures;
      }
      if (!(*logger)->Close().ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  for (const auto& run : runs) CHECK(f.Count(run, "loss") == 50000);
}

TEST_CASE("a writer killed with SIGKILL loses at most what it had not flushed") {
  Fixture f;
  const v1::Run run = f.NewRun("killed");
  int report[2];
  REQUIRE(pipe(report) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(report[0]);
    auto client = Client::Open(f.uri);
    if (!client.ok()) _exit(2);
    auto logger = RunLogger::Attach(**client, run.id());
    if (!logger.ok()) _exit(3);
    for (int64_t step = 0;; ++step) {
      (void)(*logger)->LogMetric("loss", static_cast<double>(step), step);
      if (step % 5000 == 4999) {
        if (!(*logger)->Flush().ok()) _exit(4);
        const int64_t flushed = step + 1;
        if (write(report[1], &flushed, sizeof(flushed)) != sizeof(flushed)) _exit(5);
      }
    }
  }
  close(report[1]);
  int64_t flushed = 0;
  while (flushed < 40000) REQUIRE(read(report[0], &flushed, sizeof(flushed)) == sizeof(flushed));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  int64_t last = flushed;
  while (read(report[0], &last, sizeof(last)) == sizeof(last)) flushed = last;
  close(report[0]);
  CHECK(WIFSIGNALED(status));

  // Reopened: every flushed point is there, in order, with no gaps; the file is consistent.
  auto reopened = Client::Open(f.uri);
  REQUIRE(reopened.ok());
  v1::GetMetricHistoryRequest get;
  get.set_run_id(run.id());
  get.set_key("loss");
  auto h = (*reopened)->GetMetricHistory(get);
  REQUIRE(h.ok());
  CHECK(h->total_points() >= flushed);
  for (int i = 0; i < h->series().steps_size(); ++i) {
    if (h->series().steps(i) != i || h->series().values(i) != i) {
      FAIL("point " << i << " is step " << h->series().steps(i));
    }
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((f.dir / "state/tracking.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* check = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &check, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(check) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(check, 0))) == "ok");
  sqlite3_finalize(check);
  sqlite3_close(db);
}

}  // namespace
}  // namespace mlcore
