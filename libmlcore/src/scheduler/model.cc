#include "scheduler/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "mlcore/resources.h"
#include "mlcore/v1/scheduling.pb.h"

namespace mlcore::sched {

Res ResFromProto(const v1::Resources& r) {
  Res out;
  out[kCpu] = r.cpu_millis();
  out[kMemory] = r.memory_bytes();
  out[kGpu] = r.gpu();
  return out;
}

std::string_view ResourceName(int r) {
  switch (r) {
    case kCpu:
      return "CPU";
    case kMemory:
      return "memory";
    default:
      return "GPU";
  }
}

std::string FormatAmount(int r, int64_t amount) {
  if (amount >= kUnlimited) return "unlimited";
  if (r == kMemory) return FormatBytes(amount);
  if (r == kCpu) {
    char buf[32];
    if (amount % 1000 == 0) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(amount / 1000));
    } else {
      std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(amount) / 1000.0);
    }
    return buf;
  }
  return std::to_string(amount);
}

int Interner::Intern(std::string_view s) {
  if (s.empty()) return 0;
  auto it = ids_.find(s);
  if (it != ids_.end()) return it->second;
  int id = static_cast<int>(names_.size());
  names_.emplace_back(s);
  ids_.emplace(std::string(s), id);
  return id;
}

int Interner::Find(std::string_view s) const {
  if (s.empty()) return 0;
  auto it = ids_.find(s);
  return it == ids_.end() ? -1 : it->second;
}

Tunables TunablesFromProto(const v1::SchedulerConfig& config) {
  Tunables t;
  if (config.data_affinity_weight() > 0) t.data_affinity_weight = config.data_affinity_weight();
  if (config.data_affinity_weight() < 0) t.data_affinity_weight = 0;
  if (config.image_affinity_weight() > 0) t.image_affinity_weight = config.image_affinity_weight();
  if (config.image_affinity_weight() < 0) t.image_affinity_weight = 0;
  t.backfill = !config.disable_backfill();
  t.max_jobs_per_pass = std::max(0, config.max_jobs_per_pass());
  t.first_fit = config.placement() == v1::PLACEMENT_POLICY_FIRST_FIT;
  return t;
}

int64_t TimestampMs(int64_t seconds, int32_t nanos) { return seconds * 1000 + nanos / 1000000; }

int InternSelector(Model& model, const std::vector<int>& sorted_labels) {
  if (sorted_labels.empty()) return 0;
  for (size_t i = 1; i < model.selectors.size(); ++i) {
    if (model.selectors[i] == sorted_labels) return static_cast<int>(i);
  }
  model.selectors.push_back(sorted_labels);
  return static_cast<int>(model.selectors.size() - 1);
}

namespace {

std::vector<int> InternAll(Interner& strings,
                           const google::protobuf::RepeatedPtrField<std::string>& values) {
  std::vector<int> out;
  out.reserve(values.size());
  for (const auto& v : values) out.push_back(strings.Intern(v));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int> InternLabels(Interner& strings,
                              const google::protobuf::Map<std::string, std::string>& labels) {
  std::vector<int> out;
  out.reserve(labels.size());
  for (const auto& [k, v] : labels) out.push_back(strings.Intern(k + "=" + v));
  std::sort(out.begin(), out.end());
  return out;
}

bool Negative(const Res& r) { return r[kCpu] < 0 || r[kMemory] < 0 || r[kGpu] < 0; }

struct JobContext {
  Model* model;
  const std::unordered_map<std::string_view, int>* projects;
  const std::unordered_map<std::string_view, int>* nodes;
  // Caches for the common case of many jobs sharing a few values.
  std::string_view last_project;
  int last_project_index = -1;
};

Status BuildJob(const v1::SchedulableJob& in, bool running, JobContext& ctx, JobInfo& out) {
  Model& m = *ctx.model;
  out.id = in.id();
  if (in.project() == ctx.last_project && ctx.last_project_index >= 0) {
    out.project = ctx.last_project_index;
  } else {
    auto it = ctx.projects->find(in.project());
    if (it == ctx.projects->end()) {
      return InvalidArgumentError("job \"" + in.id() + "\" names unknown project \"" +
                                  in.project() + "\"; add it to SchedulingState.projects");
    }
    out.project = it->second;
    ctx.last_project = in.project();
    ctx.last_project_index = it->second;
  }
  out.request = ResFromProto(in.resources());
  if (Negative(out.request)) {
    return InvalidArgumentError("job \"" + in.id() + "\" requests negative resources");
  }
  out.gpu_model = m.strings.Intern(in.resources().gpu_model());
  out.replicas = std::max(1, in.replicas());
  out.priority = in.priority();
  out.preemptible = in.preemptible();
  out.submit_ms = TimestampMs(in.submit_time().seconds(), in.submit_time().nanos());
  out.start_ms = TimestampMs(in.start_time().seconds(), in.start_time().nanos());
  out.expected_ms =
      in.expected_duration().seconds() * 1000 + in.expected_duration().nanos() / 1000000;
  if (in.has_deadline_time()) {
    out.deadline_ms = TimestampMs(in.deadline_time().seconds(), in.deadline_time().nanos());
  }
  if (!in.dataset_digests().empty()) out.datasets = InternAll(m.strings, in.dataset_digests());
  out.image = m.strings.Intern(in.image());
  if (!in.node_selector().empty()) {
    out.selector = InternSelector(m, InternLabels(m.strings, in.node_selector()));
  }
  if (running) {
    if (in.nodes_size() != out.replicas) {
      return InvalidArgumentError("running job \"" + in.id() + "\" has " +
                                  std::to_string(out.replicas) + " replicas but lists " +
                                  std::to_string(in.nodes_size()) + " nodes");
    }
    out.nodes.reserve(in.nodes_size());
    for (const auto& name : in.nodes()) {
      auto it = ctx.nodes->find(name);
      if (it == ctx.nodes->end()) {
        return InvalidArgumentError("running job \"" + in.id() + "\" is on unknown node \"" + name +
                                    "\"");
      }
      out.nodes.push_back(it->second);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Model> BuildModel(const v1::SchedulingState& state) {
  Model m;
  m.now_ms = TimestampMs(state.time().seconds(), state.time().nanos());
  m.tunables = TunablesFromProto(state.config());

  std::unordered_map<std::string_view, int> node_index;
  node_index.reserve(state.nodes_size());
  m.nodes.reserve(state.nodes_size());
  for (const auto& n : state.nodes()) {
    if (!node_index.emplace(n.name(), static_cast<int>(m.nodes.size())).second) {
      return InvalidArgumentError("duplicate node name \"" + n.name() + "\"");
    }
    NodeInfo info;
    info.name = n.name();
    info.capacity = ResFromProto(n.capacity());
    info.gpu_model = m.strings.Intern(n.capacity().gpu_model());
    info.schedulable = n.schedulable();
    info.labels = InternLabels(m.strings, n.labels());
    info.datasets = InternAll(m.strings, n.cached_dataset_digests());
    info.images = InternAll(m.strings, n.cached_images());
    m.nodes.push_back(std::move(info));
  }

  std::unordered_map<std::string_view, int> project_index;
  for (const auto& p : state.projects()) {
    if (!project_index.emplace(p.name(), static_cast<int>(m.projects.size())).second) {
      return InvalidArgumentError("duplicate project \"" + p.name() + "\"");
    }
    ProjectInfo info;
    info.name = p.name();
    info.guaranteed = ResFromProto(p.guaranteed());
    info.limit = ResFromProto(p.limit());
    if (Negative(info.guaranteed) || Negative(info.limit)) {
      return InvalidArgumentError("project \"" + p.name() + "\" has a negative quota");
    }
    for (auto& l : info.limit.v) {
      if (l == 0) l = kUnlimited;
    }
    m.projects.push_back(info);
  }
  for (int i = 0; i < state.projects_size(); ++i) {
    const auto& parent = state.projects(i).parent();
    if (parent.empty()) continue;
    auto it = project_index.find(parent);
    if (it == project_index.end()) {
      return InvalidArgumentError("project \"" + state.projects(i).name() +
                                  "\" names unknown parent \"" + parent + "\"");
    }
    m.projects[i].parent = it->second;
  }
  for (size_t i = 0; i < m.projects.size(); ++i) {
    int hops = 0;
    for (int p = m.projects[i].parent; p >= 0; p = m.projects[p].parent) {
      if (++hops > static_cast<int>(m.projects.size())) {
        return InvalidArgumentError("project \"" + std::string(m.projects[i].name) +
                                    "\" is its own ancestor");
      }
    }
  }

  JobContext ctx{&m, &project_index, &node_index, {}, -1};
  m.running.resize(state.running_size());
  for (int i = 0; i < state.running_size(); ++i) {
    MLC_RETURN_IF_ERROR(BuildJob(state.running(i), true, ctx, m.running[i]));
  }
  m.pending.resize(state.pending_size());
  for (int i = 0; i < state.pending_size(); ++i) {
    MLC_RETURN_IF_ERROR(BuildJob(state.pending(i), false, ctx, m.pending[i]));
  }
  return m;
}

}  // namespace mlcore::sched
