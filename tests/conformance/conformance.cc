#include "conformance/conformance.h"

#include <algorithm>
#include <cstdio>
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

}  // namespace
}  // namespace mlcore::conformance
