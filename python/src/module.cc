// mlcore._mlcore: the thin compiled layer of the Python package. It exposes the Client's generic
// JSON invoke and the config functions; everything Pythonic lives in python/mlcore/*.py.
// Errors become exceptions of mlcore.errors (one table, in errors.py); the GIL is released
// around every call into the core.
#include <memory>
#include <optional>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "mlcore/client.h"
#include "mlcore/config.h"
#include "mlcore/invoke.h"
#include "mlcore/json.h"
#include "mlcore/resources.h"
#include "mlcore/version.h"
#include "proto_convert.h"

namespace py = pybind11;

namespace {

// Carries a non-OK Status out of a binding to the exception translator.
struct StatusError {
  mlcore::Status status;
};

template <typename T>
T Unwrap(mlcore::Result<T> result) {
  if (!result.ok()) throw StatusError{result.status()};
  return std::move(result).value();
}

void Check(const mlcore::Status& status) {
  if (!status.ok()) throw StatusError{status};
}

py::dict ConfigDict(const mlcore::ResolvedConfig& c) {
  py::dict d;
  d["backend"] = c.backend;
  d["backend_source"] = c.backend_source;
  d["project"] = c.project;
  d["project_source"] = c.project_source;
  d["context"] = c.context;
  d["config_path"] = c.config_path;
  d["config_exists"] = c.config_exists;
  return d;
}

mlcore::ClientOptions Options(const std::string& backend, const std::string& project,
                              const std::string& context, const std::string& config) {
  mlcore::ClientOptions options;
  options.backend = backend;
  options.project = project;
  options.context = context;
  options.config_path = config;
  return options;
}

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
    mlcore::Client& client = Get();
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
    mlcore::Client& client = Get();
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

  // Streams log lines (dicts) of StreamJobLogs to `callback` until it returns False, the job
  // ends (with follow) or the lines run out. The GIL is released while waiting for lines.
  void StreamLogs(const py::object& request_value, const py::function& callback) {
    mlcore::Client& client = Get();
    mlcore::v1::StreamJobLogsRequest request;
    if (auto error = mlcore::python::FromPython(request_value, &request); !error.empty()) {
      throw StatusError{mlcore::InvalidArgumentError("StreamJobLogs request: " + error)};
    }
    std::optional<py::error_already_set> failure;
    mlcore::Status status;
    {
      py::gil_scoped_release release;
      status = client.StreamJobLogs(request, [&](const mlcore::v1::LogLine& line) {
        py::gil_scoped_acquire acquire;
        try {
          py::object keep = callback(mlcore::python::ToPython(line));
          return keep.is_none() || keep.cast<bool>();
        } catch (py::error_already_set& e) {
          failure.emplace(std::move(e));
          return false;
        }
      });
    }
    if (failure) throw std::move(*failure);
    Check(status);
  }

  std::string project() { return Get().project(); }
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
  std::unique_ptr<mlcore::Client> client_;
};

py::dict ConfigFileDict(const mlcore::ConfigFile& file) {
  py::dict d;
  d["path"] = file.path;
  d["current_context"] = file.current_context;
  py::list contexts;
  for (const auto& c : file.contexts) {
    py::dict item;
    item["name"] = c.name;
    item["backend"] = c.backend;
    item["project"] = c.project;
    contexts.append(item);
  }
  d["contexts"] = contexts;
  return d;
}

}  // namespace

PYBIND11_MODULE(_mlcore, m) {
  m.doc() = "Compiled core of mlcore; use the `mlcore` package instead of this module.";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      py::object factory = py::module_::import("mlcore.errors").attr("_from_status");
      py::object exc = factory(static_cast<int>(e.status.code()), e.status.message());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });

  m.def("version", [] { return std::string(mlcore::Version()); });
  m.def("git_commit", [] { return std::string(mlcore::GitCommit()); });
  m.def("api_version", [] { return std::string(mlcore::ApiVersion()); });
  m.def("methods", &mlcore::InvokableMethods, "Methods Client.invoke can serve.");
  m.def(
      "parse_resources",
      [](const std::string& text) {
        mlcore::JsonOptions options;
        options.proto_field_names = true;
        return mlcore::ToJson(Unwrap(mlcore::ParseResources(text)), options);
      },
      "Parses 'cpu=4,memory=16Gi,gpu=1' into the JSON of an mlcore.v1.Resources.");
  m.def(
      "parse_resources_dict",
      [](const std::string& text) {
        return mlcore::python::ToPython(Unwrap(mlcore::ParseResources(text)));
      },
      "Parses 'cpu=4,memory=16Gi,gpu=1' into an mlcore.v1.Resources dict.");
  m.def("default_config_path", &mlcore::DefaultConfigPath);
  m.def("default_backend_uri", &mlcore::DefaultBackendUri);
  m.def(
      "resolve_config",
      [](const std::string& backend, const std::string& project, const std::string& context,
         const std::string& config) {
        return ConfigDict(
            Unwrap(mlcore::ResolveConfig(Options(backend, project, context, config))));
      },
      py::arg("backend") = "", py::arg("project") = "", py::arg("context") = "",
      py::arg("config") = "");
  m.def("load_config", [](const std::string& path) {
    return ConfigFileDict(Unwrap(mlcore::LoadConfigFile(path)));
  });
  m.def(
      "set_context",
      [](const std::string& path, const std::string& name, const std::string& backend,
         const std::string& project) {
        Check(mlcore::SetConfigContext(path, {name, backend, project}));
      },
      py::arg("path"), py::arg("name"), py::arg("backend") = "", py::arg("project") = "");
  m.def("use_context", [](const std::string& path, const std::string& name) {
    Check(mlcore::UseConfigContext(path, name));
  });
  m.def("delete_context", [](const std::string& path, const std::string& name) {
    Check(mlcore::DeleteConfigContext(path, name));
  });

  py::class_<PyClient>(m, "Client")
      .def(py::init<const std::string&, const std::string&, const std::string&,
                    const std::string&>(),
           py::arg("backend") = "", py::arg("project") = "", py::arg("context") = "",
           py::arg("config") = "")
      .def("invoke", &PyClient::Invoke, py::arg("method"), py::arg("request_json") = "",
           "Calls an API method with a JSON request; returns the JSON response (snake_case).")
      .def("call", &PyClient::Call, py::arg("method"), py::arg("request") = py::none(),
           "Calls an API method with a request dict; returns the response dict.")
      .def("stream_logs", &PyClient::StreamLogs, py::arg("request"), py::arg("callback"),
           "Calls callback(line_dict) per log line; return False from it to stop.")
      .def_property_readonly("project", &PyClient::project)
      .def_property_readonly("config", &PyClient::config)
      .def_property_readonly("closed", &PyClient::closed)
      .def("close", &PyClient::Close);
}
