// The pipeline executor's guarantees that need its internals or faults: a driver killed mid-run
// is restarted by the next reader and no step runs twice; input values are checked before a run
// is recorded; cancel requests survive the driver's writes. (The surfaces are tested black-box in
// tests/cli/test_pipeline_run.py and tests/python/test_pipeline_runs.py.)
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include "mlcore/client.h"
#include "pipelines/pipeline_engine.h"
#include "pipelines/pipeline_store.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using namespace std::chrono_literals;
using testing::EnvMap;
using testing::IsolatedEnv;
using testing::ScopedEnv;
using testing::TempDir;

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

  v1::PipelineRun Run(const std::string& yaml, std::map<std::string, std::string> inputs = {}) {
    v1::RunPipelineRequest request;
    request.mutable_input_values()->insert(inputs.begin(), inputs.end());
    auto run = client->RunPipeline(request, "project: ml\n" + yaml, "test.yaml");
    INFO(run.status().ToString());
    REQUIRE(run.ok());
    return *run;
  }
};

// Each step appends its name to a file, so a step run twice shows.
std::string ChainYaml(const std::string& dir) {
  return "name: chain\nsteps:\n"
         "  - name: one\n    job: {command: [sh, -c, 'echo one >> " +
         dir +
         "/ran; sleep 1']}\n"
         "  - name: two\n    depends_on: [one]\n    job: {command: [sh, -c, 'echo two >> " +
         dir +
         "/ran; sleep 1']}\n"
         "  - name: three\n    depends_on: [two]\n    job: {command: [sh, -c, 'echo three >> " +
         dir + "/ran']}\n";
}

TEST_CASE("a driver killed mid-run is restarted by the next reader and no step runs twice") {
  Fixture f;
  auto run = f.Run(ChainYaml(f.dir.path()));
  auto store = pipelines::PipelineStore::Open(f.state);
  REQUIRE(store.ok());
  // Kill the driver twice while steps are running.
  for (int kill = 0; kill < 2; ++kill) {
    auto start = std::chrono::steady_clock::now();
    while (true) {
      auto stored = (*store)->Get(run.id());
      REQUIRE(stored.ok());
      bool running = false;
      for (const auto& sr : stored->run.steps()) running |= sr.state() == v1::STEP_STATE_RUNNING;
      if (running && stored->driver.pid != 0 && stored->driver.start_ticks != 0) {
        REQUIRE(::kill(stored->driver.pid, SIGKILL) == 0);
        break;
      }
      REQUIRE(std::chrono::steady_clock::now() - start < 60s);
      std::this_thread::sleep_for(10ms);
    }
    std::this_thread::sleep_for(100ms);
  }
  auto done = f.client->WaitPipelineRun(run.id(), 120s);  // its reads restart the driver
  INFO(done.status().ToString());
  REQUIRE(done.ok());
  CHECK(done->state() == v1::PIPELINE_RUN_STATE_SUCCEEDED);
  std::ifstream in(f.dir / "ran");
  std::string ran((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(ran == "one\ntwo\nthree\n");
}

TEST_CASE("input values are checked before a run is recorded") {
  Fixture f;
  const std::string yaml =
      "name: typed\ninputs: [{name: n, type: parameter, parameter_type: int}]\n"
      "steps:\n  - name: a\n    job: {command: ['true']}\n"
      "    inputs: [{name: n, type: parameter, parameter_type: int}]\n"
      "edges: [{source_name: n, target_step: a, target_name: n}]\n";
  v1::RunPipelineRequest request;
  auto missing = f.client->RunPipeline(request, "project: ml\n" + yaml, "t.yaml");
  REQUIRE(missing.status().code() == StatusCode::kInvalidArgument);
  CHECK(missing.status().message().find("needs input \"n\"") != std::string::npos);
  (*request.mutable_input_values())["n"] = "1.5";
  auto wrong = f.client->RunPipeline(request, "project: ml\n" + yaml, "t.yaml");
  REQUIRE(wrong.status().code() == StatusCode::kInvalidArgument);
  CHECK(wrong.status().message().find("input n is not a valid INT") != std::string::npos);
  v1::ListPipelineRunsRequest list;
  list.set_project("ml");
  auto runs = f.client->ListPipelineRuns(list);
  REQUIRE(runs.ok());
  CHECK(runs->runs_size() == 0);
  (*request.mutable_input_values())["n"] = "2";
  request.set_request_id("same-request");
  auto first = f.client->RunPipeline(request, "project: ml\n" + yaml, "t.yaml");
  auto second = f.client->RunPipeline(request, "project: ml\n" + yaml, "t.yaml");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->id() == second->id());  // a retried request is one run
  CHECK(f.client->WaitPipelineRun(first->id(), 60s)->state() == v1::PIPELINE_RUN_STATE_SUCCEEDED);
}

TEST_CASE("a cancel request survives the driver's writes and ended runs refuse it") {
  Fixture f;
  auto store = pipelines::PipelineStore::Open(f.dir.path());  // a store of its own
  REQUIRE(store.ok());
  v1::PipelineRun run;
  run.set_id("ptest");
  run.set_project("ml");
  run.set_state(v1::PIPELINE_RUN_STATE_RUNNING);
  REQUIRE((*store)->Insert(run, "").ok());
  REQUIRE(*(*store)->RequestCancel("ptest", "stop"));
  run.add_steps()->set_step("a");
  REQUIRE((*store)->Save(run).ok());  // the driver's write, not knowing of the request
  auto stored = (*store)->Get("ptest");
  REQUIRE(stored.ok());
  REQUIRE(stored->cancel_reason.has_value());
  CHECK(*stored->cancel_reason == "stop");
  run.set_state(v1::PIPELINE_RUN_STATE_CANCELLED);
  REQUIRE((*store)->Save(run, /*clear_cancel=*/true).ok());
  CHECK_FALSE(*(*store)->RequestCancel("ptest", "again"));
  CHECK((*store)->Get("nope").status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace mlcore
