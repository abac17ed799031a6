// Schema, models, aliases, listing and the event log of the registry store (versions, resolution
// and lineage are in registry_versions.cc).
#include "local/registry_store.h"

#include <algorithm>
#include <charconv>
#include <variant>

#include <google/protobuf/util/time_util.h>
#include <sqlite3.h>

#include "core/page_token.h"
#include "local/job_store.h"
#include "registry/model_filter.h"
#include "util/sha256.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

constexpr const char* kModelColumns =
    "id, project, name, description, created_by, create_us, update_us, resource_version, "
    "latest_version";

// mlc_like(value, pattern): registry::LikeMatch (SQLite's LIKE folds ASCII case).
void SqlLike(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto* s = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  if (s == nullptr || p == nullptr) {
    sqlite3_result_null(ctx);
    return;
  }
  std::string_view sv(s, static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  std::string_view pv(p, static_cast<size_t>(sqlite3_value_bytes(argv[1])));
  sqlite3_result_int(ctx, registry::LikeMatch(sv, pv) ? 1 : 0);
}

// mlc_compare(a, b): registry::CompareTagValues, -1/0/1.
void SqlCompare(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto* a = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const auto* b = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  if (a == nullptr || b == nullptr) {
    sqlite3_result_null(ctx);
    return;
  }
  sqlite3_result_int(
      ctx, registry::CompareTagValues({a, static_cast<size_t>(sqlite3_value_bytes(argv[0]))},
                                      {b, static_cast<size_t>(sqlite3_value_bytes(argv[1]))}));
}

const char* SqlOp(registry::FilterOp op) {
  switch (op) {
    case registry::FilterOp::kEq:
      return "=";
    case registry::FilterOp::kNe:
      return "!=";
    case registry::FilterOp::kLt:
      return "<";
    case registry::FilterOp::kLe:
      return "<=";
    case registry::FilterOp::kGt:
      return ">";
    case registry::FilterOp::kGe:
      return ">=";
    default:
      return "=";
  }
}

const char* SortColumn(registry::ModelField field) {
  switch (field) {
    case registry::ModelField::kCreateTime:
      return "m.create_us";
    case registry::ModelField::kUpdateTime:
      return "m.update_us";
    default:
      return "m.name";
  }
}

using SqlArg = std::variant<int64_t, std::string>;

// A parameter list "?, ?, ?" for `n` values.
std::string Placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// Appends the SQL condition of one comparison to `where` and its arguments to `args`.
void AppendCondition(const registry::ModelComparison& c, std::string* where,
                     std::vector<SqlArg>* args) {
  using registry::FilterOp;
  using registry::ModelField;
  const bool in = c.op == FilterOp::kIn;
  switch (c.field) {
    case ModelField::kName:
      for (const auto& v : c.values) args->push_back(v.text);
      if (c.op == FilterOp::kLike) {
        *where += "mlc_like(m.name, ?)";
      } else {
        *where += "m.name " + (in ? "IN (" + Placeholders(c.values.size()) + ")"
                                  : std::string(SqlOp(c.op)) + " ?");
      }
      return;
    case ModelField::kCreateTime:
    case ModelField::kUpdateTime: {
      for (const auto& v : c.values) args->push_back(v.time_us);
      std::string column = c.field == ModelField::kCreateTime ? "m.create_us" : "m.update_us";
      *where += column + (in ? " IN (" + Placeholders(c.values.size()) + ")"
                             : " " + std::string(SqlOp(c.op)) + " ?");
      return;
    }
    case ModelField::kTag: {
      args->push_back(c.key);
      *where += "EXISTS (SELECT 1 FROM model_tags t WHERE t.model_id = m.id AND t.key = ? AND (";
      for (size_t i = 0; i < c.values.size(); ++i) {
        args->push_back(c.values[i].text);
        if (i > 0) *where += " OR ";
        if (c.op == FilterOp::kLike) {
          *where += "mlc_like(t.value, ?)";
        } else {
          *where += "mlc_compare(t.value, ?) " + std::string(in ? "=" : SqlOp(c.op)) + " 0";
        }
      }
      *where += "))";
      return;
    }
    case ModelField::kAlias: {
      for (const auto& v : c.values) args->push_back(v.text);
      std::string cond = c.op == FilterOp::kLike ? "mlc_like(a.alias, ?)"
                         : in ? "a.alias IN (" + Placeholders(c.values.size()) + ")"
                              : "a.alias = ?";
      *where += std::string(c.op == FilterOp::kNe ? "NOT " : "") +
                "EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = m.id AND " + cond + ")";
      return;
    }
  }
}

void Bind(sqlite::Statement& s, int index, const SqlArg& arg) {
  if (std::holds_alternative<int64_t>(arg)) {
    s.Bind(index, std::get<int64_t>(arg));
  } else {
    s.Bind(index, std::get<std::string>(arg));
  }
}

}  // namespace

const std::vector<sqlite::Migration>& RegistryMigrations() {
  static const std::vector<sqlite::Migration> kMigrations = {
      {1, R"sql(
        -- One row per registered model; `id` is stable across renames and never reused.
        CREATE TABLE models (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          project TEXT NOT NULL,
          name TEXT NOT NULL,
          description TEXT NOT NULL DEFAULT '',
          created_by TEXT NOT NULL DEFAULT '',
          create_us INTEGER NOT NULL,
          update_us INTEGER NOT NULL,
          resource_version INTEGER NOT NULL,
          latest_version INTEGER NOT NULL DEFAULT 0,  -- highest number created so far
          UNIQUE (project, name)
        );
        CREATE TABLE model_tags (
          model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE versions (
          model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
          version INTEGER NOT NULL,
          status INTEGER NOT NULL,
          create_us INTEGER NOT NULL,
          run_id TEXT NOT NULL DEFAULT '',
          job_id TEXT NOT NULL DEFAULT '',
          artifact_id TEXT NOT NULL DEFAULT '',
          manifest_digest TEXT NOT NULL DEFAULT '',  -- '' while PENDING_UPLOAD
          parent_model_id INTEGER,  -- models.id of the parent version; no cascade (kept as history)
          parent_version INTEGER,
          request_id TEXT,
          -- serialized mlcore.v1.ModelVersion without project, model, aliases and legacy_stage
          body BLOB NOT NULL,
          PRIMARY KEY (model_id, version)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX versions_request ON versions(model_id, request_id)
          WHERE request_id IS NOT NULL;
        CREATE INDEX versions_run ON versions(run_id) WHERE run_id != '';
        CREATE INDEX versions_job ON versions(job_id) WHERE job_id != '';
        CREATE INDEX versions_artifact ON versions(artifact_id) WHERE artifact_id != '';
        CREATE INDEX versions_parent ON versions(parent_model_id, parent_version)
          WHERE parent_model_id IS NOT NULL;
        CREATE TABLE version_datasets (
          model_id INTEGER NOT NULL,
          version INTEGER NOT NULL,
          digest TEXT NOT NULL,
          PRIMARY KEY (model_id, version, digest),
          FOREIGN KEY (model_id, version) REFERENCES versions(model_id, version) ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE INDEX version_datasets_digest ON version_datasets(digest);
        CREATE TABLE aliases (
          model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
          alias TEXT NOT NULL,
          version INTEGER NOT NULL,
          update_us INTEGER NOT NULL,
          updated_by TEXT NOT NULL DEFAULT '',
          PRIMARY KEY (model_id, alias)
        ) WITHOUT ROWID;
        CREATE INDEX aliases_version ON aliases(model_id, version);
        -- The event log; AUTOINCREMENT so a sequence is never reused, even after pruning.
        CREATE TABLE events (
          sequence INTEGER PRIMARY KEY AUTOINCREMENT,
          project TEXT NOT NULL,
          model TEXT NOT NULL,
          type INTEGER NOT NULL,
          body BLOB NOT NULL  -- serialized mlcore.v1.RegistryEvent without sequence
        );
        CREATE INDEX events_project ON events(project, sequence);
      )sql"},
      {2, R"sql(
        -- Webhooks: the stored mlcore.v1.Webhook (its secret a reference, never a value).
        CREATE TABLE webhooks (
          id TEXT PRIMARY KEY,
          project TEXT NOT NULL,
          create_us INTEGER NOT NULL,
          body BLOB NOT NULL
        );
        CREATE INDEX webhooks_project ON webhooks(project, create_us, id);
        -- The delivery queue and log: one row per (event, webhook), queued in the transaction that
        -- appends the event. `seq` orders a webhook's deliveries; `due_us` is the next attempt of
        -- an unfinished one (status PENDING or RETRYING), 0 once finished.
        CREATE TABLE deliveries (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          webhook_id TEXT NOT NULL,
          event_sequence INTEGER NOT NULL,
          status INTEGER NOT NULL,
          due_us INTEGER NOT NULL,
          body BLOB NOT NULL  -- serialized mlcore.v1.WebhookDelivery
        );
        CREATE INDEX deliveries_webhook ON deliveries(webhook_id, seq);
        CREATE INDEX deliveries_unfinished ON deliveries(webhook_id, seq) WHERE status IN (1, 3);
      )sql"},
  };
  return kMigrations;
}

Result<std::unique_ptr<RegistryStore>> RegistryStore::Open(const std::string& path) {
  MLC_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(path, RegistryMigrations()));
  // A change acknowledged to a client (an alias moved, a version registered) survives a crash of
  // the machine, not just of the process.
  MLC_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
  for (auto [name, fn] : {std::pair{"mlc_like", &SqlLike}, std::pair{"mlc_compare", &SqlCompare}}) {
    int rc = sqlite3_create_function_v2(db->raw(), name, 2, flags, nullptr, fn, nullptr, nullptr,
                                        nullptr);
    if (rc != SQLITE_OK) return sqlite::FromSqlite(rc, db->raw(), "cannot register " + path);
  }
  return std::unique_ptr<RegistryStore>(new RegistryStore(std::move(db)));
}

RegistryStore::~RegistryStore() = default;

Result<RegistryStore::Query> RegistryStore::Prepare(const char* sql) { return db_->Cached(sql); }

// --- Rows --------------------------------------------------------------------------------------

namespace {
void ReadModelRow(sqlite::Statement& s, int64_t* id, std::string* project, std::string* name,
                  std::string* description, std::string* created_by, int64_t* create_us,
                  int64_t* update_us, int64_t* rv, int64_t* latest) {
  *id = s.ColumnInt(0);
  *project = s.ColumnText(1);
  *name = s.ColumnText(2);
  *description = s.ColumnText(3);
  *created_by = s.ColumnText(4);
  *create_us = s.ColumnInt(5);
  *update_us = s.ColumnInt(6);
  *rv = s.ColumnInt(7);
  *latest = s.ColumnInt(8);
}
}  // namespace

Result<RegistryStore::ModelRow> RegistryStore::LoadModelLocked(const std::string& project,
                                                               const std::string& name) {
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT id, project, name, description, created_by, "
                                        "create_us, update_us, resource_version, latest_version "
                                        "FROM models WHERE project = ? AND name = ?"));
  q->Bind(1, project).Bind(2, name);
  MLC_ASSIGN_OR_RETURN(bool found, q->Step());
  if (!found) {
    return NotFoundError("model \"" + name + "\" does not exist in project " + project +
                         " (list models with `mlc model ls`)");
  }
  ModelRow r;
  ReadModelRow(*q, &r.id, &r.project, &r.name, &r.description, &r.created_by, &r.create_us,
               &r.update_us, &r.resource_version, &r.latest_version);
  return r;
}

Result<RegistryStore::ModelRow> RegistryStore::LoadModelByIdLocked(int64_t id) {
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT id, project, name, description, created_by, "
                                        "create_us, update_us, resource_version, latest_version "
                                        "FROM models WHERE id = ?"));
  q->Bind(1, id);
  MLC_ASSIGN_OR_RETURN(bool found, q->Step());
  if (!found) return NotFoundError("model #" + std::to_string(id) + " no longer exists");
  ModelRow r;
  ReadModelRow(*q, &r.id, &r.project, &r.name, &r.description, &r.created_by, &r.create_us,
               &r.update_us, &r.resource_version, &r.latest_version);
  return r;
}

Result<v1::RegisteredModel> RegistryStore::ModelProtoLocked(const ModelRow& row) {
  v1::RegisteredModel m;
  m.set_project(row.project);
  m.set_name(row.name);
  m.set_description(row.description);
  m.set_created_by(row.created_by);
  *m.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(row.create_us);
  *m.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(row.update_us);
  m.set_resource_version(row.resource_version);
  m.set_latest_version(row.latest_version);
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT key, value FROM model_tags WHERE model_id = ?"));
    q->Bind(1, row.id);
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool more, q->Step());
      if (!more) break;
      (*m.mutable_tags())[q->ColumnText(0)] = q->ColumnText(1);
    }
  }
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT alias, version, update_us, updated_by FROM aliases "
                                        "WHERE model_id = ? ORDER BY alias"));
  q->Bind(1, row.id);
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, q->Step());
    if (!more) break;
    v1::ModelAlias* a = m.add_aliases();
    a->set_alias(q->ColumnText(0));
    a->set_version(q->ColumnInt(1));
    *a->mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(q->ColumnInt(2));
    a->set_updated_by(q->ColumnText(3));
  }
  return m;
}

Status RegistryStore::CheckExpectedVersion(const ModelRow& row, int64_t expected_version) const {
  if (expected_version == 0 || expected_version == row.resource_version) return Status::Ok();
  return AbortedError("model \"" + row.name + "\" is at resource_version " +
                      std::to_string(row.resource_version) + ", not the expected " +
                      std::to_string(expected_version) +
                      ": another change came first; re-read the model and retry");
}

Result<int64_t> RegistryStore::TouchModelLocked(const ModelRow& row, int64_t now_us) {
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("UPDATE models SET update_us = MAX(update_us, ?), "
                                        "resource_version = resource_version + 1 WHERE id = ?"));
  q->Bind(1, now_us).Bind(2, row.id);
  MLC_RETURN_IF_ERROR(q->Run());
  return row.resource_version + 1;
}

Status RegistryStore::AppendEventLocked(v1::RegistryEvent event, int64_t now_us) {
  *event.mutable_time() = TimeUtil::MicrosecondsToTimestamp(now_us);
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("INSERT INTO events(project, model, type, body) "
                                        "VALUES (?, ?, ?, ?)"));
  q->Bind(1, event.project()).Bind(2, event.model()).Bind(3, static_cast<int64_t>(event.type()));
  q->BindBlob(4, event.SerializeAsString());
  MLC_RETURN_IF_ERROR(q->Run());
  event.set_sequence(db_->LastInsertRowId());
  return EnqueueDeliveriesLocked(event, now_us);
}

Result<std::string> RegistryStore::AliasSummaryLocked(int64_t model_id) {
  MLC_ASSIGN_OR_RETURN(
      Query q, Prepare("SELECT alias, version FROM aliases WHERE model_id = ? ORDER BY alias"));
  q->Bind(1, model_id);
  std::string out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, q->Step());
    if (!more) break;
    out += (out.empty() ? "" : ", ") + q->ColumnText(0) + " -> " + std::to_string(q->ColumnInt(1));
  }
  return out;
}

// --- Models ------------------------------------------------------------------------------------

Result<v1::RegisteredModel> RegistryStore::CreateModel(const v1::RegisteredModel& model,
                                                       const std::string& actor) {
  const int64_t now = NowMicros();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("INSERT INTO models(project, name, description, "
                                          "created_by, create_us, update_us, resource_version) "
                                          "VALUES (?, ?, ?, ?, ?, ?, 1)"));
    q->Bind(1, model.project()).Bind(2, model.name()).Bind(3, model.description());
    q->Bind(4, actor).Bind(5, now).Bind(6, now);
    Status s = q->Run();
    if (s.code() == StatusCode::kAlreadyExists) {
      return AlreadyExistsError("model \"" + model.name() + "\" already exists in project " +
                                model.project() + "; choose another name or add a version to it");
    }
    MLC_RETURN_IF_ERROR(s);
  }
  const int64_t id = db_->LastInsertRowId();
  for (const auto& [k, v] : model.tags()) {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("INSERT INTO model_tags(model_id, key, value) "
                                          "VALUES (?, ?, ?)"));
    q->Bind(1, id).Bind(2, k).Bind(3, v);
    MLC_RETURN_IF_ERROR(q->Run());
  }
  v1::RegistryEvent e;
  e.set_type(v1::REGISTRY_EVENT_TYPE_MODEL_CREATED);
  e.set_actor(actor);
  e.set_project(model.project());
  e.set_model(model.name());
  e.set_resource_version(1);
  MLC_RETURN_IF_ERROR(AppendEventLocked(e, now));
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelByIdLocked(id));
  MLC_ASSIGN_OR_RETURN(v1::RegisteredModel out, ModelProtoLocked(row));
  MLC_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<v1::RegisteredModel> RegistryStore::GetModel(const std::string& project,
                                                    const std::string& name) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(project, name));
  return ModelProtoLocked(row);
}

Result<v1::ListRegisteredModelsResponse> RegistryStore::ListModels(
    const v1::ListRegisteredModelsRequest& r) {
  MLC_ASSIGN_OR_RETURN(registry::ModelFilter filter, registry::ModelFilter::Parse(r.filter()));
  std::vector<std::string> order_by(r.order_by().begin(), r.order_by().end());
  MLC_ASSIGN_OR_RETURN(registry::ModelOrder order, registry::ModelOrder::Parse(order_by));
  // The token carries the last row's sort values, behind a fingerprint of the query so a token
  // from another filter or order is refused rather than misapplied.
  std::string query_text = r.project() + "\n" + r.filter();
  for (const auto& o : order_by) query_text += "\n" + o;
  const std::string fingerprint = util::Sha256Hex(query_text).substr(0, 16);
  MLC_ASSIGN_OR_RETURN(std::string cursor, DecodePageToken(r.page_token(), "models"));

  std::string sql = "SELECT " + std::string(kModelColumns) + " FROM models m WHERE m.project = ?";
  std::vector<SqlArg> args{r.project()};
  for (const auto& c : filter.comparisons()) {
    sql += " AND ";
    AppendCondition(c, &sql, &args);
  }
  const auto& keys = order.keys();
  if (!cursor.empty()) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t pos; (pos = cursor.find('\x1f', start)) != std::string::npos; start = pos + 1) {
      parts.push_back(cursor.substr(start, pos - start));
    }
    parts.push_back(cursor.substr(start));
    if (parts.size() != keys.size() + 1 || parts[0] != fingerprint) {
      return InvalidArgumentError(
          "page token belongs to a listing with another project, filter "
          "or order; pass the next_page_token of this listing unchanged");
    }
    // (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ..., with < for descending keys.
    std::vector<SqlArg> values;
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string& part = parts[i + 1];
      if (keys[i].field == registry::ModelField::kName) {
        values.emplace_back(part);
        continue;
      }
      int64_t us = 0;
      auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), us);
      if (ec != std::errc() || end != part.data() + part.size()) {
        return InvalidArgumentError(
            "invalid page token; pass the next_page_token of the previous "
            "models listing unchanged");
      }
      values.emplace_back(us);
    }
    sql += " AND (";
    for (size_t i = 0; i < keys.size(); ++i) {
      sql += i == 0 ? "(" : " OR (";
      for (size_t j = 0; j < i; ++j) {
        sql += std::string(SortColumn(keys[j].field)) + " = ? AND ";
        args.push_back(values[j]);
      }
      sql += std::string(SortColumn(keys[i].field)) + (keys[i].descending ? " < ?)" : " > ?)");
      args.push_back(values[i]);
    }
    sql += ")";
  }
  sql += " ORDER BY ";
  for (size_t i = 0; i < keys.size(); ++i) {
    sql += std::string(i == 0 ? "" : ", ") + SortColumn(keys[i].field) +
           (keys[i].descending ? " DESC" : " ASC");
  }
  sql += " LIMIT ?";
  args.emplace_back(static_cast<int64_t>(r.page_size()) + 1);

  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(sqlite::Statement select, db_->Prepare(sql));
  for (size_t i = 0; i < args.size(); ++i) Bind(select, static_cast<int>(i + 1), args[i]);
  std::vector<ModelRow> rows;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, select.Step());
    if (!more) break;
    ModelRow row;
    ReadModelRow(select, &row.id, &row.project, &row.name, &row.description, &row.created_by,
                 &row.create_us, &row.update_us, &row.resource_version, &row.latest_version);
    rows.push_back(std::move(row));
  }
  v1::ListRegisteredModelsResponse response;
  const bool more = static_cast<int>(rows.size()) > r.page_size();
  if (more) rows.resize(static_cast<size_t>(r.page_size()));
  for (const ModelRow& row : rows) {
    MLC_ASSIGN_OR_RETURN(*response.add_models(), ModelProtoLocked(row));
  }
  if (more && !rows.empty()) {
    std::string next = fingerprint;
    for (const auto& k : keys) {
      next += '\x1f';
      const ModelRow& last = rows.back();
      next += k.field == registry::ModelField::kName         ? last.name
              : k.field == registry::ModelField::kCreateTime ? std::to_string(last.create_us)
                                                             : std::to_string(last.update_us);
    }
    response.set_next_page_token(EncodePageToken(next, "models"));
  }
  return response;
}

Result<v1::RegisteredModel> RegistryStore::UpdateModel(const v1::UpdateRegisteredModelRequest& r,
                                                       const std::string& actor) {
  const int64_t now = NowMicros();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(r.project(), r.name()));
  MLC_RETURN_IF_ERROR(CheckExpectedVersion(row, r.expected_version()));
  MLC_ASSIGN_OR_RETURN(v1::RegisteredModel before, ModelProtoLocked(row));
  bool changed = false;
  if (r.has_description() && r.description() != row.description) {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("UPDATE models SET description = ? WHERE id = ?"));
    q->Bind(1, r.description()).Bind(2, row.id);
    MLC_RETURN_IF_ERROR(q->Run());
    changed = true;
  }
  for (const auto& key : r.remove_tags()) {
    if (!before.tags().contains(key) || r.set_tags().contains(key)) continue;
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("DELETE FROM model_tags WHERE model_id = ? AND key = ?"));
    q->Bind(1, row.id).Bind(2, key);
    MLC_RETURN_IF_ERROR(q->Run());
    changed = true;
  }
  for (const auto& [k, v] : r.set_tags()) {
    auto it = before.tags().find(k);
    if (it != before.tags().end() && it->second == v) continue;
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("INSERT OR REPLACE INTO model_tags(model_id, key, value) "
                                          "VALUES (?, ?, ?)"));
    q->Bind(1, row.id).Bind(2, k).Bind(3, v);
    MLC_RETURN_IF_ERROR(q->Run());
    changed = true;
  }
  if (changed) {
    MLC_ASSIGN_OR_RETURN(int64_t rv, TouchModelLocked(row, now));
    v1::RegistryEvent e;
    e.set_type(v1::REGISTRY_EVENT_TYPE_MODEL_UPDATED);
    e.set_actor(actor);
    e.set_project(row.project);
    e.set_model(row.name);
    e.set_resource_version(rv);
    MLC_RETURN_IF_ERROR(AppendEventLocked(e, now));
  }
  MLC_ASSIGN_OR_RETURN(row, LoadModelByIdLocked(row.id));
  MLC_ASSIGN_OR_RETURN(v1::RegisteredModel out, ModelProtoLocked(row));
  MLC_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<v1::RegisteredModel> RegistryStore::RenameModel(const v1::RenameRegisteredModelRequest& r,
                                                       const std::string& actor) {
  const int64_t now = NowMicros();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(r.project(), r.name()));
  MLC_RETURN_IF_ERROR(CheckExpectedVersion(row, r.expected_version()));
  if (r.new_name() != r.name()) {
    {
      MLC_ASSIGN_OR_RETURN(Query q, Prepare("UPDATE models SET name = ? WHERE id = ?"));
      q->Bind(1, r.new_name()).Bind(2, row.id);
      Status s = q->Run();
      if (s.code() == StatusCode::kAlreadyExists) {
        return AlreadyExistsError("cannot rename model \"" + r.name() + "\" to \"" + r.new_name() +
                                  "\": that name is taken in project " + r.project());
      }
      MLC_RETURN_IF_ERROR(s);
    }
    MLC_ASSIGN_OR_RETURN(int64_t rv, TouchModelLocked(row, now));
    v1::RegistryEvent e;
    e.set_type(v1::REGISTRY_EVENT_TYPE_MODEL_RENAMED);
    e.set_actor(actor);
    e.set_project(row.project);
    e.set_model(r.new_name());
    e.set_previous_name(r.name());
    e.set_resource_version(rv);
    MLC_RETURN_IF_ERROR(AppendEventLocked(e, now));
  }
  MLC_ASSIGN_OR_RETURN(row, LoadModelByIdLocked(row.id));
  MLC_ASSIGN_OR_RETURN(v1::RegisteredModel out, ModelProtoLocked(row));
  MLC_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Status RegistryStore::DeleteModel(const v1::DeleteRegisteredModelRequest& r,
                                  const std::string& actor) {
  const int64_t now = NowMicros();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(r.project(), r.name()));
  MLC_RETURN_IF_ERROR(CheckExpectedVersion(row, r.expected_version()));
  if (!r.force()) {
    MLC_ASSIGN_OR_RETURN(std::string aliases, AliasSummaryLocked(row.id));
    if (!aliases.empty()) {
      return FailedPreconditionError("model \"" + row.name + "\" has aliases (" + aliases +
                                     "); delete them first, or delete with force");
    }
  }
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("DELETE FROM models WHERE id = ?"));  // cascades
  q->Bind(1, row.id);
  MLC_RETURN_IF_ERROR(q->Run());
  v1::RegistryEvent e;
  e.set_type(v1::REGISTRY_EVENT_TYPE_MODEL_DELETED);
  e.set_actor(actor);
  e.set_project(row.project);
  e.set_model(row.name);
  e.set_resource_version(row.resource_version + 1);
  MLC_RETURN_IF_ERROR(AppendEventLocked(e, now));
  return txn.Commit();
}

Result<std::vector<std::pair<std::string, std::string>>> RegistryStore::VersionManifests() {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Query q,
                       Prepare("SELECT DISTINCT m.project, v.manifest_digest FROM versions "
                               "v JOIN models m ON m.id = v.model_id WHERE "
                               "v.manifest_digest != ''"));
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, q->Step());
    if (!more) break;
    out.emplace_back(q->ColumnText(0), q->ColumnText(1));
  }
  return out;
}

Result<int64_t> RegistryStore::CountModels(const std::string& project) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT COUNT(*) FROM models WHERE project = ?"));
  q->Bind(1, project);
  MLC_ASSIGN_OR_RETURN(bool row, q->Step());
  return row ? q->ColumnInt(0) : 0;
}

// --- Aliases -----------------------------------------------------------------------------------

Result<v1::SetModelAliasResponse> RegistryStore::SetAlias(const v1::SetModelAliasRequest& r,
                                                          const std::string& actor) {
  const int64_t now = NowMicros();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(r.project(), r.model()));
  MLC_RETURN_IF_ERROR(CheckExpectedVersion(row, r.expected_version()));
  MLC_ASSIGN_OR_RETURN(v1::ModelVersion target, LoadVersionLocked(row, r.version()));
  if (target.status() != v1::MODEL_VERSION_STATUS_READY) {
    return FailedPreconditionError(
        "version " + std::to_string(r.version()) + " of model \"" + row.name + "\" is " +
        v1::ModelVersionStatus_Name(target.status()) + "; aliases point at READY versions only");
  }
  v1::SetModelAliasResponse response;
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT version, update_us, updated_by FROM aliases "
                                          "WHERE model_id = ? AND alias = ?"));
    q->Bind(1, row.id).Bind(2, r.alias());
    MLC_ASSIGN_OR_RETURN(bool found, q->Step());
    if (found) {
      response.set_previous_version(q->ColumnInt(0));
      if (q->ColumnInt(0) == r.version()) {  // already there: nothing changes, nothing is emitted
        v1::ModelAlias* a = response.mutable_alias();
        a->set_alias(r.alias());
        a->set_version(r.version());
        *a->mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(q->ColumnInt(1));
        a->set_updated_by(q->ColumnText(2));
        response.set_resource_version(row.resource_version);
        return response;
      }
    }
  }
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("INSERT OR REPLACE INTO aliases(model_id, alias, "
                                          "version, update_us, updated_by) VALUES (?,?,?,?,?)"));
    q->Bind(1, row.id).Bind(2, r.alias()).Bind(3, r.version()).Bind(4, now).Bind(5, actor);
    MLC_RETURN_IF_ERROR(q->Run());
  }
  MLC_ASSIGN_OR_RETURN(int64_t rv, TouchModelLocked(row, now));
  v1::RegistryEvent e;
  e.set_type(response.previous_version() == 0 ? v1::REGISTRY_EVENT_TYPE_ALIAS_SET
                                              : v1::REGISTRY_EVENT_TYPE_ALIAS_MOVED);
  e.set_actor(actor);
  e.set_project(row.project);
  e.set_model(row.name);
  e.set_version(r.version());
  e.set_alias(r.alias());
  e.set_previous_version(response.previous_version());
  e.set_resource_version(rv);
  MLC_RETURN_IF_ERROR(AppendEventLocked(e, now));
  MLC_RETURN_IF_ERROR(txn.Commit());
  v1::ModelAlias* a = response.mutable_alias();
  a->set_alias(r.alias());
  a->set_version(r.version());
  *a->mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(now);
  a->set_updated_by(actor);
  response.set_resource_version(rv);
  return response;
}

Result<v1::DeleteModelAliasResponse> RegistryStore::DeleteAlias(
    const v1::DeleteModelAliasRequest& r, const std::string& actor) {
  const int64_t now = NowMicros();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(r.project(), r.model()));
  MLC_RETURN_IF_ERROR(CheckExpectedVersion(row, r.expected_version()));
  v1::DeleteModelAliasResponse response;
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT version FROM aliases WHERE model_id = ? AND "
                                          "alias = ?"));
    q->Bind(1, row.id).Bind(2, r.alias());
    MLC_ASSIGN_OR_RETURN(bool found, q->Step());
    if (!found) {
      MLC_ASSIGN_OR_RETURN(std::string aliases, AliasSummaryLocked(row.id));
      return NotFoundError("model \"" + row.name + "\" has no alias \"" + r.alias() + "\"; " +
                           (aliases.empty() ? "it has no aliases" : "its aliases: " + aliases));
    }
    response.set_previous_version(q->ColumnInt(0));
  }
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("DELETE FROM aliases WHERE model_id = ? AND alias = ?"));
    q->Bind(1, row.id).Bind(2, r.alias());
    MLC_RETURN_IF_ERROR(q->Run());
  }
  MLC_ASSIGN_OR_RETURN(int64_t rv, TouchModelLocked(row, now));
  v1::RegistryEvent e;
  e.set_type(v1::REGISTRY_EVENT_TYPE_ALIAS_DELETED);
  e.set_actor(actor);
  e.set_project(row.project);
  e.set_model(row.name);
  e.set_alias(r.alias());
  e.set_previous_version(response.previous_version());
  e.set_resource_version(rv);
  MLC_RETURN_IF_ERROR(AppendEventLocked(e, now));
  MLC_RETURN_IF_ERROR(txn.Commit());
  response.set_resource_version(rv);
  return response;
}

// --- Events ------------------------------------------------------------------------------------

Result<std::vector<v1::RegistryEvent>> RegistryStore::ListEvents(
    const std::string& project, int64_t after_sequence, const std::vector<std::string>& models,
    const std::vector<v1::RegistryEventType>& types, int limit) {
  if (limit <= 0) limit = 1000;
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT sequence, model, type, body FROM events WHERE "
                                        "project = ? AND sequence > ? ORDER BY sequence"));
  q->Bind(1, project).Bind(2, after_sequence);
  std::vector<v1::RegistryEvent> out;
  while (static_cast<int>(out.size()) < limit) {
    MLC_ASSIGN_OR_RETURN(bool more, q->Step());
    if (!more) break;
    if (!models.empty() &&
        std::find(models.begin(), models.end(), q->ColumnText(1)) == models.end()) {
      continue;
    }
    auto type = static_cast<v1::RegistryEventType>(q->ColumnInt(2));
    if (!types.empty() && std::find(types.begin(), types.end(), type) == types.end()) continue;
    v1::RegistryEvent e;
    if (!e.ParseFromString(q->ColumnBlob(3))) {
      return DataLossError("store " + db_->path() + ": registry event " +
                           std::to_string(q->ColumnInt(0)) + " is corrupt");
    }
    e.set_sequence(q->ColumnInt(0));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace mlcore::local
