// The SQLite index of the data-load cache: URI -> digest records, per-tier copies, pins and
// counters. Shared by every process using one hot tier (WAL mode, busy timeout).
//
// Thread safety: all methods may be called from several threads (one connection, serialized).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "datacache/data_cache.h"
#include "mlcore/status.h"

namespace mlcore::datacache {

int64_t NowMs();

// What the origin said about a URI at its last fetch.
struct UriRecord {
  std::string digest;
  uint64_t size = 0;
  std::string etag;
  std::string last_modified;
};

// One copy in a tier.
struct CopyRow {
  std::string digest;
  uint64_t size = 0;
  std::string path;
};

class CacheIndex {
 public:
  static Result<std::unique_ptr<CacheIndex>> Open(const std::string& path);
  ~CacheIndex();
  CacheIndex(const CacheIndex&) = delete;
  CacheIndex& operator=(const CacheIndex&) = delete;

  Result<std::optional<UriRecord>> LookupUri(const std::string& uri);
  Result<std::optional<CopyRow>> LookupCopy(const std::string& digest, Tier tier);
  // Records that `uri` has content `record` and that `tier` holds a copy at `path`.
  Status RecordCopy(const std::string& uri, const UriRecord& record, Tier tier,
                    const std::string& path, bool fetched);
  Status ForgetCopy(const std::string& digest, Tier tier);
  // Marks a copy served: last access now, access count + 1.
  Status Touch(const std::string& digest, Tier tier);
  Status Bump(std::string_view counter, int64_t delta = 1);
  Result<int64_t> Counter(std::string_view counter);

  // Deletes lapsed pins and the pins of holder processes that are gone.
  Status ReleaseStalePins();
  // Frees room for `need` more bytes in a tier capped at `capacity` (LRU, never pinned copies),
  // forgetting the victims in the index and returning them (the caller deletes the files).
  // RESOURCE_EXHAUSTED when pinned copies leave too little room (the message names the pins).
  Result<std::vector<CopyRow>> MakeRoom(Tier tier, uint64_t capacity, uint64_t need,
                                        const std::string& for_what);
  // Unpinned copies of a tier (all of them), forgotten in the index.
  Result<std::vector<CopyRow>> TakeUnpinned(Tier tier);

  // A pin of a "pid:" owner, or with a `holder` process, lapses once that process is gone.
  Status AddPin(const std::string& uri, const std::string& owner, int64_t expire_ms,
                pid_t holder = 0);
  Status RemovePin(const std::string& uri, const std::string& owner);
  Result<std::vector<Pin>> PinsOf(const std::string& uri);
  // Pins of every URI sharing `digest`.
  Result<std::vector<std::string>> PinOwnersOfDigest(const std::string& digest);

  Result<std::vector<Entry>> List(const ListFilter& filter);
  // Remembers that `project` loaded or pinned `uri` (no-op for an empty project).
  Status RecordProjectUse(const std::string& project, const std::string& uri);
  // Used, pinned bytes and entries of a tier.
  struct Occupancy {
    int64_t used = 0, pinned = 0, entries = 0;
  };
  Result<Occupancy> OccupancyOf(Tier tier);

 private:
  explicit CacheIndex(std::unique_ptr<sqlite::Db> db);
  Result<std::vector<Pin>> PinsOfLocked(const std::string& uri);
  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
};

}  // namespace mlcore::datacache
