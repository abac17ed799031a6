// Shared by the C ABI's translation units (capi.cc, capi_registry.cc): the handle structs and
// the boundary helpers (errors, strings, guards, argument checks).
#pragma once

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "mlcore.h"
#include "mlcore/client.h"
#include "mlcore/invoke.h"
#include "mlcore/json.h"
#include "mlcore/tracking.h"

struct mlc_error {
  mlc_status code;
  std::string message;
};

// Shared with the run loggers opened on it, so a logger may outlive mlc_client_close (Go's
// finalizers run in no particular order).
struct mlc_client {
  std::shared_ptr<mlcore::Client> client;
};

struct mlc_run_logger {
  std::shared_ptr<mlcore::Client> client;  // declared first: destroyed after the logger
  std::unique_ptr<mlcore::RunLogger> logger;
};

namespace mlc_capi {

// One table: Status codes to C codes (numerically identical by design, kept explicit).
inline mlc_status ToC(mlcore::StatusCode code) {
  return static_cast<mlc_status>(static_cast<int>(code));
}

inline mlc_status Fail(const mlcore::Status& status, mlc_error** err) {
  if (err != nullptr) *err = new (std::nothrow) mlc_error{ToC(status.code()), status.message()};
  return ToC(status.code());
}

inline char* CopyString(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

inline mlc_status ReturnString(const std::string& s, char** out, mlc_error** err) {
  *out = CopyString(s);
  if (*out == nullptr) return Fail(mlcore::ResourceExhaustedError("out of memory"), err);
  return MLC_OK;
}

// Runs `body`, converting any escaping exception into an error.
template <typename F>
inline mlc_status Guard(mlc_error** err, F&& body) {
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

inline std::string Str(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// Checks the handle and the out-pointer; *out is NULLed first so it is NULL on every failure.
inline mlc_status CheckHandle(const mlc_client* client, char** out, mlc_error** err) {
  if (out != nullptr) *out = nullptr;
  if (client == nullptr || client->client == nullptr) {
    return Fail(mlcore::InvalidArgumentError("client handle is NULL; open one with "
                                             "mlc_client_open"),
                err);
  }
  if (out == nullptr) return Fail(mlcore::InvalidArgumentError("output pointer is NULL"), err);
  return MLC_OK;
}

inline mlc_status InvokeInto(mlc_client* client, const char* method, const std::string& request,
                             char** out, mlc_error** err) {
  auto response = mlcore::InvokeJson(*client->client, method, request);
  if (!response.ok()) return Fail(response.status(), err);
  return ReturnString(*response, out, err);
}

inline mlc_status CheckClient(const mlc_client* client, mlc_error** err) {
  if (client == nullptr || client->client == nullptr) {
    return Fail(mlcore::InvalidArgumentError("client handle is NULL; open one with "
                                             "mlc_client_open"),
                err);
  }
  return MLC_OK;
}

// Parses the JSON of a request parameter; NULL or "" is the empty message. Errors name the
// parameter, the message type and the offending field.
inline mlcore::Status ParseParam(const char* json, const char* param,
                                 google::protobuf::Message* message) {
  mlcore::Status status = mlcore::FromJson(Str(json), message);
  if (!status.ok())
    return mlcore::InvalidArgumentError(std::string(param) + ": " + status.message());
  return status;
}

template <typename T>
inline mlc_status ReturnResult(const mlcore::Result<T>& result, char** out, mlc_error** err) {
  if (!result.ok()) return Fail(result.status(), err);
  return ReturnString(mlcore::ToJson(*result), out, err);
}

}  // namespace mlc_capi
