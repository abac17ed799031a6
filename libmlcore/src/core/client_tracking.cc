// Client: TrackingService calls. Validation lives here so every backend and surface reports the
// same errors; backends receive resolved projects and well-formed keys.
#include <cctype>

#include "core/validation.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "tracking/run_filter.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore {
namespace {

constexpr size_t kMaxKeyLength = 250;
constexpr int kMaxHistoryPage = 10000000;

Status ValidateExperimentName(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return InvalidArgumentError("experiment name must be 1-128 characters, got " +
                                std::to_string(name.size()));
  }
  for (char c : name) {
    if (c == '/' || !std::isprint(static_cast<unsigned char>(c))) {
      return InvalidArgumentError("experiment name \"" + std::string(name) +
                                  "\" may not contain '/' or control characters");
    }
  }
  return Status::Ok();
}

// Metric, param and tag keys: 1-250 of letters, digits and "_-./ ".
Status ValidateKey(std::string_view kind, std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) {
    return InvalidArgumentError(
        std::string(kind) + " key must be 1-250 characters, got " + std::to_string(key.size()) +
        (key.empty() ? "" : " (\"" + std::string(key.substr(0, 40)) + "...\")"));
  }
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' &&
        c != '/' && c != ' ') {
      return InvalidArgumentError(std::string(kind) + " key \"" + std::string(key) +
                                  "\" has the character '" + std::string(1, c) +
                                  "'; keys use letters, digits and _ - . / and space");
    }
  }
  return Status::Ok();
}

Status ValidateUserTags(const google::protobuf::Map<std::string, std::string>& tags) {
  for (const auto& [k, v] : tags) {
    MLC_RETURN_IF_ERROR(ValidateKey("tag", k));
    if (k.rfind("mlc.", 0) == 0) {
      return InvalidArgumentError("tag key \"" + k +
                                  "\" is reserved: keys starting \"mlc.\" are "
                                  "set by mlcore itself");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateMetricKey(std::string_view key) { return ValidateKey("metric", key); }

Result<v1::Experiment> Client::CreateExperiment(const v1::Experiment& experiment) {
  v1::Experiment e = experiment;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(e.project(), "an experiment"));
  e.set_project(project);
  MLC_RETURN_IF_ERROR(ValidateExperimentName(e.name()));
  MLC_RETURN_IF_ERROR(ValidateUserTags(e.tags()));
  if (e.created_by().empty()) e.set_created_by(util::CurrentUser());
  return backend_->CreateExperiment(e);
}

Result<v1::Experiment> Client::GetExperiment(const v1::GetExperimentRequest& request) {
  v1::GetExperimentRequest r = request;
  if (r.id().empty()) {
    if (r.name().empty()) {
      return InvalidArgumentError("an experiment is named by id, or by project and name");
    }
    MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "an experiment"));
    r.set_project(project);
    MLC_RETURN_IF_ERROR(ValidateExperimentName(r.name()));
  }
  return backend_->GetExperiment(r);
}

Result<v1::ListExperimentsResponse> Client::ListExperiments(
    const v1::ListExperimentsRequest& request) {
  v1::ListExperimentsRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "listing experiments"));
  r.set_project(project);
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(r.page_size()));
  r.set_page_size(page_size);
  return backend_->ListExperiments(r);
}

Result<v1::Run> Client::CreateRun(const v1::CreateRunRequest& request) {
  v1::CreateRunRequest r = request;
  v1::Run* run = r.mutable_run();
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(run->project(), "a run"));
  run->set_project(project);
  if (run->user().empty()) run->set_user(util::CurrentUser());
  for (const auto& [k, v] : run->params()) MLC_RETURN_IF_ERROR(ValidateKey("param", k));
  MLC_RETURN_IF_ERROR(ValidateUserTags(run->tags()));
  const std::string& experiment = run->experiment_id();
  if (!experiment.empty() && !util::LooksLikeHexId(experiment, "e")) {
    // A name: resolved (and created on first use) here, so every backend gets an id.
    MLC_RETURN_IF_ERROR(ValidateExperimentName(experiment));
    v1::GetExperimentRequest get;
    get.set_project(project);
    get.set_name(experiment);
    auto found = backend_->GetExperiment(get);
    if (found.status().code() == StatusCode::kNotFound) {
      v1::Experiment e;
      e.set_project(project);
      e.set_name(experiment);
      e.set_created_by(run->user());
      found = backend_->CreateExperiment(e);
      if (found.status().code() == StatusCode::kAlreadyExists) found = backend_->GetExperiment(get);
    }
    if (!found.ok()) return found.status();
    run->set_experiment_id(found->id());
  }
  return backend_->CreateRun(r);
}

Result<v1::Run> Client::GetRun(std::string_view id_or_name) {
  if (id_or_name.empty()) return InvalidArgumentError("no run given: pass a run id or name");
  v1::GetRunRequest get;
  get.set_id(std::string(id_or_name));
  if (util::LooksLikeHexId(id_or_name, "r")) return backend_->GetRun(get);
  // A name: unique within the client's project.
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault("", "finding a run by name"));
  v1::SearchRunsRequest search;
  search.set_project(project);
  std::string quoted;
  for (char c : id_or_name) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  search.set_filter("name = \"" + quoted + "\"");
  search.set_page_size(2);
  MLC_ASSIGN_OR_RETURN(auto found, backend_->SearchRuns(search));
  if (found.runs_size() == 0) {
    return NotFoundError("run \"" + std::string(id_or_name) + "\" does not exist in project " +
                         project + " (list runs with `mlc run ls`)");
  }
  if (found.runs_size() > 1) {
    return InvalidArgumentError("several runs of project " + project + " are named \"" +
                                std::string(id_or_name) + "\" (e.g. " + found.runs(0).id() + ", " +
                                found.runs(1).id() + "); use the run id");
  }
  get.set_id(found.runs(0).id());
  return backend_->GetRun(get);
}

Result<v1::Run> Client::UpdateRun(const v1::UpdateRunRequest& request) {
  if (request.id().empty()) return InvalidArgumentError("no run id given");
  return backend_->UpdateRun(request);
}

Status Client::DeleteRun(std::string_view id_or_name) {
  MLC_ASSIGN_OR_RETURN(v1::Run run, GetRun(id_or_name));
  v1::DeleteRunRequest del;
  del.set_id(run.id());
  return backend_->DeleteRun(del);
}

Result<v1::Run> Client::SetRunTags(const v1::SetRunTagsRequest& request) {
  if (request.id().empty()) return InvalidArgumentError("no run id given");
  MLC_RETURN_IF_ERROR(ValidateUserTags(request.set()));
  return backend_->SetRunTags(request);
}

Result<v1::SearchRunsResponse> Client::SearchRuns(const v1::SearchRunsRequest& request) {
  v1::SearchRunsRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "searching runs"));
  r.set_project(project);
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(r.page_size()));
  r.set_page_size(page_size);
  // Syntax errors are reported here, the same for every backend.
  MLC_RETURN_IF_ERROR(tracking::RunFilter::Parse(r.filter()).status());
  std::vector<std::string> order_by(r.order_by().begin(), r.order_by().end());
  MLC_RETURN_IF_ERROR(tracking::RunOrder::Parse(order_by).status());
  return backend_->SearchRuns(r);
}

namespace {

Status ValidateBatch(const v1::MetricBatch& batch) {
  if (batch.run_id().empty()) return InvalidArgumentError("batch has no run_id");
  if (batch.batch_id().empty()) {
    return InvalidArgumentError(
        "batch has no batch_id (a client-chosen unique id that makes "
        "retries safe)");
  }
  for (const auto& s : batch.metrics()) {
    MLC_RETURN_IF_ERROR(ValidateKey("metric", s.key()));
    if (s.steps_size() != s.values_size() ||
        (s.times_unix_micros_size() != 0 && s.times_unix_micros_size() != s.steps_size())) {
      return InvalidArgumentError("metric \"" + s.key() + "\": columns of different lengths (" +
                                  std::to_string(s.steps_size()) + " steps, " +
                                  std::to_string(s.values_size()) + " values, " +
                                  std::to_string(s.times_unix_micros_size()) + " times)");
    }
  }
  for (const auto& [k, v] : batch.params()) MLC_RETURN_IF_ERROR(ValidateKey("param", k));
  return ValidateUserTags(batch.tags());
}

}  // namespace

Result<v1::LogBatchResponse> Client::LogBatch(const v1::MetricBatch& batch) {
  MLC_RETURN_IF_ERROR(ValidateBatch(batch));
  return backend_->LogBatch(batch);
}

std::vector<Result<v1::LogBatchResponse>> Client::LogBatches(
    const std::vector<v1::MetricBatch>& batches) {
  // Batches that fail validation are answered here; the others go to the backend together.
  std::vector<Result<v1::LogBatchResponse>> out(batches.size(),
                                                InternalError("batch not answered"));
  std::vector<size_t> valid;
  for (size_t i = 0; i < batches.size(); ++i) {
    Status s = ValidateBatch(batches[i]);
    if (s.ok()) {
      valid.push_back(i);
    } else {
      out[i] = std::move(s);
    }
  }
  if (valid.size() == batches.size()) return backend_->LogBatches(batches);
  std::vector<v1::MetricBatch> send;
  send.reserve(valid.size());
  for (size_t i : valid) send.push_back(batches[i]);
  auto answers = backend_->LogBatches(send);
  for (size_t j = 0; j < valid.size(); ++j) out[valid[j]] = std::move(answers[j]);
  return out;
}

Result<v1::GetMetricHistoryResponse> Client::GetMetricHistory(
    const v1::GetMetricHistoryRequest& request) {
  if (request.run_id().empty()) return InvalidArgumentError("no run id given");
  MLC_RETURN_IF_ERROR(ValidateKey("metric", request.key()));
  if (request.has_min_step() && request.has_max_step() && request.min_step() > request.max_step()) {
    return InvalidArgumentError("min_step " + std::to_string(request.min_step()) +
                                " is above max_step " + std::to_string(request.max_step()));
  }
  const int max_points = request.downsampling().max_points();
  if (max_points < 0 || max_points > 100000 || (max_points > 0 && max_points < 4)) {
    return InvalidArgumentError("max_points must be 4-100000 (0 = 1000), got " +
                                std::to_string(max_points));
  }
  if (request.page_size() < 0 || request.page_size() > kMaxHistoryPage) {
    return InvalidArgumentError("page_size must be 0-10000000, got " +
                                std::to_string(request.page_size()));
  }
  v1::GetRunRequest get;
  v1::GetMetricHistoryRequest r = request;
  if (!util::LooksLikeHexId(r.run_id(), "r")) {
    MLC_ASSIGN_OR_RETURN(v1::Run run, GetRun(r.run_id()));
    r.set_run_id(run.id());
  }
  return backend_->GetMetricHistory(r);
}

Result<v1::TrackingPolicy> Client::GetTrackingPolicy(std::string_view project) {
  MLC_ASSIGN_OR_RETURN(std::string p, ProjectOrDefault(std::string(project), "a tracking policy"));
  return backend_->GetTrackingPolicy(p);
}

Result<v1::TrackingPolicy> Client::UpdateTrackingPolicy(const v1::TrackingPolicy& policy) {
  v1::TrackingPolicy p = policy;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(p.project(), "a tracking policy"));
  p.set_project(project);
  if (p.max_points_per_second() < 0 || p.max_stored_bytes() < 0 ||
      p.retention().max_age().seconds() < 0) {
    return InvalidArgumentError("tracking limits and the retention age cannot be negative");
  }
  return backend_->UpdateTrackingPolicy(p);
}

Result<v1::ApplyRetentionResponse> Client::ApplyRetention(
    const v1::ApplyRetentionRequest& request) {
  v1::ApplyRetentionRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "retention"));
  r.set_project(project);
  return backend_->ApplyRetention(r);
}

}  // namespace mlcore
