// The HTTP gateway's JSON printer (server/http_json.cc) writes the same JSON value as protobuf's
// printer with always_print_primitive_fields, for every message of the v1 API: empty, and with
// every field set (scalars, repeated, maps, nested messages, one member per oneof).
#include <cmath>
#include <limits>

#include <doctest/doctest.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <nlohmann/json.hpp>

#include "core/schema_files.h"
#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/tracking.pb.h"
#include "server/http_routes.h"

namespace mlcore::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string Reference(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  REQUIRE(google::protobuf::util::MessageToJsonString(message, &out, options).ok());
  return out;
}

void CheckSame(const Message& message) {
  const std::string ours = PrintJsonMessage(message);
  const std::string theirs = Reference(message);
  const auto a = nlohmann::json::parse(ours, nullptr, false);
  const auto b = nlohmann::json::parse(theirs, nullptr, false);
  INFO(message.GetDescriptor()->full_name());
  REQUIRE_FALSE(a.is_discarded());
  INFO("diff:   " << nlohmann::json::diff(b, a).dump());
  CHECK(a == b);
  // And it parses back to the same message.
  std::unique_ptr<Message> back(message.New());
  REQUIRE(ParseJsonMessage(ours, back.get()).ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*back, message));
}

// Sets every field of `message` (messages `depth` levels deep) to a value that is not the
// default, varied by `seed`.
void Fill(Message* message, int depth, int seed) {
  const Descriptor* type = message->GetDescriptor();
  const auto* r = message->GetReflection();
  if (type->full_name() == "google.protobuf.Timestamp" ||
      type->full_name() == "google.protobuf.Duration") {
    r->SetInt64(message, type->FindFieldByName("seconds"), 1700000000 + seed);
    r->SetInt32(message, type->FindFieldByName("nanos"), 500000000);
    return;
  }
  if (type->full_name().starts_with("google.protobuf.")) return;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->real_containing_oneof() != nullptr && f->index_in_oneof() != 0) continue;
    const int copies = f->is_repeated() ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      const int v = seed + c + i;
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r->AddInt32(message, f, -v) : r->SetInt32(message, f, -v);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          f->is_repeated() ? r->AddUInt32(message, f, v) : r->SetUInt32(message, f, v);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          f->is_repeated() ? r->AddInt64(message, f, -(int64_t{1} << 40) - v)
                           : r->SetInt64(message, f, -(int64_t{1} << 40) - v);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          f->is_repeated() ? r->AddUInt64(message, f, (uint64_t{1} << 63) + v)
                           : r->SetUInt64(message, f, (uint64_t{1} << 63) + v);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE: {
          const double d = c == 0 ? 0.1 * v + 1e-7 : -1.5e300;
          f->is_repeated() ? r->AddDouble(message, f, d) : r->SetDouble(message, f, d);
          break;
        }
        case FieldDescriptor::CPPTYPE_FLOAT:
          f->is_repeated() ? r->AddFloat(message, f, 0.25f * v) : r->SetFloat(message, f, 2.5f);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          f->is_repeated() ? r->AddBool(message, f, true) : r->SetBool(message, f, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* e = f->enum_type();
          const int number = e->value(std::min(e->value_count() - 1, 1 + c))->number();
          f->is_repeated() ? r->AddEnumValue(message, f, number)
                           : r->SetEnumValue(message, f, number);
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
          std::string text = f->type() == FieldDescriptor::TYPE_BYTES
                                 ? std::string("\x00\xff\x10 bytes", 9) + std::to_string(v)
                                 : "t\"\\\n\x01 \xc3\xa9 " + std::to_string(v);
          f->is_repeated() ? r->AddString(message, f, text) : r->SetString(message, f, text);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (f->is_map()) {
            Message* entry = r->AddMessage(message, f);
            Fill(entry, depth, v);
            break;
          }
          if (depth <= 0) break;
          Fill(f->is_repeated() ? r->AddMessage(message, f) : r->MutableMessage(message, f),
               depth - 1, v);
          break;
      }
    }
  }
}

TEST_CASE("the HTTP JSON printer agrees with protobuf's on every v1 message") {
  (void)EnsureSchemaLinked();
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int checked = 0;
  for (const char* file :
       {"mlcore/v1/common.proto", "mlcore/v1/jobs.proto", "mlcore/v1/tracking.proto",
        "mlcore/v1/artifacts.proto", "mlcore/v1/registry.proto", "mlcore/v1/data.proto",
        "mlcore/v1/scheduling.proto", "mlcore/v1/projects.proto", "mlcore/v1/auth.proto",
        "mlcore/v1/pipelines.proto"}) {
    const auto* fd = pool->FindFileByName(file);
    REQUIRE(fd != nullptr);
    std::vector<const Descriptor*> types;
    for (int i = 0; i < fd->message_type_count(); ++i) types.push_back(fd->message_type(i));
    for (size_t i = 0; i < types.size(); ++i) {
      for (int n = 0; n < types[i]->nested_type_count(); ++n) {
        if (!types[i]->nested_type(n)->options().map_entry())
          types.push_back(types[i]->nested_type(n));
      }
    }
    for (const Descriptor* type : types) {
      std::unique_ptr<Message> message(
          google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
      CheckSame(*message);
      Fill(message.get(), 2, 3);
      CheckSame(*message);
      ++checked;
    }
  }
  CHECK(checked > 150);
}

TEST_CASE("special numbers, unknown enum values and unset optionals") {
  v1::MetricSeries series;
  series.set_key("loss");
  series.add_values(std::numeric_limits<double>::quiet_NaN());
  series.add_values(std::numeric_limits<double>::infinity());
  series.add_values(-std::numeric_limits<double>::infinity());
  series.add_values(5e-324);
  series.add_values(0.30000000000000004);
  series.add_steps(std::numeric_limits<int64_t>::min());
  series.add_steps(std::numeric_limits<int64_t>::max());
  const auto json = nlohmann::json::parse(PrintJsonMessage(series));
  CHECK(json["values"][0] == "NaN");
  CHECK(json["values"][1] == "Infinity");
  CHECK(json["values"][2] == "-Infinity");
  CHECK(json["values"][3].get<double>() == 5e-324);
  CHECK(json["values"][4].get<double>() == 0.30000000000000004);
  CHECK(json["steps"][0] == "-9223372036854775808");
  CHECK(json["steps"][1] == "9223372036854775807");

  v1::Job job;
  job.set_state(static_cast<v1::JobState>(77));  // a value from a newer server
  CHECK(nlohmann::json::parse(PrintJsonMessage(job))["state"] == 77);
  CheckSame(job);

  v1::WatchMetricsRequest watch;
  watch.set_run_id("r");
  CHECK_FALSE(nlohmann::json::parse(PrintJsonMessage(watch)).contains("afterStep"));
  watch.set_after_step(0);
  CHECK(nlohmann::json::parse(PrintJsonMessage(watch))["afterStep"] == "0");
  CheckSame(watch);
}

}  // namespace
}  // namespace mlcore::server
