// Step conditions of pipelines (Step.condition in proto/mlcore/v1/pipelines.proto): parsing, the
// references they make, and evaluation against concrete values.
//
// Grammar (keywords are lowercase; whitespace is free):
//   expr       := and_expr ("or" and_expr)*
//   and_expr   := not_expr ("and" not_expr)*
//   not_expr   := "not" not_expr | primary
//   primary    := "(" expr ")" | operand [op operand]
//   op         := "==" | "!=" | "<" | "<=" | ">" | ">="
//   operand    := reference | number | 'text' | "text" | true | false | null
//   reference  := inputs.NAME | steps.STEP.outputs.NAME | steps.STEP.outputs.NAME.KEY
// A bare operand (no op) must be a boolean: `inputs.deploy and not steps.check.outputs.failed`.
// KEY picks one number of a METRICS output.
//
// Thread safety: functions are reentrant; a parsed Condition is immutable and may be shared.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::pipelines {

// A value named by a condition.
struct ConditionRef {
  // True for `inputs.NAME` (a pipeline input); false for `steps.STEP.outputs...`.
  bool pipeline_input = false;
  // The step (empty for pipeline inputs).
  std::string step;
  // The input or output name.
  std::string name;
  // For `steps.S.outputs.NAME.KEY`: KEY; empty otherwise.
  std::string key;
  // The reference as written, and its 1-based column in the condition text.
  std::string text;
  int column = 0;
};

// One node of a parsed condition.
struct ConditionNode {
  enum class Kind { kOr, kAnd, kNot, kCompare, kOperand };
  // For literal operands.
  enum class Literal { kNone, kNumber, kString, kBool, kNull };

  Kind kind = Kind::kOperand;
  // kOr, kAnd: two or more; kNot: one; kCompare: two (both kOperand).
  std::vector<std::unique_ptr<ConditionNode>> children;
  // kCompare: "==", "!=", "<", "<=", ">", ">=".
  std::string op;
  // kOperand: a reference (when `literal` is kNone) or a literal whose JSON text is `json`.
  Literal literal = Literal::kNone;
  ConditionRef ref;
  std::string json;
  // 1-based column where the node starts.
  int column = 0;
};

// A parsed condition and every reference it makes, in text order.
struct Condition {
  std::unique_ptr<ConditionNode> root;
  std::vector<ConditionRef> refs;
};

// Parses `text`. Errors: INVALID_ARGUMENT saying at which column what was expected
// ("at column 12: expected a value after \"==\", got end of text"); references with an unknown
// shape ("input.x", "steps.a.b") are errors too.
Result<Condition> ParseCondition(std::string_view text);

// Resolves a reference to its JSON value (a number, string, bool, null, list or object); an error
// is returned as the evaluation's error.
using ConditionResolver = std::function<Result<std::string>(const ConditionRef& ref)>;

// Evaluates a parsed condition. `==`/`!=` compare JSON values (numbers by value, so 1 == 1.0);
// `<`, `<=`, `>`, `>=` need two numbers or two strings; a bare operand must be a boolean. Errors:
// INVALID_ARGUMENT naming the reference and its value for a comparison of mismatched types, or
// the resolver's error.
Result<bool> EvaluateCondition(const Condition& condition, const ConditionResolver& resolve);

}  // namespace mlcore::pipelines
