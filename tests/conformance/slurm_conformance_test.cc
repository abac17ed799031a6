// The conformance suite instantiated for slurm+http://: every instance is a fresh state directory
// in front of the same single-node dev cluster (scripts/slurm-dev-cluster.sh, started here when
// it is not running), on its `conformance` partition, which has the suite's capacity of 4 CPUs.
// Where Slurm cannot be installed or started, the whole test is skipped visibly: it prints why
// and exits 77, which ctest reports as "Skipped".
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "conformance/conformance.h"
#include "unit/test_support.h"

namespace mlcore::conformance {
namespace {

// KEY=VALUE lines printed by `slurm-dev-cluster.sh up`, or the reason it failed.
struct Cluster {
  std::map<std::string, std::string> env;
  std::string error;
};

Cluster StartCluster() {
  Cluster c;
  const std::string cmd = std::string(MLC_SOURCE_DIR) + "/scripts/slurm-dev-cluster.sh up 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    c.error = "cannot run " + cmd;
    return c;
  }
  std::string out;
  char buf[4096];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  int status = pclose(p);
  size_t start = 0;
  while (start < out.size()) {
    size_t nl = out.find('\n', start);
    std::string line = out.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    size_t eq = line.find('=');
    if (eq != std::string::npos && line.find(' ') > eq)
      c.env[line.substr(0, eq)] = line.substr(eq + 1);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  if (status != 0 || c.env.count("MLC_SLURM_URI") == 0) c.error = out;
  return c;
}

class SlurmTarget final : public Target {
 public:
  SlurmTarget() {
    Cluster cluster = StartCluster();
    if (!cluster.error.empty()) {
      std::cout << "SKIPPED: slurm_conformance_test: no Slurm dev cluster here:\n"
                << cluster.error << std::endl;
      std::exit(77);
    }
    if (const char* gaps = std::getenv("MLC_SLURM_KNOWN_GAPS"); gaps != nullptr && *gaps) {
      std::cout << "slurm_conformance_test: not run here, known gaps of the Slurm backend "
                   "(docs/slurm.md): "
                << gaps << std::endl;
    }
    base_uri_ = cluster.env["MLC_SLURM_URI"];
    jwt_ = cluster.env["SLURM_JWT"];
  }

  std::string name() const override { return "slurm"; }

  Result<std::unique_ptr<Client>> NewClient() override {
    uri_ = base_uri_ + "&partition=conformance&token=" + jwt_ + "&state=" + root_.path() +
           "/state-" + std::to_string(++instances_);
    return Client::Open(uri_);
  }

  Result<std::unique_ptr<Client>> SameInstanceClient() override { return Client::Open(uri_); }

 private:
  std::string base_uri_;
  std::string jwt_;
  testing::TempDir root_;
  testing::IsolatedEnv env_{root_};
  // The embedded store's flavor catalog is built for a node of the suite's size.
  testing::ScopedEnv capacity_{testing::EnvMap{{"MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0"}}};
  int instances_ = 0;
  std::string uri_;
};

}  // namespace

Target& CurrentTarget() {
  static SlurmTarget target;
  return target;
}

}  // namespace mlcore::conformance
