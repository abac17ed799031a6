// Watching and attaching to jobs: Client calls, and what a backend without them answers.
#include "core/validation.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"

namespace mlcore {

Status Backend::WatchJobs(const v1::WatchJobsRequest&,
                          const std::function<bool(const v1::WatchJobsResponse&)>&,
                          const std::function<bool()>&) {
  return UnimplementedError("this backend (" + Info().scheme() +
                            "://) cannot watch job state transitions");
}

Result<std::unique_ptr<ExecSession>> Backend::ExecJob(const v1::ExecJobRequest&) {
  return UnimplementedError("this backend (" + Info().scheme() +
                            "://) cannot run commands in jobs (it lacks CAPABILITY_JOB_ATTACH)");
}

Result<std::unique_ptr<PortConnection>> Backend::PortForward(const v1::PortForwardRequest&) {
  return UnimplementedError("this backend (" + Info().scheme() +
                            "://) cannot forward ports of jobs (it lacks CAPABILITY_JOB_ATTACH)");
}

Status Client::WatchJobs(const v1::WatchJobsRequest& request,
                         const std::function<bool(const v1::WatchJobsResponse&)>& sink,
                         const std::function<bool()>& keep_watching) {
  v1::WatchJobsRequest r = request;
  if (!r.project().empty()) MLC_RETURN_IF_ERROR(ValidateProjectName(r.project()));
  if (r.has_since() && (r.since().seconds() < 0 || r.since().nanos() < 0)) {
    return InvalidArgumentError("`since` must not be before 1970");
  }
  // Names become ids, so the backend (and a server's authorization) sees only ids.
  for (std::string& id : *r.mutable_ids()) {
    v1::GetJobRequest get;
    get.set_id(id);
    get.set_project(r.project());
    get.set_view(v1::JOB_VIEW_BASIC);
    MLC_ASSIGN_OR_RETURN(v1::Job job, GetJob(get));
    id = job.id();
  }
  return backend_->WatchJobs(r, sink, keep_watching);
}

Result<std::unique_ptr<ExecSession>> Client::ExecJob(std::string_view id_or_name,
                                                     const std::vector<std::string>& command,
                                                     bool tty, int replica) {
  v1::ExecJobRequest request;
  request.set_id(std::string(id_or_name));
  for (const std::string& arg : command) request.add_command(arg);
  request.set_tty(tty);
  request.set_replica(replica);
  return ExecJob(request);
}

Result<std::unique_ptr<ExecSession>> Client::ExecJob(const v1::ExecJobRequest& request) {
  if (request.id().empty()) return InvalidArgumentError("exec needs the job's id or name");
  if (request.command_size() == 0 || request.command(0).empty()) {
    return InvalidArgumentError(
        "exec needs a command to run, e.g. `mlc job exec JOB -- nvidia-smi`");
  }
  if (request.replica() < 0) {
    return InvalidArgumentError("replica must be >= 0, not " + std::to_string(request.replica()));
  }
  MLC_ASSIGN_OR_RETURN(v1::Job job, GetJob(request.id(), v1::JOB_VIEW_BASIC));
  v1::ExecJobRequest r = request;
  r.set_id(job.id());
  return backend_->ExecJob(r);
}

Result<std::unique_ptr<PortConnection>> Client::PortForward(std::string_view id_or_name, int port,
                                                            int replica) {
  v1::PortForwardRequest request;
  request.set_id(std::string(id_or_name));
  request.set_port(port);
  request.set_replica(replica);
  return PortForward(request);
}

Result<std::unique_ptr<PortConnection>> Client::PortForward(const v1::PortForwardRequest& request) {
  if (request.id().empty()) return InvalidArgumentError("port-forward needs the job's id or name");
  if (request.port() < 1 || request.port() > 65535) {
    return InvalidArgumentError("port " + std::to_string(request.port()) + " is outside 1-65535");
  }
  if (request.replica() < 0) {
    return InvalidArgumentError("replica must be >= 0, not " + std::to_string(request.replica()));
  }
  MLC_ASSIGN_OR_RETURN(v1::Job job, GetJob(request.id(), v1::JOB_VIEW_BASIC));
  v1::PortForwardRequest r = request;
  r.set_id(job.id());
  return backend_->PortForward(r);
}

}  // namespace mlcore
