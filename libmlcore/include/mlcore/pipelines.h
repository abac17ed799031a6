// Pipeline helpers for the surfaces (CLI, Python, C ABI). The pipeline itself is v1::PipelineSpec
// (proto/mlcore/v1/pipelines.proto); the file format is documented in docs/pipelines.md. Checking a
// pipeline against a backend's flavors and priority classes is Client::LintPipeline.
#pragma once

#include <string>

#include "mlcore/status.h"
#include "mlcore/v1/pipelines.pb.h"

namespace mlcore {

// True for the states a pipeline run ends in: SUCCEEDED, FAILED and CANCELLED.
inline bool IsFinalPipelineRunState(v1::PipelineRunState state) {
  return state == v1::PIPELINE_RUN_STATE_SUCCEEDED || state == v1::PIPELINE_RUN_STATE_FAILED ||
         state == v1::PIPELINE_RUN_STATE_CANCELLED;
}

// The spec as YAML in the pipeline file format (block style, set fields only, enums in short
// form); reading it back (Client::LintPipeline's resolved_spec) gives an equal spec.
std::string PipelineSpecToYaml(const v1::PipelineSpec& spec);

}  // namespace mlcore
