#include "core/job_spec.h"

#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/util/message_differencer.h>

#include "core/validation.h"
#include "core/yaml_proto.h"
#include "mlcore/v1/jobs.pb.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using google::protobuf::util::MessageDifferencer;

LintContext TestContext() {
  LintContext ctx;
  ctx.known_flavors = {"cpu-small", "cpu-large", "gpu-1x", "gpu-8x"};
  ctx.known_priority_classes = {"low", "normal", "high"};
  return ctx;
}

ParsedJobSpec Parse(std::string_view text, std::string_view file = "job.yaml") {
  Result<ParsedJobSpec> parsed = ParseJobSpecYaml(text, file);
  MLC_REQUIRE_OK(parsed);
  return *std::move(parsed);
}

// "LINE:COLUMN CODE" per problem, for exact comparisons.
std::vector<std::string> Summaries(const std::vector<v1::LintProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) {
    out.push_back(std::to_string(p.line()) + ":" + std::to_string(p.column()) + " " + p.code() +
                  " " + p.field_path());
  }
  return out;
}

const v1::LintProblem* FindProblem(const std::vector<v1::LintProblem>& problems,
                                   std::string_view code) {
  for (const auto& p : problems) {
    if (p.code() == code) return &p;
  }
  return nullptr;
}

constexpr const char* kFullSpec = R"(# A preset using every field.
name: train-resnet
project: ml-research
command: [python, train.py]
args: ["--lr", "0.01", "--epochs", "10"]
entrypoint: /usr/bin/env
image: registry.example/train:1.4
workingDir: /home/ann/resnet
snapshot-working-dir: true
env:
  OMP_NUM_THREADS: "8"
  MODE: "true"
  EMPTY: ""
secrets:
  - name: HF_TOKEN
    source: env
  - name: DB_PASSWORD
    source: SECRET_SOURCE_FILE
    key: db
    path: /home/ann/.secrets.env
flavor: gpu-1x
replicas: 2
priority_class: high
preemptible: yes
deadline: 1h30m
ttl: 1d
termination_grace_period: 45s
retry:
  max_restarts: 3
  retry_exit_codes: [1, 137]
  initial_backoff: 10s
  max_backoff: 10m
  backoff_multiplier: 1.5
  retry_lost: true
input_datasets:
  - uri: file:///data/imagenet
    digest: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  - uri: models:/resnet50@prod
output_paths: [checkpoints/, "logs/*.txt"]
labels:
  team: recsys
  app.example.com/tier: gold
test_queue: false
node_selector:
  zone: eu-1
experiment: resnet-sweep
)";

TEST_CASE("a full valid spec parses, lints clean and round-trips through YAML") {
  ParsedJobSpec parsed = Parse(kFullSpec);
  INFO(FormatLintProblems(parsed.problems));
  REQUIRE(parsed.problems.empty());
  const v1::JobSpec& spec = parsed.spec;
  CHECK(spec.name() == "train-resnet");
  CHECK(spec.command_size() == 2);
  CHECK(spec.args(1) == "0.01");
  CHECK(spec.working_dir() == "/home/ann/resnet");
  CHECK(spec.snapshot_working_dir());
  CHECK(spec.env().at("MODE") == "true");
  CHECK(spec.env().at("EMPTY").empty());
  CHECK(spec.secrets(0).source() == v1::SECRET_SOURCE_ENV);
  CHECK(spec.secrets(1).source() == v1::SECRET_SOURCE_FILE);
  CHECK(spec.flavor() == "gpu-1x");
  CHECK(spec.preemptible());
  CHECK(spec.deadline().seconds() == 5400);
  CHECK(spec.ttl().seconds() == 86400);
  CHECK(spec.retry().max_restarts() == 3);
  CHECK(spec.retry().retry_exit_codes(1) == 137);
  CHECK(spec.retry().backoff_multiplier() == 1.5);
  CHECK(spec.labels().at("app.example.com/tier") == "gold");
  CHECK(parsed.positions.at("retry.max_restarts").line == 29);
  CHECK(parsed.positions.at("retry.max_restarts").column == 3);
  CHECK(parsed.positions.at("working_dir").line == 8);

  std::vector<v1::LintProblem> problems = LintJobSpec(parsed, TestContext());
  INFO(FormatLintProblems(problems));
  CHECK(problems.empty());

  std::string yaml = JobSpecToYaml(spec);
  INFO(yaml);
  ParsedJobSpec again = Parse(yaml, "roundtrip.yaml");
  CHECK(again.problems.empty());
  CHECK(MessageDifferencer::Equals(again.spec, spec));
  CHECK(yaml.find("source: file") != std::string::npos);
  CHECK(yaml.find("deadline: 1h30m") != std::string::npos);
  CHECK(yaml.find("MODE: \"true\"") != std::string::npos);
}

TEST_CASE("round trip keeps raw resources, timestamps-free messages and odd strings") {
  v1::JobSpec spec;
  spec.add_command("sh");
  spec.add_args("-c");
  spec.add_args("echo 'a: b' # not a comment");
  spec.add_args("null");
  spec.add_args("0x10");
  spec.mutable_resources()->set_cpu_millis(500);
  spec.mutable_resources()->set_memory_bytes(int64_t{32} << 30);
  spec.mutable_termination_grace_period()->set_nanos(250000000);
  (*spec.mutable_env())["A B"] = "multi\nline";
  ParsedJobSpec again = Parse(JobSpecToYaml(spec));
  INFO(JobSpecToYaml(spec));
  CHECK(again.problems.empty());
  CHECK(MessageDifferencer::Equals(again.spec, spec));
}

TEST_CASE("every problem is reported at once with its exact line and column") {
  const char* text =
      "name: Train_Job\n"                  // 1
      "comand: [python, train.py]\n"       // 2
      "flavour: gpu-1x\n"                  // 3
      "replicas: many\n"                   // 4
      "retry:\n"                           // 5
      "  max_restart: 3\n"                 // 6
      "  retry_exit_codes: [1, 300]\n"     // 7
      "env:\n"                             // 8
      "  1BAD: x\n"                        // 9
      "deadline: soon\n"                   // 10
      "output_paths: [out, ../escape]\n";  // 11
  ParsedJobSpec parsed = Parse(text);
  std::vector<v1::LintProblem> problems = LintJobSpec(parsed, TestContext());
  INFO(FormatLintProblems(problems));
  CHECK(Summaries(problems) == std::vector<std::string>{
                                   "1:1 invalid_name name",
                                   "2:1 unknown_field comand",
                                   "3:1 unknown_field flavour",
                                   "4:11 type_mismatch replicas",
                                   "6:3 unknown_field retry.max_restart",
                                   "7:25 invalid_exit_code retry.retry_exit_codes[1]",
                                   "9:3 invalid_env_name env.1BAD",
                                   "10:11 type_mismatch deadline",
                                   "11:21 invalid_path output_paths[1]",
                               });
  // No "missing command" on top of "did you mean command", nor complaints about max_restarts
  // being 0 on top of "did you mean max_restarts".
  CHECK(parsed.guessed_paths.contains("command"));
  CHECK(parsed.guessed_paths.contains("retry.max_restarts"));
  for (const auto& p : problems) CHECK(p.file() == "job.yaml");
  const std::string out = FormatLintProblems(problems);
  CHECK(out.find("job.yaml:2:1: error: unknown field \"comand\" (did you mean \"command\"?)\n") !=
        std::string::npos);
  CHECK(out.find("job.yaml:4:11: error: \"replicas\" expects an integer, got \"many\"\n") !=
        std::string::npos);
  CHECK(LintProblemsToStatus(problems).code() == StatusCode::kInvalidArgument);
  CHECK(LintProblemsToStatus(problems).message().starts_with("job spec has 9 errors:\n"));
}

TEST_CASE("unknown fields get a did-you-mean") {
  ParsedJobSpec parsed = Parse(
      "comand: [python]\n"
      "flavour: gpu-1x\n"
      "retry:\n"
      "  max_restart: 3\n"
      "  maxBackof: 1m\n"
      "zzz: 1\n");
  REQUIRE(parsed.problems.size() == 5);
  CHECK(parsed.problems[0].suggestion() == "did you mean \"command\"?");
  CHECK(parsed.problems[1].suggestion() == "did you mean \"flavor\"?");
  CHECK(parsed.problems[2].suggestion() == "did you mean \"max_restarts\"?");
  CHECK(parsed.problems[2].message() == "unknown field \"max_restart\" in \"retry\"");
  CHECK(parsed.problems[3].suggestion() == "did you mean \"max_backoff\"?");
  CHECK(parsed.problems[4].suggestion().starts_with("known fields: name, project, command"));

  CHECK(EditDistance("flavour", "flavor") == 1);
  CHECK(EditDistance("comnad", "command") == 2);  // transposition + insertion
  CHECK(ClosestMatch("outp", {"output_paths", "env"}) == "output_paths");
  CHECK(ClosestMatch("xyz", {"name", "env"}).empty());
}

TEST_CASE("field names are accepted in snake_case, lowerCamelCase and kebab-case") {
  ParsedJobSpec parsed = Parse(
      "command: [x]\n"
      "priorityClass: high\n"
      "termination-grace-period: 1m\n"
      "retry: {maxRestarts: 2, retry-exit-codes: [3]}\n");
  CHECK(parsed.problems.empty());
  CHECK(parsed.spec.priority_class() == "high");
  CHECK(parsed.spec.termination_grace_period().seconds() == 60);
  CHECK(parsed.spec.retry().max_restarts() == 2);
  CHECK(parsed.spec.retry().retry_exit_codes(0) == 3);
  CHECK(ToSnakeCase("maxRestarts") == "max_restarts");
  CHECK(ToSnakeCase("HTTPServer") == "http_server");
}

TEST_CASE("an unknown flavor lists the known ones") {
  ParsedJobSpec parsed = Parse("command: [python]\nflavor: gpu-1xx\n");
  std::vector<v1::LintProblem> problems = LintJobSpec(parsed, TestContext());
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].code() == "unknown_flavor");
  CHECK(problems[0].line() == 2);
  CHECK(problems[0].message() == "unknown flavor \"gpu-1xx\"");
  CHECK(problems[0].suggestion() ==
        "did you mean \"gpu-1x\"? known flavors: cpu-small, cpu-large, gpu-1x, gpu-8x");

  LintContext no_catalog;
  CHECK(LintJobSpec(parsed, no_catalog).empty());

  parsed = Parse("command: [python]\npriority_class: urgent\n");
  problems = LintJobSpec(parsed, TestContext());
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].suggestion() == "known priority classes: low, normal, high");
}

TEST_CASE("an inline secret value is rejected without being echoed") {
  const char* text =
      "command: [python]\n"
      "secrets:\n"
      "  - name: HF_TOKEN\n"
      "    value: hf_SuperSecret123\n"
      "  - name: 9BAD\n"
      "    source: vault\n";
  ParsedJobSpec parsed = Parse(text);
  std::vector<v1::LintProblem> problems = LintJobSpec(parsed, TestContext());
  const std::string out = FormatLintProblems(problems);
  INFO(out);
  CHECK(out.find("hf_SuperSecret123") == std::string::npos);
  CHECK(parsed.spec.DebugString().find("hf_SuperSecret123") == std::string::npos);
  CHECK(Summaries(problems) == std::vector<std::string>{
                                   "3:5 invalid_secret secrets[0].source",
                                   "4:5 inline_secret secrets[0].value",
                                   "5:5 invalid_secret secrets[1].name",
                                   "6:13 invalid_value secrets[1].source",
                               });
  const v1::LintProblem* inline_secret = FindProblem(problems, "inline_secret");
  REQUIRE(inline_secret != nullptr);
  CHECK(inline_secret->message().find("never inlined") != std::string::npos);
  CHECK(problems[3].message() == "\"secrets[1].source\" expects one of env, file, got \"vault\"");
}

TEST_CASE("secrets, env, labels, paths and datasets are checked") {
  ParsedJobSpec parsed = Parse(
      "command: [python]\n"
      "env: {API_TOKEN: abc, OK_VAR: '1', HF_TOKEN: x}\n"
      "secrets:\n"
      "  - {name: HF_TOKEN, source: env}\n"
      "  - {name: KEYS, source: file}\n"
      "labels: {team: recsys, 'bad key': x, tier: 'not ok'}\n"
      "working_dir: relative/dir\n"
      "output_paths: [/abs, '']\n"
      "input_datasets:\n"
      "  - uri: /data/no-scheme\n"
      "    digest: abc\n");
  std::vector<v1::LintProblem> problems = LintJobSpec(parsed, TestContext());
  INFO(FormatLintProblems(problems));
  CHECK(Summaries(problems) == std::vector<std::string>{
                                   "2:7 secret_in_env env.API_TOKEN",
                                   "2:36 secret_in_env env.HF_TOKEN",
                                   "4:6 invalid_secret secrets[0].name",
                                   "5:5 invalid_secret secrets[1].path",
                                   "6:24 invalid_label labels.bad key",
                                   "6:38 invalid_label labels.tier",
                                   "7:1 invalid_path working_dir",
                                   "8:16 invalid_path output_paths[0]",
                                   "8:22 invalid_path output_paths[1]",
                                   "10:5 invalid_uri input_datasets[0].uri",
                                   "11:5 invalid_value input_datasets[0].digest",
                               });
  CHECK(problems[0].severity() == v1::LINT_SEVERITY_WARNING);
  // Env values are never echoed (API_TOKEN's value "abc" doubles as the bad digest).
  CHECK(problems[0].message().find("abc") == std::string::npos);
}

TEST_CASE("durations parse from the documented forms and format back") {
  struct Case {
    const char* text;
    int64_t seconds;
    int32_t nanos;
  };
  for (const Case& c :
       {Case{"90s", 90, 0}, Case{"15m", 900, 0}, Case{"2h", 7200, 0}, Case{"1h30m", 5400, 0},
        Case{"1d", 86400, 0}, Case{"90", 90, 0}, Case{"1.5", 1, 500000000},
        Case{"500ms", 0, 500000000}, Case{"1.5h", 5400, 0}, Case{" -5s ", -5, 0},
        Case{"2m0.25s", 120, 250000000}, Case{"1ns", 0, 1}}) {
    INFO(c.text);
    Result<google::protobuf::Duration> d = ParseDurationText(c.text);
    MLC_REQUIRE_OK(d);
    CHECK(d->seconds() == c.seconds);
    CHECK(d->nanos() == c.nanos);
    Result<google::protobuf::Duration> back = ParseDurationText(FormatDurationText(*d));
    MLC_REQUIRE_OK(back);
    CHECK(MessageDifferencer::Equals(*back, *d));
  }
  for (const char* bad : {"", "abc", "1h30", "5x", "h", "1..5s", "-", "99999999999999d"}) {
    INFO(bad);
    CHECK(ParseDurationText(bad).status().code() == StatusCode::kInvalidArgument);
  }
  google::protobuf::Duration d;
  d.set_seconds(5400);
  CHECK(FormatDurationText(d) == "1h30m");
  d.set_seconds(90);
  CHECK(FormatDurationText(d) == "1m30s");

  ParsedJobSpec parsed = Parse("command: [x]\ndeadline: 0s\nttl: -5m\nretry: {max_backoff: 2}\n");
  std::vector<v1::LintProblem> problems = LintJobSpec(parsed, TestContext());
  INFO(FormatLintProblems(problems));
  CHECK(Summaries(problems) ==
        std::vector<std::string>{"2:1 invalid_duration deadline", "3:1 invalid_duration ttl"});
  CHECK(problems[0].severity() == v1::LINT_SEVERITY_WARNING);
  CHECK(problems[1].severity() == v1::LINT_SEVERITY_ERROR);
  CHECK(problems[1].message() == "ttl is negative (-5m); it must be positive");
  CHECK(parsed.spec.retry().max_backoff().seconds() == 2);
}

TEST_CASE("enums accept full names, short names in any case, and report the choices") {
  v1::ListJobsRequest request;
  YamlToProtoResult r = YamlTextToProto(
      "states: [running, JOB_STATE_PENDING, timed-out, Lost, 4]\nview: full\n", {}, &request);
  INFO(FormatLintProblems(r.problems));
  CHECK(r.problems.empty());
  REQUIRE(request.states_size() == 5);
  CHECK(request.states(0) == v1::JOB_STATE_RUNNING);
  CHECK(request.states(1) == v1::JOB_STATE_PENDING);
  CHECK(request.states(2) == v1::JOB_STATE_TIMED_OUT);
  CHECK(request.states(3) == v1::JOB_STATE_LOST);
  CHECK(request.states(4) == v1::JOB_STATE_SUCCEEDED);
  CHECK(request.view() == v1::JOB_VIEW_FULL);

  r = YamlTextToProto("states: [runing]\n", {}, &request);
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code() == "invalid_value");
  CHECK(r.problems[0].suggestion() == "did you mean \"running\"?");
  CHECK(r.problems[0].message().find("pending, starting, running") != std::string::npos);
}

TEST_CASE("timestamps, maps and type errors in the generic converter") {
  v1::JobEvent event;
  YamlToProtoResult r =
      YamlTextToProto("time: 2024-05-01T12:00:00Z\nto_state: failed\nreason: boom\n", {}, &event);
  CHECK(r.problems.empty());
  CHECK(event.time().seconds() == 1714564800);
  CHECK(ProtoToYaml(event).find("time: 2024-05-01T12:00:00Z") != std::string::npos);

  YamlToProtoOptions options;
  options.file = "e.yaml";
  r = YamlTextToProto("time: yesterday\n", options, &event);
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].file() == "e.yaml");
  CHECK(r.problems[0].message().find("RFC 3339") != std::string::npos);

  v1::Job job;
  r = YamlTextToProto("restarts: 99999999999\nexit_code: 1.5\nspec: [a]\nnodes: {a: b}\n", {},
                      &job);
  CHECK(Summaries(r.problems) ==
        std::vector<std::string>{"1:11 out_of_range restarts", "2:12 type_mismatch exit_code",
                                 "3:7 type_mismatch spec", "4:8 type_mismatch nodes"});
}

TEST_CASE("flavor and resources together are reported where the second appears") {
  ParsedJobSpec parsed = Parse(
      "command: [python]\n"
      "flavor: gpu-1x\n"
      "resources: {cpu_millis: 4000, gpu: 1}\n");
  std::vector<v1::LintProblem> problems = LintJobSpec(parsed, TestContext());
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].code() == "oneof_conflict");
  CHECK(problems[0].line() == 3);
  CHECK(problems[0].column() == 1);
  CHECK(problems[0].message().find("\"flavor\" and \"resources\" cannot both be set") == 0);
  CHECK(parsed.spec.flavor() == "gpu-1x");

  parsed = Parse("command: [python]\nresources: cpu=4,memory=32Gi,gpu=1:a100\n");
  CHECK(parsed.problems.empty());
  CHECK(parsed.spec.resources().cpu_millis() == 4000);
  CHECK(parsed.spec.resources().memory_bytes() == int64_t{32} << 30);
  CHECK(parsed.spec.resources().gpu_model() == "a100");
  LintContext strict = TestContext();
  strict.allow_raw_resources = false;
  problems = LintJobSpec(parsed, strict);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].code() == "resources_not_allowed");
  CHECK(problems[0].line() == 2);

  parsed = Parse("command: [python]\nresources: cpu=lots\n");
  REQUIRE(parsed.problems.size() == 1);
  CHECK(parsed.problems[0].code() == "type_mismatch");
  CHECK(parsed.problems[0].column() == 12);
}

TEST_CASE("a scalar where a list is expected gets a hint") {
  ParsedJobSpec parsed = Parse("command: python train.py --lr 0.1\n");
  std::vector<v1::LintProblem> problems = LintJobSpec(parsed, TestContext());
  REQUIRE(problems.size() == 1);  // missing_command is not repeated for the same field
  CHECK(problems[0].code() == "type_mismatch");
  CHECK(problems[0].message() == "\"command\" is a list, got \"python train.py --lr 0.1\"");
  CHECK(problems[0].suggestion() ==
        "write it as a list: command: [\"python\", \"train.py\", \"--lr\", \"0.1\"]");
}

TEST_CASE("duplicate keys are reported") {
  ParsedJobSpec parsed = Parse("command: [a]\nname: x\nName: y\nenv: {A: '1', A: '2'}\n");
  CHECK(Summaries(parsed.problems) ==
        std::vector<std::string>{"3:1 duplicate_field name", "4:15 duplicate_field env.A"});
}

TEST_CASE("the command-line form and generated names") {
  Result<v1::JobSpec> spec = JobSpecFromCommand({"python", "train.py", "--lr", "0.1"});
  MLC_REQUIRE_OK(spec);
  CHECK(spec->command_size() == 1);
  CHECK(spec->command(0) == "python");
  CHECK(spec->args_size() == 3);
  CHECK(spec->args(2) == "0.1");
  CHECK(spec->name().empty());
  CHECK(LintJobSpec(*spec, TestContext()).empty());
  CHECK(JobNameBase(*spec) == "train.py");
  CHECK(GenerateJobName(JobNameBase(*spec), 7).starts_with("train-"));
  CHECK(JobSpecFromCommand({}).status().code() == StatusCode::kInvalidArgument);
  CHECK(JobSpecFromCommand({""}).status().code() == StatusCode::kInvalidArgument);

  CHECK(JobNameBase(*JobSpecFromCommand({"python3.11", "-m", "recsys.train"})) == "train");
  CHECK(JobNameBase(*JobSpecFromCommand({"torchrun", "--nproc", "8", "fit.py"})) == "fit.py");
  CHECK(JobNameBase(*JobSpecFromCommand({"./run.sh"})) == "./run.sh");
  CHECK(JobNameBase(*JobSpecFromCommand({"python"})) == "job");

  CHECK(GenerateJobName("train", 42) == GenerateJobName("train", 42));
  CHECK(GenerateJobName("train", 42) != GenerateJobName("train", 43));
  CHECK(GenerateJobName("scripts/Train_v2.py", 1).starts_with("train-v2-"));
  std::set<std::string> seen;
  for (const char* base :
       {"train", "", "123", "My_Script.v2.py", "/usr/bin/", "--", "a.b.c", "ÜnicodeName", "x"}) {
    for (uint64_t seed = 0; seed < 50; ++seed) {
      std::string name = GenerateJobName(base, seed);
      INFO(base << " -> " << name);
      CHECK(ValidateName("job", name).ok());
      CHECK(name[0] >= 'a');
      CHECK(name[0] <= 'z');
      CHECK(name.size() >= 8);
      CHECK(name[name.size() - 7] == '-');
      seen.insert(name.substr(name.size() - 6));
    }
  }
  CHECK(seen.size() == 50);  // suffixes depend on the seed only
  std::string long_name = GenerateJobName(std::string(200, 'a'), 9);
  CHECK(long_name.size() == 63);
  CHECK(ValidateName("job", long_name).ok());
}

TEST_CASE("YAML syntax errors carry line and column") {
  ParsedJobSpec parsed = Parse("name: x\ncommand: [python\nflavor: a\n");
  REQUIRE(parsed.problems.size() == 1);
  CHECK(parsed.problems[0].code() == "syntax_error");
  CHECK(parsed.problems[0].line() > 1);
  CHECK(parsed.problems[0].column() >= 1);
  CHECK(parsed.problems[0].message().starts_with("YAML syntax error: "));
  // Semantic checks do not pile up on a file that could not be read.
  CHECK(LintJobSpec(parsed, TestContext()).size() == 1);

  parsed = Parse("command: [a]\n  bad: indent\n");
  REQUIRE(parsed.problems.size() == 1);
  CHECK(parsed.problems[0].line() == 2);
  CHECK(FormatLintProblems(parsed.problems).starts_with("job.yaml:2:"));

  parsed = Parse("command: [a]\n---\ncommand: [b]\n");
  REQUIRE(parsed.problems.size() == 1);
  CHECK(parsed.problems[0].line() == 3);

  parsed = Parse("- a\n- b\n");
  REQUIRE(parsed.problems.size() == 1);
  CHECK(parsed.problems[0].message() == "the spec expects a mapping of JobSpec fields, got a list");

  parsed = Parse("");
  CHECK(parsed.problems.empty());
  CHECK(LintJobSpec(parsed, TestContext()).at(0).code() == "missing_command");
}

TEST_CASE("JSON text is accepted too") {
  ParsedJobSpec parsed =
      Parse(R"({"command": ["python", "t.py"], "retry": {"maxRestarts": 1}, "deadline": "2h"})");
  CHECK(parsed.problems.empty());
  CHECK(parsed.spec.retry().max_restarts() == 1);
  CHECK(parsed.spec.deadline().seconds() == 7200);
}

TEST_CASE("preset files are read from disk with clear errors") {
  testing::TempDir dir;
  testing::WriteFile(dir / "job.yaml", "command: [python]\nflavor: gpu8x\n");
  Result<ParsedJobSpec> parsed = ParseJobSpecFile(dir / "job.yaml");
  MLC_REQUIRE_OK(parsed);
  std::vector<v1::LintProblem> problems = LintJobSpec(*parsed, TestContext());
  REQUIRE(problems.size() == 1);
  CHECK(FormatLintProblems(problems) ==
        dir / "job.yaml" +
            ":2:1: error: unknown flavor \"gpu8x\" (did you mean \"gpu-8x\"? known flavors: "
            "cpu-small, cpu-large, gpu-1x, gpu-8x)\n");

  Result<ParsedJobSpec> missing = ParseJobSpecFile(dir / "nope.yaml");
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message().find("nope.yaml") != std::string::npos);
  CHECK(ParseJobSpecFile(dir.path()).status().code() == StatusCode::kFailedPrecondition);
  CHECK(ParseJobSpecYaml(std::string(kMaxJobSpecBytes + 1, '#'), "big.yaml").status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("problems of specs not read from a file are located by field path") {
  v1::JobSpec spec;
  spec.set_replicas(-1);
  spec.mutable_retry()->add_retry_exit_codes(0);
  std::vector<v1::LintProblem> problems = LintJobSpec(spec, TestContext());
  CHECK(FormatLintProblems(problems) ==
        "command: error: the job has no command: set command (or entrypoint) (e.g. command: "
        "[\"python\", \"train.py\"])\n"
        "replicas: error: replicas is -1; it must be at least 1 (leave it out for one replica)\n"
        "retry.retry_exit_codes[0]: warning: exit code 0 means success and never causes a "
        "restart (remove it)\n"
        "retry.max_restarts: warning: retry.retry_exit_codes has no effect while "
        "retry.max_restarts is 0 (set retry.max_restarts to the number of restarts allowed)\n");
  CHECK(HasLintErrors(problems));
}

}  // namespace
}  // namespace mlcore
