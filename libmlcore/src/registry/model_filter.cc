#include "registry/model_filter.h"

#include <charconv>
#include <cmath>
#include <optional>

#include <google/protobuf/util/time_util.h>

#include "util/strings.h"

namespace mlcore::registry {
namespace {

using google::protobuf::util::TimeUtil;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsWordChar(char c) {
  return IsAsciiAlpha(c) || IsDigit(c) || c == '_' || c == '-' || c == '.' || c == '/';
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::optional<double> ParseNumber(std::string_view s) {
  size_t first = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (first >= s.size() || !(IsDigit(s[first]) || s[first] == '.')) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);
  double value = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<int64_t> ParseInteger(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  int64_t value = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// "2026-11-22", "2026-11-22T10:00:00[.frac]" (UTC) or full RFC 3339 with a zone.
std::optional<int64_t> ParseIsoTime(const std::string& s) {
  std::string text = s;
  if (text.size() == 10) text += "T00:00:00Z";
  if (text.size() > 10 && text[10] == ' ') text[10] = 'T';
  google::protobuf::Timestamp t;
  if (TimeUtil::FromString(text, &t) || TimeUtil::FromString(text + "Z", &t)) {
    return TimeUtil::TimestampToMicroseconds(t);
  }
  return std::nullopt;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A cursor over one text with errors that name the column.
class Scanner {
 public:
  Scanner(std::string_view src, std::string prefix) : src_(src), prefix_(std::move(prefix)) {}

  void SkipSpace() {
    while (pos_ < src_.size() && IsSpace(src_[pos_])) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == src_.size();
  }
  size_t pos() const { return pos_; }
  char Peek() const { return pos_ < src_.size() ? src_[pos_] : '\0'; }
  void Advance(size_t n = 1) { pos_ += n; }
  std::string_view Rest() const { return src_.substr(pos_); }

  // A bare word at the cursor (may be empty).
  std::string_view Word() {
    SkipSpace();
    size_t start = pos_;
    if (pos_ < src_.size() && (IsAsciiAlpha(src_[pos_]) || src_[pos_] == '_')) {
      while (pos_ < src_.size() && IsWordChar(src_[pos_])) ++pos_;
    }
    return src_.substr(start, pos_ - start);
  }

  // What is at `at`, for "got ..." in messages.
  std::string Got(size_t at) const {
    if (at >= src_.size()) return "end of input";
    size_t end = at;
    if (IsWordChar(src_[at])) {
      while (end < src_.size() && IsWordChar(src_[end])) ++end;
    } else {
      end = at + 1;
    }
    return Quote(src_.substr(at, end - at));
  }

  Status Error(size_t at, const std::string& what) const {
    return InvalidArgumentError(prefix_ + " column " + std::to_string(at + 1) + ": " + what);
  }
  Status Expected(size_t at, const std::string& what) const {
    return Error(at, "expected " + what + ", got " + Got(at));
  }

  // A quoted string at the cursor (the quote included); false when there is none.
  Result<bool> Quoted(std::string* out) {
    SkipSpace();
    char quote = Peek();
    if (quote != '"' && quote != '\'') return false;
    size_t start = pos_;
    for (size_t i = pos_ + 1; i < src_.size(); ++i) {
      char c = src_[i];
      if (c == quote) {
        pos_ = i + 1;
        return true;
      }
      if (c == '\\' && i + 1 < src_.size()) {
        char next = src_[i + 1];
        if (next == '\\' || next == '"' || next == '\'') {
          *out += next;
        } else {
          *out += c;
          *out += next;
        }
        ++i;
        continue;
      }
      *out += c;
    }
    return Error(start, "unterminated string");
  }

 private:
  std::string_view src_;
  std::string prefix_;
  size_t pos_ = 0;
};

constexpr std::string_view kFieldList = "name, alias, create_time, update_time, tags.KEY";
constexpr std::string_view kOps = "an operator (= != < <= > >= like in)";

Result<FilterLiteral> ParseLiteral(Scanner& in, const ModelComparison& c) {
  in.SkipSpace();
  const size_t at = in.pos();
  FilterLiteral lit;
  MLC_ASSIGN_OR_RETURN(bool quoted, in.Quoted(&lit.text));
  if (!quoted) {
    size_t end = at;
    std::string_view rest = in.Rest();
    while (end - at < rest.size() &&
           (IsWordChar(rest[end - at]) || rest[end - at] == '+' || rest[end - at] == '-')) {
      ++end;
    }
    std::string_view text = rest.substr(0, end - at);
    if (text.empty() || !ParseNumber(text)) return in.Expected(at, "a quoted string or a number");
    lit.text = std::string(text);
    lit.is_number = true;
    in.Advance(text.size());
  }
  switch (c.field) {
    case ModelField::kName:
    case ModelField::kAlias:
      if (lit.is_number) {
        return in.Error(at, std::string(c.field == ModelField::kName ? "name" : "alias") +
                                " compares with a quoted string, got the number " + lit.text);
      }
      break;
    case ModelField::kCreateTime:
    case ModelField::kUpdateTime: {
      auto us = lit.is_number ? ParseInteger(lit.text) : ParseIsoTime(lit.text);
      if (!us) {
        return in.Error(at,
                        "times are microseconds since the epoch (an integer) or ISO-8601 "
                        "strings (\"2026-11-22\", \"2026-11-22T10:00:00Z\"), got " +
                            (lit.is_number ? lit.text : Quote(lit.text)));
      }
      lit.time_us = *us;
      break;
    }
    case ModelField::kTag:
      break;
  }
  return lit;
}

Result<ModelComparison> ParseComparison(Scanner& in) {
  ModelComparison c;
  in.SkipSpace();
  const size_t field_at = in.pos();
  std::string_view word = in.Word();
  if (word.empty()) return in.Expected(field_at, "a field (" + std::string(kFieldList) + ")");
  std::string lower = util::AsciiLower(word);
  if (lower == "name") {
    c.field = ModelField::kName;
  } else if (lower == "alias") {
    c.field = ModelField::kAlias;
  } else if (lower == "create_time") {
    c.field = ModelField::kCreateTime;
  } else if (lower == "update_time") {
    c.field = ModelField::kUpdateTime;
  } else if (lower.rfind("tags.", 0) == 0) {
    c.field = ModelField::kTag;
    c.key = std::string(word.substr(5));
    if (c.key.empty()) {
      MLC_ASSIGN_OR_RETURN(bool quoted, in.Quoted(&c.key));
      if (!quoted || c.key.empty()) return in.Expected(in.pos(), "a tag key after \"tags.\"");
    }
  } else {
    return in.Error(field_at,
                    "unknown field " + Quote(word) + "; fields: " + std::string(kFieldList));
  }
  in.SkipSpace();
  const size_t op_at = in.pos();
  std::string_view rest = in.Rest();
  if (rest.substr(0, 2) == "!=" || rest.substr(0, 2) == "<=" || rest.substr(0, 2) == ">=") {
    c.op = rest[0] == '!' ? FilterOp::kNe : (rest[0] == '<' ? FilterOp::kLe : FilterOp::kGe);
    in.Advance(2);
  } else if (rest.substr(0, 2) == "==") {
    return in.Error(op_at, "use = for equality, not ==");
  } else if (!rest.empty() && (rest[0] == '=' || rest[0] == '<' || rest[0] == '>')) {
    c.op = rest[0] == '=' ? FilterOp::kEq : (rest[0] == '<' ? FilterOp::kLt : FilterOp::kGt);
    in.Advance();
  } else {
    std::string op = util::AsciiLower(in.Word());
    if (op == "like") {
      c.op = FilterOp::kLike;
    } else if (op == "in") {
      c.op = FilterOp::kIn;
    } else {
      return in.Expected(op_at, std::string(kOps));
    }
  }
  const bool is_time = c.field == ModelField::kCreateTime || c.field == ModelField::kUpdateTime;
  if (is_time && c.op == FilterOp::kLike) {
    return in.Error(op_at, "times do not support like; use = != < <= > >= or in");
  }
  if (c.field == ModelField::kAlias && c.op != FilterOp::kEq && c.op != FilterOp::kNe &&
      c.op != FilterOp::kLike && c.op != FilterOp::kIn) {
    return in.Error(op_at,
                    "alias supports =, !=, like and in (it tests whether the model has "
                    "an alias of that name)");
  }
  if (c.op != FilterOp::kIn) {
    MLC_ASSIGN_OR_RETURN(FilterLiteral lit, ParseLiteral(in, c));
    c.values.push_back(std::move(lit));
    return c;
  }
  in.SkipSpace();
  if (in.Peek() != '(') return in.Expected(in.pos(), "\"(\" after in");
  in.Advance();
  while (true) {
    MLC_ASSIGN_OR_RETURN(FilterLiteral lit, ParseLiteral(in, c));
    c.values.push_back(std::move(lit));
    in.SkipSpace();
    if (in.Peek() == ',') {
      in.Advance();
      continue;
    }
    if (in.Peek() == ')') {
      in.Advance();
      return c;
    }
    return in.Expected(in.pos(), "\",\" or \")\"");
  }
}

}  // namespace

Result<ModelFilter> ModelFilter::Parse(std::string_view text) {
  ModelFilter filter;
  Scanner in(text, "filter");
  if (in.AtEnd()) return filter;
  while (true) {
    MLC_ASSIGN_OR_RETURN(ModelComparison c, ParseComparison(in));
    filter.comparisons_.push_back(std::move(c));
    if (in.AtEnd()) return filter;
    const size_t at = in.pos();
    std::string joiner = util::AsciiLower(in.Word());
    if (joiner == "or") {
      return in.Error(at,
                      "\"or\" is not supported; comparisons are joined by \"and\" (use in "
                      "(...) for alternatives of one field)");
    }
    if (joiner != "and") return in.Expected(at, "\"and\" or end of filter");
  }
}

Result<ModelOrder> ModelOrder::Parse(const std::vector<std::string>& order_by) {
  ModelOrder order;
  bool has_name = false;
  for (size_t i = 0; i < order_by.size(); ++i) {
    Scanner in(order_by[i], "order_by[" + std::to_string(i) + "]");
    in.SkipSpace();
    const size_t at = in.pos();
    std::string_view word = in.Word();
    std::string key = util::AsciiLower(word);
    ModelSortKey k;
    if (key == "name") {
      k.field = ModelField::kName;
    } else if (key == "create_time") {
      k.field = ModelField::kCreateTime;
    } else if (key == "update_time") {
      k.field = ModelField::kUpdateTime;
    } else {
      return in.Error(at,
                      (key.empty() ? "expected a sort key" : "unknown sort key " + Quote(word)) +
                          "; sort by name, create_time or update_time");
    }
    if (!in.AtEnd()) {
      const size_t dir_at = in.pos();
      std::string dir = util::AsciiLower(in.Word());
      if (dir == "desc") {
        k.descending = true;
      } else if (dir != "asc") {
        return in.Expected(dir_at, "\"asc\", \"desc\" or end of input");
      }
      if (!in.AtEnd()) return in.Expected(in.pos(), "end of input");
    }
    // Names are unique: keys after the name never matter (but are still checked).
    if (!has_name) {
      order.keys_.push_back(k);
      has_name = k.field == ModelField::kName;
    }
  }
  if (!has_name) order.keys_.push_back(ModelSortKey{ModelField::kName, false});
  return order;
}

bool LikeMatch(std::string_view s, std::string_view pattern) {
  auto next_char = [&](size_t i) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    return i;
  };
  size_t si = 0, pi = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < pattern.size()) {
      char pc = pattern[pi];
      if (pc == '%') {
        star_p = ++pi;
        star_s = si;
        continue;
      }
      if (pc == '_') {
        si = next_char(si);
        ++pi;
        continue;
      }
      bool escaped = pc == '\\' && pi + 1 < pattern.size();
      if (s[si] == (escaped ? pattern[pi + 1] : pc)) {
        ++si;
        pi += escaped ? 2 : 1;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    star_s = next_char(star_s);
    si = star_s;
  }
  while (pi < pattern.size() && pattern[pi] == '%') ++pi;
  return pi == pattern.size();
}

int CompareTagValues(std::string_view a, std::string_view b) {
  auto x = ParseNumber(a);
  auto y = ParseNumber(b);
  if (x && y) return *x < *y ? -1 : (*x > *y ? 1 : 0);
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace mlcore::registry
