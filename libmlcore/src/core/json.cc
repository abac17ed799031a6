#include "mlcore/json.h"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

namespace mlcore {

std::string ToJson(const google::protobuf::Message& message, const JsonOptions& options) {
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = options.pretty;
  print.always_print_primitive_fields = options.include_defaults;
  print.preserve_proto_field_names = options.proto_field_names;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, print);
  // Serializing a well-formed message cannot fail except for invalid Any payloads, which the core
  // never produces; report rather than crash.
  if (!status.ok()) return "{\"error\":\"cannot serialize " + message.GetTypeName() + "\"}";
  return out;
}

Status FromJson(std::string_view json, google::protobuf::Message* message) {
  message->Clear();
  if (json.empty()) return Status::Ok();
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, parse);
  if (!status.ok()) {
    return InvalidArgumentError("invalid JSON for " + message->GetTypeName() + ": " +
                                std::string(status.message()));
  }
  return Status::Ok();
}

}  // namespace mlcore
