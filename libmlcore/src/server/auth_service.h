// The server's AuthService (auth.proto): WhoAmI, tokens and role bindings, with the rules the
// proto states (a token cannot reach further than its creator; other users' tokens need a server
// administrator; roles are granted by the project's admins and a project keeps one ADMIN).
#pragma once

#include <string>

#include "mlcore/status.h"
#include "server/auth_store.h"
#include "server/authz.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace mlcore::server {

// Runs AuthService method `method` ("WhoAmI") for `who`. With `store` null (a server started with
// --insecure-local) only WhoAmI answers, describing the caller as an administrator.
Status HandleAuthCall(const std::string& method, const Principal& who, AuthStore* store,
                      Authorizer* authz, const google::protobuf::Message& request,
                      google::protobuf::Message* response);

}  // namespace mlcore::server
