// RegistryService of the local backend: checks against projects (mlcore.db), and resolution of a
// version's source against runs (tracking.db), jobs (mlcore.db) and artifacts (artifacts.db);
// then the registry store (registry.db) records the change and its event.
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

#include "artifacts/manifest.h"
#include "local/artifact_index.h"
#include "local/job_store.h"
#include "local/local_backend.h"
#include "local/registry_store.h"
#include "local/tracking_store.h"
#include "local/webhook_deliverer.h"
#include "util/fs.h"

namespace mlcore::local {
namespace {

// Who makes a change on this backend (the local user; a server will name its caller).
std::string Actor() { return util::CurrentUser(); }

// A NOT_FOUND about a model becomes the project's NOT_FOUND when the project is what is missing.
template <typename T, typename CheckProject>
Result<T> OrProjectError(Result<T> result, CheckProject&& check_project) {
  if (result.status().code() == StatusCode::kNotFound) {
    Status project = check_project();
    if (!project.ok()) return project;
  }
  return result;
}

// Every artifact of `owner` (a run or job).
Result<std::vector<v1::Artifact>> OwnedArtifacts(ArtifactIndex& index, const std::string& project,
                                                 v1::ObjectKind kind, const std::string& id) {
  v1::ListArtifactsRequest list;
  list.set_project(project);
  list.mutable_owner()->set_kind(kind);
  list.mutable_owner()->set_id(id);
  list.set_page_size(1000);
  std::vector<v1::Artifact> out;
  do {
    MLC_ASSIGN_OR_RETURN(auto page, index.ListArtifacts(list));
    for (auto& a : *page.mutable_artifacts()) out.push_back(std::move(a));
    list.set_page_token(page.next_page_token());
  } while (!list.page_token().empty());
  return out;
}

// The artifact of `owner_text` at `path` (equal to the artifact's path or inside it: the longest
// artifact path that contains it wins), and the rest of `path` inside it. Empty `path` needs the
// owner to have exactly one artifact.
Result<std::pair<v1::Artifact, std::string>> PickArtifact(const std::vector<v1::Artifact>& all,
                                                          const std::string& path,
                                                          const std::string& owner_text) {
  std::string listing;
  for (const auto& a : all) listing += (listing.empty() ? "" : ", ") + a.path();
  if (all.empty()) {
    return NotFoundError(owner_text + " has no artifacts; log the model files first");
  }
  if (path.empty()) {
    if (all.size() == 1) return std::make_pair(all[0], std::string());
    return InvalidArgumentError(owner_text + " has several artifacts (" + listing +
                                "); name the one to register with the source path");
  }
  const v1::Artifact* best = nullptr;
  for (const auto& a : all) {
    bool contains = path == a.path() || path.rfind(a.path() + "/", 0) == 0;
    if (contains && (best == nullptr || a.path().size() > best->path().size())) best = &a;
  }
  if (best == nullptr) {
    return NotFoundError(owner_text + " has no artifact at \"" + path +
                         "\"; its artifacts: " + listing);
  }
  std::string rest = path.size() > best->path().size() ? path.substr(best->path().size() + 1) : "";
  return std::make_pair(*best, rest);
}

// Latest values of a run's metrics, without the sampled system metrics.
void SnapshotMetrics(const v1::Run& run, v1::ModelVersion* v) {
  for (const auto& m : run.metrics()) {
    if (m.key().rfind("system/", 0) == 0) continue;
    (*v->mutable_metrics())[m.key()] = m.latest_value();
  }
}

void AddDatasets(const google::protobuf::RepeatedPtrField<v1::DatasetRef>& from,
                 v1::ModelVersion* v) {
  for (const auto& d : from) {
    bool seen = false;
    for (const auto& have : v->input_datasets()) {
      seen = seen || (have.uri() == d.uri() && have.digest() == d.digest());
    }
    if (!seen) *v->add_input_datasets() = d;
  }
}

}  // namespace

Result<RegistryStore*> LocalBackend::Registry() {
  std::lock_guard lock(tracking_mu_);
  if (!registry_) {
    MLC_ASSIGN_OR_RETURN(registry_, RegistryStore::Open(dir_ + "/registry.db"));
    // Deliveries left unfinished by a deliverer that did not survive (a reboot) resume now.
    auto unfinished = registry_->NextDeliveryDue();
    if (unfinished.ok() && *unfinished != 0) {
      Status started = StartWebhookDeliverer(dir_);
      if (!started.ok()) spdlog::warn("webhook deliveries wait: {}", started.ToString());
    }
  }
  return registry_.get();
}

void LocalBackend::WakeDeliverer(RegistryStore* store) {
  if (!store->TakeDeliveriesQueued()) return;
  // The change is committed either way; a deliverer that cannot start now is started by the next
  // process that opens the registry.
  Status started = StartWebhookDeliverer(dir_);
  if (!started.ok()) spdlog::warn("webhook deliveries wait: {}", started.ToString());
}

Status LocalBackend::CheckProjectHasNoModels(const std::string& project) {
  {
    std::lock_guard lock(tracking_mu_);
    if (!registry_ && !std::filesystem::exists(dir_ + "/registry.db")) return Status::Ok();
  }
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  MLC_ASSIGN_OR_RETURN(int64_t models, store->CountModels(project));
  if (models > 0) {
    return FailedPreconditionError("project \"" + project + "\" has " + std::to_string(models) +
                                   " registered models; delete them first (mlc model ls, mlc "
                                   "model delete)");
  }
  return Status::Ok();
}

Result<v1::RegisteredModel> LocalBackend::CreateRegisteredModel(const v1::RegisteredModel& model) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(model.project()));
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  auto created = store->CreateModel(model, Actor());
  WakeDeliverer(store);
  return created;
}

Result<v1::RegisteredModel> LocalBackend::GetRegisteredModel(
    const v1::GetRegisteredModelRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  return OrProjectError(store->GetModel(r.project(), r.name()),
                        [&] { return CheckProjectExists(r.project()); });
}

Result<v1::ListRegisteredModelsResponse> LocalBackend::ListRegisteredModels(
    const v1::ListRegisteredModelsRequest& r) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(r.project()));
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  return store->ListModels(r);
}

Result<v1::RegisteredModel> LocalBackend::UpdateRegisteredModel(
    const v1::UpdateRegisteredModelRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  auto result = store->UpdateModel(r, Actor());
  WakeDeliverer(store);
  return OrProjectError(std::move(result), [&] { return CheckProjectExists(r.project()); });
}

Result<v1::RegisteredModel> LocalBackend::RenameRegisteredModel(
    const v1::RenameRegisteredModelRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  auto result = store->RenameModel(r, Actor());
  WakeDeliverer(store);
  return OrProjectError(std::move(result), [&] { return CheckProjectExists(r.project()); });
}

Status LocalBackend::DeleteRegisteredModel(const v1::DeleteRegisteredModelRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  Status s = store->DeleteModel(r, Actor());
  WakeDeliverer(store);
  if (s.code() == StatusCode::kNotFound) MLC_RETURN_IF_ERROR(CheckProjectExists(r.project()));
  return s;
}

Result<v1::ModelVersion> LocalBackend::CreateModelVersion(const v1::CreateModelVersionRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  const std::string& project = r.project();
  // The model first: no source is resolved (or manifest written) for a model that is not there.
  MLC_RETURN_IF_ERROR(OrProjectError(store->GetModel(project, r.model()),
                                     [&] { return CheckProjectExists(project); }));
  NewModelVersion in;
  in.request_id = r.request_id();
  in.expected_version = r.expected_version();
  v1::ModelVersion& v = in.version;
  if (!in.request_id.empty()) {
    auto earlier = store->FindVersionByRequestId(project, r.model(), in.request_id);
    if (earlier.ok() || earlier.status().code() != StatusCode::kNotFound) return earlier;
  }
  v.set_project(project);
  v.set_model(r.model());
  *v.mutable_source() = r.source();
  *v.mutable_metadata() = r.metadata();
  v.set_description(r.description());
  const v1::ModelVersionSource& source = r.source();

  // The producing run and job, whichever the source names; each leads to the other.
  std::string run_id, job_id;
  auto check_project = [&](const std::string& what, const std::string& owner_project) {
    if (owner_project == project) return Status::Ok();
    return FailedPreconditionError(what + " belongs to project " + owner_project + "; model \"" +
                                   r.model() + "\" is in project " + project +
                                   " (register it in a model of that project)");
  };
  v1::Artifact artifact;
  std::optional<v1::Manifest> files;  // of a version built from an artifact
  std::string sub_path;
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  switch (source.kind()) {
    case v1::MODEL_SOURCE_KIND_RUN_ARTIFACT:
    case v1::MODEL_SOURCE_KIND_JOB_OUTPUT: {
      const bool from_run = source.kind() == v1::MODEL_SOURCE_KIND_RUN_ARTIFACT;
      std::string owner_text;
      if (from_run) {
        MLC_ASSIGN_OR_RETURN(TrackingStore * tracking, Tracking());
        auto run = tracking->GetRun(source.run_id(), false);
        if (!run.ok()) return run.status().WithContext("source run");
        MLC_RETURN_IF_ERROR(check_project("run " + run->id(), run->project()));
        run_id = run->id();
        job_id = run->job_id();
        owner_text = "run " + run->id() + " (" + run->name() + ")";
      } else {
        JobRecord record;
        {
          std::lock_guard lock(mu_);
          auto loaded = LoadJob(*db_, source.job_id());
          if (!loaded.ok()) return loaded.status().WithContext("source job");
          record = std::move(loaded).value();
        }
        const v1::Job& job = record.job;
        MLC_RETURN_IF_ERROR(check_project("job " + job.id(), job.spec().project()));
        if (job.state() != v1::JOB_STATE_SUCCEEDED) {
          return FailedPreconditionError(
              "job " + job.spec().name() + " (" + job.id() + ") is " +
              v1::JobState_Name(job.state()) +
              "; only the outputs of a SUCCEEDED job can be registered (register a run's "
              "artifact or an artifact to override)");
        }
        job_id = job.id();
        run_id = job.run_id();
        owner_text = "job " + job.spec().name() + " (" + job.id() + ")";
      }
      MLC_ASSIGN_OR_RETURN(
          auto all,
          OwnedArtifacts(*index, project, from_run ? v1::OBJECT_KIND_RUN : v1::OBJECT_KIND_JOB,
                         from_run ? run_id : job_id));
      MLC_ASSIGN_OR_RETURN(auto picked, PickArtifact(all, source.path(), owner_text));
      artifact = std::move(picked.first);
      sub_path = std::move(picked.second);
      break;
    }
    case v1::MODEL_SOURCE_KIND_ARTIFACT: {
      auto found = index->GetArtifact(source.artifact_id());
      if (!found.ok()) return found.status().WithContext("source artifact");
      artifact = std::move(found).value();
      MLC_RETURN_IF_ERROR(check_project("artifact " + artifact.id(), artifact.project()));
      sub_path = source.path();
      if (artifact.owner().kind() == v1::OBJECT_KIND_RUN) {
        run_id = artifact.owner().id();
      } else {
        job_id = artifact.owner().id();
      }
      break;
    }
    case v1::MODEL_SOURCE_KIND_UPLOAD:
      v.set_status(v1::MODEL_VERSION_STATUS_PENDING_UPLOAD);
      break;
    default:
      return InvalidArgumentError(
          "a version's source needs a kind (RUN_ARTIFACT, JOB_OUTPUT, "
          "ARTIFACT or UPLOAD)");
  }

  if (!artifact.id().empty()) {
    // The manifest of the files: the artifact's, or of the sub-tree at `sub_path`, stored so the
    // version's digest can be fetched like any manifest.
    v1::GetManifestRequest get;
    get.set_digest(artifact.manifest_digest());
    MLC_ASSIGN_OR_RETURN(v1::Manifest manifest, index->GetManifest(get));
    if (!sub_path.empty()) {
      auto filtered = artifacts::FilterManifest(manifest, sub_path);
      if (!filtered.ok()) {
        return NotFoundError("artifact " + artifact.id() + " (\"" + artifact.path() +
                             "\") has no file or directory \"" + sub_path + "\"");
      }
      MLC_ASSIGN_OR_RETURN(manifest, index->PutManifest("", std::move(filtered).value()));
    }
    v.set_status(v1::MODEL_VERSION_STATUS_READY);
    v.set_manifest_digest(manifest.digest());
    v.set_size_bytes(manifest.total_size_bytes());
    in.artifact_id = artifact.id();
    files = std::move(manifest);
  }

  // What the run and job recorded: the run's job (or the job's run), metrics, code, datasets.
  std::optional<v1::Job> job;
  if (run_id.empty() && !job_id.empty()) {
    std::lock_guard lock(mu_);
    auto loaded = LoadJob(*db_, job_id);
    if (loaded.ok()) run_id = loaded->job.run_id();
  }
  std::optional<v1::Run> run;
  if (!run_id.empty()) {
    MLC_ASSIGN_OR_RETURN(TrackingStore * tracking, Tracking());
    auto loaded = tracking->GetRun(run_id, true);
    if (loaded.ok()) {
      run = std::move(loaded).value();
      if (job_id.empty()) job_id = run->job_id();
    }
  }
  if (!job_id.empty()) {
    std::lock_guard lock(mu_);
    auto loaded = LoadJob(*db_, job_id);
    if (loaded.ok()) job = std::move(loaded->job);
  }
  v.set_run_id(run_id);
  v.set_job_id(job_id);
  if (!r.metrics().empty()) {
    *v.mutable_metrics() = r.metrics();
  } else if (run) {
    SnapshotMetrics(*run, &v);
  }
  if (job && job->reproducibility().has_source()) {
    *v.mutable_source_code() = job->reproducibility().source();
  } else if (run && run->has_source()) {
    *v.mutable_source_code() = run->source();
  }
  if (job) AddDatasets(job->reproducibility().input_datasets(), &v);
  AddDatasets(r.input_datasets(), &v);

  // The parent version: as given, else the producing job's one `models:/` input.
  if (r.has_parent_model_version() && !r.parent_model_version().id().empty()) {
    const v1::ObjectRef& parent = r.parent_model_version();
    MLC_RETURN_IF_ERROR(check_project("parent version " + parent.id(), parent.project()));
    *v.mutable_parent_model_version() = parent;
  } else if (job) {
    std::vector<const v1::DatasetRef*> inputs;
    for (const auto& d : job->reproducibility().input_datasets()) {
      if (registry::IsModelUri(d.uri())) inputs.push_back(&d);
    }
    auto uri = inputs.size() == 1 ? registry::ParseModelUri(inputs[0]->uri())
                                  : Result<registry::ModelUri>(NotFoundError("none"));
    if (uri.ok() && (uri->project.empty() || uri->project == project)) {
      uri->project = project;
      int64_t number = uri->version;
      if (number == 0 && !inputs[0]->digest().empty()) {
        // An alias then: the version whose files the job loaded, found by their digest.
        v1::ListModelVersionsRequest list;
        list.set_project(project);
        list.set_model(uri->model);
        list.set_page_size(1000);
        auto versions = store->ListVersions(list);
        if (versions.ok()) {
          for (const auto& mv : versions->versions()) {
            if (mv.manifest_digest() == inputs[0]->digest()) {
              number = mv.version();
              break;
            }
          }
        }
      }
      if (number > 0) {
        v1::ObjectRef* parent = v.mutable_parent_model_version();
        parent->set_kind(v1::OBJECT_KIND_MODEL_VERSION);
        parent->set_project(project);
        parent->set_id(registry::VersionRefId(uri->model, number));
      }
    }
  }

  // The version's files become the model's project's to read, whichever project produced them.
  if (files) MLC_RETURN_IF_ERROR(index->Share(project, *files));
  auto recorded = store->CreateVersion(in, Actor());
  WakeDeliverer(store);
  MLC_ASSIGN_OR_RETURN(v1::ModelVersion created, std::move(recorded));
  if (!in.artifact_id.empty()) {
    // Lineage seen from the artifact. The registry's own record (ListModelVersionsBuiltFrom) is
    // already committed, so a failure here is not worth failing a registration that happened.
    v1::RecordArtifactUseRequest use;
    use.set_artifact_id(in.artifact_id);
    v1::ObjectRef* consumer = use.mutable_consumer();
    consumer->set_kind(v1::OBJECT_KIND_MODEL_VERSION);
    consumer->set_project(project);
    consumer->set_id(registry::VersionRefId(created.model(), created.version()));
    consumer->set_display_name(consumer->id());
    index->RecordUse(use).IgnoreError();
  }
  return created;
}

Result<v1::ModelVersion> LocalBackend::FinishModelVersionUpload(
    const v1::FinishModelVersionUploadRequest& r) {
  int64_t size_bytes = 0;
  if (r.outcome_case() == v1::FinishModelVersionUploadRequest::kManifestDigest) {
    MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
    v1::GetManifestRequest get;
    get.set_project(r.project());
    get.set_digest(r.manifest_digest());
    auto manifest = index->GetManifest(get);
    if (manifest.status().code() == StatusCode::kNotFound) {
      return NotFoundError("manifest " + r.manifest_digest() +
                           " does not exist; upload the files and put their manifest first");
    }
    MLC_RETURN_IF_ERROR(manifest.status());
    v1::FindMissingBlobsRequest blobs;
    blobs.set_project(r.project());
    for (const auto& e : manifest->entries()) blobs.add_digests(e.digest());
    MLC_ASSIGN_OR_RETURN(auto missing, index->FindMissingBlobs(blobs));
    if (missing.missing_digests_size() > 0) {
      return FailedPreconditionError("manifest " + r.manifest_digest() + " references " +
                                     std::to_string(missing.missing_digests_size()) +
                                     " blobs that are not stored (e.g. " +
                                     missing.missing_digests(0) + "); upload them first");
    }
    size_bytes = manifest->total_size_bytes();
  }
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  auto result = store->FinishUpload(r, size_bytes, Actor());
  WakeDeliverer(store);
  return OrProjectError(std::move(result), [&] { return CheckProjectExists(r.project()); });
}

Result<v1::ModelVersion> LocalBackend::GetModelVersion(const v1::GetModelVersionRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  return OrProjectError(store->GetVersion(r.project(), r.model(), r.version()),
                        [&] { return CheckProjectExists(r.project()); });
}

Result<v1::ListModelVersionsResponse> LocalBackend::ListModelVersions(
    const v1::ListModelVersionsRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  return OrProjectError(store->ListVersions(r), [&] { return CheckProjectExists(r.project()); });
}

Result<v1::ModelVersion> LocalBackend::ResolveModelUri(const v1::ResolveModelUriRequest& r) {
  MLC_ASSIGN_OR_RETURN(registry::ModelUri uri, registry::ParseModelUri(r.uri()));
  if (uri.project.empty()) uri.project = r.project();
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  // The project is only consulted to explain a miss: the hot path is one store lookup.
  return OrProjectError(store->Resolve(uri), [&] { return CheckProjectExists(uri.project); });
}

Result<v1::SetModelAliasResponse> LocalBackend::SetModelAlias(const v1::SetModelAliasRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  auto result = store->SetAlias(r, Actor());
  WakeDeliverer(store);
  return OrProjectError(std::move(result), [&] { return CheckProjectExists(r.project()); });
}

Result<v1::DeleteModelAliasResponse> LocalBackend::DeleteModelAlias(
    const v1::DeleteModelAliasRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  auto result = store->DeleteAlias(r, Actor());
  WakeDeliverer(store);
  return OrProjectError(std::move(result), [&] { return CheckProjectExists(r.project()); });
}

Result<v1::ModelVersionLineage> LocalBackend::GetModelVersionLineage(
    const v1::GetModelVersionLineageRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  MLC_ASSIGN_OR_RETURN(
      v1::ModelVersionLineage lineage,
      OrProjectError(store->Lineage(r.project(), r.model(), r.version(), r.depth()),
                     [&] { return CheckProjectExists(r.project()); }));
  // Display names, best effort: objects deleted since stay named by id.
  MLC_ASSIGN_OR_RETURN(TrackingStore * tracking, Tracking());
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  for (v1::ModelVersionLineage* level = &lineage; level != nullptr;
       level = level->has_parent() ? level->mutable_parent() : nullptr) {
    if (level->has_run()) {
      auto run = tracking->GetRun(level->run().id(), false);
      if (run.ok()) level->mutable_run()->set_display_name(run->name());
    }
    if (level->has_job()) {
      std::lock_guard lock(mu_);
      auto job = LoadJob(*db_, level->job().id());
      if (job.ok()) level->mutable_job()->set_display_name(job->job.spec().name());
    }
    if (level->has_artifact()) {
      auto artifact = index->GetArtifact(level->artifact().id());
      if (artifact.ok()) level->mutable_artifact()->set_display_name(artifact->path());
    }
  }
  return lineage;
}

Result<v1::ListModelVersionsBuiltFromResponse> LocalBackend::ListModelVersionsBuiltFrom(
    const v1::ListModelVersionsBuiltFromRequest& r) {
  if (!r.project().empty()) MLC_RETURN_IF_ERROR(CheckProjectExists(r.project()));
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  MLC_ASSIGN_OR_RETURN(auto response, store->BuiltFrom(r));
  if (response.versions_size() > 0 || !r.page_token().empty()) return response;
  // Nothing built from it: say so only when the object exists (a dataset is just a digest).
  const v1::ObjectRef& source = r.source();
  if (source.kind() == v1::OBJECT_KIND_RUN) {
    MLC_ASSIGN_OR_RETURN(TrackingStore * tracking, Tracking());
    MLC_RETURN_IF_ERROR(tracking->GetRun(source.id(), false).status());
  } else if (source.kind() == v1::OBJECT_KIND_JOB) {
    std::lock_guard lock(mu_);
    MLC_RETURN_IF_ERROR(LoadJob(*db_, source.id()).status());
  } else if (source.kind() == v1::OBJECT_KIND_ARTIFACT) {
    MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
    MLC_RETURN_IF_ERROR(index->GetArtifact(source.id()).status());
  }
  return response;
}

}  // namespace mlcore::local
