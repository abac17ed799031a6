// The embedded `local://PATH` backend: state in SQLite under PATH, everything in-process.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "local/artifact_index.h"
#include "local/job_runtime.h"
#include "local/local_data.h"
#include "local/registry_store.h"
#include "local/sqlite_store.h"
#include "local/tracking_store.h"
#include "mlcore/backend.h"

namespace mlcore::pipelines {
class PipelineEngine;
}

namespace mlcore::local {

// The store's schema, as ordered migrations (exposed for tests of migration behaviour).
const std::vector<sqlite::Migration>& StoreMigrations();

class LocalBackend final : public Backend {
 public:
  // Opens (creating when missing) the state directory `uri.path` and its store.
  // Errors: INVALID_ARGUMENT (no path), PERMISSION_DENIED / FAILED_PRECONDITION (unusable
  // directory), DATA_LOSS (the store file is not a database), FAILED_PRECONDITION (newer schema).
  static Result<std::unique_ptr<Backend>> Open(const Uri& uri);

  v1::BackendInfo Info() override;
  Result<v1::Project> CreateProject(const v1::Project& project) override;
  Result<v1::Project> GetProject(const std::string& name) override;
  Result<v1::ListProjectsResponse> ListProjects(const v1::ListProjectsRequest& request) override;
  Status DeleteProject(const std::string& name) override;

  Result<v1::Job> SubmitJob(const JobSubmission& submission) override;
  Result<v1::Job> GetJob(const v1::GetJobRequest& request) override;
  Result<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request) override;
  Status StreamJobLogs(const v1::StreamJobLogsRequest& request,
                       const std::function<bool(const v1::LogLine&)>& sink,
                       const std::function<bool()>& keep_following) override;
  Result<v1::Job> CancelJob(const v1::CancelJobRequest& request) override;
  Result<v1::Job> PreemptJob(const v1::PreemptJobRequest& request) override;
  Status WatchJobs(const v1::WatchJobsRequest& request,
                   const std::function<bool(const v1::WatchJobsResponse&)>& sink,
                   const std::function<bool()>& keep_watching) override;
  Result<std::unique_ptr<ExecSession>> ExecJob(const v1::ExecJobRequest& request) override;
  Result<std::unique_ptr<PortConnection>> PortForward(
      const v1::PortForwardRequest& request) override;
  Result<v1::PipelineRun> RunPipeline(const v1::RunPipelineRequest& request,
                                      const std::string& user) override;
  Result<v1::PipelineRun> GetPipelineRun(const v1::GetPipelineRunRequest& request) override;
  Result<v1::ListPipelineRunsResponse> ListPipelineRuns(
      const v1::ListPipelineRunsRequest& request) override;
  Result<v1::PipelineRun> CancelPipelineRun(const v1::CancelPipelineRunRequest& request) override;
  Result<v1::PipelineRun> ResumePipelineRun(const v1::ResumePipelineRunRequest& request) override;
  Result<v1::ListFlavorsResponse> ListFlavors(const v1::ListFlavorsRequest& request) override;
  Result<v1::ListNodesResponse> ListNodes(const v1::ListNodesRequest& request) override;
  Result<v1::ListPriorityClassesResponse> ListPriorityClasses() override;
  Result<v1::GetQuotaUsageResponse> GetQuotaUsage(const v1::GetQuotaUsageRequest& request) override;

  Result<v1::Experiment> CreateExperiment(const v1::Experiment& experiment) override;
  Result<v1::Experiment> GetExperiment(const v1::GetExperimentRequest& request) override;
  Result<v1::ListExperimentsResponse> ListExperiments(
      const v1::ListExperimentsRequest& request) override;
  Result<v1::Run> CreateRun(const v1::CreateRunRequest& request) override;
  Result<v1::Run> GetRun(const v1::GetRunRequest& request) override;
  Result<v1::Run> UpdateRun(const v1::UpdateRunRequest& request) override;
  Status DeleteRun(const v1::DeleteRunRequest& request) override;
  Result<v1::Run> SetRunTags(const v1::SetRunTagsRequest& request) override;
  Result<v1::SearchRunsResponse> SearchRuns(const v1::SearchRunsRequest& request) override;
  Result<v1::LogBatchResponse> LogBatch(const v1::MetricBatch& batch) override;
  Result<v1::GetMetricHistoryResponse> GetMetricHistory(
      const v1::GetMetricHistoryRequest& request) override;
  Result<v1::TrackingPolicy> GetTrackingPolicy(const std::string& project) override;
  Result<v1::TrackingPolicy> UpdateTrackingPolicy(const v1::TrackingPolicy& policy) override;
  Result<v1::ApplyRetentionResponse> ApplyRetention(
      const v1::ApplyRetentionRequest& request) override;

  Result<v1::FindMissingBlobsResponse> FindMissingBlobs(
      const v1::FindMissingBlobsRequest& request) override;
  Result<v1::Manifest> PutManifest(const v1::PutManifestRequest& request) override;
  Result<v1::Manifest> GetManifest(const v1::GetManifestRequest& request) override;
  Result<v1::Artifact> CreateArtifact(const v1::Artifact& artifact) override;
  Result<v1::Artifact> GetArtifact(const std::string& id) override;
  Result<v1::ListArtifactsResponse> ListArtifacts(const v1::ListArtifactsRequest& request) override;
  Status DeleteArtifact(const std::string& id) override;
  Status RecordArtifactUse(const v1::RecordArtifactUseRequest& request) override;
  Result<v1::ArtifactLineage> GetLineage(const std::string& artifact_id) override;
  Result<v1::GarbageCollectionReport> CollectGarbage(
      const v1::CollectGarbageRequest& request) override;
  Result<v1::Manifest> UploadTree(const std::string& project, const std::string& local_path,
                                  const std::function<bool(uint64_t, uint64_t)>& progress) override;
  Status DownloadTree(const std::string& project, const v1::Manifest& manifest,
                      const std::string& dest, const std::string& only_path,
                      const std::function<bool(uint64_t, uint64_t)>& progress) override;
  Result<int64_t> BeginBlobUpload(const v1::UploadBlobHeader& header) override;
  Result<int64_t> AppendBlobUpload(const std::string& project, const std::string& upload_id,
                                   int64_t offset, std::string_view bytes) override;
  Result<v1::UploadBlobResponse> CommitBlobUpload(const std::string& project,
                                                  const std::string& upload_id) override;
  Result<v1::GetUploadStatusResponse> GetUploadStatus(
      const v1::GetUploadStatusRequest& request) override;
  Status ReadBlob(const v1::DownloadBlobRequest& request,
                  const std::function<bool(const v1::DownloadBlobResponse&)>& sink) override;

  Result<v1::LoadResponse> LoadData(
      const v1::LoadRequest& request,
      const std::function<bool(uint64_t, uint64_t)>& progress) override;
  Status ReadData(const v1::ReadDataRequest& request,
                  const std::function<bool(const v1::ReadDataResponse&)>& sink) override;
  Result<v1::ListCacheEntriesResponse> ListCacheEntries(
      const v1::ListCacheEntriesRequest& request) override;
  Result<v1::CacheEntry> PinData(const v1::PinRequest& request) override;
  Result<v1::CacheEntry> UnpinData(const v1::UnpinRequest& request) override;
  Result<v1::EvictResponse> EvictData(const v1::EvictRequest& request) override;
  Result<v1::PrefetchResponse> PrefetchData(const v1::PrefetchRequest& request) override;
  Result<v1::CacheStats> GetCacheStats() override;

  Result<v1::RegisteredModel> CreateRegisteredModel(const v1::RegisteredModel& model) override;
  Result<v1::RegisteredModel> GetRegisteredModel(
      const v1::GetRegisteredModelRequest& request) override;
  Result<v1::ListRegisteredModelsResponse> ListRegisteredModels(
      const v1::ListRegisteredModelsRequest& request) override;
  Result<v1::RegisteredModel> UpdateRegisteredModel(
      const v1::UpdateRegisteredModelRequest& request) override;
  Result<v1::RegisteredModel> RenameRegisteredModel(
      const v1::RenameRegisteredModelRequest& request) override;
  Status DeleteRegisteredModel(const v1::DeleteRegisteredModelRequest& request) override;
  Result<v1::ModelVersion> CreateModelVersion(
      const v1::CreateModelVersionRequest& request) override;
  Result<v1::ModelVersion> FinishModelVersionUpload(
      const v1::FinishModelVersionUploadRequest& request) override;
  Result<v1::ModelVersion> GetModelVersion(const v1::GetModelVersionRequest& request) override;
  Result<v1::ListModelVersionsResponse> ListModelVersions(
      const v1::ListModelVersionsRequest& request) override;
  Result<v1::ModelVersion> ResolveModelUri(const v1::ResolveModelUriRequest& request) override;
  Result<v1::SetModelAliasResponse> SetModelAlias(const v1::SetModelAliasRequest& request) override;
  Result<v1::DeleteModelAliasResponse> DeleteModelAlias(
      const v1::DeleteModelAliasRequest& request) override;
  Result<v1::ModelVersionLineage> GetModelVersionLineage(
      const v1::GetModelVersionLineageRequest& request) override;
  Result<v1::ListModelVersionsBuiltFromResponse> ListModelVersionsBuiltFrom(
      const v1::ListModelVersionsBuiltFromRequest& request) override;
  Status WatchRegistryEvents(const v1::WatchRegistryEventsRequest& request,
                             const std::function<bool(const v1::RegistryEvent&)>& sink,
                             const std::function<bool()>& keep_watching) override;
  Result<v1::Webhook> CreateWebhook(const v1::CreateWebhookRequest& request) override;
  Result<v1::ListWebhooksResponse> ListWebhooks(const v1::ListWebhooksRequest& request) override;
  Status DeleteWebhook(const std::string& id) override;
  Result<v1::WebhookDelivery> TestWebhook(const std::string& id) override;
  Result<v1::ListWebhookDeliveriesResponse> ListWebhookDeliveries(
      const v1::ListWebhookDeliveriesRequest& request) override;

  const std::string& dir() const { return dir_; }
  // The tracking store (tracking.db), opened on first use.
  Result<TrackingStore*> Tracking();
  // The model registry store (registry.db), opened on first use.
  Result<RegistryStore*> Registry();
  // Starts the webhook deliverer when `store` has queued deliveries since the last call.
  void WakeDeliverer(RegistryStore* store);
  // FAILED_PRECONDITION when `project` holds registered models (checked before deleting it).
  Status CheckProjectHasNoModels(const std::string& project);

 private:
  LocalBackend(std::string dir, std::unique_ptr<sqlite::Db> db);
  Result<v1::Project> GetProjectLocked(const std::string& name);
  // The runtime context, built on first use (node detection may run nvidia-smi).
  const RuntimeContext& Runtime();
  // Resolves a job id, or a name within `project`, to an id. Errors: NOT_FOUND.
  Result<std::string> ResolveJobIdLocked(const std::string& id_or_name, const std::string& project);
  // The job with that id, or that name within `project`. Errors: NOT_FOUND.
  Result<JobRecord> LoadJobLocked(const std::string& id_or_name, const std::string& project);
  // The record of a RUNNING job (not being stopped) that has replica `replica`, for exec and
  // port-forward. Errors: NOT_FOUND, FAILED_PRECONDITION, INVALID_ARGUMENT (replica).
  Result<JobRecord> AttachableJob(const std::string& id, int replica);
  // Checks that `job` could ever start: project limits (with ancestors) and node capacity.
  Status CheckCanEverFit(const v1::Job& job);

  // Creates the SCHEDULED tracking run of a job being submitted; returns its id.
  Result<std::string> CreateJobRun(const v1::Job& job);
  // Ends the runs of jobs that ended without their supervisor ending the run (cancelled while
  // pending, lost), so run states never lag behind their jobs.
  Status ReconcileJobRuns(const std::string& project);
  Status CheckProjectExists(const std::string& project);
  // The artifact index (artifacts.db + blobs), opened on first use.
  Result<ArtifactIndex*> Artifacts();
  // The data cache, opened on first use.
  Result<LocalDataService*> Data();
  // An artifact's owner must be an existing run or job of `project`.
  Status CheckOwner(const v1::ObjectRef& owner, const std::string& project);

  const std::string dir_;
  std::mutex mu_;  // serializes use of db_ (one SQLite connection)
  std::unique_ptr<sqlite::Db> db_;
  // Built on first use by whichever thread gets there first (a server calls from many threads:
  // two racing ListFlavors once freed the catalog under each other).
  std::once_flag runtime_once_;
  std::unique_ptr<RuntimeContext> runtime_;
  std::mutex tracking_mu_;  // guards opening tracking_ and artifacts_ (each serializes its use)
  std::unique_ptr<TrackingStore> tracking_;
  std::unique_ptr<ArtifactIndex> artifacts_;
  std::unique_ptr<LocalDataService> data_;
  std::unique_ptr<RegistryStore> registry_;  // guarded by tracking_mu_ for opening
  std::unique_ptr<pipelines::PipelineEngine> pipelines_;
};

}  // namespace mlcore::local
