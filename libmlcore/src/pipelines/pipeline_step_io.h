// Values in and out of a pipeline step's job: parameters as JSON of their type, the text a step
// sees, the step cache key, `{{inputs.NAME}}` substitution, inputs materialized for the job
// (artifacts downloaded, datasets loaded) and outputs collected from `$MLC_OUTPUT_DIR` (artifacts
// stored, metrics logged). Used by the driver (pipeline_driver.h) and the engine's input checks.
//
// Thread safety: reentrant; the Client functions use the client as their only shared state.
#pragma once

#include <map>
#include <string>

#include "mlcore/status.h"
#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/pipelines.pb.h"

namespace mlcore {
class Client;
}

namespace mlcore::pipelines {

// The JSON text of parameter `io` given as text (a run's input value, a default, a step's output
// file): a STRING is taken as it is unless it already is a JSON string; other types must parse as
// JSON of their type. Errors: INVALID_ARGUMENT starting with `what` ("input rows is not a valid
// INT: ...").
Result<std::string> ParameterJsonOfText(const v1::IoSpec& io, const std::string& text,
                                        const std::string& what);

// What a step sees of a parameter: the text of a string, the JSON otherwise.
std::string ParameterEnvText(const std::string& json_text);

// "MLC_INPUT_DATA" for input "data".
std::string InputEnvName(const std::string& input);

// The step cache key of `sr` (its inputs resolved) as a run of `step`: see pipeline_driver.h.
std::string CacheKey(const v1::Step& step, const v1::StepRun& sr);

// `text` with each {{inputs.NAME}} replaced by `values[NAME]` (empty when unknown).
std::string Substitute(std::string text, const std::map<std::string, std::string>& values);

// Makes input `value` available to a job on this machine and sets `*env_value` to what the job
// sees: a parameter's text, metrics as JSON, a dataset's local path (loaded through the data
// cache), an artifact's path under `dir` (the file itself for a one-file artifact; for a list of
// artifacts, one subdirectory per element).
Status MaterializeInput(Client& client, const std::string& project, const v1::IoValue& value,
                        const std::string& dir, std::string* env_value);

// Reads the declared outputs of `step` that `job` (SUCCEEDED) wrote under `dir` into
// `sr.outputs`: artifacts stored under the job's run, metrics also logged to it.
// Errors: FAILED_PRECONDITION (a required output missing), INVALID_ARGUMENT (malformed output),
// or the store's.
Status CollectStepOutputs(Client& client, const v1::PipelineRun& run, const v1::Step& step,
                          const v1::Job& job, const std::string& dir, v1::StepRun& sr);

}  // namespace mlcore::pipelines
