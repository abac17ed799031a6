// Garbage collection of a BlobStore.
#pragma once

#include <cstdint>
#include <ctime>
#include <set>
#include <string>

#include "artifacts/blob_store.h"
#include "mlcore/status.h"
#include "mlcore/v1/artifacts.pb.h"

namespace mlcore::artifacts {

struct GcOptions {
  // Unreferenced blobs whose mtime (last publish or dedupe) is younger than this are kept, so
  // uploads whose manifest is not written yet are safe.
  std::time_t grace_seconds = 3600;
  // Report what would be removed without removing anything.
  bool dry_run = false;
  // Temporary files in tmp/, upload sessions and quarantined blobs untouched this long are
  // removed.
  std::time_t stale_seconds = BlobStore::kUploadExpirySeconds;
  // "Now", for tests; 0 = the current time.
  std::time_t now = 0;
};

struct GcReport {
  int64_t blobs_scanned = 0;
  int64_t blobs_removed = 0;
  uint64_t bytes_freed = 0;        // blobs, stale temporaries, uploads and quarantine
  int64_t uploads_removed = 0;     // abandoned upload sessions
  int64_t temp_files_removed = 0;  // stale tmp/ and quarantine/ files
  bool dry_run = false;
  std::time_t start_time = 0;
  double duration_seconds = 0;
};

// Removes blobs not in `live_digests` and older than the grace period, and stale temporaries and
// abandoned uploads. Holds the store's publish lock exclusively while deleting, so no Put or
// Commit publishes (or dedupes against) a blob while it is being removed. Errors: ABORTED
// (another collection is running), INVALID_ARGUMENT (a malformed live digest), I/O errors.
Result<GcReport> CollectGarbage(BlobStore& store, const std::set<std::string>& live_digests,
                                const GcOptions& options = {});

// The report as the proto message (manifests_removed is left 0: manifests are the caller's).
v1::GarbageCollectionReport ToProto(const GcReport& report);

}  // namespace mlcore::artifacts
