// mlcore._mlcore.data_load: DataService.Load with a progress callback. The rest of DataService
// (ListCacheEntries, Pin, Unpin, Evict, Prefetch, GetCacheStats) goes through Client.call by
// name, which releases the GIL too.
//
// The GIL is released for the whole load (a miss may fetch gigabytes, a hit still takes the
// cache's locks) and re-acquired only inside the progress callback. A callable returning False
// cancels (CANCELLED); one raising cancels too and its exception is re-raised once the core has
// stopped.
#include <optional>

#include "mlcore/v1/data.pb.h"
#include "py_client.h"

namespace mlcore::python {
namespace {

py::dict Load(PyClient& py_client, const py::object& request_value, const py::object& progress) {
  std::shared_ptr<Client> client = py_client.Shared();
  v1::LoadRequest request;
  if (auto error = FromPython(request_value, &request); !error.empty()) {
    throw StatusError{InvalidArgumentError("Load request: " + error)};
  }
  std::optional<py::error_already_set> failure;
  Client::ProgressFn fn = ProgressOf(progress, &failure);
  Result<v1::LoadResponse> result = InternalError("not run");
  {
    py::gil_scoped_release release;
    result = client->LoadData(request, fn);
  }
  if (failure) throw std::move(*failure);
  return ToPython(Unwrap(std::move(result)));
}

}  // namespace

void BindData(py::module_& m) {
  m.def("data_load", &Load, py::arg("client"), py::arg("request"), py::arg("progress") = py::none(),
        "Loads through the data cache: request is a mlcore.v1.LoadRequest dict; returns the "
        "LoadResponse dict (local_path, digest, size_bytes, source). progress(done, total) "
        "returning False or raising cancels.");
}

}  // namespace mlcore::python
