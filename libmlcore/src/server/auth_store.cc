#include "server/auth_store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/random.h>
#include <sys/stat.h>

#include "core/page_token.h"
#include "local/sqlite_store.h"
#include "mlcore/server.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace mlcore::server {
namespace {

constexpr std::string_view kSecretPrefix = "mlc_";
constexpr int kIdHexDigits = 8;
constexpr int kSecretRandomBytes = 32;  // 43 base64url characters
constexpr int64_t kTouchEverySeconds = 60;

const std::vector<sqlite::Migration>& Migrations() {
  static const std::vector<sqlite::Migration> m = {
      {1,
       "CREATE TABLE users (name TEXT PRIMARY KEY, display_name TEXT NOT NULL, email TEXT NOT "
       "NULL, admin INTEGER NOT NULL, disabled INTEGER NOT NULL, create_time INTEGER NOT NULL);"
       "CREATE TABLE tokens (id TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name), "
       "description TEXT NOT NULL, projects TEXT NOT NULL, secret_sha256 TEXT NOT NULL, "
       "secret_prefix TEXT NOT NULL, create_time INTEGER NOT NULL, expire_time INTEGER NOT NULL, "
       "last_use_time INTEGER NOT NULL, revoke_time INTEGER NOT NULL);"
       "CREATE TABLE role_bindings (project TEXT NOT NULL, user TEXT NOT NULL REFERENCES "
       "users(name), role INTEGER NOT NULL, create_time INTEGER NOT NULL, granted_by TEXT NOT "
       "NULL, PRIMARY KEY (project, user));"}};
  return m;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SetMicros(google::protobuf::Timestamp* t, int64_t micros) {
  t->set_seconds(micros / 1000000);
  t->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Base64Url(const unsigned char* bytes, size_t n) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | bytes[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

Status RandomBytes(unsigned char* out, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return InternalError(std::string("getrandom failed: ") + std::strerror(errno));
    }
    got += static_cast<size_t>(r);
  }
  return Status::Ok();
}

bool ConstantTimeEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string JoinProjects(const google::protobuf::RepeatedPtrField<std::string>& projects) {
  std::string out;
  for (const auto& p : projects) out += (out.empty() ? "" : "\n") + p;
  return out;
}

void SplitProjects(const std::string& text, v1::ApiToken* token) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    token->add_projects(text.substr(start, end - start));
    start = end + 1;
  }
}

void SetTime(google::protobuf::Timestamp* t, int64_t seconds) { t->set_seconds(seconds); }

Status Unauthenticated(const std::string& why) {
  return UnauthenticatedError(why +
                              "; log in again with `mlc login` (ask your administrator for a "
                              "token)");
}

}  // namespace

bool ValidUserName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

AuthStore::AuthStore(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}
AuthStore::~AuthStore() = default;

Result<std::unique_ptr<AuthStore>> AuthStore::Open(const std::string& state_dir) {
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(state_dir, "server state directory"));
  const std::string path = state_dir + "/auth.db";
  MLC_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Db> db, sqlite::Db::Open(path, Migrations()));
  chmod(path.c_str(), 0600);  // token digests and bindings: the owner's business only
  auto store = std::unique_ptr<AuthStore>(new AuthStore(std::move(db)));
  std::lock_guard lock(store->mu_);
  MLC_RETURN_IF_ERROR(store->RefreshLocked(true));
  return store;
}

Status AuthStore::RefreshLocked(bool force) {
  // PRAGMA data_version changes when another connection (another process) commits: a
  // microsecond-cheap check per call, so a user disabled out of band is refused at once.
  if (!version_statement_) {
    MLC_ASSIGN_OR_RETURN(sqlite::Statement st, db_->Prepare("PRAGMA data_version"));
    version_statement_ = std::make_unique<sqlite::Statement>(std::move(st));
  }
  version_statement_->Reset();
  MLC_ASSIGN_OR_RETURN(bool row, version_statement_->Step());
  const int64_t version = row ? version_statement_->ColumnInt(0) : 0;
  version_statement_->Reset();
  if (!force && version == data_version_) return Status::Ok();
  data_version_ = version;
  return LoadLocked();
}

Status AuthStore::LoadLocked() {
  std::map<std::string, v1::User> users;
  std::map<std::string, StoredToken> tokens;
  std::map<std::pair<std::string, std::string>, v1::RoleBinding> roles;
  {
    MLC_ASSIGN_OR_RETURN(
        auto st,
        db_->Prepare("SELECT name, display_name, email, admin, disabled, create_time FROM users"));
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      v1::User u;
      u.set_name(st.ColumnText(0));
      u.set_display_name(st.ColumnText(1));
      u.set_email(st.ColumnText(2));
      u.set_admin(st.ColumnInt(3) != 0);
      u.set_disabled(st.ColumnInt(4) != 0);
      SetTime(u.mutable_create_time(), st.ColumnInt(5));
      users[u.name()] = u;
    }
  }
  {
    MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id, user, description, projects, "
                                               "secret_sha256, secret_prefix, create_time, "
                                               "expire_time, last_use_time, revoke_time FROM "
                                               "tokens"));
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      StoredToken t;
      t.token.set_id(st.ColumnText(0));
      t.token.set_user(st.ColumnText(1));
      t.token.set_description(st.ColumnText(2));
      SplitProjects(st.ColumnText(3), &t.token);
      t.secret_sha256 = st.ColumnText(4);
      t.token.set_secret_prefix(st.ColumnText(5));
      SetMicros(t.token.mutable_create_time(), st.ColumnInt(6));  // microseconds: orders listings
      if (st.ColumnInt(7) != 0) SetTime(t.token.mutable_expire_time(), st.ColumnInt(7));
      if (st.ColumnInt(8) != 0) SetTime(t.token.mutable_last_use_time(), st.ColumnInt(8));
      if (st.ColumnInt(9) != 0) SetTime(t.token.mutable_revoke_time(), st.ColumnInt(9));
      tokens[t.token.id()] = std::move(t);
    }
  }
  {
    MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT project, user, role, create_time, "
                                               "granted_by FROM role_bindings"));
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      v1::RoleBinding b;
      b.set_project(st.ColumnText(0));
      b.set_user(st.ColumnText(1));
      b.set_role(static_cast<v1::Role>(st.ColumnInt(2)));
      SetTime(b.mutable_create_time(), st.ColumnInt(3));
      b.set_granted_by(st.ColumnText(4));
      roles[{b.project(), b.user()}] = b;
    }
  }
  users_ = std::move(users);
  tokens_ = std::move(tokens);
  roles_ = std::move(roles);
  return Status::Ok();
}

Result<v1::User> AuthStore::AddUser(const v1::User& user) {
  if (!ValidUserName(user.name())) {
    return InvalidArgumentError("invalid user name \"" + user.name() +
                                "\": use 1-63 lowercase letters, digits, '.', '_' or '-', "
                                "starting with a letter or digit");
  }
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RefreshLocked(true));
  if (users_.count(user.name()) != 0) {
    return AlreadyExistsError("user \"" + user.name() + "\" already exists");
  }
  v1::User u = user;
  u.set_disabled(false);
  SetTime(u.mutable_create_time(), NowSeconds());
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)"));
  st.Bind(1, u.name())
      .Bind(2, u.display_name())
      .Bind(3, u.email())
      .Bind(4, int64_t{u.admin() ? 1 : 0})
      .Bind(5, int64_t{0})
      .Bind(6, u.create_time().seconds());
  MLC_RETURN_IF_ERROR(st.Run());
  users_[u.name()] = u;
  return u;
}

Result<v1::User> AuthStore::GetUser(const std::string& name) {
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RefreshLocked(false));
  auto it = users_.find(name);
  if (it == users_.end()) {
    return NotFoundError("user \"" + name +
                         "\" does not exist (list users with `mlc server user ls`)");
  }
  return it->second;
}

Result<v1::User> AuthStore::SetDisabled(const std::string& name, bool disabled) {
  MLC_RETURN_IF_ERROR(GetUser(name).status());
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE users SET disabled = ? WHERE name = ?"));
  st.Bind(1, int64_t{disabled ? 1 : 0}).Bind(2, name);
  MLC_RETURN_IF_ERROR(st.Run());
  users_[name].set_disabled(disabled);
  return users_[name];
}

std::vector<v1::User> AuthStore::ListUsers() {
  std::lock_guard lock(mu_);
  (void)RefreshLocked(false);
  std::vector<v1::User> out;
  for (const auto& [name, user] : users_) out.push_back(user);
  return out;
}

size_t AuthStore::UserCount() {
  std::lock_guard lock(mu_);
  (void)RefreshLocked(false);
  return users_.size();
}

Result<v1::CreateTokenResponse> AuthStore::CreateToken(const std::string& user,
                                                       const std::string& description,
                                                       const std::vector<std::string>& projects,
                                                       std::chrono::seconds ttl) {
  if (ttl.count() < 0) return InvalidArgumentError("a token's ttl must not be negative");
  MLC_ASSIGN_OR_RETURN(v1::User owner, GetUser(user));
  if (owner.disabled()) {
    return FailedPreconditionError("user \"" + user + "\" is disabled; enable it first");
  }
  unsigned char random[kSecretRandomBytes + kIdHexDigits / 2];
  MLC_RETURN_IF_ERROR(RandomBytes(random, sizeof(random)));
  const std::string id = util::HexEncode(std::string_view(
      reinterpret_cast<const char*>(random + kSecretRandomBytes), kIdHexDigits / 2));
  const std::string secret =
      std::string(kSecretPrefix) + id + "_" + Base64Url(random, kSecretRandomBytes);
  v1::CreateTokenResponse out;
  v1::ApiToken& t = *out.mutable_token();
  t.set_id(id);
  t.set_user(user);
  t.set_description(description);
  for (const auto& p : projects) t.add_projects(p);
  const int64_t now = NowSeconds();
  const int64_t created = NowMicros();
  SetMicros(t.mutable_create_time(), created);
  if (ttl.count() > 0) SetTime(t.mutable_expire_time(), now + ttl.count());
  t.set_secret_prefix(secret.substr(0, 12));
  const std::string digest = util::Sha256Hex(secret);
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto st,
                       db_->Prepare("INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)"));
  st.Bind(1, id)
      .Bind(2, user)
      .Bind(3, description)
      .Bind(4, JoinProjects(t.projects()))
      .Bind(5, digest)
      .Bind(6, t.secret_prefix())
      .Bind(7, created)
      .Bind(8, t.has_expire_time() ? t.expire_time().seconds() : int64_t{0});
  MLC_RETURN_IF_ERROR(st.Run());
  tokens_[id] = StoredToken{t, digest};
  out.set_secret(secret);
  return out;
}

Status AuthStore::TouchLocked(v1::ApiToken& token) {
  const int64_t now = NowSeconds();
  if (token.has_last_use_time() && now - token.last_use_time().seconds() < kTouchEverySeconds) {
    return Status::Ok();
  }
  SetTime(token.mutable_last_use_time(), now);
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE tokens SET last_use_time = ? WHERE id = ?"));
  st.Bind(1, now).Bind(2, token.id());
  return st.Run();
}

Result<Principal> AuthStore::Authenticate(const std::string& secret) {
  // "mlc_" + 8 hex + "_" + 43 characters.
  const size_t expected = kSecretPrefix.size() + kIdHexDigits + 1 + 43;
  if (secret.size() != expected || !secret.starts_with(kSecretPrefix) ||
      secret[kSecretPrefix.size() + kIdHexDigits] != '_') {
    return Unauthenticated("the bearer token is not an mlcore API token (mlc_<id>_<secret>)");
  }
  const std::string id = secret.substr(kSecretPrefix.size(), kIdHexDigits);
  const std::string digest = util::Sha256Hex(secret);
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RefreshLocked(false));
  auto it = tokens_.find(id);
  if (it == tokens_.end()) {
    MLC_RETURN_IF_ERROR(RefreshLocked(true));  // minted by another process a moment ago?
    it = tokens_.find(id);
  }
  if (it == tokens_.end() || !ConstantTimeEqual(it->second.secret_sha256, digest)) {
    return Unauthenticated("API token " + secret.substr(0, 12) + "… is not known to this server");
  }
  v1::ApiToken& token = it->second.token;
  if (token.has_revoke_time()) {
    return Unauthenticated("API token " + token.secret_prefix() + "… was revoked");
  }
  if (token.has_expire_time() && token.expire_time().seconds() <= NowSeconds()) {
    return Unauthenticated("API token " + token.secret_prefix() + "… has expired");
  }
  auto user = users_.find(token.user());
  if (user == users_.end() || user->second.disabled()) {
    return Unauthenticated("user \"" + token.user() + "\" is disabled");
  }
  (void)TouchLocked(token);  // bookkeeping only: a read-only disk must not refuse the call
  return Principal{user->second, token};
}

Result<Principal> AuthStore::AuthenticateUser(const std::string& name) {
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RefreshLocked(false));
  auto user = users_.find(name);
  if (user == users_.end()) {
    return Unauthenticated("the client certificate names user \"" + name +
                           "\", who is not known to this server");
  }
  if (user->second.disabled()) return Unauthenticated("user \"" + name + "\" is disabled");
  return Principal{user->second, std::nullopt};
}

Result<v1::ListTokensResponse> AuthStore::ListTokens(const std::string& user, bool include_revoked,
                                                     int page_size, const std::string& page_token) {
  if (page_size < 0 || page_size > 1000) {
    return InvalidArgumentError("page_size must be between 0 and 1000");
  }
  if (page_size == 0) page_size = 100;
  MLC_ASSIGN_OR_RETURN(std::string after, DecodePageToken(page_token, "tokens"));
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RefreshLocked(false));
  std::vector<const v1::ApiToken*> matching;
  const int64_t now = NowSeconds();
  for (const auto& [id, stored] : tokens_) {
    const v1::ApiToken& t = stored.token;
    if (t.user() != user) continue;
    const bool dead =
        t.has_revoke_time() || (t.has_expire_time() && t.expire_time().seconds() <= now);
    if (dead && !include_revoked) continue;
    matching.push_back(&t);
  }
  // Newest first; the key "<create_time>/<id>" orders pages.
  auto key = [](const v1::ApiToken* t) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(MicrosOf(t->create_time())));
    return std::string(buf) + "/" + t->id();
  };
  std::sort(matching.begin(), matching.end(),
            [&](const v1::ApiToken* a, const v1::ApiToken* b) { return key(a) > key(b); });
  v1::ListTokensResponse out;
  for (const v1::ApiToken* t : matching) {
    if (!after.empty() && key(t) >= after) continue;
    if (out.tokens_size() == page_size) {
      out.set_next_page_token(EncodePageToken(key(&out.tokens(out.tokens_size() - 1)), "tokens"));
      break;
    }
    *out.add_tokens() = *t;
  }
  return out;
}

Result<v1::ApiToken> AuthStore::GetToken(const std::string& id) {
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RefreshLocked(true));
  auto it = tokens_.find(id);
  if (it == tokens_.end()) {
    return NotFoundError("token " + id + " does not exist (list yours with `mlc token ls`)");
  }
  return it->second.token;
}

Status AuthStore::RevokeToken(const std::string& id) {
  MLC_ASSIGN_OR_RETURN(v1::ApiToken token, GetToken(id));
  if (token.has_revoke_time()) return Status::Ok();
  const int64_t now = NowSeconds();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE tokens SET revoke_time = ? WHERE id = ?"));
  st.Bind(1, now).Bind(2, id);
  MLC_RETURN_IF_ERROR(st.Run());
  SetTime(tokens_[id].token.mutable_revoke_time(), now);
  return Status::Ok();
}

Status AuthStore::KeepsAnAdminLocked(const v1::RoleBinding& leaving) {
  if (leaving.role() != v1::ROLE_ADMIN) return Status::Ok();
  for (const auto& [key, b] : roles_) {
    if (key.first == leaving.project() && key.second != leaving.user() &&
        b.role() == v1::ROLE_ADMIN) {
      return Status::Ok();
    }
  }
  return FailedPreconditionError("\"" + leaving.user() + "\" is the last admin of project \"" +
                                 leaving.project() + "\"; grant admin to someone else first");
}

Result<v1::RoleBinding> AuthStore::Grant(const std::string& project, const std::string& user,
                                         v1::Role role, const std::string& granted_by) {
  if (role == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(role)) {
    return InvalidArgumentError("grant a role: viewer, editor or admin");
  }
  MLC_RETURN_IF_ERROR(GetUser(user).status());
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RefreshLocked(true));
  auto it = roles_.find({project, user});
  if (it != roles_.end() && role != v1::ROLE_ADMIN) {
    MLC_RETURN_IF_ERROR(KeepsAnAdminLocked(it->second));
  }
  v1::RoleBinding b;
  b.set_project(project);
  b.set_user(user);
  b.set_role(role);
  SetTime(b.mutable_create_time(), NowSeconds());
  b.set_granted_by(granted_by);
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("INSERT OR REPLACE INTO role_bindings VALUES (?, ?, "
                                             "?, ?, ?)"));
  st.Bind(1, project)
      .Bind(2, user)
      .Bind(3, int64_t{role})
      .Bind(4, b.create_time().seconds())
      .Bind(5, granted_by);
  MLC_RETURN_IF_ERROR(st.Run());
  roles_[{project, user}] = b;
  return b;
}

Status AuthStore::Revoke(const std::string& project, const std::string& user) {
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RefreshLocked(true));
  auto it = roles_.find({project, user});
  if (it == roles_.end()) {
    return NotFoundError("user \"" + user + "\" has no role on project \"" + project + "\"");
  }
  MLC_RETURN_IF_ERROR(KeepsAnAdminLocked(it->second));
  MLC_ASSIGN_OR_RETURN(auto st,
                       db_->Prepare("DELETE FROM role_bindings WHERE project = ? AND user = ?"));
  st.Bind(1, project).Bind(2, user);
  MLC_RETURN_IF_ERROR(st.Run());
  roles_.erase(it);
  return Status::Ok();
}

std::vector<v1::RoleBinding> AuthStore::Bindings(const std::string& project,
                                                 const std::string& user) {
  std::lock_guard lock(mu_);
  (void)RefreshLocked(false);
  std::vector<v1::RoleBinding> out;
  for (const auto& [key, b] : roles_) {
    if ((project.empty() || key.first == project) && (user.empty() || key.second == user)) {
      out.push_back(b);
    }
  }
  return out;
}

v1::Role AuthStore::DirectRole(const std::string& user, const std::string& project) {
  // No refresh: the call being authorized refreshed when it authenticated, a moment ago.
  std::lock_guard lock(mu_);
  auto it = roles_.find({project, user});
  return it == roles_.end() ? v1::ROLE_UNSPECIFIED : it->second.role();
}

Result<v1::User> AddUser(const std::string& state_dir, const v1::User& user) {
  MLC_ASSIGN_OR_RETURN(auto store, AuthStore::Open(util::AbsolutePath(state_dir)));
  return store->AddUser(user);
}

Result<v1::User> SetUserDisabled(const std::string& state_dir, const std::string& name,
                                 bool disabled) {
  MLC_ASSIGN_OR_RETURN(auto store, AuthStore::Open(util::AbsolutePath(state_dir)));
  return store->SetDisabled(name, disabled);
}

Result<std::vector<v1::User>> ListUsers(const std::string& state_dir) {
  MLC_ASSIGN_OR_RETURN(auto store, AuthStore::Open(util::AbsolutePath(state_dir)));
  return store->ListUsers();
}

Result<v1::CreateTokenResponse> MintToken(const std::string& state_dir, const std::string& user,
                                          const std::string& description,
                                          std::chrono::seconds ttl) {
  MLC_ASSIGN_OR_RETURN(auto store, AuthStore::Open(util::AbsolutePath(state_dir)));
  return store->CreateToken(user, description, {}, ttl);
}

}  // namespace mlcore::server
