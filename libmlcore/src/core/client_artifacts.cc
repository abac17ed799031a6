// Client: ArtifactService calls and the upload/download conveniences built on them.
#include <filesystem>

#include "artifacts/blob_store.h"
#include "artifacts/manifest.h"
#include "core/validation.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "util/fs.h"

namespace mlcore {

Result<v1::ObjectRef> Client::ResolveOwner(const v1::ObjectRef& ref) {
  v1::ObjectRef out;
  out.set_kind(ref.kind());
  if (ref.id().empty()) return InvalidArgumentError("an artifact's owner needs an id");
  if (ref.kind() == v1::OBJECT_KIND_RUN) {
    MLC_ASSIGN_OR_RETURN(v1::Run run, GetRun(ref.id()));
    out.set_id(run.id());
    out.set_project(run.project());
    out.set_display_name(run.name());
  } else if (ref.kind() == v1::OBJECT_KIND_JOB) {
    MLC_ASSIGN_OR_RETURN(v1::Job job, GetJob(ref.id(), v1::JOB_VIEW_BASIC));
    out.set_id(job.id());
    out.set_project(job.spec().project());
    out.set_display_name(job.spec().name());
  } else {
    return InvalidArgumentError(
        "an artifact's owner is a run or a job (OBJECT_KIND_RUN or "
        "OBJECT_KIND_JOB)");
  }
  return out;
}

Result<v1::Artifact> Client::LogArtifact(const v1::ObjectRef& owner_ref,
                                         const std::string& local_path, const std::string& path,
                                         v1::ArtifactKind kind,
                                         const std::map<std::string, std::string>& labels,
                                         const ProgressFn& progress) {
  MLC_ASSIGN_OR_RETURN(v1::ObjectRef owner, ResolveOwner(owner_ref));
  if (local_path.empty()) return InvalidArgumentError("no local path to upload");
  std::string artifact_path = path;
  if (artifact_path.empty()) {
    artifact_path = std::filesystem::path(util::AbsolutePath(local_path)).filename().string();
  }
  MLC_RETURN_IF_ERROR(artifacts::ValidateEntryPath(artifact_path));
  MLC_ASSIGN_OR_RETURN(v1::Manifest manifest,
                       backend_->UploadTree(owner.project(), local_path, progress));
  v1::Artifact artifact;
  artifact.set_project(owner.project());
  *artifact.mutable_owner() = owner;
  artifact.set_path(artifact_path);
  artifact.set_kind(kind);
  artifact.set_manifest_digest(manifest.digest());
  artifact.set_created_by(util::CurrentUser());
  for (const auto& [k, v] : labels) (*artifact.mutable_labels())[k] = v;
  return backend_->CreateArtifact(artifact);
}

Result<v1::Manifest> Client::DownloadArtifact(const std::string& artifact_id,
                                              const std::string& dest, const std::string& only_path,
                                              const v1::ObjectRef& consumer,
                                              const ProgressFn& progress) {
  MLC_ASSIGN_OR_RETURN(v1::Artifact artifact, GetArtifact(artifact_id));
  if (!only_path.empty()) MLC_RETURN_IF_ERROR(artifacts::ValidateEntryPath(only_path));
  v1::GetManifestRequest get;
  get.set_project(artifact.project());
  get.set_digest(artifact.manifest_digest());
  get.set_path_prefix(only_path);
  MLC_ASSIGN_OR_RETURN(v1::Manifest manifest, backend_->GetManifest(get));
  if (dest.empty()) return InvalidArgumentError("no destination directory given");
  MLC_RETURN_IF_ERROR(
      backend_->DownloadTree(artifact.project(), manifest, dest, only_path, progress));
  if (consumer.kind() != v1::OBJECT_KIND_UNSPECIFIED) {
    v1::RecordArtifactUseRequest use;
    use.set_artifact_id(artifact.id());
    *use.mutable_consumer() = consumer;
    MLC_RETURN_IF_ERROR(backend_->RecordArtifactUse(use));
  }
  return manifest;
}

Result<v1::Artifact> Client::CreateArtifact(const v1::Artifact& request) {
  v1::Artifact artifact = request;
  MLC_ASSIGN_OR_RETURN(*artifact.mutable_owner(), ResolveOwner(request.owner()));
  artifact.set_project(artifact.owner().project());
  MLC_RETURN_IF_ERROR(artifacts::ValidateEntryPath(artifact.path()));
  MLC_RETURN_IF_ERROR(artifacts::ValidateDigest(artifact.manifest_digest()));
  if (artifact.created_by().empty()) artifact.set_created_by(util::CurrentUser());
  return backend_->CreateArtifact(artifact);
}

Result<v1::Artifact> Client::GetArtifact(std::string_view id) {
  if (id.empty()) return InvalidArgumentError("no artifact id given");
  return backend_->GetArtifact(std::string(id));
}

Result<v1::ListArtifactsResponse> Client::ListArtifacts(const v1::ListArtifactsRequest& request) {
  v1::ListArtifactsRequest r = request;
  if (r.has_owner() && r.owner().kind() != v1::OBJECT_KIND_UNSPECIFIED) {
    MLC_ASSIGN_OR_RETURN(*r.mutable_owner(), ResolveOwner(r.owner()));
    if (r.project().empty()) r.set_project(r.owner().project());
  }
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "listing artifacts"));
  r.set_project(project);
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(r.page_size()));
  r.set_page_size(page_size);
  return backend_->ListArtifacts(r);
}

Status Client::DeleteArtifact(std::string_view id) {
  if (id.empty()) return InvalidArgumentError("no artifact id given");
  return backend_->DeleteArtifact(std::string(id));
}

Status Client::RecordArtifactUse(const v1::RecordArtifactUseRequest& request) {
  if (request.artifact_id().empty() || request.consumer().kind() == v1::OBJECT_KIND_UNSPECIFIED ||
      request.consumer().id().empty()) {
    return InvalidArgumentError("a use names an artifact id and a consumer (kind and id)");
  }
  return backend_->RecordArtifactUse(request);
}

Result<v1::ArtifactLineage> Client::GetLineage(std::string_view artifact_id) {
  if (artifact_id.empty()) return InvalidArgumentError("no artifact id given");
  return backend_->GetLineage(std::string(artifact_id));
}

Result<v1::GarbageCollectionReport> Client::CollectGarbage(
    const v1::CollectGarbageRequest& request) {
  return backend_->CollectGarbage(request);
}

Result<v1::FindMissingBlobsResponse> Client::FindMissingBlobs(
    const v1::FindMissingBlobsRequest& request) {
  v1::FindMissingBlobsRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "blobs"));
  r.set_project(project);
  if (r.digests_size() > 10000) {
    return InvalidArgumentError("at most 10,000 digests per call, got " +
                                std::to_string(r.digests_size()));
  }
  for (const auto& d : r.digests()) MLC_RETURN_IF_ERROR(artifacts::ValidateDigest(d));
  return backend_->FindMissingBlobs(r);
}

Result<v1::Manifest> Client::PutManifest(const v1::PutManifestRequest& request) {
  v1::PutManifestRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "a manifest"));
  r.set_project(project);
  return backend_->PutManifest(r);
}

Result<v1::Manifest> Client::GetManifest(const v1::GetManifestRequest& request) {
  if (request.digest().empty() && request.artifact_id().empty()) {
    return InvalidArgumentError("a manifest is named by its digest or an artifact id");
  }
  if (!request.digest().empty()) MLC_RETURN_IF_ERROR(artifacts::ValidateDigest(request.digest()));
  return backend_->GetManifest(request);
}

}  // namespace mlcore
