#include "mlcore/client.h"

#include <algorithm>

#include "core/validation.h"
#include "mlcore/backend.h"

namespace mlcore {

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  MLC_ASSIGN_OR_RETURN(ResolvedConfig config, ResolveConfig(options));
  auto backend = BackendRegistry::Global().Create(config.backend);
  if (!backend.ok()) {
    if (config.backend_source == "argument") return backend.status();
    return backend.status().WithContext("backend from " + config.backend_source);
  }
  return std::make_unique<Client>(std::move(backend).value(), std::move(config));
}

Result<std::unique_ptr<Client>> Client::Open(std::string_view uri) {
  ClientOptions options;
  options.backend = std::string(uri);
  return Open(options);
}

Client::Client(std::unique_ptr<Backend> backend, ResolvedConfig config)
    : backend_(std::move(backend)), config_(std::move(config)) {}

Client::~Client() = default;

Result<v1::BackendInfo> Client::GetBackendInfo() { return backend_->Info(); }

bool Client::Supports(v1::Capability capability) {
  auto info = backend_->Info();
  const auto& caps = info.capabilities();
  return std::find(caps.begin(), caps.end(), capability) != caps.end();
}

Result<v1::Project> Client::CreateProject(const v1::Project& project) {
  MLC_RETURN_IF_ERROR(ValidateNewProject(project));
  return backend_->CreateProject(project);
}

Result<v1::Project> Client::GetProject(std::string_view name) {
  MLC_RETURN_IF_ERROR(ValidateProjectName(name));
  return backend_->GetProject(std::string(name));
}

Result<v1::ListProjectsResponse> Client::ListProjects(const v1::ListProjectsRequest& request) {
  if (!request.parent().empty())
    MLC_RETURN_IF_ERROR(ValidateName("parent project", request.parent()));
  MLC_RETURN_IF_ERROR(ResolvePageSize(request.page_size()).status());
  return backend_->ListProjects(request);
}

Result<std::vector<v1::Project>> Client::ListAllProjects(std::string_view parent) {
  std::vector<v1::Project> all;
  v1::ListProjectsRequest request;
  request.set_parent(std::string(parent));
  request.set_page_size(kMaxPageSize);
  do {
    MLC_ASSIGN_OR_RETURN(auto page, ListProjects(request));
    for (auto& project : *page.mutable_projects()) all.push_back(std::move(project));
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return all;
}

Status Client::DeleteProject(std::string_view name) {
  MLC_RETURN_IF_ERROR(ValidateProjectName(name));
  return backend_->DeleteProject(std::string(name));
}

}  // namespace mlcore
