// Running short helper commands (git, nvidia-smi) and capturing their output.
#pragma once

#include <string>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::util {

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout (stderr is discarded)
};

// Runs `argv` (PATH lookup) in `cwd` (empty = current directory) with stdin from /dev/null and
// waits for it. Errors: NOT_FOUND when the program cannot be executed; a non-zero exit is not an
// error (see exit_code). Output beyond `max_output` bytes is discarded.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv, const std::string& cwd = {},
                                 size_t max_output = 64 << 20);

}  // namespace mlcore::util
