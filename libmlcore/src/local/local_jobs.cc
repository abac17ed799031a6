// LocalBackend: jobs, logs, flavors, nodes and quota usage.
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>
#include <sys/stat.h>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "core/page_token.h"
#include "core/validation.h"
#include "local/job_runtime.h"
#include "local/job_store.h"
#include "local/local_backend.h"
#include "local/log_file.h"
#include "mlcore/jobs.h"
#include "mlcore/resources.h"
#include "mlcore/version.h"
#include "scheduler/flavors.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

std::string NewJobId() { return util::RandomHexId("j"); }

bool LooksLikeJobId(const std::string& s) { return util::LooksLikeHexId(s, "j"); }

// The first resource of `need` above a non-zero field of `cap`, described for people.
std::optional<std::string> Exceeds(const v1::Resources& need, const v1::Resources& cap,
                                   bool zero_is_unlimited) {
  auto over = [&](int64_t n, int64_t c) { return (c > 0 || !zero_is_unlimited) && n > c; };
  if (over(need.cpu_millis(), cap.cpu_millis())) {
    v1::Resources n, c;
    n.set_cpu_millis(need.cpu_millis());
    c.set_cpu_millis(cap.cpu_millis());
    return FormatResources(n) + " > " + FormatResources(c);
  }
  if (over(need.memory_bytes(), cap.memory_bytes())) {
    return "memory " + FormatBytes(need.memory_bytes()) + " > " + FormatBytes(cap.memory_bytes());
  }
  if (over(need.gpu(), cap.gpu())) {
    return "gpu " + std::to_string(need.gpu()) + " > " + std::to_string(cap.gpu());
  }
  return std::nullopt;
}

}  // namespace

const RuntimeContext& LocalBackend::Runtime() {
  std::call_once(runtime_once_,
                 [&] { runtime_ = std::make_unique<RuntimeContext>(DefaultRuntimeContext(dir_)); });
  return *runtime_;
}

Status LocalBackend::CheckCanEverFit(const v1::Job& job) {
  v1::Resources total;
  int replicas = std::max(1, job.spec().replicas());
  AddTo(&total, job.resources(), replicas);
  const auto& node = Runtime().node;
  if (auto why = Exceeds(total, node.capacity(), /*zero_is_unlimited=*/false)) {
    return ResourceExhaustedError("job needs " + FormatResources(total) + " but this machine (" +
                                  node.name() + ") has " + FormatResources(node.capacity()) + " (" +
                                  *why + "); it could never start here — ask for less");
  }
  std::string project = job.spec().project();
  std::set<std::string> seen;
  while (!project.empty() && seen.insert(project).second) {
    MLC_ASSIGN_OR_RETURN(auto p, GetProjectLocked(project));
    if (auto why = Exceeds(total, p.limit(), /*zero_is_unlimited=*/true)) {
      return ResourceExhaustedError("job needs " + FormatResources(total) + " but project \"" +
                                    p.name() + "\" is limited to " + FormatResources(p.limit()) +
                                    " (" + *why +
                                    "); it could never start — ask for less or "
                                    "raise the project's limit");
    }
    project = p.parent();
  }
  return Status::Ok();
}

Result<v1::Job> LocalBackend::SubmitJob(const JobSubmission& submission) {
  const RuntimeContext& ctx = Runtime();
  const auto& secrets = submission.secrets;
  const auto& request_id = submission.request_id;
  v1::Job job = submission.job;
  const auto& spec = job.spec();
  const std::string flavor = spec.test_queue() && spec.flavor().empty() && !spec.has_resources()
                                 ? ctx.flavors.test_flavor()
                                 : spec.flavor();
  MLC_ASSIGN_OR_RETURN(*job.mutable_resources(),
                       ResolveRequest(ctx.flavors, flavor, spec.resources()));
  if (spec.test_queue()) {
    if (!flavor.empty()) job.mutable_spec()->set_flavor(flavor);
    const auto& max = ctx.flavors.test_max_deadline();
    if (TimeUtil::DurationToMilliseconds(max) > 0 &&
        (!spec.has_deadline() || spec.deadline() > max ||
         TimeUtil::DurationToMilliseconds(spec.deadline()) <= 0)) {
      *job.mutable_spec()->mutable_deadline() = max;
    }
  }
  MLC_ASSIGN_OR_RETURN(int32_t priority,
                       ResolvePriorityClass(ctx.priorities, spec.priority_class()));
  job.set_priority(priority);
  job.set_qos(spec.preemptible() ? v1::QOS_CLASS_PREEMPTIBLE : v1::QOS_CLASS_ON_DEMAND);
  const int64_t now = NowMicros();
  *job.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(now);
  if (spec.has_ttl() && TimeUtil::DurationToMicroseconds(spec.ttl()) > 0) {
    *job.mutable_deadline_time() =
        TimeUtil::MicrosecondsToTimestamp(now + TimeUtil::DurationToMicroseconds(spec.ttl()));
  }
  job.set_state(v1::JOB_STATE_PENDING);
  job.mutable_reproducibility()->set_mlcore_version(std::string(Version()));

  std::string id;
  {
    std::lock_guard lock(mu_);
    MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
    if (!request_id.empty()) {
      MLC_ASSIGN_OR_RETURN(auto seen,
                           db_->Prepare("SELECT job_id FROM job_requests WHERE request_id = ?"));
      seen.Bind(1, request_id);
      MLC_ASSIGN_OR_RETURN(bool found, seen.Step());
      if (found) {
        MLC_ASSIGN_OR_RETURN(auto existing, LoadJob(*db_, seen.ColumnText(0)));
        return existing.job;  // the same request again: the job it created
      }
    }
    auto project = GetProjectLocked(spec.project());
    if (!project.ok()) {
      return NotFoundError("project \"" + spec.project() +
                           "\" does not exist; create it with "
                           "`mlc project create " +
                           spec.project() + "`");
    }
    MLC_RETURN_IF_ERROR(CheckCanEverFit(job));
    id = NewJobId();
    job.set_id(id);
    Transition(&job, v1::JOB_STATE_PENDING, "submitted by " + job.user(), now);
    // The job's directory is made when it starts (directories are slow to create in bulk), unless
    // the submit itself has files to keep: a snapshot or secret values.
    std::string job_dir = JobDir(dir_, id);
    if (spec.snapshot_working_dir() || !secrets.empty()) {
      MLC_RETURN_IF_ERROR(util::EnsureDirectory(job_dir, "job directory"));
    }
    if (spec.snapshot_working_dir()) {
      std::error_code ec;
      std::filesystem::copy(
          spec.working_dir(), job_dir + "/workdir",
          std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks,
          ec);
      if (ec) {
        return FailedPreconditionError("cannot snapshot working directory " + spec.working_dir() +
                                       ": " + ec.message());
      }
    }
    if (!secrets.empty()) {
      std::string text;
      for (const auto& [k, v] : secrets) text += k + "=" + v + "\n";
      MLC_RETURN_IF_ERROR(util::AtomicWriteFile(job_dir + "/secrets.env", text, 0600));
    }
    // Every job gets a tracking run (MLC_RUN_ID in its environment); removed again if the job
    // is not stored after all.
    MLC_ASSIGN_OR_RETURN(std::string run_id, CreateJobRun(job));
    job.set_run_id(run_id);
    struct DropRunUnlessKept {
      LocalBackend* backend;
      std::string run_id;
      bool kept = false;
      ~DropRunUnlessKept() {
        if (kept) return;
        if (auto store = backend->Tracking(); store.ok()) (*store)->DeleteRun(run_id).IgnoreError();
      }
    } drop_run{this, run_id};
    JobRecord record;
    record.job = job;
    MLC_RETURN_IF_ERROR(InsertJob(*db_, record));
    for (const auto& [name, contents] : submission.attachments) {
      if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
        return InvalidArgumentError("invalid attachment name \"" + name + "\"");
      }
      // Kept in the store with the job; the supervisor writes them to the job's directory.
      MLC_ASSIGN_OR_RETURN(auto attach,
                           db_->Prepare("INSERT INTO job_attachments VALUES (?, ?, ?)"));
      attach.Bind(1, id).Bind(2, name).BindBlob(3, contents);
      MLC_RETURN_IF_ERROR(attach.Run());
    }
    if (!request_id.empty()) {
      MLC_ASSIGN_OR_RETURN(auto remember, db_->Prepare("INSERT INTO job_requests VALUES (?, ?)"));
      remember.Bind(1, request_id).Bind(2, id);
      MLC_RETURN_IF_ERROR(remember.Run());
    }
    MLC_RETURN_IF_ERROR(txn.Commit());
    drop_run.kept = true;
    MLC_RETURN_IF_ERROR(RequestSchedulingPass(*db_, ctx));
    MLC_ASSIGN_OR_RETURN(auto stored, LoadJob(*db_, id));
    return stored.job;
  }
}

Result<std::string> LocalBackend::ResolveJobIdLocked(const std::string& id_or_name,
                                                     const std::string& project) {
  if (LooksLikeJobId(id_or_name)) {
    auto record = LoadJob(*db_, id_or_name);
    if (record.ok()) return id_or_name;
  }
  if (!project.empty()) {
    MLC_ASSIGN_OR_RETURN(auto id, FindJobId(*db_, project, id_or_name));
    if (id) return *id;
    return NotFoundError("job \"" + id_or_name + "\" does not exist in project \"" + project +
                         "\" (list jobs with `mlc job ls`)");
  }
  // No project given: a name unique across projects is accepted.
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT id, project FROM jobs WHERE name = ?"));
  select.Bind(1, id_or_name);
  std::vector<std::pair<std::string, std::string>> matches;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    matches.emplace_back(select.ColumnText(0), select.ColumnText(1));
  }
  if (matches.size() == 1) return matches[0].first;
  if (matches.empty()) {
    return NotFoundError("job \"" + id_or_name + "\" does not exist (list jobs with `mlc job ls`)");
  }
  std::string where;
  for (const auto& m : matches) where += (where.empty() ? "" : ", ") + m.second;
  return InvalidArgumentError("job name \"" + id_or_name + "\" exists in several projects (" +
                              where + "); pass --project or the job id");
}

Result<JobRecord> LocalBackend::LoadJobLocked(const std::string& id_or_name,
                                              const std::string& project) {
  if (LooksLikeJobId(id_or_name)) {
    auto record = LoadJob(*db_, id_or_name);
    if (record.ok() || record.status().code() != StatusCode::kNotFound) return record;
  }
  MLC_ASSIGN_OR_RETURN(std::string id, ResolveJobIdLocked(id_or_name, project));
  return LoadJob(*db_, id);
}

Result<v1::Job> LocalBackend::GetJob(const v1::GetJobRequest& request) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      JobRecord record,
      LoadJobLocked(request.id().empty() ? request.name() : request.id(), request.project()));
  // Reads reconcile too: a job whose supervisor vanished must not look RUNNING forever. A pass
  // never changes a finished job, so one is answered as stored.
  if (!IsFinalJobState(record.job.state())) {
    MLC_ASSIGN_OR_RETURN(bool passed, RunSchedulingPassIfNeeded(*db_, Runtime()));
    if (passed) {
      MLC_ASSIGN_OR_RETURN(record, LoadJob(*db_, record.job.id()));
    }
  }
  if (request.view() == v1::JOB_VIEW_BASIC) record.job.clear_events();
  return record.job;
}

Result<v1::ListJobsResponse> LocalBackend::ListJobs(const v1::ListJobsRequest& request) {
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(request.page_size()));
  MLC_ASSIGN_OR_RETURN(std::string after, DecodePageToken(request.page_token(), "jobs"));
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RunSchedulingPassIfNeeded(*db_, Runtime()).status());
  MLC_ASSIGN_OR_RETURN(auto page, ListJobRows(*db_, request, page_size, after));
  v1::ListJobsResponse response;
  // The cursor before the records are moved into the answer (a moved-from last record made
  // every next page empty).
  if (page.more && !page.records.empty()) {
    response.set_next_page_token(EncodePageToken(JobCursor(page.records.back()), "jobs"));
  }
  for (auto& r : page.records) {
    if (request.view() != v1::JOB_VIEW_FULL) r.job.clear_events();
    *response.add_jobs() = std::move(r.job);
  }
  return response;
}

Status LocalBackend::StreamJobLogs(const v1::StreamJobLogsRequest& request,
                                   const std::function<bool(const v1::LogLine&)>& sink,
                                   const std::function<bool()>& keep_following) {
  std::string id;
  {
    std::lock_guard lock(mu_);
    MLC_ASSIGN_OR_RETURN(id, ResolveJobIdLocked(request.id(), ""));
  }
  LogQuery query;
  if (request.has_since()) query.since_us = TimeUtil::TimestampToMicroseconds(request.since());
  query.tail = request.tail();
  query.grep = request.grep();
  for (int s : request.streams()) query.streams.insert(static_cast<v1::LogStream>(s));
  if (query.streams.empty()) query.streams = {v1::LOG_STREAM_STDOUT, v1::LOG_STREAM_STDERR};
  const std::string path = JobDir(dir_, id) + "/output.log";
  bool stopped = false;
  auto forward = [&](const v1::LogLine& line) {
    if (!sink(line)) stopped = true;
    return !stopped;
  };
  MLC_ASSIGN_OR_RETURN(int64_t offset, ReadLog(path, query, forward));
  if (!request.follow() || stopped) return Status::Ok();
  query.tail = 0;
  while (!stopped) {
    bool ended = false;
    {
      std::lock_guard lock(mu_);
      MLC_ASSIGN_OR_RETURN(auto record, LoadJob(*db_, id));
      ended = IsFinalJobState(record.job.state());
      if (!ended && record.job.state() != v1::JOB_STATE_PENDING &&
          record.job.state() != v1::JOB_STATE_STARTING) {
        // Keep liveness honest while following.
        if (record.supervisor.pid > 0 && !IsAlive(record.supervisor)) {
          MLC_RETURN_IF_ERROR(RunSchedulingPass(*db_, Runtime()));
        }
      }
    }
    const int64_t before = offset;
    MLC_ASSIGN_OR_RETURN(offset, ReadLogFrom(path, offset, query, forward));
    if (ended || stopped) break;
    if (offset == before && keep_following && !keep_following()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Ok();
}

Result<v1::Job> LocalBackend::CancelJob(const v1::CancelJobRequest& request) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(std::string id, ResolveJobIdLocked(request.id(), ""));
  MLC_ASSIGN_OR_RETURN(auto record, LoadJob(*db_, id));
  int64_t grace =
      request.has_grace_period() ? TimeUtil::DurationToMilliseconds(request.grace_period())
      : record.job.spec().has_termination_grace_period()
          ? TimeUtil::DurationToMilliseconds(record.job.spec().termination_grace_period())
          : kDefaultGraceMs;
  return StopJob(
      *db_, Runtime(), id, StopRequest::kCancel,
      request.reason().empty() ? "cancelled by " + util::CurrentUser() : request.reason(), grace);
}

Result<v1::Job> LocalBackend::PreemptJob(const v1::PreemptJobRequest& request) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(std::string id, ResolveJobIdLocked(request.id(), ""));
  MLC_ASSIGN_OR_RETURN(auto record, LoadJob(*db_, id));
  int64_t grace =
      record.job.spec().has_termination_grace_period()
          ? TimeUtil::DurationToMilliseconds(record.job.spec().termination_grace_period())
          : kDefaultGraceMs;
  return StopJob(
      *db_, Runtime(), id, StopRequest::kPreempt,
      request.reason().empty() ? "preempted by " + util::CurrentUser() : request.reason(), grace);
}

Result<v1::ListFlavorsResponse> LocalBackend::ListFlavors(const v1::ListFlavorsRequest&) {
  v1::ListFlavorsResponse response;
  *response.add_catalogs() = Runtime().flavors;
  return response;
}

Result<v1::ListNodesResponse> LocalBackend::ListNodes(const v1::ListNodesRequest&) {
  v1::ListNodesResponse response;
  v1::Node* node = response.add_nodes();
  *node = Runtime().node;
  // The data cache's contents, which data affinity prefers (the cache is opened only if it
  // exists, so listing nodes never creates one).
  auto options = LocalCacheOptions(dir_);
  if (options.ok() && std::filesystem::exists(options->hot_dir + "/index.db")) {
    MLC_ASSIGN_OR_RETURN(LocalDataService * data, Data());
    MLC_ASSIGN_OR_RETURN(auto digests, data->HotDigests());
    node->clear_cached_dataset_digests();
    for (const auto& d : digests) node->add_cached_dataset_digests(d);
  }
  return response;
}

Result<v1::ListPriorityClassesResponse> LocalBackend::ListPriorityClasses() {
  v1::ListPriorityClassesResponse response;
  for (const auto& c : Runtime().priorities) *response.add_priority_classes() = c;
  return response;
}

Result<v1::GetQuotaUsageResponse> LocalBackend::GetQuotaUsage(
    const v1::GetQuotaUsageRequest& request) {
  std::lock_guard lock(mu_);
  MLC_RETURN_IF_ERROR(RunSchedulingPassIfNeeded(*db_, Runtime()).status());
  MLC_ASSIGN_OR_RETURN(auto read, sqlite::ReadTransaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(auto projects, LoadProjects(*db_));
  // Running jobs are loaded (few); pending ones are summed by the store (10,000 records would cost
  // ~60 ms to load).
  MLC_ASSIGN_OR_RETURN(auto jobs,
                       LoadJobsInStates(*db_, {v1::JOB_STATE_STARTING, v1::JOB_STATE_RUNNING}));
  MLC_ASSIGN_OR_RETURN(auto pending, SumPendingByProjectUser(*db_));
  if (!request.project().empty()) {
    bool known = false;
    for (const auto& p : projects) known = known || p.name() == request.project();
    if (!known) return NotFoundError("project \"" + request.project() + "\" does not exist");
  }
  v1::GetQuotaUsageResponse response;
  const auto now = TimeUtil::MicrosecondsToTimestamp(NowMicros());
  for (const auto& p : projects) {
    bool wanted = request.project().empty() || p.name() == request.project() ||
                  (request.include_sub_projects() && p.parent() == request.project());
    if (!wanted) continue;
    v1::QuotaUsage usage;
    usage.set_project(p.name());
    usage.set_parent(p.parent());
    *usage.mutable_guaranteed() = p.guaranteed();
    *usage.mutable_limit() = p.limit();
    *usage.mutable_time() = now;
    std::map<std::string, v1::UserUsage> users;
    for (const auto& r : jobs) {
      if (r.job.spec().project() != p.name()) continue;
      if (!request.user().empty() && r.job.user() != request.user()) continue;
      CountJobUsage(r.job, /*pending=*/false, &usage, &users);
    }
    for (const auto& s : pending) {
      if (s.project != p.name()) continue;
      if (!request.user().empty() && s.user != request.user()) continue;
      CountPending(s, &usage, &users);
    }
    if (request.per_user()) {
      for (auto& [name, u] : users) *usage.add_users() = std::move(u);
    }
    *response.add_usages() = std::move(usage);
  }
  return response;
}

void AddTo(v1::Resources* total, const v1::Resources& r, int times) {
  total->set_cpu_millis(total->cpu_millis() + r.cpu_millis() * times);
  total->set_memory_bytes(total->memory_bytes() + r.memory_bytes() * times);
  total->set_gpu(total->gpu() + r.gpu() * times);
}

void CountPending(const PendingSum& sum, v1::QuotaUsage* usage,
                  std::map<std::string, v1::UserUsage>* users) {
  v1::Resources r;
  r.set_cpu_millis(sum.cpu_millis);
  r.set_memory_bytes(sum.memory_bytes);
  r.set_gpu(static_cast<int32_t>(sum.gpu));
  const auto jobs = static_cast<int32_t>(sum.jobs);
  AddTo(usage->mutable_pending(), r, 1);
  usage->set_pending_jobs(usage->pending_jobs() + jobs);
  v1::UserUsage& u = (*users)[sum.user];
  u.set_user(sum.user);
  AddTo(u.mutable_pending(), r, 1);
  u.set_pending_jobs(u.pending_jobs() + jobs);
}

void CountJobUsage(const v1::Job& job, bool pending, v1::QuotaUsage* usage,
                   std::map<std::string, v1::UserUsage>* users) {
  const int replicas = std::max(1, job.spec().replicas());
  if (pending) {
    const v1::Resources& r = job.resources();
    CountPending({job.spec().project(), job.user(), 1, r.cpu_millis() * replicas,
                  r.memory_bytes() * replicas, int64_t{r.gpu()} * replicas},
                 usage, users);
    return;
  }
  v1::UserUsage& u = (*users)[job.user()];
  u.set_user(job.user());
  AddTo(usage->mutable_used(), job.resources(), replicas);
  if (job.spec().preemptible()) AddTo(usage->mutable_used_preemptible(), job.resources(), replicas);
  usage->set_running_jobs(usage->running_jobs() + 1);
  AddTo(u.mutable_used(), job.resources(), replicas);
  u.set_running_jobs(u.running_jobs() + 1);
}

}  // namespace mlcore::local
