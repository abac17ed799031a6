// The filter and order-by language of RegistryService.ListRegisteredModels.
//
// Filter: comparisons joined by `and` (any case), each `FIELD OP VALUE` or `FIELD in (V, ...)`:
//   name like "rank%" and tags.task = "ranking" and alias = "champion"
// Fields:
//   name                  the model name; a string.
//   tags.K                a tag's value; a string or a number. Values compare numerically when
//                         both sides parse as numbers in full ("0.90" = 0.9), else by bytes. A
//                         model without the tag never matches, whatever the operator.
//                         K is bare (letters, digits, `_ - . /`) or quoted right after the dot
//                         (`tags."my key"`).
//   alias                 "has an alias of that name": =, != (has none of that name), like (has
//                         one matching) and in (has one of them) only.
//   create_time, update_time
//                         microseconds since the epoch as an integer, or an ISO-8601 string
//                         ("2026-11-22", "2026-11-22T10:00:00Z"; no zone means UTC); no like.
// Operators: = != < <= > >= like in. `like` is SQL LIKE, case-sensitive: `%` matches any run of
// characters, `_` one character, `\` escapes the next. Strings are in single or double quotes with
// \\ \" \' as escapes; other backslashes are kept (so "50\%" is a LIKE pattern for "50%").
// Field names and keywords are case-insensitive; tag keys and values are not. The empty filter
// matches every model.
//
// Order by: a list of `KEY [asc|desc]` (default asc) with KEY one of name, create_time,
// update_time; ties fall to the next key and finally to the name ascending. The empty list means
// "name asc".
//
// Errors are INVALID_ARGUMENT with the 1-based column (in bytes) and what was expected:
//   filter column 6: expected an operator (= != < <= > >= like in), got "is"
//   order_by[0] column 6: expected "asc", "desc" or end of input, got "up"
//
// Thread safety: parsed filters and orders are immutable values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::registry {

enum class ModelField { kName, kTag, kAlias, kCreateTime, kUpdateTime };

enum class FilterOp { kEq, kNe, kLt, kLe, kGt, kGe, kLike, kIn };

// One literal, converted for its field at parse time.
struct FilterLiteral {
  std::string text;        // a string's contents or a number's source text
  bool is_number = false;  // the literal was written as a number
  int64_t time_us = 0;     // for create_time/update_time: microseconds since the epoch
};

// `field op value`, or `field in (values...)`.
struct ModelComparison {
  ModelField field = ModelField::kName;
  std::string key;  // the tag key, for kTag
  FilterOp op = FilterOp::kEq;
  std::vector<FilterLiteral> values;  // one, except for kIn
};

// A parsed filter; the default one matches every model.
class ModelFilter {
 public:
  // Errors: INVALID_ARGUMENT naming the column and what was expected.
  static Result<ModelFilter> Parse(std::string_view text);
  // All must hold.
  const std::vector<ModelComparison>& comparisons() const { return comparisons_; }

 private:
  std::vector<ModelComparison> comparisons_;
};

struct ModelSortKey {
  ModelField field = ModelField::kName;  // kName, kCreateTime or kUpdateTime
  bool descending = false;
};

// A parsed order_by; never empty after Parse (the empty list gives "name asc").
class ModelOrder {
 public:
  // Errors: INVALID_ARGUMENT prefixed "order_by[i] column N: ".
  static Result<ModelOrder> Parse(const std::vector<std::string>& order_by);
  // Most significant first; ends with the name (ascending unless ordered otherwise).
  const std::vector<ModelSortKey>& keys() const { return keys_; }

 private:
  std::vector<ModelSortKey> keys_;
};

// SQL LIKE as described above (case-sensitive, UTF-8 aware `_`).
bool LikeMatch(std::string_view s, std::string_view pattern);

// Three-way comparison of tag values: numeric when both parse as finite numbers in full, else
// bytewise. Returns -1, 0 or 1.
int CompareTagValues(std::string_view a, std::string_view b);

}  // namespace mlcore::registry
