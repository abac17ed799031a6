// Pure translations between mlcore's job model and slurmrestd's (REST API v0.0.38): job spec ->
// job/submit body, Slurm job state -> JobState, wait status -> exit code / signal, slurmrestd's
// error answers -> Status. No I/O; unit-tested in tests/unit/slurm_mapping_test.cc.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "mlcore/status.h"
#include "mlcore/v1/jobs.pb.h"

namespace mlcore::slurm {

// Where and how a job is placed on the cluster, decided by the backend before submission.
struct Placement {
  std::string partition;                   // empty = the cluster's default partition
  std::string qos;                         // empty = the user's default QoS
  std::string stdout_path;                 // absolute; Slurm writes the job's stdout here
  std::string stderr_path;                 // absolute
  std::map<std::string, std::string> env;  // the job's full environment (explicit)
};

// The job/submit request body (JSON text) for `job`, whose resources are already resolved (from
// its flavor). The script starts with "#!/bin/sh" (Slurm requires a shebang), checks that the
// command exists (so a typo ends FAILED with "command not found: X", exit code 127), then
// `exec`s the command with its arguments, each single-quoted. Time limit: the spec's deadline
// rounded up to whole minutes (Slurm's unit); none when unset. Errors: INVALID_ARGUMENT (no
// command: Slurm runs no images).
Result<std::string> BuildSubmitBody(const v1::Job& job, const Placement& placement);

// What a Slurm job state means for mlcore.
struct ObservedState {
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  std::string message;  // for final states: why (`exited with code 3`); for PENDING: Slurm's reason
  std::optional<int32_t> exit_code;
  std::optional<int32_t> signal;
};

// Maps Slurm's `job_state` (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL,
// BOOT_FAIL, PREEMPTED, OUT_OF_MEMORY, DEADLINE, REQUEUED, SUSPENDED, COMPLETING, CONFIGURING,
// ...), its `state_reason` and the wait status in `exit_code` to our state, message and exit code.
// `argv0` names the command for the "command not found" message. Unknown states map to RUNNING
// when the job has a start time, else PENDING, with the Slurm state in the message.
ObservedState MapSlurmState(const std::string& slurm_state, const std::string& reason,
                            int64_t wait_status, const std::string& argv0);

// Decodes a POSIX wait status (as Slurm reports it in `exit_code`) into an exit code or a signal.
void DecodeWaitStatus(int64_t wait_status, std::optional<int32_t>* exit_code,
                      std::optional<int32_t>* signal);

// Translates one slurmrestd answer into a Status, once for the whole backend: OK for 2xx with an
// empty `errors[]`; else the code that fits (401 -> UNAUTHENTICATED; Slurm error 2017 invalid job
// id -> NOT_FOUND; 2000/2001 invalid or no partition, 2005/2006 too many CPUs/nodes ->
// INVALID_ARGUMENT; 2002 access denied -> PERMISSION_DENIED; 2014/2015 node/partition config
// unavailable -> RESOURCE_EXHAUSTED; 2020/2021 already done -> FAILED_PRECONDITION; -1 "Unspecified
// error" and 5005 "Zero Bytes were transmitted" — what slurmctld answers for a rejected or expired
// JWT — -> UNAUTHENTICATED, saying how to get a new token; other 5xx -> UNAVAILABLE) with Slurm's
// own text kept. `what` names the operation for the message ("submit job train-1"). `token_expired`
// makes the expired-token case definite.
Status TranslateRestAnswer(long http_status, const std::string& body, const std::string& what,
                           bool token_expired);

// Seconds-since-epoch `exp` claim of a JWT (without verifying it); nullopt when unreadable.
std::optional<int64_t> JwtExpiry(const std::string& token);

// Quotes `s` for a POSIX shell ('...' with embedded quotes escaped).
std::string ShellQuote(const std::string& s);

}  // namespace mlcore::slurm
