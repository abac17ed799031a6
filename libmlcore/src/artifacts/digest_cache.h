// The client's digest cache: SHA-256 digests of files already hashed on this machine, so that a
// client uploading to a remote store (grpc://) does not read an unchanged file again.
//
// An entry is the FileStamp of a file (manifest.h) keyed by (device, inode): size, mtime, ctime,
// when it was recorded and the digest. It is trusted only when StampMatches() the file's current
// stat, i.e. size, mtime, ctime, device and inode are all unchanged and the mtime is at least
// kRacyStampSlackNs older than the moment the file was read (the "racy git" rule: a write landing
// in the same timestamp tick as the read would otherwise go unnoticed). Any write, truncation,
// chmod, rename or replacement changes ctime or the inode, so its entry stops matching.
//
// Storage: one SQLite database in WAL mode (default $XDG_CACHE_HOME/mlcore/digests.db, else
// ~/.cache/mlcore/digests.db; $MLC_DIGEST_CACHE names another file, or "off" disables the cache),
// shared by concurrent processes (writers queue on a short busy timeout). The cache is only an
// optimisation: Open() never fails (an unwritable or corrupt database gives a cache that remembers
// nothing; a corrupt one is deleted and recreated once), and lookups and records that fail are
// ignored, so an upload never fails because of it. Entries not recorded again for 180 days are
// dropped.
//
// Thread safety: all methods may be called from several threads (one connection, a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "artifacts/manifest.h"
#include "local/sqlite_store.h"

namespace mlcore::artifacts {

class DigestCache {
 public:
  // $MLC_DIGEST_CACHE (empty when it is "off"), else $XDG_CACHE_HOME/mlcore/digests.db, else
  // $HOME/.cache/mlcore/digests.db.
  static std::string DefaultPath();

  // Opens (creating the directory and the database) the cache at `path`; an empty path, or one
  // that cannot be opened, gives a cache that remembers nothing. Never fails.
  static std::unique_ptr<DigestCache> Open(const std::string& path);
  ~DigestCache();
  DigestCache(const DigestCache&) = delete;
  DigestCache& operator=(const DigestCache&) = delete;

  // True when a database backs the cache.
  bool enabled() const { return db_ != nullptr; }

  // The recorded digest of the file whose stat is `st`, when an entry StampMatches() it.
  std::optional<std::string> Lookup(const struct stat& st);

  // Records stamps (each with its digest, device, ctime and recorded_ns set) in one transaction,
  // replacing older entries of the same files; `paths[i]` (informative only, may be empty) names
  // stamps[i]. Errors are returned for tests; callers ignore them.
  Status Record(const std::vector<FileStamp>& stamps, const std::vector<std::string>& paths);

  // Drops the entry of the file whose stat is `st` (its digest proved wrong).
  void Forget(const struct stat& st);

 private:
  explicit DigestCache(std::unique_ptr<sqlite::Db> db);

  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;           // null: disabled
  std::optional<sqlite::Statement> lookup_;  // prepared once; declared after db_: finalized first
  bool pruned_ = false;
};

// Nanoseconds since the epoch (CLOCK_REALTIME): what FileStamp::recorded_ns holds.
int64_t NowNs();

}  // namespace mlcore::artifacts
