// Faults of the local job runtime: supervisors killed, machine reboots, crashed lock holders,
// runaway logs. These need the local store's internals, so they are not conformance tests.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "local/job_runtime.h"
#include "local/job_store.h"
#include "local/local_backend.h"
#include "local/process.h"
#include "local/sqlite_store.h"
#include "mlcore/client.h"
#include "mlcore/jobs.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using namespace std::chrono_literals;
using testing::EnvMap;
using testing::IsolatedEnv;
using testing::ScopedEnv;
using testing::TempDir;

constexpr auto kWait = std::chrono::milliseconds(60000);

struct Fixture {
  TempDir dir;
  IsolatedEnv env{dir};
  ScopedEnv capacity{EnvMap{{"MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0"}}};
  std::string state = dir / "state";
  std::unique_ptr<Client> client;

  Fixture() {
    auto opened = Client::Open("local://" + state);
    REQUIRE(opened.ok());
    client = std::move(opened).value();
    v1::Project p;
    p.set_name("ml");
    REQUIRE(client->CreateProject(p).ok());
  }

  v1::Job Submit(const std::string& script, const std::function<void(v1::JobSpec&)>& edit = {}) {
    v1::JobSpec spec;
    spec.set_project("ml");
    spec.add_command("sh");
    spec.add_command("-c");
    spec.add_command(script);
    spec.set_working_dir(dir.path());
    spec.mutable_resources()->set_cpu_millis(1000);
    if (edit) edit(spec);
    auto job = client->SubmitJob(spec);
    INFO(job.status().ToString());
    REQUIRE(job.ok());
    return *job;
  }

  v1::Job WaitUntil(const std::string& id, const std::function<bool(const v1::Job&)>& pred) {
    auto start = std::chrono::steady_clock::now();
    while (true) {
      auto job = client->GetJob(id);
      REQUIRE(job.ok());
      if (pred(*job)) return *job;
      REQUIRE(std::chrono::steady_clock::now() - start < kWait);
      std::this_thread::sleep_for(20ms);
    }
  }

  // Runs SQL on the store directly, as a crash or another version would leave it.
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((state + "/mlcore.db").c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO((error ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }

  // Rewrites the stored body of job `id`, as another process (or version) would have written it.
  void EditBody(const std::string& id, const std::function<void(v1::Job&)>& edit) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((state + "/mlcore.db").c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "SELECT body FROM jobs WHERE id = ?", -1, &stmt, nullptr);
    sqlite3_bind_text(stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    v1::Job job;
    REQUIRE(job.ParseFromArray(sqlite3_column_blob(stmt, 0), sqlite3_column_bytes(stmt, 0)));
    sqlite3_finalize(stmt);
    edit(job);
    const std::string body = job.SerializeAsString();
    sqlite3_prepare_v2(db, "UPDATE jobs SET body = ? WHERE id = ?", -1, &stmt, nullptr);
    sqlite3_bind_blob(stmt, 1, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, id.c_str(), -1, SQLITE_TRANSIENT);
    CHECK(sqlite3_step(stmt) == SQLITE_DONE);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }

  pid_t SupervisorPid(const std::string& id) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((state + "/mlcore.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "SELECT supervisor_pid, pgid FROM jobs WHERE id = ?", -1, &stmt,
                       nullptr);
    sqlite3_bind_text(stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    pid_t pid = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return pid;
  }
};

bool Running(const v1::Job& j) { return j.state() == v1::JOB_STATE_RUNNING; }

bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0; }

TEST_CASE("a supervisor killed with SIGKILL leaves a LOST job and no orphan process") {
  Fixture f;
  auto job = f.Submit("echo $$ > job.pid; exec sleep 60");
  f.WaitUntil(job.id(), [&](const v1::Job& j) {
    return Running(j) && std::ifstream(f.dir / "job.pid").peek() != EOF;
  });
  pid_t job_pid = 0;
  std::ifstream(f.dir / "job.pid") >> job_pid;
  REQUIRE(job_pid > 0);
  pid_t supervisor = f.SupervisorPid(job.id());
  REQUIRE(supervisor > 0);
  REQUIRE(kill(supervisor, SIGKILL) == 0);
  auto lost =
      f.WaitUntil(job.id(), [](const v1::Job& j) { return j.state() == v1::JOB_STATE_LOST; });
  CHECK(lost.message().find("vanished") != std::string::npos);
  // The job's own process died with its supervisor (or was killed when the loss was found).
  auto start = std::chrono::steady_clock::now();
  while (ProcessExists(job_pid) && std::chrono::steady_clock::now() - start < kWait) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK_FALSE(ProcessExists(job_pid));
}

TEST_CASE("after a reboot running jobs become LOST, or run again when their policy says so") {
  Fixture f;
  auto plain = f.Submit("exec sleep 60");
  auto retried =
      f.Submit("if [ -f again ]; then exit 0; fi; touch again; exec sleep 60", [](v1::JobSpec& s) {
        s.mutable_retry()->set_max_restarts(1);
        s.mutable_retry()->set_retry_lost(true);
      });
  f.WaitUntil(plain.id(), Running);
  f.WaitUntil(retried.id(), Running);
  pid_t a = f.SupervisorPid(plain.id());
  pid_t b = f.SupervisorPid(retried.id());
  // What a reboot leaves behind: rows that name supervisors of another boot.
  f.Sql("UPDATE jobs SET boot_id = 'an-earlier-boot'");
  auto lost =
      f.WaitUntil(plain.id(), [](const v1::Job& j) { return j.state() == v1::JOB_STATE_LOST; });
  CHECK(lost.message().find("restarted") != std::string::npos);
  auto again = f.WaitUntil(retried.id(),
                           [](const v1::Job& j) { return j.state() == v1::JOB_STATE_SUCCEEDED; });
  CHECK(again.restarts() == 1);
  // The old supervisors are still alive in this test's (unrebooted) machine: end them.
  kill(a, SIGKILL);
  kill(b, SIGKILL);
}

TEST_CASE("a launched supervisor's claim is awaited by ticks since boot, not by wall clocks") {
  Fixture f;
  // A supervisor that never claims its job (it hangs before opening the store).
  const std::string hung = f.dir / "hung-supervisor";
  const std::string hung_pid = f.dir / "hung.pid";
  std::ofstream(hung) << "#!/bin/sh\necho $$ > " << hung_pid << "\nexec sleep 120\n";
  REQUIRE(chmod(hung.c_str(), 0755) == 0);
  ScopedEnv supervisor{EnvMap{{"MLC_SUPERVISOR", hung}}};
  auto job = f.Submit("true");
  auto starting =
      f.WaitUntil(job.id(), [](const v1::Job& j) { return j.state() == v1::JOB_STATE_STARTING; });
  // A reader whose wall clock is two hours ahead of the launcher's (a clock step, or the jumped
  // clock of another job's supervisor) sees a launch that looks two hours old: still awaited.
  f.EditBody(job.id(), [](v1::Job& j) {
    auto* last = j.mutable_events(j.events_size() - 1);
    last->mutable_time()->set_seconds(last->time().seconds() - 2L * 3600);
  });
  CHECK(f.client->GetJob(job.id())->state() == v1::JOB_STATE_STARTING);
  // Awaited for longer than the claim timeout by the machine's own count: LOST, saying why.
  const long per_second = sysconf(_SC_CLK_TCK);
  f.Sql("UPDATE jobs SET supervisor_start = supervisor_start - " +
        std::to_string(61L * per_second) + " WHERE id = '" + job.id() + "'");
  auto lost = f.client->GetJob(job.id());
  REQUIRE(lost.ok());
  CHECK(lost->state() == v1::JOB_STATE_LOST);
  CHECK(lost->message().find("never started") != std::string::npos);
  (void)starting;
  pid_t pid = 0;
  for (int i = 0; i < 500 && pid == 0; ++i) {
    std::ifstream(hung_pid) >> pid;
    if (pid == 0) std::this_thread::sleep_for(10ms);
  }
  if (pid > 0) kill(pid, SIGKILL);
}

// Reads a runtime_meta value of the store.
std::string MetaText(const std::string& state, const std::string& key) {
  auto db = sqlite::Db::Open(state + "/mlcore.db", local::StoreMigrations());
  REQUIRE(db.ok());
  auto value = local::GetMetaText(**db, key);
  REQUIRE(value.ok());
  return *value;
}

TEST_CASE(
    "while a pass loop runs, passes leave launches to it; a gone loop's queue is taken over") {
  Fixture f;
  // A live process registered as the pass loop, which starts nothing: launches wait for it.
  pid_t fake_loop = fork();
  REQUIRE(fake_loop >= 0);
  if (fake_loop == 0) {
    pause();
    _exit(0);
  }
  {
    auto db = sqlite::Db::Open(f.state + "/mlcore.db", local::StoreMigrations());
    REQUIRE(db.ok());
    REQUIRE(local::SetMetaText(**db, local::kMetaKicker,
                               local::FormatIdentity(local::IdentityOf(fake_loop)))
                .ok());
  }
  auto a = f.Submit("true");
  auto b = f.Submit("true");
  // Both were scheduled and queued for the loop; no supervisor was started for them.
  auto queued_a = f.client->GetJob(a.id());
  REQUIRE(queued_a.ok());
  CHECK(queued_a->state() == v1::JOB_STATE_STARTING);
  const std::string queue = MetaText(f.state, local::kMetaLaunchQueue);
  CHECK(queue.find(a.id()) != std::string::npos);
  CHECK(queue.find(b.id()) != std::string::npos);
  CHECK(f.SupervisorPid(a.id()) == 0);
  // The loop dies without starting them: the next reader's pass starts both.
  kill(fake_loop, SIGKILL);
  int status = 0;
  waitpid(fake_loop, &status, 0);
  for (const auto& id : {a.id(), b.id()}) {
    auto done = f.client->WaitJob(id, kWait);
    REQUIRE(done.ok());
    CHECK(done->state() == v1::JOB_STATE_SUCCEEDED);
  }
  CHECK(MetaText(f.state, local::kMetaLaunchQueue).empty());
}

TEST_CASE("readers rerun the pass only after a change, a job becoming due, or a second") {
  Fixture f;
  v1::Project capped;
  capped.set_name("capped");
  capped.mutable_limit()->set_cpu_millis(1000);
  REQUIRE(f.client->CreateProject(capped).ok());
  const auto in_capped = [](v1::JobSpec& s) { s.set_project("capped"); };
  const std::string release = f.dir / "release";
  auto hold = f.Submit("while [ ! -e '" + release + "' ]; do sleep 0.05; done", in_capped);
  f.WaitUntil(hold.id(), Running);
  auto waiting = f.Submit("true", in_capped);
  REQUIRE(f.client->GetJob(waiting.id())->state() == v1::JOB_STATE_PENDING);

  auto db = sqlite::Db::Open(f.state + "/mlcore.db", local::StoreMigrations());
  REQUIRE(db.ok());
  const auto needed = [&] {
    auto n = local::SchedulingPassNeeded(**db);
    REQUIRE(n.ok());
    return *n;
  };
  // As a pass that just ended leaves the store: a job pending, nothing changed since.
  const auto just_passed = [&] {
    REQUIRE(local::SetMetaInt(**db, local::kMetaDirty, 0).ok());
    REQUIRE(local::SetMetaInt(**db, local::kMetaPassDurationUs, 0).ok());
    REQUIRE(local::SetMetaInt(**db, local::kMetaLastPassUs, local::NowMicros()).ok());
  };
  just_passed();
  CHECK_FALSE(needed());  // a pending job alone no longer costs every reader a pass
  // A change marks the store dirty.
  REQUIRE(local::SetMetaInt(**db, local::kMetaDirty, 1).ok());
  CHECK(needed());
  // A job whose retry backoff ended after the last pass began.
  just_passed();
  f.Sql("UPDATE jobs SET not_before_us = " + std::to_string(local::NowMicros() + 200000) +
        " WHERE id = '" + waiting.id() + "'");
  CHECK_FALSE(needed());  // not due yet: not pending for the scheduler
  REQUIRE(local::SetMetaInt(**db, local::kMetaLastPassUs, local::NowMicros() - 500000).ok());
  f.Sql("UPDATE jobs SET not_before_us = " + std::to_string(local::NowMicros() - 1000) +
        " WHERE id = '" + waiting.id() + "'");
  CHECK(needed());
  // A pass older than kReadPassMaxAgeUs (waiting reasons name times).
  just_passed();
  CHECK_FALSE(needed());
  REQUIRE(local::SetMetaInt(**db, local::kMetaLastPassUs,
                            local::NowMicros() - local::kReadPassMaxAgeUs - 1)
              .ok());
  CHECK(needed());
  // The quota report sums the pending job from the store's columns.
  auto usage = f.client->GetQuotaUsage();
  REQUIRE(usage.ok());
  bool seen = false;
  for (const auto& u : usage->usages()) {
    if (u.project() != "capped") continue;
    seen = true;
    CHECK(u.pending_jobs() == 1);
    CHECK(u.pending().cpu_millis() == 1000);
    CHECK(u.running_jobs() == 1);
  }
  CHECK(seen);
  std::ofstream(release).put('x');
  f.WaitUntil(waiting.id(), [](const v1::Job& j) { return j.state() == v1::JOB_STATE_SUCCEEDED; });
}

TEST_CASE("a burst of submits runs through the pass loop's forked supervisors, leaving nothing") {
  Fixture f;
  std::vector<std::string> ids;
  ids.reserve(40);
  for (int i = 0; i < 40; ++i) {
    ids.push_back(f.Submit("echo job " + std::to_string(i), [](v1::JobSpec& spec) {
                     spec.mutable_resources()->set_cpu_millis(10);
                   }).id());
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    auto done = f.client->WaitJob(ids[i], kWait);
    REQUIRE(done.ok());
    CHECK(done->state() == v1::JOB_STATE_SUCCEEDED);
    v1::StreamJobLogsRequest request;
    request.set_id(ids[i]);
    std::string output;
    MLC_CHECK_OK(f.client->StreamJobLogs(request, [&](const v1::LogLine& line) {
      output += line.text();
      return true;
    }));
    CHECK(output.find("job " + std::to_string(i)) != std::string::npos);
  }
  CHECK(MetaText(f.state, local::kMetaLaunchQueue).empty());
  // The loop hands over once nothing is left: no scheduling process outlives the burst.
  const auto start = std::chrono::steady_clock::now();
  while (!MetaText(f.state, local::kMetaKicker).empty()) {
    REQUIRE(std::chrono::steady_clock::now() - start < kWait);
    std::this_thread::sleep_for(20ms);
  }
}

TEST_CASE("a process that crashed holding the store's write lock does not block anyone") {
  Fixture f;
  pid_t holder = fork();
  REQUIRE(holder >= 0);
  if (holder == 0) {
    sqlite3* db = nullptr;
    sqlite3_open((f.state + "/mlcore.db").c_str(), &db);
    sqlite3_exec(db,
                 "BEGIN IMMEDIATE; INSERT INTO projects(name, create_time_us, body) "
                 "VALUES ('half-written', 0, x'00')",
                 nullptr, nullptr, nullptr);
    pause();  // killed below, mid-transaction
    _exit(0);
  }
  std::this_thread::sleep_for(100ms);
  kill(holder, SIGKILL);
  int status = 0;
  waitpid(holder, &status, 0);
  auto job = f.Submit("echo fine");
  auto done = f.client->WaitJob(job.id(), kWait);
  REQUIRE(done.ok());
  CHECK(done->state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(f.client->GetProject("half-written").status().code() == StatusCode::kNotFound);
}

TEST_CASE("a job that floods its log is capped, keeps running, and says what was dropped") {
  Fixture f;
  ScopedEnv limit(EnvMap{{"MLC_JOB_LOG_LIMIT", "4096"}});
  auto job = f.Submit("i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; echo end");
  auto done = f.client->WaitJob(job.id(), kWait);
  REQUIRE(done.ok());
  CHECK(done->state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(done->message().find("bytes of output dropped (log limit)") != std::string::npos);
  std::ifstream log(f.state + "/jobs/" + job.id() + "/output.log", std::ios::ate);
  CHECK(log.tellg() < 8192);
  v1::StreamJobLogsRequest request;
  request.set_id(job.id());
  request.add_streams(v1::LOG_STREAM_SYSTEM);
  bool reported = false;
  MLC_CHECK_OK(f.client->StreamJobLogs(request, [&](const v1::LogLine& line) {
    reported = reported || line.text().find("log limit of 4096 bytes reached") != std::string::npos;
    return true;
  }));
  CHECK(reported);
}

TEST_CASE("the job's files: spec attachment, secrets removed at the end") {
  Fixture f;
  ScopedEnv secret(EnvMap{{"PRIVATE_VALUE", "do-not-store-me"}});
  auto job = f.Submit("echo ok", [](v1::JobSpec& s) {
    auto* ref = s.add_secrets();
    ref->set_name("TOKEN");
    ref->set_source(v1::SECRET_SOURCE_ENV);
    ref->set_key("PRIVATE_VALUE");
  });
  REQUIRE(f.client->WaitJob(job.id(), kWait).ok());
  std::string job_dir = f.state + "/jobs/" + job.id();
  CHECK(std::ifstream(job_dir + "/attachments/spec.yaml").good());
  CHECK_FALSE(std::ifstream(job_dir + "/secrets.env").good());
  std::ifstream db(f.state + "/mlcore.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(db)), std::istreambuf_iterator<char>());
  std::ifstream wal(f.state + "/mlcore.db-wal", std::ios::binary);
  bytes.append((std::istreambuf_iterator<char>(wal)), std::istreambuf_iterator<char>());
  CHECK(bytes.find("do-not-store-me") == std::string::npos);
}

}  // namespace
}  // namespace mlcore
