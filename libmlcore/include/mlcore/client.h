// The mlcore client: the one entry point every surface (C++, Python, CLI, C ABI, gRPC server)
// goes through.
//
//   MLC_ASSIGN_OR_RETURN(auto client, mlcore::Client::Open("local:///tmp/state"));
//   mlcore::v1::Project p;
//   p.set_name("ml-research");
//   MLC_ASSIGN_OR_RETURN(auto created, client->CreateProject(p));
//
// A Client owns one Backend, chosen by the URI scheme through the BackendRegistry (backend.h).
// Client validates arguments once, so every backend receives well-formed requests and every
// surface reports the same errors.
//
// Thread safety: a Client may be used from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/config.h"
#include "mlcore/status.h"
#include "mlcore/v1/common.pb.h"
#include "mlcore/v1/projects.pb.h"

namespace mlcore {

class Backend;

class Client {
 public:
  // Opens the backend named by `options`, resolving anything left empty from the environment and
  // the config file (see config.h for the order). Errors: INVALID_ARGUMENT (malformed URI or
  // config file, unknown scheme), NOT_FOUND (unknown context), PERMISSION_DENIED /
  // FAILED_PRECONDITION (unusable state directory or store), UNAVAILABLE (remote backend down).
  static Result<std::unique_ptr<Client>> Open(const ClientOptions& options = {});

  // Opens the backend at `uri` explicitly; the default project still comes from the environment or
  // the config file.
  static Result<std::unique_ptr<Client>> Open(std::string_view uri);

  // Wraps an already constructed backend (tests, embedding). `config.backend` should name it.
  Client(std::unique_ptr<Backend> backend, ResolvedConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Where the backend URI and default project came from.
  const ResolvedConfig& config() const { return config_; }

  // The default project for calls that take an empty project name; empty when none is set.
  const std::string& project() const { return config_.project; }

  // The backend; borrowed, lives as long as this Client.
  Backend& backend() { return *backend_; }

  // Describes the backend and what it can do.
  Result<v1::BackendInfo> GetBackendInfo();

  // True when the backend declares `capability`.
  bool Supports(v1::Capability capability);

  // --- Projects (see proto/mlcore/v1/projects.proto for the full contract) ---

  // Creates a project. Errors: INVALID_ARGUMENT, NOT_FOUND (parent), ALREADY_EXISTS.
  Result<v1::Project> CreateProject(const v1::Project& project);
  // Errors: INVALID_ARGUMENT (bad name), NOT_FOUND.
  Result<v1::Project> GetProject(std::string_view name);
  // Errors: INVALID_ARGUMENT (bad page token or size).
  Result<v1::ListProjectsResponse> ListProjects(const v1::ListProjectsRequest& request = {});
  // Every page of ListProjects concatenated (for listings meant for people).
  Result<std::vector<v1::Project>> ListAllProjects(std::string_view parent = {});
  // Errors: NOT_FOUND, FAILED_PRECONDITION (has sub-projects).
  Status DeleteProject(std::string_view name);

 private:
  std::unique_ptr<Backend> backend_;
  ResolvedConfig config_;
};

}  // namespace mlcore
