// SlurmBackend: opening, the job table, admission (flavors, priorities, project limits) and
// submission. Reading jobs back from Slurm, logs, cancel and preempt are in slurm_jobs.cc.
#include "slurm/slurm_backend.h"

#include <set>

#include <google/protobuf/util/time_util.h>

#include "local/job_run_tracker.h"
#include "local/job_store.h"
#include "local/local_backend.h"
#include "mlcore/jobs.h"
#include "mlcore/resources.h"
#include "mlcore/version.h"
#include "pipelines/pipeline_engine.h"
#include "scheduler/flavors.h"
#include "slurm/slurm_mapping.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore::slurm {
namespace {

using google::protobuf::util::TimeUtil;

const std::vector<sqlite::Migration>& Migrations() {
  static const std::vector<sqlite::Migration> kMigrations = {
      {1, R"sql(
        CREATE TABLE slurm_jobs (
          id TEXT PRIMARY KEY,
          project TEXT NOT NULL,
          name TEXT NOT NULL,
          slurm_id INTEGER NOT NULL,  -- 0 while mlcore holds the job
          state INTEGER NOT NULL,
          create_us INTEGER NOT NULL,
          body BLOB NOT NULL,         -- serialized mlcore.v1.Job
          UNIQUE (project, name)
        );
        CREATE INDEX slurm_jobs_state ON slurm_jobs(state);
        CREATE TABLE slurm_requests (request_id TEXT PRIMARY KEY, job_id TEXT NOT NULL);
      )sql"},
  };
  return kMigrations;
}

using local::AddTo;

// The first resource of `need` above a non-zero field of `limit`, in words.
std::string Exceeds(const v1::Resources& need, const v1::Resources& limit) {
  if (limit.cpu_millis() > 0 && need.cpu_millis() > limit.cpu_millis()) {
    return "cpu " + std::to_string(need.cpu_millis() / 1000.0).substr(0, 5) + " > " +
           std::to_string(limit.cpu_millis() / 1000.0).substr(0, 5);
  }
  if (limit.memory_bytes() > 0 && need.memory_bytes() > limit.memory_bytes()) {
    return "memory " + FormatBytes(need.memory_bytes()) + " > " + FormatBytes(limit.memory_bytes());
  }
  if (limit.gpu() > 0 && need.gpu() > limit.gpu()) {
    return "gpu " + std::to_string(need.gpu()) + " > " + std::to_string(limit.gpu());
  }
  return {};
}

v1::Resources Total(const v1::Job& job) {
  v1::Resources total;
  AddTo(&total, job.resources(), std::max(1, job.spec().replicas()));
  return total;
}

std::map<std::string, std::string> ParseMapping(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t colon = item.find(':');
    if (colon != std::string::npos) out[item.substr(0, colon)] = item.substr(colon + 1);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Backend>> SlurmBackend::Open(const Uri& uri) {
  MLC_ASSIGN_OR_RETURN(auto rest, RestClient::Create(uri));
  auto q = [&](const char* key) {
    auto it = uri.query.find(key);
    return it == uri.query.end() ? std::string() : it->second;
  };
  std::string dir = q("state");
  if (dir.empty()) {
    std::string where = uri.scheme == "slurm+unix" ? "unix" + uri.path : uri.authority;
    for (char& c : where) {
      if (c == ':' || c == '/') c = '_';
    }
    dir =
        util::GetEnv("XDG_DATA_HOME", util::HomeDir() + "/.local/share") + "/mlcore/slurm/" + where;
  }
  dir = util::AbsolutePath(dir);
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(dir, "Slurm backend state directory"));
  Uri store_uri;
  store_uri.scheme = "local";
  store_uri.path = dir;
  store_uri.original = "local://" + dir;
  MLC_ASSIGN_OR_RETURN(auto store, local::LocalBackend::Open(store_uri));
  MLC_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(dir + "/slurm.db", Migrations()));
  return std::unique_ptr<Backend>(
      new SlurmBackend(std::move(store), std::move(rest), dir, std::move(db), uri));
}

SlurmBackend::SlurmBackend(std::unique_ptr<Backend> store, std::unique_ptr<RestClient> rest,
                           std::string dir, std::unique_ptr<sqlite::Db> db, const Uri& uri)
    : ForwardingBackend(std::move(store)),
      rest_(std::move(rest)),
      dir_(std::move(dir)),
      db_(std::move(db)),
      uri_text_(uri.Redacted()),
      pipelines_(std::make_unique<pipelines::PipelineEngine>(dir_, uri.original)) {
  auto q = [&](const char* key) {
    auto it = uri.query.find(key);
    return it == uri.query.end() ? std::string() : it->second;
  };
  default_partition_ = q("partition");
  partitions_ = ParseMapping(q("partitions"));
  qos_ = q("qos");
}

v1::BackendInfo SlurmBackend::Info() {
  v1::BackendInfo info = inner().Info();
  info.set_scheme("slurm");
  info.set_target(uri_text_);
  info.set_version(std::string(Version()));
  // Not CAPABILITY_JOB_ATTACH: Slurm runs the job; there is no exec/port-forward into it here.
  info.clear_capabilities();
  for (auto c : {v1::CAPABILITY_PROJECTS, v1::CAPABILITY_JOBS, v1::CAPABILITY_PREEMPTION,
                 v1::CAPABILITY_TRACKING, v1::CAPABILITY_ARTIFACTS, v1::CAPABILITY_REGISTRY}) {
    info.add_capabilities(c);
  }
  return info;
}

// --- The job table ---

Status SlurmBackend::InsertRowLocked(const Row& row) {
  MLC_ASSIGN_OR_RETURN(auto insert, db_->Prepare("INSERT INTO slurm_jobs VALUES (?,?,?,?,?,?,?)"));
  insert.Bind(1, row.job.id()).Bind(2, row.job.spec().project()).Bind(3, row.job.spec().name());
  insert.Bind(4, row.slurm_id).Bind(5, static_cast<int64_t>(row.job.state()));
  insert.Bind(6, static_cast<int64_t>(TimeUtil::TimestampToMicroseconds(row.job.create_time())));
  insert.BindBlob(7, row.job.SerializeAsString());
  Status s = insert.Run();
  if (s.code() == StatusCode::kAlreadyExists) {
    return AlreadyExistsError("a job named \"" + row.job.spec().name() +
                              "\" already exists in project \"" + row.job.spec().project() +
                              "\"; job names are never reused: choose another name");
  }
  return s;
}

Status SlurmBackend::UpdateRowLocked(const Row& row) {
  MLC_ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE slurm_jobs SET slurm_id = ?, state = ?, "
                                                 "body = ? WHERE id = ?"));
  update.Bind(1, row.slurm_id).Bind(2, static_cast<int64_t>(row.job.state()));
  update.BindBlob(3, row.job.SerializeAsString()).Bind(4, row.job.id());
  return update.Run();
}

Result<SlurmBackend::Row> SlurmBackend::LoadRowLocked(const std::string& id_or_name,
                                                      const std::string& project) {
  MLC_ASSIGN_OR_RETURN(
      auto select, db_->Prepare("SELECT slurm_id, body, project FROM slurm_jobs WHERE id = ?1 OR "
                                "(name = ?1 AND (?2 = '' OR project = ?2))"));
  select.Bind(1, id_or_name).Bind(2, project);
  std::vector<Row> found;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, select.Step());
    if (!more) break;
    Row row;
    row.slurm_id = select.ColumnInt(0);
    if (!row.job.ParseFromString(select.ColumnBlob(1))) {
      return DataLossError("store " + db_->path() + ": the record of job \"" + id_or_name +
                           "\" is corrupt");
    }
    found.push_back(std::move(row));
  }
  if (found.empty()) {
    return NotFoundError("job \"" + id_or_name + "\" does not exist" +
                         (project.empty() ? "" : " in project \"" + project + "\"") +
                         " (list jobs with `mlc job ls`)");
  }
  for (auto& r : found) {
    if (r.job.id() == id_or_name) return std::move(r);
  }
  if (found.size() > 1) {
    return InvalidArgumentError("job name \"" + id_or_name +
                                "\" exists in several projects; pass --project or the job id");
  }
  return std::move(found[0]);
}

Result<std::vector<SlurmBackend::Row>> SlurmBackend::LoadActiveRowsLocked() {
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT slurm_id, body FROM slurm_jobs WHERE "
                                                 "state IN (1, 2, 3) ORDER BY create_us, id"));
  std::vector<Row> rows;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, select.Step());
    if (!more) break;
    Row row;
    row.slurm_id = select.ColumnInt(0);
    if (row.job.ParseFromString(select.ColumnBlob(1))) rows.push_back(std::move(row));
  }
  return rows;
}

// --- Admission ---

Status SlurmBackend::Admit(v1::Job* job) {
  const v1::JobSpec& spec = job->spec();
  MLC_ASSIGN_OR_RETURN(auto flavors, inner().ListFlavors({}));
  v1::FlavorCatalog catalog =
      flavors.catalogs_size() > 0 ? flavors.catalogs(0) : v1::FlavorCatalog();
  const std::string flavor = spec.test_queue() && spec.flavor().empty() && !spec.has_resources()
                                 ? catalog.test_flavor()
                                 : spec.flavor();
  MLC_ASSIGN_OR_RETURN(*job->mutable_resources(),
                       ResolveRequest(catalog, flavor, spec.resources()));
  if (spec.test_queue()) {
    if (!flavor.empty()) job->mutable_spec()->set_flavor(flavor);
    const auto& max = catalog.test_max_deadline();
    if (TimeUtil::DurationToMilliseconds(max) > 0 &&
        (!spec.has_deadline() || spec.deadline() > max ||
         TimeUtil::DurationToMilliseconds(spec.deadline()) <= 0)) {
      *job->mutable_spec()->mutable_deadline() = max;
    }
  }
  MLC_ASSIGN_OR_RETURN(auto classes, inner().ListPriorityClasses());
  std::vector<v1::PriorityClass> list(classes.priority_classes().begin(),
                                      classes.priority_classes().end());
  MLC_ASSIGN_OR_RETURN(int32_t priority, ResolvePriorityClass(list, spec.priority_class()));
  job->set_priority(priority);
  job->set_qos(spec.preemptible() ? v1::QOS_CLASS_PREEMPTIBLE : v1::QOS_CLASS_ON_DEMAND);
  // Could it ever start? The size of one node (what the store knows of the cluster's nodes, from
  // MLC_NODE_CAPACITY or this machine), then the project's limits and its ancestors'.
  const v1::Resources total = Total(*job);
  MLC_ASSIGN_OR_RETURN(auto nodes, inner().ListNodes({}));
  if (nodes.nodes_size() > 0) {
    const v1::Resources& cap = nodes.nodes(0).capacity();
    const v1::Resources& one = job->resources();
    std::string why = Exceeds(one, cap);
    if (!why.empty()) {
      return ResourceExhaustedError("job needs " + FormatResources(one) +
                                    " per replica but a node has " + FormatResources(cap) + " (" +
                                    why + "); it could never start — ask for less");
    }
  }
  std::string project = spec.project();
  std::set<std::string> seen;
  while (!project.empty() && seen.insert(project).second) {
    auto p = inner().GetProject(project);
    if (!p.ok()) {
      if (p.status().code() == StatusCode::kNotFound && project == spec.project()) {
        return NotFoundError("project \"" + project +
                             "\" does not exist; create it with `mlc project create " + project +
                             "`");
      }
      return p.status();
    }
    std::string why = Exceeds(total, p->limit());
    if (!why.empty()) {
      return ResourceExhaustedError("job needs " + FormatResources(total) + " but project \"" +
                                    p->name() + "\" is limited to " + FormatResources(p->limit()) +
                                    " (" + why +
                                    "); it could never start — ask for less or raise the "
                                    "project's limit");
    }
    project = p->parent();
  }
  return Status::Ok();
}

Result<std::string> SlurmBackend::WouldExceedLimitLocked(const v1::Job& job) {
  // The project and its ancestors; most have no limit, and then nothing else needs reading.
  std::vector<v1::Project> chain;
  {
    std::string name = job.spec().project();
    std::set<std::string> seen;
    while (!name.empty() && seen.insert(name).second) {
      MLC_ASSIGN_OR_RETURN(auto p, inner().GetProject(name));
      name = p.parent();
      chain.push_back(std::move(p));
    }
  }
  bool limited = false;
  for (const auto& p : chain) {
    limited = limited || p.limit().cpu_millis() > 0 || p.limit().memory_bytes() > 0 ||
              p.limit().gpu() > 0;
  }
  if (!limited) return std::string();
  MLC_ASSIGN_OR_RETURN(auto active, LoadActiveRowsLocked());
  for (const auto& p : chain) {
    v1::Resources used = Total(job);
    for (const auto& r : active) {
      if (r.slurm_id == 0 || r.job.id() == job.id()) continue;
      // Jobs of this project or of its sub-projects count against its limit.
      std::string owner = r.job.spec().project();
      std::set<std::string> visited;
      bool counts = false;
      while (!owner.empty() && visited.insert(owner).second) {
        if (owner == p.name()) {
          counts = true;
          break;
        }
        auto op = inner().GetProject(owner);
        if (!op.ok()) break;
        owner = op->parent();
      }
      if (counts) AddTo(&used, Total(r.job), 1);
    }
    std::string why = Exceeds(used, p.limit());
    if (!why.empty()) {
      return "waiting: project " + p.name() + " at its limit " + FormatResources(p.limit()) + " (" +
             why + ")";
    }
  }
  return std::string();
}

std::string SlurmBackend::PartitionFor(const v1::Job& job) const {
  auto it = partitions_.find(job.spec().flavor());
  return it != partitions_.end() ? it->second : default_partition_;
}

Result<std::string> SlurmBackend::CreateJobRun(const v1::Job& job) {
  const v1::JobSpec& spec = job.spec();
  const std::string name = spec.experiment().empty() ? "default" : spec.experiment();
  v1::GetExperimentRequest get;
  get.set_project(spec.project());
  get.set_name(name);
  auto experiment = inner().GetExperiment(get);
  if (!experiment.ok() && experiment.status().code() == StatusCode::kNotFound) {
    v1::Experiment e;
    e.set_project(spec.project());
    e.set_name(name);
    experiment = inner().CreateExperiment(e);
    if (!experiment.ok() && experiment.status().code() == StatusCode::kAlreadyExists) {
      experiment = inner().GetExperiment(get);
    }
  }
  MLC_RETURN_IF_ERROR(experiment.status());
  v1::CreateRunRequest create;
  v1::Run* run = create.mutable_run();
  run->set_project(spec.project());
  run->set_experiment_id(experiment->id());
  run->set_name(spec.name());
  run->set_user(job.user());
  run->set_job_id(job.id());
  run->set_status(v1::RUN_STATUS_SCHEDULED);
  if (job.reproducibility().has_source()) *run->mutable_source() = job.reproducibility().source();
  (*run->mutable_tags())["mlc.job"] = spec.name();
  (*run->mutable_tags())["mlc.backend"] = "slurm";
  for (const auto& [k, v] : spec.labels()) (*run->mutable_tags())["mlc.label." + k] = v;
  MLC_ASSIGN_OR_RETURN(v1::Run created, inner().CreateRun(create));
  return created.id();
}

Result<std::string> SlurmBackend::PrepareSubmit(const v1::Job& job,
                                                const std::map<std::string, std::string>& secrets) {
  const std::string job_dir = JobDirOf(job.id());
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(job_dir, "job directory"));
  Placement placement;
  placement.partition = PartitionFor(job);
  placement.qos = qos_;
  const std::string attempt = std::to_string(job.restarts());
  placement.stdout_path = job_dir + "/stdout." + attempt + ".log";
  placement.stderr_path = job_dir + "/stderr." + attempt + ".log";
  // An explicit environment: a minimal base, the spec's variables, secrets, and mlcore's own.
  auto& env = placement.env;
  env["PATH"] = util::GetEnv("PATH", "/usr/local/bin:/usr/bin:/bin");
  env["HOME"] = util::HomeDir();
  env["USER"] = rest_->user();
  env["LANG"] = util::GetEnv("LANG", "C.UTF-8");
  for (const auto& [k, v] : job.spec().env()) env[k] = v;
  for (const auto& [k, v] : secrets) env[k] = v;
  env["MLC_JOB_ID"] = job.id();
  env["MLC_JOB_NAME"] = job.spec().name();
  env["MLC_PROJECT"] = job.spec().project();
  env["MLC_ATTEMPT"] = attempt;
  // Tracking inside the job reaches this backend's store directly (one machine or a shared FS).
  env["MLC_BACKEND"] = "local://" + dir_;
  if (!job.run_id().empty()) env["MLC_RUN_ID"] = job.run_id();
  return BuildSubmitBody(job, placement);
}

Result<int64_t> SlurmBackend::PostSubmit(const v1::Job& job, const std::string& body) {
  MLC_ASSIGN_OR_RETURN(auto answer,
                       rest_->Post("/job/submit", body, "submit job " + job.spec().name()));
  if (!answer.contains("job_id") || !answer["job_id"].is_number()) {
    return UnknownError("slurmrestd accepted job " + job.spec().name() +
                        " but named no job_id: " + answer.dump().substr(0, 200));
  }
  return answer["job_id"].get<int64_t>();
}

void SlurmBackend::MarkSubmitted(Row* row, int64_t slurm_id) {
  row->slurm_id = slurm_id;
  row->job.clear_waiting_reason();
  row->job.set_message("submitted to Slurm as job " + std::to_string(slurm_id));
}

Status SlurmBackend::HandToSlurmLocked(Row* row,
                                       const std::map<std::string, std::string>& secrets) {
  MLC_ASSIGN_OR_RETURN(std::string body, PrepareSubmit(row->job, secrets));
  MLC_ASSIGN_OR_RETURN(int64_t slurm_id, PostSubmit(row->job, body));
  MarkSubmitted(row, slurm_id);
  return Status::Ok();
}

Result<v1::Job> SlurmBackend::SubmitJob(const JobSubmission& submission) {
  v1::Job job = submission.job;
  MLC_RETURN_IF_ERROR(Admit(&job));
  const int64_t now = local::NowMicros();
  *job.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(now);
  job.set_state(v1::JOB_STATE_PENDING);
  job.mutable_reproducibility()->set_mlcore_version(std::string(Version()));
  auto find_request = [&]() -> Result<std::optional<v1::Job>> {
    if (submission.request_id.empty()) return std::optional<v1::Job>();
    MLC_ASSIGN_OR_RETURN(auto seen,
                         db_->Prepare("SELECT job_id FROM slurm_requests WHERE request_id = ?"));
    seen.Bind(1, submission.request_id);
    MLC_ASSIGN_OR_RETURN(bool found, seen.Step());
    if (!found) return std::optional<v1::Job>();
    MLC_ASSIGN_OR_RETURN(auto existing, LoadRowLocked(seen.ColumnText(0), ""));
    return std::optional<v1::Job>(existing.job);
  };
  {
    std::lock_guard lock(mu_);
    MLC_ASSIGN_OR_RETURN(auto existing, find_request());
    if (existing) return *existing;  // the same request again: the job it created
  }
  job.set_id(util::RandomHexId("j"));
  local::Transition(&job, v1::JOB_STATE_PENDING, "submitted by " + job.user(), now);
  // The tracking run (MLC_RUN_ID in the job's environment), made outside our lock: the store
  // serializes itself. Removed again if the job is not kept.
  MLC_ASSIGN_OR_RETURN(std::string run_id, CreateJobRun(job));
  job.set_run_id(run_id);
  auto drop_run = [&] {
    v1::DeleteRunRequest del;
    del.set_id(run_id);
    inner().DeleteRun(del).IgnoreError();
  };
  Row row;
  row.job = job;
  {
    // Admission is decided under the lock, and an admitted row is marked (kAdmitting) before the
    // lock is released, so concurrent submitters never both take the project's last room.
    std::lock_guard lock(mu_);
    auto existing = find_request();
    if (!existing.ok() || *existing) {
      drop_run();
      if (!existing.ok()) return existing.status();
      return **existing;
    }
    if (Status s = InsertRowLocked(row); !s.ok()) {
      drop_run();
      return s;
    }
    if (!submission.request_id.empty()) {
      MLC_ASSIGN_OR_RETURN(auto remember, db_->Prepare("INSERT INTO slurm_requests VALUES (?, ?)"));
      remember.Bind(1, submission.request_id).Bind(2, job.id());
      MLC_RETURN_IF_ERROR(remember.Run());
    }
    MLC_ASSIGN_OR_RETURN(std::string wait, WouldExceedLimitLocked(job));
    if (!wait.empty()) {
      row.job.set_waiting_reason(wait);
      row.job.set_message(wait);
      if (!submission.secrets.empty()) held_secrets_[job.id()] = submission.secrets;
      MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
      return row.job;
    }
    row.slurm_id = kAdmitting;
    MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
  }
  // The REST call runs without our lock, so submitters run in parallel on their connections.
  auto body = PrepareSubmit(row.job, submission.secrets);
  Result<int64_t> slurm_id =
      body.ok() ? PostSubmit(row.job, *body) : Result<int64_t>(body.status());
  std::lock_guard lock(mu_);
  if (!slurm_id.ok()) {
    // Slurm refused it: the job never existed for anyone.
    for (const char* sql :
         {"DELETE FROM slurm_jobs WHERE id = ?", "DELETE FROM slurm_requests WHERE job_id = ?"}) {
      MLC_ASSIGN_OR_RETURN(auto del, db_->Prepare(sql));
      del.Bind(1, job.id());
      del.Run().IgnoreError();
    }
    drop_run();
    return slurm_id.status();
  }
  MarkSubmitted(&row, *slurm_id);
  MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
  return row.job;
}

namespace {

// When a job that its retry policy sent back to PENDING after a failure may be handed to Slurm
// again: the time of that step plus the backoff. 0 for any other pending job.
int64_t RetryNotBeforeUs(const v1::Job& job) {
  if (job.restarts() <= 0 || job.events_size() == 0) return 0;
  const auto& last = *job.events().rbegin();
  if (last.to_state() != v1::JOB_STATE_PENDING || last.from_state() != v1::JOB_STATE_FAILED) {
    return 0;
  }
  return TimeUtil::TimestampToMicroseconds(last.time()) +
         local::RetryBackoffUs(job.spec().retry(), job.restarts());
}

}  // namespace

Status SlurmBackend::AdmitHeldLocked(bool refresh) {
  MLC_ASSIGN_OR_RETURN(auto active, LoadActiveRowsLocked());
  if (refresh) {
    bool any_held = false;
    for (auto& row : active) {
      if (row.slurm_id != 0) {
        MLC_RETURN_IF_ERROR(RefreshLocked(&row, /*admit=*/false));
      } else {
        any_held = true;
      }
    }
    if (!any_held) return Status::Ok();
    MLC_ASSIGN_OR_RETURN(active, LoadActiveRowsLocked());
  }
  const int64_t now = local::NowMicros();
  for (auto& row : active) {
    if (row.slurm_id != 0 || row.job.state() != v1::JOB_STATE_PENDING) continue;
    // A restart after a failure waits out the retry policy's backoff here, as on local://
    // (Slurm's begin_time has whole seconds and waits for its scheduler's next pass).
    if (const int64_t not_before = RetryNotBeforeUs(row.job); not_before > now) {
      const std::string wait = "restart " + std::to_string(row.job.restarts()) +
                               " waits out its retry backoff until " +
                               TimeUtil::ToString(TimeUtil::MicrosecondsToTimestamp(not_before));
      if (row.job.waiting_reason() != wait) {
        row.job.set_waiting_reason(wait);
        MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
      }
      continue;
    }
    MLC_ASSIGN_OR_RETURN(std::string wait, WouldExceedLimitLocked(row.job));
    if (!wait.empty()) {
      if (row.job.waiting_reason() != wait) {
        row.job.set_waiting_reason(wait);
        MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
      }
      continue;
    }
    std::map<std::string, std::string> secrets;
    if (auto it = held_secrets_.find(row.job.id()); it != held_secrets_.end()) {
      secrets = it->second;
    } else if (row.job.spec().secrets_size() > 0) {
      Move(&row, v1::JOB_STATE_FAILED,
           "its secrets were held only by the process that submitted it, which is gone; "
           "rerun it (`mlc job rerun " +
               row.job.spec().name() + "`)");
      MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
      continue;
    }
    Status s = HandToSlurmLocked(&row, secrets);
    held_secrets_.erase(row.job.id());
    if (!s.ok()) Move(&row, v1::JOB_STATE_FAILED, "Slurm refused it: " + s.message());
    MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
  }
  return Status::Ok();
}

}  // namespace mlcore::slurm

namespace mlcore::slurm {

Result<v1::GetQuotaUsageResponse> SlurmBackend::GetQuotaUsage(
    const v1::GetQuotaUsageRequest& request) {
  MLC_ASSIGN_OR_RETURN(auto response, inner().GetQuotaUsage(request));
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(AdmitHeldLocked(/*refresh=*/true));
  MLC_ASSIGN_OR_RETURN(auto active, LoadActiveRowsLocked());
  for (auto& usage : *response.mutable_usages()) {
    std::map<std::string, v1::UserUsage> users;
    for (const auto& r : active) {
      if (r.job.spec().project() != usage.project()) continue;
      if (!request.user().empty() && r.job.user() != request.user()) continue;
      // mlcore is the admission controller: a job handed to Slurm is admitted and counts as used
      // (as WouldExceedLimitLocked counts it), even while Slurm still places it; a job mlcore
      // holds back is pending.
      local::CountJobUsage(r.job, r.slurm_id == 0, &usage, &users);
    }
    if (request.per_user()) {
      usage.clear_users();
      for (auto& [name, u] : users) *usage.add_users() = std::move(u);
    }
  }
  return response;
}

Result<v1::PipelineRun> SlurmBackend::RunPipeline(const v1::RunPipelineRequest& request,
                                                  const std::string& user) {
  MLC_RETURN_IF_ERROR(GetProject(request.spec().project()).status());
  return pipelines_->Run(request, user);
}

Result<v1::PipelineRun> SlurmBackend::GetPipelineRun(const v1::GetPipelineRunRequest& request) {
  return pipelines_->Get(request.id());
}

Result<v1::ListPipelineRunsResponse> SlurmBackend::ListPipelineRuns(
    const v1::ListPipelineRunsRequest& request) {
  return pipelines_->List(request);
}

Result<v1::PipelineRun> SlurmBackend::CancelPipelineRun(
    const v1::CancelPipelineRunRequest& request) {
  return pipelines_->Cancel(request);
}

Result<v1::PipelineRun> SlurmBackend::ResumePipelineRun(
    const v1::ResumePipelineRunRequest& request) {
  return pipelines_->Resume(request);
}

}  // namespace mlcore::slurm
