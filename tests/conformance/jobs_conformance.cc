// Conformance: jobs. Every backend with CAPABILITY_JOBS runs the same command lines with the
// same outcomes. Targets give the backend a capacity of cpu=4, memory=8Gi (see conformance.h).
#include <chrono>
#include <set>
#include <thread>

#include <doctest/doctest.h>
#include <google/protobuf/util/time_util.h>

#include "conformance/conformance.h"
#include "mlcore/jobs.h"
#include "mlcore/json.h"
#include "unit/test_support.h"

namespace mlcore::conformance {
namespace {

using google::protobuf::util::TimeUtil;
using namespace std::chrono_literals;

constexpr auto kWait = std::chrono::milliseconds(60000);  // generous: CI machines are shared

std::unique_ptr<Client> JobsClient() { return ClientWith(v1::CAPABILITY_JOBS, "ml"); }

// A job that holds its resources until `release` appears in its working directory, or until the
// directory is gone (a failed test removed it), so no test leaves processes behind.
constexpr const char* kHoldUntilRelease =
    "while [ ! -f release ] && [ -d \"$PWD\" ]; do sleep 0.05; done";

v1::JobSpec Shell(const std::string& script, const std::string& name = {}) {
  v1::JobSpec spec;
  spec.set_project("ml");
  spec.set_name(name);
  spec.add_command("sh");
  spec.add_command("-c");
  spec.add_command(script);
  spec.mutable_resources()->set_cpu_millis(1000);
  spec.mutable_resources()->set_memory_bytes(256LL << 20);
  return spec;
}

// The job's own output (stdout and stderr unless `base` picks streams), one line per line.
std::string Logs(Client& client, const std::string& id, const v1::StreamJobLogsRequest& base = {}) {
  v1::StreamJobLogsRequest request = base;
  request.set_id(id);
  if (request.streams_size() == 0) {
    request.add_streams(v1::LOG_STREAM_STDOUT);
    request.add_streams(v1::LOG_STREAM_STDERR);
  }
  std::string out;
  MLC_CHECK_OK(client.StreamJobLogs(request, [&](const v1::LogLine& line) {
    if (line.stream() != v1::LOG_STREAM_SYSTEM) out += line.text() + "\n";
    return true;
  }));
  return out;
}

v1::Job WaitFor(Client& client, const std::string& id) {
  auto job = client.WaitJob(id, kWait);
  INFO(job.status().ToString());
  REQUIRE(job.ok());
  return *job;
}

// Polls until `pred` holds for the job (or fails the test after kWait).
v1::Job WaitUntil(Client& client, const std::string& id,
                  const std::function<bool(const v1::Job&)>& pred) {
  auto start = std::chrono::steady_clock::now();
  while (true) {
    auto job = client.GetJob(id);
    REQUIRE(job.ok());
    if (pred(*job)) return *job;
    if (std::chrono::steady_clock::now() - start > kWait) {
      FAIL("job " << id << " stayed " << JobStateName(job->state()) << ": " << job->message());
    }
    std::this_thread::sleep_for(20ms);
  }
}

TEST_CASE("conformance: a job runs, its output and exit are recorded") {
  auto client = JobsClient();
  if (!client) return;
  auto submitted = client->SubmitJob(Shell("echo hello; echo oops >&2; exit 0", "hello"));
  MLC_REQUIRE_OK(submitted);
  CHECK(submitted->spec().name() == "hello");
  CHECK_FALSE(submitted->id().empty());
  CHECK_FALSE(submitted->user().empty());
  auto done = WaitFor(*client, submitted->id());
  CHECK(done.state() == v1::JOB_STATE_SUCCEEDED);
  REQUIRE(done.has_exit_code());
  CHECK(done.exit_code() == 0);
  CHECK(done.has_start_time());
  CHECK(done.has_end_time());
  CHECK(done.resources_used().has_wall_time());
  std::vector<v1::JobState> path;
  for (const auto& e : done.events()) path.push_back(e.to_state());
  CHECK(path == std::vector<v1::JobState>{v1::JOB_STATE_PENDING, v1::JOB_STATE_STARTING,
                                          v1::JOB_STATE_RUNNING, v1::JOB_STATE_SUCCEEDED});
  CHECK(Logs(*client, done.id()) == "hello\noops\n");
  v1::StreamJobLogsRequest only_err;
  only_err.add_streams(v1::LOG_STREAM_STDERR);
  CHECK(Logs(*client, done.id(), only_err) == "oops\n");
  // The same job by name.
  CHECK(client->GetJob("hello")->id() == done.id());
}

TEST_CASE("conformance: listing pages through every job exactly once") {
  auto client = JobsClient();
  if (!client) return;
  std::set<std::string> submitted;
  for (int i = 0; i < 5; ++i) {
    auto job = client->SubmitJob(Shell("true", "page-" + std::to_string(i)));
    MLC_REQUIRE_OK(job);
    submitted.insert(job->id());
  }
  std::set<std::string> listed;
  v1::ListJobsRequest request;
  request.set_project("ml");
  request.set_page_size(2);
  int pages = 0;
  while (true) {
    auto page = client->ListJobs(request);
    MLC_REQUIRE_OK(page);
    ++pages;
    CHECK(page->jobs_size() <= 2);
    for (const auto& j : page->jobs()) CHECK(listed.insert(j.id()).second);  // never twice
    if (page->next_page_token().empty()) break;
    CHECK(page->jobs_size() == 2);  // only the last page is short
    request.set_page_token(page->next_page_token());
    REQUIRE(pages < 10);
  }
  CHECK(listed == submitted);
  CHECK(pages == 3);
}

TEST_CASE("conformance: failures say why and never leave a job stuck") {
  auto client = JobsClient();
  if (!client) return;
  auto failing = client->SubmitJob(Shell("exit 3"));
  MLC_REQUIRE_OK(failing);
  auto failed = WaitFor(*client, failing->id());
  CHECK(failed.state() == v1::JOB_STATE_FAILED);
  CHECK(failed.exit_code() == 3);
  CHECK(failed.message() == "exited with code 3");

  v1::JobSpec missing;
  missing.set_project("ml");
  missing.add_command("no-such-command-anywhere");
  auto lost = client->SubmitJob(missing);
  MLC_REQUIRE_OK(lost);
  auto not_found = WaitFor(*client, lost->id());
  CHECK(not_found.state() == v1::JOB_STATE_FAILED);
  CHECK(not_found.message().find("no-such-command-anywhere") != std::string::npos);
  CHECK(not_found.message().find("not found") != std::string::npos);
}

TEST_CASE("conformance: bad submissions are refused with precise errors") {
  auto client = JobsClient();
  if (!client) return;
  auto spec = Shell("true");
  spec.set_project("nope");
  auto unknown_project = client->SubmitJob(spec);
  CHECK(unknown_project.status().code() == StatusCode::kNotFound);
  CHECK(unknown_project.status().message().find("project \"nope\"") != std::string::npos);

  spec = Shell("true");
  spec.clear_resources();
  spec.set_flavor("gpu-huge");
  auto bad_flavor = client->SubmitJob(spec);
  CHECK(bad_flavor.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad_flavor.status().message().find("cpu-2-8") != std::string::npos);

  spec = Shell("true");
  spec.mutable_resources()->set_cpu_millis(64000);
  auto too_big = client->SubmitJob(spec);
  CHECK(too_big.status().code() == StatusCode::kResourceExhausted);
  CHECK(too_big.status().message().find("could never start") != std::string::npos);

  v1::Project small;
  small.set_name("small");
  small.mutable_limit()->set_cpu_millis(500);
  MLC_REQUIRE_OK(client->CreateProject(small));
  spec = Shell("true");
  spec.set_project("small");
  auto over_limit = client->SubmitJob(spec);
  CHECK(over_limit.status().code() == StatusCode::kResourceExhausted);
  CHECK(over_limit.status().message().find("project \"small\"") != std::string::npos);

  spec = Shell("true", "Bad_Name");
  CHECK(client->SubmitJob(spec).status().code() == StatusCode::kInvalidArgument);
  spec = Shell("true", "dup");
  MLC_REQUIRE_OK(client->SubmitJob(spec));
  CHECK(client->SubmitJob(spec).status().code() == StatusCode::kAlreadyExists);
  CHECK(client->GetJob("absent").status().code() == StatusCode::kNotFound);
}

TEST_CASE("conformance: cancel stops running and pending jobs") {
  auto client = JobsClient();
  if (!client) return;
  auto spec = Shell("echo started; exec sleep 60", "sleeper");
  spec.mutable_termination_grace_period()->set_seconds(5);
  auto job = client->SubmitJob(spec);
  MLC_REQUIRE_OK(job);
  WaitUntil(*client, job->id(), [&](const v1::Job& j) {
    return j.state() == v1::JOB_STATE_RUNNING && Logs(*client, j.id()) == "started\n";
  });
  MLC_REQUIRE_OK(client->CancelJob("sleeper", "test says stop"));
  auto done = WaitFor(*client, job->id());
  CHECK(done.state() == v1::JOB_STATE_CANCELLED);
  CHECK(done.signal() == 15);  // SIGTERM was enough
  CHECK(client->CancelJob("sleeper").status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("conformance: deadlines end jobs TIMED_OUT, escalating to SIGKILL") {
  auto client = JobsClient();
  if (!client) return;
  auto spec = Shell("trap '' TERM; echo ignoring; while true; do sleep 0.1; done");
  spec.mutable_deadline()->set_nanos(300000000);
  spec.mutable_termination_grace_period()->set_nanos(200000000);
  auto job = client->SubmitJob(spec);
  MLC_REQUIRE_OK(job);
  auto done = WaitFor(*client, job->id());
  CHECK(done.state() == v1::JOB_STATE_TIMED_OUT);
  CHECK(done.signal() == 9);
}

TEST_CASE("conformance: a ttl cancels a job still queued and stops a running one") {
  auto client = JobsClient();
  if (!client) return;
  testing::TempDir dir;
  auto hold = Shell(kHoldUntilRelease, "ttl-hold");
  hold.set_working_dir(dir.path());
  hold.mutable_resources()->set_cpu_millis(4000);  // the whole node
  auto holder = client->SubmitJob(hold);
  MLC_REQUIRE_OK(holder);
  WaitUntil(*client, holder->id(),
            [](const v1::Job& j) { return j.state() == v1::JOB_STATE_RUNNING; });
  auto queued = Shell("true", "ttl-queued");
  queued.mutable_ttl()->set_nanos(300000000);
  auto q = client->SubmitJob(queued);
  MLC_REQUIRE_OK(q);
  auto cancelled = WaitUntil(*client, q->id(),
                             [](const v1::Job& j) { return j.state() == v1::JOB_STATE_CANCELLED; });
  INFO(cancelled.message());
  CHECK(cancelled.message().find("ttl of 0.3s expired while pending") != std::string::npos);
  testing::WriteFile(dir / "release", "");
  WaitFor(*client, holder->id());

  // Long enough to start on every backend first, even a Slurm cluster under a sanitizer build
  // (a ttl counts from submission: a job still pending when it ends is cancelled, as above).
  auto running = Shell("exec sleep 60", "ttl-running");
  running.mutable_ttl()->set_seconds(2);
  running.mutable_ttl()->set_nanos(500000000);
  running.mutable_termination_grace_period()->set_seconds(5);
  auto r = client->SubmitJob(running);
  MLC_REQUIRE_OK(r);
  auto timed_out = WaitFor(*client, r->id());
  CHECK(timed_out.state() == v1::JOB_STATE_TIMED_OUT);
  INFO(timed_out.message());
  CHECK(timed_out.message().find("ttl of 2.5s reached") != std::string::npos);
}

TEST_CASE("conformance: retries restart a failed job with backoff") {
  auto client = JobsClient();
  if (!client) return;
  testing::TempDir dir;
  auto spec = Shell(
      "if [ -f marker ]; then echo second; exit 0; fi; touch marker; echo first; "
      "exit 7");
  spec.set_working_dir(dir.path());
  spec.mutable_retry()->set_max_restarts(2);
  spec.mutable_retry()->add_retry_exit_codes(7);
  spec.mutable_retry()->mutable_initial_backoff()->set_nanos(100000000);
  auto job = client->SubmitJob(spec);
  MLC_REQUIRE_OK(job);
  auto done = WaitFor(*client, job->id());
  CHECK(done.state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(done.restarts() == 1);
  CHECK(Logs(*client, done.id()) == "first\nsecond\n");

  auto never = Shell("exit 5");
  never.mutable_retry()->set_max_restarts(3);
  never.mutable_retry()->add_retry_exit_codes(7);  // 5 is not retried
  auto once = client->SubmitJob(never);
  MLC_REQUIRE_OK(once);
  auto failed = WaitFor(*client, once->id());
  CHECK(failed.state() == v1::JOB_STATE_FAILED);
  CHECK(failed.restarts() == 0);
}

TEST_CASE("conformance: queued jobs wait with a reason and start when room frees up") {
  auto client = JobsClient();
  if (!client) return;
  testing::TempDir dir;
  // The target has 4 CPUs: two 2-CPU jobs fill it; a third waits.
  auto hold = [&](const std::string& name) {
    auto spec = Shell(std::string(kHoldUntilRelease) + "; echo done", name);
    spec.set_working_dir(dir.path());
    spec.mutable_resources()->set_cpu_millis(2000);
    return client->SubmitJob(spec);
  };
  auto a = hold("hold-a");
  auto b = hold("hold-b");
  auto c = hold("hold-c");
  MLC_REQUIRE_OK(a);
  MLC_REQUIRE_OK(b);
  MLC_REQUIRE_OK(c);
  // The reason may come a moment after the submit: a cluster's scheduler (Slurm's) looks at a
  // new job on its next pass. Until the holders end, c stays PENDING.
  auto waiting = WaitUntil(*client, c->id(), [](const v1::Job& j) {
    return j.state() != v1::JOB_STATE_PENDING ||
           j.waiting_reason().find("CPU") != std::string::npos;
  });
  CHECK(waiting.state() == v1::JOB_STATE_PENDING);
  CHECK(waiting.waiting_reason().find("waiting") != std::string::npos);
  CHECK(waiting.waiting_reason().find("CPU") != std::string::npos);
  testing::WriteFile(dir / "release", "");
  // No client acts: the supervisors of a and b start c when they end.
  auto done = WaitFor(*client, c->id());
  CHECK(done.state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(Logs(*client, c->id()) == "done\n");
}

TEST_CASE("conformance: a project at its limit queues its jobs, naming the limit") {
  auto client = JobsClient();
  if (!client) return;
  v1::Project capped;
  capped.set_name("capped");
  capped.mutable_limit()->set_cpu_millis(1000);
  MLC_REQUIRE_OK(client->CreateProject(capped));
  testing::TempDir dir;
  auto spec = Shell(kHoldUntilRelease, "first");
  spec.set_project("capped");
  spec.set_working_dir(dir.path());
  auto first = client->SubmitJob(spec);
  MLC_REQUIRE_OK(first);
  spec.set_name("second");
  auto second = client->SubmitJob(spec);
  MLC_REQUIRE_OK(second);
  auto waiting = client->GetJob(second->id());
  CHECK(waiting->state() == v1::JOB_STATE_PENDING);
  CHECK(waiting->waiting_reason().find("capped") != std::string::npos);
  CHECK(waiting->waiting_reason().find("limit") != std::string::npos);
  auto usage = client->GetQuotaUsage();
  MLC_REQUIRE_OK(usage);
  bool seen = false;
  for (const auto& u : usage->usages()) {
    if (u.project() != "capped") continue;
    seen = true;
    CHECK(u.used().cpu_millis() == 1000);
    CHECK(u.pending_jobs() == 1);
  }
  CHECK(seen);
  testing::WriteFile(dir / "release", "");
  CHECK(WaitFor(*client, second->id()).state() == v1::JOB_STATE_SUCCEEDED);
}

TEST_CASE("conformance: preemption stops a preemptible job and requeues it") {
  auto client = JobsClient();
  if (!client) return;
  if (!client->Supports(v1::CAPABILITY_PREEMPTION)) {
    MESSAGE("skipped: backend lacks CAPABILITY_PREEMPTION");
    return;
  }
  testing::TempDir dir;
  auto spec = Shell(std::string("echo run >> runs; ") + kHoldUntilRelease, "victim");
  spec.set_working_dir(dir.path());
  spec.set_preemptible(true);
  spec.mutable_retry()->set_max_restarts(1);
  auto job = client->SubmitJob(spec);
  MLC_REQUIRE_OK(job);
  WaitUntil(*client, job->id(),
            [](const v1::Job& j) { return j.state() == v1::JOB_STATE_RUNNING; });
  MLC_REQUIRE_OK(client->PreemptJob("victim", "test"));
  // Preempted, requeued (restart 1) and running again.
  WaitUntil(*client, job->id(), [](const v1::Job& j) {
    return j.restarts() == 1 && j.state() == v1::JOB_STATE_RUNNING;
  });
  testing::WriteFile(dir / "release", "");
  auto done = WaitFor(*client, job->id());
  CHECK(done.state() == v1::JOB_STATE_SUCCEEDED);
  bool preempted = false;
  for (const auto& e : done.events())
    preempted = preempted || e.to_state() == v1::JOB_STATE_PREEMPTED;
  CHECK(preempted);

  auto steady = client->SubmitJob(Shell("sleep 30", "steady"));
  MLC_REQUIRE_OK(steady);
  CHECK(client->PreemptJob("steady").status().code() == StatusCode::kFailedPrecondition);
  MLC_CHECK_OK(client->CancelJob("steady"));
}

TEST_CASE("conformance: logs filter by tail, grep and time") {
  auto client = JobsClient();
  if (!client) return;
  auto job = client->SubmitJob(Shell("for i in 1 2 3 4 5; do echo line $i; done; echo other"));
  MLC_REQUIRE_OK(job);
  WaitFor(*client, job->id());
  v1::StreamJobLogsRequest tail;
  tail.set_tail(2);
  CHECK(Logs(*client, job->id(), tail) == "line 5\nother\n");
  v1::StreamJobLogsRequest grep;
  grep.set_grep("line [24]");
  CHECK(Logs(*client, job->id(), grep) == "line 2\nline 4\n");
  v1::StreamJobLogsRequest future;
  *future.mutable_since() = TimeUtil::GetCurrentTime() + TimeUtil::SecondsToDuration(3600);
  CHECK(Logs(*client, job->id(), future).empty());
  v1::StreamJobLogsRequest bad;
  bad.set_grep("([");
  bad.set_id(job->id());
  CHECK(client->StreamJobLogs(bad, [](const v1::LogLine&) { return true; }).code() ==
        StatusCode::kInvalidArgument);
  // Following a finished job returns at once with everything.
  v1::StreamJobLogsRequest follow;
  follow.set_follow(true);
  CHECK(Logs(*client, job->id(), follow).find("other") != std::string::npos);
}

TEST_CASE("conformance: rerun repeats the recorded spec and environment") {
  auto client = JobsClient();
  if (!client) return;
  auto spec = Shell("echo $GREETING", "greet");
  (*spec.mutable_env())["GREETING"] = "hi there";
  (*spec.mutable_labels())["team"] = "recsys";
  auto job = client->SubmitJob(spec);
  MLC_REQUIRE_OK(job);
  WaitFor(*client, job->id());
  auto again = client->RerunJob("greet");
  MLC_REQUIRE_OK(again);
  CHECK(again->rerun_of() == job->id());
  CHECK(again->spec().name() != "greet");
  CHECK(again->spec().labels().at("team") == "recsys");
  auto done = WaitFor(*client, again->id());
  CHECK(Logs(*client, done.id()) == "hi there\n");
  CHECK(done.reproducibility().environment().at("PATH") ==
        job->reproducibility().environment().at("PATH"));
}

TEST_CASE("conformance: secrets reach the job but are never stored or shown") {
  auto client = JobsClient();
  if (!client) return;
  testing::ScopedEnv env(testing::EnvMap{{"MLC_TEST_TOKEN", "s3cr3t-value-42"}});
  // The job proves it got the value without the test writing the value into the spec.
  auto spec = Shell("echo ${#HF_TOKEN} ${HF_TOKEN%%-*}", "secretive");
  auto* ref = spec.add_secrets();
  ref->set_name("HF_TOKEN");
  ref->set_source(v1::SECRET_SOURCE_ENV);
  ref->set_key("MLC_TEST_TOKEN");
  auto job = client->SubmitJob(spec);
  MLC_REQUIRE_OK(job);
  auto done = WaitFor(*client, job->id());
  CHECK(done.state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(Logs(*client, done.id()) == "15 s3cr3t\n");
  INFO(ToJson(done));
  CHECK(done.SerializeAsString().find("s3cr3t-value-42") == std::string::npos);
  CHECK(done.reproducibility().secret_names(0) == "HF_TOKEN");

  auto missing = Shell("true");
  auto* absent = missing.add_secrets();
  absent->set_name("NOT_SET_ANYWHERE");
  absent->set_source(v1::SECRET_SOURCE_ENV);
  CHECK(client->SubmitJob(missing).status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("conformance: listing filters by state and label, newest first") {
  auto client = JobsClient();
  if (!client) return;
  auto a = Shell("true", "list-a");
  (*a.mutable_labels())["kind"] = "x";
  auto b = Shell("exit 1", "list-b");
  MLC_REQUIRE_OK(client->SubmitJob(a));
  auto jb = client->SubmitJob(b);
  MLC_REQUIRE_OK(jb);
  WaitFor(*client, "list-a");
  WaitFor(*client, jb->id());
  v1::ListJobsRequest all;
  all.set_project("ml");
  auto listed = client->ListJobs(all);
  MLC_REQUIRE_OK(listed);
  REQUIRE(listed->jobs_size() == 2);
  CHECK(listed->jobs(0).spec().name() == "list-b");
  v1::ListJobsRequest failed = all;
  failed.add_states(v1::JOB_STATE_FAILED);
  CHECK(client->ListJobs(failed)->jobs_size() == 1);
  v1::ListJobsRequest labelled = all;
  (*labelled.mutable_labels())["kind"] = "x";
  auto by_label = client->ListJobs(labelled);
  REQUIRE(by_label->jobs_size() == 1);
  CHECK(by_label->jobs(0).spec().name() == "list-a");
}

TEST_CASE("conformance: concurrent submitters get distinct, complete jobs") {
  auto client = JobsClient();
  if (!client) return;
  auto second = CurrentTarget().SameInstanceClient();
  MLC_REQUIRE_OK(second);
  std::vector<std::string> ids[2];
  auto submit = [&](Client* c, int who) {
    for (int i = 0; i < 6; ++i) {
      auto job = c->SubmitJob(Shell("true"));
      if (job.ok()) ids[who].push_back(job->id());
    }
  };
  std::thread t1(submit, client.get(), 0);
  std::thread t2(submit, second->get(), 1);
  t1.join();
  t2.join();
  CHECK(ids[0].size() == 6);
  CHECK(ids[1].size() == 6);
  std::set<std::string> unique(ids[0].begin(), ids[0].end());
  unique.insert(ids[1].begin(), ids[1].end());
  CHECK(unique.size() == 12);
  for (const auto& id : unique) CHECK(WaitFor(*client, id).state() == v1::JOB_STATE_SUCCEEDED);
}

}  // namespace
}  // namespace mlcore::conformance
