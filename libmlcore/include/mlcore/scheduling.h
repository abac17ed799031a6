// Scheduling facts and the simulator for the surfaces (CLI `mlc sim`, Python `mlcore.sim`).
// The scheduling core itself is internal (libmlcore/src/scheduler/); these are the parts a user
// drives directly. See docs/scheduler.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"
#include "mlcore/v1/scheduling.pb.h"

namespace mlcore {

// The built-in flavor catalog of `region` (cpu-2-8 ... gpu-8-96-1024).
v1::FlavorCatalog DefaultFlavorCatalog(std::string_view region);

// The resources of one replica of flavor `name`. Errors: INVALID_ARGUMENT listing the catalog.
Result<v1::Resources> ResolveFlavor(const v1::FlavorCatalog& catalog, std::string_view name);

// Replays a trace on simulated nodes through the scheduling core (the body of the
// SchedulingService.Simulate rpc). Errors: INVALID_ARGUMENT for inconsistent configurations.
Result<v1::SimulateResponse> RunSimulation(const v1::SimulateRequest& request);

// Reads a job trace (CSV with a header line, or JSONL), with line-numbered errors.
Result<std::vector<v1::TraceRecord>> LoadTrace(const std::string& path);

// `count` identical nodes named PREFIX-0001, ... with `capacity` (e.g. prefix "node").
std::vector<v1::Node> MakeNodes(int count, const v1::Resources& capacity, std::string_view prefix);

}  // namespace mlcore
