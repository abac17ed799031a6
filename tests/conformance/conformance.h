// The conformance suite: one set of tests written against the Client API, instantiated once per
// backend (local_conformance_test.cc, later grpc and slurm). A backend that lacks a feature
// declares it through BackendInfo.capabilities and the suite skips exactly those tests, visibly.
#pragma once

#include <memory>
#include <string>

#include "mlcore/client.h"
#include "mlcore/status.h"

namespace mlcore::conformance {

class Target {
 public:
  virtual ~Target() = default;
  // A short name for messages ("local").
  virtual std::string name() const = 0;
  // A client on a fresh, empty instance of the backend.
  virtual Result<std::unique_ptr<Client>> NewClient() = 0;
  // A second client on the same instance as the last NewClient() (for concurrency tests).
  virtual Result<std::unique_ptr<Client>> SameInstanceClient() = 0;
};

// Implemented by each backend's instantiation file.
Target& CurrentTarget();

// A client on a fresh instance of the current target, with `project` created when not empty; null
// (the test skipped with a visible message) when the backend lacks `capability`.
std::unique_ptr<Client> ClientWith(v1::Capability capability, const std::string& project = "");

}  // namespace mlcore::conformance
