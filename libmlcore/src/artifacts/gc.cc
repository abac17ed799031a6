#include "artifacts/gc.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <sys/stat.h>

#include "artifacts/io.h"

namespace mlcore::artifacts {
namespace {

// Removes direct children of `dir` untouched since `cutoff`; counts them and their bytes.
Status RemoveStale(const std::string& dir, std::time_t cutoff, bool dry_run, int64_t* count,
                   uint64_t* bytes) {
  Result<std::vector<std::string>> names = ListDir(dir);
  if (!names.ok()) {
    return names.status().code() == StatusCode::kNotFound ? Status::Ok() : names.status();
  }
  for (const std::string& name : *names) {
    std::string path = dir + "/" + name;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0 || st.st_mtime >= cutoff) continue;
    uint64_t size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
    if (S_ISDIR(st.st_mode)) {
      // An upload session: its age is its data file's (written by every Append).
      struct stat data {};
      if (stat((path + "/data").c_str(), &data) == 0) {
        if (data.st_mtime >= cutoff) continue;
        size = static_cast<uint64_t>(data.st_size);
      }
    }
    if (!dry_run) {
      Status removed = RemoveTree(path);
      if (!removed.ok()) return removed;
    }
    ++*count;
    *bytes += size;
  }
  return Status::Ok();
}

}  // namespace

Result<GcReport> CollectGarbage(BlobStore& store, const std::set<std::string>& live_digests,
                                const GcOptions& options) {
  auto started = std::chrono::steady_clock::now();
  for (const std::string& digest : live_digests) {
    MLC_RETURN_IF_ERROR(ValidateDigest(digest).WithContext("live digest"));
  }
  GcReport report;
  report.dry_run = options.dry_run;
  report.start_time = std::time(nullptr);
  std::time_t now = options.now != 0 ? options.now : report.start_time;
  MLC_ASSIGN_OR_RETURN(BlobStore::Lock lock, store.LockForGc());

  std::time_t cutoff = now - options.grace_seconds;
  MLC_RETURN_IF_ERROR(store.ForEachBlob([&](const BlobEntry& blob) -> Status {
    ++report.blobs_scanned;
    if (live_digests.contains(blob.digest) || blob.mtime >= cutoff) return Status::Ok();
    if (!options.dry_run) {
      Status deleted = store.Delete(blob.digest);
      if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
      if (!deleted.ok()) return Status::Ok();  // removed concurrently
    }
    ++report.blobs_removed;
    report.bytes_freed += blob.size;
    return Status::Ok();
  }));

  std::time_t stale_cutoff = now - options.stale_seconds;
  MLC_RETURN_IF_ERROR(RemoveStale(store.TmpDir(), stale_cutoff, options.dry_run,
                                  &report.temp_files_removed, &report.bytes_freed));
  MLC_RETURN_IF_ERROR(RemoveStale(store.QuarantineDir(), stale_cutoff, options.dry_run,
                                  &report.temp_files_removed, &report.bytes_freed));
  MLC_RETURN_IF_ERROR(RemoveStale(store.UploadsDir(), stale_cutoff, options.dry_run,
                                  &report.uploads_removed, &report.bytes_freed));
  report.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

v1::GarbageCollectionReport ToProto(const GcReport& report) {
  v1::GarbageCollectionReport out;
  out.set_blobs_scanned(report.blobs_scanned);
  out.set_blobs_removed(report.blobs_removed);
  out.set_bytes_freed(static_cast<int64_t>(report.bytes_freed));
  out.set_uploads_removed(report.uploads_removed);
  out.set_dry_run(report.dry_run);
  out.mutable_start_time()->set_seconds(report.start_time);
  double whole = std::floor(report.duration_seconds);
  out.mutable_duration()->set_seconds(static_cast<int64_t>(whole));
  out.mutable_duration()->set_nanos(static_cast<int32_t>((report.duration_seconds - whole) * 1e9));
  return out;
}

}  // namespace mlcore::artifacts
