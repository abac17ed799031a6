// Flavors and priority classes: the named shapes and priorities jobs ask for.
//
// The job layer resolves a job's flavor (or raw resources) and priority class with these helpers
// at submit time, so unknown names fail early with a message listing the known ones.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"
#include "mlcore/v1/scheduling.pb.h"

namespace mlcore {

// The built-in catalog of `region` (12 flavors, ordered by name):
//   cpu-2-8, cpu-4-16, cpu-8-32, cpu-16-64, cpu-32-128, cpu-64-256 (CPUs-GiB, 1:4),
//   gpu-1-12-128, gpu-2-24-256, gpu-4-48-512, gpu-8-96-1024 (GPUs-CPUs-GiB),
//   mem-8-128, mem-16-256 (memory-heavy CPU flavors).
// Raw resource requests are allowed; the default flavor is cpu-2-8, the test flavor cpu-2-8 with
// a 1 h maximum deadline. cpu-2-8, cpu-4-16 and gpu-1-12-128 are allowed in the test queue.
v1::FlavorCatalog DefaultFlavorCatalog(std::string_view region = "local");

// The resources of one replica of flavor `name`. Errors: INVALID_ARGUMENT listing the catalog's
// flavors, e.g. `unknown flavor "gpu-huge" in region msk-1; known flavors: cpu-2-8, ...`.
Result<v1::Resources> ResolveFlavor(const v1::FlavorCatalog& catalog, std::string_view name);

// The per-replica request of a job naming `flavor` and/or `raw` resources: the flavor when named;
// else `raw` when any field is set and the catalog allows raw requests; else the default flavor.
// Errors: INVALID_ARGUMENT (unknown flavor; both a flavor and raw resources; raw resources when
// the catalog forbids them, listing the flavors to use instead; nothing requested and no default).
Result<v1::Resources> ResolveRequest(const v1::FlavorCatalog& catalog, std::string_view flavor,
                                     const v1::Resources& raw);

// low (-10), normal (0, default), high (10), critical (100), ordered by value, highest first.
std::vector<v1::PriorityClass> DefaultPriorityClasses();

// The value of class `name`; empty `name` selects the default class (0 when none is marked).
// Errors: INVALID_ARGUMENT listing the known classes.
Result<int32_t> ResolvePriorityClass(const std::vector<v1::PriorityClass>& classes,
                                     std::string_view name);

}  // namespace mlcore
