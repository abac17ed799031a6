// Flavor catalog, request resolution, priority classes and local node detection.
#include <filesystem>

#include "scheduler/flavors.h"
#include "scheduler/node_detect.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

TEST_CASE("the default catalog has at least ten flavors of fixed proportions") {
  auto c = DefaultFlavorCatalog("msk-1");
  CHECK(c.flavors_size() >= 10);
  CHECK(c.region() == "msk-1");
  auto gpu = ResolveFlavor(c, "gpu-1-12-128");
  REQUIRE(gpu.ok());
  CHECK(gpu->gpu() == 1);
  CHECK(gpu->cpu_millis() == 12000);
  CHECK(gpu->memory_bytes() == 128LL << 30);
  CHECK(ResolveFlavor(c, "cpu-2-8")->memory_bytes() == 8LL << 30);
  CHECK(ResolveFlavor(c, "gpu-8-96-1024")->gpu() == 8);
}

TEST_CASE("an unknown flavor is an error listing the known ones") {
  auto c = DefaultFlavorCatalog("msk-1");
  auto r = ResolveFlavor(c, "gpu-huge");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().rfind(
            "unknown flavor \"gpu-huge\" in region msk-1; known flavors: cpu-16-64, cpu-2-8", 0) ==
        0);
}

TEST_CASE("requests resolve from a flavor, raw resources when allowed, or the default") {
  auto c = DefaultFlavorCatalog();
  v1::Resources raw;
  raw.set_cpu_millis(500);
  CHECK(ResolveRequest(c, "", raw)->cpu_millis() == 500);
  CHECK(ResolveRequest(c, "", v1::Resources())->cpu_millis() == 2000);  // cpu-2-8
  CHECK_FALSE(ResolveRequest(c, "cpu-2-8", raw).ok());
  c.set_allow_raw_resources(false);
  auto denied = ResolveRequest(c, "", raw);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.status().message().find("name a flavor: cpu-16-64") != std::string::npos);
}

TEST_CASE("priority classes resolve by name, empty means the default") {
  auto classes = DefaultPriorityClasses();
  CHECK(*ResolvePriorityClass(classes, "high") == 10);
  CHECK(*ResolvePriorityClass(classes, "") == 0);
  auto bad = ResolvePriorityClass(classes, "urgent");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "unknown priority class \"urgent\"; known classes: critical, high, normal, low");
}

TEST_CASE("local node detection reads cores, memory and GPUs") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "proc");
  std::filesystem::create_directories(dir / "sys/fs/cgroup");
  testing::WriteFile(dir / "proc/meminfo", "MemTotal:       16384000 kB\nMemFree: 1 kB\n");
  testing::WriteFile(dir / "sys/fs/cgroup/cpu.max", "150000 100000\n");
  testing::WriteFile(dir / "gpus.sh",
                     "#!/bin/sh\nprintf 'NVIDIA A100-SXM4-80GB\\nNVIDIA A100-SXM4-80GB\\n'\n");
  std::filesystem::permissions(dir / "gpus.sh", std::filesystem::perms::owner_all);
  NodeDetectOptions options;
  options.name = "box";
  options.root = dir.path();
  options.gpu_query = dir / "gpus.sh";
  auto node = DetectLocalNode(options);
  REQUIRE(node.ok());
  CHECK(node->name() == "box");
  CHECK(node->schedulable());
  CHECK(node->capacity().memory_bytes() == 16384000LL * 1024);
  CHECK(node->capacity().cpu_millis() <= 1500);  // capped by the cgroup quota of 1.5 cores
  CHECK(node->capacity().gpu() == 2);
  CHECK(node->capacity().gpu_model() == "a100");

  options.gpu_query = dir / "missing-nvidia-smi";
  options.overrides.set_gpu(4);
  auto overridden = DetectLocalNode(options);
  REQUIRE(overridden.ok());
  CHECK(overridden->capacity().gpu() == 4);

  options.root = dir / "nowhere";
  CHECK(DetectLocalNode(options).status().code() == StatusCode::kUnavailable);
  CHECK(NormalizeGpuModel("Tesla V100-PCIE-16GB") == "v100");
  CHECK(NormalizeGpuModel("NVIDIA H100 80GB HBM3") == "h100");
}

}  // namespace
}  // namespace mlcore
