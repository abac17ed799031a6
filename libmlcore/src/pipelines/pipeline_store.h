// Pipeline runs and the step cache of the local engine, in `<state>/pipelines.db` (SQLite, WAL).
//
// A run is stored whole (v1::PipelineRun serialized) and rewritten by its driver, the one process
// that advances it (see pipeline_driver.h). Requests from other processes never rewrite the body:
// a cancel request and the driver's identity live in columns of their own, so a driver's write
// cannot lose a cancel made meanwhile. The step cache maps a step's cache key (pipeline_driver.h)
// to the outputs of the step that first produced them, per project.
//
// Thread safety: all methods may be called concurrently (one connection, serialized by a mutex);
// several processes may share the file.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "local/process.h"
#include "local/sqlite_store.h"
#include "mlcore/pipelines.h"
#include "mlcore/status.h"
#include "mlcore/v1/pipelines.pb.h"

namespace mlcore::pipelines {

// A stored run with what lives beside its body.
struct StoredPipelineRun {
  v1::PipelineRun run;
  // Set when a cancel was requested and not yet carried out (the reason, possibly empty).
  std::optional<std::string> cancel_reason;
  // The process driving the run (pid 0 when none was started).
  local::ProcessIdentity driver;
};

class PipelineStore {
 public:
  // Opens (creating) `<state_dir>/pipelines.db`.
  static Result<std::unique_ptr<PipelineStore>> Open(const std::string& state_dir);

  // Inserts a new run (its id set). With a non-empty `request_id` seen before, returns the run
  // that request created instead and inserts nothing.
  Result<v1::PipelineRun> Insert(const v1::PipelineRun& run, const std::string& request_id);
  // Errors: NOT_FOUND.
  Result<StoredPipelineRun> Get(const std::string& id);
  // Runs of `project` (all projects when empty), newest first, filtered; `offset` for paging.
  Result<std::vector<v1::PipelineRun>> List(const std::string& project, const std::string& name,
                                            const std::vector<v1::PipelineRunState>& states,
                                            const std::string& user, int limit, int offset);
  // Replaces the body (the driver's write). Keeps the cancel request unless `clear_cancel`.
  Status Save(const v1::PipelineRun& run, bool clear_cancel = false);
  // Records a cancel request. Returns false when the run is already terminal.
  Result<bool> RequestCancel(const std::string& id, const std::string& reason);
  // Makes `self` the run's driver unless another live process is. Returns whether it is.
  Result<bool> ClaimDriver(const std::string& id, const local::ProcessIdentity& self);
  // Records a driver that was launched (claimed by it once it starts).
  Status SetDriver(const std::string& id, const local::ProcessIdentity& driver);

  // The outputs cached under `key` in `project`, with the job that produced them.
  Result<std::optional<v1::StepRun>> CacheLookup(const std::string& project,
                                                 const std::string& key);
  Status CacheStore(const std::string& project, const std::string& key, const v1::StepRun& step);
  Status CacheDrop(const std::string& project, const std::string& key);

 private:
  explicit PipelineStore(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}

  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
};

}  // namespace mlcore::pipelines
