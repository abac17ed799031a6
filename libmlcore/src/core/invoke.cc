#include "mlcore/invoke.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include "core/schema_files.h"
#include "mlcore/client.h"
#include "mlcore/json.h"

namespace mlcore {
namespace {

using google::protobuf::Message;

// A handler reads its typed request and fills its typed response.
using Handler = std::function<Status(Client&, const Message&, Message*)>;

// Adapts a typed member call `Result<Resp> fn(Client&, const Req&)` into a Handler.
template <typename Req, typename Resp>
Handler Typed(std::function<Result<Resp>(Client&, const Req&)> fn) {
  return [fn = std::move(fn)](Client& client, const Message& request, Message* response) {
    MLC_ASSIGN_OR_RETURN(Resp out, fn(client, static_cast<const Req&>(request)));
    static_cast<Resp*>(response)->Swap(&out);
    return Status::Ok();
  };
}

const std::map<std::string, Handler>& Handlers() {
  static const auto* handlers = new std::map<std::string, Handler>{
      {"mlcore.v1.SystemService/GetBackendInfo",
       Typed<v1::GetBackendInfoRequest, v1::BackendInfo>(
           [](Client& c, const v1::GetBackendInfoRequest&) { return c.GetBackendInfo(); })},
      {"mlcore.v1.ProjectService/CreateProject",
       Typed<v1::CreateProjectRequest, v1::Project>(
           [](Client& c, const v1::CreateProjectRequest& r) {
             return c.CreateProject(r.project());
           })},
      {"mlcore.v1.ProjectService/GetProject",
       Typed<v1::GetProjectRequest, v1::Project>(
           [](Client& c, const v1::GetProjectRequest& r) { return c.GetProject(r.name()); })},
      {"mlcore.v1.ProjectService/ListProjects",
       Typed<v1::ListProjectsRequest, v1::ListProjectsResponse>(
           [](Client& c, const v1::ListProjectsRequest& r) { return c.ListProjects(r); })},
      {"mlcore.v1.ProjectService/DeleteProject",
       Typed<v1::DeleteProjectRequest, v1::DeleteProjectResponse>(
           [](Client& c, const v1::DeleteProjectRequest& r) -> Result<v1::DeleteProjectResponse> {
             MLC_RETURN_IF_ERROR(c.DeleteProject(r.name()));
             return v1::DeleteProjectResponse();
           })},
      {"mlcore.v1.JobService/SubmitJob",
       Typed<v1::SubmitJobRequest, v1::Job>([](Client& c, const v1::SubmitJobRequest& r) {
         return c.SubmitJob(r.spec(), r.request_id());
       })},
      {"mlcore.v1.JobService/GetJob",
       Typed<v1::GetJobRequest, v1::Job>(
           [](Client& c, const v1::GetJobRequest& r) { return c.GetJob(r); })},
      {"mlcore.v1.JobService/ListJobs",
       Typed<v1::ListJobsRequest, v1::ListJobsResponse>(
           [](Client& c, const v1::ListJobsRequest& r) { return c.ListJobs(r); })},
      {"mlcore.v1.JobService/StreamJobLogs",
       // Unary form: every matching line in one response (follow is not available here).
       Typed<v1::StreamJobLogsRequest, v1::StreamJobLogsResponse>(
           [](Client& c, const v1::StreamJobLogsRequest& r) -> Result<v1::StreamJobLogsResponse> {
             if (r.follow()) {
               return InvalidArgumentError(
                   "follow is a streaming call; use `mlc job logs -f`, "
                   "Job.logs(follow=True) or mlc_job_logs");
             }
             v1::StreamJobLogsResponse out;
             MLC_RETURN_IF_ERROR(c.StreamJobLogs(r, [&](const v1::LogLine& line) {
               *out.add_lines() = line;
               return true;
             }));
             return out;
           })},
      {"mlcore.v1.JobService/CancelJob",
       Typed<v1::CancelJobRequest, v1::Job>([](Client& c, const v1::CancelJobRequest& r) {
         return c.CancelJob(r.id(), r.reason());
       })},
      {"mlcore.v1.JobService/PreemptJob",
       Typed<v1::PreemptJobRequest, v1::Job>([](Client& c, const v1::PreemptJobRequest& r) {
         return c.PreemptJob(r.id(), r.reason());
       })},
      {"mlcore.v1.JobService/RerunJob",
       Typed<v1::RerunJobRequest, v1::Job>(
           [](Client& c, const v1::RerunJobRequest& r) { return c.RerunJob(r.id(), r.name()); })},
      {"mlcore.v1.JobService/LintJobSpec",
       Typed<v1::LintJobSpecRequest, v1::LintJobSpecResponse>(
           [](Client& c, const v1::LintJobSpecRequest& r) { return c.LintJobSpec(r); })},
      {"mlcore.v1.PipelineService/LintPipeline",
       Typed<v1::LintPipelineRequest, v1::LintPipelineResponse>(
           [](Client& c, const v1::LintPipelineRequest& r) { return c.LintPipeline(r); })},
      {"mlcore.v1.PipelineService/RunPipeline",
       Typed<v1::RunPipelineRequest, v1::PipelineRun>(
           [](Client& c, const v1::RunPipelineRequest& r) { return c.RunPipeline(r); })},
      {"mlcore.v1.PipelineService/GetPipelineRun",
       Typed<v1::GetPipelineRunRequest, v1::PipelineRun>(
           [](Client& c, const v1::GetPipelineRunRequest& r) { return c.GetPipelineRun(r.id()); })},
      {"mlcore.v1.PipelineService/ListPipelineRuns",
       Typed<v1::ListPipelineRunsRequest, v1::ListPipelineRunsResponse>(
           [](Client& c, const v1::ListPipelineRunsRequest& r) { return c.ListPipelineRuns(r); })},
      {"mlcore.v1.PipelineService/CancelPipelineRun",
       Typed<v1::CancelPipelineRunRequest, v1::PipelineRun>(
           [](Client& c, const v1::CancelPipelineRunRequest& r) {
             return c.CancelPipelineRun(r.id(), r.reason());
           })},
      {"mlcore.v1.PipelineService/ResumePipelineRun",
       Typed<v1::ResumePipelineRunRequest, v1::PipelineRun>(
           [](Client& c, const v1::ResumePipelineRunRequest& r) {
             return c.ResumePipelineRun(r.id(), r.disable_cache());
           })},
      {"mlcore.v1.SchedulingService/ListFlavors",
       Typed<v1::ListFlavorsRequest, v1::ListFlavorsResponse>(
           [](Client& c, const v1::ListFlavorsRequest& r) { return c.ListFlavors(r); })},
      {"mlcore.v1.SchedulingService/ListNodes",
       Typed<v1::ListNodesRequest, v1::ListNodesResponse>(
           [](Client& c, const v1::ListNodesRequest& r) { return c.ListNodes(r); })},
      {"mlcore.v1.SchedulingService/ListPriorityClasses",
       Typed<v1::ListPriorityClassesRequest, v1::ListPriorityClassesResponse>(
           [](Client& c, const v1::ListPriorityClassesRequest&) {
             return c.ListPriorityClasses();
           })},
      {"mlcore.v1.SchedulingService/Simulate",
       Typed<v1::SimulateRequest, v1::SimulateResponse>(
           [](Client& c, const v1::SimulateRequest& r) { return c.Simulate(r); })},
      {"mlcore.v1.SchedulingService/GetQuotaUsage",
       Typed<v1::GetQuotaUsageRequest, v1::GetQuotaUsageResponse>(
           [](Client& c, const v1::GetQuotaUsageRequest& r) { return c.GetQuotaUsage(r); })},
      {"mlcore.v1.ArtifactService/FindMissingBlobs",
       Typed<v1::FindMissingBlobsRequest, v1::FindMissingBlobsResponse>(
           [](Client& c, const v1::FindMissingBlobsRequest& r) { return c.FindMissingBlobs(r); })},
      {"mlcore.v1.ArtifactService/PutManifest",
       Typed<v1::PutManifestRequest, v1::Manifest>(
           [](Client& c, const v1::PutManifestRequest& r) { return c.PutManifest(r); })},
      {"mlcore.v1.ArtifactService/GetManifest",
       Typed<v1::GetManifestRequest, v1::Manifest>(
           [](Client& c, const v1::GetManifestRequest& r) { return c.GetManifest(r); })},
      {"mlcore.v1.ArtifactService/CreateArtifact",
       Typed<v1::CreateArtifactRequest, v1::Artifact>(
           [](Client& c, const v1::CreateArtifactRequest& r) {
             return c.CreateArtifact(r.artifact());
           })},
      {"mlcore.v1.ArtifactService/GetArtifact",
       Typed<v1::GetArtifactRequest, v1::Artifact>(
           [](Client& c, const v1::GetArtifactRequest& r) { return c.GetArtifact(r.id()); })},
      {"mlcore.v1.ArtifactService/ListArtifacts",
       Typed<v1::ListArtifactsRequest, v1::ListArtifactsResponse>(
           [](Client& c, const v1::ListArtifactsRequest& r) { return c.ListArtifacts(r); })},
      {"mlcore.v1.ArtifactService/DeleteArtifact",
       Typed<v1::DeleteArtifactRequest, v1::DeleteArtifactResponse>(
           [](Client& c, const v1::DeleteArtifactRequest& r) -> Result<v1::DeleteArtifactResponse> {
             MLC_RETURN_IF_ERROR(c.DeleteArtifact(r.id()));
             return v1::DeleteArtifactResponse();
           })},
      {"mlcore.v1.ArtifactService/RecordArtifactUse",
       Typed<v1::RecordArtifactUseRequest, v1::RecordArtifactUseResponse>(
           [](Client& c,
              const v1::RecordArtifactUseRequest& r) -> Result<v1::RecordArtifactUseResponse> {
             MLC_RETURN_IF_ERROR(c.RecordArtifactUse(r));
             return v1::RecordArtifactUseResponse();
           })},
      {"mlcore.v1.ArtifactService/GetLineage", Typed<v1::GetLineageRequest, v1::ArtifactLineage>(
                                                   [](Client& c, const v1::GetLineageRequest& r) {
                                                     return c.GetLineage(r.artifact_id());
                                                   })},
      {"mlcore.v1.ArtifactService/CollectGarbage",
       Typed<v1::CollectGarbageRequest, v1::GarbageCollectionReport>(
           [](Client& c, const v1::CollectGarbageRequest& r) { return c.CollectGarbage(r); })},
      {"mlcore.v1.DataService/Load",
       Typed<v1::LoadRequest, v1::LoadResponse>(
           [](Client& c, const v1::LoadRequest& r) { return c.LoadData(r); })},
      {"mlcore.v1.DataService/ListCacheEntries",
       Typed<v1::ListCacheEntriesRequest, v1::ListCacheEntriesResponse>(
           [](Client& c, const v1::ListCacheEntriesRequest& r) { return c.ListCacheEntries(r); })},
      {"mlcore.v1.DataService/Pin",
       Typed<v1::PinRequest, v1::CacheEntry>(
           [](Client& c, const v1::PinRequest& r) { return c.PinData(r); })},
      {"mlcore.v1.DataService/Unpin",
       Typed<v1::UnpinRequest, v1::CacheEntry>(
           [](Client& c, const v1::UnpinRequest& r) { return c.UnpinData(r); })},
      {"mlcore.v1.DataService/Evict",
       Typed<v1::EvictRequest, v1::EvictResponse>(
           [](Client& c, const v1::EvictRequest& r) { return c.EvictData(r); })},
      {"mlcore.v1.DataService/Prefetch",
       Typed<v1::PrefetchRequest, v1::PrefetchResponse>(
           [](Client& c, const v1::PrefetchRequest& r) { return c.PrefetchData(r); })},
      {"mlcore.v1.DataService/GetCacheStats",
       Typed<v1::GetCacheStatsRequest, v1::CacheStats>(
           [](Client& c, const v1::GetCacheStatsRequest&) { return c.GetCacheStats(); })},
      {"mlcore.v1.RegistryService/CreateRegisteredModel",
       Typed<v1::CreateRegisteredModelRequest, v1::RegisteredModel>(
           [](Client& c, const v1::CreateRegisteredModelRequest& r) {
             return c.CreateRegisteredModel(r.model());
           })},
      {"mlcore.v1.RegistryService/GetRegisteredModel",
       Typed<v1::GetRegisteredModelRequest, v1::RegisteredModel>(
           [](Client& c, const v1::GetRegisteredModelRequest& r) {
             return c.GetRegisteredModel(r);
           })},
      {"mlcore.v1.RegistryService/ListRegisteredModels",
       Typed<v1::ListRegisteredModelsRequest, v1::ListRegisteredModelsResponse>(
           [](Client& c, const v1::ListRegisteredModelsRequest& r) {
             return c.ListRegisteredModels(r);
           })},
      {"mlcore.v1.RegistryService/UpdateRegisteredModel",
       Typed<v1::UpdateRegisteredModelRequest, v1::RegisteredModel>(
           [](Client& c, const v1::UpdateRegisteredModelRequest& r) {
             return c.UpdateRegisteredModel(r);
           })},
      {"mlcore.v1.RegistryService/RenameRegisteredModel",
       Typed<v1::RenameRegisteredModelRequest, v1::RegisteredModel>(
           [](Client& c, const v1::RenameRegisteredModelRequest& r) {
             return c.RenameRegisteredModel(r);
           })},
      {"mlcore.v1.RegistryService/DeleteRegisteredModel",
       Typed<v1::DeleteRegisteredModelRequest, v1::DeleteRegisteredModelResponse>(
           [](Client& c, const v1::DeleteRegisteredModelRequest& r)
               -> Result<v1::DeleteRegisteredModelResponse> {
             MLC_RETURN_IF_ERROR(c.DeleteRegisteredModel(r));
             return v1::DeleteRegisteredModelResponse();
           })},
      {"mlcore.v1.RegistryService/CreateModelVersion",
       Typed<v1::CreateModelVersionRequest, v1::ModelVersion>(
           [](Client& c, const v1::CreateModelVersionRequest& r) {
             return c.CreateModelVersion(r);
           })},
      {"mlcore.v1.RegistryService/FinishModelVersionUpload",
       Typed<v1::FinishModelVersionUploadRequest, v1::ModelVersion>(
           [](Client& c, const v1::FinishModelVersionUploadRequest& r) {
             return c.FinishModelVersionUpload(r);
           })},
      {"mlcore.v1.RegistryService/GetModelVersion",
       Typed<v1::GetModelVersionRequest, v1::ModelVersion>(
           [](Client& c, const v1::GetModelVersionRequest& r) { return c.GetModelVersion(r); })},
      {"mlcore.v1.RegistryService/ListModelVersions",
       Typed<v1::ListModelVersionsRequest, v1::ListModelVersionsResponse>(
           [](Client& c, const v1::ListModelVersionsRequest& r) {
             return c.ListModelVersions(r);
           })},
      {"mlcore.v1.RegistryService/ResolveModelUri",
       Typed<v1::ResolveModelUriRequest, v1::ModelVersion>(
           [](Client& c, const v1::ResolveModelUriRequest& r) { return c.ResolveModelUri(r); })},
      {"mlcore.v1.RegistryService/SetModelAlias",
       Typed<v1::SetModelAliasRequest, v1::SetModelAliasResponse>(
           [](Client& c, const v1::SetModelAliasRequest& r) { return c.SetModelAlias(r); })},
      {"mlcore.v1.RegistryService/DeleteModelAlias",
       Typed<v1::DeleteModelAliasRequest, v1::DeleteModelAliasResponse>(
           [](Client& c, const v1::DeleteModelAliasRequest& r) { return c.DeleteModelAlias(r); })},
      {"mlcore.v1.RegistryService/GetModelVersionLineage",
       Typed<v1::GetModelVersionLineageRequest, v1::ModelVersionLineage>(
           [](Client& c, const v1::GetModelVersionLineageRequest& r) {
             return c.GetModelVersionLineage(r);
           })},
      {"mlcore.v1.RegistryService/ListModelVersionsBuiltFrom",
       Typed<v1::ListModelVersionsBuiltFromRequest, v1::ListModelVersionsBuiltFromResponse>(
           [](Client& c, const v1::ListModelVersionsBuiltFromRequest& r) {
             return c.ListModelVersionsBuiltFrom(r);
           })},
      {"mlcore.v1.RegistryService/CreateWebhook",
       Typed<v1::CreateWebhookRequest, v1::Webhook>(
           [](Client& c, const v1::CreateWebhookRequest& r) { return c.CreateWebhook(r); })},
      {"mlcore.v1.RegistryService/ListWebhooks",
       Typed<v1::ListWebhooksRequest, v1::ListWebhooksResponse>(
           [](Client& c, const v1::ListWebhooksRequest& r) { return c.ListWebhooks(r); })},
      {"mlcore.v1.RegistryService/DeleteWebhook",
       Typed<v1::DeleteWebhookRequest, v1::DeleteWebhookResponse>(
           [](Client& c, const v1::DeleteWebhookRequest& r) -> Result<v1::DeleteWebhookResponse> {
             MLC_RETURN_IF_ERROR(c.DeleteWebhook(r.id()));
             return v1::DeleteWebhookResponse();
           })},
      {"mlcore.v1.RegistryService/TestWebhook",
       Typed<v1::TestWebhookRequest, v1::WebhookDelivery>(
           [](Client& c, const v1::TestWebhookRequest& r) { return c.TestWebhook(r.id()); })},
      {"mlcore.v1.RegistryService/ListWebhookDeliveries",
       Typed<v1::ListWebhookDeliveriesRequest, v1::ListWebhookDeliveriesResponse>(
           [](Client& c, const v1::ListWebhookDeliveriesRequest& r) {
             return c.ListWebhookDeliveries(r);
           })},
      {"mlcore.v1.AuthService/WhoAmI",
       Typed<v1::WhoAmIRequest, v1::WhoAmIResponse>(
           [](Client& c, const v1::WhoAmIRequest&) { return c.WhoAmI(); })},
      {"mlcore.v1.AuthService/CreateToken",
       Typed<v1::CreateTokenRequest, v1::CreateTokenResponse>(
           [](Client& c, const v1::CreateTokenRequest& r) { return c.CreateToken(r); })},
      {"mlcore.v1.AuthService/ListTokens",
       Typed<v1::ListTokensRequest, v1::ListTokensResponse>(
           [](Client& c, const v1::ListTokensRequest& r) { return c.ListTokens(r); })},
      {"mlcore.v1.AuthService/RevokeToken",
       Typed<v1::RevokeTokenRequest, v1::RevokeTokenResponse>(
           [](Client& c, const v1::RevokeTokenRequest& r) -> Result<v1::RevokeTokenResponse> {
             MLC_RETURN_IF_ERROR(c.RevokeToken(r.id()));
             return v1::RevokeTokenResponse();
           })},
      {"mlcore.v1.AuthService/GrantRole",
       Typed<v1::GrantRoleRequest, v1::RoleBinding>(
           [](Client& c, const v1::GrantRoleRequest& r) { return c.GrantRole(r); })},
      {"mlcore.v1.AuthService/RevokeRole",
       Typed<v1::RevokeRoleRequest, v1::RevokeRoleResponse>(
           [](Client& c, const v1::RevokeRoleRequest& r) -> Result<v1::RevokeRoleResponse> {
             MLC_RETURN_IF_ERROR(c.RevokeRole(r));
             return v1::RevokeRoleResponse();
           })},
      {"mlcore.v1.AuthService/ListRoleBindings",
       Typed<v1::ListRoleBindingsRequest, v1::ListRoleBindingsResponse>(
           [](Client& c, const v1::ListRoleBindingsRequest& r) { return c.ListRoleBindings(r); })},
      {"mlcore.v1.TrackingService/CreateExperiment",
       Typed<v1::CreateExperimentRequest, v1::Experiment>(
           [](Client& c, const v1::CreateExperimentRequest& r) {
             return c.CreateExperiment(r.experiment());
           })},
      {"mlcore.v1.TrackingService/GetExperiment",
       Typed<v1::GetExperimentRequest, v1::Experiment>(
           [](Client& c, const v1::GetExperimentRequest& r) { return c.GetExperiment(r); })},
      {"mlcore.v1.TrackingService/ListExperiments",
       Typed<v1::ListExperimentsRequest, v1::ListExperimentsResponse>(
           [](Client& c, const v1::ListExperimentsRequest& r) { return c.ListExperiments(r); })},
      {"mlcore.v1.TrackingService/CreateRun",
       Typed<v1::CreateRunRequest, v1::Run>(
           [](Client& c, const v1::CreateRunRequest& r) { return c.CreateRun(r); })},
      {"mlcore.v1.TrackingService/GetRun",
       Typed<v1::GetRunRequest, v1::Run>(
           [](Client& c, const v1::GetRunRequest& r) { return c.GetRun(r.id()); })},
      {"mlcore.v1.TrackingService/UpdateRun",
       Typed<v1::UpdateRunRequest, v1::Run>(
           [](Client& c, const v1::UpdateRunRequest& r) { return c.UpdateRun(r); })},
      {"mlcore.v1.TrackingService/DeleteRun",
       Typed<v1::DeleteRunRequest, v1::DeleteRunResponse>(
           [](Client& c, const v1::DeleteRunRequest& r) -> Result<v1::DeleteRunResponse> {
             MLC_RETURN_IF_ERROR(c.DeleteRun(r.id()));
             return v1::DeleteRunResponse();
           })},
      {"mlcore.v1.TrackingService/SetRunTags",
       Typed<v1::SetRunTagsRequest, v1::Run>(
           [](Client& c, const v1::SetRunTagsRequest& r) { return c.SetRunTags(r); })},
      {"mlcore.v1.TrackingService/SearchRuns",
       Typed<v1::SearchRunsRequest, v1::SearchRunsResponse>(
           [](Client& c, const v1::SearchRunsRequest& r) { return c.SearchRuns(r); })},
      {"mlcore.v1.TrackingService/LogBatch",
       Typed<v1::LogBatchRequest, v1::LogBatchResponse>(
           [](Client& c, const v1::LogBatchRequest& r) { return c.LogBatch(r.batch()); })},
      {"mlcore.v1.TrackingService/GetMetricHistory",
       Typed<v1::GetMetricHistoryRequest, v1::GetMetricHistoryResponse>(
           [](Client& c, const v1::GetMetricHistoryRequest& r) { return c.GetMetricHistory(r); })},
      {"mlcore.v1.TrackingService/GetTrackingPolicy",
       Typed<v1::GetTrackingPolicyRequest, v1::TrackingPolicy>(
           [](Client& c, const v1::GetTrackingPolicyRequest& r) {
             return c.GetTrackingPolicy(r.project());
           })},
      {"mlcore.v1.TrackingService/UpdateTrackingPolicy",
       Typed<v1::UpdateTrackingPolicyRequest, v1::TrackingPolicy>(
           [](Client& c, const v1::UpdateTrackingPolicyRequest& r) {
             return c.UpdateTrackingPolicy(r.policy());
           })},
      {"mlcore.v1.TrackingService/ApplyRetention",
       Typed<v1::ApplyRetentionRequest, v1::ApplyRetentionResponse>(
           [](Client& c, const v1::ApplyRetentionRequest& r) { return c.ApplyRetention(r); })},
  };
  return *handlers;
}

// A streaming handler reads its typed request and passes each response to `emit` (false from
// `emit` stops the stream); `keep_going` is polled while the stream is idle.
using StreamHandler =
    std::function<Status(Client&, const Message&, const std::function<bool(const Message&)>& emit,
                         const std::function<bool()>& keep_going)>;

const std::map<std::string, StreamHandler>& StreamHandlers() {
  static const auto* handlers = new std::map<std::string, StreamHandler>{
      {"mlcore.v1.RegistryService/WatchRegistryEvents",
       [](Client& c, const Message& request, const std::function<bool(const Message&)>& emit,
          const std::function<bool()>& keep_going) {
         return c.WatchRegistryEvents(
             static_cast<const v1::WatchRegistryEventsRequest&>(request),
             [&](const v1::RegistryEvent& e) { return emit(e); }, keep_going);
       }},
      {"mlcore.v1.TrackingService/WatchMetrics",
       [](Client& c, const Message& request, const std::function<bool(const Message&)>& emit,
          const std::function<bool()>& keep_going) {
         return c.WatchMetrics(
             static_cast<const v1::WatchMetricsRequest&>(request),
             [&](const v1::WatchMetricsResponse& r) { return emit(r); }, keep_going);
       }},
      {"mlcore.v1.JobService/WatchJobs",
       [](Client& c, const Message& request, const std::function<bool(const Message&)>& emit,
          const std::function<bool()>& keep_going) {
         return c.WatchJobs(
             static_cast<const v1::WatchJobsRequest&>(request),
             [&](const v1::WatchJobsResponse& r) { return emit(r); }, keep_going);
       }},
      {"mlcore.v1.JobService/StreamJobLogs",
       // One response per line, following when the request says so.
       [](Client& c, const Message& request, const std::function<bool(const Message&)>& emit,
          const std::function<bool()>& keep_going) {
         v1::StreamJobLogsResponse one;
         return c.StreamJobLogs(
             static_cast<const v1::StreamJobLogsRequest&>(request),
             [&](const v1::LogLine& line) {
               one.clear_lines();
               *one.add_lines() = line;
               return emit(one);
             },
             keep_going);
       }},
      {"mlcore.v1.DataService/ReadData",
       [](Client& c, const Message& request, const std::function<bool(const Message&)>& emit,
          const std::function<bool()>& keep_going) {
         return c.ReadData(
             static_cast<const v1::ReadDataRequest&>(request),
             [&](const v1::ReadDataResponse& chunk) { return keep_going() && emit(chunk); });
       }},
  };
  return *handlers;
}

}  // namespace

Result<const google::protobuf::MethodDescriptor*> FindMethod(std::string_view name) {
  EnsureSchemaLinked();
  auto slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size()) {
    return InvalidArgumentError("method \"" + std::string(name) +
                                "\" must look like \"mlcore.v1.ProjectService/ListProjects\"");
  }
  std::string service_name(name.substr(0, slash));
  if (service_name.find('.') == std::string::npos) service_name = "mlcore.v1." + service_name;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* service = pool->FindServiceByName(service_name);
  if (service == nullptr) {
    std::string known;
    for (const auto& method : InvokableMethods()) {
      std::string svc = method.substr(0, method.find('/'));
      if (known.find(svc) == std::string::npos) known += (known.empty() ? "" : ", ") + svc;
    }
    return NotFoundError("unknown service \"" + service_name + "\"; services: " + known);
  }
  const auto* method = service->FindMethodByName(std::string(name.substr(slash + 1)));
  if (method == nullptr) {
    std::string known;
    for (int i = 0; i < service->method_count(); ++i) {
      known += (i == 0 ? "" : ", ") + service->method(i)->name();
    }
    return NotFoundError("service " + service_name + " has no method \"" +
                         std::string(name.substr(slash + 1)) + "\"; its methods: " + known);
  }
  return method;
}

Result<std::unique_ptr<Message>> Invoke(Client& client,
                                        const google::protobuf::MethodDescriptor* method,
                                        const Message& request) {
  std::string full = method->service()->full_name() + "/" + method->name();
  auto it = Handlers().find(full);
  if (it == Handlers().end() && StreamHandlers().contains(full)) {
    return InvalidArgumentError("method " + full +
                                " streams its responses; call it with `mlc api stream`, "
                                "Client.invoke_stream (Python) or mlc_invoke_stream (C)");
  }
  if (it == Handlers().end() &&
      (full == "mlcore.v1.JobService/ExecJob" || full == "mlcore.v1.JobService/PortForward")) {
    // Both directions flow at once: no JSON-in, JSON-out call can carry them.
    return UnimplementedError("method " + full +
                              " is bidirectional and has no JSON form; use `mlc job exec` / "
                              "`mlc job port-forward`, Job.exec (Python) or Client::ExecJob / "
                              "Client::PortForward (C++)");
  }
  if (it == Handlers().end()) {
    return UnimplementedError("method " + full +
                              " is part of the v1 API but this mlcore build does not serve it "
                              "yet; see `mlc api methods` for the methods it serves");
  }
  if (request.GetDescriptor() != method->input_type()) {
    return InvalidArgumentError("method " + full + " takes " + method->input_type()->full_name() +
                                ", not " + request.GetDescriptor()->full_name());
  }
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  std::unique_ptr<Message> response(factory->GetPrototype(method->output_type())->New());
  MLC_RETURN_IF_ERROR(it->second(client, request, response.get()));
  return response;
}

Result<std::string> InvokeJson(Client& client, std::string_view method_name,
                               std::string_view request_json, const JsonOptions& options) {
  MLC_ASSIGN_OR_RETURN(const auto* method, FindMethod(method_name));
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  std::unique_ptr<Message> request(factory->GetPrototype(method->input_type())->New());
  MLC_RETURN_IF_ERROR(FromJson(request_json, request.get()));
  MLC_ASSIGN_OR_RETURN(auto response, Invoke(client, method, *request));
  return ToJson(*response, options);
}

Status InvokeStream(Client& client, const google::protobuf::MethodDescriptor* method,
                    const Message& request, const std::function<bool(const Message&)>& emit,
                    const std::function<bool()>& keep_going) {
  std::string full = method->service()->full_name() + "/" + method->name();
  auto it = StreamHandlers().find(full);
  if (it == StreamHandlers().end()) {
    // A unary method: its one response.
    MLC_ASSIGN_OR_RETURN(auto response, Invoke(client, method, request));
    emit(*response);
    return Status::Ok();
  }
  if (request.GetDescriptor() != method->input_type()) {
    return InvalidArgumentError("method " + full + " takes " + method->input_type()->full_name() +
                                ", not " + request.GetDescriptor()->full_name());
  }
  return it->second(client, request, emit, keep_going);
}

Status InvokeStreamJson(Client& client, std::string_view method_name, std::string_view request_json,
                        const std::function<bool(const std::string&)>& sink,
                        const std::function<bool()>& keep_going, const JsonOptions& options) {
  MLC_ASSIGN_OR_RETURN(const auto* method, FindMethod(method_name));
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  std::unique_ptr<Message> request(factory->GetPrototype(method->input_type())->New());
  MLC_RETURN_IF_ERROR(FromJson(request_json, request.get()));
  return InvokeStream(
      client, method, *request, [&](const Message& m) { return sink(ToJson(m, options)); },
      keep_going);
}

std::vector<std::string> InvokableMethods() {
  std::vector<std::string> out;
  for (const auto& [name, handler] : Handlers()) out.push_back(name);
  for (const auto& [name, handler] : StreamHandlers()) {
    if (!Handlers().contains(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mlcore
