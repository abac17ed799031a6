// Backend URIs: `scheme://authority/path?key=value&...`.
//
// `local://` URIs carry a filesystem path: `local:///abs/dir`, `local://relative/dir` (relative to
// the current directory) and `local://~/dir` (relative to $HOME) are all accepted.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "mlcore/status.h"

namespace mlcore {

struct Uri {
  std::string scheme;                        // lower-cased, e.g. "local", "grpc+unix"
  std::string authority;                     // "host:port" or empty
  std::string path;                          // percent-decoded
  std::map<std::string, std::string> query;  // decoded key/value pairs
  std::string original;                      // the text as given

  // Parses `text`. Errors: INVALID_ARGUMENT naming the text and what is missing.
  static Result<Uri> Parse(std::string_view text);

  // The URI with any query value whose key looks secret (token, password, key) replaced by "***".
  std::string Redacted() const;
};

}  // namespace mlcore
