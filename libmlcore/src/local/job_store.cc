#include "local/job_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <google/protobuf/util/time_util.h>

#include "mlcore/jobs.h"
#include "util/fs.h"

namespace mlcore::local {

using google::protobuf::util::TimeUtil;

const char* const kJobsMigrationSql = R"sql(
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects(name),
    name TEXT NOT NULL,
    state INTEGER NOT NULL,
    user TEXT NOT NULL,
    create_us INTEGER NOT NULL,
    not_before_us INTEGER NOT NULL DEFAULT 0,
    supervisor_pid INTEGER NOT NULL DEFAULT 0,
    supervisor_start INTEGER NOT NULL DEFAULT 0,
    boot_id TEXT NOT NULL DEFAULT '',
    pgid INTEGER NOT NULL DEFAULT 0,
    stop_request INTEGER NOT NULL DEFAULT 0,
    grace_ms INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL,  -- serialized mlcore.v1.Job
    UNIQUE (project, name)
  );
  CREATE INDEX jobs_state ON jobs(state, create_us);
  CREATE INDEX jobs_listing ON jobs(create_us DESC, id DESC);
  CREATE TABLE job_requests (
    request_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id)
  );
)sql";

const char* const kSchedulingColumnsMigrationSql = R"sql(
  ALTER TABLE jobs ADD COLUMN cpu_millis INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN memory_bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN gpu INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN gpu_model TEXT NOT NULL DEFAULT '';
  ALTER TABLE jobs ADD COLUMN replicas INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN preemptible INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN image TEXT NOT NULL DEFAULT '';
  ALTER TABLE jobs ADD COLUMN waiting_reason TEXT NOT NULL DEFAULT '';
  CREATE TABLE runtime_meta (
    key TEXT PRIMARY KEY,
    int_value INTEGER NOT NULL DEFAULT 0,
    text_value TEXT NOT NULL DEFAULT ''
  );
)sql";

const char* const kAttachmentsMigrationSql = R"sql(
  CREATE TABLE job_attachments (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    name TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (job_id, name)
  );
)sql";

const char* const kExpiryMigrationSql = R"sql(
  ALTER TABLE jobs ADD COLUMN expires_us INTEGER NOT NULL DEFAULT 0;  -- ttl; 0 = none
  CREATE INDEX jobs_expiry ON jobs(state, expires_us) WHERE expires_us > 0;
)sql";

namespace {

constexpr const char* kColumns =
    "id, body, not_before_us, supervisor_pid, supervisor_start, boot_id, pgid, stop_request, "
    "grace_ms, create_us";

Result<JobRecord> ReadRow(sqlite::Statement& row, const std::string& store) {
  JobRecord record;
  if (!record.job.ParseFromString(row.ColumnBlob(1))) {
    return DataLossError("store " + store + ": the record of job " + row.ColumnText(0) +
                         " is corrupt");
  }
  record.not_before_us = row.ColumnInt(2);
  record.supervisor.pid = static_cast<pid_t>(row.ColumnInt(3));
  record.supervisor.start_ticks = static_cast<uint64_t>(row.ColumnInt(4));
  record.supervisor.boot_id = row.ColumnText(5);
  record.pgid = static_cast<pid_t>(row.ColumnInt(6));
  record.stop = static_cast<StopRequest>(row.ColumnInt(7));
  record.grace_ms = row.ColumnInt(8);
  return record;
}

int64_t CreateUs(const v1::Job& job) {
  return TimeUtil::TimestampToMicroseconds(job.create_time());
}

}  // namespace

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Transition(v1::Job* job, v1::JobState to, const std::string& reason, int64_t now_us) {
  auto now = TimeUtil::MicrosecondsToTimestamp(now_us);
  auto* event = job->add_events();
  *event->mutable_time() = now;
  event->set_from_state(job->state());
  event->set_to_state(to);
  event->set_reason(reason);
  job->set_state(to);
  job->set_message(reason);
  if (to == v1::JOB_STATE_RUNNING) {
    *job->mutable_start_time() = now;
    job->clear_waiting_reason();
  }
  if (to == v1::JOB_STATE_PENDING) job->clear_end_time();
  if (IsFinalJobState(to)) {
    *job->mutable_end_time() = now;
    job->clear_waiting_reason();
  }
}

int64_t RetryBackoffUs(const v1::RetryPolicy& retry, int restarts) {
  const double initial = retry.has_initial_backoff()
                             ? TimeUtil::DurationToMicroseconds(retry.initial_backoff())
                             : 10e6;
  const double cap =
      retry.has_max_backoff() ? TimeUtil::DurationToMicroseconds(retry.max_backoff()) : 600e6;
  const double factor = retry.backoff_multiplier() >= 1 ? retry.backoff_multiplier() : 2.0;
  const double backoff = initial * std::pow(factor, std::max(0, restarts - 1));
  return static_cast<int64_t>(std::min(backoff, cap));
}

Status InsertJob(sqlite::Db& db, const JobRecord& r) {
  MLC_ASSIGN_OR_RETURN(
      auto insert,
      db.Prepare(
          "INSERT INTO jobs(id, project, name, state, user, create_us, not_before_us, body, "
          "cpu_millis, memory_bytes, gpu, gpu_model, replicas, priority, preemptible, "
          "image, waiting_reason, expires_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
          "?, ?, ?, ?, ?)"));
  insert.Bind(1, r.job.id()).Bind(2, r.job.spec().project()).Bind(3, r.job.spec().name());
  insert.Bind(4, static_cast<int64_t>(r.job.state())).Bind(5, r.job.user());
  insert.Bind(6, CreateUs(r.job)).Bind(7, r.not_before_us).BindBlob(8, r.job.SerializeAsString());
  const auto& res = r.job.resources();
  insert.Bind(9, res.cpu_millis()).Bind(10, res.memory_bytes());
  insert.Bind(11, static_cast<int64_t>(res.gpu())).Bind(12, res.gpu_model());
  insert.Bind(13, static_cast<int64_t>(std::max(1, r.job.spec().replicas())));
  insert.Bind(14, static_cast<int64_t>(r.job.priority()));
  insert.Bind(15, static_cast<int64_t>(r.job.spec().preemptible() ? 1 : 0));
  insert.Bind(16, r.job.spec().image()).Bind(17, r.job.waiting_reason());
  insert.Bind(18,
              r.job.has_deadline_time()
                  ? static_cast<int64_t>(TimeUtil::TimestampToMicroseconds(r.job.deadline_time()))
                  : int64_t{0});
  Status status = insert.Run();
  if (status.code() == StatusCode::kAlreadyExists) {
    return AlreadyExistsError("a job named \"" + r.job.spec().name() +
                              "\" already exists in "
                              "project \"" +
                              r.job.spec().project() +
                              "\"; job names are never reused, choose another or omit the name");
  }
  return status;
}

Status UpdateJob(sqlite::Db& db, const JobRecord& r) {
  MLC_ASSIGN_OR_RETURN(auto cached,
                       db.Cached("UPDATE jobs SET state = ?, not_before_us = ?, "
                                 "supervisor_pid = ?, supervisor_start = ?, boot_id = ?, "
                                 "pgid = ?, stop_request = ?, grace_ms = ?, body = ?, "
                                 "waiting_reason = ? WHERE id = ?"));
  sqlite::Statement& update = *cached;
  update.Bind(1, static_cast<int64_t>(r.job.state())).Bind(2, r.not_before_us);
  update.Bind(3, static_cast<int64_t>(r.supervisor.pid));
  update.Bind(4, static_cast<int64_t>(r.supervisor.start_ticks));
  update.Bind(5, r.supervisor.boot_id).Bind(6, static_cast<int64_t>(r.pgid));
  update.Bind(7, static_cast<int64_t>(r.stop)).Bind(8, r.grace_ms);
  update.BindBlob(9, r.job.SerializeAsString()).Bind(10, r.job.waiting_reason());
  update.Bind(11, r.job.id());
  return update.Run();
}

Result<JobRecord> LoadJob(sqlite::Db& db, const std::string& id) {
  static const std::string kSql = std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?";
  MLC_ASSIGN_OR_RETURN(auto cached, db.Cached(kSql));
  sqlite::Statement& select = *cached;
  select.Bind(1, id);
  MLC_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) {
    return NotFoundError("job \"" + id + "\" does not exist (list jobs with `mlc job ls`)");
  }
  return ReadRow(select, db.path());
}

Result<std::optional<std::string>> FindJobId(sqlite::Db& db, const std::string& project,
                                             const std::string& name) {
  MLC_ASSIGN_OR_RETURN(auto cached,
                       db.Cached("SELECT id FROM jobs WHERE project = ? AND name = ?"));
  sqlite::Statement& select = *cached;
  select.Bind(1, project).Bind(2, name);
  MLC_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(select.ColumnText(0));
}

Result<std::vector<JobRecord>> LoadJobsInStates(sqlite::Db& db,
                                                const std::vector<v1::JobState>& states,
                                                const std::string& project) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM jobs WHERE (? = '' OR project = ?)";
  if (!states.empty()) {
    sql += " AND state IN (";
    for (size_t i = 0; i < states.size(); ++i) sql += (i ? "," : "") + std::to_string(states[i]);
    sql += ")";
  }
  sql += " ORDER BY create_us, id";
  MLC_ASSIGN_OR_RETURN(auto cached, db.Cached(sql));
  sqlite::Statement& select = *cached;
  select.Bind(1, project).Bind(2, project);
  std::vector<JobRecord> out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    MLC_ASSIGN_OR_RETURN(auto record, ReadRow(select, db.path()));
    out.push_back(std::move(record));
  }
  return out;
}

Result<std::vector<JobRecord>> LoadJobsCreatedSince(sqlite::Db& db, int64_t create_us,
                                                    const std::string& project) {
  MLC_ASSIGN_OR_RETURN(auto cached,
                       db.Cached(std::string("SELECT ") + kColumns +
                                 " FROM jobs WHERE create_us >= ? AND (? = '' OR project = ?)"
                                 " ORDER BY create_us, id"));
  sqlite::Statement& select = *cached;
  select.Bind(1, create_us).Bind(2, project).Bind(3, project);
  std::vector<JobRecord> out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    MLC_ASSIGN_OR_RETURN(auto record, ReadRow(select, db.path()));
    out.push_back(std::move(record));
  }
  return out;
}

std::string JobCursor(const JobRecord& record) {
  return std::to_string(CreateUs(record.job)) + "/" + record.job.id();
}

Result<JobPage> ListJobRows(sqlite::Db& db, const v1::ListJobsRequest& request, int page_size,
                            const std::string& after_key) {
  int64_t after_us = INT64_MAX;
  std::string after_id;
  if (!after_key.empty()) {
    auto slash = after_key.find('/');
    if (slash == std::string::npos) return InvalidArgumentError("invalid page token");
    after_us = std::stoll(after_key.substr(0, slash));
    after_id = after_key.substr(slash + 1);
  }
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM jobs WHERE (create_us < ? OR (create_us = ? AND id < ?))"
                    " AND (? = '' OR project = ?) AND (? = '' OR user = ?)"
                    " AND (? = '' OR name = ?)";
  if (request.states_size() > 0) {
    sql += " AND state IN (";
    for (int i = 0; i < request.states_size(); ++i) {
      sql += (i ? "," : "") + std::to_string(request.states(i));
    }
    sql += ")";
  }
  sql += " ORDER BY create_us DESC, id DESC";
  MLC_ASSIGN_OR_RETURN(auto select, db.Prepare(sql));
  select.Bind(1, after_us).Bind(2, after_us).Bind(3, after_id.empty() ? "\xff" : after_id);
  select.Bind(4, request.project()).Bind(5, request.project());
  select.Bind(6, request.user()).Bind(7, request.user());
  select.Bind(8, request.name()).Bind(9, request.name());
  JobPage page;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    MLC_ASSIGN_OR_RETURN(auto record, ReadRow(select, db.path()));
    bool labels_match = true;
    for (const auto& [key, value] : request.labels()) {
      auto it = record.job.spec().labels().find(key);
      labels_match = labels_match && it != record.job.spec().labels().end() &&
                     (value.empty() || it->second == value);
    }
    if (!labels_match) continue;
    if (static_cast<int>(page.records.size()) == page_size) {
      page.more = true;
      break;
    }
    page.records.push_back(std::move(record));
  }
  return page;
}

Result<std::vector<PendingRow>> LoadPendingRows(sqlite::Db& db, int64_t now_us) {
  MLC_ASSIGN_OR_RETURN(
      auto cached,
      db.Cached("SELECT id, project, user, cpu_millis, memory_bytes, gpu, gpu_model, replicas, "
                "priority, preemptible, image, create_us, waiting_reason FROM jobs WHERE state = ? "
                "AND not_before_us <= ? ORDER BY create_us, id"));
  sqlite::Statement& select = *cached;
  select.Bind(1, static_cast<int64_t>(v1::JOB_STATE_PENDING)).Bind(2, now_us);
  std::vector<PendingRow> out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    PendingRow p;
    auto& j = p.job;
    j.set_id(select.ColumnText(0));
    j.set_project(select.ColumnText(1));
    j.set_user(select.ColumnText(2));
    j.mutable_resources()->set_cpu_millis(select.ColumnInt(3));
    j.mutable_resources()->set_memory_bytes(select.ColumnInt(4));
    j.mutable_resources()->set_gpu(static_cast<int32_t>(select.ColumnInt(5)));
    j.mutable_resources()->set_gpu_model(select.ColumnText(6));
    j.set_replicas(static_cast<int32_t>(select.ColumnInt(7)));
    j.set_priority(static_cast<int32_t>(select.ColumnInt(8)));
    j.set_preemptible(select.ColumnInt(9) != 0);
    j.set_image(select.ColumnText(10));
    int64_t create_us = select.ColumnInt(11);
    j.mutable_submit_time()->set_seconds(create_us / 1000000);
    j.mutable_submit_time()->set_nanos(static_cast<int32_t>(create_us % 1000000) * 1000);
    p.waiting_reason = select.ColumnText(12);
    out.push_back(std::move(p));
  }
  return out;
}

Result<bool> AnyPendingDue(sqlite::Db& db, int64_t now_us) {
  MLC_ASSIGN_OR_RETURN(auto cached, db.Cached("SELECT 1 FROM jobs WHERE state = ? AND "
                                              "not_before_us <= ? LIMIT 1"));
  sqlite::Statement& select = *cached;
  select.Bind(1, static_cast<int64_t>(v1::JOB_STATE_PENDING)).Bind(2, now_us);
  return select.Step();
}

Result<bool> AnyPendingDueBetween(sqlite::Db& db, int64_t from_us, int64_t to_us) {
  MLC_ASSIGN_OR_RETURN(auto cached, db.Cached("SELECT 1 FROM jobs WHERE state = ? AND "
                                              "not_before_us > ? AND not_before_us <= ? LIMIT 1"));
  sqlite::Statement& select = *cached;
  select.Bind(1, static_cast<int64_t>(v1::JOB_STATE_PENDING)).Bind(2, from_us).Bind(3, to_us);
  return select.Step();
}

Result<std::vector<PendingSum>> SumPendingByProjectUser(sqlite::Db& db) {
  MLC_ASSIGN_OR_RETURN(
      auto cached,
      db.Cached("SELECT project, user, count(*), sum(cpu_millis * max(replicas, 1)), "
                "sum(memory_bytes * max(replicas, 1)), sum(gpu * max(replicas, 1)) FROM jobs "
                "WHERE state = ? GROUP BY project, user ORDER BY project, user"));
  sqlite::Statement& select = *cached;
  select.Bind(1, static_cast<int64_t>(v1::JOB_STATE_PENDING));
  std::vector<PendingSum> out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    out.push_back({select.ColumnText(0), select.ColumnText(1), select.ColumnInt(2),
                   select.ColumnInt(3), select.ColumnInt(4), select.ColumnInt(5)});
  }
  return out;
}

Result<int64_t> GetMetaInt(sqlite::Db& db, const std::string& key) {
  MLC_ASSIGN_OR_RETURN(auto cached, db.Cached("SELECT int_value FROM runtime_meta WHERE key = ?"));
  sqlite::Statement& select = *cached;
  select.Bind(1, key);
  MLC_ASSIGN_OR_RETURN(bool row, select.Step());
  return row ? select.ColumnInt(0) : 0;
}

Status SetMetaInt(sqlite::Db& db, const std::string& key, int64_t value) {
  MLC_ASSIGN_OR_RETURN(auto cached,
                       db.Cached("INSERT INTO runtime_meta(key, int_value) VALUES (?, ?) "
                                 "ON CONFLICT(key) DO UPDATE SET int_value = excluded.int_value"));
  sqlite::Statement& upsert = *cached;
  upsert.Bind(1, key).Bind(2, value);
  return upsert.Run();
}

Result<std::string> GetMetaText(sqlite::Db& db, const std::string& key) {
  MLC_ASSIGN_OR_RETURN(auto cached, db.Cached("SELECT text_value FROM runtime_meta WHERE key = ?"));
  sqlite::Statement& select = *cached;
  select.Bind(1, key);
  MLC_ASSIGN_OR_RETURN(bool row, select.Step());
  return row ? select.ColumnText(0) : std::string();
}

Status SetMetaText(sqlite::Db& db, const std::string& key, const std::string& value) {
  MLC_ASSIGN_OR_RETURN(
      auto cached, db.Cached("INSERT INTO runtime_meta(key, text_value) VALUES (?, ?) "
                             "ON CONFLICT(key) DO UPDATE SET text_value = excluded.text_value"));
  sqlite::Statement& upsert = *cached;
  upsert.Bind(1, key).Bind(2, value);
  return upsert.Run();
}

Result<std::vector<std::string>> ExpiredPendingJobs(sqlite::Db& db, int64_t now_us) {
  MLC_ASSIGN_OR_RETURN(auto cached, db.Cached("SELECT id FROM jobs WHERE state = ? AND "
                                              "expires_us > 0 AND expires_us <= ?"));
  sqlite::Statement& select = *cached;
  select.Bind(1, static_cast<int64_t>(v1::JOB_STATE_PENDING)).Bind(2, now_us);
  std::vector<std::string> out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    out.push_back(select.ColumnText(0));
  }
  return out;
}

Status MaterializeAttachments(sqlite::Db& db, const std::string& job_id, const std::string& dir) {
  MLC_ASSIGN_OR_RETURN(auto select,
                       db.Prepare("SELECT name, body FROM job_attachments WHERE job_id = ?"));
  select.Bind(1, job_id);
  bool made = false;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    if (!made) MLC_RETURN_IF_ERROR(util::EnsureDirectory(dir, "attachments directory"));
    made = true;
    MLC_RETURN_IF_ERROR(
        util::AtomicWriteFile(dir + "/" + select.ColumnText(0), select.ColumnBlob(1), 0640, false));
  }
  return Status::Ok();
}

Result<int64_t> CountProjectJobs(sqlite::Db& db, const std::string& project) {
  MLC_ASSIGN_OR_RETURN(auto select, db.Prepare("SELECT COUNT(*) FROM jobs WHERE project = ?"));
  select.Bind(1, project);
  MLC_ASSIGN_OR_RETURN(bool row, select.Step());
  return row ? select.ColumnInt(0) : 0;
}

}  // namespace mlcore::local
