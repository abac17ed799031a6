// Model versions through Client on the local backend: every source (a run's artifact, a real
// job's output, an artifact, an upload), idempotency, aliases with "latest" and legacy stages,
// URI resolution and its errors, an alias race between two clients, lineage both ways, and the
// event log of it all.
#include <utime.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "registry/registry_fixture.h"

namespace mlcore {
namespace {

using namespace std::chrono_literals;
using testing::RegistryFixture;
using testing::WriteFile;

constexpr const char* kDigestA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

void LogMetric(RegistryFixture& f, const std::string& run_id, const std::string& key,
               std::vector<double> values) {
  v1::MetricBatch batch;
  batch.set_run_id(run_id);
  batch.set_batch_id(key + std::to_string(values.size()));
  auto* s = batch.add_metrics();
  s->set_key(key);
  for (size_t i = 0; i < values.size(); ++i) {
    s->add_steps(static_cast<int64_t>(i));
    s->add_values(values[i]);
  }
  MLC_REQUIRE_OK(f.client->LogBatch(batch));
}

// Submits `command` in project "ml" with the fixture directory as working directory, an input
// dataset and output "out", and waits for it to end.
v1::Job RunJob(RegistryFixture& f, const std::string& command) {
  WriteFile(f.dir / "labels.csv", "id,label\n1,0\n");
  v1::JobSpec spec;
  spec.set_project("ml");
  spec.add_command("sh");
  spec.add_command("-c");
  spec.add_command(command);
  spec.set_working_dir(f.dir.path());
  spec.mutable_resources()->set_cpu_millis(1000);
  spec.add_input_datasets()->set_uri("file://" + (f.dir / "labels.csv"));
  spec.add_output_paths("out");
  auto submitted = f.client->SubmitJob(spec);
  REQUIRE(submitted.ok());
  auto ended = f.client->WaitJob(submitted->id(), 120s);
  REQUIRE(ended.ok());
  return *ended;
}

TEST_CASE("a version from a run's artifact records digest, size, metrics and a lineage use") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("resnet"));
  LogMetric(f, f.run.id(), "val_auc", {0.5, 0.8, 0.91});
  LogMetric(f, f.run.id(), "system/cpu_percent", {12});
  auto v1v = f.FromRun("resnet");
  MLC_REQUIRE_OK(v1v);
  CHECK(v1v->version() == 1);
  CHECK(v1v->status() == v1::MODEL_VERSION_STATUS_READY);
  CHECK(v1v->project() == "ml");
  CHECK(v1v->model() == "resnet");
  CHECK(v1v->manifest_digest() == f.artifact.manifest_digest());
  CHECK(v1v->size_bytes() == 1013);
  CHECK(v1v->run_id() == f.run.id());
  CHECK(v1v->job_id().empty());
  CHECK(v1v->metrics().size() == 1);  // system metrics are not a model's
  CHECK(v1v->metrics().at("val_auc") == doctest::Approx(0.91));
  CHECK(v1v->legacy_stage() == v1::LEGACY_STAGE_NONE);
  CHECK_FALSE(v1v->created_by().empty());
  CHECK(v1v->source().kind() == v1::MODEL_SOURCE_KIND_RUN_ARTIFACT);

  // A path inside the artifact: the sub-tree's manifest, stored and fetchable.
  auto sub = f.FromRun("resnet", "model/weights");
  MLC_REQUIRE_OK(sub);
  CHECK(sub->version() == 2);
  CHECK(sub->size_bytes() == 1000);
  CHECK(sub->manifest_digest() != f.artifact.manifest_digest());
  v1::GetManifestRequest get;
  get.set_project("ml");
  get.set_digest(sub->manifest_digest());
  auto manifest = f.client->GetManifest(get);
  MLC_REQUIRE_OK(manifest);
  REQUIRE(manifest->entries_size() == 1);
  CHECK(manifest->entries(0).path() == "weights/w.bin");

  // Given metrics win over the run's; the run may be named instead of identified.
  v1::CreateModelVersionRequest named;
  named.set_project("ml");
  named.set_model("resnet");
  named.mutable_source()->set_kind(v1::MODEL_SOURCE_KIND_RUN_ARTIFACT);
  named.mutable_source()->set_run_id("train");
  (*named.mutable_metrics())["top1"] = 0.77;
  named.set_description("no path: the run's only artifact");
  auto third = f.client->CreateModelVersion(named);
  MLC_REQUIRE_OK(third);
  CHECK(third->version() == 3);
  CHECK(third->metrics().size() == 1);
  CHECK(third->metrics().at("top1") == doctest::Approx(0.77));
  CHECK(third->manifest_digest() == f.artifact.manifest_digest());
  CHECK(third->description() == "no path: the run's only artifact");

  auto lineage = f.client->GetLineage(f.artifact.id());
  MLC_REQUIRE_OK(lineage);
  REQUIRE(lineage->consumers_size() == 3);
  CHECK(lineage->consumers(0).kind() == v1::OBJECT_KIND_MODEL_VERSION);
  CHECK(lineage->consumers(0).id() == "resnet/1");
  CHECK(lineage->consumers(0).project() == "ml");

  {  // errors name what is missing
    CHECK(f.FromRun("resnet", "nope").status().code() == StatusCode::kNotFound);
    auto missing = f.FromRun("resnet", "model/nope.bin");
    CHECK(missing.status().code() == StatusCode::kNotFound);
    CHECK(missing.status().message().find("nope.bin") != std::string::npos);
    CHECK(f.FromRun("resnet", "../etc").status().code() == StatusCode::kInvalidArgument);
    CHECK(f.FromRun("absent").status().code() == StatusCode::kNotFound);
    v1::CreateModelVersionRequest no_kind;
    no_kind.set_project("ml");
    no_kind.set_model("resnet");
    CHECK(f.client->CreateModelVersion(no_kind).status().code() == StatusCode::kInvalidArgument);
    v1::CreateModelVersionRequest no_run = named;
    no_run.mutable_source()->set_run_id("r000000000000");
    CHECK(f.client->CreateModelVersion(no_run).status().code() == StatusCode::kNotFound);
    MLC_REQUIRE_OK(f.CreateModel("elsewhere", "other"));
    v1::CreateModelVersionRequest cross = named;
    cross.set_project("other");
    cross.set_model("elsewhere");
    cross.mutable_source()->set_run_id(f.run.id());
    CHECK(f.client->CreateModelVersion(cross).status().code() == StatusCode::kFailedPrecondition);
  }
}

TEST_CASE("a version from an artifact (optionally a path in it); request ids make retries safe") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("resnet"));
  v1::CreateModelVersionRequest r;
  r.set_project("ml");
  r.set_model("resnet");
  r.mutable_source()->set_kind(v1::MODEL_SOURCE_KIND_ARTIFACT);
  r.mutable_source()->set_artifact_id(f.artifact.id());
  r.mutable_source()->set_path("config.json");
  r.set_request_id("4b1e9a1c-0000-4000-8000-000000000001");
  r.mutable_metadata()->set_framework("pytorch");
  r.mutable_metadata()->set_format("safetensors");
  auto first = f.client->CreateModelVersion(r);
  MLC_REQUIRE_OK(first);
  CHECK(first->size_bytes() == 13);
  CHECK(first->run_id() == f.run.id());  // the artifact's owner
  CHECK(first->metadata().framework() == "pytorch");
  r.set_expected_version(1);  // stale now, but a retry returns what the first call made
  auto retry = f.client->CreateModelVersion(r);
  MLC_REQUIRE_OK(retry);
  CHECK(retry->version() == first->version());
  CHECK(retry->create_time().seconds() == first->create_time().seconds());
  CHECK(f.GetModel("resnet")->latest_version() == 1);
  r.set_request_id("4b1e9a1c-0000-4000-8000-000000000002");
  CHECK(f.client->CreateModelVersion(r).status().code() == StatusCode::kAborted);
  r.set_expected_version(2);
  auto second = f.client->CreateModelVersion(r);
  MLC_REQUIRE_OK(second);
  CHECK(second->version() == 2);
  r.mutable_source()->set_artifact_id("a000000000000");
  r.set_expected_version(0);
  r.set_request_id("");
  CHECK(f.client->CreateModelVersion(r).status().code() == StatusCode::kNotFound);
}

TEST_CASE(
    "a job's output becomes a version with the job's run, datasets and code; only when "
    "the job SUCCEEDED") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("churn"));
  v1::Job job = RunJob(f, "mkdir -p out && echo weights > out/model.bin");
  INFO(job.message());
  REQUIRE(job.state() == v1::JOB_STATE_SUCCEEDED);
  REQUIRE(job.reproducibility().input_datasets_size() == 1);
  const std::string dataset_digest = job.reproducibility().input_datasets(0).digest();

  v1::CreateModelVersionRequest r;
  r.set_project("ml");
  r.set_model("churn");
  r.mutable_source()->set_kind(v1::MODEL_SOURCE_KIND_JOB_OUTPUT);
  r.mutable_source()->set_job_id(job.spec().name());  // by name
  r.mutable_source()->set_path("out/model.bin");
  auto extra = r.add_input_datasets();
  extra->set_uri("https://example.com/holdout.parquet");
  extra->set_digest(kDigestA);
  auto v = f.client->CreateModelVersion(r);
  MLC_REQUIRE_OK(v);
  CHECK(v->status() == v1::MODEL_VERSION_STATUS_READY);
  CHECK(v->job_id() == job.id());
  CHECK(v->run_id() == job.run_id());
  CHECK(v->size_bytes() == 8);
  REQUIRE(v->input_datasets_size() == 2);
  CHECK(v->input_datasets(0).digest() == dataset_digest);
  CHECK(v->input_datasets(1).digest() == kDigestA);
  CHECK(v->source_code().entry_point() == job.reproducibility().source().entry_point());

  auto lineage = [&](v1::ObjectKind kind, const std::string& id) {
    v1::ListModelVersionsBuiltFromRequest b;
    b.mutable_source()->set_kind(kind);
    b.mutable_source()->set_id(id);
    auto built = f.client->ListModelVersionsBuiltFrom(b);
    REQUIRE(built.ok());
    return built->versions_size();
  };
  CHECK(lineage(v1::OBJECT_KIND_JOB, job.id()) == 1);
  CHECK(lineage(v1::OBJECT_KIND_RUN, job.run_id()) == 1);
  CHECK(lineage(v1::OBJECT_KIND_DATASET, dataset_digest) == 1);
  CHECK(lineage(v1::OBJECT_KIND_DATASET, kDigestA) == 1);
  CHECK(lineage(v1::OBJECT_KIND_ARTIFACT, job.output_artifact_ids(0)) == 1);

  v1::Job failed = RunJob(f, "mkdir -p out && echo half > out/model.bin && exit 3");
  REQUIRE(failed.state() == v1::JOB_STATE_FAILED);
  r.mutable_source()->set_job_id(failed.id());
  auto refused = f.client->CreateModelVersion(r);
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("JOB_STATE_FAILED") != std::string::npos);
  r.mutable_source()->set_job_id("no-such-job");
  CHECK(f.client->CreateModelVersion(r).status().code() == StatusCode::kNotFound);
}

TEST_CASE("an upload version is PENDING until finished READY or FAILED, idempotently") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("bert"));
  auto pending = f.Upload("bert");
  MLC_REQUIRE_OK(pending);
  CHECK(pending->status() == v1::MODEL_VERSION_STATUS_PENDING_UPLOAD);
  CHECK(pending->manifest_digest().empty());
  CHECK(f.SetAlias("bert", "champion", 1).status().code() == StatusCode::kFailedPrecondition);
  auto not_ready = f.Resolve("models:/bert/1");
  CHECK(not_ready.status().code() == StatusCode::kFailedPrecondition);
  CHECK(not_ready.status().message().find("PENDING_UPLOAD") != std::string::npos);
  CHECK(f.Resolve("models:/bert@latest").status().code() == StatusCode::kNotFound);

  std::filesystem::create_directories(f.dir / "bert");
  WriteFile(f.dir / "bert/model.safetensors", "tensors");
  auto uploaded = f.client->backend().UploadTree("ml", f.dir / "bert", {});
  MLC_REQUIRE_OK(uploaded);

  v1::FinishModelVersionUploadRequest finish;
  finish.set_project("ml");
  finish.set_model("bert");
  finish.set_version(1);
  CHECK(f.client->FinishModelVersionUpload(finish).status().code() == StatusCode::kInvalidArgument);
  finish.set_manifest_digest(kDigestA);
  CHECK(f.client->FinishModelVersionUpload(finish).status().code() == StatusCode::kNotFound);
  finish.set_manifest_digest(uploaded->digest());
  auto ready = f.client->FinishModelVersionUpload(finish);
  MLC_REQUIRE_OK(ready);
  CHECK(ready->status() == v1::MODEL_VERSION_STATUS_READY);
  CHECK(ready->size_bytes() == 7);
  auto again = f.client->FinishModelVersionUpload(finish);
  MLC_REQUIRE_OK(again);
  CHECK(again->manifest_digest() == uploaded->digest());
  v1::FinishModelVersionUploadRequest fail = finish;
  fail.set_failure_message("disk full");
  CHECK(f.client->FinishModelVersionUpload(fail).status().code() ==
        StatusCode::kFailedPrecondition);
  auto resolved = f.Resolve("models:/bert@latest");
  MLC_REQUIRE_OK(resolved);
  CHECK(resolved->version() == 1);

  MLC_REQUIRE_OK(f.Upload("bert"));
  fail.set_version(2);
  auto failed = f.client->FinishModelVersionUpload(fail);
  MLC_REQUIRE_OK(failed);
  CHECK(failed->status() == v1::MODEL_VERSION_STATUS_FAILED);
  CHECK(failed->status_message() == "disk full");
  MLC_CHECK_OK(f.client->FinishModelVersionUpload(fail));  // the same outcome again
  finish.set_version(2);
  CHECK(f.client->FinishModelVersionUpload(finish).status().code() ==
        StatusCode::kFailedPrecondition);
  auto dead = f.Resolve("models:/bert/2");
  CHECK(dead.status().code() == StatusCode::kFailedPrecondition);
  CHECK(dead.status().message().find("disk full") != std::string::npos);
  CHECK(f.Resolve("models:/bert@latest")->version() == 1);  // FAILED never becomes latest

  v1::ListModelVersionsRequest list;
  list.set_project("ml");
  list.set_model("bert");
  auto both = f.client->ListModelVersions(list);
  MLC_REQUIRE_OK(both);
  REQUIRE(both->versions_size() == 2);
  CHECK(both->versions(0).version() == 2);  // newest first
  list.add_statuses(v1::MODEL_VERSION_STATUS_READY);
  CHECK(f.client->ListModelVersions(list)->versions_size() == 1);
  list.add_statuses(v1::MODEL_VERSION_STATUS_UNSPECIFIED);
  CHECK(f.client->ListModelVersions(list).status().code() == StatusCode::kInvalidArgument);

  std::vector<v1::RegistryEventType> types;
  for (const auto& e : f.Events()) types.push_back(e.type());
  CHECK(types == std::vector<v1::RegistryEventType>{
                     v1::REGISTRY_EVENT_TYPE_MODEL_CREATED, v1::REGISTRY_EVENT_TYPE_VERSION_CREATED,
                     v1::REGISTRY_EVENT_TYPE_VERSION_READY, v1::REGISTRY_EVENT_TYPE_VERSION_CREATED,
                     v1::REGISTRY_EVENT_TYPE_VERSION_FAILED});
}

TEST_CASE("aliases: set, move, keep, delete; latest is reserved; legacy stages are derived") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("churn"));
  for (int i = 0; i < 3; ++i) MLC_REQUIRE_OK(f.FromRun("churn"));
  auto set = f.SetAlias("churn", "champion", 1);
  MLC_REQUIRE_OK(set);
  CHECK(set->previous_version() == 0);
  CHECK(set->resource_version() == 5);
  CHECK(set->alias().version() == 1);
  CHECK_FALSE(set->alias().updated_by().empty());
  auto moved = f.SetAlias("churn", "champion", 3, 5);
  MLC_REQUIRE_OK(moved);
  CHECK(moved->previous_version() == 1);
  CHECK(moved->resource_version() == 6);
  auto kept = f.SetAlias("churn", "champion", 3);
  MLC_REQUIRE_OK(kept);
  CHECK(kept->previous_version() == 3);
  CHECK(kept->resource_version() == 6);  // nothing changed
  CHECK(f.SetAlias("churn", "champion", 2, 5).status().code() == StatusCode::kAborted);

  auto latest = f.SetAlias("churn", "latest", 1);
  CHECK(latest.status().code() == StatusCode::kInvalidArgument);
  CHECK(latest.status().message().find("reserved") != std::string::npos);
  CHECK(f.SetAlias("churn", "Champion", 1).status().code() == StatusCode::kInvalidArgument);
  CHECK(f.SetAlias("churn", "shadow", 9).status().code() == StatusCode::kNotFound);
  CHECK(f.SetAlias("nope", "shadow", 1).status().code() == StatusCode::kNotFound);

  MLC_REQUIRE_OK(f.SetAlias("churn", "production", 2));
  MLC_REQUIRE_OK(f.SetAlias("churn", "archived", 1));
  MLC_REQUIRE_OK(f.SetAlias("churn", "staging", 3));
  v1::GetModelVersionRequest get;
  get.set_project("ml");
  get.set_model("churn");
  auto stage_of = [&](int64_t version) {
    get.set_version(version);
    auto v = f.client->GetModelVersion(get);
    REQUIRE(v.ok());
    return v->legacy_stage();
  };
  CHECK(stage_of(1) == v1::LEGACY_STAGE_ARCHIVED);
  CHECK(stage_of(2) == v1::LEGACY_STAGE_PRODUCTION);
  CHECK(stage_of(3) == v1::LEGACY_STAGE_STAGING);
  get.set_version(3);
  auto v3 = f.client->GetModelVersion(get);
  MLC_REQUIRE_OK(v3);
  CHECK(std::vector<std::string>(v3->aliases().begin(), v3->aliases().end()) ==
        std::vector<std::string>{"champion", "staging"});
  get.set_version(0);
  CHECK(f.client->GetModelVersion(get).status().code() == StatusCode::kInvalidArgument);

  auto model = f.GetModel("churn");
  MLC_REQUIRE_OK(model);
  REQUIRE(model->aliases_size() == 4);
  CHECK(model->aliases(0).alias() == "archived");  // ordered by name
  CHECK(model->aliases(1).alias() == "champion");

  v1::DeleteModelAliasRequest del;
  del.set_project("ml");
  del.set_model("churn");
  del.set_alias("staging");
  auto deleted = f.client->DeleteModelAlias(del);
  MLC_REQUIRE_OK(deleted);
  CHECK(deleted->previous_version() == 3);
  CHECK(stage_of(3) == v1::LEGACY_STAGE_NONE);
  CHECK(f.client->DeleteModelAlias(del).status().code() == StatusCode::kNotFound);
  del.set_alias("latest");
  CHECK(f.client->DeleteModelAlias(del).status().code() == StatusCode::kInvalidArgument);

  auto events = f.Events();
  std::vector<v1::RegistryEvent> alias_events;
  for (const auto& e : events) {
    if (!e.alias().empty()) alias_events.push_back(e);
  }
  REQUIRE(alias_events.size() == 6);
  CHECK(alias_events[0].type() == v1::REGISTRY_EVENT_TYPE_ALIAS_SET);
  CHECK(alias_events[0].version() == 1);
  CHECK(alias_events[1].type() == v1::REGISTRY_EVENT_TYPE_ALIAS_MOVED);
  CHECK(alias_events[1].version() == 3);
  CHECK(alias_events[1].previous_version() == 1);
  CHECK(alias_events[1].resource_version() == 6);
  CHECK(alias_events[5].type() == v1::REGISTRY_EVENT_TYPE_ALIAS_DELETED);
  CHECK(alias_events[5].alias() == "staging");
  CHECK(alias_events[5].previous_version() == 3);
  CHECK(alias_events[5].version() == 0);
  auto* local = dynamic_cast<local::LocalBackend*>(&f.client->backend());
  auto only_moves =
      (*local->Registry())->ListEvents("ml", 0, {"churn"}, {v1::REGISTRY_EVENT_TYPE_ALIAS_MOVED});
  MLC_REQUIRE_OK(only_moves);
  CHECK(only_moves->size() == 1);
  auto after = f.Events("ml", alias_events[4].sequence());
  REQUIRE(after.size() == 1);
  CHECK(after[0].sequence() == alias_events[5].sequence());
  CHECK(f.Events("other").empty());
}

TEST_CASE("every URI form resolves; misses say what exists") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("churn"));
  MLC_REQUIRE_OK(f.FromRun("churn"));
  MLC_REQUIRE_OK(f.FromRun("churn"));
  MLC_REQUIRE_OK(f.Upload("churn"));  // version 3, never READY
  MLC_REQUIRE_OK(f.SetAlias("churn", "champion", 1));
  MLC_REQUIRE_OK(f.SetAlias("churn", "production", 1));

  CHECK(f.Resolve("models:/churn/2")->version() == 2);
  CHECK(f.Resolve("models:/churn@champion")->version() == 1);
  CHECK(f.Resolve("models:/churn@latest")->version() == 2);
  CHECK(f.Resolve("models:/ml/churn/1", "other")->version() == 1);
  CHECK(f.Resolve("models:/ml/churn@champion", "")->version() == 1);
  auto v = f.Resolve("models:/churn@champion");
  MLC_REQUIRE_OK(v);
  CHECK(v->aliases_size() == 2);
  CHECK(v->legacy_stage() == v1::LEGACY_STAGE_PRODUCTION);

  auto alias = f.Resolve("models:/churn@shadow");
  CHECK(alias.status().code() == StatusCode::kNotFound);
  CHECK(alias.status().message().find("champion -> 1, production -> 1") != std::string::npos);
  auto version = f.Resolve("models:/churn/9");
  CHECK(version.status().code() == StatusCode::kNotFound);
  CHECK(version.status().message().find("1-3") != std::string::npos);
  CHECK(f.Resolve("models:/churn/3").status().code() == StatusCode::kFailedPrecondition);
  CHECK(f.Resolve("models:/nope@latest").status().code() == StatusCode::kNotFound);
  CHECK(f.Resolve("models:/churn/1", "other").status().code() == StatusCode::kNotFound);
  auto project = f.Resolve("models:/absent/churn/1");
  CHECK(project.status().code() == StatusCode::kNotFound);
  CHECK(project.status().message().find("project \"absent\"") != std::string::npos);
  auto malformed = f.Resolve("models:/churn");
  CHECK(malformed.status().code() == StatusCode::kInvalidArgument);
  CHECK(malformed.status().message().find("models:/NAME/VERSION") != std::string::npos);
  CHECK(f.Resolve("models:/churn/1", "").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("two clients moving one alias with expected_version: exactly one wins") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("churn"));
  MLC_REQUIRE_OK(f.FromRun("churn"));
  MLC_REQUIRE_OK(f.FromRun("churn"));
  MLC_REQUIRE_OK(f.FromRun("churn"));
  MLC_REQUIRE_OK(f.SetAlias("churn", "champion", 1));
  auto second = Client::Open("local://" + (f.dir / "state"));
  MLC_REQUIRE_OK(second);
  Client* clients[2] = {f.client.get(), second->get()};
  for (int round = 0; round < 10; ++round) {
    // From version 1, so both calls move the alias (setting it where it is would change nothing).
    MLC_REQUIRE_OK(f.SetAlias("churn", "champion", 1));
    auto model = f.GetModel("churn");
    REQUIRE(model.ok());
    const int64_t seen = model->resource_version();
    std::atomic<int> ready{0};
    Result<v1::SetModelAliasResponse> results[2] = {InternalError("unset"), InternalError("unset")};
    std::thread threads[2];
    for (int i = 0; i < 2; ++i) {
      threads[i] = std::thread([&, i] {
        v1::SetModelAliasRequest r;
        r.set_project("ml");
        r.set_model("churn");
        r.set_alias("champion");
        r.set_version(i + 2);
        r.set_expected_version(seen);
        ready.fetch_add(1);
        while (ready.load() < 2) {
        }
        results[i] = clients[i]->SetModelAlias(r);
      });
    }
    for (auto& t : threads) t.join();
    const int winners = int(results[0].ok()) + int(results[1].ok());
    INFO(results[0].status().ToString() << " / " << results[1].status().ToString());
    REQUIRE(winners == 1);
    const int winner = results[0].ok() ? 0 : 1;
    CHECK(results[1 - winner].status().code() == StatusCode::kAborted);
    CHECK(results[winner]->resource_version() == seen + 1);
    CHECK(results[winner]->previous_version() == 1);
    CHECK(f.Resolve("models:/churn@champion")->version() == winner + 2);
  }
  // Unconditional moves both succeed, and each learns the version it replaced.
  auto a = f.SetAlias("churn", "challenger", 2);
  v1::SetModelAliasRequest r;
  r.set_project("ml");
  r.set_model("churn");
  r.set_alias("challenger");
  r.set_version(3);
  auto b = clients[1]->SetModelAlias(r);
  MLC_REQUIRE_OK(a);
  MLC_REQUIRE_OK(b);
  CHECK(a->previous_version() == 0);
  CHECK(b->previous_version() == 2);
}

TEST_CASE("lineage: a version's run, job, code, datasets, artifact and parents; and back") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("base"));
  MLC_REQUIRE_OK(f.CreateModel("tuned"));
  MLC_REQUIRE_OK(f.FromRun("base"));
  v1::CreateModelVersionRequest r;
  r.set_project("ml");
  r.set_model("tuned");
  r.mutable_source()->set_kind(v1::MODEL_SOURCE_KIND_RUN_ARTIFACT);
  r.mutable_source()->set_run_id(f.run.id());
  r.mutable_source()->set_path("model");
  *r.mutable_parent_model_version() = RegistryFixture::Ref(v1::OBJECT_KIND_MODEL_VERSION, "base/1");
  auto tuned1 = f.client->CreateModelVersion(r);
  MLC_REQUIRE_OK(tuned1);
  CHECK(tuned1->parent_model_version().id() == "base/1");
  CHECK(tuned1->parent_model_version().project() == "ml");
  *r.mutable_parent_model_version() =
      RegistryFixture::Ref(v1::OBJECT_KIND_MODEL_VERSION, "tuned/1", "ml");
  auto input = r.add_input_datasets();
  input->set_uri("https://example.com/d.parquet");
  input->set_digest(kDigestA);
  MLC_REQUIRE_OK(f.client->CreateModelVersion(r));  // tuned/2 <- tuned/1 <- base/1

  *r.mutable_parent_model_version() = RegistryFixture::Ref(v1::OBJECT_KIND_MODEL_VERSION, "base/7");
  CHECK(f.client->CreateModelVersion(r).status().code() == StatusCode::kNotFound);
  *r.mutable_parent_model_version() =
      RegistryFixture::Ref(v1::OBJECT_KIND_MODEL_VERSION, "base/1", "other");
  CHECK(f.client->CreateModelVersion(r).status().code() == StatusCode::kFailedPrecondition);
  *r.mutable_parent_model_version() = RegistryFixture::Ref(v1::OBJECT_KIND_RUN, "base/1");
  CHECK(f.client->CreateModelVersion(r).status().code() == StatusCode::kInvalidArgument);

  v1::GetModelVersionLineageRequest get;
  get.set_project("ml");
  get.set_model("tuned");
  get.set_version(2);
  auto lineage = f.client->GetModelVersionLineage(get);
  MLC_REQUIRE_OK(lineage);
  CHECK(lineage->version().version() == 2);
  CHECK(lineage->run().id() == f.run.id());
  CHECK(lineage->run().display_name() == "train");
  CHECK(lineage->artifact().id() == f.artifact.id());
  CHECK(lineage->artifact().display_name() == "model");
  CHECK_FALSE(lineage->has_job());
  REQUIRE(lineage->datasets_size() == 1);
  CHECK(lineage->datasets(0).digest() == kDigestA);
  REQUIRE(lineage->has_parent());
  CHECK(lineage->parent().version().model() == "tuned");
  CHECK(lineage->parent().version().version() == 1);
  REQUIRE(lineage->parent().has_parent());
  CHECK(lineage->parent().parent().version().model() == "base");
  CHECK(lineage->parent().parent().run().display_name() == "train");
  CHECK_FALSE(lineage->parent().parent().has_parent());
  get.set_depth(1);
  auto shallow = f.client->GetModelVersionLineage(get);
  MLC_REQUIRE_OK(shallow);
  CHECK(shallow->has_parent());
  CHECK_FALSE(shallow->parent().has_parent());
  get.set_depth(101);
  CHECK(f.client->GetModelVersionLineage(get).status().code() == StatusCode::kInvalidArgument);

  // Downstream: from the run, the artifact, a dataset and a version.
  auto built = [&](v1::ObjectRef source, const std::string& project = {}, int page_size = 0,
                   const std::string& token = {}) {
    v1::ListModelVersionsBuiltFromRequest b;
    *b.mutable_source() = std::move(source);
    b.set_project(project);
    b.set_page_size(page_size);
    b.set_page_token(token);
    return f.client->ListModelVersionsBuiltFrom(b);
  };
  auto from_run = built(RegistryFixture::Ref(v1::OBJECT_KIND_RUN, f.run.id()));
  MLC_REQUIRE_OK(from_run);
  REQUIRE(from_run->versions_size() == 3);
  CHECK(from_run->versions(0).model() == "tuned");  // newest first
  CHECK(from_run->versions(0).version() == 2);
  CHECK(from_run->versions(2).model() == "base");
  std::vector<std::string> paged;
  std::string token;
  do {
    auto page =
        built(RegistryFixture::Ref(v1::OBJECT_KIND_ARTIFACT, f.artifact.id()), "ml", 2, token);
    MLC_REQUIRE_OK(page);
    for (const auto& v : page->versions()) {
      paged.push_back(v.model() + "/" + std::to_string(v.version()));
    }
    token = page->next_page_token();
  } while (!token.empty());
  CHECK(paged == std::vector<std::string>{"tuned/2", "tuned/1", "base/1"});
  auto from_dataset = built(RegistryFixture::Ref(v1::OBJECT_KIND_DATASET, kDigestA));
  MLC_REQUIRE_OK(from_dataset);
  CHECK(from_dataset->versions_size() == 1);
  auto from_base = built(RegistryFixture::Ref(v1::OBJECT_KIND_MODEL_VERSION, "base/1"), "ml");
  MLC_REQUIRE_OK(from_base);
  REQUIRE(from_base->versions_size() == 1);
  CHECK(from_base->versions(0).model() == "tuned");
  CHECK(built(RegistryFixture::Ref(v1::OBJECT_KIND_RUN, f.run.id()), "other")->versions_size() ==
        0);
  CHECK(built(RegistryFixture::Ref(v1::OBJECT_KIND_RUN, "r000000000000")).status().code() ==
        StatusCode::kNotFound);
  CHECK(built(RegistryFixture::Ref(v1::OBJECT_KIND_DATASET, "not-a-digest")).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(built(RegistryFixture::Ref(v1::OBJECT_KIND_PIPELINE_RUN, "p1")).status().code() ==
        StatusCode::kInvalidArgument);

  // A rename is followed by the parent references; a deleted parent stays named as it was.
  v1::RenameRegisteredModelRequest rename;
  rename.set_project("ml");
  rename.set_name("base");
  rename.set_new_name("foundation");
  MLC_REQUIRE_OK(f.client->RenameRegisteredModel(rename));
  v1::GetModelVersionRequest one;
  one.set_project("ml");
  one.set_model("tuned");
  one.set_version(1);
  CHECK(f.client->GetModelVersion(one)->parent_model_version().id() == "foundation/1");
  v1::DeleteRegisteredModelRequest del;
  del.set_project("ml");
  del.set_name("foundation");
  MLC_REQUIRE_OK(f.client->DeleteRegisteredModel(del));
  get.set_depth(0);
  auto orphan = f.client->GetModelVersionLineage(get);
  MLC_REQUIRE_OK(orphan);
  REQUIRE(orphan->parent().has_parent());
  CHECK(orphan->parent().parent().version().model() == "base");
  CHECK(orphan->parent().parent().version().version() == 1);
}

TEST_CASE("artifact garbage collection keeps the files of an uploaded version") {
  RegistryFixture f;
  MLC_REQUIRE_OK(f.CreateModel("bert"));
  MLC_REQUIRE_OK(f.Upload("bert"));
  std::filesystem::create_directories(f.dir / "bert");
  WriteFile(f.dir / "bert/model.bin", "weights only a model version references");
  auto uploaded = f.client->backend().UploadTree("ml", f.dir / "bert", {});
  MLC_REQUIRE_OK(uploaded);
  v1::FinishModelVersionUploadRequest finish;
  finish.set_project("ml");
  finish.set_model("bert");
  finish.set_version(1);
  finish.set_manifest_digest(uploaded->digest());
  MLC_REQUIRE_OK(f.client->FinishModelVersionUpload(finish));
  // Two hours later: no artifact references the manifest, the version does.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((f.dir / "state/artifacts.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE manifests SET create_us = create_us - 7200000000", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  const std::string digest = uploaded->entries(0).digest();
  const std::string blob =
      f.dir / ("state/artifacts/blobs/sha256/" + digest.substr(0, 2) + "/" + digest.substr(2));
  REQUIRE(std::filesystem::exists(blob));
  utimbuf old_times{time(nullptr) - 7200, time(nullptr) - 7200};
  REQUIRE(utime(blob.c_str(), &old_times) == 0);
  v1::CollectGarbageRequest gc;
  auto done = f.client->CollectGarbage(gc);
  MLC_REQUIRE_OK(done);
  CHECK(done->manifests_removed() == 0);
  CHECK(done->blobs_removed() == 0);
  CHECK(std::filesystem::exists(blob));
  auto resolved = f.Resolve("models:/bert/1");
  MLC_REQUIRE_OK(resolved);
  v1::GetManifestRequest get;
  get.set_project("ml");
  get.set_digest(resolved->manifest_digest());
  MLC_CHECK_OK(f.client->GetManifest(get));
}

}  // namespace
}  // namespace mlcore
