// The pipeline runs of the local engine (local:// and the backends embedding it: `mlc server`,
// slurm+http://): PipelineService's Run/Get/List/Cancel/Resume over a PipelineStore, with one
// detached driver process per active run (`mlc-supervisor --pipeline-run ID`, see
// pipeline_driver.h) that submits the steps' jobs through `jobs_uri`.
//
// A driver that died (machine reboot, kill -9) is started again by the next Get, List, Cancel or
// Resume that sees its run unfinished; it picks up where the stored run is (step submission is
// idempotent).
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "mlcore/status.h"
#include "mlcore/v1/pipelines.pb.h"

namespace mlcore::pipelines {

class PipelineStore;

class PipelineEngine {
 public:
  // `state_dir`: the local state directory (pipelines.db and pipelines/RUN/ live there);
  // `jobs_uri`: the backend URI drivers open to submit jobs and store artifacts.
  PipelineEngine(std::string state_dir, std::string jobs_uri);
  ~PipelineEngine();
  PipelineEngine(const PipelineEngine&) = delete;
  PipelineEngine& operator=(const PipelineEngine&) = delete;

  void set_jobs_uri(std::string uri);

  // Records a run of `request.spec` (checked already: resolved, project set) and starts its
  // driver. Errors: INVALID_ARGUMENT (unknown or missing inputs, values of the wrong type).
  Result<v1::PipelineRun> Run(const v1::RunPipelineRequest& request, const std::string& user);
  Result<v1::PipelineRun> Get(const std::string& id);
  Result<v1::ListPipelineRunsResponse> List(const v1::ListPipelineRunsRequest& request);
  // Asks the driver to cancel; returns the run (CANCELLING, or as it was when already ended).
  Result<v1::PipelineRun> Cancel(const v1::CancelPipelineRunRequest& request);
  // Runs a FAILED or CANCELLED run again from its failed and cancelled steps; steps that
  // succeeded keep their outputs. Errors: FAILED_PRECONDITION for a run that is not FAILED or
  // CANCELLED.
  Result<v1::PipelineRun> Resume(const v1::ResumePipelineRunRequest& request);

 private:
  Result<PipelineStore*> Store();
  Status LaunchDriver(const std::string& id);
  // The stored run as callers see it; restarts a dead driver of an unfinished run.
  Result<v1::PipelineRun> Observe(const std::string& id, bool restart_driver);

  const std::string state_dir_;
  std::mutex mu_;
  std::string jobs_uri_;
  std::unique_ptr<PipelineStore> store_;
};

// Entry point of `mlc-supervisor --pipeline-run ID --state DIR --backend URI`.
int RunPipelineDriverMain(const std::string& state_dir, const std::string& id,
                          const std::string& backend_uri);

// Checks run-time input values against the spec's inputs: every name known, every required
// input given (or defaulted), parameter values of their type. Errors: INVALID_ARGUMENT naming
// the input and what is expected.
Status CheckInputValues(const v1::PipelineSpec& spec,
                        const google::protobuf::Map<std::string, std::string>& values);

}  // namespace mlcore::pipelines
