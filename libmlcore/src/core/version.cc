#include "mlcore/version.h"

#ifndef MLC_VERSION
#define MLC_VERSION "0.0.0"
#endif
#ifndef MLC_GIT_COMMIT
#define MLC_GIT_COMMIT "unknown"
#endif
#ifndef MLC_BUILD_TYPE
#define MLC_BUILD_TYPE "unknown"
#endif

namespace mlcore {

std::string_view Version() { return MLC_VERSION; }
std::string_view GitCommit() { return MLC_GIT_COMMIT; }
std::string_view BuildType() { return MLC_BUILD_TYPE; }
std::string_view ApiVersion() { return "v1"; }

}  // namespace mlcore
