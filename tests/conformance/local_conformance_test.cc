// The conformance suite instantiated for the embedded local:// backend.
#include "conformance/conformance.h"
#include "unit/test_support.h"

namespace mlcore::conformance {
namespace {

class LocalTarget final : public Target {
 public:
  std::string name() const override { return "local"; }

  // Each client gets a fresh state directory under one temporary root; the environment is
  // isolated once, so the developer's own config never leaks in.
  Result<std::unique_ptr<Client>> NewClient() override {
    uri_ = "local://" + root_.path() + "/state-" + std::to_string(++instances_);
    return Client::Open(uri_);
  }

  Result<std::unique_ptr<Client>> SameInstanceClient() override { return Client::Open(uri_); }

 private:
  testing::TempDir root_;
  testing::IsolatedEnv env_{root_};
  // A fixed, small node so queueing is deterministic whatever machine runs the tests.
  testing::ScopedEnv capacity_{testing::EnvMap{{"MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0"}}};
  int instances_ = 0;
  std::string uri_;
};

}  // namespace

Target& CurrentTarget() {
  static LocalTarget target;
  return target;
}

}  // namespace mlcore::conformance
