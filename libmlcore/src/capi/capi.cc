// The C ABI (mlcore.h): thin wrappers over Client that catch everything at the boundary.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "capi/capi_internal.h"
#include "mlcore.h"
#include "mlcore/client.h"
#include "mlcore/invoke.h"
#include "mlcore/jobs.h"
#include "mlcore/json.h"
#include "mlcore/tracking.h"
#include "mlcore/version.h"

using namespace mlc_capi;  // NOLINT(google-build-using-namespace): this file is the ABI

namespace {

// Follows a job's log for mlc_job_logs: lines go to `callback` as JSON; while the job is silent
// the core's keep-following hook sends a NULL heartbeat, so the caller can stop at any time.
mlc_status FollowLogs(mlcore::Client& client, const mlcore::v1::StreamJobLogsRequest& request,
                      mlc_log_callback callback, void* user_data, mlc_error** err) {
  bool stopped = false;
  mlcore::Status status = client.StreamJobLogs(
      request,
      [&](const mlcore::v1::LogLine& line) {
        std::string json = mlcore::ToJson(line);
        stopped = callback(json.c_str(), user_data) == 0;
        return !stopped;
      },
      [&] {
        stopped = callback(nullptr, user_data) == 0;
        return !stopped;
      });
  if (!status.ok()) return Fail(status, err);
  return MLC_OK;
}

// --- Tracking helpers ---

mlc_status NullArgument(const char* name, mlc_error** err) {
  return Fail(mlcore::InvalidArgumentError(std::string(name) + " is NULL"), err);
}

mlc_status CheckLogger(const mlc_run_logger* logger, mlc_error** err) {
  if (logger == nullptr || logger->logger == nullptr) {
    return Fail(mlcore::InvalidArgumentError("run logger handle is NULL; open one with "
                                             "mlc_run_logger_open"),
                err);
  }
  return MLC_OK;
}

mlcore::Result<mlcore::RunLoggerOptions> LoggerOptions(const mlc_run_logger_options* in) {
  mlcore::RunLoggerOptions options;
  if (in == nullptr) return options;
  if (in->flush_interval_ms < 0) {
    return mlcore::InvalidArgumentError("flush_interval_ms is " +
                                        std::to_string(in->flush_interval_ms) +
                                        "; pass 0 for the default (1000) or a positive number");
  }
  if (in->flush_interval_ms > 0) {
    options.flush_interval = std::chrono::milliseconds(in->flush_interval_ms);
  }
  if (in->max_buffered_points > 0) options.max_buffered_points = in->max_buffered_points;
  options.backpressure =
      in->drop_when_full != 0 ? mlcore::Backpressure::kDrop : mlcore::Backpressure::kBlock;
  options.system_metrics = in->system_metrics != 0;
  if (in->system_metrics_interval_ms < 0 ||
      (in->system_metrics_interval_ms > 0 && in->system_metrics_interval_ms < 100)) {
    return mlcore::InvalidArgumentError("system_metrics_interval_ms is " +
                                        std::to_string(in->system_metrics_interval_ms) +
                                        "; pass 0 for the default (10000) or at least 100");
  }
  if (in->system_metrics_interval_ms > 0) {
    options.system_metrics_interval = std::chrono::milliseconds(in->system_metrics_interval_ms);
  }
  if (in->system_metrics_pid < 0) {
    return mlcore::InvalidArgumentError("system_metrics_pid is " +
                                        std::to_string(in->system_metrics_pid) +
                                        "; pass 0 for the calling process or a process id");
  }
  options.system_metrics_pid = in->system_metrics_pid;
  options.spool_dir = Str(in->spool_dir);
  return options;
}

// keys[i] = values[i] for i < n; a key given twice must carry one value. `what` is "param" or
// "tag", for messages.
mlcore::Result<std::map<std::string, std::string>> Pairs(const char* const* keys,
                                                         const char* const* values, size_t n,
                                                         const char* what) {
  std::map<std::string, std::string> pairs;
  if (n == 0) return pairs;
  if (keys == nullptr || values == nullptr) {
    return mlcore::InvalidArgumentError(std::string(keys == nullptr ? "keys" : "values") +
                                        " is NULL with n = " + std::to_string(n));
  }
  for (size_t i = 0; i < n; ++i) {
    if (keys[i] == nullptr || values[i] == nullptr) {
      return mlcore::InvalidArgumentError(std::string(keys[i] == nullptr ? "keys" : "values") +
                                          "[" + std::to_string(i) + "] is NULL");
    }
    auto [it, inserted] = pairs.emplace(keys[i], values[i]);
    if (!inserted && it->second != values[i]) {
      return mlcore::InvalidArgumentError(std::string(what) + " \"" + it->first +
                                          "\" is given twice, as \"" + it->second + "\" and \"" +
                                          values[i] + "\"");
    }
  }
  return pairs;
}

// "metrics.loss asc, params.lr" -> {"metrics.loss asc", "params.lr"}: splits at commas outside
// quotes and trims blanks.
std::vector<std::string> SplitOrderBy(std::string_view text) {
  std::vector<std::string> keys;
  auto trimmed = [](std::string_view s) {
    const auto first = s.find_first_not_of(" \t\n\r");
    if (first == std::string_view::npos) return std::string();
    return std::string(s.substr(first, s.find_last_not_of(" \t\n\r") - first + 1));
  };
  if (trimmed(text).empty()) return keys;
  char quote = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == '\\' && i + 1 < text.size()) {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'' || c == '`') {
      quote = c;
    } else if (c == ',') {
      keys.push_back(trimmed(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  keys.push_back(trimmed(text.substr(start)));
  return keys;
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

std::string SyncReportJson(const mlcore::SyncReport& r) {
  std::string out = "{\"files\":" + std::to_string(r.files) +
                    ",\"runsCreated\":" + std::to_string(r.runs_created) +
                    ",\"batchesSent\":" + std::to_string(r.batches_sent) +
                    ",\"duplicates\":" + std::to_string(r.duplicates) +
                    ",\"points\":" + std::to_string(r.points) +
                    ",\"filesLeft\":" + std::to_string(r.files_left) + ",\"errors\":[";
  for (size_t i = 0; i < r.errors.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, r.errors[i]);
  }
  out += "]}";
  return out;
}

// A column of a history read, in malloc'd memory (the caller frees it with
// mlc_metric_history_free); freed here unless released.
template <typename T>
class CColumn {
 public:
  CColumn() = default;
  CColumn(const CColumn&) = delete;
  CColumn& operator=(const CColumn&) = delete;
  ~CColumn() { std::free(data_); }

  // Appends `n` items; false when out of memory.
  bool Append(const T* items, size_t n, size_t size_hint) {
    if (n == 0) return true;
    if (size_ + n > capacity_) {
      size_t capacity = std::max({size_ + n, size_hint, capacity_ * 2});
      if (capacity > SIZE_MAX / sizeof(T)) return false;
      void* grown = std::realloc(data_, capacity * sizeof(T));
      if (grown == nullptr) return false;
      data_ = static_cast<T*>(grown);
      capacity_ = capacity;
    }
    std::memcpy(data_ + size_, items, n * sizeof(T));
    size_ += n;
    return true;
  }

  T* Release() {
    T* data = data_;
    data_ = nullptr;
    size_ = capacity_ = 0;
    return data;
  }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace

extern "C" {

const char* mlc_version(void) {
  static const std::string version(mlcore::Version());
  return version.c_str();
}

const char* mlc_status_name(mlc_status status) {
  int index = static_cast<int>(status);
  if (index < 0 || index > static_cast<int>(mlcore::StatusCode::kUnauthenticated)) return "UNKNOWN";
  // StatusCodeName views static storage, NUL-terminated.
  return mlcore::StatusCodeName(static_cast<mlcore::StatusCode>(index)).data();
}

mlc_status mlc_error_code(const mlc_error* err) { return err == nullptr ? MLC_OK : err->code; }

const char* mlc_error_message(const mlc_error* err) {
  return err == nullptr ? "" : err->message.c_str();
}

void mlc_error_free(mlc_error** err) {
  if (err == nullptr) return;
  delete *err;
  *err = nullptr;
}

void mlc_string_free(char** str) {
  if (str == nullptr) return;
  std::free(*str);
  *str = nullptr;
}

mlc_status mlc_client_open(const char* backend_uri, const char* project, mlc_client** out,
                           mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (out == nullptr) return Fail(mlcore::InvalidArgumentError("output pointer is NULL"), err);
    *out = nullptr;
    mlcore::ClientOptions options;
    options.backend = Str(backend_uri);
    options.project = Str(project);
    auto client = mlcore::Client::Open(options);
    if (!client.ok()) return Fail(client.status(), err);
    *out = new mlc_client{std::move(client).value()};
    return MLC_OK;
  });
}

void mlc_client_close(mlc_client** client) {
  if (client == nullptr) return;
  delete *client;
  *client = nullptr;
}

mlc_status mlc_client_project(mlc_client* client, char** out, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out, err); s != MLC_OK) return s;
    return ReturnString(client->client->project(), out, err);
  });
}

mlc_status mlc_invoke(mlc_client* client, const char* method, const char* request_json,
                      char** response_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, response_json, err); s != MLC_OK) return s;
    return InvokeInto(client, Str(method).c_str(), Str(request_json), response_json, err);
  });
}

mlc_status mlc_project_create(mlc_client* client, const char* project_json, char** out_project_json,
                              mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_project_json, err); s != MLC_OK) return s;
    std::string request =
        "{\"project\":" +
        (project_json == nullptr || *project_json == '\0' ? std::string("{}")
                                                          : std::string(project_json)) +
        "}";
    return InvokeInto(client, "mlcore.v1.ProjectService/CreateProject", request, out_project_json,
                      err);
  });
}

mlc_status mlc_project_get(mlc_client* client, const char* name, char** out_project_json,
                           mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_project_json, err); s != MLC_OK) return s;
    auto project = client->client->GetProject(Str(name));
    if (!project.ok()) return Fail(project.status(), err);
    return ReturnString(mlcore::ToJson(*project), out_project_json, err);
  });
}

mlc_status mlc_project_list(mlc_client* client, char** out_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_json, err); s != MLC_OK) return s;
    auto projects = client->client->ListAllProjects();
    if (!projects.ok()) return Fail(projects.status(), err);
    mlcore::v1::ListProjectsResponse all;
    for (auto& project : *projects) *all.add_projects() = std::move(project);
    return ReturnString(mlcore::ToJson(all), out_json, err);
  });
}

mlc_status mlc_project_delete(mlc_client* client, const char* name, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckClient(client, err); s != MLC_OK) return s;
    mlcore::Status status = client->client->DeleteProject(Str(name));
    if (!status.ok()) return Fail(status, err);
    return MLC_OK;
  });
}

// --- Jobs ---

mlc_status mlc_job_submit(mlc_client* client, const char* spec_json, char** out_job_json,
                          mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_job_json, err); s != MLC_OK) return s;
    if (spec_json == nullptr || *spec_json == '\0') {
      return Fail(mlcore::InvalidArgumentError(
                      "spec_json is empty; pass the JSON of an mlcore.v1.JobSpec, e.g. "
                      "{\"command\":[\"python\",\"train.py\"]}"),
                  err);
    }
    mlcore::v1::JobSpec spec;
    if (auto s = ParseParam(spec_json, "spec_json", &spec); !s.ok()) return Fail(s, err);
    return ReturnResult(client->client->SubmitJob(spec), out_job_json, err);
  });
}

mlc_status mlc_job_get(mlc_client* client, const char* id_or_name, char** out_job_json,
                       mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_job_json, err); s != MLC_OK) return s;
    return ReturnResult(client->client->GetJob(Str(id_or_name), mlcore::v1::JOB_VIEW_FULL),
                        out_job_json, err);
  });
}

mlc_status mlc_job_list(mlc_client* client, const char* request_json, char** out_json,
                        mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_json, err); s != MLC_OK) return s;
    mlcore::v1::ListJobsRequest request;
    if (auto s = ParseParam(request_json, "request_json", &request); !s.ok()) return Fail(s, err);
    return ReturnResult(client->client->ListJobs(request), out_json, err);
  });
}

mlc_status mlc_job_cancel(mlc_client* client, const char* id_or_name, const char* reason,
                          char** out_job_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_job_json, err); s != MLC_OK) return s;
    return ReturnResult(client->client->CancelJob(Str(id_or_name), Str(reason)), out_job_json, err);
  });
}

mlc_status mlc_job_preempt(mlc_client* client, const char* id_or_name, const char* reason,
                           char** out_job_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_job_json, err); s != MLC_OK) return s;
    return ReturnResult(client->client->PreemptJob(Str(id_or_name), Str(reason)), out_job_json,
                        err);
  });
}

mlc_status mlc_job_rerun(mlc_client* client, const char* id_or_name, const char* new_name,
                         char** out_job_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_job_json, err); s != MLC_OK) return s;
    return ReturnResult(client->client->RerunJob(Str(id_or_name), Str(new_name)), out_job_json,
                        err);
  });
}

mlc_status mlc_job_wait(mlc_client* client, const char* id_or_name, int64_t timeout_ms,
                        char** out_job_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_job_json, err); s != MLC_OK) return s;
    if (timeout_ms < 0) {
      return Fail(mlcore::InvalidArgumentError("timeout_ms is " + std::to_string(timeout_ms) +
                                               "; pass 0 to wait forever or a positive number"),
                  err);
    }
    return ReturnResult(
        client->client->WaitJob(Str(id_or_name), std::chrono::milliseconds(timeout_ms)),
        out_job_json, err);
  });
}

mlc_status mlc_job_logs(mlc_client* client, const char* request_json, mlc_log_callback callback,
                        void* user_data, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckClient(client, err); s != MLC_OK) return s;
    if (callback == nullptr) {
      return Fail(mlcore::InvalidArgumentError("callback is NULL"), err);
    }
    mlcore::v1::StreamJobLogsRequest request;
    if (auto s = ParseParam(request_json, "request_json", &request); !s.ok()) return Fail(s, err);
    if (request.tail() < 0) return Fail(mlcore::InvalidArgumentError("tail must be >= 0"), err);
    if (request.follow()) return FollowLogs(*client->client, request, callback, user_data, err);
    std::string json;
    mlcore::Status status =
        client->client->StreamJobLogs(request, [&](const mlcore::v1::LogLine& line) {
          json = mlcore::ToJson(line);
          return callback(json.c_str(), user_data) != 0;
        });
    if (!status.ok()) return Fail(status, err);
    return MLC_OK;
  });
}

mlc_status mlc_job_lint(mlc_client* client, const char* spec_text, const char* file_name,
                        char** out_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_json, err); s != MLC_OK) return s;
    if (spec_text == nullptr) {
      return Fail(mlcore::InvalidArgumentError("spec_text is NULL; pass a preset file's text"),
                  err);
    }
    mlcore::v1::LintJobSpecRequest request;
    request.set_text(spec_text);
    request.set_file(Str(file_name));
    return ReturnResult(client->client->LintJobSpec(request), out_json, err);
  });
}

// --- Scheduling facts ---

mlc_status mlc_quota_usage(mlc_client* client, const char* request_json, char** out_json,
                           mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_json, err); s != MLC_OK) return s;
    mlcore::v1::GetQuotaUsageRequest request;
    if (auto s = ParseParam(request_json, "request_json", &request); !s.ok()) return Fail(s, err);
    return ReturnResult(client->client->GetQuotaUsage(request), out_json, err);
  });
}

mlc_status mlc_flavor_list(mlc_client* client, char** out_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_json, err); s != MLC_OK) return s;
    return ReturnResult(client->client->ListFlavors(), out_json, err);
  });
}

// --- Experiment tracking ---

mlc_status mlc_run_create(mlc_client* client, const char* project, const char* experiment,
                          const char* name, char** out_run_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_run_json, err); s != MLC_OK) return s;
    mlcore::v1::CreateRunRequest request;
    request.mutable_run()->set_project(Str(project));
    request.mutable_run()->set_experiment_id(Str(experiment));
    request.mutable_run()->set_name(Str(name));
    return ReturnResult(client->client->CreateRun(request), out_run_json, err);
  });
}

mlc_status mlc_run_get(mlc_client* client, const char* id_or_name, char** out_run_json,
                       mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_run_json, err); s != MLC_OK) return s;
    if (id_or_name == nullptr) return NullArgument("id_or_name", err);
    return ReturnResult(client->client->GetRun(id_or_name), out_run_json, err);
  });
}

mlc_status mlc_run_search(mlc_client* client, const char* project, const char* filter,
                          const char* order_by, char** out_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_json, err); s != MLC_OK) return s;
    mlcore::v1::SearchRunsRequest request;
    request.set_project(Str(project));
    request.set_filter(Str(filter));
    for (std::string& key : SplitOrderBy(Str(order_by))) request.add_order_by(std::move(key));
    request.set_include_metrics(true);
    request.set_page_size(1000);
    mlcore::v1::SearchRunsResponse all;
    while (true) {
      auto page = client->client->SearchRuns(request);
      if (!page.ok()) return Fail(page.status(), err);
      for (auto& run : *page->mutable_runs()) *all.add_runs() = std::move(run);
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    return ReturnString(mlcore::ToJson(all), out_json, err);
  });
}

mlc_status mlc_run_logger_open(mlc_client* client, const char* run_id,
                               const mlc_run_logger_options* options, mlc_run_logger** out,
                               mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (out == nullptr) return Fail(mlcore::InvalidArgumentError("output pointer is NULL"), err);
    *out = nullptr;
    if (auto s = CheckClient(client, err); s != MLC_OK) return s;
    if (run_id == nullptr) return NullArgument("run_id", err);
    auto resolved = LoggerOptions(options);
    if (!resolved.ok()) return Fail(resolved.status(), err);
    auto logger = mlcore::RunLogger::Attach(*client->client, run_id, std::move(resolved).value());
    if (!logger.ok()) return Fail(logger.status(), err);
    *out = new mlc_run_logger{client->client, std::move(logger).value()};
    return MLC_OK;
  });
}

const char* mlc_run_logger_run_id(const mlc_run_logger* logger) {
  if (logger == nullptr || logger->logger == nullptr) return "";
  return logger->logger->run_id().c_str();
}

mlc_status mlc_run_log_metric(mlc_run_logger* logger, const char* key, double value, int64_t step,
                              mlc_error** err) {
  // The hot path: no allocation once `key` has been seen (the logger looks it up by view).
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckLogger(logger, err); s != MLC_OK) return s;
    if (key == nullptr) return NullArgument("key", err);
    mlcore::Status status = logger->logger->LogMetric(std::string_view(key), value, step);
    if (!status.ok()) return Fail(status, err);
    return MLC_OK;
  });
}

mlc_status mlc_run_log_metrics(mlc_run_logger* logger, const char* key, const int64_t* steps,
                               const double* values, size_t n, const int64_t* times_us,
                               mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckLogger(logger, err); s != MLC_OK) return s;
    if (key == nullptr) return NullArgument("key", err);
    if (n == 0) return MLC_OK;
    if (steps == nullptr) return NullArgument("steps", err);
    if (values == nullptr) return NullArgument("values", err);
    mlcore::Status status =
        logger->logger->LogSeries(std::string_view(key), steps, values, n, times_us);
    if (!status.ok()) return Fail(status, err);
    return MLC_OK;
  });
}

mlc_status mlc_run_log_params(mlc_run_logger* logger, const char* const* keys,
                              const char* const* values, size_t n, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckLogger(logger, err); s != MLC_OK) return s;
    auto params = Pairs(keys, values, n, "param");
    if (!params.ok()) return Fail(params.status(), err);
    if (params->empty()) return MLC_OK;
    mlcore::Status status = logger->logger->LogParams(*params);
    if (!status.ok()) return Fail(status, err);
    return MLC_OK;
  });
}

mlc_status mlc_run_set_tags(mlc_run_logger* logger, const char* const* keys,
                            const char* const* values, size_t n, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckLogger(logger, err); s != MLC_OK) return s;
    auto tags = Pairs(keys, values, n, "tag");
    if (!tags.ok()) return Fail(tags.status(), err);
    if (tags->empty()) return MLC_OK;
    mlcore::Status status = logger->logger->SetTags(*tags);
    if (!status.ok()) return Fail(status, err);
    return MLC_OK;
  });
}

mlc_status mlc_run_flush(mlc_run_logger* logger, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckLogger(logger, err); s != MLC_OK) return s;
    mlcore::Status status = logger->logger->Flush();
    if (!status.ok()) return Fail(status, err);
    return MLC_OK;
  });
}

mlc_status mlc_run_logger_get_stats(const mlc_run_logger* logger, mlc_run_logger_stats* out) {
  return Guard(nullptr, [&]() -> mlc_status {
    if (out == nullptr) return MLC_INVALID_ARGUMENT;
    std::memset(out, 0, sizeof *out);
    if (logger == nullptr || logger->logger == nullptr) return MLC_INVALID_ARGUMENT;
    const mlcore::RunLoggerStats stats = logger->logger->stats();
    out->points_logged = stats.points_logged;
    out->points_written = stats.points_written;
    out->points_dropped = stats.points_dropped;
    out->points_spooled = stats.points_spooled;
    out->batches_written = stats.batches_written;
    out->retries = stats.retries;
    return MLC_OK;
  });
}

mlc_status mlc_run_logger_close(mlc_run_logger* logger, int status, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckLogger(logger, err); s != MLC_OK) return s;
    mlcore::v1::RunStatus end;
    switch (status) {
      case MLC_RUN_STATUS_UNSPECIFIED:
        end = mlcore::v1::RUN_STATUS_UNSPECIFIED;
        break;
      case MLC_RUN_STATUS_FINISHED:
        end = mlcore::v1::RUN_STATUS_FINISHED;
        break;
      case MLC_RUN_STATUS_FAILED:
        end = mlcore::v1::RUN_STATUS_FAILED;
        break;
      case MLC_RUN_STATUS_KILLED:
        end = mlcore::v1::RUN_STATUS_KILLED;
        break;
      default:
        return Fail(mlcore::InvalidArgumentError(
                        "cannot close a run logger with status " + std::to_string(status) +
                        "; pass MLC_RUN_STATUS_FINISHED, _FAILED, _KILLED, or _UNSPECIFIED to "
                        "leave the run's status alone"),
                    err);
    }
    mlcore::Status closed = logger->logger->Close(end);
    if (!closed.ok()) return Fail(closed, err);
    return MLC_OK;
  });
}

void mlc_run_logger_free(mlc_run_logger** logger) {
  if (logger == nullptr || *logger == nullptr) return;
  // Close here, where an exception can be caught (the destructor's own Close is then a no-op):
  // flushes and stops the writer, leaving the run's status alone.
  try {
    if ((*logger)->logger != nullptr) {
      (void)(*logger)->logger->Close(mlcore::v1::RUN_STATUS_UNSPECIFIED);
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): a free function has no way to report it
  }
  delete *logger;
  *logger = nullptr;
}

mlc_status mlc_metric_history(mlc_client* client, const char* run_id, const char* key,
                              const mlc_history_options* options, int64_t** steps, double** values,
                              int64_t** times_us, size_t* n, mlc_error** err) {
  if (steps != nullptr) *steps = nullptr;
  if (values != nullptr) *values = nullptr;
  if (times_us != nullptr) *times_us = nullptr;
  if (n != nullptr) *n = 0;
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckClient(client, err); s != MLC_OK) return s;
    if (run_id == nullptr) return NullArgument("run_id", err);
    if (key == nullptr) return NullArgument("key", err);
    if (n == nullptr) return NullArgument("n", err);
    mlcore::v1::GetMetricHistoryRequest request;
    request.set_run_id(run_id);
    request.set_key(key);
    if (options != nullptr) {
      if (options->has_min_step != 0) request.set_min_step(options->min_step);
      if (options->has_max_step != 0) request.set_max_step(options->max_step);
      const int method = options->method;
      if (!mlcore::v1::DownsamplingMethod_IsValid(method)) {
        return Fail(mlcore::InvalidArgumentError(
                        "unknown downsampling method " + std::to_string(method) +
                        "; pass one of MLC_DOWNSAMPLING_METHOD_NONE, _MINMAX, _LTTB"),
                    err);
      }
      request.mutable_downsampling()->set_method(
          static_cast<mlcore::v1::DownsamplingMethod>(method));
      request.mutable_downsampling()->set_max_points(options->max_points);
    }
    const bool every_point =
        request.downsampling().method() == mlcore::v1::DOWNSAMPLING_METHOD_UNSPECIFIED ||
        request.downsampling().method() == mlcore::v1::DOWNSAMPLING_METHOD_NONE;
    CColumn<int64_t> step_column;
    CColumn<double> value_column;
    CColumn<int64_t> time_column;
    size_t count = 0;
    while (true) {
      auto page = client->client->GetMetricHistory(request);
      if (!page.ok()) return Fail(page.status(), err);
      const mlcore::v1::MetricSeries& series = page->series();
      const auto size = static_cast<size_t>(series.steps_size());
      if (static_cast<size_t>(series.values_size()) != size ||
          static_cast<size_t>(series.times_unix_micros_size()) != size) {
        return Fail(mlcore::InternalError("metric history of \"" + std::string(key) +
                                          "\" came back with columns of different lengths"),
                    err);
      }
      // A read of every point returns the first page's total over its pages: size the arrays
      // once (a downsampled read returns fewer points than the total).
      const size_t hint = count == 0 && every_point
                              ? static_cast<size_t>(std::max<int64_t>(page->total_points(), 0))
                              : 0;
      if ((steps != nullptr && !step_column.Append(series.steps().data(), size, hint)) ||
          (values != nullptr && !value_column.Append(series.values().data(), size, hint)) ||
          (times_us != nullptr &&
           !time_column.Append(series.times_unix_micros().data(), size, hint))) {
        return Fail(
            mlcore::ResourceExhaustedError("out of memory reading " + std::to_string(count + size) +
                                           " points of \"" + std::string(key) + "\""),
            err);
      }
      count += size;
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    if (steps != nullptr) *steps = step_column.Release();
    if (values != nullptr) *values = value_column.Release();
    if (times_us != nullptr) *times_us = time_column.Release();
    *n = count;
    return MLC_OK;
  });
}

void mlc_metric_history_free(int64_t** steps, double** values, int64_t** times_us) {
  if (steps != nullptr) {
    std::free(*steps);
    *steps = nullptr;
  }
  if (values != nullptr) {
    std::free(*values);
    *values = nullptr;
  }
  if (times_us != nullptr) {
    std::free(*times_us);
    *times_us = nullptr;
  }
}

mlc_status mlc_sync(mlc_client* client, const char* spool_dir, char** out_report_json,
                    mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_report_json, err); s != MLC_OK) return s;
    const std::string dir =
        spool_dir == nullptr || *spool_dir == '\0' ? mlcore::DefaultSpoolDir() : spool_dir;
    auto report = mlcore::SyncSpool(*client->client, dir);
    if (!report.ok()) return Fail(report.status(), err);
    return ReturnString(SyncReportJson(*report), out_report_json, err);
  });
}

mlc_status mlc_artifact_log(mlc_client* client, int owner_kind, const char* owner_id,
                            const char* local_path, const char* path_or_null,
                            char** out_artifact_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_artifact_json, err); s != MLC_OK) return s;
    if (owner_id == nullptr) return NullArgument("owner_id", err);
    if (local_path == nullptr) return NullArgument("local_path", err);
    if (owner_kind != MLC_OBJECT_KIND_RUN && owner_kind != MLC_OBJECT_KIND_JOB) {
      return Fail(
          mlcore::InvalidArgumentError(
              "owner_kind must be MLC_OBJECT_KIND_RUN (2) or MLC_OBJECT_KIND_JOB (1), got " +
              std::to_string(owner_kind)),
          err);
    }
    mlcore::v1::ObjectRef owner;
    owner.set_kind(static_cast<mlcore::v1::ObjectKind>(owner_kind));
    owner.set_id(owner_id);
    return ReturnResult(client->client->LogArtifact(owner, local_path, Str(path_or_null)),
                        out_artifact_json, err);
  });
}

mlc_status mlc_artifact_download(mlc_client* client, const char* artifact_id, const char* dest,
                                 const char* only_path_or_null, char** out_manifest_json,
                                 mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_manifest_json, err); s != MLC_OK) return s;
    if (artifact_id == nullptr) return NullArgument("artifact_id", err);
    if (dest == nullptr) return NullArgument("dest", err);
    return ReturnResult(client->client->DownloadArtifact(artifact_id, dest, Str(only_path_or_null)),
                        out_manifest_json, err);
  });
}

mlc_status mlc_data_load(mlc_client* client, const char* uri, const char* digest_or_null,
                         char** out_local_path, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_local_path, err); s != MLC_OK) return s;
    if (uri == nullptr) return NullArgument("uri", err);
    mlcore::v1::LoadRequest request;
    request.set_uri(uri);
    request.set_digest(Str(digest_or_null));
    auto loaded = client->client->LoadData(request);
    if (!loaded.ok()) return Fail(loaded.status(), err);
    return ReturnString(loaded->local_path(), out_local_path, err);
  });
}

mlc_status mlc_data_stats(mlc_client* client, char** out_stats_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_stats_json, err); s != MLC_OK) return s;
    return ReturnResult(client->client->GetCacheStats(), out_stats_json, err);
  });
}

}  // extern "C"
