// A content-addressed blob store over a local directory.
//
// Layout under `root`:
//   blobs/sha256/ab/cdef...   published blobs, named by the SHA-256 of their content (read-only)
//   tmp/                      temporary files of Put() calls in flight (unique names)
//   uploads/<id>/{data,meta}  resumable upload sessions: the bytes received so far and the
//                             expected digest/size
//   quarantine/               blobs whose content no longer matched their digest (never served)
//   publish.lock, gc.lock     flock(2) files: publishing takes publish.lock shared, garbage
//                             collection takes it exclusive, so a GC never races a publish
//
// Every write hashes while streaming (the bytes are hashed and written from the same buffer; a
// file is never read twice), goes to a temporary file, is fsync'ed and then renamed into place
// and the directory fsync'ed: a blob is either fully published or absent. Publishing content
// that is already stored drops the temporary file and refreshes the blob's mtime, so a
// concurrent CollectGarbage() honoring its grace period keeps it.
//
// Digests are 64 lowercase hex characters; anything else is INVALID_ARGUMENT. Disk full (ENOSPC,
// EDQUOT, EFBIG) is RESOURCE_EXHAUSTED naming the path. No exception escapes.
//
// Thread safety: a BlobStore may be used from many threads, and many processes may share a root.
// One upload session must have one writer at a time (Append/Commit on the same id from two
// threads or processes concurrently is ABORTED by a per-session flock).
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unordered_map>

#include "mlcore/status.h"

namespace mlcore::artifacts {

// Reports progress of a transfer: bytes done so far and the total (0 when unknown). Returning
// false cancels the transfer with CANCELLED; nothing is published.
using ProgressFn = std::function<bool(uint64_t done, uint64_t total)>;

// Read/write chunk size of every streaming operation.
inline constexpr size_t kChunkSize = size_t{1} << 20;

// Outcome of storing a blob.
struct BlobInfo {
  std::string digest;
  uint64_t size = 0;
  // True when the store already held this content (the new copy was dropped).
  bool existed = false;
};

// Expected properties of a resumable upload.
struct UploadOptions {
  // Client-chosen id ([A-Za-z0-9_-], 1 to 128 chars); empty = a random id is generated.
  std::string upload_id;
  // Expected SHA-256 of the whole blob; empty = accept whatever arrives.
  std::string expected_digest;
  // Expected size in bytes; nullopt = unknown.
  std::optional<uint64_t> expected_size;
};

// State of a resumable upload.
struct UploadState {
  std::string upload_id;
  // Bytes received and kept; the next Append must start at this offset.
  uint64_t committed_bytes = 0;
  std::string expected_digest;
  std::optional<uint64_t> expected_size;
  // When the session is abandoned (garbage-collected) unless resumed before.
  std::time_t expire_time = 0;
};

// A published blob as seen by ForEachBlob.
struct BlobEntry {
  std::string digest;
  uint64_t size = 0;
  std::time_t mtime = 0;  // last publish (or dedupe) of this content
};

// True when `digest` is 64 lowercase hex characters.
bool IsValidDigest(std::string_view digest);
// OK, or INVALID_ARGUMENT naming the malformed digest.
Status ValidateDigest(std::string_view digest);
// True for an upload id of 1 to 128 of [A-Za-z0-9_-].
bool ValidUploadId(std::string_view id);

// Maps errno to a Status like util::FromErrno, but EFBIG (file size limit) is RESOURCE_EXHAUSTED
// too.
Status IoError(int err, std::string_view what);

class BlobStore {
 public:
  // How long an upload session (or a temporary file) may stay untouched before it is abandoned.
  static constexpr std::time_t kUploadExpirySeconds = std::time_t{24} * 3600;

  // Opens (creating as needed) the store at `root`. Errors: see util::EnsureDirectory.
  static Result<std::unique_ptr<BlobStore>> Create(const std::string& root);

  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;
  ~BlobStore();

  const std::string& root() const { return root_; }

  // Stores everything readable from `fd` (to EOF), hashing while reading. `total` is only
  // passed to `progress` (0 = unknown). Does not close `fd`.
  Result<BlobInfo> Put(int fd, const ProgressFn& progress = {}, uint64_t total = 0);
  // Stores the content of a file. Errors also: NOT_FOUND, PERMISSION_DENIED (of `path`).
  Result<BlobInfo> PutFile(const std::string& path, const ProgressFn& progress = {});
  // Stores `bytes`.
  Result<BlobInfo> PutBytes(std::string_view bytes);

  // Whether the blob is stored (and not quarantined).
  Result<bool> Has(std::string_view digest) const;
  // Size of a stored blob. Errors: NOT_FOUND.
  Result<uint64_t> Size(std::string_view digest) const;
  // Path of a stored blob, for reading only (blobs are immutable; never write through it).
  // Errors: NOT_FOUND.
  Result<std::string> Open(std::string_view digest) const;
  // Path the blob has or would have; no check that it exists.
  std::string BlobPath(std::string_view digest) const;
  // Rehashes a stored blob. On a mismatch the blob is moved to quarantine/ (so Has() turns false
  // and it is never served again) and DATA_LOSS is returned. Errors: NOT_FOUND.
  Status Verify(std::string_view digest);
  // Moves a blob to quarantine/ (for readers that detected corruption themselves). Errors:
  // NOT_FOUND.
  Status Quarantine(std::string_view digest);
  // Removes a blob. Errors: NOT_FOUND.
  Status Delete(std::string_view digest);
  // Calls `fn` for every published blob (order unspecified); stops at the first error.
  Status ForEachBlob(const std::function<Status(const BlobEntry&)>& fn) const;

  // Resumable uploads. A session's bytes live in uploads/<id>/data; each Append writes them and
  // starts their write-back without waiting for it (a sync per piece would pace the upload by the
  // disk's latency), so they survive a crash of the process; Commit syncs the file before it
  // publishes. After a crash of the machine, the session's status reports the size actually kept
  // and the client resumes from there (Commit's digest check catches anything else). The SHA-256
  // state is kept in memory while the session is used by this object; a new BlobStore (e.g. after a
  // restart) recomputes it once over the committed prefix on the first Append or Commit.
  //
  // Starts (or, with the same id and expectations, reopens) a session; returns its id. Errors:
  // INVALID_ARGUMENT (id or digest malformed), ALREADY_EXISTS (the id is in use with other
  // expectations).
  Result<std::string> BeginUpload(const UploadOptions& options);
  // Appends `bytes` at `offset`, which must equal the committed size (else FAILED_PRECONDITION
  // stating it). Returns the new committed size. Errors also: NOT_FOUND (unknown or expired id),
  // INVALID_ARGUMENT (beyond the expected size), RESOURCE_EXHAUSTED (disk full; the committed
  // size is unchanged).
  Result<uint64_t> Append(const std::string& upload_id, uint64_t offset, std::string_view bytes);
  // The session's state. Errors: NOT_FOUND.
  Result<UploadState> UploadStatus(const std::string& upload_id) const;
  // Verifies the content against the expected digest and size and publishes it; the session
  // ends. Errors: NOT_FOUND, DATA_LOSS (mismatch: nothing is published and the session is
  // discarded, start over).
  Result<BlobInfo> Commit(const std::string& upload_id);
  // Discards a session. Errors: NOT_FOUND.
  Status AbortUpload(const std::string& upload_id);

  // Directories, for garbage collection.
  std::string TmpDir() const { return root_ + "/tmp"; }
  std::string UploadsDir() const { return root_ + "/uploads"; }
  std::string BlobsDir() const { return root_ + "/blobs/sha256"; }
  std::string QuarantineDir() const { return root_ + "/quarantine"; }

  // Holds publish.lock (shared for publishers, exclusive for GC) until destroyed.
  class Lock {
   public:
    explicit Lock(int fd, int fd2 = -1) : fd_(fd), fd2_(fd2) {}
    Lock(Lock&& other) noexcept : fd_(other.fd_), fd2_(other.fd2_) {
      other.fd_ = -1;
      other.fd2_ = -1;
    }
    Lock& operator=(Lock&&) = delete;
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    ~Lock();

   private:
    int fd_;
    int fd2_;
  };
  // Exclusive publish lock for garbage collection; ABORTED when another collection runs.
  Result<Lock> LockForGc();

 private:
  struct Session;  // in-memory hashing state of one upload

  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  Result<Lock> LockPublish() const;
  // Moves the complete, fsync'ed temporary file `tmp_path` to the blob's place (or drops it when
  // the content is already stored).
  Result<BlobInfo> Publish(const std::string& tmp_path, const std::string& digest, uint64_t size);
  std::string SessionDir(const std::string& id) const { return root_ + "/uploads/" + id; }

  std::string root_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Session>> sessions_;
};

}  // namespace mlcore::artifacts
