// Calling any API method by its gRPC name with JSON in and JSON out.
//
// This is how the thin surfaces reach the core without re-declaring entities: the C ABI
// (mlc_invoke), Python's generic layer and Go all send "mlcore.v1.ProjectService/ListProjects"
// plus a JSON request and get a JSON response, converted by reflection from the generated types.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"

namespace mlcore {

class Client;

// Calls `method` ("mlcore.v1.ProjectService/CreateProject", or the short form
// "ProjectService/CreateProject") with `request_json` (proto3 JSON of its request type; empty means
// an empty request) and returns the proto3 JSON of the response. Errors: NOT_FOUND for an unknown
// method (the message lists the service's methods), INVALID_ARGUMENT for malformed JSON,
// UNIMPLEMENTED for a declared method this client cannot serve yet, and whatever the call returns.
Result<std::string> InvokeJson(Client& client, std::string_view method,
                               std::string_view request_json);

// The full names of every method InvokeJson can serve, sorted.
std::vector<std::string> InvokableMethods();

}  // namespace mlcore
