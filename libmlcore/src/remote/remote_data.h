// A remote client's own copy of loaded data.
//
// DataService.Load runs on the server, filling the hot tier of the server's machine (what jobs
// there read). A client on another machine cannot open the path that comes back, so the remote
// backend passes the answer through Localize: when the server's machine is this one (equal
// MachineId) the answer stands; otherwise every file is copied with DataService.ReadData into
// this machine's data cache (datacache::DataCache: single-flight across threads and processes,
// verified against the server's digest, atomic publish, LRU within its capacity) under
// `mlcserver://sha256/<digest>`, content-addressed, so a file any server sent before is not sent
// again; a directory becomes a tree of links to its files, as on the server.
//
// Where the client's cache lives (see datacache::CacheOptionsFromEnv): $MLC_CACHE_DIR, else
// $XDG_CACHE_HOME/mlcore/data (~/.cache/mlcore/data); capped by $MLC_CACHE_CAPACITY.
//
// Thread safety: Localize may be called from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "mlcore/status.h"
#include "mlcore/v1/data.pb.h"

namespace mlcore::datacache {
class DataCache;
}  // namespace mlcore::datacache

namespace mlcore::remote {

class ServerOrigin;

class RemoteDataCopier {
 public:
  // Streams one file of a loaded object (DataService.ReadData over the wire).
  using ReadFn = std::function<Status(const v1::ReadDataRequest&,
                                      const std::function<bool(const v1::ReadDataResponse&)>&)>;
  using ProgressFn = std::function<bool(uint64_t, uint64_t)>;

  explicit RemoteDataCopier(ReadFn read);
  ~RemoteDataCopier();
  RemoteDataCopier(const RemoteDataCopier&) = delete;
  RemoteDataCopier& operator=(const RemoteDataCopier&) = delete;

  // `loaded` (the server's answer to `request`) when its path is on this machine; else the same
  // answer about a verified copy in this machine's cache. Errors: those of ReadData, of the
  // cache (RESOURCE_EXHAUSTED when it cannot hold the object), CANCELLED by `progress`.
  Result<v1::LoadResponse> Localize(const v1::LoadRequest& request, v1::LoadResponse loaded,
                                    const ProgressFn& progress);

 private:
  Result<datacache::DataCache*> Cache();

  std::unique_ptr<ServerOrigin> origin_;
  std::mutex mu_;  // guards opening cache_
  std::unique_ptr<datacache::DataCache> cache_;
};

}  // namespace mlcore::remote
