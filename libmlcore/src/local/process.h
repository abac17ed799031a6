// Process plumbing of the local runtime: starting detached supervisors, recognising a process
// across time (pid + start time + boot id, so a recycled pid is never mistaken for ours), and
// finding the supervisor executable.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::local {

// Identifies one process incarnation on one boot of the machine.
struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_ticks = 0;  // field 22 of /proc/PID/stat
  std::string boot_id;       // /proc/sys/kernel/random/boot_id
};

// This machine's current boot id ("" when unavailable).
const std::string& BootId();

// The identity of process `pid` now; pid 0 when it does not exist.
ProcessIdentity IdentityOf(pid_t pid);

// True when the process `id` describes is still running (same boot, same pid, same start time).
bool IsAlive(const ProcessIdentity& id);

// Clock ticks since boot now, the unit of ProcessIdentity::start_ticks, read from /proc/uptime: a
// step of the wall clock (NTP, an operator, a faked clock in one process) does not move it, and
// every process of the machine reads the same value. 0 when unavailable.
uint64_t TicksSinceBoot();

// Microseconds in `ticks` clock ticks.
int64_t TicksToMicros(uint64_t ticks);

// Starts `argv` as a daemon: its own session, stdin from /dev/null, stdout and stderr appended to
// `output_path`, not a child of the caller (double fork), so it outlives the caller and never
// becomes its zombie. Returns the daemon's pid once it has been exec'd. Errors: INTERNAL for
// fork/pipe failures, NOT_FOUND when argv[0] cannot be executed.
Result<pid_t> SpawnDetached(const std::vector<std::string>& argv, const std::string& output_path);

// Like SpawnDetached, but the daemon runs `body` in a copy of this process (no exec) and exits
// with its result: a process start without loading the executable and its ~90 shared libraries
// again. Only for a single-threaded caller holding no open SQLite connection (SQLite's locks and
// WAL state do not survive fork); the pass loop of `mlc-supervisor --schedule` is one. One fork,
// not two: the daemon is the caller's child, so the caller reaps it (waitpid) while it lives, and
// init (or the closest subreaper) once it has exited.
Result<pid_t> ForkDetached(const std::function<int()>& body, const std::string& output_path);

// The `mlc-supervisor` executable: $MLC_SUPERVISOR, else next to the binary or shared library
// holding this code (also ../cli and ../libexec/mlcore from it), else on PATH.
// Errors: NOT_FOUND saying where it looked.
Result<std::string> SupervisorBinary();

}  // namespace mlcore::local
