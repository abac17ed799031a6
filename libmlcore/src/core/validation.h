// Argument validation shared by every backend: Client checks requests once, here, so every
// surface reports identical errors for identical mistakes.
#pragma once

#include <string_view>

#include "mlcore/status.h"

namespace mlcore {

namespace v1 {
class Project;
class Resources;
}  // namespace v1

// Longest name accepted for projects and other DNS-label style names.
inline constexpr size_t kMaxNameLength = 63;
// Page size used when a list request leaves it 0, and the largest accepted.
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

// DNS-label rules: 1-63 of [a-z0-9-], starting and ending with a letter or digit. `kind` names the
// thing in the error ("project", "context"). Errors: INVALID_ARGUMENT explaining the rule.
Status ValidateName(std::string_view kind, std::string_view name);
inline Status ValidateProjectName(std::string_view name) { return ValidateName("project", name); }

// Context names are looser: letters, digits, '-', '_', '.', 1-63 characters.
Status ValidateContextName(std::string_view name);

// Checks a project to be created: name, parent, quotas (non-negative, guarantee <= limit where a
// limit is set).
Status ValidateNewProject(const v1::Project& project);

// Metric, param and tag keys: 1-250 of letters, digits and "_-./ ". Errors: INVALID_ARGUMENT.
Status ValidateMetricKey(std::string_view key);

// An environment variable name: letters, digits and '_', not starting with a digit (secret names
// of jobs and webhooks).
bool IsEnvName(std::string_view name);

// Resolves a requested page size: 0 -> default; negative or above the maximum -> INVALID_ARGUMENT.
Result<int> ResolvePageSize(int requested);

}  // namespace mlcore
