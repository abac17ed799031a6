// The conformance suite instantiated for grpc://: each instance is a real `mlc server` engine
// (mlcore::server::Server, in this process) listening on 127.0.0.1 with a fresh state directory,
// and every client call crosses the wire. grpc_inproc_conformance_test (MLC_CONFORMANCE_INPROC=1)
// runs it over an in-process channel to the same server (the rpcs without sockets, fast);
// MLC_CONFORMANCE_UNIX=1 over a Unix socket.
#include <cstdlib>

#include "conformance/conformance.h"
#include "mlcore/server.h"
#include "unit/test_support.h"

namespace mlcore::conformance {
namespace {

class GrpcTarget final : public Target {
 public:
  std::string name() const override {
    return inproc_ ? "grpc+inproc" : unix_ ? "grpc+unix" : "grpc";
  }

  Result<std::unique_ptr<Client>> NewClient() override {
    if (server_) server_->Shutdown(std::chrono::seconds(1));
    server::ServerOptions options;
    ++instances_;
    options.state_dir = root_.path() + "/state-" + std::to_string(instances_);
    options.insecure_local = true;
    options.listen = {unix_ ? "unix://" + root_.path() + "/mlc-" + std::to_string(instances_) +
                                  ".sock"
                            : "127.0.0.1:0"};
    MLC_ASSIGN_OR_RETURN(server_, server::Server::Start(options));
    // Stop the last server before gRPC's own statics are destroyed at exit (handlers registered
    // later run earlier).
    static const bool registered = [] {
      std::atexit([] { static_cast<GrpcTarget&>(CurrentTarget()).Stop(); });
      return true;
    }();
    (void)registered;
    uri_ = server_->uris().at(0);
    return SameInstanceClient();
  }

  Result<std::unique_ptr<Client>> SameInstanceClient() override {
    return inproc_ ? server_->InProcessClient() : Client::Open(uri_);
  }

  void Stop() {
    if (server_) server_->Shutdown(std::chrono::seconds(1));
    server_.reset();
  }

 private:
  bool unix_ = std::getenv("MLC_CONFORMANCE_UNIX") != nullptr;
  bool inproc_ = std::getenv("MLC_CONFORMANCE_INPROC") != nullptr;
  testing::TempDir root_;
  testing::IsolatedEnv env_{root_};
  testing::ScopedEnv capacity_{testing::EnvMap{{"MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0"}}};
  int instances_ = 0;
  std::string uri_;
  std::unique_ptr<server::Server> server_;
};

}  // namespace

Target& CurrentTarget() {
  static auto* target = new GrpcTarget();  // stopped by the atexit handler, never destroyed
  return *target;
}

}  // namespace mlcore::conformance
