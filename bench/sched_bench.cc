// sched_bench: the scheduling core's benchmarks, one JSON line per measurement.
//
//   sched.pass       one Schedule() pass, 100,000 pending jobs on 1,000 nodes (target < 100 ms)
//   sched.packing    cell compaction on the synthetic trace: fewest nodes meeting every deadline,
//                    ours vs plain first fit vs the energetic lower bound (target <= 1.05x the
//                    bound and >= 1.05x fewer nodes than first fit); extras: the contained-window
//                    bound, first fit with the deadline ordering, ours with deadline escalation
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
#include "scheduler/model.h"
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

// Lower bounds on nodes, from the trace alone (valid for any scheduler of this simulator).
struct Bounds {
  int energetic = 1;  // the one the target is measured against
  int contained = 1;  // the weaker bound of earlier runs, reported for comparison
};

// Fluid bounds: for every window [a, b) of a `step` grid, the work that must run inside it divided
// by nodes x capacity x (b - a), per resource; and at least the nodes the largest gang fills.
//  - contained: only jobs that lie wholly inside the window (submitted at or after a, deadline at
//    or before b) count.
//  - energetic (energetic reasoning for cumulative scheduling, Erschler/Lopez; Baptiste, Le Pape,
//    Nuijten): every job with a deadline counts its compulsory part, the least of its run that
//    must fall inside [a, b) however it is scheduled: min(b - a, p, r + p - a, b - d + p), >= 0,
//    for release r, duration p, deadline d. Releases are rounded up to the pass interval (a job
//    can start only at a pass).
// Jobs without a deadline may run at any later time and are left out of both. A gang's replicas
// run at once for the job's duration, so its work is replicas x request x duration.
Bounds LowerBounds(const std::vector<v1::TraceRecord>& trace, const v1::Resources& node,
                   int64_t pass_interval_s) {
  const auto catalog = DefaultFlavorCatalog("sim");
  struct Work {
    int64_t r, p, d;
    double res[3];  // per second of run: replicas x request
  };
  std::vector<Work> work;
  int64_t first = INT64_MAX, last = 0;
  double gang = 1;
  const double cap[3] = {static_cast<double>(node.cpu_millis()),
                         static_cast<double>(node.memory_bytes()), static_cast<double>(node.gpu())};
  for (const auto& t : trace) {
    auto res = ResolveFlavor(catalog, t.flavor()).value_or(t.resources());
    const double k = std::max(1, t.replicas());
    const double per[3] = {res.cpu_millis() * k, static_cast<double>(res.memory_bytes()) * k,
                           res.gpu() * k};
    for (int r = 0; r < 3; ++r) {
      if (per[r] > 0 && cap[r] > 0) gang = std::max(gang, std::ceil(per[r] / cap[r] - 1e-9));
    }
    if (t.deadline().seconds() <= 0) continue;
    const int64_t submit = t.submit_offset().seconds();
    Work w{(submit + pass_interval_s - 1) / pass_interval_s * pass_interval_s,
           t.duration().seconds(),
           submit + t.deadline().seconds(),
           {per[0], per[1], per[2]}};
    first = std::min(first, submit);
    last = std::max(last, w.d);
    work.push_back(w);
  }
  double contained = gang, energetic = gang;
  const int64_t step = 900;
  for (int64_t a = first / step * step; a <= last; a += step) {
    for (int64_t b = a + step; b <= last + step; b += step) {
      double in[3] = {0, 0, 0}, must[3] = {0, 0, 0};
      for (const auto& w : work) {
        if (w.d <= a || w.r >= b) continue;
        const int64_t part = std::min({b - a, w.p, w.r + w.p - a, b - w.d + w.p});
        if (part <= 0) continue;
        const bool inside = w.r >= a && w.d <= b;
        for (int r = 0; r < 3; ++r) {
          must[r] += w.res[r] * static_cast<double>(part);
          if (inside) in[r] += w.res[r] * static_cast<double>(w.p);
        }
      }
      for (int r = 0; r < 3; ++r) {
        if (cap[r] <= 0) continue;
        const double span = cap[r] * static_cast<double>(b - a);
        contained = std::max(contained, in[r] / span);
        energetic = std::max(energetic, must[r] / span);
      }
    }
  }
  return {static_cast<int>(std::ceil(energetic - 1e-9)),
          static_cast<int>(std::ceil(contained - 1e-9))};
}

struct Cell {
  int nodes = 0;
  v1::SimulationSummary summary;
  int simulations = 0;
  double wall_ms = 0;
};

// The policies compared. `deadline_order` is the core's default at-risk ordering (see
// scheduler/fair_share.h); the plain first-fit peer runs without it, as it ran before the core
// knew about deadlines.
struct Policy {
  bool first_fit = false;
  bool deadline_order = true;
  bool escalation = false;
};

constexpr int64_t kPassIntervalS = 60;

v1::SimulationSummary Run(const std::vector<v1::TraceRecord>& trace, int nodes,
                          const Policy& policy, double* wall_ms) {
  v1::SimulationConfig config;
  for (auto& n : MakeNodes(nodes, BenchNodeCapacity())) *config.add_nodes() = std::move(n);
  config.mutable_pass_interval()->set_seconds(kPassIntervalS);
  config.mutable_sample_interval()->set_seconds(600);
  if (policy.first_fit) config.mutable_scheduler()->set_placement(v1::PLACEMENT_POLICY_FIRST_FIT);
  SimulateOptions options;
  options.adjust_tunables = [&](sched::Tunables& t) {
    if (!policy.deadline_order) t.deadline_horizon_ms = 0;
    t.deadline_escalation = policy.escalation;
  };
  v1::SimulationSummary s;
  *wall_ms += TimeMs([&] {
    auto r = Simulate(config, trace, options);
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
Cell Compact(const std::vector<v1::TraceRecord>& trace, int lower_bound, const Policy& policy) {
  Cell cell;
  int lo = lower_bound - 1;  // known (or assumed, at the bound) to fail
  int hi = lower_bound;
  v1::SimulationSummary at_hi;
  while (true) {
    ++cell.simulations;
    at_hi = Run(trace, hi, policy, &cell.wall_ms);
    if (Meets(at_hi)) break;
    lo = hi;
    hi = std::max(hi + 1, static_cast<int>(hi * 1.15));
  }
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    ++cell.simulations;
    auto s = Run(trace, mid, policy, &cell.wall_ms);
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
  const Bounds bounds = LowerBounds(trace, BenchNodeCapacity(), kPassIntervalS);
  const int bound = bounds.energetic;
  const Cell ours = Compact(trace, bound, Policy{});
  const Cell ff = Compact(trace, bound, Policy{.first_fit = true, .deadline_order = false});
  // For the record (docs/benchmarks.md): first fit with the core's deadline ordering, and ours with
  // at-risk jobs escalated above every priority (off by default: the issue puts priority first).
  const Cell ff_ordered = Compact(trace, bound, Policy{.first_fit = true});
  const Cell escalated = Compact(trace, bound, Policy{.escalation = true});
  std::map<std::string, std::string> params = {{"jobs", std::to_string(tp.jobs)},
                                               {"users", std::to_string(tp.users)},
                                               {"seed", std::to_string(tp.seed)},
                                               {"node", "8 GPU, 128 cores, 1.5 TiB"},
                                               {"pass_interval_s", std::to_string(kPassIntervalS)}};
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
               {"lower_bound_contained", static_cast<double>(bounds.contained)},
               {"vs_lower_bound", vs_bound},
               {"first_fit_deadline_order", static_cast<double>(ff_ordered.nodes)},
               {"deadline_escalation", static_cast<double>(escalated.nodes)},
               {"simulations", static_cast<double>(ours.simulations + ff.simulations +
                                                   ff_ordered.simulations + escalated.simulations)},
               {"sim_wall_ms", ours.wall_ms + ff.wall_ms + ff_ordered.wall_ms + escalated.wall_ms},
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
