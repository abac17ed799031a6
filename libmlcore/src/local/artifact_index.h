// The local backend's artifact store: blobs in `<state>/artifacts/` (artifacts::BlobStore) and
// the records — manifests, artifacts, their uses — in `<state>/artifacts.db`.
//
// Thread safety: all methods may be called concurrently; several processes may share the store.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "artifacts/blob_store.h"
#include "local/sqlite_store.h"
#include "mlcore/status.h"
#include "mlcore/v1/artifacts.pb.h"

namespace mlcore::local {

class ArtifactIndex {
 public:
  // Opens (creating) the store under `state_dir`.
  static Result<std::unique_ptr<ArtifactIndex>> Open(const std::string& state_dir);

  // Visibility: the blob store is shared (identical content is stored once), but a project reads
  // only the blobs and manifests recorded for it — uploaded by it, or shared with it by the engine
  // (a model version built from another project's artifact). Methods taking a project answer
  // content the project cannot see exactly like content that does not exist; an empty project is
  // the engine's own access and sees everything.

  // Digests not stored, or stored but not visible to `request.project` (to upload).
  Result<v1::FindMissingBlobsResponse> FindMissingBlobs(const v1::FindMissingBlobsRequest& request);
  // Normalizes, checks every blob is stored and visible to `project`, records the manifest and
  // makes it visible to `project`.
  Result<v1::Manifest> PutManifest(const std::string& project, v1::Manifest manifest);
  // By digest: NOT_FOUND unless visible to `request.project`. By artifact id: NOT_FOUND when
  // `request.project` is set and the artifact is another project's.
  Result<v1::Manifest> GetManifest(const v1::GetManifestRequest& request);
  // Makes `manifest` and every blob it references visible to `project` (no checks: the caller
  // has authorized access to the source).
  Status Share(const std::string& project, const v1::Manifest& manifest);
  // Makes one blob visible to `project` (after `project` uploaded its bytes).
  Status ShareBlob(const std::string& project, const std::string& digest);
  Result<bool> Visible(const std::string& project, const std::string& digest);
  // Stores from before visibility records: model versions' manifests are made visible to their
  // projects once, by the backend that can read the registry.
  bool NeedsVersionBackfill();
  Status BackfillVersions(
      const std::vector<std::pair<std::string, std::string>>& project_manifests);
  // `artifact.project`, `owner` (checked by the caller) and `manifest_digest` (visible to the
  // project) are set.
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
  // Stores the files of `local_path` and their manifest, all visible to `project`.
  Result<v1::Manifest> UploadTree(const std::string& project, const std::string& local_path,
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
  Status ShareLocked(const std::string& project, const v1::Manifest& manifest);
  Result<bool> VisibleLocked(const std::string& project, const std::string& digest);
  Status BackfillArtifacts();
  Status ForgetCollected();

  std::mutex mu_;
  std::atomic<bool> versions_backfilled_{false};
  std::unique_ptr<sqlite::Db> db_;
  std::unique_ptr<artifacts::BlobStore> blobs_;
};

}  // namespace mlcore::local
