#include "tracking_view.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>

#include "app.h"
#include "exit_codes.h"
#include "mlcore/resources.h"

namespace mlc {

std::string RunStatusName(mlcore::v1::RunStatus status) {
  const std::string& full = mlcore::v1::RunStatus_Name(status);
  constexpr std::string_view kPrefix = "RUN_STATUS_";
  if (full.rfind(kPrefix, 0) == 0) return full.substr(kPrefix.size());
  return full.empty() ? std::to_string(static_cast<int>(status)) : full;
}

mlcore::Result<mlcore::v1::RunStatus> ParseRunStatus(const std::string& text) {
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.rfind("RUN_STATUS_", 0) != 0) upper = "RUN_STATUS_" + upper;
  mlcore::v1::RunStatus status;
  if (!mlcore::v1::RunStatus_Parse(upper, &status) ||
      status == mlcore::v1::RUN_STATUS_UNSPECIFIED) {
    return mlcore::InvalidArgumentError("unknown run status \"" + text +
                                        "\"; use finished, failed, killed, running or scheduled");
  }
  return status;
}

namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Appends an integer without locale or iostream overhead.
void AppendInt(std::string* out, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out->append(buf, end);
}

// Writes `buffer` to `out` and empties it; false on a write error.
bool Drain(std::string* buffer, std::FILE* out) {
  const bool ok = std::fwrite(buffer->data(), 1, buffer->size(), out) == buffer->size();
  buffer->clear();
  return ok;
}

constexpr size_t kChunk = size_t{1} << 20;

}  // namespace

std::string Ago(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return Age(time.seconds()) + " ago";
}

std::string ShortDuration(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  auto two = [](int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m" + two(seconds % 60) + "s";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h" + two(seconds % 3600 / 60) + "m";
  return std::to_string(seconds / 86400) + "d" + std::to_string(seconds % 86400 / 3600) + "h";
}

std::string RunDuration(const mlcore::v1::Run& run) {
  if (!run.has_start_time()) return "-";
  int64_t end = 0;
  if (run.has_end_time()) {
    end = run.end_time().seconds();
  } else if (run.status() == mlcore::v1::RUN_STATUS_RUNNING ||
             run.status() == mlcore::v1::RUN_STATUS_SCHEDULED) {
    end = NowSeconds();
  } else {
    return "-";
  }
  return ShortDuration(end - run.start_time().seconds());
}

std::string RunLabel(const mlcore::v1::Run& run) {
  return run.name().empty() ? run.id() : run.name() + " (" + run.id() + ")";
}

void AppendDouble(std::string* out, double value) {
  if (std::isnan(value)) {
    out->append("nan");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out->append(buf, end);
}

std::string ExactDouble(double value) {
  std::string s;
  AppendDouble(&s, value);
  return s;
}

std::string ShortDouble(double value) {
  if (std::isnan(value)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

void AppendIsoMicros(std::string* out, int64_t unix_micros) {
  // Consecutive points usually share their second: format it once.
  thread_local int64_t cached_second = INT64_MIN;
  thread_local char cached[32];
  thread_local size_t cached_len = 0;
  int64_t second = unix_micros / 1000000;
  int64_t micros = unix_micros % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --second;
  }
  if (second != cached_second) {
    const time_t t = static_cast<time_t>(second);
    struct tm tm {};
    gmtime_r(&t, &tm);
    cached_len = std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second = second;
  }
  out->append(cached, cached_len);
  char frac[9] = {'.', '0', '0', '0', '0', '0', '0', 'Z', 0};
  for (int i = 6; i >= 1; --i) {
    frac[i] = static_cast<char>('0' + micros % 10);
    micros /= 10;
  }
  out->append(frac, 8);
}

std::string HumanBytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
}

mlcore::Result<int64_t> ParseByteSize(const std::string& text) {
  if (text == "unlimited" || text == "none") return 0;
  auto bad = [&] {
    return mlcore::InvalidArgumentError("invalid size \"" + text +
                                        "\"; use bytes or a quantity like 512Mi, 10Gi or 1G "
                                        "(0 or \"unlimited\" for no limit)");
  };
  if (text.empty() || text.find_first_of(",=") != std::string::npos) return bad();
  auto parsed = mlcore::ParseResources("memory=" + text);
  if (!parsed.ok()) return bad();
  return parsed->memory_bytes();
}

void PrintIndentedTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows, int indent) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    if (row.size() > width.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  auto add_row = [&](const std::vector<std::string>& row) {
    out.append(static_cast<size_t>(std::max(indent, 0)), ' ');
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(width[i] - row[i].size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();  // empty last cells
    out += '\n';
  };
  if (!header.empty()) add_row(header);
  for (const auto& row : rows) add_row(row);
  std::cout << out;
}

void PrintMetricSummaryTable(const mlcore::v1::Run& run, int indent) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(run.metrics_size());
  for (const auto& m : run.metrics()) {
    rows.push_back({m.key(), ShortDouble(m.latest_value()), std::to_string(m.latest_step()),
                    ShortDouble(m.min_value()), ShortDouble(m.max_value()),
                    std::to_string(m.count())});
  }
  PrintIndentedTable({"KEY", "LATEST", "STEP", "MIN", "MAX", "COUNT"}, rows, indent);
}

mlcore::Result<mlcore::v1::GetMetricHistoryResponse> ReadMetricHistory(
    mlcore::Client& client, const mlcore::v1::GetMetricHistoryRequest& request) {
  mlcore::v1::GetMetricHistoryRequest next = request;
  MLC_ASSIGN_OR_RETURN(auto response, client.GetMetricHistory(next));
  const auto method = request.downsampling().method();
  const bool paged = method == mlcore::v1::DOWNSAMPLING_METHOD_UNSPECIFIED ||
                     method == mlcore::v1::DOWNSAMPLING_METHOD_NONE;
  // Later pages by id: a name would be looked up again on every page.
  next.set_run_id(request.run_id());
  while (paged && !response.next_page_token().empty()) {
    next.set_page_token(response.next_page_token());
    MLC_ASSIGN_OR_RETURN(auto page, client.GetMetricHistory(next));
    response.mutable_series()->MergeFrom(page.series());
    response.set_next_page_token(page.next_page_token());
  }
  return response;
}

bool WriteSeriesCsv(const mlcore::v1::MetricSeries& series, std::FILE* out) {
  std::string buffer = "step,value,time\n";
  buffer.reserve(kChunk + 256);
  bool ok = true;
  const int n = series.steps_size();
  const bool has_times = series.times_unix_micros_size() == n;
  for (int i = 0; i < n; ++i) {
    AppendInt(&buffer, series.steps(i));
    buffer.push_back(',');
    AppendDouble(&buffer, series.values(i));
    buffer.push_back(',');
    if (has_times) AppendIsoMicros(&buffer, series.times_unix_micros(i));
    buffer.push_back('\n');
    if (buffer.size() >= kChunk) ok = Drain(&buffer, out) && ok;
  }
  ok = Drain(&buffer, out) && ok;
  return std::fflush(out) == 0 && ok;
}

bool WriteSeriesTable(const mlcore::v1::MetricSeries& series, std::FILE* out) {
  const int n = series.steps_size();
  const bool has_times = series.times_unix_micros_size() == n;
  size_t step_width = 4, value_width = 5;  // "STEP", "VALUE"
  std::string cell;
  for (int i = 0; i < n; ++i) {
    cell.clear();
    AppendInt(&cell, series.steps(i));
    step_width = std::max(step_width, cell.size());
    cell.clear();
    AppendDouble(&cell, series.values(i));
    value_width = std::max(value_width, cell.size());
  }
  std::string buffer;
  buffer.reserve(kChunk + 256);
  auto pad_to = [&](size_t start, size_t width) {
    buffer.append(width + 2 - (buffer.size() - start), ' ');
  };
  size_t start = buffer.size();
  buffer += "STEP";
  pad_to(start, step_width);
  start = buffer.size();
  buffer += "VALUE";
  pad_to(start, value_width);
  buffer += "TIME\n";
  bool ok = true;
  for (int i = 0; i < n; ++i) {
    start = buffer.size();
    AppendInt(&buffer, series.steps(i));
    pad_to(start, step_width);
    start = buffer.size();
    AppendDouble(&buffer, series.values(i));
    pad_to(start, value_width);
    if (has_times) AppendIsoMicros(&buffer, series.times_unix_micros(i));
    buffer.push_back('\n');
    if (buffer.size() >= kChunk) ok = Drain(&buffer, out) && ok;
  }
  ok = Drain(&buffer, out) && ok;
  return std::fflush(out) == 0 && ok;
}

mlcore::Status ReportQueryError(const mlcore::Status& status, const std::string& filter,
                                const std::vector<std::string>& order_by) {
  if (status.code() != mlcore::StatusCode::kInvalidArgument) return status;
  const std::string& message = status.message();
  // "filter column 14: ..." or "order_by[1] column 9: ..."
  const std::string* text = nullptr;
  size_t at = 0;
  if (message.rfind("filter column ", 0) == 0) {
    text = &filter;
    at = std::strlen("filter column ");
  } else if (message.rfind("order_by[", 0) == 0) {
    const size_t close = message.find(']');
    if (close == std::string::npos) return status;
    size_t index = 0;
    auto [p, ec] = std::from_chars(message.data() + 9, message.data() + close, index);
    if (ec != std::errc() || index >= order_by.size() ||
        message.compare(close, 9, "] column ") != 0) {
      return status;
    }
    text = &order_by[index];
    at = close + 9;
  } else {
    return status;
  }
  size_t column = 0;
  auto [p, ec] = std::from_chars(message.data() + at, message.data() + message.size(), column);
  if (ec != std::errc() || column == 0) return status;
  // The caret goes under byte `column` (1-based); tabs are kept so it lines up, and UTF-8
  // continuation bytes take no space.
  std::string pad;
  for (size_t i = 0; i + 1 < column && i < text->size(); ++i) {
    const char c = (*text)[i];
    if ((static_cast<unsigned char>(c) & 0xC0) == 0x80) continue;
    pad += c == '\t' ? '\t' : ' ';
  }
  if (column > text->size() + 1) pad += ' ';
  std::cerr << "mlc: error: " << message << " [" << mlcore::StatusCodeName(status.code()) << "]\n"
            << "  " << *text << "\n"
            << "  " << pad << "^\n";
  CommandExitCode() = ExitCodeFor(status.code());
  return mlcore::Status::Ok();
}

mlcore::Result<std::string> ResolveExperimentId(mlcore::Client& client,
                                                const std::string& name_or_id) {
  mlcore::v1::GetExperimentRequest by_name;
  by_name.set_name(name_or_id);
  auto found = client.GetExperiment(by_name);
  if (found.ok()) return found->id();
  if (found.status().code() != mlcore::StatusCode::kNotFound &&
      found.status().code() != mlcore::StatusCode::kInvalidArgument) {
    return found.status();
  }
  mlcore::v1::GetExperimentRequest by_id;
  by_id.set_id(name_or_id);
  auto by_id_found = client.GetExperiment(by_id);
  if (by_id_found.ok() &&
      (client.project().empty() || by_id_found->project() == client.project())) {
    return by_id_found->id();
  }
  if (!by_id_found.ok() && by_id_found.status().code() != mlcore::StatusCode::kNotFound &&
      by_id_found.status().code() != mlcore::StatusCode::kInvalidArgument) {
    return by_id_found.status();
  }
  return mlcore::NotFoundError("experiment \"" + name_or_id + "\" does not exist" +
                               (client.project().empty() ? "" : " in project " + client.project()) +
                               " (list them with `mlc exp ls`)");
}

mlcore::Result<std::map<std::string, std::string>> ExperimentNames(mlcore::Client& client,
                                                                   const std::string& project) {
  std::map<std::string, std::string> names;
  mlcore::v1::ListExperimentsRequest request;
  request.set_project(project);
  request.set_page_size(1000);
  do {
    MLC_ASSIGN_OR_RETURN(auto page, client.ListExperiments(request));
    for (const auto& e : page.experiments()) names[e.id()] = e.name();
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return names;
}

mlcore::Status SplitKeyValue(const std::string& text, const char* what, std::string* key,
                             std::string* value) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return mlcore::InvalidArgumentError(std::string("invalid ") + what + " \"" + text +
                                        "\"; use KEY=VALUE");
  }
  *key = text.substr(0, eq);
  *value = text.substr(eq + 1);
  return mlcore::Status::Ok();
}

}  // namespace mlc
