// File plumbing of the data-load cache tiers: temporary downloads that vanish when their writer
// dies, atomic publication, single-flight locks, copies that hash what they copy.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "datacache/origin.h"
#include "mlcore/status.h"
#include "util/sha256.h"

namespace mlcore::datacache {

// <tier>/objects/<d[0:2]>/<digest>.
std::string ObjectPath(const std::string& tier_dir, const std::string& digest);

// An exclusive flock on a file, released on destruction (or when the process dies).
class FileLock {
 public:
  // Blocks until the lock is held; `*waited` says whether another holder made us wait.
  static Result<FileLock> Acquire(const std::string& path, bool* waited);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// A download in <tier>/tmp, flock'ed while open; removed on destruction unless published.
// Also the FetchSink origins write into: hashes what it receives (one pass, no re-read) and
// reports progress.
//
// Write writes the bytes to the file at once (from the caller's buffer, still in the CPU cache)
// and copies them into a bounded ring of buffers; once the first buffer fills, a thread hashes
// the ring in order and starts the writeback of what it has hashed (sync_file_range), so
// receiving and writing overlap with hashing, and the fsync in Publish has little left to do. An
// object smaller than one buffer is hashed by Finish on the calling thread, without a thread.
class TempObject : public FetchSink {
 public:
  using Progress = std::function<bool(uint64_t done, uint64_t total)>;
  using OnAnnounce = std::function<Status(uint64_t total)>;
  static Result<std::unique_ptr<TempObject>> Create(const std::string& tier_dir);
  ~TempObject() override;
  TempObject(const TempObject&) = delete;
  TempObject& operator=(const TempObject&) = delete;

  void set_progress(Progress progress) { progress_ = std::move(progress); }
  void set_on_announce(OnAnnounce on_announce) { on_announce_ = std::move(on_announce); }

  Status Announce(uint64_t total_bytes) override;
  Status Write(std::string_view bytes) override;
  Status Restart() override;
  // Bytes written (all of them are hashed by the time Finish returns).
  uint64_t bytes_written() const override { return written_; }

  // Hashes whatever is still queued and stops the hashing thread; the first write error, if
  // any. Call after the last Write (Digest and Publish call it too).
  Status Finish();
  // The digest of everything written (once, after the last Write). Call Finish first to learn
  // about write errors.
  std::string Digest();
  // Finish, fsync, rename to `final_path` (creating its directory), fsync the directory. When
  // `final_path` already exists (same content, by address) the temporary is just removed.
  Status Publish(const std::string& final_path);
  const std::string& path() const { return path_; }

 private:
  class Pipeline;
  TempObject(int fd, std::string path);
  int fd_;
  std::string path_;
  uint64_t written_ = 0;
  uint64_t total_ = 0;
  std::unique_ptr<Pipeline> pipeline_;
  Progress progress_;
  OnAnnounce on_announce_;
  bool published_ = false;
};

// Copies `src` into a new TempObject of `tier_dir` (hashing it). `on_announce` runs first with
// the size.
Result<std::unique_ptr<TempObject>> CopyToTemp(const std::string& src, const std::string& tier_dir,
                                               const TempObject::OnAnnounce& on_announce);

// Removes downloads in <tier>/tmp whose writer is gone (their flock is free).
void RemoveStaleTemps(const std::string& tier_dir);

// Maps a write/fsync errno to a Status naming `path`: disk full and file-size limit ->
// RESOURCE_EXHAUSTED.
Status WriteError(int err, const std::string& path);

// One entry of a link tree: a path relative to the tree, and the object it links to.
struct TreeLink {
  std::string path;
  std::string target;
};

// Publishes <trees_dir>/<digest>: a directory of symlinks at `links`' paths to their targets.
// Atomic: the tree appears complete or not at all; an existing tree of that digest is kept (same
// content, by address). Returns its path. Errors: the filesystem's (a path escaping the tree is
// INVALID_ARGUMENT).
Result<std::string> PublishLinkTree(const std::string& trees_dir, const std::string& digest,
                                    const std::vector<TreeLink>& links);

}  // namespace mlcore::datacache
