// mlcore._mlcore.RunLogger and metric history as numpy arrays: the hot paths of tracking, kept
// out of the generic dict-based Client.call.
//
// log_metric holds the GIL (releasing and re-taking it would cost more than the call); it only
// appends to the logger's buffer. When the buffer is full under the "block" policy, the GIL is
// released while waiting for the flusher, so other Python threads (and Ctrl-C) keep working.
#include <chrono>
#include <map>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "mlcore/tracking.h"
#include "py_client.h"

namespace mlcore::python {
namespace {

class PyRunLogger {
 public:
  PyRunLogger(std::shared_ptr<Client> client, std::unique_ptr<RunLogger> logger)
      : client_(std::move(client)), logger_(std::move(logger)) {}

  static RunLoggerOptions MakeOptions(double flush_interval, int64_t max_buffered_points, bool drop,
                                      bool system_metrics, double system_interval, int system_pid,
                                      const std::string& spool_dir) {
    RunLoggerOptions o;
    o.flush_interval = std::chrono::milliseconds(static_cast<int64_t>(flush_interval * 1000));
    if (max_buffered_points > 0) o.max_buffered_points = static_cast<size_t>(max_buffered_points);
    o.backpressure = drop ? Backpressure::kDrop : Backpressure::kBlock;
    o.system_metrics = system_metrics;
    o.system_metrics_interval =
        std::chrono::milliseconds(static_cast<int64_t>(system_interval * 1000));
    o.system_metrics_pid = system_pid;
    o.spool_dir = spool_dir;
    return o;
  }

  void LogMetric(std::string_view key, double value, const py::object& step, int64_t time_us) {
    Log(key, value, step.is_none() ? kAutoStep : step.cast<int64_t>(), time_us);
  }

  void LogMetrics(const py::dict& metrics, const py::object& step, int64_t time_us) {
    const int64_t s = step.is_none() ? kAutoStep : step.cast<int64_t>();
    for (const auto& [k, v] : metrics) Log(std::string(py::str(k)), v.cast<double>(), s, time_us);
  }

  void LogSeries(const std::string& key,
                 const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& steps,
                 const py::array_t<double, py::array::c_style | py::array::forcecast>& values,
                 const py::object& times) {
    if (steps.ndim() != 1 || values.ndim() != 1 || steps.shape(0) != values.shape(0)) {
      throw StatusError{InvalidArgumentError(
          "log_metric_series takes two 1-D arrays of the same length (steps " +
          std::to_string(steps.size()) + ", values " + std::to_string(values.size()) + ")")};
    }
    std::optional<py::array_t<int64_t, py::array::c_style | py::array::forcecast>> t;
    if (!times.is_none()) {
      t = times.cast<py::array_t<int64_t, py::array::c_style | py::array::forcecast>>();
      if (t->ndim() != 1 || t->shape(0) != steps.shape(0)) {
        throw StatusError{InvalidArgumentError("times must be a 1-D array as long as steps")};
      }
    }
    const int64_t* sp = steps.data();
    const double* vp = values.data();
    const int64_t* tp = t ? t->data() : nullptr;
    const auto n = static_cast<size_t>(steps.shape(0));
    Status status;
    {
      py::gil_scoped_release release;  // the arrays stay referenced by this frame
      status = logger_->LogSeries(key, sp, vp, n, tp);
    }
    Check(status);
  }

  void LogParams(const std::map<std::string, std::string>& params) {
    Status s;
    {
      py::gil_scoped_release release;
      s = logger_->LogParams(params);
    }
    Check(s);
  }

  void SetTags(const std::map<std::string, std::string>& tags) {
    Status s;
    {
      py::gil_scoped_release release;
      s = logger_->SetTags(tags);
    }
    Check(s);
  }

  void Flush() {
    Status s;
    {
      py::gil_scoped_release release;
      s = logger_->Flush();
    }
    Check(s);
  }

  void Close(int status) {
    Status s;
    {
      py::gil_scoped_release release;
      s = logger_->Close(static_cast<v1::RunStatus>(status));
    }
    Check(s);
  }

  py::dict Stats() {
    const RunLoggerStats st = logger_->stats();
    py::dict d;
    d["points_logged"] = st.points_logged;
    d["points_written"] = st.points_written;
    d["points_dropped"] = st.points_dropped;
    d["points_spooled"] = st.points_spooled;
    d["batches_written"] = st.batches_written;
    d["retries"] = st.retries;
    return d;
  }

  std::string run_id() const { return logger_->run_id(); }

 private:
  // Appends one point; when the buffer is full ("block"), waits for room with the GIL released.
  void Log(std::string_view key, double value, int64_t step, int64_t time_us) {
    while (!Unwrap(logger_->TryLogMetric(key, value, step, time_us))) {
      py::gil_scoped_release release;
      logger_->WaitForSpace();
    }
  }

  std::shared_ptr<Client> client_;  // null for offline loggers
  std::unique_ptr<RunLogger> logger_;
};

// Every point of a (run, key) in range as three numpy arrays, reading all pages; or a
// downsampled view. Returns (steps, values, times_us, total_points).
py::tuple History(PyClient& py_client, const std::string& run_id, const std::string& key,
                  const py::object& min_step, const py::object& max_step, int method,
                  int max_points) {
  std::shared_ptr<Client> client = py_client.Shared();
  v1::GetMetricHistoryRequest request;
  request.set_run_id(run_id);
  request.set_key(key);
  if (!min_step.is_none()) request.set_min_step(min_step.cast<int64_t>());
  if (!max_step.is_none()) request.set_max_step(max_step.cast<int64_t>());
  request.mutable_downsampling()->set_method(static_cast<v1::DownsamplingMethod>(method));
  request.mutable_downsampling()->set_max_points(max_points);
  std::vector<v1::GetMetricHistoryResponse> pages;
  Status status;
  {
    py::gil_scoped_release release;
    while (true) {
      auto page = client->GetMetricHistory(request);
      if (!page.ok()) {
        status = page.status();
        break;
      }
      pages.push_back(std::move(page).value());
      if (pages.back().next_page_token().empty()) break;
      request.set_page_token(pages.back().next_page_token());
    }
  }
  Check(status);
  size_t n = 0;
  for (const auto& p : pages) n += static_cast<size_t>(p.series().steps_size());
  py::array_t<int64_t> steps(static_cast<py::ssize_t>(n));
  py::array_t<double> values(static_cast<py::ssize_t>(n));
  py::array_t<int64_t> times(static_cast<py::ssize_t>(n));
  size_t at = 0;
  for (const auto& p : pages) {
    const auto& s = p.series();
    const auto m = static_cast<size_t>(s.steps_size());
    std::memcpy(steps.mutable_data() + at, s.steps().data(), m * sizeof(int64_t));
    std::memcpy(values.mutable_data() + at, s.values().data(), m * sizeof(double));
    if (s.times_unix_micros_size() == s.steps_size()) {
      std::memcpy(times.mutable_data() + at, s.times_unix_micros().data(), m * sizeof(int64_t));
    }
    at += m;
  }
  const int64_t total = pages.empty() ? 0 : pages.front().total_points();
  return py::make_tuple(steps, values, times, total);
}

}  // namespace

void BindTracking(py::module_& m) {
  py::class_<PyRunLogger>(m, "RunLogger")
      .def(py::init([](PyClient& client, const std::string& run_id, double flush_interval,
                       int64_t max_buffered_points, bool drop, bool system_metrics,
                       double system_interval, int system_pid, const std::string& spool_dir) {
             auto shared = client.Shared();
             auto options =
                 PyRunLogger::MakeOptions(flush_interval, max_buffered_points, drop, system_metrics,
                                          system_interval, system_pid, spool_dir);
             Result<std::unique_ptr<RunLogger>> logger = InternalError("not attached");
             {
               py::gil_scoped_release release;
               logger = RunLogger::Attach(*shared, run_id, options);
             }
             return std::make_unique<PyRunLogger>(shared, Unwrap(std::move(logger)));
           }),
           py::arg("client"), py::arg("run_id"), py::arg("flush_interval") = 1.0,
           py::arg("max_buffered_points") = 0, py::arg("drop") = false,
           py::arg("system_metrics") = false, py::arg("system_interval") = 10.0,
           py::arg("system_pid") = 0, py::arg("spool_dir") = "")
      .def_static(
          "offline",
          [](const std::string& backend, const py::object& create_run, double flush_interval,
             int64_t max_buffered_points, bool drop, bool system_metrics, double system_interval,
             const std::string& spool_dir) {
            v1::CreateRunRequest create;
            if (auto error = FromPython(create_run, &create); !error.empty()) {
              throw StatusError{InvalidArgumentError("CreateRun request: " + error)};
            }
            auto options = PyRunLogger::MakeOptions(flush_interval, max_buffered_points, drop,
                                                    system_metrics, system_interval, 0, spool_dir);
            return std::make_unique<PyRunLogger>(
                nullptr, Unwrap(RunLogger::StartOffline(backend, create, options)));
          },
          py::arg("backend"), py::arg("create_run"), py::arg("flush_interval") = 1.0,
          py::arg("max_buffered_points") = 0, py::arg("drop") = false,
          py::arg("system_metrics") = false, py::arg("system_interval") = 10.0,
          py::arg("spool_dir") = "")
      .def("log_metric", &PyRunLogger::LogMetric, py::arg("key"), py::arg("value"),
           py::arg("step") = py::none(), py::arg("time_us") = 0)
      .def("log_metrics", &PyRunLogger::LogMetrics, py::arg("metrics"),
           py::arg("step") = py::none(), py::arg("time_us") = 0)
      .def("log_series", &PyRunLogger::LogSeries, py::arg("key"), py::arg("steps"),
           py::arg("values"), py::arg("times") = py::none())
      .def("log_params", &PyRunLogger::LogParams)
      .def("set_tags", &PyRunLogger::SetTags)
      .def("flush", &PyRunLogger::Flush)
      .def("close", &PyRunLogger::Close, py::arg("status") = 3)
      .def("stats", &PyRunLogger::Stats)
      .def_property_readonly("run_id", &PyRunLogger::run_id);

  m.def("metric_history", &History, py::arg("client"), py::arg("run_id"), py::arg("key"),
        py::arg("min_step") = py::none(), py::arg("max_step") = py::none(), py::arg("method") = 0,
        py::arg("max_points") = 0);
  m.def(
      "sync_spool",
      [](PyClient& py_client, const std::string& spool_dir) {
        auto client = py_client.Shared();
        Result<SyncReport> report = InternalError("not run");
        {
          py::gil_scoped_release release;
          report = SyncSpool(*client, spool_dir.empty() ? DefaultSpoolDir() : spool_dir);
        }
        const SyncReport r = Unwrap(std::move(report));
        py::dict d;
        d["files"] = r.files;
        d["runs_created"] = r.runs_created;
        d["batches_sent"] = r.batches_sent;
        d["duplicates"] = r.duplicates;
        d["points"] = r.points;
        d["files_left"] = r.files_left;
        d["errors"] = r.errors;
        return d;
      },
      py::arg("client"), py::arg("spool_dir") = "");
  m.def("default_spool_dir", &DefaultSpoolDir);
}

}  // namespace mlcore::python
