// Ties a job to its tracking run while its supervisor runs it: the run turns RUNNING, the job's
// process tree is sampled into "system/..." metrics (the supervisor is the tree's root), and the
// run ends with the job (FINISHED, FAILED or KILLED) unless the job is requeued.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/tracking.pb.h"

namespace mlcore {
class Client;
class RunLogger;
}  // namespace mlcore

namespace mlcore::local {

class TrackingStore;

// The status a job's run ends with: SUCCEEDED -> FINISHED, FAILED and TIMED_OUT -> FAILED,
// anything else (cancelled, preempted without requeue, lost) -> KILLED.
v1::RunStatus RunStatusOfJobState(v1::JobState state);

class JobRunTracker {
 public:
  // Cheap: nothing is opened until the job starts (or ends without starting). Blocks the
  // supervisor's signals first, so the sampling threads never receive them.
  JobRunTracker(const std::string& state_dir, const v1::Job& job);
  ~JobRunTracker();
  JobRunTracker(const JobRunTracker&) = delete;
  JobRunTracker& operator=(const JobRunTracker&) = delete;

  // The job is RUNNING: the run turns RUNNING, and system metrics are sampled from
  // min(interval, 250 ms) on, by a background thread. A job that ends sooner never pays for
  // the sampler, which keeps job starts cheap in a burst of short jobs. A no-op when the job has
  // no run or the tracking store cannot be opened (the job runs regardless; the problem is
  // logged).
  void Started();

  // The attempt ended in `state`; `requeued` when the job will run again.
  void Ended(v1::JobState state, bool requeued);

 private:
  bool OpenStore();
  // Cancels a sampler start that is still waiting, and waits for one under way.
  void StopSampler();
  void SetStatus(v1::RunStatus status);

  std::string state_dir_;
  std::string run_id_;
  std::unique_ptr<TrackingStore> store_;  // for the run's status: one SQLite file, no Client
  bool open_failed_ = false;
  std::chrono::milliseconds interval_{0};
  std::mutex mu_;
  std::condition_variable ended_cv_;
  bool ended_ = false;
  std::thread attach_;
  std::unique_ptr<Client> client_;     // the sampler's; set by `attach_`, read after it is joined
  std::unique_ptr<RunLogger> logger_;  // likewise
};

}  // namespace mlcore::local
