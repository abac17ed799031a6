// The job supervisor: one `mlc-supervisor` process per running job. It outlives the client that
// submitted the job, runs the command in its own process group with the job's environment,
// captures stdout/stderr with timestamps into the job's log, enforces the deadline, carries out
// cancel/preempt requests (SIGTERM to the group, SIGKILL after the grace period), records the
// exit, resource usage and retries in the store, and runs the next scheduling pass.
#pragma once

#include <map>
#include <string>

#include "mlcore/v1/jobs.pb.h"

namespace mlcore::local {

// The environment every process of a job gets from its record: the recorded environment, the
// spec's `env`, and MLC_JOB_ID/_NAME, MLC_PROJECT, MLC_BACKEND (local://`state_dir`),
// MLC_ATTEMPT and MLC_RUN_ID (when the job has a run). The supervisor adds inputs, the checkpoint
// key and secrets.
std::map<std::string, std::string> JobEnvironment(const v1::Job& job, const std::string& state_dir);

// Supervises job `job_id` of the local store in `state_dir`; returns the process exit code (0
// when the job's outcome was recorded, whatever it was).
int RunSupervisor(const std::string& state_dir, const std::string& job_id);

// Entry point of the mlc-supervisor executable: `mlc-supervisor --state DIR --job ID`.
int SupervisorMain(int argc, char** argv);

}  // namespace mlcore::local
