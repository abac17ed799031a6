// JobService's watch and attach calls on the local backend: WatchJobs polls the store for new
// transitions; ExecJob and PortForward act on this machine, where the job runs.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "local/job_attach.h"
#include "local/job_store.h"
#include "local/local_backend.h"
#include "local/supervisor.h"
#include "mlcore/jobs.h"
#include "util/fs.h"
#include "util/secrets.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

// How often a watch looks at the store for transitions made by this or other processes.
constexpr auto kWatchPoll = std::chrono::milliseconds(50);
// How often a watch runs a scheduling pass (when one is due), so lost supervisors are noticed
// even when nothing else reads the store.
constexpr auto kWatchReconcile = std::chrono::seconds(1);
// New jobs are looked for from this long before the newest one seen: a job is inserted a little
// after its creation time is taken, by another process maybe.
constexpr int64_t kCreateSlackUs = 5'000'000;

std::vector<v1::JobState> ActiveStates() {
  std::vector<v1::JobState> states;
  const auto* type = v1::JobState_descriptor();
  for (int i = 0; i < type->value_count(); ++i) {
    auto state = static_cast<v1::JobState>(type->value(i)->number());
    if (state != v1::JOB_STATE_UNSPECIFIED && !IsFinalJobState(state)) states.push_back(state);
  }
  return states;
}

// The environment of the job's running command (its process group leader), when it can be
// read and really is this job's: exactly what the job sees, secrets and input paths included.
std::vector<std::string> ProcessEnvironment(pid_t pid, const std::string& job_id) {
  if (pid <= 0) return {};
  auto text = util::ReadFile("/proc/" + std::to_string(pid) + "/environ");
  if (!text.ok()) return {};
  std::vector<std::string> env;
  bool ours = false;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\0', start);
    if (end == std::string::npos) end = text->size();
    std::string kv = text->substr(start, end - start);
    if (kv == "MLC_JOB_ID=" + job_id) ours = true;
    if (!kv.empty()) env.push_back(std::move(kv));
    start = end + 1;
  }
  return ours ? env : std::vector<std::string>{};
}

// The job's environment rebuilt from its record (when its process cannot be read).
std::vector<std::string> RecordedEnvironment(const v1::Job& job, const std::string& state_dir) {
  std::map<std::string, std::string> env = JobEnvironment(job, state_dir);
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

Result<JobRecord> LocalBackend::AttachableJob(const std::string& id, int replica) {
  v1::GetJobRequest get;
  get.set_id(id);
  get.set_view(v1::JOB_VIEW_BASIC);
  MLC_ASSIGN_OR_RETURN(v1::Job job, GetJob(get));  // reconciles a vanished supervisor first
  const std::string& name = job.spec().name();
  if (job.state() != v1::JOB_STATE_RUNNING) {
    return FailedPreconditionError("job " + name + " is " + JobStateName(job.state()) +
                                   ", not RUNNING; exec and port-forward need a running job");
  }
  if (job.message().rfind("cancelling", 0) == 0 || job.message().rfind("preempting", 0) == 0) {
    return FailedPreconditionError("job " + name + " is being stopped (" + job.message() +
                                   "); exec and port-forward need a running job");
  }
  const int replicas = std::max(1, job.spec().replicas());
  if (replica < 0 || replica >= replicas) {
    return InvalidArgumentError("job " + name + " has " + std::to_string(replicas) +
                                " replica(s); replica " + std::to_string(replica) +
                                " is out of range (0-based)");
  }
  std::lock_guard lock(mu_);
  return LoadJob(*db_, job.id());
}

Result<std::unique_ptr<ExecSession>> LocalBackend::ExecJob(const v1::ExecJobRequest& request) {
  MLC_ASSIGN_OR_RETURN(JobRecord record, AttachableJob(request.id(), request.replica()));
  const v1::Job& job = record.job;
  const std::string job_dir = dir_ + "/jobs/" + job.id();
  std::vector<std::string> env = ProcessEnvironment(record.pgid, job.id());
  if (env.empty()) {
    env = RecordedEnvironment(job, dir_);
    auto secrets = util::ReadFile(job_dir + "/secrets.env");
    if (secrets.ok()) {
      for (const auto& [name, value] : util::ParseSecretsFile(*secrets)) {
        for (const auto& ref : job.spec().secrets()) {
          if (ref.name() == name)
            env.push_back((ref.key().empty() ? name : ref.key()) + "=" + value);
        }
      }
    }
  }
  const std::string workdir =
      job.spec().snapshot_working_dir() ? job_dir + "/workdir" : job.spec().working_dir();
  std::vector<std::string> argv(request.command().begin(), request.command().end());
  MLC_ASSIGN_OR_RETURN(std::unique_ptr<ExecSession> session,
                       StartExec(argv, env, workdir, request.tty()));
  if (!request.stdin_data().empty()) MLC_RETURN_IF_ERROR(session->Write(request.stdin_data()));
  if (request.close_stdin()) MLC_RETURN_IF_ERROR(session->CloseStdin());
  return session;
}

Result<std::unique_ptr<PortConnection>> LocalBackend::PortForward(
    const v1::PortForwardRequest& request) {
  MLC_ASSIGN_OR_RETURN(JobRecord record, AttachableJob(request.id(), request.replica()));
  MLC_ASSIGN_OR_RETURN(std::unique_ptr<PortConnection> connection,
                       ConnectLoopback(request.port(), "port " + std::to_string(request.port()) +
                                                           " of job " + record.job.spec().name()));
  if (!request.data().empty()) MLC_RETURN_IF_ERROR(connection->Write(request.data()));
  return connection;
}

Status LocalBackend::WatchJobs(const v1::WatchJobsRequest& request,
                               const std::function<bool(const v1::WatchJobsResponse&)>& sink,
                               const std::function<bool()>& keep_watching) {
  const std::string& project = request.project();
  if (!project.empty()) MLC_RETURN_IF_ERROR(CheckProjectExists(project));
  const std::set<std::string> ids(request.ids().begin(), request.ids().end());
  const int64_t since_us =
      request.has_since() ? TimeUtil::TimestampToMicroseconds(request.since()) : INT64_MAX;
  const std::vector<v1::JobState> active_states = ActiveStates();

  std::map<std::string, int> seen;  // job id -> its events already considered
  std::set<std::string> active;     // jobs last seen in a non-final state
  int64_t newest_create_us = 0;     // of the newest job seen
  bool first = true;

  // The jobs to look at in one poll: the listed ones, or the active, the new and those that
  // were active (they may have ended since).
  auto load = [&]() -> Result<std::vector<JobRecord>> {
    std::lock_guard lock(mu_);
    std::vector<JobRecord> out;
    if (!ids.empty()) {
      for (const std::string& id : ids) {
        MLC_ASSIGN_OR_RETURN(JobRecord record, LoadJob(*db_, id));
        if (!project.empty() && record.job.spec().project() != project) {
          return NotFoundError("job " + id + " is not in project " + project);
        }
        out.push_back(std::move(record));
      }
      return out;
    }
    if (first) return LoadJobsInStates(*db_, {}, project);
    MLC_ASSIGN_OR_RETURN(out, LoadJobsInStates(*db_, active_states, project));
    MLC_ASSIGN_OR_RETURN(auto created,
                         LoadJobsCreatedSince(*db_, newest_create_us - kCreateSlackUs, project));
    std::set<std::string> have;
    for (const JobRecord& r : out) have.insert(r.job.id());
    for (JobRecord& r : created) {
      if (have.insert(r.job.id()).second) out.push_back(std::move(r));
    }
    for (const std::string& id : active) {
      if (have.contains(id)) continue;
      auto record = LoadJob(*db_, id);
      if (record.ok()) out.push_back(std::move(*record));
    }
    return out;
  };

  auto last_reconcile = std::chrono::steady_clock::now();
  while (true) {
    MLC_ASSIGN_OR_RETURN(std::vector<JobRecord> records, load());
    std::vector<v1::WatchJobsResponse> batch;
    for (JobRecord& record : records) {
      v1::Job& job = record.job;
      const int64_t created = TimeUtil::TimestampToMicroseconds(job.create_time());
      newest_create_us = std::max(newest_create_us, created);
      auto it = seen.find(job.id());
      const bool known = it != seen.end();
      int from = known ? it->second : 0;
      if (from > job.events_size()) from = 0;  // the record was rewritten: start over
      for (int i = from; i < job.events_size(); ++i) {
        const v1::JobEvent& event = job.events(i);
        // Before the watch began, only what `since` asks to replay.
        if (first) {
          if (TimeUtil::TimestampToMicroseconds(event.time()) < since_us) continue;
        }
        v1::WatchJobsResponse& out = batch.emplace_back();
        out.set_job_id(job.id());
        *out.mutable_event() = event;
      }
      seen[job.id()] = job.events_size();
      if (IsFinalJobState(job.state())) {
        active.erase(job.id());
      } else {
        active.insert(job.id());
      }
      job.clear_events();  // BASIC view
      for (size_t i = batch.size(); i-- > 0 && batch[i].job_id() == job.id();) {
        *batch[i].mutable_job() = job;
      }
    }
    std::stable_sort(batch.begin(), batch.end(), [](const auto& a, const auto& b) {
      return TimeUtil::TimestampToMicroseconds(a.event().time()) <
             TimeUtil::TimestampToMicroseconds(b.event().time());
    });
    for (const v1::WatchJobsResponse& out : batch) {
      if (!sink(out)) return Status::Ok();
    }
    first = false;
    if (keep_watching && !keep_watching()) return Status::Ok();
    std::this_thread::sleep_for(kWatchPoll);
    if (std::chrono::steady_clock::now() - last_reconcile > kWatchReconcile) {
      last_reconcile = std::chrono::steady_clock::now();
      std::lock_guard lock(mu_);
      MLC_RETURN_IF_ERROR(RunSchedulingPassIfNeeded(*db_, Runtime()).status());
    }
  }
}

}  // namespace mlcore::local
