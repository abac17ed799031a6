// The HTTP/JSON routes of the v1 API, read from the rpcs' (mlcore.v1.http) options
// (proto/mlcore/v1/http.proto), and the translation between HTTP requests and proto messages.
// Used by the HTTP gateway and the OpenAPI generator; no HTTP server in here.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mlcore/status.h"

namespace google::protobuf {
class Descriptor;
class FieldDescriptor;
class Message;
class MethodDescriptor;
}  // namespace google::protobuf

namespace mlcore::server {

struct HttpRoute {
  struct Segment {
    std::string literal;  // a fixed segment, or empty for a variable
    std::string field;    // a variable: the request field path ("project", "header.project")
    bool rest = false;    // {field=**}: the rest of the path
  };
  std::string verb;     // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string pattern;  // as written in the option: "/api/v1/jobs/{id}"
  std::vector<Segment> segments;
  const google::protobuf::MethodDescriptor* method = nullptr;

  // Takes the request from the query string (GET, DELETE) rather than a JSON body.
  bool QueryRequest() const { return verb == "GET" || verb == "DELETE"; }
  // The request fields named by the path's variables.
  std::vector<std::string> PathFields() const;
};

// The field at a dotted path of `type` ("header.project"; proto or JSON names), with the fields
// on the way appended to `trail` when given; null when a part is missing or a message is crossed
// through a repeated field.
const google::protobuf::FieldDescriptor* FieldAtPath(
    const google::protobuf::Descriptor* type, std::string_view path,
    std::vector<const google::protobuf::FieldDescriptor*>* trail);

// Every route of the named services (full names, "mlcore.v1.JobService"). Errors: INTERNAL when
// an rpc has no route, an invalid one, one naming a field its request lacks, or one that
// duplicates another's verb and shape.
Result<std::vector<HttpRoute>> BuildHttpRoutes(const std::vector<std::string>& services);

// The route for `verb` and `path` (already split at '?', not yet percent-decoded), preferring
// literal segments over variables; its path variables (decoded) go into `params`. Null when none
// matches; `*path_known` then tells whether the path matches under another verb (405, not 404).
const HttpRoute* MatchHttpRoute(const std::vector<HttpRoute>& routes, std::string_view verb,
                                std::string_view path,
                                std::vector<std::pair<std::string, std::string>>* params,
                                bool* path_known);

// Sets request fields named by dotted paths (snake_case or lowerCamelCase) from text values, as a
// query string or path carries them: each value converted to the field's type (repeated fields
// take every value in order). Errors: INVALID_ARGUMENT naming the parameter.
Status SetFieldsFromText(const std::vector<std::pair<std::string, std::string>>& values,
                         google::protobuf::Message* message);

// The value of the scalar field at a dotted path as text (enums by name), empty when unset.
std::string ScalarFieldText(const google::protobuf::Message& message, std::string_view path);

// Parses a proto3 JSON body into `message` (unknown fields are an error). Errors:
// INVALID_ARGUMENT saying what is wrong.
Status ParseJsonMessage(std::string_view json, google::protobuf::Message* message);

// The message in the proto3 JSON mapping (lowerCamelCase names, every field present).
std::string PrintJsonMessage(const google::protobuf::Message& message);

// The HTTP status of a gRPC code (Google's mapping: NOT_FOUND 404, INVALID_ARGUMENT 400, ...).
int HttpStatusOf(StatusCode code);

// The JSON error body: {"error": {"code": 404, "status": "NOT_FOUND", "message": "..."}}.
std::string JsonErrorBody(const Status& status);

// The OpenAPI 3.1 document of `routes` (JSON text).
std::string OpenApiDocument(const std::vector<HttpRoute>& routes);

}  // namespace mlcore::server
