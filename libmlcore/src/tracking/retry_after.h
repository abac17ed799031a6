// The retry delay a backend puts into a RESOURCE_EXHAUSTED message ("...; retry after 0.35 s"):
// written by the store's rate limiter, read by every client that backs off (RunLogger, sync).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace mlcore::tracking {

inline constexpr std::string_view kRetryAfter = "retry after ";

// "retry after 0.35 s".
inline std::string RetryAfterText(double seconds) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*s%.2f s", static_cast<int>(kRetryAfter.size()),
                kRetryAfter.data(), seconds);
  return buf;
}

// The delay in seconds named by `message`, or nullopt when it names none.
inline std::optional<double> ParseRetryAfter(std::string_view message) {
  const auto at = message.find(kRetryAfter);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string rest(message.substr(at + kRetryAfter.size()));
  char* end = nullptr;
  const double seconds = std::strtod(rest.c_str(), &end);
  if (end == rest.c_str()) return std::nullopt;
  return seconds;
}

}  // namespace mlcore::tracking
