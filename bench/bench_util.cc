#include "bench_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace mlcore::bench {
namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string Number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  return buf;
}

bool IsNumber(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

}  // namespace

Stats Summarize(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  Stats s;
  s.runs = static_cast<int>(values.size());
  s.min = values.front();
  s.max = values.back();
  const size_t n = values.size();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return s;
}

double TimeMs(const std::function<void()>& fn) {
  auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

void Emit(const Line& l) {
  std::string out = "{\"bench\":\"" + Escape(l.bench) + "\",\"unit\":\"" + Escape(l.unit) +
                    "\",\"value\":" + Number(l.value);
  if (!l.peer.empty()) {
    out += ",\"peer\":\"" + Escape(l.peer) + "\",\"peer_value\":" + Number(l.peer_value) +
           ",\"ratio\":" + Number(l.ratio);
  }
  out += ",\"target\":\"" + Escape(l.target) + "\",\"met\":" + (l.met ? "true" : "false") +
         ",\"runs\":" + std::to_string(l.runs) + ",\"stat\":\"" + Escape(l.stat) +
         "\",\"min\":" + Number(l.min) + ",\"max\":" + Number(l.max);
  for (const auto& [k, v] : l.extra) out += ",\"" + Escape(k) + "\":" + Number(v);
  out += ",\"params\":{";
  bool first = true;
  for (const auto& [k, v] : l.params) {
    out += (first ? "\"" : ",\"") + Escape(k) + "\":" + (IsNumber(v) ? v : "\"" + Escape(v) + "\"");
    first = false;
  }
  out += "}}";
  std::cout << out << std::endl;
}

void SyncFs(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

}  // namespace mlcore::bench
