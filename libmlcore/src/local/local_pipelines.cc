// LocalBackend's pipeline runs: the PipelineEngine (pipelines/pipeline_engine.h) over this state
// directory, its drivers submitting to this backend.
#include "local/local_backend.h"
#include "pipelines/pipeline_engine.h"

namespace mlcore::local {

Result<v1::PipelineRun> LocalBackend::RunPipeline(const v1::RunPipelineRequest& request,
                                                  const std::string& user) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(request.spec().project()));
  return pipelines_->Run(request, user);
}

Result<v1::PipelineRun> LocalBackend::GetPipelineRun(const v1::GetPipelineRunRequest& request) {
  return pipelines_->Get(request.id());
}

Result<v1::ListPipelineRunsResponse> LocalBackend::ListPipelineRuns(
    const v1::ListPipelineRunsRequest& request) {
  return pipelines_->List(request);
}

Result<v1::PipelineRun> LocalBackend::CancelPipelineRun(
    const v1::CancelPipelineRunRequest& request) {
  return pipelines_->Cancel(request);
}

Result<v1::PipelineRun> LocalBackend::ResumePipelineRun(
    const v1::ResumePipelineRunRequest& request) {
  return pipelines_->Resume(request);
}

}  // namespace mlcore::local
