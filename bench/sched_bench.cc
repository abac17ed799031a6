// sched_bench: the scheduling core's benchmarks, one JSON line per measurement.
//
//   sched.pass       one Schedule() pass, 100,000 pending jobs on 1,000 nodes (target < 100 ms)
//   sched.packing    cell compaction on the synthetic trace: fewest nodes meeting every deadline,
//                    ours vs plain first fit vs the lower bound (target <= 1.05x the bound and
//                    >= 1.05x fewer nodes than first fit)
//   sched.utilization  utilization per resource at each policy's smallest cell
//
// Usage: sched_bench [--only pass,packing,utilization] [--tiny] [--runs N] [--jobs N] [--seed N]
// --tiny shrinks every workload so the test suite can run it in a second or two.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "bench_util.h"
#include "scheduler/flavors.h"
#include "scheduler/scheduler.h"
#include "scheduler/simulator.h"
#include "synthetic.h"

namespace mlcore::bench {
namespace {

struct Options {
  std::set<std::string> only;
  bool tiny = false;
  int runs = 5;
  int jobs = 30000;
  uint64_t seed = 1;
};

bool Wanted(const Options& o, const std::string& name) {
  return o.only.empty() || o.only.count(name);
}

int BenchPass(const Options& o) {
  PassParams p;
  p.seed = o.seed;
  if (o.tiny) p.nodes = 40, p.pending = 2000;
  const v1::SchedulingState state = GeneratePassState(p);
  size_t starts = 0, preempts = 0;
  auto once = [&]() {
    auto r = Schedule(state);
    if (!r.ok()) {
      std::cerr << "sched_bench: " << r.status().ToString() << "\n";
      std::exit(1);
    }
    starts = preempts = 0;
    for (const auto& d : *r) {
      starts += d.has_start();
      preempts += d.has_preempt();
    }
  };
  once();  // warm-up, discarded
  std::vector<double> times;
  for (int i = 0; i < o.runs; ++i) times.push_back(TimeMs(once));
  Stats s = Summarize(times);
  Line l;
  l.bench = "sched.pass";
  l.unit = "ms";
  l.value = s.median;
  l.peer = "budget";
  l.peer_value = 100;
  l.ratio = 100.0 / std::max(1e-9, s.median);
  l.target = "<100 ms (Release)";
  l.met = s.median < 100;
  l.runs = s.runs;
  l.min = s.min, l.max = s.max;
  l.params = {{"nodes", std::to_string(p.nodes)},
              {"pending", std::to_string(p.pending)},
              {"running", std::to_string(state.running_size())},
              {"starts", std::to_string(starts)},
              {"preemptions", std::to_string(preempts)},
              {"warmup_runs_discarded", "1"}};
  Emit(l);
  return 0;
}

// The fluid lower bound on nodes: for every window [a, b) (hour grid), the work of the jobs that
// must run inside it (submitted at or after a, deadline at or before b) must fit in
// nodes x capacity x (b - a), per resource. Jobs without a deadline may run at any time later, so
// they only count in windows that end at the last deadline or later... they are left out, which
// keeps the bound valid.
int LowerBound(const std::vector<v1::TraceRecord>& trace, const v1::Resources& node) {
  const auto catalog = DefaultFlavorCatalog("sim");
  struct Work {
    int64_t submit, deadline;
    double cpu, mem, gpu;  // resource-seconds
  };
  std::vector<Work> work;
  int64_t last = 0;
  double total[3] = {0, 0, 0};
  int64_t first = INT64_MAX;
  for (const auto& r : trace) {
    auto res = ResolveFlavor(catalog, r.flavor()).value_or(r.resources());
    const double d = static_cast<double>(r.duration().seconds());
    const int k = std::max(1, r.replicas());
    Work w{r.submit_offset().seconds(),
           r.deadline().seconds() > 0 ? r.submit_offset().seconds() + r.deadline().seconds() : 0,
           res.cpu_millis() * d * k, static_cast<double>(res.memory_bytes()) * d * k,
           res.gpu() * d * k};
    first = std::min(first, w.submit);
    last = std::max(last, w.deadline);
    total[0] += w.cpu, total[1] += w.mem, total[2] += w.gpu;
    if (w.deadline > 0) work.push_back(w);
  }
  const double cap[3] = {static_cast<double>(node.cpu_millis()),
                         static_cast<double>(node.memory_bytes()), static_cast<double>(node.gpu())};
  double best = 1;
  // A gang needs its replicas at once: at least as many nodes as its replicas fill.
  for (const auto& r : trace) {
    auto res = ResolveFlavor(catalog, r.flavor()).value_or(r.resources());
    const double k = std::max(1, r.replicas());
    if (res.gpu() > 0 && node.gpu() > 0)
      best = std::max(best, std::ceil(k * res.gpu() / node.gpu()));
    if (res.cpu_millis() > 0) {
      best =
          std::max(best, std::ceil(k * res.cpu_millis() / static_cast<double>(node.cpu_millis())));
    }
  }
  const int64_t hour = 3600;
  for (int64_t a = first / hour * hour; a <= last; a += hour) {
    for (int64_t b = a + hour; b <= last + hour; b += hour) {
      double sum[3] = {0, 0, 0};
      for (const auto& w : work) {
        if (w.submit >= a && w.deadline <= b) sum[0] += w.cpu, sum[1] += w.mem, sum[2] += w.gpu;
      }
      for (int r = 0; r < 3; ++r) {
        if (cap[r] > 0) best = std::max(best, sum[r] / (cap[r] * static_cast<double>(b - a)));
      }
    }
  }
  return static_cast<int>(std::ceil(best - 1e-9));
}

struct Cell {
  int nodes = 0;
  v1::SimulationSummary summary;
  int simulations = 0;
  double wall_ms = 0;
};

v1::SimulationSummary Run(const std::vector<v1::TraceRecord>& trace, int nodes, bool first_fit,
                          double* wall_ms) {
  v1::SimulationConfig config;
  for (auto& n : MakeNodes(nodes, BenchNodeCapacity())) *config.add_nodes() = std::move(n);
  config.mutable_pass_interval()->set_seconds(60);
  config.mutable_sample_interval()->set_seconds(600);
  if (first_fit) config.mutable_scheduler()->set_placement(v1::PLACEMENT_POLICY_FIRST_FIT);
  v1::SimulationSummary s;
  *wall_ms += TimeMs([&] {
    auto r = Simulate(config, trace);
    if (!r.ok()) {
      std::cerr << "sched_bench: " << r.status().ToString() << "\n";
      std::exit(1);
    }
    s = *r;
  });
  return s;
}

bool Meets(const v1::SimulationSummary& s) {
  return s.deadline_misses() == 0 && s.jobs_never_started() == 0 && s.quota_violations() == 0;
}

// Fewest nodes on which the trace meets every deadline: grow from the lower bound until it does,
// then bisect.
Cell Compact(const std::vector<v1::TraceRecord>& trace, int lower_bound, bool first_fit) {
  Cell cell;
  int lo = lower_bound - 1;  // known (or assumed, at the bound) to fail
  int hi = lower_bound;
  v1::SimulationSummary at_hi;
  while (true) {
    ++cell.simulations;
    at_hi = Run(trace, hi, first_fit, &cell.wall_ms);
    if (Meets(at_hi)) break;
    lo = hi;
    hi = std::max(hi + 1, static_cast<int>(hi * 1.15));
  }
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    ++cell.simulations;
    auto s = Run(trace, mid, first_fit, &cell.wall_ms);
    if (Meets(s)) {
      hi = mid, at_hi = s;
    } else {
      lo = mid;
    }
  }
  cell.nodes = hi;
  cell.summary = at_hi;
  return cell;
}

int BenchPacking(const Options& o) {
  TraceParams tp;
  tp.seed = o.seed;
  tp.jobs = o.tiny ? 300 : o.jobs;
  if (o.tiny) tp.users = 50, tp.projects = 5;
  const auto trace = GenerateTrace(tp);
  const int bound = LowerBound(trace, BenchNodeCapacity());
  const Cell ours = Compact(trace, bound, false);
  const Cell ff = Compact(trace, bound, true);
  std::map<std::string, std::string> params = {{"jobs", std::to_string(tp.jobs)},
                                               {"users", std::to_string(tp.users)},
                                               {"seed", std::to_string(tp.seed)},
                                               {"node", "8 GPU, 128 cores, 1.5 TiB"},
                                               {"pass_interval_s", "60"}};
  if (Wanted(o, "packing")) {
    Line l;
    l.bench = "sched.packing";
    l.unit = "nodes";
    l.value = ours.nodes;
    l.peer = "first_fit";
    l.peer_value = ff.nodes;
    l.ratio = static_cast<double>(ff.nodes) / ours.nodes;
    l.target = "<=1.05x lower bound and >=1.05x fewer nodes than first fit";
    const double vs_bound = static_cast<double>(ours.nodes) / bound;
    l.met = vs_bound <= 1.05 && l.ratio >= 1.05;
    l.runs = 1;
    l.stat = "exact (deterministic simulation)";
    l.min = l.max = ours.nodes;
    l.extra = {{"lower_bound", static_cast<double>(bound)},
               {"vs_lower_bound", vs_bound},
               {"simulations", static_cast<double>(ours.simulations + ff.simulations)},
               {"sim_wall_ms", ours.wall_ms + ff.wall_ms},
               {"preemptions", static_cast<double>(ours.summary.preemptions())},
               {"quota_violations", static_cast<double>(ours.summary.quota_violations() +
                                                        ff.summary.quota_violations())}};
    l.params = params;
    Emit(l);
  }
  if (Wanted(o, "utilization")) {
    const char* names[] = {"cpu", "memory", "gpu"};
    for (int r = 0; r < 3; ++r) {
      auto util = [&](const v1::SimulationSummary& s) {
        return r == 0   ? s.mean_cpu_utilization()
               : r == 1 ? s.mean_memory_utilization()
                        : s.mean_gpu_utilization();
      };
      Line l;
      l.bench = std::string("sched.utilization.") + names[r];
      l.unit = "fraction";
      l.value = util(ours.summary);
      l.peer = "first_fit";
      l.peer_value = util(ff.summary);
      l.ratio = l.value / std::max(1e-12, l.peer_value);
      l.target = ">= first fit, each at its smallest cell meeting deadlines";
      l.met = l.ratio >= 1.0;
      l.runs = 1;
      l.stat = "exact (deterministic simulation)";
      l.min = l.max = l.value;
      l.params = params;
      l.params["nodes_ours"] = std::to_string(ours.nodes);
      l.params["nodes_first_fit"] = std::to_string(ff.nodes);
      Emit(l);
    }
  }
  return 0;
}

}  // namespace
}  // namespace mlcore::bench

int main(int argc, char** argv) {
  mlcore::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "sched_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--tiny") {
      o.tiny = true;
    } else if (a == "--only") {
      std::stringstream names(next());
      std::string n;
      while (std::getline(names, n, ',')) o.only.insert(n);
    } else if (a == "--runs") {
      o.runs = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--jobs") {
      o.jobs = std::max(10, std::atoi(next().c_str()));
    } else if (a == "--seed") {
      o.seed = std::strtoull(next().c_str(), nullptr, 10);
    } else {
      std::cerr << "usage: sched_bench [--only pass,packing,utilization] [--tiny] [--runs N] "
                   "[--jobs N] [--seed N]\n";
      return 2;
    }
  }
  if (mlcore::bench::Wanted(o, "pass")) mlcore::bench::BenchPass(o);
  if (mlcore::bench::Wanted(o, "packing") || mlcore::bench::Wanted(o, "utilization")) {
    mlcore::bench::BenchPacking(o);
  }
  return 0;
}
