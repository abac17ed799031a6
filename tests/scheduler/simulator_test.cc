// The simulator and trace reading: replays through the same core, counts what the issue asks for,
// is deterministic, and reports bad traces with line numbers.
#include "scheduler/simulator.h"

#include "scheduler/flavors.h"
#include "scheduler/model.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

v1::Resources Capacity(int cpus, int64_t gib, int gpus) {
  v1::Resources r;
  r.set_cpu_millis(cpus * 1000LL);
  r.set_memory_bytes(gib << 30);
  r.set_gpu(gpus);
  return r;
}

constexpr const char* kCsv =
    "id,submit,project,flavor,duration,priority,preemptible,datasets,deadline\n"
    "# a comment\n"
    "a1,0,alpha,cpu-4-16,600,normal,false,d1;d2,7200\n"
    "a2,10,alpha,gpu-1-12-128,1200,high,false,,\n"
    "b1,20,beta,cpu-2-8,300,low,true,d1,\n"
    "b2,25,beta,gpu-8-96-1024,900,normal,true,,\n"
    "b3,30,beta,cpu-16-64,60,normal,false,,\n";

v1::SimulationConfig SmallWorld(int nodes) {
  v1::SimulationConfig config;
  for (auto& n : MakeNodes(nodes, Capacity(96, 1024, 8), "gpu")) *config.add_nodes() = n;
  return config;
}

TEST_CASE("a CSV trace replays to completion with zero quota violations") {
  auto trace = ParseTraceCsv(kCsv);
  REQUIRE(trace.ok());
  REQUIRE(trace->size() == 5);
  CHECK((*trace)[0].dataset_digests_size() == 2);
  CHECK((*trace)[2].preemptible());
  std::vector<v1::UtilizationSample> timeline;
  SimulateOptions options;
  options.timeline = &timeline;
  auto summary = Simulate(SmallWorld(1), *trace, options);
  REQUIRE(summary.ok());
  CHECK(summary->jobs_submitted() == 5);
  CHECK(summary->jobs_completed() == 5);
  CHECK(summary->jobs_never_started() == 0);
  CHECK(summary->quota_violations() == 0);
  CHECK(summary->deadline_misses() == 0);
  CHECK(summary->mean_gpu_utilization() > 0);
  CHECK(summary->mean_gpu_utilization() <= 1.0);
  CHECK(summary->wait_stats_size() == 2);
  CHECK(summary->wait_stats(0).project() == "alpha");
  CHECK(summary->nodes() == 1);
  CHECK_FALSE(timeline.empty());
  // The 8-GPU job waits for the 1-GPU job to finish on the single server.
  CHECK(summary->wait_stats(1).max_wait().seconds() > 0);
}

TEST_CASE("the core sees trace deadlines: a job at risk goes ahead in its priority") {
  // One server, both jobs arrive at once; "long" comes first by project order, "short" must start
  // within 30 minutes to meet its deadline.
  auto trace = ParseTraceCsv(
      "id,submit,project,flavor,duration,priority,deadline\n"
      "long,0,alpha,gpu-8-96-1024,3600,normal,0\n"
      "short,0,beta,gpu-8-96-1024,600,normal,2400\n");
  REQUIRE(trace.ok());
  auto summary = Simulate(SmallWorld(1), *trace);
  REQUIRE(summary.ok());
  CHECK(summary->deadline_misses() == 0);
  // Without the deadline ordering (horizon 0) "long" goes first and "short" misses.
  SimulateOptions plain;
  plain.adjust_tunables = [](sched::Tunables& t) { t.deadline_horizon_ms = 0; };
  auto missed = Simulate(SmallWorld(1), *trace, plain);
  REQUIRE(missed.ok());
  CHECK(missed->deadline_misses() == 1);
}

TEST_CASE("JSONL traces use the same fields; errors carry line numbers") {
  auto trace = ParseTraceJsonl(
      "{\"id\":\"x\",\"submit\":\"1m\",\"project\":\"p\",\"cpu\":\"500m\",\"memory\":\"1Gi\","
      "\"duration\":30,\"datasets\":[\"d\"],\"preemptible\":true,\"replicas\":2}\n\n");
  REQUIRE(trace.ok());
  REQUIRE(trace->size() == 1);
  CHECK((*trace)[0].submit_offset().seconds() == 60);
  CHECK((*trace)[0].resources().cpu_millis() == 500);
  CHECK((*trace)[0].replicas() == 2);

  auto bad = ParseTraceJsonl(
      "{\"project\":\"p\",\"duration\":1}\n{\"project\":\"p\",\"duration\":\"soon\"}\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().rfind("line 2: invalid duration \"soon\"", 0) == 0);
  auto not_json = ParseTraceJsonl("{oops\n");
  CHECK(not_json.status().message().rfind("line 1: not a JSON object", 0) == 0);
  auto bad_csv = ParseTraceCsv("project,duration\np,10\np,10,extra\n");
  CHECK(bad_csv.status().message().rfind("line 3: 3 cells but the header has 2", 0) == 0);
  auto unknown = ParseTraceCsv("project,duration,colour\np,10,red\n");
  CHECK(unknown.status().message().find("unknown field \"colour\"") != std::string::npos);
}

TEST_CASE("unknown flavors and projects name the trace record") {
  auto trace = ParseTraceCsv("id,project,flavor,duration\nj1,p,gpu-huge,10\n");
  REQUIRE(trace.ok());
  auto r = Simulate(SmallWorld(1), *trace);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("trace record 1 (j1): unknown flavor \"gpu-huge\"") !=
        std::string::npos);
  CHECK(r.status().message().find("known flavors: cpu-16-64") != std::string::npos);

  auto config = SmallWorld(1);
  config.add_projects()->set_name("other");
  auto ok_trace = ParseTraceCsv("id,project,flavor,duration\nj1,p,cpu-2-8,10\n");
  auto missing = Simulate(config, *ok_trace);
  CHECK(missing.status().message().find("unknown project \"p\"") != std::string::npos);
  CHECK(Simulate(v1::SimulationConfig(), *ok_trace).status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("guaranteed projects preempt borrowers in the simulation, without violations") {
  // Borrowers fill the server with long preemptible jobs; the owner arrives later.
  std::string csv = "id,submit,project,flavor,duration,preemptible\n";
  for (int i = 0; i < 8; ++i) {
    csv += "b" + std::to_string(i) + ",0,borrower,gpu-1-12-128,36000,true\n";
  }
  csv += "o1,600,owner,gpu-4-48-512,600,false\n";
  auto trace = ParseTraceCsv(csv);
  REQUIRE(trace.ok());
  auto config = SmallWorld(1);
  auto* owner = config.add_projects();
  owner->set_name("owner");
  *owner->mutable_guaranteed() = Capacity(48, 512, 4);
  config.add_projects()->set_name("borrower");
  auto summary = Simulate(config, *trace);
  REQUIRE(summary.ok());
  CHECK(summary->preemptions() == 4);
  CHECK(summary->quota_violations() == 0);
  CHECK(summary->jobs_completed() == 9);
  for (const auto& w : summary->wait_stats()) {
    if (w.project() == "owner") CHECK(w.max_wait().seconds() <= 10);  // one pass interval
  }
}

TEST_CASE("limits hold in the simulation and the same input gives the same summary") {
  std::string csv = "id,submit,project,flavor,duration\n";
  for (int i = 0; i < 60; ++i) {
    csv += "j" + std::to_string(i) + "," + std::to_string(i * 7) + "," +
           (i % 3 ? "capped" : "free") + "," + (i % 4 ? "cpu-8-32" : "gpu-2-24-256") + "," +
           std::to_string(300 + (i * 37) % 900) + "\n";
  }
  auto trace = ParseTraceCsv(csv);
  REQUIRE(trace.ok());
  auto config = SmallWorld(2);
  auto* capped = config.add_projects();
  capped->set_name("capped");
  capped->mutable_limit()->set_cpu_millis(16000);
  config.add_projects()->set_name("free");
  v1::SimulateRequest request;
  *request.mutable_config() = config;
  for (const auto& r : *trace) *request.add_trace() = r;
  request.set_include_timeline(true);
  auto a = RunSimulation(request);
  auto b = RunSimulation(request);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->summary().quota_violations() == 0);
  // capped's 2-GPU jobs ask for 24 CPUs, above its 16-CPU limit: they can never start.
  CHECK(a->summary().jobs_completed() == 50);
  CHECK(a->summary().jobs_never_started() == 10);
  a->mutable_summary()->clear_wall_time();
  b->mutable_summary()->clear_wall_time();
  CHECK(a->SerializeAsString() == b->SerializeAsString());
  CHECK(a->timeline_size() > 0);
  for (const auto& s : a->timeline()) CHECK(s.cpu() <= 1.0);

  request.mutable_horizon()->set_seconds(60);
  auto cut = RunSimulation(request);
  REQUIRE(cut.ok());
  CHECK(cut->summary().jobs_completed() < 50);
}

TEST_CASE("LoadTrace picks the format by extension and prefixes errors with the path") {
  testing::TempDir dir;
  testing::WriteFile(dir / "t.csv", kCsv);
  testing::WriteFile(dir / "bad.jsonl", "{\"project\":\"p\"}\n");
  CHECK(LoadTrace(dir / "t.csv")->size() == 5);
  auto bad = LoadTrace(dir / "bad.jsonl");
  CHECK(bad.status().message() ==
        dir / "bad.jsonl" + ": line 1: missing or zero duration (seconds, e.g. 3600 or 1h)");
  CHECK(LoadTrace(dir / "none.csv").status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace mlcore
