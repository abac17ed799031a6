// Shared by the binding files of mlcore._mlcore: Status -> exception plumbing and PyClient.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <pybind11/pybind11.h>

#include "mlcore/client.h"
#include "mlcore/config.h"
#include "mlcore/invoke.h"
#include "mlcore/json.h"
#include "proto_convert.h"

namespace mlcore::python {

namespace py = pybind11;

// Carries a non-OK Status out of a binding to the exception translator.
struct StatusError {
  mlcore::Status status;
};

template <typename T>
T Unwrap(mlcore::Result<T> result) {
  if (!result.ok()) throw StatusError{result.status()};
  return std::move(result).value();
}

inline void Check(const mlcore::Status& status) {
  if (!status.ok()) throw StatusError{status};
}

py::dict ConfigDict(const mlcore::ResolvedConfig& c);

mlcore::ClientOptions Options(const std::string& backend, const std::string& project,
                              const std::string& context, const std::string& config);

class PyClient {
 public:
  PyClient(const std::string& backend, const std::string& project, const std::string& context,
           const std::string& config) {
    auto options = Options(backend, project, context, config);
    mlcore::Result<std::unique_ptr<mlcore::Client>> client = mlcore::InternalError("not opened");
    {
      py::gil_scoped_release release;
      client = mlcore::Client::Open(options);
    }
    client_ = Unwrap(std::move(client));
  }

  std::string Invoke(const std::string& method, const std::string& request_json) {
    // A reference of its own: a close() from another thread must not free the client under a
    // call running with the GIL released.
    std::shared_ptr<mlcore::Client> shared = Shared();
    mlcore::Client& client = *shared;
    mlcore::JsonOptions options;
    options.proto_field_names = true;
    mlcore::Result<std::string> response = mlcore::InternalError("not called");
    {
      py::gil_scoped_release release;
      response = mlcore::InvokeJson(client, method, request_json, options);
    }
    return Unwrap(std::move(response));
  }

  // Calls `method` with a request dict and returns the response dict (see proto_convert.h).
  py::dict Call(const std::string& method_name, const py::object& request_value) {
    // A reference of its own: a close() from another thread must not free the client under a
    // call running with the GIL released.
    std::shared_ptr<mlcore::Client> shared = Shared();
    mlcore::Client& client = *shared;
    const auto* method = Unwrap(mlcore::FindMethod(method_name));
    auto* factory = google::protobuf::MessageFactory::generated_factory();
    std::unique_ptr<google::protobuf::Message> request(
        factory->GetPrototype(method->input_type())->New());
    if (auto error = mlcore::python::FromPython(request_value, request.get()); !error.empty()) {
      throw StatusError{mlcore::InvalidArgumentError(method->name() + " request: " + error)};
    }
    mlcore::Result<std::unique_ptr<google::protobuf::Message>> response =
        mlcore::InternalError("not called");
    {
      py::gil_scoped_release release;
      response = mlcore::Invoke(client, method, *request);
    }
    return mlcore::python::ToPython(*Unwrap(std::move(response)));
  }

  // Calls `method` (any method; streaming ones stream) and passes each response dict to
  // `callback` until it returns False or the stream ends; `keep_going()`, when given, is polled
  // while the stream is idle (a False stops it). The GIL is released while waiting.
  void Stream(const std::string& method_name, const py::object& request_value,
              const py::function& callback, const py::object& keep_going) {
    std::shared_ptr<mlcore::Client> shared = Shared();
    mlcore::Client& client = *shared;
    const auto* method = Unwrap(mlcore::FindMethod(method_name));
    auto* factory = google::protobuf::MessageFactory::generated_factory();
    std::unique_ptr<google::protobuf::Message> request(
        factory->GetPrototype(method->input_type())->New());
    if (auto error = mlcore::python::FromPython(request_value, request.get()); !error.empty()) {
      throw StatusError{mlcore::InvalidArgumentError(method->name() + " request: " + error)};
    }
    std::optional<py::error_already_set> failure;
    auto guarded = [&](const std::function<bool()>& body) {
      py::gil_scoped_acquire acquire;
      try {
        return body();
      } catch (py::error_already_set& e) {
        failure.emplace(std::move(e));
        return false;
      }
    };
    mlcore::Status status;
    {
      py::gil_scoped_release release;
      status = mlcore::InvokeStream(
          client, method, *request,
          [&](const google::protobuf::Message& m) {
            return guarded([&] {
              py::object keep = callback(mlcore::python::ToPython(m));
              return keep.is_none() || keep.cast<bool>();
            });
          },
          [&] {
            if (keep_going.is_none()) return true;
            return guarded([&] { return keep_going().cast<bool>(); });
          });
    }
    if (failure) throw std::move(*failure);
    Check(status);
  }

  std::string project() { return Get().project(); }
  // The client, shared with objects that must outlive a close() (run loggers).
  std::shared_ptr<mlcore::Client> Shared() {
    Get();
    return client_;
  }
  py::dict config() { return ConfigDict(Get().config()); }
  void Close() { client_.reset(); }
  bool closed() const { return client_ == nullptr; }

 private:
  mlcore::Client& Get() {
    if (client_ == nullptr) {
      throw StatusError{mlcore::FailedPreconditionError("the client is closed; open a new one")};
    }
    return *client_;
  }
  std::shared_ptr<mlcore::Client> client_;
};

// Wraps a Python callable (or None) as a ProgressFn for a call made with the GIL released: the
// GIL is taken only to call it. A callable returning False cancels; one raising cancels too and
// its exception is kept in `failure`, for the caller to re-raise once the core has stopped. Both
// arguments are borrowed for as long as the returned function is used.
inline Client::ProgressFn ProgressOf(const py::object& progress,
                                     std::optional<py::error_already_set>* failure) {
  if (progress.is_none()) return {};
  return [&progress, failure](uint64_t done, uint64_t total) {
    py::gil_scoped_acquire acquire;
    try {
      py::object keep = progress(done, total);
      return keep.is_none() || keep.cast<bool>();
    } catch (py::error_already_set& e) {
      failure->emplace(std::move(e));
      return false;
    }
  };
}

// Registers RunLogger and the tracking helpers (tracking_bindings.cc).
void BindTracking(py::module_& m);
// Registers artifact_log and artifact_download (artifact_bindings.cc).
void BindArtifacts(py::module_& m);
// Registers data_load (data_bindings.cc).
void BindData(py::module_& m);
// Registers the Checkpoints class (checkpoint_bindings.cc).
void BindCheckpoints(py::module_& m);
// Registers job_exec (job_bindings.cc).
void BindJobs(py::module_& m);

}  // namespace mlcore::python
