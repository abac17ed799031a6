#include "server/http_routes.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "core/schema_files.h"
#include "mlcore/v1/http.pb.h"

namespace mlcore::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;
using nlohmann::json;

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t at = 0;
  if (path.starts_with('/')) at = 1;
  while (at <= path.size()) {
    const size_t slash = path.find('/', at);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    out.push_back(path.substr(at, end - at));
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

// The field `name` of `type`, by its proto name or its JSON (lowerCamelCase) name.
const FieldDescriptor* FieldByName(const Descriptor* type, std::string_view name) {
  const std::string text(name);
  if (const FieldDescriptor* f = type->FindFieldByName(text)) return f;
  return type->FindFieldByCamelcaseName(text);
}

bool IsWellKnownScalar(const Descriptor* type) {
  const std::string& name = type->full_name();
  return name == "google.protobuf.Timestamp" || name == "google.protobuf.Duration" ||
         name == "google.protobuf.FieldMask" ||
         (name.starts_with("google.protobuf.") && name.ends_with("Value") &&
          name != "google.protobuf.Value");
}

// The JSON value of `text` for a field of this type.
Result<json> TextToJson(const FieldDescriptor* field, const std::string& name,
                        const std::string& text) {
  const auto bad = [&](std::string_view what) {
    return InvalidArgumentError("parameter " + name + "=\"" + text + "\" is not " +
                                std::string(what));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (field->type() == FieldDescriptor::TYPE_BYTES) return json(text);  // base64, as JSON
      return json(text);
    case FieldDescriptor::CPPTYPE_BOOL:
      if (text == "true" || text == "1") return json(true);
      if (text == "false" || text == "0") return json(false);
      return bad("a boolean (true or false)");
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      if (text.empty()) return bad("an integer");
      char* end = nullptr;
      errno = 0;
      (void)std::strtold(text.c_str(), &end);
      if (errno != 0 || end != text.c_str() + text.size()) return bad("an integer");
      return json(text);  // proto3 JSON takes integers as strings: the parser checks the range
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      char* end = nullptr;
      errno = 0;
      const double value = std::strtod(text.c_str(), &end);
      if (text.empty() || errno != 0 || end != text.c_str() + text.size()) return bad("a number");
      return json(value);
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* type = field->enum_type();
      if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit))
        return json(std::atoi(text.c_str()));
      if (type->FindValueByName(text) != nullptr) return json(text);
      // The short form: "RUNNING" for JOB_STATE_RUNNING.
      for (int i = 0; i < type->value_count(); ++i) {
        const std::string& full = type->value(i)->name();
        if (full.size() > text.size() && full.ends_with(text) &&
            full[full.size() - text.size() - 1] == '_') {
          return json(full);
        }
      }
      std::string names;
      for (int i = 0; i < type->value_count(); ++i)
        names += (i ? ", " : "") + type->value(i)->name();
      return bad("one of " + names);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (IsWellKnownScalar(field->message_type())) return json(text);
      return InvalidArgumentError("parameter " + name + " is a message (" +
                                  field->message_type()->full_name() + "): set its fields, as " +
                                  name + ".FIELD=...");
  }
  return bad("valid");
}

}  // namespace

const FieldDescriptor* FieldAtPath(const Descriptor* type, std::string_view path,
                                   std::vector<const FieldDescriptor*>* trail) {
  const FieldDescriptor* field = nullptr;
  size_t at = 0;
  while (true) {
    const size_t dot = path.find('.', at);
    const std::string_view part =
        path.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at);
    if (type == nullptr) return nullptr;
    field = FieldByName(type, part);
    if (field == nullptr) return nullptr;
    if (trail != nullptr) trail->push_back(field);
    if (dot == std::string_view::npos) return field;
    if (field->is_repeated() || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE)
      return nullptr;
    type = field->message_type();
    at = dot + 1;
  }
}

std::vector<std::string> HttpRoute::PathFields() const {
  std::vector<std::string> out;
  for (const auto& s : segments)
    if (!s.field.empty()) out.push_back(s.field);
  return out;
}

Result<std::vector<HttpRoute>> BuildHttpRoutes(const std::vector<std::string>& services) {
  (void)EnsureSchemaLinked();
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  std::vector<HttpRoute> routes;
  std::set<std::string> shapes;
  for (const std::string& name : services) {
    const auto* service = pool->FindServiceByName(name);
    if (service == nullptr) return InternalError("no service " + name + " in the schema");
    for (int i = 0; i < service->method_count(); ++i) {
      const MethodDescriptor* method = service->method(i);
      const std::string rpc = service->full_name() + "/" + method->name();
      const v1::HttpRule& rule = method->options().GetExtension(v1::http);
      HttpRoute route;
      route.method = method;
      int verbs = 0;
      for (const auto& [verb, pattern] :
           {std::pair<const char*, const std::string*>{"GET", &rule.get()},
            {"POST", &rule.post()},
            {"PUT", &rule.put()},
            {"PATCH", &rule.patch()},
            {"DELETE", &rule.delete_()}}) {
        if (pattern->empty()) continue;
        ++verbs;
        route.verb = verb;
        route.pattern = *pattern;
      }
      if (verbs != 1) {
        return InternalError("rpc " + rpc +
                             " needs exactly one HTTP verb in its (mlcore.v1.http) " +
                             "option; it has " + std::to_string(verbs));
      }
      if (!route.pattern.starts_with("/api/v1/"))
        return InternalError("rpc " + rpc + ": route " + route.pattern + " is not under /api/v1/");
      std::string shape = route.verb + " ";
      const auto parts = SplitPath(route.pattern);
      for (size_t p = 0; p < parts.size(); ++p) {
        std::string_view part = parts[p];
        HttpRoute::Segment segment;
        if (part.starts_with('{') && part.ends_with('}')) {
          std::string_view field = part.substr(1, part.size() - 2);
          if (field.ends_with("=**")) {
            if (p + 1 != parts.size())
              return InternalError("rpc " + rpc + ": {...=**} must be the last segment");
            segment.rest = true;
            field.remove_suffix(3);
          }
          const FieldDescriptor* f = FieldAtPath(method->input_type(), field, nullptr);
          if (f == nullptr || f->is_repeated() ||
              f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
            return InternalError("rpc " + rpc + ": route " + route.pattern + " names {" +
                                 std::string(field) + "}, which is not a scalar field of " +
                                 method->input_type()->full_name());
          }
          segment.field = std::string(field);
          shape += segment.rest ? "/**" : "/*";
        } else {
          if (part.empty() || part.find_first_of("{}") != std::string_view::npos)
            return InternalError("rpc " + rpc + ": bad segment in route " + route.pattern);
          segment.literal = std::string(part);
          shape += "/" + segment.literal;
        }
        route.segments.push_back(std::move(segment));
      }
      if (!shapes.insert(shape).second)
        return InternalError("rpc " + rpc + ": route " + route.verb + " " + route.pattern +
                             " duplicates another rpc's route");
      routes.push_back(std::move(route));
    }
  }
  return routes;
}

const HttpRoute* MatchHttpRoute(const std::vector<HttpRoute>& routes, std::string_view verb,
                                std::string_view path,
                                std::vector<std::pair<std::string, std::string>>* params,
                                bool* path_known) {
  const auto parts = SplitPath(path);
  const HttpRoute* best = nullptr;
  std::vector<int> best_score;
  *path_known = false;
  for (const HttpRoute& route : routes) {
    std::vector<int> score;  // per segment: 2 literal, 1 variable, 0 rest; compared in order
    bool ok = true;
    size_t p = 0;
    for (const auto& segment : route.segments) {
      if (segment.rest) {
        ok = p < parts.size() && !parts[p].empty();
        score.push_back(0);
        p = parts.size();
        break;
      }
      if (p >= parts.size()) {
        ok = false;
        break;
      }
      if (!segment.literal.empty()) {
        if (parts[p] != segment.literal) {
          ok = false;
          break;
        }
        score.push_back(2);
      } else {
        if (parts[p].empty()) {
          ok = false;
          break;
        }
        score.push_back(1);
      }
      ++p;
    }
    if (!ok || p != parts.size()) continue;
    if (route.verb != verb) {
      *path_known = true;
      continue;
    }
    if (best == nullptr || score > best_score) {
      best = &route;
      best_score = std::move(score);
    }
  }
  if (best == nullptr) return nullptr;
  params->clear();
  size_t p = 0;
  for (const auto& segment : best->segments) {
    if (segment.rest) {
      std::string rest;
      for (size_t q = p; q < parts.size(); ++q)
        rest += (q > p ? "/" : "") + PercentDecode(parts[q]);
      params->emplace_back(segment.field, std::move(rest));
      break;
    }
    if (!segment.field.empty()) params->emplace_back(segment.field, PercentDecode(parts[p]));
    ++p;
  }
  return best;
}

Status SetFieldsFromText(const std::vector<std::pair<std::string, std::string>>& values,
                         Message* message) {
  if (values.empty()) return Status::Ok();
  json root = json::object();
  for (const auto& [name, text] : values) {
    std::vector<const FieldDescriptor*> trail;
    const FieldDescriptor* field = FieldAtPath(message->GetDescriptor(), name, &trail);
    // A repeated field also answers to its singular: ?state=RUNNING for `states`.
    if (field == nullptr) {
      trail.clear();
      field = FieldAtPath(message->GetDescriptor(), name + "s", &trail);
      if (field != nullptr && !field->is_repeated()) field = nullptr;
    }
    // A map of strings takes one entry per parameter: labels.team=vision.
    if (const size_t dot = name.rfind('.'); field == nullptr && dot != std::string::npos) {
      std::vector<const FieldDescriptor*> map_trail;
      const FieldDescriptor* map =
          FieldAtPath(message->GetDescriptor(), name.substr(0, dot), &map_trail);
      if (map != nullptr && map->is_map() &&
          map->message_type()->map_value()->type() == FieldDescriptor::TYPE_STRING) {
        json* at = &root;
        for (const FieldDescriptor* f : map_trail) {
          json& next = (*at)[f->json_name()];
          if (!next.is_object()) next = json::object();
          at = &next;
        }
        (*at)[name.substr(dot + 1)] = text;
        continue;
      }
    }
    if (field == nullptr) {
      std::string known;
      const Descriptor* type = message->GetDescriptor();
      for (int i = 0; i < type->field_count(); ++i)
        known += (i ? ", " : "") + type->field(i)->name();
      return InvalidArgumentError("unknown parameter \"" + name + "\" for " + type->full_name() +
                                  "; its fields are: " + known);
    }
    json* at = &root;
    for (size_t i = 0; i + 1 < trail.size(); ++i) {
      json& next = (*at)[trail[i]->json_name()];
      if (!next.is_object()) next = json::object();
      at = &next;
    }
    MLC_ASSIGN_OR_RETURN(json value, TextToJson(field, name, text));
    json& slot = (*at)[field->json_name()];
    if (field->is_repeated()) {
      if (!slot.is_array()) slot = json::array();
      slot.push_back(std::move(value));
    } else {
      slot = std::move(value);
    }
  }
  return ParseJsonMessage(root.dump(), message);
}

std::string ScalarFieldText(const Message& message, std::string_view path) {
  std::vector<const FieldDescriptor*> trail;
  if (FieldAtPath(message.GetDescriptor(), path, &trail) == nullptr) return {};
  const Message* at = &message;
  for (size_t i = 0; i + 1 < trail.size(); ++i) {
    if (!at->GetReflection()->HasField(*at, trail[i])) return {};
    at = &at->GetReflection()->GetMessage(*at, trail[i]);
  }
  const FieldDescriptor* f = trail.back();
  const auto* r = at->GetReflection();
  if (f->is_repeated()) return {};
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(*at, f);
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(*at, f) == 0 ? "" : std::to_string(r->GetInt32(*at, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(*at, f) == 0 ? "" : std::to_string(r->GetInt64(*at, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(*at, f) == 0 ? "" : std::to_string(r->GetUInt32(*at, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->GetUInt64(*at, f) == 0 ? "" : std::to_string(r->GetUInt64(*at, f));
    case FieldDescriptor::CPPTYPE_ENUM:
      return r->GetEnumValue(*at, f) == 0 ? "" : r->GetEnum(*at, f)->name();
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(*at, f) ? "true" : "";
    default:
      return {};
  }
}

Status ParseJsonMessage(std::string_view json_text, Message* message) {
  if (json_text.find_first_not_of(" \t\r\n") == std::string_view::npos) return Status::Ok();
  std::unique_ptr<Message> parsed(message->New());
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json_text.data(), json_text.size()), parsed.get(), options);
  if (!status.ok()) {
    return InvalidArgumentError("the JSON does not fit " + message->GetDescriptor()->full_name() +
                                ": " + std::string(status.message()));
  }
  message->MergeFrom(*parsed);
  return Status::Ok();
}

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kCancelled:
      return 499;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kOutOfRange:
      return 400;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kUnknown:
    case StatusCode::kInternal:
    case StatusCode::kDataLoss:
      return 500;
  }
  return 500;
}

std::string JsonErrorBody(const Status& status) {
  json body = {{"error",
                {{"code", HttpStatusOf(status.code())},
                 {"status", std::string(StatusCodeName(status.code()))},
                 {"message", status.message()}}}};
  return body.dump();
}

}  // namespace mlcore::server
