// Small ASCII string helpers shared across the core (locale-independent on purpose: keys, schemes,
// header names and YAML words are ASCII, and a process's locale must not change how they parse).
#pragma once

#include <string>
#include <string_view>

namespace mlcore::util {

// `s` with ASCII letters lower-cased; other bytes unchanged.
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// `s` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
inline std::string_view TrimSpace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

}  // namespace mlcore::util
