// Helpers of the data cache tests: a real local HTTP origin (origin_server.py) and small utilities.
#pragma once

#include <functional>
#include <string>
#include <sys/types.h>

#include "datacache/data_cache.h"
#include "unit/test_support.h"

namespace mlcore::datacache::testing {

// origin_server.py serving `root` on 127.0.0.1; stopped on destruction.
class OriginServer {
 public:
  explicit OriginServer(const std::string& root);
  ~OriginServer();
  OriginServer(const OriginServer&) = delete;
  OriginServer& operator=(const OriginServer&) = delete;

  // "http://127.0.0.1:PORT" + path_and_query.
  std::string Url(const std::string& path_and_query) const;
  struct PathStats {
    int requests = 0, ranges = 0, not_modified = 0;
  };
  // Requests the server saw for `path` (no query).
  PathStats Stats(const std::string& path) const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// Deterministic pseudo-random content of `size` bytes.
std::string Content(size_t size, unsigned seed);

// Files (not directories) under `dir`, recursively.
int CountFiles(const std::string& dir);

// Runs `body` in a forked child (which must not use the parent's DataCache) and returns its exit
// code (or 128 + signal).
int RunInChild(const std::function<int()>& body);

// Options for a cache under `dir` with fast retries.
DataCacheOptions TestOptions(const mlcore::testing::TempDir& dir, uint64_t capacity = 0,
                             bool cold = false);

}  // namespace mlcore::datacache::testing
