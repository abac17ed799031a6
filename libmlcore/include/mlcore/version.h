// Version of the mlcore library.
#pragma once

#include <string_view>

namespace mlcore {

// Semantic version of this build ("0.1.0").
std::string_view Version();
// Git commit the library was built from, or "unknown".
std::string_view GitCommit();
// CMake build type ("Release", "Debug", ...).
std::string_view BuildType();
// The wire/schema API version ("v1").
std::string_view ApiVersion();

}  // namespace mlcore
