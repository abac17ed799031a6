// Registered models through Client on the local backend: create/get with the name rules, list with
// filters, orders and pages, update/rename/delete (+force), optimistic concurrency, the events of
// each change, project deletion, and reachability by name through Invoke.
#include <set>

#include <doctest/doctest.h>

#include "mlcore/invoke.h"
#include "registry/registry_fixture.h"

namespace mlcore {
namespace {

using testing::RegistryFixture;

std::vector<std::string> Names(const v1::ListRegisteredModelsResponse& r) {
  std::vector<std::string> out;
  for (const auto& m : r.models()) out.push_back(m.name());
  return out;
}

Result<v1::ListRegisteredModelsResponse> List(RegistryFixture& f, const std::string& filter,
                                              std::vector<std::string> order = {},
                                              int page_size = 0, const std::string& token = {}) {
  v1::ListRegisteredModelsRequest r;
  r.set_project("ml");
  r.set_filter(filter);
  for (auto& o : order) r.add_order_by(o);
  r.set_page_size(page_size);
  r.set_page_token(token);
  return f.client->ListRegisteredModels(r);
}

TEST_CASE("models are created once per project, with the name rules enforced") {
  RegistryFixture f;
  v1::RegisteredModel m;
  m.set_project("ml");
  m.set_name("resnet50");
  m.set_description("image classifier");
  (*m.mutable_tags())["task"] = "vision";
  m.set_latest_version(99);  // output only: ignored
  auto created = f.client->CreateRegisteredModel(m);
  MLC_REQUIRE_OK(created);
  CHECK(created->project() == "ml");
  CHECK(created->resource_version() == 1);
  CHECK(created->latest_version() == 0);
  CHECK(created->tags().at("task") == "vision");
  CHECK_FALSE(created->created_by().empty());
  CHECK(created->create_time().seconds() > 0);

  auto dup = f.CreateModel("resnet50");
  CHECK(dup.status().code() == StatusCode::kAlreadyExists);
  CHECK(dup.status().message().find("already exists in project ml") != std::string::npos);
  MLC_CHECK_OK(f.CreateModel("resnet50", "other"));  // names are per project
  MLC_CHECK_OK(f.CreateModel("ResNet50"));           // and case-sensitive

  auto bad = f.CreateModel("50resnet");
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("starting with a letter") != std::string::npos);
  CHECK(f.CreateModel("x", "absent").status().code() == StatusCode::kNotFound);
  v1::RegisteredModel bad_tag;
  bad_tag.set_project("ml");
  bad_tag.set_name("tagged");
  (*bad_tag.mutable_tags())["a=b"] = "x";
  CHECK(f.client->CreateRegisteredModel(bad_tag).status().code() == StatusCode::kInvalidArgument);

  auto got = f.GetModel("resnet50");
  MLC_REQUIRE_OK(got);
  CHECK(got->description() == "image classifier");
  CHECK(f.GetModel("nope").status().code() == StatusCode::kNotFound);
  auto no_project = f.GetModel("resnet50", "absent");
  CHECK(no_project.status().code() == StatusCode::kNotFound);
  CHECK(no_project.status().message().find("project \"absent\"") != std::string::npos);
  CHECK(f.GetModel("bad/name").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("listing filters by name, tags, alias and times, in any order, page by page") {
  RegistryFixture f;
  for (const char* name : {"ranker", "ranker.v2", "resnet", "churn", "bert"}) {
    MLC_REQUIRE_OK(f.CreateModel(name));
  }
  auto tag = [&](const std::string& name, const std::string& k, const std::string& v) {
    v1::UpdateRegisteredModelRequest u;
    u.set_project("ml");
    u.set_name(name);
    (*u.mutable_set_tags())[k] = v;
    MLC_REQUIRE_OK(f.client->UpdateRegisteredModel(u));
  };
  tag("ranker", "task", "ranking");
  tag("ranker.v2", "task", "ranking");
  tag("resnet", "task", "vision");
  tag("ranker", "acc", "0.91");
  tag("ranker.v2", "acc", "0.9");
  tag("churn", "acc", "10");
  MLC_REQUIRE_OK(f.FromRun("churn"));
  MLC_REQUIRE_OK(f.SetAlias("churn", "champion", 1));

  auto all = List(f, "");
  MLC_REQUIRE_OK(all);
  CHECK(Names(*all) == std::vector<std::string>{"bert", "churn", "ranker", "ranker.v2", "resnet"});
  REQUIRE(all->models(1).aliases_size() == 1);
  CHECK(all->models(1).aliases(0).alias() == "champion");
  CHECK(all->models(1).latest_version() == 1);

  auto ranking = List(f, "name like 'rank%' and tags.task = \"ranking\"");
  MLC_REQUIRE_OK(ranking);
  CHECK(Names(*ranking) == std::vector<std::string>{"ranker", "ranker.v2"});
  CHECK(Names(*List(f, "name like 'RANK%'")).empty());  // LIKE is case-sensitive
  CHECK(Names(*List(f, "tags.acc > 0.9")) == std::vector<std::string>{"churn", "ranker"});
  CHECK(Names(*List(f, "tags.acc = 0.90")) == std::vector<std::string>{"ranker.v2"});
  CHECK(Names(*List(f, "tags.task != 'vision'")) ==
        std::vector<std::string>{"ranker", "ranker.v2"});  // untagged models never match
  CHECK(Names(*List(f, "tags.task in ('vision', 'ranking') and name < 'rb'")) ==
        std::vector<std::string>{"ranker", "ranker.v2"});
  CHECK(Names(*List(f, "alias = 'champion'")) == std::vector<std::string>{"churn"});
  CHECK(Names(*List(f, "alias like 'champ%'")) == std::vector<std::string>{"churn"});
  CHECK(List(f, "alias != 'champion'")->models_size() == 4);
  CHECK(Names(*List(f, "name in ('bert', 'resnet', 'nope')")) ==
        std::vector<std::string>{"bert", "resnet"});
  CHECK(List(f, "create_time > '2000-01-01' and update_time < '2999-01-01'")->models_size() == 5);
  CHECK(List(f, "create_time < '2000-01-01'")->models_size() == 0);

  // churn changed last (its version and alias), then ranker.v2's and ranker's tags.
  auto recent = List(f, "", {"update_time desc"});
  MLC_REQUIRE_OK(recent);
  CHECK(recent->models(0).name() == "churn");
  CHECK(Names(*List(f, "", {"name desc"})) ==
        std::vector<std::string>{"resnet", "ranker.v2", "ranker", "churn", "bert"});

  for (std::vector<std::string> order :
       {std::vector<std::string>{}, {"update_time desc"}, {"create_time desc", "name"}}) {
    std::vector<std::string> paged;
    std::string token;
    int pages = 0;
    do {
      auto page = List(f, "", order, 2, token);
      MLC_REQUIRE_OK(page);
      for (const auto& m : page->models()) paged.push_back(m.name());
      token = page->next_page_token();
      ++pages;
    } while (!token.empty());
    CHECK(pages == 3);
    CHECK(paged == Names(*List(f, "", order)));
  }

  auto first = List(f, "", {}, 2);
  MLC_REQUIRE_OK(first);
  auto other_query = List(f, "name like 'r%'", {}, 2, first->next_page_token());
  CHECK(other_query.status().code() == StatusCode::kInvalidArgument);
  CHECK(List(f, "", {}, 2, "garbage").status().code() == StatusCode::kInvalidArgument);
  CHECK(List(f, "", {}, 5000).status().code() == StatusCode::kInvalidArgument);
  auto bad = List(f, "name is 'x'");
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("column 6") != std::string::npos);
  v1::ListRegisteredModelsRequest absent;
  absent.set_project("absent");
  CHECK(f.client->ListRegisteredModels(absent).status().code() == StatusCode::kNotFound);
}

TEST_CASE("updates and renames bump resource_version; stale expected_version is ABORTED") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("ranker"));
  v1::UpdateRegisteredModelRequest u;
  u.set_project("ml");
  u.set_name("ranker");
  u.set_description("learning to rank");
  (*u.mutable_set_tags())["task"] = "ranking";
  (*u.mutable_set_tags())["team"] = "search";
  u.set_expected_version(1);
  auto updated = f.client->UpdateRegisteredModel(u);
  MLC_REQUIRE_OK(updated);
  CHECK(updated->resource_version() == 2);
  CHECK(updated->description() == "learning to rank");
  CHECK(updated->tags().size() == 2);

  auto stale = f.client->UpdateRegisteredModel(u);  // still expects 1
  CHECK(stale.status().code() == StatusCode::kAborted);
  CHECK(stale.status().message().find("resource_version 2") != std::string::npos);

  v1::UpdateRegisteredModelRequest remove;
  remove.set_project("ml");
  remove.set_name("ranker");
  remove.add_remove_tags("team");
  remove.add_remove_tags("never-set");
  auto removed = f.client->UpdateRegisteredModel(remove);
  MLC_REQUIRE_OK(removed);
  CHECK(removed->tags().size() == 1);
  CHECK(removed->description() == "learning to rank");  // unset description = unchanged
  CHECK(removed->resource_version() == 3);
  auto same = f.client->UpdateRegisteredModel(remove);  // nothing left to change
  MLC_REQUIRE_OK(same);
  CHECK(same->resource_version() == 3);

  MLC_REQUIRE_OK(f.CreateModel("taken"));
  v1::RenameRegisteredModelRequest rename;
  rename.set_project("ml");
  rename.set_name("ranker");
  rename.set_new_name("taken");
  CHECK(f.client->RenameRegisteredModel(rename).status().code() == StatusCode::kAlreadyExists);
  rename.set_new_name("9bad");
  CHECK(f.client->RenameRegisteredModel(rename).status().code() == StatusCode::kInvalidArgument);
  rename.set_new_name("ranker.v2");
  rename.set_expected_version(2);
  CHECK(f.client->RenameRegisteredModel(rename).status().code() == StatusCode::kAborted);
  rename.set_expected_version(3);
  auto renamed = f.client->RenameRegisteredModel(rename);
  MLC_REQUIRE_OK(renamed);
  CHECK(renamed->name() == "ranker.v2");
  CHECK(renamed->resource_version() == 4);
  CHECK(renamed->tags().at("task") == "ranking");
  CHECK(f.GetModel("ranker").status().code() == StatusCode::kNotFound);

  auto events = f.Events();
  std::vector<v1::RegistryEventType> types;
  for (const auto& e : events) types.push_back(e.type());
  CHECK(types == std::vector<v1::RegistryEventType>{
                     v1::REGISTRY_EVENT_TYPE_MODEL_CREATED, v1::REGISTRY_EVENT_TYPE_MODEL_UPDATED,
                     v1::REGISTRY_EVENT_TYPE_MODEL_UPDATED, v1::REGISTRY_EVENT_TYPE_MODEL_CREATED,
                     v1::REGISTRY_EVENT_TYPE_MODEL_RENAMED});
  const auto& renamed_event = events.back();
  CHECK(renamed_event.model() == "ranker.v2");
  CHECK(renamed_event.previous_name() == "ranker");
  CHECK(renamed_event.resource_version() == 4);
  CHECK(renamed_event.project() == "ml");
  CHECK_FALSE(renamed_event.actor().empty());
  for (size_t i = 1; i < events.size(); ++i) CHECK(events[i].sequence() > events[i - 1].sequence());
}

TEST_CASE("deleting a model with aliases needs force; deleting a project with models is refused") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("churn"));
  MLC_REQUIRE_OK(f.FromRun("churn"));
  MLC_REQUIRE_OK(f.FromRun("churn"));
  MLC_REQUIRE_OK(f.SetAlias("churn", "champion", 2));
  MLC_REQUIRE_OK(f.SetAlias("churn", "production", 1));

  CHECK(f.client->DeleteProject("ml").code() == StatusCode::kFailedPrecondition);
  Status refused = f.client->DeleteProject("ml");
  CHECK(refused.message().find("1 registered models") != std::string::npos);

  v1::DeleteRegisteredModelRequest del;
  del.set_project("ml");
  del.set_name("churn");
  Status with_aliases = f.client->DeleteRegisteredModel(del);
  CHECK(with_aliases.code() == StatusCode::kFailedPrecondition);
  CHECK(with_aliases.message().find("champion -> 2, production -> 1") != std::string::npos);
  del.set_force(true);
  del.set_expected_version(3);
  CHECK(f.client->DeleteRegisteredModel(del).code() == StatusCode::kAborted);
  del.set_expected_version(5);  // created 1, two versions, two aliases
  MLC_CHECK_OK(f.client->DeleteRegisteredModel(del));
  CHECK(f.GetModel("churn").status().code() == StatusCode::kNotFound);
  CHECK(f.client->DeleteRegisteredModel(del).code() == StatusCode::kNotFound);
  auto events = f.Events();
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().type() == v1::REGISTRY_EVENT_TYPE_MODEL_DELETED);
  CHECK(events.back().resource_version() == 6);

  // A new model of the same name starts over at version 1.
  MLC_REQUIRE_OK(f.CreateModel("churn"));
  auto again = f.FromRun("churn");
  MLC_REQUIRE_OK(again);
  CHECK(again->version() == 1);
  CHECK(f.client->DeleteProject("other").ok());  // no models there
}

TEST_CASE("every registry rpc is reachable by name (watching through the streaming invoke)") {
  RegistryFixture f;
  auto created = InvokeJson(*f.client, "RegistryService/CreateRegisteredModel",
                            R"({"model": {"project": "ml", "name": "via-api"}})");
  MLC_REQUIRE_OK(created);
  CHECK(created->find("\"resourceVersion\":\"1\"") != std::string::npos);
  auto listed = InvokeJson(*f.client, "mlcore.v1.RegistryService/ListRegisteredModels",
                           R"({"project": "ml", "filter": "name = 'via-api'"})");
  MLC_REQUIRE_OK(listed);
  CHECK(listed->find("via-api") != std::string::npos);
  auto empty = InvokeJson(*f.client, "RegistryService/CreateRegisteredModel", "{}");
  CHECK(empty.status().code() == StatusCode::kInvalidArgument);

  std::set<std::string> served;
  for (const auto& m : InvokableMethods()) served.insert(m);
  for (const char* method : {"CreateRegisteredModel",
                             "GetRegisteredModel",
                             "ListRegisteredModels",
                             "UpdateRegisteredModel",
                             "RenameRegisteredModel",
                             "DeleteRegisteredModel",
                             "CreateModelVersion",
                             "FinishModelVersionUpload",
                             "GetModelVersion",
                             "ListModelVersions",
                             "ResolveModelUri",
                             "SetModelAlias",
                             "DeleteModelAlias",
                             "GetModelVersionLineage",
                             "ListModelVersionsBuiltFrom",
                             "WatchRegistryEvents",
                             "CreateWebhook",
                             "ListWebhooks",
                             "DeleteWebhook",
                             "TestWebhook",
                             "ListWebhookDeliveries"}) {
    INFO(method);
    CHECK(served.count(std::string("mlcore.v1.RegistryService/") + method) == 1);
  }
  auto info = f.client->GetBackendInfo();
  MLC_REQUIRE_OK(info);
  CHECK(f.client->Supports(v1::CAPABILITY_REGISTRY));
}

}  // namespace
}  // namespace mlcore
