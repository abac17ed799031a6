// The C ABI (mlcore.h): thin wrappers over Client that catch everything at the boundary.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "mlcore.h"
#include "mlcore/client.h"
#include "mlcore/invoke.h"
#include "mlcore/jobs.h"
#include "mlcore/json.h"
#include "mlcore/version.h"

struct mlc_error {
  mlc_status code;
  std::string message;
};

struct mlc_client {
  std::unique_ptr<mlcore::Client> client;
};

namespace {

// One table: Status codes to C codes (numerically identical by design, kept explicit).
mlc_status ToC(mlcore::StatusCode code) { return static_cast<mlc_status>(static_cast<int>(code)); }

mlc_status Fail(const mlcore::Status& status, mlc_error** err) {
  if (err != nullptr) *err = new (std::nothrow) mlc_error{ToC(status.code()), status.message()};
  return ToC(status.code());
}

char* CopyString(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

mlc_status ReturnString(const std::string& s, char** out, mlc_error** err) {
  *out = CopyString(s);
  if (*out == nullptr) return Fail(mlcore::ResourceExhaustedError("out of memory"), err);
  return MLC_OK;
}

// Runs `body`, converting any escaping exception into an error.
template <typename F>
mlc_status Guard(mlc_error** err, F&& body) {
  if (err != nullptr) *err = nullptr;
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(mlcore::ResourceExhaustedError("out of memory"), err);
  } catch (const std::exception& e) {
    return Fail(mlcore::InternalError(std::string("unexpected error: ") + e.what()), err);
  } catch (...) {
    return Fail(mlcore::InternalError("unexpected error"), err);
  }
}

std::string Str(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// Checks the handle and the out-pointer; *out is NULLed first so it is NULL on every failure.
mlc_status CheckHandle(const mlc_client* client, char** out, mlc_error** err) {
  if (out != nullptr) *out = nullptr;
  if (client == nullptr || client->client == nullptr) {
    return Fail(mlcore::InvalidArgumentError("client handle is NULL; open one with "
                                             "mlc_client_open"),
                err);
  }
  if (out == nullptr) return Fail(mlcore::InvalidArgumentError("output pointer is NULL"), err);
  return MLC_OK;
}

mlc_status InvokeInto(mlc_client* client, const char* method, const std::string& request,
                      char** out, mlc_error** err) {
  auto response = mlcore::InvokeJson(*client->client, method, request);
  if (!response.ok()) return Fail(response.status(), err);
  return ReturnString(*response, out, err);
}

mlc_status CheckClient(const mlc_client* client, mlc_error** err) {
  if (client == nullptr || client->client == nullptr) {
    return Fail(mlcore::InvalidArgumentError("client handle is NULL; open one with "
                                             "mlc_client_open"),
                err);
  }
  return MLC_OK;
}

// Parses the JSON of a request parameter; NULL or "" is the empty message. Errors name the
// parameter, the message type and the offending field.
mlcore::Status ParseParam(const char* json, const char* param, google::protobuf::Message* message) {
  mlcore::Status status = mlcore::FromJson(Str(json), message);
  if (!status.ok())
    return mlcore::InvalidArgumentError(std::string(param) + ": " + status.message());
  return status;
}

template <typename T>
mlc_status ReturnResult(const mlcore::Result<T>& result, char** out, mlc_error** err) {
  if (!result.ok()) return Fail(result.status(), err);
  return ReturnString(mlcore::ToJson(*result), out, err);
}

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

}  // extern "C"
