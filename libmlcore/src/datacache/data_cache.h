// The data-load cache (issue 6, proto/mlcore/v1/data.proto): a hot tier (fast local disk,
// size-capped, LRU) and an optional cold tier (a shared directory, e.g. NFS, uncapped) in front of
// origins (`file://`, plain paths, `http(s)://`).
//
// Layout of a tier directory:
//   objects/<d[0:2]>/<digest>   content, addressed by SHA-256; published by rename
//   tmp/<random>.part           downloads in flight, each flock'ed by its writer; a part whose
//                               lock is free belongs to a dead writer and is removed
//   uris/<sha256(uri)>          (cold tier only) "digest size etag last-modified" of the URI, so
//                               other machines sharing the cold tier find it
//   locks/<sha256(uri)>.lock    (hot tier) single-flight lock of one URI, across threads and
//                               processes
// The index (SQLite, WAL; default <hot>/index.db) maps URIs to digests and holds the per-tier
// copies, access times, pins and counters; several processes may share it.
//
// Results are plain structs; ToProto() in datacache/proto.h converts them to data.proto messages.
//
// Thread safety: a DataCache may be used from several threads at once. After fork(), the child
// must open its own DataCache (SQLite connections do not survive fork).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "datacache/origin.h"
#include "mlcore/status.h"

namespace mlcore::sqlite {
class Db;
}

namespace mlcore::datacache {

enum class Tier { kHot = 1, kCold = 2 };                 // values of CacheTier
enum class Source { kHot = 1, kCold = 2, kOrigin = 3 };  // values of LoadSource

struct DataCacheOptions {
  std::string hot_dir;              // required
  uint64_t hot_capacity_bytes = 0;  // 0 = no cap
  std::string cold_dir;             // empty = no cold tier
  std::string index_path;           // empty = <hot_dir>/index.db
  OriginOptions origin;
  // Origins of further schemes ("artifact" -> the artifact store), used as given: their URIs
  // are not canonicalized. The cache does not own them; they must outlive it.
  std::map<std::string, Origin*> extra_origins;
};

struct LoadOptions {
  std::string expected_digest;  // 64 lowercase hex; empty = accept what the origin serves
  bool revalidate = false;      // conditional GET even on a hit; ignored with expected_digest
  // Called as bytes arrive from the origin (total 0 = unknown); return false to cancel.
  std::function<bool(uint64_t done, uint64_t total)> progress;
  std::string pin_owner;     // pin after loading ("user:ann", "job:<id>", PidPinOwner())
  pid_t pin_holder = 0;      // the pin lapses when this process is gone (0 = held until unpinned)
  bool verify_hits = false;  // re-hash a hot copy before serving it (else size is checked)
  std::chrono::milliseconds timeout{30 * 60 * 1000};
  std::string project;  // remembered as a user of the URI (ListFilter::project); empty = none
};

struct LoadResult {
  std::string local_path;  // in the hot tier
  std::string digest;
  uint64_t size_bytes = 0;
  Source source = Source::kOrigin;
};

struct Pin {
  std::string owner;
  int64_t create_time_ms = 0;
  int64_t expire_time_ms = 0;  // 0 = never
};

struct Entry {
  std::string uri;
  std::string digest;
  uint64_t size_bytes = 0;
  Tier tier = Tier::kHot;
  std::vector<Pin> pins;  // pinned == !pins.empty()
  int64_t last_access_ms = 0;
  int64_t fetch_time_ms = 0;
  std::string etag;
  std::string last_modified;  // HTTP-date as the origin sent it
  std::string local_path;
  int64_t access_count = 0;
};

struct TierStats {
  Tier tier = Tier::kHot;
  int64_t hits = 0, misses = 0, bytes_served = 0, bytes_written = 0;
  int64_t used_bytes = 0, capacity_bytes = 0, pinned_bytes = 0, entries = 0, evictions = 0;
};

struct Stats {
  std::vector<TierStats> tiers;  // HOT first; COLD when configured
  int64_t origin_fetches = 0, origin_bytes = 0, single_flight_waits = 0;
  int64_t verification_failures = 0;
  int64_t since_ms = 0;
};

struct ListFilter {
  int tier = 0;  // 0 = both, else a Tier value
  std::string uri_prefix;
  bool pinned_only = false;
  std::string project;  // only URIs this project loaded or pinned; empty = all
};

struct EvictResult {
  int64_t entries_evicted = 0;
  int64_t bytes_freed = 0;
};

// "pid:<host>:<pid>" of the calling process: a pin released automatically once it exits.
std::string PidPinOwner();

// The options of a cache configured by the environment of the calling process:
//   MLC_CACHE_DIR       hot tier directory; default `default_hot_dir`
//   MLC_CACHE_CAPACITY  hot tier cap ("50Gi", "800Mi", bytes); default a fifth of the size of the
//                       hot directory's filesystem; "0" = no cap
//   MLC_CACHE_COLD_DIR  cold tier directory (e.g. on NFS); default none
// Errors: INVALID_ARGUMENT for a malformed MLC_CACHE_CAPACITY.
Result<DataCacheOptions> CacheOptionsFromEnv(const std::string& default_hot_dir);

// Id of this machine: `$MLC_MACHINE_ID` when set (e.g. in containers sharing /etc/machine-id but
// not files), else /etc/machine-id, else "host:<hostname>". A path some process reports is usable
// here only when it reported this id.
std::string MachineId();

class DataCache {
 public:
  // Creates the directories and the index as needed and removes downloads left by dead writers.
  static Result<std::unique_ptr<DataCache>> Open(const DataCacheOptions& options);
  ~DataCache();
  DataCache(const DataCache&) = delete;
  DataCache& operator=(const DataCache&) = delete;

  // Returns a local path to verified content: hot hit, else cold hit (copied to hot), else a
  // fetch from the origin (written through to cold). Errors: INVALID_ARGUMENT (scheme, digest),
  // NOT_FOUND, FAILED_PRECONDITION (content does not match expected_digest after one
  // refetch; never served), DATA_LOSS (the origin's body does not match its Content-Length),
  // RESOURCE_EXHAUSTED (disk full, or the hot tier cannot fit the object beside its pinned
  // entries), UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED (progress returned false).
  Result<LoadResult> Load(const std::string& uri, const LoadOptions& options = {});

  // Loads each URI (in order, one at a time); one result per URI.
  std::vector<Result<LoadResult>> Prefetch(const std::vector<std::string>& uris,
                                           const std::vector<std::string>& digests = {});

  // Pins a cached URI for `owner` (idempotent); ttl 0 = until unpinned. NOT_FOUND if not cached.
  Status Pin(const std::string& uri, const std::string& owner,
             std::chrono::milliseconds ttl = std::chrono::milliseconds(0),
             const std::string& project = {});
  // Releases one owner's pin (idempotent). NOT_FOUND if not cached.
  Status Unpin(const std::string& uri, const std::string& owner);

  // Removes a URI's copies from `tier` (0 = both). FAILED_PRECONDITION when pinned and not
  // `force` (naming the owners); NOT_FOUND when not cached.
  Result<EvictResult> Evict(const std::string& uri, int tier = 0, bool force = false);
  // Removes every unpinned hot copy.
  Result<EvictResult> EvictAllUnpinned();

  // Entries by last access, most recent first. Releases lapsed and dead-process pins first.
  Result<std::vector<Entry>> List(const ListFilter& filter = {});
  Result<Stats> GetStats();

  const DataCacheOptions& options() const { return options_; }
  // The canonical form of `uri` (see CanonicalUri), accepting the extra origins' schemes.
  Result<std::string> Canonical(std::string_view uri) const;

 private:
  explicit DataCache(DataCacheOptions options);
  struct Impl;
  DataCacheOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlcore::datacache
