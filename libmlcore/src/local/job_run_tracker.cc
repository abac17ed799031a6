#include "local/job_run_tracker.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "mlcore/client.h"
#include "mlcore/tracking.h"
#include "util/fs.h"

namespace mlcore::local {

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
    : run_id_(job.run_id()) {
  if (run_id_.empty()) return;
  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&handled, s);
  sigprocmask(SIG_BLOCK, &handled, nullptr);
  auto client = Client::Open("local://" + state_dir);
  if (!client.ok()) {
    std::cerr << "mlc-supervisor: tracking disabled: " << client.status().ToString() << "\n";
    return;
  }
  client_ = std::move(client).value();
  v1::UpdateRunRequest running;
  running.set_id(run_id_);
  running.set_status(v1::RUN_STATUS_RUNNING);
  client_->UpdateRun(running).status().IgnoreError();
  RunLoggerOptions options;
  options.system_metrics = true;
  options.system_metrics_pid = getpid();
  const std::string interval = util::GetEnv("MLC_SYSTEM_METRICS_INTERVAL");
  if (!interval.empty()) {
    options.system_metrics_interval = std::chrono::milliseconds(
        static_cast<int64_t>(std::strtod(interval.c_str(), nullptr) * 1000));
  }
  options.system_metrics = options.system_metrics_interval.count() > 0;
  auto logger = RunLogger::Attach(*client_, run_id_, options);
  if (logger.ok()) {
    logger_ = std::move(logger).value();
  } else {
    std::cerr << "mlc-supervisor: no system metrics: " << logger.status().ToString() << "\n";
  }
}

JobRunTracker::~JobRunTracker() = default;

void JobRunTracker::Ended(v1::JobState state, bool requeued) {
  if (!client_) return;
  if (logger_) {
    Status closed = logger_->Close(v1::RUN_STATUS_UNSPECIFIED);
    if (!closed.ok()) std::cerr << "mlc-supervisor: " << closed.ToString() << "\n";
    logger_.reset();
  }
  if (requeued) return;
  v1::UpdateRunRequest end;
  end.set_id(run_id_);
  end.set_status(RunStatusOfJobState(state));
  // FAILED_PRECONDITION: the run was ended already (by the code in the job, or a reader).
  client_->UpdateRun(end).status().IgnoreError();
}

}  // namespace mlcore::local
