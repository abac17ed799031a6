// Text helpers of the YAML layer: durations, edit distance and "did you mean", key spelling.
// Declared in core/yaml_proto.h.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/util/time_util.h>

#include "core/yaml_proto.h"
#include "util/strings.h"

namespace mlcore {
namespace {

__extension__ typedef __int128 Int128;  // Exact nanosecond arithmetic for durations.
constexpr int64_t kNanosPerSecond = 1000000000;
// google.protobuf.Duration's documented range: +-10,000 years.
constexpr int64_t kMaxDurationSeconds = 315576000000;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

Result<google::protobuf::Duration> ParseDurationText(std::string_view text) {
  auto invalid = [&] {
    return InvalidArgumentError("invalid duration " + Quote(text) + "; write it as " +
                                kDurationForms);
  };
  std::string_view s = util::TrimSpace(text);
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return invalid();
  static const std::vector<std::pair<std::string_view, int64_t>> kUnits = {
      {"d", 86400 * kNanosPerSecond},
      {"h", 3600 * kNanosPerSecond},
      {"m", 60 * kNanosPerSecond},
      {"s", kNanosPerSecond},
      {"ms", 1000000},
      {"us", 1000},
      {"ns", 1}};
  const Int128 limit = static_cast<Int128>(kMaxDurationSeconds + 1) * kNanosPerSecond;
  Int128 total = 0;  // nanoseconds
  size_t i = 0;
  bool bare_number = false;
  while (i < s.size()) {
    if (bare_number) return invalid();
    Int128 whole = 0, frac = 0, frac_scale = 1;
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      whole = whole * 10 + (s[i++] - '0');
      if (whole > limit) return invalid();
    }
    size_t whole_digits = i - start;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        if (frac_scale < static_cast<Int128>(1000000000000000000LL)) {
          frac = frac * 10 + (s[i] - '0');
          frac_scale *= 10;
        }
        ++i;
      }
      if (whole_digits == 0 && frac_scale == 1) return invalid();
    } else if (whole_digits == 0) {
      return invalid();
    }
    size_t unit_start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string unit = util::AsciiLower(s.substr(unit_start, i - unit_start));
    int64_t unit_nanos = 0;
    if (unit.empty()) {
      if (total != 0 || start != 0) return invalid();  // "1h30" is ambiguous
      unit_nanos = kNanosPerSecond;
      bare_number = true;
    }
    for (const auto& [name, nanos] : kUnits) {
      if (unit == name) unit_nanos = nanos;
    }
    if (unit_nanos == 0) return invalid();
    total += whole * unit_nanos + frac * unit_nanos / frac_scale;
    if (total > limit) break;
  }
  if (total > static_cast<Int128>(kMaxDurationSeconds) * kNanosPerSecond) {
    return InvalidArgumentError("duration " + Quote(text) +
                                " is out of range; the longest is 10000 years");
  }
  google::protobuf::Duration d;
  d.set_seconds(static_cast<int64_t>(total / kNanosPerSecond) * (negative ? -1 : 1));
  d.set_nanos(static_cast<int32_t>(total % kNanosPerSecond) * (negative ? -1 : 1));
  return d;
}

std::string FormatDurationText(const google::protobuf::Duration& duration) {
  int64_t seconds = duration.seconds();
  int64_t nanos = duration.nanos();
  if (seconds == 0 && nanos == 0) return "0s";
  std::string out;
  if (seconds < 0 || nanos < 0) {
    out = "-";
    seconds = -seconds;
    nanos = -nanos;
  }
  if (seconds >= 3600) out += std::to_string(seconds / 3600) + "h";
  if (seconds % 3600 >= 60) out += std::to_string(seconds % 3600 / 60) + "m";
  if (seconds % 60 != 0 || nanos != 0) {
    out += std::to_string(seconds % 60);
    if (nanos != 0) {
      std::string digits = std::to_string(nanos + kNanosPerSecond).substr(1);  // 9 digits
      while (digits.back() == '0') digits.pop_back();
      out += "." + digits;
    }
    out += "s";
  }
  return out;
}

int EditDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  int best_distance = 3;
  for (const auto& c : candidates) {
    int distance = EditDistance(word, c);
    if (distance < best_distance && distance < static_cast<int>(word.size())) {
      best = &c;
      best_distance = distance;
    }
  }
  if (best != nullptr) return *best;
  for (const auto& c : candidates) {
    if ((word.size() >= 3 && std::string_view(c).starts_with(word)) ||
        (c.size() >= 3 && word.starts_with(c))) {
      return c;
    }
  }
  return {};
}

std::string ToSnakeCase(std::string_view key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c == '-' || c == ' ') {
      out += '_';
    } else if (std::isupper(static_cast<unsigned char>(c))) {
      bool prev_lower = i > 0 && (std::islower(static_cast<unsigned char>(key[i - 1])) ||
                                  std::isdigit(static_cast<unsigned char>(key[i - 1])));
      bool next_lower = i + 1 < key.size() && std::islower(static_cast<unsigned char>(key[i + 1]));
      bool prev_upper = i > 0 && std::isupper(static_cast<unsigned char>(key[i - 1]));
      if (!out.empty() && out.back() != '_' && (prev_lower || (prev_upper && next_lower))) {
        out += '_';
      }
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

v1::LintProblem MakeLintProblem(std::string_view code, std::string_view field_path,
                                std::string message, std::string suggestion,
                                v1::LintSeverity severity) {
  v1::LintProblem p;
  p.set_severity(severity);
  p.set_code(std::string(code));
  p.set_field_path(std::string(field_path));
  p.set_message(std::move(message));
  p.set_suggestion(std::move(suggestion));
  return p;
}

}  // namespace mlcore
