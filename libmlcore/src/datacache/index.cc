#include "datacache/index.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "local/process.h"
#include "local/sqlite_store.h"

namespace mlcore::datacache {
namespace {

const char* const kSchemaSql = R"sql(
CREATE TABLE uris (
  uri TEXT PRIMARY KEY,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  last_modified TEXT NOT NULL,
  fetch_time INTEGER NOT NULL
);
CREATE INDEX uris_digest ON uris(digest);
CREATE TABLE copies (
  digest TEXT NOT NULL,
  tier INTEGER NOT NULL,
  size INTEGER NOT NULL,
  path TEXT NOT NULL,
  fetch_time INTEGER NOT NULL,
  last_access INTEGER NOT NULL,
  access_count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (digest, tier)
);
CREATE TABLE pins (
  uri TEXT NOT NULL,
  owner TEXT NOT NULL,
  create_time INTEGER NOT NULL,
  expire_time INTEGER NOT NULL,
  pid INTEGER NOT NULL DEFAULT 0,
  start_ticks INTEGER NOT NULL DEFAULT 0,
  boot_id TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (uri, owner)
);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters VALUES ('since', CAST(strftime('%s', 'now') AS INTEGER) * 1000);
)sql";

// Which projects loaded or pinned which URIs (a project lists only those).
const char* const kProjectsSql = R"sql(
CREATE TABLE project_uris (
  project TEXT NOT NULL,
  uri TEXT NOT NULL,
  PRIMARY KEY (project, uri)
);
)sql";

// A copy is pinned when any URI with its content holds a pin.
const char* const kPinnedSql =
    "EXISTS (SELECT 1 FROM pins p JOIN uris u ON u.uri = p.uri WHERE u.digest = c.digest)";

std::string HostName() {
  char host[256] = {};
  return gethostname(host, sizeof host - 1) == 0 ? host : "localhost";
}

// The pid of a "pid:<host>:<pid>" (or "pid:<pid>") owner on this host; 0 otherwise.
pid_t LocalPidOf(const std::string& owner) {
  if (owner.rfind("pid:", 0) != 0) return 0;
  std::string rest = owner.substr(4);
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos) {
    if (rest.substr(0, colon) != HostName()) return 0;
    rest = rest.substr(colon + 1);
  }
  char* end = nullptr;
  long pid = std::strtol(rest.c_str(), &end, 10);  // NOLINT(google-runtime-int)
  return end != rest.c_str() && *end == '\0' && pid > 0 ? static_cast<pid_t>(pid) : 0;
}

Status BumpIn(sqlite::Db& db, std::string_view counter, int64_t delta) {
  MLC_ASSIGN_OR_RETURN(
      auto st, db.Prepare("INSERT INTO counters VALUES (?1, ?2) "
                          "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value"));
  st.Bind(1, counter).Bind(2, delta);
  return st.Run();
}

std::string TierPrefix(Tier tier) { return tier == Tier::kHot ? "hot_" : "cold_"; }

}  // namespace

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string PidPinOwner() { return "pid:" + HostName() + ":" + std::to_string(getpid()); }

std::string MachineId() {
  if (const char* env = std::getenv("MLC_MACHINE_ID"); env != nullptr && *env != '\0') return env;
  static const std::string id = [] {
    std::ifstream in("/etc/machine-id");
    std::string line;
    if (std::getline(in, line) && !line.empty()) return line;
    return "host:" + HostName();
  }();
  return id;
}

CacheIndex::CacheIndex(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}
CacheIndex::~CacheIndex() = default;

Result<std::unique_ptr<CacheIndex>> CacheIndex::Open(const std::string& path) {
  MLC_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(path, {{1, kSchemaSql}, {2, kProjectsSql}}));
  return std::unique_ptr<CacheIndex>(new CacheIndex(std::move(db)));
}

Result<std::optional<UriRecord>> CacheIndex::LookupUri(const std::string& uri) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      auto st, db_->Prepare("SELECT digest, size, etag, last_modified FROM uris WHERE uri = ?1"));
  st.Bind(1, uri);
  MLC_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<UriRecord>();
  return std::optional<UriRecord>(UriRecord{st.ColumnText(0),
                                            static_cast<uint64_t>(st.ColumnInt(1)),
                                            st.ColumnText(2), st.ColumnText(3)});
}

Result<std::optional<CopyRow>> CacheIndex::LookupCopy(const std::string& digest, Tier tier) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      auto st, db_->Prepare("SELECT size, path FROM copies WHERE digest = ?1 AND tier = ?2"));
  st.Bind(1, digest).Bind(2, static_cast<int64_t>(tier));
  MLC_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<CopyRow>();
  return std::optional<CopyRow>(
      CopyRow{digest, static_cast<uint64_t>(st.ColumnInt(0)), st.ColumnText(1)});
}

Status CacheIndex::RecordCopy(const std::string& uri, const UriRecord& record, Tier tier,
                              const std::string& path, bool fetched) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*db_));
  int64_t now = NowMs();
  MLC_ASSIGN_OR_RETURN(
      auto up, db_->Prepare("INSERT INTO uris VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(uri) DO "
                            "UPDATE SET digest = ?2, size = ?3, etag = ?4, last_modified = ?5, "
                            "fetch_time = CASE WHEN ?7 THEN ?6 ELSE fetch_time END"));
  up.Bind(1, uri).Bind(2, record.digest).Bind(3, static_cast<int64_t>(record.size));
  up.Bind(4, record.etag).Bind(5, record.last_modified).Bind(6, now);
  up.Bind(7, static_cast<int64_t>(fetched ? 1 : 0));
  MLC_RETURN_IF_ERROR(up.Run());
  MLC_ASSIGN_OR_RETURN(
      auto cp, db_->Prepare("INSERT INTO copies VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0) "
                            "ON CONFLICT(digest, tier) DO UPDATE SET path = ?4, last_access = ?5"));
  cp.Bind(1, record.digest).Bind(2, static_cast<int64_t>(tier));
  cp.Bind(3, static_cast<int64_t>(record.size)).Bind(4, path).Bind(5, now);
  MLC_RETURN_IF_ERROR(cp.Run());
  return tx.Commit();
}

Status CacheIndex::ForgetCopy(const std::string& digest, Tier tier) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM copies WHERE digest = ?1 AND tier = ?2"));
  st.Bind(1, digest).Bind(2, static_cast<int64_t>(tier));
  return st.Run();
}

Status CacheIndex::Touch(const std::string& digest, Tier tier) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE copies SET last_access = ?3, access_count = "
                                             "access_count + 1 WHERE digest = ?1 AND tier = ?2"));
  st.Bind(1, digest).Bind(2, static_cast<int64_t>(tier)).Bind(3, NowMs());
  return st.Run();
}

Status CacheIndex::Bump(std::string_view counter, int64_t delta) {
  std::lock_guard<std::mutex> lock(mu_);
  return BumpIn(*db_, counter, delta);
}

Result<int64_t> CacheIndex::Counter(std::string_view counter) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT value FROM counters WHERE name = ?1"));
  st.Bind(1, counter);
  MLC_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : 0;
}

Status CacheIndex::ReleaseStalePins() {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(auto lapsed,
                       db_->Prepare("DELETE FROM pins WHERE expire_time > 0 AND expire_time < ?1"));
  lapsed.Bind(1, NowMs());
  MLC_RETURN_IF_ERROR(lapsed.Run());
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT uri, owner, pid, start_ticks, boot_id FROM "
                                             "pins WHERE pid != 0"));
  std::vector<std::pair<std::string, std::string>> dead;
  for (;;) {
    MLC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    local::ProcessIdentity id{static_cast<pid_t>(st.ColumnInt(2)),
                              static_cast<uint64_t>(st.ColumnInt(3)), st.ColumnText(4)};
    if (!local::IsAlive(id)) {
      dead.emplace_back(st.ColumnText(0), st.ColumnText(1));
    }
  }
  MLC_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM pins WHERE uri = ?1 AND owner = ?2"));
  for (const auto& [uri, owner] : dead) {
    del.Reset();
    del.Bind(1, uri).Bind(2, owner);
    MLC_RETURN_IF_ERROR(del.Run());
  }
  return tx.Commit();
}

Result<std::vector<CopyRow>> CacheIndex::MakeRoom(Tier tier, uint64_t capacity, uint64_t need,
                                                  const std::string& for_what) {
  std::vector<CopyRow> victims;
  if (capacity == 0) return victims;
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(auto used_st,
                       db_->Prepare("SELECT COALESCE(SUM(size), 0) FROM copies WHERE tier = ?1"));
  used_st.Bind(1, static_cast<int64_t>(tier));
  MLC_ASSIGN_OR_RETURN(bool has_row, used_st.Step());
  auto used = static_cast<uint64_t>(has_row ? used_st.ColumnInt(0) : 0);
  if (used + need <= capacity) return victims;
  MLC_ASSIGN_OR_RETURN(auto cand,
                       db_->Prepare(std::string("SELECT digest, size, path FROM copies c WHERE "
                                                "tier = ?1 AND NOT ") +
                                    kPinnedSql + " ORDER BY last_access ASC"));
  cand.Bind(1, static_cast<int64_t>(tier));
  while (used + need > capacity) {
    MLC_ASSIGN_OR_RETURN(bool row, cand.Step());
    if (!row) break;
    victims.push_back(
        CopyRow{cand.ColumnText(0), static_cast<uint64_t>(cand.ColumnInt(1)), cand.ColumnText(2)});
    used -= victims.back().size;
  }
  if (used + need > capacity) {
    MLC_ASSIGN_OR_RETURN(
        auto pins, db_->Prepare(std::string("SELECT p.owner, p.uri, c.size FROM copies c JOIN uris "
                                            "u ON u.digest = c.digest JOIN pins p ON p.uri = u.uri "
                                            "WHERE c.tier = ?1 ORDER BY p.uri LIMIT 20")));
    pins.Bind(1, static_cast<int64_t>(tier));
    std::string held;
    for (;;) {
      MLC_ASSIGN_OR_RETURN(bool row, pins.Step());
      if (!row) break;
      held += (held.empty() ? "" : ", ") + pins.ColumnText(0) + " on " + pins.ColumnText(1) + " (" +
              std::to_string(pins.ColumnInt(2)) + " bytes)";
    }
    return ResourceExhaustedError(
        for_what + ": needs " + std::to_string(need) + " bytes but the tier holds " +
        std::to_string(used) + " bytes that cannot be evicted, of a capacity of " +
        std::to_string(capacity) + " bytes; pinned: " + (held.empty() ? "none" : held) +
        ". Unpin entries or raise the capacity");
  }
  MLC_ASSIGN_OR_RETURN(auto del,
                       db_->Prepare("DELETE FROM copies WHERE digest = ?1 AND tier = ?2"));
  for (const CopyRow& v : victims) {
    del.Reset();
    del.Bind(1, v.digest).Bind(2, static_cast<int64_t>(tier));
    MLC_RETURN_IF_ERROR(del.Run());
  }
  MLC_RETURN_IF_ERROR(
      BumpIn(*db_, TierPrefix(tier) + "evictions", static_cast<int64_t>(victims.size())));
  MLC_RETURN_IF_ERROR(tx.Commit());
  return victims;
}

Result<std::vector<CopyRow>> CacheIndex::TakeUnpinned(Tier tier) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare(std::string("SELECT digest, size, path FROM copies c "
                                                         "WHERE tier = ?1 AND NOT ") +
                                             kPinnedSql));
  st.Bind(1, static_cast<int64_t>(tier));
  std::vector<CopyRow> out;
  for (;;) {
    MLC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(
        CopyRow{st.ColumnText(0), static_cast<uint64_t>(st.ColumnInt(1)), st.ColumnText(2)});
  }
  MLC_ASSIGN_OR_RETURN(auto del,
                       db_->Prepare("DELETE FROM copies WHERE digest = ?1 AND tier = ?2"));
  for (const CopyRow& v : out) {
    del.Reset();
    del.Bind(1, v.digest).Bind(2, static_cast<int64_t>(tier));
    MLC_RETURN_IF_ERROR(del.Run());
  }
  MLC_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Status CacheIndex::AddPin(const std::string& uri, const std::string& owner, int64_t expire_ms,
                          pid_t holder) {
  std::lock_guard<std::mutex> lock(mu_);
  local::ProcessIdentity id;
  if (pid_t pid = LocalPidOf(owner); pid != 0) holder = pid;
  if (holder != 0) id = local::IdentityOf(holder);
  MLC_ASSIGN_OR_RETURN(auto st,
                       db_->Prepare("INSERT INTO pins VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                                    "ON CONFLICT(uri, owner) DO UPDATE SET expire_time = ?4"));
  st.Bind(1, uri).Bind(2, owner).Bind(3, NowMs()).Bind(4, expire_ms);
  st.Bind(5, static_cast<int64_t>(id.pid)).Bind(6, static_cast<int64_t>(id.start_ticks));
  st.Bind(7, id.boot_id);
  return st.Run();
}

Status CacheIndex::RemovePin(const std::string& uri, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM pins WHERE uri = ?1 AND owner = ?2"));
  st.Bind(1, uri).Bind(2, owner);
  return st.Run();
}

Result<std::vector<Pin>> CacheIndex::PinsOfLocked(const std::string& uri) {
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT owner, create_time, expire_time FROM pins "
                                             "WHERE uri = ?1 ORDER BY create_time, owner"));
  st.Bind(1, uri);
  std::vector<Pin> out;
  for (;;) {
    MLC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(Pin{st.ColumnText(0), st.ColumnInt(1), st.ColumnInt(2)});
  }
  return out;
}

Result<std::vector<Pin>> CacheIndex::PinsOf(const std::string& uri) {
  std::lock_guard<std::mutex> lock(mu_);
  return PinsOfLocked(uri);
}

Result<std::vector<std::string>> CacheIndex::PinOwnersOfDigest(const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT p.owner FROM pins p JOIN uris u ON u.uri = "
                                             "p.uri WHERE u.digest = ?1 ORDER BY p.owner"));
  st.Bind(1, digest);
  std::vector<std::string> out;
  for (;;) {
    MLC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.ColumnText(0));
  }
  return out;
}

Result<std::vector<Entry>> CacheIndex::List(const ListFilter& filter) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      auto st,
      db_->Prepare("SELECT u.uri, c.digest, c.size, c.tier, c.last_access, c.fetch_time, "
                   "u.etag, u.last_modified, c.path, c.access_count FROM copies c JOIN "
                   "uris u ON u.digest = c.digest WHERE (?1 = 0 OR c.tier = ?1) AND "
                   "substr(u.uri, 1, length(?2)) = ?2 AND (?3 = '' OR u.uri IN (SELECT uri FROM "
                   "project_uris WHERE project = ?3)) ORDER BY c.last_access DESC, u.uri"));
  st.Bind(1, static_cast<int64_t>(filter.tier)).Bind(2, filter.uri_prefix).Bind(3, filter.project);
  std::vector<Entry> out;
  for (;;) {
    MLC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Entry e;
    e.uri = st.ColumnText(0);
    e.digest = st.ColumnText(1);
    e.size_bytes = static_cast<uint64_t>(st.ColumnInt(2));
    e.tier = static_cast<Tier>(st.ColumnInt(3));
    e.last_access_ms = st.ColumnInt(4);
    e.fetch_time_ms = st.ColumnInt(5);
    e.etag = st.ColumnText(6);
    e.last_modified = st.ColumnText(7);
    e.local_path = st.ColumnText(8);
    e.access_count = st.ColumnInt(9);
    out.push_back(std::move(e));
  }
  std::vector<Entry> kept;
  for (Entry& e : out) {
    MLC_ASSIGN_OR_RETURN(e.pins, PinsOfLocked(e.uri));
    if (!filter.pinned_only || !e.pins.empty()) kept.push_back(std::move(e));
  }
  return kept;
}

Result<CacheIndex::Occupancy> CacheIndex::OccupancyOf(Tier tier) {
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      auto st,
      db_->Prepare(std::string("SELECT COALESCE(SUM(size), 0), COUNT(*), "
                               "COALESCE(SUM(CASE WHEN ") +
                   kPinnedSql + " THEN size ELSE 0 END), 0) FROM copies c WHERE tier = ?1"));
  st.Bind(1, static_cast<int64_t>(tier));
  MLC_ASSIGN_OR_RETURN(bool row, st.Step());
  Occupancy o;
  if (row) {
    o.used = st.ColumnInt(0);
    o.entries = st.ColumnInt(1);
    o.pinned = st.ColumnInt(2);
  }
  return o;
}

Status CacheIndex::RecordProjectUse(const std::string& project, const std::string& uri) {
  if (project.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      auto st, db_->Prepare("INSERT OR IGNORE INTO project_uris (project, uri) VALUES (?1, ?2)"));
  st.Bind(1, project).Bind(2, uri);
  return st.Run();
}

}  // namespace mlcore::datacache
