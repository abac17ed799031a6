#include "proto_convert.h"

#include <cmath>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include "mlcore/jobs.h"

namespace py = pybind11;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::TimeUtil;

namespace mlcore::python {
namespace {

constexpr const char* kTimestamp = "google.protobuf.Timestamp";
constexpr const char* kDuration = "google.protobuf.Duration";

py::object TimestampToPython(const Message& message) {
  const auto& ts = static_cast<const google::protobuf::Timestamp&>(message);
  py::module_ datetime = py::module_::import("datetime");
  py::object utc = datetime.attr("timezone").attr("utc");
  double seconds = static_cast<double>(ts.seconds()) + ts.nanos() / 1e9;
  return datetime.attr("datetime").attr("fromtimestamp")(seconds, utc);
}

py::object DurationToPython(const Message& message) {
  const auto& d = static_cast<const google::protobuf::Duration&>(message);
  py::module_ datetime = py::module_::import("datetime");
  return datetime.attr("timedelta")(py::arg("seconds") = d.seconds(),
                                    py::arg("microseconds") = d.nanos() / 1000);
}

py::object MessageToPython(const Message& message) {
  const std::string& type = message.GetDescriptor()->full_name();
  if (type == kTimestamp) return TimestampToPython(message);
  if (type == kDuration) return DurationToPython(message);
  return ToPython(message);
}

py::object ScalarToPython(const Message& message, const FieldDescriptor* field, int index) {
  const Reflection* r = message.GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return py::int_(repeated ? r->GetRepeatedInt32(message, field, index)
                               : r->GetInt32(message, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return py::int_(repeated ? r->GetRepeatedInt64(message, field, index)
                               : r->GetInt64(message, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return py::int_(repeated ? r->GetRepeatedUInt32(message, field, index)
                               : r->GetUInt32(message, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return py::int_(repeated ? r->GetRepeatedUInt64(message, field, index)
                               : r->GetUInt64(message, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return py::float_(repeated ? r->GetRepeatedDouble(message, field, index)
                                 : r->GetDouble(message, field));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return py::float_(repeated ? r->GetRepeatedFloat(message, field, index)
                                 : r->GetFloat(message, field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return py::bool_(repeated ? r->GetRepeatedBool(message, field, index)
                                : r->GetBool(message, field));
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value =
          repeated ? r->GetRepeatedEnum(message, field, index) : r->GetEnum(message, field);
      return py::str(value->name());
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s =
          repeated ? r->GetRepeatedString(message, field, index) : r->GetString(message, field);
      if (field->type() == FieldDescriptor::TYPE_BYTES) return py::bytes(s);
      return py::str(s);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageToPython(repeated ? r->GetRepeatedMessage(message, field, index)
                                      : r->GetMessage(message, field));
  }
  return py::none();
}

// --- Python -> proto ---

std::string TypeName(const py::handle& value) {
  return py::str(py::type::of(value).attr("__name__")).cast<std::string>();
}

std::string Describe(const std::string& path, const std::string& what) {
  return "field \"" + path + "\": " + what;
}

const FieldDescriptor* FindField(const Descriptor* d, const std::string& key) {
  if (const auto* f = d->FindFieldByName(key)) return f;
  if (const auto* f = d->FindFieldByCamelcaseName(key)) return f;
  return nullptr;
}

std::string KnownFields(const Descriptor* d) {
  std::string out;
  for (int i = 0; i < d->field_count(); ++i) out += (i ? ", " : "") + d->field(i)->name();
  return out;
}

std::string FillMessage(const py::handle& value, Message* message, const std::string& path);

std::string FillTimestamp(const py::handle& value, Message* message, const std::string& path) {
  auto* ts = static_cast<google::protobuf::Timestamp*>(message);
  py::module_ datetime = py::module_::import("datetime");
  if (py::isinstance(value, datetime.attr("datetime"))) {
    py::object v = py::reinterpret_borrow<py::object>(value);
    if (v.attr("tzinfo").is_none()) {
      return Describe(path,
                      "naive datetime; pass a timezone-aware datetime (e.g. "
                      "datetime.now(timezone.utc))");
    }
    double seconds = v.attr("timestamp")().cast<double>();
    double whole = std::floor(seconds);
    ts->set_seconds(static_cast<int64_t>(whole));
    ts->set_nanos(static_cast<int32_t>(std::lround((seconds - whole) * 1e6)) * 1000);
    return {};
  }
  if (py::isinstance<py::str>(value)) {
    if (!TimeUtil::FromString(value.cast<std::string>(), ts)) {
      return Describe(path, "\"" + value.cast<std::string>() +
                                "\" is not an RFC 3339 time like 2026-01-31T12:00:00Z");
    }
    return {};
  }
  if (py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) {
    double seconds = value.cast<double>();
    double whole = std::floor(seconds);
    ts->set_seconds(static_cast<int64_t>(whole));
    ts->set_nanos(static_cast<int32_t>((seconds - whole) * 1e9));
    return {};
  }
  return Describe(path,
                  "expected a datetime, RFC 3339 text or Unix seconds, got " + TypeName(value));
}

std::string FillDuration(const py::handle& value, Message* message, const std::string& path) {
  auto* d = static_cast<google::protobuf::Duration*>(message);
  py::module_ datetime = py::module_::import("datetime");
  double seconds = 0;
  if (py::isinstance(value, datetime.attr("timedelta"))) {
    seconds = py::reinterpret_borrow<py::object>(value).attr("total_seconds")().cast<double>();
  } else if (py::isinstance<py::str>(value)) {
    auto parsed = mlcore::ParseDurationText(value.cast<std::string>());
    if (!parsed.ok()) return Describe(path, parsed.status().message());
    *d = *parsed;
    return {};
  } else if (py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) {
    seconds = value.cast<double>();
  } else {
    return Describe(path,
                    "expected a timedelta, seconds or text like \"90s\", got " + TypeName(value));
  }
  double whole = std::trunc(seconds);
  d->set_seconds(static_cast<int64_t>(whole));
  d->set_nanos(static_cast<int32_t>(std::lround((seconds - whole) * 1e9)));
  return {};
}

// Sets (or appends, for repeated fields) one scalar or message value.
std::string SetValue(Message* message, const FieldDescriptor* field, const py::handle& value,
                     const std::string& path) {
  const Reflection* r = message->GetReflection();
  const bool rep = field->is_repeated();
  auto want = [&](const char* what) {
    return Describe(path, std::string("expected ") + what + ", got " + TypeName(value));
  };
  const bool is_bool = py::isinstance<py::bool_>(value);
  const bool is_int = py::isinstance<py::int_>(value) && !is_bool;
  // numpy scalars and other number-likes expose __index__ / __float__.
  const bool int_like = is_int || (!is_bool && py::hasattr(value, "__index__"));
  const bool float_like = int_like || py::isinstance<py::float_>(value) ||
                          (!is_bool && py::hasattr(value, "__float__"));
  try {
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        if (!int_like) return want("an integer");
        rep ? r->AddInt32(message, field, value.cast<int32_t>())
            : r->SetInt32(message, field, value.cast<int32_t>());
        return {};
      case FieldDescriptor::CPPTYPE_INT64:
        if (!int_like) return want("an integer");
        rep ? r->AddInt64(message, field, value.cast<int64_t>())
            : r->SetInt64(message, field, value.cast<int64_t>());
        return {};
      case FieldDescriptor::CPPTYPE_UINT32:
        if (!int_like) return want("a non-negative integer");
        rep ? r->AddUInt32(message, field, value.cast<uint32_t>())
            : r->SetUInt32(message, field, value.cast<uint32_t>());
        return {};
      case FieldDescriptor::CPPTYPE_UINT64:
        if (!int_like) return want("a non-negative integer");
        rep ? r->AddUInt64(message, field, value.cast<uint64_t>())
            : r->SetUInt64(message, field, value.cast<uint64_t>());
        return {};
      case FieldDescriptor::CPPTYPE_DOUBLE:
        if (!float_like) return want("a number");
        rep ? r->AddDouble(message, field, value.cast<double>())
            : r->SetDouble(message, field, value.cast<double>());
        return {};
      case FieldDescriptor::CPPTYPE_FLOAT:
        if (!float_like) return want("a number");
        rep ? r->AddFloat(message, field, value.cast<float>())
            : r->SetFloat(message, field, value.cast<float>());
        return {};
      case FieldDescriptor::CPPTYPE_BOOL:
        if (!is_bool) return want("True or False");
        rep ? r->AddBool(message, field, value.cast<bool>())
            : r->SetBool(message, field, value.cast<bool>());
        return {};
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* type = field->enum_type();
        const google::protobuf::EnumValueDescriptor* ev = nullptr;
        if (py::isinstance<py::str>(value)) {
          ev = type->FindValueByName(value.cast<std::string>());
        } else if (int_like) {
          ev = type->FindValueByNumber(value.cast<int>());
        }
        if (ev == nullptr) {
          std::string names;
          for (int i = 0; i < type->value_count(); ++i) {
            names += (i ? ", " : "") + type->value(i)->name();
          }
          return Describe(path, "invalid " + type->name() + " value " +
                                    py::repr(value).cast<std::string>() + "; use one of " + names);
        }
        rep ? r->AddEnum(message, field, ev) : r->SetEnum(message, field, ev);
        return {};
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string s;
        if (field->type() == FieldDescriptor::TYPE_BYTES && py::isinstance<py::bytes>(value)) {
          s = value.cast<std::string>();
        } else if (py::isinstance<py::str>(value)) {
          s = value.cast<std::string>();
        } else {
          return want(field->type() == FieldDescriptor::TYPE_BYTES ? "bytes" : "a string");
        }
        rep ? r->AddString(message, field, std::move(s))
            : r->SetString(message, field, std::move(s));
        return {};
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        Message* sub = rep ? r->AddMessage(message, field) : r->MutableMessage(message, field);
        return FillMessage(value, sub, path);
      }
    }
  } catch (const py::cast_error&) {
    return Describe(
        path, "value " + py::repr(value).cast<std::string>() + " does not fit the field's type");
  }
  return {};
}

std::string FillMessage(const py::handle& value, Message* message, const std::string& path) {
  const Descriptor* d = message->GetDescriptor();
  if (d->full_name() == kTimestamp) return FillTimestamp(value, message, path);
  if (d->full_name() == kDuration) return FillDuration(value, message, path);
  if (!py::isinstance<py::dict>(value) && !py::hasattr(value, "items")) {
    return Describe(path.empty() ? d->name() : path,
                    "expected a dict for " + d->full_name() + ", got " + TypeName(value));
  }
  py::object items = py::reinterpret_borrow<py::object>(value).attr("items")();
  for (py::handle item : items) {
    py::tuple kv = py::reinterpret_borrow<py::tuple>(item);
    if (!py::isinstance<py::str>(kv[0])) {
      return Describe(path, "keys must be strings, got " + TypeName(kv[0]));
    }
    std::string key = kv[0].cast<std::string>();
    std::string field_path = path.empty() ? key : path + "." + key;
    const FieldDescriptor* field = FindField(d, key);
    if (field == nullptr) {
      return "unknown field \"" + field_path + "\" in " + d->full_name() +
             "; known fields: " + KnownFields(d);
    }
    py::handle v = kv[1];
    if (v.is_none()) continue;
    if (field->is_map()) {
      if (!py::isinstance<py::dict>(v)) return Describe(field_path, "expected a dict");
      const Descriptor* entry = field->message_type();
      for (auto [mk, mv] : py::reinterpret_borrow<py::dict>(v)) {
        Message* e = message->GetReflection()->AddMessage(message, field);
        std::string sub = field_path + "[" + py::str(mk).cast<std::string>() + "]";
        if (auto err = SetValue(e, entry->map_key(), mk, sub); !err.empty()) return err;
        if (auto err = SetValue(e, entry->map_value(), mv, sub); !err.empty()) return err;
      }
    } else if (field->is_repeated()) {
      if (py::isinstance<py::str>(v) || py::isinstance<py::dict>(v) ||
          !py::hasattr(v, "__iter__")) {
        return Describe(field_path, "expected a list, got " + TypeName(v));
      }
      int i = 0;
      for (py::handle element : v) {
        std::string sub = field_path + "[" + std::to_string(i++) + "]";
        if (auto err = SetValue(message, field, element, sub); !err.empty()) return err;
      }
    } else {
      if (auto err = SetValue(message, field, v, field_path); !err.empty()) return err;
    }
  }
  return {};
}

}  // namespace

py::dict ToPython(const Message& message) {
  py::dict out;
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->is_map()) {
      py::dict map;
      const Descriptor* entry = field->message_type();
      for (int i = 0; i < r->FieldSize(message, field); ++i) {
        const Message& e = r->GetRepeatedMessage(message, field, i);
        map[ScalarToPython(e, entry->map_key(), -1)] = ScalarToPython(e, entry->map_value(), -1);
      }
      out[py::str(field->name())] = map;
    } else if (field->is_repeated()) {
      py::list list;
      for (int i = 0; i < r->FieldSize(message, field); ++i) {
        list.append(ScalarToPython(message, field, i));
      }
      out[py::str(field->name())] = list;
    } else {
      out[py::str(field->name())] = ScalarToPython(message, field, -1);
    }
  }
  return out;
}

std::string FromPython(const py::handle& value, Message* message) {
  message->Clear();
  if (value.is_none()) return {};
  return FillMessage(value, message, "");
}

}  // namespace mlcore::python
