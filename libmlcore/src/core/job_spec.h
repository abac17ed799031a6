// Job specs: reading them from YAML preset files and from a command line, checking them
// (`mlc job lint`), naming jobs and writing specs back out as YAML.
//
// The spec itself is v1::JobSpec (proto/mlcore/v1/jobs.proto); the file format is documented in
// docs/job-spec.md. Problems are v1::LintProblem values so that every surface (CLI, Python, C ABI,
// JobService.LintJobSpec) reports the same list: every problem at once, in file order, each with
// file:line:column, the field path, what is wrong and what to do.
//
// Typical use (the CLI's `mlc job lint FILE` and `mlc job submit -f FILE`):
//   MLC_ASSIGN_OR_RETURN(ParsedJobSpec parsed, ParseJobSpecFile(path));
//   std::vector<v1::LintProblem> problems = LintJobSpec(parsed, ctx);
//   std::cerr << FormatLintProblems(problems);
//   MLC_RETURN_IF_ERROR(LintProblemsToStatus(problems));   // refuse to submit on errors
//   ... submit parsed.spec ...
//
// Thread safety: every function is reentrant and keeps no state.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/yaml_proto.h"
#include "mlcore/status.h"
#include "mlcore/v1/common.pb.h"
#include "mlcore/v1/jobs.pb.h"

namespace mlcore {

// Largest preset text accepted, in bytes (1 MiB); specs are a few hundred bytes.
inline constexpr size_t kMaxJobSpecBytes = size_t{1} << 20;

// A job spec read from YAML, with where each field was written.
struct ParsedJobSpec {
  // Every field that converted; fields with problems are left unset. Empty after a syntax error.
  v1::JobSpec spec;
  // File name as the caller gave it (copied into problems); may be empty.
  std::string file;
  // Canonical field path -> 1-based position of its key ("retry.max_restarts", "secrets[0]",
  // "env.HF_TOKEN"; "" = the document). Used to point semantic problems at the text.
  FieldPositions positions;
  // Problems of the YAML layer only (syntax, unknown fields with "did you mean", type errors,
  // both `flavor` and `resources`, inline secret values), in file order. LintJobSpec(parsed, ...)
  // adds the semantic ones.
  std::vector<v1::LintProblem> problems;
  // Fields that misspelled keys probably meant ("command" for `comand:`); semantic problems
  // about them are not reported on top of the "did you mean".
  std::set<std::string, std::less<>> guessed_paths;
};

// What the semantic checks know about the target backend. Defaults check nothing
// backend-specific.
struct LintContext {
  // Flavor names of the region's catalog; a spec naming another flavor is an error listing these.
  // Empty (the default) = flavors are not checked.
  std::vector<std::string> known_flavors;
  // Priority class names (SchedulingService.ListPriorityClasses). Empty (the default) = not
  // checked.
  std::vector<std::string> known_priority_classes;
  // Whether the catalog accepts raw `resources` instead of a flavor; default true.
  bool allow_raw_resources = true;
  // Whether `project` must be set in the spec itself; default false (the CLI fills it from the
  // current context before submitting).
  bool require_project = false;
};

// The conversion options of job spec text: `resources` also in its scalar form
// ("cpu=4,memory=32Gi"), and an inline secret value refused without being echoed. Specs that embed
// job specs (pipelines) parse with the same options.
YamlToProtoOptions JobSpecYamlOptions(std::string_view file_name);

// The closest written position of field `path` ("steps[2].job.command"): the path itself, else its
// nearest parent, else the document's start.
// The variables of this process's environment its jobs inherit (the "minimal base environment":
// PATH, HOME, PYTHONPATH, VIRTUAL_ENV, LC_*, ...), by name.
std::map<std::string, std::string> BaseEnvironment();

SourcePosition FindPosition(const FieldPositions& positions, std::string path);

// True when a problem about field `reported` makes one about `path` redundant (the same field or
// one inside it; "" covers everything).
bool Covers(const std::string& reported, const std::string& path);

// Parses a preset's YAML (or JSON) text. Problems in the text never fail the call: they are
// collected in ParsedJobSpec::problems. Secret values are never copied into the spec or into any
// message. Errors: INVALID_ARGUMENT when the text exceeds kMaxJobSpecBytes.
Result<ParsedJobSpec> ParseJobSpecYaml(std::string_view text, std::string_view file_name);

// Reads and parses a preset file; problems are reported against `path` as given. Errors: the
// file's read error with the path (NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION for a
// directory), INVALID_ARGUMENT when it exceeds kMaxJobSpecBytes.
Result<ParsedJobSpec> ParseJobSpecFile(const std::string& path);

// Semantic checks of a spec from any source (problems carry field paths but no positions):
// - command or entrypoint present; no empty command items;
// - name (when set) and project (when set, or required by ctx) follow DNS-label rules, a job name
//   starting with a letter;
// - flavor known (ctx.known_flavors; the error lists them with a "did you mean"); raw resources
//   allowed (ctx.allow_raw_resources) and non-negative;
// - priority class known (ctx.known_priority_classes);
// - replicas >= 0 (0 means 1);
// - durations (deadline, ttl, termination_grace_period, retry backoffs) valid and positive; an
//   explicit 0 is a warning since it means "none"/"default";
// - retry: max_restarts >= 0, exit codes in 0..255, backoff_multiplier >= 1 (or 0 = default);
// - env names match [A-Za-z_][A-Za-z0-9_]*; env names that look like secrets (…TOKEN, …PASSWORD)
//   are a warning pointing at `secrets`;
// - secrets: valid unique names, a source, a path for FILE only, no clash with env;
// - labels and node_selector keys/values: 1-63 (values 0-63) of letters, digits, '-', '_', '.'
//   (keys also '/'), starting and ending with a letter or digit;
// - working_dir absolute; output paths relative without ".."; dataset URIs with a scheme and
//   digests of 64 lowercase hex characters.
// Problems come in check order. Codes: missing_command, invalid_name, unknown_flavor,
// resources_not_allowed, unknown_priority_class, invalid_value, invalid_duration,
// invalid_exit_code, invalid_env_name, secret_in_env, invalid_secret, invalid_label,
// invalid_path, invalid_uri.
std::vector<v1::LintProblem> LintJobSpec(const v1::JobSpec& spec, const LintContext& ctx);

// The YAML-layer problems of `parsed` plus the semantic ones, each positioned at the key that
// set the offending field (or its closest written parent, or the document start), in file order.
// Semantic problems about a field the YAML layer already reported, or that a misspelled key
// probably meant (ParsedJobSpec::guessed_paths), are dropped.
std::vector<v1::LintProblem> LintJobSpec(const ParsedJobSpec& parsed, const LintContext& ctx);

// True when any problem has ERROR severity.
bool HasLintErrors(const std::vector<v1::LintProblem>& problems);

// OK when no problem is an error; else INVALID_ARGUMENT whose message is "job spec has N
// error(s):" followed by FormatLintProblems of all problems.
Status LintProblemsToStatus(const std::vector<v1::LintProblem>& problems);

// One line per problem:
//   FILE:LINE:COLUMN: error: MESSAGE (SUGGESTION)
// e.g. `job.yaml:3:1: error: unknown field "comand" (did you mean "command"?)`. "warning" for
// warnings; "<input>" stands for an empty file name; without a line the location is the file, or
// the field path for specs not read from a file. The suggestion part is omitted when empty.
std::string FormatLintProblems(const std::vector<v1::LintProblem>& problems);

// The spec of `mlc job submit -- python train.py --lr 0.1`: argv[0] becomes `command`, the rest
// `args`; nothing else is set (the name stays empty for the backend to generate). Errors:
// INVALID_ARGUMENT when argv is empty or argv[0] is empty.
Result<v1::JobSpec> JobSpecFromCommand(const std::vector<std::string>& argv);

// The word a generated name starts with: the script or program a spec runs, skipping
// interpreters and launchers ("python train.py" -> "train.py", "python -m recsys.train" ->
// "train", "torchrun --nproc 8 fit.py" -> "fit.py"); "job" when nothing fits.
std::string JobNameBase(const v1::JobSpec& spec);

// A valid job name "BASE-XXXXXX": BASE is `base`'s file name without directory and extension,
// lowercased, with runs of other characters turned into '-', "job" when nothing is left (and
// prefixed with "job-" when it does not start with a letter), cut to 56 characters; XXXXXX is 6
// characters of [a-z0-9] derived from `seed` (same seed, same name). "scripts/Train_v2.py" with
// some seed -> "train-v2-g6d8y6". The caller picks the seed (random for new jobs).
std::string GenerateJobName(std::string_view base, uint64_t seed);

// The spec as YAML in the documented format (block style, set fields only, enums in short form,
// durations like "1h30m"); ParseJobSpecYaml reads it back to an equal spec. Used for
// `mlc job get -o yaml` and `mlc job download presets`.
std::string JobSpecToYaml(const v1::JobSpec& spec);

}  // namespace mlcore
