// Capacity of the machine this process runs on, as the local backend's single node.
//
// The only function of the scheduler directory that does I/O (reads /proc and cgroup files, runs
// nvidia-smi); the scheduling core itself never calls it.
#pragma once

#include <string>

#include "mlcore/status.h"
#include "mlcore/v1/scheduling.pb.h"

namespace mlcore {

struct NodeDetectOptions {
  // Node name; empty = the hostname.
  std::string name;
  // Region of the node. Default "local".
  std::string region = "local";
  // Root under which /proc/meminfo and /sys/fs/cgroup are read (tests point it at a fake tree).
  // Default "" = the real root.
  std::string root;
  // Command printing one GPU name per line; empty disables GPU detection. Default: nvidia-smi,
  // only when it is on PATH.
  std::string gpu_query = "nvidia-smi --query-gpu=name --format=csv,noheader";
  // Fields set here replace the detected ones (config `node.capacity` overrides).
  v1::Resources overrides;
};

// Detects cores (online CPUs, capped by the cgroup v2 cpu.max quota), memory (MemTotal of
// /proc/meminfo, capped by cgroup memory.max) and GPUs (count and model from `gpu_query`; none when
// the command is missing or fails). The node is schedulable with no labels or caches.
// Errors: UNAVAILABLE when memory cannot be read at all (no /proc/meminfo).
Result<v1::Node> DetectLocalNode(const NodeDetectOptions& options = {});

// "NVIDIA A100-SXM4-80GB" -> "a100", "Tesla V100-PCIE-16GB" -> "v100", "NVIDIA H100 80GB HBM3" ->
// "h100": the lowercase model token.
std::string NormalizeGpuModel(const std::string& name);

}  // namespace mlcore
