#include "pipelines/pipeline_spec.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "mlcore/pipelines.h"
#include "pipelines/pipeline_internal.h"

namespace mlcore::pipelines {
namespace {

// "steps[2].job.command" -> "steps.train.job.command" when step 2 has a name.
std::string NamedPath(const v1::PipelineSpec& spec, const std::string& path) {
  if (!path.starts_with("steps[")) return path;
  size_t close = path.find(']');
  if (close == std::string::npos) return path;
  int index = std::atoi(path.c_str() + 6);
  if (index < 0 || index >= spec.steps_size() || spec.steps(index).name().empty()) return path;
  return "steps." + spec.steps(index).name() + path.substr(close + 1);
}

}  // namespace

Result<ParsedPipelineSpec> ParsePipelineYaml(std::string_view text, std::string_view file_name) {
  if (text.size() > kMaxPipelineSpecBytes) {
    return InvalidArgumentError("pipeline " + std::string(file_name) + " is " +
                                std::to_string(text.size()) + " bytes; the limit is " +
                                std::to_string(kMaxPipelineSpecBytes) + " (is it the right file?)");
  }
  // Steps embed job specs: the same scalar forms and the same refusal of inline secrets.
  YamlToProtoOptions options = JobSpecYamlOptions(file_name);
  ParsedPipelineSpec parsed;
  parsed.file = std::string(file_name);
  YamlToProtoResult result = YamlTextToProto(text, options, &parsed.spec);
  parsed.positions = std::move(result.positions);
  parsed.problems = std::move(result.problems);
  parsed.guessed_paths = std::move(result.guessed_paths);
  return parsed;
}

std::vector<v1::LintProblem> LintPipelineSpec(const v1::PipelineSpec& spec,
                                              const LintContext& ctx) {
  std::vector<v1::LintProblem> out;
  for (LocatedProblem& lp : CheckPipelineSpec(spec, ctx)) out.push_back(std::move(lp.problem));
  return out;
}

std::vector<v1::LintProblem> LintPipelineSpec(const ParsedPipelineSpec& parsed,
                                              const LintContext& ctx) {
  std::vector<v1::LintProblem> out;
  for (v1::LintProblem p : parsed.problems) {
    std::string named = NamedPath(parsed.spec, p.field_path());
    if (named != p.field_path()) {
      // Name the step, as the semantic problems do, also where the message quotes the path.
      std::string step = named.substr(6, named.find_first_of(".[", 6) - 6);
      const std::string index_prefix = p.field_path().substr(0, p.field_path().find(']') + 1);
      std::string message = p.message();
      for (size_t at = message.find(index_prefix); at != std::string::npos;
           at = message.find(index_prefix, at)) {
        message.replace(at, index_prefix.size(), "steps." + step);
      }
      p.set_message("step \"" + step + "\": " + message);
    }
    p.set_field_path(std::move(named));
    out.push_back(std::move(p));
  }
  for (LocatedProblem& lp : CheckPipelineSpec(parsed.spec, ctx)) {
    bool reported = std::any_of(parsed.problems.begin(), parsed.problems.end(), [&](const auto& y) {
      return y.code() != "unknown_field" && Covers(y.field_path(), lp.locator);
    });
    if (reported || parsed.guessed_paths.contains(lp.locator)) continue;
    SourcePosition pos = FindPosition(parsed.positions, lp.locator);
    lp.problem.set_file(parsed.file);
    lp.problem.set_line(pos.line);
    lp.problem.set_column(pos.column);
    out.push_back(std::move(lp.problem));
  }
  SortLintProblems(&out);
  return out;
}

v1::PipelineSpec ResolvePipelineSpec(const v1::PipelineSpec& spec) {
  v1::PipelineSpec out = spec;
  auto resolve_ios = [](google::protobuf::RepeatedPtrField<v1::IoSpec>* ios) {
    for (v1::IoSpec& io : *ios) {
      if (io.type() == v1::IO_TYPE_PARAMETER)
        io.set_parameter_type(EffectiveType(io.parameter_type()));
    }
  };
  auto resolve_step = [&](v1::Step* step) {
    resolve_ios(step->mutable_inputs());
    resolve_ios(step->mutable_outputs());
    if (!step->has_retry() && step->has_job() && step->job().has_retry()) {
      *step->mutable_retry() = step->job().retry();
    }
  };
  resolve_ios(out.mutable_inputs());
  resolve_ios(out.mutable_outputs());
  for (v1::Step& step : *out.mutable_steps()) resolve_step(&step);
  if (out.has_exit_handler()) resolve_step(out.mutable_exit_handler());
  if (out.cache() == v1::CACHE_POLICY_UNSPECIFIED) out.set_cache(v1::CACHE_POLICY_ENABLED);
  return out;
}

std::string PipelineSpecToYaml(const v1::PipelineSpec& spec) { return ProtoToYaml(spec); }

Result<v1::LintPipelineResponse> LintPipeline(const v1::LintPipelineRequest& request,
                                              const LintContext& ctx) {
  v1::LintPipelineResponse response;
  std::vector<v1::LintProblem> problems;
  v1::PipelineSpec spec;
  if (request.has_spec()) {
    problems = LintPipelineSpec(request.spec(), ctx);
    spec = request.spec();
  } else if (request.has_text()) {
    MLC_ASSIGN_OR_RETURN(ParsedPipelineSpec parsed,
                         ParsePipelineYaml(request.text(), request.file()));
    problems = LintPipelineSpec(parsed, ctx);
    spec = std::move(parsed.spec);
  } else {
    return InvalidArgumentError(
        "LintPipeline needs the pipeline: set text (a pipeline file's YAML or JSON) or spec");
  }
  for (auto& p : problems) *response.add_problems() = std::move(p);
  if (!HasLintErrors(
          std::vector<v1::LintProblem>(response.problems().begin(), response.problems().end()))) {
    *response.mutable_resolved_spec() = ResolvePipelineSpec(spec);
  }
  return response;
}

}  // namespace mlcore::pipelines

namespace mlcore {

std::string PipelineSpecToYaml(const v1::PipelineSpec& spec) {
  return pipelines::PipelineSpecToYaml(spec);
}

}  // namespace mlcore
