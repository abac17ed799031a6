#include "artifacts/digest_cache.h"

#include <unistd.h>

#include <ctime>
#include <filesystem>

#include "artifacts/blob_store.h"
#include "local/sqlite_store.h"
#include "util/fs.h"

namespace mlcore::artifacts {
namespace {

constexpr int kBusyTimeoutMs = 2000;  // another process recording; then the cache is skipped
constexpr int64_t kKeepNs = int64_t{180} * 24 * 3600 * 1000000000;

const std::vector<sqlite::Migration>& Migrations() {
  static const std::vector<sqlite::Migration> migrations = {
      {1,
       "CREATE TABLE digests ("
       "  device INTEGER NOT NULL, inode INTEGER NOT NULL, size INTEGER NOT NULL,"
       "  mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, recorded_ns INTEGER NOT NULL,"
       "  digest TEXT NOT NULL, path TEXT NOT NULL,"
       "  PRIMARY KEY (device, inode)) WITHOUT ROWID"},
  };
  return migrations;
}

// SQLite stores signed 64-bit integers; device and inode numbers keep their bits.
int64_t AsInt(uint64_t v) { return static_cast<int64_t>(v); }

}  // namespace

int64_t NowNs() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string DigestCache::DefaultPath() {
  std::string configured = util::GetEnv("MLC_DIGEST_CACHE");
  if (configured == "off") return "";
  if (!configured.empty()) return util::AbsolutePath(configured);
  std::string cache = util::GetEnv("XDG_CACHE_HOME");
  if (cache.empty()) cache = util::HomeDir() + "/.cache";
  return cache + "/mlcore/digests.db";
}

std::unique_ptr<DigestCache> DigestCache::Open(const std::string& path) {
  if (path.empty()) return std::unique_ptr<DigestCache>(new DigestCache(nullptr));
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!util::EnsureDirectory(dir, "digest cache directory").ok()) {
    return std::unique_ptr<DigestCache>(new DigestCache(nullptr));
  }
  auto db = sqlite::Db::Open(path, Migrations(), kBusyTimeoutMs);
  if (!db.ok() && db.status().code() == StatusCode::kDataLoss) {
    // Not a database (or a newer one's damaged header): it only held hints, start afresh.
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
    db = sqlite::Db::Open(path, Migrations(), kBusyTimeoutMs);
  }
  if (!db.ok()) return std::unique_ptr<DigestCache>(new DigestCache(nullptr));
  return std::unique_ptr<DigestCache>(new DigestCache(std::move(db).value()));
}

DigestCache::DigestCache(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}

DigestCache::~DigestCache() = default;

std::optional<std::string> DigestCache::Lookup(const struct stat& st) {
  std::lock_guard lock(mu_);
  if (db_ == nullptr) return std::nullopt;
  if (!lookup_) {
    auto prepared = db_->Prepare(
        "SELECT size, mtime_ns, ctime_ns, recorded_ns, digest FROM digests"
        " WHERE device = ? AND inode = ?");
    if (!prepared.ok()) return std::nullopt;
    lookup_ = std::move(prepared).value();
  }
  sqlite::Statement* stmt = &*lookup_;
  stmt->Bind(1, AsInt(st.st_dev)).Bind(2, AsInt(st.st_ino));
  auto row = stmt->Step();
  // Reset on every way out: a stepped statement would keep a read transaction (and its WAL
  // snapshot) open on this connection.
  struct Resetter {
    sqlite::Statement* s;
    ~Resetter() { s->Reset(); }
  } resetter{stmt};
  if (!row.ok() || !*row) return std::nullopt;
  FileStamp stamp;
  stamp.device = static_cast<uint64_t>(st.st_dev);
  stamp.inode = static_cast<uint64_t>(st.st_ino);
  stamp.size = static_cast<uint64_t>(stmt->ColumnInt(0));
  stamp.mtime_ns = stmt->ColumnInt(1);
  stamp.ctime_ns = stmt->ColumnInt(2);
  stamp.recorded_ns = stmt->ColumnInt(3);
  stamp.digest = stmt->ColumnText(4);
  // A zero recorded_ns or ctime_ns would switch those checks off: such a row is not ours.
  if (stamp.recorded_ns == 0 || stamp.ctime_ns == 0 || !IsValidDigest(stamp.digest) ||
      !StampMatches(stamp, st)) {
    return std::nullopt;
  }
  return stamp.digest;
}

Status DigestCache::Record(const std::vector<FileStamp>& stamps,
                           const std::vector<std::string>& paths) {
  std::lock_guard lock(mu_);
  if (db_ == nullptr || stamps.empty()) return Status::Ok();
  MLC_ASSIGN_OR_RETURN(sqlite::Transaction txn, sqlite::Transaction::Begin(*db_));
  if (!pruned_) {
    MLC_ASSIGN_OR_RETURN(sqlite::Statement prune,
                         db_->Prepare("DELETE FROM digests WHERE recorded_ns < ?"));
    MLC_RETURN_IF_ERROR(prune.Bind(1, NowNs() - kKeepNs).Run());
    pruned_ = true;
  }
  MLC_ASSIGN_OR_RETURN(sqlite::Statement insert,
                       db_->Prepare("INSERT OR REPLACE INTO digests (device, inode, size, "
                                    "mtime_ns, ctime_ns, recorded_ns, digest, path)"
                                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  for (size_t i = 0; i < stamps.size(); ++i) {
    const FileStamp& s = stamps[i];
    insert.Reset();
    insert.Bind(1, AsInt(s.device))
        .Bind(2, AsInt(s.inode))
        .Bind(3, AsInt(s.size))
        .Bind(4, s.mtime_ns)
        .Bind(5, s.ctime_ns)
        .Bind(6, s.recorded_ns)
        .Bind(7, std::string_view(s.digest))
        .Bind(8, std::string_view(i < paths.size() ? paths[i] : std::string()));
    MLC_RETURN_IF_ERROR(insert.Run());
  }
  return txn.Commit();
}

void DigestCache::Forget(const struct stat& st) {
  std::lock_guard lock(mu_);
  if (db_ == nullptr) return;
  auto stmt = db_->Prepare("DELETE FROM digests WHERE device = ? AND inode = ?");
  if (stmt.ok()) stmt->Bind(1, AsInt(st.st_dev)).Bind(2, AsInt(st.st_ino)).Run().IgnoreError();
}

}  // namespace mlcore::artifacts
