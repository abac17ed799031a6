// The job supervisor: one `mlc-supervisor` process per running job. It outlives the client that
// submitted the job, runs the command in its own process group with the job's environment,
// captures stdout/stderr with timestamps into the job's log, enforces the deadline, carries out
// cancel/preempt requests (SIGTERM to the group, SIGKILL after the grace period), records the
// exit, resource usage and retries in the store, and runs the next scheduling pass.
#pragma once

#include <string>

namespace mlcore::local {

// Supervises job `job_id` of the local store in `state_dir`; returns the process exit code (0
// when the job's outcome was recorded, whatever it was).
int RunSupervisor(const std::string& state_dir, const std::string& job_id);

// Entry point of the mlc-supervisor executable: `mlc-supervisor --state DIR --job ID`.
int SupervisorMain(int argc, char** argv);

}  // namespace mlcore::local
