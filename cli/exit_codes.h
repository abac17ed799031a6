// The one table from status codes to mlc's exit codes (documented in docs/cli.md).
#pragma once

#include "mlcore/status.h"

namespace mlc {

// Exit codes scripts can rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;     // UNKNOWN, INTERNAL, DATA_LOSS, UNIMPLEMENTED
inline constexpr int kExitUsage = 2;     // bad flags or arguments, INVALID_ARGUMENT, OUT_OF_RANGE
inline constexpr int kExitNotFound = 3;  // NOT_FOUND
inline constexpr int kExitConflict = 4;  // ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED
inline constexpr int kExitDenied = 5;    // PERMISSION_DENIED, UNAUTHENTICATED
inline constexpr int kExitQuota = 6;     // RESOURCE_EXHAUSTED (quota, rate limit, disk full)
inline constexpr int kExitUnavailable = 7;  // UNAVAILABLE, DEADLINE_EXCEEDED (retry later)
inline constexpr int kExitCancelled = 8;    // CANCELLED

int ExitCodeFor(mlcore::StatusCode code);

}  // namespace mlc
