// Secret values from owner-only files: the one reader shared by jobs (SECRET_SOURCE_FILE) and
// webhooks.
#pragma once

#include <map>
#include <string>

#include "mlcore/status.h"

namespace mlcore::util {

// `KEY=value` lines (dotenv, `export ` allowed, quotes stripped) or `KEY: value` (simple YAML);
// blank lines and `#` comments are skipped.
std::map<std::string, std::string> ParseSecretsFile(const std::string& text);

// The value of `key` in the secrets file at `path`, for the secret called `name` (used in
// messages). Errors: NOT_FOUND (no file, no key), FAILED_PRECONDITION (the file is readable or
// writable by group or others: the message says to chmod 600), and read errors.
Result<std::string> ReadSecretFromFile(const std::string& name, const std::string& path,
                                       const std::string& key);

}  // namespace mlcore::util
