#include "pipelines/pipeline_store.h"

#include <google/protobuf/util/time_util.h>

namespace mlcore::pipelines {
namespace {

const std::vector<sqlite::Migration>& Migrations() {
  static const std::vector<sqlite::Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE pipeline_runs (
  id TEXT PRIMARY KEY,
  project TEXT NOT NULL,
  name TEXT NOT NULL,
  state INTEGER NOT NULL,
  user TEXT NOT NULL,
  create_us INTEGER NOT NULL,
  body BLOB NOT NULL,
  cancel_reason TEXT,
  driver_pid INTEGER NOT NULL DEFAULT 0,
  driver_ticks INTEGER NOT NULL DEFAULT 0,
  driver_boot TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pipeline_runs_by_project ON pipeline_runs (project, create_us);
CREATE TABLE pipeline_requests (
  request_id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL
);
CREATE TABLE step_cache (
  project TEXT NOT NULL,
  key TEXT NOT NULL,
  body BLOB NOT NULL,
  create_us INTEGER NOT NULL,
  PRIMARY KEY (project, key)
);
)sql"},
  };
  return kMigrations;
}

int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::TimestampToMicroseconds(t);
}

Result<v1::PipelineRun> ParseRun(const std::string& body, const std::string& id) {
  v1::PipelineRun run;
  if (!run.ParseFromString(body)) {
    return DataLossError("pipeline run " + id + " is stored damaged (pipelines.db)");
  }
  return run;
}

}  // namespace

Result<std::unique_ptr<PipelineStore>> PipelineStore::Open(const std::string& state_dir) {
  MLC_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(state_dir + "/pipelines.db", Migrations()));
  return std::unique_ptr<PipelineStore>(new PipelineStore(std::move(db)));
}

Result<v1::PipelineRun> PipelineStore::Insert(const v1::PipelineRun& run,
                                              const std::string& request_id) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  if (!request_id.empty()) {
    MLC_ASSIGN_OR_RETURN(auto seen,
                         db_->Prepare("SELECT r.body FROM pipeline_requests q JOIN pipeline_runs r "
                                      "ON r.id = q.run_id WHERE q.request_id = ?"));
    seen.Bind(1, request_id);
    MLC_ASSIGN_OR_RETURN(bool found, seen.Step());
    if (found) return ParseRun(seen.ColumnBlob(0), request_id);
    MLC_ASSIGN_OR_RETURN(auto remember,
                         db_->Prepare("INSERT INTO pipeline_requests VALUES (?, ?)"));
    remember.Bind(1, request_id).Bind(2, run.id());
    MLC_RETURN_IF_ERROR(remember.Run());
  }
  MLC_ASSIGN_OR_RETURN(auto insert,
                       db_->Prepare("INSERT INTO pipeline_runs (id, project, name, state, user, "
                                    "create_us, body) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  insert.Bind(1, run.id())
      .Bind(2, run.project())
      .Bind(3, run.spec().name())
      .Bind(4, int64_t{run.state()})
      .Bind(5, run.user())
      .Bind(6, MicrosOf(run.create_time()))
      .BindBlob(7, run.SerializeAsString());
  MLC_RETURN_IF_ERROR(insert.Run());
  MLC_RETURN_IF_ERROR(txn.Commit());
  return run;
}

Result<StoredPipelineRun> PipelineStore::Get(const std::string& id) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto get,
                       db_->Cached("SELECT body, cancel_reason, driver_pid, driver_ticks, "
                                   "driver_boot FROM pipeline_runs WHERE id = ?"));
  get->Bind(1, id);
  MLC_ASSIGN_OR_RETURN(bool found, get->Step());
  if (!found) {
    return NotFoundError("no pipeline run " + id + "; `mlc pipeline ls` lists the runs");
  }
  StoredPipelineRun stored;
  MLC_ASSIGN_OR_RETURN(stored.run, ParseRun(get->ColumnBlob(0), id));
  if (!get->ColumnIsNull(1)) stored.cancel_reason = get->ColumnText(1);
  stored.driver.pid = static_cast<pid_t>(get->ColumnInt(2));
  stored.driver.start_ticks = static_cast<uint64_t>(get->ColumnInt(3));
  stored.driver.boot_id = get->ColumnText(4);
  return stored;
}

Result<std::vector<v1::PipelineRun>> PipelineStore::List(
    const std::string& project, const std::string& name,
    const std::vector<v1::PipelineRunState>& states, const std::string& user, int limit,
    int offset) {
  std::lock_guard lock(mu_);
  std::string sql = "SELECT id, body FROM pipeline_runs WHERE 1";
  if (!project.empty()) sql += " AND project = ?1";
  if (!name.empty()) sql += " AND name = ?2";
  if (!user.empty()) sql += " AND user = ?3";
  if (!states.empty()) {
    sql += " AND state IN (";
    for (size_t i = 0; i < states.size(); ++i) {
      sql += (i ? "," : "") + std::to_string(static_cast<int>(states[i]));
    }
    sql += ")";
  }
  sql += " ORDER BY create_us DESC, id DESC LIMIT ?4 OFFSET ?5";
  MLC_ASSIGN_OR_RETURN(auto list, db_->Prepare(sql));
  if (!project.empty()) list.Bind(1, project);
  if (!name.empty()) list.Bind(2, name);
  if (!user.empty()) list.Bind(3, user);
  list.Bind(4, int64_t{limit}).Bind(5, int64_t{offset});
  std::vector<v1::PipelineRun> runs;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, list.Step());
    if (!row) break;
    MLC_ASSIGN_OR_RETURN(v1::PipelineRun run, ParseRun(list.ColumnBlob(1), list.ColumnText(0)));
    runs.push_back(std::move(run));
  }
  return runs;
}

Status PipelineStore::Save(const v1::PipelineRun& run, bool clear_cancel) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto save,
                       db_->Cached(clear_cancel ? "UPDATE pipeline_runs SET body = ?, state = ?, "
                                                  "cancel_reason = NULL WHERE id = ?"
                                                : "UPDATE pipeline_runs SET body = ?, state = ? "
                                                  "WHERE id = ?"));
  save->BindBlob(1, run.SerializeAsString()).Bind(2, int64_t{run.state()}).Bind(3, run.id());
  MLC_RETURN_IF_ERROR(save->Run());
  if (db_->Changes() == 0) return NotFoundError("pipeline run " + run.id() + " was deleted");
  return Status::Ok();
}

Result<bool> PipelineStore::RequestCancel(const std::string& id, const std::string& reason) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto cancel,
                       db_->Prepare("UPDATE pipeline_runs SET cancel_reason = ? WHERE id = ? AND "
                                    "state NOT IN (?, ?, ?)"));
  cancel.Bind(1, reason)
      .Bind(2, id)
      .Bind(3, int64_t{v1::PIPELINE_RUN_STATE_SUCCEEDED})
      .Bind(4, int64_t{v1::PIPELINE_RUN_STATE_FAILED})
      .Bind(5, int64_t{v1::PIPELINE_RUN_STATE_CANCELLED});
  MLC_RETURN_IF_ERROR(cancel.Run());
  return db_->Changes() > 0;
}

Result<bool> PipelineStore::ClaimDriver(const std::string& id, const local::ProcessIdentity& self) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(auto get, db_->Prepare("SELECT driver_pid, driver_ticks, driver_boot FROM "
                                              "pipeline_runs WHERE id = ?"));
  get.Bind(1, id);
  MLC_ASSIGN_OR_RETURN(bool found, get.Step());
  if (!found) return NotFoundError("no pipeline run " + id);
  local::ProcessIdentity current;
  current.pid = static_cast<pid_t>(get.ColumnInt(0));
  current.start_ticks = static_cast<uint64_t>(get.ColumnInt(1));
  current.boot_id = get.ColumnText(2);
  const bool mine = current.pid == self.pid && current.start_ticks == self.start_ticks &&
                    current.boot_id == self.boot_id;
  // A launched driver records itself with start_ticks 0 until it claims.
  const bool launched_me = current.pid == self.pid && current.start_ticks == 0;
  if (!mine && !launched_me && current.pid != 0 && local::IsAlive(current)) return false;
  MLC_ASSIGN_OR_RETURN(auto set, db_->Prepare("UPDATE pipeline_runs SET driver_pid = ?, "
                                              "driver_ticks = ?, driver_boot = ? WHERE id = ?"));
  set.Bind(1, int64_t{self.pid})
      .Bind(2, static_cast<int64_t>(self.start_ticks))
      .Bind(3, self.boot_id)
      .Bind(4, id);
  MLC_RETURN_IF_ERROR(set.Run());
  MLC_RETURN_IF_ERROR(txn.Commit());
  return true;
}

Status PipelineStore::SetDriver(const std::string& id, const local::ProcessIdentity& driver) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto set, db_->Prepare("UPDATE pipeline_runs SET driver_pid = ?, "
                                              "driver_ticks = ?, driver_boot = ? WHERE id = ?"));
  set.Bind(1, int64_t{driver.pid})
      .Bind(2, static_cast<int64_t>(driver.start_ticks))
      .Bind(3, driver.boot_id)
      .Bind(4, id);
  return set.Run();
}

Result<std::optional<v1::StepRun>> PipelineStore::CacheLookup(const std::string& project,
                                                              const std::string& key) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto get,
                       db_->Cached("SELECT body FROM step_cache WHERE project = ? AND key = ?"));
  get->Bind(1, project).Bind(2, key);
  MLC_ASSIGN_OR_RETURN(bool found, get->Step());
  if (!found) return std::optional<v1::StepRun>();
  v1::StepRun step;
  if (!step.ParseFromString(get->ColumnBlob(0))) return std::optional<v1::StepRun>();
  return std::optional<v1::StepRun>(std::move(step));
}

Status PipelineStore::CacheStore(const std::string& project, const std::string& key,
                                 const v1::StepRun& step) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto put, db_->Cached("INSERT OR REPLACE INTO step_cache VALUES (?, ?, ?, "
                                             "CAST(strftime('%s','now') AS INTEGER) * 1000000)"));
  put->Bind(1, project).Bind(2, key).BindBlob(3, step.SerializeAsString());
  return put->Run();
}

Status PipelineStore::CacheDrop(const std::string& project, const std::string& key) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto drop,
                       db_->Cached("DELETE FROM step_cache WHERE project = ? AND key = ?"));
  drop->Bind(1, project).Bind(2, key);
  return drop->Run();
}

}  // namespace mlcore::pipelines
