// The local backend's artifact store: blobs in `<state>/artifacts/` (artifacts::BlobStore) and
// the records — manifests, artifacts, their uses — in `<state>/artifacts.db`.
//
// Thread safety: all methods may be called concurrently; several processes may share the store.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "artifacts/blob_store.h"
#include "local/sqlite_store.h"
#include "mlcore/status.h"
#include "mlcore/v1/artifacts.pb.h"

namespace mlcore::local {

class ArtifactIndex {
 public:
  // Opens (creating) the store under `state_dir`.
  static Result<std::unique_ptr<ArtifactIndex>> Open(const std::string& state_dir);

  Result<v1::FindMissingBlobsResponse> FindMissingBlobs(const v1::FindMissingBlobsRequest& request);
  // Normalizes, checks every blob is stored, and records the manifest.
  Result<v1::Manifest> PutManifest(v1::Manifest manifest);
  Result<v1::Manifest> GetManifest(const v1::GetManifestRequest& request);
  // `artifact.project`, `owner` (checked by the caller) and `manifest_digest` are set.
  Result<v1::Artifact> CreateArtifact(const v1::Artifact& artifact);
  Result<v1::Artifact> GetArtifact(const std::string& id);
  Result<v1::ListArtifactsResponse> ListArtifacts(const v1::ListArtifactsRequest& request);
  Status DeleteArtifact(const std::string& id);
  Status RecordUse(const v1::RecordArtifactUseRequest& request);
  Result<v1::ArtifactLineage> GetLineage(const std::string& artifact_id);
  // Manifests in `referenced_elsewhere` (model versions') are live like those of artifacts.
  Result<v1::GarbageCollectionReport> CollectGarbage(
      const v1::CollectGarbageRequest& request,
      const std::set<std::string>& referenced_elsewhere = {});
  Result<v1::Manifest> UploadTree(const std::string& local_path,
                                  const std::function<bool(uint64_t, uint64_t)>& progress);
  Status DownloadTree(const v1::Manifest& manifest, const std::string& dest,
                      const std::string& only_path,
                      const std::function<bool(uint64_t, uint64_t)>& progress);
  // The blob store (owned by this index).
  artifacts::BlobStore& blobs() { return *blobs_; }
  // Path of a stored blob, for reading only. Errors: NOT_FOUND.
  Result<std::string> BlobPath(const std::string& digest) const { return blobs_->Open(digest); }

 private:
  ArtifactIndex(std::unique_ptr<sqlite::Db> db, std::unique_ptr<artifacts::BlobStore> blobs)
      : db_(std::move(db)), blobs_(std::move(blobs)) {}
  Result<v1::Manifest> LoadManifestLocked(const std::string& digest);
  Result<v1::Artifact> LoadArtifactLocked(const std::string& id);

  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  std::unique_ptr<artifacts::BlobStore> blobs_;
};

}  // namespace mlcore::local
