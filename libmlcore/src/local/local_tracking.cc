// TrackingService of the local backend: checks against the project and job state in mlcore.db,
// then the tracking store (tracking.db) does the work.
#include "local/job_run_tracker.h"
#include "local/job_store.h"
#include "local/local_backend.h"
#include "local/tracking_store.h"
#include "mlcore/jobs.h"
#include "util/fs.h"

namespace mlcore::local {

Result<TrackingStore*> LocalBackend::Tracking() {
  std::lock_guard lock(tracking_mu_);
  if (!tracking_) {
    MLC_ASSIGN_OR_RETURN(tracking_, TrackingStore::Open(dir_ + "/tracking.db"));
  }
  return tracking_.get();
}

Status LocalBackend::CheckProjectExists(const std::string& project) {
  std::lock_guard lock(mu_);
  auto p = GetProjectLocked(project);
  if (!p.ok() && p.status().code() == StatusCode::kNotFound) {
    return NotFoundError("project \"" + project +
                         "\" does not exist; create it with `mlc project " + "create " + project +
                         "`");
  }
  return p.status();
}

Result<std::string> LocalBackend::CreateJobRun(const v1::Job& job) {
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  const v1::JobSpec& spec = job.spec();
  MLC_ASSIGN_OR_RETURN(
      std::string experiment,
      store->EnsureExperiment(
          spec.project(), spec.experiment().empty() ? "default" : spec.experiment(), job.user()));
  v1::CreateRunRequest create;
  v1::Run* run = create.mutable_run();
  run->set_project(spec.project());
  run->set_experiment_id(experiment);
  run->set_name(spec.name());
  run->set_user(job.user());
  run->set_job_id(job.id());
  run->set_parent_run_id(spec.parent_run_id());
  run->set_status(v1::RUN_STATUS_SCHEDULED);
  if (job.reproducibility().has_source()) *run->mutable_source() = job.reproducibility().source();
  (*run->mutable_tags())["mlc.job"] = spec.name();
  for (const auto& [k, v] : spec.labels()) (*run->mutable_tags())["mlc.label." + k] = v;
  MLC_ASSIGN_OR_RETURN(v1::Run created, store->CreateRun(create));
  return created.id();
}

Status LocalBackend::ReconcileJobRuns(const std::string& project) {
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  MLC_ASSIGN_OR_RETURN(auto active, store->ActiveJobRuns(project));
  for (const auto& [run_id, job_id] : active) {
    v1::UpdateRunRequest update;
    {
      std::lock_guard lock(mu_);
      auto job = LoadJob(*db_, job_id);
      if (!job.ok() || !IsFinalJobState(job->job.state())) continue;
      update.set_status(RunStatusOfJobState(job->job.state()));
      if (job->job.has_end_time()) *update.mutable_end_time() = job->job.end_time();
    }
    update.set_id(run_id);
    auto updated = store->UpdateRun(update);
    if (!updated.ok() && updated.status().code() != StatusCode::kFailedPrecondition) {
      return updated.status();  // (FAILED_PRECONDITION: ended meanwhile by its supervisor)
    }
  }
  return Status::Ok();
}

Result<v1::Experiment> LocalBackend::CreateExperiment(const v1::Experiment& experiment) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(experiment.project()));
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  return store->CreateExperiment(experiment);
}

Result<v1::Experiment> LocalBackend::GetExperiment(const v1::GetExperimentRequest& request) {
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  if (request.id().empty()) {
    MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
    // Every project has a "default" experiment, made on first use.
    if (request.name() == "default") {
      MLC_RETURN_IF_ERROR(
          store->EnsureExperiment(request.project(), "default", util::CurrentUser()).status());
    }
  }
  return store->GetExperiment(request);
}

Result<v1::ListExperimentsResponse> LocalBackend::ListExperiments(
    const v1::ListExperimentsRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  MLC_RETURN_IF_ERROR(
      store->EnsureExperiment(request.project(), "default", util::CurrentUser()).status());
  return store->ListExperiments(request);
}

Result<v1::Run> LocalBackend::CreateRun(const v1::CreateRunRequest& request) {
  const v1::Run& run = request.run();
  MLC_RETURN_IF_ERROR(CheckProjectExists(run.project()));
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  v1::CreateRunRequest resolved = request;
  if (run.experiment_id().empty()) {
    MLC_ASSIGN_OR_RETURN(std::string id,
                         store->EnsureExperiment(run.project(), "default", run.user()));
    resolved.mutable_run()->set_experiment_id(id);
  } else {
    v1::GetExperimentRequest get;
    get.set_id(run.experiment_id());
    MLC_ASSIGN_OR_RETURN(v1::Experiment e, store->GetExperiment(get));
    if (e.project() != run.project()) {
      return FailedPreconditionError("experiment " + e.id() + " (" + e.name() +
                                     ") belongs to project " + e.project() + ", not " +
                                     run.project());
    }
  }
  return store->CreateRun(resolved);
}

Result<v1::Run> LocalBackend::GetRun(const v1::GetRunRequest& request) {
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  MLC_ASSIGN_OR_RETURN(v1::Run run, store->GetRun(request.id()));
  if (!run.job_id().empty() &&
      (run.status() == v1::RUN_STATUS_SCHEDULED || run.status() == v1::RUN_STATUS_RUNNING)) {
    MLC_RETURN_IF_ERROR(ReconcileJobRuns(run.project()));
    return store->GetRun(request.id());
  }
  return run;
}

Result<v1::Run> LocalBackend::UpdateRun(const v1::UpdateRunRequest& request) {
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  return store->UpdateRun(request);
}

Status LocalBackend::DeleteRun(const v1::DeleteRunRequest& request) {
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  MLC_ASSIGN_OR_RETURN(v1::Run run, store->GetRun(request.id(), false));
  if (!run.job_id().empty()) {
    std::lock_guard lock(mu_);
    auto job = LoadJob(*db_, run.job_id());
    if (job.ok() && !IsFinalJobState(job->job.state())) {
      return FailedPreconditionError(
          "run " + run.id() + " belongs to job " + job->job.spec().name() + ", which is still " +
          JobStateName(job->job.state()) + "; cancel the job first (mlc job cancel " +
          job->job.spec().name() + ")");
    }
  }
  return store->DeleteRun(request.id());
}

Result<v1::Run> LocalBackend::SetRunTags(const v1::SetRunTagsRequest& request) {
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  return store->SetRunTags(request);
}

Result<v1::SearchRunsResponse> LocalBackend::SearchRuns(const v1::SearchRunsRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  MLC_RETURN_IF_ERROR(ReconcileJobRuns(request.project()));
  return store->SearchRuns(request);
}

Result<v1::LogBatchResponse> LocalBackend::LogBatch(const v1::MetricBatch& batch) {
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  return store->LogBatch(batch);
}

Result<v1::GetMetricHistoryResponse> LocalBackend::GetMetricHistory(
    const v1::GetMetricHistoryRequest& request) {
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  return store->GetMetricHistory(request);
}

Result<v1::TrackingPolicy> LocalBackend::GetTrackingPolicy(const std::string& project) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(project));
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  return store->GetPolicy(project);
}

Result<v1::TrackingPolicy> LocalBackend::UpdateTrackingPolicy(const v1::TrackingPolicy& policy) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(policy.project()));
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  return store->UpdatePolicy(policy);
}

Result<v1::ApplyRetentionResponse> LocalBackend::ApplyRetention(
    const v1::ApplyRetentionRequest& request) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.project()));
  MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
  return store->ApplyRetention(request);
}

}  // namespace mlcore::local
