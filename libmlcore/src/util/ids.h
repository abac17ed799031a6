// Random identifiers for stored objects ("j3f9c0a1b2c4d", "r..."), and batch/request UUIDs.
#pragma once

#include <string>
#include <string_view>

namespace mlcore::util {

// `prefix` followed by `hex_digits` random lowercase hex digits (from a per-thread generator
// seeded by std::random_device).
std::string RandomHexId(std::string_view prefix, int hex_digits = 12);

// True when `s` is `prefix` followed by exactly `hex_digits` hex digits.
bool LooksLikeHexId(std::string_view s, std::string_view prefix, int hex_digits = 12);

// A random RFC 4122 version-4 UUID ("0f8fad5b-d9cb-469f-a165-70867728950e").
std::string RandomUuid();

}  // namespace mlcore::util
