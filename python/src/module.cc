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
#include "mlcore/jobs.h"
#include "mlcore/json.h"
#include "mlcore/pipelines.h"
#include "mlcore/resources.h"
#include "mlcore/version.h"
#include "proto_convert.h"
#include "py_client.h"

namespace mlcore::python {

mlcore::ClientOptions Options(const std::string& backend, const std::string& project,
                              const std::string& context, const std::string& config) {
  mlcore::ClientOptions options;
  options.backend = backend;
  options.project = project;
  options.context = context;
  options.config_path = config;
  return options;
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

}  // namespace mlcore::python

namespace {

using namespace mlcore::python;  // NOLINT(google-build-using-namespace)

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

  m.def(
      "pipeline_spec_to_yaml",
      [](const py::object& spec) {
        mlcore::v1::PipelineSpec message;
        if (auto error = FromPython(spec, &message); !error.empty()) {
          throw StatusError{mlcore::InvalidArgumentError("pipeline spec: " + error)};
        }
        return mlcore::PipelineSpecToYaml(message);
      },
      py::arg("spec"),
      "An mlcore.v1.PipelineSpec dict as YAML in the pipeline file format (docs/pipelines.md).");
  m.def(
      "format_lint_problems",
      [](const py::list& problems) {
        std::vector<mlcore::v1::LintProblem> messages;
        for (const py::handle& item : problems) {
          mlcore::v1::LintProblem p;
          if (auto error = FromPython(item, &p); !error.empty()) {
            throw StatusError{mlcore::InvalidArgumentError("lint problem: " + error)};
          }
          messages.push_back(std::move(p));
        }
        return mlcore::FormatLintProblems(messages);
      },
      py::arg("problems"),
      "One line per mlcore.v1.LintProblem dict, as `mlc ... lint` prints them: "
      "FILE:LINE:COLUMN: error: MESSAGE (SUGGESTION).");

  py::class_<PyClient>(m, "Client")
      .def(py::init<const std::string&, const std::string&, const std::string&,
                    const std::string&>(),
           py::arg("backend") = "", py::arg("project") = "", py::arg("context") = "",
           py::arg("config") = "")
      .def("invoke", &PyClient::Invoke, py::arg("method"), py::arg("request_json") = "",
           "Calls an API method with a JSON request; returns the JSON response (snake_case).")
      .def("call", &PyClient::Call, py::arg("method"), py::arg("request") = py::none(),
           "Calls an API method with a request dict; returns the response dict.")
      .def("stream", &PyClient::Stream, py::arg("method"), py::arg("request"), py::arg("callback"),
           py::arg("keep_going") = py::none(),
           "Calls callback(response_dict) per streamed message; False from it (or from "
           "keep_going()) stops.")
      .def_property_readonly("project", &PyClient::project)
      .def_property_readonly("config", &PyClient::config)
      .def_property_readonly("closed", &PyClient::closed)
      .def("close", &PyClient::Close);

  BindTracking(m);
  BindArtifacts(m);
  BindData(m);
  BindCheckpoints(m);
  BindJobs(m);
}
