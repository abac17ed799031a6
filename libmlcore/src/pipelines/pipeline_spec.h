// Pipeline specs: reading them from YAML or JSON text and checking them (`mlc pipeline lint`,
// PipelineService.LintPipeline, Client::LintPipeline).
//
// The spec is v1::PipelineSpec (proto/mlcore/v1/pipelines.proto); the file format is documented in
// docs/pipelines.md. Text is converted by the same reflection-based reader as job specs
// (core/yaml_proto.h, with job specs' options for the embedded `job:` of each step), so problems
// come with file:line:column. Every problem is reported at once, in file order, each naming the
// step it is about and what to do.
//
// Typical use:
//   MLC_ASSIGN_OR_RETURN(ParsedPipelineSpec parsed, ParsePipelineYaml(text, "pipeline.yaml"));
//   std::vector<v1::LintProblem> problems = LintPipelineSpec(parsed, ctx);
//   if (!HasLintErrors(problems)) run(ResolvePipelineSpec(parsed.spec));
//
// Thread safety: every function is reentrant and keeps no state.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/job_spec.h"
#include "core/yaml_proto.h"
#include "mlcore/status.h"
#include "mlcore/v1/common.pb.h"
#include "mlcore/v1/pipelines.pb.h"

namespace mlcore::pipelines {

// Largest pipeline text accepted, in bytes (4 MiB).
inline constexpr size_t kMaxPipelineSpecBytes = size_t{4} << 20;

// A pipeline read from text, with where each field was written.
struct ParsedPipelineSpec {
  // Every field that converted; fields with problems are left unset.
  v1::PipelineSpec spec;
  // File name as the caller gave it (copied into problems); may be empty.
  std::string file;
  // Canonical index paths ("steps[2].inputs[0].name") -> 1-based position of their key.
  FieldPositions positions;
  // Problems of the YAML layer (syntax, unknown fields, type errors), in file order.
  std::vector<v1::LintProblem> problems;
  // Fields that misspelled keys probably meant (see YamlToProtoResult::guessed_paths).
  std::set<std::string, std::less<>> guessed_paths;
};

// Parses YAML or JSON text; problems in the text are collected, never returned as errors.
// Errors: INVALID_ARGUMENT when the text exceeds kMaxPipelineSpecBytes.
Result<ParsedPipelineSpec> ParsePipelineYaml(std::string_view text, std::string_view file_name);

// Semantic checks of a spec from any source (problems carry named field paths such as
// "steps.train.inputs.data", and no positions):
// - names: the pipeline's (1-63 of [a-z0-9-], starting with a letter), steps' (same rule),
//   inputs' and outputs' ([a-z][a-z0-9_]*); duplicates among steps, or among one step's inputs
//   (outputs); the project name when set;
// - every input and output has a type; a parameter's default parses as JSON of its type;
// - each step's job spec passes LintJobSpec(ctx) (problems re-rooted at "steps.NAME.job");
// - edges: the source step and output (or pipeline input) exist, the target step and input (or
//   pipeline output) exist, kinds and parameter types agree (INT feeds DOUBLE; a parallel-for
//   step's parameter outputs arrive as LIST), no input is fed twice;
// - every required input (not optional, no default) of a step and every required pipeline output
//   is fed by an edge;
// - parallel_for names an input of parameter type LIST; max_parallelism >= 0;
// - conditions parse (see pipelines/condition.h), name existing pipeline inputs and step outputs
//   (parameters or metrics, not artifacts), compare compatible types;
// - depends_on names existing steps other than itself;
// - the DAG of edges, conditions and depends_on has no cycle (each cycle reported once, naming
//   its steps in order);
// - the exit handler is a valid step with no condition or parallel_for, and feeds nothing.
// Codes: invalid_name, duplicate_name, invalid_value, missing_type, invalid_default,
// unknown_step, unknown_input, unknown_output, type_mismatch, duplicate_edge, missing_input,
// missing_output, invalid_parallel_for, invalid_condition, unknown_dependency, cycle,
// unused_input (warning), ignored_field (warning), and the job spec codes of LintJobSpec.
std::vector<v1::LintProblem> LintPipelineSpec(const v1::PipelineSpec& spec, const LintContext& ctx);

// The YAML-layer problems of `parsed` plus the semantic ones, each positioned at the text that
// set the offending field (or its closest written parent), in file order. Semantic problems about
// a field the YAML layer already reported are dropped.
std::vector<v1::LintProblem> LintPipelineSpec(const ParsedPipelineSpec& parsed,
                                              const LintContext& ctx);

// The spec with defaults filled in: parameter_type STRING where a parameter leaves it unset,
// cache ENABLED on the pipeline when unset, each step's retry copied from its job's when unset.
// Meant for a spec without lint errors.
v1::PipelineSpec ResolvePipelineSpec(const v1::PipelineSpec& spec);

// The spec as YAML in the file format; ParsePipelineYaml reads it back to an equal spec.
std::string PipelineSpecToYaml(const v1::PipelineSpec& spec);

// The whole of a lint request: parses `request.text` (or takes `request.spec`), checks it against
// `ctx`, and fills `resolved_spec` when there is no error. Errors: INVALID_ARGUMENT when neither
// text nor spec is given, or the text is too large.
Result<v1::LintPipelineResponse> LintPipeline(const v1::LintPipelineRequest& request,
                                              const LintContext& ctx);

}  // namespace mlcore::pipelines
