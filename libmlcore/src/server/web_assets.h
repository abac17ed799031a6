// The web UI's files, embedded into the server at build time (libmlcore/src/server/web/, built by
// scripts/build-web.sh with npm). The HTTP layer serves them at `/`.
#pragma once

#include <string_view>

namespace mlcore::server {

struct WebAsset {
  std::string_view content_type;  // "text/html; charset=utf-8", "application/javascript", ...
  std::string_view body;
  std::string_view gzip;  // `body` gzip-compressed; empty when it is not worth it (images)
};

// The file at `path` ("/index.html", "/assets/app.js"), or null when there is none.
const WebAsset* FindWebAsset(std::string_view path);

// False when the server was built without the UI (node/npm absent at build time): the HTTP layer
// then answers `/` with a page that says how to build it.
bool WebUiBuilt();

}  // namespace mlcore::server
