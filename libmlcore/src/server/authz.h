// Authorization of every rpc (auth.proto): which project a call touches and the role it needs.
//
// The rules are one table, keyed by method (authz.cc), so a reader sees the whole policy at once
// and the authorization-matrix test can walk it. A rule names where the project is found:
// - a field holding the project's name ("project", "spec.project", "header.project");
// - a field holding an object's id (a job, run, experiment, artifact or webhook), resolved through
//   the engine to the object's project;
// - or no project at all (any authenticated caller; or server administrators only).
//
// Answers:
// - no role on the project, a token scoped to other projects, or an object of such a project:
//   NOT_FOUND with the same message the engine gives for a name that does not exist;
// - a role below the rule's: PERMISSION_DENIED naming the role needed;
// - list calls without a project answer only what the caller may see (Filter).
//
// A role on a project applies to its sub-projects; a server administrator is ADMIN everywhere.
// Thread safety: Check and Filter may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mlcore/status.h"
#include "mlcore/v1/auth.pb.h"
#include "server/auth_store.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace mlcore {
class Client;
}  // namespace mlcore

namespace mlcore::server {

// Where a rule finds the project a call touches.
enum class Scope {
  kProject,        // a project (by name or through an object id): see Rule
  kAuthenticated,  // any authenticated caller; nothing project-specific is read or changed
  kServerAdmin,    // server administrators only (shared state: the cache, garbage collection)
  kOwnHandler,     // AuthService: the handler applies the rules auth.proto states
};

// What an id field names.
enum class Lookup { kProjectName, kJob, kRun, kExperiment, kArtifact, kWebhook, kPipelineRun };

struct Rule {
  Scope scope = Scope::kAuthenticated;
  v1::Role role = v1::ROLE_VIEWER;
  // Dotted path of the field naming the project (kProjectName) or the object (other lookups).
  std::string field;
  Lookup lookup = Lookup::kProjectName;
  // When `field` is empty in the request: the dotted path of a project-name field to use instead.
  std::string fallback_project_field;
  // Without any project in the request, the call is allowed and its answer filtered.
  bool empty_lists_all = false;
  // A read of one object whose answer names its project (a Job, Run, Experiment, Artifact): the
  // answer is checked instead of looking the object up first, which would read it twice.
  bool check_answer = false;
};

// The rule of every method of proto/mlcore/v1, by full name ("mlcore.v1.JobService/GetJob").
const std::map<std::string, Rule>& Rules();

// A role's name as users type it ("viewer"), and back (ROLE_UNSPECIFIED when unknown).
std::string RoleName(v1::Role role);
v1::Role ParseRole(const std::string& name);

class Authorizer {
 public:
  Authorizer(Client& client, AuthStore& store) : client_(client), store_(store) {}

  // May `who` make this call? Errors: NOT_FOUND (hidden), PERMISSION_DENIED, INVALID_ARGUMENT
  // (no project named where one is needed), UNIMPLEMENTED (a method without a rule).
  Status Check(const Principal& who, const std::string& method,
               const google::protobuf::Message& request);

  // Drops from `response` every listed item of a project `who` may not see with the method's
  // role. Errors: NOT_FOUND when the answer itself is an object of such a project (in the
  // engine's words for the id `request` named).
  Status Filter(const Principal& who, const std::string& method,
                const google::protobuf::Message& request, google::protobuf::Message* response);

  // True when a streamed message (a registry event, a job update) may go to `who`.
  bool MayReceive(const Principal& who, const std::string& method,
                  const google::protobuf::Message& message);

  // `who`'s effective role on `project`: its own binding or one on an ancestor, ADMIN for a server
  // administrator, nothing outside the token's projects or for a project that does not exist.
  v1::Role RoleOn(const Principal& who, const std::string& project);

  // The engine's NOT_FOUND for a project that does not exist (the same text for a hidden one).
  static Status ProjectNotFound(const std::string& project);

  // Drops the cached project tree (after a project is created or deleted through the server).
  void ForgetProjects();

 private:
  Status CheckProject(const Principal& who, const Rule& rule, const std::string& project);
  Result<std::string> ProjectOfObject(Lookup lookup, const google::protobuf::Message& request,
                                      const std::string& id);
  std::vector<std::string> Ancestry(const std::string& project);

  Client& client_;
  AuthStore& store_;
  // Project -> parent, as read from the engine, for a short while: every call resolves the
  // ancestry of the project it touches, and projects change rarely.
  std::mutex parents_mu_;
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> parents_;
};

}  // namespace mlcore::server
