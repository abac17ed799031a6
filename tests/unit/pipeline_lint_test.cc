#include <algorithm>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <google/protobuf/util/message_differencer.h>

#include "mlcore/client.h"
#include "mlcore/invoke.h"
#include "mlcore/pipelines.h"
#include "pipelines/condition.h"
#include "pipelines/pipeline_spec.h"
#include "unit/test_support.h"

namespace mlcore::pipelines {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::IsolatedEnv;
using testing::TempDir;

LintContext TestContext() {
  LintContext ctx;
  ctx.known_flavors = {"cpu-2-8", "cpu-8-32", "gpu-1x"};
  return ctx;
}

std::vector<v1::LintProblem> Lint(std::string_view text, const LintContext& ctx = TestContext()) {
  Result<ParsedPipelineSpec> parsed = ParsePipelineYaml(text, "p.yaml");
  MLC_REQUIRE_OK(parsed);
  return LintPipelineSpec(*parsed, ctx);
}

// "LINE CODE FIELD_PATH" per problem.
std::vector<std::string> Summaries(const std::vector<v1::LintProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) {
    out.push_back(std::to_string(p.line()) + " " + p.code() + " " + p.field_path());
  }
  return out;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Compares the summaries, printing the actual ones on failure.
void CHECK_SUMMARIES(const std::vector<v1::LintProblem>& problems,
                     const std::vector<std::string>& expected) {
  CHECK_MESSAGE(Summaries(problems) == expected, Joined(Summaries(problems)));
}

std::string All(const std::vector<v1::LintProblem>& problems) {
  return FormatLintProblems(problems);
}

const v1::LintProblem* Find(const std::vector<v1::LintProblem>& problems, std::string_view code) {
  for (const auto& p : problems) {
    if (p.code() == code) return &p;
  }
  return nullptr;
}

size_t Count(const std::vector<v1::LintProblem>& problems, std::string_view code) {
  return static_cast<size_t>(std::count_if(problems.begin(), problems.end(),
                                           [&](const auto& p) { return p.code() == code; }));
}

// a -> b, a -> c, (b, c) -> d: every kind of value on one edge or another.
constexpr const char* kDiamond = R"(name: diamond
inputs:
  - {name: rows, type: parameter, parameter_type: int, default_value: "1000"}
outputs:
  - {name: report, type: artifact}
steps:
  - name: prep
    job: {command: [python, prep.py], flavor: cpu-2-8}
    inputs: [{name: rows, type: parameter, parameter_type: int}]
    outputs: [{name: data, type: artifact}]
  - name: train-a
    job: {command: [python, train.py, "{{inputs.lr}}"]}
    inputs:
      - {name: data, type: artifact}
      - {name: lr, type: parameter, parameter_type: double, default_value: "0.1"}
    outputs: [{name: model, type: artifact}, {name: auc, type: parameter, parameter_type: double}]
  - name: train-b
    job: {command: [python, train.py]}
    inputs: [{name: data, type: artifact}]
    outputs: [{name: model, type: artifact}, {name: scores, type: metrics}]
  - name: compare
    job: {command: [python, compare.py]}
    condition: steps.train-a.outputs.auc >= 0.8 or steps.train-b.outputs.scores.auc > 0.8
    inputs: [{name: a, type: artifact}, {name: b, type: artifact}]
    outputs: [{name: report, type: artifact}]
edges:
  - {source_name: rows, target_step: prep, target_name: rows}
  - {source_step: prep, source_name: data, target_step: train-a, target_name: data}
  - {source_step: prep, source_name: data, target_step: train-b, target_name: data}
  - {source_step: train-a, source_name: model, target_step: compare, target_name: a}
  - {source_step: train-b, source_name: model, target_step: compare, target_name: b}
  - {source_step: compare, source_name: report, target_name: report}
)";

TEST_CASE("a diamond pipeline is valid, and its resolved spec has the defaults filled in") {
  auto problems = Lint(kDiamond);
  CHECK_MESSAGE(problems.empty(), All(problems));

  v1::LintPipelineRequest request;
  request.set_text(kDiamond);
  request.set_file("p.yaml");
  auto response = LintPipeline(request, TestContext());
  MLC_REQUIRE_OK(response);
  REQUIRE(response->has_resolved_spec());
  const v1::PipelineSpec& spec = response->resolved_spec();
  CHECK(spec.steps_size() == 4);
  CHECK(spec.cache() == v1::CACHE_POLICY_ENABLED);
  CHECK(spec.steps(0).inputs(0).parameter_type() == v1::PARAMETER_TYPE_INT);
  CHECK(spec.steps(1).inputs(1).default_value() == "0.1");

  // The YAML the spec writes reads back to the same spec.
  auto again = ParsePipelineYaml(PipelineSpecToYaml(spec), "again.yaml");
  MLC_REQUIRE_OK(again);
  CHECK_MESSAGE(again->problems.empty(), All(again->problems));
  CHECK(MessageDifferencer::Equals(again->spec, spec));
}

TEST_CASE("JSON text is read like YAML") {
  auto problems = Lint(R"({"name": "tiny", "steps": [
      {"name": "one", "job": {"command": ["true"]},
       "outputs": [{"name": "n", "type": "PARAMETER", "parameterType": "INT"}]},
      {"name": "two", "job": {"command": ["true"]}, "dependsOn": ["one"],
       "inputs": [{"name": "n", "type": "parameter", "parameter_type": "double"}]}],
    "edges": [{"sourceStep": "one", "sourceName": "n", "targetStep": "two", "targetName": "n"}]})");
  CHECK_MESSAGE(problems.empty(), All(problems));
}

constexpr const char* kFanOut = R"(name: fan-out
steps:
  - name: split
    job: {command: [python, split.py]}
    outputs: [{name: shards, type: parameter, parameter_type: list}]
  - name: train
    job: {command: [python, train.py, "{{inputs.shard}}"]}
    parallel_for: {input: shard, max_parallelism: 4}
    inputs: [{name: shard, type: parameter, parameter_type: list}]
    outputs: [{name: loss, type: parameter, parameter_type: double}, {name: model, type: artifact}]
  - name: pick
    job: {command: [python, pick.py]}
    inputs: [{name: losses, type: parameter, parameter_type: LOSSES_TYPE}, {name: models, type: artifact}]
edges:
  - {source_step: split, source_name: shards, target_step: train, target_name: shard}
  - {source_step: train, source_name: loss, target_step: pick, target_name: losses}
  - {source_step: train, source_name: model, target_step: pick, target_name: models}
)";

std::string Replace(std::string text, std::string_view from, std::string_view to) {
  size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::string FanOut(std::string_view losses_type) {
  return Replace(kFanOut, "LOSSES_TYPE", losses_type);
}

TEST_CASE("fan-out: a parallel-for step's outputs reach downstream steps as lists") {
  auto ok = Lint(FanOut("list"));
  CHECK_MESSAGE(ok.empty(), All(ok));

  // The per-iteration type is not what arrives downstream.
  auto problems = Lint(FanOut("double"));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].code() == "type_mismatch");
  CHECK(problems[0].line() == 16);  // the edge
  CHECK(problems[0].message().find("parallel_for") != std::string::npos);
  CHECK(problems[0].message().find("\"train\"") != std::string::npos);
  CHECK(problems[0].suggestion().find("parameter_type: list") != std::string::npos);

  // parallel_for must name a list input.
  std::string not_list =
      Replace(FanOut("list"), "parallel_for: {input: shard", "parallel_for: {input: shart");
  auto bad = Lint(not_list);
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].code() == "invalid_parallel_for");
  CHECK(bad[0].field_path() == "steps.train.parallel_for.input");
  CHECK(bad[0].suggestion().find("did you mean \"shard\"") != std::string::npos);

  std::string scalar =
      Replace(FanOut("list"), "{name: shard, type: parameter, parameter_type: list}",
              "{name: shard, type: parameter, parameter_type: int}");
  auto scalar_problems = Lint(scalar);
  REQUIRE(Find(scalar_problems, "invalid_parallel_for") != nullptr);
  CHECK(Find(scalar_problems, "invalid_parallel_for")->message().find("not a list parameter") !=
        std::string::npos);
}

TEST_CASE("a cycle is reported once, naming its steps in order") {
  auto problems = Lint(R"(name: loop
steps:
  - name: a
    job: {command: ["true"]}
    inputs: [{name: x, type: parameter}]
    outputs: [{name: y, type: parameter}]
  - name: b
    job: {command: ["true"]}
    inputs: [{name: x, type: parameter}]
    outputs: [{name: y, type: parameter}]
  - name: c
    job: {command: ["true"]}
    depends_on: [b]
    outputs: [{name: y, type: parameter}]
  - name: solo
    job: {command: ["true"]}
    inputs: [{name: x, type: parameter}]
    outputs: [{name: y, type: parameter}]
edges:
  - {source_step: a, source_name: y, target_step: b, target_name: x}
  - {source_step: c, source_name: y, target_step: a, target_name: x}
  - {source_step: solo, source_name: y, target_step: solo, target_name: x}
)");
  REQUIRE_MESSAGE(Count(problems, "cycle") == 2, All(problems));
  CHECK_SUMMARIES(problems, {"3 cycle steps.a", "15 cycle steps.solo"});
  CHECK(problems[0].message() == "steps \"a\", \"b\" and \"c\" form a cycle: a -> b -> c -> a");
  CHECK(problems[0].suggestion().find("b waits for a through edge 1") != std::string::npos);
  CHECK(problems[0].suggestion().find("c waits for b through depends_on") != std::string::npos);
  CHECK(problems[1].message() == "step \"solo\" waits for itself: solo -> solo");
}

TEST_CASE("a required input nobody feeds is reported with the edge to add") {
  auto problems = Lint(R"(name: missing
steps:
  - name: prep
    job: {command: ["true"]}
    outputs: [{name: data, type: artifact}]
  - name: train
    job: {command: ["true"]}
    inputs:
      - {name: data, type: artifact}
      - {name: lr, type: parameter, parameter_type: double, default_value: "0.1"}
      - {name: notes, type: parameter, optional: true}
)");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].code() == "missing_input");
  CHECK(problems[0].line() == 9);
  CHECK(problems[0].field_path() == "steps.train.inputs.data");
  CHECK(problems[0].message() ==
        "step \"train\" needs input \"data\" (an artifact), but no edge feeds it and it has no "
        "default");
  CHECK(problems[0].suggestion() ==
        "add an edge {source_step: prep, source_name: data, target_step: train, target_name: "
        "data}");
}

TEST_CASE("type mismatches on edges name both ends") {
  auto problems = Lint(R"(name: types
inputs: [{name: epochs, type: parameter, parameter_type: string}]
steps:
  - name: prep
    job: {command: ["true"]}
    outputs: [{name: data, type: artifact}, {name: n, type: parameter, parameter_type: int}]
  - name: train
    job: {command: ["true"]}
    inputs:
      - {name: data, type: parameter}
      - {name: epochs, type: parameter, parameter_type: int}
      - {name: ratio, type: parameter, parameter_type: double}
edges:
  - {source_step: prep, source_name: data, target_step: train, target_name: data}
  - {source_name: epochs, target_step: train, target_name: epochs}
  - {source_step: prep, source_name: n, target_step: train, target_name: ratio}
)");
  REQUIRE_MESSAGE(problems.size() == 2, All(problems));
  CHECK_SUMMARIES(problems, {"14 type_mismatch edges[0]", "15 type_mismatch edges[1]"});
  CHECK(problems[0].message() ==
        "edges[0] connects output \"data\" of step \"prep\" (an artifact) to input \"data\" of "
        "step \"train\" (a string parameter)");
  CHECK(problems[1].message() ==
        "edges[1] connects pipeline input \"epochs\" (string) to input \"epochs\" of step "
        "\"train\" (int)");
  // int -> double (the third edge) is fine.
}

TEST_CASE("conditions must parse, name what exists and compare like with like") {
  auto problems = Lint(R"(name: cond
inputs: [{name: deploy, type: parameter, parameter_type: bool}, {name: env, type: parameter}]
steps:
  - name: evaluate
    job: {command: ["true"]}
    outputs: [{name: auc, type: parameter, parameter_type: double}, {name: m, type: metrics},
              {name: model, type: artifact}]
  - name: syntax
    job: {command: ["true"]}
    condition: steps.evaluate.outputs.auc >= and inputs.deploy
  - name: unknown
    job: {command: ["true"]}
    condition: steps.evalute.outputs.auc > 0.9 or inputs.deply
  - name: mistyped
    job: {command: ["true"]}
    condition: inputs.env > 3 and steps.evaluate.outputs.m.auc > 0.5 and inputs.deploy
  - name: artifact
    job: {command: ["true"]}
    condition: steps.evaluate.outputs.model == 'x' or steps.evaluate.outputs.aux == 1
  - name: good
    job: {command: ["true"]}
    condition: not (steps.evaluate.outputs.auc < 0.5) and inputs.env == "prod" and inputs.deploy
)");
  CHECK_SUMMARIES(problems, {
                                "10 invalid_condition steps.syntax.condition",
                                "13 unknown_step steps.unknown.condition",
                                "13 unknown_input steps.unknown.condition",
                                "16 type_mismatch steps.mistyped.condition",
                                "19 invalid_condition steps.artifact.condition",
                                "19 unknown_output steps.artifact.condition",
                            });
  CHECK(problems[0].message().find("at column 31: expected a value") != std::string::npos);
  CHECK(problems[1].suggestion().find("did you mean \"evaluate\"") != std::string::npos);
  CHECK(problems[2].suggestion().find("did you mean \"deploy\"") != std::string::npos);
  CHECK(problems[3].message().find("cannot compare inputs.env (a string) > 3 (an int)") !=
        std::string::npos);
  CHECK(problems[5].suggestion().find("did you mean \"auc\"") != std::string::npos);
}

TEST_CASE("a condition's step makes a dependency, so it can close a cycle") {
  auto problems = Lint(R"(name: cond-cycle
steps:
  - name: a
    job: {command: ["true"]}
    condition: steps.b.outputs.ok == true
    outputs: [{name: ok, type: parameter, parameter_type: bool}]
  - name: b
    job: {command: ["true"]}
    depends_on: [a]
    outputs: [{name: ok, type: parameter, parameter_type: bool}]
)");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].code() == "cycle");
  CHECK(problems[0].suggestion().find("a waits for b through its condition") != std::string::npos);
}

TEST_CASE("every problem at once, in file order, each naming its step") {
  auto problems = Lint(R"(name: Bad_Name
inputs: [{name: unused, type: parameter}]
steps:
  - name: prep
    job: {command: [python, prep.py], flavor: gpu-huge}
    outputs: [{name: data, type: artifact}, {name: data, type: artifact}]
  - name: prep
    job: {comand: [python]}
  - name: train
    job: {command: [python, train.py]}
    depends_on: [prepp]
    inputs:
      - {name: Data, type: artifact}
      - {name: epochs, type: parameter, parameter_type: int, default_value: "ten"}
      - {name: steps}
edges:
  - {source_step: ghost, source_name: data, target_step: train, target_name: data}
  - {source_step: prep, source_name: dta, target_step: train, target_name: epochs}
)");
  CHECK_SUMMARIES(problems, {
                                "1 invalid_name name",
                                "2 unused_input inputs.unused",
                                "5 unknown_flavor steps.prep.job.flavor",
                                "6 duplicate_name steps.prep.outputs.data",
                                "7 duplicate_name steps.prep",
                                "8 unknown_field steps.prep.job.comand",
                                "11 unknown_dependency steps.train.depends_on",
                                "13 missing_input steps.train.inputs.Data",
                                "13 invalid_name steps.train.inputs.Data",
                                "14 invalid_default steps.train.inputs.epochs.default_value",
                                "15 missing_type steps.train.inputs.steps",
                                "15 missing_input steps.train.inputs.steps",
                                "17 unknown_step edges[0].source_step",
                                "17 unknown_input edges[0].target_name",
                                "18 unknown_output edges[1].source_name",
                            });
  for (const auto& p : problems) {
    if (p.field_path().starts_with("steps.")) {
      const std::string step = p.field_path().substr(6, p.field_path().find('.', 6) - 6);
      CHECK_MESSAGE(p.message().find('"' + step + '"') != std::string::npos, p.message());
    }
    CHECK(p.file() == "p.yaml");
  }
  CHECK(Find(problems, "unknown_flavor")->suggestion().find("cpu-2-8") != std::string::npos);
  CHECK(Find(problems, "unknown_field")->suggestion() == "did you mean \"command\"?");
  CHECK(Find(problems, "unknown_field")->message() ==
        "step \"prep\": unknown field \"comand\" in \"steps.prep.job\"");
  CHECK(Find(problems, "unknown_dependency")->suggestion().find("did you mean \"prep\"") !=
        std::string::npos);
  CHECK(Find(problems, "unknown_output")->suggestion().find("did you mean \"data\"") !=
        std::string::npos);
  CHECK(Find(problems, "unused_input")->severity() == v1::LINT_SEVERITY_WARNING);

  // The same spec as a message: the same problems, with named paths and no positions.
  auto parsed = ParsePipelineYaml("name: x\nsteps: [{name: a}]\n", "");
  MLC_REQUIRE_OK(parsed);
  auto from_message = LintPipelineSpec(parsed->spec, TestContext());
  REQUIRE(from_message.size() == 1);
  CHECK(from_message[0].code() == "missing_command");
  CHECK(from_message[0].field_path() == "steps.a.job");
  CHECK(from_message[0].line() == 0);
}

TEST_CASE("edges to unknown steps, inputs and outputs, and inputs fed twice") {
  auto problems = Lint(R"(name: edges
outputs: [{name: best, type: parameter}]
steps:
  - name: a
    job: {command: ["true"]}
    inputs: [{name: x, type: parameter}]
    outputs: [{name: y, type: parameter}]
edges:
  - {source_step: a, source_name: y, target_step: a, target_name: z}
  - {source_name: nope, target_step: a, target_name: x}
  - {source_step: a, source_name: y, target_name: bets}
  - {source_step: a, source_name: y, target_step: zz, target_name: x}
  - {source_step: a, source_name: y, target_step: a, target_name: x}
)");
  CHECK_SUMMARIES(problems, {
                                "2 missing_output outputs.best",
                                "4 cycle steps.a",
                                "9 unknown_input edges[0].target_name",
                                "10 unknown_input edges[1].source_name",
                                "11 unknown_output edges[2].target_name",
                                "12 unknown_step edges[3].target_step",
                                "13 duplicate_edge edges[4]",
                            });
}

TEST_CASE("the exit handler is checked like a step but feeds nothing") {
  auto problems = Lint(R"(name: exit
steps:
  - name: a
    job: {command: ["true"]}
    inputs: [{name: z, type: parameter}]
exit_handler:
  job: {command: [notify]}
  condition: inputs.x == 1
  inputs: [{name: state, type: parameter}]
edges:
  - {source_step: exit_handler, source_name: y, target_step: a, target_name: z}
)");
  CHECK_SUMMARIES(problems, {
                                "8 invalid_condition exit_handler.condition",
                                "9 missing_input exit_handler.inputs.state",
                                "11 invalid_value edges[0].source_step",
                            });
}

TEST_CASE("conditions evaluate against values") {
  auto c = ParseCondition(
      "steps.eval.outputs.auc >= 0.9 and (inputs.env == 'prod' or not inputs.dry) and "
      "steps.eval.outputs.m.n != null");
  MLC_REQUIRE_OK(c);
  REQUIRE(c->refs.size() == 4);
  CHECK(c->refs[0].step == "eval");
  CHECK(c->refs[3].key == "n");
  auto values = [](std::map<std::string, std::string> m) {
    return [m](const ConditionRef& r) -> Result<std::string> {
      auto it = m.find(r.text);
      if (it == m.end()) return NotFoundError(r.text);
      return it->second;
    };
  };
  std::map<std::string, std::string> v = {{"steps.eval.outputs.auc", "0.95"},
                                          {"inputs.env", "\"dev\""},
                                          {"inputs.dry", "false"},
                                          {"steps.eval.outputs.m.n", "3"}};
  auto yes = EvaluateCondition(*c, values(v));
  MLC_REQUIRE_OK(yes);
  CHECK(*yes);
  v["steps.eval.outputs.auc"] = "0.5";
  CHECK_FALSE(*EvaluateCondition(*c, values(v)));
  v["steps.eval.outputs.auc"] = "\"high\"";
  auto mismatch = EvaluateCondition(*c, values(v));
  CHECK(mismatch.status().code() == StatusCode::kInvalidArgument);
  CHECK(mismatch.status().message().find("steps.eval.outputs.auc (\"high\")") != std::string::npos);

  CHECK(ParseCondition("").status().code() == StatusCode::kInvalidArgument);
  CHECK(ParseCondition("a.b == 1").status().message().find("inputs.NAME") != std::string::npos);
  CHECK(ParseCondition("inputs.x = 1").status().message().find("column 10") != std::string::npos);
  CHECK(ParseCondition("(inputs.x").status().message().find("expected \")\"") != std::string::npos);
}

TEST_CASE("Client::LintPipeline and PipelineService/LintPipeline by name") {
  TempDir dir;
  IsolatedEnv env(dir);
  auto client = Client::Open("local://" + dir.path() + "/state");
  MLC_REQUIRE_OK(client);
  v1::LintPipelineRequest request;
  request.set_text(kDiamond);
  request.set_file("diamond.yaml");
  auto ok = (*client)->LintPipeline(request);
  MLC_REQUIRE_OK(ok);
  CHECK(ok->problems_size() == 0);
  CHECK(ok->has_resolved_spec());

  // The local backend's flavor catalog is the one checked.
  std::string text = kDiamond;
  text.replace(text.find("cpu-2-8"), 7, "gpu-huge");
  request.set_text(text);
  auto bad = (*client)->LintPipeline(request);
  MLC_REQUIRE_OK(bad);
  REQUIRE(bad->problems_size() == 1);
  CHECK(bad->problems(0).code() == "unknown_flavor");
  CHECK(bad->problems(0).file() == "diamond.yaml");
  CHECK_FALSE(bad->has_resolved_spec());

  auto json = InvokeJson(**client, "PipelineService/LintPipeline",
                         R"({"spec": {"name": "x", "steps": [{"name": "a"}]}})");
  MLC_REQUIRE_OK(json);
  CHECK(json->find("missing_command") != std::string::npos);
  CHECK(InvokeJson(**client, "PipelineService/LintPipeline", "{}").status().code() ==
        StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mlcore::pipelines
