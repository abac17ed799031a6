// Generic YAML <-> protobuf conversion by reflection, reporting every problem with its position.
//
// Used for job specs (core/job_spec.h) and any other user-written spec (pipelines, presets): a
// YAML document maps onto a message by field name, and every problem found is collected as a
// v1::LintProblem (file, 1-based line and column, dotted field path, message, suggestion) so the
// list can be printed by the CLI or returned over the API as it is.
//
// Mapping rules (YamlTextToProto):
// - A message is a YAML mapping. Keys name fields in snake_case ("max_restarts"), lowerCamelCase
//   ("maxRestarts") or kebab-case ("max-restarts"). Unknown keys are problems with a "did you
//   mean" (Damerau-Levenshtein distance <= 2, or a prefix match) or the list of known fields.
// - A key with no value (`image:`) or `null` leaves the field unset.
// - Integers, doubles, bools (true/false, yes/no, on/off) and strings from scalars; any scalar is
//   accepted for a string field. Enums by full name ("JOB_STATE_RUNNING") or by the name without
//   the prefix shared by all the enum's values ("running"), case-insensitive, '-' for '_'.
// - Repeated fields from sequences; a scalar where a list is expected is a problem with a hint.
// - Map fields from mappings.
// - google.protobuf.Duration from "90s", "15m", "2h", "1h30m", "1d", "500ms", "1.5h" or a number
//   of seconds; google.protobuf.Timestamp from RFC 3339 ("2024-05-01T12:00:00Z"). Further
//   message types can be given a scalar form through YamlToProtoOptions::scalar_messages.
// - Two keys naming the same field, and two members of one oneof, are problems.
// - The text may also be JSON (a subset of YAML). Only the first document is read; more than one
//   is a problem.
//
// Thread safety: all functions are reentrant; options and messages are not shared.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"
#include "mlcore/v1/common.pb.h"

namespace google::protobuf {
class Descriptor;
class Duration;
class Message;
}  // namespace google::protobuf

namespace mlcore {

// The duration forms ParseDurationText accepts, for messages.
inline constexpr const char* kDurationForms =
    "90s, 15m, 2h, 1h30m, 1d, 500ms or a number of seconds";

// 1-based position of a YAML node in its text; {0, 0} when unknown.
struct SourcePosition {
  int line = 0;
  int column = 0;
};

// Canonical field path -> position of the key (or sequence item) that set it. Paths use proto
// field names whatever spelling the file used: "retry.max_restarts", "secrets[0].name",
// "env.HF_TOKEN" (map entries by key), and "" for the document root.
using FieldPositions = std::map<std::string, SourcePosition, std::less<>>;

// Parses the scalar form of a message type into `message` (already of that type). Errors:
// INVALID_ARGUMENT whose message says what is expected; it becomes a "type_mismatch" problem.
using ScalarMessageParser =
    std::function<Status(std::string_view scalar, google::protobuf::Message* message)>;

// Replaces the generic "unknown field" problem for `key` in a message of type `descriptor` at
// `path` (the path the field would have). Return nullopt to keep the generic problem; a returned
// problem gets file, line, column and field_path filled in by the converter.
using UnknownFieldHook = std::function<std::optional<v1::LintProblem>(
    const google::protobuf::Descriptor& descriptor, std::string_view key, std::string_view path)>;

struct YamlToProtoOptions {
  // File name copied into every problem; default empty (text not read from a file).
  std::string file;
  // Extra scalar forms keyed by full message name ("mlcore.v1.Resources"); default none. Duration
  // and Timestamp are built in. A mapping is still converted field by field.
  std::map<std::string, ScalarMessageParser, std::less<>> scalar_messages;
  // See UnknownFieldHook; default unset (every unknown key gets the generic problem).
  UnknownFieldHook unknown_field_hook;
};

struct YamlToProtoResult {
  // Where each field set from the text was written; see FieldPositions.
  FieldPositions positions;
  // Every problem found, sorted in file order (line, then column).
  std::vector<v1::LintProblem> problems;
  // Canonical paths that unknown keys were probably meant to be (the "did you mean" targets,
  // "command" for a `comand:` key), so later checks need not also report them as missing.
  std::set<std::string, std::less<>> guessed_paths;
};

// Converts YAML (or JSON) `text` into `message`, which is cleared first. Never stops at the first
// problem: fields that convert are set, the others are reported. A syntax error is one
// "syntax_error" problem with the parser's line and column, and leaves `message` empty.
// Problem codes: syntax_error, type_mismatch, unknown_field, duplicate_field, oneof_conflict,
// out_of_range, invalid_value, plus whatever `unknown_field_hook` returns.
YamlToProtoResult YamlTextToProto(std::string_view text, const YamlToProtoOptions& options,
                                  google::protobuf::Message* message);

// Emits `message` as block-style YAML that YamlTextToProto reads back to an equal message: set
// fields only, in declaration order, with proto field names; enums by their short lowercase name,
// Duration as "1h30m", Timestamp as RFC 3339, map entries sorted by key.
std::string ProtoToYaml(const google::protobuf::Message& message);

// Parses a duration as described above ("1h30m", "90", "-5s"). Errors: INVALID_ARGUMENT naming
// the accepted forms, or when beyond the Duration range (+-10,000 years).
Result<google::protobuf::Duration> ParseDurationText(std::string_view text);

// "1h30m", "90s" -> "1m30s", "1.5s", "0s", "-2h"; ParseDurationText reads it back exactly.
std::string FormatDurationText(const google::protobuf::Duration& duration);

// Optimal-string-alignment (restricted Damerau-Levenshtein) distance: insertions, deletions,
// substitutions and adjacent transpositions each cost 1.
int EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`: edit distance <= 2 (and less than the word's length), else a
// candidate that starts with `word` or that `word` starts with (3+ characters); ties go to the
// earlier candidate. Empty when nothing is close.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// "maxRestarts", "max-restarts", "MaxRestarts" -> "max_restarts".
std::string ToSnakeCase(std::string_view key);

// A problem with the given fields (severity ERROR unless `severity` says otherwise).
v1::LintProblem MakeLintProblem(std::string_view code, std::string_view field_path,
                                std::string message, std::string suggestion = {},
                                v1::LintSeverity severity = v1::LINT_SEVERITY_ERROR);

// Stable-sorts problems into file order: by line, then column; unpositioned ones (line 0) last.
void SortLintProblems(std::vector<v1::LintProblem>* problems);

}  // namespace mlcore
