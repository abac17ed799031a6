// Calling any API method by its gRPC name with JSON in and JSON out.
//
// This is how the thin surfaces reach the core without re-declaring entities: the C ABI
// (mlc_invoke), Python's generic layer and Go all send "mlcore.v1.ProjectService/ListProjects"
// plus a JSON request and get a JSON response, converted by reflection from the generated types.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/json.h"
#include "mlcore/status.h"

namespace google::protobuf {
class Message;
class MethodDescriptor;
}  // namespace google::protobuf

namespace mlcore {

class Client;

// Finds a method by "mlcore.v1.ProjectService/ListProjects" or "ProjectService/ListProjects".
// Errors: INVALID_ARGUMENT (malformed name), NOT_FOUND (unknown service or method; the message
// lists the known ones).
Result<const google::protobuf::MethodDescriptor*> FindMethod(std::string_view name);

// Calls `method` with `request` (an instance of its input type) and returns its output message.
// Errors: UNIMPLEMENTED for a declared method this client cannot serve yet, and whatever the call
// returns.
Result<std::unique_ptr<google::protobuf::Message>> Invoke(
    Client& client, const google::protobuf::MethodDescriptor* method,
    const google::protobuf::Message& request);

// Calls `method` ("mlcore.v1.ProjectService/CreateProject", or the short form
// "ProjectService/CreateProject") with `request_json` (proto3 JSON of its request type; empty means
// an empty request) and returns the proto3 JSON of the response. Errors: NOT_FOUND for an unknown
// method (the message lists the service's methods), INVALID_ARGUMENT for malformed JSON,
// UNIMPLEMENTED for a declared method this client cannot serve yet, and whatever the call returns.
// `options` shapes the response JSON.
Result<std::string> InvokeJson(Client& client, std::string_view method,
                               std::string_view request_json, const JsonOptions& options = {});

// Calls `method` with `request` and passes each response message to `emit`: every message of a
// server-streaming method, or the one response of a unary method. Returns when the stream ends,
// `emit` returns false, or `keep_going` (polled at least every 250 ms while the stream is idle)
// returns false. Errors: as Invoke's.
Status InvokeStream(Client& client, const google::protobuf::MethodDescriptor* method,
                    const google::protobuf::Message& request,
                    const std::function<bool(const google::protobuf::Message&)>& emit,
                    const std::function<bool()>& keep_going = {});

// Calls `method` like InvokeJson, passing the JSON of each response message to `sink`: every
// message of a server-streaming method ("RegistryService/WatchRegistryEvents",
// "JobService/StreamJobLogs" with follow), or the one response of a unary method. Returns when the
// stream ends, `sink` returns false, or `keep_going` (polled at least every 250 ms while the
// stream is idle) returns false. Errors: as InvokeJson's.
Status InvokeStreamJson(Client& client, std::string_view method, std::string_view request_json,
                        const std::function<bool(const std::string&)>& sink,
                        const std::function<bool()>& keep_going = {},
                        const JsonOptions& options = {});

// The full names of every method InvokeJson or InvokeStreamJson can serve, sorted.
std::vector<std::string> InvokableMethods();

}  // namespace mlcore
