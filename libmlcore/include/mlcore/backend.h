// The backend interface and the registry that picks a backend by URI scheme.
//
// A backend implements the platform for one kind of target: `local://` (embedded, SQLite and local
// processes), `grpc://` (a remote `mlc server`), `slurm+http://` (a Slurm cluster). Client does
// argument validation before calling a backend, so backends may assume well-formed requests
// (valid names, page sizes within range) but must check everything that depends on state.
//
// To add a backend: implement Backend, then register a factory for its scheme(s) in
// BackendRegistry::Global() (built-in backends register in backend_registry.cc); see
// docs/development.md.
//
// Thread safety: implementations must be safe to call from several threads at once.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/attach.h"
#include "mlcore/status.h"
#include "mlcore/uri.h"
#include "mlcore/v1/artifacts.pb.h"
#include "mlcore/v1/auth.pb.h"
#include "mlcore/v1/common.pb.h"
#include "mlcore/v1/data.pb.h"
#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/pipelines.pb.h"
#include "mlcore/v1/projects.pb.h"
#include "mlcore/v1/registry.pb.h"
#include "mlcore/v1/scheduling.pb.h"
#include "mlcore/v1/tracking.pb.h"

namespace mlcore {

// A job ready for a backend: Client has applied the submitter's context (project, name, absolute
// working directory, environment, source code) and read what must not be stored in the job.
struct JobSubmission {
  v1::Job job;                                     // spec, reproducibility, user, rerun_of
  std::map<std::string, std::string> secrets;      // values of ENV secret references, by name;
                                                   // handed to the job, never stored or logged
  std::map<std::string, std::string> attachments;  // files kept with the job ("git-diff.patch")
  std::string request_id;                          // idempotency key; empty = none
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Describes the backend (scheme, target, version, capabilities).
  virtual v1::BackendInfo Info() = 0;

  virtual Result<v1::Project> CreateProject(const v1::Project& project) = 0;
  virtual Result<v1::Project> GetProject(const std::string& name) = 0;
  virtual Result<v1::ListProjectsResponse> ListProjects(const v1::ListProjectsRequest& request) = 0;
  virtual Status DeleteProject(const std::string& name) = 0;

  // --- Jobs (proto/mlcore/v1/jobs.proto). Client has already applied the submitter's context:
  // project, name, absolute working directory, environment, source code. ---

  // Queues a prepared job (see JobSubmission). Errors: NOT_FOUND (project), INVALID_ARGUMENT
  // (flavor, priority class), RESOURCE_EXHAUSTED (could never fit the project's limit or the
  // capacity), ALREADY_EXISTS (name taken in the project).
  virtual Result<v1::Job> SubmitJob(const JobSubmission& submission) = 0;
  virtual Result<v1::Job> GetJob(const v1::GetJobRequest& request) = 0;
  virtual Result<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request) = 0;
  // Calls `sink` for each matching log line in order; with `follow`, keeps reading until the job
  // ends (and its output is drained), `sink` returns false, or `keep_following` (when set; called
  // at least every 250 ms while no line arrives) returns false. Empty `streams` in the request
  // means stdout and stderr.
  virtual Status StreamJobLogs(const v1::StreamJobLogsRequest& request,
                               const std::function<bool(const v1::LogLine&)>& sink,
                               const std::function<bool()>& keep_following) = 0;
  virtual Result<v1::Job> CancelJob(const v1::CancelJobRequest& request) = 0;
  virtual Result<v1::Job> PreemptJob(const v1::PreemptJobRequest& request) = 0;
  // Calls `sink` with each state transition of the jobs `request` selects (project, ids), first
  // those at or after `request.since` (when set) in time order, then new ones as they happen,
  // until `sink` returns false or `keep_watching` (when set; called at least every 250 ms while
  // nothing happens) returns false; then returns OK. Errors: NOT_FOUND (project or a listed job).
  // The default is UNIMPLEMENTED.
  virtual Status WatchJobs(const v1::WatchJobsRequest& request,
                           const std::function<bool(const v1::WatchJobsResponse&)>& sink,
                           const std::function<bool()>& keep_watching);
  // Starts `request.command` (the first message of ExecJob: id, command, replica, tty; its
  // stdin_data and close_stdin are applied too) next to a RUNNING job. Client has resolved the id
  // and checked the command is not empty. Errors: NOT_FOUND (job), FAILED_PRECONDITION (job not
  // RUNNING, or being stopped), INVALID_ARGUMENT (replica out of range), NOT_FOUND /
  // PERMISSION_DENIED (the program cannot be run). The default is UNIMPLEMENTED (no
  // CAPABILITY_JOB_ATTACH).
  virtual Result<std::unique_ptr<ExecSession>> ExecJob(const v1::ExecJobRequest& request);
  // Connects to `request.port` of a RUNNING job (first message of PortForward; its `data` is
  // sent too). Client has resolved the id and checked the port range. Errors: NOT_FOUND,
  // FAILED_PRECONDITION (job not RUNNING), UNAVAILABLE (nothing listening on the port). The
  // default is UNIMPLEMENTED.
  virtual Result<std::unique_ptr<PortConnection>> PortForward(
      const v1::PortForwardRequest& request);

  // --- Pipeline runs (proto/mlcore/v1/pipelines.proto). The defaults are UNIMPLEMENTED. ---
  // Records a run of `request.spec` (linted by Client: resolved, project set) for `user` and
  // starts driving it. Errors: INVALID_ARGUMENT (input values), NOT_FOUND (project).
  virtual Result<v1::PipelineRun> RunPipeline(const v1::RunPipelineRequest& request,
                                              const std::string& user);
  virtual Result<v1::PipelineRun> GetPipelineRun(const v1::GetPipelineRunRequest& request);
  virtual Result<v1::ListPipelineRunsResponse> ListPipelineRuns(
      const v1::ListPipelineRunsRequest& request);
  virtual Result<v1::PipelineRun> CancelPipelineRun(const v1::CancelPipelineRunRequest& request);
  // Errors: FAILED_PRECONDITION (the run is not FAILED or CANCELLED).
  virtual Result<v1::PipelineRun> ResumePipelineRun(const v1::ResumePipelineRunRequest& request);

  // --- Scheduling facts ---
  virtual Result<v1::ListFlavorsResponse> ListFlavors(const v1::ListFlavorsRequest& request) = 0;
  virtual Result<v1::ListNodesResponse> ListNodes(const v1::ListNodesRequest& request) = 0;
  virtual Result<v1::ListPriorityClassesResponse> ListPriorityClasses() = 0;
  virtual Result<v1::GetQuotaUsageResponse> GetQuotaUsage(
      const v1::GetQuotaUsageRequest& request) = 0;

  // --- Tracking (proto/mlcore/v1/tracking.proto). Client has validated names, keys, page sizes,
  // the filter's syntax and filled defaults (project, user). ---
  virtual Result<v1::Experiment> CreateExperiment(const v1::Experiment& experiment) = 0;
  virtual Result<v1::Experiment> GetExperiment(const v1::GetExperimentRequest& request) = 0;
  virtual Result<v1::ListExperimentsResponse> ListExperiments(
      const v1::ListExperimentsRequest& request) = 0;
  virtual Result<v1::Run> CreateRun(const v1::CreateRunRequest& request) = 0;
  virtual Result<v1::Run> GetRun(const v1::GetRunRequest& request) = 0;
  virtual Result<v1::Run> UpdateRun(const v1::UpdateRunRequest& request) = 0;
  virtual Status DeleteRun(const v1::DeleteRunRequest& request) = 0;
  virtual Result<v1::Run> SetRunTags(const v1::SetRunTagsRequest& request) = 0;
  virtual Result<v1::SearchRunsResponse> SearchRuns(const v1::SearchRunsRequest& request) = 0;
  // Applies one batch atomically and exactly once (by batch_id).
  virtual Result<v1::LogBatchResponse> LogBatch(const v1::MetricBatch& batch) = 0;
  // Applies several batches, each atomically and exactly once, in order, and returns one result
  // per batch, in the same order. A backend that can pipeline them overrides this (grpc://
  // sends them over one long-lived IngestMetrics stream and waits for each acknowledgement);
  // the default calls LogBatch for each. Errors per batch: as LogBatch, and UNAVAILABLE for a
  // batch whose acknowledgement never came (it may have been applied: resend it, its id makes
  // that safe).
  virtual std::vector<Result<v1::LogBatchResponse>> LogBatches(
      const std::vector<v1::MetricBatch>& batches) {
    std::vector<Result<v1::LogBatchResponse>> out;
    out.reserve(batches.size());
    for (const v1::MetricBatch& batch : batches) out.push_back(LogBatch(batch));
    return out;
  }
  virtual Result<v1::GetMetricHistoryResponse> GetMetricHistory(
      const v1::GetMetricHistoryRequest& request) = 0;
  // Follows a run's metrics (TrackingService.WatchMetrics) until the run ends, `sink` returns
  // false or `keep_watching` (polled while idle) does. The default polls GetRun's metric
  // summaries and reads new points with GetMetricHistory on this backend; a remote backend uses
  // the server's stream.
  virtual Status WatchMetrics(const v1::WatchMetricsRequest& request,
                              const std::function<bool(const v1::WatchMetricsResponse&)>& sink,
                              const std::function<bool()>& keep_watching);
  virtual Result<v1::TrackingPolicy> GetTrackingPolicy(const std::string& project) = 0;
  virtual Result<v1::TrackingPolicy> UpdateTrackingPolicy(const v1::TrackingPolicy& policy) = 0;
  virtual Result<v1::ApplyRetentionResponse> ApplyRetention(
      const v1::ApplyRetentionRequest& request) = 0;

  // --- Artifacts (proto/mlcore/v1/artifacts.proto). Client has validated digests, paths and
  // owners' shape and filled the project. ---
  virtual Result<v1::FindMissingBlobsResponse> FindMissingBlobs(
      const v1::FindMissingBlobsRequest& request) = 0;
  virtual Result<v1::Manifest> PutManifest(const v1::PutManifestRequest& request) = 0;
  virtual Result<v1::Manifest> GetManifest(const v1::GetManifestRequest& request) = 0;
  virtual Result<v1::Artifact> CreateArtifact(const v1::Artifact& artifact) = 0;
  virtual Result<v1::Artifact> GetArtifact(const std::string& id) = 0;
  virtual Result<v1::ListArtifactsResponse> ListArtifacts(
      const v1::ListArtifactsRequest& request) = 0;
  virtual Status DeleteArtifact(const std::string& id) = 0;
  virtual Status RecordArtifactUse(const v1::RecordArtifactUseRequest& request) = 0;
  virtual Result<v1::ArtifactLineage> GetLineage(const std::string& artifact_id) = 0;
  virtual Result<v1::GarbageCollectionReport> CollectGarbage(
      const v1::CollectGarbageRequest& request) = 0;
  // Moves the file or directory tree at `local_path` (on this machine) into the store for
  // `project` and returns its stored manifest; only content the store lacks is transferred.
  // `progress(done, total)` returning false cancels (CANCELLED).
  virtual Result<v1::Manifest> UploadTree(
      const std::string& project, const std::string& local_path,
      const std::function<bool(uint64_t, uint64_t)>& progress) = 0;
  // Writes the entries of `manifest` (at or under `only_path` when set) below `dest`, verifying
  // every byte against its digest.
  virtual Status DownloadTree(const std::string& project, const v1::Manifest& manifest,
                              const std::string& dest, const std::string& only_path,
                              const std::function<bool(uint64_t, uint64_t)>& progress) = 0;

  // --- Blob transfer: the pieces of UploadTree/DownloadTree that `mlc server` serves as
  // ArtifactService.UploadBlob, GetUploadStatus and DownloadBlob. ---

  // Starts (or resumes, with the same id and expectations) the upload `header` describes and
  // returns the bytes already committed; the next chunk must start there. Errors:
  // INVALID_ARGUMENT (id, digest), ALREADY_EXISTS (id in use with other expectations), NOT_FOUND
  // (project).
  virtual Result<int64_t> BeginBlobUpload(const v1::UploadBlobHeader& header) = 0;
  // Appends `bytes` at `offset` (which must be the committed size) durably and returns the new
  // committed size. Errors: FAILED_PRECONDITION (wrong offset), NOT_FOUND (no such upload),
  // RESOURCE_EXHAUSTED (disk full).
  virtual Result<int64_t> AppendBlobUpload(const std::string& project, const std::string& upload_id,
                                           int64_t offset, std::string_view bytes) = 0;
  // Verifies the upload against its expected digest and size and publishes it. Errors: NOT_FOUND,
  // DATA_LOSS (mismatch: nothing is published; start over).
  virtual Result<v1::UploadBlobResponse> CommitBlobUpload(const std::string& project,
                                                          const std::string& upload_id) = 0;
  virtual Result<v1::GetUploadStatusResponse> GetUploadStatus(
      const v1::GetUploadStatusRequest& request) = 0;
  // Passes a stored blob's bytes from `request.offset` (at most `request.length`, 0 = to the end)
  // to `sink` in order, in chunks of at most 1 MiB; `size_bytes` is set on the first. Stops early
  // (OK) when `sink` returns false. Errors: NOT_FOUND (project, blob), OUT_OF_RANGE (offset past
  // the end).
  virtual Status ReadBlob(const v1::DownloadBlobRequest& request,
                          const std::function<bool(const v1::DownloadBlobResponse&)>& sink) = 0;

  // --- Data cache (proto/mlcore/v1/data.proto); the cache of the machine serving the call.
  // Client has filled the project. `progress(done, total)` returning false cancels. ---
  virtual Result<v1::LoadResponse> LoadData(
      const v1::LoadRequest& request, const std::function<bool(uint64_t, uint64_t)>& progress) = 0;
  // The bytes of a loaded object (see DataService.ReadData), in chunks of at most 1 MiB; size
  // and digest on the first. Stops early (OK) when `sink` returns false.
  virtual Status ReadData(const v1::ReadDataRequest& request,
                          const std::function<bool(const v1::ReadDataResponse&)>& sink) = 0;
  virtual Result<v1::ListCacheEntriesResponse> ListCacheEntries(
      const v1::ListCacheEntriesRequest& request) = 0;
  virtual Result<v1::CacheEntry> PinData(const v1::PinRequest& request) = 0;
  virtual Result<v1::CacheEntry> UnpinData(const v1::UnpinRequest& request) = 0;
  virtual Result<v1::EvictResponse> EvictData(const v1::EvictRequest& request) = 0;
  virtual Result<v1::PrefetchResponse> PrefetchData(const v1::PrefetchRequest& request) = 0;
  virtual Result<v1::CacheStats> GetCacheStats() = 0;

  // --- Model registry (proto/mlcore/v1/registry.proto). Client has validated names, aliases,
  // URIs, digests, paths, depth and page sizes, filled the project (also of a parent version's
  // reference) and resolved source runs and jobs given by name to ids. The backend records who
  // makes each change. ---
  virtual Result<v1::RegisteredModel> CreateRegisteredModel(const v1::RegisteredModel& model) = 0;
  virtual Result<v1::RegisteredModel> GetRegisteredModel(
      const v1::GetRegisteredModelRequest& request) = 0;
  virtual Result<v1::ListRegisteredModelsResponse> ListRegisteredModels(
      const v1::ListRegisteredModelsRequest& request) = 0;
  virtual Result<v1::RegisteredModel> UpdateRegisteredModel(
      const v1::UpdateRegisteredModelRequest& request) = 0;
  virtual Result<v1::RegisteredModel> RenameRegisteredModel(
      const v1::RenameRegisteredModelRequest& request) = 0;
  virtual Status DeleteRegisteredModel(const v1::DeleteRegisteredModelRequest& request) = 0;
  virtual Result<v1::ModelVersion> CreateModelVersion(
      const v1::CreateModelVersionRequest& request) = 0;
  virtual Result<v1::ModelVersion> FinishModelVersionUpload(
      const v1::FinishModelVersionUploadRequest& request) = 0;
  virtual Result<v1::ModelVersion> GetModelVersion(const v1::GetModelVersionRequest& request) = 0;
  virtual Result<v1::ListModelVersionsResponse> ListModelVersions(
      const v1::ListModelVersionsRequest& request) = 0;
  // The hot path of downloads: answers in well under a millisecond on the local backend.
  virtual Result<v1::ModelVersion> ResolveModelUri(const v1::ResolveModelUriRequest& request) = 0;
  virtual Result<v1::SetModelAliasResponse> SetModelAlias(
      const v1::SetModelAliasRequest& request) = 0;
  virtual Result<v1::DeleteModelAliasResponse> DeleteModelAlias(
      const v1::DeleteModelAliasRequest& request) = 0;
  virtual Result<v1::ModelVersionLineage> GetModelVersionLineage(
      const v1::GetModelVersionLineageRequest& request) = 0;
  virtual Result<v1::ListModelVersionsBuiltFromResponse> ListModelVersionsBuiltFrom(
      const v1::ListModelVersionsBuiltFromRequest& request) = 0;
  // Calls `sink` with each event in sequence order until `sink` returns false or `keep_watching`
  // (called at least every 250 ms while nothing happens) returns false; then returns OK.
  virtual Status WatchRegistryEvents(const v1::WatchRegistryEventsRequest& request,
                                     const std::function<bool(const v1::RegistryEvent&)>& sink,
                                     const std::function<bool()>& keep_watching) = 0;
  // Client has checked the URL, the secret reference's shape and the filters' values; the backend
  // sets id, create_time and created_by.
  // An ENV secret's value is in `request.secret_value` (Client read it).
  virtual Result<v1::Webhook> CreateWebhook(const v1::CreateWebhookRequest& request) = 0;
  virtual Result<v1::ListWebhooksResponse> ListWebhooks(const v1::ListWebhooksRequest& request) = 0;
  virtual Status DeleteWebhook(const std::string& id) = 0;
  virtual Result<v1::WebhookDelivery> TestWebhook(const std::string& id) = 0;
  virtual Result<v1::ListWebhookDeliveriesResponse> ListWebhookDeliveries(
      const v1::ListWebhookDeliveriesRequest& request) = 0;

  // --- Identity (auth.proto). A backend without CAPABILITY_AUTH (local://) describes the caller
  // as an administrator of everything and has no tokens or roles: the others answer
  // FAILED_PRECONDITION saying so. ---
  virtual Result<v1::WhoAmIResponse> WhoAmI();
  virtual Result<v1::CreateTokenResponse> CreateToken(const v1::CreateTokenRequest& request);
  virtual Result<v1::ListTokensResponse> ListTokens(const v1::ListTokensRequest& request);
  virtual Status RevokeToken(const std::string& id);
  virtual Result<v1::RoleBinding> GrantRole(const v1::GrantRoleRequest& request);
  virtual Status RevokeRole(const v1::RevokeRoleRequest& request);
  virtual Result<v1::ListRoleBindingsResponse> ListRoleBindings(
      const v1::ListRoleBindingsRequest& request);
};

// Builds a backend for a parsed URI. Errors are reported as Status (never thrown).
using BackendFactory = std::function<Result<std::unique_ptr<Backend>>(const Uri& uri)>;

class BackendRegistry {
 public:
  // The process-wide registry, with the built-in backends registered.
  static BackendRegistry& Global();

  // Registers `factory` for `scheme` ("local", "grpc+unix"). Errors: ALREADY_EXISTS.
  Status Register(std::string scheme, BackendFactory factory);

  // Parses `uri` and builds the backend registered for its scheme. Errors: INVALID_ARGUMENT
  // (malformed URI, unknown scheme: the message lists the known schemes), and whatever the
  // factory returns.
  Result<std::unique_ptr<Backend>> Create(std::string_view uri);

  // Registered schemes, sorted.
  std::vector<std::string> Schemes();

 private:
  BackendRegistry() = default;
  std::mutex mu_;
  std::map<std::string, BackendFactory> factories_;
};

}  // namespace mlcore
