// The C ABI (mlcore.h): thin wrappers over Client that catch everything at the boundary.
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "mlcore.h"
#include "mlcore/client.h"
#include "mlcore/invoke.h"
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

mlc_status CheckHandle(const mlc_client* client, const void* out, mlc_error** err) {
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

}  // namespace

extern "C" {

const char* mlc_version(void) {
  static const std::string version(mlcore::Version());
  return version.c_str();
}

const char* mlc_status_name(mlc_status status) {
  static const std::string names[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};
  auto index = static_cast<int>(status);
  if (index < 0 || index > 16) return "UNKNOWN";
  return names[index].c_str();
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
    *response_json = nullptr;
    return InvokeInto(client, Str(method).c_str(), Str(request_json), response_json, err);
  });
}

mlc_status mlc_project_create(mlc_client* client, const char* project_json, char** out_project_json,
                              mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_project_json, err); s != MLC_OK) return s;
    *out_project_json = nullptr;
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
    *out_project_json = nullptr;
    auto project = client->client->GetProject(Str(name));
    if (!project.ok()) return Fail(project.status(), err);
    return ReturnString(mlcore::ToJson(*project), out_project_json, err);
  });
}

mlc_status mlc_project_list(mlc_client* client, char** out_json, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_json, err); s != MLC_OK) return s;
    *out_json = nullptr;
    auto projects = client->client->ListAllProjects();
    if (!projects.ok()) return Fail(projects.status(), err);
    mlcore::v1::ListProjectsResponse all;
    for (auto& project : *projects) *all.add_projects() = std::move(project);
    return ReturnString(mlcore::ToJson(all), out_json, err);
  });
}

mlc_status mlc_project_delete(mlc_client* client, const char* name, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (client == nullptr || client->client == nullptr) {
      return Fail(mlcore::InvalidArgumentError("client handle is NULL"), err);
    }
    mlcore::Status status = client->client->DeleteProject(Str(name));
    if (!status.ok()) return Fail(status, err);
    return MLC_OK;
  });
}

}  // extern "C"
