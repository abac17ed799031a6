// Experiments, runs, search, policies and retention of the tracking store (metric ingest and
// history reads are in tracking_metrics.cc).
#include "local/tracking_store.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <google/protobuf/util/time_util.h>

#include "core/page_token.h"
#include "local/job_store.h"
#include "mlcore/tracking.h"
#include "tracking/run_filter.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

constexpr const char* kRunColumns =
    "id, project, experiment_id, name, status, user, start_us, end_us, parent_run_id, job_id, "
    "source";

google::protobuf::Timestamp FromMicros(int64_t us) { return TimeUtil::MicrosecondsToTimestamp(us); }

// Fills the run columns (in kRunColumns order) of `select` into `run`.
void ReadRunRow(const sqlite::Statement& select, v1::Run* run) {
  run->set_id(select.ColumnText(0));
  run->set_project(select.ColumnText(1));
  run->set_experiment_id(select.ColumnText(2));
  run->set_name(select.ColumnText(3));
  run->set_status(static_cast<v1::RunStatus>(select.ColumnInt(4)));
  run->set_user(select.ColumnText(5));
  *run->mutable_start_time() = FromMicros(select.ColumnInt(6));
  if (select.ColumnInt(7) > 0) *run->mutable_end_time() = FromMicros(select.ColumnInt(7));
  run->set_parent_run_id(select.ColumnText(8));
  run->set_job_id(select.ColumnText(9));
  if (!select.ColumnIsNull(10)) run->mutable_source()->ParseFromString(select.ColumnBlob(10));
}

// The columns key, latest_value, latest_step, latest_time, min_value, max_value, count of
// metric_keys, starting at column `first` of `row`.
constexpr const char* kSummaryColumns =
    "key, latest_value, latest_step, latest_time, min_value, max_value, count";
void ReadMetricSummary(const sqlite::Statement& row, int first, v1::MetricSummary* m) {
  m->set_key(row.ColumnText(first));
  m->set_latest_value(row.ColumnDouble(first + 1));
  m->set_latest_step(row.ColumnInt(first + 2));
  *m->mutable_latest_time() = FromMicros(row.ColumnInt(first + 3));
  m->set_min_value(row.ColumnIsNull(first + 4) ? std::nan("") : row.ColumnDouble(first + 4));
  m->set_max_value(row.ColumnIsNull(first + 5) ? std::nan("") : row.ColumnDouble(first + 5));
  m->set_count(row.ColumnInt(first + 6));
}

// Adjectives and animals for generated run names ("bold-heron-42").
constexpr const char* kAdjectives[] = {"bold",   "calm",  "brisk", "keen",  "quiet", "swift",
                                       "bright", "eager", "lucid", "noble", "sunny", "witty"};
constexpr const char* kAnimals[] = {"heron", "otter", "lynx",  "finch", "whale", "ibex",
                                    "koala", "raven", "panda", "gecko", "bison", "crane"};

std::string GeneratedRunName() {
  const std::string bits = util::RandomHexId("", 6);
  const uint64_t v = std::stoull(bits, nullptr, 16);
  return std::string(kAdjectives[v % 12]) + "-" + kAnimals[(v / 12) % 12] + "-" +
         std::to_string((v / 144) % 100);
}

}  // namespace

const std::vector<sqlite::Migration>& TrackingMigrations() {
  static const std::vector<sqlite::Migration> kMigrations = {
      {1, R"sql(
        CREATE TABLE experiments (
          id TEXT PRIMARY KEY,
          project TEXT NOT NULL,
          name TEXT NOT NULL,
          create_us INTEGER NOT NULL,
          body BLOB NOT NULL,  -- serialized mlcore.v1.Experiment (run_count not kept)
          UNIQUE (project, name)
        );
        CREATE TABLE runs (
          id TEXT PRIMARY KEY,
          project TEXT NOT NULL,
          experiment_id TEXT NOT NULL REFERENCES experiments(id),
          name TEXT NOT NULL,
          status INTEGER NOT NULL,
          user TEXT NOT NULL,
          start_us INTEGER NOT NULL,
          end_us INTEGER NOT NULL DEFAULT 0,
          parent_run_id TEXT NOT NULL DEFAULT '',
          job_id TEXT NOT NULL DEFAULT '',
          request_id TEXT UNIQUE,
          source BLOB  -- serialized mlcore.v1.SourceCode
        );
        CREATE INDEX runs_project ON runs(project, start_us);
        CREATE INDEX runs_experiment ON runs(experiment_id);
        CREATE INDEX runs_job ON runs(job_id) WHERE job_id != '';
        CREATE TABLE run_params (
          run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
          PRIMARY KEY (run_id, key)) WITHOUT ROWID;
        CREATE TABLE run_tags (
          run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
          PRIMARY KEY (run_id, key)) WITHOUT ROWID;
        -- One row per (run, key): the summary every listing reads.
        CREATE TABLE metric_keys (
          id INTEGER PRIMARY KEY,
          run_id TEXT NOT NULL,
          key TEXT NOT NULL,
          count INTEGER NOT NULL DEFAULT 0,
          latest_step INTEGER NOT NULL DEFAULT 0,
          latest_time INTEGER NOT NULL DEFAULT 0,
          latest_value REAL,
          min_value REAL,
          max_value REAL,
          sorted INTEGER NOT NULL DEFAULT 1,  -- steps never went backwards
          last_step INTEGER NOT NULL DEFAULT 0,  -- step of the last point appended
          chunks INTEGER NOT NULL DEFAULT 0,
          UNIQUE (run_id, key)
        );
        -- The points, kChunkPoints per row (series_codec.h).
        CREATE TABLE metric_chunks (
          key_id INTEGER NOT NULL,
          seq INTEGER NOT NULL,
          n INTEGER NOT NULL,
          first_step INTEGER NOT NULL,  -- smallest step in the chunk
          last_step INTEGER NOT NULL,   -- largest step in the chunk
          summary BLOB NOT NULL,
          data BLOB NOT NULL,
          PRIMARY KEY (key_id, seq)
        );
        -- Batch ids applied, for exactly-once ingest.
        CREATE TABLE batches (
          run_id TEXT NOT NULL, batch_id TEXT NOT NULL,
          PRIMARY KEY (run_id, batch_id)) WITHOUT ROWID;
        CREATE TABLE policies (
          project TEXT PRIMARY KEY,
          body BLOB NOT NULL,  -- serialized mlcore.v1.TrackingPolicy (limits, retention)
          tokens REAL NOT NULL DEFAULT 0,  -- rate limiter: points available now
          tokens_us INTEGER NOT NULL DEFAULT 0  -- when `tokens` was computed
        );
        CREATE TABLE usage (
          project TEXT PRIMARY KEY,
          stored_bytes INTEGER NOT NULL DEFAULT 0
        );
        -- Points accepted per project per second, for the last minute.
        CREATE TABLE ingest (
          project TEXT NOT NULL, second INTEGER NOT NULL, points INTEGER NOT NULL,
          PRIMARY KEY (project, second)) WITHOUT ROWID;
      )sql"},
  };
  return kMigrations;
}

Result<std::unique_ptr<TrackingStore>> TrackingStore::Open(const std::string& path) {
  // Pages freed by retention and deletes go back to the file system (incremental_vacuum); the
  // setting only takes on a database without tables, so it is applied before the migrations.
  MLC_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(path, TrackingMigrations(), 10000,
                                                 "PRAGMA auto_vacuum=INCREMENTAL"));
  // A batch acknowledged to a client survives a crash of the machine, not just of the process.
  MLC_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  return std::unique_ptr<TrackingStore>(new TrackingStore(std::move(db)));
}

// --- Experiments -------------------------------------------------------------------------------

Result<v1::Experiment> TrackingStore::LoadExperimentLocked(const std::string& where,
                                                           const std::string& a,
                                                           const std::string& b) {
  MLC_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare("SELECT body, (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id) "
                   "FROM experiments e WHERE " +
                   where));
  select.Bind(1, a);
  if (!b.empty()) select.Bind(2, b);
  MLC_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return NotFoundError("");
  v1::Experiment e;
  if (!e.ParseFromString(select.ColumnBlob(0))) {
    return DataLossError("store " + db_->path() + ": an experiment record is corrupt");
  }
  e.set_run_count(select.ColumnInt(1));
  return e;
}

Result<v1::Experiment> TrackingStore::CreateExperiment(const v1::Experiment& request) {
  v1::Experiment e = request;
  e.set_id(util::RandomHexId("e"));
  *e.mutable_create_time() = TimeUtil::GetCurrentTime();
  e.set_run_count(0);
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      auto insert,
      db_->Prepare(
          "INSERT INTO experiments(id, project, name, create_us, body) VALUES (?,?,?,?,?)"));
  insert.Bind(1, e.id()).Bind(2, e.project()).Bind(3, e.name());
  insert.Bind(4, static_cast<int64_t>(TimeUtil::TimestampToMicroseconds(e.create_time())));
  insert.BindBlob(5, e.SerializeAsString());
  Status status = insert.Run();
  if (status.code() == StatusCode::kAlreadyExists) {
    return AlreadyExistsError("experiment \"" + e.name() + "\" already exists in project " +
                              e.project());
  }
  MLC_RETURN_IF_ERROR(status);
  return e;
}

Result<std::string> TrackingStore::EnsureExperiment(const std::string& project,
                                                    const std::string& name,
                                                    const std::string& user) {
  {
    std::lock_guard lock(mu_);
    auto found = LoadExperimentLocked("project = ? AND name = ?", project, name);
    if (found.ok()) return found->id();
    if (found.status().code() != StatusCode::kNotFound) return found.status();
  }
  v1::Experiment e;
  e.set_project(project);
  e.set_name(name);
  e.set_created_by(user);
  auto created = CreateExperiment(e);
  if (created.ok()) return created->id();
  if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
  std::lock_guard lock(mu_);  // created concurrently by someone else
  MLC_ASSIGN_OR_RETURN(auto again, LoadExperimentLocked("project = ? AND name = ?", project, name));
  return again.id();
}

Result<v1::Experiment> TrackingStore::GetExperiment(const v1::GetExperimentRequest& request) {
  std::lock_guard lock(mu_);
  auto e = request.id().empty()
               ? LoadExperimentLocked("project = ? AND name = ?", request.project(), request.name())
               : LoadExperimentLocked("id = ?", request.id(), "");
  if (e.status().code() == StatusCode::kNotFound) {
    return NotFoundError(request.id().empty()
                             ? "experiment \"" + request.name() + "\" does not exist in project " +
                                   request.project() + " (list them with `mlc exp ls`)"
                             : "experiment " + request.id() + " does not exist");
  }
  return e;
}

Result<v1::ListExperimentsResponse> TrackingStore::ListExperiments(
    const v1::ListExperimentsRequest& request) {
  MLC_ASSIGN_OR_RETURN(std::string after, DecodePageToken(request.page_token(), "experiments"));
  const int page_size = request.page_size();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare("SELECT body, (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id), name "
                   "FROM experiments e WHERE project = ? AND name > ? ORDER BY name LIMIT ?"));
  select.Bind(1, request.project()).Bind(2, after).Bind(3, static_cast<int64_t>(page_size) + 1);
  v1::ListExperimentsResponse response;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    if (response.experiments_size() == page_size) {
      response.set_next_page_token(
          EncodePageToken(response.experiments(page_size - 1).name(), "experiments"));
      break;
    }
    v1::Experiment* e = response.add_experiments();
    if (!e->ParseFromString(select.ColumnBlob(0))) {
      return DataLossError("store " + db_->path() + ": an experiment record is corrupt");
    }
    e->set_run_count(select.ColumnInt(1));
  }
  return response;
}

// --- Runs --------------------------------------------------------------------------------------

Result<v1::Run> TrackingStore::CreateRun(const v1::CreateRunRequest& request) {
  v1::Run run = request.run();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  if (!request.request_id().empty()) {
    MLC_ASSIGN_OR_RETURN(auto prior, db_->Prepare("SELECT id FROM runs WHERE request_id = ?"));
    prior.Bind(1, request.request_id());
    MLC_ASSIGN_OR_RETURN(bool found, prior.Step());
    if (found) return LoadRunLocked(prior.ColumnText(0), true);  // a retry: the first run
  }
  if (!run.parent_run_id().empty()) {
    auto parent = LoadRunLocked(run.parent_run_id(), false);
    if (!parent.ok()) {
      return NotFoundError("parent run " + run.parent_run_id() + " does not exist");
    }
    if (parent->project() != run.project()) {
      return FailedPreconditionError("parent run " + run.parent_run_id() + " belongs to project " +
                                     parent->project() + ", not " + run.project());
    }
  }
  run.set_id(util::RandomHexId("r"));
  if (run.name().empty()) run.set_name(GeneratedRunName());
  if (run.status() == v1::RUN_STATUS_UNSPECIFIED) run.set_status(v1::RUN_STATUS_RUNNING);
  const int64_t now = NowMicros();
  *run.mutable_start_time() = FromMicros(now);
  run.clear_end_time();
  run.clear_metrics();
  MLC_ASSIGN_OR_RETURN(
      auto insert,
      db_->Prepare("INSERT INTO runs(id, project, experiment_id, name, status, user, start_us, "
                   "parent_run_id, job_id, request_id, source) VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
  insert.Bind(1, run.id()).Bind(2, run.project()).Bind(3, run.experiment_id()).Bind(4, run.name());
  insert.Bind(5, static_cast<int64_t>(run.status())).Bind(6, run.user()).Bind(7, now);
  insert.Bind(8, run.parent_run_id()).Bind(9, run.job_id());
  if (request.request_id().empty()) {
    insert.BindNull(10);
  } else {
    insert.Bind(10, request.request_id());
  }
  if (run.has_source()) {
    insert.BindBlob(11, run.source().SerializeAsString());
  } else {
    insert.BindNull(11);
  }
  MLC_RETURN_IF_ERROR(insert.Run());
  for (const auto& [table, values] :
       {std::pair{"run_params", &run.params()}, std::pair{"run_tags", &run.tags()}}) {
    MLC_ASSIGN_OR_RETURN(auto put, db_->Prepare(std::string("INSERT INTO ") + table +
                                                "(run_id, key, value) VALUES (?,?,?)"));
    for (const auto& [k, v] : *values) {
      put.Bind(1, run.id()).Bind(2, k).Bind(3, v);
      MLC_RETURN_IF_ERROR(put.Run());
      put.Reset();
    }
  }
  MLC_RETURN_IF_ERROR(txn.Commit());
  return run;
}

Result<v1::Run> TrackingStore::LoadRunLocked(const std::string& id, bool with_metrics) {
  MLC_ASSIGN_OR_RETURN(
      auto select, db_->Prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?"));
  select.Bind(1, id);
  MLC_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return NotFoundError("run " + id + " does not exist (list runs with `mlc run ls`)");
  v1::Run run;
  ReadRunRow(select, &run);
  for (const auto& [table, map] :
       {std::pair{"run_params", run.mutable_params()}, std::pair{"run_tags", run.mutable_tags()}}) {
    MLC_ASSIGN_OR_RETURN(auto kv, db_->Prepare(std::string("SELECT key, value FROM ") + table +
                                               " WHERE run_id = ?"));
    kv.Bind(1, id);
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, kv.Step());
      if (!row) break;
      (*map)[kv.ColumnText(0)] = kv.ColumnText(1);
    }
  }
  if (with_metrics) {
    MLC_ASSIGN_OR_RETURN(auto keys, db_->Prepare(std::string("SELECT ") + kSummaryColumns +
                                                 " FROM metric_keys WHERE run_id = ? ORDER BY "
                                                 "key"));
    keys.Bind(1, id);
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, keys.Step());
      if (!row) break;
      ReadMetricSummary(keys, 0, run.add_metrics());
    }
  }
  return run;
}

Result<v1::Run> TrackingStore::GetRun(const std::string& id, bool with_metrics) {
  std::lock_guard lock(mu_);
  return LoadRunLocked(id, with_metrics);
}

Result<std::vector<std::string>> TrackingStore::FindRunsByName(const std::string& project,
                                                               const std::string& name, int limit) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto select,
                       db_->Prepare("SELECT id FROM runs WHERE name = ? AND (? = '' OR project = "
                                    "?) ORDER BY start_us DESC LIMIT ?"));
  select.Bind(1, name).Bind(2, project).Bind(3, project).Bind(4, static_cast<int64_t>(limit));
  std::vector<std::string> ids;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    ids.push_back(select.ColumnText(0));
  }
  return ids;
}

Status TrackingStore::ForgetProject(const std::string& project) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  for (const char* sql :
       {"DELETE FROM experiments WHERE project = ?1", "DELETE FROM policies WHERE project = ?1",
        "DELETE FROM usage WHERE project = ?1", "DELETE FROM ingest WHERE project = ?1"}) {
    MLC_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    stmt.Bind(1, project);
    MLC_RETURN_IF_ERROR(stmt.Run());
  }
  return txn.Commit();
}

Result<int64_t> TrackingStore::CountRuns(const std::string& project) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT COUNT(*) FROM runs WHERE project = ?"));
  select.Bind(1, project);
  MLC_RETURN_IF_ERROR(select.Step().status());
  return select.ColumnInt(0);
}

Result<std::vector<std::pair<std::string, std::string>>> TrackingStore::ActiveJobRuns(
    const std::string& project) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT id, job_id FROM runs WHERE job_id != '' "
                                                 "AND status IN (1, 2) AND (? = '' OR project = "
                                                 "?)"));
  select.Bind(1, project).Bind(2, project);
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    out.emplace_back(select.ColumnText(0), select.ColumnText(1));
  }
  return out;
}

Result<v1::Run> TrackingStore::UpdateRun(const v1::UpdateRunRequest& request) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(v1::Run run, LoadRunLocked(request.id(), false));
  if (request.status() != v1::RUN_STATUS_UNSPECIFIED && request.status() != run.status()) {
    if (IsFinalRunStatus(run.status())) {
      return FailedPreconditionError("run " + run.id() + " already ended " +
                                     v1::RunStatus_Name(run.status()) +
                                     "; a terminal status is final");
    }
    int64_t end_us = 0;
    if (IsFinalRunStatus(request.status())) {
      end_us = request.has_end_time() ? TimeUtil::TimestampToMicroseconds(request.end_time())
                                      : NowMicros();
    }
    MLC_ASSIGN_OR_RETURN(auto update,
                         db_->Prepare("UPDATE runs SET status = ?, end_us = ? WHERE id = ?"));
    update.Bind(1, static_cast<int64_t>(request.status())).Bind(2, end_us).Bind(3, run.id());
    MLC_RETURN_IF_ERROR(update.Run());
  }
  if (request.has_name()) {
    MLC_ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE runs SET name = ? WHERE id = ?"));
    update.Bind(1, request.name()).Bind(2, run.id());
    MLC_RETURN_IF_ERROR(update.Run());
  }
  MLC_RETURN_IF_ERROR(txn.Commit());
  return LoadRunLocked(request.id(), true);
}

Status TrackingStore::DeleteRun(const std::string& id) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(v1::Run run, LoadRunLocked(id, false));
  MLC_ASSIGN_OR_RETURN(auto bytes,
                       db_->Prepare("SELECT COALESCE(SUM(length(c.data) + length(c.summary)), 0) "
                                    "FROM metric_chunks c JOIN metric_keys k ON c.key_id = k.id "
                                    "WHERE k.run_id = ?"));
  bytes.Bind(1, id);
  MLC_RETURN_IF_ERROR(bytes.Step().status());
  const int64_t freed = bytes.ColumnInt(0);
  for (const char* sql :
       {"DELETE FROM metric_chunks WHERE key_id IN (SELECT id FROM metric_keys WHERE run_id = ?1)",
        "DELETE FROM metric_keys WHERE run_id = ?1", "DELETE FROM run_params WHERE run_id = ?1",
        "DELETE FROM run_tags WHERE run_id = ?1", "DELETE FROM batches WHERE run_id = ?1",
        "UPDATE runs SET parent_run_id = '' WHERE parent_run_id = ?1",
        "DELETE FROM runs WHERE id = ?1"}) {
    MLC_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    stmt.Bind(1, id);
    MLC_RETURN_IF_ERROR(stmt.Run());
  }
  MLC_ASSIGN_OR_RETURN(auto usage, db_->Prepare("UPDATE usage SET stored_bytes = MAX(0, "
                                                "stored_bytes - ?) WHERE project = ?"));
  usage.Bind(1, freed).Bind(2, run.project());
  MLC_RETURN_IF_ERROR(usage.Run());
  MLC_RETURN_IF_ERROR(txn.Commit());
  return db_->Exec("PRAGMA incremental_vacuum");
}

Result<v1::Run> TrackingStore::SetRunTags(const v1::SetRunTagsRequest& request) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_RETURN_IF_ERROR(LoadRunLocked(request.id(), false).status());
  MLC_ASSIGN_OR_RETURN(auto put, db_->Prepare("INSERT OR REPLACE INTO run_tags(run_id, key, "
                                              "value) VALUES (?,?,?)"));
  for (const auto& [k, v] : request.set()) {
    put.Bind(1, request.id()).Bind(2, k).Bind(3, v);
    MLC_RETURN_IF_ERROR(put.Run());
    put.Reset();
  }
  MLC_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM run_tags WHERE run_id = ? AND key = ?"));
  for (const auto& k : request.remove()) {
    del.Bind(1, request.id()).Bind(2, k);
    MLC_RETURN_IF_ERROR(del.Run());
    del.Reset();
  }
  MLC_RETURN_IF_ERROR(txn.Commit());
  return LoadRunLocked(request.id(), true);
}

Result<v1::SearchRunsResponse> TrackingStore::SearchRuns(const v1::SearchRunsRequest& request) {
  MLC_ASSIGN_OR_RETURN(auto filter, tracking::RunFilter::Parse(request.filter()));
  std::vector<std::string> order_by(request.order_by().begin(), request.order_by().end());
  MLC_ASSIGN_OR_RETURN(auto order, tracking::RunOrder::Parse(order_by));
  MLC_ASSIGN_OR_RETURN(std::string token, DecodePageToken(request.page_token(), "runs"));
  size_t offset = 0;
  if (!token.empty()) offset = std::stoull(token);
  std::lock_guard lock(mu_);
  std::map<std::string, tracking::RunView> views;
  std::map<std::string, v1::Run> runs;
  {
    MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare(std::string("SELECT ") + kRunColumns +
                                                   " FROM runs WHERE project = ?"));
    select.Bind(1, request.project());
    std::set<std::string> experiments(request.experiment_ids().begin(),
                                      request.experiment_ids().end());
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      v1::Run run;
      ReadRunRow(select, &run);
      if (!experiments.empty() && !experiments.count(run.experiment_id())) continue;
      tracking::RunView& v = views[run.id()];
      v.id = run.id();
      v.name = run.name();
      v.user = run.user();
      v.experiment_id = run.experiment_id();
      v.job_id = run.job_id();
      v.parent_run_id = run.parent_run_id();
      v.status = v1::RunStatus_Name(run.status()).substr(std::string("RUN_STATUS_").size());
      v.start_time_us = TimeUtil::TimestampToMicroseconds(run.start_time());
      v.end_time_us = run.has_end_time() ? TimeUtil::TimestampToMicroseconds(run.end_time()) : 0;
      runs.emplace(run.id(), std::move(run));
    }
  }
  // Params, tags and latest metric values of the project's runs, in three scans.
  const bool want_metrics =
      filter.UsesMetrics() || order.UsesMetrics() || request.include_metrics();
  for (const char* table : {"run_params", "run_tags"}) {
    MLC_ASSIGN_OR_RETURN(auto kv,
                         db_->Prepare(std::string("SELECT t.run_id, t.key, t.value FROM ") + table +
                                      " t JOIN runs r ON r.id = t.run_id WHERE "
                                      "r.project = ?"));
    kv.Bind(1, request.project());
    const bool params = std::string(table) == "run_params";
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, kv.Step());
      if (!row) break;
      auto it = views.find(kv.ColumnText(0));
      if (it == views.end()) continue;
      (params ? it->second.params : it->second.tags)[kv.ColumnText(1)] = kv.ColumnText(2);
      auto& run = runs[it->first];
      (*(params ? run.mutable_params() : run.mutable_tags()))[kv.ColumnText(1)] = kv.ColumnText(2);
    }
  }
  if (want_metrics) {
    MLC_ASSIGN_OR_RETURN(auto keys,
                         db_->Prepare(std::string("SELECT k.run_id, ") + kSummaryColumns +
                                      " FROM metric_keys k JOIN runs r ON r.id = k.run_id WHERE "
                                      "r.project = ? ORDER BY k.run_id, k.key"));
    keys.Bind(1, request.project());
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, keys.Step());
      if (!row) break;
      auto it = views.find(keys.ColumnText(0));
      if (it == views.end()) continue;
      it->second.metrics[keys.ColumnText(1)] = keys.ColumnDouble(2);
      if (request.include_metrics()) {
        ReadMetricSummary(keys, 1, runs[it->first].add_metrics());
      }
    }
  }
  std::vector<const tracking::RunView*> matched;
  for (const auto& [id, view] : views) {
    if (filter.Matches(view)) matched.push_back(&view);
  }
  order.Sort(matched);
  v1::SearchRunsResponse response;
  const size_t page_size = static_cast<size_t>(request.page_size());
  for (size_t i = offset; i < matched.size() && i < offset + page_size; ++i) {
    *response.add_runs() = std::move(runs[matched[i]->id]);
  }
  if (offset + page_size < matched.size()) {
    response.set_next_page_token(EncodePageToken(std::to_string(offset + page_size), "runs"));
  }
  return response;
}

// --- Policies and retention --------------------------------------------------------------------

Result<v1::TrackingPolicy> TrackingStore::GetPolicy(const std::string& project) {
  std::lock_guard lock(mu_);
  v1::TrackingPolicy policy;
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT body FROM policies WHERE project = ?"));
  select.Bind(1, project);
  MLC_ASSIGN_OR_RETURN(bool found, select.Step());
  if (found) policy.ParseFromString(select.ColumnBlob(0));
  policy.set_project(project);
  MLC_ASSIGN_OR_RETURN(auto usage,
                       db_->Prepare("SELECT stored_bytes FROM usage WHERE project = ?"));
  usage.Bind(1, project);
  MLC_ASSIGN_OR_RETURN(bool has_usage, usage.Step());
  policy.set_stored_bytes(has_usage ? usage.ColumnInt(0) : 0);
  MLC_ASSIGN_OR_RETURN(auto rate, db_->Prepare("SELECT COALESCE(SUM(points), 0) FROM ingest "
                                               "WHERE project = ? AND second > ?"));
  rate.Bind(1, project).Bind(2, NowMicros() / 1000000 - 60);
  MLC_RETURN_IF_ERROR(rate.Step().status());
  policy.set_recent_points_per_second(static_cast<double>(rate.ColumnInt(0)) / 60.0);
  return policy;
}

Result<v1::TrackingPolicy> TrackingStore::UpdatePolicy(const v1::TrackingPolicy& request) {
  v1::TrackingPolicy policy = request;
  policy.clear_stored_bytes();
  policy.clear_recent_points_per_second();
  {
    std::lock_guard lock(mu_);
    MLC_ASSIGN_OR_RETURN(
        auto put, db_->Prepare("INSERT INTO policies(project, body, tokens, tokens_us) VALUES "
                               "(?1, ?2, ?3, ?4) ON CONFLICT(project) DO UPDATE SET body = ?2, "
                               "tokens = ?3, tokens_us = ?4"));
    put.Bind(1, policy.project()).BindBlob(2, policy.SerializeAsString());
    // The bucket starts full (two seconds of points).
    put.Bind(3, 2.0 * static_cast<double>(policy.max_points_per_second())).Bind(4, NowMicros());
    MLC_RETURN_IF_ERROR(put.Run());
  }
  return GetPolicy(policy.project());
}

Result<v1::ApplyRetentionResponse> TrackingStore::ApplyRetention(
    const v1::ApplyRetentionRequest& request) {
  MLC_ASSIGN_OR_RETURN(v1::TrackingPolicy policy, GetPolicy(request.project()));
  const v1::RetentionPolicy& retention = policy.retention();
  const int64_t max_age_us = TimeUtil::DurationToMicroseconds(retention.max_age());
  if (max_age_us <= 0) {
    return FailedPreconditionError("project " + request.project() +
                                   " has no retention max_age; set one first (mlc gc --project " +
                                   request.project() + " --max-age 30d)");
  }
  const std::string keep_tag = retention.keep_tag().empty() ? "keep" : retention.keep_tag();
  v1::ApplyRetentionResponse response;
  response.set_dry_run(request.dry_run());
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  // Runs that ended before the cutoff, lack the keep tag, and still hold points.
  MLC_ASSIGN_OR_RETURN(
      auto select, db_->Prepare("SELECT r.id, COALESCE(SUM(c.n), 0), "
                                "COALESCE(SUM(length(c.data) + length(c.summary)), 0) FROM "
                                "runs r JOIN metric_keys k ON k.run_id = r.id JOIN "
                                "metric_chunks c ON c.key_id = k.id WHERE r.project = ? AND "
                                "r.end_us > 0 AND r.end_us < ? AND NOT EXISTS (SELECT 1 FROM "
                                "run_tags t WHERE t.run_id = r.id AND t.key = ?) GROUP BY r.id"));
  select.Bind(1, request.project()).Bind(2, NowMicros() - max_age_us).Bind(3, keep_tag);
  std::vector<std::string> victims;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    victims.push_back(select.ColumnText(0));
    response.set_points_deleted(response.points_deleted() + select.ColumnInt(1));
    response.set_bytes_freed(response.bytes_freed() + select.ColumnInt(2));
  }
  response.set_runs_affected(static_cast<int64_t>(victims.size()));
  if (request.dry_run() || !retention.delete_metrics()) {
    if (!retention.delete_metrics()) {
      response.set_points_deleted(0);
      response.set_bytes_freed(0);
    }
    return response;
  }
  MLC_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM metric_chunks WHERE key_id IN (SELECT "
                                              "id FROM metric_keys WHERE run_id = ?)"));
  MLC_ASSIGN_OR_RETURN(auto mark,
                       db_->Prepare("UPDATE metric_keys SET chunks = 0 WHERE run_id = ?"));
  for (const std::string& id : victims) {
    del.Bind(1, id);
    MLC_RETURN_IF_ERROR(del.Run());
    del.Reset();
    mark.Bind(1, id);
    MLC_RETURN_IF_ERROR(mark.Run());
    mark.Reset();
  }
  MLC_ASSIGN_OR_RETURN(auto usage, db_->Prepare("UPDATE usage SET stored_bytes = MAX(0, "
                                                "stored_bytes - ?) WHERE project = ?"));
  usage.Bind(1, response.bytes_freed()).Bind(2, request.project());
  MLC_RETURN_IF_ERROR(usage.Run());
  MLC_RETURN_IF_ERROR(txn.Commit());
  MLC_RETURN_IF_ERROR(db_->Exec("PRAGMA incremental_vacuum"));
  return response;
}

}  // namespace mlcore::local
