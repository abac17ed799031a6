// Identity, tokens and roles: Client calls, and what a backend without auth answers.
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "util/fs.h"

namespace mlcore {
namespace {

Status NoAuth() {
  return FailedPreconditionError(
      "this backend has no users, tokens or roles (everyone using it is an administrator); they "
      "exist on `mlc server` without --insecure-local, reached through grpc:// or grpcs://");
}

}  // namespace

Result<v1::WhoAmIResponse> Backend::WhoAmI() {
  v1::WhoAmIResponse out;
  out.mutable_user()->set_name(util::CurrentUser());
  out.mutable_user()->set_admin(true);
  return out;
}
Result<v1::CreateTokenResponse> Backend::CreateToken(const v1::CreateTokenRequest&) {
  return NoAuth();
}
Result<v1::ListTokensResponse> Backend::ListTokens(const v1::ListTokensRequest&) {
  return NoAuth();
}
Status Backend::RevokeToken(const std::string&) { return NoAuth(); }
Result<v1::RoleBinding> Backend::GrantRole(const v1::GrantRoleRequest&) { return NoAuth(); }
Status Backend::RevokeRole(const v1::RevokeRoleRequest&) { return NoAuth(); }
Result<v1::ListRoleBindingsResponse> Backend::ListRoleBindings(const v1::ListRoleBindingsRequest&) {
  return NoAuth();
}

Result<v1::WhoAmIResponse> Client::WhoAmI() { return backend_->WhoAmI(); }

Result<v1::CreateTokenResponse> Client::CreateToken(const v1::CreateTokenRequest& request) {
  if (request.ttl().seconds() < 0 || request.ttl().nanos() < 0) {
    return InvalidArgumentError("a token's ttl must not be negative (0 = never expires)");
  }
  return backend_->CreateToken(request);
}

Result<v1::ListTokensResponse> Client::ListTokens(const v1::ListTokensRequest& request) {
  return backend_->ListTokens(request);
}

Status Client::RevokeToken(const std::string& id) {
  if (id.empty()) return InvalidArgumentError("no token id given (list them with `mlc token ls`)");
  return backend_->RevokeToken(id);
}

Result<v1::RoleBinding> Client::GrantRole(const v1::GrantRoleRequest& request) {
  if (request.project().empty() || request.user().empty()) {
    return InvalidArgumentError("granting a role needs a project and a user");
  }
  if (request.role() == v1::ROLE_UNSPECIFIED) {
    return InvalidArgumentError("grant a role: viewer, editor or admin");
  }
  return backend_->GrantRole(request);
}

Status Client::RevokeRole(const v1::RevokeRoleRequest& request) {
  if (request.project().empty() || request.user().empty()) {
    return InvalidArgumentError("revoking a role needs a project and a user");
  }
  return backend_->RevokeRole(request);
}

Result<v1::ListRoleBindingsResponse> Client::ListRoleBindings(
    const v1::ListRoleBindingsRequest& request) {
  return backend_->ListRoleBindings(request);
}

}  // namespace mlcore
