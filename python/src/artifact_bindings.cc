// mlcore._mlcore.artifact_log / artifact_download / upload_tree: the transfers of the artifact
// store, with a progress callback. Everything else of ArtifactService goes through Client.call by
// name.
//
// The GIL is released for the whole transfer and re-acquired only inside the progress callback to
// call the Python callable. A callable returning False cancels (CANCELLED); one raising cancels too
// and its exception is re-raised once the core has stopped.
#include <map>
#include <optional>

#include <pybind11/stl.h>

#include "mlcore/backend.h"
#include "mlcore/v1/artifacts.pb.h"
#include "py_client.h"

namespace mlcore::python {
namespace {

v1::ObjectRef Ref(int kind, const std::string& id) {
  v1::ObjectRef ref;
  if (kind != 0 && !id.empty()) {
    ref.set_kind(static_cast<v1::ObjectKind>(kind));
    ref.set_id(id);
  }
  return ref;
}

py::dict Log(PyClient& py_client, int owner_kind, const std::string& owner_id,
             const std::string& local_path, const std::string& path, int kind,
             const std::map<std::string, std::string>& labels, const py::object& progress) {
  std::shared_ptr<Client> client = py_client.Shared();
  std::optional<py::error_already_set> failure;
  Client::ProgressFn fn = ProgressOf(progress, &failure);
  const v1::ObjectRef owner = Ref(owner_kind, owner_id);
  Result<v1::Artifact> result = InternalError("not run");
  {
    py::gil_scoped_release release;
    result = client->LogArtifact(owner, local_path, path, static_cast<v1::ArtifactKind>(kind),
                                 labels, fn);
  }
  if (failure) throw std::move(*failure);
  return ToPython(Unwrap(std::move(result)));
}

py::dict Download(PyClient& py_client, const std::string& artifact_id, const std::string& dest,
                  const std::string& only_path, int consumer_kind, const std::string& consumer_id,
                  const py::object& progress) {
  std::shared_ptr<Client> client = py_client.Shared();
  std::optional<py::error_already_set> failure;
  Client::ProgressFn fn = ProgressOf(progress, &failure);
  const v1::ObjectRef consumer = Ref(consumer_kind, consumer_id);
  Result<v1::Manifest> result = InternalError("not run");
  {
    py::gil_scoped_release release;
    result = client->DownloadArtifact(artifact_id, dest, only_path, consumer, fn);
  }
  if (failure) throw std::move(*failure);
  return ToPython(Unwrap(std::move(result)));
}

py::dict UploadTree(PyClient& py_client, const std::string& project, const std::string& local_path,
                    const py::object& progress) {
  std::shared_ptr<Client> client = py_client.Shared();
  std::optional<py::error_already_set> failure;
  Client::ProgressFn fn = ProgressOf(progress, &failure);
  Result<v1::Manifest> result = InternalError("not run");
  {
    py::gil_scoped_release release;
    const std::string scope = project.empty() ? client->project() : project;
    if (scope.empty()) {
      result = InvalidArgumentError("upload_tree: no project given and the client has none");
    } else {
      result = client->backend().UploadTree(scope, local_path, fn);
    }
  }
  if (failure) throw std::move(*failure);
  return ToPython(Unwrap(std::move(result)));
}

}  // namespace

void BindArtifacts(py::module_& m) {
  m.def("artifact_log", &Log, py::arg("client"), py::arg("owner_kind"), py::arg("owner_id"),
        py::arg("local_path"), py::arg("path") = "", py::arg("kind") = 0,
        py::arg("labels") = std::map<std::string, std::string>{}, py::arg("progress") = py::none(),
        "Uploads a file or directory as an artifact of a run (owner_kind 2) or job (1); returns "
        "the Artifact dict. progress(done, total) returning False or raising cancels.");
  m.def("artifact_download", &Download, py::arg("client"), py::arg("artifact_id"), py::arg("dest"),
        py::arg("only_path") = "", py::arg("consumer_kind") = 0, py::arg("consumer_id") = "",
        py::arg("progress") = py::none(),
        "Writes an artifact (or its file/subtree only_path) below dest, recording the consumer "
        "when given; returns the Manifest dict written.");
  m.def("upload_tree", &UploadTree, py::arg("client"), py::arg("project"), py::arg("local_path"),
        py::arg("progress") = py::none(),
        "Stores a file or directory tree in the project's artifact store without recording an "
        "artifact (a model version upload); returns the stored Manifest dict (its digest).");
}

}  // namespace mlcore::python
