#include "remote/grpc_backend.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "artifacts/manifest.h"
#include "mlcore/credentials.h"
#include "mlcore/v1/artifacts.grpc.pb.h"
#include "mlcore/v1/auth.grpc.pb.h"
#include "mlcore/v1/common.grpc.pb.h"
#include "mlcore/v1/data.grpc.pb.h"
#include "mlcore/v1/jobs.grpc.pb.h"
#include "mlcore/v1/pipelines.grpc.pb.h"
#include "mlcore/v1/projects.grpc.pb.h"
#include "mlcore/v1/registry.grpc.pb.h"
#include "mlcore/v1/scheduling.grpc.pb.h"
#include "mlcore/v1/tracking.grpc.pb.h"
#include "mlcore/version.h"
#include "remote/grpc_attach.h"
#include "remote/grpc_status.h"
#include "remote/grpc_upload.h"
#include "remote/ingest_stream.h"
#include "remote/remote_data.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore::remote {
namespace {

using std::chrono::milliseconds;

// Methods gRPC may retry on UNAVAILABLE: reads, and writes that carry their own idempotency key.
constexpr const char* kIdempotent[][2] = {
    {"SystemService", "GetBackendInfo"},
    {"ProjectService", "GetProject"},
    {"ProjectService", "ListProjects"},
    {"JobService", "SubmitJob"},  // idempotent by request_id (the SDK always sets one)
    {"JobService", "GetJob"},
    {"JobService", "ListJobs"},
    {"PipelineService", "RunPipeline"},  // idempotent by request_id (Client always sets one)
    {"PipelineService", "GetPipelineRun"},
    {"PipelineService", "ListPipelineRuns"},
    {"PipelineService", "CancelPipelineRun"},
    {"SchedulingService", ""},  // every method of the service
    {"TrackingService", "GetExperiment"},
    {"TrackingService", "ListExperiments"},
    {"TrackingService", "GetRun"},
    {"TrackingService", "SearchRuns"},
    {"TrackingService", "LogBatch"},  // idempotent by batch_id
    {"TrackingService", "GetMetricHistory"},
    {"TrackingService", "GetTrackingPolicy"},
    {"ArtifactService", "FindMissingBlobs"},
    {"ArtifactService", "GetManifest"},
    {"ArtifactService", "PutManifest"},  // content-addressed
    {"ArtifactService", "GetArtifact"},
    {"ArtifactService", "ListArtifacts"},
    {"ArtifactService", "GetLineage"},
    {"ArtifactService", "GetUploadStatus"},
    {"DataService", "ListCacheEntries"},
    {"DataService", "GetCacheStats"},
    {"RegistryService", "GetRegisteredModel"},
    {"RegistryService", "ListRegisteredModels"},
    {"RegistryService", "GetModelVersion"},
    {"RegistryService", "ListModelVersions"},
    {"RegistryService", "ResolveModelUri"},
    {"RegistryService", "GetModelVersionLineage"},
    {"RegistryService", "ListModelVersionsBuiltFrom"},
    {"RegistryService", "ListWebhooks"},
    {"RegistryService", "ListWebhookDeliveries"},
};

std::string ServiceConfig() {
  std::string names;
  for (const auto& [service, method] : kIdempotent) {
    if (!names.empty()) names += ",";
    names += std::string(R"({"service":"mlcore.v1.)") + service + "\"";
    if (*method != '\0') names += std::string(R"(,"method":")") + method + "\"";
    names += "}";
  }
  return R"({"methodConfig":[{"name":[)" + names +
         R"(],"retryPolicy":{"maxAttempts":5,"initialBackoff":"0.2s","maxBackoff":"2s",)"
         R"("backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]})";
}

// Reads a server stream on a gRPC thread and hands messages to the calling thread, which polls
// `keep_going` while the stream is idle (so Python's Ctrl-C and Go's contexts work).
template <typename Resp>
class StreamReader final : public grpc::ClientReadReactor<Resp> {
 public:
  // Reads are started from the consuming thread (outside a reaction), so the reactor is held
  // until that thread is done with it; without the hold OnDone could run between two reads.
  void Start() {
    this->AddHold();
    this->StartRead(&incoming_);
    this->StartCall();
  }
  // The consuming thread starts no more reads. Idempotent.
  void Release() {
    if (!released_) {
      released_ = true;
      this->RemoveHold();
    }
  }
  void OnReadDone(bool ok) override {
    std::lock_guard lock(mu_);
    (ok ? ready_ : read_ended_) = true;
    cv_.notify_all();
  }
  void OnDone(const grpc::Status& status) override {
    std::lock_guard lock(mu_);
    status_ = status;
    done_ = true;
    cv_.notify_all();
  }
  // 1: `out` holds the next message; 0: nothing within `wait`; -1: the stream ended.
  int Next(Resp* out, milliseconds wait) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return ready_ || read_ended_; });
    if (ready_) {
      *out = std::move(incoming_);
      incoming_.Clear();
      ready_ = false;
      lock.unlock();
      this->StartRead(&incoming_);
      return 1;
    }
    return read_ended_ ? -1 : 0;
  }
  grpc::Status Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Resp incoming_;
  bool ready_ = false;
  bool read_ended_ = false;
  bool done_ = false;
  bool released_ = false;  // only touched by the consuming thread
  grpc::Status status_;
};

class GrpcBackend final : public Backend {
 public:
  GrpcBackend(std::string target, const std::shared_ptr<grpc::Channel>& channel,
              milliseconds timeout, std::string token)
      : target_(std::move(target)),
        timeout_(timeout),
        token_(std::move(token)),
        system_(v1::SystemService::NewStub(channel)),
        projects_(v1::ProjectService::NewStub(channel)),
        jobs_(v1::JobService::NewStub(channel)),
        scheduling_(v1::SchedulingService::NewStub(channel)),
        tracking_(v1::TrackingService::NewStub(channel)),
        artifacts_(v1::ArtifactService::NewStub(channel)),
        data_(v1::DataService::NewStub(channel)),
        registry_(v1::RegistryService::NewStub(channel)),
        auth_(v1::AuthService::NewStub(channel)),
        pipelines_(v1::PipelineService::NewStub(channel)),
        ingest_(std::make_unique<IngestStream>(
            tracking_.get(), [this](grpc::ClientContext* ctx) { Prepare(ctx, std::nullopt); },
            target_, timeout)) {}

  v1::BackendInfo Info() override {
    {
      std::lock_guard lock(info_mu_);
      if (info_) return *info_;
    }
    auto info =
        Unary(system_.get(), &v1::SystemService::Stub::GetBackendInfo, v1::GetBackendInfoRequest());
    if (!info.ok()) {
      // Unreachable: describe the target without capabilities; the next call tries again.
      v1::BackendInfo offline;
      offline.set_scheme(target_.substr(0, target_.find(':')));
      offline.set_target(target_);
      offline.set_version(std::string(Version()));
      return offline;
    }
    // What the client sees is the remote target; the server's own scheme is in `server_scheme`.
    info->set_target(target_);
    info->set_scheme(target_.substr(0, target_.find(':')));
    std::lock_guard lock(info_mu_);
    info_ = *info;
    return *info_;
  }

  // --- Projects ---
  Result<v1::Project> CreateProject(const v1::Project& project) override {
    v1::CreateProjectRequest r;
    *r.mutable_project() = project;
    return Unary(projects_.get(), &v1::ProjectService::Stub::CreateProject, r);
  }
  Result<v1::Project> GetProject(const std::string& name) override {
    v1::GetProjectRequest r;
    r.set_name(name);
    return Unary(projects_.get(), &v1::ProjectService::Stub::GetProject, r);
  }
  Result<v1::ListProjectsResponse> ListProjects(const v1::ListProjectsRequest& r) override {
    return Unary(projects_.get(), &v1::ProjectService::Stub::ListProjects, r);
  }
  Status DeleteProject(const std::string& name) override {
    v1::DeleteProjectRequest r;
    r.set_name(name);
    return Unary(projects_.get(), &v1::ProjectService::Stub::DeleteProject, r).status();
  }

  // --- Jobs ---
  Result<v1::Job> SubmitJob(const JobSubmission& submission) override {
    v1::SubmitJobRequest r;
    *r.mutable_spec() = submission.job.spec();
    r.set_request_id(submission.request_id.empty() ? util::RandomUuid() : submission.request_id);
    *r.mutable_reproducibility() = submission.job.reproducibility();
    r.set_rerun_of(submission.job.rerun_of());
    for (const auto& [name, value] : submission.secrets) (*r.mutable_secret_values())[name] = value;
    for (const auto& [name, bytes] : submission.attachments) {
      if (name != "spec.yaml") (*r.mutable_attachments())[name] = bytes;  // the server writes it
    }
    return Unary(jobs_.get(), &v1::JobService::Stub::SubmitJob, r);
  }
  Result<v1::Job> GetJob(const v1::GetJobRequest& r) override {
    return Unary(jobs_.get(), &v1::JobService::Stub::GetJob, r);
  }
  Result<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& r) override {
    return Unary(jobs_.get(), &v1::JobService::Stub::ListJobs, r);
  }
  Status StreamJobLogs(const v1::StreamJobLogsRequest& r,
                       const std::function<bool(const v1::LogLine&)>& sink,
                       const std::function<bool()>& keep_following) override {
    return ServerStream<v1::StreamJobLogsResponse>(
        [&](grpc::ClientContext* ctx, StreamReader<v1::StreamJobLogsResponse>* reader) {
          jobs_->async()->StreamJobLogs(ctx, &r, reader);
        },
        [&](const v1::StreamJobLogsResponse& batch) {
          for (const auto& line : batch.lines()) {
            if (!sink(line)) return false;
          }
          return true;
        },
        keep_following);
  }
  Status WatchJobs(const v1::WatchJobsRequest& r,
                   const std::function<bool(const v1::WatchJobsResponse&)>& sink,
                   const std::function<bool()>& keep_watching) override {
    return ServerStream<v1::WatchJobsResponse>(
        [&](grpc::ClientContext* ctx, StreamReader<v1::WatchJobsResponse>* reader) {
          jobs_->async()->WatchJobs(ctx, &r, reader);
        },
        sink, keep_watching);
  }
  Result<std::unique_ptr<ExecSession>> ExecJob(const v1::ExecJobRequest& r) override {
    auto ctx = std::make_unique<grpc::ClientContext>();
    Prepare(ctx.get(), std::nullopt);
    return StartRemoteExec(jobs_.get(), std::move(ctx), r, target_);
  }
  Result<std::unique_ptr<PortConnection>> PortForward(const v1::PortForwardRequest& r) override {
    auto ctx = std::make_unique<grpc::ClientContext>();
    Prepare(ctx.get(), std::nullopt);
    return StartRemotePortForward(jobs_.get(), std::move(ctx), r, target_);
  }
  Result<v1::PipelineRun> RunPipeline(const v1::RunPipelineRequest& r,
                                      const std::string& /*user: the server's caller*/) override {
    return Unary(pipelines_.get(), &v1::PipelineService::Stub::RunPipeline, r);
  }
  Result<v1::PipelineRun> GetPipelineRun(const v1::GetPipelineRunRequest& r) override {
    return Unary(pipelines_.get(), &v1::PipelineService::Stub::GetPipelineRun, r);
  }
  Result<v1::ListPipelineRunsResponse> ListPipelineRuns(
      const v1::ListPipelineRunsRequest& r) override {
    return Unary(pipelines_.get(), &v1::PipelineService::Stub::ListPipelineRuns, r);
  }
  Result<v1::PipelineRun> CancelPipelineRun(const v1::CancelPipelineRunRequest& r) override {
    return Unary(pipelines_.get(), &v1::PipelineService::Stub::CancelPipelineRun, r);
  }
  Result<v1::PipelineRun> ResumePipelineRun(const v1::ResumePipelineRunRequest& r) override {
    return Unary(pipelines_.get(), &v1::PipelineService::Stub::ResumePipelineRun, r);
  }
  Result<v1::Job> CancelJob(const v1::CancelJobRequest& r) override {
    return Unary(jobs_.get(), &v1::JobService::Stub::CancelJob, r);
  }
  Result<v1::Job> PreemptJob(const v1::PreemptJobRequest& r) override {
    return Unary(jobs_.get(), &v1::JobService::Stub::PreemptJob, r);
  }

  // --- Scheduling ---
  Result<v1::ListFlavorsResponse> ListFlavors(const v1::ListFlavorsRequest& r) override {
    return Unary(scheduling_.get(), &v1::SchedulingService::Stub::ListFlavors, r);
  }
  Result<v1::ListNodesResponse> ListNodes(const v1::ListNodesRequest& r) override {
    return Unary(scheduling_.get(), &v1::SchedulingService::Stub::ListNodes, r);
  }
  Result<v1::ListPriorityClassesResponse> ListPriorityClasses() override {
    return Unary(scheduling_.get(), &v1::SchedulingService::Stub::ListPriorityClasses,
                 v1::ListPriorityClassesRequest());
  }
  Result<v1::GetQuotaUsageResponse> GetQuotaUsage(const v1::GetQuotaUsageRequest& r) override {
    return Unary(scheduling_.get(), &v1::SchedulingService::Stub::GetQuotaUsage, r);
  }

  // --- Tracking ---
  Result<v1::Experiment> CreateExperiment(const v1::Experiment& experiment) override {
    v1::CreateExperimentRequest r;
    *r.mutable_experiment() = experiment;
    return Unary(tracking_.get(), &v1::TrackingService::Stub::CreateExperiment, r);
  }
  Result<v1::Experiment> GetExperiment(const v1::GetExperimentRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::GetExperiment, r);
  }
  Result<v1::ListExperimentsResponse> ListExperiments(
      const v1::ListExperimentsRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::ListExperiments, r);
  }
  Result<v1::Run> CreateRun(const v1::CreateRunRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::CreateRun, r);
  }
  Result<v1::Run> GetRun(const v1::GetRunRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::GetRun, r);
  }
  Result<v1::Run> UpdateRun(const v1::UpdateRunRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::UpdateRun, r);
  }
  Status DeleteRun(const v1::DeleteRunRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::DeleteRun, r).status();
  }
  Result<v1::Run> SetRunTags(const v1::SetRunTagsRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::SetRunTags, r);
  }
  Result<v1::SearchRunsResponse> SearchRuns(const v1::SearchRunsRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::SearchRuns, r);
  }
  Result<v1::LogBatchResponse> LogBatch(const v1::MetricBatch& batch) override {
    v1::LogBatchRequest r;
    *r.mutable_batch() = batch;
    return Unary(tracking_.get(), &v1::TrackingService::Stub::LogBatch, r);
  }
  // Over the backend's IngestMetrics stream; with LogBatch calls against an older server.
  std::vector<Result<v1::LogBatchResponse>> LogBatches(
      const std::vector<v1::MetricBatch>& batches) override {
    if (auto answers = ingest_->Send(batches)) return std::move(*answers);
    return Backend::LogBatches(batches);
  }
  Result<v1::GetMetricHistoryResponse> GetMetricHistory(
      const v1::GetMetricHistoryRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::GetMetricHistory, r);
  }
  Status WatchMetrics(const v1::WatchMetricsRequest& r,
                      const std::function<bool(const v1::WatchMetricsResponse&)>& sink,
                      const std::function<bool()>& keep_watching) override {
    return ServerStream<v1::WatchMetricsResponse>(
        [&](grpc::ClientContext* ctx, StreamReader<v1::WatchMetricsResponse>* reader) {
          tracking_->async()->WatchMetrics(ctx, &r, reader);
        },
        sink, keep_watching);
  }

  Result<v1::TrackingPolicy> GetTrackingPolicy(const std::string& project) override {
    v1::GetTrackingPolicyRequest r;
    r.set_project(project);
    return Unary(tracking_.get(), &v1::TrackingService::Stub::GetTrackingPolicy, r);
  }
  Result<v1::TrackingPolicy> UpdateTrackingPolicy(const v1::TrackingPolicy& policy) override {
    v1::UpdateTrackingPolicyRequest r;
    *r.mutable_policy() = policy;
    return Unary(tracking_.get(), &v1::TrackingService::Stub::UpdateTrackingPolicy, r);
  }
  Result<v1::ApplyRetentionResponse> ApplyRetention(const v1::ApplyRetentionRequest& r) override {
    return Unary(tracking_.get(), &v1::TrackingService::Stub::ApplyRetention, r);
  }

  // --- Artifacts ---
  Result<v1::FindMissingBlobsResponse> FindMissingBlobs(
      const v1::FindMissingBlobsRequest& r) override {
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::FindMissingBlobs, r);
  }
  Result<v1::Manifest> PutManifest(const v1::PutManifestRequest& r) override {
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::PutManifest, r);
  }
  Result<v1::Manifest> GetManifest(const v1::GetManifestRequest& r) override {
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::GetManifest, r);
  }
  Result<v1::Artifact> CreateArtifact(const v1::Artifact& artifact) override {
    v1::CreateArtifactRequest r;
    *r.mutable_artifact() = artifact;
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::CreateArtifact, r);
  }
  Result<v1::Artifact> GetArtifact(const std::string& id) override {
    v1::GetArtifactRequest r;
    r.set_id(id);
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::GetArtifact, r);
  }
  Result<v1::ListArtifactsResponse> ListArtifacts(const v1::ListArtifactsRequest& r) override {
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::ListArtifacts, r);
  }
  Status DeleteArtifact(const std::string& id) override {
    v1::DeleteArtifactRequest r;
    r.set_id(id);
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::DeleteArtifact, r).status();
  }
  Status RecordArtifactUse(const v1::RecordArtifactUseRequest& r) override {
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::RecordArtifactUse, r).status();
  }
  Result<v1::ArtifactLineage> GetLineage(const std::string& artifact_id) override {
    v1::GetLineageRequest r;
    r.set_artifact_id(artifact_id);
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::GetLineage, r);
  }
  Result<v1::GarbageCollectionReport> CollectGarbage(const v1::CollectGarbageRequest& r) override {
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::CollectGarbage, r,
                 /*long_running=*/true);
  }
  Result<v1::Manifest> UploadTree(const std::string& project, const std::string& local_path,
                                  const std::function<bool(uint64_t, uint64_t)>& progress) override;
  Status DownloadTree(const std::string& project, const v1::Manifest& manifest,
                      const std::string& dest, const std::string& only_path,
                      const std::function<bool(uint64_t, uint64_t)>& progress) override;

  // Blob sessions are the server's side of UploadBlob; this client streams whole blobs instead.
  Result<int64_t> BeginBlobUpload(const v1::UploadBlobHeader&) override {
    return ServerSideOnly("BeginBlobUpload");
  }
  Result<int64_t> AppendBlobUpload(const std::string&, const std::string&, int64_t,
                                   std::string_view) override {
    return ServerSideOnly("AppendBlobUpload");
  }
  Result<v1::UploadBlobResponse> CommitBlobUpload(const std::string&, const std::string&) override {
    return ServerSideOnly("CommitBlobUpload");
  }
  Result<v1::GetUploadStatusResponse> GetUploadStatus(
      const v1::GetUploadStatusRequest& r) override {
    return Unary(artifacts_.get(), &v1::ArtifactService::Stub::GetUploadStatus, r);
  }
  Status ReadBlob(const v1::DownloadBlobRequest& r,
                  const std::function<bool(const v1::DownloadBlobResponse&)>& sink) override {
    return ServerStream(artifacts_.get(), &v1::ArtifactService::Stub::DownloadBlob, r, sink);
  }

  // --- Data cache (the server machine's) ---
  // The load runs on the server; a client on another machine then copies the result into its
  // own cache (remote/remote_data.h), else the server's progress is reported once, when done.
  Result<v1::LoadResponse> LoadData(
      const v1::LoadRequest& r, const std::function<bool(uint64_t, uint64_t)>& progress) override {
    MLC_ASSIGN_OR_RETURN(v1::LoadResponse loaded,
                         Unary(data_.get(), &v1::DataService::Stub::Load, r,
                               /*long_running=*/true));
    MLC_ASSIGN_OR_RETURN(v1::LoadResponse local, data_copier_.Localize(r, loaded, progress));
    if (progress) {
      const auto size = static_cast<uint64_t>(local.size_bytes());
      progress(size, size);
    }
    return local;
  }
  Status ReadData(const v1::ReadDataRequest& r,
                  const std::function<bool(const v1::ReadDataResponse&)>& sink) override {
    return ServerStream(data_.get(), &v1::DataService::Stub::ReadData, r, sink);
  }
  Result<v1::ListCacheEntriesResponse> ListCacheEntries(
      const v1::ListCacheEntriesRequest& r) override {
    return Unary(data_.get(), &v1::DataService::Stub::ListCacheEntries, r);
  }
  Result<v1::CacheEntry> PinData(const v1::PinRequest& r) override {
    return Unary(data_.get(), &v1::DataService::Stub::Pin, r);
  }
  Result<v1::CacheEntry> UnpinData(const v1::UnpinRequest& r) override {
    return Unary(data_.get(), &v1::DataService::Stub::Unpin, r);
  }
  Result<v1::EvictResponse> EvictData(const v1::EvictRequest& r) override {
    return Unary(data_.get(), &v1::DataService::Stub::Evict, r);
  }
  Result<v1::PrefetchResponse> PrefetchData(const v1::PrefetchRequest& r) override {
    return Unary(data_.get(), &v1::DataService::Stub::Prefetch, r, /*long_running=*/true);
  }
  Result<v1::CacheStats> GetCacheStats() override {
    return Unary(data_.get(), &v1::DataService::Stub::GetCacheStats, v1::GetCacheStatsRequest());
  }

  // --- Model registry ---
  Result<v1::RegisteredModel> CreateRegisteredModel(const v1::RegisteredModel& model) override {
    v1::CreateRegisteredModelRequest r;
    *r.mutable_model() = model;
    return Unary(registry_.get(), &v1::RegistryService::Stub::CreateRegisteredModel, r);
  }
  Result<v1::RegisteredModel> GetRegisteredModel(const v1::GetRegisteredModelRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::GetRegisteredModel, r);
  }
  Result<v1::ListRegisteredModelsResponse> ListRegisteredModels(
      const v1::ListRegisteredModelsRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::ListRegisteredModels, r);
  }
  Result<v1::RegisteredModel> UpdateRegisteredModel(
      const v1::UpdateRegisteredModelRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::UpdateRegisteredModel, r);
  }
  Result<v1::RegisteredModel> RenameRegisteredModel(
      const v1::RenameRegisteredModelRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::RenameRegisteredModel, r);
  }
  Status DeleteRegisteredModel(const v1::DeleteRegisteredModelRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::DeleteRegisteredModel, r).status();
  }
  Result<v1::ModelVersion> CreateModelVersion(const v1::CreateModelVersionRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::CreateModelVersion, r);
  }
  Result<v1::ModelVersion> FinishModelVersionUpload(
      const v1::FinishModelVersionUploadRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::FinishModelVersionUpload, r);
  }
  Result<v1::ModelVersion> GetModelVersion(const v1::GetModelVersionRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::GetModelVersion, r);
  }
  Result<v1::ListModelVersionsResponse> ListModelVersions(
      const v1::ListModelVersionsRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::ListModelVersions, r);
  }
  Result<v1::ModelVersion> ResolveModelUri(const v1::ResolveModelUriRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::ResolveModelUri, r);
  }
  Result<v1::SetModelAliasResponse> SetModelAlias(const v1::SetModelAliasRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::SetModelAlias, r);
  }
  Result<v1::DeleteModelAliasResponse> DeleteModelAlias(
      const v1::DeleteModelAliasRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::DeleteModelAlias, r);
  }
  Result<v1::ModelVersionLineage> GetModelVersionLineage(
      const v1::GetModelVersionLineageRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::GetModelVersionLineage, r);
  }
  Result<v1::ListModelVersionsBuiltFromResponse> ListModelVersionsBuiltFrom(
      const v1::ListModelVersionsBuiltFromRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::ListModelVersionsBuiltFrom, r);
  }
  Status WatchRegistryEvents(const v1::WatchRegistryEventsRequest& r,
                             const std::function<bool(const v1::RegistryEvent&)>& sink,
                             const std::function<bool()>& keep_watching) override {
    return ServerStream<v1::RegistryEvent>(
        [&](grpc::ClientContext* ctx, StreamReader<v1::RegistryEvent>* reader) {
          registry_->async()->WatchRegistryEvents(ctx, &r, reader);
        },
        sink, keep_watching);
  }
  Result<v1::Webhook> CreateWebhook(const v1::CreateWebhookRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::CreateWebhook, r);
  }
  Result<v1::ListWebhooksResponse> ListWebhooks(const v1::ListWebhooksRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::ListWebhooks, r);
  }
  Status DeleteWebhook(const std::string& id) override {
    v1::DeleteWebhookRequest r;
    r.set_id(id);
    return Unary(registry_.get(), &v1::RegistryService::Stub::DeleteWebhook, r).status();
  }
  Result<v1::WebhookDelivery> TestWebhook(const std::string& id) override {
    v1::TestWebhookRequest r;
    r.set_id(id);
    return Unary(registry_.get(), &v1::RegistryService::Stub::TestWebhook, r,
                 /*long_running=*/true);
  }
  Result<v1::ListWebhookDeliveriesResponse> ListWebhookDeliveries(
      const v1::ListWebhookDeliveriesRequest& r) override {
    return Unary(registry_.get(), &v1::RegistryService::Stub::ListWebhookDeliveries, r);
  }

  // --- Identity ---
  Result<v1::WhoAmIResponse> WhoAmI() override {
    return Unary(auth_.get(), &v1::AuthService::Stub::WhoAmI, v1::WhoAmIRequest());
  }
  Result<v1::CreateTokenResponse> CreateToken(const v1::CreateTokenRequest& r) override {
    return Unary(auth_.get(), &v1::AuthService::Stub::CreateToken, r);
  }
  Result<v1::ListTokensResponse> ListTokens(const v1::ListTokensRequest& r) override {
    return Unary(auth_.get(), &v1::AuthService::Stub::ListTokens, r);
  }
  Status RevokeToken(const std::string& id) override {
    v1::RevokeTokenRequest r;
    r.set_id(id);
    return Unary(auth_.get(), &v1::AuthService::Stub::RevokeToken, r).status();
  }
  Result<v1::RoleBinding> GrantRole(const v1::GrantRoleRequest& r) override {
    return Unary(auth_.get(), &v1::AuthService::Stub::GrantRole, r);
  }
  Status RevokeRole(const v1::RevokeRoleRequest& r) override {
    return Unary(auth_.get(), &v1::AuthService::Stub::RevokeRole, r).status();
  }
  Result<v1::ListRoleBindingsResponse> ListRoleBindings(
      const v1::ListRoleBindingsRequest& r) override {
    return Unary(auth_.get(), &v1::AuthService::Stub::ListRoleBindings, r);
  }

 private:
  Status ServerSideOnly(const char* what) const {
    return UnimplementedError(std::string(what) +
                              " is served by `mlc server`, not by a grpc:// "
                              "client; upload trees with UploadTree");
  }

  // Metadata and deadline of one call; no deadline for streams and long-running calls.
  // A server-streaming call without deadline: every response to `sink` until it returns false
  // (the call is then cancelled, and that is OK) or the stream ends.
  template <typename StubT, typename Req, typename Resp>
  Status ServerStream(
      StubT* stub,
      std::unique_ptr<grpc::ClientReader<Resp>> (StubT::*method)(grpc::ClientContext*, const Req&),
      const Req& request, const std::function<bool(const Resp&)>& sink) const {
    grpc::ClientContext ctx;
    Prepare(&ctx, std::nullopt);
    auto reader = (stub->*method)(&ctx, request);
    Resp chunk;
    while (reader->Read(&chunk)) {
      if (!sink(chunk)) {
        ctx.TryCancel();
        reader->Finish().ok();  // CANCELLED by us
        return Status::Ok();
      }
    }
    return FromGrpc(reader->Finish(), target_);
  }

  void Prepare(grpc::ClientContext* ctx, std::optional<milliseconds> timeout) const {
    if (timeout) ctx->set_deadline(std::chrono::system_clock::now() + *timeout);
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
    // gRPC aborts on a metadata value it cannot send; a name that is not printable ASCII is
    // left out (the server then records its own user).
    const std::string user = util::CurrentUser();
    if (!user.empty() &&
        std::all_of(user.begin(), user.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
      ctx->AddMetadata("mlc-user", user);
    }
  }

  template <typename Stub, typename Req, typename Resp>
  Result<Resp> Unary(Stub* stub,
                     grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                     const Req& request, bool long_running = false) {
    grpc::ClientContext ctx;
    Prepare(&ctx, long_running ? std::optional<milliseconds>() : timeout_);
    Resp response;
    grpc::Status status = (stub->*method)(&ctx, request, &response);
    if (!status.ok()) return FromGrpc(status, target_);
    return response;
  }

  template <typename Resp>
  Status ServerStream(const std::function<void(grpc::ClientContext*, StreamReader<Resp>*)>& start,
                      const std::function<bool(const Resp&)>& sink,
                      const std::function<bool()>& keep_going) {
    grpc::ClientContext ctx;
    Prepare(&ctx, std::nullopt);
    StreamReader<Resp> reader;
    start(&ctx, &reader);
    reader.Start();
    Resp message;
    bool stopped = false;
    while (true) {
      int got = reader.Next(&message, milliseconds(100));
      if (got < 0) break;
      if (got > 0 && sink(message)) continue;
      if (got > 0 || (keep_going && !keep_going())) {
        stopped = true;
        ctx.TryCancel();
        break;
      }
    }
    reader.Release();
    grpc::Status status = reader.Wait();
    if (stopped) return Status::Ok();
    return FromGrpc(status, target_);
  }

  const std::string target_;
  const milliseconds timeout_;
  const std::string token_;
  std::unique_ptr<v1::SystemService::Stub> system_;
  std::unique_ptr<v1::ProjectService::Stub> projects_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::SchedulingService::Stub> scheduling_;
  std::unique_ptr<v1::TrackingService::Stub> tracking_;
  std::unique_ptr<v1::ArtifactService::Stub> artifacts_;
  std::unique_ptr<v1::DataService::Stub> data_;
  // Copies of loaded data for a client on another machine than the server.
  remote::RemoteDataCopier data_copier_{
      [this](const v1::ReadDataRequest& r,
             const std::function<bool(const v1::ReadDataResponse&)>& sink) {
        return ReadData(r, sink);
      }};
  std::unique_ptr<v1::RegistryService::Stub> registry_;
  std::unique_ptr<v1::AuthService::Stub> auth_;
  std::unique_ptr<v1::PipelineService::Stub> pipelines_;
  std::unique_ptr<IngestStream> ingest_;  // after tracking_, which it borrows
  std::once_flag digests_once_;
  std::unique_ptr<artifacts::DigestCache> digests_;  // opened by the first UploadTree
  std::mutex info_mu_;
  std::optional<v1::BackendInfo> info_;
};

Result<v1::Manifest> GrpcBackend::UploadTree(
    const std::string& project, const std::string& local_path,
    const std::function<bool(uint64_t, uint64_t)>& progress) {
  std::call_once(digests_once_, [this] {
    digests_ = artifacts::DigestCache::Open(artifacts::DigestCache::DefaultPath());
  });
  UploadChannel channel;
  channel.stub = artifacts_.get();
  channel.prepare = [this](grpc::ClientContext* ctx, bool unary) {
    Prepare(ctx, unary ? std::optional<milliseconds>(timeout_) : std::nullopt);
  };
  channel.target = target_;
  return UploadTreeToServer(channel, project, local_path, progress, *digests_);
}

Status GrpcBackend::DownloadTree(const std::string& project, const v1::Manifest& manifest,
                                 const std::string& dest, const std::string& only_path,
                                 const std::function<bool(uint64_t, uint64_t)>& progress) {
  artifacts::MaterializeOptions options;
  options.only_path = only_path;
  options.progress = progress;
  return artifacts::Materialize(
      manifest,
      [&](const v1::ManifestEntry& entry, const std::function<Status(std::string_view)>& write) {
        v1::DownloadBlobRequest r;
        r.set_project(project);
        r.set_digest(entry.digest());
        Status written = Status::Ok();
        Status read = ReadBlob(r, [&](const v1::DownloadBlobResponse& chunk) {
          written = write(chunk.data());
          return written.ok();
        });
        MLC_RETURN_IF_ERROR(written);
        return read;
      },
      dest, options);
}

}  // namespace

std::unique_ptr<Backend> GrpcBackendOnChannel(const std::string& target,
                                              const std::shared_ptr<grpc::Channel>& channel,
                                              const std::string& token) {
  return std::make_unique<GrpcBackend>(target, channel, milliseconds(60000), token);
}

Result<std::unique_ptr<Backend>> OpenGrpcBackend(const Uri& uri) {
  std::string address;
  std::string target;
  if (uri.scheme == "grpc" || uri.scheme == "grpcs") {
    if (uri.authority.empty() || (!uri.path.empty() && uri.path != "/")) {
      return InvalidArgumentError("\"" + uri.Redacted() + "\" must look like " + uri.scheme +
                                  "://HOST:PORT (e.g. " + uri.scheme + "://127.0.0.1:7070)");
    }
    address = uri.authority;
    target = uri.scheme + "://" + uri.authority;
  } else {  // grpc+unix
    std::string path = uri.authority.empty() ? uri.path : "/" + uri.authority + uri.path;
    if (path.empty() || path[0] != '/') {
      return InvalidArgumentError("\"" + uri.Redacted() +
                                  "\" must look like grpc+unix:///absolute/path.sock");
    }
    address = "unix://" + path;
    target = "grpc+unix://" + path;
  }
  milliseconds timeout(60000);
  std::string token = util::GetEnv("MLC_TOKEN");
  // TLS (grpcs://): CA bundle, client certificate and key, and the name to verify, from the URI's
  // query or the environment; without a CA, the system's roots.
  std::string ca_file = util::GetEnv("MLC_TLS_CA");
  std::string cert_file = util::GetEnv("MLC_TLS_CERT");
  std::string key_file = util::GetEnv("MLC_TLS_KEY");
  std::string server_name;
  for (const auto& [key, value] : uri.query) {
    if (key == "timeout_ms") {
      char* end = nullptr;
      long ms = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || ms <= 0) {
        return InvalidArgumentError("timeout_ms in \"" + uri.Redacted() +
                                    "\" must be a positive number of milliseconds");
      }
      timeout = milliseconds(ms);
    } else if (key == "token") {
      token = value;
    } else if (uri.scheme == "grpcs" && key == "ca") {
      ca_file = value;
    } else if (uri.scheme == "grpcs" && key == "cert") {
      cert_file = value;
    } else if (uri.scheme == "grpcs" && key == "key") {
      key_file = value;
    } else if (uri.scheme == "grpcs" && key == "server_name") {
      server_name = value;
    } else {
      return InvalidArgumentError("unknown key \"" + key + "\" in \"" + uri.Redacted() +
                                  "\"; known keys: timeout_ms, token" +
                                  (uri.scheme == "grpcs" ? ", ca, cert, key, server_name" : ""));
    }
  }
  if (token.empty()) {
    MLC_ASSIGN_OR_RETURN(token, LoadToken(target));
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (uri.scheme == "grpcs") {
    grpc::SslCredentialsOptions ssl;
    auto read = [](const std::string& file, const char* what) -> Result<std::string> {
      auto text = util::ReadFile(util::AbsolutePath(file));
      if (!text.ok()) {
        return InvalidArgumentError(std::string("cannot read the TLS ") + what + " " + file + ": " +
                                    text.status().message());
      }
      return text;
    };
    if (!ca_file.empty()) {
      MLC_ASSIGN_OR_RETURN(ssl.pem_root_certs, read(ca_file, "CA bundle"));
    }
    if (cert_file.empty() != key_file.empty()) {
      return InvalidArgumentError("a TLS client certificate needs both cert and key");
    }
    if (!cert_file.empty()) {
      MLC_ASSIGN_OR_RETURN(ssl.pem_cert_chain, read(cert_file, "client certificate"));
      MLC_ASSIGN_OR_RETURN(ssl.pem_private_key, read(key_file, "client key"));
    }
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfig());
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, -1);  // metric histories can be large
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // Reconnect soon after a server restart (gRPC's defaults back off from 1 s to 2 min), within
  // the window the retry policy above waits for an idempotent call (0.2 + 0.4 + 0.8 + 1.6 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);  // < the retries' 3 s window
  // gRPC core reads this one as the least time a connection attempt is given (its
  // MIN_CONNECT_TIMEOUT), not as a spacing: at 100 ms, a handshake with a busy server failed
  // ("tcp handshaker shutdown", UNAVAILABLE) though the server was up. A dead server still
  // answers at once (connection refused).
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20000);
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  auto channel = grpc::CreateCustomChannel(address, credentials, args);
  return std::unique_ptr<Backend>(
      std::make_unique<GrpcBackend>(target, std::move(channel), timeout, std::move(token)));
}

}  // namespace mlcore::remote
