#include "local/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "local/job_run_tracker.h"
#include "local/job_runtime.h"
#include "local/job_store.h"
#include "local/local_backend.h"
#include "local/local_data.h"
#include "local/log_file.h"
#include "local/process.h"
#include "local/webhook_deliverer.h"
#include "mlcore/jobs.h"
#include "pipelines/pipeline_engine.h"
#include "util/fs.h"
#include "util/secrets.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int64_t kDefaultLogLimit = 1LL << 30;  // 1 GiB per job unless MLC_JOB_LOG_LIMIT says
constexpr int kDrainAfterExitMs = 1000;          // read leftover output this long after exit

void Log(const std::string& message) {
  std::cerr << FormatLogTime(NowMicros()) << " mlc-supervisor[" << getpid() << "]: " << message
            << std::endl;
}

// Resolves the job's secrets: ENV ones were captured at submit into a 0600 file of the job's
// directory; FILE ones are read now from the owner-only file the reference names.
Result<std::map<std::string, std::string>> ResolveSecrets(const v1::Job& job,
                                                          const std::string& job_dir,
                                                          const std::string& working_dir) {
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> captured;
  auto captured_text = util::ReadFile(job_dir + "/secrets.env");
  if (captured_text.ok()) captured = util::ParseSecretsFile(*captured_text);
  for (const auto& ref : job.spec().secrets()) {
    std::string key = ref.key().empty() ? ref.name() : ref.key();
    if (ref.source() == v1::SECRET_SOURCE_ENV) {
      auto it = captured.find(ref.name());
      if (it == captured.end()) {
        return FailedPreconditionError("secret " + ref.name() + ": environment variable " + key +
                                       " was not set when the job was submitted");
      }
      values[ref.name()] = it->second;
    } else if (ref.source() == v1::SECRET_SOURCE_FILE) {
      std::string path = ref.path();
      if (!path.empty() && path[0] != '/') path = working_dir + "/" + path;
      MLC_ASSIGN_OR_RETURN(values[ref.name()], util::ReadSecretFromFile(ref.name(), path, key));
    }
  }
  return values;
}

struct Outcome {
  v1::JobState state = v1::JOB_STATE_FAILED;
  std::string reason;
  std::optional<int> exit_code;
  std::optional<int> signal;
  bool retryable = false;  // counts against the retry policy
};

// Runs the command and waits for it, handling stop requests and the deadline.
// What the job's process needs between clone and exec.
struct JobChildArgs {
  int out_fd;
  int err_fd;
  int exec_fd;  // carries a failure ('C' chdir, 'E' exec, then errno) back; closed by exec
  const sigset_t* handled;
  char* const* argv;
  char* const* env;
  const char* working_dir;
};

// The job, started by clone(CLONE_VM | CLONE_VFORK): its own process group, killed if the
// supervisor dies, signals unblocked. Only system calls here: it runs on the supervisor's memory.
int StartJobChild(void* raw) {
  const auto* a = static_cast<const JobChildArgs*>(raw);
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigprocmask(SIG_UNBLOCK, a->handled, nullptr);
  dup2(a->out_fd, 1);
  dup2(a->err_fd, 2);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) dup2(null_fd, 0);
  char tag = 'C';
  if (chdir(a->working_dir) == 0) {
    execvpe(a->argv[0], a->argv, a->env);
    tag = 'E';
  }
  int err = errno;
  ssize_t ignored = ::write(a->exec_fd, &tag, 1);
  ignored = ::write(a->exec_fd, &err, sizeof err);
  (void)ignored;
  _exit(127);
}

class Execution {
 public:
  Execution(sqlite::Db& db, JobRecord& record, LogWriter& log, const std::string& state_dir)
      : db_(db), record_(record), log_(log), state_dir_(state_dir) {}

  // Runs the job; `on_running` is called once it is RUNNING (recorded in the store).
  Outcome Run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
              const std::string& working_dir, int64_t deadline_ms,
              const std::function<void()>& on_running);

 private:
  void RequestStop(const std::string& why, v1::JobState final_state, int64_t grace_ms);
  StopRequest ReadStopRequest(int64_t* grace_ms);

  sqlite::Db& db_;
  JobRecord& record_;
  LogWriter& log_;
  std::string state_dir_;
  pid_t child_ = 0;
  int timer_fd_ = -1;
  bool stopping_ = false;
  bool killed_ = false;
  v1::JobState stop_state_ = v1::JOB_STATE_CANCELLED;
  std::string stop_reason_;
};

StopRequest Execution::ReadStopRequest(int64_t* grace_ms) {
  auto r = LoadJob(db_, record_.job.id());
  if (!r.ok()) return StopRequest::kCancel;
  *grace_ms = r->grace_ms;
  record_.job.set_message(r->job.message());
  return r->stop;
}

void Execution::RequestStop(const std::string& why, v1::JobState final_state, int64_t grace_ms) {
  if (stopping_) return;
  stopping_ = true;
  stop_state_ = final_state;
  stop_reason_ = why;
  log_.System(why + "; sending SIGTERM to the job, SIGKILL in " +
              std::to_string(grace_ms / 1000.0).substr(0, 4) + " s");
  ::killpg(child_, SIGTERM);
  itimerspec spec{};
  spec.it_value.tv_sec = grace_ms / 1000;
  spec.it_value.tv_nsec = (grace_ms % 1000) * 1000000 + 1;
  timerfd_settime(timer_fd_, 0, &spec, nullptr);
}

Outcome Execution::Run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const std::string& working_dir, int64_t deadline_ms,
                       const std::function<void()>& on_running) {
  Outcome outcome;
  int out_pipe[2], err_pipe[2], exec_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(exec_pipe, O_CLOEXEC) != 0) {
    outcome.reason = std::string("cannot create pipes: ") + std::strerror(errno);
    return outcome;
  }
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  c_env.reserve(env.size() + 1);
  for (const auto& e : env) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&handled, s);
  sigprocmask(SIG_BLOCK, &handled, nullptr);
  int signal_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  int deadline_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

  JobChildArgs child_args{out_pipe[1],   err_pipe[1],  exec_pipe[1],       &handled,
                          c_argv.data(), c_env.data(), working_dir.c_str()};
  // The job's process shares this one's memory until it execs (CLONE_VM | CLONE_VFORK, as
  // posix_spawn does): no copy of the supervisor's page tables per job.
  std::vector<char> child_stack(size_t{256} * 1024);
  child_ = clone(StartJobChild, child_stack.data() + child_stack.size(),
                 CLONE_VM | CLONE_VFORK | SIGCHLD, &child_args);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);
  if (child_ < 0) {
    outcome.reason = std::string("cannot fork the job: ") + std::strerror(errno);
    return outcome;
  }
  setpgid(child_, child_);  // also from the parent, so killpg works at once

  // Did exec succeed? The pipe closes on exec (CLOEXEC) or carries the failure.
  char tag = 0;
  int exec_errno = 0;
  ssize_t n = ::read(exec_pipe[0], &tag, 1);
  if (n == 1 && ::read(exec_pipe[0], &exec_errno, sizeof exec_errno) != sizeof exec_errno) {
    exec_errno = EIO;
  }
  ::close(exec_pipe[0]);
  if (n == 1) {
    int status = 0;
    waitpid(child_, &status, 0);
    outcome.state = v1::JOB_STATE_FAILED;
    outcome.exit_code = 127;
    outcome.reason = tag == 'C' ? "cannot enter working directory " + working_dir + ": " +
                                      std::strerror(exec_errno)
                                : "cannot run \"" + argv[0] + "\": " + std::strerror(exec_errno) +
                                      (exec_errno == ENOENT ? " (command not found on PATH)" : "");
    log_.System(outcome.reason);
    return outcome;
  }

  // RUNNING from here on.
  {
    auto txn = sqlite::Transaction::Begin(db_);
    if (txn.ok()) {
      auto fresh = LoadJob(db_, record_.job.id());
      if (fresh.ok()) {
        record_.stop = fresh->stop;
        record_.grace_ms = fresh->grace_ms;
      }
      record_.pgid = child_;
      Transition(&record_.job, v1::JOB_STATE_RUNNING,
                 "started: pid " + std::to_string(child_) + " in " + working_dir, NowMicros());
      if (UpdateJob(db_, record_).ok()) txn->Commit().IgnoreError();
    }
  }
  log_.System("started " + argv[0] + " (pid " + std::to_string(child_) + ")");
  if (on_running) on_running();
  if (deadline_ms > 0) {
    itimerspec spec{};
    spec.it_value.tv_sec = deadline_ms / 1000;
    spec.it_value.tv_nsec = (deadline_ms % 1000) * 1000000 + 1;
    timerfd_settime(deadline_fd, 0, &spec, nullptr);
  }
  if (record_.stop != StopRequest::kNone) {
    RequestStop(
        record_.stop == StopRequest::kCancel ? "cancelled before it started"
                                             : "preempted before it started",
        record_.stop == StopRequest::kCancel ? v1::JOB_STATE_CANCELLED : v1::JOB_STATE_PREEMPTED,
        record_.grace_ms);
  }

  const int64_t started_us = NowMicros();
  int open_pipes = 2;
  bool exited = false;
  int wait_status = 0;
  rusage usage{};
  int64_t exit_seen_us = 0;
  char buf[65536];
  while (!exited || open_pipes > 0) {
    pollfd fds[5] = {{out_pipe[0], POLLIN, 0},
                     {err_pipe[0], POLLIN, 0},
                     {signal_fd, POLLIN, 0},
                     {timer_fd_, POLLIN, 0},
                     {deadline_fd, POLLIN, 0}};
    int timeout = exited ? 100 : -1;
    int ready = poll(fds, 5, timeout);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        log_.Append(i == 0 ? v1::LOG_STREAM_STDOUT : v1::LOG_STREAM_STDERR,
                    std::string_view(buf, static_cast<size_t>(got)));
      } else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        (i == 0 ? out_pipe[0] : err_pipe[0]) = -1;
        --open_pipes;
      }
    }
    if (fds[2].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(signal_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGCHLD) continue;  // reaped below
        int64_t grace = kDefaultGraceMs;
        StopRequest request = ReadStopRequest(&grace);
        // The stop request's message ("cancelling: REASON") carries the user's reason.
        std::string why = record_.job.message();
        for (const char* prefix : {"cancelling: ", "preempting: "}) {
          if (why.rfind(prefix, 0) == 0) why = why.substr(std::strlen(prefix));
        }
        if (request == StopRequest::kPreempt) {
          RequestStop("preempted: " + why, v1::JOB_STATE_PREEMPTED, grace);
        } else {
          RequestStop(request == StopRequest::kCancel
                          ? "cancelled: " + why
                          : std::string("the supervisor received a termination signal"),
                      v1::JOB_STATE_CANCELLED, grace);
        }
        break;
      }
    }
    if (fds[3].revents & POLLIN) {
      uint64_t expirations = 0;
      ssize_t ignored = ::read(timer_fd_, &expirations, sizeof expirations);
      (void)ignored;
      if (!exited && !killed_) {
        killed_ = true;
        log_.System("grace period over; sending SIGKILL");
        ::killpg(child_, SIGKILL);
      }
    }
    if (fds[4].revents & POLLIN) {
      uint64_t expirations = 0;
      ssize_t ignored = ::read(deadline_fd, &expirations, sizeof expirations);
      (void)ignored;
      int64_t grace = record_.grace_ms > 0 ? record_.grace_ms : kDefaultGraceMs;
      if (record_.job.spec().has_termination_grace_period()) {
        grace = TimeUtil::DurationToMilliseconds(record_.job.spec().termination_grace_period());
      }
      RequestStop(
          record_.job.has_deadline_time() &&
                  NowMicros() + 1000 >=
                      TimeUtil::TimestampToMicroseconds(record_.job.deadline_time())
              ? "ttl of " + FormatDurationText(record_.job.spec().ttl()) + " reached"
              : "deadline of " + FormatDurationText(record_.job.spec().deadline()) + " reached",
          v1::JOB_STATE_TIMED_OUT, grace);
    }
    if (!exited) {
      pid_t got = wait4(child_, &wait_status, WNOHANG, &usage);
      if (got == child_) {
        exited = true;
        exit_seen_us = NowMicros();
      }
    } else if (open_pipes > 0 && NowMicros() - exit_seen_us > int64_t{kDrainAfterExitMs} * 1000) {
      // Something the job started still holds its output open: end the group and stop reading.
      ::killpg(child_, SIGKILL);
      for (int* fd : {&out_pipe[0], &err_pipe[0]}) {
        if (*fd >= 0) ::close(*fd);
        *fd = -1;
      }
      open_pipes = 0;
    }
  }
  ::killpg(child_, SIGKILL);  // nothing of the job outlives it
  log_.Flush();
  ::close(signal_fd);
  ::close(timer_fd_);
  ::close(deadline_fd);

  auto* used = record_.job.mutable_resources_used();
  double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  used->set_cpu_seconds(used->cpu_seconds() + cpu);
  used->set_memory_peak_bytes(std::max<int64_t>(used->memory_peak_bytes(), usage.ru_maxrss * 1024));
  auto wall = TimeUtil::MicrosecondsToDuration(NowMicros() - started_us);
  *used->mutable_wall_time() = used->wall_time() + wall;

  if (WIFEXITED(wait_status)) {
    outcome.exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    outcome.signal = WTERMSIG(wait_status);
  }
  if (stopping_) {
    outcome.state = stop_state_;
    outcome.reason = stop_reason_;
    outcome.retryable = stop_state_ == v1::JOB_STATE_PREEMPTED;
  } else if (outcome.exit_code && *outcome.exit_code == 0) {
    outcome.state = v1::JOB_STATE_SUCCEEDED;
    outcome.reason = "exited with code 0";
  } else {
    outcome.state = v1::JOB_STATE_FAILED;
    outcome.retryable = true;
    outcome.reason = outcome.exit_code ? "exited with code " + std::to_string(*outcome.exit_code)
                                       : "killed by signal " + std::to_string(*outcome.signal) +
                                             " (" + strsignal(*outcome.signal) + ")";
  }
  log_.System(outcome.reason);
  return outcome;
}

bool ShouldRetry(const v1::Job& job, const Outcome& outcome) {
  const auto& retry = job.spec().retry();
  if (!outcome.retryable || job.restarts() >= retry.max_restarts()) return false;
  if (outcome.state == v1::JOB_STATE_PREEMPTED) return job.spec().preemptible();
  if (retry.retry_exit_codes_size() == 0) return true;
  if (!outcome.exit_code) return false;
  for (int code : retry.retry_exit_codes()) {
    if (code == *outcome.exit_code) return true;
  }
  return false;
}

int64_t BackoffUs(const v1::Job& job) {
  if (job.state() == v1::JOB_STATE_PREEMPTED) return 0;  // requeue preempted jobs at once
  return RetryBackoffUs(job.spec().retry(), job.restarts());
}

// The checkpoint key of a job: the id of the first job of its rerun chain, so a rerun resumes
// from the checkpoints of the job it reruns (a requeued job keeps its id anyway).
std::string CheckpointKey(sqlite::Db& db, const v1::Job& job) {
  std::string key = job.id();
  std::string parent = job.rerun_of();
  for (int depth = 0; !parent.empty() && depth < 1000; ++depth) {
    auto loaded = LoadJob(db, parent);
    if (!loaded.ok()) break;
    key = loaded->job.id();
    parent = loaded->job.rerun_of();
  }
  return key;
}

std::vector<std::string> BuildEnvironment(const v1::Job& job,
                                          const std::map<std::string, std::string>& secrets,
                                          const std::string& state_dir,
                                          const std::vector<std::string>& input_paths,
                                          const std::string& checkpoint_key) {
  std::map<std::string, std::string> env = JobEnvironment(job, state_dir);
  env["MLC_CHECKPOINT_KEY"] = checkpoint_key;
  // Input datasets: their local paths, in spec order (MLC_INPUT_DATASETS joins them with ':').
  std::string joined;
  for (size_t i = 0; i < input_paths.size(); ++i) {
    env["MLC_INPUT_DATASET_" + std::to_string(i)] = input_paths[i];
    joined += (i == 0 ? "" : ":") + input_paths[i];
  }
  if (!input_paths.empty()) env["MLC_INPUT_DATASETS"] = joined;
  for (const auto& [k, v] : secrets) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

std::map<std::string, std::string> JobEnvironment(const v1::Job& job,
                                                  const std::string& state_dir) {
  std::map<std::string, std::string> env(job.reproducibility().environment().begin(),
                                         job.reproducibility().environment().end());
  for (const auto& [k, v] : job.spec().env()) env[k] = v;
  env["MLC_JOB_ID"] = job.id();
  env["MLC_JOB_NAME"] = job.spec().name();
  env["MLC_PROJECT"] = job.spec().project();
  env["MLC_BACKEND"] = "local://" + state_dir;
  env["MLC_ATTEMPT"] = std::to_string(job.restarts());
  if (!job.run_id().empty()) env["MLC_RUN_ID"] = job.run_id();
  return env;
}

int RunSupervisor(const std::string& state_dir, const std::string& job_id) {
  auto db_or = sqlite::Db::Open(state_dir + "/mlcore.db", StoreMigrations());
  if (!db_or.ok()) {
    Log("cannot open the store: " + db_or.status().ToString());
    return 2;
  }
  sqlite::Db& db = **db_or;
  const std::string job_dir = JobDir(state_dir, job_id);

  // Claim the job: only one supervisor per attempt.
  JobRecord record;
  {
    auto txn = sqlite::Transaction::Begin(db);
    if (!txn.ok()) {
      Log("cannot lock the store: " + txn.status().ToString());
      return 2;
    }
    auto loaded = LoadJob(db, job_id);
    if (!loaded.ok()) {
      Log(loaded.status().ToString());
      return 2;
    }
    record = std::move(loaded).value();
    if (record.job.state() != v1::JOB_STATE_STARTING ||
        (record.supervisor.pid != 0 && record.supervisor.pid != getpid())) {
      Log("job " + job_id + " is " + v1::JobState_Name(record.job.state()) +
          " and not waiting for a supervisor; exiting");
      return 0;
    }
    record.supervisor = IdentityOf(getpid());
    if (!UpdateJob(db, record).ok() || !txn->Commit().ok()) {
      Log("cannot claim job " + job_id);
      return 2;
    }
  }

  Status attached = MaterializeAttachments(db, job_id, job_dir + "/attachments");
  if (!attached.ok()) Log("cannot write the job's attachments: " + attached.ToString());

  int64_t limit = kDefaultLogLimit;
  std::string limit_env = util::GetEnv("MLC_JOB_LOG_LIMIT");
  if (!limit_env.empty()) limit = std::strtoll(limit_env.c_str(), nullptr, 10);
  auto log_or = LogWriter::Open(job_dir + "/output.log", limit);
  std::unique_ptr<LogWriter> log;
  if (log_or.ok()) {
    log = std::move(log_or).value();
  } else {
    Log("cannot open the job log: " + log_or.status().ToString());
    auto fallback = LogWriter::Open("/dev/null", 0);
    if (!fallback.ok()) return 2;
    log = std::move(fallback).value();
  }

  JobRunTracker tracker(state_dir, record.job);
  Outcome outcome;
  const auto& spec = record.job.spec();
  std::string working_dir = spec.working_dir().empty() ? job_dir : spec.working_dir();
  if (spec.snapshot_working_dir()) working_dir = job_dir + "/workdir";
  auto secrets = ResolveSecrets(record.job, job_dir, working_dir);
  // STARTING: bring the input datasets into the cache, pinned while this supervisor lives.
  std::vector<std::string> input_paths;
  std::vector<std::string> output_ids;
  Status inputs = Status::Ok();
  if (secrets.ok() && !spec.input_datasets().empty()) {
    log->System("loading " + std::to_string(spec.input_datasets_size()) + " input dataset(s)");
    auto loaded = LoadJobInputs(state_dir, record.job, getpid(), &input_paths);
    if (loaded.ok()) {
      auto* repro = record.job.mutable_reproducibility();
      repro->clear_input_datasets();
      for (auto& d : *loaded) *repro->add_input_datasets() = std::move(d);
    } else {
      inputs = loaded.status();
    }
  }
  if (!secrets.ok() || !inputs.ok()) {
    const Status& failed = secrets.ok() ? inputs : secrets.status();
    outcome.reason = failed.message();
    outcome.retryable =
        failed.code() == StatusCode::kUnavailable || failed.code() == StatusCode::kDeadlineExceeded;
    log->System(outcome.reason);
  } else {
    std::vector<std::string> argv;
    if (!spec.entrypoint().empty()) argv.push_back(spec.entrypoint());
    argv.insert(argv.end(), spec.command().begin(), spec.command().end());
    argv.insert(argv.end(), spec.args().begin(), spec.args().end());
    int64_t deadline_ms = 0;
    if (spec.has_deadline() && TimeUtil::DurationToMilliseconds(spec.deadline()) > 0) {
      deadline_ms = std::max<int64_t>(
          1, TimeUtil::DurationToMilliseconds(spec.deadline()) -
                 TimeUtil::DurationToMilliseconds(record.job.resources_used().wall_time()));
    }
    // The ttl counts from submission: whichever limit comes first stops the job.
    if (record.job.has_deadline_time()) {
      int64_t ttl_left_ms = std::max<int64_t>(
          1, (TimeUtil::TimestampToMicroseconds(record.job.deadline_time()) - NowMicros()) / 1000);
      deadline_ms = deadline_ms == 0 ? ttl_left_ms : std::min(deadline_ms, ttl_left_ms);
    }
    Execution execution(db, record, *log, state_dir);
    outcome = execution.Run(argv,
                            BuildEnvironment(record.job, *secrets, state_dir, input_paths,
                                             CheckpointKey(db, record.job)),
                            working_dir, deadline_ms, [&tracker] { tracker.Started(); });
    Status uploaded = UploadJobOutputs(
        state_dir, record.job, working_dir, [&log](const std::string& line) { log->System(line); },
        &output_ids);
    if (!uploaded.ok()) log->System("cannot store the job's outputs: " + uploaded.ToString());
  }
  ReleaseJobInputs(state_dir, record.job);
  if (log->bytes_dropped() > 0) {
    outcome.reason += "; " + std::to_string(log->bytes_dropped()) + " bytes of output dropped" +
                      (log->error().ok() ? " (log limit)" : " (" + log->error().message() + ")");
  }

  // Record the outcome.
  int64_t not_before = 0;
  bool requeued = false;
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto txn = sqlite::Transaction::Begin(db);
    if (!txn.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    auto fresh = LoadJob(db, job_id);
    if (!fresh.ok()) break;
    JobRecord r = std::move(fresh).value();
    *r.job.mutable_resources_used() = record.job.resources_used();
    r.job.set_state(record.job.state());
    for (const std::string& id : output_ids) r.job.add_output_artifact_ids(id);
    *r.job.mutable_events() = record.job.events();
    if (record.job.has_start_time()) *r.job.mutable_start_time() = record.job.start_time();
    if (outcome.exit_code) r.job.set_exit_code(*outcome.exit_code);
    if (outcome.signal) r.job.set_signal(*outcome.signal);
    const int64_t now = NowMicros();
    Transition(&r.job, outcome.state, outcome.reason, now);
    if (ShouldRetry(r.job, outcome)) {
      r.job.set_restarts(r.job.restarts() + 1);
      int64_t backoff = BackoffUs(r.job);
      not_before = now + backoff;
      requeued = true;
      r.not_before_us = not_before;
      Transition(&r.job, v1::JOB_STATE_PENDING,
                 "restart " + std::to_string(r.job.restarts()) + " of " +
                     std::to_string(r.job.spec().retry().max_restarts()) +
                     (backoff > 0 ? " after " + std::to_string(backoff / 1000000) + " s" : ""),
                 now);
    }
    r.supervisor = {};
    r.pgid = 0;
    r.stop = StopRequest::kNone;
    if (UpdateJob(db, r).ok() && txn->Commit().ok()) break;
  }
  if (!requeued) ::unlink((job_dir + "/secrets.env").c_str());  // a retry still needs them
  tracker.Ended(outcome.state, requeued);

  // Built only now: node detection may run nvidia-smi, which must not delay the job's start.
  // A pass is requested, not run: in a burst of job ends the pass loop batches them.
  const RuntimeContext ctx = DefaultRuntimeContext(state_dir);
  Status pass = RequestSchedulingPass(db, ctx);
  if (!pass.ok()) Log("scheduling pass failed: " + pass.ToString());
  if (requeued && not_before > NowMicros()) {
    // The job waits out its backoff; start it (and anything else) once it is due.
    int64_t wait = not_before - NowMicros();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::microseconds(wait));
    pass = RunSchedulingPass(db, ctx);
    if (!pass.ok()) Log("scheduling pass failed: " + pass.ToString());
  }
  return 0;
}

int SupervisorMain(int argc, char** argv) {
  std::string state_dir;
  std::string job_id;
  std::string project;
  bool schedule = false;
  bool prefetch = false;
  bool webhooks = false;
  std::string pipeline_run;
  std::string backend;
  std::vector<std::string> items;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--schedule") {
      schedule = true;
    } else if (flag == "--prefetch") {
      prefetch = true;
    } else if (flag == "--deliver-webhooks") {
      webhooks = true;
    } else if (flag == "--state" && i + 1 < argc) {
      state_dir = argv[++i];
    } else if (flag == "--job" && i + 1 < argc) {
      job_id = argv[++i];
    } else if (flag == "--project" && i + 1 < argc) {
      project = argv[++i];
    } else if (flag == "--pipeline-run" && i + 1 < argc) {
      pipeline_run = argv[++i];
    } else if (flag == "--backend" && i + 1 < argc) {
      backend = argv[++i];
    } else {
      items.push_back(flag);
    }
  }
  if (prefetch && !state_dir.empty()) return RunPrefetchMain(state_dir, project, items);
  if (webhooks && !state_dir.empty()) return RunWebhookDelivererMain(state_dir);
  if (!pipeline_run.empty() && !state_dir.empty()) {
    return pipelines::RunPipelineDriverMain(state_dir, pipeline_run,
                                            backend.empty() ? "local://" + state_dir : backend);
  }
  if (state_dir.empty() || (job_id.empty() && !schedule)) {
    std::cerr
        << "usage: mlc-supervisor --state DIR (--job ID | --schedule | --prefetch "
           "--project P URI[@DIGEST]... | --deliver-webhooks | --pipeline-run ID [--backend URI])\n"
           "Started by mlcore to run one job, or a burst of scheduling passes; not meant "
           "to be run by hand.\n";
    return 2;
  }
  if (schedule) {
    RuntimeContext ctx = DefaultRuntimeContext(state_dir);
    ctx.run_supervisor = [state_dir](const std::string& id) {
      return RunSupervisor(state_dir, id);
    };
    return RunPassLoop(ctx);
  }
  return RunSupervisor(state_dir, job_id);
}

}  // namespace mlcore::local
