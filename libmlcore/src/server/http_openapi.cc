// The OpenAPI 3.1 document of the HTTP/JSON routes, generated from the same descriptors the
// gateway serves (so it cannot drift from what the server does).
#include <set>

#include <google/protobuf/descriptor.h>
#include <nlohmann/json.hpp>

#include "server/http_routes.h"

namespace mlcore::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;
using nlohmann::json;

json Ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

class SchemaBuilder {
 public:
  // The schema of a message used by a route, with every message and enum it reaches added to
  // the components.
  json Message(const Descriptor* type) {
    if (auto special = WellKnown(type); !special.is_null()) return special;
    AddMessage(type);
    return Ref(type->full_name());
  }
  // The schema of one value of a field (its element for a repeated one).
  json Value(const FieldDescriptor* field) {
    switch (field->type()) {
      case FieldDescriptor::TYPE_STRING:
        return {{"type", "string"}};
      case FieldDescriptor::TYPE_BYTES:
        return {{"type", "string"}, {"contentEncoding", "base64"}};
      case FieldDescriptor::TYPE_BOOL:
        return {{"type", "boolean"}};
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32:
        return {{"type", "integer"}, {"format", "int32"}};
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        return {{"type", "integer"}, {"format", "uint32"}, {"minimum", 0}};
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64:
        // proto3 JSON writes 64-bit integers as strings and reads either.
        return {{"type", json::array({"string", "integer"})},
                {"format", "int64"},
                {"pattern", "^-?[0-9]+$"}};
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        return {{"type", json::array({"string", "integer"})},
                {"format", "uint64"},
                {"pattern", "^[0-9]+$"}};
      case FieldDescriptor::TYPE_DOUBLE:
      case FieldDescriptor::TYPE_FLOAT:
        // "NaN", "Infinity" and "-Infinity" are strings.
        return {{"type", json::array({"number", "string"})}};
      case FieldDescriptor::TYPE_ENUM:
        AddEnum(field->enum_type());
        return Ref(field->enum_type()->full_name());
      case FieldDescriptor::TYPE_MESSAGE:
      case FieldDescriptor::TYPE_GROUP:
        return Message(field->message_type());
    }
    return json::object();
  }
  json Field(const FieldDescriptor* field) {
    if (field->is_map()) {
      return {{"type", "object"},
              {"additionalProperties", Value(field->message_type()->map_value())}};
    }
    if (field->is_repeated()) return {{"type", "array"}, {"items", Value(field)}};
    return Value(field);
  }
  json& schemas() { return schemas_; }

 private:
  static json WellKnown(const Descriptor* type) {
    const std::string& name = type->full_name();
    if (name == "google.protobuf.Timestamp") return {{"type", "string"}, {"format", "date-time"}};
    if (name == "google.protobuf.Duration")
      return {{"type", "string"}, {"pattern", "^-?[0-9]+(\\.[0-9]+)?s$"}};
    if (name == "google.protobuf.Struct") return {{"type", "object"}};
    if (name == "google.protobuf.Value") return json::object();
    if (name == "google.protobuf.ListValue") return {{"type", "array"}};
    if (name == "google.protobuf.Empty") return {{"type", "object"}};
    if (name == "google.protobuf.FieldMask") return {{"type", "string"}};
    if (name == "google.protobuf.Any") return {{"type", "object"}};
    if (name == "google.protobuf.StringValue" || name == "google.protobuf.BytesValue")
      return {{"type", "string"}};
    if (name == "google.protobuf.BoolValue") return {{"type", "boolean"}};
    if (name == "google.protobuf.DoubleValue" || name == "google.protobuf.FloatValue")
      return {{"type", json::array({"number", "string"})}};
    if (name == "google.protobuf.Int32Value" || name == "google.protobuf.UInt32Value")
      return {{"type", "integer"}};
    if (name == "google.protobuf.Int64Value" || name == "google.protobuf.UInt64Value")
      return {{"type", json::array({"string", "integer"})}};
    return nullptr;
  }
  void AddEnum(const EnumDescriptor* type) {
    if (!seen_.insert(type->full_name()).second) return;
    json names = json::array();
    for (int i = 0; i < type->value_count(); ++i) names.push_back(type->value(i)->name());
    schemas_[type->full_name()] = {{"type", "string"}, {"enum", names}};
  }
  void AddMessage(const Descriptor* type) {
    if (!seen_.insert(type->full_name()).second) return;
    schemas_[type->full_name()] = json::object();  // placeholder against recursion
    json properties = json::object();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      properties[field->json_name()] = Field(field);
    }
    schemas_[type->full_name()] = {
        {"type", "object"}, {"properties", properties}, {"additionalProperties", false}};
  }

  json schemas_ = json::object();
  std::set<std::string> seen_;
};

// A query parameter per scalar (or repeated scalar) field of the request not in the path, with
// nested messages' fields as dotted names (two levels deep).
void QueryParameters(SchemaBuilder& builder, const Descriptor* type, const std::string& prefix,
                     const std::set<std::string>& in_path, int depth, json& out) {
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    const std::string name = prefix + field->name();
    if (in_path.count(name) > 0) continue;
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field->is_map()) {
      const std::string& full = field->message_type()->full_name();
      const bool scalar_like = full == "google.protobuf.Timestamp" ||
                               full == "google.protobuf.Duration" ||
                               full == "google.protobuf.FieldMask";
      if (!scalar_like) {
        if (!field->is_repeated() && depth < 2)
          QueryParameters(builder, field->message_type(), name + ".", in_path, depth + 1, out);
        continue;
      }
    }
    if (field->is_map()) continue;
    json parameter = {
        {"name", name}, {"in", "query"}, {"required", false}, {"schema", builder.Field(field)}};
    if (field->is_repeated()) parameter["explode"] = true;
    out.push_back(parameter);
  }
}

std::string OpenApiPath(const HttpRoute& route) {
  std::string out;
  for (const auto& segment : route.segments) {
    out += "/";
    out += segment.field.empty() ? segment.literal : "{" + segment.field + "}";
  }
  return out;
}

}  // namespace

std::string OpenApiDocument(const std::vector<HttpRoute>& routes) {
  SchemaBuilder builder;
  json paths = json::object();
  for (const HttpRoute& route : routes) {
    const MethodDescriptor* method = route.method;
    const std::string service = method->service()->name();
    json operation = {{"operationId", service + "_" + method->name()},
                      {"tags", json::array({service})},
                      {"summary", method->service()->full_name() + "/" + method->name()}};
    json parameters = json::array();
    std::set<std::string> in_path;
    for (const auto& segment : route.segments) {
      if (segment.field.empty()) continue;
      in_path.insert(segment.field);
      parameters.push_back(
          {{"name", segment.field},
           {"in", "path"},
           {"required", true},
           {"schema", builder.Field(FieldAtPath(method->input_type(), segment.field, nullptr))}});
    }
    if (route.QueryRequest() && !method->client_streaming())
      QueryParameters(builder, method->input_type(), "", in_path, 0, parameters);
    if (!parameters.empty()) operation["parameters"] = parameters;
    if (method->client_streaming()) {
      operation["requestBody"] = {
          {"required", true},
          {"description",
           "newline-delimited JSON: one " + method->input_type()->full_name() + " per line"},
          {"content",
           {{"application/x-ndjson", {{"schema", builder.Message(method->input_type())}}}}}};
    } else if (!route.QueryRequest()) {
      operation["requestBody"] = {
          {"required", false},
          {"content", {{"application/json", {{"schema", builder.Message(method->input_type())}}}}}};
    }
    json ok;
    if (method->server_streaming()) {
      ok = {{"description", "Server-Sent Events: one `data:` event per " +
                                method->output_type()->full_name() +
                                "; a failure ends the stream with `event: error` and an Error"},
            {"content",
             {{"text/event-stream", {{"schema", builder.Message(method->output_type())}}}}}};
    } else {
      ok = {{"description", method->output_type()->full_name()},
            {"content",
             {{"application/json", {{"schema", builder.Message(method->output_type())}}}}}};
    }
    operation["responses"] = {
        {"200", ok},
        {"default",
         {{"description", "an error: the gRPC code's HTTP status (docs/http.md)"},
          {"content", {{"application/json", {{"schema", Ref("Error")}}}}}}}};
    std::string verb = route.verb;
    for (char& c : verb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    paths[OpenApiPath(route)][verb] = operation;
  }
  json& schemas = builder.schemas();
  schemas["Error"] = {
      {"type", "object"},
      {"required", json::array({"error"})},
      {"additionalProperties", false},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", json::array({"code", "status", "message"})},
          {"additionalProperties", false},
          {"properties",
           {{"code", {{"type", "integer"}, {"description", "the HTTP status"}}},
            {"status", {{"type", "string"}, {"description", "the gRPC code's name"}}},
            {"message", {{"type", "string"}}}}}}}}}};
  json doc = {
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "mlcore API"},
        {"version", "v1"},
        {"description",
         "Every rpc of proto/mlcore/v1 as HTTP/JSON (proto3 JSON mapping); generated from the "
         "rpcs' (mlcore.v1.http) options. See docs/http.md."}}},
      {"paths", paths},
      {"components",
       {{"schemas", schemas},
        {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
      {"security", json::array({{{"bearer", json::array()}}})}};
  return doc.dump(1) + "\n";
}

}  // namespace mlcore::server
