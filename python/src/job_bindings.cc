// mlcore._mlcore.job_exec: Client::ExecJob run to its end, for Job.exec. Standard input is fed
// from a thread of the core while the output is read, so neither side can block the other;
// the GIL is released for the whole call and taken only to poll keep_going (Ctrl-C, timeouts).
#include <optional>
#include <thread>

#include <pybind11/stl.h>

#include "py_client.h"

namespace mlcore::python {
namespace {

py::tuple Exec(PyClient& py_client, const std::string& job, const std::vector<std::string>& command,
               const std::optional<py::bytes>& input, bool tty, const py::object& keep_going) {
  std::shared_ptr<Client> client = py_client.Shared();
  const std::optional<std::string> data =
      input ? std::optional<std::string>(std::string(*input)) : std::nullopt;
  std::optional<py::error_already_set> failure;
  std::string out, err;
  Result<int> code = InternalError("not run");
  {
    py::gil_scoped_release release;
    v1::ExecJobRequest request;
    request.set_id(job);
    for (const std::string& arg : command) request.add_command(arg);
    request.set_tty(tty);
    request.set_close_stdin(!data && !tty);  // no input: the command reads end-of-file at once
    auto session = client->ExecJob(request);
    if (!session.ok()) {
      code = session.status();
    } else {
      ExecSession& s = **session;
      std::thread writer;
      if (data) {
        writer = std::thread([&] {
          if (s.Write(*data).ok() && !tty) (void)s.CloseStdin();
        });
      }
      bool stopped = false;
      Status read = s.Read(
          [&](ExecStream stream, std::string_view chunk) {
            (stream == ExecStream::kStdout ? out : err).append(chunk);
            return true;
          },
          [&] {
            if (keep_going.is_none()) return true;
            py::gil_scoped_acquire acquire;
            try {
              stopped = !keep_going().cast<bool>();
            } catch (py::error_already_set& e) {
              failure.emplace(std::move(e));
              stopped = true;
            }
            return !stopped;
          });
      if (stopped || !read.ok()) s.Cancel();
      code = s.Wait();
      if (writer.joinable()) writer.join();
      if (!read.ok()) code = read;
      if (stopped && !failure) code = CancelledError("exec stopped; the command was killed");
    }
  }
  if (failure) throw std::move(*failure);
  int exit_code = Unwrap(std::move(code));
  return py::make_tuple(exit_code, py::bytes(out), py::bytes(err));
}

}  // namespace

void BindJobs(py::module_& m) {
  m.def("job_exec", &Exec, py::arg("client"), py::arg("job"), py::arg("command"),
        py::arg("input") = py::none(), py::arg("tty") = false, py::arg("keep_going") = py::none(),
        "Runs command next to a running job (JobService.ExecJob) with `input` (bytes) as its "
        "standard input; returns (exit_code, stdout_bytes, stderr_bytes). keep_going() returning "
        "False (or raising) kills the command.");
}

}  // namespace mlcore::python
