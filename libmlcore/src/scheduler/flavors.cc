#include "scheduler/flavors.h"

#include <algorithm>

namespace mlcore {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

void Add(v1::FlavorCatalog& c, const std::string& name, int cpus, int64_t gib, int gpus,
         bool test_queue) {
  auto* f = c.add_flavors();
  f->set_name(name);
  f->set_region(c.region());
  f->mutable_resources()->set_cpu_millis(int64_t{cpus} * 1000);
  f->mutable_resources()->set_memory_bytes(gib * kGiB);
  f->mutable_resources()->set_gpu(gpus);
  std::string d = gpus > 0 ? std::to_string(gpus) + (gpus == 1 ? " GPU, " : " GPUs, ") : "";
  f->set_description(d + std::to_string(cpus) + " cores, " + std::to_string(gib) + " GiB");
  f->set_test_queue(test_queue);
}

std::string KnownFlavors(const v1::FlavorCatalog& catalog) {
  std::string names;
  for (const auto& f : catalog.flavors()) names += (names.empty() ? "" : ", ") + f.name();
  return names.empty() ? "(none)" : names;
}

}  // namespace

v1::FlavorCatalog DefaultFlavorCatalog(std::string_view region) {
  v1::FlavorCatalog c;
  c.set_region(std::string(region));
  Add(c, "cpu-16-64", 16, 64, 0, false);
  Add(c, "cpu-2-8", 2, 8, 0, true);
  Add(c, "cpu-32-128", 32, 128, 0, false);
  Add(c, "cpu-4-16", 4, 16, 0, true);
  Add(c, "cpu-64-256", 64, 256, 0, false);
  Add(c, "cpu-8-32", 8, 32, 0, false);
  Add(c, "gpu-1-12-128", 12, 128, 1, true);
  Add(c, "gpu-2-24-256", 24, 256, 2, false);
  Add(c, "gpu-4-48-512", 48, 512, 4, false);
  Add(c, "gpu-8-96-1024", 96, 1024, 8, false);
  Add(c, "mem-16-256", 16, 256, 0, false);
  Add(c, "mem-8-128", 8, 128, 0, false);
  c.set_allow_raw_resources(true);
  c.set_default_flavor("cpu-2-8");
  c.set_test_flavor("cpu-2-8");
  c.mutable_test_max_deadline()->set_seconds(3600);
  return c;
}

Result<v1::Resources> ResolveFlavor(const v1::FlavorCatalog& catalog, std::string_view name) {
  for (const auto& f : catalog.flavors()) {
    if (f.name() == name) return f.resources();
  }
  std::string region = catalog.region().empty() ? "" : " in region " + catalog.region();
  return InvalidArgumentError("unknown flavor \"" + std::string(name) + "\"" + region +
                              "; known flavors: " + KnownFlavors(catalog));
}

Result<v1::Resources> ResolveRequest(const v1::FlavorCatalog& catalog, std::string_view flavor,
                                     const v1::Resources& raw) {
  const bool has_raw = raw.cpu_millis() != 0 || raw.memory_bytes() != 0 || raw.gpu() != 0;
  if (!flavor.empty() && has_raw) {
    return InvalidArgumentError(
        "a job names either a flavor or raw resources, not both (flavor \"" + std::string(flavor) +
        "\")");
  }
  if (!flavor.empty()) return ResolveFlavor(catalog, flavor);
  if (has_raw) {
    if (!catalog.allow_raw_resources()) {
      return InvalidArgumentError("raw resource requests are not allowed in region " +
                                  catalog.region() + "; name a flavor: " + KnownFlavors(catalog));
    }
    if (raw.cpu_millis() < 0 || raw.memory_bytes() < 0 || raw.gpu() < 0) {
      return InvalidArgumentError("resource requests must not be negative");
    }
    return raw;
  }
  if (catalog.default_flavor().empty()) {
    return InvalidArgumentError("the job names no flavor and region " + catalog.region() +
                                " has no default; name one of: " + KnownFlavors(catalog));
  }
  return ResolveFlavor(catalog, catalog.default_flavor());
}

std::vector<v1::PriorityClass> DefaultPriorityClasses() {
  std::vector<v1::PriorityClass> out;
  auto add = [&](const char* name, int value, const char* description, bool is_default) {
    v1::PriorityClass c;
    c.set_name(name);
    c.set_value(value);
    c.set_description(description);
    c.set_is_default(is_default);
    out.push_back(std::move(c));
  };
  add("critical", 100, "production retraining and incident work", false);
  add("high", 10, "deadline-bound experiments", false);
  add("normal", 0, "the default", true);
  add("low", -10, "opportunistic sweeps", false);
  return out;
}

Result<int32_t> ResolvePriorityClass(const std::vector<v1::PriorityClass>& classes,
                                     std::string_view name) {
  for (const auto& c : classes) {
    if (name.empty() ? c.is_default() : c.name() == name) return c.value();
  }
  if (name.empty()) return 0;
  std::string known;
  for (const auto& c : classes) known += (known.empty() ? "" : ", ") + c.name();
  return InvalidArgumentError("unknown priority class \"" + std::string(name) +
                              "\"; known classes: " + (known.empty() ? "(none)" : known));
}

}  // namespace mlcore
