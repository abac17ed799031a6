// The semantic checks of pipeline specs (see pipeline_spec.h for the list).
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "core/validation.h"
#include "pipelines/condition.h"
#include "pipelines/pipeline_internal.h"
#include "pipelines/pipeline_spec.h"

namespace mlcore::pipelines {
namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string QuoteJoin(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "(none)" : out;
}

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Step and pipeline names: 1-63 of [a-z0-9-], starting with a letter, not ending with '-'.
bool IsStepName(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength || !IsLower(s.front()) || s.back() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsLower(c) || IsDigit(c) || c == '-'; });
}

// The value type a condition operand or an edge end carries.
enum class ValueType { kUnknown, kString, kInt, kDouble, kBool, kList, kStruct, kNull, kOther };

ValueType FromParameterType(v1::ParameterType t) {
  switch (t) {
    case v1::PARAMETER_TYPE_INT:
      return ValueType::kInt;
    case v1::PARAMETER_TYPE_DOUBLE:
      return ValueType::kDouble;
    case v1::PARAMETER_TYPE_BOOL:
      return ValueType::kBool;
    case v1::PARAMETER_TYPE_LIST:
      return ValueType::kList;
    case v1::PARAMETER_TYPE_STRUCT:
      return ValueType::kStruct;
    default:
      return ValueType::kString;
  }
}

bool IsNumeric(ValueType t) { return t == ValueType::kInt || t == ValueType::kDouble; }

class Checker : private ProblemList {
 public:
  Checker(const v1::PipelineSpec& spec, const LintContext& ctx) : spec_(spec), ctx_(ctx) {}

  std::vector<LocatedProblem> Run() {
    CheckPipeline();
    IndexSteps();
    for (int i = 0; i < spec_.steps_size(); ++i) CheckStep(spec_.steps(i), Where(i));
    if (spec_.has_exit_handler()) CheckExitHandler();
    for (int i = 0; i < spec_.edges_size(); ++i) CheckEdge(i);
    CheckFed();
    CheckCycles();
    return std::move(problems);
  }

 private:
  // How to name and locate one step ("steps.train" / "steps[2]", or the exit handler).
  struct StepWhere {
    const v1::Step* step = nullptr;
    std::string path;     // named path
    std::string locator;  // index path
    std::string label;    // `step "train"`
    bool exit_handler = false;
  };

  StepWhere Where(int i) const {
    const v1::Step& s = spec_.steps(i);
    StepWhere w;
    w.step = &s;
    w.locator = "steps[" + std::to_string(i) + "]";
    w.path = s.name().empty() ? w.locator : "steps." + s.name();
    w.label = s.name().empty() ? "step " + std::to_string(i + 1) : "step " + Quote(s.name());
    return w;
  }

  StepWhere ExitWhere() const {
    StepWhere w;
    w.step = &spec_.exit_handler();
    w.path = w.locator = "exit_handler";
    w.label = "the exit handler";
    w.exit_handler = true;
    return w;
  }

  static std::string DidYouMean(const std::string& word, const std::vector<std::string>& known,
                                std::string_view plural) {
    std::string guess = ClosestMatch(word, known);
    std::string list = std::string(plural) + ": " + QuoteJoin(known);
    return guess.empty() ? list : "did you mean " + Quote(guess) + "? " + list;
  }

  // --- the pipeline itself ---

  void CheckPipeline() {
    if (spec_.name().empty()) {
      Error("invalid_name", "name", "name", "the pipeline has no name",
            "add name: my-pipeline (lowercase letters, digits and '-')");
    } else if (!IsStepName(spec_.name())) {
      Error("invalid_name", "name", "name", "invalid pipeline name " + Quote(spec_.name()),
            "use 1-63 lowercase letters, digits and '-', starting with a letter");
    }
    if (!spec_.project().empty()) {
      if (Status s = ValidateProjectName(spec_.project()); !s.ok()) {
        Error("invalid_name", "project", "project", s.message());
      }
    }
    CheckIoSpecs(spec_.inputs(), "inputs", "inputs", "the pipeline", true, this);
    CheckIoSpecs(spec_.outputs(), "outputs", "outputs", "the pipeline", false, this);
  }

  // --- steps ---

  void IndexSteps() {
    for (int i = 0; i < spec_.steps_size(); ++i) {
      const std::string& name = spec_.steps(i).name();
      StepWhere w = Where(i);
      if (name.empty()) {
        Error("invalid_name", w.path, w.locator, "step " + std::to_string(i + 1) + " has no name",
              "add name: (lowercase letters, digits and '-')");
        continue;
      }
      if (!IsStepName(name)) {
        Error("invalid_name", w.path, w.locator + ".name", "invalid step name " + Quote(name),
              "use 1-63 lowercase letters, digits and '-', starting with a letter");
      }
      if (!steps_.emplace(name, i).second) {
        Error("duplicate_name", w.path, w.locator + ".name",
              "two steps are named " + Quote(name) + " (steps " + std::to_string(steps_[name] + 1) +
                  " and " + std::to_string(i + 1) + ")",
              "step names must be unique; rename one of them");
      }
      step_names_.push_back(name);
    }
    if (spec_.has_exit_handler() && !spec_.exit_handler().name().empty()) {
      const std::string& name = spec_.exit_handler().name();
      if (!IsStepName(name)) {
        Error("invalid_name", "exit_handler.name", "exit_handler.name",
              "invalid exit handler name " + Quote(name),
              "use 1-63 lowercase letters, digits and '-', starting with a letter");
      } else if (steps_.contains(name)) {
        Error("duplicate_name", "exit_handler.name", "exit_handler.name",
              "the exit handler is named " + Quote(name) + " like a step",
              "rename it (or leave its name out)");
      }
    }
  }

  const v1::Step* FindStep(const std::string& name) const {
    auto it = steps_.find(name);
    return it == steps_.end() ? nullptr : &spec_.steps(it->second);
  }
  bool IsExitHandlerName(const std::string& name) const {
    return spec_.has_exit_handler() && !name.empty() &&
           (name == spec_.exit_handler().name() || name == "exit_handler") &&
           !steps_.contains(name);
  }

  static const v1::IoSpec* FindIo(const google::protobuf::RepeatedPtrField<v1::IoSpec>& ios,
                                  const std::string& name) {
    for (const auto& io : ios) {
      if (io.name() == name) return &io;
    }
    return nullptr;
  }
  static std::vector<std::string> IoNames(
      const google::protobuf::RepeatedPtrField<v1::IoSpec>& ios) {
    std::vector<std::string> out;
    for (const auto& io : ios) out.push_back(io.name());
    return out;
  }

  void CheckStep(const v1::Step& step, const StepWhere& w) {
    CheckIoSpecs(step.inputs(), w.path + ".inputs", w.locator + ".inputs", w.label, true, this);
    CheckIoSpecs(step.outputs(), w.path + ".outputs", w.locator + ".outputs", w.label, false, this);
    CheckJob(step, w);
    if (step.has_parallel_for()) CheckParallelFor(step, w);
    for (int d = 0; d < step.depends_on_size(); ++d) {
      const std::string& dep = step.depends_on(d);
      const std::string loc = w.locator + ".depends_on[" + std::to_string(d) + "]";
      if (w.exit_handler) {
        Warning("ignored_field", w.path + ".depends_on", loc,
                "the exit handler runs after every step; its depends_on is ignored", "remove it");
        break;
      }
      if (dep == step.name()) {
        Error("cycle", w.path + ".depends_on", loc, w.label + " depends on itself",
              "remove " + Quote(dep) + " from its depends_on");
      } else if (FindStep(dep) == nullptr) {
        Error("unknown_dependency", w.path + ".depends_on", loc,
              w.label + " depends on " + Quote(dep) + ", which is not a step of the pipeline",
              DidYouMean(dep, step_names_, "steps"));
      } else {
        AddDependency(step.name(), dep, "depends_on");
      }
    }
    if (!step.condition().empty()) CheckCondition(step, w);
    if (step.has_retry()) {
      v1::JobSpec probe;
      *probe.mutable_retry() = step.retry();
      probe.add_command("probe");
      for (v1::LintProblem& p : LintJobSpec(probe, LintContext{})) {
        std::string rest = p.field_path().substr(std::string("retry").size());
        Add(p.severity(), p.code(), w.path + ".retry" + rest, w.locator + ".retry" + rest,
            w.label + ": " + p.message(), p.suggestion());
      }
    }
  }

  void CheckJob(const v1::Step& step, const StepWhere& w) {
    if (!step.has_job()) {
      Error("missing_command", w.path + ".job", w.locator, w.label + " has no job",
            "add job: {command: [python, train.py]} (any job spec; see docs/job-spec.md)");
      return;
    }
    for (v1::LintProblem& p : LintJobSpec(step.job(), ctx_)) {
      Add(p.severity(), p.code(), w.path + ".job." + p.field_path(),
          w.locator + ".job." + p.field_path(), w.label + ": " + p.message(), p.suggestion());
    }
    if (!step.job().project().empty()) {
      Warning("ignored_field", w.path + ".job.project", w.locator + ".job.project",
              w.label + ": job.project is ignored; steps run in the pipeline's project",
              "remove it, or set project: on the pipeline");
    }
    if (!step.job().name().empty()) {
      Warning("ignored_field", w.path + ".job.name", w.locator + ".job.name",
              w.label +
                  ": job.name is ignored; each execution's job is named "
                  "<pipeline>-<step>-<suffix>",
              "remove it");
    }
  }

  void CheckParallelFor(const v1::Step& step, const StepWhere& w) {
    const v1::ParallelFor& pf = step.parallel_for();
    const std::string p = w.path + ".parallel_for", loc = w.locator + ".parallel_for";
    if (w.exit_handler) {
      Error("invalid_parallel_for", p, loc, "the exit handler cannot fan out", "remove it");
      return;
    }
    if (pf.max_parallelism() < 0) {
      Error("invalid_value", p + ".max_parallelism", loc + ".max_parallelism",
            w.label + ": parallel_for.max_parallelism is " + std::to_string(pf.max_parallelism()) +
                "; it must be 0 (no limit) or more");
    }
    if (pf.input().empty()) {
      Error("invalid_parallel_for", p + ".input", loc,
            w.label + ": parallel_for names no input to iterate over",
            "set parallel_for.input to one of its list inputs");
      return;
    }
    const v1::IoSpec* io = FindIo(step.inputs(), pf.input());
    if (io == nullptr) {
      Error("invalid_parallel_for", p + ".input", loc + ".input",
            w.label + ": parallel_for.input " + Quote(pf.input()) + " is not one of its inputs",
            DidYouMean(pf.input(), IoNames(step.inputs()), "its inputs"));
    } else if (io->type() != v1::IO_TYPE_PARAMETER ||
               io->parameter_type() != v1::PARAMETER_TYPE_LIST) {
      Error("invalid_parallel_for", p + ".input", loc + ".input",
            w.label + ": parallel_for iterates over input " + Quote(pf.input()) + ", which is " +
                IoTypeText(*io, false) + ", not a list parameter",
            "declare it with type: parameter and parameter_type: list");
    }
  }

  // --- conditions ---

  struct Operand {
    ValueType type = ValueType::kUnknown;
    std::string text;  // for messages
  };

  void CheckCondition(const v1::Step& step, const StepWhere& w) {
    const std::string p = w.path + ".condition", loc = w.locator + ".condition";
    const std::string hint =
        "e.g. condition: \"steps.evaluate.outputs.auc >= 0.9 and inputs.deploy == true\"";
    if (w.exit_handler) {
      Error("invalid_condition", p, loc, "the exit handler always runs; it takes no condition",
            "remove the condition");
      return;
    }
    Result<Condition> parsed = ParseCondition(step.condition());
    if (!parsed.ok()) {
      Error("invalid_condition", p, loc,
            w.label + ": condition " + Quote(step.condition()) + ": " + parsed.status().message(),
            hint);
      return;
    }
    std::map<std::string, ValueType> types;  // by reference text
    for (const ConditionRef& ref : parsed->refs) {
      types[ref.text] = CheckRef(step, w, ref, p, loc);
    }
    CheckConditionTypes(*parsed->root, types, w, p, loc);
  }

  ValueType CheckRef(const v1::Step& step, const StepWhere& w, const ConditionRef& ref,
                     const std::string& p, const std::string& loc) {
    const std::string lead = w.label + ": condition refers to " + Quote(ref.text) + ", but ";
    if (ref.pipeline_input) {
      used_inputs_.insert(ref.name);
      const v1::IoSpec* io = FindIo(spec_.inputs(), ref.name);
      if (io == nullptr) {
        Error("unknown_input", p, loc, lead + "the pipeline has no input " + Quote(ref.name),
              DidYouMean(ref.name, IoNames(spec_.inputs()), "pipeline inputs"));
        return ValueType::kUnknown;
      }
      if (io->type() != v1::IO_TYPE_PARAMETER) {
        Error("invalid_condition", p, loc,
              lead + "it is " + IoTypeText(*io, false) + "; conditions compare parameters",
              "compare a parameter or a metric instead");
        return ValueType::kUnknown;
      }
      return FromParameterType(io->parameter_type());
    }
    if (ref.step == step.name()) {
      Error("cycle", p, loc, lead + "a step's condition cannot use its own outputs",
            "move the check to a step that runs after it");
      return ValueType::kUnknown;
    }
    const v1::Step* source = FindStep(ref.step);
    if (source == nullptr) {
      Error("unknown_step", p, loc, lead + "there is no step " + Quote(ref.step),
            DidYouMean(ref.step, step_names_, "steps"));
      return ValueType::kUnknown;
    }
    AddDependency(step.name(), ref.step, "its condition");
    const v1::IoSpec* io = FindIo(source->outputs(), ref.name);
    if (io == nullptr) {
      Error("unknown_output", p, loc,
            lead + "step " + Quote(ref.step) + " has no output " + Quote(ref.name),
            DidYouMean(ref.name, IoNames(source->outputs()), "its outputs"));
      return ValueType::kUnknown;
    }
    if (io->type() == v1::IO_TYPE_METRICS) {
      if (ref.key.empty()) {
        Error("invalid_condition", p, loc, lead + "it is a metrics output; name one of its metrics",
              "write " + ref.text + ".NAME, e.g. " + ref.text + ".auc");
        return ValueType::kUnknown;
      }
      return source->has_parallel_for() ? ValueType::kList : ValueType::kDouble;
    }
    if (!ref.key.empty()) {
      Error("invalid_condition", p, loc, lead + "only metrics outputs have keys (." + ref.key + ")",
            "write steps." + ref.step + ".outputs." + ref.name);
      return ValueType::kUnknown;
    }
    if (io->type() != v1::IO_TYPE_PARAMETER) {
      Error("invalid_condition", p, loc,
            lead + "it is " + IoTypeText(*io, false) +
                "; conditions compare parameters and "
                "metrics",
            "write a parameter output from the step and compare that");
      return ValueType::kUnknown;
    }
    return source->has_parallel_for() ? ValueType::kList : FromParameterType(io->parameter_type());
  }

  static std::string ValueTypeName(ValueType t) {
    switch (t) {
      case ValueType::kString:
        return "a string";
      case ValueType::kInt:
        return "an int";
      case ValueType::kDouble:
        return "a double";
      case ValueType::kBool:
        return "a bool";
      case ValueType::kList:
        return "a list";
      case ValueType::kStruct:
        return "a struct";
      case ValueType::kNull:
        return "null";
      default:
        return "a value";
    }
  }

  Operand OperandOf(const ConditionNode& node, const std::map<std::string, ValueType>& types) {
    using L = ConditionNode::Literal;
    Operand out;
    switch (node.literal) {
      case L::kNone:
        out.type = types.at(node.ref.text);
        out.text = node.ref.text;
        return out;
      case L::kNumber:
        out.type = node.json.find_first_of(".eE") == std::string::npos ? ValueType::kInt
                                                                       : ValueType::kDouble;
        break;
      case L::kString:
        out.type = ValueType::kString;
        break;
      case L::kBool:
        out.type = ValueType::kBool;
        break;
      case L::kNull:
        out.type = ValueType::kNull;
        break;
    }
    out.text = node.json;
    return out;
  }

  void CheckConditionTypes(const ConditionNode& node, const std::map<std::string, ValueType>& types,
                           const StepWhere& w, const std::string& p, const std::string& loc) {
    using K = ConditionNode::Kind;
    const std::string lead = w.label + ": condition " + Quote(w.step->condition()) + ": ";
    if (node.kind == K::kOperand) {
      Operand o = OperandOf(node, types);
      if (o.type != ValueType::kUnknown && o.type != ValueType::kBool) {
        Error("type_mismatch", p, loc,
              lead + o.text + " is " + ValueTypeName(o.type) + ", not true or false",
              "compare it: " + o.text + " == ...");
      }
      return;
    }
    if (node.kind != K::kCompare) {
      for (const auto& c : node.children) CheckConditionTypes(*c, types, w, p, loc);
      return;
    }
    Operand a = OperandOf(*node.children[0], types), b = OperandOf(*node.children[1], types);
    if (a.type == ValueType::kUnknown || b.type == ValueType::kUnknown) return;
    const bool ordering = node.op != "==" && node.op != "!=";
    bool ok = false;
    if (IsNumeric(a.type) && IsNumeric(b.type)) {
      ok = true;
    } else if (ordering) {
      ok = a.type == ValueType::kString && b.type == ValueType::kString;
    } else {
      ok = a.type == b.type || a.type == ValueType::kNull || b.type == ValueType::kNull;
    }
    if (!ok) {
      Error("type_mismatch", p, loc,
            lead + "cannot compare " + a.text + " (" + ValueTypeName(a.type) + ") " + node.op +
                " " + b.text + " (" + ValueTypeName(b.type) + ")",
            ordering ? node.op + " needs two numbers or two strings"
                     : "compare values of the same type (ints and doubles mix)");
    }
  }

  // --- the exit handler ---

  void CheckExitHandler() {
    StepWhere w = ExitWhere();
    CheckStep(spec_.exit_handler(), w);
  }

  // --- edges ---

  // The declaration an edge end names, or null (after reporting why).
  struct End {
    const v1::IoSpec* io = nullptr;
    const v1::Step* step = nullptr;
    std::string label;  // "output \"model\" of step \"train\""
  };

  End Source(const v1::Edge& e, const std::string& path, const std::string& loc) {
    End end;
    if (e.source_name().empty()) {
      Error("invalid_value", path + ".source_name", loc, path + " has no source_name",
            "name the output (or pipeline input) it carries");
      return end;
    }
    if (e.source_step().empty()) {
      used_inputs_.insert(e.source_name());
      end.io = FindIo(spec_.inputs(), e.source_name());
      end.label = "pipeline input " + Quote(e.source_name());
      if (end.io == nullptr) {
        Error("unknown_input", path + ".source_name", loc + ".source_name",
              path + " reads pipeline input " + Quote(e.source_name()) +
                  ", which the pipeline does not declare",
              DidYouMean(e.source_name(), IoNames(spec_.inputs()), "pipeline inputs") +
                  " (or set source_step to read a step's output)");
      }
      return end;
    }
    if (IsExitHandlerName(e.source_step())) {
      Error("invalid_value", path + ".source_step", loc + ".source_step",
            path + " reads an output of the exit handler, which runs after every other step",
            "feed the value from a regular step");
      return end;
    }
    end.step = FindStep(e.source_step());
    if (end.step == nullptr) {
      Error("unknown_step", path + ".source_step", loc + ".source_step",
            path + " comes from step " + Quote(e.source_step()) + ", which does not exist",
            DidYouMean(e.source_step(), step_names_, "steps"));
      return end;
    }
    end.io = FindIo(end.step->outputs(), e.source_name());
    end.label = "output " + Quote(e.source_name()) + " of step " + Quote(e.source_step());
    if (end.io == nullptr) {
      Error("unknown_output", path + ".source_name", loc + ".source_name",
            path + " reads output " + Quote(e.source_name()) + " of step " +
                Quote(e.source_step()) + ", which it does not declare",
            DidYouMean(e.source_name(), IoNames(end.step->outputs()), "its outputs"));
    }
    return end;
  }

  End Target(const v1::Edge& e, const std::string& path, const std::string& loc) {
    End end;
    if (e.target_name().empty()) {
      Error("invalid_value", path + ".target_name", loc, path + " has no target_name",
            "name the input (or pipeline output) it feeds");
      return end;
    }
    if (e.target_step().empty()) {
      end.io = FindIo(spec_.outputs(), e.target_name());
      end.label = "pipeline output " + Quote(e.target_name());
      if (end.io == nullptr) {
        Error("unknown_output", path + ".target_name", loc + ".target_name",
              path + " feeds pipeline output " + Quote(e.target_name()) +
                  ", which the pipeline does not declare",
              DidYouMean(e.target_name(), IoNames(spec_.outputs()), "pipeline outputs") +
                  " (or set target_step to feed a step's input)");
      }
      return end;
    }
    end.step =
        IsExitHandlerName(e.target_step()) ? &spec_.exit_handler() : FindStep(e.target_step());
    if (end.step == nullptr) {
      Error("unknown_step", path + ".target_step", loc + ".target_step",
            path + " feeds step " + Quote(e.target_step()) + ", which does not exist",
            DidYouMean(e.target_step(), step_names_, "steps"));
      return end;
    }
    end.io = FindIo(end.step->inputs(), e.target_name());
    end.label = "input " + Quote(e.target_name()) + " of step " + Quote(e.target_step());
    if (end.io == nullptr) {
      Error("unknown_input", path + ".target_name", loc + ".target_name",
            path + " feeds input " + Quote(e.target_name()) + " of step " + Quote(e.target_step()) +
                ", which it does not declare",
            DidYouMean(e.target_name(), IoNames(end.step->inputs()), "its inputs"));
    }
    return end;
  }

  void CheckEdge(int i) {
    const v1::Edge& e = spec_.edges(i);
    const std::string path = "edges[" + std::to_string(i) + "]";
    End from = Source(e, path, path);
    End to = Target(e, path, path);
    if (from.step != nullptr && to.step != nullptr && to.step != &spec_.exit_handler()) {
      AddDependency(to.step->name(), from.step->name(),
                    "edge " + std::to_string(i + 1) + " (" + e.source_step() + "." +
                        e.source_name() + " -> " + e.target_step() + "." + e.target_name() + ")");
    }
    if (to.io != nullptr) {
      const std::string key = e.target_step() + "\n" + e.target_name();
      if (auto [it, inserted] = fed_.emplace(key, i); !inserted) {
        Error("duplicate_edge", path, path,
              to.label + " is fed twice (edges " + std::to_string(it->second + 1) + " and " +
                  std::to_string(i + 1) + ")",
              "an input takes one value; remove one of the edges");
      }
    }
    if (from.io == nullptr || to.io == nullptr) return;
    if (from.io->type() == v1::IO_TYPE_UNSPECIFIED || to.io->type() == v1::IO_TYPE_UNSPECIFIED) {
      return;  // reported as missing_type
    }
    const bool fanned = from.step != nullptr && from.step->has_parallel_for();
    if (from.io->type() != to.io->type()) {
      Error("type_mismatch", path, path,
            path + " connects " + from.label + " (" + IoTypeText(*from.io, false) + ") to " +
                to.label + " (" + IoTypeText(*to.io, false) + ")",
            "connect an output to an input of the same kind");
      return;
    }
    if (from.io->type() != v1::IO_TYPE_PARAMETER) return;
    v1::ParameterType a = EffectiveType(from.io->parameter_type());
    v1::ParameterType b = EffectiveType(to.io->parameter_type());
    if (fanned) {
      if (b != v1::PARAMETER_TYPE_LIST) {
        Error("type_mismatch", path, path,
              path + " connects " + from.label + " to " + to.label + " (" + ParameterTypeName(b) +
                  "), but step " + Quote(from.step->name()) +
                  " runs once per item (parallel_for), so the value arrives as a list of " +
                  ParameterTypeName(a),
              "declare " + to.label + " with parameter_type: list");
      }
      return;
    }
    if (a != b && !(a == v1::PARAMETER_TYPE_INT && b == v1::PARAMETER_TYPE_DOUBLE)) {
      Error("type_mismatch", path, path,
            path + " connects " + from.label + " (" + ParameterTypeName(a) + ") to " + to.label +
                " (" + ParameterTypeName(b) + ")",
            "make both ends the same parameter_type (an int may feed a double)");
    }
  }

  // --- inputs nobody feeds ---

  void CheckFed() {
    auto check_step = [&](const v1::Step& step, const StepWhere& w, const std::string& key_name) {
      for (int i = 0; i < step.inputs_size(); ++i) {
        const v1::IoSpec& io = step.inputs(i);
        if (io.name().empty() || io.optional() || !io.default_value().empty()) continue;
        if (fed_.contains(key_name + "\n" + io.name())) continue;
        Error("missing_input", w.path + ".inputs." + io.name(),
              w.locator + ".inputs[" + std::to_string(i) + "]",
              w.label + " needs input " + Quote(io.name()) + " (" + IoTypeText(io, false) +
                  "), but no edge feeds it and it has no default",
              FeedHint(step, io, key_name));
      }
    };
    for (int i = 0; i < spec_.steps_size(); ++i) {
      if (spec_.steps(i).name().empty()) continue;
      check_step(spec_.steps(i), Where(i), spec_.steps(i).name());
    }
    if (spec_.has_exit_handler()) {
      // Edges may name the exit handler by its name or as "exit_handler".
      const v1::Step& eh = spec_.exit_handler();
      for (int i = 0; i < eh.inputs_size(); ++i) {
        const v1::IoSpec& io = eh.inputs(i);
        if (io.name().empty() || io.optional() || !io.default_value().empty()) continue;
        if (fed_.contains("exit_handler\n" + io.name()) ||
            (!eh.name().empty() && fed_.contains(eh.name() + "\n" + io.name()))) {
          continue;
        }
        Error("missing_input", "exit_handler.inputs." + io.name(),
              "exit_handler.inputs[" + std::to_string(i) + "]",
              "the exit handler needs input " + Quote(io.name()) +
                  ", but no edge feeds it and it has no default",
              "add an edge with target_step: " +
                  (eh.name().empty() ? std::string("exit_handler") : eh.name()) +
                  ", give it a default_value, or mark it optional: true");
      }
    }
    for (int i = 0; i < spec_.outputs_size(); ++i) {
      const v1::IoSpec& io = spec_.outputs(i);
      if (io.name().empty() || io.optional() || fed_.contains("\n" + io.name())) continue;
      Error("missing_output", "outputs." + io.name(), "outputs[" + std::to_string(i) + "]",
            "pipeline output " + Quote(io.name()) + " is declared but no edge feeds it",
            "add an edge {source_step: STEP, source_name: OUTPUT, target_name: " + io.name() +
                "} (no target_step), or mark it optional: true");
    }
    for (int i = 0; i < spec_.inputs_size(); ++i) {
      const v1::IoSpec& io = spec_.inputs(i);
      if (io.name().empty() || used_inputs_.contains(io.name())) continue;
      Warning("unused_input", "inputs." + io.name(), "inputs[" + std::to_string(i) + "]",
              "pipeline input " + Quote(io.name()) + " is not used by any edge or condition",
              "feed it to a step with an edge {source_name: " + io.name() +
                  ", target_step: STEP, target_name: INPUT}, or remove it");
    }
  }

  // What to write so `io` of `step` gets a value: an edge from a same-named output or pipeline
  // input when there is one.
  std::string FeedHint(const v1::Step& step, const v1::IoSpec& io, const std::string& target) {
    auto edge = [&](const std::string& source_step, const std::string& source_name) {
      return "add an edge {" +
             (source_step.empty() ? std::string() : "source_step: " + source_step + ", ") +
             "source_name: " + source_name + ", target_step: " + target +
             ", target_name: " + io.name() + "}";
    };
    for (const auto& other : spec_.steps()) {
      if (&other == &step || other.name().empty()) continue;
      const v1::IoSpec* out = FindIo(other.outputs(), io.name());
      if (out != nullptr && out->type() == io.type()) return edge(other.name(), io.name());
    }
    if (const v1::IoSpec* in = FindIo(spec_.inputs(), io.name());
        in != nullptr && in->type() == io.type()) {
      return edge("", io.name());
    }
    return edge("STEP", "OUTPUT") + ", give it a default_value, or mark it optional: true";
  }

  // --- cycles ---

  void AddDependency(const std::string& step, const std::string& on, std::string why) {
    if (step.empty() || on.empty() || !steps_.contains(step) || !steps_.contains(on)) return;
    // deps_[step] holds what `step` waits for; the reason of the first arc is kept.
    deps_[step].emplace(on, std::move(why));
  }

  void CheckCycles() {
    // Depth-first search in file order; a back edge closes a cycle, reported once per set of
    // steps.
    std::map<std::string, int> state;  // 0 new, 1 on the stack, 2 done
    std::vector<std::string> stack;
    std::set<std::set<std::string>> reported;
    std::function<void(const std::string&)> visit = [&](const std::string& s) {
      state[s] = 1;
      stack.push_back(s);
      // Walk in the direction data flows: from a producer to the steps that wait for it.
      for (const auto& [on, why] : deps_[s]) {
        if (state[on] == 1) {
          auto start = std::find(stack.begin(), stack.end(), on);
          std::vector<std::string> cycle(start, stack.end());
          std::set<std::string> members(cycle.begin(), cycle.end());
          if (reported.insert(members).second) ReportCycle(cycle);
        } else if (state[on] == 0) {
          visit(on);
        }
      }
      stack.pop_back();
      state[s] = 2;
    };
    for (const auto& name : step_names_) {
      if (state[name] == 0) visit(name);
    }
  }

  // `cycle` lists steps each waiting for the next, the last waiting for the first.
  void ReportCycle(std::vector<std::string> cycle) {
    // Present it in data-flow order (producer first), starting at the step earliest in the file.
    std::reverse(cycle.begin(), cycle.end());
    auto first = std::min_element(cycle.begin(), cycle.end(), [&](const auto& a, const auto& b) {
      return steps_.at(a) < steps_.at(b);
    });
    std::rotate(cycle.begin(), first, cycle.end());
    std::string chain, names, arcs;
    for (size_t i = 0; i < cycle.size(); ++i) {
      const std::string& from = cycle[i];
      const std::string& to = cycle[(i + 1) % cycle.size()];
      chain += from + " -> ";
      names += (i == 0 ? "" : (i + 1 == cycle.size() ? " and " : ", ")) + Quote(from);
      arcs += (i == 0 ? "" : "; ") + to + " waits for " + from + " through " + deps_[to].at(from);
    }
    chain += cycle.front();
    const int index = steps_.at(cycle.front());
    StepWhere w = Where(index);
    Error("cycle", w.path, w.locator,
          (cycle.size() == 1 ? "step " + names + " waits for itself: "
                             : "steps " + names + " form a cycle: ") +
              chain,
          "a pipeline must be acyclic; remove one of these dependencies: " + arcs);
  }

  const v1::PipelineSpec& spec_;
  const LintContext& ctx_;
  std::map<std::string, int> steps_;     // name -> index of its first step
  std::vector<std::string> step_names_;  // in file order
  std::map<std::string, int> fed_;       // "step\ninput" -> first edge feeding it
  std::set<std::string> used_inputs_;    // pipeline inputs read by edges or conditions
  std::map<std::string, std::map<std::string, std::string>> deps_;  // step -> {on -> why}
};

}  // namespace

std::vector<LocatedProblem> CheckPipelineSpec(const v1::PipelineSpec& spec,
                                              const LintContext& ctx) {
  return Checker(spec, ctx).Run();
}

}  // namespace mlcore::pipelines
