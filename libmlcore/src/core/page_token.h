// Opaque page tokens for list rpcs: the last key of the previous page, tagged with the collection
// so a token from one listing is rejected by another.
#pragma once

#include <string>
#include <string_view>

#include "mlcore/status.h"

namespace mlcore {

// Encodes `last_key` of collection `kind` ("projects") as a URL-safe token.
std::string EncodePageToken(std::string_view last_key, std::string_view kind);

// Decodes a token made by EncodePageToken for the same `kind`; an empty token gives an empty key.
// Errors: INVALID_ARGUMENT for a malformed token or one from another listing.
Result<std::string> DecodePageToken(std::string_view token, std::string_view kind);

}  // namespace mlcore
