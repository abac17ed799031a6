// Ties a job to its tracking run while its supervisor runs it: the run turns RUNNING, the job's
// process tree is sampled into "system/..." metrics (the supervisor is the tree's root), and the
// run ends with the job (FINISHED, FAILED or KILLED) unless the job is requeued.
#pragma once

#include <memory>
#include <string>

#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/tracking.pb.h"

namespace mlcore {
class Client;
class RunLogger;
}  // namespace mlcore

namespace mlcore::local {

// The status a job's run ends with: SUCCEEDED -> FINISHED, FAILED and TIMED_OUT -> FAILED,
// anything else (cancelled, preempted without requeue, lost) -> KILLED.
v1::RunStatus RunStatusOfJobState(v1::JobState state);

class JobRunTracker {
 public:
  // A no-op tracker when the job has no run or the tracking store cannot be opened (the job
  // runs regardless; the problem is logged). Blocks the supervisor's signals first, so the
  // sampling threads never receive them.
  JobRunTracker(const std::string& state_dir, const v1::Job& job);
  ~JobRunTracker();
  JobRunTracker(const JobRunTracker&) = delete;
  JobRunTracker& operator=(const JobRunTracker&) = delete;

  // The attempt ended in `state`; `requeued` when the job will run again.
  void Ended(v1::JobState state, bool requeued);

 private:
  std::string run_id_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<RunLogger> logger_;
};

}  // namespace mlcore::local
