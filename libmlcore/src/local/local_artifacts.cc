// ArtifactService and DataService of the local backend: project and owner checks against mlcore.db
// and tracking.db, then the artifact index (artifacts.db + the blob store) does the work.
#include "local/artifact_index.h"
#include "local/job_store.h"
#include "local/local_backend.h"

namespace mlcore::local {

Result<ArtifactIndex*> LocalBackend::Artifacts() {
  std::lock_guard lock(tracking_mu_);
  if (!artifacts_) {
    MLC_ASSIGN_OR_RETURN(artifacts_, ArtifactIndex::Open(dir_));
  }
  return artifacts_.get();
}

Status LocalBackend::CheckOwner(const v1::ObjectRef& owner, const std::string& project) {
  if (owner.kind() == v1::OBJECT_KIND_RUN) {
    MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
    MLC_ASSIGN_OR_RETURN(v1::Run run, store->GetRun(owner.id(), false));
    if (run.project() != project) {
      return FailedPreconditionError("run " + run.id() + " belongs to project " + run.project() +
                                     ", not " + project);
    }
    return Status::Ok();
  }
  if (owner.kind() == v1::OBJECT_KIND_JOB) {
    std::lock_guard lock(mu_);
    MLC_ASSIGN_OR_RETURN(auto job, LoadJob(*db_, owner.id()));
    if (job.job.spec().project() != project) {
      return FailedPreconditionError("job " + owner.id() + " belongs to project " +
                                     job.job.spec().project() + ", not " + project);
    }
    return Status::Ok();
  }
  return InvalidArgumentError("an artifact's owner is a run or a job");
}

Result<v1::FindMissingBlobsResponse> LocalBackend::FindMissingBlobs(
    const v1::FindMissingBlobsRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->FindMissingBlobs(request);
}

Result<v1::Manifest> LocalBackend::PutManifest(const v1::PutManifestRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  v1::Manifest m;
  *m.mutable_entries() = request.entries();
  return index->PutManifest(std::move(m));
}

Result<v1::Manifest> LocalBackend::GetManifest(const v1::GetManifestRequest& request) {
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->GetManifest(request);
}

Result<v1::Artifact> LocalBackend::CreateArtifact(const v1::Artifact& artifact) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(artifact.project()));
  MLC_RETURN_IF_ERROR(CheckOwner(artifact.owner(), artifact.project()));
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->CreateArtifact(artifact);
}

Result<v1::Artifact> LocalBackend::GetArtifact(const std::string& id) {
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->GetArtifact(id);
}

Result<v1::ListArtifactsResponse> LocalBackend::ListArtifacts(
    const v1::ListArtifactsRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->ListArtifacts(request);
}

Status LocalBackend::DeleteArtifact(const std::string& id) {
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->DeleteArtifact(id);
}

Status LocalBackend::RecordArtifactUse(const v1::RecordArtifactUseRequest& request) {
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->RecordUse(request);
}

Result<v1::ArtifactLineage> LocalBackend::GetLineage(const std::string& artifact_id) {
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->GetLineage(artifact_id);
}

Result<v1::GarbageCollectionReport> LocalBackend::CollectGarbage(
    const v1::CollectGarbageRequest& request) {
  // Model versions reference manifests no artifact may hold (uploads, sub-paths): keep them.
  MLC_ASSIGN_OR_RETURN(RegistryStore * registry, Registry());
  MLC_ASSIGN_OR_RETURN(std::vector<std::string> versions, registry->ManifestDigests());
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->CollectGarbage(request, std::set<std::string>(versions.begin(), versions.end()));
}

Result<v1::Manifest> LocalBackend::UploadTree(
    const std::string& project, const std::string& local_path,
    const std::function<bool(uint64_t, uint64_t)>& progress) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(project));
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->UploadTree(local_path, progress);
}

Status LocalBackend::DownloadTree(const std::string& /*project*/, const v1::Manifest& manifest,
                                  const std::string& dest, const std::string& only_path,
                                  const std::function<bool(uint64_t, uint64_t)>& progress) {
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->DownloadTree(manifest, dest, only_path, progress);
}

// --- DataService -------------------------------------------------------------------------------

Result<LocalDataService*> LocalBackend::Data() {
  {
    std::lock_guard lock(tracking_mu_);
    if (data_) return data_.get();
  }
  auto opened = LocalDataService::Open(
      dir_, [this] { return Artifacts(); }, [this] { return Registry(); });
  std::lock_guard lock(tracking_mu_);
  if (!data_) {
    MLC_ASSIGN_OR_RETURN(data_, std::move(opened));
  }
  return data_.get();
}

Result<v1::LoadResponse> LocalBackend::LoadData(
    const v1::LoadRequest& request, const std::function<bool(uint64_t, uint64_t)>& progress) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(LocalDataService * data, Data());
  return data->Load(request, progress);
}

Result<v1::ListCacheEntriesResponse> LocalBackend::ListCacheEntries(
    const v1::ListCacheEntriesRequest& request) {
  if (!request.project().empty()) MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(LocalDataService * data, Data());
  return data->List(request);
}

Result<v1::CacheEntry> LocalBackend::PinData(const v1::PinRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(LocalDataService * data, Data());
  return data->Pin(request);
}

Result<v1::CacheEntry> LocalBackend::UnpinData(const v1::UnpinRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(LocalDataService * data, Data());
  return data->Unpin(request);
}

Result<v1::EvictResponse> LocalBackend::EvictData(const v1::EvictRequest& request) {
  MLC_ASSIGN_OR_RETURN(LocalDataService * data, Data());
  return data->Evict(request);
}

Result<v1::PrefetchResponse> LocalBackend::PrefetchData(const v1::PrefetchRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(LocalDataService * data, Data());
  return data->Prefetch(request);
}

Result<v1::CacheStats> LocalBackend::GetCacheStats() {
  MLC_ASSIGN_OR_RETURN(LocalDataService * data, Data());
  return data->Stats();
}

}  // namespace mlcore::local
