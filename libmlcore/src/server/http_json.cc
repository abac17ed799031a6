// PrintJsonMessage: the proto3 JSON mapping written straight from reflection. protobuf's own
// printer (with always_print_primitive_fields) builds a tree of default-value nodes per message
// and cost about a third of an HTTP job listing's CPU; this writes into one string. Its output
// is the same JSON value as protobuf's (tests/unit/http_json_test.cc compares them); numbers may
// be spelled differently (shortest round-trip form).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "server/http_routes.h"

namespace mlcore::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void AppendEscaped(std::string& out, const std::string& text) {
  out.push_back('"');
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void AppendBase64(std::string& out, const std::string& bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.push_back('"');
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (i < bytes.size()) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  out.push_back('"');
}

template <typename T>
void AppendNumber(std::string& out, T value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

template <typename T>
void AppendFloating(std::string& out, T value) {
  if (std::isnan(value)) {
    out += "\"NaN\"";
  } else if (std::isinf(value)) {
    out += value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    AppendNumber(out, value);
  }
}

void AppendMessage(std::string& out, const Message& message);

// One value of `field` (an element when repeated: index >= 0).
void AppendValue(std::string& out, const Message& message, const FieldDescriptor* field,
                 int index) {
  const Reflection* r = message.GetReflection();
  const bool rep = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      AppendNumber(out,
                   rep ? r->GetRepeatedInt32(message, field, index) : r->GetInt32(message, field));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      AppendNumber(
          out, rep ? r->GetRepeatedUInt32(message, field, index) : r->GetUInt32(message, field));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      out.push_back('"');
      AppendNumber(out,
                   rep ? r->GetRepeatedInt64(message, field, index) : r->GetInt64(message, field));
      out.push_back('"');
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      out.push_back('"');
      AppendNumber(
          out, rep ? r->GetRepeatedUInt64(message, field, index) : r->GetUInt64(message, field));
      out.push_back('"');
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      AppendFloating(
          out, rep ? r->GetRepeatedDouble(message, field, index) : r->GetDouble(message, field));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      AppendFloating(
          out, rep ? r->GetRepeatedFloat(message, field, index) : r->GetFloat(message, field));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out += (rep ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field))
                 ? "true"
                 : "false";
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number =
          rep ? r->GetRepeatedEnumValue(message, field, index) : r->GetEnumValue(message, field);
      if (field->enum_type()->full_name() == "google.protobuf.NullValue") {
        out += "null";
      } else if (const auto* value = field->enum_type()->FindValueByNumber(number)) {
        AppendEscaped(out, value->name());
      } else {
        AppendNumber(out, number);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& text = rep ? r->GetRepeatedStringReference(message, field, index, &scratch)
                                    : r->GetStringReference(message, field, &scratch);
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        AppendBase64(out, text);
      } else {
        AppendEscaped(out, text);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      AppendMessage(
          out, rep ? r->GetRepeatedMessage(message, field, index) : r->GetMessage(message, field));
      break;
  }
}

// A map entry's key as a JSON object key.
std::string MapKey(const Message& entry, const FieldDescriptor* key) {
  std::string out;
  if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    return entry.GetReflection()->GetString(entry, key);
  }
  AppendValue(out, entry, key, -1);
  if (out.size() >= 2 && out.front() == '"') out = out.substr(1, out.size() - 2);
  return out;
}

void AppendMessage(std::string& out, const Message& message) {
  const Descriptor* type = message.GetDescriptor();
  const std::string& name = type->full_name();
  if (name.starts_with("google.protobuf.")) {
    if (name == "google.protobuf.Timestamp") {
      AppendEscaped(out, google::protobuf::util::TimeUtil::ToString(
                             static_cast<const google::protobuf::Timestamp&>(message)));
      return;
    }
    if (name == "google.protobuf.Duration") {
      AppendEscaped(out, google::protobuf::util::TimeUtil::ToString(
                             static_cast<const google::protobuf::Duration&>(message)));
      return;
    }
    std::string special;  // Struct, Value, wrappers, Any...: protobuf's own mapping
    (void)google::protobuf::util::MessageToJsonString(message, &special);
    out += special;
    return;
  }
  const Reflection* r = message.GetReflection();
  out.push_back('{');
  bool first = true;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (!field->is_repeated() && field->has_presence() && !r->HasField(message, field)) continue;
    if (!first) out.push_back(',');
    first = false;
    AppendEscaped(out, field->json_name());
    out.push_back(':');
    if (field->is_map()) {
      const int n = r->FieldSize(message, field);
      const FieldDescriptor* key = field->message_type()->map_key();
      const FieldDescriptor* value = field->message_type()->map_value();
      std::vector<std::pair<std::string, const Message*>> entries;
      entries.reserve(n);
      for (int e = 0; e < n; ++e) {
        const Message& entry = r->GetRepeatedMessage(message, field, e);
        entries.emplace_back(MapKey(entry, key), &entry);
      }
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      for (size_t e = 0; e < entries.size(); ++e) {
        if (e > 0) out.push_back(',');
        AppendEscaped(out, entries[e].first);
        out.push_back(':');
        AppendValue(out, *entries[e].second, value, -1);
      }
      out.push_back('}');
    } else if (field->is_repeated()) {
      const int n = r->FieldSize(message, field);
      out.push_back('[');
      for (int e = 0; e < n; ++e) {
        if (e > 0) out.push_back(',');
        AppendValue(out, message, field, e);
      }
      out.push_back(']');
    } else {
      AppendValue(out, message, field, -1);
    }
  }
  out.push_back('}');
}

}  // namespace

std::string PrintJsonMessage(const Message& message) {
  std::string out;
  out.reserve(256);
  AppendMessage(out, message);
  return out;
}

}  // namespace mlcore::server
