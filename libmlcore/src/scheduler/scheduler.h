// The scheduling core: a pure function from the state of the world to decisions.
//
//   Schedule(state, config) -> one SchedulingDecision per pending job (start on nodes, or wait
//                              with a reason) plus one per running job to preempt.
//
// No clocks, threads, files or randomness: the time is state.time, so the same input always gives
// the same output. The local runtime, the server and the simulator (simulator.h) all call it.
//
// The rules, in the order a pass applies them to each pending job (queue order: priority, then
// dominant-resource fair share between projects over their guarantees, then age):
//   1. a job no node could ever hold waits (UNSATISFIABLE);
//   2. never above the limit of its project or any ancestor (PROJECT_LIMIT);
//   3. a non-preemptible job beyond its project's guarantee starts only on capacity no other
//      project's guarantee needs (RESERVED_FOR_GUARANTEES);
//   4. it starts on free capacity (best fit + affinity, gangs all-or-nothing) unless that would
//      delay the reservation held by the head of the queue (backfill);
//   5. a job within its project's guarantee preempts preemptible jobs of projects over their
//      guarantees, cheapest first and never more than needed (PREEMPTING);
//   6. the first job that still cannot start reserves the earliest room (NO_CAPACITY with an
//      estimate); later ones wait behind it (QUEUE_ORDER) or for room (NO_CAPACITY).
//
// Thread safety: the functions are pure; call them from any thread.
#pragma once

#include <vector>

#include "mlcore/status.h"
#include "mlcore/v1/scheduling.pb.h"

namespace mlcore {

// Runs one scheduling pass over `state` with the tunables `config` (state.config is ignored).
// Returns one decision per pending job (start or wait) and one preempt decision per running job
// to stop, in decision order. Errors: INVALID_ARGUMENT for an inconsistent state (duplicate node
// or project names, a job naming an unknown project or node, negative requests, a project cycle).
Result<std::vector<v1::SchedulingDecision>> Schedule(const v1::SchedulingState& state,
                                                     const v1::SchedulerConfig& config);

// Same, with state.config as the tunables.
Result<std::vector<v1::SchedulingDecision>> Schedule(const v1::SchedulingState& state);

}  // namespace mlcore
