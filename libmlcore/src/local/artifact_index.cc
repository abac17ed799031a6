#include "local/artifact_index.h"

#include <filesystem>
#include <set>
#include <sys/stat.h>

#include <google/protobuf/util/time_util.h>

#include "artifacts/gc.h"
#include "artifacts/manifest.h"
#include "core/page_token.h"
#include "local/job_store.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/sha256.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

const std::vector<sqlite::Migration>& Migrations() {
  static const std::vector<sqlite::Migration> kMigrations = {
      {1, R"sql(
        CREATE TABLE manifests (
          digest TEXT PRIMARY KEY,
          create_us INTEGER NOT NULL,
          body BLOB NOT NULL  -- serialized mlcore.v1.Manifest
        );
        CREATE TABLE artifacts (
          id TEXT PRIMARY KEY,
          project TEXT NOT NULL,
          owner_kind INTEGER NOT NULL,
          owner_id TEXT NOT NULL,
          path TEXT NOT NULL,
          manifest_digest TEXT NOT NULL REFERENCES manifests(digest),
          create_us INTEGER NOT NULL,
          body BLOB NOT NULL,  -- serialized mlcore.v1.Artifact
          UNIQUE (owner_kind, owner_id, path)
        );
        CREATE INDEX artifacts_project ON artifacts(project, create_us);
        CREATE TABLE artifact_uses (
          artifact_id TEXT NOT NULL,
          consumer_kind INTEGER NOT NULL,
          consumer_id TEXT NOT NULL,
          consumer BLOB NOT NULL,  -- serialized mlcore.v1.ObjectRef
          use_us INTEGER NOT NULL,
          PRIMARY KEY (artifact_id, consumer_kind, consumer_id)
        ) WITHOUT ROWID;
      )sql"},
      // Which blobs and manifests each project may read: the store is shared (identical files are
      // kept once), but a project sees only content it uploaded or was given, so knowing a
      // digest is not enough to read another project's files. `backfill` marks the records an
      // older store still has to derive from its artifacts and model versions.
      {2, R"sql(
        CREATE TABLE project_digests (
          project TEXT NOT NULL,
          digest TEXT NOT NULL,
          PRIMARY KEY (project, digest)
        ) WITHOUT ROWID;
        CREATE INDEX project_digests_digest ON project_digests(digest);
        CREATE TABLE backfill (what TEXT PRIMARY KEY) WITHOUT ROWID;
        INSERT INTO backfill(what) SELECT 'artifacts' WHERE EXISTS (SELECT 1 FROM artifacts);
        INSERT INTO backfill(what) SELECT 'versions' WHERE EXISTS (SELECT 1 FROM manifests);
      )sql"},
  };
  return kMigrations;
}

std::string OwnerText(const v1::ObjectRef& ref) {
  return (ref.kind() == v1::OBJECT_KIND_RUN ? "run " : "job ") + ref.id();
}

}  // namespace

Result<std::unique_ptr<ArtifactIndex>> ArtifactIndex::Open(const std::string& state_dir) {
  MLC_ASSIGN_OR_RETURN(auto blobs, artifacts::BlobStore::Create(state_dir + "/artifacts"));
  MLC_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(state_dir + "/artifacts.db", Migrations()));
  std::unique_ptr<ArtifactIndex> index(new ArtifactIndex(std::move(db), std::move(blobs)));
  MLC_RETURN_IF_ERROR(index->BackfillArtifacts());
  return index;
}

// --- Which project sees what -------------------------------------------------------------------

Status ArtifactIndex::ShareLocked(const std::string& project, const v1::Manifest& manifest) {
  MLC_ASSIGN_OR_RETURN(auto put, db_->Prepare("INSERT OR IGNORE INTO project_digests(project, "
                                              "digest) VALUES (?, ?)"));
  auto one = [&](const std::string& digest) -> Status {
    put.Bind(1, project).Bind(2, digest);
    Status s = put.Run();
    put.Reset();
    return s;
  };
  if (!manifest.digest().empty()) MLC_RETURN_IF_ERROR(one(manifest.digest()));
  for (const auto& e : manifest.entries()) MLC_RETURN_IF_ERROR(one(e.digest()));
  return Status::Ok();
}

Status ArtifactIndex::Share(const std::string& project, const v1::Manifest& manifest) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_RETURN_IF_ERROR(ShareLocked(project, manifest));
  return txn.Commit();
}

Status ArtifactIndex::ShareBlob(const std::string& project, const std::string& digest) {
  v1::ManifestEntry entry;
  entry.set_digest(digest);
  v1::Manifest one;
  *one.add_entries() = entry;
  std::lock_guard lock(mu_);
  return ShareLocked(project, one);
}

Result<bool> ArtifactIndex::VisibleLocked(const std::string& project, const std::string& digest) {
  if (project.empty()) return true;  // the engine's own reads
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT 1 FROM project_digests WHERE project = ? "
                                                 "AND digest = ?"));
  select.Bind(1, project).Bind(2, digest);
  return select.Step();
}

Result<bool> ArtifactIndex::Visible(const std::string& project, const std::string& digest) {
  std::lock_guard lock(mu_);
  return VisibleLocked(project, digest);
}

Status ArtifactIndex::BackfillArtifacts() {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto pending,
                       db_->Prepare("SELECT 1 FROM backfill WHERE what = 'artifacts'"));
  MLC_ASSIGN_OR_RETURN(bool todo, pending.Step());
  if (!todo) return Status::Ok();
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT DISTINCT project, manifest_digest FROM "
                                                 "artifacts"));
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    auto m = LoadManifestLocked(select.ColumnText(1));
    if (m.ok()) MLC_RETURN_IF_ERROR(ShareLocked(select.ColumnText(0), *m));
  }
  MLC_ASSIGN_OR_RETURN(auto done, db_->Prepare("DELETE FROM backfill WHERE what = 'artifacts'"));
  MLC_RETURN_IF_ERROR(done.Run());
  return txn.Commit();
}

bool ArtifactIndex::NeedsVersionBackfill() {
  if (versions_backfilled_.load()) return false;
  std::lock_guard lock(mu_);
  auto pending = db_->Prepare("SELECT 1 FROM backfill WHERE what = 'versions'");
  if (!pending.ok()) return true;
  auto todo = pending->Step();
  if (todo.ok() && !*todo) versions_backfilled_ = true;
  return !todo.ok() || *todo;
}

Status ArtifactIndex::BackfillVersions(
    const std::vector<std::pair<std::string, std::string>>& project_manifests) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  for (const auto& [project, digest] : project_manifests) {
    auto m = LoadManifestLocked(digest);
    if (m.ok()) MLC_RETURN_IF_ERROR(ShareLocked(project, *m));
  }
  MLC_ASSIGN_OR_RETURN(auto done, db_->Prepare("DELETE FROM backfill WHERE what = 'versions'"));
  MLC_RETURN_IF_ERROR(done.Run());
  MLC_RETURN_IF_ERROR(txn.Commit());
  versions_backfilled_ = true;
  return Status::Ok();
}

// --- Blobs and manifests -----------------------------------------------------------------------

Result<v1::FindMissingBlobsResponse> ArtifactIndex::FindMissingBlobs(
    const v1::FindMissingBlobsRequest& request) {
  v1::FindMissingBlobsResponse response;
  std::lock_guard lock(mu_);
  for (const auto& d : request.digests()) {
    // Stored for another project only is missing too: the upload proves the caller has the bytes.
    MLC_ASSIGN_OR_RETURN(bool visible, VisibleLocked(request.project(), d));
    bool has = visible;
    if (has) {
      MLC_ASSIGN_OR_RETURN(has, blobs_->Has(d));
    }
    if (!has) response.add_missing_digests(d);
  }
  return response;
}

Result<v1::Manifest> ArtifactIndex::PutManifest(const std::string& project, v1::Manifest manifest) {
  MLC_RETURN_IF_ERROR(artifacts::NormalizeManifest(&manifest));
  std::lock_guard lock(mu_);
  for (const auto& e : manifest.entries()) {
    MLC_ASSIGN_OR_RETURN(bool has, VisibleLocked(project, e.digest()));
    if (has) {
      MLC_ASSIGN_OR_RETURN(has, blobs_->Has(e.digest()));
    }
    if (!has) {
      return FailedPreconditionError("manifest entry " + e.path() + " references blob " +
                                     e.digest() + ", which is not stored; upload it first");
    }
  }
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(auto put, db_->Prepare("INSERT OR IGNORE INTO manifests(digest, create_us, "
                                              "body) VALUES (?, ?, ?)"));
  put.Bind(1, manifest.digest()).Bind(2, NowMicros()).BindBlob(3, manifest.SerializeAsString());
  MLC_RETURN_IF_ERROR(put.Run());
  if (!project.empty()) {
    v1::Manifest self;
    self.set_digest(manifest.digest());
    MLC_RETURN_IF_ERROR(ShareLocked(project, self));
  }
  MLC_RETURN_IF_ERROR(txn.Commit());
  return manifest;
}

Result<v1::Manifest> ArtifactIndex::LoadManifestLocked(const std::string& digest) {
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT body FROM manifests WHERE digest = ?"));
  select.Bind(1, digest);
  MLC_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return NotFoundError("manifest " + digest + " does not exist");
  v1::Manifest m;
  if (!m.ParseFromString(select.ColumnBlob(0))) {
    return DataLossError("store " + db_->path() + ": manifest " + digest + " is corrupt");
  }
  return m;
}

Result<v1::Manifest> ArtifactIndex::GetManifest(const v1::GetManifestRequest& request) {
  std::string digest = request.digest();
  std::lock_guard lock(mu_);
  if (digest.empty()) {
    MLC_ASSIGN_OR_RETURN(v1::Artifact a, LoadArtifactLocked(request.artifact_id()));
    if (!request.project().empty() && a.project() != request.project()) {
      return NotFoundError("artifact " + a.id() + " does not exist in project " +
                           request.project() + " (list them with `mlc artifact ls`)");
    }
    digest = a.manifest_digest();
  } else {
    MLC_ASSIGN_OR_RETURN(bool visible, VisibleLocked(request.project(), digest));
    if (!visible) return NotFoundError("manifest " + digest + " does not exist");
  }
  MLC_ASSIGN_OR_RETURN(v1::Manifest m, LoadManifestLocked(digest));
  if (request.path_prefix().empty()) return m;
  return artifacts::FilterManifest(m, request.path_prefix());
}

Result<v1::Artifact> ArtifactIndex::CreateArtifact(const v1::Artifact& request) {
  v1::Artifact a = request;
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(bool visible, VisibleLocked(a.project(), a.manifest_digest()));
  if (!visible) return NotFoundError("manifest " + a.manifest_digest() + " does not exist");
  MLC_ASSIGN_OR_RETURN(v1::Manifest m, LoadManifestLocked(a.manifest_digest()));
  a.set_id(util::RandomHexId("a"));
  const int64_t now = NowMicros();
  *a.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(now);
  a.set_size_bytes(m.total_size_bytes());
  a.set_file_count(m.entries_size());
  if (a.kind() == v1::ARTIFACT_KIND_UNSPECIFIED) {
    a.set_kind(m.entries_size() == 1 && m.entries(0).path().find('/') == std::string::npos
                   ? v1::ARTIFACT_KIND_FILE
                   : v1::ARTIFACT_KIND_DIRECTORY);
  }
  MLC_ASSIGN_OR_RETURN(auto insert, db_->Prepare("INSERT INTO artifacts(id, project, owner_kind, "
                                                 "owner_id, path, manifest_digest, create_us, "
                                                 "body) VALUES (?,?,?,?,?,?,?,?)"));
  insert.Bind(1, a.id()).Bind(2, a.project()).Bind(3, static_cast<int64_t>(a.owner().kind()));
  insert.Bind(4, a.owner().id()).Bind(5, a.path()).Bind(6, a.manifest_digest()).Bind(7, now);
  insert.BindBlob(8, a.SerializeAsString());
  Status s = insert.Run();
  if (s.code() == StatusCode::kAlreadyExists) {
    return AlreadyExistsError(OwnerText(a.owner()) + " already has an artifact at \"" + a.path() +
                              "\"; choose another path or delete it first");
  }
  MLC_RETURN_IF_ERROR(s);
  return a;
}

Result<v1::Artifact> ArtifactIndex::LoadArtifactLocked(const std::string& id) {
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT body FROM artifacts WHERE id = ?"));
  select.Bind(1, id);
  MLC_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) {
    return NotFoundError("artifact " + id + " does not exist (list them with `mlc artifact ls`)");
  }
  v1::Artifact a;
  if (!a.ParseFromString(select.ColumnBlob(0))) {
    return DataLossError("store " + db_->path() + ": artifact " + id + " is corrupt");
  }
  return a;
}

Result<v1::Artifact> ArtifactIndex::GetArtifact(const std::string& id) {
  std::lock_guard lock(mu_);
  return LoadArtifactLocked(id);
}

Result<v1::ListArtifactsResponse> ArtifactIndex::ListArtifacts(
    const v1::ListArtifactsRequest& request) {
  MLC_ASSIGN_OR_RETURN(std::string token, DecodePageToken(request.page_token(), "artifacts"));
  const int64_t offset = token.empty() ? 0 : std::stoll(token);
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare("SELECT body FROM artifacts WHERE project = ?1 AND (?2 = 0 OR (owner_kind = "
                   "?2 AND owner_id = ?3)) AND substr(path, 1, length(?4)) = ?4 ORDER BY "
                   "create_us DESC, id LIMIT ?5 OFFSET ?6"));
  select.Bind(1, request.project()).Bind(2, static_cast<int64_t>(request.owner().kind()));
  select.Bind(3, request.owner().id()).Bind(4, request.path_prefix());
  select.Bind(5, static_cast<int64_t>(request.page_size()) + 1).Bind(6, offset);
  v1::ListArtifactsResponse response;
  int64_t seen = 0;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    if (++seen > request.page_size()) {
      response.set_next_page_token(
          EncodePageToken(std::to_string(offset + request.page_size()), "artifacts"));
      break;
    }
    v1::Artifact a;
    a.ParseFromString(select.ColumnBlob(0));
    if (request.kind() != v1::ARTIFACT_KIND_UNSPECIFIED && a.kind() != request.kind()) continue;
    *response.add_artifacts() = std::move(a);
  }
  return response;
}

Status ArtifactIndex::DeleteArtifact(const std::string& id) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_RETURN_IF_ERROR(LoadArtifactLocked(id).status());
  for (const char* sql :
       {"DELETE FROM artifact_uses WHERE artifact_id = ?", "DELETE FROM artifacts WHERE id = ?"}) {
    MLC_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    stmt.Bind(1, id);
    MLC_RETURN_IF_ERROR(stmt.Run());
  }
  return txn.Commit();  // blobs and the manifest go at the next garbage collection
}

Status ArtifactIndex::RecordUse(const v1::RecordArtifactUseRequest& request) {
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(LoadArtifactLocked(request.artifact_id()).status());
  MLC_ASSIGN_OR_RETURN(auto put, db_->Prepare("INSERT OR IGNORE INTO artifact_uses(artifact_id, "
                                              "consumer_kind, consumer_id, consumer, use_us) "
                                              "VALUES (?,?,?,?,?)"));
  put.Bind(1, request.artifact_id()).Bind(2, static_cast<int64_t>(request.consumer().kind()));
  put.Bind(3, request.consumer().id()).BindBlob(4, request.consumer().SerializeAsString());
  put.Bind(5, NowMicros());
  return put.Run();
}

Result<v1::ArtifactLineage> ArtifactIndex::GetLineage(const std::string& artifact_id) {
  std::lock_guard lock(mu_);
  v1::ArtifactLineage lineage;
  MLC_ASSIGN_OR_RETURN(*lineage.mutable_artifact(), LoadArtifactLocked(artifact_id));
  *lineage.mutable_producer() = lineage.artifact().owner();
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT consumer FROM artifact_uses WHERE "
                                                 "artifact_id = ? ORDER BY use_us"));
  select.Bind(1, artifact_id);
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    lineage.add_consumers()->ParseFromString(select.ColumnBlob(0));
  }
  return lineage;
}

Result<v1::GarbageCollectionReport> ArtifactIndex::CollectGarbage(
    const v1::CollectGarbageRequest& request, const std::set<std::string>& referenced_elsewhere) {
  const int64_t requested = request.has_min_age() ? request.min_age().seconds() : 0;
  const int64_t min_age_s = requested > 0 ? requested : 3600;
  if (requested > 0 && requested < 60) {
    return InvalidArgumentError(
        "min_age must be at least 1 minute (uploads in flight reference "
        "nothing yet)");
  }
  std::set<std::string> live;
  int64_t manifests_removed = 0;
  {
    std::lock_guard lock(mu_);
    MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
    // Manifests no artifact references (older than the grace: one being recorded is young).
    MLC_ASSIGN_OR_RETURN(auto orphans,
                         db_->Prepare("SELECT digest FROM manifests m WHERE create_us < ? AND NOT "
                                      "EXISTS (SELECT 1 FROM artifacts a WHERE "
                                      "a.manifest_digest = m.digest)"));
    orphans.Bind(1, NowMicros() - min_age_s * 1000000);
    std::vector<std::string> dead;
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, orphans.Step());
      if (!row) break;
      std::string digest = orphans.ColumnText(0);
      if (referenced_elsewhere.count(digest) == 0) dead.push_back(std::move(digest));
    }
    manifests_removed = static_cast<int64_t>(dead.size());
    if (!request.dry_run()) {
      MLC_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM manifests WHERE digest = ?"));
      for (const auto& d : dead) {
        del.Bind(1, d);
        MLC_RETURN_IF_ERROR(del.Run());
        del.Reset();
      }
    }
    std::set<std::string> dead_set(dead.begin(), dead.end());
    MLC_ASSIGN_OR_RETURN(auto all, db_->Prepare("SELECT digest, body FROM manifests"));
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, all.Step());
      if (!row) break;
      if (request.dry_run() && dead_set.count(all.ColumnText(0))) continue;
      v1::Manifest m;
      if (!m.ParseFromString(all.ColumnBlob(1))) {
        return DataLossError("store " + db_->path() +
                             ": a manifest is corrupt; garbage "
                             "collection stopped so no live blob is deleted");
      }
      for (const auto& e : m.entries()) live.insert(e.digest());
    }
    MLC_RETURN_IF_ERROR(txn.Commit());
  }
  artifacts::GcOptions options;
  options.grace_seconds = min_age_s;
  options.dry_run = request.dry_run();
  MLC_ASSIGN_OR_RETURN(artifacts::GcReport report,
                       artifacts::CollectGarbage(*blobs_, live, options));
  if (!request.dry_run()) MLC_RETURN_IF_ERROR(ForgetCollected());
  v1::GarbageCollectionReport out = artifacts::ToProto(report);
  out.set_manifests_removed(manifests_removed);
  return out;
}

Status ArtifactIndex::ForgetCollected() {
  // Visibility of content that is gone: a later upload of the same bytes by another project must
  // not make them readable by this one again.
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT DISTINCT digest FROM project_digests p "
                                                 "WHERE NOT EXISTS (SELECT 1 FROM manifests m "
                                                 "WHERE m.digest = p.digest)"));
  std::vector<std::string> gone;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    std::string digest = select.ColumnText(0);
    MLC_ASSIGN_OR_RETURN(bool has, blobs_->Has(digest));
    if (!has) gone.push_back(std::move(digest));
  }
  MLC_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM project_digests WHERE digest = ?"));
  for (const auto& d : gone) {
    del.Bind(1, d);
    MLC_RETURN_IF_ERROR(del.Run());
    del.Reset();
  }
  return txn.Commit();
}

Result<v1::Manifest> ArtifactIndex::UploadTree(
    const std::string& project, const std::string& local_path,
    const std::function<bool(uint64_t, uint64_t)>& progress) {
  const std::string path = util::AbsolutePath(local_path);
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    return util::FromErrno(errno, "cannot read " + local_path);
  }
  v1::Manifest manifest;
  if (S_ISREG(st.st_mode)) {
    // A stamp of the last upload of this file: unchanged (size, mtime, inode) and stored, it is
    // not read again.
    const std::string name = std::filesystem::path(path).filename().string();
    const std::string stamps = blobs_->root() + "/stamps/" + util::Sha256Hex(path);
    MLC_RETURN_IF_ERROR(util::EnsureDirectory(blobs_->root() + "/stamps", "stamps directory"));
    artifacts::StatCache previous = artifacts::LoadStatCache(stamps).value_or({});
    const artifacts::FileStamp now{
        static_cast<uint64_t>(st.st_size),
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
        static_cast<uint64_t>(st.st_ino), ""};
    std::string digest;
    auto it = previous.find(name);
    if (it != previous.end() && it->second.size == now.size &&
        it->second.mtime_ns == now.mtime_ns && it->second.inode == now.inode &&
        blobs_->Has(it->second.digest).value_or(false)) {
      digest = it->second.digest;
      if (progress && !progress(now.size, now.size)) return CancelledError("upload cancelled");
    } else {
      MLC_ASSIGN_OR_RETURN(artifacts::BlobInfo blob, blobs_->PutFile(path, progress));
      digest = blob.digest;
      artifacts::FileStamp stamp = now;
      stamp.digest = digest;
      artifacts::SaveStatCache({{name, stamp}}, stamps).IgnoreError();  // only an optimisation
    }
    v1::ManifestEntry* e = manifest.add_entries();
    e->set_path(name);
    e->set_digest(digest);
    e->set_size_bytes(static_cast<int64_t>(st.st_size));
    e->set_mode(st.st_mode & 0777);
  } else if (S_ISDIR(st.st_mode)) {
    // Stamps of the last upload of this directory: unchanged files are not read again.
    const std::string stamps = blobs_->root() + "/stamps/" + util::Sha256Hex(path);
    MLC_RETURN_IF_ERROR(util::EnsureDirectory(blobs_->root() + "/stamps", "stamps directory"));
    MLC_ASSIGN_OR_RETURN(artifacts::StatCache previous, artifacts::LoadStatCache(stamps));
    artifacts::StatCache next;
    artifacts::BuildOptions options;
    options.previous = &previous;
    options.stamps_out = &next;
    options.progress = progress;
    MLC_ASSIGN_OR_RETURN(manifest, artifacts::BuildManifest(path, *blobs_, options));
    artifacts::SaveStatCache(next, stamps).IgnoreError();  // only an optimisation
  } else {
    return InvalidArgumentError(local_path + " is neither a regular file nor a directory");
  }
  // The files were stored (or found stored) from the caller's own bytes: the project may read
  // them and their manifest, recorded in one transaction without checking each entry again.
  MLC_ASSIGN_OR_RETURN(v1::Manifest stored, PutManifest("", std::move(manifest)));
  MLC_RETURN_IF_ERROR(Share(project, stored));
  return stored;
}

Status ArtifactIndex::DownloadTree(const v1::Manifest& manifest, const std::string& dest,
                                   const std::string& only_path,
                                   const std::function<bool(uint64_t, uint64_t)>& progress) {
  artifacts::MaterializeOptions options;
  options.only_path = only_path;
  options.progress = progress;
  return artifacts::Materialize(manifest, *blobs_, dest, options);
}

}  // namespace mlcore::local
