#include "pipelines/pipeline_engine.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <set>

#include <google/protobuf/util/time_util.h>

#include "local/process.h"
#include "mlcore/client.h"
#include "pipelines/pipeline_driver.h"
#include "pipelines/pipeline_step_io.h"
#include "pipelines/pipeline_store.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore::pipelines {
namespace {

using google::protobuf::util::TimeUtil;

std::string StateWord(v1::PipelineRunState state) {
  return std::string(v1::PipelineRunState_Name(state)).substr(19);
}

}  // namespace

Status CheckInputValues(const v1::PipelineSpec& spec,
                        const google::protobuf::Map<std::string, std::string>& values) {
  std::set<std::string> known;
  for (const auto& io : spec.inputs()) known.insert(io.name());
  for (const auto& [name, text] : values) {
    if (known.count(name) == 0) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return InvalidArgumentError(
          "pipeline " + spec.name() + " has no input \"" + name + "\"" +
          (list.empty() ? "; it takes no inputs" : "; its inputs: " + list));
    }
  }
  for (const auto& io : spec.inputs()) {
    auto it = values.find(io.name());
    if (it == values.end()) {
      if (io.default_value().empty() && !io.optional()) {
        return InvalidArgumentError("pipeline " + spec.name() + " needs input \"" + io.name() +
                                    "\"; give it with `-i " + io.name() + "=VALUE`");
      }
      continue;
    }
    if (io.type() == v1::IO_TYPE_PARAMETER) {
      MLC_RETURN_IF_ERROR(ParameterJsonOfText(io, it->second, "input " + io.name()).status());
    }
  }
  return Status::Ok();
}

PipelineEngine::PipelineEngine(std::string state_dir, std::string jobs_uri)
    : state_dir_(std::move(state_dir)), jobs_uri_(std::move(jobs_uri)) {}

PipelineEngine::~PipelineEngine() = default;

void PipelineEngine::set_jobs_uri(std::string uri) {
  std::lock_guard lock(mu_);
  jobs_uri_ = std::move(uri);
}

Result<PipelineStore*> PipelineEngine::Store() {
  std::lock_guard lock(mu_);
  if (!store_) {
    MLC_ASSIGN_OR_RETURN(store_, PipelineStore::Open(state_dir_));
  }
  return store_.get();
}

Status PipelineEngine::LaunchDriver(const std::string& id) {
  MLC_ASSIGN_OR_RETURN(PipelineStore * store, Store());
  MLC_ASSIGN_OR_RETURN(std::string binary, local::SupervisorBinary());
  const std::string dir = state_dir_ + "/pipelines/" + id;
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(dir, "the pipeline run's directory"));
  std::string uri;
  {
    std::lock_guard lock(mu_);
    uri = jobs_uri_;
  }
  MLC_ASSIGN_OR_RETURN(pid_t pid, local::SpawnDetached({binary, "--state", state_dir_,
                                                        "--pipeline-run", id, "--backend", uri},
                                                       dir + "/driver.log"));
  local::ProcessIdentity launched;
  launched.pid = pid;
  launched.boot_id = local::BootId();
  return store->SetDriver(id, launched);
}

Result<v1::PipelineRun> PipelineEngine::Observe(const std::string& id, bool restart_driver) {
  MLC_ASSIGN_OR_RETURN(PipelineStore * store, Store());
  MLC_ASSIGN_OR_RETURN(StoredPipelineRun stored, store->Get(id));
  v1::PipelineRun run = std::move(stored.run);
  if (IsFinalPipelineRunState(run.state())) return run;
  if (stored.cancel_reason) run.set_state(v1::PIPELINE_RUN_STATE_CANCELLING);
  // A launched driver records itself with start_ticks 0 until it claims the run.
  const bool alive =
      stored.driver.pid != 0 &&
      (stored.driver.start_ticks == 0 ? local::IdentityOf(stored.driver.pid).pid != 0 &&
                                            stored.driver.boot_id == local::BootId()
                                      : local::IsAlive(stored.driver));
  if (!alive && restart_driver) {
    if (Status launched = LaunchDriver(id); !launched.ok()) {
      run.set_message("its driver is not running and could not be started: " + launched.message());
    }
  }
  return run;
}

Result<v1::PipelineRun> PipelineEngine::Run(const v1::RunPipelineRequest& request,
                                            const std::string& user) {
  if (request.spec().project().empty()) {
    return InvalidArgumentError("the pipeline's project is not set");
  }
  MLC_RETURN_IF_ERROR(CheckInputValues(request.spec(), request.input_values()));
  MLC_ASSIGN_OR_RETURN(PipelineStore * store, Store());
  v1::PipelineRun run;
  run.set_id(util::RandomHexId("p"));
  run.set_project(request.spec().project());
  *run.mutable_spec() = request.spec();
  *run.mutable_input_values() = request.input_values();
  run.set_state(v1::PIPELINE_RUN_STATE_PENDING);
  run.set_user(user);
  run.set_cache_disabled(request.disable_cache());
  *run.mutable_environment() = request.environment();
  *run.mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  // Every step is listed PENDING from the start (a parallel-for expands when it is reached).
  for (const auto& step : run.spec().steps()) {
    v1::StepRun* sr = run.add_steps();
    sr->set_step(step.name());
    sr->set_state(v1::STEP_STATE_PENDING);
  }
  if (run.spec().has_exit_handler()) {
    v1::StepRun* sr = run.add_steps();
    sr->set_step("exit_handler");
    sr->set_state(v1::STEP_STATE_PENDING);
  }
  MLC_ASSIGN_OR_RETURN(v1::PipelineRun stored, store->Insert(run, request.request_id()));
  if (stored.id() != run.id()) return Observe(stored.id(), true);  // a repeated request
  if (Status launched = LaunchDriver(run.id()); !launched.ok()) {
    run.set_state(v1::PIPELINE_RUN_STATE_FAILED);
    run.set_message("could not start its driver: " + launched.message());
    store->Save(run).IgnoreError();
    return launched;
  }
  return run;
}

Result<v1::PipelineRun> PipelineEngine::Get(const std::string& id) { return Observe(id, true); }

Result<v1::ListPipelineRunsResponse> PipelineEngine::List(
    const v1::ListPipelineRunsRequest& request) {
  MLC_ASSIGN_OR_RETURN(PipelineStore * store, Store());
  const int page = request.page_size() > 0 ? std::min(request.page_size(), 1000) : 100;
  int offset = 0;
  if (!request.page_token().empty()) {
    try {
      offset = std::stoi(request.page_token());
    } catch (...) {
      return InvalidArgumentError("page_token \"" + request.page_token() +
                                  "\" was not returned by ListPipelineRuns");
    }
  }
  std::vector<v1::PipelineRunState> states;
  for (int s : request.states()) states.push_back(static_cast<v1::PipelineRunState>(s));
  std::vector<v1::PipelineRunState> stored_states = states;
  // CANCELLING is a stored RUNNING or PENDING run with a cancel request.
  for (auto s : states) {
    if (s == v1::PIPELINE_RUN_STATE_CANCELLING) {
      stored_states.push_back(v1::PIPELINE_RUN_STATE_RUNNING);
      stored_states.push_back(v1::PIPELINE_RUN_STATE_PENDING);
    }
  }
  MLC_ASSIGN_OR_RETURN(auto runs, store->List(request.project(), request.pipeline_name(),
                                              stored_states, request.user(), page + 1, offset));
  v1::ListPipelineRunsResponse response;
  for (size_t i = 0; i < runs.size() && static_cast<int>(i) < page; ++i) {
    v1::PipelineRun run = runs[i];
    if (!IsFinalPipelineRunState(run.state())) {
      auto observed = Observe(run.id(), true);
      if (observed.ok()) run = *observed;
    }
    if (!states.empty() && std::find(states.begin(), states.end(), run.state()) == states.end()) {
      continue;
    }
    *response.add_runs() = std::move(run);
  }
  if (static_cast<int>(runs.size()) > page) {
    response.set_next_page_token(std::to_string(offset + page));
  }
  return response;
}

Result<v1::PipelineRun> PipelineEngine::Cancel(const v1::CancelPipelineRunRequest& request) {
  MLC_ASSIGN_OR_RETURN(PipelineStore * store, Store());
  MLC_ASSIGN_OR_RETURN(bool requested, store->RequestCancel(request.id(), request.reason()));
  MLC_ASSIGN_OR_RETURN(v1::PipelineRun run, Observe(request.id(), requested));
  return run;
}

Result<v1::PipelineRun> PipelineEngine::Resume(const v1::ResumePipelineRunRequest& request) {
  MLC_ASSIGN_OR_RETURN(PipelineStore * store, Store());
  MLC_ASSIGN_OR_RETURN(StoredPipelineRun stored, store->Get(request.id()));
  v1::PipelineRun run = std::move(stored.run);
  if (run.state() != v1::PIPELINE_RUN_STATE_FAILED &&
      run.state() != v1::PIPELINE_RUN_STATE_CANCELLED) {
    return FailedPreconditionError("pipeline run " + run.id() + " is " + StateWord(run.state()) +
                                   "; only FAILED or CANCELLED runs can be resumed");
  }
  // Steps that did not succeed run again; a parallel-for whose iterations failed runs only those.
  std::set<std::string> rerun_steps;
  auto redo = [](v1::StepState s) {
    return s == v1::STEP_STATE_FAILED || s == v1::STEP_STATE_UPSTREAM_FAILED ||
           s == v1::STEP_STATE_CANCELLED;
  };
  for (auto& sr : *run.mutable_steps()) {
    if (!redo(sr.state()) && sr.step() != "exit_handler") continue;
    if (!sr.has_iteration()) {
      // Unexpanded (never ran as iterations): back to a plain pending step.
      sr.clear_inputs();
    }
    sr.set_state(v1::STEP_STATE_PENDING);
    sr.clear_job_id();
    sr.clear_run_id();
    sr.clear_outputs();
    sr.clear_end_time();
    sr.clear_start_time();
    sr.clear_ready_time();
    sr.set_message("resumed");
  }
  run.set_state(v1::PIPELINE_RUN_STATE_RUNNING);
  run.set_resumes(run.resumes() + 1);
  run.clear_failed_step();
  run.clear_message();
  run.clear_end_time();
  run.clear_outputs();
  if (request.disable_cache()) run.set_cache_disabled(true);
  MLC_RETURN_IF_ERROR(store->Save(run, /*clear_cancel=*/true));
  MLC_RETURN_IF_ERROR(LaunchDriver(run.id()));
  return run;
}

int RunPipelineDriverMain(const std::string& state_dir, const std::string& id,
                          const std::string& backend_uri) {
  auto say = [&](const std::string& text) {
    std::cerr << TimeUtil::ToString(TimeUtil::MicrosecondsToTimestamp(
                     std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count()))
              << " pipeline " << id << ": " << text << std::endl;
  };
  auto store = PipelineStore::Open(state_dir);
  if (!store.ok()) {
    say("cannot open the store: " + store.status().ToString());
    return 2;
  }
  local::ProcessIdentity self = local::IdentityOf(getpid());
  auto claimed = (*store)->ClaimDriver(id, self);
  if (!claimed.ok()) {
    say("cannot claim the run: " + claimed.status().ToString());
    return 2;
  }
  if (!*claimed) {
    say("another driver runs it; exiting");
    return 0;
  }
  ClientOptions options;
  options.backend = backend_uri;
  auto client = Client::Open(options);
  if (!client.ok()) {
    say("cannot open backend " + backend_uri + ": " + client.status().ToString());
    return 2;
  }
  say("driving (backend " + backend_uri + ")");
  Status driven = DrivePipelineRun(**client, **store, id, state_dir + "/pipelines/" + id);
  if (!driven.ok()) {
    say("stopped: " + driven.ToString());
    return 1;
  }
  say("ended");
  return 0;
}

}  // namespace mlcore::pipelines
