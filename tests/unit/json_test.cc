#include "mlcore/json.h"

#include <doctest/doctest.h>

#include "mlcore/v1/projects.pb.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

TEST_CASE("messages round-trip through proto3 JSON") {
  v1::Project p;
  p.set_name("ml-research");
  p.mutable_guaranteed()->set_cpu_millis(8000);
  (*p.mutable_labels())["team"] = "recsys";
  p.mutable_create_time()->set_seconds(1700000000);
  std::string json = ToJson(p);
  CHECK(json.find("\"cpuMillis\":\"8000\"") != std::string::npos);
  CHECK(json.find("\"createTime\":\"2023-11-14T22:13:20Z\"") != std::string::npos);
  JsonOptions snake;
  snake.proto_field_names = true;
  CHECK(ToJson(p, snake).find("\"cpu_millis\"") != std::string::npos);
  v1::Project back;
  MLC_CHECK_OK(FromJson(json, &back));
  CHECK(back.SerializeAsString() == p.SerializeAsString());
  MLC_CHECK_OK(FromJson(ToJson(p, snake), &back));
  CHECK(back.name() == "ml-research");
}

TEST_CASE("bad JSON names the message type and the problem") {
  v1::Project p;
  Status unknown = FromJson(R"({"name":"x","colour":"red"})", &p);
  CHECK(unknown.code() == StatusCode::kInvalidArgument);
  CHECK(unknown.message().find("mlcore.v1.Project") != std::string::npos);
  CHECK(unknown.message().find("colour") != std::string::npos);
  CHECK(FromJson("{not json", &p).code() == StatusCode::kInvalidArgument);
  CHECK(FromJson(R"({"guaranteed":{"gpu":"many"}})", &p).code() == StatusCode::kInvalidArgument);
  MLC_CHECK_OK(FromJson("", &p));
}

}  // namespace
}  // namespace mlcore
