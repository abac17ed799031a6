// ArtifactService and DataService of the local backend: project and owner checks against mlcore.db
// and tracking.db, then the artifact index (artifacts.db + the blob store) does the work.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <sys/stat.h>

#include "artifacts/io.h"
#include "local/artifact_index.h"
#include "local/job_store.h"
#include "local/local_backend.h"
#include "local/registry_store.h"
#include "util/sha256.h"

namespace mlcore::local {

Result<ArtifactIndex*> LocalBackend::Artifacts() {
  ArtifactIndex* index = nullptr;
  {
    std::lock_guard lock(tracking_mu_);
    if (!artifacts_) {
      MLC_ASSIGN_OR_RETURN(artifacts_, ArtifactIndex::Open(dir_));
    }
    index = artifacts_.get();
  }
  if (index->NeedsVersionBackfill()) {
    // A store from before per-project visibility: model versions' files become visible to the
    // versions' projects (once; the index derives its artifacts' records itself).
    MLC_ASSIGN_OR_RETURN(RegistryStore * registry, Registry());
    MLC_ASSIGN_OR_RETURN(auto versions, registry->VersionManifests());
    MLC_RETURN_IF_ERROR(index->BackfillVersions(versions));
  }
  return index;
}

namespace {

// Upload ids are chosen by clients, so the store keeps each project's apart: another project
// naming the same id neither resumes nor reads this one.
std::string StoreUploadId(const std::string& project, const std::string& upload_id) {
  return "p" + util::Sha256Hex(project + '\n' + upload_id).substr(0, 40);
}

// The store's words about an upload, with the client's id in place of the store's.
Status ClientWords(Status s, const std::string& store_id, const std::string& upload_id) {
  if (s.ok()) return s;
  std::string message = s.message();
  for (size_t at = message.find(store_id); at != std::string::npos;
       at = message.find(store_id, at + upload_id.size())) {
    message.replace(at, store_id.size(), upload_id);
  }
  return Status(s.code(), message);
}

}  // namespace

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
  return index->PutManifest(request.project(), std::move(m));
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
  MLC_ASSIGN_OR_RETURN(auto versions, registry->VersionManifests());
  std::set<std::string> live;
  for (const auto& [project, digest] : versions) live.insert(digest);
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->CollectGarbage(request, live);
}

Result<v1::Manifest> LocalBackend::UploadTree(
    const std::string& project, const std::string& local_path,
    const std::function<bool(uint64_t, uint64_t)>& progress) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(project));
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->UploadTree(project, local_path, progress);
}

Status LocalBackend::DownloadTree(const std::string& /*project*/, const v1::Manifest& manifest,
                                  const std::string& dest, const std::string& only_path,
                                  const std::function<bool(uint64_t, uint64_t)>& progress) {
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  return index->DownloadTree(manifest, dest, only_path, progress);
}

// --- Blob transfer ------------------------------------------------------------------------------

Result<int64_t> LocalBackend::BeginBlobUpload(const v1::UploadBlobHeader& header) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(header.project()));
  if (!artifacts::ValidUploadId(header.upload_id())) {
    return InvalidArgumentError("malformed upload id \"" + header.upload_id().substr(0, 140) +
                                "\": choose 1 to 128 of [A-Za-z0-9_-] (a UUID), and resume "
                                "with the same id");
  }
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  artifacts::UploadOptions options;
  options.upload_id = StoreUploadId(header.project(), header.upload_id());
  options.expected_digest = header.digest();
  if (header.has_size_bytes()) {
    if (header.size_bytes() < 0) return InvalidArgumentError("upload size_bytes is negative");
    options.expected_size = static_cast<uint64_t>(header.size_bytes());
  }
  auto begun = index->blobs().BeginUpload(options);
  MLC_RETURN_IF_ERROR(ClientWords(begun.status(), options.upload_id, header.upload_id()));
  auto state = index->blobs().UploadStatus(*begun);
  MLC_RETURN_IF_ERROR(ClientWords(state.status(), options.upload_id, header.upload_id()));
  return static_cast<int64_t>(state->committed_bytes);
}

Result<int64_t> LocalBackend::AppendBlobUpload(const std::string& project,
                                               const std::string& upload_id, int64_t offset,
                                               std::string_view bytes) {
  if (offset < 0) return InvalidArgumentError("upload offset is negative");
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  const std::string id = StoreUploadId(project, upload_id);
  auto committed = index->blobs().Append(id, static_cast<uint64_t>(offset), bytes);
  MLC_RETURN_IF_ERROR(ClientWords(committed.status(), id, upload_id));
  return static_cast<int64_t>(*committed);
}

Result<v1::UploadBlobResponse> LocalBackend::CommitBlobUpload(const std::string& project,
                                                              const std::string& upload_id) {
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  const std::string id = StoreUploadId(project, upload_id);
  auto info = index->blobs().Commit(id);
  MLC_RETURN_IF_ERROR(ClientWords(info.status(), id, upload_id));
  // The project sent the bytes: it may read the blob, stored before or not.
  MLC_RETURN_IF_ERROR(index->ShareBlob(project, info->digest));
  v1::UploadBlobResponse out;
  out.set_digest(info->digest);
  out.set_committed_bytes(static_cast<int64_t>(info->size));
  out.set_already_existed(info->existed);
  return out;
}

Result<v1::GetUploadStatusResponse> LocalBackend::GetUploadStatus(
    const v1::GetUploadStatusRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  const std::string id = StoreUploadId(request.project(), request.upload_id());
  auto state = index->blobs().UploadStatus(id);
  MLC_RETURN_IF_ERROR(ClientWords(state.status(), id, request.upload_id()));
  v1::GetUploadStatusResponse out;
  out.set_committed_bytes(static_cast<int64_t>(state->committed_bytes));
  out.mutable_expire_time()->set_seconds(state->expire_time);
  return out;
}

Status LocalBackend::ReadBlob(const v1::DownloadBlobRequest& request,
                              const std::function<bool(const v1::DownloadBlobResponse&)>& sink) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_RETURN_IF_ERROR(artifacts::ValidateDigest(request.digest()));
  if (request.offset() < 0 || request.length() < 0) {
    return InvalidArgumentError("blob offset and length must not be negative");
  }
  MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, Artifacts());
  MLC_ASSIGN_OR_RETURN(bool visible, index->Visible(request.project(), request.digest()));
  // Stored for other projects only: the same words as a blob nothing has.
  if (!visible) return NotFoundError("blob " + request.digest() + " not found");
  MLC_ASSIGN_OR_RETURN(std::string path, index->blobs().Open(request.digest()));
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return artifacts::IoError(errno, "cannot open blob " + request.digest());
  artifacts::FdCloser closer(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0) return artifacts::IoError(errno, "cannot stat blob " + path);
  const auto size = static_cast<int64_t>(st.st_size);
  if (request.offset() > size) {
    return OutOfRangeError("offset " + std::to_string(request.offset()) +
                           " is past the end of blob " + request.digest() + " (" +
                           std::to_string(size) + " bytes)");
  }
  int64_t end = request.length() == 0 ? size : std::min(size, request.offset() + request.length());
  posix_fadvise(fd, request.offset(), end - request.offset(), POSIX_FADV_SEQUENTIAL);
  v1::DownloadBlobResponse chunk;
  chunk.set_size_bytes(size);
  int64_t at = request.offset();
  std::string* data = chunk.mutable_data();
  do {
    auto want = static_cast<size_t>(std::min<int64_t>(end - at, artifacts::kChunkSize));
    data->resize(want);
    ssize_t n = want == 0 ? 0 : pread(fd, data->data(), want, at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return artifacts::IoError(errno, "cannot read blob " + path);
    }
    if (n == 0 && want > 0) return DataLossError("blob " + request.digest() + " is truncated");
    data->resize(static_cast<size_t>(n));
    chunk.set_offset(at);
    at += n;
    if (!sink(chunk)) return Status::Ok();
    chunk.clear_size_bytes();
  } while (at < end);
  return Status::Ok();
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

Status LocalBackend::ReadData(const v1::ReadDataRequest& request,
                              const std::function<bool(const v1::ReadDataResponse&)>& sink) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(LocalDataService * data, Data());
  return data->Read(request, sink);
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
