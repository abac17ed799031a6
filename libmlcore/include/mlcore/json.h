// Generic conversion between protobuf messages and JSON, by reflection (proto3 JSON mapping).
//
// Every surface that is not C++ (Python, the C ABI, Go, the CLI's -o json/yaml) exchanges entities
// as JSON produced here, so no entity is declared twice.
#pragma once

#include <string>
#include <string_view>

#include "mlcore/status.h"

namespace google::protobuf {
class Message;
}

namespace mlcore {

struct JsonOptions {
  bool pretty = false;             // indent with two spaces
  bool include_defaults = false;   // print fields holding default values
  bool proto_field_names = false;  // snake_case names as in the .proto (for Python) instead of
                                   // lowerCamelCase
};

// Serializes `message` as proto3 JSON (lowerCamelCase field names, enums by name).
std::string ToJson(const google::protobuf::Message& message, const JsonOptions& options = {});

// Parses proto3 JSON (either lowerCamelCase or original field names) into `message`, replacing its
// contents. Errors: INVALID_ARGUMENT naming the message type and the problem (unknown field,
// wrong type, bad enum value).
Status FromJson(std::string_view json, google::protobuf::Message* message);

}  // namespace mlcore
