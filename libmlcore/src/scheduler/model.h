// The scheduling core's internal model: compact, flat structs built once from the proto
// interface (SchedulingState) so that a pass over 100,000 pending jobs on 1,000 nodes touches
// integers and indexes, never strings or maps.
//
// Everything here is internal to libmlcore/src/scheduler (and its tests); the public surface is
// scheduler.h. Views (std::string_view) point into the proto the model was built from, or into
// the simulator's own storage: the model must not outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mlcore/status.h"

namespace mlcore {
namespace v1 {
class Resources;
class SchedulingState;
class SchedulerConfig;
}  // namespace v1

namespace sched {

enum ResourceIndex { kCpu = 0, kMemory = 1, kGpu = 2 };
inline constexpr int kNumResources = 3;
// Stands for "no limit" (a zero field of a limit quota); large enough never to bind, small
// enough that adding requests to it cannot overflow.
inline constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max() / 4;
// A time that never comes ("unknown end").
inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// A resource vector in integer base units: CPU millicores, memory bytes, whole GPUs.
struct Res {
  std::array<int64_t, kNumResources> v{};

  int64_t& operator[](int i) { return v[i]; }
  int64_t operator[](int i) const { return v[i]; }
  Res& operator+=(const Res& o) {
    for (int i = 0; i < kNumResources; ++i) v[i] += o.v[i];
    return *this;
  }
  Res& operator-=(const Res& o) {
    for (int i = 0; i < kNumResources; ++i) v[i] -= o.v[i];
    return *this;
  }
  friend Res operator+(Res a, const Res& b) { return a += b; }
  friend Res operator-(Res a, const Res& b) { return a -= b; }
  friend bool operator==(const Res& a, const Res& b) { return a.v == b.v; }
  Res Times(int64_t k) const {
    Res r;
    for (int i = 0; i < kNumResources; ++i) r.v[i] = v[i] * k;
    return r;
  }
  // True when every component is <= the other's.
  bool FitsIn(const Res& o) const { return v[0] <= o.v[0] && v[1] <= o.v[1] && v[2] <= o.v[2]; }
};

Res ResFromProto(const v1::Resources& r);
// "CPU", "memory", "GPU".
std::string_view ResourceName(int r);
// An amount of resource `r` for people: cores ("8", "0.5"), memory ("32Gi"), GPUs ("8").
std::string FormatAmount(int r, int64_t amount);

// Maps strings (GPU models, dataset digests, images, "key=value" labels) to small integers.
// Id 0 is the empty string.
class Interner {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

 public:
  Interner() { names_.emplace_back(); }
  int Intern(std::string_view s);
  // The id of `s`, or -1 when it was never interned.
  int Find(std::string_view s) const;
  const std::string& Name(int id) const { return names_[id]; }

 private:
  std::unordered_map<std::string, int, Hash, std::equal_to<>> ids_;
  std::vector<std::string> names_;
};

struct NodeInfo {
  std::string_view name;
  Res capacity;
  int gpu_model = 0;  // interned model of the node's GPUs; 0 when none or unnamed
  bool schedulable = true;
  std::vector<int> labels;    // interned "key=value", sorted
  std::vector<int> datasets;  // interned digests, sorted
  std::vector<int> images;    // interned images, sorted
};

struct ProjectInfo {
  std::string_view name;
  int parent = -1;  // index, -1 for a top-level project
  Res guaranteed;
  Res limit;  // kUnlimited where the proto says 0
};

struct JobInfo {
  std::string_view id;
  int project = 0;
  Res request;        // one replica
  int gpu_model = 0;  // 0 = any model
  int replicas = 1;
  int priority = 0;
  bool preemptible = false;
  int64_t submit_ms = 0;
  int64_t start_ms = 0;       // running jobs only
  int64_t expected_ms = 0;    // expected run time; 0 = unknown
  int64_t deadline_ms = 0;    // absolute; 0 = none
  std::vector<int> datasets;  // interned digests
  int image = 0;              // interned image; 0 = none
  int selector = 0;           // index into Model::selectors; 0 = no selector
  std::vector<int> nodes;     // running jobs: node index of each replica

  Res Total() const { return request.Times(replicas); }
  // Expected end of a running job; kNever when unknown.
  int64_t ExpectedEnd() const {
    if (expected_ms > 0) return start_ms + expected_ms;
    if (deadline_ms > 0) return deadline_ms;
    return kNever;
  }
};

// SchedulerConfig with every default resolved.
struct Tunables {
  double data_affinity_weight = 1.0;
  double image_affinity_weight = 0.5;
  bool backfill = true;
  int max_jobs_per_pass = 0;  // 0 = all
  bool first_fit = false;     // PLACEMENT_POLICY_FIRST_FIT
  // A pending job is at risk when its latest start (deadline minus expected duration) is at most
  // this far from now. Within its priority, an at-risk job goes ahead of fair share and age,
  // earliest latest start first. 0 disables. (Not in SchedulerConfig yet: C++ callers only.)
  int64_t deadline_horizon_ms = int64_t{2} * 3600 * 1000;
  // When true, at-risk jobs go ahead of every priority, not only within their own: the queue
  // becomes at-risk jobs by latest start, then the usual order. Off by default: the queue
  // order puts priority first. See docs/benchmarks.md (sched.packing) for what it buys.
  bool deadline_escalation = false;
};
Tunables TunablesFromProto(const v1::SchedulerConfig& config);

struct Model {
  int64_t now_ms = 0;
  std::vector<NodeInfo> nodes;
  std::vector<ProjectInfo> projects;
  std::vector<JobInfo> running;
  std::vector<JobInfo> pending;
  Tunables tunables;
  Interner strings;
  // Distinct node selectors (sorted interned "key=value" lists); [0] is the empty selector.
  std::vector<std::vector<int>> selectors{{}};
};

// Builds the model of `state` (which must outlive it). Errors: INVALID_ARGUMENT for duplicate
// node or project names, a parent or job project that does not exist, a project cycle, negative
// requests, or a running job whose nodes do not name its replicas' nodes.
Result<Model> BuildModel(const v1::SchedulingState& state);

// Helpers BuildModel and the simulator share.
int64_t TimestampMs(int64_t seconds, int32_t nanos);
int InternSelector(Model& model, const std::vector<int>& sorted_labels);

}  // namespace sched
}  // namespace mlcore
