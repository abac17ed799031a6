// A local backend with projects "ml" and "other", a run with a logged model directory, and
// shorthands for the registry calls the tests make over and over.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "local/local_backend.h"
#include "mlcore/client.h"
#include "unit/test_support.h"

namespace mlcore::testing {

struct RegistryFixture {
  TempDir dir;
  IsolatedEnv env{dir};
  ScopedEnv capacity{EnvMap{{"MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0"}}};
  std::unique_ptr<Client> client;
  v1::Run run;            // in "ml", with artifact "model" (config.json, weights/w.bin)
  v1::Artifact artifact;  // that artifact

  RegistryFixture() {
    auto opened = Client::Open("local://" + (dir / "state"));
    REQUIRE(opened.ok());
    client = std::move(opened).value();
    for (const char* name : {"ml", "other"}) {
      v1::Project p;
      p.set_name(name);
      REQUIRE(client->CreateProject(p).ok());
    }
    v1::CreateRunRequest create;
    create.mutable_run()->set_project("ml");
    create.mutable_run()->set_name("train");
    auto r = client->CreateRun(create);
    REQUIRE(r.ok());
    run = *r;
    std::filesystem::create_directories(dir / "model/weights");
    WriteFile(dir / "model/config.json", "{\"layers\": 4}");
    WriteFile(dir / "model/weights/w.bin", std::string(1000, 'w'));
    auto a = client->LogArtifact(Ref(v1::OBJECT_KIND_RUN, run.id()), dir / "model");
    REQUIRE(a.ok());
    artifact = *a;
  }

  static v1::ObjectRef Ref(v1::ObjectKind kind, const std::string& id,
                           const std::string& project = {}) {
    v1::ObjectRef ref;
    ref.set_kind(kind);
    ref.set_id(id);
    ref.set_project(project);
    return ref;
  }

  Result<v1::RegisteredModel> CreateModel(const std::string& name,
                                          const std::string& project = "ml") {
    v1::RegisteredModel m;
    m.set_project(project);
    m.set_name(name);
    return client->CreateRegisteredModel(m);
  }

  Result<v1::RegisteredModel> GetModel(const std::string& name, const std::string& project = "ml") {
    v1::GetRegisteredModelRequest r;
    r.set_project(project);
    r.set_name(name);
    return client->GetRegisteredModel(r);
  }

  // A version of `model` from the fixture run's artifact at `path`.
  Result<v1::ModelVersion> FromRun(const std::string& model, const std::string& path = "model",
                                   const std::string& request_id = {}) {
    v1::CreateModelVersionRequest r;
    r.set_project("ml");
    r.set_model(model);
    r.mutable_source()->set_kind(v1::MODEL_SOURCE_KIND_RUN_ARTIFACT);
    r.mutable_source()->set_run_id(run.id());
    r.mutable_source()->set_path(path);
    r.set_request_id(request_id);
    return client->CreateModelVersion(r);
  }

  Result<v1::ModelVersion> Upload(const std::string& model) {
    v1::CreateModelVersionRequest r;
    r.set_project("ml");
    r.set_model(model);
    r.mutable_source()->set_kind(v1::MODEL_SOURCE_KIND_UPLOAD);
    r.mutable_source()->set_path("/home/ann/model");
    return client->CreateModelVersion(r);
  }

  Result<v1::SetModelAliasResponse> SetAlias(const std::string& model, const std::string& alias,
                                             int64_t version, int64_t expected = 0) {
    v1::SetModelAliasRequest r;
    r.set_project("ml");
    r.set_model(model);
    r.set_alias(alias);
    r.set_version(version);
    r.set_expected_version(expected);
    return client->SetModelAlias(r);
  }

  Result<v1::ModelVersion> Resolve(const std::string& uri, const std::string& project = "ml") {
    v1::ResolveModelUriRequest r;
    r.set_project(project);
    r.set_uri(uri);
    return client->ResolveModelUri(r);
  }

  // The registry event log of `project`, through the local backend's store.
  std::vector<v1::RegistryEvent> Events(const std::string& project = "ml",
                                        int64_t after_sequence = 0) {
    auto* local = dynamic_cast<local::LocalBackend*>(&client->backend());
    REQUIRE(local != nullptr);
    auto store = local->Registry();
    REQUIRE(store.ok());
    auto events = (*store)->ListEvents(project, after_sequence, {}, {});
    REQUIRE(events.ok());
    return *events;
  }
};

}  // namespace mlcore::testing
