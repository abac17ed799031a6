#include "local/job_runtime.h"

#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <optional>
#include <sstream>
#include <sys/wait.h>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "local/local_backend.h"
#include "local/process.h"
#include "mlcore/jobs.h"
#include "mlcore/resources.h"
#include "scheduler/flavors.h"
#include "scheduler/node_detect.h"
#include "scheduler/scheduler.h"
#include "util/fs.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

// A STARTING job whose supervisor has not claimed it within this time is LOST.
constexpr int64_t kSupervisorStartTimeoutUs = 60LL * 1000 * 1000;

struct PendingSignal {
  ProcessIdentity supervisor;
};

// Ends a job whose supervisor is gone: LOST, or back to PENDING when the policy retries it.
void MarkLost(JobRecord& r, const std::string& why, int64_t now) {
  if (r.pgid > 0 && r.supervisor.boot_id == BootId()) {
    ::killpg(r.pgid, SIGKILL);  // leftovers of the job must not run unsupervised
  }
  const auto& retry = r.job.spec().retry();
  if (retry.retry_lost() && r.job.restarts() < retry.max_restarts()) {
    Transition(&r.job, v1::JOB_STATE_LOST, why, now);
    r.job.set_restarts(r.job.restarts() + 1);
    Transition(&r.job, v1::JOB_STATE_PENDING,
               "requeued after loss (restart " + std::to_string(r.job.restarts()) + " of " +
                   std::to_string(retry.max_restarts()) + ")",
               now);
  } else {
    Transition(&r.job, v1::JOB_STATE_LOST, why, now);
  }
  r.supervisor = {};
  r.pgid = 0;
  r.stop = StopRequest::kNone;
}

// Why an active (STARTING or RUNNING) job is lost: its supervisor never started or is gone.
// nullopt while it is supervised.
std::optional<std::string> WhyLost(const JobRecord& r, int64_t now) {
  if (r.supervisor.pid == 0) {
    int64_t waited_us = 0;
    if (r.supervisor.start_ticks > 0 && r.supervisor.boot_id == BootId()) {
      // Measured in ticks since boot: a supervisor whose wall clock jumped ahead (or a step of
      // the clock while the launch was under way) does not take a fresh launch for a stale one.
      const uint64_t ticks = TicksSinceBoot();
      waited_us =
          ticks > r.supervisor.start_ticks ? TicksToMicros(ticks - r.supervisor.start_ticks) : 0;
    } else if (r.supervisor.start_ticks > 0) {
      return std::string("the machine restarted before its supervisor started");
    } else {
      // A launch recorded by an older version: only its wall time is known.
      waited_us = r.job.events_size() > 0
                      ? now - TimeUtil::TimestampToMicroseconds(r.job.events().rbegin()->time())
                      : 0;
    }
    if (waited_us > kSupervisorStartTimeoutUs) {
      return "its supervisor never started (see " + r.job.id() + "/supervisor.log)";
    }
    return std::nullopt;
  }
  if (IsAlive(r.supervisor)) return std::nullopt;
  return r.supervisor.boot_id != BootId()
             ? "the machine restarted while the job ran"
             : "its supervisor (pid " + std::to_string(r.supervisor.pid) +
                   ") vanished without recording an exit";
}

Status ReconcileSupervisors(sqlite::Db& db, std::vector<JobRecord>& active, int64_t now) {
  for (auto& r : active) {
    std::optional<std::string> why = WhyLost(r, now);
    if (!why) continue;
    MarkLost(r, *why, now);
    MLC_RETURN_IF_ERROR(UpdateJob(db, r));
  }
  return Status::Ok();
}

// The states of jobs that have a supervisor (or are about to).
const std::vector<v1::JobState>& ActiveStates() {
  static const std::vector<v1::JobState> states = {v1::JOB_STATE_STARTING, v1::JOB_STATE_RUNNING};
  return states;
}

// Starts one job's supervisor, detached: by fork in the pass loop, else by exec.
Result<pid_t> StartSupervisor(const RuntimeContext& ctx, const std::string& job_id) {
  const std::string dir = JobDir(ctx.state_dir, job_id);
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(dir, "job directory"));
  if (ctx.run_supervisor) {
    return ForkDetached([&ctx, &job_id] { return ctx.run_supervisor(job_id); },
                        dir + "/supervisor.log");
  }
  MLC_ASSIGN_OR_RETURN(std::string binary, SupervisorBinary());
  return SpawnDetached({binary, "--state", ctx.state_dir, "--job", job_id},
                       dir + "/supervisor.log");
}

// The job cannot run here: record why, so it never sits in STARTING.
Status RecordLaunchFailure(sqlite::Db& db, const std::string& job_id, const Status& why) {
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(db));
  MLC_ASSIGN_OR_RETURN(auto r, LoadJob(db, job_id));
  if (r.job.state() == v1::JOB_STATE_STARTING && r.supervisor.pid == 0) {
    Transition(&r.job, v1::JOB_STATE_FAILED, "cannot start the job's supervisor: " + why.message(),
               NowMicros());
    MLC_RETURN_IF_ERROR(UpdateJob(db, r));
  }
  return txn.Commit();
}

// Whether the pass loop registered in the store is alive (read within the caller's transaction).
Result<bool> PassLoopAlive(sqlite::Db& db) {
  MLC_ASSIGN_OR_RETURN(std::string kicker, GetMetaText(db, kMetaKicker));
  return IsAlive(ParseIdentity(kicker));
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace

RuntimeContext DefaultRuntimeContext(const std::string& state_dir) {
  RuntimeContext ctx;
  ctx.state_dir = state_dir;
  NodeDetectOptions options;
  // MLC_NODE_CAPACITY ("cpu=4,memory=8Gi,gpu=0") replaces detected amounts: for sharing a
  // machine with other work, and for tests.
  std::string capacity = util::GetEnv("MLC_NODE_CAPACITY");
  if (!capacity.empty()) {
    auto parsed = ParseResources(capacity);
    if (parsed.ok()) options.overrides = *parsed;
  }
  auto node = DetectLocalNode(options);
  if (node.ok()) {
    ctx.node = *node;
  } else {
    ctx.node.set_name("local");
    ctx.node.mutable_capacity()->set_cpu_millis(1000 * sysconf(_SC_NPROCESSORS_ONLN));
  }
  ctx.flavors = DefaultFlavorCatalog("local");
  ctx.priorities = DefaultPriorityClasses();
  return ctx;
}

std::string JobDir(const std::string& state_dir, const std::string& job_id) {
  return state_dir + "/jobs/" + job_id;
}

v1::SchedulableJob ToSchedulable(const v1::Job& job, const std::string& node_name) {
  v1::SchedulableJob s;
  s.set_id(job.id());
  s.set_project(job.spec().project());
  s.set_user(job.user());
  *s.mutable_resources() = job.resources();
  s.set_replicas(std::max(1, job.spec().replicas()));
  s.set_priority(job.priority());
  s.set_preemptible(job.spec().preemptible());
  s.set_image(job.spec().image());
  for (const auto& d : job.spec().input_datasets()) {
    if (!d.digest().empty()) s.add_dataset_digests(d.digest());
  }
  *s.mutable_submit_time() = job.create_time();
  if (job.has_deadline_time()) *s.mutable_deadline_time() = job.deadline_time();
  if (job.has_start_time()) *s.mutable_start_time() = job.start_time();
  if (job.state() == v1::JOB_STATE_RUNNING || job.state() == v1::JOB_STATE_STARTING) {
    for (int i = 0; i < s.replicas(); ++i) s.add_nodes(node_name);
  }
  return s;
}

Result<std::vector<v1::Project>> LoadProjects(sqlite::Db& db) {
  MLC_ASSIGN_OR_RETURN(auto select, db.Prepare("SELECT body FROM projects ORDER BY name"));
  std::vector<v1::Project> out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    v1::Project p;
    if (!p.ParseFromString(select.ColumnBlob(0))) {
      return DataLossError("store " + db.path() + ": a project record is corrupt");
    }
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<std::string>> DecideSchedulingPass(sqlite::Db& db, const RuntimeContext& ctx) {
  std::vector<std::string> to_launch;
  std::vector<ProcessIdentity> to_signal;
  {
    MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(db));
    const int64_t now = NowMicros();
    MLC_RETURN_IF_ERROR(SetMetaInt(db, kMetaDirty, 0));
    MLC_ASSIGN_OR_RETURN(std::string queue, GetMetaText(db, kMetaLaunchQueue));
    bool hand_to_loop = false;
    if (!ctx.run_supervisor) {
      MLC_ASSIGN_OR_RETURN(hand_to_loop, PassLoopAlive(db));
    }
    if (!hand_to_loop && !queue.empty()) {
      // The pass loop starts what other processes' passes queued for it; with no loop alive any
      // more, whoever passes next does.
      to_launch = SplitLines(queue);
      queue.clear();
      MLC_RETURN_IF_ERROR(SetMetaText(db, kMetaLaunchQueue, ""));
    }
    // Started jobs go to the running loop's queue. The dirty mark keeps the loop up until it has
    // started them: this pass cleared the mark above, so it sets it again while the queue is not
    // empty.
    auto hand_over = [&]() -> Status {
      if (!hand_to_loop) return Status::Ok();
      if (!to_launch.empty()) {
        for (const auto& id : to_launch) queue += id + "\n";
        to_launch.clear();
        MLC_RETURN_IF_ERROR(SetMetaText(db, kMetaLaunchQueue, queue));
      }
      return queue.empty() ? Status::Ok() : SetMetaInt(db, kMetaDirty, 1);
    };
    // Stamped when the pass's work is done (just before commit), with its duration, so batching
    // adapts to how long passes take.
    auto stamp = [&]() -> Status {
      const int64_t end = NowMicros();
      MLC_RETURN_IF_ERROR(SetMetaInt(db, kMetaLastPassUs, end));
      return SetMetaInt(db, kMetaPassDurationUs, end - now);
    };
    MLC_ASSIGN_OR_RETURN(auto active, LoadJobsInStates(db, ActiveStates()));
    MLC_RETURN_IF_ERROR(ReconcileSupervisors(db, active, now));
    MLC_ASSIGN_OR_RETURN(auto expired, ExpiredPendingJobs(db, now));
    for (const auto& id : expired) {
      MLC_ASSIGN_OR_RETURN(auto r, LoadJob(db, id));
      Transition(&r.job, v1::JOB_STATE_CANCELLED,
                 "ttl of " + FormatDurationText(r.job.spec().ttl()) + " expired while pending" +
                     (r.job.waiting_reason().empty() ? "" : " (" + r.job.waiting_reason() + ")"),
                 now);
      MLC_RETURN_IF_ERROR(UpdateJob(db, r));
    }
    MLC_ASSIGN_OR_RETURN(auto pending, LoadPendingRows(db, now));
    if (pending.empty()) {
      MLC_RETURN_IF_ERROR(hand_over());
      MLC_RETURN_IF_ERROR(stamp());
      MLC_RETURN_IF_ERROR(txn.Commit());
      return to_launch;
    }

    v1::SchedulingState state;
    *state.mutable_time() = TimeUtil::MicrosecondsToTimestamp(now);
    *state.add_nodes() = ctx.node;
    MLC_ASSIGN_OR_RETURN(auto projects, LoadProjects(db));
    for (auto& p : projects) *state.add_projects() = std::move(p);
    std::map<std::string, JobRecord*> running_by_id;
    for (auto& r : active) {
      if (IsFinalJobState(r.job.state()) || r.job.state() == v1::JOB_STATE_PENDING) continue;
      *state.add_running() = ToSchedulable(r.job, ctx.node.name());
      running_by_id[r.job.id()] = &r;
    }
    std::map<std::string, const PendingRow*> pending_by_id;
    for (const auto& row : pending) {
      *state.add_pending() = row.job;
      pending_by_id[row.job.id()] = &row;
    }
    MLC_ASSIGN_OR_RETURN(auto decisions, Schedule(state, ctx.scheduler));
    for (const auto& d : decisions) {
      if (auto it = pending_by_id.find(d.job_id()); it != pending_by_id.end()) {
        const bool start = d.has_start();
        if (!start && (!d.has_wait() || it->second->waiting_reason == d.wait().reason())) continue;
        // Only jobs whose state or reason changes are loaded and rewritten.
        MLC_ASSIGN_OR_RETURN(auto r, LoadJob(db, d.job_id()));
        if (start) {
          r.job.clear_nodes();
          for (const auto& n : d.start().nodes()) r.job.add_nodes(n);
          Transition(&r.job, v1::JOB_STATE_STARTING, "scheduled on " + ctx.node.name(), now);
          r.supervisor = {};
          r.supervisor.start_ticks = TicksSinceBoot();
          r.supervisor.boot_id = BootId();
          r.stop = StopRequest::kNone;
          to_launch.push_back(r.job.id());
        } else {
          r.job.set_waiting_reason(d.wait().reason());
        }
        MLC_RETURN_IF_ERROR(UpdateJob(db, r));
      } else if (auto run = running_by_id.find(d.job_id());
                 run != running_by_id.end() && d.has_preempt()) {
        JobRecord& r = *run->second;
        if (r.stop != StopRequest::kNone) continue;
        r.stop = StopRequest::kPreempt;
        r.grace_ms = r.job.spec().has_termination_grace_period()
                         ? TimeUtil::DurationToMilliseconds(r.job.spec().termination_grace_period())
                         : kDefaultGraceMs;
        r.job.set_message("preempting: " + d.preempt().reason());
        MLC_RETURN_IF_ERROR(UpdateJob(db, r));
        if (r.supervisor.pid > 0) to_signal.push_back(r.supervisor);
      }
    }
    MLC_RETURN_IF_ERROR(hand_over());
    MLC_RETURN_IF_ERROR(stamp());
    MLC_RETURN_IF_ERROR(txn.Commit());
  }
  for (const auto& s : to_signal) {
    if (IsAlive(s)) ::kill(s.pid, SIGTERM);
  }
  return to_launch;
}

Status LaunchSupervisors(const std::function<Result<sqlite::Db*>()>& db, const RuntimeContext& ctx,
                         const std::vector<std::string>& job_ids) {
  std::vector<std::pair<std::string, Status>> failed;
  for (const auto& id : job_ids) {
    Result<pid_t> pid = StartSupervisor(ctx, id);
    if (!pid.ok()) failed.emplace_back(id, pid.status());
  }
  if (failed.empty()) return Status::Ok();
  MLC_ASSIGN_OR_RETURN(sqlite::Db * store, db());
  for (const auto& [id, why] : failed) MLC_RETURN_IF_ERROR(RecordLaunchFailure(*store, id, why));
  return failed.front().second;
}

Status RunSchedulingPass(sqlite::Db& db, const RuntimeContext& ctx) {
  MLC_ASSIGN_OR_RETURN(auto launches, DecideSchedulingPass(db, ctx));
  return LaunchSupervisors([&db]() -> Result<sqlite::Db*> { return &db; }, ctx, launches);
}

Result<bool> SchedulingPassNeeded(sqlite::Db& db) {
  MLC_ASSIGN_OR_RETURN(auto read, sqlite::ReadTransaction::Begin(db));
  const int64_t now = NowMicros();
  MLC_ASSIGN_OR_RETURN(int64_t dirty, GetMetaInt(db, kMetaDirty));
  if (dirty != 0) return true;
  MLC_ASSIGN_OR_RETURN(std::string queue, GetMetaText(db, kMetaLaunchQueue));
  if (!queue.empty()) {
    // Jobs left to a pass loop that is gone: the next pass starts them.
    MLC_ASSIGN_OR_RETURN(bool loop_alive, PassLoopAlive(db));
    if (!loop_alive) return true;
  }
  MLC_ASSIGN_OR_RETURN(auto expired, ExpiredPendingJobs(db, now));
  if (!expired.empty()) return true;
  MLC_ASSIGN_OR_RETURN(auto active, LoadJobsInStates(db, ActiveStates()));
  for (const auto& r : active) {
    if (WhyLost(r, now)) return true;
  }
  // Pending jobs: a pass is a function of the store and the time. Every change that can start a
  // job (a submit, a job's end, a cancel) marks the store dirty or runs a pass itself, so with the
  // mark clear a pass only changes something through time: a job whose retry backoff ended since
  // the last pass began, or a waiting reason's "in 2h10m". Readers therefore rerun the pass at most
  // every kReadPassMaxAgeUs while nothing changes (10,000 pending jobs: ~60 ms a pass).
  MLC_ASSIGN_OR_RETURN(bool pending, AnyPendingDue(db, now));
  if (!pending) return false;
  MLC_ASSIGN_OR_RETURN(int64_t last, GetMetaInt(db, kMetaLastPassUs));
  if (now - last >= kReadPassMaxAgeUs) return true;
  MLC_ASSIGN_OR_RETURN(int64_t duration, GetMetaInt(db, kMetaPassDurationUs));
  return AnyPendingDueBetween(db, last - duration, now);
}

Result<bool> RunSchedulingPassIfNeeded(sqlite::Db& db, const RuntimeContext& ctx) {
  MLC_ASSIGN_OR_RETURN(bool needed, SchedulingPassNeeded(db));
  if (!needed) return false;
  MLC_RETURN_IF_ERROR(RunSchedulingPass(db, ctx));
  return true;
}

Status RequestSchedulingPass(sqlite::Db& db, const RuntimeContext& ctx) {
  bool run_now = false;
  bool need_kicker = false;
  {
    MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(db));
    MLC_ASSIGN_OR_RETURN(int64_t last, GetMetaInt(db, kMetaLastPassUs));
    MLC_ASSIGN_OR_RETURN(int64_t duration, GetMetaInt(db, kMetaPassDurationUs));
    MLC_ASSIGN_OR_RETURN(const bool loop_running, PassLoopAlive(db));
    if (!loop_running && NowMicros() - last >= PassWindowUs(duration)) {
      run_now = true;
    } else {
      MLC_RETURN_IF_ERROR(SetMetaInt(db, kMetaDirty, 1));
      if (!loop_running) {
        // Start one pass loop per burst: a loop spawned moments ago may not have registered yet.
        MLC_ASSIGN_OR_RETURN(int64_t spawned, GetMetaInt(db, kMetaKickerSpawnedUs));
        const int64_t now = NowMicros();
        if (now - spawned > kKickerStartTimeoutUs) {
          need_kicker = true;
          MLC_RETURN_IF_ERROR(SetMetaInt(db, kMetaKickerSpawnedUs, now));
        }
      }
    }
    MLC_RETURN_IF_ERROR(txn.Commit());
  }
  if (run_now) return RunSchedulingPass(db, ctx);
  if (!need_kicker) return Status::Ok();
  MLC_ASSIGN_OR_RETURN(std::string binary, SupervisorBinary());
  return SpawnDetached({binary, "--state", ctx.state_dir, "--schedule"},
                       ctx.state_dir + "/scheduler.log")
      .status();
}

int RunPassLoop(const RuntimeContext& ctx) {
  const std::string path = ctx.state_dir + "/mlcore.db";
  std::unique_ptr<sqlite::Db> db;
  auto open = [&]() -> Result<sqlite::Db*> {
    if (!db) {
      MLC_ASSIGN_OR_RETURN(db, sqlite::Db::Open(path, StoreMigrations()));
    }
    return db.get();
  };
  if (auto opened = open(); !opened.ok()) {
    std::cerr << "cannot open the store: " << opened.status().ToString() << std::endl;
    return 2;
  }
  const std::string self = FormatIdentity(IdentityOf(getpid()));
  {
    auto txn = sqlite::Transaction::Begin(*db);
    if (!txn.ok()) return 2;
    auto other = PassLoopAlive(*db);
    if (other.ok() && *other) return 0;  // another one is at work
    if (!SetMetaText(*db, kMetaKicker, self).ok() || !txn->Commit().ok()) return 2;
  }
  int64_t duration = 0;
  while (true) {
    std::this_thread::sleep_for(std::chrono::microseconds(PassWindowUs(duration)));
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }  // supervisors this loop forked that have ended
    auto store = open();
    if (!store.ok()) continue;
    auto txn = sqlite::Transaction::Begin(**store);
    if (!txn.ok()) continue;
    auto dirty = GetMetaInt(**store, kMetaDirty);
    auto queue = GetMetaText(**store, kMetaLaunchQueue);
    if (dirty.ok() && *dirty == 0 && queue.ok() && queue->empty()) {
      // Nothing arrived since the last pass: hand over (a later submit starts a new loop).
      if (SetMetaText(**store, kMetaKicker, "").ok() && txn->Commit().ok()) return 0;
      continue;
    }
    duration = GetMetaInt(**store, kMetaPassDurationUs).value_or(0);
    if (!txn->Commit().ok()) continue;
    auto launches = DecideSchedulingPass(**store, ctx);
    if (!launches.ok()) {
      std::cerr << "scheduling pass failed: " << launches.status().ToString() << std::endl;
      continue;
    }
    if (launches->empty()) continue;
    db.reset();  // no SQLite connection may cross a fork
    Status launched = LaunchSupervisors(open, ctx, *launches);
    if (!launched.ok())
      std::cerr << "cannot start a supervisor: " << launched.ToString() << std::endl;
  }
}

std::string FormatIdentity(const ProcessIdentity& id) {
  return std::to_string(id.pid) + " " + std::to_string(id.start_ticks) + " " + id.boot_id;
}

ProcessIdentity ParseIdentity(const std::string& text) {
  ProcessIdentity id;
  std::istringstream in(text);
  in >> id.pid >> id.start_ticks >> id.boot_id;
  if (!in) return {};
  return id;
}

Result<v1::Job> StopJob(sqlite::Db& db, const RuntimeContext& ctx, const std::string& job_id,
                        StopRequest kind, const std::string& reason, int64_t grace_ms) {
  ProcessIdentity signal_target;
  v1::Job result;
  bool pass_needed = false;
  {
    MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(db));
    MLC_ASSIGN_OR_RETURN(auto r, LoadJob(db, job_id));
    const int64_t now = NowMicros();
    const std::string verb = kind == StopRequest::kCancel ? "cancel" : "preempt";
    if (IsFinalJobState(r.job.state())) {
      return FailedPreconditionError("cannot " + verb + " job " + r.job.spec().name() + " (" +
                                     job_id + "): it already ended " +
                                     v1::JobState_Name(r.job.state()));
    }
    if (kind == StopRequest::kPreempt) {
      if (!r.job.spec().preemptible()) {
        return FailedPreconditionError("job " + r.job.spec().name() +
                                       " is not preemptible; cancel it instead, or submit it with "
                                       "preemptible: true");
      }
      if (r.job.state() == v1::JOB_STATE_PENDING) {
        return FailedPreconditionError("job " + r.job.spec().name() +
                                       " is not running, so there is nothing to preempt");
      }
    }
    if (r.job.state() == v1::JOB_STATE_PENDING) {
      Transition(&r.job, v1::JOB_STATE_CANCELLED, reason.empty() ? "cancelled by user" : reason,
                 now);
    } else if (r.supervisor.pid == 0 || !IsAlive(r.supervisor)) {
      if (r.supervisor.pid == 0 && r.job.state() == v1::JOB_STATE_STARTING) {
        // Not claimed yet: the supervisor will see the stop request when it starts.
        r.stop = kind;
        r.grace_ms = grace_ms;
        r.job.set_message((kind == StopRequest::kCancel ? "cancelling: " : "preempting: ") +
                          reason);
      } else {
        MarkLost(r, "its supervisor vanished before it could be stopped", now);
        pass_needed = true;
      }
    } else {
      r.stop = kind;
      r.grace_ms = grace_ms;
      r.job.set_message((kind == StopRequest::kCancel ? "cancelling: " : "preempting: ") +
                        (reason.empty() ? std::string("requested by user") : reason));
      signal_target = r.supervisor;
    }
    MLC_RETURN_IF_ERROR(UpdateJob(db, r));
    MLC_RETURN_IF_ERROR(txn.Commit());
    result = r.job;
    pass_needed = pass_needed || r.job.state() == v1::JOB_STATE_CANCELLED;
  }
  if (signal_target.pid > 0 && IsAlive(signal_target)) ::kill(signal_target.pid, SIGTERM);
  if (pass_needed) MLC_RETURN_IF_ERROR(RunSchedulingPass(db, ctx));
  return result;
}

}  // namespace mlcore::local
