// API tokens kept for servers (`mlc login`), like ~/.netrc: one line "URI TOKEN" per server in
// $MLC_CREDENTIALS, else $XDG_CONFIG_HOME/mlcore/credentials, else ~/.config/mlcore/credentials.
// The file is written atomically with mode 0600 (its directory 0700), and a file that others can
// read is refused, as ssh refuses such keys.
//
// A grpc:// or grpcs:// client sends, in order of precedence: the URI's `token=` query (avoid:
// URIs end up in logs and shell history), $MLC_TOKEN, then the stored token for its target.
#pragma once

#include <string>
#include <string_view>

#include "mlcore/status.h"

namespace mlcore {

// The credentials file's path.
std::string CredentialsPath();

// The stored token for `target` ("grpc://host:7070", as the backend names itself); empty when none.
// Errors: PERMISSION_DENIED (the file is readable by group or others: the message says how to fix).
Result<std::string> LoadToken(std::string_view target);

// Stores the token for `target`, replacing an older one.
Status SaveToken(std::string_view target, std::string_view token);

// Removes the token for `target`. Errors: NOT_FOUND (none stored).
Status ForgetToken(std::string_view target);

}  // namespace mlcore
