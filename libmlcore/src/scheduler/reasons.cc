// Sentences for people: why a job waits, why a job was preempted.
#include <cstdio>

#include "scheduler/pass.h"

namespace mlcore::sched {
namespace {

std::string Plural(int r, int64_t amount) {
  std::string s = FormatAmount(r, amount) + " ";
  if (r == kGpu) return s + (amount == 1 ? "GPU" : "GPUs");
  if (r == kCpu) return s + (amount == 1000 ? "CPU" : "CPUs");
  return s + "memory";
}

// "2h10m", "45s": how far ahead a time is.
std::string In(int64_t ms) {
  int64_t s = ms / 1000;
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(s / 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s / 3600 % 24));
  }
  return buf;
}

std::string Shape(const Model& m, const JobInfo& job) {
  std::string out;
  const Res& q = job.request;
  if (q[kGpu] > 0) {
    std::string model = job.gpu_model != 0 ? m.strings.Name(job.gpu_model) + " " : "";
    return FormatAmount(kGpu, q[kGpu]) + " free " + model + (q[kGpu] == 1 ? "GPU" : "GPUs");
  }
  if (q[kCpu] > 0)
    out = FormatAmount(kCpu, q[kCpu]) + " free " + (q[kCpu] == 1000 ? "CPU" : "CPUs");
  if (q[kMemory] > 0) {
    if (!out.empty()) out += " and ";
    out += FormatAmount(kMemory, q[kMemory]) + " free memory";
  }
  return out.empty() ? "room" : out;
}

std::string NextFree(const Model& m, const WaitInfo& w) {
  if (w.estimated_start_ms < 0) return "";
  if (w.blocker >= 0 && w.estimated_start_ms > m.now_ms) {
    return "; next free estimated when job " + std::string(m.running[w.blocker].id) + " ends (in " +
           In(w.estimated_start_ms - m.now_ms) + ")";
  }
  if (w.estimated_start_ms > m.now_ms) {
    return "; next free estimated in " + In(w.estimated_start_ms - m.now_ms);
  }
  return "";
}

}  // namespace

std::string FormatWaitReason(const Model& m, const Decision& d) {
  const JobInfo& job = m.pending[d.job];
  const WaitInfo& w = d.wait;
  switch (w.code) {
    case WaitCode::kProjectLimit: {
      std::string project(m.projects[w.project].name);
      std::string name(ResourceName(w.resource));
      if (w.used >= w.limit) {
        return "waiting: project " + project + " at " + name + " limit " +
               FormatAmount(w.resource, w.used) + "/" + FormatAmount(w.resource, w.limit);
      }
      return "waiting: project " + project + " " + name + " limit " +
             FormatAmount(w.resource, w.limit) + " would be exceeded (" +
             FormatAmount(w.resource, w.used) + " used + " + FormatAmount(w.resource, w.need) +
             " requested)";
    }
    case WaitCode::kReservedForGuarantees:
      return "waiting: non-preemptible job beyond project " +
             std::string(m.projects[w.project].name) + "'s guarantee needs " +
             Plural(w.resource, w.need) + " that no other project's guarantee needs, only " +
             FormatAmount(w.resource, w.limit) +
             " is; mark it preemptible to use other projects' idle guarantees";
    case WaitCode::kUnsatisfiable:
      return "waiting: no node can ever hold it: " + w.detail;
    case WaitCode::kPreempting:
      return "waiting: preempting " + std::to_string(w.victims) +
             (w.victims == 1 ? " job" : " jobs") + " to make room within project " +
             std::string(m.projects[job.project].name) + "'s guarantee";
    case WaitCode::kQueueOrder:
      if (w.not_considered > 0) {
        return "waiting: beyond the first " + std::to_string(w.not_considered) +
               " jobs in queue order considered per pass";
      }
      if (w.head >= 0) {
        return "waiting: would delay job " + std::string(m.pending[w.head].id) +
               " (head of the queue) that holds a reservation" +
               (m.tunables.backfill ? "" : "; backfill is disabled");
      }
      return "waiting: behind jobs ahead in the queue";
    case WaitCode::kNoCapacity:
      if (job.replicas > 1) {
        return "waiting: not enough nodes for " + std::to_string(job.replicas) + " replicas with " +
               Shape(m, job) + " each" + NextFree(m, w);
      }
      return "waiting: no node with " + Shape(m, job) + NextFree(m, w);
  }
  return "waiting";
}

std::string FormatPreemptReason(const Model& m, const Decision& d) {
  const JobInfo& f = m.pending[d.for_job];
  return "preempted for job " + std::string(f.id) + " of project " +
         std::string(m.projects[f.project].name) + " (within its guarantee)";
}

}  // namespace mlcore::sched
