// One scheduling pass over the internal model: the whole decision logic of the core.
//
//   RunPass(model) -> decisions
//
// is a pure function (no clocks, threads, files or randomness); Schedule() in scheduler.h wraps
// it with the proto conversion, and the simulator calls it directly on a model it maintains.
// The Pass class is split by purpose across scheduler.cc (the loop, quotas, reservations),
// fair_share.cc (queue order), placement.cc (node choice) and preemption.cc (victim choice).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/model.h"

namespace mlcore::sched {

enum class WaitCode {
  kProjectLimit = 1,
  kNoCapacity = 2,
  kReservedForGuarantees = 3,
  kQueueOrder = 4,
  kUnsatisfiable = 5,
  kPreempting = 6,
};

// Everything needed to explain a wait to a person (see FormatWaitReason).
struct WaitInfo {
  WaitCode code = WaitCode::kNoCapacity;
  int project = -1;   // kProjectLimit / kReservedForGuarantees: the project that binds
  int resource = -1;  // ... and the resource
  int64_t used = 0, limit = 0, need = 0;
  int blocker = -1;                 // running job whose end frees the room, -1 when unknown
  int head = -1;                    // kQueueOrder: the pending job holding the reservation
  int64_t estimated_start_ms = -1;  // -1 when unknown
  int victims = 0;                  // kPreempting: how many jobs are being preempted
  int not_considered = 0;           // kQueueOrder beyond max_jobs_per_pass: the limit
  std::string detail;               // kUnsatisfiable: why no node can ever hold it
};

struct Decision {
  enum Kind { kStart, kPreempt, kWait };
  Kind kind = kWait;
  int job = -1;            // pending index (start, wait) or running index (preempt)
  std::vector<int> nodes;  // start: node of each replica
  int for_job = -1;        // preempt: the pending job the room is made for
  WaitInfo wait;
};

// Runs one pass. Every pending job gets exactly one start or wait decision; preempt decisions
// name running jobs. Decisions are in the order they were made (queue order).
std::vector<Decision> RunPass(const Model& model);

// "waiting: project ml-research at GPU limit 8/8", ...
std::string FormatWaitReason(const Model& model, const Decision& d);
// "preempted for job train-x2 of project ml-research (within its guarantee)".
std::string FormatPreemptReason(const Model& model, const Decision& d);

// A request shape, the key of the pass's caches.
struct ShapeKey {
  int64_t cpu, memory, gpu;
  int gpu_model, selector, replicas;
  int flags;
  friend bool operator==(const ShapeKey&, const ShapeKey&) = default;
};
struct ShapeHash {
  size_t operator()(const ShapeKey& k) const {
    uint64_t h = 1469598103934665603ULL;
    for (int64_t x : {k.cpu, k.memory, k.gpu, int64_t{k.gpu_model}, int64_t{k.selector},
                      int64_t{k.replicas}, int64_t{k.flags}}) {
      h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ULL;
    }
    return static_cast<size_t>(h);
  }
};

class Pass {
 public:
  explicit Pass(const Model& model);
  std::vector<Decision> Run();

  // --- shared state (public for the helpers in the other files of the pass) ---
  struct Slot {  // one running replica on a node
    int job;
    int64_t end_ms;
  };
  // Reservations of the first jobs that could not start (conservative backfill, up to
  // kMaxReservations, node-disjoint): each holds nodes from its estimated start on.
  struct Reservation {
    bool active = false;
    int head = -1;               // the first job holding a reservation
    int count = 0;               // reservations made this pass
    std::vector<char> reserved;  // per node
    std::vector<int64_t> time;   // per reserved node: when its holder should start
    std::vector<int> holder;     // per reserved node: the pending job holding it
    std::vector<Res> slack;      // per node: what may still be used without delaying the holder
  };
  struct Placement {
    std::vector<int> nodes;
    std::vector<char> used_slack;  // per replica: took slack on a reserved node
  };
  struct PreemptionPlan {
    std::vector<int> nodes;
    std::vector<int> victims;  // running indexes
  };

  // quotas (scheduler.cc)
  int LimitBlocker(const JobInfo& job, int* resource) const;
  bool WithinGuarantee(const JobInfo& job) const;
  bool GuaranteesAllow(const JobInfo& job, int* resource, int64_t* need, int64_t* room) const;
  bool OverGuarantee(int project) const;
  double Share(int project) const;
  void Charge(int project, const Res& amount, bool preemptible, int sign);

  // placement (placement.cc)
  bool Compatible(int node, const JobInfo& job) const;
  std::optional<Placement> FindPlacement(const JobInfo& job, bool respect_reservation);
  // Why no node could ever hold the job; empty when some can. Cached per shape.
  const std::string& Unsatisfiable(const JobInfo& job, int shape);

  // preemption (preemption.cc)
  std::optional<PreemptionPlan> PlanPreemption(const JobInfo& job);

  // estimates and reservations (scheduler.cc)
  void SortNodeEnds();
  int64_t EarliestFit(int node, const Res& request, int* blocker) const;
  void Reserve(int head, int64_t* estimate, int* blocker);

  const Model& m_;
  std::vector<Res> free_;                   // per node
  std::vector<std::vector<Slot>> on_node_;  // running replicas per node
  bool ends_sorted_ = false;
  std::vector<Res> used_;     // per project, descendants included
  std::vector<Res> used_np_;  // the non-preemptible part of used_
  std::vector<std::vector<int>> children_;
  std::vector<int> top_;  // top-level ancestor of each project
  Res total_capacity_;    // of schedulable nodes
  Res committed_;         // sum over top-level projects of max(guaranteed, non-preemptible usage)
  std::vector<char> preempted_;  // per running job
  Reservation reservation_;
  int64_t epoch_ = 0;  // bumps whenever capacity is freed
  // Per-pass caches indexed by the shape of a pending job (request, GPU model, selector,
  // replicas): most of a long queue shares a few shapes.
  std::vector<int> shape_of_;  // per pending job
  int shapes_ = 0;
  // Per shape: the shortest expected duration (kNever = unknown) that failed to place, and the
  // epoch it failed in. Longer jobs of the shape fail too (they may use fewer reserved nodes),
  // until capacity is freed.
  std::vector<std::pair<int64_t, int64_t>> no_fit_;
  std::vector<char> unsat_done_;     // per shape
  std::vector<std::string> unsat_;   // per shape: reason ("" = some node can hold it)
  std::vector<char> estimate_done_;  // per shape
  std::vector<std::pair<int64_t, int>> estimates_;               // per shape: (time, blocker)
  std::vector<std::pair<int64_t, char>> fits_anywhere_;          // per shape: (change epoch, fits)
  std::vector<int> gpu_nodes_, cpu_nodes_;                       // node indexes by kind
  int64_t change_epoch_ = 0;                                     // bumps on any start or preemption
  std::unordered_map<ShapeKey, int64_t, ShapeHash> no_preempt_;  // (shape, project) -> epoch
};

ShapeKey KeyOf(const JobInfo& job, int flags);

}  // namespace mlcore::sched
