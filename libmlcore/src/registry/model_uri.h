// Names and URIs of the model registry (proto/mlcore/v1/registry.proto, "Names and URIs"):
// model and alias name rules, `models:/` URIs, and the "MODEL/VERSION" id of a version's
// ObjectRef. Pure functions, no I/O; shared by Client (validation) and the backends (lookups).
//
// Thread safety: every function is reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mlcore/status.h"

namespace mlcore::registry {

// The alias that always resolves to the highest READY version; never set or deleted.
inline constexpr std::string_view kLatestAlias = "latest";

// The reserved aliases MLflow's stages map onto (LegacyStage), in the order a version's stage is
// derived from them.
inline constexpr std::string_view kStagingAlias = "staging";
inline constexpr std::string_view kProductionAlias = "production";
inline constexpr std::string_view kArchivedAlias = "archived";

// Model names: 1-128 characters of letters, digits, '_', '-' and '.', starting with a letter.
// Errors: INVALID_ARGUMENT stating the rule.
Status ValidateModelName(std::string_view name);

// Alias names: 1-63 characters of lowercase letters, digits, '_' and '-', starting with a letter.
// "latest" passes (it is a valid name to resolve); callers that set or delete refuse it.
// Errors: INVALID_ARGUMENT stating the rule.
Status ValidateAliasName(std::string_view alias);

// A parsed `models:/` URI.
struct ModelUri {
  std::string project;  // empty = the project of the request
  std::string model;
  int64_t version = 0;  // > 0 for the version forms
  std::string alias;    // non-empty for the alias forms ("latest" included)

  // Back to text: `models:/[PROJECT/]NAME/VERSION` or `models:/[PROJECT/]NAME@ALIAS`.
  std::string ToString() const;
};

// Parses `models:/NAME/VERSION`, `models:/NAME@ALIAS`, `models:/PROJECT/NAME/VERSION` or
// `models:/PROJECT/NAME@ALIAS`, validating every name. Errors: INVALID_ARGUMENT naming what is
// wrong and showing the accepted forms.
Result<ModelUri> ParseModelUri(std::string_view uri);

// True when `uri` starts with the `models:` scheme (well-formed or not).
bool IsModelUri(std::string_view uri);

// The id of a version in an ObjectRef of kind MODEL_VERSION: "resnet50/3".
std::string VersionRefId(std::string_view model, int64_t version);

// Parses a "MODEL/VERSION" ObjectRef id. Errors: INVALID_ARGUMENT.
Status ParseVersionRefId(std::string_view id, std::string* model, int64_t* version);

}  // namespace mlcore::registry
