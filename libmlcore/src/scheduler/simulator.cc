// Discrete-event replay of a trace through the scheduling core. See simulator.h.
#include "scheduler/simulator.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <queue>
#include <set>

#include "scheduler/flavors.h"
#include "scheduler/model.h"
#include "scheduler/pass.h"

namespace mlcore {
namespace {

using sched::kNumResources;
using sched::Res;

int64_t DurationMs(const google::protobuf::Duration& d) {
  return d.seconds() * 1000 + d.nanos() / 1000000;
}

void SetDurationMs(google::protobuf::Duration* d, int64_t ms) {
  d->set_seconds(ms / 1000);
  d->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}

struct SimJob {
  std::string id;
  sched::JobInfo info;  // template: request, replicas, priority, affinity; id/nodes set per pass
  int64_t submit_ms = 0;
  int64_t duration_ms = 0;
  int64_t deadline_ms = 0;  // absolute; 0 = none
  enum State { kFuture, kPending, kRunning, kDone } state = kFuture;
  int64_t queued_since = 0;
  int64_t start_ms = 0, end_ms = 0;
  int generation = 0;  // bumps on every start, so stale end events are ignored
  bool ever_started = false;
  int last_wait = 0;
  std::vector<int> nodes;
};

struct EndEvent {
  int64_t end_ms;
  int generation;
  int job;
  bool operator>(const EndEvent& o) const {
    return end_ms != o.end_ms ? end_ms > o.end_ms : job > o.job;
  }
};

class Simulator {
 public:
  Status Init(const v1::SimulationConfig& config, const std::vector<v1::TraceRecord>& trace,
              const SimulateOptions& options);
  v1::SimulationSummary Run(const SimulateOptions& options);

 private:
  void Advance(int64_t t, std::vector<v1::UtilizationSample>* timeline);
  void RunPasses(int64_t t);
  bool Check(const SimJob& job, int64_t t);

  v1::SchedulingState world_;  // nodes and projects; the model's names point into it
  sched::Model model_;
  std::vector<SimJob> jobs_;  // sorted by submit
  std::vector<int> pending_, running_;
  std::priority_queue<EndEvent, std::vector<EndEvent>, std::greater<>> ends_;
  // The independent checker's own bookkeeping, from the decisions only.
  std::vector<Res> node_alloc_;
  std::vector<Res> project_used_;
  Res total_capacity_, allocated_;
  int64_t interval_ms_ = 10000, sample_ms_ = 60000;
  int64_t now_ = 0, next_sample_ = 0, first_submit_ = 0;
  double integral_[kNumResources] = {0, 0, 0};
  std::vector<std::vector<int64_t>> waits_;  // per project
  v1::SimulationSummary summary_;
};

Status Simulator::Init(const v1::SimulationConfig& config,
                       const std::vector<v1::TraceRecord>& trace, const SimulateOptions& options) {
  if (config.nodes_size() == 0) {
    return InvalidArgumentError("the simulation has no nodes; add some (mlc sim --nodes N)");
  }
  *world_.mutable_nodes() = config.nodes();
  if (config.projects_size() > 0) {
    *world_.mutable_projects() = config.projects();
  } else {
    std::set<std::string> names;
    for (const auto& r : trace) names.insert(r.project());
    for (const auto& n : names) world_.add_projects()->set_name(n);
  }
  MLC_ASSIGN_OR_RETURN(model_, sched::BuildModel(world_));
  model_.tunables = sched::TunablesFromProto(config.scheduler());
  if (options.adjust_tunables) options.adjust_tunables(model_.tunables);
  const v1::FlavorCatalog catalog =
      config.catalog().flavors_size() > 0 ? config.catalog() : DefaultFlavorCatalog("sim");
  std::vector<v1::PriorityClass> classes(config.priority_classes().begin(),
                                         config.priority_classes().end());
  if (classes.empty()) classes = DefaultPriorityClasses();
  if (config.pass_interval().seconds() > 0 || config.pass_interval().nanos() > 0) {
    interval_ms_ = std::max<int64_t>(1, DurationMs(config.pass_interval()));
  }
  if (config.sample_interval().seconds() > 0 || config.sample_interval().nanos() > 0) {
    sample_ms_ = std::max<int64_t>(1, DurationMs(config.sample_interval()));
  }

  std::map<std::string_view, int> project_index;
  for (size_t p = 0; p < model_.projects.size(); ++p) {
    project_index.emplace(model_.projects[p].name, static_cast<int>(p));
  }
  std::vector<size_t> order(trace.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return DurationMs(trace[a].submit_offset()) < DurationMs(trace[b].submit_offset());
  });
  jobs_.resize(trace.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const v1::TraceRecord& r = trace[i];
    SimJob& job = jobs_[k];
    job.id = r.id().empty() ? "sim-" + std::to_string(i + 1) : r.id();
    auto where = [&]() { return "trace record " + std::to_string(i + 1) + " (" + job.id + "): "; };
    auto p = project_index.find(r.project());
    if (p == project_index.end()) {
      return InvalidArgumentError(where() + "unknown project \"" + r.project() +
                                  "\"; add it to the simulation's projects");
    }
    v1::Resources request;
    if (!r.flavor().empty()) {
      auto resolved = ResolveFlavor(catalog, r.flavor());
      if (!resolved.ok())
        return resolved.status().WithContext(where().substr(0, where().size() - 2));
      request = *resolved;
    } else {
      request = r.resources();
      if (request.cpu_millis() <= 0 && request.memory_bytes() <= 0 && request.gpu() <= 0) {
        return InvalidArgumentError(where() + "names neither a flavor nor resources");
      }
    }
    auto priority = ResolvePriorityClass(classes, r.priority_class());
    if (!priority.ok()) return priority.status().WithContext(where().substr(0, where().size() - 2));
    job.duration_ms = DurationMs(r.duration());
    if (job.duration_ms <= 0) return InvalidArgumentError(where() + "duration must be positive");
    job.submit_ms = DurationMs(r.submit_offset());
    if (job.submit_ms < 0) return InvalidArgumentError(where() + "submit offset is negative");
    const int64_t deadline = DurationMs(r.deadline());
    job.deadline_ms = deadline > 0 ? job.submit_ms + deadline : 0;

    sched::JobInfo& info = job.info;
    info.project = p->second;
    info.request = sched::ResFromProto(request);
    info.gpu_model = model_.strings.Intern(request.gpu_model());
    info.replicas = std::max(1, r.replicas());
    info.priority = *priority;
    info.preemptible = r.preemptible();
    info.expected_ms = job.duration_ms;
    info.deadline_ms = job.deadline_ms;  // the core orders at-risk jobs by it
    for (const auto& d : r.dataset_digests()) info.datasets.push_back(model_.strings.Intern(d));
    std::sort(info.datasets.begin(), info.datasets.end());
    info.datasets.erase(std::unique(info.datasets.begin(), info.datasets.end()),
                        info.datasets.end());
    info.image = model_.strings.Intern(r.image());
  }
  node_alloc_.assign(model_.nodes.size(), Res{});
  project_used_.assign(model_.projects.size(), Res{});
  for (const auto& n : model_.nodes) {
    if (n.schedulable) total_capacity_ += n.capacity;
  }
  waits_.resize(model_.projects.size());
  return Status::Ok();
}

void Simulator::Advance(int64_t t, std::vector<v1::UtilizationSample>* timeline) {
  if (t <= now_) return;
  while (next_sample_ <= t) {
    if (timeline != nullptr) {
      v1::UtilizationSample s;
      SetDurationMs(s.mutable_offset(), next_sample_ - first_submit_);
      auto frac = [&](int r) {
        return total_capacity_[r] > 0
                   ? static_cast<double>(allocated_[r]) / static_cast<double>(total_capacity_[r])
                   : 0.0;
      };
      s.set_cpu(frac(sched::kCpu));
      s.set_memory(frac(sched::kMemory));
      s.set_gpu(frac(sched::kGpu));
      s.set_queue_length(static_cast<int32_t>(pending_.size()));
      s.set_running_jobs(static_cast<int32_t>(running_.size()));
      timeline->push_back(std::move(s));
    }
    next_sample_ += sample_ms_;
  }
  for (int r = 0; r < kNumResources; ++r) {
    integral_[r] += static_cast<double>(allocated_[r]) * static_cast<double>(t - now_);
  }
  now_ = t;
}

bool Simulator::Check(const SimJob& job, int64_t t) {
  std::string problem;
  if (static_cast<int>(job.nodes.size()) != job.info.replicas) {
    problem = "job " + job.id + " started with " + std::to_string(job.nodes.size()) + " of " +
              std::to_string(job.info.replicas) + " replicas";
  }
  for (int n : job.nodes) {
    if (!problem.empty()) break;
    if (!model_.nodes[n].schedulable) problem = "job " + job.id + " placed on a cordoned node";
    for (int r = 0; r < kNumResources && problem.empty(); ++r) {
      if (node_alloc_[n][r] > model_.nodes[n].capacity[r]) {
        problem = "node " + std::string(model_.nodes[n].name) + " " +
                  std::string(sched::ResourceName(r)) + " " +
                  sched::FormatAmount(r, node_alloc_[n][r]) + "/" +
                  sched::FormatAmount(r, model_.nodes[n].capacity[r]);
      }
    }
  }
  for (int p = job.info.project; p >= 0 && problem.empty(); p = model_.projects[p].parent) {
    for (int r = 0; r < kNumResources && problem.empty(); ++r) {
      if (project_used_[p][r] > model_.projects[p].limit[r]) {
        problem = "project " + std::string(model_.projects[p].name) + " " +
                  std::string(sched::ResourceName(r)) + " " +
                  sched::FormatAmount(r, project_used_[p][r]) + " above limit " +
                  sched::FormatAmount(r, model_.projects[p].limit[r]);
      }
    }
  }
  if (problem.empty()) return true;
  summary_.set_quota_violations(summary_.quota_violations() + 1);
  if (summary_.violation_examples_size() < 10) {
    summary_.add_violation_examples("pass at " + std::to_string((t - first_submit_) / 1000) +
                                    "s: " + problem);
  }
  return false;
}

void Simulator::RunPasses(int64_t t) {
  for (int round = 0; round < 3; ++round) {
    model_.now_ms = t;
    model_.pending.clear();
    model_.running.clear();
    model_.pending.reserve(pending_.size());
    model_.running.reserve(running_.size());
    for (int k : pending_) {
      model_.pending.push_back(jobs_[k].info);
      model_.pending.back().id = jobs_[k].id;
      model_.pending.back().submit_ms = jobs_[k].submit_ms;
    }
    for (int k : running_) {
      model_.running.push_back(jobs_[k].info);
      sched::JobInfo& info = model_.running.back();
      info.id = jobs_[k].id;
      info.submit_ms = jobs_[k].submit_ms;
      info.start_ms = jobs_[k].start_ms;
      info.nodes = jobs_[k].nodes;
    }
    std::vector<sched::Decision> decisions = sched::RunPass(model_);
    summary_.set_passes(summary_.passes() + 1);
    summary_.set_max_queue_length(
        std::max<int32_t>(summary_.max_queue_length(), static_cast<int32_t>(pending_.size())));

    bool preempted = false;
    std::vector<int> started;
    for (const sched::Decision& d : decisions) {
      if (d.kind == sched::Decision::kPreempt) {
        SimJob& job = jobs_[running_[d.job]];
        for (int n : job.nodes) node_alloc_[n] -= job.info.request;
        for (int p = job.info.project; p >= 0; p = model_.projects[p].parent) {
          project_used_[p] -= job.info.Total();
        }
        allocated_ -= job.info.Total();
        job.state = SimJob::kPending;
        job.queued_since = t;
        job.nodes.clear();
        summary_.set_preemptions(summary_.preemptions() + 1);
        preempted = true;
      } else if (d.kind == sched::Decision::kStart) {
        const int k = pending_[d.job];
        SimJob& job = jobs_[k];
        job.state = SimJob::kRunning;
        job.nodes = d.nodes;
        job.start_ms = t;
        job.end_ms = t + job.duration_ms;
        job.ever_started = true;
        ++job.generation;
        ends_.push({job.end_ms, job.generation, k});
        waits_[job.info.project].push_back(t - job.queued_since);
        for (int n : job.nodes) {
          node_alloc_[n] += job.info.request;
          auto& node = model_.nodes[n];
          for (int ds : job.info.datasets) {
            auto it = std::lower_bound(node.datasets.begin(), node.datasets.end(), ds);
            if (it == node.datasets.end() || *it != ds) node.datasets.insert(it, ds);
          }
          if (job.info.image != 0) {
            auto it = std::lower_bound(node.images.begin(), node.images.end(), job.info.image);
            if (it == node.images.end() || *it != job.info.image) {
              node.images.insert(it, job.info.image);
            }
          }
        }
        for (int p = job.info.project; p >= 0; p = model_.projects[p].parent) {
          project_used_[p] += job.info.Total();
        }
        allocated_ += job.info.Total();
        started.push_back(k);
      } else {
        jobs_[pending_[d.job]].last_wait = static_cast<int>(d.wait.code);
      }
    }
    for (int k : started) Check(jobs_[k], t);
    std::vector<int> pending, running;
    for (int k : pending_) (jobs_[k].state == SimJob::kPending ? pending : running).push_back(k);
    for (int k : running_) (jobs_[k].state == SimJob::kRunning ? running : pending).push_back(k);
    pending_ = std::move(pending);
    running_ = std::move(running);
    if (!preempted) break;
  }
}

v1::SimulationSummary Simulator::Run(const SimulateOptions& options) {
  summary_.set_jobs_submitted(static_cast<int64_t>(jobs_.size()));
  summary_.set_nodes(static_cast<int32_t>(model_.nodes.size()));
  if (jobs_.empty()) return summary_;
  first_submit_ = jobs_.front().submit_ms;
  now_ = first_submit_;
  next_sample_ = first_submit_;
  const int64_t stop = options.horizon_ms > 0 ? first_submit_ + options.horizon_ms : sched::kNever;
  size_t next_submit = 0;
  int64_t last_end = first_submit_;
  bool stopped_by_horizon = false;
  while (true) {
    int64_t next_t = sched::kNever;
    if (next_submit < jobs_.size()) next_t = jobs_[next_submit].submit_ms;
    while (!ends_.empty() && jobs_[ends_.top().job].generation != ends_.top().generation) {
      ends_.pop();
    }
    if (!ends_.empty()) next_t = std::min(next_t, ends_.top().end_ms);
    if (next_t == sched::kNever) break;  // nothing will ever change again
    int64_t tick = (next_t + interval_ms_ - 1) / interval_ms_ * interval_ms_;
    if (tick > stop) {
      stopped_by_horizon = true;
      break;
    }
    while (!ends_.empty() && ends_.top().end_ms <= tick) {
      EndEvent e = ends_.top();
      ends_.pop();
      SimJob& job = jobs_[e.job];
      if (job.generation != e.generation || job.state != SimJob::kRunning) continue;
      Advance(e.end_ms, options.timeline);
      for (int n : job.nodes) node_alloc_[n] -= job.info.request;
      for (int p = job.info.project; p >= 0; p = model_.projects[p].parent) {
        project_used_[p] -= job.info.Total();
      }
      allocated_ -= job.info.Total();
      job.state = SimJob::kDone;
      summary_.set_jobs_completed(summary_.jobs_completed() + 1);
      if (job.deadline_ms > 0 && e.end_ms > job.deadline_ms) {
        summary_.set_deadline_misses(summary_.deadline_misses() + 1);
      }
      last_end = std::max(last_end, e.end_ms);
      running_.erase(std::find(running_.begin(), running_.end(), e.job));
    }
    while (next_submit < jobs_.size() && jobs_[next_submit].submit_ms <= tick) {
      SimJob& job = jobs_[next_submit];
      Advance(job.submit_ms, options.timeline);
      job.state = SimJob::kPending;
      job.queued_since = job.submit_ms;
      pending_.push_back(static_cast<int>(next_submit));
      ++next_submit;
    }
    Advance(tick, options.timeline);
    RunPasses(tick);
  }
  const int64_t end_time = stopped_by_horizon ? stop : std::max(last_end, now_);
  Advance(end_time, options.timeline);

  for (const SimJob& job : jobs_) {
    if (job.state == SimJob::kDone) continue;
    if (job.state != SimJob::kRunning) {
      summary_.set_jobs_never_started(summary_.jobs_never_started() + (job.ever_started ? 0 : 1));
      if (job.last_wait == static_cast<int>(sched::WaitCode::kUnsatisfiable)) {
        summary_.set_jobs_unsatisfiable(summary_.jobs_unsatisfiable() + 1);
      }
    }
    if (job.deadline_ms > 0 && (!stopped_by_horizon || job.deadline_ms <= end_time)) {
      summary_.set_deadline_misses(summary_.deadline_misses() + 1);
    }
  }
  const int64_t span = std::max<int64_t>(1, end_time - first_submit_);
  SetDurationMs(summary_.mutable_makespan(), end_time - first_submit_);
  auto mean = [&](int r) {
    return total_capacity_[r] > 0 ? integral_[r] / (static_cast<double>(total_capacity_[r]) *
                                                    static_cast<double>(span))
                                  : 0.0;
  };
  summary_.set_mean_cpu_utilization(mean(sched::kCpu));
  summary_.set_mean_memory_utilization(mean(sched::kMemory));
  summary_.set_mean_gpu_utilization(mean(sched::kGpu));

  std::vector<int> by_name(model_.projects.size());
  for (size_t p = 0; p < by_name.size(); ++p) by_name[p] = static_cast<int>(p);
  std::sort(by_name.begin(), by_name.end(),
            [&](int a, int b) { return model_.projects[a].name < model_.projects[b].name; });
  for (int p : by_name) {
    auto& w = waits_[p];
    if (w.empty()) continue;
    std::sort(w.begin(), w.end());
    auto pct = [&](double q) {
      size_t rank = static_cast<size_t>(q * static_cast<double>(w.size()) + 0.999999);
      return w[std::min(w.size(), std::max<size_t>(1, rank)) - 1];
    };
    auto* s = summary_.add_wait_stats();
    s->set_project(std::string(model_.projects[p].name));
    s->set_jobs_started(static_cast<int64_t>(w.size()));
    SetDurationMs(s->mutable_p50(), pct(0.50));
    SetDurationMs(s->mutable_p90(), pct(0.90));
    SetDurationMs(s->mutable_p99(), pct(0.99));
    SetDurationMs(s->mutable_max_wait(), w.back());
  }
  return summary_;
}

}  // namespace

Result<v1::SimulationSummary> Simulate(const v1::SimulationConfig& config,
                                       const std::vector<v1::TraceRecord>& trace,
                                       const SimulateOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  Simulator sim;
  MLC_RETURN_IF_ERROR(sim.Init(config, trace, options));
  v1::SimulationSummary summary = sim.Run(options);
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  SetDurationMs(summary.mutable_wall_time(), wall.count());
  return summary;
}

Result<v1::SimulateResponse> RunSimulation(const v1::SimulateRequest& request) {
  std::vector<v1::TraceRecord> trace(request.trace().begin(), request.trace().end());
  SimulateOptions options;
  options.horizon_ms = DurationMs(request.horizon());
  std::vector<v1::UtilizationSample> timeline;
  if (request.include_timeline()) options.timeline = &timeline;
  v1::SimulateResponse response;
  MLC_ASSIGN_OR_RETURN(*response.mutable_summary(), Simulate(request.config(), trace, options));
  for (auto& s : timeline) *response.add_timeline() = std::move(s);
  return response;
}

std::vector<v1::Node> MakeNodes(int count, const v1::Resources& capacity, std::string_view prefix) {
  std::vector<v1::Node> nodes;
  nodes.reserve(std::max(0, count));
  for (int i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "-%04d", i + 1);
    v1::Node n;
    n.set_name(std::string(prefix) + name);
    n.set_region("sim");
    *n.mutable_capacity() = capacity;
    n.set_schedulable(true);
    nodes.push_back(std::move(n));
  }
  return nodes;
}

}  // namespace mlcore
