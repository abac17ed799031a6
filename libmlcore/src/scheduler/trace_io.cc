// Reading simulator traces (CSV and JSONL). See simulator.h for the fields.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "scheduler/simulator.h"

namespace mlcore {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

Status Bad(int line, std::string_view field, std::string_view value, std::string_view accepted) {
  return InvalidArgumentError("line " + std::to_string(line) + ": invalid " + std::string(field) +
                              " \"" + std::string(value) + "\"; " + std::string(accepted));
}

// Seconds, or a number with an s/m/h/d suffix; returns milliseconds.
Result<int64_t> ParseSeconds(int line, std::string_view field, std::string_view text) {
  text = Trim(text);
  double factor = 1000;
  std::string_view number = text;
  if (!text.empty()) {
    switch (text.back()) {
      case 's':
        factor = 1e3;
        number.remove_suffix(1);
        break;
      case 'm':
        factor = 6e4;
        number.remove_suffix(1);
        break;
      case 'h':
        factor = 3.6e6;
        number.remove_suffix(1);
        break;
      case 'd':
        factor = 8.64e7;
        number.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
      !std::isfinite(value) || value < 0) {
    return Bad(line, field, text, "use seconds or a number with s/m/h/d, e.g. 3600 or 90m");
  }
  return static_cast<int64_t>(std::llround(value * factor));
}

// cpu: cores or "500m" -> millicores; memory: bytes or Ki/Mi/Gi/Ti/K/M/G/T -> bytes; gpu: count.
std::optional<int64_t> ParseAmount(std::string_view kind, std::string_view text) {
  struct Unit {
    std::string_view suffix;
    double factor;
  };
  static constexpr Unit kMemUnits[] = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"K", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12}};
  double factor = kind == "cpu" ? 1000.0 : 1.0;
  std::string_view number = text;
  if (kind == "cpu" && text.ends_with("m")) {
    factor = 1.0;
    number.remove_suffix(1);
  } else if (kind == "memory") {
    for (const auto& u : kMemUnits) {
      if (text.size() > u.suffix.size() && text.ends_with(u.suffix)) {
        factor = u.factor;
        number.remove_suffix(u.suffix.size());
        break;
      }
    }
  }
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
      !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  if (kind == "gpu" && value != std::floor(value)) return std::nullopt;
  return static_cast<int64_t>(std::llround(value * factor));
}

void SetMs(google::protobuf::Duration* d, int64_t ms) {
  d->set_seconds(ms / 1000);
  d->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}

// Applies one field (by name) to a record. `list` holds the values of list fields.
Status SetField(int line, const std::string& name, std::string_view value,
                const std::vector<std::string>* list, v1::TraceRecord& r) {
  value = Trim(value);
  if (name == "id") {
    r.set_id(std::string(value));
  } else if (name == "submit" || name == "submit_offset" || name == "submit_s") {
    MLC_ASSIGN_OR_RETURN(int64_t ms, ParseSeconds(line, name, value));
    SetMs(r.mutable_submit_offset(), ms);
  } else if (name == "duration" || name == "duration_s") {
    MLC_ASSIGN_OR_RETURN(int64_t ms, ParseSeconds(line, name, value));
    SetMs(r.mutable_duration(), ms);
  } else if (name == "deadline" || name == "deadline_s") {
    if (value.empty()) return Status::Ok();
    MLC_ASSIGN_OR_RETURN(int64_t ms, ParseSeconds(line, name, value));
    SetMs(r.mutable_deadline(), ms);
  } else if (name == "project") {
    r.set_project(std::string(value));
  } else if (name == "user") {
    r.set_user(std::string(value));
  } else if (name == "flavor") {
    r.set_flavor(std::string(value));
  } else if (name == "cpu" || name == "memory" || name == "gpu") {
    if (value.empty()) return Status::Ok();
    auto amount = ParseAmount(name, value);
    if (!amount) return Bad(line, name, value, "e.g. cpu 4 or 500m, memory 16Gi, gpu 2");
    auto* res = r.mutable_resources();
    if (name == "cpu") res->set_cpu_millis(*amount);
    if (name == "memory") res->set_memory_bytes(*amount);
    if (name == "gpu") res->set_gpu(static_cast<int32_t>(*amount));
  } else if (name == "gpu_model") {
    r.mutable_resources()->set_gpu_model(std::string(value));
  } else if (name == "replicas") {
    int n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (!value.empty() && (ec != std::errc() || end != value.data() + value.size() || n < 0)) {
      return Bad(line, name, value, "use a whole number of replicas, e.g. 4");
    }
    r.set_replicas(n);
  } else if (name == "priority" || name == "priority_class") {
    r.set_priority_class(std::string(value));
  } else if (name == "preemptible") {
    if (value == "true" || value == "1" || value == "yes") {
      r.set_preemptible(true);
    } else if (value == "false" || value == "0" || value == "no" || value.empty()) {
      r.set_preemptible(false);
    } else {
      return Bad(line, name, value, "use true or false");
    }
  } else if (name == "datasets" || name == "dataset_digests") {
    if (list != nullptr) {
      for (const auto& d : *list) r.add_dataset_digests(d);
    } else {
      while (!value.empty()) {
        auto semi = value.find(';');
        std::string_view d = Trim(value.substr(0, semi));
        if (!d.empty()) r.add_dataset_digests(std::string(d));
        value = semi == std::string_view::npos ? std::string_view() : value.substr(semi + 1);
      }
    }
  } else if (name == "image") {
    r.set_image(std::string(value));
  } else {
    return InvalidArgumentError(
        "line " + std::to_string(line) + ": unknown field \"" + name +
        "\"; known: id, submit, project, user, flavor, cpu, memory, gpu, gpu_model, replicas, "
        "duration, priority, preemptible, datasets, image, deadline");
  }
  return Status::Ok();
}

Status Finish(int line, const v1::TraceRecord& r) {
  if (r.project().empty()) {
    return InvalidArgumentError("line " + std::to_string(line) + ": missing project");
  }
  if (r.duration().seconds() == 0 && r.duration().nanos() == 0) {
    return InvalidArgumentError("line " + std::to_string(line) +
                                ": missing or zero duration (seconds, e.g. 3600 or 1h)");
  }
  return Status::Ok();
}

std::vector<std::string_view> SplitCsv(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ',') {
      out.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

Result<std::vector<v1::TraceRecord>> ParseTraceCsv(std::string_view text) {
  std::vector<v1::TraceRecord> out;
  std::vector<std::string> header;
  int line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    auto cells = SplitCsv(line);
    if (header.empty()) {
      for (auto c : cells) header.emplace_back(Trim(c));
      if (std::find(header.begin(), header.end(), "project") == header.end()) {
        return InvalidArgumentError("line " + std::to_string(line_no) +
                                    ": the first line must be a header naming the columns "
                                    "(id,submit,project,flavor,duration,...)");
      }
      continue;
    }
    if (cells.size() != header.size()) {
      return InvalidArgumentError("line " + std::to_string(line_no) + ": " +
                                  std::to_string(cells.size()) + " cells but the header has " +
                                  std::to_string(header.size()) + " columns");
    }
    v1::TraceRecord r;
    for (size_t i = 0; i < cells.size(); ++i) {
      MLC_RETURN_IF_ERROR(SetField(line_no, header[i], cells[i], nullptr, r));
    }
    MLC_RETURN_IF_ERROR(Finish(line_no, r));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<v1::TraceRecord>> ParseTraceJsonl(std::string_view text) {
  std::vector<v1::TraceRecord> out;
  int line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    nlohmann::json obj = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (obj.is_discarded() || !obj.is_object()) {
      return InvalidArgumentError("line " + std::to_string(line_no) +
                                  ": not a JSON object; each line holds one job, e.g. "
                                  "{\"project\":\"a\",\"flavor\":\"cpu-2-8\",\"duration\":600}");
    }
    v1::TraceRecord r;
    for (const auto& [key, value] : obj.items()) {
      if (value.is_null()) continue;
      std::vector<std::string> list;
      const std::vector<std::string>* list_ptr = nullptr;
      std::string scalar;
      if (value.is_array()) {
        for (const auto& v : value) {
          if (!v.is_string()) return Bad(line_no, key, value.dump(), "use an array of strings");
          list.push_back(v.get<std::string>());
        }
        list_ptr = &list;
      } else if (value.is_string()) {
        scalar = value.get<std::string>();
      } else if (value.is_boolean()) {
        scalar = value.get<bool>() ? "true" : "false";
      } else if (value.is_number_integer()) {
        scalar = std::to_string(value.get<int64_t>());
      } else if (value.is_number()) {
        scalar = value.dump();
      } else {
        return Bad(line_no, key, value.dump(), "use a string, number, boolean or array");
      }
      MLC_RETURN_IF_ERROR(SetField(line_no, key, scalar, list_ptr, r));
    }
    MLC_RETURN_IF_ERROR(Finish(line_no, r));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<v1::TraceRecord>> LoadTrace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot open trace file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const bool jsonl =
      path.ends_with(".jsonl") || path.ends_with(".json") || path.ends_with(".ndjson");
  auto parsed = jsonl ? ParseTraceJsonl(text) : ParseTraceCsv(text);
  if (!parsed.ok()) return parsed.status().WithContext(path);
  return parsed;
}

}  // namespace mlcore
