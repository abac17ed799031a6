// The filter and order-by language of TrackingService.SearchRuns.
//
// Filter: comparisons joined by `and` (any case), each `OPERAND OP VALUE`:
//   params.lr < 0.01 and metrics.val_loss < 0.3 and tags.team = "recsys"
// Operands:
//   params.K, tags.K  strings; compare numerically when both sides parse as numbers in full
//                     ("0.010" = 0.01), else by bytes.
//   metrics.K         the latest value, a number; only numbers compare with it.
//   status            a run state, named case-insensitively: RUNNING, FINISHED, FAILED, KILLED,
//                     SCHEDULED; =, !=, in and not in only.
//   start_time, end_time
//                     microseconds since the epoch, given as an integer or as an ISO-8601 string
//                     ("2026-11-22", "2026-11-22T10:00:00Z", "2026-11-22T10:00:00.5+02:00"; no
//                     zone means UTC); no like/ilike.
//   user, name, job_id, parent_run_id, experiment_id, id
//                     strings, compared like params. They are always present: an empty one is
//                     the empty string, so `parent_run_id = ""` selects top-level runs.
// Keys after `params.`/`metrics.`/`tags.` are bare (letters, digits, `_ - . /`, and non-ASCII
// bytes: `metrics.val/loss`, `params.model.depth`) or quoted right after the dot, with double
// quotes, backticks or single quotes (`metrics."val loss"`). Attribute names, the prefixes and
// keywords are case-insensitive; keys are not.
// Operators: = (or ==), !=, <, <=, >, >=, like and ilike (SQL LIKE on strings: `%` matches any run
// of characters, `_` one character, `\` escapes the next; ilike folds ASCII case),
// in ("a", "b", 1) and not in (...).
// Values: numbers (`3`, `-1.5`, `1e-3`) and strings in single or double quotes. In strings, \\ \"
// \' \` \n \t \r are escapes; any other backslash is kept, so "50\%" is a LIKE pattern for "50%".
//
// NULL semantics: a run lacking the param, tag or metric of a comparison never matches it, for
// every operator including != and not in; likewise an unset start_time/end_time, and a NaN metric.
// The empty filter matches every run.
//
// Order by: a list of `OPERAND [asc|desc]` (default asc): "metrics.val_loss", "start_time desc".
// Runs lacking the key (as above) sort last in either direction. Metrics and times sort as
// numbers; params and tags as numbers when every present value parses as one, else as strings;
// the other attributes as strings. Ties fall to the next key, and finally to the run id
// ascending. The empty list means "start_time desc".
//
// Errors are INVALID_ARGUMENT with the 1-based column (counted in bytes) and what was expected:
//   filter column 14: expected operator, got "lr"
//   order_by[1] column 9: expected "asc", "desc" or end of input, got "up"
//
// Thread safety: parsed filters and orders are immutable values; use them from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::tracking {

// The fields of a run the filter language can see.
struct RunView {
  std::string id, name, user, experiment_id, job_id, parent_run_id;
  std::string status;         // "RUNNING", "FINISHED", ...
  int64_t start_time_us = 0;  // 0 = unset
  int64_t end_time_us = 0;    // 0 = unset
  std::map<std::string, std::string> params, tags;
  std::map<std::string, double> metrics;  // latest value per key
};

// What an operand reads from a run.
enum class RunField {
  kParam,
  kMetric,
  kTag,
  kStatus,
  kUser,
  kName,
  kJobId,
  kParentRunId,
  kStartTime,
  kEndTime,
  kExperimentId,
  kId,
};

// An operand of a comparison or a sort key: an attribute, or a param, metric or tag key.
struct RunOperand {
  RunField field = RunField::kId;
  std::string key;  // for kParam, kMetric and kTag

  // As the language writes it: "metrics.loss", "params.\"a b\"", "start_time".
  std::string ToString() const;
};

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kLike, kILike, kIn, kNotIn };

// One literal of a comparison, converted for its operand at parse time.
struct FilterValue {
  std::string text;        // a string's contents, a number's source text, or a canonical status
  bool is_number = false;  // `number` holds the literal's value (for a string, its full parse)
  double number = 0;
  int64_t time_us = 0;  // for start_time/end_time: the time in microseconds since the epoch
};

// `operand op value`, or `operand [not] in (values...)`.
struct Comparison {
  RunOperand operand;
  CompareOp op = CompareOp::kEq;
  std::vector<FilterValue> values;  // one, except for kIn/kNotIn
};

// A parsed filter; the default one (like the empty text) matches every run.
class RunFilter {
 public:
  RunFilter() = default;

  // Parses `text`; errors: INVALID_ARGUMENT naming the column and what was expected.
  static Result<RunFilter> Parse(std::string_view text);

  // True when `run` satisfies every comparison.
  bool Matches(const RunView& run) const;

  // True when the filter has no comparisons (matches everything).
  bool empty() const { return comparisons_.empty(); }

  // What the filter touches, so a store can load only what is needed.
  bool UsesParams() const { return Uses(RunField::kParam); }
  bool UsesTags() const { return Uses(RunField::kTag); }
  bool UsesMetrics() const { return Uses(RunField::kMetric); }

  // The comparisons, all of which must hold; e.g. for a store to push some down to its queries.
  const std::vector<Comparison>& comparisons() const { return comparisons_; }

 private:
  bool Uses(RunField field) const;

  std::vector<Comparison> comparisons_;
};

// One key of an order.
struct SortKey {
  RunOperand operand;
  bool descending = false;
};

// A parsed order_by; the default one (like the empty list) is "start_time desc".
class RunOrder {
 public:
  RunOrder();

  // Parses one sort key per entry; errors: INVALID_ARGUMENT prefixed "order_by[i] column N: ".
  static Result<RunOrder> Parse(const std::vector<std::string>& order_by);

  // Sorts in place (stable), applying the missing-last and id tiebreak rules.
  void Sort(std::vector<const RunView*>& runs) const;

  // What the order touches, so a store can load only what is needed.
  bool UsesParams() const { return Uses(RunField::kParam); }
  bool UsesTags() const { return Uses(RunField::kTag); }
  bool UsesMetrics() const { return Uses(RunField::kMetric); }

  // The keys, most significant first (the id tiebreak is implicit).
  const std::vector<SortKey>& keys() const { return keys_; }

 private:
  bool Uses(RunField field) const;

  std::vector<SortKey> keys_;
};

}  // namespace mlcore::tracking
