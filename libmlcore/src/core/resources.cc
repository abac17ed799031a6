#include "mlcore/resources.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

namespace mlcore {
namespace {

Status Bad(std::string_view pair, std::string_view why) {
  return InvalidArgumentError("invalid resource \"" + std::string(pair) +
                              "\": " + std::string(why) +
                              "; use e.g. cpu=4, cpu=500m, memory=32Gi, gpu=2 or gpu=2:a100");
}

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  return value;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<int64_t> ParseMemory(std::string_view pair, std::string_view value) {
  struct Unit {
    std::string_view suffix;
    double factor;
  };
  static constexpr Unit kUnits[] = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"K", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12},
      {"B", 1.0},
  };
  double factor = 1.0;
  std::string_view number = value;
  for (const auto& unit : kUnits) {
    if (value.size() > unit.suffix.size() && value.ends_with(unit.suffix)) {
      factor = unit.factor;
      number = value.substr(0, value.size() - unit.suffix.size());
      break;
    }
  }
  auto parsed = ParseNumber(number);
  if (!parsed) return Bad(pair, "memory must be a non-negative amount with an optional unit");
  double bytes = std::round(*parsed * factor);
  if (bytes > 9.0e18) return Bad(pair, "memory amount is too large");
  return static_cast<int64_t>(bytes);
}

}  // namespace

Result<v1::Resources> ParseResources(std::string_view text) {
  v1::Resources out;
  text = Trim(text);
  if (text.empty()) return out;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view pair = Trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) return Bad(pair, "expected key=value");
    std::string_view key = Trim(pair.substr(0, eq));
    std::string_view value = Trim(pair.substr(eq + 1));
    if (key == "cpu") {
      bool millis = value.ends_with("m");
      auto parsed = ParseNumber(millis ? value.substr(0, value.size() - 1) : value);
      if (!parsed) return Bad(pair, "cpu must be a non-negative number of cores or millicores");
      out.set_cpu_millis(static_cast<int64_t>(std::round(millis ? *parsed : *parsed * 1000)));
    } else if (key == "memory" || key == "mem") {
      MLC_ASSIGN_OR_RETURN(int64_t bytes, ParseMemory(pair, value));
      out.set_memory_bytes(bytes);
    } else if (key == "gpu") {
      auto colon = value.find(':');
      std::string_view count = value.substr(0, colon);
      int n = -1;
      auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
      if (ec != std::errc() || end != count.data() + count.size() || n < 0) {
        return Bad(pair, "gpu must be a whole number of devices");
      }
      out.set_gpu(n);
      if (colon != std::string_view::npos) out.set_gpu_model(std::string(value.substr(colon + 1)));
    } else if (key == "gpu-model" || key == "gpu_model") {
      out.set_gpu_model(std::string(value));
    } else {
      return Bad(pair, "unknown resource \"" + std::string(key) +
                           "\" (known: cpu, memory, gpu, gpu-model)");
    }
  }
  return out;
}

std::string FormatBytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"Ki", "Mi", "Gi", "Ti", "Pi"};
  if (bytes < 1024) return std::to_string(bytes);
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (std::fabs(value - std::round(value)) < 0.05) {
    std::snprintf(buf, sizeof buf, "%.0f%s", value, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f%s", value, kUnits[unit]);
  }
  return buf;
}

std::string FormatResources(const v1::Resources& r) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (r.cpu_millis() != 0) {
    if (r.cpu_millis() % 1000 == 0) {
      add("cpu=" + std::to_string(r.cpu_millis() / 1000));
    } else {
      add("cpu=" + std::to_string(r.cpu_millis()) + "m");
    }
  }
  if (r.memory_bytes() != 0) add("memory=" + FormatBytes(r.memory_bytes()));
  if (r.gpu() != 0 || !r.gpu_model().empty()) {
    add("gpu=" + std::to_string(r.gpu()) + (r.gpu_model().empty() ? "" : ":" + r.gpu_model()));
  }
  return out.empty() ? "-" : out;
}

}  // namespace mlcore
