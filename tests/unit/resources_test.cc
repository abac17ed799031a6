#include "mlcore/resources.h"

#include <doctest/doctest.h>

namespace mlcore {
namespace {

TEST_CASE("resource quantities parse in every accepted form") {
  auto r = ParseResources("cpu=4, memory=32Gi, gpu=2:a100");
  REQUIRE(r.ok());
  CHECK(r->cpu_millis() == 4000);
  CHECK(r->memory_bytes() == 32LL << 30);
  CHECK(r->gpu() == 2);
  CHECK(r->gpu_model() == "a100");
  CHECK(ParseResources("cpu=500m")->cpu_millis() == 500);
  CHECK(ParseResources("cpu=0.25")->cpu_millis() == 250);
  CHECK(ParseResources("mem=512Mi")->memory_bytes() == 512LL << 20);
  CHECK(ParseResources("memory=1G")->memory_bytes() == 1000000000);
  CHECK(ParseResources("memory=123")->memory_bytes() == 123);
  CHECK(ParseResources("gpu-model=h100")->gpu_model() == "h100");
  CHECK(ParseResources("")->ByteSizeLong() == 0);
}

TEST_CASE("bad quantities name the pair and the accepted forms") {
  for (const char* bad : {"cpu", "cpu=-1", "cpu=abc", "memory=12Qi", "gpu=1.5", "disk=1"}) {
    auto r = ParseResources(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find("cpu=4") != std::string::npos);
  }
  CHECK(ParseResources("disk=1").status().message().find("known: cpu, memory, gpu") !=
        std::string::npos);
}

TEST_CASE("formatting round-trips") {
  for (const char* text : {"cpu=4 memory=32Gi gpu=2:a100", "cpu=500m", "memory=1.5Gi", "gpu=1"}) {
    std::string commas = text;
    for (char& c : commas) c = c == ' ' ? ',' : c;
    auto r = ParseResources(commas);
    REQUIRE(r.ok());
    CHECK(FormatResources(*r) == text);
  }
  CHECK(FormatResources(v1::Resources()) == "-");
  CHECK(FormatBytes(100) == "100");
  CHECK(FormatBytes(2048) == "2Ki");
}

}  // namespace
}  // namespace mlcore
