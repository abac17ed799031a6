// The simulator: replays a job trace on simulated nodes through the same scheduling core
// (RunPass in pass.h, the function behind Schedule()), with discrete events.
//
// Time advances from event to event (submits, job ends); events are handled at the next multiple
// of SimulationConfig.pass_interval, where one pass runs (and again right away after preemptions,
// so the jobs they make room for start at once). Jobs run exactly their trace duration; the core is
// told that duration as the expected run time. A preempted job goes back to the queue and later
// runs its full duration again. Caches fill as jobs run: a node that ran a job holds its datasets
// and image afterwards.
//
// Deterministic: the same config and trace give the same summary apart from wall_time.
// Thread safety: pure functions apart from the wall-clock reading for wall_time, and LoadTrace,
// which reads a file.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"
#include "mlcore/v1/scheduling.pb.h"

namespace mlcore {
namespace sched {
struct Tunables;
}

struct SimulateOptions {
  // Stop after this much simulated time from the first submit; 0 = until every job has ended or
  // can never start.
  int64_t horizon_ms = 0;
  // When set, receives a utilization sample every sample_interval.
  std::vector<v1::UtilizationSample>* timeline = nullptr;
  // When set, adjusts the core's tunables after they are built from config.scheduler(): the way
  // C++ callers (bench/) reach tunables SchedulerConfig does not carry yet
  // (deadline_horizon_ms, deadline_escalation in scheduler/model.h).
  std::function<void(sched::Tunables&)> adjust_tunables;
};

// Replays `trace`. quota_violations is computed by an independent check of every pass's starts
// against node capacities and project limits (it must be 0). Jobs never started that had a
// deadline count as deadline misses. Errors: INVALID_ARGUMENT naming the trace record (index and
// id) for an unknown project, flavor or priority class, a negative or zero duration, or a record
// with neither flavor nor resources; INVALID_ARGUMENT when there are no nodes.
Result<v1::SimulationSummary> Simulate(const v1::SimulationConfig& config,
                                       const std::vector<v1::TraceRecord>& trace,
                                       const SimulateOptions& options = {});

// The SchedulingService/Simulate rpc: Simulate() with the request's horizon and, when
// include_timeline, the timeline. Errors: as Simulate.
Result<v1::SimulateResponse> RunSimulation(const v1::SimulateRequest& request);

// Parses a trace. Both formats use the same field names:
//   id, submit (seconds from the trace start), project, user, flavor, cpu (cores or "500m"),
//   memory ("16Gi" or bytes), gpu, gpu_model, replicas, duration (seconds), priority (class
//   name), preemptible (true/false/1/0), datasets (CSV: ';'-separated; JSONL: array), image,
//   deadline (seconds after submit; 0 = none).
// Durations and offsets are seconds, or a number with an s/m/h/d suffix ("90m"). CSV needs a
// header line naming its columns; JSONL is one object per line; blank lines and lines starting
// with '#' are skipped. Errors: INVALID_ARGUMENT "line N: ..." naming the field and what is
// accepted.
Result<std::vector<v1::TraceRecord>> ParseTraceCsv(std::string_view text);
Result<std::vector<v1::TraceRecord>> ParseTraceJsonl(std::string_view text);

// Reads a trace file: .jsonl/.json as JSONL, anything else as CSV. Errors: NOT_FOUND (no such
// file), INVALID_ARGUMENT "PATH line N: ..." from parsing.
Result<std::vector<v1::TraceRecord>> LoadTrace(const std::string& path);

// `count` identical schedulable nodes named PREFIX-0001... in region "sim".
std::vector<v1::Node> MakeNodes(int count, const v1::Resources& capacity,
                                std::string_view prefix = "node");

}  // namespace mlcore
