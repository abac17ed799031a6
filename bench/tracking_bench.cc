// Benchmarks of metric logging from C++ (issue 5), the workload of bench/tracking_bench.py:
// 1 run, 10 keys x N steps (100,000 by default), measured to durable (Close returned).
//   tracking.log_metric.cpp   per-point RunLogger::LogMetric, points/s
//   tracking.log_batch.cpp    RunLogger::LogSeries per key (columns), points/s
//   tracking.log_metric.cpp.call   the cost of one LogMetric call on the training thread, ns
// The MLflow peer is added by bench/tracking_bench.py (it runs this binary).
// Usage: tracking_bench [--tiny] [--steps N] [--runs N]
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "mlcore/client.h"
#include "mlcore/tracking.h"

using mlcore::bench::Emit;
using mlcore::bench::Line;
using mlcore::bench::Summarize;

namespace {

template <typename T>
T Must(mlcore::Result<T> r, const char* what) {
  if (!r.ok()) {
    std::cerr << "tracking_bench: " << what << ": " << r.status().ToString() << "\n";
    std::exit(1);
  }
  return std::move(r).value();
}

void Must(const mlcore::Status& s, const char* what) {
  if (!s.ok()) {
    std::cerr << "tracking_bench: " << what << ": " << s.ToString() << "\n";
    std::exit(1);
  }
}

constexpr int kKeys = 10;

// A fresh store with a project and a run; returns the client and the run id.
std::pair<std::unique_ptr<mlcore::Client>, std::string> FreshRun(const std::string& dir) {
  std::filesystem::remove_all(dir);
  auto client = Must(mlcore::Client::Open("local://" + dir), "open");
  mlcore::v1::Project p;
  p.set_name("bench");
  Must(client->CreateProject(p), "create project");
  mlcore::v1::CreateRunRequest create;
  create.mutable_run()->set_project("bench");
  auto run = Must(client->CreateRun(create), "create run");
  return {std::move(client), run.id()};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 100000;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tiny") {
      steps = 2000;
      runs = 1;
    } else if (a == "--steps" && i + 1 < argc) {
      steps = std::atoll(argv[++i]);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::cerr << "usage: tracking_bench [--tiny] [--steps N] [--runs N]\n";
      return 2;
    }
  }
  const std::string base = std::filesystem::temp_directory_path().string() +
                           "/mlc-tracking-bench-" + std::to_string(getpid());
  const std::vector<std::string> keys = {"k0", "k1", "k2", "k3", "k4",
                                         "k5", "k6", "k7", "k8", "k9"};
  const double points = static_cast<double>(steps) * kKeys;
  std::vector<double> per_point, per_call_ns, batch;
  std::vector<int64_t> step_column(static_cast<size_t>(steps));
  std::vector<double> value_column(static_cast<size_t>(steps));
  for (int64_t i = 0; i < steps; ++i) {
    step_column[static_cast<size_t>(i)] = i;
    value_column[static_cast<size_t>(i)] = 1.0 / static_cast<double>(i + 1);
  }
  // One warm-up round (discarded), then ours interleaved: per-point, batch, per-point, ...
  for (int round = 0; round <= runs; ++round) {
    {
      auto [client, run] = FreshRun(base);
      auto logger = Must(mlcore::RunLogger::Attach(*client, run), "attach");
      const auto start = std::chrono::steady_clock::now();
      for (int64_t s = 0; s < steps; ++s) {
        for (int k = 0; k < kKeys; ++k) {
          Must(logger->LogMetric(keys[static_cast<size_t>(k)], 0.5, s), "log");
        }
      }
      const auto logged = std::chrono::steady_clock::now();
      Must(logger->Close(), "close");
      const auto durable = std::chrono::steady_clock::now();
      if (round > 0) {
        per_point.push_back(points / std::chrono::duration<double>(durable - start).count());
        per_call_ns.push_back(std::chrono::duration<double, std::nano>(logged - start).count() /
                              points);
      }
    }
    {
      auto [client, run] = FreshRun(base);
      auto logger = Must(mlcore::RunLogger::Attach(*client, run), "attach");
      const auto start = std::chrono::steady_clock::now();
      for (int k = 0; k < kKeys; ++k) {
        Must(logger->LogSeries(keys[static_cast<size_t>(k)], step_column.data(),
                               value_column.data(), step_column.size()),
             "log series");
      }
      Must(logger->Close(), "close");
      const auto durable = std::chrono::steady_clock::now();
      if (round > 0) {
        batch.push_back(points / std::chrono::duration<double>(durable - start).count());
      }
    }
  }
  std::filesystem::remove_all(base);
  const std::map<std::string, std::string> params = {
      {"keys", std::to_string(kKeys)}, {"steps", std::to_string(steps)}, {"warmup_discarded", "1"}};
  auto emit = [&](const std::string& bench, const std::string& unit, std::vector<double> v,
                  const std::string& target, bool (*met)(double)) {
    const auto st = Summarize(std::move(v));
    Line line;
    line.bench = bench;
    line.unit = unit;
    line.value = st.median;
    line.min = st.min;
    line.max = st.max;
    line.runs = st.runs;
    line.target = target;
    line.met = met(st.median);
    line.params = params;
    Emit(line);
  };
  emit("tracking.log_metric.cpp", "points/s", per_point, ">=1e6",
       [](double v) { return v >= 1e6; });
  emit("tracking.log_batch.cpp", "points/s", batch, ">=1e7", [](double v) { return v >= 1e7; });
  emit("tracking.log_metric.cpp.call", "ns/point", per_call_ns, "report (training-thread cost)",
       [](double) { return true; });
  return 0;
}
