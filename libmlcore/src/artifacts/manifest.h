// Manifests: a directory tree as sorted (path -> digest, size, mode) entries over a BlobStore.
//
// Canonical text (artifacts.proto): one line per entry, sorted by path bytewise,
//   "<mode as 4 octal digits> <digest> <size> <path>\n"
// and a manifest's digest is the SHA-256 of that text.
//
// Path safety: entry paths are relative, '/'-separated and normalized (no leading '/', no empty,
// '.' or '..' components, no NUL or newline). BuildManifest never produces other paths;
// NormalizeManifest and Materialize refuse them with INVALID_ARGUMENT naming the path, whatever
// the manifest's origin.
//
// Symlinks while building: a symlink whose target resolves inside the tree is followed (a link
// to a file is recorded as a regular file with the target's content and mode under the link's
// path; a link to a directory is walked, cycles are INVALID_ARGUMENT). A symlink that points
// outside the tree, or dangles, is INVALID_ARGUMENT naming the link and its target. FIFOs,
// sockets and devices are INVALID_ARGUMENT. Empty directories are not recorded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

#include "artifacts/blob_store.h"
#include "mlcore/status.h"
#include "mlcore/v1/artifacts.pb.h"

namespace mlcore::artifacts {

// What a file looked like when it was last hashed, to skip unchanged files on the next build.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  std::string digest;
  // Optional (0 = not recorded, not checked): the device and ctime of the file, and when its
  // reading began (CLOCK_REALTIME, ns). The client's digest cache (digest_cache.h) records them.
  uint64_t device = 0;
  int64_t ctime_ns = 0;
  int64_t recorded_ns = 0;
};
// Entry path -> stamp.
using StatCache = std::map<std::string, FileStamp>;

// A stamp is trusted for a file only when its mtime is this much older than the moment the stamp
// was recorded (the "racy git" rule): a write that lands while, or just after, the file is read
// may leave mtime unchanged at the filesystem's timestamp granularity (a kernel tick; 1-2 s on
// FAT, some NFS servers), so such a stamp proves nothing. 2 s covers the coarsest of them.
inline constexpr int64_t kRacyStampSlackNs = int64_t{2} * 1000000000;

// Nanoseconds since the epoch of a stat's mtime / ctime.
int64_t MtimeNs(const struct stat& st);
int64_t CtimeNs(const struct stat& st);

// The stamp of `st` (digest empty; recorded_ns = `recorded_ns`).
FileStamp StampOf(const struct stat& st, int64_t recorded_ns);

// Whether `stamp` still describes the file whose stat is `st`: same size, mtime and inode; when
// the stamp carries them, the same device and ctime, and recorded at least kRacyStampSlackNs after
// the mtime. The digest is not checked.
bool StampMatches(const FileStamp& stamp, const struct stat& st);

// Loads/saves a StatCache (a small text file; a missing file loads as empty).
Result<StatCache> LoadStatCache(const std::string& path);
Status SaveStatCache(const StatCache& cache, const std::string& path);

struct BuildOptions {
  // Stamps of a previous build: a file whose (size, mtime, inode) match its stamp, and whose blob
  // is still stored, is not read again.
  const StatCache* previous = nullptr;
  // When set, receives the stamps of this build (for the next one).
  StatCache* stamps_out = nullptr;
  // Called with bytes done/total over all files (skipped files count as done).
  ProgressFn progress;
};

struct BuildStats {
  int64_t files = 0;
  int64_t files_uploaded = 0;  // read and hashed (whether or not the blob already existed)
  int64_t files_skipped = 0;   // unchanged per BuildOptions::previous
  int64_t blobs_new = 0;       // newly stored content
  uint64_t bytes_read = 0;
};

// Walks `dir`, stores each regular file in `store` and returns the manifest (entries sorted,
// digest and total size set). Errors: INVALID_ARGUMENT (escaping or dangling symlink, special
// file, symlink cycle), NOT_FOUND (`dir`), CANCELLED (progress returned false; blobs already
// stored stay, unreferenced, for GC), RESOURCE_EXHAUSTED, ...
Result<v1::Manifest> BuildManifest(const std::string& dir, BlobStore& store,
                                   const BuildOptions& options = {}, BuildStats* stats = nullptr);

// A regular file of a tree, as ListTree found it.
struct TreeFile {
  std::string rel;  // entry path
  std::string abs;  // where it was found (a symlink's own path when via_link)
  struct stat st {};
  bool via_link = false;
};

// The regular files under `dir`, sorted by entry path, with the path-safety and symlink rules of
// the header comment. Errors: as BuildManifest's, minus the reading ones.
Result<std::vector<TreeFile>> ListTree(const std::string& dir);

// Opens a file ListTree found, for reading; `st` receives its fstat. Errors: ABORTED (the file was
// replaced since it was listed), NOT_FOUND, PERMISSION_DENIED, ...
Result<int> OpenTreeFile(const TreeFile& file, struct stat* st);

// BuildManifest without a store: hashes every file (skipping those `options.previous` stamps as
// unchanged, trusting their digests) and stores nothing. For uploads to a remote store, which is
// then asked which blobs it lacks. Errors: as BuildManifest's.
Result<v1::Manifest> HashTree(const std::string& dir, const BuildOptions& options = {},
                              BuildStats* stats = nullptr);

// Hashes everything readable from `fd` (to EOF) without storing it; `what` names it in errors.
Result<BlobInfo> HashFd(int fd, const ProgressFn& progress, uint64_t total,
                        const std::string& what);

// OK, or INVALID_ARGUMENT naming the path and saying what is wrong with it.
Status ValidateEntryPath(std::string_view path);

// The canonical text of the entries (in their current order).
std::string CanonicalText(const v1::Manifest& manifest);

// Validates entries (paths, digests, sizes, duplicates), sorts them, keeps only mode & 0777 and
// sets digest and total_size_bytes. Errors: INVALID_ARGUMENT.
Status NormalizeManifest(v1::Manifest* manifest);

// The entries whose path equals `prefix` or starts with `prefix` + "/" (all when empty), with
// digest and total recomputed. Errors: INVALID_ARGUMENT (prefix unsafe), NOT_FOUND (no entry).
Result<v1::Manifest> FilterManifest(const v1::Manifest& manifest, std::string_view prefix);

struct MaterializeOptions {
  // Only this file or subtree (see FilterManifest); empty = everything.
  std::string only_path;
  // Called with bytes done/total.
  ProgressFn progress;
  // fsync each file before renaming it into place.
  bool sync = true;
};

// Writes the manifest's files under `dest_dir` (created if missing): each file goes to a
// temporary file next to its destination, is verified against its digest and size while being
// copied, gets its mode and is renamed into place, so no file is ever half-written. A blob whose
// content does not match is quarantined and the call fails with DATA_LOSS. Existing files at the
// entries' paths are replaced; other files are left alone. Errors: INVALID_ARGUMENT (unsafe entry
// path, even when only_path selects others; a directory on the way is a symlink), NOT_FOUND
// (missing blob, or nothing under only_path), DATA_LOSS, CANCELLED, RESOURCE_EXHAUSTED, ...
Status Materialize(const v1::Manifest& manifest, BlobStore& store, const std::string& dest_dir,
                   const MaterializeOptions& options = {});

// Reads the content of `entry`'s blob, passing it in order to `write` (whose error ends the read
// and is returned).
using BlobReader = std::function<Status(const v1::ManifestEntry& entry,
                                        const std::function<Status(std::string_view)>& write)>;

// Materialize from any source of blobs (a remote store): the same verification and atomic
// placement; a mismatch is DATA_LOSS (nothing to quarantine here).
Status Materialize(const v1::Manifest& manifest, const BlobReader& read,
                   const std::string& dest_dir, const MaterializeOptions& options = {});

}  // namespace mlcore::artifacts
