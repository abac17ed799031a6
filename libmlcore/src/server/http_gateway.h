// `mlc server --http`: every rpc of the v1 API as HTTP/JSON (routes from the (mlcore.v1.http)
// options, see http_routes.h and docs/http.md), the OpenAPI document and the web UI. A thin
// adapter: each request is identified, authorized and run by the same Dispatcher as a gRPC call.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::server {

class Dispatcher;

struct HttpGatewayOptions {
  std::string listen;         // "HOST:PORT" (port 0 picks one)
  std::string tls_cert_file;  // both set: HTTPS
  std::string tls_key_file;
  std::vector<std::string> services;  // full names of the services to route
};

// Splits an HTTP listen address "HOST:PORT" ("[::1]:8080" too). Errors: INVALID_ARGUMENT saying
// the expected form.
Result<std::pair<std::string, int>> ParseHttpListen(const std::string& address);

class HttpGateway {
 public:
  // Binds and starts serving on threads of its own. Errors: INVALID_ARGUMENT (address, TLS
  // files), UNAVAILABLE (cannot bind), INTERNAL (a route in the schema is invalid).
  static Result<std::unique_ptr<HttpGateway>> Start(const HttpGatewayOptions& options,
                                                    Dispatcher& dispatcher);
  virtual ~HttpGateway() = default;
  // "http://HOST:PORT" (or https://) as bound.
  virtual std::string url() const = 0;
  // Stops accepting; open event streams end at their next poll. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace mlcore::server
