// The local runtime's scheduling pass and job control, shared by every process that opens a
// local store: clients (after submit, cancel, ls), job supervisors (after a job ends) and
// `mlc-supervisor` itself. There is no daemon: any of them may run a pass; passes serialize on
// the store's write lock.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "local/job_store.h"
#include "local/sqlite_store.h"
#include "mlcore/status.h"
#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/projects.pb.h"
#include "mlcore/v1/scheduling.pb.h"

namespace mlcore::local {

// Everything a pass needs besides the store.
struct RuntimeContext {
  std::string state_dir;                      // the local:// directory
  v1::Node node;                              // this machine, as the scheduler sees it
  v1::FlavorCatalog flavors;                  // the flavor catalog jobs resolve against
  std::vector<v1::PriorityClass> priorities;  // the priority classes
  v1::SchedulerConfig scheduler;              // tunables
  // Set only in the pass loop of `mlc-supervisor --schedule` (a single-threaded process): runs a
  // job's supervisor in this process. The loop then starts supervisors by fork alone, without
  // loading the executable again, and also starts those other processes' passes queued for it.
  std::function<int(const std::string& job_id)> run_supervisor;
};

// The context for `state_dir`: this machine's detected capacity, the default catalog and classes.
RuntimeContext DefaultRuntimeContext(const std::string& state_dir);

// Directory holding a job's files (output.log, supervisor.log, secrets, snapshot).
std::string JobDir(const std::string& state_dir, const std::string& job_id);

// Runs one pass: marks jobs whose supervisor vanished LOST (or requeues them when their policy
// says so), asks the scheduler, records starts, preemptions and waiting reasons, then launches a
// supervisor per started job and signals the supervisors of preempted ones.
// While a pass loop is running, a pass in any other process leaves the supervisors of the jobs it
// started to the loop (the store's launch queue), which starts them by fork, at a fraction of the
// cost of an exec.
Status RunSchedulingPass(sqlite::Db& db, const RuntimeContext& ctx);

// The pass without the launches: returns the jobs whose supervisors the caller must start, with
// LaunchSupervisors (in the pass loop: those queued by other processes too).
Result<std::vector<std::string>> DecideSchedulingPass(sqlite::Db& db, const RuntimeContext& ctx);

// Starts the supervisors of `job_ids`, STARTING jobs of a pass: by fork when ctx.run_supervisor is
// set, else by exec of mlc-supervisor. `db` is opened (again) only to record a job that cannot be
// started as FAILED, so the pass loop calls this with its connection closed. Returns the first
// error.
Status LaunchSupervisors(const std::function<Result<sqlite::Db*>()>& db, const RuntimeContext& ctx,
                         const std::vector<std::string>& job_ids);

// Whether a pass would change anything now: a change asked for one (the dirty mark), a pending
// job's ttl expired, an active job's supervisor is gone, jobs wait in the launch queue of a pass
// loop that is gone, or jobs are pending and either one became due (retry backoff) since the last
// pass or that pass is kReadPassMaxAgeUs old (waiting reasons that name a time). Reads only, in one
// snapshot; it loads no pending record.
Result<bool> SchedulingPassNeeded(sqlite::Db& db);
inline constexpr int64_t kReadPassMaxAgeUs = 1000000;

// For readers (GetJob, ListJobs), which reconcile so that a job whose supervisor vanished never
// looks RUNNING forever: runs a pass when SchedulingPassNeeded says so, without taking the write
// lock otherwise. Returns whether a pass ran.
Result<bool> RunSchedulingPassIfNeeded(sqlite::Db& db, const RuntimeContext& ctx);

// Asks for a pass after a change (a submit): runs it at once unless one ran less than
// kPassBatchWindowUs ago; then marks the store dirty and makes sure a short-lived pass loop
// (`mlc-supervisor --schedule`) picks the change up within the window. This batches the passes of
// a burst of submits without any long-running daemon.
Status RequestSchedulingPass(sqlite::Db& db, const RuntimeContext& ctx);

// The pass loop of `mlc-supervisor --schedule`: while submits keep marking the store dirty, runs a
// pass every kPassBatchWindowUs; exits once a window passes with nothing new. Returns an exit code.
// It opens the store itself, and closes it around the forks of LaunchSupervisors.
int RunPassLoop(const RuntimeContext& ctx);

// Batching window of RequestSchedulingPass: at least 10 ms, and at least as long as the last pass
// took, so passes never hold the store's write lock more than about half of the time.
inline constexpr int64_t kPassBatchWindowUs = 10000;
inline int64_t PassWindowUs(int64_t last_pass_duration_us) {
  return last_pass_duration_us > kPassBatchWindowUs ? last_pass_duration_us : kPassBatchWindowUs;
}

// runtime_meta keys.
inline constexpr const char* kMetaDirty = "pass_dirty";
inline constexpr const char* kMetaLastPassUs = "last_pass_us";  // when the last pass finished
inline constexpr const char* kMetaPassDurationUs = "last_pass_duration_us";
inline constexpr const char* kMetaKicker = "pass_loop_process";
inline constexpr const char* kMetaKickerSpawnedUs = "pass_loop_spawned_us";
// Jobs started by passes of other processes whose supervisors the pass loop is to start, one id
// per line.
inline constexpr const char* kMetaLaunchQueue = "pass_loop_launch_queue";
// A pass loop that has not registered this long after being spawned is presumed dead.
inline constexpr int64_t kKickerStartTimeoutUs = 1000000;

// "PID START_TICKS BOOT_ID" and back (an empty or malformed text gives pid 0).
std::string FormatIdentity(const ProcessIdentity& id);
ProcessIdentity ParseIdentity(const std::string& text);

// Converts a job into the scheduler's view of it.
v1::SchedulableJob ToSchedulable(const v1::Job& job, const std::string& node_name);

// All projects of the store.
Result<std::vector<v1::Project>> LoadProjects(sqlite::Db& db);

// Asks a job to stop. PENDING jobs end at once (CANCELLED; a preempt of a pending job is
// FAILED_PRECONDITION); running ones get a stop request and their supervisor a SIGTERM; jobs
// whose supervisor is gone become LOST/CANCELLED directly. Returns the updated job.
// Errors: FAILED_PRECONDITION (already finished; not preemptible), NOT_FOUND.
Result<v1::Job> StopJob(sqlite::Db& db, const RuntimeContext& ctx, const std::string& job_id,
                        StopRequest kind, const std::string& reason, int64_t grace_ms);

// Default grace period between SIGTERM and SIGKILL when the spec names none.
inline constexpr int64_t kDefaultGraceMs = 30000;

}  // namespace mlcore::local
