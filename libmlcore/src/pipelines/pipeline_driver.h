// The pipeline driver: advances one pipeline run to its end through the jobs API of any backend.
//
// Each pass (a few milliseconds apart while anything changes, backing off to 200 ms when nothing
// does) it:
// - carries out a cancel request: cancels the active steps' jobs, marks steps that never started
//   CANCELLED, runs the exit handler;
// - polls the jobs of RUNNING steps; a SUCCEEDED job's outputs are read from its output directory
//   (`$MLC_OUTPUT_DIR/<name>`): parameters and metrics as JSON, artifacts stored in the artifact
//   store under the step's tracking run (passed on by digest); a declared output that is missing or
//   malformed fails the step, saying which;
// - starts every step whose dependencies have ended: a failed dependency makes it UPSTREAM_FAILED,
//   a false condition or an input from a skipped step SKIPPED, a parallel-for expands into one
//   step run per element (at most max_parallelism running at once); otherwise the step's cache
//   key is looked up and, on a miss, its job is submitted (idempotently: request id = run, step,
//   iteration and resume count, so a driver restarted mid-submit never submits twice);
// - when every step has ended, runs the exit handler and records the outcome, the pipeline's
//   outputs and the parent tracking run's status.
//
// Cache key: SHA-256 over the step's job spec (including its labels, where the Python DSL records
// the component's code digest, `mlc.code-digest`), its declared outputs, and its input values (by
// content: parameter JSON, artifact manifest digests, dataset URIs and digests). A hit reuses the
// outputs of the step that produced them when its artifacts still exist (CACHED); caching is off
// for a step with `cache: disabled`, a pipeline with `cache: disabled`, a run with
// `cache_disabled`, or everywhere with MLC_PIPELINE_CACHE=0. A step run without caching still
// records its outputs for later runs.
//
// Files: `<work_dir>/<step>[-<i>]/r<resumes>/{inputs,outputs}` hold a step's downloaded inputs and
// the outputs its job writes. Steps' jobs must see this directory (true for local://, for a server
// driving its own jobs, and for Slurm clusters sharing the state directory's filesystem).
#pragma once

#include <string>

#include "mlcore/status.h"

namespace mlcore {
class Client;
}

namespace mlcore::pipelines {

class PipelineStore;

// Drives run `id` of `store` until it ends (or another live driver owns it), submitting jobs and
// storing artifacts through `client`. Returns OK once the outcome is recorded; errors only for a
// store that cannot be read or written.
Status DrivePipelineRun(Client& client, PipelineStore& store, const std::string& id,
                        const std::string& work_dir);

}  // namespace mlcore::pipelines
