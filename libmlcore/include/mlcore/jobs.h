// Job-spec helpers for the surfaces (CLI, Python, C ABI). The spec itself is v1::JobSpec; the
// preset file format is documented in docs/job-spec.md. Linting against a backend's flavors and
// priority classes is Client::LintJobSpec.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/duration.pb.h>

#include "mlcore/status.h"
#include "mlcore/v1/common.pb.h"
#include "mlcore/v1/jobs.pb.h"

namespace mlcore {

// One line per problem: `FILE:LINE:COLUMN: error: MESSAGE (did you mean "X"?)`.
std::string FormatLintProblems(const std::vector<v1::LintProblem>& problems);

// The spec as YAML in the preset format; reading it back gives an equal spec.
std::string JobSpecToYaml(const v1::JobSpec& spec);

// The spec of `mlc job submit -- python train.py --lr 0.1`: argv[0] is the command, the rest
// its args. Errors: INVALID_ARGUMENT for an empty argv.
Result<v1::JobSpec> JobSpecFromCommand(const std::vector<std::string>& argv);

// Parses "90s", "15m", "2h", "1h30m", "1d" or a number of seconds.
// Errors: INVALID_ARGUMENT naming the accepted forms.
Result<google::protobuf::Duration> ParseDurationText(std::string_view text);

// "1h30m", "90s", "250ms": the shortest exact form of `duration`.
std::string FormatDurationText(const google::protobuf::Duration& duration);

// True for the states a job never leaves: SUCCEEDED, FAILED, CANCELLED, TIMED_OUT, LOST, and
// PREEMPTED when it was not requeued.
bool IsFinalJobState(v1::JobState state);

// "RUNNING" for JOB_STATE_RUNNING.
std::string JobStateName(v1::JobState state);

}  // namespace mlcore
