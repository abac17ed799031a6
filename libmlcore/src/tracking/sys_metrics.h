// System metrics of a run: CPU, memory, disk and network use of a process tree, and GPU figures
// from nvidia-smi, taken one sample per call (see SystemMetricsSample in
// proto/mlcore/v1/tracking.proto). Linux only: reads /proc.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

namespace mlcore::tracking {

// One GPU's figures (device-wide, not per process). A figure nvidia-smi reports as "[N/A]" or
// "[Not Supported]" is NaN (utilization, power) or -1 (memory).
struct GpuReading {
  int index = 0;                   // nvidia-smi device index
  double utilization_percent = 0;  // 0-100
  int64_t memory_bytes = 0;        // memory in use, bytes
  double power_watts = 0;          // power draw
};

struct SystemSample {
  int64_t time_us = 0;     // when the sample was taken, CLOCK_REALTIME microseconds
  double cpu_percent = 0;  // CPU since the previous sample, percent of one core (200 = 2 cores)
  int64_t rss_bytes = 0;   // resident memory of the tree now (shared pages counted per process)
  int64_t disk_read_bytes = 0;   // storage bytes read since the previous sample
  int64_t disk_write_bytes = 0;  // storage bytes written since the previous sample
  int64_t net_rx_bytes = 0;   // received since the previous sample, network namespace of the root
  int64_t net_tx_bytes = 0;   // sent since the previous sample, idem
  bool io_available = false;  // /proc/PID/io readable for every process (disk_* are 0 otherwise)
  bool root_alive = false;    // the root runs (not exited, not a zombie); all figures 0 otherwise
  int process_count = 0;      // processes of the tree, the root included, zombies excluded
  std::vector<GpuReading> gpus;

  // Calls `fn` for each figure under its metric key from tracking.proto:
  //   system/cpu_percent, system/rss_bytes, system/disk_read_bytes, system/disk_write_bytes
  //   (only when io_available), system/net_rx_bytes, system/net_tx_bytes, and per GPU
  //   system/gpu<index>/utilization_percent, system/gpu<index>/memory_bytes,
  //   system/gpu<index>/power_watts (each only when available: not NaN, memory >= 0).
  // Nothing when root_alive is false: such a sample describes no process.
  void ForEachMetric(const std::function<void(std::string_view key, double value)>& fn) const;
};

// Samples the process tree rooted at a pid: the root and every descendant found through the
// parent pid of each process in /proc (a process orphaned out of the tree stops counting).
//
// Rates cover the time since the previous sample; the constructor takes the baseline, so the first
// Sample() reports the average since the sampler was created (CPU used before is not counted).
//
// CPU of processes that exited between samples is not lost: each process is counted as
// utime+stime+cutime+cstime, and reaping moves a child's whole counter (its own and its reaped
// descendants') into its parent's cutime/cstime. Per process, the sampler remembers the counter it
// has accounted so far; a sample adds the growth of each process, a new process's whole counter
// (it started after the sampler was created), and subtracts the remembered counter of each process
// that has disappeared (it was reaped, so its parent's cutime now holds that amount again). Thus
// every tick is counted once. Disk bytes work the same way (/proc/PID/io includes reaped
// children). Not counted: a child reaped outside the tree (orphaned, then exited), or
// auto-reaped because its parent ignores SIGCHLD; the total is clamped at 0. When the sampler's
// own process is in the tree, the CPU of the nvidia-smi runs it reaps is left out.
//
// Cost: finding the tree reads /proc/PID/stat of every process on the machine (no iostreams),
// plus /proc/PID/io of each tree process: about 1 ms of CPU with 140 processes.
// Not thread-safe: call Sample() from one thread at a time.
class SystemSampler {
 public:
  struct Options {
    // nvidia-smi executable: empty = "nvidia-smi" on PATH (no GPUs when absent), "-" = never.
    std::string nvidia_smi_path;
    // GPU indices to report; empty = those in the root process's CUDA_VISIBLE_DEVICES when it is
    // set to integer indices (set but empty = none; device UUIDs = all), else all. Indices are
    // nvidia-smi's (PCI bus order): CUDA's agree with CUDA_DEVICE_ORDER=PCI_BUS_ID.
    std::vector<int> gpu_indices;
    // nvidia-smi is killed when it has not finished after this long.
    int gpu_timeout_ms = 2000;
  };

  // Consecutive nvidia-smi failures (cannot run, timeout, non-zero exit, unparseable output)
  // after which GPUs are no longer queried.
  static constexpr int kMaxGpuFailures = 3;

  explicit SystemSampler(pid_t root);
  SystemSampler(pid_t root, Options options);

  // One sample. Never throws, never fails: unreadable figures are 0.
  SystemSample Sample() noexcept;

 private:
  struct Tracked {
    uint64_t start_ticks = 0;  // identifies the incarnation of the pid
    int64_t cpu_ticks = 0;     // utime+stime+cutime+cstime accounted so far
    int64_t read_bytes = 0;    // /proc/PID/io figures accounted so far
    int64_t write_bytes = 0;
    bool io_known = false;
  };
  struct NetCounters {
    uint64_t rx = 0;
    uint64_t tx = 0;
  };

  SystemSample Collect(bool baseline);
  void QueryGpus(SystemSample& sample);

  pid_t root_;
  Options options_;
  bool root_gone_ = false;
  uint64_t root_start_ticks_ = 0;
  uint64_t created_ticks_ = 0;  // CLOCK_BOOTTIME at construction, clock ticks
  int64_t last_mono_us_ = 0;
  int64_t helper_cpu_us_ = 0;  // CPU of our nvidia-smi children, in our cutime since last sample
  std::unordered_map<pid_t, Tracked> tracked_;
  std::unordered_map<std::string, NetCounters> net_;
  // GPU querying: resolved executable ("" = not resolved yet), consecutive failures.
  std::string nvidia_smi_;
  bool gpus_disabled_ = false;
  int gpu_failures_ = 0;
};

}  // namespace mlcore::tracking
