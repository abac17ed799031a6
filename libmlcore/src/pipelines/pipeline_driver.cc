#include "pipelines/pipeline_driver.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "pipelines/condition.h"
#include "pipelines/pipeline_step_io.h"
#include "pipelines/pipeline_store.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace mlcore::pipelines {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::TimeUtil;
using Json = nlohmann::json;

constexpr const char* kExitHandler = "exit_handler";

// Microsecond precision (TimeUtil::GetCurrentTime gives whole seconds with this protobuf).
google::protobuf::Timestamp Now() {
  return TimeUtil::MicrosecondsToTimestamp(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
}

bool StepEnded(v1::StepState s) {
  return s == v1::STEP_STATE_SUCCEEDED || s == v1::STEP_STATE_CACHED ||
         s == v1::STEP_STATE_FAILED || s == v1::STEP_STATE_SKIPPED ||
         s == v1::STEP_STATE_UPSTREAM_FAILED || s == v1::STEP_STATE_CANCELLED;
}

bool JobEnded(const v1::Job& job) {
  switch (job.state()) {
    case v1::JOB_STATE_SUCCEEDED:
    case v1::JOB_STATE_FAILED:
    case v1::JOB_STATE_CANCELLED:
    case v1::JOB_STATE_TIMED_OUT:
    case v1::JOB_STATE_LOST:
      return true;
    case v1::JOB_STATE_PREEMPTED:
      return job.has_end_time();
    default:
      return false;
  }
}

std::string StateWord(v1::JobState s) {
  std::string name = v1::JobState_Name(s);
  return name.substr(std::string("JOB_STATE_").size());
}

// The step-run directory name: "train", "train-3".
std::string RunDirName(const v1::StepRun& sr) {
  return sr.has_iteration() ? sr.step() + "-" + std::to_string(sr.iteration()) : sr.step();
}

std::string Describe(const v1::StepRun& sr) {
  return sr.has_iteration() ? sr.step() + "[" + std::to_string(sr.iteration()) + "]" : sr.step();
}

class Driver {
 public:
  Driver(Client& client, PipelineStore& store, std::string id, std::string work_dir)
      : client_(client), store_(store), id_(std::move(id)), work_(std::move(work_dir)) {}

  Status Run();

 private:
  const v1::PipelineSpec& spec() const { return run_.spec(); }
  void Index();
  void Initialize();
  Status CreateParentRun();
  bool CacheEnabled(const v1::Step& step) const;
  // The step runs of `step`, by index into run_.steps().
  const std::vector<int>& RunsOf(const std::string& step) { return by_step_[step]; }
  bool Ended(const std::string& step);
  bool PollJobs();
  bool StartReady();
  bool StartExitHandler();
  void CancelActive(const std::string& reason);
  Status Finalize();
  void Mark(v1::StepRun& sr, v1::StepState state, const std::string& message);

  // Resolves the inputs of `step` into `out` (values by name). Returns the reason to skip the
  // step ("" when none); errors fail the step.
  Result<std::string> ResolveInputs(const v1::Step& step, std::map<std::string, v1::IoValue>* out);
  // The value of `source_name` produced by `source_step` (a list for a parallel-for step); false
  // when the producer was skipped.
  Result<bool> OutputOf(const std::string& source_step, const std::string& source_name,
                        const v1::IoSpec& target, v1::IoValue* value);
  Result<std::string> ConditionValue(const ConditionRef& ref);
  Result<bool> ConditionHolds(const v1::Step& step);

  void Launch(v1::StepRun& sr, const v1::Step& step);
  Status Submit(v1::StepRun& sr, const v1::Step& step);
  void Finish(v1::StepRun& sr, const v1::Step& step, const v1::Job& job);

  std::string StepDir(const v1::StepRun& sr) const {
    return work_ + "/" + RunDirName(sr) + "/r" + std::to_string(run_.resumes());
  }

  Client& client_;
  PipelineStore& store_;
  const std::string id_;
  const std::string work_;
  v1::PipelineRun run_;
  std::map<std::string, const v1::Step*> steps_;
  std::map<std::string, std::set<std::string>> deps_;
  std::map<std::string, std::vector<int>> by_step_;
  bool dirty_ = false;
  bool cancelling_ = false;
  std::string cancel_reason_;
};

void Driver::Index() {
  by_step_.clear();
  for (int i = 0; i < run_.steps_size(); ++i) by_step_[run_.steps(i).step()].push_back(i);
}

void Driver::Initialize() {
  steps_.clear();
  deps_.clear();
  for (const auto& step : spec().steps()) {
    steps_[step.name()] = &step;
    auto& deps = deps_[step.name()];
    for (const auto& d : step.depends_on()) deps.insert(d);
    if (!step.condition().empty()) {
      if (auto parsed = ParseCondition(step.condition()); parsed.ok()) {
        for (const auto& ref : parsed->refs) {
          if (!ref.pipeline_input) deps.insert(ref.step);
        }
      }
    }
  }
  for (const auto& edge : spec().edges()) {
    if (!edge.source_step().empty() && !edge.target_step().empty()) {
      deps_[edge.target_step()].insert(edge.source_step());
    }
  }
  if (spec().has_exit_handler()) steps_[kExitHandler] = &spec().exit_handler();
  Index();
}

Status Driver::CreateParentRun() {
  if (!run_.run_id().empty()) return Status::Ok();
  const std::string experiment_name = spec().experiment().empty() ? "default" : spec().experiment();
  v1::GetExperimentRequest get;
  get.set_project(run_.project());
  get.set_name(experiment_name);
  auto experiment = client_.GetExperiment(get);
  if (!experiment.ok() && experiment.status().code() == StatusCode::kNotFound) {
    v1::Experiment create;
    create.set_project(run_.project());
    create.set_name(experiment_name);
    experiment = client_.CreateExperiment(create);
    if (!experiment.ok() && experiment.status().code() == StatusCode::kAlreadyExists) {
      experiment = client_.GetExperiment(get);
    }
  }
  MLC_RETURN_IF_ERROR(experiment.status());
  v1::CreateRunRequest create;
  v1::Run* r = create.mutable_run();
  r->set_project(run_.project());
  r->set_experiment_id(experiment->id());
  r->set_name(spec().name());
  r->set_user(run_.user());
  r->set_status(v1::RUN_STATUS_RUNNING);
  (*r->mutable_tags())["mlc.pipeline"] = spec().name();
  (*r->mutable_tags())["mlc.pipeline-run"] = run_.id();
  for (const auto& [k, v] : spec().labels()) (*r->mutable_tags())["mlc.label." + k] = v;
  for (const auto& [k, v] : run_.input_values()) (*r->mutable_params())[k] = v;
  create.set_request_id("pipeline-run/" + run_.id());
  // Through the backend: the "mlc." tags are reserved for mlcore, which this is.
  MLC_ASSIGN_OR_RETURN(v1::Run created, client_.backend().CreateRun(create));
  run_.set_run_id(created.id());
  dirty_ = true;
  return Status::Ok();
}

bool Driver::CacheEnabled(const v1::Step& step) const {
  if (run_.cache_disabled()) return false;
  if (spec().cache() == v1::CACHE_POLICY_DISABLED) return false;
  if (step.cache() == v1::CACHE_POLICY_DISABLED) return false;
  const std::string global = util::GetEnv("MLC_PIPELINE_CACHE");
  return !(global == "0" || global == "false" || global == "off");
}

bool Driver::Ended(const std::string& step) {
  for (int i : RunsOf(step)) {
    if (!StepEnded(run_.steps(i).state())) return false;
  }
  return true;
}

void Driver::Mark(v1::StepRun& sr, v1::StepState state, const std::string& message) {
  sr.set_state(state);
  if (!message.empty()) sr.set_message(message);
  if (StepEnded(state) && !sr.has_end_time()) *sr.mutable_end_time() = Now();
  if ((state == v1::STEP_STATE_FAILED) && run_.failed_step().empty() && sr.step() != kExitHandler) {
    run_.set_failed_step(sr.step());
    run_.set_message("step " + Describe(sr) + " failed: " + message);
  }
  dirty_ = true;
}

Result<bool> Driver::OutputOf(const std::string& source_step, const std::string& source_name,
                              const v1::IoSpec& target, v1::IoValue* value) {
  const auto& runs = RunsOf(source_step);
  if (runs.empty()) return InternalError("no step " + source_step);
  auto it = steps_.find(source_step);
  const bool fan_out = it != steps_.end() && it->second->has_parallel_for();
  value->set_name(target.name());
  value->set_type(target.type());
  auto find = [&](const v1::StepRun& sr) -> const v1::IoValue* {
    for (const auto& out : sr.outputs()) {
      if (out.name() == source_name) return &out;
    }
    return nullptr;
  };
  if (!fan_out) {
    const v1::StepRun& sr = run_.steps(runs.front());
    if (sr.state() == v1::STEP_STATE_SKIPPED) return false;
    const v1::IoValue* out = find(sr);
    if (out == nullptr) {
      return FailedPreconditionError("step " + source_step + " did not produce output " +
                                     source_name);
    }
    *value = *out;
    value->set_name(target.name());
    return true;
  }
  // A parallel-for's outputs arrive as lists, in iteration order.
  std::vector<const v1::StepRun*> ordered;
  for (int i : runs) {
    const v1::StepRun& sr = run_.steps(i);
    if (sr.state() == v1::STEP_STATE_SKIPPED && !sr.has_iteration()) return false;
    if (sr.has_iteration()) ordered.push_back(&sr);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto* a, const auto* b) { return a->iteration() < b->iteration(); });
  Json list = Json::array();
  std::string digests;
  for (const v1::StepRun* sr : ordered) {
    const v1::IoValue* out = find(*sr);
    if (out == nullptr) {
      list.push_back(nullptr);
      continue;
    }
    switch (out->type()) {
      case v1::IO_TYPE_ARTIFACT:
        list.push_back(
            {{"artifact_id", out->artifact_id()}, {"manifest_digest", out->manifest_digest()}});
        digests += out->manifest_digest() + "\n";
        break;
      case v1::IO_TYPE_METRICS: {
        Json m = Json::object();
        for (const auto& [k, v] : out->metrics()) m[k] = v;
        list.push_back(m);
        break;
      }
      case v1::IO_TYPE_DATASET:
        list.push_back(out->dataset().uri());
        break;
      default:
        list.push_back(Json::parse(out->parameter_json(), nullptr, false));
    }
  }
  value->set_parameter_json(list.dump());
  if (value->type() == v1::IO_TYPE_ARTIFACT) value->set_manifest_digest(util::Sha256Hex(digests));
  return true;
}

Result<std::string> Driver::ResolveInputs(const v1::Step& step,
                                          std::map<std::string, v1::IoValue>* out) {
  const std::string& target_step = step.name();  // the exit handler too, by its own name
  for (const auto& io : step.inputs()) {
    const v1::Edge* feeding = nullptr;
    for (const auto& edge : spec().edges()) {
      if (edge.target_step() == target_step && edge.target_name() == io.name()) feeding = &edge;
    }
    v1::IoValue value;
    value.set_name(io.name());
    value.set_type(io.type());
    if (feeding != nullptr && !feeding->source_step().empty()) {
      auto produced = OutputOf(feeding->source_step(), feeding->source_name(), io, &value);
      if (!produced.ok()) {
        if (step.name() == spec().exit_handler().name() && spec().has_exit_handler()) continue;
        return produced.status();
      }
      if (!*produced) {
        return "its input " + io.name() + " comes from skipped step " + feeding->source_step();
      }
      (*out)[io.name()] = std::move(value);
      continue;
    }
    std::string text;
    bool have = false;
    const v1::IoSpec* pipeline_input = nullptr;
    if (feeding != nullptr) {
      for (const auto& pi : spec().inputs()) {
        if (pi.name() == feeding->source_name()) pipeline_input = &pi;
      }
      if (auto it = run_.input_values().find(feeding->source_name());
          it != run_.input_values().end()) {
        text = it->second;
        have = true;
      } else if (pipeline_input != nullptr && !pipeline_input->default_value().empty()) {
        text = pipeline_input->default_value();
        have = true;
      }
    }
    if (!have && !io.default_value().empty()) {
      text = io.default_value();
      have = true;
    }
    if (!have) continue;  // optional and unset
    switch (io.type()) {
      case v1::IO_TYPE_PARAMETER: {
        MLC_ASSIGN_OR_RETURN(std::string json, ParameterJsonOfText(io, text, "input " + io.name()));
        value.set_parameter_json(json);
        break;
      }
      case v1::IO_TYPE_ARTIFACT: {
        std::string id = text;
        if (id.starts_with("artifact://")) id = id.substr(11);
        MLC_ASSIGN_OR_RETURN(v1::Artifact artifact, client_.GetArtifact(id));
        value.set_artifact_id(artifact.id());
        value.set_manifest_digest(artifact.manifest_digest());
        break;
      }
      case v1::IO_TYPE_DATASET:
        value.mutable_dataset()->set_uri(text);
        break;
      case v1::IO_TYPE_METRICS: {
        Json m = Json::parse(text, nullptr, false);
        if (!m.is_object()) {
          return InvalidArgumentError("input " + io.name() + " must be a JSON object of numbers");
        }
        for (const auto& [k, v] : m.items()) {
          if (v.is_number()) (*value.mutable_metrics())[k] = v.get<double>();
        }
        break;
      }
      default:
        break;
    }
    (*out)[io.name()] = std::move(value);
  }
  return std::string();
}

Result<std::string> Driver::ConditionValue(const ConditionRef& ref) {
  if (ref.pipeline_input) {
    const v1::IoSpec* decl = nullptr;
    for (const auto& pi : spec().inputs()) {
      if (pi.name() == ref.name) decl = &pi;
    }
    if (decl == nullptr) return InvalidArgumentError("no pipeline input " + ref.name);
    std::string text;
    if (auto it = run_.input_values().find(ref.name); it != run_.input_values().end()) {
      text = it->second;
    } else {
      text = decl->default_value();
    }
    if (text.empty() && decl->default_value().empty() &&
        run_.input_values().find(ref.name) == run_.input_values().end()) {
      return std::string("null");
    }
    return ParameterJsonOfText(*decl, text, "input " + ref.name);
  }
  v1::IoSpec target;
  target.set_name(ref.name);
  v1::IoValue value;
  MLC_ASSIGN_OR_RETURN(bool produced, OutputOf(ref.step, ref.name, target, &value));
  if (!produced) {
    return FailedPreconditionError("step " + ref.step + " was skipped");
  }
  if (value.type() == v1::IO_TYPE_METRICS) {
    if (ref.key.empty()) {
      Json m = Json::object();
      for (const auto& [k, v] : value.metrics()) m[k] = v;
      return m.dump();
    }
    auto it = value.metrics().find(ref.key);
    if (it == value.metrics().end()) return std::string("null");
    return Json(it->second).dump();
  }
  return value.parameter_json().empty() ? std::string("null") : value.parameter_json();
}

Result<bool> Driver::ConditionHolds(const v1::Step& step) {
  if (step.condition().empty()) return true;
  MLC_ASSIGN_OR_RETURN(Condition condition, ParseCondition(step.condition()));
  return EvaluateCondition(condition,
                           [this](const ConditionRef& ref) { return ConditionValue(ref); });
}

void Driver::Launch(v1::StepRun& sr, const v1::Step& step) {
  if (!sr.has_ready_time()) *sr.mutable_ready_time() = Now();
  if (CacheEnabled(step)) {
    const std::string key = CacheKey(step, sr);
    auto hit = store_.CacheLookup(run_.project(), key);
    if (hit.ok() && hit->has_value()) {
      bool intact = true;
      for (const auto& out : (*hit)->outputs()) {
        if (out.type() == v1::IO_TYPE_ARTIFACT && !out.artifact_id().empty() &&
            !client_.GetArtifact(out.artifact_id()).ok()) {
          intact = false;
        }
      }
      if (intact) {
        *sr.mutable_outputs() = (*hit)->outputs();
        sr.set_cached_from_job_id((*hit)->job_id());
        sr.clear_job_id();
        Mark(sr, v1::STEP_STATE_CACHED, "outputs reused from job " + (*hit)->job_id());
        return;
      }
      store_.CacheDrop(run_.project(), key).IgnoreError();
    }
  }
  if (Status submitted = Submit(sr, step); !submitted.ok()) {
    Mark(sr, v1::STEP_STATE_FAILED, "could not start its job: " + submitted.message());
  }
}

Status Driver::Submit(v1::StepRun& sr, const v1::Step& step) {
  const std::string dir = StepDir(sr);
  std::error_code ec;
  fs::remove_all(dir + "/outputs", ec);
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(dir + "/outputs", "a step's output directory"));
  v1::JobSpec job = step.job();
  std::map<std::string, std::string> values;
  for (const auto& in : sr.inputs()) {
    std::string text;
    MLC_RETURN_IF_ERROR(
        MaterializeInput(client_, run_.project(), in, dir + "/inputs/" + in.name(), &text));
    values[in.name()] = text;
    (*job.mutable_env())[InputEnvName(in.name())] = text;
  }
  for (std::string& arg : *job.mutable_command()) arg = Substitute(arg, values);
  for (std::string& arg : *job.mutable_args()) arg = Substitute(arg, values);
  auto& env = *job.mutable_env();
  for (const auto& [k, v] : run_.environment()) env.insert({k, v});  // the step's own env wins
  env["MLC_OUTPUT_DIR"] = dir + "/outputs";
  env["MLC_PIPELINE_RUN_ID"] = run_.id();
  env["MLC_PIPELINE_STEP"] = step.name();
  if (sr.has_iteration()) env["MLC_ITERATION"] = std::to_string(sr.iteration());
  if (sr.step() == kExitHandler) {
    v1::PipelineRunState so_far = cancelling_                  ? v1::PIPELINE_RUN_STATE_CANCELLED
                                  : run_.failed_step().empty() ? v1::PIPELINE_RUN_STATE_SUCCEEDED
                                                               : v1::PIPELINE_RUN_STATE_FAILED;
    env["MLC_PIPELINE_STATE"] = std::string(v1::PipelineRunState_Name(so_far)).substr(19);
    env["MLC_FAILED_STEP"] = run_.failed_step();
  }
  job.set_project(run_.project());
  // Job names are never reused: the step's (or its job's) name, the run and the attempt.
  {
    std::string name = job.name().empty() ? step.name() : job.name();
    if (name.size() > 40) name.resize(40);
    while (!name.empty() && name.back() == '-') name.pop_back();
    name += "-" + run_.id().substr(1, 8);
    if (sr.has_iteration()) name += "-" + std::to_string(sr.iteration());
    if (run_.resumes() > 0) name += "-r" + std::to_string(run_.resumes());
    job.set_name(name);
  }
  if (step.has_retry()) *job.mutable_retry() = step.retry();
  for (const auto& [k, v] : spec().labels()) (*job.mutable_labels())[k] = v;
  (*job.mutable_labels())["mlc.pipeline-run"] = run_.id();
  (*job.mutable_labels())["mlc.pipeline-step"] = step.name();
  if (job.experiment().empty()) job.set_experiment(spec().experiment());
  job.set_parent_run_id(run_.run_id());
  const std::string request_id =
      "pipeline/" + run_.id() + "/" + RunDirName(sr) + "/" + std::to_string(run_.resumes());
  MLC_ASSIGN_OR_RETURN(v1::Job submitted, client_.SubmitJob(job, request_id));
  sr.set_job_id(submitted.id());
  sr.set_run_id(submitted.run_id());
  sr.set_state(v1::STEP_STATE_RUNNING);
  sr.clear_message();
  dirty_ = true;
  return Status::Ok();
}

void Driver::Finish(v1::StepRun& sr, const v1::Step& step, const v1::Job& job) {
  if (job.has_start_time()) *sr.mutable_start_time() = job.start_time();
  if (job.has_end_time()) *sr.mutable_end_time() = job.end_time();
  if (job.state() == v1::JOB_STATE_SUCCEEDED) {
    if (Status collected =
            CollectStepOutputs(client_, run_, step, job, StepDir(sr) + "/outputs", sr);
        !collected.ok()) {
      Mark(sr, v1::STEP_STATE_FAILED, collected.message());
      return;
    }
    Mark(sr, v1::STEP_STATE_SUCCEEDED, "");
    const bool step_caches =
        spec().cache() != v1::CACHE_POLICY_DISABLED && step.cache() != v1::CACHE_POLICY_DISABLED;
    if (step_caches && sr.step() != kExitHandler) {
      v1::StepRun cached;
      cached.set_job_id(job.id());
      *cached.mutable_outputs() = sr.outputs();
      if (Status s = store_.CacheStore(run_.project(), CacheKey(step, sr), cached); !s.ok()) {
        spdlog::warn("pipeline {}: could not cache step {}: {}", run_.id(), Describe(sr),
                     s.message());
      }
    }
    return;
  }
  if (cancelling_ && (job.state() == v1::JOB_STATE_CANCELLED)) {
    Mark(sr, v1::STEP_STATE_CANCELLED, "cancelled with the pipeline run");
    return;
  }
  std::string why = "job " + job.spec().name() + " (" + job.id() + ") " + StateWord(job.state());
  if (job.has_exit_code()) why += ": exit code " + std::to_string(job.exit_code());
  if (!job.message().empty() && !job.message().starts_with("exited with code")) {
    why += (job.has_exit_code() ? "; " : ": ") + job.message();
  }
  Mark(sr, v1::STEP_STATE_FAILED, why);
}

bool Driver::PollJobs() {
  bool progress = false;
  for (int i = 0; i < run_.steps_size(); ++i) {
    v1::StepRun& sr = *run_.mutable_steps(i);
    if (sr.state() != v1::STEP_STATE_RUNNING || sr.job_id().empty()) continue;
    auto job = client_.GetJob(sr.job_id(), v1::JOB_VIEW_BASIC);
    if (!job.ok()) {
      if (job.status().code() == StatusCode::kNotFound) {
        Mark(sr, v1::STEP_STATE_FAILED, "its job " + sr.job_id() + " no longer exists");
        progress = true;
      }
      continue;
    }
    if (job->has_start_time() && !sr.has_start_time()) {
      *sr.mutable_start_time() = job->start_time();
      dirty_ = true;
    }
    if (!JobEnded(*job)) continue;
    auto step = steps_.find(sr.step());
    if (step == steps_.end()) continue;
    Finish(sr, *step->second, *job);
    progress = true;
  }
  return progress;
}

bool Driver::StartReady() {
  bool progress = false;
  for (const auto& step : spec().steps()) {
    const std::vector<int> runs = RunsOf(step.name());
    if (runs.size() == 1 && !run_.steps(runs[0]).has_iteration() &&
        run_.steps(runs[0]).state() == v1::STEP_STATE_PENDING) {
      v1::StepRun& sr = *run_.mutable_steps(runs[0]);
      bool ready = true;
      bool upstream_failed = false;
      bool upstream_cancelled = false;
      std::string failed_dep;
      for (const auto& dep : deps_[step.name()]) {
        if (!Ended(dep)) {
          ready = false;
          break;
        }
        for (int i : RunsOf(dep)) {
          const auto s = run_.steps(i).state();
          if (s == v1::STEP_STATE_FAILED || s == v1::STEP_STATE_UPSTREAM_FAILED) {
            upstream_failed = true;
            failed_dep = dep + (s == v1::STEP_STATE_FAILED ? " failed" : " did not run");
          }
          if (s == v1::STEP_STATE_CANCELLED) upstream_cancelled = true;
        }
      }
      if (!ready) continue;
      progress = true;
      if (upstream_failed) {
        Mark(sr, v1::STEP_STATE_UPSTREAM_FAILED, "not run: upstream step " + failed_dep);
        continue;
      }
      if (upstream_cancelled) {
        Mark(sr, v1::STEP_STATE_CANCELLED, "not run: an upstream step was cancelled");
        continue;
      }
      *sr.mutable_ready_time() = Now();
      std::map<std::string, v1::IoValue> inputs;
      auto skip = ResolveInputs(step, &inputs);
      if (!skip.ok()) {
        Mark(sr, v1::STEP_STATE_FAILED, skip.status().message());
        continue;
      }
      if (!skip->empty()) {
        Mark(sr, v1::STEP_STATE_SKIPPED, *skip);
        continue;
      }
      auto holds = ConditionHolds(step);
      if (!holds.ok()) {
        if (holds.status().code() == StatusCode::kFailedPrecondition) {
          Mark(sr, v1::STEP_STATE_SKIPPED, "condition not evaluated: " + holds.status().message());
        } else {
          Mark(sr, v1::STEP_STATE_FAILED, "condition: " + holds.status().message());
        }
        continue;
      }
      if (!*holds) {
        Mark(sr, v1::STEP_STATE_SKIPPED, "condition false: " + step.condition());
        continue;
      }
      sr.clear_inputs();
      for (auto& [name, value] : inputs) *sr.add_inputs() = value;
      if (!step.has_parallel_for()) {
        Launch(sr, step);
        continue;
      }
      // Expand the parallel-for: one step run per element of the list input.
      const std::string& over = step.parallel_for().input();
      auto list_value = inputs.find(over);
      Json list = list_value == inputs.end()
                      ? Json::array()
                      : Json::parse(list_value->second.parameter_json(), nullptr, false);
      if (!list.is_array()) {
        Mark(sr, v1::STEP_STATE_FAILED, "parallel_for input " + over + " is not a list");
        continue;
      }
      if (list.empty()) {
        Mark(sr, v1::STEP_STATE_SUCCEEDED, "parallel_for over an empty list: nothing to run");
        continue;
      }
      v1::StepRun base = sr;
      base.clear_inputs();
      for (auto& [name, value] : inputs) {
        if (name != over) *base.add_inputs() = value;
      }
      for (size_t i = 0; i < list.size(); ++i) {
        v1::StepRun* it = i == 0 ? &sr : run_.add_steps();
        *it = base;
        it->set_iteration(static_cast<int>(i));
        v1::IoValue* element = it->add_inputs();
        *element = list_value->second;
        element->set_parameter_json(list[i].dump());
      }
      Index();
      dirty_ = true;
    }
    // Iterations of an expanded parallel-for start up to max_parallelism at a time.
    const std::vector<int>& expanded = RunsOf(step.name());
    int running = 0;
    for (int i : expanded) {
      if (run_.steps(i).state() == v1::STEP_STATE_RUNNING) ++running;
    }
    const int limit = step.parallel_for().max_parallelism();
    for (int i : expanded) {
      v1::StepRun& sr = *run_.mutable_steps(i);
      if (!sr.has_iteration() || sr.state() != v1::STEP_STATE_PENDING) continue;
      if (limit > 0 && running >= limit) break;
      Launch(sr, step);
      if (sr.state() == v1::STEP_STATE_RUNNING) ++running;
      progress = true;
    }
  }
  return progress;
}

bool Driver::StartExitHandler() {
  const auto& runs = RunsOf(kExitHandler);
  if (runs.empty()) return false;
  v1::StepRun& sr = *run_.mutable_steps(runs.front());
  if (sr.state() != v1::STEP_STATE_PENDING) return false;
  const v1::Step& step = spec().exit_handler();
  *sr.mutable_ready_time() = Now();
  std::map<std::string, v1::IoValue> inputs;
  auto resolved = ResolveInputs(step, &inputs);
  sr.clear_inputs();
  if (resolved.ok()) {
    for (auto& [name, value] : inputs) *sr.add_inputs() = value;
  }
  if (Status s = Submit(sr, step); !s.ok()) {
    Mark(sr, v1::STEP_STATE_FAILED, "could not start its job: " + s.message());
  }
  return true;
}

void Driver::CancelActive(const std::string& reason) {
  for (int i = 0; i < run_.steps_size(); ++i) {
    v1::StepRun& sr = *run_.mutable_steps(i);
    if (sr.step() == kExitHandler) continue;
    if (sr.state() == v1::STEP_STATE_RUNNING && !sr.job_id().empty()) {
      client_.CancelJob(sr.job_id(), reason.empty() ? "pipeline run cancelled" : reason)
          .status()
          .IgnoreError();
    } else if (sr.state() == v1::STEP_STATE_PENDING) {
      Mark(sr, v1::STEP_STATE_CANCELLED, "not run: the pipeline run was cancelled");
    }
  }
  dirty_ = true;
}

Status Driver::Finalize() {
  bool failed = false;
  for (const auto& sr : run_.steps()) {
    if (sr.state() == v1::STEP_STATE_FAILED || sr.state() == v1::STEP_STATE_UPSTREAM_FAILED) {
      failed = true;
    }
  }
  if (cancelling_) {
    run_.set_state(v1::PIPELINE_RUN_STATE_CANCELLED);
    run_.set_message(cancel_reason_.empty() ? "cancelled" : "cancelled: " + cancel_reason_);
  } else if (failed) {
    run_.set_state(v1::PIPELINE_RUN_STATE_FAILED);
    if (run_.failed_step().empty()) {
      for (const auto& sr : run_.steps()) {
        if (sr.state() == v1::STEP_STATE_FAILED) {
          run_.set_failed_step(sr.step());
          run_.set_message("step " + Describe(sr) + " failed: " + sr.message());
          break;
        }
      }
    }
  } else {
    run_.set_state(v1::PIPELINE_RUN_STATE_SUCCEEDED);
    run_.clear_message();
  }
  // The pipeline's outputs: edges with no target step.
  run_.clear_outputs();
  if (run_.state() == v1::PIPELINE_RUN_STATE_SUCCEEDED) {
    for (const auto& edge : spec().edges()) {
      if (!edge.target_step().empty() || edge.source_step().empty()) continue;
      v1::IoSpec target;
      target.set_name(edge.target_name());
      for (const auto& o : spec().outputs()) {
        if (o.name() == edge.target_name()) target = o;
      }
      v1::IoValue value;
      auto produced = OutputOf(edge.source_step(), edge.source_name(), target, &value);
      if (produced.ok() && *produced) *run_.add_outputs() = value;
    }
  }
  *run_.mutable_end_time() = Now();
  if (!run_.run_id().empty()) {
    v1::UpdateRunRequest update;
    update.set_id(run_.run_id());
    update.set_status(run_.state() == v1::PIPELINE_RUN_STATE_SUCCEEDED ? v1::RUN_STATUS_FINISHED
                      : run_.state() == v1::PIPELINE_RUN_STATE_FAILED  ? v1::RUN_STATUS_FAILED
                                                                       : v1::RUN_STATUS_KILLED);
    *update.mutable_end_time() = run_.end_time();
    if (auto updated = client_.UpdateRun(update); !updated.ok()) {
      spdlog::warn("pipeline {}: could not end its tracking run {}: {}", run_.id(), run_.run_id(),
                   updated.status().message());
    }
  }
  return store_.Save(run_, /*clear_cancel=*/true);
}

Status Driver::Run() {
  MLC_ASSIGN_OR_RETURN(StoredPipelineRun stored, store_.Get(id_));
  run_ = std::move(stored.run);
  if (IsFinalPipelineRunState(run_.state())) return Status::Ok();
  if (stored.cancel_reason) {
    cancelling_ = true;
    cancel_reason_ = *stored.cancel_reason;
  }
  Initialize();
  if (run_.state() == v1::PIPELINE_RUN_STATE_PENDING) {
    run_.set_state(v1::PIPELINE_RUN_STATE_RUNNING);
    if (!run_.has_start_time()) *run_.mutable_start_time() = Now();
    dirty_ = true;
  }
  if (Status parent = CreateParentRun(); !parent.ok()) {
    spdlog::warn("pipeline {}: no parent tracking run: {}", run_.id(), parent.message());
  }
  int idle_ms = 1;
  bool cancelled_active = false;
  while (true) {
    bool progress = false;
    if (!cancelling_) {
      MLC_ASSIGN_OR_RETURN(StoredPipelineRun now, store_.Get(id_));
      if (now.cancel_reason) {
        cancelling_ = true;
        cancel_reason_ = *now.cancel_reason;
      }
    }
    if (cancelling_ && !cancelled_active) {
      run_.set_state(v1::PIPELINE_RUN_STATE_CANCELLING);
      CancelActive(cancel_reason_);
      cancelled_active = true;
      progress = true;
    }
    progress |= PollJobs();
    if (!cancelling_) progress |= StartReady();
    bool all_ended = true;
    for (const auto& sr : run_.steps()) {
      if (sr.step() != kExitHandler && !StepEnded(sr.state())) all_ended = false;
    }
    if (all_ended) {
      progress |= StartExitHandler();
      const auto& handler = RunsOf(kExitHandler);
      if (handler.empty() || StepEnded(run_.steps(handler.front()).state())) return Finalize();
    }
    if (dirty_) {
      MLC_RETURN_IF_ERROR(store_.Save(run_));
      dirty_ = false;
    }
    idle_ms = progress ? 1 : std::min(idle_ms * 2, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
  }
}

}  // namespace

Status DrivePipelineRun(Client& client, PipelineStore& store, const std::string& id,
                        const std::string& work_dir) {
  Driver driver(client, store, id, work_dir);
  return driver.Run();
}

}  // namespace mlcore::pipelines
