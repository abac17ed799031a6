// Client's pipeline runs (the lint is in client_jobs.cc) and the Backend defaults for them.
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/job_spec.h"
#include "core/validation.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "pipelines/pipeline_store.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore {
namespace {

Status NotServed(Backend& backend) {
  return UnimplementedError("this backend (" + backend.Info().scheme() +
                            "://) does not run pipelines; use local://, an `mlc server` "
                            "(grpc://) or slurm+http://");
}

}  // namespace

Result<v1::PipelineRun> Backend::RunPipeline(const v1::RunPipelineRequest&, const std::string&) {
  return NotServed(*this);
}
Result<v1::PipelineRun> Backend::GetPipelineRun(const v1::GetPipelineRunRequest&) {
  return NotServed(*this);
}
Result<v1::ListPipelineRunsResponse> Backend::ListPipelineRuns(const v1::ListPipelineRunsRequest&) {
  return NotServed(*this);
}
Result<v1::PipelineRun> Backend::CancelPipelineRun(const v1::CancelPipelineRunRequest&) {
  return NotServed(*this);
}
Result<v1::PipelineRun> Backend::ResumePipelineRun(const v1::ResumePipelineRunRequest&) {
  return NotServed(*this);
}

Result<v1::PipelineRun> Client::RunPipeline(const v1::RunPipelineRequest& request,
                                            const std::string& text, const std::string& file,
                                            const std::string& user) {
  v1::LintPipelineRequest lint;
  if (request.has_spec()) {
    *lint.mutable_spec() = request.spec();
  } else if (!text.empty()) {
    lint.set_text(text);
  } else {
    return InvalidArgumentError("no pipeline given: pass its spec, or its YAML/JSON text");
  }
  lint.set_file(file);
  MLC_ASSIGN_OR_RETURN(v1::LintPipelineResponse linted, LintPipeline(lint));
  std::vector<v1::LintProblem> problems(linted.problems().begin(), linted.problems().end());
  MLC_RETURN_IF_ERROR(LintProblemsToStatus(problems));
  v1::RunPipelineRequest resolved = request;
  if (resolved.request_id().empty()) resolved.set_request_id(util::RandomUuid());
  if (resolved.environment().empty()) {
    for (auto& [name, value] : BaseEnvironment()) (*resolved.mutable_environment())[name] = value;
  }
  *resolved.mutable_spec() = linted.resolved_spec();
  MLC_ASSIGN_OR_RETURN(std::string project,
                       ProjectOrDefault(resolved.spec().project(), "the pipeline"));
  resolved.mutable_spec()->set_project(project);
  // Relative working directories (and unset ones) start where the run was started, as for jobs.
  auto anchor = [](v1::Step* step) {
    if (step->job().working_dir().empty()) {
      std::error_code ec;
      step->mutable_job()->set_working_dir(std::filesystem::current_path(ec).string());
    } else {
      step->mutable_job()->set_working_dir(util::AbsolutePath(step->job().working_dir()));
    }
  };
  for (auto& step : *resolved.mutable_spec()->mutable_steps()) anchor(&step);
  if (resolved.spec().has_exit_handler()) anchor(resolved.mutable_spec()->mutable_exit_handler());
  return backend_->RunPipeline(resolved, user.empty() ? util::CurrentUser() : user);
}

Result<v1::PipelineRun> Client::GetPipelineRun(std::string_view id) {
  if (id.empty()) return InvalidArgumentError("no pipeline run id given");
  v1::GetPipelineRunRequest request;
  request.set_id(std::string(id));
  return backend_->GetPipelineRun(request);
}

Result<v1::ListPipelineRunsResponse> Client::ListPipelineRuns(
    const v1::ListPipelineRunsRequest& request) {
  if (!request.project().empty()) MLC_RETURN_IF_ERROR(ValidateProjectName(request.project()));
  if (request.page_size() < 0) return InvalidArgumentError("page_size must not be negative");
  return backend_->ListPipelineRuns(request);
}

Result<v1::PipelineRun> Client::CancelPipelineRun(std::string_view id, std::string_view reason) {
  if (id.empty()) return InvalidArgumentError("no pipeline run id given");
  v1::CancelPipelineRunRequest request;
  request.set_id(std::string(id));
  request.set_reason(std::string(reason));
  return backend_->CancelPipelineRun(request);
}

Result<v1::PipelineRun> Client::ResumePipelineRun(std::string_view id, bool disable_cache) {
  if (id.empty()) return InvalidArgumentError("no pipeline run id given");
  v1::ResumePipelineRunRequest request;
  request.set_id(std::string(id));
  request.set_disable_cache(disable_cache);
  return backend_->ResumePipelineRun(request);
}

Result<v1::PipelineRun> Client::WaitPipelineRun(
    std::string_view id, std::chrono::milliseconds timeout,
    const std::function<void(const v1::PipelineRun&)>& on_change) {
  const auto start = std::chrono::steady_clock::now();
  std::string last;
  auto poll = std::chrono::milliseconds(10);
  while (true) {
    MLC_ASSIGN_OR_RETURN(v1::PipelineRun run, GetPipelineRun(id));
    std::string shape = std::to_string(run.state());
    for (const auto& sr : run.steps()) shape += "," + std::to_string(sr.state());
    if (shape != last) {
      last = shape;
      poll = std::chrono::milliseconds(10);
      if (on_change) on_change(run);
    }
    if (IsFinalPipelineRunState(run.state())) return run;
    if (timeout.count() > 0 && std::chrono::steady_clock::now() - start >= timeout) {
      return DeadlineExceededError("pipeline run " + std::string(id) + " is still " +
                                   std::string(v1::PipelineRunState_Name(run.state())).substr(19) +
                                   " after " + std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(poll);
    poll = std::min(poll * 2, std::chrono::milliseconds(250));
  }
}

}  // namespace mlcore
