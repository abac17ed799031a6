// Checkpoints that make a preempted or rerun job resume fast.
//
//   MLC_ASSIGN_OR_RETURN(auto ckpt, mlcore::Checkpoints::Open(*client));  // inside a job
//   MLC_ASSIGN_OR_RETURN(auto latest, ckpt->RestoreLatest());              // NOT_FOUND at first
//   ... every N steps:
//   MLC_ASSIGN_OR_RETURN(std::string dir, ckpt->Begin(step));  // write files into `dir`
//   MLC_RETURN_IF_ERROR(ckpt->Commit(step).status());          // or Save(existing_dir, step)
//
// Save/Commit return as soon as the checkpoint is complete on this machine's hot tier (local
// disk: a copy, or nothing at all when written in place with Begin); the upload to the artifact
// store (artifact `checkpoints/<key>/step-<012 step>`, kind CHECKPOINT, owned by the job or run)
// happens on a background thread. Flush() and the destructor wait for the uploads.
//
// RestoreLatest() looks for the highest step of the same key: on the hot tier first (no copy at
// all), else in the artifact store (downloaded, verified, into the hot tier). The key ties a
// job's attempts together: a requeued job keeps its id, and a rerun inherits the key of the job
// it reruns (MLC_CHECKPOINT_KEY, set by the backend in every job's environment). Outside a job it
// is the run's id.
//
// The hot tier: $MLC_CHECKPOINT_DIR, else <data cache hot dir>/checkpoints for local:// backends
// (see docs/data.md), else $XDG_CACHE_HOME/mlcore/checkpoints. Only the newest `keep_local`
// uploaded checkpoints of a key stay there.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mlcore/status.h"
#include "mlcore/v1/common.pb.h"

namespace mlcore {

class Client;

struct CheckpointOptions {
  // Groups the checkpoints restored together; empty = $MLC_CHECKPOINT_KEY, else the owner's id.
  std::string key;
  // Owner of the uploaded artifacts (a run or a job); unset = $MLC_JOB_ID, else $MLC_RUN_ID.
  v1::ObjectRef owner;
  // Hot-tier directory; empty = the default above.
  std::string dir;
  // Uploaded checkpoints of this key kept on the hot tier (at least 1).
  int keep_local = 2;
};

struct CheckpointInfo {
  int64_t step = 0;
  std::string local_path;      // directory on the hot tier
  std::string artifact_id;     // empty until uploaded
  bool from_hot_tier = false;  // RestoreLatest: found locally (else downloaded)
};

class Checkpoints {
 public:
  // Errors: INVALID_ARGUMENT (no key or owner can be determined: not in a job or run and none
  // given), NOT_FOUND (owner), and the hot tier's directory errors.
  static Result<std::unique_ptr<Checkpoints>> Open(Client& client,
                                                   const CheckpointOptions& options = {});
  ~Checkpoints();  // waits for pending uploads (errors are logged)
  Checkpoints(const Checkpoints&) = delete;
  Checkpoints& operator=(const Checkpoints&) = delete;

  // An empty directory on the hot tier to write checkpoint `step` into; Commit(step) publishes
  // it. Errors: INVALID_ARGUMENT (negative step), ALREADY_EXISTS (step committed already).
  Result<std::string> Begin(int64_t step);
  // Publishes the directory of Begin(step) (atomically) and queues its upload.
  Result<CheckpointInfo> Commit(int64_t step);
  // Copies the file or directory `path` into the hot tier as checkpoint `step` and queues its
  // upload. Errors: NOT_FOUND (path), ALREADY_EXISTS, RESOURCE_EXHAUSTED (disk full).
  Result<CheckpointInfo> Save(const std::string& path, int64_t step);
  // The newest checkpoint of the key, ready on the hot tier. Errors: NOT_FOUND (none yet).
  Result<CheckpointInfo> RestoreLatest();
  // Waits for queued uploads; returns the first upload error since the last Flush.
  Status Flush();

  const std::string& key() const;
  const std::string& dir() const;  // <hot tier>/<key>

 private:
  Checkpoints() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlcore
