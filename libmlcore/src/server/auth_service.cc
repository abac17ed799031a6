#include "server/auth_service.h"

#include <algorithm>
#include <chrono>

#include <google/protobuf/message.h>

#include "core/page_token.h"
#include "mlcore/v1/auth.pb.h"

namespace mlcore::server {
namespace {

bool Unscoped(const Principal& who) { return !who.token || who.token->projects_size() == 0; }
bool ServerAdmin(const Principal& who) { return who.user.admin() && Unscoped(who); }

Status WhoAmI(const Principal& who, AuthStore* store, v1::WhoAmIResponse* out) {
  *out->mutable_user() = who.user;
  if (who.token) *out->mutable_token() = *who.token;
  if (store == nullptr) return Status::Ok();
  for (const auto& b : store->Bindings("", who.user.name())) {
    if (!Unscoped(who) && std::find(who.token->projects().begin(), who.token->projects().end(),
                                    b.project()) == who.token->projects().end()) {
      continue;
    }
    *out->add_bindings() = b;
  }
  return Status::Ok();
}

Status CreateToken(const Principal& who, AuthStore& store, Authorizer& authz,
                   const v1::CreateTokenRequest& r, v1::CreateTokenResponse* out) {
  const std::string user = r.user().empty() ? who.user.name() : r.user();
  if (user != who.user.name() && !ServerAdmin(who)) {
    return PermissionDeniedError("only a server administrator creates tokens for other users");
  }
  if (r.ttl().seconds() < 0 || r.ttl().nanos() < 0) {
    return InvalidArgumentError("a token's ttl must not be negative (0 = never expires)");
  }
  MLC_ASSIGN_OR_RETURN(v1::User owner, store.GetUser(user));
  std::vector<std::string> projects(r.projects().begin(), r.projects().end());
  // A token cannot reach further than the token that makes it.
  if (projects.empty() && !Unscoped(who) && user == who.user.name()) {
    projects.assign(who.token->projects().begin(), who.token->projects().end());
  }
  Principal owner_view{owner, std::nullopt};
  for (const auto& p : projects) {
    if (authz.RoleOn(owner_view, p) == v1::ROLE_UNSPECIFIED ||
        authz.RoleOn(who, p) == v1::ROLE_UNSPECIFIED) {
      return Authorizer::ProjectNotFound(p);
    }
  }
  MLC_ASSIGN_OR_RETURN(*out, store.CreateToken(user, r.description(), projects,
                                               std::chrono::seconds(r.ttl().seconds())));
  return Status::Ok();
}

Status ListTokens(const Principal& who, AuthStore& store, const v1::ListTokensRequest& r,
                  v1::ListTokensResponse* out) {
  const std::string user = r.user().empty() ? who.user.name() : r.user();
  if (user != who.user.name() && !ServerAdmin(who)) {
    return PermissionDeniedError("only a server administrator lists other users' tokens");
  }
  MLC_RETURN_IF_ERROR(store.GetUser(user).status());
  MLC_ASSIGN_OR_RETURN(*out,
                       store.ListTokens(user, r.include_revoked(), r.page_size(), r.page_token()));
  return Status::Ok();
}

Status RevokeToken(const Principal& who, AuthStore& store, const v1::RevokeTokenRequest& r) {
  auto token = store.GetToken(r.id());
  if (!token.ok() || (token->user() != who.user.name() && !ServerAdmin(who))) {
    return NotFoundError("token " + r.id() + " does not exist (list yours with `mlc token ls`)");
  }
  return store.RevokeToken(r.id());
}

Status NeedProjectAdmin(const Principal& who, Authorizer& authz, const std::string& project) {
  const v1::Role held = authz.RoleOn(who, project);
  if (held == v1::ROLE_UNSPECIFIED) return Authorizer::ProjectNotFound(project);
  if (held < v1::ROLE_ADMIN) {
    return PermissionDeniedError("managing roles on project \"" + project +
                                 "\" needs the admin role there; you are " + RoleName(held));
  }
  return Status::Ok();
}

Status ListRoleBindings(const Principal& who, AuthStore& store, Authorizer& authz,
                        const v1::ListRoleBindingsRequest& r, v1::ListRoleBindingsResponse* out) {
  if (r.page_size() < 0 || r.page_size() > 1000) {
    return InvalidArgumentError("page_size must be between 0 and 1000");
  }
  if (!r.project().empty()) MLC_RETURN_IF_ERROR(NeedProjectAdmin(who, authz, r.project()));
  const int page_size = r.page_size() == 0 ? 100 : r.page_size();
  // Pages continue after the last "project\nuser" returned.
  MLC_ASSIGN_OR_RETURN(const std::string after, DecodePageToken(r.page_token(), "bindings"));
  std::map<std::string, bool> administers;
  for (const auto& b : store.Bindings(r.project(), r.user())) {
    const std::string key = b.project() + "\n" + b.user();
    if (!after.empty() && key <= after) continue;
    auto [it, fresh] = administers.try_emplace(b.project(), false);
    if (fresh) it->second = authz.RoleOn(who, b.project()) == v1::ROLE_ADMIN;
    if (!it->second) continue;
    if (out->bindings_size() == page_size) {
      const auto& last = out->bindings(page_size - 1);
      out->set_next_page_token(EncodePageToken(last.project() + "\n" + last.user(), "bindings"));
      break;
    }
    *out->add_bindings() = b;
  }
  return Status::Ok();
}

}  // namespace

Status HandleAuthCall(const std::string& method, const Principal& who, AuthStore* store,
                      Authorizer* authz, const google::protobuf::Message& request,
                      google::protobuf::Message* response) {
  if (method == "WhoAmI") {
    return WhoAmI(who, store, static_cast<v1::WhoAmIResponse*>(response));
  }
  if (store == nullptr || authz == nullptr) {
    return FailedPreconditionError(
        "this server runs with --insecure-local: it has no users, tokens or roles (every caller "
        "is an administrator); start it without --insecure-local to manage them");
  }
  if (method == "CreateToken") {
    return CreateToken(who, *store, *authz, static_cast<const v1::CreateTokenRequest&>(request),
                       static_cast<v1::CreateTokenResponse*>(response));
  }
  if (method == "ListTokens") {
    return ListTokens(who, *store, static_cast<const v1::ListTokensRequest&>(request),
                      static_cast<v1::ListTokensResponse*>(response));
  }
  if (method == "RevokeToken") {
    return RevokeToken(who, *store, static_cast<const v1::RevokeTokenRequest&>(request));
  }
  if (method == "GrantRole") {
    const auto& r = static_cast<const v1::GrantRoleRequest&>(request);
    if (r.role() == v1::ROLE_UNSPECIFIED) {
      return InvalidArgumentError("grant a role: viewer, editor or admin");
    }
    MLC_RETURN_IF_ERROR(NeedProjectAdmin(who, *authz, r.project()));
    MLC_ASSIGN_OR_RETURN(auto binding,
                         store->Grant(r.project(), r.user(), r.role(), who.user.name()));
    static_cast<v1::RoleBinding*>(response)->Swap(&binding);
    return Status::Ok();
  }
  if (method == "RevokeRole") {
    const auto& r = static_cast<const v1::RevokeRoleRequest&>(request);
    MLC_RETURN_IF_ERROR(NeedProjectAdmin(who, *authz, r.project()));
    return store->Revoke(r.project(), r.user());
  }
  if (method == "ListRoleBindings") {
    return ListRoleBindings(who, *store, *authz,
                            static_cast<const v1::ListRoleBindingsRequest&>(request),
                            static_cast<v1::ListRoleBindingsResponse*>(response));
  }
  return UnimplementedError("AuthService/" + method + " is not served");
}

}  // namespace mlcore::server
