// The web UI when it is not built in: no files (see web_assets.h).
#include "server/web_assets.h"

namespace mlcore::server {

const WebAsset* FindWebAsset(std::string_view /*path*/) { return nullptr; }

bool WebUiBuilt() { return false; }

}  // namespace mlcore::server
