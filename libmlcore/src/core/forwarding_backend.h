// A Backend that passes every call to another backend. Backends that replace a few operations and
// delegate the rest (slurm+http:// keeps projects, tracking, artifacts, data and the registry in
// an embedded local store) derive from it and override what they do themselves.
//
// Ownership: owns the inner backend. Thread safety: as the inner backend.
#pragma once

#include <memory>
#include <utility>

#include "mlcore/backend.h"

namespace mlcore {

class ForwardingBackend : public Backend {
 public:
  explicit ForwardingBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

  v1::BackendInfo Info() override { return inner_->Info(); }
  Result<v1::Project> CreateProject(const v1::Project& project) override {
    return inner_->CreateProject(project);
  }
  Result<v1::Project> GetProject(const std::string& name) override {
    return inner_->GetProject(name);
  }
  Result<v1::ListProjectsResponse> ListProjects(const v1::ListProjectsRequest& request) override {
    return inner_->ListProjects(request);
  }
  Status DeleteProject(const std::string& name) override { return inner_->DeleteProject(name); }
  Result<v1::Job> SubmitJob(const JobSubmission& submission) override {
    return inner_->SubmitJob(submission);
  }
  Result<v1::Job> GetJob(const v1::GetJobRequest& request) override {
    return inner_->GetJob(request);
  }
  Result<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request) override {
    return inner_->ListJobs(request);
  }
  Status StreamJobLogs(const v1::StreamJobLogsRequest& request,
                       const std::function<bool(const v1::LogLine&)>& sink,
                       const std::function<bool()>& keep_following) override {
    return inner_->StreamJobLogs(request, sink, keep_following);
  }
  Result<v1::Job> CancelJob(const v1::CancelJobRequest& request) override {
    return inner_->CancelJob(request);
  }
  Result<v1::Job> PreemptJob(const v1::PreemptJobRequest& request) override {
    return inner_->PreemptJob(request);
  }
  Result<v1::ListFlavorsResponse> ListFlavors(const v1::ListFlavorsRequest& request) override {
    return inner_->ListFlavors(request);
  }
  Result<v1::ListNodesResponse> ListNodes(const v1::ListNodesRequest& request) override {
    return inner_->ListNodes(request);
  }
  Result<v1::ListPriorityClassesResponse> ListPriorityClasses() override {
    return inner_->ListPriorityClasses();
  }
  Result<v1::GetQuotaUsageResponse> GetQuotaUsage(
      const v1::GetQuotaUsageRequest& request) override {
    return inner_->GetQuotaUsage(request);
  }
  Result<v1::Experiment> CreateExperiment(const v1::Experiment& experiment) override {
    return inner_->CreateExperiment(experiment);
  }
  Result<v1::Experiment> GetExperiment(const v1::GetExperimentRequest& request) override {
    return inner_->GetExperiment(request);
  }
  Result<v1::ListExperimentsResponse> ListExperiments(
      const v1::ListExperimentsRequest& request) override {
    return inner_->ListExperiments(request);
  }
  Result<v1::Run> CreateRun(const v1::CreateRunRequest& request) override {
    return inner_->CreateRun(request);
  }
  Result<v1::Run> GetRun(const v1::GetRunRequest& request) override {
    return inner_->GetRun(request);
  }
  Result<v1::Run> UpdateRun(const v1::UpdateRunRequest& request) override {
    return inner_->UpdateRun(request);
  }
  Status DeleteRun(const v1::DeleteRunRequest& request) override {
    return inner_->DeleteRun(request);
  }
  Result<v1::Run> SetRunTags(const v1::SetRunTagsRequest& request) override {
    return inner_->SetRunTags(request);
  }
  Result<v1::SearchRunsResponse> SearchRuns(const v1::SearchRunsRequest& request) override {
    return inner_->SearchRuns(request);
  }
  Result<v1::LogBatchResponse> LogBatch(const v1::MetricBatch& batch) override {
    return inner_->LogBatch(batch);
  }
  Result<v1::GetMetricHistoryResponse> GetMetricHistory(
      const v1::GetMetricHistoryRequest& request) override {
    return inner_->GetMetricHistory(request);
  }
  Result<v1::TrackingPolicy> GetTrackingPolicy(const std::string& project) override {
    return inner_->GetTrackingPolicy(project);
  }
  Result<v1::TrackingPolicy> UpdateTrackingPolicy(const v1::TrackingPolicy& policy) override {
    return inner_->UpdateTrackingPolicy(policy);
  }
  Result<v1::ApplyRetentionResponse> ApplyRetention(
      const v1::ApplyRetentionRequest& request) override {
    return inner_->ApplyRetention(request);
  }
  Result<v1::FindMissingBlobsResponse> FindMissingBlobs(
      const v1::FindMissingBlobsRequest& request) override {
    return inner_->FindMissingBlobs(request);
  }
  Result<v1::Manifest> PutManifest(const v1::PutManifestRequest& request) override {
    return inner_->PutManifest(request);
  }
  Result<v1::Manifest> GetManifest(const v1::GetManifestRequest& request) override {
    return inner_->GetManifest(request);
  }
  Result<v1::Artifact> CreateArtifact(const v1::Artifact& artifact) override {
    return inner_->CreateArtifact(artifact);
  }
  Result<v1::Artifact> GetArtifact(const std::string& id) override {
    return inner_->GetArtifact(id);
  }
  Result<v1::ListArtifactsResponse> ListArtifacts(
      const v1::ListArtifactsRequest& request) override {
    return inner_->ListArtifacts(request);
  }
  Status DeleteArtifact(const std::string& id) override { return inner_->DeleteArtifact(id); }
  Status RecordArtifactUse(const v1::RecordArtifactUseRequest& request) override {
    return inner_->RecordArtifactUse(request);
  }
  Result<v1::ArtifactLineage> GetLineage(const std::string& artifact_id) override {
    return inner_->GetLineage(artifact_id);
  }
  Result<v1::GarbageCollectionReport> CollectGarbage(
      const v1::CollectGarbageRequest& request) override {
    return inner_->CollectGarbage(request);
  }
  Result<v1::Manifest> UploadTree(
      const std::string& project, const std::string& local_path,
      const std::function<bool(uint64_t, uint64_t)>& progress) override {
    return inner_->UploadTree(project, local_path, progress);
  }
  Status DownloadTree(const std::string& project, const v1::Manifest& manifest,
                      const std::string& dest, const std::string& only_path,
                      const std::function<bool(uint64_t, uint64_t)>& progress) override {
    return inner_->DownloadTree(project, manifest, dest, only_path, progress);
  }
  Result<int64_t> BeginBlobUpload(const v1::UploadBlobHeader& header) override {
    return inner_->BeginBlobUpload(header);
  }
  Result<int64_t> AppendBlobUpload(const std::string& project, const std::string& upload_id,
                                   int64_t offset, std::string_view bytes) override {
    return inner_->AppendBlobUpload(project, upload_id, offset, bytes);
  }
  Result<v1::UploadBlobResponse> CommitBlobUpload(const std::string& project,
                                                  const std::string& upload_id) override {
    return inner_->CommitBlobUpload(project, upload_id);
  }
  Result<v1::GetUploadStatusResponse> GetUploadStatus(
      const v1::GetUploadStatusRequest& request) override {
    return inner_->GetUploadStatus(request);
  }
  Status ReadBlob(const v1::DownloadBlobRequest& request,
                  const std::function<bool(const v1::DownloadBlobResponse&)>& sink) override {
    return inner_->ReadBlob(request, sink);
  }
  Result<v1::LoadResponse> LoadData(
      const v1::LoadRequest& request,
      const std::function<bool(uint64_t, uint64_t)>& progress) override {
    return inner_->LoadData(request, progress);
  }
  Status ReadData(const v1::ReadDataRequest& request,
                  const std::function<bool(const v1::ReadDataResponse&)>& sink) override {
    return inner_->ReadData(request, sink);
  }
  Result<v1::ListCacheEntriesResponse> ListCacheEntries(
      const v1::ListCacheEntriesRequest& request) override {
    return inner_->ListCacheEntries(request);
  }
  Result<v1::CacheEntry> PinData(const v1::PinRequest& request) override {
    return inner_->PinData(request);
  }
  Result<v1::CacheEntry> UnpinData(const v1::UnpinRequest& request) override {
    return inner_->UnpinData(request);
  }
  Result<v1::EvictResponse> EvictData(const v1::EvictRequest& request) override {
    return inner_->EvictData(request);
  }
  Result<v1::PrefetchResponse> PrefetchData(const v1::PrefetchRequest& request) override {
    return inner_->PrefetchData(request);
  }
  Result<v1::CacheStats> GetCacheStats() override { return inner_->GetCacheStats(); }
  Result<v1::RegisteredModel> CreateRegisteredModel(const v1::RegisteredModel& model) override {
    return inner_->CreateRegisteredModel(model);
  }
  Result<v1::RegisteredModel> GetRegisteredModel(
      const v1::GetRegisteredModelRequest& request) override {
    return inner_->GetRegisteredModel(request);
  }
  Result<v1::ListRegisteredModelsResponse> ListRegisteredModels(
      const v1::ListRegisteredModelsRequest& request) override {
    return inner_->ListRegisteredModels(request);
  }
  Result<v1::RegisteredModel> UpdateRegisteredModel(
      const v1::UpdateRegisteredModelRequest& request) override {
    return inner_->UpdateRegisteredModel(request);
  }
  Result<v1::RegisteredModel> RenameRegisteredModel(
      const v1::RenameRegisteredModelRequest& request) override {
    return inner_->RenameRegisteredModel(request);
  }
  Status DeleteRegisteredModel(const v1::DeleteRegisteredModelRequest& request) override {
    return inner_->DeleteRegisteredModel(request);
  }
  Result<v1::ModelVersion> CreateModelVersion(
      const v1::CreateModelVersionRequest& request) override {
    return inner_->CreateModelVersion(request);
  }
  Result<v1::ModelVersion> FinishModelVersionUpload(
      const v1::FinishModelVersionUploadRequest& request) override {
    return inner_->FinishModelVersionUpload(request);
  }
  Result<v1::ModelVersion> GetModelVersion(const v1::GetModelVersionRequest& request) override {
    return inner_->GetModelVersion(request);
  }
  Result<v1::ListModelVersionsResponse> ListModelVersions(
      const v1::ListModelVersionsRequest& request) override {
    return inner_->ListModelVersions(request);
  }
  Result<v1::ModelVersion> ResolveModelUri(const v1::ResolveModelUriRequest& request) override {
    return inner_->ResolveModelUri(request);
  }
  Result<v1::SetModelAliasResponse> SetModelAlias(
      const v1::SetModelAliasRequest& request) override {
    return inner_->SetModelAlias(request);
  }
  Result<v1::DeleteModelAliasResponse> DeleteModelAlias(
      const v1::DeleteModelAliasRequest& request) override {
    return inner_->DeleteModelAlias(request);
  }
  Result<v1::ModelVersionLineage> GetModelVersionLineage(
      const v1::GetModelVersionLineageRequest& request) override {
    return inner_->GetModelVersionLineage(request);
  }
  Result<v1::ListModelVersionsBuiltFromResponse> ListModelVersionsBuiltFrom(
      const v1::ListModelVersionsBuiltFromRequest& request) override {
    return inner_->ListModelVersionsBuiltFrom(request);
  }
  Status WatchRegistryEvents(const v1::WatchRegistryEventsRequest& request,
                             const std::function<bool(const v1::RegistryEvent&)>& sink,
                             const std::function<bool()>& keep_watching) override {
    return inner_->WatchRegistryEvents(request, sink, keep_watching);
  }
  Result<v1::Webhook> CreateWebhook(const v1::CreateWebhookRequest& request) override {
    return inner_->CreateWebhook(request);
  }
  Result<v1::ListWebhooksResponse> ListWebhooks(const v1::ListWebhooksRequest& request) override {
    return inner_->ListWebhooks(request);
  }
  Status DeleteWebhook(const std::string& id) override { return inner_->DeleteWebhook(id); }
  Result<v1::WebhookDelivery> TestWebhook(const std::string& id) override {
    return inner_->TestWebhook(id);
  }
  Result<v1::ListWebhookDeliveriesResponse> ListWebhookDeliveries(
      const v1::ListWebhookDeliveriesRequest& request) override {
    return inner_->ListWebhookDeliveries(request);
  }

  // Identity: as the inner backend.
  Result<v1::WhoAmIResponse> WhoAmI() override { return inner_->WhoAmI(); }

 protected:
  Backend& inner() { return *inner_; }

 private:
  std::unique_ptr<Backend> inner_;
};

}  // namespace mlcore
