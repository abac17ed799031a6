#include "conformance/conformance.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "unit/test_support.h"

namespace mlcore::conformance {

std::unique_ptr<Client> ClientWith(v1::Capability capability, const std::string& project) {
  auto client = CurrentTarget().NewClient();
  INFO(client.status().ToString());
  REQUIRE(client.ok());
  if (!(*client)->Supports(capability)) {
    MESSAGE("skipped on " << CurrentTarget().name() << ": backend lacks "
                          << v1::Capability_Name(capability));
    return nullptr;
  }
  if (!project.empty()) {
    v1::Project p;
    p.set_name(project);
    MLC_CHECK_OK((*client)->CreateProject(p));
  }
  return std::move(client).value();
}

namespace {

v1::Project NewProject(const std::string& name, const std::string& parent = "") {
  v1::Project p;
  p.set_name(name);
  p.set_parent(parent);
  return p;
}

TEST_CASE("conformance: backend info names the backend and its capabilities") {
  auto client = CurrentTarget().NewClient();
  MLC_REQUIRE_OK(client);
  auto info = (*client)->GetBackendInfo();
  MLC_REQUIRE_OK(info);
  CHECK_FALSE(info->scheme().empty());
  CHECK_FALSE(info->version().empty());
  CHECK(info->capabilities_size() > 0);
}

TEST_CASE("conformance: projects are created, described, listed and deleted") {
  auto client = ClientWith(v1::CAPABILITY_PROJECTS);
  if (!client) return;
  v1::Project p = NewProject("ml-research");
  p.set_description("ranking models");
  (*p.mutable_labels())["team"] = "recsys";
  p.mutable_guaranteed()->set_cpu_millis(8000);
  p.mutable_limit()->set_gpu(4);
  auto created = client->CreateProject(p);
  MLC_REQUIRE_OK(created);
  CHECK(created->name() == "ml-research");
  CHECK(created->create_time().seconds() > 0);
  CHECK_FALSE(created->created_by().empty());

  auto got = client->GetProject("ml-research");
  MLC_REQUIRE_OK(got);
  CHECK(got->description() == "ranking models");
  CHECK(got->labels().at("team") == "recsys");
  CHECK(got->guaranteed().cpu_millis() == 8000);
  CHECK(got->limit().gpu() == 4);
  CHECK(got->create_time().seconds() == created->create_time().seconds());

  auto listed = client->ListProjects();
  MLC_REQUIRE_OK(listed);
  REQUIRE(listed->projects_size() == 1);
  CHECK(listed->projects(0).name() == "ml-research");
  CHECK(listed->next_page_token().empty());

  MLC_REQUIRE_OK(client->DeleteProject("ml-research"));
  CHECK(client->GetProject("ml-research").status().code() == StatusCode::kNotFound);
  CHECK(client->DeleteProject("ml-research").code() == StatusCode::kNotFound);
  CHECK(client->ListProjects()->projects_size() == 0);
}

TEST_CASE("conformance: project errors are precise") {
  auto client = ClientWith(v1::CAPABILITY_PROJECTS);
  if (!client) return;
  MLC_REQUIRE_OK(client->CreateProject(NewProject("a")));
  auto dup = client->CreateProject(NewProject("a"));
  CHECK(dup.status().code() == StatusCode::kAlreadyExists);
  CHECK(dup.status().message().find("\"a\" already exists") != std::string::npos);

  CHECK(client->CreateProject(NewProject("Bad_Name")).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(client->GetProject("Bad_Name").status().code() == StatusCode::kInvalidArgument);
  auto missing = client->GetProject("absent");
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message().find("\"absent\"") != std::string::npos);

  auto orphan = client->CreateProject(NewProject("child", "no-such-parent"));
  CHECK(orphan.status().code() == StatusCode::kNotFound);
  CHECK(orphan.status().message().find("parent project \"no-such-parent\"") != std::string::npos);

  v1::ListProjectsRequest bad_page;
  bad_page.set_page_size(-5);
  CHECK(client->ListProjects(bad_page).status().code() == StatusCode::kInvalidArgument);
  v1::ListProjectsRequest bad_token;
  bad_token.set_page_token("garbage!");
  CHECK(client->ListProjects(bad_token).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("conformance: sub-projects nest and protect their parent") {
  auto client = ClientWith(v1::CAPABILITY_PROJECTS);
  if (!client) return;
  MLC_REQUIRE_OK(client->CreateProject(NewProject("org")));
  MLC_REQUIRE_OK(client->CreateProject(NewProject("team-a", "org")));
  MLC_REQUIRE_OK(client->CreateProject(NewProject("team-b", "org")));
  MLC_REQUIRE_OK(client->CreateProject(NewProject("other")));

  auto children = client->ListAllProjects("org");
  MLC_REQUIRE_OK(children);
  REQUIRE(children->size() == 2);
  CHECK((*children)[0].name() == "team-a");
  CHECK((*children)[1].name() == "team-b");

  auto blocked = client->DeleteProject("org");
  CHECK(blocked.code() == StatusCode::kFailedPrecondition);
  CHECK(blocked.message().find("sub-projects") != std::string::npos);
  MLC_REQUIRE_OK(client->DeleteProject("team-a"));
  MLC_REQUIRE_OK(client->DeleteProject("team-b"));
  MLC_REQUIRE_OK(client->DeleteProject("org"));
}

TEST_CASE("conformance: listing pages through every project exactly once, in order") {
  auto client = ClientWith(v1::CAPABILITY_PROJECTS);
  if (!client) return;
  constexpr int kProjects = 23;
  for (int i = 0; i < kProjects; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "p%02d", i);
    MLC_REQUIRE_OK(client->CreateProject(NewProject(name)));
  }
  v1::ListProjectsRequest request;
  request.set_page_size(5);
  std::vector<std::string> seen;
  int pages = 0;
  do {
    auto page = client->ListProjects(request);
    MLC_REQUIRE_OK(page);
    CHECK(page->projects_size() <= 5);
    for (const auto& p : page->projects()) seen.push_back(p.name());
    request.set_page_token(page->next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 100);
  CHECK(pages == 5);
  REQUIRE(seen.size() == kProjects);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == seen.size());
  CHECK(client->ListAllProjects()->size() == kProjects);
}

TEST_CASE("conformance: concurrent clients of one instance see each other's writes") {
  auto first = ClientWith(v1::CAPABILITY_PROJECTS);
  if (!first) return;
  auto second = CurrentTarget().SameInstanceClient();
  MLC_REQUIRE_OK(second);
  constexpr int kEach = 20;
  std::vector<Status> errors;
  std::mutex mu;
  auto worker = [&](Client* client, const std::string& prefix) {
    for (int i = 0; i < kEach; ++i) {
      auto created = client->CreateProject(NewProject(prefix + std::to_string(i)));
      if (!created.ok()) {
        std::lock_guard lock(mu);
        errors.push_back(created.status());
      }
    }
  };
  std::thread a(worker, first.get(), "a");
  std::thread b(worker, second->get(), "b");
  std::thread c(worker, first.get(), "c");
  a.join();
  b.join();
  c.join();
  for (const auto& e : errors) FAIL_CHECK(e.ToString());
  CHECK((*second)->ListAllProjects()->size() == 3 * kEach);
  CHECK(first->GetProject("b7").ok());
}

TEST_CASE("conformance: pipelines are linted against the backend's own flavor catalog") {
  auto client = CurrentTarget().NewClient();
  INFO(client.status().ToString());
  REQUIRE(client.ok());
  v1::LintPipelineRequest request;
  request.set_file("p.yaml");
  request.set_text(
      "name: p\n"
      "steps:\n"
      "  - {name: a, job: {command: [\"true\"]}, outputs: [{name: x, type: parameter}]}\n"
      "  - {name: b, job: {command: [\"true\"], flavor: no-such-flavor},\n"
      "     inputs: [{name: x, type: parameter}]}\n"
      "edges: [{source_step: a, source_name: x, target_step: b, target_name: x}]\n");
  auto flavors = (*client)->ListFlavors();
  MLC_REQUIRE_OK(flavors);
  std::vector<std::string> known;
  if (flavors->catalogs_size() > 0) {
    for (const auto& f : flavors->catalogs(0).flavors()) known.push_back(f.name());
  }
  auto linted = (*client)->LintPipeline(request);
  MLC_REQUIRE_OK(linted);
  if (known.empty()) {
    MESSAGE(CurrentTarget().name() << " has no flavor catalog: flavors are not checked");
    CHECK(linted->problems_size() == 0);
  } else {
    REQUIRE(linted->problems_size() == 1);
    const v1::LintProblem& p = linted->problems(0);
    CHECK(p.code() == "unknown_flavor");
    CHECK(p.line() == 4);
    CHECK(p.message() == "step \"b\": unknown flavor \"no-such-flavor\"");
    for (const auto& name : known) {
      CHECK_MESSAGE(p.suggestion().find(name) != std::string::npos, name);
    }
    CHECK_FALSE(linted->has_resolved_spec());
  }

  request.set_text(request.text().substr(0, request.text().find(", flavor")) +
                   "},\n     inputs: [{name: x, type: parameter}]}\n"
                   "edges: [{source_step: a, source_name: x, target_step: b, target_name: x}]\n");
  auto clean = (*client)->LintPipeline(request);
  MLC_REQUIRE_OK(clean);
  CHECK(clean->problems_size() == 0);
  CHECK(clean->resolved_spec().steps_size() == 2);
}

TEST_CASE("conformance: a metric watch follows a run's new points until the run ends") {
  auto client = ClientWith(v1::CAPABILITY_TRACKING, "watchers");
  if (!client) return;
  v1::CreateRunRequest create;
  create.mutable_run()->set_project("watchers");
  create.mutable_run()->set_name("live");
  auto run = client->CreateRun(create);
  MLC_REQUIRE_OK(run);
  const auto log = [&](const std::string& key, int64_t step, double value) {
    v1::MetricBatch batch;
    batch.set_run_id(run->id());
    batch.set_batch_id(key + std::to_string(step));
    v1::MetricSeries* s = batch.add_metrics();
    s->set_key(key);
    s->add_steps(step);
    s->add_values(value);
    MLC_CHECK_OK(client->LogBatch(batch));
  };
  log("loss", 0, 1.0);  // before the watch: replayed only with after_step

  // A second client logs while the first one watches, then ends the run.
  auto writer = CurrentTarget().SameInstanceClient();
  MLC_REQUIRE_OK(writer);
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int64_t step = 1; step <= 3; ++step) {
      v1::MetricBatch batch;
      batch.set_run_id(run->id());
      batch.set_batch_id("w" + std::to_string(step));
      for (const char* key : {"loss", "acc"}) {
        v1::MetricSeries* s = batch.add_metrics();
        s->set_key(key);
        s->add_steps(step);
        s->add_values(static_cast<double>(step) / 10);
      }
      MLC_CHECK_OK((*writer)->LogBatch(batch));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    v1::UpdateRunRequest end;
    end.set_id(run->id());
    end.set_status(v1::RUN_STATUS_FINISHED);
    MLC_CHECK_OK((*writer)->UpdateRun(end));
  });
  std::map<std::string, std::vector<int64_t>> seen;
  v1::RunStatus final_status = v1::RUN_STATUS_UNSPECIFIED;
  v1::WatchMetricsRequest watch;
  watch.set_run_id(run->id());
  Status watched = client->WatchMetrics(watch, [&](const v1::WatchMetricsResponse& r) {
    if (r.run_status() != v1::RUN_STATUS_UNSPECIFIED) final_status = r.run_status();
    for (int64_t step : r.series().steps()) seen[r.series().key()].push_back(step);
    return true;
  });
  producer.join();
  MLC_CHECK_OK(watched);
  CHECK(final_status == v1::RUN_STATUS_FINISHED);
  CHECK(seen["loss"] == std::vector<int64_t>{1, 2, 3});  // not step 0: logged before the call
  CHECK(seen["acc"] == std::vector<int64_t>{1, 2, 3});   // a key first logged during the watch

  // after_step replays; keys narrow; an ended run's watch returns at once.
  seen.clear();
  watch.set_after_step(-1);
  watch.add_keys("loss");
  MLC_CHECK_OK(client->WatchMetrics(watch, [&](const v1::WatchMetricsResponse& r) {
    for (int64_t step : r.series().steps()) seen[r.series().key()].push_back(step);
    return true;
  }));
  CHECK(seen.size() == 1);
  CHECK(seen["loss"] == std::vector<int64_t>{0, 1, 2, 3});

  v1::WatchMetricsRequest missing;
  missing.set_run_id("r-does-not-exist");
  CHECK(
      client->WatchMetrics(missing, [](const v1::WatchMetricsResponse&) { return true; }).code() ==
      StatusCode::kNotFound);
  CHECK(client->WatchMetrics(v1::WatchMetricsRequest(), [](const auto&) { return true; }).code() ==
        StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mlcore::conformance
