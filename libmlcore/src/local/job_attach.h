// The machinery of attaching to a job on this machine: a command started with pipes (or a
// pseudo-terminal) as an ExecSession, and a loopback TCP connection as a PortConnection. The
// local backend decides what to run and where (local_attach.cc); these only run it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mlcore/attach.h"
#include "mlcore/status.h"

namespace mlcore::local {

// Starts `argv` in `cwd` with exactly `env` ("K=V"), in a process group (with `tty`: a session
// whose controlling terminal is a new pseudo-terminal) of its own. argv[0] without a slash is
// looked up in `env`'s PATH. Errors: NOT_FOUND (no such program, or `cwd` missing),
// PERMISSION_DENIED (not executable), INTERNAL (fork, pipes).
Result<std::unique_ptr<ExecSession>> StartExec(const std::vector<std::string>& argv,
                                               const std::vector<std::string>& env,
                                               const std::string& cwd, bool tty);

// Connects to 127.0.0.1:`port`. `what` names the listener in errors ("job train-x1 port 8888").
// Errors: UNAVAILABLE (nothing listening: connection refused), INTERNAL.
Result<std::unique_ptr<PortConnection>> ConnectLoopback(int port, const std::string& what);

}  // namespace mlcore::local
