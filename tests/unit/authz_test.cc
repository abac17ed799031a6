// Authentication and authorization of `mlc server` over the wire: a real server with users,
// tokens and role bindings on 127.0.0.1, raw gRPC calls, and the authorization matrix: every rpc
// of the rule table x every role x own/other project -> allowed, PERMISSION_DENIED, or NOT_FOUND
// exactly as for a project or object that does not exist.
#include "server/authz.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <set>
#include <sys/stat.h>
#include <thread>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/sync_stream.h>

#include "doctest/doctest.h"
#include "mlcore/client.h"
#include "mlcore/credentials.h"
#include "mlcore/jobs.h"
#include "mlcore/server.h"
#include "mlcore/v1/tracking.pb.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using testing::TempDir;

struct Reply {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
};

// Sets a singular string field at a dotted path, creating the messages on the way.
void SetAt(Message* m, const std::string& path, const std::string& value) {
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string name = path.substr(start, dot == std::string::npos ? dot : dot - start);
    const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(name);
    REQUIRE_MESSAGE(f != nullptr, path);
    if (dot == std::string::npos) {
      m->GetReflection()->SetString(m, f, value);
      return;
    }
    m = m->GetReflection()->MutableMessage(m, f);
    start = dot + 1;
  }
}

struct AuthServer {
  TempDir dir;
  testing::IsolatedEnv env{dir};
  std::string state = dir.path() + "/state";
  std::unique_ptr<server::Server> server;
  std::string uri;
  std::shared_ptr<grpc::Channel> channel;
  std::map<std::string, std::string> tokens;  // user -> secret

  AuthServer() {
    for (const char* name : {"root", "viewer", "editor", "padmin", "stranger", "both"}) {
      v1::User u;
      u.set_name(name);
      u.set_admin(std::string(name) == "root");
      REQUIRE(server::AddUser(state, u).ok());
      auto token = server::MintToken(state, name, "test", std::chrono::seconds(0));
      REQUIRE(token.ok());
      tokens[name] = token->secret();
    }
    server::ServerOptions options;
    options.state_dir = state;
    options.listen = {"127.0.0.1:0"};
    auto started = server::Server::Start(options);
    REQUIRE_MESSAGE(started.ok(), started.status().ToString());
    server = std::move(started).value();
    uri = server->uris().at(0);
    channel = grpc::CreateChannel(uri.substr(7), grpc::InsecureChannelCredentials());
  }
  ~AuthServer() { server->Shutdown(std::chrono::seconds(1)); }

  std::unique_ptr<Client> As(const std::string& user) {
    auto client = Client::Open(uri + "?token=" + tokens.at(user));
    REQUIRE(client.ok());
    return std::move(client).value();
  }

  // One raw call of any method (unary or streaming) as `user` ("" = no token).
  Reply Call(const std::string& method, const Message& request, const std::string& user) {
    const auto* descriptor = google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
        method.substr(0, method.find('/')) + "." + method.substr(method.find('/') + 1));
    REQUIRE_MESSAGE(descriptor != nullptr, method);
    grpc::ClientContext ctx;
    const bool streaming = descriptor->client_streaming() || descriptor->server_streaming();
    // A watch the caller may open stays open: its deadline ends it.
    ctx.set_deadline(std::chrono::system_clock::now() + (streaming
                                                             ? std::chrono::milliseconds(1500)
                                                             : std::chrono::milliseconds(30000)));
    if (!user.empty()) ctx.AddMetadata("authorization", "Bearer " + tokens.at(user));
    grpc::Slice slice(request.SerializeAsString());
    grpc::ByteBuffer buffer(&slice, 1);
    grpc::Status status;
    const std::string path = "/" + method;
    if (!streaming) {
      grpc::GenericStub stub(channel);
      grpc::ByteBuffer reply;
      std::promise<grpc::Status> done;
      stub.UnaryCall(&ctx, path, grpc::StubOptions(), &buffer, &reply,
                     [&](grpc::Status s) { done.set_value(std::move(s)); });
      status = done.get_future().get();
    } else {
      grpc::internal::RpcMethod rpc(path.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING,
                                    channel);
      std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
          grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
              channel.get(), rpc, &ctx));
      stream->Write(buffer);
      stream->WritesDone();
      grpc::ByteBuffer reply;
      std::string first;
      while (stream->Read(&reply)) {
        if (!first.empty()) continue;
        std::vector<grpc::Slice> slices;
        (void)reply.Dump(&slices);
        for (const auto& piece : slices) {
          first.append(reinterpret_cast<const char*>(piece.begin()), piece.size());
        }
      }
      status = stream->Finish();
      // IngestMetrics answers each batch, a refused one with its error, and the stream goes on.
      v1::IngestMetricsResponse ack;
      if (method == "mlcore.v1.TrackingService/IngestMetrics" && ack.ParseFromString(first) &&
          ack.error_code() != 0) {
        return Reply{static_cast<grpc::StatusCode>(ack.error_code()), ack.error_message()};
      }
    }
    return Reply{status.error_code(), status.error_message()};
  }
};

std::string NewRun(Client& root, const std::string& project, const std::string& experiment) {
  v1::CreateRunRequest r;
  r.mutable_run()->set_project(project);
  r.mutable_run()->set_experiment_id(experiment);
  auto run = root.CreateRun(r);
  REQUIRE_MESSAGE(run.ok(), run.status().ToString());
  return run->id();
}

std::string NewArtifact(Client& root, const std::string& project, const std::string& run,
                        const std::string& scratch) {
  static int n = 0;
  std::filesystem::create_directories(scratch);
  const std::string file = scratch + "/file-" + std::to_string(++n) + ".txt";
  testing::WriteFile(file, "artifact " + std::to_string(n));
  v1::ObjectRef owner;
  owner.set_kind(v1::OBJECT_KIND_RUN);
  owner.set_id(run);
  owner.set_project(project);
  auto a = root.LogArtifact(owner, file, "a" + std::to_string(n) + ".txt");
  REQUIRE_MESSAGE(a.ok(), a.status().ToString());
  return a->id();
}

std::string NewWebhook(Client& root, const std::string& project) {
  v1::Webhook w;
  w.set_project(project);
  w.set_url("http://127.0.0.1:9/hook");
  w.mutable_secret()->set_name("HOOK_SECRET");
  w.mutable_secret()->set_source(v1::SECRET_SOURCE_ENV);
  w.mutable_secret()->set_key("HOOK_SECRET");
  v1::CreateWebhookRequest r;
  *r.mutable_webhook() = w;
  r.set_secret_value("s3cret");
  auto hook = root.CreateWebhook(r);
  REQUIRE_MESSAGE(hook.ok(), hook.status().ToString());
  return hook->id();
}

std::string NewSubProject(Client& root, const std::string& parent) {
  static int n = 0;
  v1::Project p;
  p.set_name(parent + "-sub" + std::to_string(++n));
  p.set_parent(parent);
  REQUIRE(root.CreateProject(p).ok());
  return p.name();
}

// Objects of one project, made by root.
struct Objects {
  std::string project, job, experiment, run, artifact, webhook;
};

Objects MakeObjects(Client& root, const std::string& project, const std::string& scratch) {
  Objects o;
  o.project = project;
  v1::Project p;
  p.set_name(project);
  REQUIRE(root.CreateProject(p).ok());
  v1::JobSpec spec;
  spec.set_project(project);
  spec.add_command("true");
  auto job = root.SubmitJob(spec);
  REQUIRE_MESSAGE(job.ok(), job.status().ToString());
  o.job = job->id();
  v1::Experiment e;
  e.set_project(project);
  e.set_name("exp");
  auto exp = root.CreateExperiment(e);
  REQUIRE(exp.ok());
  o.experiment = exp->id();
  o.run = NewRun(root, project, exp->id());
  o.artifact = NewArtifact(root, project, o.run, scratch);
  o.webhook = NewWebhook(root, project);
  return o;
}

// The same id with its last character changed: well-formed, but nothing has it.
std::string Ghost(const std::string& id) {
  std::string g = id;
  g.back() = g.back() == '0' ? '1' : '0';
  return g;
}

bool Denial(const Reply& r) {
  return r.code == grpc::StatusCode::PERMISSION_DENIED ||
         r.code == grpc::StatusCode::UNAUTHENTICATED;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST_CASE("every rpc of the API has an authorization rule") {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const char* service :
       {"SystemService", "ProjectService", "JobService", "SchedulingService", "TrackingService",
        "ArtifactService", "DataService", "RegistryService", "PipelineService", "AuthService"}) {
    const auto* s = pool->FindServiceByName(std::string("mlcore.v1.") + service);
    REQUIRE_MESSAGE(s != nullptr, service);
    for (int i = 0; i < s->method_count(); ++i, ++methods) {
      CHECK_MESSAGE(server::Rules().count(s->full_name() + "/" + s->method(i)->name()) == 1,
                    s->method(i)->full_name());
    }
  }
  CHECK(server::Rules().size() == static_cast<size_t>(methods));
}

TEST_CASE("authorization matrix: every rpc x role x own/other project") {
  AuthServer s;
  auto root = s.As("root");
  const std::string scratch = s.dir.path() + "/scratch";
  Objects own = MakeObjects(*root, "own", scratch);
  Objects theirs = MakeObjects(*root, "theirs", scratch);
  for (auto [user, role] : std::vector<std::pair<std::string, v1::Role>>{
           {"viewer", v1::ROLE_VIEWER}, {"editor", v1::ROLE_EDITOR}, {"padmin", v1::ROLE_ADMIN}}) {
    v1::GrantRoleRequest g;
    g.set_project("own");
    g.set_user(user);
    g.set_role(role);
    REQUIRE(root->GrantRole(g).ok());
  }
  // The role each caller holds on each project (root: server administrator).
  auto held = [](const std::string& user, const std::string& project) {
    if (user == "root") return v1::ROLE_ADMIN;
    if (project != "own") return v1::ROLE_UNSPECIFIED;
    if (user == "viewer") return v1::ROLE_VIEWER;
    if (user == "editor") return v1::ROLE_EDITOR;
    if (user == "padmin") return v1::ROLE_ADMIN;
    return v1::ROLE_UNSPECIFIED;
  };
  // Destructive calls get a fresh victim each, so one allowed call does not spoil the next.
  const std::set<std::string> destructive = {
      "mlcore.v1.ProjectService/DeleteProject", "mlcore.v1.TrackingService/DeleteRun",
      "mlcore.v1.ArtifactService/DeleteArtifact", "mlcore.v1.RegistryService/DeleteWebhook"};

  int checked = 0;
  for (const auto& [method, rule] : server::Rules()) {
    if (rule.scope == server::Scope::kOwnHandler) continue;     // AuthService: its own tests
    if (rule.lookup == server::Lookup::kPipelineRun) continue;  // PipelineService is not served
    const auto* descriptor = google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
        Replace(method, "/", "."));
    REQUIRE_MESSAGE(descriptor != nullptr, method);
    for (const std::string user : {"stranger", "viewer", "editor", "padmin", "root"}) {
      for (const Objects* target : {&own, &theirs}) {
        CAPTURE(method);
        CAPTURE(user);
        CAPTURE(target->project);
        auto request =
            std::unique_ptr<Message>(google::protobuf::MessageFactory::generated_factory()
                                         ->GetPrototype(descriptor->input_type())
                                         ->New());
        std::string value;
        if (rule.scope == server::Scope::kProject) {
          switch (rule.lookup) {
            case server::Lookup::kProjectName:
              value = destructive.count(method) != 0 ? NewSubProject(*root, target->project)
                                                     : target->project;
              break;
            case server::Lookup::kJob:
              value = target->job;
              break;
            case server::Lookup::kRun:
              value = destructive.count(method) != 0
                          ? NewRun(*root, target->project, target->experiment)
                          : target->run;
              break;
            case server::Lookup::kExperiment:
              value = target->experiment;
              break;
            case server::Lookup::kArtifact:
              value = destructive.count(method) != 0
                          ? NewArtifact(*root, target->project, target->run, scratch)
                          : target->artifact;
              break;
            case server::Lookup::kWebhook:
              value = destructive.count(method) != 0 ? NewWebhook(*root, target->project)
                                                     : target->webhook;
              break;
            case server::Lookup::kPipelineRun:
              break;
          }
          SetAt(request.get(), rule.field, value);
          if (method == "mlcore.v1.ProjectService/CreateProject") {
            SetAt(request.get(), "project.name", target->project + "-new-" + user);
          }
        }
        const Reply reply = s.Call(method, *request, user);
        CAPTURE(reply.message);
        const v1::Role has = held(user, target->project);
        bool allowed = false;
        switch (rule.scope) {
          case server::Scope::kAuthenticated:
            allowed = true;
            break;
          case server::Scope::kServerAdmin:
            allowed = user == "root";
            break;
          default:
            allowed = has != v1::ROLE_UNSPECIFIED && has >= rule.role;
        }
        ++checked;
        if (allowed) {
          CHECK_FALSE(Denial(reply));
          if (reply.code == grpc::StatusCode::NOT_FOUND && !value.empty()) {
            // A NOT_FOUND may only be about something else than the object authorized.
            CHECK(reply.message.find(value + "\" does not exist") == std::string::npos);
          }
        } else if (rule.scope != server::Scope::kProject) {
          CHECK(reply.code == grpc::StatusCode::PERMISSION_DENIED);
        } else if (has == v1::ROLE_UNSPECIFIED) {
          // Indistinguishable from a name nothing has: same code, same words.
          CHECK(reply.code == grpc::StatusCode::NOT_FOUND);
          const std::string ghost =
              rule.lookup == server::Lookup::kProjectName ? "ghost-project" : Ghost(value);
          request->Clear();
          SetAt(request.get(), rule.field, ghost);
          const Reply none = s.Call(method, *request, user);
          CHECK(none.code == reply.code);
          CHECK(Replace(none.message, ghost, value) == reply.message);
        } else {
          CHECK(reply.code == grpc::StatusCode::PERMISSION_DENIED);
          CHECK(reply.message.find(server::RoleName(rule.role)) != std::string::npos);
        }
      }
    }
  }
  CHECK(checked > 500);
}

TEST_CASE("job watches show only visible jobs; exec and port-forward need editor on the job") {
  AuthServer s;
  auto root = s.As("root");
  const std::string scratch = s.dir.path() + "/scratch";
  const auto before = google::protobuf::util::TimeUtil::GetCurrentTime();
  Objects theirs = MakeObjects(*root, "theirs", scratch);
  Objects own = MakeObjects(*root, "own", scratch);
  for (auto [user, role] : std::vector<std::pair<std::string, v1::Role>>{
           {"viewer", v1::ROLE_VIEWER}, {"editor", v1::ROLE_EDITOR}}) {
    v1::GrantRoleRequest g;
    g.set_project("own");
    g.set_user(user);
    g.set_role(role);
    REQUIRE(root->GrantRole(g).ok());
  }
  auto own_done = root->WaitJob(own.job, std::chrono::seconds(60));
  REQUIRE(own_done.ok());
  REQUIRE(root->WaitJob(theirs.job, std::chrono::seconds(60)).ok());

  // A watch of every project replays in time order: "theirs" ran first, so its transitions
  // would come before the end of "own"'s job if they were not filtered out.
  auto viewer = s.As("viewer");
  v1::WatchJobsRequest all;
  *all.mutable_since() = before;
  std::vector<std::string> seen;
  REQUIRE(viewer
              ->WatchJobs(all,
                          [&](const v1::WatchJobsResponse& r) {
                            seen.push_back(r.job_id());
                            return !(r.job_id() == own.job &&
                                     IsFinalJobState(r.event().to_state()));
                          })
              .ok());
  CHECK(seen.size() == static_cast<size_t>(own_done->events_size()));
  for (const std::string& id : seen) CHECK(id == own.job);

  // Naming a hidden job is NOT_FOUND in the words a job nothing has gets.
  v1::WatchJobsRequest hidden;
  hidden.add_ids(theirs.job);
  const Reply denied = s.Call("mlcore.v1.JobService/WatchJobs", hidden, "viewer");
  CHECK(denied.code == grpc::StatusCode::NOT_FOUND);
  v1::WatchJobsRequest ghost;
  ghost.add_ids(Ghost(theirs.job));
  const Reply none = s.Call("mlcore.v1.JobService/WatchJobs", ghost, "viewer");
  CHECK(none.code == grpc::StatusCode::NOT_FOUND);
  CHECK(Replace(none.message, Ghost(theirs.job), theirs.job) == denied.message);

  // Exec and port-forward change what runs: a viewer is refused naming the role, an editor
  // reaches the job (which has ended: FAILED_PRECONDITION), a stranger learns nothing.
  v1::ExecJobRequest exec;
  exec.set_id(own.job);
  exec.add_command("true");
  const Reply as_viewer = s.Call("mlcore.v1.JobService/ExecJob", exec, "viewer");
  CHECK(as_viewer.code == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(as_viewer.message.find("editor") != std::string::npos);
  const Reply as_editor = s.Call("mlcore.v1.JobService/ExecJob", exec, "editor");
  CHECK(as_editor.code == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(as_editor.message.find("not RUNNING") != std::string::npos);
  exec.set_id(theirs.job);
  CHECK(s.Call("mlcore.v1.JobService/ExecJob", exec, "editor").code == grpc::StatusCode::NOT_FOUND);
  v1::PortForwardRequest forward;
  forward.set_id(own.job);
  forward.set_port(8888);
  CHECK(s.Call("mlcore.v1.JobService/PortForward", forward, "viewer").code ==
        grpc::StatusCode::PERMISSION_DENIED);
  CHECK(s.Call("mlcore.v1.JobService/PortForward", forward, "editor").code ==
        grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_CASE("no token, a bad token, a revoked or expired one, a disabled user: UNAUTHENTICATED") {
  AuthServer s;
  v1::GetBackendInfoRequest info;
  const std::string method = "mlcore.v1.SystemService/GetBackendInfo";
  CHECK(s.Call(method, info, "").code == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(s.Call(method, info, "root").code == grpc::StatusCode::OK);
  auto advertised = s.As("root")->GetBackendInfo();
  REQUIRE(advertised.ok());
  CHECK(std::count(advertised->capabilities().begin(), advertised->capabilities().end(),
                   v1::CAPABILITY_AUTH) == 1);

  s.tokens["forged"] = s.tokens["root"];
  s.tokens["forged"].back() = s.tokens["forged"].back() == 'A' ? 'B' : 'A';
  Reply forged = s.Call(method, info, "forged");
  CHECK(forged.code == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(forged.message.find("not known") != std::string::npos);

  auto viewer = s.As("viewer");
  auto who = viewer->WhoAmI();
  REQUIRE(who.ok());
  CHECK(who->user().name() == "viewer");
  REQUIRE(viewer->RevokeToken(who->token().id()).ok());
  Reply revoked = s.Call(method, info, "viewer");
  CHECK(revoked.code == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(revoked.message.find("revoked") != std::string::npos);

  v1::CreateTokenRequest shortlived;
  shortlived.mutable_ttl()->set_seconds(1);
  auto token = s.As("editor")->CreateToken(shortlived);
  REQUIRE(token.ok());
  s.tokens["short"] = token->secret();
  CHECK(s.Call(method, info, "short").code == grpc::StatusCode::OK);

  REQUIRE(server::SetUserDisabled(s.state, "stranger", true).ok());  // another process's change
  Reply disabled;
  for (int i = 0; i < 100; ++i) {  // picked up by the next call
    disabled = s.Call(method, info, "stranger");
    if (disabled.code != grpc::StatusCode::OK) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(disabled.code == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(disabled.message.find("disabled") != std::string::npos);

  while (std::chrono::system_clock::now().time_since_epoch() <
         std::chrono::seconds(token->token().expire_time().seconds() + 1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Reply expired = s.Call(method, info, "short");
  CHECK(expired.code == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(expired.message.find("expired") != std::string::npos);
}

TEST_CASE("tokens: scoped to projects, never further than their creator, others' need an admin") {
  AuthServer s;
  auto root = s.As("root");
  const std::string scratch = s.dir.path() + "/scratch";
  Objects a = MakeObjects(*root, "proj-a", scratch);
  Objects b = MakeObjects(*root, "proj-b", scratch);
  for (const char* project : {"proj-a", "proj-b"}) {
    v1::GrantRoleRequest g;
    g.set_project(project);
    g.set_user("both");
    g.set_role(v1::ROLE_EDITOR);
    REQUIRE(root->GrantRole(g).ok());
  }
  auto both = s.As("both");
  v1::CreateTokenRequest scoped;
  scoped.add_projects("proj-b");
  scoped.set_description("only b");
  auto token = both->CreateToken(scoped);
  REQUIRE(token.ok());
  CHECK(token->secret().starts_with("mlc_" + token->token().id() + "_"));
  CHECK(token->token().secret_prefix() == token->secret().substr(0, 12));
  s.tokens["both-b"] = token->secret();
  auto limited = s.As("both-b");

  // Project A is invisible to the scoped token, B works.
  CHECK(limited->GetProject("proj-a").status().code() == StatusCode::kNotFound);
  CHECK(limited->GetProject("proj-b").ok());
  CHECK(limited->GetJob(a.job).status().code() == StatusCode::kNotFound);
  CHECK(limited->GetJob(b.job).ok());
  // By name within a project: a hidden project answers as a missing one, whatever the name.
  v1::GetJobRequest by_name;
  by_name.set_project("proj-a");
  by_name.set_id("no-such-job");
  const auto hidden = limited->GetJob(by_name).status();
  by_name.set_project("proj-zz");
  const auto absent = limited->GetJob(by_name).status();
  CHECK(hidden.code() == StatusCode::kNotFound);
  CHECK(absent.code() == StatusCode::kNotFound);
  CHECK(Replace(hidden.message(), "proj-a", "P") == Replace(absent.message(), "proj-zz", "P"));
  v1::ListProjectsRequest list;
  auto projects = limited->ListProjects(list);
  REQUIRE(projects.ok());
  REQUIRE(projects->projects_size() == 1);
  CHECK(projects->projects(0).name() == "proj-b");
  auto who = limited->WhoAmI();
  REQUIRE(who.ok());
  REQUIRE(who->bindings_size() == 1);
  CHECK(who->bindings(0).project() == "proj-b");

  // A token made by the scoped token cannot reach A.
  v1::CreateTokenRequest wider;
  wider.add_projects("proj-a");
  CHECK(limited->CreateToken(wider).status().code() == StatusCode::kNotFound);
  auto inherited = limited->CreateToken(v1::CreateTokenRequest());
  REQUIRE(inherited.ok());
  REQUIRE(inherited->token().projects_size() == 1);
  CHECK(inherited->token().projects(0) == "proj-b");

  // Tokens for and of other users need a server administrator; others' tokens are not found.
  v1::CreateTokenRequest for_root;
  for_root.set_user("root");
  CHECK(both->CreateToken(for_root).status().code() == StatusCode::kPermissionDenied);
  v1::ListTokensRequest roots;
  roots.set_user("root");
  CHECK(both->ListTokens(roots).status().code() == StatusCode::kPermissionDenied);
  auto root_tokens = root->ListTokens(roots);
  REQUIRE(root_tokens.ok());
  REQUIRE(root_tokens->tokens_size() == 1);
  CHECK(root_tokens->tokens(0).secret_prefix().starts_with("mlc_"));
  CHECK(both->RevokeToken(root_tokens->tokens(0).id()).code() == StatusCode::kNotFound);
  auto mine = both->ListTokens(v1::ListTokensRequest());
  REQUIRE(mine.ok());
  CHECK(mine->tokens_size() == 3);  // the minted one, "only b" and the inherited one
}

TEST_CASE("roles: granted by a project's admins, inherited by sub-projects, one admin kept") {
  AuthServer s;
  auto root = s.As("root");
  v1::Project team;
  team.set_name("team");
  REQUIRE(root->CreateProject(team).ok());
  v1::GrantRoleRequest g;
  g.set_project("team");
  g.set_user("padmin");
  g.set_role(v1::ROLE_ADMIN);
  REQUIRE(root->GrantRole(g).ok());
  auto padmin = s.As("padmin");

  // A project admin creates sub-projects (top-level ones need a server administrator).
  v1::Project sub;
  sub.set_name("team-nlp");
  sub.set_parent("team");
  REQUIRE(padmin->CreateProject(sub).ok());
  v1::Project top;
  top.set_name("mine");
  CHECK(padmin->CreateProject(top).status().code() == StatusCode::kPermissionDenied);

  // Grants on the parent apply to the sub-project.
  g.set_user("viewer");
  g.set_role(v1::ROLE_VIEWER);
  REQUIRE(padmin->GrantRole(g).ok());
  auto viewer = s.As("viewer");
  CHECK(viewer->GetProject("team-nlp").ok());
  v1::JobSpec spec;
  spec.set_project("team-nlp");
  spec.add_command("true");
  auto denied = viewer->SubmitJob(spec);
  CHECK(denied.status().code() == StatusCode::kPermissionDenied);
  CHECK(denied.status().message().find("editor") != std::string::npos);

  // Listings show every project the caller holds a role on, directly or through a parent.
  v1::GrantRoleRequest sub_only;
  sub_only.set_project("team-nlp");
  sub_only.set_user("editor");
  sub_only.set_role(v1::ROLE_EDITOR);
  REQUIRE(padmin->GrantRole(sub_only).ok());
  auto roots = s.As("editor")->ListProjects(v1::ListProjectsRequest());
  REQUIRE(roots.ok());
  REQUIRE(roots->projects_size() == 1);
  CHECK(roots->projects(0).name() == "team-nlp");
  CHECK(s.As("editor")->GetProject("team").status().code() == StatusCode::kNotFound);
  auto viewer_roots = viewer->ListProjects(v1::ListProjectsRequest());
  REQUIRE(viewer_roots.ok());
  REQUIRE(viewer_roots->projects_size() == 2);
  CHECK(viewer_roots->projects(0).name() == "team");
  CHECK(viewer_roots->projects(1).name() == "team-nlp");

  // Viewers cannot grant; the last admin cannot be removed or demoted.
  g.set_user("stranger");
  g.set_role(v1::ROLE_EDITOR);
  CHECK(viewer->GrantRole(g).status().code() == StatusCode::kPermissionDenied);
  v1::RevokeRoleRequest r;
  r.set_project("team");
  r.set_user("padmin");
  CHECK(padmin->RevokeRole(r).code() == StatusCode::kFailedPrecondition);
  g.set_user("padmin");
  g.set_role(v1::ROLE_VIEWER);
  CHECK(padmin->GrantRole(g).status().code() == StatusCode::kFailedPrecondition);
  g.set_user("nobody-here");
  g.set_role(v1::ROLE_VIEWER);
  CHECK(padmin->GrantRole(g).status().code() == StatusCode::kNotFound);

  // Bindings are listed for the projects the caller administers, not to a stranger.
  v1::ListRoleBindingsRequest list;
  list.set_project("team");
  auto bindings = padmin->ListRoleBindings(list);
  REQUIRE(bindings.ok());
  CHECK(bindings->bindings_size() == 2);
  CHECK(s.As("stranger")->ListRoleBindings(list).status().code() == StatusCode::kNotFound);
  CHECK(viewer->ListRoleBindings(list).status().code() == StatusCode::kPermissionDenied);

  // Changes are recorded as made by the token's user, whatever the SDK claims.
  auto job = s.As("padmin")->SubmitJob([] {
    v1::JobSpec j;
    j.set_project("team");
    j.add_command("true");
    return j;
  }());
  REQUIRE(job.ok());
  CHECK(job->user() == "padmin");
}

TEST_CASE("a digest is no key: another project's blobs and manifests stay hidden over the wire") {
  AuthServer s;
  auto root = s.As("root");
  const std::string scratch = s.dir.path() + "/scratch";
  Objects theirs = MakeObjects(*root, "theirs", scratch);
  v1::Project mine;
  mine.set_name("mine");
  REQUIRE(root->CreateProject(mine).ok());
  v1::GrantRoleRequest g;
  g.set_project("mine");
  g.set_user("editor");
  g.set_role(v1::ROLE_EDITOR);
  REQUIRE(root->GrantRole(g).ok());
  auto artifact = root->GetArtifact(theirs.artifact);
  REQUIRE(artifact.ok());
  v1::GetManifestRequest get;
  get.set_project("theirs");
  get.set_digest(artifact->manifest_digest());
  auto manifest = root->GetManifest(get);
  REQUIRE(manifest.ok());
  const std::string blob = manifest->entries(0).digest();

  // The editor of "mine" knows both digests and names its own project: nothing of "theirs".
  v1::DownloadBlobRequest download;
  download.set_project("mine");
  download.set_digest(blob);
  Reply hidden = s.Call("mlcore.v1.ArtifactService/DownloadBlob", download, "editor");
  download.set_digest(Ghost(blob));
  Reply none = s.Call("mlcore.v1.ArtifactService/DownloadBlob", download, "editor");
  CHECK(hidden.code == grpc::StatusCode::NOT_FOUND);
  CHECK(none.code == grpc::StatusCode::NOT_FOUND);
  CHECK(Replace(hidden.message, blob, "D") == Replace(none.message, Ghost(blob), "D"));

  get.set_project("mine");
  Reply manifest_hidden = s.Call("mlcore.v1.ArtifactService/GetManifest", get, "editor");
  CHECK(manifest_hidden.code == grpc::StatusCode::NOT_FOUND);

  v1::FindMissingBlobsRequest ask;
  ask.set_project("mine");
  ask.add_digests(blob);
  auto editor = s.As("editor");
  auto missing = editor->FindMissingBlobs(ask);
  REQUIRE(missing.ok());
  CHECK(missing->missing_digests_size() == 1);

  // Sending the same bytes makes them the editor's to read; still stored once.
  const std::string copy = scratch + "/copy.txt";
  std::string original;
  REQUIRE(root->DownloadArtifact(theirs.artifact, scratch + "/got").ok());
  for (const auto& entry : std::filesystem::directory_iterator(scratch + "/got")) {
    std::filesystem::copy_file(entry.path(), copy);
  }
  v1::CreateRunRequest run;
  run.mutable_run()->set_project("mine");
  auto own_run = editor->CreateRun(run);
  REQUIRE(own_run.ok());
  v1::ObjectRef owner;
  owner.set_kind(v1::OBJECT_KIND_RUN);
  owner.set_id(own_run->id());
  auto logged = editor->LogArtifact(owner, copy, "copy.txt");
  REQUIRE_MESSAGE(logged.ok(), logged.status().ToString());
  download.set_digest(blob);
  CHECK(s.Call("mlcore.v1.ArtifactService/DownloadBlob", download, "editor").code ==
        grpc::StatusCode::OK);
  REQUIRE(editor->DownloadArtifact(logged->id(), scratch + "/mine").ok());
  CHECK(std::filesystem::exists(scratch + "/mine/copy.txt"));
}

TEST_CASE("the server refuses to start without users, and plaintext beyond loopback") {
  TempDir dir;
  testing::IsolatedEnv env{dir};
  server::ServerOptions options;
  options.state_dir = dir.path() + "/state";
  options.listen = {"127.0.0.1:0"};
  auto empty = server::Server::Start(options);
  CHECK(empty.status().code() == StatusCode::kFailedPrecondition);
  CHECK(empty.status().message().find("mlc server user add") != std::string::npos);
  v1::User u;
  u.set_name("ann");
  REQUIRE(server::AddUser(options.state_dir, u).ok());
  CHECK(server::AddUser(options.state_dir, u).status().code() == StatusCode::kAlreadyExists);
  u.set_name("Bad Name");
  CHECK(server::AddUser(options.state_dir, u).status().code() == StatusCode::kInvalidArgument);
  options.listen = {"0.0.0.0:0"};
  auto plain = server::Server::Start(options);
  CHECK(plain.status().code() == StatusCode::kInvalidArgument);
  CHECK(plain.status().message().find("--tls-cert") != std::string::npos);
}

TEST_CASE("credentials: stored 0600, refused when others can read them") {
  TempDir dir;
  testing::IsolatedEnv env{dir};
  testing::ScopedEnv path({{"MLC_CREDENTIALS", dir.path() + "/creds/credentials"}});
  REQUIRE(SaveToken("grpc://h:1", "mlc_00000000_x").ok());
  REQUIRE(SaveToken("grpc://h:2", "mlc_11111111_y").ok());
  CHECK(*LoadToken("grpc://h:1") == "mlc_00000000_x");
  CHECK(*LoadToken("grpc://h:3") == "");
  struct stat st {};
  REQUIRE(stat((dir.path() + "/creds/credentials").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(ForgetToken("grpc://h:1").ok());
  CHECK(ForgetToken("grpc://h:1").code() == StatusCode::kNotFound);
  CHECK(*LoadToken("grpc://h:2") == "mlc_11111111_y");
  chmod((dir.path() + "/creds/credentials").c_str(), 0644);
  auto leaked = LoadToken("grpc://h:2");
  CHECK(leaked.status().code() == StatusCode::kPermissionDenied);
  CHECK(leaked.status().message().find("chmod 600") != std::string::npos);
}

}  // namespace
}  // namespace mlcore
