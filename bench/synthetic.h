// Synthetic workloads for the scheduler benchmarks, modelled on the seed's scale (~1k users,
// ~30k jobs/day, mixed CPU/GPU flavors). examples/gen_trace.py draws from the same distributions
// for people who want a trace file; the benchmark generates in-process so it needs no Python.
#pragma once

#include <cstdint>
#include <vector>

#include "mlcore/v1/scheduling.pb.h"

namespace mlcore::bench {

struct TraceParams {
  int jobs = 30000;  // over one day
  int users = 1000;
  int projects = 40;
  uint64_t seed = 1;
};

// Jobs over 24 h with a diurnal arrival rate; flavors from DefaultFlavorCatalog; lognormal
// durations (CPU median 15 min, GPU median 30 min); 90% have a deadline 6-24 h after submit.
std::vector<v1::TraceRecord> GenerateTrace(const TraceParams& params);

// The node every packing simulation uses: 8 GPUs, 128 cores, 1.5 TiB.
v1::Resources BenchNodeCapacity();

struct PassParams {
  int nodes = 1000;  // 1/8 GPU servers (8 GPUs, 96 cores, 1 TiB), the rest 64 cores, 256 GiB
  int pending = 100000;
  int projects = 50;  // every fifth has a guarantee; every third a limit
  uint64_t seed = 1;
};

// A scheduling state: nodes about 60% full of running jobs (a third preemptible), plus `pending`
// jobs of mixed flavors, priorities and ages waiting.
v1::SchedulingState GeneratePassState(const PassParams& params);

}  // namespace mlcore::bench
