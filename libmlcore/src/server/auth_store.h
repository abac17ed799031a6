// The server's users, API tokens and role bindings (auth.proto), kept in STATE/auth.db.
//
// - Users are added out of band (`mlc server user add`); they are disabled, never deleted.
// - A token's secret is "mlc_<8 hex id>_<43 base64url characters>" from getrandom(2); only its
//   SHA-256 is stored, and Authenticate compares digests in constant time.
// - Everything is also held in memory, so authenticating a call costs no SQLite round trip.
//   Changes made through this object are visible at once, and so are changes another process
//   makes (the `mlc server user ...` commands while the server runs): each call checks SQLite's
//   data_version, and reloads only when another connection committed.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mlcore/status.h"
#include "mlcore/v1/auth.pb.h"

namespace mlcore::sqlite {
class Db;
class Statement;
}  // namespace mlcore::sqlite

namespace mlcore::server {

// Who a call comes from.
struct Principal {
  v1::User user;
  std::optional<v1::ApiToken> token;  // unset when authenticated by a client certificate
};

class AuthStore {
 public:
  // Opens (creating) STATE_DIR/auth.db, readable by its owner only. Errors: PERMISSION_DENIED,
  // DATA_LOSS, FAILED_PRECONDITION (a newer schema).
  static Result<std::unique_ptr<AuthStore>> Open(const std::string& state_dir);
  ~AuthStore();

  // --- Users ---
  // Errors: INVALID_ARGUMENT (name), ALREADY_EXISTS.
  Result<v1::User> AddUser(const v1::User& user);
  // Errors: NOT_FOUND.
  Result<v1::User> GetUser(const std::string& name);
  Result<v1::User> SetDisabled(const std::string& name, bool disabled);
  std::vector<v1::User> ListUsers();
  size_t UserCount();

  // --- Tokens ---
  // Mints a token for `user`; `ttl` of zero never expires. Errors: NOT_FOUND (user),
  // INVALID_ARGUMENT (negative ttl).
  Result<v1::CreateTokenResponse> CreateToken(const std::string& user,
                                              const std::string& description,
                                              const std::vector<std::string>& projects,
                                              std::chrono::seconds ttl);
  // The principal a bearer secret stands for. Errors: UNAUTHENTICATED (malformed, unknown,
  // revoked or expired token, or a disabled user), with a message saying which and what to do.
  Result<Principal> Authenticate(const std::string& secret);
  // A certificate's common name as a user. Errors: UNAUTHENTICATED (unknown or disabled).
  Result<Principal> AuthenticateUser(const std::string& name);
  // Tokens of `user`, newest first. Errors: INVALID_ARGUMENT (page token or size).
  Result<v1::ListTokensResponse> ListTokens(const std::string& user, bool include_revoked,
                                            int page_size, const std::string& page_token);
  // Errors: NOT_FOUND.
  Result<v1::ApiToken> GetToken(const std::string& id);
  // Idempotent. Errors: NOT_FOUND.
  Status RevokeToken(const std::string& id);

  // --- Role bindings ---
  // Errors: INVALID_ARGUMENT (role UNSPECIFIED), NOT_FOUND (user), FAILED_PRECONDITION (it
  // would remove the project's last ADMIN binding).
  Result<v1::RoleBinding> Grant(const std::string& project, const std::string& user, v1::Role role,
                                const std::string& granted_by);
  // Errors: NOT_FOUND (no binding), FAILED_PRECONDITION (the last ADMIN binding).
  Status Revoke(const std::string& project, const std::string& user);
  // Bindings matching the filters (empty = any), ordered by project, then user.
  std::vector<v1::RoleBinding> Bindings(const std::string& project, const std::string& user);
  // The user's role bound directly on `project` (ROLE_UNSPECIFIED when none), as of the last
  // refresh (every Authenticate refreshes).
  v1::Role DirectRole(const std::string& user, const std::string& project);

 private:
  explicit AuthStore(std::unique_ptr<sqlite::Db> db);
  Status LoadLocked();
  Status RefreshLocked(bool force);
  Status TouchLocked(v1::ApiToken& token);
  // OK unless `leaving` (losing its ADMIN role) is its project's only ADMIN binding.
  Status KeepsAnAdminLocked(const v1::RoleBinding& leaving);

  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  std::unique_ptr<sqlite::Statement> version_statement_;
  int64_t data_version_ = -1;
  std::map<std::string, v1::User> users_;
  struct StoredToken {
    v1::ApiToken token;
    std::string secret_sha256;  // raw 32 bytes
  };
  std::map<std::string, StoredToken> tokens_;                             // by id
  std::map<std::pair<std::string, std::string>, v1::RoleBinding> roles_;  // by (project, user)
};

// True when `name` is a valid user name (1-63 of [a-z0-9._-], starting with a letter or digit).
bool ValidUserName(const std::string& name);

}  // namespace mlcore::server
