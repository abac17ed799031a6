#include "tracking/run_filter.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <optional>
#include <utility>

namespace mlcore::tracking {
namespace {

// ---- Characters, numbers and names ------------------------------------------------------------

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsNonAscii(char c) { return static_cast<unsigned char>(c) >= 0x80; }

// A character of a bare word: an attribute, a keyword, or `params.model.depth`.
bool IsWordChar(char c) {
  return IsAsciiAlpha(c) || IsDigit(c) || IsNonAscii(c) || c == '_' || c == '-' || c == '.' ||
         c == '/';
}
bool IsWordStart(char c) { return IsAsciiAlpha(c) || IsNonAscii(c) || c == '_'; }

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLowerAscii(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLowerAscii(a[i]) != ToLowerAscii(b[i])) return false;
  }
  return true;
}

// Parses all of `s` as a finite decimal number ("1", "-0.5", "+1e-3", ".5"); nullopt otherwise,
// including for "inf", "nan", hex and anything with surrounding text.
std::optional<double> ParseNumber(std::string_view s) {
  size_t first = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (first >= s.size() || !(IsDigit(s[first]) || s[first] == '.')) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);  // from_chars takes '-' but not '+'
  double value = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

int Compare3(double a, double b) { return a < b ? -1 : (a > b ? 1 : 0); }
int Compare3(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }
int Compare3(std::string_view a, std::string_view b) {
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The candidate closest to `word` (case-insensitively) when it is close enough to be a likely
// typo; empty otherwise.
template <typename Range>
std::string_view ClosestName(std::string_view word, const Range& candidates) {
  std::string lower = ToLower(word);
  std::string_view best;
  size_t best_distance = 0;
  for (std::string_view candidate : candidates) {
    size_t d = EditDistance(lower, ToLower(candidate));
    if (best.empty() || d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  size_t limit = std::max<size_t>(1, lower.size() / 2);
  return (best_distance <= limit && best_distance < lower.size()) ? best : std::string_view();
}

// `s` in double quotes, with `"` and `\` escaped.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

constexpr std::string_view kKeywords[] = {"and", "or", "not", "in", "like", "ilike", "asc", "desc"};

bool IsKeyword(std::string_view word) {
  return std::any_of(std::begin(kKeywords), std::end(kKeywords),
                     [&](std::string_view keyword) { return EqualsIgnoreCase(word, keyword); });
}

struct AttributeName {
  std::string_view name;
  RunField field;
};

constexpr AttributeName kAttributes[] = {
    {"status", RunField::kStatus},
    {"user", RunField::kUser},
    {"name", RunField::kName},
    {"job_id", RunField::kJobId},
    {"parent_run_id", RunField::kParentRunId},
    {"start_time", RunField::kStartTime},
    {"end_time", RunField::kEndTime},
    {"experiment_id", RunField::kExperimentId},
    {"id", RunField::kId},
};

constexpr std::string_view kAttributeList =
    "status, user, name, job_id, parent_run_id, start_time, end_time, experiment_id, id";

constexpr std::string_view kKeyPrefixes[] = {"params", "metrics", "tags"};

constexpr std::string_view kStatusNames[] = {"RUNNING", "FINISHED", "FAILED", "KILLED",
                                             "SCHEDULED"};

// How an operand's values compare.
enum class ValueKind { kText, kNumber, kStatus, kTime };

ValueKind KindOf(RunField field) {
  switch (field) {
    case RunField::kMetric:
      return ValueKind::kNumber;
    case RunField::kStatus:
      return ValueKind::kStatus;
    case RunField::kStartTime:
    case RunField::kEndTime:
      return ValueKind::kTime;
    default:
      return ValueKind::kText;
  }
}

// The string attributes (always present).
const std::string& TextAttribute(const RunView& run, RunField field) {
  switch (field) {
    case RunField::kStatus:
      return run.status;
    case RunField::kUser:
      return run.user;
    case RunField::kName:
      return run.name;
    case RunField::kJobId:
      return run.job_id;
    case RunField::kParentRunId:
      return run.parent_run_id;
    case RunField::kExperimentId:
      return run.experiment_id;
    default:
      return run.id;
  }
}

// ---- ISO-8601 times ---------------------------------------------------------------------------

// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t DaysInMonth(int64_t year, int64_t month) {
  static constexpr int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// Parses "YYYY-MM-DD" or "YYYY-MM-DD[T| ]HH:MM[:SS[.frac]][Z|±HH[:]MM]" (no zone = UTC) to
// microseconds since the epoch.
std::optional<int64_t> ParseIsoTime(std::string_view s) {
  size_t i = 0;
  auto digits = [&](size_t n, int64_t* out) {
    if (i + n > s.size()) return false;
    int64_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      if (!IsDigit(s[i + k])) return false;
      v = v * 10 + (s[i + k] - '0');
    }
    i += n;
    *out = v;
    return true;
  };
  auto take = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int64_t year = 0, month = 0, day = 0;
  if (!digits(4, &year) || !take('-') || !digits(2, &month) || !take('-') || !digits(2, &day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  int64_t hour = 0, minute = 0, second = 0;
  int64_t fraction_us = 0, offset_s = 0;
  if (i < s.size()) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return std::nullopt;
    ++i;
    if (!digits(2, &hour) || !take(':') || !digits(2, &minute)) return std::nullopt;
    if (take(':')) {
      if (!digits(2, &second)) return std::nullopt;
      if (take('.') || take(',')) {
        size_t start = i;
        int64_t scale = 100000;
        for (; i < s.size() && IsDigit(s[i]); ++i) {
          fraction_us += (s[i] - '0') * scale;
          scale /= 10;
        }
        if (i == start || i - start > 9) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
    if (take('Z') || take('z')) {
      // UTC.
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      int64_t sign = s[i] == '-' ? -1 : 1;
      ++i;
      int64_t offset_hours = 0, offset_minutes = 0;
      if (!digits(2, &offset_hours)) return std::nullopt;
      if (take(':') || i < s.size()) {
        if (!digits(2, &offset_minutes)) return std::nullopt;
      }
      if (offset_hours > 23 || offset_minutes > 59) return std::nullopt;
      offset_s = sign * (offset_hours * 3600 + offset_minutes * 60);
    }
    if (i != s.size()) return std::nullopt;
  }
  int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return (seconds - offset_s) * 1000000 + fraction_us;
}

// ---- SQL LIKE ---------------------------------------------------------------------------------

// The offset just past the UTF-8 character starting at s[i].
size_t NextChar(std::string_view s, size_t i) {
  ++i;
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  return i;
}

// SQL LIKE: `%` matches any run of characters, `_` one (UTF-8) character, `\` escapes the next
// pattern character; `fold` compares ASCII letters case-insensitively. Linear backtracking on the
// last `%` only, so it runs in O(|s| * |pattern|) at worst.
bool LikeMatch(std::string_view s, std::string_view pattern, bool fold) {
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
        si = NextChar(s, si);
        ++pi;
        continue;
      }
      bool escaped = pc == '\\' && pi + 1 < pattern.size();
      char want = escaped ? pattern[pi + 1] : pc;
      if (s[si] == want || (fold && ToLowerAscii(s[si]) == ToLowerAscii(want))) {
        ++si;
        pi += escaped ? 2 : 1;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    star_s = NextChar(s, star_s);
    si = star_s;
  }
  while (pi < pattern.size() && pattern[pi] == '%') ++pi;
  return pi == pattern.size();
}

// ---- Lexer ------------------------------------------------------------------------------------

enum class TokenKind {
  kWord,
  kNumber,
  kString,
  kQuotedKey,
  kOp,
  kLParen,
  kRParen,
  kComma,
  kEnd,
  kError
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t begin = 0, end = 0;  // byte offsets of the source text
  std::string text;           // a word, a string's contents, or kError's message
  CompareOp op = CompareOp::kEq;
  double number = 0;
};

// Scans the quoted text starting at src[*pos] (the quote) into `out`, leaving *pos past the
// closing quote; false when unterminated. \\ \" \' \` \n \t \r are escapes; other backslashes
// are kept, so LIKE patterns can escape % and _.
bool ScanQuoted(std::string_view src, size_t* pos, std::string* out) {
  const char quote = src[*pos];
  size_t i = *pos + 1;
  while (i < src.size()) {
    char c = src[i];
    if (c == quote) {
      *pos = i + 1;
      return true;
    }
    if (c == '\\' && i + 1 < src.size()) {
      char next = src[i + 1];
      switch (next) {
        case '\\':
        case '"':
        case '\'':
        case '`':
          *out += next;
          break;
        case 'n':
          *out += '\n';
          break;
        case 't':
          *out += '\t';
          break;
        case 'r':
          *out += '\r';
          break;
        default:
          *out += '\\';
          *out += next;
      }
      i += 2;
      continue;
    }
    *out += c;
    ++i;
  }
  return false;
}

bool StartsNumber(std::string_view src, size_t i) {
  auto digit_at = [&](size_t k) { return k < src.size() && IsDigit(src[k]); };
  char c = src[i];
  if (IsDigit(c)) return true;
  if (c == '.') return digit_at(i + 1);
  if (c == '-' || c == '+') {
    return digit_at(i + 1) || (i + 1 < src.size() && src[i + 1] == '.' && digit_at(i + 2));
  }
  return false;
}

// Splits `src` into tokens ending with kEnd, or with kError at the first bad character (so errors
// surface left to right as the parser reaches them).
std::vector<Token> Tokenize(std::string_view src) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (true) {
    while (i < src.size() &&
           (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r')) {
      ++i;
    }
    Token tok;
    tok.begin = i;
    if (i == src.size()) {
      tok.kind = TokenKind::kEnd;
      tok.end = i;
      tokens.push_back(std::move(tok));
      return tokens;
    }
    char c = src[i];
    if (IsWordStart(c)) {
      while (i < src.size() && IsWordChar(src[i])) ++i;
      tok.kind = TokenKind::kWord;
      tok.text = std::string(src.substr(tok.begin, i - tok.begin));
    } else if (StartsNumber(src, i)) {
      if (src[i] == '-' || src[i] == '+') ++i;
      while (i < src.size() && IsDigit(src[i])) ++i;
      if (i < src.size() && src[i] == '.') {
        ++i;
        while (i < src.size() && IsDigit(src[i])) ++i;
      }
      if (i < src.size() && (src[i] == 'e' || src[i] == 'E')) {
        size_t k = i + 1;
        if (k < src.size() && (src[k] == '-' || src[k] == '+')) ++k;
        if (k < src.size() && IsDigit(src[k])) {
          i = k;
          while (i < src.size() && IsDigit(src[i])) ++i;
        }
      }
      bool trailing = i < src.size() && IsWordChar(src[i]);
      while (i < src.size() && IsWordChar(src[i])) ++i;
      std::string_view text = src.substr(tok.begin, i - tok.begin);
      std::optional<double> value = trailing ? std::nullopt : ParseNumber(text);
      if (!value) {
        tok.kind = TokenKind::kError;
        tok.text = (trailing ? "invalid number " : "number out of range: ") + Quote(text);
      } else {
        tok.kind = TokenKind::kNumber;
        tok.text = std::string(text);
        tok.number = *value;
      }
    } else if (c == '"' || c == '\'' || c == '`') {
      bool closed = ScanQuoted(src, &i, &tok.text);
      if (!closed) {
        tok.kind = TokenKind::kError;
        tok.text = c == '`' ? "unterminated quoted key" : "unterminated string";
      } else {
        tok.kind = c == '`' ? TokenKind::kQuotedKey : TokenKind::kString;
      }
    } else {
      auto next_is = [&](char n) { return i + 1 < src.size() && src[i + 1] == n; };
      tok.kind = TokenKind::kOp;
      if (c == '=') {
        tok.op = CompareOp::kEq;
        i += next_is('=') ? 2 : 1;
      } else if (c == '!' && next_is('=')) {
        tok.op = CompareOp::kNe;
        i += 2;
      } else if (c == '<') {
        tok.op = next_is('=') ? CompareOp::kLe : CompareOp::kLt;
        i += next_is('=') ? 2 : 1;
      } else if (c == '>') {
        tok.op = next_is('=') ? CompareOp::kGe : CompareOp::kGt;
        i += next_is('=') ? 2 : 1;
      } else if (c == '(' || c == ')' || c == ',') {
        tok.kind = c == '('   ? TokenKind::kLParen
                   : c == ')' ? TokenKind::kRParen
                              : TokenKind::kComma;
        ++i;
      } else {
        tok.kind = TokenKind::kError;
        tok.text = "unexpected character " + Quote(src.substr(i, NextChar(src, i) - i));
      }
    }
    tok.end = i;
    bool error = tok.kind == TokenKind::kError;
    tokens.push_back(std::move(tok));
    if (error) return tokens;
  }
}

// ---- Parser -----------------------------------------------------------------------------------

class Parser {
 public:
  // `context` prefixes errors ("filter", "order_by[2]"); `end_name` names the end of the text.
  Parser(std::string_view src, std::string context, std::string end_name)
      : src_(src),
        tokens_(Tokenize(src)),
        context_(std::move(context)),
        end_name_(std::move(end_name)) {}

  // Consumes the next token; a lexing error becomes the parse error.
  Result<const Token*> Next() {
    const Token* tok = &tokens_[pos_];
    if (tok->kind == TokenKind::kError) return Error(tok->begin, tok->text);
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return tok;
  }
  const Token& Peek() const { return tokens_[pos_]; }
  bool AtEnd() const { return Peek().kind == TokenKind::kEnd; }

  Status Error(size_t offset, const std::string& message) const {
    return InvalidArgumentError(context_ + " column " + std::to_string(offset + 1) + ": " +
                                message);
  }

  // A token as error messages show it: "lr", "<", 0.5, 'quoted', end of filter.
  std::string Describe(const Token& tok) const {
    if (tok.kind == TokenKind::kEnd) return end_name_;
    std::string_view text = src_.substr(tok.begin, tok.end - tok.begin);
    std::string shown(text.substr(0, 40));
    if (text.size() > 40) shown += "...";
    bool self_quoting = tok.kind == TokenKind::kString || tok.kind == TokenKind::kQuotedKey ||
                        tok.kind == TokenKind::kNumber;
    return self_quoting ? shown : "\"" + shown + "\"";
  }

  // `params.K`, `metrics.K`, `tags.K` (K bare or quoted) or an attribute name.
  Result<RunOperand> ParseOperand() {
    MLC_ASSIGN_OR_RETURN(const Token* tok, Next());
    if (tok->kind != TokenKind::kWord || IsKeyword(tok->text)) {
      return Error(tok->begin, "expected a key, got " + Describe(*tok));
    }
    const std::string& word = tok->text;
    size_t dot = word.find('.');
    RunOperand operand;
    if (dot == std::string::npos) {
      for (const AttributeName& attribute : kAttributes) {
        if (EqualsIgnoreCase(word, attribute.name)) {
          operand.field = attribute.field;
          return operand;
        }
      }
      std::vector<std::string_view> names;
      for (const AttributeName& attribute : kAttributes) names.push_back(attribute.name);
      return UnknownAttribute(*tok, ClosestName(word, names), "");
    }
    std::string_view prefix = std::string_view(word).substr(0, dot);
    if (EqualsIgnoreCase(prefix, "params")) {
      operand.field = RunField::kParam;
    } else if (EqualsIgnoreCase(prefix, "metrics")) {
      operand.field = RunField::kMetric;
    } else if (EqualsIgnoreCase(prefix, "tags")) {
      operand.field = RunField::kTag;
    } else {
      return UnknownAttribute(*tok, ClosestName(prefix, kKeyPrefixes), word.substr(dot));
    }
    operand.key = word.substr(dot + 1);
    if (operand.key.empty()) {
      const Token& next = Peek();
      bool quoted = next.kind == TokenKind::kString || next.kind == TokenKind::kQuotedKey ||
                    next.kind == TokenKind::kError;  // an unterminated quoted key
      if (!quoted || next.begin != tok->end) {
        return Error(tok->end, "expected a key after " + Quote(word) +
                                   " (letters, digits, _ - . / or a quoted key)");
      }
      MLC_RETURN_IF_ERROR(Next());
      if (next.text.empty()) return Error(next.begin, "empty key");
      operand.key = next.text;
    }
    return operand;
  }

  // `=`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `like`, `ilike`, `in`, `not in`.
  Result<CompareOp> ParseOperator() {
    MLC_ASSIGN_OR_RETURN(const Token* tok, Next());
    if (tok->kind == TokenKind::kOp) return tok->op;
    if (tok->kind == TokenKind::kWord) {
      if (EqualsIgnoreCase(tok->text, "like")) return CompareOp::kLike;
      if (EqualsIgnoreCase(tok->text, "ilike")) return CompareOp::kILike;
      if (EqualsIgnoreCase(tok->text, "in")) return CompareOp::kIn;
      if (EqualsIgnoreCase(tok->text, "not")) {
        MLC_ASSIGN_OR_RETURN(const Token* in, Next());
        if (in->kind == TokenKind::kWord && EqualsIgnoreCase(in->text, "in")) {
          return CompareOp::kNotIn;
        }
        return Error(in->begin, "expected \"in\" after \"not\", got " + Describe(*in));
      }
    }
    return Error(tok->begin, "expected operator, got " + Describe(*tok));
  }

  // One comparison: operand, operator, value or parenthesized list.
  Result<Comparison> ParseComparison() {
    Comparison comparison;
    MLC_ASSIGN_OR_RETURN(comparison.operand, ParseOperand());
    const Token& op_token = Peek();
    MLC_ASSIGN_OR_RETURN(comparison.op, ParseOperator());
    MLC_RETURN_IF_ERROR(CheckOperator(comparison, op_token));
    if (comparison.op != CompareOp::kIn && comparison.op != CompareOp::kNotIn) {
      MLC_ASSIGN_OR_RETURN(FilterValue value, ParseValue(comparison));
      comparison.values.push_back(std::move(value));
      return comparison;
    }
    MLC_ASSIGN_OR_RETURN(const Token* open, Next());
    if (open->kind != TokenKind::kLParen) {
      return Error(open->begin, "expected \"(\" after \"in\", got " + Describe(*open));
    }
    while (true) {
      MLC_ASSIGN_OR_RETURN(FilterValue value, ParseValue(comparison));
      comparison.values.push_back(std::move(value));
      MLC_ASSIGN_OR_RETURN(const Token* tok, Next());
      if (tok->kind == TokenKind::kRParen) break;
      if (tok->kind != TokenKind::kComma) {
        return Error(tok->begin, "expected \",\" or \")\", got " + Describe(*tok));
      }
    }
    return comparison;
  }

 private:
  Status UnknownAttribute(const Token& tok, std::string_view suggestion,
                          std::string_view rest) const {
    std::string message = "unknown attribute " + Quote(tok.text);
    if (!suggestion.empty()) {
      message += "; did you mean " + Quote(std::string(suggestion) + std::string(rest)) + "?";
    } else {
      message += "; use params.K, metrics.K, tags.K or one of " + std::string(kAttributeList);
    }
    return Error(tok.begin, message);
  }

  // Rejects operators that do not apply to the operand's kind.
  Status CheckOperator(const Comparison& comparison, const Token& op_token) const {
    CompareOp op = comparison.op;
    std::string op_text =
        Quote(ToLower(src_.substr(op_token.begin, op_token.end - op_token.begin)));
    switch (KindOf(comparison.operand.field)) {
      case ValueKind::kNumber:
      case ValueKind::kTime:
        if (op == CompareOp::kLike || op == CompareOp::kILike) {
          std::string what =
              KindOf(comparison.operand.field) == ValueKind::kTime ? "time" : "number";
          return Error(op_token.begin, op_text + " does not apply to " +
                                           comparison.operand.ToString() + ", a " + what);
        }
        break;
      case ValueKind::kStatus:
        if (op != CompareOp::kEq && op != CompareOp::kNe && op != CompareOp::kIn &&
            op != CompareOp::kNotIn) {
          return Error(op_token.begin,
                       op_text + " does not apply to status; use =, !=, in or not in");
        }
        break;
      case ValueKind::kText:
        break;
    }
    return Status::Ok();
  }

  // One literal, converted for the comparison's operand.
  Result<FilterValue> ParseValue(const Comparison& comparison) {
    MLC_ASSIGN_OR_RETURN(const Token* tok, Next());
    if (tok->kind != TokenKind::kNumber && tok->kind != TokenKind::kString) {
      std::string message = "expected a value (a number or a quoted string), got " + Describe(*tok);
      if (tok->kind == TokenKind::kWord) message += "; quote strings: " + Quote(tok->text);
      if (tok->kind == TokenKind::kQuotedKey) message += "; backticks quote keys only";
      return Error(tok->begin, message);
    }
    const bool is_string = tok->kind == TokenKind::kString;
    const std::string column = std::to_string(tok->begin + 1);
    const std::string operand = comparison.operand.ToString();
    FilterValue value;
    value.text = tok->text;
    switch (KindOf(comparison.operand.field)) {
      case ValueKind::kText:
        if (comparison.op == CompareOp::kLike || comparison.op == CompareOp::kILike) {
          if (!is_string) {
            return Error(tok->begin, "\"like\" needs a quoted pattern, got " + Describe(*tok));
          }
          break;
        }
        if (is_string) {
          std::optional<double> number = ParseNumber(value.text);
          value.is_number = number.has_value();
          value.number = number.value_or(0);
        } else {
          value.is_number = true;
          value.number = tok->number;
        }
        break;
      case ValueKind::kNumber:
        if (is_string) {
          return InvalidArgumentError(operand + " compares numbers; got the string " +
                                      Quote(tok->text) + " at column " + column);
        }
        value.is_number = true;
        value.number = tok->number;
        break;
      case ValueKind::kStatus: {
        if (!is_string) {
          return InvalidArgumentError(
              "status compares run states (RUNNING, FINISHED, FAILED, KILLED, SCHEDULED); got "
              "the number " +
              tok->text + " at column " + column);
        }
        for (std::string_view name : kStatusNames) {
          if (EqualsIgnoreCase(tok->text, name)) {
            value.text = std::string(name);
            return value;
          }
        }
        std::string message = "unknown status " + Quote(tok->text);
        std::string_view suggestion = ClosestName(tok->text, kStatusNames);
        if (!suggestion.empty()) {
          message += "; did you mean " + Quote(suggestion) + "?";
        } else {
          message += "; known: RUNNING, FINISHED, FAILED, KILLED, SCHEDULED";
        }
        return Error(tok->begin, message);
      }
      case ValueKind::kTime: {
        std::optional<int64_t> time_us =
            is_string ? ParseIsoTime(tok->text) : IntegralNumber(tok->text, tok->number);
        if (!time_us) {
          return InvalidArgumentError(
              operand +
              " compares integer microseconds since the epoch or ISO-8601 times (\"2026-11-22\", "
              "\"2026-11-22T10:00:00Z\"); got " +
              (is_string ? "the string " + Quote(tok->text) : tok->text) + " at column " + column);
        }
        value.time_us = *time_us;
        break;
      }
    }
    return value;
  }

  // A number literal as an int64: exact for integer text, else when its value is integral.
  static std::optional<int64_t> IntegralNumber(const std::string& text, double number) {
    int64_t n = 0;
    const char* begin = text.data() + (text[0] == '+' ? 1 : 0);
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(begin, end, n);
    if (ec == std::errc() && ptr == end) return n;
    if (ec == std::errc::result_out_of_range) return std::nullopt;
    if (std::trunc(number) != number || std::fabs(number) >= 9.2e18) return std::nullopt;
    return static_cast<int64_t>(number);
  }

  std::string_view src_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::string context_;
  std::string end_name_;
};

// ---- Evaluation -------------------------------------------------------------------------------

bool Holds(CompareOp op, int cmp) {
  switch (op) {
    case CompareOp::kEq:
      return cmp == 0;
    case CompareOp::kNe:
      return cmp != 0;
    case CompareOp::kLt:
      return cmp < 0;
    case CompareOp::kLe:
      return cmp <= 0;
    case CompareOp::kGt:
      return cmp > 0;
    case CompareOp::kGe:
      return cmp >= 0;
    default:
      return false;
  }
}

// Applies `op` given a three-way comparison of the run's value with each literal.
template <typename CompareFn>
bool Apply(const Comparison& c, CompareFn compare) {
  if (c.op == CompareOp::kIn || c.op == CompareOp::kNotIn) {
    bool any = std::any_of(c.values.begin(), c.values.end(),
                           [&](const FilterValue& v) { return compare(v) == 0; });
    return (c.op == CompareOp::kIn) == any;
  }
  return Holds(c.op, compare(c.values[0]));
}

// Params, tags and string attributes: numeric when both sides parse as numbers, else bytes.
bool MatchText(const Comparison& c, std::string_view s) {
  if (c.op == CompareOp::kLike || c.op == CompareOp::kILike) {
    return LikeMatch(s, c.values[0].text, c.op == CompareOp::kILike);
  }
  std::optional<double> number;
  bool parsed = false;
  return Apply(c, [&](const FilterValue& v) {
    if (v.is_number) {
      if (!parsed) {
        number = ParseNumber(s);
        parsed = true;
      }
      if (number) return Compare3(*number, v.number);
    }
    return Compare3(s, v.text);
  });
}

bool MatchNumber(const Comparison& c, double x) {
  if (std::isnan(x)) return false;
  return Apply(c, [&](const FilterValue& v) { return Compare3(x, v.number); });
}

bool MatchTime(const Comparison& c, int64_t t) {
  if (t == 0) return false;
  return Apply(c, [&](const FilterValue& v) { return Compare3(t, v.time_us); });
}

bool MatchStatus(const Comparison& c, std::string_view status) {
  return Apply(c, [&](const FilterValue& v) { return EqualsIgnoreCase(status, v.text) ? 0 : 1; });
}

bool Evaluate(const Comparison& c, const RunView& run) {
  switch (c.operand.field) {
    case RunField::kParam: {
      auto it = run.params.find(c.operand.key);
      return it != run.params.end() && MatchText(c, it->second);
    }
    case RunField::kTag: {
      auto it = run.tags.find(c.operand.key);
      return it != run.tags.end() && MatchText(c, it->second);
    }
    case RunField::kMetric: {
      auto it = run.metrics.find(c.operand.key);
      return it != run.metrics.end() && MatchNumber(c, it->second);
    }
    case RunField::kStatus:
      return MatchStatus(c, run.status);
    case RunField::kStartTime:
      return MatchTime(c, run.start_time_us);
    case RunField::kEndTime:
      return MatchTime(c, run.end_time_us);
    default:
      return MatchText(c, TextAttribute(run, c.operand.field));
  }
}

}  // namespace

// ---- RunOperand -------------------------------------------------------------------------------

std::string RunOperand::ToString() const {
  std::string prefix;
  switch (field) {
    case RunField::kParam:
      prefix = "params.";
      break;
    case RunField::kMetric:
      prefix = "metrics.";
      break;
    case RunField::kTag:
      prefix = "tags.";
      break;
    default:
      for (const AttributeName& attribute : kAttributes) {
        if (attribute.field == field) return std::string(attribute.name);
      }
      return "?";
  }
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), IsWordChar);
  return prefix + (bare ? key : Quote(key));
}

// ---- RunFilter --------------------------------------------------------------------------------

Result<RunFilter> RunFilter::Parse(std::string_view text) {
  Parser parser(text, "filter", "end of filter");
  RunFilter filter;
  if (parser.AtEnd()) return filter;
  while (true) {
    MLC_ASSIGN_OR_RETURN(Comparison comparison, parser.ParseComparison());
    filter.comparisons_.push_back(std::move(comparison));
    MLC_ASSIGN_OR_RETURN(const Token* tok, parser.Next());
    if (tok->kind == TokenKind::kEnd) break;
    if (tok->kind == TokenKind::kWord && EqualsIgnoreCase(tok->text, "and")) continue;
    std::string message = "expected \"and\" or end of filter, got " + parser.Describe(*tok);
    if (tok->kind == TokenKind::kWord && EqualsIgnoreCase(tok->text, "or")) {
      message += "; \"or\" is not supported (use in (...) for alternatives of one key)";
    }
    return parser.Error(tok->begin, message);
  }
  return filter;
}

bool RunFilter::Matches(const RunView& run) const {
  return std::all_of(comparisons_.begin(), comparisons_.end(),
                     [&](const Comparison& c) { return Evaluate(c, run); });
}

bool RunFilter::Uses(RunField field) const {
  return std::any_of(comparisons_.begin(), comparisons_.end(),
                     [&](const Comparison& c) { return c.operand.field == field; });
}

// ---- RunOrder ---------------------------------------------------------------------------------

RunOrder::RunOrder() {
  SortKey key;
  key.operand.field = RunField::kStartTime;
  key.descending = true;
  keys_.push_back(std::move(key));
}

Result<RunOrder> RunOrder::Parse(const std::vector<std::string>& order_by) {
  RunOrder order;
  if (order_by.empty()) return order;
  order.keys_.clear();
  for (size_t i = 0; i < order_by.size(); ++i) {
    Parser parser(order_by[i], "order_by[" + std::to_string(i) + "]", "end of input");
    SortKey key;
    MLC_ASSIGN_OR_RETURN(key.operand, parser.ParseOperand());
    MLC_ASSIGN_OR_RETURN(const Token* tok, parser.Next());
    bool has_direction = false;
    if (tok->kind == TokenKind::kWord &&
        (EqualsIgnoreCase(tok->text, "asc") || EqualsIgnoreCase(tok->text, "desc"))) {
      key.descending = EqualsIgnoreCase(tok->text, "desc");
      has_direction = true;
      MLC_ASSIGN_OR_RETURN(tok, parser.Next());
    }
    if (tok->kind != TokenKind::kEnd) {
      return parser.Error(tok->begin, std::string(has_direction ? "expected end of input"
                                                                : "expected \"asc\", \"desc\" or "
                                                                  "end of input") +
                                          ", got " + parser.Describe(*tok));
    }
    order.keys_.push_back(std::move(key));
  }
  return order;
}

bool RunOrder::Uses(RunField field) const {
  return std::any_of(keys_.begin(), keys_.end(),
                     [&](const SortKey& k) { return k.operand.field == field; });
}

void RunOrder::Sort(std::vector<const RunView*>& runs) const {
  // Extract every key of every run once, then sort indices.
  struct Cell {
    bool present = false;
    double number = 0;
    std::string_view text;
  };
  const size_t n = runs.size();
  const size_t k = keys_.size();
  std::vector<Cell> cells(n * k);
  std::vector<bool> numeric(k, false);
  for (size_t j = 0; j < k; ++j) {
    const RunOperand& operand = keys_[j].operand;
    switch (operand.field) {
      case RunField::kParam:
      case RunField::kTag: {
        bool all_numbers = true;
        for (size_t r = 0; r < n; ++r) {
          const auto& values = operand.field == RunField::kParam ? runs[r]->params : runs[r]->tags;
          auto it = values.find(operand.key);
          if (it == values.end()) continue;
          Cell& cell = cells[r * k + j];
          cell.present = true;
          cell.text = it->second;
          if (all_numbers) {
            std::optional<double> number = ParseNumber(it->second);
            all_numbers = number.has_value();
            cell.number = number.value_or(0);
          }
        }
        numeric[j] = all_numbers;
        break;
      }
      case RunField::kMetric:
        numeric[j] = true;
        for (size_t r = 0; r < n; ++r) {
          auto it = runs[r]->metrics.find(operand.key);
          if (it == runs[r]->metrics.end() || std::isnan(it->second)) continue;
          cells[r * k + j].present = true;
          cells[r * k + j].number = it->second;
        }
        break;
      case RunField::kStartTime:
      case RunField::kEndTime:
        numeric[j] = true;
        for (size_t r = 0; r < n; ++r) {
          int64_t t =
              operand.field == RunField::kStartTime ? runs[r]->start_time_us : runs[r]->end_time_us;
          if (t == 0) continue;
          cells[r * k + j].present = true;
          cells[r * k + j].number = static_cast<double>(t);
        }
        break;
      default:
        for (size_t r = 0; r < n; ++r) {
          cells[r * k + j].present = true;
          cells[r * k + j].text = TextAttribute(*runs[r], operand.field);
        }
    }
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    for (size_t j = 0; j < k; ++j) {
      const Cell& x = cells[a * k + j];
      const Cell& y = cells[b * k + j];
      if (x.present != y.present) return x.present;  // missing sorts last either way
      if (!x.present) continue;
      int cmp = numeric[j] ? Compare3(x.number, y.number) : Compare3(x.text, y.text);
      if (cmp != 0) return keys_[j].descending ? cmp > 0 : cmp < 0;
    }
    return runs[a]->id < runs[b]->id;
  });
  std::vector<const RunView*> sorted;
  sorted.reserve(n);
  for (size_t index : order) sorted.push_back(runs[index]);
  runs.swap(sorted);
}

}  // namespace mlcore::tracking
