#include <algorithm>

#include "local/local_backend.h"
#include "mlcore/backend.h"
#include "slurm/slurm_backend.h"
#ifdef MLC_HAVE_GRPC
#include "remote/grpc_backend.h"
#endif

namespace mlcore {

BackendRegistry& BackendRegistry::Global() {
  static BackendRegistry* registry = [] {
    auto* r = new BackendRegistry();
    // Built-in backends. Registration is explicit (not via static initializers) so a static link
    // cannot drop a backend.
    r->Register("local", &local::LocalBackend::Open).IgnoreError();
    r->Register("slurm+http", &slurm::SlurmBackend::Open).IgnoreError();
    r->Register("slurm+https", &slurm::SlurmBackend::Open).IgnoreError();
    r->Register("slurm+unix", &slurm::SlurmBackend::Open).IgnoreError();
#ifdef MLC_HAVE_GRPC
    r->Register("grpc", &remote::OpenGrpcBackend).IgnoreError();
    r->Register("grpc+unix", &remote::OpenGrpcBackend).IgnoreError();
    r->Register("grpcs", &remote::OpenGrpcBackend).IgnoreError();
#endif
    return r;
  }();
  return *registry;
}

Status BackendRegistry::Register(std::string scheme, BackendFactory factory) {
  std::lock_guard lock(mu_);
  if (factories_.count(scheme) != 0) {
    return AlreadyExistsError("a backend is already registered for scheme \"" + scheme + "\"");
  }
  factories_.emplace(std::move(scheme), std::move(factory));
  return Status::Ok();
}

std::vector<std::string> BackendRegistry::Schemes() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [scheme, factory] : factories_) out.push_back(scheme);
  return out;
}

Result<std::unique_ptr<Backend>> BackendRegistry::Create(std::string_view text) {
  MLC_ASSIGN_OR_RETURN(Uri uri, Uri::Parse(text));
  BackendFactory factory;
  {
    std::lock_guard lock(mu_);
    auto it = factories_.find(uri.scheme);
    if (it == factories_.end()) {
      std::string known;
      for (const auto& [scheme, f] : factories_) known += (known.empty() ? "" : ", ") + scheme;
      return InvalidArgumentError("unknown backend scheme \"" + uri.scheme + "\" in \"" +
                                  uri.Redacted() + "\"; known schemes: " + known);
    }
    factory = it->second;
  }
  return factory(uri);
}

}  // namespace mlcore
