#include "local/job_run_tracker.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "local/tracking_store.h"
#include "mlcore/client.h"
#include "mlcore/tracking.h"
#include "util/fs.h"

namespace mlcore::local {
namespace {

// How long a job runs before its supervisor starts sampling it: jobs shorter than this (a burst
// of small pipeline steps) never pay for the sampler, and every other job gets system metrics.
constexpr std::chrono::milliseconds kSamplerDelay{250};

}  // namespace

v1::RunStatus RunStatusOfJobState(v1::JobState state) {
  switch (state) {
    case v1::JOB_STATE_SUCCEEDED:
      return v1::RUN_STATUS_FINISHED;
    case v1::JOB_STATE_FAILED:
    case v1::JOB_STATE_TIMED_OUT:
      return v1::RUN_STATUS_FAILED;
    default:
      return v1::RUN_STATUS_KILLED;
  }
}

JobRunTracker::JobRunTracker(const std::string& state_dir, const v1::Job& job)
    : state_dir_(state_dir), run_id_(job.run_id()) {
  if (run_id_.empty()) return;
  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&handled, s);
  sigprocmask(SIG_BLOCK, &handled, nullptr);
  interval_ = RunLoggerOptions().system_metrics_interval;
  const std::string interval = util::GetEnv("MLC_SYSTEM_METRICS_INTERVAL");
  if (!interval.empty()) {
    interval_ = std::chrono::milliseconds(
        static_cast<int64_t>(std::strtod(interval.c_str(), nullptr) * 1000));
  }
}

JobRunTracker::~JobRunTracker() { StopSampler(); }

void JobRunTracker::StopSampler() {
  {
    std::lock_guard lock(mu_);
    ended_ = true;
  }
  ended_cv_.notify_all();
  if (attach_.joinable()) attach_.join();
}

bool JobRunTracker::OpenStore() {
  if (store_) return true;
  if (open_failed_ || run_id_.empty()) return false;
  auto store = TrackingStore::Open(state_dir_ + "/tracking.db");
  if (!store.ok()) {
    std::cerr << "mlc-supervisor: tracking disabled: " << store.status().ToString() << "\n";
    open_failed_ = true;
    return false;
  }
  store_ = std::move(store).value();
  return true;
}

void JobRunTracker::SetStatus(v1::RunStatus status) {
  if (!OpenStore()) return;
  v1::UpdateRunRequest update;
  update.set_id(run_id_);
  update.set_status(status);
  // FAILED_PRECONDITION: the run was ended already (by the code in the job, or a reader).
  store_->UpdateRun(update).status().IgnoreError();
}

void JobRunTracker::Started() {
  if (run_id_.empty()) return;
  SetStatus(v1::RUN_STATUS_RUNNING);
  if (interval_.count() <= 0 || attach_.joinable()) return;
  const auto delay = std::min<std::chrono::milliseconds>(interval_, kSamplerDelay);
  attach_ = std::thread([this, delay] {
    {
      std::unique_lock lock(mu_);
      if (ended_cv_.wait_for(lock, delay, [this] { return ended_; })) return;
    }
    auto client = Client::Open("local://" + state_dir_);
    if (!client.ok()) {
      std::cerr << "mlc-supervisor: no system metrics: " << client.status().ToString() << "\n";
      return;
    }
    client_ = std::move(client).value();
    RunLoggerOptions options;
    options.system_metrics = true;
    options.system_metrics_pid = getpid();
    options.system_metrics_interval = interval_;
    auto logger = RunLogger::Attach(*client_, run_id_, options);
    if (logger.ok()) {
      logger_ = std::move(logger).value();
    } else {
      std::cerr << "mlc-supervisor: no system metrics: " << logger.status().ToString() << "\n";
    }
  });
}

void JobRunTracker::Ended(v1::JobState state, bool requeued) {
  if (run_id_.empty()) return;
  StopSampler();
  if (logger_) {
    Status closed = logger_->Close(v1::RUN_STATUS_UNSPECIFIED);
    if (!closed.ok()) std::cerr << "mlc-supervisor: " << closed.ToString() << "\n";
    logger_.reset();
  }
  if (!requeued) SetStatus(RunStatusOfJobState(state));
}

}  // namespace mlcore::local
