// The local backend's DataService (proto/mlcore/v1/data.proto): this machine's data-load cache
// (datacache::DataCache), with `artifact://ID[/PATH]` served from the backend's artifact store.
//
// Where the cache lives, from the environment of the process opening it:
//   MLC_CACHE_DIR       hot tier directory; default <state>/cache
//   MLC_CACHE_CAPACITY  hot tier cap ("50Gi", "800Mi", bytes); default a fifth of the size of the
//                       hot directory's filesystem; "0" = no cap
//   MLC_CACHE_COLD_DIR  cold tier directory (e.g. on NFS); default none
//
// An `artifact://` URI naming one file is one cache object. One naming a directory (a directory
// artifact, or a subtree of one) loads every file as its own object and returns a tree of symlinks
// to them under <hot>/trees/<manifest digest>; pins, unpins and evictions of such a URI apply to
// every file. A `models:/` URI is resolved through the registry (aliases now) and loaded as the
// tree of the version's files, each cached as `models:/PROJECT/NAME/VERSION/PATH`.
//
// Thread safety: all methods may be called from several threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "datacache/data_cache.h"
#include "local/artifact_index.h"
#include "local/registry_store.h"
#include "mlcore/status.h"
#include "mlcore/v1/data.pb.h"
#include "mlcore/v1/jobs.pb.h"

namespace mlcore::local {

// The cache's options for the local backend at `state_dir` (see above). Errors: INVALID_ARGUMENT
// for a malformed MLC_CACHE_CAPACITY.
Result<datacache::DataCacheOptions> LocalCacheOptions(const std::string& state_dir);

class LocalDataService {
 public:
  using ArtifactsFn = std::function<Result<ArtifactIndex*>()>;
  using RegistryFn = std::function<Result<RegistryStore*>()>;
  using ProgressFn = std::function<bool(uint64_t, uint64_t)>;

  // Opens the cache of the backend at `state_dir`; `artifacts` and `registry` give its artifact
  // store and model registry.
  static Result<std::unique_ptr<LocalDataService>> Open(const std::string& state_dir,
                                                        ArtifactsFn artifacts, RegistryFn registry);
  ~LocalDataService();

  // `pin_holder`: a process whose exit releases the request's pin (0 = held until unpinned).
  Result<v1::LoadResponse> Load(const v1::LoadRequest& request, const ProgressFn& progress,
                                pid_t pin_holder = 0);
  // Loads `request.uri` (a cache hit when already loaded) and passes the bytes of the file (of the
  // directory's file at `request.path`) from `request.offset` to `sink` in chunks of at most
  // 1 MiB; size and digest are set on the first. Stops early (OK) when `sink` returns false.
  Status Read(const v1::ReadDataRequest& request,
              const std::function<bool(const v1::ReadDataResponse&)>& sink);
  Result<v1::ListCacheEntriesResponse> List(const v1::ListCacheEntriesRequest& request);
  Result<v1::CacheEntry> Pin(const v1::PinRequest& request);
  Result<v1::CacheEntry> Unpin(const v1::UnpinRequest& request);
  Result<v1::EvictResponse> Evict(const v1::EvictRequest& request);
  // With `wait` false the loads continue in a detached `mlc-supervisor --prefetch` process.
  Result<v1::PrefetchResponse> Prefetch(const v1::PrefetchRequest& request);
  Result<v1::CacheStats> Stats();
  // Digests of the objects in the hot tier, for the scheduler's data affinity.
  Result<std::vector<std::string>> HotDigests();

 private:
  LocalDataService(std::string state_dir, ArtifactsFn artifacts, RegistryFn registry);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Loads the input datasets of `job` (the STARTING step of its supervisor), pinned as
// "job:<id>" for as long as process `holder` lives. Returns the datasets with the digests and
// sizes loaded, and sets `paths` to their local paths, in order. The first failure is returned
// naming the dataset.
Result<std::vector<v1::DatasetRef>> LoadJobInputs(const std::string& state_dir, const v1::Job& job,
                                                  pid_t holder, std::vector<std::string>* paths);

// Releases the "job:<id>" pins of a job's inputs (when it ends). Errors are logged, not returned.
void ReleaseJobInputs(const std::string& state_dir, const v1::Job& job);

// Stores the job's `output_paths` (globs relative to `working_dir`) as artifacts of the job, each
// at its path relative to the working directory; reports each to `log`. A pattern matching
// nothing is reported, not an error. Errors: the first upload that failed (the others are tried).
// The ids of the artifacts stored go to `artifact_ids`.
Status UploadJobOutputs(const std::string& state_dir, const v1::Job& job,
                        const std::string& working_dir,
                        const std::function<void(const std::string&)>& log,
                        std::vector<std::string>* artifact_ids);

// `mlc-supervisor --prefetch --state DIR --project P URI[@DIGEST]...`: loads each URI into the
// cache; returns an exit code (0 when all loaded).
int RunPrefetchMain(const std::string& state_dir, const std::string& project,
                    const std::vector<std::string>& items);

}  // namespace mlcore::local
