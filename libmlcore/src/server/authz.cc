#include "server/authz.h"

#include <algorithm>
#include <set>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "mlcore/v1/artifacts.pb.h"
#include "mlcore/v1/data.pb.h"
#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/projects.pb.h"
#include "mlcore/v1/registry.pb.h"
#include "mlcore/v1/tracking.pb.h"

namespace mlcore::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr v1::Role V = v1::ROLE_VIEWER;
constexpr v1::Role E = v1::ROLE_EDITOR;
constexpr v1::Role A = v1::ROLE_ADMIN;

Rule P(v1::Role role, std::string field, bool empty_lists_all = false) {
  Rule r;
  r.scope = Scope::kProject;
  r.role = role;
  r.field = std::move(field);
  r.empty_lists_all = empty_lists_all;
  return r;
}
Rule Obj(v1::Role role, Lookup lookup, std::string field, std::string fallback = {}) {
  Rule r;
  r.scope = Scope::kProject;
  r.role = role;
  r.field = std::move(field);
  r.lookup = lookup;
  r.fallback_project_field = std::move(fallback);
  return r;
}
// A viewer's read of one object by id, checked on the answer (Rule::check_answer).
Rule Read(Lookup lookup, std::string field, std::string fallback = {}) {
  Rule r = Obj(v1::ROLE_VIEWER, lookup, std::move(field), std::move(fallback));
  r.check_answer = true;
  return r;
}
Rule Anyone() { return Rule{}; }
Rule ServerAdmin() {
  Rule r;
  r.scope = Scope::kServerAdmin;
  r.role = A;
  return r;
}
Rule Own() {
  Rule r;
  r.scope = Scope::kOwnHandler;
  return r;
}

// The value of a singular string field at a dotted path; empty when any step is unset.
std::string StringAt(const Message& message, const std::string& path) {
  const Message* m = &message;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string name = path.substr(start, dot == std::string::npos ? dot : dot - start);
    const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(name);
    if (f == nullptr || f->is_repeated()) return {};
    const auto* reflection = m->GetReflection();
    if (dot == std::string::npos) {
      return f->cpp_type() == FieldDescriptor::CPPTYPE_STRING ? reflection->GetString(*m, f)
                                                              : std::string();
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || !reflection->HasField(*m, f))
      return {};
    m = &reflection->GetMessage(*m, f);
    start = dot + 1;
  }
}

// The project an object in an answer belongs to: its own `project` field (a Project's name), else
// the first such field one level down (a Job's spec.project); empty when it names none.
std::string ProjectOfMessage(const Message& m) {
  const auto* d = m.GetDescriptor();
  if (d->full_name() == "mlcore.v1.Project") return StringAt(m, "name");
  if (d->full_name() == "mlcore.v1.Job") return StringAt(m, "spec.project");
  if (const FieldDescriptor* f = d->FindFieldByName("project");
      f != nullptr && !f->is_repeated() && f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    return m.GetReflection()->GetString(m, f);
  }
  const auto* reflection = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        !reflection->HasField(m, f)) {
      continue;
    }
    const Message& sub = reflection->GetMessage(m, f);
    if (sub.GetDescriptor()->full_name() == "mlcore.v1.Job") {  // a WatchJobsResponse's job
      std::string project = StringAt(sub, "spec.project");
      if (!project.empty()) return project;
    }
    if (const FieldDescriptor* p = sub.GetDescriptor()->FindFieldByName("project");
        p != nullptr && !p->is_repeated() && p->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      std::string project = sub.GetReflection()->GetString(sub, p);
      if (!project.empty()) return project;
    }
  }
  return {};
}

Status PermissionDenied(v1::Role needed, const std::string& project, v1::Role held) {
  return PermissionDeniedError("this needs the " + RoleName(needed) + " role on project \"" +
                               project + "\"; you are " + RoleName(held) +
                               " there (ask one of its admins: `mlc role grant " + project +
                               " USER " + RoleName(needed) + "`)");
}

}  // namespace

const std::map<std::string, Rule>& Rules() {
  static const auto* rules = new std::map<std::string, Rule>{
      {"mlcore.v1.SystemService/GetBackendInfo", Anyone()},
      // CreateProject: its own case in Check (top level: server admin; else ADMIN on the parent).
      {"mlcore.v1.ProjectService/CreateProject", P(A, "project.parent")},
      {"mlcore.v1.ProjectService/GetProject", P(V, "name")},
      {"mlcore.v1.ProjectService/ListProjects", P(V, "parent", true)},
      {"mlcore.v1.ProjectService/DeleteProject", P(A, "name")},

      {"mlcore.v1.JobService/SubmitJob", P(E, "spec.project")},
      {"mlcore.v1.JobService/GetJob", Read(Lookup::kJob, "id", "project")},
      {"mlcore.v1.JobService/ListJobs", P(V, "project", true)},
      {"mlcore.v1.JobService/StreamJobLogs", Obj(V, Lookup::kJob, "id")},
      {"mlcore.v1.JobService/CancelJob", Obj(E, Lookup::kJob, "id")},
      {"mlcore.v1.JobService/PreemptJob", Obj(E, Lookup::kJob, "id")},
      {"mlcore.v1.JobService/RerunJob", Obj(E, Lookup::kJob, "id")},
      {"mlcore.v1.JobService/LintJobSpec", Anyone()},
      {"mlcore.v1.JobService/WatchJobs", P(V, "project", true)},
      {"mlcore.v1.JobService/ExecJob", Obj(E, Lookup::kJob, "id")},
      {"mlcore.v1.JobService/PortForward", Obj(E, Lookup::kJob, "id")},

      {"mlcore.v1.SchedulingService/ListFlavors", Anyone()},
      {"mlcore.v1.SchedulingService/ListNodes", Anyone()},
      {"mlcore.v1.SchedulingService/ListPriorityClasses", Anyone()},
      {"mlcore.v1.SchedulingService/GetQuotaUsage", P(V, "project", true)},
      {"mlcore.v1.SchedulingService/Simulate", Anyone()},

      {"mlcore.v1.TrackingService/CreateExperiment", P(E, "experiment.project")},
      {"mlcore.v1.TrackingService/GetExperiment", Read(Lookup::kExperiment, "id", "project")},
      {"mlcore.v1.TrackingService/ListExperiments", P(V, "project", true)},
      {"mlcore.v1.TrackingService/CreateRun", P(E, "run.project")},
      {"mlcore.v1.TrackingService/GetRun", Read(Lookup::kRun, "id")},
      {"mlcore.v1.TrackingService/UpdateRun", Obj(E, Lookup::kRun, "id")},
      {"mlcore.v1.TrackingService/DeleteRun", Obj(E, Lookup::kRun, "id")},
      {"mlcore.v1.TrackingService/SetRunTags", Obj(E, Lookup::kRun, "id")},
      {"mlcore.v1.TrackingService/SearchRuns", P(V, "project", true)},
      {"mlcore.v1.TrackingService/LogBatch", Obj(E, Lookup::kRun, "batch.run_id")},
      {"mlcore.v1.TrackingService/LogMetricsStream", Obj(E, Lookup::kRun, "batch.run_id")},
      // IngestMetrics: checked per batch; a refused batch is answered with its error.
      {"mlcore.v1.TrackingService/IngestMetrics", Obj(E, Lookup::kRun, "batch.run_id")},
      {"mlcore.v1.TrackingService/GetMetricHistory", Obj(V, Lookup::kRun, "run_id")},
      {"mlcore.v1.TrackingService/WatchMetrics", Obj(V, Lookup::kRun, "run_id")},
      {"mlcore.v1.TrackingService/GetTrackingPolicy", P(V, "project")},
      {"mlcore.v1.TrackingService/UpdateTrackingPolicy", P(A, "policy.project")},
      {"mlcore.v1.TrackingService/ApplyRetention", P(A, "project")},

      {"mlcore.v1.ArtifactService/FindMissingBlobs", P(E, "project")},
      {"mlcore.v1.ArtifactService/UploadBlob", P(E, "header.project")},
      {"mlcore.v1.ArtifactService/GetUploadStatus", P(E, "project")},
      {"mlcore.v1.ArtifactService/DownloadBlob", P(V, "project")},
      {"mlcore.v1.ArtifactService/PutManifest", P(E, "project")},
      {"mlcore.v1.ArtifactService/GetManifest",
       Obj(V, Lookup::kArtifact, "artifact_id", "project")},
      {"mlcore.v1.ArtifactService/CreateArtifact", P(E, "artifact.project")},
      {"mlcore.v1.ArtifactService/GetArtifact", Read(Lookup::kArtifact, "id")},
      {"mlcore.v1.ArtifactService/ListArtifacts", P(V, "project", true)},
      {"mlcore.v1.ArtifactService/DeleteArtifact", Obj(E, Lookup::kArtifact, "id")},
      // RecordArtifactUse: also EDITOR on the consumer's project (Check).
      {"mlcore.v1.ArtifactService/RecordArtifactUse", Obj(E, Lookup::kArtifact, "artifact_id")},
      {"mlcore.v1.ArtifactService/GetLineage", Obj(V, Lookup::kArtifact, "artifact_id")},
      {"mlcore.v1.ArtifactService/CollectGarbage", ServerAdmin()},

      // Load and Prefetch of file:// origins read the server's disk: server admins only (Check).
      {"mlcore.v1.DataService/Load", P(E, "project")},
      {"mlcore.v1.DataService/ReadData", P(E, "project")},
      // The cache is shared by every project and its entries carry no project: listing it would
      // show other tenants' URIs.
      {"mlcore.v1.DataService/ListCacheEntries", ServerAdmin()},
      {"mlcore.v1.DataService/Pin", P(E, "project")},
      {"mlcore.v1.DataService/Unpin", P(E, "project")},
      {"mlcore.v1.DataService/Evict", ServerAdmin()},
      {"mlcore.v1.DataService/Prefetch", P(E, "project")},
      {"mlcore.v1.DataService/GetCacheStats", Anyone()},

      {"mlcore.v1.RegistryService/CreateRegisteredModel", P(E, "model.project")},
      {"mlcore.v1.RegistryService/GetRegisteredModel", P(V, "project")},
      {"mlcore.v1.RegistryService/ListRegisteredModels", P(V, "project", true)},
      {"mlcore.v1.RegistryService/UpdateRegisteredModel", P(E, "project")},
      {"mlcore.v1.RegistryService/RenameRegisteredModel", P(E, "project")},
      {"mlcore.v1.RegistryService/DeleteRegisteredModel", P(A, "project")},
      {"mlcore.v1.RegistryService/CreateModelVersion", P(E, "project")},
      {"mlcore.v1.RegistryService/FinishModelVersionUpload", P(E, "project")},
      {"mlcore.v1.RegistryService/GetModelVersion", P(V, "project")},
      {"mlcore.v1.RegistryService/ListModelVersions", P(V, "project")},
      {"mlcore.v1.RegistryService/ResolveModelUri", P(V, "project")},
      {"mlcore.v1.RegistryService/SetModelAlias", P(E, "project")},
      {"mlcore.v1.RegistryService/DeleteModelAlias", P(E, "project")},
      {"mlcore.v1.RegistryService/GetModelVersionLineage", P(V, "project")},
      {"mlcore.v1.RegistryService/ListModelVersionsBuiltFrom", P(V, "project", true)},
      {"mlcore.v1.RegistryService/WatchRegistryEvents", P(V, "project", true)},
      {"mlcore.v1.RegistryService/CreateWebhook", P(A, "webhook.project")},
      {"mlcore.v1.RegistryService/ListWebhooks", P(A, "project", true)},
      {"mlcore.v1.RegistryService/DeleteWebhook", Obj(A, Lookup::kWebhook, "id")},
      {"mlcore.v1.RegistryService/TestWebhook", Obj(A, Lookup::kWebhook, "id")},
      {"mlcore.v1.RegistryService/ListWebhookDeliveries", Obj(A, Lookup::kWebhook, "webhook_id")},

      {"mlcore.v1.PipelineService/LintPipeline", Anyone()},
      {"mlcore.v1.PipelineService/RunPipeline", P(E, "spec.project")},
      {"mlcore.v1.PipelineService/GetPipelineRun", Obj(V, Lookup::kPipelineRun, "id")},
      {"mlcore.v1.PipelineService/ListPipelineRuns", P(V, "project", true)},
      {"mlcore.v1.PipelineService/CancelPipelineRun", Obj(E, Lookup::kPipelineRun, "id")},
      {"mlcore.v1.PipelineService/ResumePipelineRun", Obj(E, Lookup::kPipelineRun, "id")},

      {"mlcore.v1.AuthService/WhoAmI", Own()},
      {"mlcore.v1.AuthService/CreateToken", Own()},
      {"mlcore.v1.AuthService/ListTokens", Own()},
      {"mlcore.v1.AuthService/RevokeToken", Own()},
      {"mlcore.v1.AuthService/GrantRole", Own()},
      {"mlcore.v1.AuthService/RevokeRole", Own()},
      {"mlcore.v1.AuthService/ListRoleBindings", Own()},
  };
  return *rules;
}

std::string RoleName(v1::Role role) {
  switch (role) {
    case v1::ROLE_VIEWER:
      return "viewer";
    case v1::ROLE_EDITOR:
      return "editor";
    case v1::ROLE_ADMIN:
      return "admin";
    default:
      return "no role";
  }
}

v1::Role ParseRole(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.starts_with("role_")) lower = lower.substr(5);
  if (lower == "viewer") return v1::ROLE_VIEWER;
  if (lower == "editor") return v1::ROLE_EDITOR;
  if (lower == "admin") return v1::ROLE_ADMIN;
  return v1::ROLE_UNSPECIFIED;
}

Status Authorizer::ProjectNotFound(const std::string& project) {
  return NotFoundError("project \"" + project + "\" does not exist; create it with `mlc project " +
                       "create " + project + "`");
}

void Authorizer::ForgetProjects() {
  std::lock_guard lock(parents_mu_);
  parents_.clear();
}

std::vector<std::string> Authorizer::Ancestry(const std::string& project) {
  constexpr auto kFresh = std::chrono::seconds(2);
  std::vector<std::string> chain;
  std::set<std::string> seen;
  std::string name = project;
  while (!name.empty() && seen.insert(name).second) {
    const auto now = std::chrono::steady_clock::now();
    std::string parent;
    bool cached = false;
    {
      std::lock_guard lock(parents_mu_);
      auto it = parents_.find(name);
      if (it != parents_.end() && now - it->second.second < kFresh) {
        parent = it->second.first;
        cached = true;
      }
    }
    if (!cached) {
      auto p = client_.backend().GetProject(name);
      if (!p.ok()) break;  // only projects that exist are remembered
      parent = p->parent();
      std::lock_guard lock(parents_mu_);
      if (parents_.size() > 10000) parents_.clear();
      parents_[name] = {parent, now};
    }
    chain.push_back(name);
    name = parent;
  }
  return chain;  // empty: the project does not exist
}

v1::Role Authorizer::RoleOn(const Principal& who, const std::string& project) {
  const std::vector<std::string> chain = Ancestry(project);
  if (chain.empty()) return v1::ROLE_UNSPECIFIED;
  if (who.token && who.token->projects_size() > 0) {
    bool in_scope = false;
    for (const auto& p : chain) {
      in_scope = in_scope || std::find(who.token->projects().begin(), who.token->projects().end(),
                                       p) != who.token->projects().end();
    }
    if (!in_scope) return v1::ROLE_UNSPECIFIED;
  }
  if (who.user.admin()) return v1::ROLE_ADMIN;
  v1::Role best = v1::ROLE_UNSPECIFIED;
  for (const auto& p : chain) best = std::max(best, store_.DirectRole(who.user.name(), p));
  return best;
}

Status Authorizer::CheckProject(const Principal& who, const Rule& rule,
                                const std::string& project) {
  const v1::Role held = RoleOn(who, project);
  if (held == v1::ROLE_UNSPECIFIED) return ProjectNotFound(project);
  if (held < rule.role) return PermissionDenied(rule.role, project, held);
  return Status::Ok();
}

// The NOT_FOUND an object of a hidden project gets: the engine's own words for a missing id.
static Status HiddenObject(Lookup lookup, const std::string& id) {
  switch (lookup) {
    case Lookup::kJob:
      return NotFoundError("job \"" + id + "\" does not exist (list jobs with `mlc job ls`)");
    case Lookup::kRun:
      return NotFoundError("run " + id + " does not exist (list runs with `mlc run ls`)");
    case Lookup::kExperiment:
      return NotFoundError("experiment " + id + " does not exist");
    case Lookup::kArtifact:
      return NotFoundError("artifact " + id + " does not exist (list them with `mlc artifact ls`)");
    case Lookup::kWebhook:
      return NotFoundError("webhook \"" + id +
                           "\" does not exist; `mlc model webhook ls` lists them");
    case Lookup::kPipelineRun:
      return NotFoundError("no pipeline run " + id + "; `mlc pipeline ls` lists the runs");
    default:
      return Authorizer::ProjectNotFound(id);
  }
}

Result<std::string> Authorizer::ProjectOfObject(Lookup lookup, const Message& request,
                                                const std::string& id) {
  Backend& backend = client_.backend();
  switch (lookup) {
    case Lookup::kProjectName:
      return id;
    case Lookup::kJob: {
      v1::GetJobRequest get;
      if (request.GetDescriptor()->full_name() == "mlcore.v1.GetJobRequest") {
        get.CopyFrom(request);
      }
      get.set_id(id);
      get.set_view(v1::JOB_VIEW_BASIC);
      MLC_ASSIGN_OR_RETURN(v1::Job job, backend.GetJob(get));
      return job.spec().project();
    }
    case Lookup::kRun: {
      v1::GetRunRequest get;
      get.set_id(id);
      MLC_ASSIGN_OR_RETURN(v1::Run run, backend.GetRun(get));
      return run.project();
    }
    case Lookup::kExperiment: {
      v1::GetExperimentRequest get;
      get.set_id(id);
      MLC_ASSIGN_OR_RETURN(v1::Experiment e, backend.GetExperiment(get));
      return e.project();
    }
    case Lookup::kArtifact: {
      MLC_ASSIGN_OR_RETURN(v1::Artifact a, backend.GetArtifact(id));
      return a.project();
    }
    case Lookup::kWebhook: {
      // Webhooks are listed per project; there are few of either.
      v1::ListProjectsRequest projects;
      projects.set_page_size(1000);
      while (true) {
        MLC_ASSIGN_OR_RETURN(auto page, backend.ListProjects(projects));
        for (const auto& p : page.projects()) {
          v1::ListWebhooksRequest list;
          list.set_project(p.name());
          list.set_page_size(1000);
          while (true) {
            MLC_ASSIGN_OR_RETURN(auto hooks, backend.ListWebhooks(list));
            for (const auto& w : hooks.webhooks()) {
              if (w.id() == id) return w.project();
            }
            if (hooks.next_page_token().empty()) break;
            list.set_page_token(hooks.next_page_token());
          }
        }
        if (page.next_page_token().empty()) break;
        projects.set_page_token(page.next_page_token());
      }
      return HiddenObject(lookup, id);
    }
    case Lookup::kPipelineRun: {
      v1::GetPipelineRunRequest get;
      get.set_id(id);
      MLC_ASSIGN_OR_RETURN(v1::PipelineRun run, backend.GetPipelineRun(get));
      return run.project();
    }
  }
  return InternalError("unknown lookup");
}

Status Authorizer::Check(const Principal& who, const std::string& method, const Message& request) {
  auto it = Rules().find(method);
  if (it == Rules().end()) {
    return UnimplementedError("method " + method + " has no authorization rule on this server");
  }
  const Rule& rule = it->second;
  switch (rule.scope) {
    case Scope::kOwnHandler:
    case Scope::kAuthenticated:
      return Status::Ok();
    case Scope::kServerAdmin:
      if (who.user.admin() && (!who.token || who.token->projects_size() == 0)) return Status::Ok();
      return PermissionDeniedError("only a server administrator may call " + method +
                                   " (it acts on state every project shares)");
    case Scope::kProject:
      break;
  }
  if (method == "mlcore.v1.ProjectService/CreateProject" &&
      StringAt(request, "project.parent").empty()) {
    if (who.user.admin() && (!who.token || who.token->projects_size() == 0)) return Status::Ok();
    return PermissionDeniedError(
        "only a server administrator creates top-level projects (they carry guaranteed quota); "
        "project admins create sub-projects: give --parent");
  }
  if (method == "mlcore.v1.DataService/Load" || method == "mlcore.v1.DataService/ReadData" ||
      method == "mlcore.v1.DataService/Prefetch") {
    std::vector<std::string> uris;
    if (const auto* load = dynamic_cast<const v1::LoadRequest*>(&request))
      uris.push_back(load->uri());
    if (const auto* read = dynamic_cast<const v1::ReadDataRequest*>(&request))
      uris.push_back(read->uri());
    if (const auto* pre = dynamic_cast<const v1::PrefetchRequest*>(&request)) {
      for (const auto& item : pre->items()) uris.push_back(item.uri());
    }
    for (const auto& uri : uris) {
      if (uri.starts_with("file:") && !who.user.admin()) {
        return PermissionDeniedError(
            "loading " + uri +
            " would read the server's own disk, which only server administrators may do; "
            "publish the data as an artifact (artifact://) or serve it over http(s)://");
      }
    }
  }
  if (method == "mlcore.v1.ArtifactService/RecordArtifactUse") {
    const std::string consumer = StringAt(request, "consumer.project");
    if (!consumer.empty()) MLC_RETURN_IF_ERROR(CheckProject(who, rule, consumer));
  }
  // A request naming the project as well (GetJob by name within a project): the project first,
  // so a hidden project's objects answer exactly like a missing project's.
  if (!rule.fallback_project_field.empty()) {
    const std::string project = StringAt(request, rule.fallback_project_field);
    if (!project.empty()) MLC_RETURN_IF_ERROR(CheckProject(who, rule, project));
  }
  std::string value = StringAt(request, rule.field);
  if (value == "*") value.clear();  // "every project"
  if (!value.empty()) {
    if (rule.lookup == Lookup::kProjectName) return CheckProject(who, rule, value);
    if (rule.check_answer) return Status::Ok();  // Filter checks the object it answers
    auto project = ProjectOfObject(rule.lookup, request, value);
    if (!project.ok()) return project.status();
    const v1::Role held = RoleOn(who, *project);
    if (held == v1::ROLE_UNSPECIFIED) return HiddenObject(rule.lookup, value);
    if (held < rule.role) return PermissionDenied(rule.role, *project, held);
    return Status::Ok();
  }
  if (!rule.fallback_project_field.empty()) {
    const std::string project = StringAt(request, rule.fallback_project_field);
    if (!project.empty()) return CheckProject(who, rule, project);
  }
  if (rule.empty_lists_all) return Status::Ok();  // the answer is filtered
  return InvalidArgumentError(method + " needs a project (" + rule.field +
                              ") when the server checks project roles; name one");
}

bool Authorizer::MayReceive(const Principal& who, const std::string& method,
                            const Message& message) {
  auto it = Rules().find(method);
  const v1::Role needed = it == Rules().end() ? A : it->second.role;
  const std::string project = ProjectOfMessage(message);
  return project.empty() || RoleOn(who, project) >= needed;
}

Status Authorizer::Filter(const Principal& who, const std::string& method, const Message& request,
                          Message* response) {
  auto it = Rules().find(method);
  if (it == Rules().end() || it->second.scope != Scope::kProject) return Status::Ok();
  const v1::Role needed = it->second.role;
  std::map<std::string, v1::Role> memo;
  auto visible = [&](const std::string& project) {
    if (project.empty()) return true;
    auto [pos, inserted] = memo.try_emplace(project, v1::ROLE_UNSPECIFIED);
    if (inserted) pos->second = RoleOn(who, project);
    return pos->second != v1::ROLE_UNSPECIFIED && pos->second >= needed;
  };
  // The answer itself (a job, a run, a model version): a hidden project's object does not exist.
  const std::string own = ProjectOfMessage(*response);
  if (!own.empty() && !visible(own)) {
    const std::string id = StringAt(request, it->second.field);
    return id.empty() || it->second.lookup == Lookup::kProjectName
               ? ProjectNotFound(own)
               : HiddenObject(it->second.lookup, id);
  }
  const auto* d = response->GetDescriptor();
  const auto* reflection = response->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (!f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_map()) {
      continue;
    }
    const int size = reflection->FieldSize(*response, f);
    int kept = 0;
    for (int j = 0; j < size; ++j) {
      if (!visible(ProjectOfMessage(reflection->GetRepeatedMessage(*response, f, j)))) continue;
      if (j != kept) reflection->SwapElements(response, f, j, kept);
      ++kept;
    }
    for (int j = kept; j < size; ++j) reflection->RemoveLast(response, f);
  }
  return Status::Ok();
}

}  // namespace mlcore::server
