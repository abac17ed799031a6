// The one event filter of the registry: by type and by model, as WatchRegistryEvents requests and
// webhooks both express it.
#pragma once

#include <algorithm>
#include <string>

#include "mlcore/v1/registry.pb.h"

namespace mlcore::registry {

// True when `event` is of one of `types` and concerns one of `models` (its name, or the old name
// of a rename); an empty list admits everything.
inline bool EventMatches(const v1::RegistryEvent& event,
                         const google::protobuf::RepeatedField<int>& types,
                         const google::protobuf::RepeatedPtrField<std::string>& models) {
  if (!types.empty() && std::find(types.begin(), types.end(), event.type()) == types.end()) {
    return false;
  }
  if (models.empty()) return true;
  auto named = [&](const std::string& m) {
    return !m.empty() && std::find(models.begin(), models.end(), m) != models.end();
  };
  return named(event.model()) || named(event.previous_name());
}

}  // namespace mlcore::registry
