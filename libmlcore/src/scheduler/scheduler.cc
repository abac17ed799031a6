// Schedule(): the proto interface of the core. Protos in, compact model, pass, protos out.
#include "scheduler/scheduler.h"

#include <unordered_map>

#include "scheduler/model.h"
#include "scheduler/pass.h"

namespace mlcore {
namespace {

// Waiting jobs are mostly alike (same shape, same cause): their sentences are formatted once.
struct ReasonKey {
  int code, project, resource, blocker, head, victims, not_considered, gpu_model, replicas;
  int64_t used, limit, need, estimate, cpu, memory, gpu;
  friend bool operator==(const ReasonKey&, const ReasonKey&) = default;
};
struct ReasonHash {
  size_t operator()(const ReasonKey& k) const {
    uint64_t h = 1469598103934665603ULL;
    for (int64_t x :
         {int64_t{k.code}, int64_t{k.project}, int64_t{k.resource}, int64_t{k.blocker},
          int64_t{k.head}, int64_t{k.victims}, int64_t{k.not_considered}, int64_t{k.gpu_model},
          int64_t{k.replicas}, k.used, k.limit, k.need, k.estimate, k.cpu, k.memory, k.gpu}) {
      h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ULL;
    }
    return static_cast<size_t>(h);
  }
};

void SetTime(google::protobuf::Timestamp* ts, int64_t ms) {
  ts->set_seconds(ms / 1000);
  ts->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}

}  // namespace

Result<std::vector<v1::SchedulingDecision>> Schedule(const v1::SchedulingState& state,
                                                     const v1::SchedulerConfig& config) {
  MLC_ASSIGN_OR_RETURN(sched::Model model, sched::BuildModel(state));
  model.tunables = sched::TunablesFromProto(config);
  std::vector<sched::Decision> decisions = sched::RunPass(model);

  std::vector<v1::SchedulingDecision> out(decisions.size());
  std::unordered_map<ReasonKey, std::string, ReasonHash> reasons;
  ReasonKey last_key{};
  const std::string* last_reason = nullptr;
  for (size_t i = 0; i < decisions.size(); ++i) {
    // Decisions are in queue order, scattered over the pending jobs: fetch the records (and then
    // the ids they point to) of the decisions ahead of time.
    if (i + 16 < decisions.size() && decisions[i + 16].kind != sched::Decision::kPreempt) {
      const char* p = reinterpret_cast<const char*>(&model.pending[decisions[i + 16].job]);
      __builtin_prefetch(p);
      __builtin_prefetch(p + 64);
    }
    if (i + 8 < decisions.size() && decisions[i + 8].kind != sched::Decision::kPreempt) {
      __builtin_prefetch(model.pending[decisions[i + 8].job].id.data());
    }
    const sched::Decision& d = decisions[i];
    v1::SchedulingDecision& o = out[i];
    switch (d.kind) {
      case sched::Decision::kStart: {
        o.set_job_id(model.pending[d.job].id.data(), model.pending[d.job].id.size());
        auto* start = o.mutable_start();
        for (int n : d.nodes)
          start->add_nodes(model.nodes[n].name.data(), model.nodes[n].name.size());
        break;
      }
      case sched::Decision::kPreempt: {
        o.set_job_id(model.running[d.job].id.data(), model.running[d.job].id.size());
        auto* preempt = o.mutable_preempt();
        preempt->set_reason(sched::FormatPreemptReason(model, d));
        preempt->set_for_job_id(std::string(model.pending[d.for_job].id));
        break;
      }
      case sched::Decision::kWait: {
        const sched::JobInfo& job = model.pending[d.job];
        o.set_job_id(job.id.data(), job.id.size());
        auto* wait = o.mutable_wait();
        const sched::WaitInfo& w = d.wait;
        wait->set_code(static_cast<v1::WaitReason>(static_cast<int>(w.code)));
        ReasonKey key{static_cast<int>(w.code),
                      w.project,
                      w.resource,
                      w.blocker,
                      w.head,
                      w.victims,
                      w.not_considered,
                      job.gpu_model,
                      job.replicas,
                      w.used,
                      w.limit,
                      w.need,
                      w.estimated_start_ms,
                      job.request[sched::kCpu],
                      job.request[sched::kMemory],
                      job.request[sched::kGpu]};
        if (w.code == sched::WaitCode::kPreempting) key.project = job.project;
        if (w.code == sched::WaitCode::kUnsatisfiable) key.head = job.selector;
        // Consecutive waits mostly share their sentence: check the last one before hashing.
        if (last_reason == nullptr || !(key == last_key)) {
          auto it = reasons.find(key);
          if (it == reasons.end()) {
            it = reasons.emplace(key, sched::FormatWaitReason(model, d)).first;
          }
          last_key = key;
          last_reason = &it->second;
        }
        wait->set_reason(*last_reason);
        if (w.estimated_start_ms >= 0) {
          SetTime(wait->mutable_estimated_start_time(), w.estimated_start_ms);
        }
        break;
      }
    }
  }
  return out;
}

Result<std::vector<v1::SchedulingDecision>> Schedule(const v1::SchedulingState& state) {
  return Schedule(state, state.config());
}

}  // namespace mlcore
