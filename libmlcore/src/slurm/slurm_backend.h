// The `slurm+http://HOST:PORT` backend (also slurm+https://, slurm+unix:///PATH): jobs run on a
// Slurm cluster, driven through slurmrestd's REST API; everything else — projects, quotas,
// flavors, tracking, artifacts, data cache, registry — is served by an embedded local store in a
// state directory, which also keeps mlcore's own record of every job (spec, Slurm job id, state),
// so a job Slurm has forgotten (MinJobAge without slurmdbd) is still answered.
//
// mlcore is the admission controller in front of Slurm: a job's flavor, priority class and the
// project's limits (with its ancestors') are checked exactly as on local://, and a job that would
// take its project over its limit waits in mlcore (PENDING, with the limit named) and is handed to
// Slurm on a later call once the project's running jobs leave room.
//
// URI query keys (all optional): user= (X-SLURM-USER-NAME; default the current user), token=,
// token_file=, token_lifespan= (see slurm_rest.h), state= (state directory; default
// $XDG_DATA_HOME/mlcore/slurm/HOST_PORT), partition= (default partition), partitions=
// (flavor:partition,... mapping), qos= (Slurm QoS for every job). Jobs' output files are written
// under the state directory, which must be visible at the same path on the compute nodes (a shared
// file system, or one machine).
//
// Thread safety: safe to call from several threads (the job table is serialized by a mutex;
// REST calls run in parallel on separate connections).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/forwarding_backend.h"
#include "local/sqlite_store.h"
#include "slurm/slurm_rest.h"

namespace mlcore::pipelines {
class PipelineEngine;
}

namespace mlcore::slurm {

class SlurmBackend final : public ForwardingBackend {
 public:
  // Errors: those of RestClient::Create and of opening the state directory's store. Does not
  // contact slurmrestd (the first job operation does).
  static Result<std::unique_ptr<Backend>> Open(const Uri& uri);

  v1::BackendInfo Info() override;
  Result<v1::Job> SubmitJob(const JobSubmission& submission) override;
  Result<v1::Job> GetJob(const v1::GetJobRequest& request) override;
  Result<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request) override;
  // Pipeline runs are kept in the state directory; their drivers submit the steps to Slurm.
  Result<v1::PipelineRun> RunPipeline(const v1::RunPipelineRequest& request,
                                      const std::string& user) override;
  Result<v1::PipelineRun> GetPipelineRun(const v1::GetPipelineRunRequest& request) override;
  Result<v1::ListPipelineRunsResponse> ListPipelineRuns(
      const v1::ListPipelineRunsRequest& request) override;
  Result<v1::PipelineRun> CancelPipelineRun(const v1::CancelPipelineRunRequest& request) override;
  Result<v1::PipelineRun> ResumePipelineRun(const v1::ResumePipelineRunRequest& request) override;
  Status StreamJobLogs(const v1::StreamJobLogsRequest& request,
                       const std::function<bool(const v1::LogLine&)>& sink,
                       const std::function<bool()>& keep_following) override;
  Result<v1::Job> CancelJob(const v1::CancelJobRequest& request) override;
  Result<v1::Job> PreemptJob(const v1::PreemptJobRequest& request) override;
  // The store's projects and limits, with usage from the jobs this backend put in Slurm.
  Result<v1::GetQuotaUsageResponse> GetQuotaUsage(const v1::GetQuotaUsageRequest& request) override;

 private:
  // A row of the job table.
  struct Row {
    v1::Job job;
    int64_t slurm_id = 0;  // 0 = held by mlcore (not yet handed to Slurm); kAdmitting
  };

  SlurmBackend(std::unique_ptr<Backend> store, std::unique_ptr<RestClient> rest, std::string dir,
               std::unique_ptr<sqlite::Db> db, const Uri& uri);

  // Job table (slurm.db in the state directory). Callers hold mu_.
  Status InsertRowLocked(const Row& row);
  Status UpdateRowLocked(const Row& row);
  Result<Row> LoadRowLocked(const std::string& id_or_name, const std::string& project);
  Result<std::vector<Row>> LoadActiveRowsLocked();

  // Flavor, priority and the could-it-ever-fit check, as on local://.
  Status Admit(v1::Job* job);
  // Whether `job` fits its project's limits (and ancestors') next to the project's jobs now in
  // Slurm; the limit it would exceed, in words, when not.
  Result<std::string> WouldExceedLimitLocked(const v1::Job& job);
  // Hands a row to Slurm (job/submit) and records the Slurm job id.
  Status HandToSlurmLocked(Row* row, const std::map<std::string, std::string>& secrets);
  // The pieces of it: the job/submit body (making the job's directory), the call, the record.
  Result<std::string> PrepareSubmit(const v1::Job& job,
                                    const std::map<std::string, std::string>& secrets);
  Result<int64_t> PostSubmit(const v1::Job& job, const std::string& body);
  static void MarkSubmitted(Row* row, int64_t slurm_id);
  // slurm_id of a row admitted and being submitted right now (counts against quotas).
  static constexpr int64_t kAdmitting = -1;
  // Hands held jobs to Slurm, oldest first, while their projects have room; with `refresh`, first
  // brings the jobs in Slurm up to date (so ended ones free their room).
  Status AdmitHeldLocked(bool refresh);
  // Brings a row up to date with Slurm (no-op for final states); stores what changed; restarts it
  // when its retry policy says so; with `admit`, admits held jobs when it ended.
  Status RefreshLocked(Row* row, bool admit = true);
  // Records `to` (and the tracking run's end for final states).
  void Move(Row* row, v1::JobState to, const std::string& reason);
  Status EndRun(const v1::Job& job);
  Result<std::string> CreateJobRun(const v1::Job& job);
  std::string PartitionFor(const v1::Job& job) const;
  std::string JobDirOf(const std::string& id) const { return dir_ + "/slurm-jobs/" + id; }

  std::unique_ptr<RestClient> rest_;
  const std::string dir_;
  std::mutex mu_;  // serializes use of db_
  std::unique_ptr<sqlite::Db> db_;
  std::string default_partition_;
  std::map<std::string, std::string> partitions_;  // flavor -> partition
  std::string qos_;
  std::string uri_text_;
  std::unique_ptr<pipelines::PipelineEngine> pipelines_;
  // Secret values of held jobs, by job id: kept in memory only (never stored), so a held job with
  // secrets is handed to Slurm by this process or ends FAILED saying why.
  std::map<std::string, std::map<std::string, std::string>> held_secrets_;
};

}  // namespace mlcore::slurm
