// The mlcore client: the one entry point every surface (C++, Python, CLI, C ABI, gRPC server)
// goes through.
//
//   MLC_ASSIGN_OR_RETURN(auto client, mlcore::Client::Open("local:///tmp/state"));
//   mlcore::v1::Project p;
//   p.set_name("ml-research");
//   MLC_ASSIGN_OR_RETURN(auto created, client->CreateProject(p));
//
// A Client owns one Backend, chosen by the URI scheme through the BackendRegistry (backend.h).
// Client validates arguments once, so every backend receives well-formed requests and every
// surface reports the same errors.
//
// Thread safety: a Client may be used from several threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/attach.h"
#include "mlcore/config.h"
#include "mlcore/status.h"
#include "mlcore/v1/artifacts.pb.h"
#include "mlcore/v1/auth.pb.h"
#include "mlcore/v1/common.pb.h"
#include "mlcore/v1/data.pb.h"
#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/pipelines.pb.h"
#include "mlcore/v1/projects.pb.h"
#include "mlcore/v1/registry.pb.h"
#include "mlcore/v1/scheduling.pb.h"
#include "mlcore/v1/tracking.pb.h"

namespace mlcore {

class Backend;
struct JobSubmission;

class Client {
 public:
  // Opens the backend named by `options`, resolving anything left empty from the environment and
  // the config file (see config.h for the order). Errors: INVALID_ARGUMENT (malformed URI or
  // config file, unknown scheme), NOT_FOUND (unknown context), PERMISSION_DENIED /
  // FAILED_PRECONDITION (unusable state directory or store), UNAVAILABLE (remote backend down).
  static Result<std::unique_ptr<Client>> Open(const ClientOptions& options = {});

  // Opens the backend at `uri` explicitly; the default project still comes from the environment or
  // the config file.
  static Result<std::unique_ptr<Client>> Open(std::string_view uri);

  // Wraps an already constructed backend (tests, embedding). `config.backend` should name it.
  Client(std::unique_ptr<Backend> backend, ResolvedConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Where the backend URI and default project came from.
  const ResolvedConfig& config() const { return config_; }

  // The default project for calls that take an empty project name; empty when none is set.
  const std::string& project() const { return config_.project; }

  // The backend; borrowed, lives as long as this Client.
  Backend& backend() { return *backend_; }

  // Describes the backend and what it can do.
  Result<v1::BackendInfo> GetBackendInfo();

  // True when the backend declares `capability`.
  bool Supports(v1::Capability capability);

  // --- Projects (see proto/mlcore/v1/projects.proto for the full contract) ---

  // Creates a project. Errors: INVALID_ARGUMENT, NOT_FOUND (parent), ALREADY_EXISTS.
  Result<v1::Project> CreateProject(const v1::Project& project);
  // Errors: INVALID_ARGUMENT (bad name), NOT_FOUND.
  Result<v1::Project> GetProject(std::string_view name);
  // Errors: INVALID_ARGUMENT (bad page token or size).
  Result<v1::ListProjectsResponse> ListProjects(const v1::ListProjectsRequest& request = {});
  // Every page of ListProjects concatenated (for listings meant for people).
  Result<std::vector<v1::Project>> ListAllProjects(std::string_view parent = {});
  // Errors: NOT_FOUND, FAILED_PRECONDITION (has sub-projects).
  Status DeleteProject(std::string_view name);

  // --- Jobs (see proto/mlcore/v1/jobs.proto and docs/job-spec.md) ---

  // Submits a job. Fills what the spec leaves to the submitter's context: the project (the
  // client's default), a generated name ("train-g6d8y6"), the working directory (the current
  // one), the base environment and the git source of the working directory (recorded for
  // reproducibility; a dirty diff is attached as git-diff.patch), and the values of ENV secrets.
  // The spec is linted first; every problem is reported at once. Errors: INVALID_ARGUMENT (spec
  // problems, no project), NOT_FOUND (project, working directory), FAILED_PRECONDITION (an ENV
  // secret is unset), RESOURCE_EXHAUSTED (could never fit), ALREADY_EXISTS (name taken).
  Result<v1::Job> SubmitJob(const v1::JobSpec& spec, const std::string& request_id = {});
  // Submits a job another process prepared (the server's side of SubmitJob): validates and lints
  // it like SubmitJob, but takes nothing from this process: the spec needs an absolute working
  // directory that exists here, and ENV secrets' values must be in `submission.secrets` (others
  // are dropped). The job's user is util::CurrentUser() (the caller the server authenticated).
  // Errors: as SubmitJob's.
  Result<v1::Job> SubmitPreparedJob(JobSubmission submission);
  // A job by id, or by name in the client's project (or any project when the name is unique).
  Result<v1::Job> GetJob(std::string_view id_or_name, v1::JobView view = v1::JOB_VIEW_FULL);
  // A job by id, or by name (`id` or `name`) in `project` (empty: as above). Errors:
  // INVALID_ARGUMENT, NOT_FOUND.
  Result<v1::Job> GetJob(const v1::GetJobRequest& request);
  // Newest first; `project` defaults to the client's project (set "*" for every project).
  Result<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request);
  // Log lines in order (stdout and stderr unless request.streams says otherwise); with
  // request.follow, until the job ends, `sink` returns false, or `keep_following` (called at
  // least every 250 ms while the job is silent) returns false.
  Status StreamJobLogs(const v1::StreamJobLogsRequest& request,
                       const std::function<bool(const v1::LogLine&)>& sink,
                       const std::function<bool()>& keep_following = {});
  Result<v1::Job> CancelJob(std::string_view id_or_name, std::string_view reason = {});
  Result<v1::Job> PreemptJob(std::string_view id_or_name, std::string_view reason = {});
  // A new job from the recorded spec and environment of `id_or_name` (same command, working
  // directory, flavor, datasets); `name` empty = "<old name>-r<suffix>".
  Result<v1::Job> RerunJob(std::string_view id_or_name, std::string_view name = {});
  // Polls until the job is in a final state, `timeout` passes (DEADLINE_EXCEEDED) or
  // `keep_waiting` returns false (CANCELLED). A zero timeout waits forever.
  Result<v1::Job> WaitJob(std::string_view id_or_name,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                          const std::function<bool()>& keep_waiting = {});
  // Checks a spec (YAML text or a message) against this backend's flavors and classes.
  Result<v1::LintJobSpecResponse> LintJobSpec(const v1::LintJobSpecRequest& request);

  // --- Pipelines (see proto/mlcore/v1/pipelines.proto and docs/pipelines.md) ---

  // Checks a pipeline (YAML or JSON text, or a message) without running it: names, the DAG
  // (cycles naming their steps), edges, types, conditions, parallel-for, and each step's job spec
  // against this backend's flavors and priority classes. Every problem is in the response, in
  // file order; `resolved_spec` (defaults filled in, the project defaulted to the client's) is set
  // when none is an error. Needs no backend state beyond the flavor catalog, so it runs in this
  // process for every backend (and `mlc server` serves it as PipelineService.LintPipeline).
  // Errors: INVALID_ARGUMENT (neither text nor spec given, text too large).
  Result<v1::LintPipelineResponse> LintPipeline(const v1::LintPipelineRequest& request);

  // Runs a pipeline: lints it (INVALID_ARGUMENT listing every problem, FILE:LINE:COL when it came
  // as text), checks the input values, records the run and starts its driver, which submits each
  // step as a job when its inputs are ready (see docs/pipelines.md). Returns at once with the run
  // (PENDING); WaitPipelineRun follows it. `request.spec` or, when unset, `text` (+ `file` for
  // messages) gives the pipeline; its project defaults to the client's. `user` is who runs it
  // (empty = the current OS user; `mlc server` passes the caller).
  Result<v1::PipelineRun> RunPipeline(const v1::RunPipelineRequest& request,
                                      const std::string& text = {}, const std::string& file = {},
                                      const std::string& user = {});
  Result<v1::PipelineRun> GetPipelineRun(std::string_view id);
  Result<v1::ListPipelineRunsResponse> ListPipelineRuns(const v1::ListPipelineRunsRequest& request);
  // Asks the run's driver to stop its active steps' jobs, then run the exit handler. Returns the
  // run (CANCELLING), or the run as it was if it had already ended.
  Result<v1::PipelineRun> CancelPipelineRun(std::string_view id, std::string_view reason = {});
  // Runs a FAILED or CANCELLED run again from the steps that did not succeed (those that did keep
  // their outputs). Errors: FAILED_PRECONDITION for other states.
  Result<v1::PipelineRun> ResumePipelineRun(std::string_view id, bool disable_cache = false);
  // Polls the run until it ends (or `timeout`, 0 = no limit: DEADLINE_EXCEEDED), calling
  // `on_change` (when set) whenever a step changes state.
  Result<v1::PipelineRun> WaitPipelineRun(
      std::string_view id, std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
      const std::function<void(const v1::PipelineRun&)>& on_change = {});

  // --- Watching and attaching to jobs (mlcore/attach.h) ---

  // Calls `sink` with each state transition of the jobs `request` selects (`project`: one
  // project, empty = every project; `ids`: ids or names of jobs), first those at or after
  // `request.since` (when set), then new ones as they happen, until `sink` returns false or
  // `keep_watching` (called at least every 250 ms while nothing happens) returns false. Errors:
  // NOT_FOUND (project or a listed job), UNIMPLEMENTED (backend lacks it).
  Status WatchJobs(const v1::WatchJobsRequest& request,
                   const std::function<bool(const v1::WatchJobsResponse&)>& sink,
                   const std::function<bool()>& keep_watching = {});
  // Starts `command` in a RUNNING job's working directory and environment (on the machine that
  // runs the job), with its standard streams attached to the returned session; `tty` gives it a
  // pseudo-terminal. Errors: INVALID_ARGUMENT (empty command, replica out of range), NOT_FOUND
  // (job, or a program the job's PATH lacks), FAILED_PRECONDITION (job not RUNNING),
  // UNIMPLEMENTED (backend lacks CAPABILITY_JOB_ATTACH).
  Result<std::unique_ptr<ExecSession>> ExecJob(std::string_view id_or_name,
                                               const std::vector<std::string>& command,
                                               bool tty = false, int replica = 0);
  // The same from a request (the first message of the ExecJob rpc; `id` may be a name).
  Result<std::unique_ptr<ExecSession>> ExecJob(const v1::ExecJobRequest& request);
  // Opens one TCP connection to `port` of a RUNNING job (on the machine that runs it). Errors:
  // INVALID_ARGUMENT (port outside 1-65535), NOT_FOUND, FAILED_PRECONDITION (job not RUNNING),
  // UNAVAILABLE (nothing listening on the port), UNIMPLEMENTED (backend lacks
  // CAPABILITY_JOB_ATTACH).
  Result<std::unique_ptr<PortConnection>> PortForward(std::string_view id_or_name, int port,
                                                      int replica = 0);
  // The same from a request (the first message of the PortForward rpc).
  Result<std::unique_ptr<PortConnection>> PortForward(const v1::PortForwardRequest& request);

  // --- Scheduling facts ---
  Result<v1::ListFlavorsResponse> ListFlavors(const v1::ListFlavorsRequest& request = {});
  Result<v1::ListNodesResponse> ListNodes(const v1::ListNodesRequest& request = {});
  Result<v1::ListPriorityClassesResponse> ListPriorityClasses();
  Result<v1::GetQuotaUsageResponse> GetQuotaUsage(const v1::GetQuotaUsageRequest& request = {});
  // Replays a job trace on simulated nodes through the scheduling core, in this process (no
  // backend state is read or changed). Errors: INVALID_ARGUMENT for inconsistent configurations.
  Result<v1::SimulateResponse> Simulate(const v1::SimulateRequest& request);

  // --- Tracking (see proto/mlcore/v1/tracking.proto and mlcore/tracking.h for logging) ---

  // Errors: INVALID_ARGUMENT (bad name), NOT_FOUND (project), ALREADY_EXISTS.
  Result<v1::Experiment> CreateExperiment(const v1::Experiment& experiment);
  // By id, or by project (default: the client's) and name.
  Result<v1::Experiment> GetExperiment(const v1::GetExperimentRequest& request);
  Result<v1::ListExperimentsResponse> ListExperiments(const v1::ListExperimentsRequest& request);
  // Creates a RUNNING run; project defaults to the client's, experiment to "default" (by id or
  // by name: an `experiment_id` that is not an id is looked up as a name and created when
  // missing), user to the caller.
  Result<v1::Run> CreateRun(const v1::CreateRunRequest& request);
  // A run by id, or by name within the client's project when exactly one run has it.
  Result<v1::Run> GetRun(std::string_view id_or_name);
  Result<v1::Run> UpdateRun(const v1::UpdateRunRequest& request);
  Status DeleteRun(std::string_view id_or_name);
  Result<v1::Run> SetRunTags(const v1::SetRunTagsRequest& request);
  // Errors: INVALID_ARGUMENT with the column of a filter or order_by problem.
  Result<v1::SearchRunsResponse> SearchRuns(const v1::SearchRunsRequest& request);
  // Logs one batch (usually called by RunLogger's flusher, not by hand).
  Result<v1::LogBatchResponse> LogBatch(const v1::MetricBatch& batch);
  // Logs several batches, pipelined where the backend can (Backend::LogBatches); one result per
  // batch, in order. RunLogger's flusher sends each flush this way.
  std::vector<Result<v1::LogBatchResponse>> LogBatches(const std::vector<v1::MetricBatch>& batches);
  Result<v1::GetMetricHistoryResponse> GetMetricHistory(const v1::GetMetricHistoryRequest& request);
  // Follows a run's metrics as they are logged: `sink` gets the new points of one key at a time,
  // then a last response with the run's final status. Ends when the run has ended and its points
  // were sent, when `sink` returns false, or when `keep_watching` (polled while idle) does.
  // Errors: INVALID_ARGUMENT (no run), NOT_FOUND.
  Status WatchMetrics(
      const v1::WatchMetricsRequest& request,
      const std::function<bool(const v1::WatchMetricsResponse&)>& sink,
      const std::function<bool()>& keep_watching = [] { return true; });
  Result<v1::TrackingPolicy> GetTrackingPolicy(std::string_view project = {});
  Result<v1::TrackingPolicy> UpdateTrackingPolicy(const v1::TrackingPolicy& policy);
  Result<v1::ApplyRetentionResponse> ApplyRetention(const v1::ApplyRetentionRequest& request);

  // --- Artifacts (see proto/mlcore/v1/artifacts.proto and docs/artifacts.md) ---

  // Called with bytes done and total; returning false cancels (CANCELLED).
  using ProgressFn = std::function<bool(uint64_t done, uint64_t total)>;

  // Stores the file or directory `local_path` as artifact `path` (default: its base name) of
  // `owner`, a run or a job (by id or name), in the owner's project. Only content the store lacks
  // is transferred; a directory's unchanged files are not even read again. Errors:
  // INVALID_ARGUMENT (unsafe path, symlink escaping the tree, special file), NOT_FOUND (owner,
  // local path), ALREADY_EXISTS (the owner has an artifact at `path`), RESOURCE_EXHAUSTED.
  Result<v1::Artifact> LogArtifact(const v1::ObjectRef& owner, const std::string& local_path,
                                   const std::string& path = {},
                                   v1::ArtifactKind kind = v1::ARTIFACT_KIND_UNSPECIFIED,
                                   const std::map<std::string, std::string>& labels = {},
                                   const ProgressFn& progress = {});
  // Writes artifact `artifact_id` (or only the file/subtree `only_path` of it) below `dest`,
  // verified; records `consumer` (when its kind is set) as a use for lineage. Returns the
  // manifest written.
  Result<v1::Manifest> DownloadArtifact(const std::string& artifact_id, const std::string& dest,
                                        const std::string& only_path = {},
                                        const v1::ObjectRef& consumer = {},
                                        const ProgressFn& progress = {});
  // Records an artifact whose content is stored already (PutManifest first): owner (run or job,
  // by id or name), path and manifest_digest are required. Errors: FAILED_PRECONDITION/NOT_FOUND
  // (unknown manifest), ALREADY_EXISTS.
  Result<v1::Artifact> CreateArtifact(const v1::Artifact& artifact);
  Result<v1::Artifact> GetArtifact(std::string_view id);
  Result<v1::ListArtifactsResponse> ListArtifacts(const v1::ListArtifactsRequest& request);
  Status DeleteArtifact(std::string_view id);
  Status RecordArtifactUse(const v1::RecordArtifactUseRequest& request);
  Result<v1::ArtifactLineage> GetLineage(std::string_view artifact_id);
  Result<v1::GarbageCollectionReport> CollectGarbage(const v1::CollectGarbageRequest& request);
  Result<v1::FindMissingBlobsResponse> FindMissingBlobs(const v1::FindMissingBlobsRequest& request);
  Result<v1::Manifest> PutManifest(const v1::PutManifestRequest& request);
  Result<v1::Manifest> GetManifest(const v1::GetManifestRequest& request);

  // --- Data cache (see proto/mlcore/v1/data.proto and docs/data.md) ---

  // Returns a local path to verified content of `uri` (a path, file://, http(s)://,
  // artifact://ID[/PATH], models:/...) on this machine, fetching it once on a miss. The load
  // always runs on the machine serving the call (filling its hot tier, which jobs there use); a
  // remote backend on another machine then copies the content into this machine's cache
  // ($MLC_CACHE_DIR, else $XDG_CACHE_HOME/mlcore/data) and returns that copy's path. Project
  // defaults to the client's. Errors: as DataService.Load.
  Result<v1::LoadResponse> LoadData(const v1::LoadRequest& request,
                                    const ProgressFn& progress = {});
  // Streams the bytes of a loaded object as it is on the machine serving the call (see
  // DataService.ReadData); `sink` returning false stops early. Errors: as DataService.ReadData.
  Status ReadData(const v1::ReadDataRequest& request,
                  const std::function<bool(const v1::ReadDataResponse&)>& sink);
  // Empty project = every entry of the cache.
  Result<v1::ListCacheEntriesResponse> ListCacheEntries(const v1::ListCacheEntriesRequest& request);
  // Owner defaults to "user:<current user>".
  Result<v1::CacheEntry> PinData(const v1::PinRequest& request);
  Result<v1::CacheEntry> UnpinData(const v1::UnpinRequest& request);
  Result<v1::EvictResponse> EvictData(const v1::EvictRequest& request);
  Result<v1::PrefetchResponse> PrefetchData(const v1::PrefetchRequest& request);
  Result<v1::CacheStats> GetCacheStats();

  // --- Model registry (see proto/mlcore/v1/registry.proto for the full contract) ---
  // Every call takes the project from the request, else the client's default. Names, aliases,
  // URIs, tag and metric keys, digests and paths are validated here (INVALID_ARGUMENT stating the
  // rule); `expected_version` (when non-zero) makes a change ABORTED if the model moved on.

  // Errors: INVALID_ARGUMENT, NOT_FOUND (project), ALREADY_EXISTS.
  Result<v1::RegisteredModel> CreateRegisteredModel(const v1::RegisteredModel& model);
  // With its aliases and tags. Errors: INVALID_ARGUMENT, NOT_FOUND (project or model).
  Result<v1::RegisteredModel> GetRegisteredModel(const v1::GetRegisteredModelRequest& request);
  // Errors: INVALID_ARGUMENT with the column of a filter or order_by problem, NOT_FOUND (project).
  Result<v1::ListRegisteredModelsResponse> ListRegisteredModels(
      const v1::ListRegisteredModelsRequest& request);
  // Description and tags. Errors: INVALID_ARGUMENT (tag key), NOT_FOUND, ABORTED.
  Result<v1::RegisteredModel> UpdateRegisteredModel(
      const v1::UpdateRegisteredModelRequest& request);
  // Errors: INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ABORTED.
  Result<v1::RegisteredModel> RenameRegisteredModel(
      const v1::RenameRegisteredModelRequest& request);
  // Errors: NOT_FOUND, FAILED_PRECONDITION (aliases point at its versions; listed), ABORTED.
  Status DeleteRegisteredModel(const v1::DeleteRegisteredModelRequest& request);
  // The next version from a run's artifact, a job's output or an artifact (READY at once), or an
  // upload to come (PENDING_UPLOAD). A source run or job may be named by id or by name in the
  // model's project. Errors: INVALID_ARGUMENT, NOT_FOUND (model, run, job, artifact, path),
  // FAILED_PRECONDITION (job not SUCCEEDED, source in another project), ABORTED.
  Result<v1::ModelVersion> CreateModelVersion(const v1::CreateModelVersionRequest& request);
  // Errors: INVALID_ARGUMENT, NOT_FOUND (version, manifest), FAILED_PRECONDITION.
  Result<v1::ModelVersion> FinishModelVersionUpload(
      const v1::FinishModelVersionUploadRequest& request);
  // Errors: INVALID_ARGUMENT (version < 1), NOT_FOUND.
  Result<v1::ModelVersion> GetModelVersion(const v1::GetModelVersionRequest& request);
  // Highest number first. Errors: INVALID_ARGUMENT, NOT_FOUND (model).
  Result<v1::ListModelVersionsResponse> ListModelVersions(
      const v1::ListModelVersionsRequest& request);
  // The version a `models:/` URI names now. Errors: INVALID_ARGUMENT (shows the accepted forms),
  // NOT_FOUND (for an alias, lists the model's aliases), FAILED_PRECONDITION (not READY).
  Result<v1::ModelVersion> ResolveModelUri(const v1::ResolveModelUriRequest& request);
  // Errors: INVALID_ARGUMENT ("latest", bad alias), NOT_FOUND, FAILED_PRECONDITION (not READY),
  // ABORTED.
  Result<v1::SetModelAliasResponse> SetModelAlias(const v1::SetModelAliasRequest& request);
  // Errors: INVALID_ARGUMENT ("latest"), NOT_FOUND, ABORTED.
  Result<v1::DeleteModelAliasResponse> DeleteModelAlias(const v1::DeleteModelAliasRequest& request);
  // Run, job, code, datasets, artifact and parents (depth 0 = 10, at most 100).
  Result<v1::ModelVersionLineage> GetModelVersionLineage(
      const v1::GetModelVersionLineageRequest& request);
  // Versions built from a RUN, JOB, DATASET (digest), ARTIFACT or MODEL_VERSION, newest first;
  // an empty project means every project (a MODEL_VERSION reference defaults to the client's).
  Result<v1::ListModelVersionsBuiltFromResponse> ListModelVersionsBuiltFrom(
      const v1::ListModelVersionsBuiltFromRequest& request);
  // CreateModelVersion, and for an UPLOAD source whose `path` is a local directory, the upload
  // too: the directory's files go to the artifact store (only content it lacks; `progress` as for
  // artifacts) and the version is finished READY, or FAILED with the upload's error (returned).
  Result<v1::ModelVersion> RegisterModelVersion(const v1::CreateModelVersionRequest& request,
                                                const ProgressFn& progress = {});
  // Calls `sink` with the project's registry events in sequence order (replaying from
  // request.after_sequence when set, else only new ones) until `sink` returns false or
  // `keep_watching` (called at least every 250 ms while nothing happens) returns false.
  // Errors: INVALID_ARGUMENT (filters), NOT_FOUND (project).
  Status WatchRegistryEvents(const v1::WatchRegistryEventsRequest& request,
                             const std::function<bool(const v1::RegistryEvent&)>& sink,
                             const std::function<bool()>& keep_watching = {});
  // Registers a webhook of the project (the client's when unset). A FILE secret's path is made
  // absolute; an ENV secret is read now. Errors: INVALID_ARGUMENT (URL not https nor loopback
  // http, malformed secret reference or filters), NOT_FOUND (project, model in `models`),
  // FAILED_PRECONDITION (the secret cannot be resolved now).
  Result<v1::Webhook> CreateWebhook(const v1::Webhook& webhook);
  // The same with the request: an ENV secret's value in `secret_value` is used as given (a server
  // passing on a remote caller's value), else read from this process's environment.
  Result<v1::Webhook> CreateWebhook(const v1::CreateWebhookRequest& request);
  Result<v1::ListWebhooksResponse> ListWebhooks(const v1::ListWebhooksRequest& request);
  // Deletes a webhook and its unfinished deliveries (the log stays). Errors: NOT_FOUND.
  Status DeleteWebhook(const std::string& id);
  // Sends a PING now and returns the delivery (a failed delivery is in it, not the status).
  // Errors: NOT_FOUND, FAILED_PRECONDITION (the secret cannot be resolved).
  Result<v1::WebhookDelivery> TestWebhook(const std::string& id);
  // The webhook's delivery log, newest first. Errors: NOT_FOUND, INVALID_ARGUMENT.
  Result<v1::ListWebhookDeliveriesResponse> ListWebhookDeliveries(
      const v1::ListWebhookDeliveriesRequest& request);

  // --- Identity, tokens and roles (auth.proto; served by `mlc server`). On local:// the caller is
  // an administrator of everything and there are no tokens or roles (FAILED_PRECONDITION). ---

  // The caller: user, token and role bindings.
  Result<v1::WhoAmIResponse> WhoAmI();
  // A new token; its secret is in the answer, once. Errors: INVALID_ARGUMENT (negative ttl),
  // NOT_FOUND (user, or a project the user holds no role on), PERMISSION_DENIED.
  Result<v1::CreateTokenResponse> CreateToken(const v1::CreateTokenRequest& request);
  Result<v1::ListTokensResponse> ListTokens(const v1::ListTokensRequest& request);
  // Idempotent. Errors: NOT_FOUND.
  Status RevokeToken(const std::string& id);
  // Errors: INVALID_ARGUMENT (role), NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION (the
  // project's last admin).
  Result<v1::RoleBinding> GrantRole(const v1::GrantRoleRequest& request);
  Status RevokeRole(const v1::RevokeRoleRequest& request);
  Result<v1::ListRoleBindingsResponse> ListRoleBindings(const v1::ListRoleBindingsRequest& request);

 private:
  // A run or job reference resolved to its id and project.
  Result<v1::ObjectRef> ResolveOwner(const v1::ObjectRef& ref);
  // The project of a request: `project` if set, else the client's default, else an error.
  Result<std::string> ProjectOrDefault(const std::string& project, std::string_view what);
  // The common end of SubmitJob and SubmitPreparedJob (`lint`: check the spec here).
  Result<v1::Job> SubmitPrepared(JobSubmission submission, bool lint);

  std::unique_ptr<Backend> backend_;
  ResolvedConfig config_;
};

}  // namespace mlcore
