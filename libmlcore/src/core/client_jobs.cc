// Client: jobs and scheduling facts. What depends on the submitter (working directory,
// environment, git state, secret values) is gathered here, once, for every backend.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <sys/stat.h>
#include <thread>

#include "core/job_spec.h"
#include "core/validation.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "mlcore/jobs.h"
#include "mlcore/scheduling.h"
#include "pipelines/pipeline_spec.h"
#include "util/fs.h"
#include "util/sha256.h"
#include "util/subprocess.h"

extern char** environ;

namespace mlcore {
namespace {

// Variables of the submitter's environment a job inherits (the "minimal base environment").
bool IsBaseEnvironmentVariable(std::string_view name) {
  static constexpr std::string_view kNames[] = {"PATH",
                                                "HOME",
                                                "USER",
                                                "LOGNAME",
                                                "SHELL",
                                                "LANG",
                                                "LANGUAGE",
                                                "TZ",
                                                "TMPDIR",
                                                "TERM",
                                                "VIRTUAL_ENV",
                                                "CONDA_PREFIX",
                                                "CONDA_DEFAULT_ENV",
                                                "PYTHONPATH",
                                                "LD_LIBRARY_PATH",
                                                "CUDA_HOME",
                                                "CUDA_VISIBLE_DEVICES",
                                                "HF_HOME",
                                                "XDG_CACHE_HOME",
                                                "PYTHONUNBUFFERED"};
  if (name.starts_with("LC_")) return true;
  for (auto n : kNames) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace

std::map<std::string, std::string> BaseEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(entry.substr(0, eq));
    if (IsBaseEnvironmentVariable(name)) env[name] = std::string(entry.substr(eq + 1));
  }
  return env;
}

namespace {

// Finds the enclosing git repository without running git (cheap for the common non-git case).
bool InGitRepository(const std::string& dir) {
  std::filesystem::path p(dir);
  std::error_code ec;
  while (true) {
    if (std::filesystem::exists(p / ".git", ec)) return true;
    if (!p.has_parent_path() || p.parent_path() == p) return false;
    p = p.parent_path();
  }
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string StripCredentials(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}

// Records the git commit, branch, remote and dirty state of `dir`; a dirty diff is attached.
void CaptureGitSource(const std::string& dir, v1::Job* job,
                      std::map<std::string, std::string>* attachments) {
  if (!InGitRepository(dir)) return;
  auto head = util::RunCommand({"git", "rev-parse", "HEAD"}, dir);
  if (!head.ok() || head->exit_code != 0) return;
  auto* source = job->mutable_reproducibility()->mutable_source();
  source->set_git_commit(Trimmed(head->output));
  auto branch = util::RunCommand({"git", "symbolic-ref", "--short", "-q", "HEAD"}, dir);
  if (branch.ok() && branch->exit_code == 0) source->set_git_branch(Trimmed(branch->output));
  auto remote = util::RunCommand({"git", "remote", "get-url", "origin"}, dir);
  if (remote.ok() && remote->exit_code == 0) {
    source->set_git_remote(StripCredentials(Trimmed(remote->output)));
  }
  auto diff = util::RunCommand({"git", "diff", "HEAD", "--binary"}, dir);
  if (diff.ok() && diff->exit_code == 0 && !diff->output.empty()) {
    source->set_git_dirty(true);
    source->set_dirty_diff_digest(util::Sha256Hex(diff->output));
    (*attachments)["git-diff.patch"] = diff->output;
  }
}

// What lint checks against: the backend's flavors (first catalog) and priority classes.
LintContext LintContextOf(Backend& backend) {
  LintContext lint;
  if (auto flavors = backend.ListFlavors({}); flavors.ok() && flavors->catalogs_size() > 0) {
    for (const auto& f : flavors->catalogs(0).flavors()) lint.known_flavors.push_back(f.name());
    lint.allow_raw_resources = flavors->catalogs(0).allow_raw_resources();
  }
  if (auto classes = backend.ListPriorityClasses(); classes.ok()) {
    for (const auto& c : classes->priority_classes()) {
      lint.known_priority_classes.push_back(c.name());
    }
  }
  return lint;
}

Status CheckWorkingDir(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return NotFoundError("working directory " + dir + " does not exist or is not a directory");
  }
  return Status::Ok();
}

uint64_t RandomSeed() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

}  // namespace

bool IsFinalJobState(v1::JobState state) {
  switch (state) {
    case v1::JOB_STATE_SUCCEEDED:
    case v1::JOB_STATE_FAILED:
    case v1::JOB_STATE_CANCELLED:
    case v1::JOB_STATE_TIMED_OUT:
    case v1::JOB_STATE_LOST:
    case v1::JOB_STATE_PREEMPTED:
      return true;
    default:
      return false;
  }
}

std::string JobStateName(v1::JobState state) {
  std::string name = v1::JobState_Name(state);
  return name.starts_with("JOB_STATE_") ? name.substr(10) : name;
}

Result<std::string> Client::ProjectOrDefault(const std::string& project, std::string_view what) {
  std::string p = project.empty() ? config_.project : project;
  if (p.empty()) {
    return InvalidArgumentError(std::string(what) +
                                " needs a project: pass --project (or project= in Python), set "
                                "MLC_PROJECT, or `mlc config set-context NAME --project P --use`");
  }
  MLC_RETURN_IF_ERROR(ValidateProjectName(p));
  return p;
}

Result<v1::Job> Client::SubmitJob(const v1::JobSpec& spec_in, const std::string& request_id) {
  JobSubmission submission;
  v1::Job& job = submission.job;
  v1::JobSpec& spec = *job.mutable_spec();
  spec = spec_in;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(spec.project(), "submitting a job"));
  spec.set_project(project);
  if (spec.working_dir().empty()) {
    std::error_code ec;
    spec.set_working_dir(std::filesystem::current_path(ec).string());
  }
  spec.set_working_dir(util::AbsolutePath(spec.working_dir()));
  MLC_RETURN_IF_ERROR(CheckWorkingDir(spec.working_dir()));
  // Lint against this backend's catalog, reporting every problem at once.
  MLC_RETURN_IF_ERROR(LintProblemsToStatus(mlcore::LintJobSpec(spec, LintContextOf(*backend_))));

  auto* repro = job.mutable_reproducibility();
  for (auto& [name, value] : BaseEnvironment()) (*repro->mutable_environment())[name] = value;
  for (const auto& ref : spec.secrets()) {
    if (ref.source() != v1::SECRET_SOURCE_ENV) continue;
    std::string key = ref.key().empty() ? ref.name() : ref.key();
    const char* value = std::getenv(key.c_str());
    if (value == nullptr) {
      return FailedPreconditionError("secret " + ref.name() + " comes from environment variable " +
                                     key + ", which is not set; export it and submit again");
    }
    submission.secrets[ref.name()] = value;
  }
  for (const auto& d : spec.input_datasets()) *repro->add_input_datasets() = d;
  CaptureGitSource(spec.working_dir(), &job, &submission.attachments);
  submission.request_id = request_id;
  return SubmitPrepared(std::move(submission), /*lint=*/false);
}

Result<v1::Job> Client::SubmitPreparedJob(JobSubmission submission) {
  return SubmitPrepared(std::move(submission), /*lint=*/true);
}

Result<v1::Job> Client::SubmitPrepared(JobSubmission submission, bool lint) {
  v1::Job& job = submission.job;
  v1::JobSpec& spec = *job.mutable_spec();
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(spec.project(), "submitting a job"));
  spec.set_project(project);
  if (lint) {
    if (!spec.working_dir().starts_with('/')) {
      return InvalidArgumentError(
          "the job's working directory must be an absolute path on the "
          "machine that runs it (got \"" +
          spec.working_dir() + "\")");
    }
    MLC_RETURN_IF_ERROR(CheckWorkingDir(spec.working_dir()));
    MLC_RETURN_IF_ERROR(LintProblemsToStatus(mlcore::LintJobSpec(spec, LintContextOf(*backend_))));
  }
  const bool generated_name = spec.name().empty();
  if (generated_name) spec.set_name(GenerateJobName(JobNameBase(spec), RandomSeed()));
  // Only the secrets the spec references travel with the job, and every ENV one must be there.
  std::map<std::string, std::string> secrets;
  auto* repro = job.mutable_reproducibility();
  repro->clear_secret_names();
  for (const auto& ref : spec.secrets()) {
    repro->add_secret_names(ref.name());
    repro->mutable_environment()->erase(ref.name());
    if (ref.source() != v1::SECRET_SOURCE_ENV) continue;
    auto it = submission.secrets.find(ref.name());
    if (it == submission.secrets.end()) {
      return FailedPreconditionError("secret " + ref.name() +
                                     " comes from the submitter's environment, but its value was "
                                     "not sent with the job; submit it through an mlcore SDK");
    }
    secrets.insert(*it);
  }
  submission.secrets = std::move(secrets);
  submission.attachments["spec.yaml"] = JobSpecToYaml(spec);
  job.set_user(util::CurrentUser());
  // A generated name may collide with an earlier job's (6 random hex digits: about 3% over 10,000
  // unnamed submits of one command): draw another rather than fail a submit the user never named.
  for (int attempt = 1;; ++attempt) {
    Result<v1::Job> submitted = backend_->SubmitJob(submission);
    if (!generated_name || attempt == 8 || submitted.ok() ||
        submitted.status().code() != StatusCode::kAlreadyExists) {
      return submitted;
    }
    spec.set_name(GenerateJobName(JobNameBase(spec), RandomSeed()));
    submission.attachments["spec.yaml"] = JobSpecToYaml(spec);
  }
}

Result<v1::Job> Client::GetJob(std::string_view id_or_name, v1::JobView view) {
  v1::GetJobRequest request;
  request.set_id(std::string(id_or_name));
  request.set_view(view);
  return GetJob(request);
}

Result<v1::Job> Client::GetJob(const v1::GetJobRequest& request_in) {
  v1::GetJobRequest request = request_in;
  if (request.id().empty()) request.set_id(request.name());
  request.clear_name();
  if (request.id().empty()) return InvalidArgumentError("job id or name is empty");
  if (request.view() == v1::JOB_VIEW_UNSPECIFIED) request.set_view(v1::JOB_VIEW_FULL);
  const bool explicit_project = !request.project().empty();
  if (explicit_project) {
    MLC_RETURN_IF_ERROR(ValidateProjectName(request.project()));
  } else {
    request.set_project(config_.project);
  }
  auto job = backend_->GetJob(request);
  if (!job.ok() && job.status().code() == StatusCode::kNotFound && !explicit_project &&
      !config_.project.empty()) {
    request.clear_project();  // a unique name in another project is still found
    auto anywhere = backend_->GetJob(request);
    if (anywhere.ok()) return anywhere;
  }
  return job;
}

Result<v1::ListJobsResponse> Client::ListJobs(const v1::ListJobsRequest& request) {
  v1::ListJobsRequest r = request;
  if (r.project() == "*") {
    r.clear_project();
  } else if (r.project().empty()) {
    r.set_project(config_.project);
  }
  if (!r.project().empty()) MLC_RETURN_IF_ERROR(ValidateProjectName(r.project()));
  MLC_RETURN_IF_ERROR(ResolvePageSize(r.page_size()).status());
  return backend_->ListJobs(r);
}

Status Client::StreamJobLogs(const v1::StreamJobLogsRequest& request,
                             const std::function<bool(const v1::LogLine&)>& sink,
                             const std::function<bool()>& keep_following) {
  if (request.tail() < 0) return InvalidArgumentError("--tail must be >= 0");
  MLC_ASSIGN_OR_RETURN(auto job, GetJob(request.id(), v1::JOB_VIEW_BASIC));
  v1::StreamJobLogsRequest r = request;
  r.set_id(job.id());
  return backend_->StreamJobLogs(r, sink, keep_following);
}

Result<v1::Job> Client::CancelJob(std::string_view id_or_name, std::string_view reason) {
  MLC_ASSIGN_OR_RETURN(auto job, GetJob(id_or_name, v1::JOB_VIEW_BASIC));
  v1::CancelJobRequest request;
  request.set_id(job.id());
  request.set_reason(std::string(reason));
  return backend_->CancelJob(request);
}

Result<v1::Job> Client::PreemptJob(std::string_view id_or_name, std::string_view reason) {
  MLC_ASSIGN_OR_RETURN(auto job, GetJob(id_or_name, v1::JOB_VIEW_BASIC));
  v1::PreemptJobRequest request;
  request.set_id(job.id());
  request.set_reason(std::string(reason));
  return backend_->PreemptJob(request);
}

Result<v1::Job> Client::RerunJob(std::string_view id_or_name, std::string_view name) {
  MLC_ASSIGN_OR_RETURN(auto old, GetJob(id_or_name, v1::JOB_VIEW_BASIC));
  JobSubmission submission;
  v1::Job& job = submission.job;
  *job.mutable_spec() = old.spec();
  std::string base = old.spec().name();
  // "train-g6d8y6" reruns as "train-g6d8y6-r" + suffix, cut to stay a valid name.
  if (base.size() > 48) base.resize(48);
  job.mutable_spec()->set_name(name.empty() ? GenerateJobName(base + "-r", RandomSeed())
                                            : std::string(name));
  *job.mutable_reproducibility() = old.reproducibility();
  job.set_rerun_of(old.id());
  for (const auto& ref : old.spec().secrets()) {
    if (ref.source() != v1::SECRET_SOURCE_ENV) continue;
    std::string key = ref.key().empty() ? ref.name() : ref.key();
    const char* value = std::getenv(key.c_str());
    if (value == nullptr) {
      return FailedPreconditionError("rerun needs secret " + ref.name() +
                                     " from environment variable " + key + ", which is not set");
    }
    submission.secrets[ref.name()] = value;
  }
  submission.attachments["spec.yaml"] = JobSpecToYaml(job.spec());
  job.set_user(util::CurrentUser());
  return backend_->SubmitJob(submission);
}

Result<v1::Job> Client::WaitJob(std::string_view id_or_name, std::chrono::milliseconds timeout,
                                const std::function<bool()>& keep_waiting) {
  auto start = std::chrono::steady_clock::now();
  auto delay = std::chrono::milliseconds(20);
  MLC_ASSIGN_OR_RETURN(auto job, GetJob(id_or_name, v1::JOB_VIEW_BASIC));
  const std::string id = job.id();
  while (!IsFinalJobState(job.state())) {
    if (keep_waiting && !keep_waiting()) return CancelledError("stopped waiting for job " + id);
    if (timeout.count() > 0 && std::chrono::steady_clock::now() - start > timeout) {
      return DeadlineExceededError("job " + job.spec().name() + " is still " +
                                   v1::JobState_Name(job.state()) + " after " +
                                   std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(250));
    MLC_ASSIGN_OR_RETURN(job, GetJob(id, v1::JOB_VIEW_BASIC));
  }
  return GetJob(id, v1::JOB_VIEW_FULL);
}

Result<v1::LintJobSpecResponse> Client::LintJobSpec(const v1::LintJobSpecRequest& request) {
  const LintContext lint = LintContextOf(*backend_);
  v1::LintJobSpecResponse response;
  if (request.has_spec()) {
    auto problems = mlcore::LintJobSpec(request.spec(), lint);
    for (auto& p : problems) *response.add_problems() = p;
    if (!HasLintErrors(problems)) *response.mutable_resolved_spec() = request.spec();
    return response;
  }
  MLC_ASSIGN_OR_RETURN(auto parsed, ParseJobSpecYaml(request.text(), request.file()));
  auto problems = mlcore::LintJobSpec(parsed, lint);
  for (auto& p : problems) *response.add_problems() = p;
  if (!HasLintErrors(problems)) *response.mutable_resolved_spec() = parsed.spec;
  return response;
}

Result<v1::LintPipelineResponse> Client::LintPipeline(const v1::LintPipelineRequest& request) {
  MLC_ASSIGN_OR_RETURN(v1::LintPipelineResponse response,
                       pipelines::LintPipeline(request, LintContextOf(*backend_)));
  if (response.has_resolved_spec() && response.resolved_spec().project().empty()) {
    response.mutable_resolved_spec()->set_project(config_.project);
  }
  return response;
}

Result<v1::ListFlavorsResponse> Client::ListFlavors(const v1::ListFlavorsRequest& request) {
  return backend_->ListFlavors(request);
}

Result<v1::ListNodesResponse> Client::ListNodes(const v1::ListNodesRequest& request) {
  return backend_->ListNodes(request);
}

Result<v1::ListPriorityClassesResponse> Client::ListPriorityClasses() {
  return backend_->ListPriorityClasses();
}

Result<v1::SimulateResponse> Client::Simulate(const v1::SimulateRequest& request) {
  return RunSimulation(request);
}

Result<v1::GetQuotaUsageResponse> Client::GetQuotaUsage(const v1::GetQuotaUsageRequest& request) {
  if (!request.project().empty()) MLC_RETURN_IF_ERROR(ValidateProjectName(request.project()));
  return backend_->GetQuotaUsage(request);
}

}  // namespace mlcore
