// mlcore._mlcore.Checkpoints: mlcore::Checkpoints (mlcore/checkpoints.h) for mlcore.checkpoints.
// Copies, uploads and downloads run with the GIL released.
#include <memory>
#include <string>

#include <pybind11/stl.h>

#include "mlcore/checkpoints.h"
#include "py_client.h"

namespace mlcore::python {
namespace {

// Keeps the Client alive as long as the checkpoints that use it.
struct PyCheckpoints {
  std::shared_ptr<Client> client;
  std::unique_ptr<Checkpoints> checkpoints;
};

py::dict Info(const CheckpointInfo& info) {
  py::dict d;
  d["step"] = info.step;
  d["local_path"] = info.local_path;
  d["artifact_id"] = info.artifact_id;
  d["from_hot_tier"] = info.from_hot_tier;
  return d;
}

std::shared_ptr<PyCheckpoints> Open(PyClient& py_client, const std::string& key, int owner_kind,
                                    const std::string& owner_id, const std::string& dir,
                                    int keep_local) {
  auto out = std::make_shared<PyCheckpoints>();
  out->client = py_client.Shared();
  CheckpointOptions options;
  options.key = key;
  if (owner_kind != 0 && !owner_id.empty()) {
    options.owner.set_kind(static_cast<v1::ObjectKind>(owner_kind));
    options.owner.set_id(owner_id);
  }
  options.dir = dir;
  options.keep_local = keep_local;
  Result<std::unique_ptr<Checkpoints>> opened = InternalError("not opened");
  {
    py::gil_scoped_release release;
    opened = Checkpoints::Open(*out->client, options);
  }
  out->checkpoints = Unwrap(std::move(opened));
  return out;
}

Checkpoints& Get(PyCheckpoints& c) {
  if (!c.checkpoints) throw StatusError{FailedPreconditionError("checkpoints are closed")};
  return *c.checkpoints;
}

}  // namespace

void BindCheckpoints(py::module_& m) {
  py::class_<PyCheckpoints, std::shared_ptr<PyCheckpoints>>(m, "Checkpoints")
      .def(py::init(&Open), py::arg("client"), py::arg("key") = "", py::arg("owner_kind") = 0,
           py::arg("owner_id") = "", py::arg("dir") = "", py::arg("keep_local") = 2)
      .def_property_readonly("key", [](PyCheckpoints& c) { return Get(c).key(); })
      .def_property_readonly("dir", [](PyCheckpoints& c) { return Get(c).dir(); })
      .def("begin",
           [](PyCheckpoints& c, int64_t step) {
             Result<std::string> r = InternalError("not run");
             {
               py::gil_scoped_release release;
               r = Get(c).Begin(step);
             }
             return Unwrap(std::move(r));
           })
      .def("commit",
           [](PyCheckpoints& c, int64_t step) {
             Result<CheckpointInfo> r = InternalError("not run");
             {
               py::gil_scoped_release release;
               r = Get(c).Commit(step);
             }
             return Info(Unwrap(std::move(r)));
           })
      .def("save",
           [](PyCheckpoints& c, const std::string& path, int64_t step) {
             Result<CheckpointInfo> r = InternalError("not run");
             {
               py::gil_scoped_release release;
               r = Get(c).Save(path, step);
             }
             return Info(Unwrap(std::move(r)));
           })
      .def("restore_latest",
           [](PyCheckpoints& c) -> py::object {
             Result<CheckpointInfo> r = InternalError("not run");
             {
               py::gil_scoped_release release;
               r = Get(c).RestoreLatest();
             }
             if (!r.ok() && r.status().code() == StatusCode::kNotFound) return py::none();
             return Info(Unwrap(std::move(r)));
           })
      .def("flush",
           [](PyCheckpoints& c) {
             Status s;
             {
               py::gil_scoped_release release;
               s = Get(c).Flush();
             }
             Check(s);
           })
      .def("close", [](PyCheckpoints& c) {
        std::unique_ptr<Checkpoints> closing = std::move(c.checkpoints);
        py::gil_scoped_release release;
        closing.reset();  // waits for the uploads
      });
}

}  // namespace mlcore::python
