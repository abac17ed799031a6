#include "core/yaml_proto.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <utility>

#include <climits>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>
#include <yaml-cpp/yaml.h>

#include "util/strings.h"

namespace mlcore {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

std::string JoinPath(std::string_view base, std::string_view name) {
  return base.empty() ? std::string(name) : std::string(base) + "." + std::string(name);
}

SourcePosition PositionOf(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

// How a YAML value looks, for "got ..." in messages; long scalars are shortened.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      return s.size() > 40 ? Quote(s.substr(0, 37) + "...") : Quote(s);
    }
    default:
      return "nothing";
  }
}

template <typename T>
std::optional<T> ParseNumber(std::string_view s) {
  s = util::TrimSpace(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  T value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

std::optional<double> ParseDouble(std::string_view s) {
  std::string l = util::AsciiLower(util::TrimSpace(s));
  if (l == ".inf" || l == "+.inf" || l == "inf") return std::numeric_limits<double>::infinity();
  if (l == "-.inf" || l == "-inf") return -std::numeric_limits<double>::infinity();
  if (l == ".nan" || l == "nan") return std::numeric_limits<double>::quiet_NaN();
  return ParseNumber<double>(l);
}

std::optional<bool> ParseBool(std::string_view s) {
  std::string l = util::AsciiLower(util::TrimSpace(s));
  if (l == "true" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "no" || l == "off") return false;
  return std::nullopt;
}

// The prefix every value name of `e` shares, up to and including its last '_' ("JOB_STATE_").
std::string EnumPrefix(const pb::EnumDescriptor& e) {
  if (e.value_count() < 2) return {};
  std::string prefix = e.value(0)->name();
  for (int i = 1; i < e.value_count(); ++i) {
    const std::string& name = e.value(i)->name();
    size_t k = 0;
    while (k < prefix.size() && k < name.size() && prefix[k] == name[k]) ++k;
    prefix.resize(k);
  }
  size_t cut = prefix.rfind('_');
  return cut == std::string::npos ? std::string() : prefix.substr(0, cut + 1);
}

std::string EnumShortName(const pb::EnumValueDescriptor& v) {
  std::string prefix = EnumPrefix(*v.type());
  return util::AsciiLower(std::string_view(v.name()).substr(prefix.size()));
}

// Short names of an enum's values, without the UNSPECIFIED zero value.
std::vector<std::string> EnumChoices(const pb::EnumDescriptor& e) {
  std::vector<std::string> out;
  for (int i = 0; i < e.value_count(); ++i) {
    const auto* v = e.value(i);
    if (v->number() == 0 && v->name().ends_with("UNSPECIFIED")) continue;
    out.push_back(EnumShortName(*v));
  }
  return out;
}

const pb::EnumValueDescriptor* FindEnumValue(const pb::EnumDescriptor& e, std::string_view text) {
  std::string name = Upper(util::TrimSpace(text));
  std::replace(name.begin(), name.end(), '-', '_');
  if (const auto* v = e.FindValueByName(name)) return v;
  if (const auto* v = e.FindValueByName(EnumPrefix(e) + name)) return v;
  if (auto number = ParseNumber<int>(text)) return e.FindValueByNumber(*number);
  return nullptr;
}

// What a scalar field accepts, for type errors.
std::string Expected(const FD& field) {
  switch (field.cpp_type()) {
    case FD::CPPTYPE_INT32:
    case FD::CPPTYPE_INT64:
      return "an integer";
    case FD::CPPTYPE_UINT32:
    case FD::CPPTYPE_UINT64:
      return "a non-negative integer";
    case FD::CPPTYPE_DOUBLE:
    case FD::CPPTYPE_FLOAT:
      return "a number";
    case FD::CPPTYPE_BOOL:
      return "true or false";
    case FD::CPPTYPE_ENUM:
      return "one of " + Join(EnumChoices(*field.enum_type()));
    case FD::CPPTYPE_STRING:
      return "a string";
    case FD::CPPTYPE_MESSAGE:
      break;
  }
  const std::string& type = field.message_type()->full_name();
  if (type == "google.protobuf.Duration") return std::string("a duration like ") + kDurationForms;
  if (type == "google.protobuf.Timestamp") return "an RFC 3339 time like 2024-05-01T12:00:00Z";
  return "a mapping of " + field.message_type()->name() + " fields";
}

Status ParseDurationInto(std::string_view text, pb::Message* message) {
  MLC_ASSIGN_OR_RETURN(pb::Duration d, ParseDurationText(text));
  static_cast<pb::Duration*>(message)->CopyFrom(d);
  return Status::Ok();
}

Status ParseTimestampInto(std::string_view text, pb::Message* message) {
  if (!pb::util::TimeUtil::FromString(std::string(util::TrimSpace(text)),
                                      static_cast<pb::Timestamp*>(message))) {
    return InvalidArgumentError("invalid time " + Quote(text) +
                                "; write it in RFC 3339, e.g. 2024-05-01T12:00:00Z");
  }
  return Status::Ok();
}

// Walks one YAML document into a message, appending problems and positions to `result`.
class Converter {
 public:
  Converter(const YamlToProtoOptions& options, YamlToProtoResult* result)
      : options_(options), result_(result) {}

  void MessageFields(const YAML::Node& node, pb::Message* msg, const std::string& path) {
    const pb::Descriptor& desc = *msg->GetDescriptor();
    if (!node.IsMap()) {
      Problem(node.Mark(), "type_mismatch", path,
              (path.empty() ? std::string("the spec") : Quote(path)) + " expects a mapping of " +
                  desc.name() + " fields, got " + Describe(node));
      return;
    }
    std::map<const FD*, SourcePosition> seen;
    std::map<const pb::OneofDescriptor*, const FD*> oneofs;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node value = it->second;
      if (!key_node.IsScalar()) {
        Problem(key_node.Mark(), "type_mismatch", path,
                "keys must be field names, got " + Describe(key_node));
        continue;
      }
      const std::string& key = key_node.Scalar();
      const FD* field = FindField(desc, key);
      if (field == nullptr) {
        UnknownField(desc, key_node, path);
        continue;
      }
      std::string field_path = JoinPath(path, field->name());
      SourcePosition pos = PositionOf(key_node.Mark());
      if (auto [prev, inserted] = seen.emplace(field, pos); !inserted) {
        Problem(key_node.Mark(), "duplicate_field", field_path,
                Quote(field_path) + " is set twice (first at line " +
                    std::to_string(prev->second.line) + ")",
                "keep one of the two");
        continue;
      }
      result_->positions.emplace(field_path, pos);
      if (const auto* oneof = field->real_containing_oneof()) {
        if (auto [other, inserted] = oneofs.emplace(oneof, field); !inserted) {
          Problem(key_node.Mark(), "oneof_conflict", field_path,
                  Quote(other->second->name()) + " and " + Quote(field->name()) +
                      " cannot both be set: they are alternatives of \"" + oneof->name() + "\"",
                  "keep either " + Quote(other->second->name()) + " or " + Quote(field->name()));
          continue;
        }
      }
      if (value.IsNull()) continue;  // `key:` with no value leaves the field unset.
      Field(value, msg, field, field_path);
    }
  }

  void Problem(const YAML::Mark& mark, std::string_view code, const std::string& path,
               std::string message, std::string suggestion = {}) {
    v1::LintProblem p = MakeLintProblem(code, path, std::move(message), std::move(suggestion));
    Locate(&p, mark);
    result_->problems.push_back(std::move(p));
  }

 private:
  void Locate(v1::LintProblem* p, const YAML::Mark& mark) {
    SourcePosition pos = PositionOf(mark);
    p->set_file(options_.file);
    p->set_line(pos.line);
    p->set_column(pos.column);
  }

  static const FD* FindField(const pb::Descriptor& desc, const std::string& key) {
    if (const FD* f = desc.FindFieldByName(key)) return f;
    if (const FD* f = desc.FindFieldByName(ToSnakeCase(key))) return f;
    return desc.FindFieldByCamelcaseName(key);
  }

  void UnknownField(const pb::Descriptor& desc, const YAML::Node& key_node,
                    const std::string& parent) {
    const std::string& key = key_node.Scalar();
    const std::string path = JoinPath(parent, key);
    if (options_.unknown_field_hook) {
      if (auto p = options_.unknown_field_hook(desc, key, path)) {
        Locate(&*p, key_node.Mark());
        p->set_field_path(path);
        result_->problems.push_back(std::move(*p));
        return;
      }
    }
    std::vector<std::string> names;
    names.reserve(static_cast<size_t>(desc.field_count()));
    for (int i = 0; i < desc.field_count(); ++i) names.push_back(desc.field(i)->name());
    std::string guess = ClosestMatch(ToSnakeCase(key), names);
    if (!guess.empty()) result_->guessed_paths.insert(JoinPath(parent, guess));
    std::string where = parent.empty() ? "" : " in " + Quote(parent);
    Problem(key_node.Mark(), "unknown_field", path, "unknown field " + Quote(key) + where,
            guess.empty() ? "known fields: " + Join(names) : "did you mean " + Quote(guess) + "?");
  }

  void Field(const YAML::Node& value, pb::Message* msg, const FD* field, const std::string& path) {
    if (field->is_map()) return MapField(value, msg, field, path);
    if (!field->is_repeated()) return Value(value, msg, field, path);
    if (!value.IsSequence()) {
      std::string hint = "write a list: [a, b] or one \"- item\" per line";
      if (value.IsScalar() && field->cpp_type() == FD::CPPTYPE_STRING) {
        std::vector<std::string> words;
        std::string_view rest = value.Scalar();
        while (!(rest = util::TrimSpace(rest)).empty()) {
          size_t end = 0;
          while (end < rest.size() && !std::isspace(static_cast<unsigned char>(rest[end]))) ++end;
          words.push_back(Quote(rest.substr(0, end)));
          rest.remove_prefix(end);
        }
        hint = "write it as a list: " + field->name() + ": [" + Join(words) + "]";
      }
      Problem(value.Mark(), "type_mismatch", path,
              Quote(path) + " is a list, got " + Describe(value), std::move(hint));
      return;
    }
    for (size_t i = 0; i < value.size(); ++i) {
      const YAML::Node item = value[i];
      std::string item_path = path + "[" + std::to_string(i) + "]";
      result_->positions.emplace(item_path, PositionOf(item.Mark()));
      if (item.IsNull()) {
        Problem(item.Mark(), "type_mismatch", item_path, "empty item in " + Quote(path),
                "remove the empty \"-\" line or give it a value");
        continue;
      }
      Value(item, msg, field, item_path);
    }
  }

  void MapField(const YAML::Node& value, pb::Message* msg, const FD* field,
                const std::string& path) {
    if (!value.IsMap()) {
      Problem(value.Mark(), "type_mismatch", path,
              Quote(path) + " expects a mapping of key: value pairs, got " + Describe(value));
      return;
    }
    const FD* key_field = field->message_type()->map_key();
    const FD* value_field = field->message_type()->map_value();
    std::set<std::string> seen;
    for (auto it = value.begin(); it != value.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node item = it->second;
      if (!key_node.IsScalar()) {
        Problem(key_node.Mark(), "type_mismatch", path,
                "keys of " + Quote(path) + " must be single values, got " + Describe(key_node));
        continue;
      }
      std::string entry_path = JoinPath(path, key_node.Scalar());
      if (!seen.insert(key_node.Scalar()).second) {
        Problem(key_node.Mark(), "duplicate_field", entry_path,
                "key " + Quote(key_node.Scalar()) + " appears twice in " + Quote(path),
                "keep one of the two");
        continue;
      }
      result_->positions.emplace(entry_path, PositionOf(key_node.Mark()));
      pb::Message* entry = msg->GetReflection()->AddMessage(msg, field);
      if (!Scalar(key_node, entry, key_field, entry_path)) {
        msg->GetReflection()->RemoveLast(msg, field);
        continue;
      }
      if (item.IsNull() && value_field->cpp_type() == FD::CPPTYPE_STRING) continue;  // "" value
      Value(item, entry, value_field, entry_path);
    }
  }

  // One value: sets a singular field or appends to a repeated one.
  void Value(const YAML::Node& value, pb::Message* msg, const FD* field, const std::string& path) {
    const pb::Reflection* r = msg->GetReflection();
    if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
      pb::Message* sub =
          field->is_repeated() ? r->AddMessage(msg, field) : r->MutableMessage(msg, field);
      if (!MessageValue(value, sub, *field, path) && !field->is_repeated()) {
        r->ClearField(msg, field);
      }
      return;
    }
    if (!value.IsScalar()) {
      Problem(value.Mark(), "type_mismatch", path,
              Quote(path) + " expects " + Expected(*field) + ", got " + Describe(value));
      return;
    }
    Scalar(value, msg, field, path);
  }

  bool MessageValue(const YAML::Node& value, pb::Message* sub, const FD& field,
                    const std::string& path) {
    const std::string& type = sub->GetDescriptor()->full_name();
    ScalarMessageParser parser;
    if (type == "google.protobuf.Duration") {
      parser = ParseDurationInto;
    } else if (type == "google.protobuf.Timestamp") {
      parser = ParseTimestampInto;
    } else if (auto it = options_.scalar_messages.find(type);
               it != options_.scalar_messages.end()) {
      parser = it->second;
    }
    if (parser && value.IsScalar()) {
      Status s = parser(value.Scalar(), sub);
      if (!s.ok()) Problem(value.Mark(), "type_mismatch", path, Quote(path) + ": " + s.message());
      return s.ok();
    }
    if (!value.IsMap()) {
      Problem(value.Mark(), "type_mismatch", path,
              Quote(path) + " expects " + Expected(field) + ", got " + Describe(value));
      return false;
    }
    MessageFields(value, sub, path);
    return true;
  }

  // Converts a scalar into a non-message field; reports and returns false when it does not fit.
  bool Scalar(const YAML::Node& node, pb::Message* msg, const FD* field, const std::string& path) {
    const pb::Reflection* r = msg->GetReflection();
    const std::string& text = node.Scalar();
    const bool rep = field->is_repeated();
    auto mismatch = [&] {
      Problem(node.Mark(), "type_mismatch", path,
              Quote(path) + " expects " + Expected(*field) + ", got " + Describe(node));
      return false;
    };
    auto out_of_range = [&](std::string_view what) {
      Problem(node.Mark(), "out_of_range", path,
              "value " + text + " of " + Quote(path) + " does not fit " + std::string(what));
      return false;
    };
    switch (field->cpp_type()) {
      case FD::CPPTYPE_INT32: {
        auto v = ParseNumber<int64_t>(text);
        if (!v) return mismatch();
        if (*v < INT32_MIN || *v > INT32_MAX) return out_of_range("a 32-bit integer");
        rep ? r->AddInt32(msg, field, static_cast<int32_t>(*v))
            : r->SetInt32(msg, field, static_cast<int32_t>(*v));
        return true;
      }
      case FD::CPPTYPE_INT64: {
        auto v = ParseNumber<int64_t>(text);
        if (!v) return ParseNumber<double>(text) ? out_of_range("a 64-bit integer") : mismatch();
        rep ? r->AddInt64(msg, field, *v) : r->SetInt64(msg, field, *v);
        return true;
      }
      case FD::CPPTYPE_UINT32: {
        auto v = ParseNumber<uint64_t>(text);
        if (!v) return mismatch();
        if (*v > UINT32_MAX) return out_of_range("a 32-bit unsigned integer");
        rep ? r->AddUInt32(msg, field, static_cast<uint32_t>(*v))
            : r->SetUInt32(msg, field, static_cast<uint32_t>(*v));
        return true;
      }
      case FD::CPPTYPE_UINT64: {
        auto v = ParseNumber<uint64_t>(text);
        if (!v) return mismatch();
        rep ? r->AddUInt64(msg, field, *v) : r->SetUInt64(msg, field, *v);
        return true;
      }
      case FD::CPPTYPE_DOUBLE:
      case FD::CPPTYPE_FLOAT: {
        auto v = ParseDouble(text);
        if (!v) return mismatch();
        if (field->cpp_type() == FD::CPPTYPE_FLOAT) {
          rep ? r->AddFloat(msg, field, static_cast<float>(*v))
              : r->SetFloat(msg, field, static_cast<float>(*v));
        } else {
          rep ? r->AddDouble(msg, field, *v) : r->SetDouble(msg, field, *v);
        }
        return true;
      }
      case FD::CPPTYPE_BOOL: {
        auto v = ParseBool(text);
        if (!v) return mismatch();
        rep ? r->AddBool(msg, field, *v) : r->SetBool(msg, field, *v);
        return true;
      }
      case FD::CPPTYPE_ENUM: {
        const auto* v = FindEnumValue(*field->enum_type(), text);
        if (v == nullptr) {
          std::vector<std::string> choices = EnumChoices(*field->enum_type());
          std::string guess = ClosestMatch(util::AsciiLower(text), choices);
          Problem(node.Mark(), "invalid_value", path,
                  Quote(path) + " expects one of " + Join(choices) + ", got " + Describe(node),
                  guess.empty() ? std::string() : "did you mean " + Quote(guess) + "?");
          return false;
        }
        rep ? r->AddEnum(msg, field, v) : r->SetEnum(msg, field, v);
        return true;
      }
      case FD::CPPTYPE_STRING:
        rep ? r->AddString(msg, field, text) : r->SetString(msg, field, text);
        return true;
      case FD::CPPTYPE_MESSAGE:
        break;
    }
    return mismatch();
  }

  const YamlToProtoOptions& options_;
  YamlToProtoResult* result_;
};

// --- Emitting ---------------------------------------------------------------------------------

// Strings that a YAML reader would take for null, a bool or a number are quoted.
bool NeedsQuotes(const std::string& s) {
  if (s.empty() || s != util::TrimSpace(s)) return true;
  std::string l = util::AsciiLower(s);
  static const std::set<std::string> kSpecial = {"null", "~",  "true", "false", "yes",
                                                 "no",   "on", "off",  "y",     "n"};
  return kSpecial.count(l) > 0 || ParseDouble(s).has_value();
}

void EmitString(YAML::Emitter& out, const std::string& s) {
  if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
  out << s;
}

void EmitMessage(YAML::Emitter& out, const pb::Message& m);

void EmitScalar(YAML::Emitter& out, const pb::Message& m, const FD* f, int index) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      out << (rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      return;
    case FD::CPPTYPE_INT64:
      out << (rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      return;
    case FD::CPPTYPE_UINT32:
      out << (rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      return;
    case FD::CPPTYPE_UINT64:
      out << (rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      return;
    case FD::CPPTYPE_DOUBLE:
    case FD::CPPTYPE_FLOAT: {
      double v = f->cpp_type() == FD::CPPTYPE_FLOAT
                     ? (rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f))
                     : (rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      if (std::isnan(v)) {
        out << ".nan";
      } else if (std::isinf(v)) {
        out << (v > 0 ? ".inf" : "-.inf");
      } else {
        char buf[64];
        auto res = std::to_chars(buf, buf + sizeof buf, v);
        out << std::string(buf, res.ptr);
      }
      return;
    }
    case FD::CPPTYPE_BOOL:
      out << (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f));
      return;
    case FD::CPPTYPE_ENUM: {
      int number = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const auto* v = f->enum_type()->FindValueByNumber(number);
      if (v != nullptr) {
        out << EnumShortName(*v);
      } else {
        out << number;
      }
      return;
    }
    case FD::CPPTYPE_STRING:
      EmitString(out, rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f));
      return;
    case FD::CPPTYPE_MESSAGE:
      EmitMessage(out, rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
      return;
  }
}

void EmitMessage(YAML::Emitter& out, const pb::Message& m) {
  const std::string& type = m.GetDescriptor()->full_name();
  if (type == "google.protobuf.Duration") {
    out << FormatDurationText(static_cast<const pb::Duration&>(m));
    return;
  }
  if (type == "google.protobuf.Timestamp") {
    out << pb::util::TimeUtil::ToString(static_cast<const pb::Timestamp&>(m));
    return;
  }
  const pb::Reflection* r = m.GetReflection();
  std::vector<const FD*> fields;
  r->ListFields(m, &fields);
  std::sort(fields.begin(), fields.end(),
            [](const FD* a, const FD* b) { return a->index() < b->index(); });
  out << YAML::BeginMap;
  for (const FD* f : fields) {
    out << YAML::Key << f->name() << YAML::Value;
    if (f->is_map()) {
      const FD* key_field = f->message_type()->map_key();
      const FD* value_field = f->message_type()->map_value();
      std::vector<std::pair<std::string, const pb::Message*>> entries;
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        const pb::Message& e = r->GetRepeatedMessage(m, f, i);
        YAML::Emitter key_out;
        EmitScalar(key_out, e, key_field, -1);
        entries.emplace_back(key_out.c_str(), &e);
      }
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out << YAML::BeginMap;
      for (const auto& [key, entry] : entries) {
        out << YAML::Key;
        EmitScalar(out, *entry, key_field, -1);
        out << YAML::Value;
        EmitScalar(out, *entry, value_field, -1);
      }
      out << YAML::EndMap;
    } else if (f->is_repeated()) {
      if (f->cpp_type() != FD::CPPTYPE_MESSAGE) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (int i = 0; i < r->FieldSize(m, f); ++i) EmitScalar(out, m, f, i);
      out << YAML::EndSeq;
    } else {
      EmitScalar(out, m, f, -1);
    }
  }
  out << YAML::EndMap;
}

}  // namespace

YamlToProtoResult YamlTextToProto(std::string_view text, const YamlToProtoOptions& options,
                                  google::protobuf::Message* message) {
  message->Clear();
  YamlToProtoResult result;
  Converter converter(options, &result);
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    converter.Problem(e.mark, "syntax_error", "", "YAML syntax error: " + e.msg,
                      text.find('\t') != std::string_view::npos
                          ? "indent with spaces; YAML does not allow tabs for indentation"
                          : "check the indentation, quotes and brackets around this line");
    return result;
  }
  if (docs.empty()) {
    result.positions.emplace("", SourcePosition{1, 1});
    return result;
  }
  SourcePosition root = PositionOf(docs[0].Mark());
  result.positions.emplace("", root.line > 0 ? root : SourcePosition{1, 1});
  if (docs.size() > 1) {
    converter.Problem(
        docs[1].Mark(), "syntax_error", "",
        "the text holds " + std::to_string(docs.size()) + " YAML documents; a spec is exactly one",
        "remove the \"---\" separator or put each spec in its own file");
  }
  try {
    if (!docs[0].IsNull()) converter.MessageFields(docs[0], message, "");
  } catch (const YAML::Exception& e) {  // Not expected from a loaded document; kept total.
    converter.Problem(e.mark, "syntax_error", "", "cannot read the YAML document: " + e.msg);
  }
  SortLintProblems(&result.problems);
  return result;
}

std::string ProtoToYaml(const google::protobuf::Message& message) {
  YAML::Emitter out;
  EmitMessage(out, message);
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

void SortLintProblems(std::vector<v1::LintProblem>* problems) {
  auto key = [](const v1::LintProblem& p) {
    return std::pair<int, int>(p.line() > 0 ? p.line() : INT_MAX, p.column());
  };
  std::stable_sort(problems->begin(), problems->end(),
                   [&](const auto& a, const auto& b) { return key(a) < key(b); });
}

}  // namespace mlcore
