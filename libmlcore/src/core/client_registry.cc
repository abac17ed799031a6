// Client: RegistryService calls. Validation lives here so every backend and surface reports the
// same errors; backends receive resolved projects, well-formed names and source ids.
#include <cctype>

#include "artifacts/blob_store.h"
#include "artifacts/manifest.h"
#include "core/validation.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "registry/model_filter.h"
#include "registry/model_uri.h"
#include "util/ids.h"

namespace mlcore {
namespace {

// Tag keys: 1-250 characters of letters, digits and "_-./ " (as tracking's).
Status ValidateTagKey(std::string_view key) {
  bool ok = !key.empty() && key.size() <= 250;
  for (char c : key) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
                c == '/' || c == ' ');
  }
  if (!ok) {
    return InvalidArgumentError("model tag key \"" + std::string(key.substr(0, 60)) +
                                "\" is invalid; keys are 1-250 characters of letters, digits and "
                                "_ - . / and space");
  }
  return Status::Ok();
}

Status ValidateExpectedVersion(int64_t expected_version) {
  if (expected_version < 0) {
    return InvalidArgumentError("expected_version " + std::to_string(expected_version) +
                                " is negative; pass the model's resource_version, or 0");
  }
  return Status::Ok();
}

Status ValidateVersionNumber(int64_t version) {
  if (version < 1) {
    return InvalidArgumentError("version " + std::to_string(version) +
                                " is out of range; versions are numbered from 1");
  }
  return Status::Ok();
}

// An alias to set or delete: a valid name, and not the reserved "latest".
Status ValidateSettableAlias(std::string_view alias) {
  MLC_RETURN_IF_ERROR(registry::ValidateAliasName(alias));
  if (alias == registry::kLatestAlias) {
    return InvalidArgumentError(
        "alias \"latest\" is reserved: it always resolves to the highest "
        "READY version and cannot be set or deleted");
  }
  return Status::Ok();
}

}  // namespace

Result<v1::RegisteredModel> Client::CreateRegisteredModel(const v1::RegisteredModel& model) {
  v1::RegisteredModel m;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(model.project(), "a model"));
  m.set_project(project);
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(model.name()));
  m.set_name(model.name());
  m.set_description(model.description());
  for (const auto& [k, v] : model.tags()) {
    MLC_RETURN_IF_ERROR(ValidateTagKey(k));
    (*m.mutable_tags())[k] = v;
  }
  return backend_->CreateRegisteredModel(m);  // output-only fields are not passed on
}

Result<v1::RegisteredModel> Client::GetRegisteredModel(const v1::GetRegisteredModelRequest& r) {
  v1::GetRegisteredModelRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "a model"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.name()));
  return backend_->GetRegisteredModel(req);
}

Result<v1::ListRegisteredModelsResponse> Client::ListRegisteredModels(
    const v1::ListRegisteredModelsRequest& r) {
  v1::ListRegisteredModelsRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "listing models"));
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(r.page_size()));
  req.set_page_size(page_size);
  // Syntax errors are reported here, the same for every backend.
  MLC_RETURN_IF_ERROR(registry::ModelFilter::Parse(req.filter()).status());
  std::vector<std::string> order_by(req.order_by().begin(), req.order_by().end());
  MLC_RETURN_IF_ERROR(registry::ModelOrder::Parse(order_by).status());
  return backend_->ListRegisteredModels(req);
}

Result<v1::RegisteredModel> Client::UpdateRegisteredModel(
    const v1::UpdateRegisteredModelRequest& r) {
  v1::UpdateRegisteredModelRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "a model"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.name()));
  for (const auto& [k, v] : req.set_tags()) MLC_RETURN_IF_ERROR(ValidateTagKey(k));
  for (const auto& k : req.remove_tags()) MLC_RETURN_IF_ERROR(ValidateTagKey(k));
  MLC_RETURN_IF_ERROR(ValidateExpectedVersion(req.expected_version()));
  return backend_->UpdateRegisteredModel(req);
}

Result<v1::RegisteredModel> Client::RenameRegisteredModel(
    const v1::RenameRegisteredModelRequest& r) {
  v1::RenameRegisteredModelRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "a model"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.name()));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.new_name()).WithContext("new name"));
  MLC_RETURN_IF_ERROR(ValidateExpectedVersion(req.expected_version()));
  return backend_->RenameRegisteredModel(req);
}

Status Client::DeleteRegisteredModel(const v1::DeleteRegisteredModelRequest& r) {
  v1::DeleteRegisteredModelRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "a model"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.name()));
  MLC_RETURN_IF_ERROR(ValidateExpectedVersion(req.expected_version()));
  return backend_->DeleteRegisteredModel(req);
}

Result<v1::ModelVersion> Client::CreateModelVersion(const v1::CreateModelVersionRequest& r) {
  v1::CreateModelVersionRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "a model version"));
  const std::string& project = req.project();
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.model()));
  MLC_RETURN_IF_ERROR(ValidateExpectedVersion(req.expected_version()));
  v1::ModelVersionSource* source = req.mutable_source();
  switch (source->kind()) {
    case v1::MODEL_SOURCE_KIND_RUN_ARTIFACT: {
      if (source->run_id().empty()) {
        return InvalidArgumentError("a RUN_ARTIFACT source names its run (run_id)");
      }
      if (!util::LooksLikeHexId(source->run_id(), "r")) {  // a run name, unique in the project
        v1::SearchRunsRequest search;
        search.set_project(project);
        std::string quoted;
        for (char c : source->run_id()) {
          if (c == '"' || c == '\\') quoted += '\\';
          quoted += c;
        }
        search.set_filter("name = \"" + quoted + "\"");
        search.set_page_size(2);
        MLC_ASSIGN_OR_RETURN(auto found, backend_->SearchRuns(search));
        if (found.runs_size() != 1) {
          return (found.runs_size() == 0
                      ? NotFoundError("source run \"" + source->run_id() +
                                      "\" does not exist in project " + project)
                      : InvalidArgumentError("several runs of project " + project +
                                             " are named \"" + source->run_id() +
                                             "\"; name the source run by id"));
        }
        source->set_run_id(found.runs(0).id());
      }
      break;
    }
    case v1::MODEL_SOURCE_KIND_JOB_OUTPUT: {
      if (source->job_id().empty()) {
        return InvalidArgumentError("a JOB_OUTPUT source names its job (job_id)");
      }
      v1::GetJobRequest get;
      get.set_id(source->job_id());
      get.set_project(project);
      get.set_view(v1::JOB_VIEW_BASIC);
      auto job = backend_->GetJob(get);
      if (!job.ok()) return job.status().WithContext("source job");
      source->set_job_id(job->id());
      break;
    }
    case v1::MODEL_SOURCE_KIND_ARTIFACT:
      if (source->artifact_id().empty()) {
        return InvalidArgumentError("an ARTIFACT source names its artifact (artifact_id)");
      }
      break;
    case v1::MODEL_SOURCE_KIND_UPLOAD:
      break;  // `path` is the client's directory, recorded for information only
    default:
      return InvalidArgumentError(
          "a version's source needs a kind: RUN_ARTIFACT (run_id, path), "
          "JOB_OUTPUT (job_id, path), ARTIFACT (artifact_id, path) or "
          "UPLOAD");
  }
  if (source->kind() != v1::MODEL_SOURCE_KIND_UPLOAD && !source->path().empty()) {
    MLC_RETURN_IF_ERROR(artifacts::ValidateEntryPath(source->path()).WithContext("source path"));
  }
  for (const auto& [k, v] : req.metrics()) MLC_RETURN_IF_ERROR(ValidateMetricKey(k));
  for (const auto& d : req.input_datasets()) {
    if (d.uri().empty()) return InvalidArgumentError("an input dataset needs a uri");
    if (!d.digest().empty()) {
      MLC_RETURN_IF_ERROR(
          artifacts::ValidateDigest(d.digest()).WithContext("input dataset " + d.uri()));
    }
  }
  if (req.has_parent_model_version() && !req.parent_model_version().id().empty()) {
    v1::ObjectRef* parent = req.mutable_parent_model_version();
    if (parent->kind() != v1::OBJECT_KIND_MODEL_VERSION) {
      return InvalidArgumentError(
          "parent_model_version is a reference of kind MODEL_VERSION "
          "with id \"MODEL/VERSION\"");
    }
    std::string name;
    int64_t number = 0;
    MLC_RETURN_IF_ERROR(registry::ParseVersionRefId(parent->id(), &name, &number));
    if (parent->project().empty()) parent->set_project(project);
    MLC_RETURN_IF_ERROR(ValidateProjectName(parent->project()));
  } else {
    req.clear_parent_model_version();
  }
  return backend_->CreateModelVersion(req);
}

Result<v1::ModelVersion> Client::FinishModelVersionUpload(
    const v1::FinishModelVersionUploadRequest& r) {
  v1::FinishModelVersionUploadRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "a model version"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.model()));
  MLC_RETURN_IF_ERROR(ValidateVersionNumber(req.version()));
  switch (req.outcome_case()) {
    case v1::FinishModelVersionUploadRequest::kManifestDigest:
      MLC_RETURN_IF_ERROR(artifacts::ValidateDigest(req.manifest_digest()));
      break;
    case v1::FinishModelVersionUploadRequest::kFailureMessage:
      if (req.failure_message().empty()) {
        return InvalidArgumentError("failure_message is empty; say why the upload failed");
      }
      break;
    default:
      return InvalidArgumentError(
          "finishing an upload needs its outcome: manifest_digest (the "
          "version becomes READY) or failure_message (FAILED)");
  }
  return backend_->FinishModelVersionUpload(req);
}

Result<v1::ModelVersion> Client::GetModelVersion(const v1::GetModelVersionRequest& r) {
  v1::GetModelVersionRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "a model version"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.model()));
  MLC_RETURN_IF_ERROR(ValidateVersionNumber(req.version()));
  return backend_->GetModelVersion(req);
}

Result<v1::ListModelVersionsResponse> Client::ListModelVersions(
    const v1::ListModelVersionsRequest& r) {
  v1::ListModelVersionsRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "model versions"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.model()));
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(r.page_size()));
  req.set_page_size(page_size);
  for (int s : req.statuses()) {
    if (s == v1::MODEL_VERSION_STATUS_UNSPECIFIED || !v1::ModelVersionStatus_IsValid(s)) {
      return InvalidArgumentError("statuses: " + std::to_string(s) +
                                  " is not a version status (PENDING_UPLOAD, READY, FAILED)");
    }
  }
  return backend_->ListModelVersions(req);
}

Result<v1::ModelVersion> Client::ResolveModelUri(const v1::ResolveModelUriRequest& r) {
  MLC_ASSIGN_OR_RETURN(registry::ModelUri uri, registry::ParseModelUri(r.uri()));
  v1::ResolveModelUriRequest req = r;
  if (uri.project.empty()) {
    MLC_ASSIGN_OR_RETURN(*req.mutable_project(),
                         ProjectOrDefault(r.project(), "a model URI without a project"));
  }
  return backend_->ResolveModelUri(req);
}

Result<v1::SetModelAliasResponse> Client::SetModelAlias(const v1::SetModelAliasRequest& r) {
  v1::SetModelAliasRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "a model alias"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.model()));
  MLC_RETURN_IF_ERROR(ValidateSettableAlias(req.alias()));
  MLC_RETURN_IF_ERROR(ValidateVersionNumber(req.version()));
  MLC_RETURN_IF_ERROR(ValidateExpectedVersion(req.expected_version()));
  return backend_->SetModelAlias(req);
}

Result<v1::DeleteModelAliasResponse> Client::DeleteModelAlias(
    const v1::DeleteModelAliasRequest& r) {
  v1::DeleteModelAliasRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "a model alias"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.model()));
  MLC_RETURN_IF_ERROR(ValidateSettableAlias(req.alias()));
  MLC_RETURN_IF_ERROR(ValidateExpectedVersion(req.expected_version()));
  return backend_->DeleteModelAlias(req);
}

Result<v1::ModelVersionLineage> Client::GetModelVersionLineage(
    const v1::GetModelVersionLineageRequest& r) {
  v1::GetModelVersionLineageRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "lineage"));
  MLC_RETURN_IF_ERROR(registry::ValidateModelName(req.model()));
  MLC_RETURN_IF_ERROR(ValidateVersionNumber(req.version()));
  if (req.depth() < 0 || req.depth() > 100) {
    return InvalidArgumentError("depth " + std::to_string(req.depth()) +
                                " is out of range; use 1..100 (or 0 for the default of 10)");
  }
  if (req.depth() == 0) req.set_depth(10);
  return backend_->GetModelVersionLineage(req);
}

Result<v1::ListModelVersionsBuiltFromResponse> Client::ListModelVersionsBuiltFrom(
    const v1::ListModelVersionsBuiltFromRequest& r) {
  v1::ListModelVersionsBuiltFromRequest req = r;
  if (!req.project().empty()) MLC_RETURN_IF_ERROR(ValidateProjectName(req.project()));
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(r.page_size()));
  req.set_page_size(page_size);
  v1::ObjectRef* source = req.mutable_source();
  if (source->id().empty()) {
    return InvalidArgumentError("name the upstream object: source kind and id");
  }
  switch (source->kind()) {
    case v1::OBJECT_KIND_RUN:
    case v1::OBJECT_KIND_JOB:
    case v1::OBJECT_KIND_ARTIFACT:
      break;
    case v1::OBJECT_KIND_DATASET:
      MLC_RETURN_IF_ERROR(artifacts::ValidateDigest(source->id()).WithContext("dataset"));
      break;
    case v1::OBJECT_KIND_MODEL_VERSION: {
      std::string name;
      int64_t number = 0;
      MLC_RETURN_IF_ERROR(registry::ParseVersionRefId(source->id(), &name, &number));
      if (source->project().empty()) {
        MLC_ASSIGN_OR_RETURN(*source->mutable_project(),
                             ProjectOrDefault(req.project(), "a model version reference"));
      }
      MLC_RETURN_IF_ERROR(ValidateProjectName(source->project()));
      break;
    }
    default:
      return InvalidArgumentError(
          "versions are built from a RUN, JOB, DATASET (by digest), "
          "ARTIFACT or MODEL_VERSION, not " +
          v1::ObjectKind_Name(source->kind()));
  }
  return backend_->ListModelVersionsBuiltFrom(req);
}

}  // namespace mlcore
