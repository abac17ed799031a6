// Pieces shared by the files of libmlcore/src/pipelines; not for use outside it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/job_spec.h"
#include "core/yaml_proto.h"
#include "mlcore/v1/common.pb.h"
#include "mlcore/v1/pipelines.pb.h"

namespace mlcore::pipelines {

// A semantic problem and the index path of the field it is about ("steps[2].inputs[0]"), which
// finds its position in the text (problem.field_path holds the named form, "steps.train.inputs.x").
struct LocatedProblem {
  v1::LintProblem problem;
  std::string locator;
};

// Collects problems in check order.
struct ProblemList {
  void Add(v1::LintSeverity severity, std::string_view code, const std::string& path,
           std::string locator, std::string message, std::string suggestion);
  void Error(std::string_view code, const std::string& path, std::string locator,
             std::string message, std::string suggestion = {}) {
    Add(v1::LINT_SEVERITY_ERROR, code, path, std::move(locator), std::move(message),
        std::move(suggestion));
  }
  void Warning(std::string_view code, const std::string& path, std::string locator,
               std::string message, std::string suggestion = {}) {
    Add(v1::LINT_SEVERITY_WARNING, code, path, std::move(locator), std::move(message),
        std::move(suggestion));
  }

  std::vector<LocatedProblem> problems;
};

// Checks the inputs (or outputs) of the pipeline or of one step: names ([a-z][a-z0-9_]*, unique),
// types, and defaults (inputs only; JSON of a parameter's type, URIs for artifacts and datasets).
// `path` and `locator` are the named and index paths of the list ("steps.train.inputs",
// "steps[1].inputs"); `owner` names its owner in messages (`step "train"`, "the pipeline").
void CheckIoSpecs(const google::protobuf::RepeatedPtrField<v1::IoSpec>& ios,
                  const std::string& path, const std::string& locator, const std::string& owner,
                  bool inputs, ProblemList* out);

// The semantic checks of pipeline_spec.h's LintPipelineSpec, in check order, unpositioned.
std::vector<LocatedProblem> CheckPipelineSpec(const v1::PipelineSpec& spec, const LintContext& ctx);

// "int" for PARAMETER_TYPE_INT; "string" for STRING and UNSPECIFIED.
std::string ParameterTypeName(v1::ParameterType type);

// UNSPECIFIED -> STRING; others unchanged.
v1::ParameterType EffectiveType(v1::ParameterType type);

// "an int parameter", "an artifact", "metrics"; with `bare`: "int", "artifact", "metrics".
std::string IoTypeText(const v1::IoSpec& io, bool bare);

}  // namespace mlcore::pipelines
