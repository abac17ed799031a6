#include "local/local_backend.h"

#include <filesystem>

#include <google/protobuf/util/time_util.h>

#include "core/page_token.h"
#include "core/validation.h"
#include "mlcore/version.h"
#include "pipelines/pipeline_engine.h"
#include "util/fs.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

constexpr const char* kStoreFile = "mlcore.db";

}  // namespace

const std::vector<sqlite::Migration>& StoreMigrations() {
  static const std::vector<sqlite::Migration> kMigrations = {
      {1, R"sql(
        CREATE TABLE projects (
          name TEXT PRIMARY KEY,
          parent TEXT REFERENCES projects(name),
          create_time_us INTEGER NOT NULL,
          body BLOB NOT NULL  -- serialized mlcore.v1.Project
        );
        CREATE INDEX projects_parent ON projects(parent);
      )sql"},
      {2, kJobsMigrationSql},
      {3, kSchedulingColumnsMigrationSql},
      {4, kAttachmentsMigrationSql},
      {5, kExpiryMigrationSql},
  };
  return kMigrations;
}

Result<std::unique_ptr<Backend>> LocalBackend::Open(const Uri& uri) {
  if (uri.path.empty()) {
    return InvalidArgumentError("backend URI \"" + uri.original +
                                "\" names no state directory; use local:///absolute/path or "
                                "local://relative/path");
  }
  std::string dir = util::AbsolutePath(uri.path);
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(dir, "state directory"));
  auto db = sqlite::Db::Open(dir + "/" + kStoreFile, StoreMigrations());
  if (!db.ok()) return db.status();
  return std::unique_ptr<Backend>(new LocalBackend(dir, std::move(db).value()));
}

LocalBackend::LocalBackend(std::string dir, std::unique_ptr<sqlite::Db> db)
    : dir_(std::move(dir)),
      db_(std::move(db)),
      pipelines_(std::make_unique<pipelines::PipelineEngine>(dir_, "local://" + dir_)) {}

v1::BackendInfo LocalBackend::Info() {
  v1::BackendInfo info;
  info.set_scheme("local");
  info.set_target("local://" + dir_);
  info.set_version(std::string(Version()));
  info.set_store_schema_version(db_->schema_version());
  info.add_capabilities(v1::CAPABILITY_PROJECTS);
  info.add_capabilities(v1::CAPABILITY_JOBS);
  info.add_capabilities(v1::CAPABILITY_PREEMPTION);
  info.add_capabilities(v1::CAPABILITY_JOB_ATTACH);
  info.add_capabilities(v1::CAPABILITY_TRACKING);
  info.add_capabilities(v1::CAPABILITY_ARTIFACTS);
  info.add_capabilities(v1::CAPABILITY_REGISTRY);
  return info;
}

Result<v1::Project> LocalBackend::CreateProject(const v1::Project& request) {
  v1::Project project = request;
  *project.mutable_create_time() = TimeUtil::GetCurrentTime();
  project.set_created_by(util::CurrentUser());
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  if (!project.parent().empty()) {
    auto parent = GetProjectLocked(project.parent());
    if (!parent.ok()) {
      if (parent.status().code() == StatusCode::kNotFound) {
        return NotFoundError("parent project \"" + project.parent() +
                             "\" does not exist; create it first");
      }
      return parent.status();
    }
  }
  MLC_ASSIGN_OR_RETURN(auto insert, db_->Prepare("INSERT INTO projects(name, parent, "
                                                 "create_time_us, body) VALUES (?, ?, ?, ?)"));
  insert.Bind(1, project.name());
  if (project.parent().empty()) {
    insert.BindNull(2);
  } else {
    insert.Bind(2, project.parent());
  }
  insert.Bind(3, static_cast<int64_t>(TimeUtil::TimestampToMicroseconds(project.create_time())));
  insert.BindBlob(4, project.SerializeAsString());
  Status status = insert.Run();
  if (status.code() == StatusCode::kAlreadyExists) {
    return AlreadyExistsError("project \"" + project.name() +
                              "\" already exists; choose another name or use the existing one");
  }
  MLC_RETURN_IF_ERROR(status);
  MLC_RETURN_IF_ERROR(txn.Commit());
  return project;
}

Result<v1::Project> LocalBackend::GetProjectLocked(const std::string& name) {
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT body FROM projects WHERE name = ?"));
  select.Bind(1, name);
  MLC_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) {
    return NotFoundError("project \"" + name +
                         "\" does not exist (list projects with `mlc "
                         "project ls`)");
  }
  v1::Project project;
  if (!project.ParseFromString(select.ColumnBlob(0))) {
    return DataLossError("store " + db_->path() + ": the record of project \"" + name +
                         "\" is corrupt");
  }
  return project;
}

Result<v1::Project> LocalBackend::GetProject(const std::string& name) {
  std::lock_guard lock(mu_);
  return GetProjectLocked(name);
}

Result<v1::ListProjectsResponse> LocalBackend::ListProjects(
    const v1::ListProjectsRequest& request) {
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(request.page_size()));
  MLC_ASSIGN_OR_RETURN(std::string after, DecodePageToken(request.page_token(), "projects"));
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto select,
                       db_->Prepare("SELECT body, name FROM projects WHERE name > ? AND "
                                    "(? = '' OR parent = ?) ORDER BY name LIMIT ?"));
  select.Bind(1, after).Bind(2, request.parent()).Bind(3, request.parent());
  select.Bind(4, static_cast<int64_t>(page_size) + 1);
  v1::ListProjectsResponse response;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    if (response.projects_size() == page_size) {
      response.set_next_page_token(
          EncodePageToken(response.projects(page_size - 1).name(), "projects"));
      break;
    }
    if (!response.add_projects()->ParseFromString(select.ColumnBlob(0))) {
      return DataLossError("store " + db_->path() + ": the record of project \"" +
                           select.ColumnText(1) + "\" is corrupt");
    }
  }
  return response;
}

Status LocalBackend::DeleteProject(const std::string& name) {
  MLC_RETURN_IF_ERROR(CheckProjectHasNoModels(name));
  if (std::filesystem::exists(dir_ + "/tracking.db")) {
    MLC_ASSIGN_OR_RETURN(TrackingStore * store, Tracking());
    MLC_ASSIGN_OR_RETURN(int64_t runs, store->CountRuns(name));
    if (runs > 0) {
      return FailedPreconditionError("project \"" + name + "\" has " + std::to_string(runs) +
                                     " tracking runs; delete them first (mlc run ls, mlc run "
                                     "delete)");
    }
  }
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_RETURN_IF_ERROR(GetProjectLocked(name).status());
  MLC_ASSIGN_OR_RETURN(auto children,
                       db_->Prepare("SELECT name FROM projects WHERE parent = ? ORDER BY name"));
  children.Bind(1, name);
  MLC_ASSIGN_OR_RETURN(bool has_child, children.Step());
  if (has_child) {
    return FailedPreconditionError("project \"" + name + "\" has sub-projects (e.g. \"" +
                                   children.ColumnText(0) + "\"); delete them first");
  }
  children.Reset();
  MLC_ASSIGN_OR_RETURN(int64_t jobs, CountProjectJobs(*db_, name));
  if (jobs > 0) {
    return FailedPreconditionError("project \"" + name + "\" has " + std::to_string(jobs) +
                                   " jobs; projects holding job history cannot be deleted");
  }
  MLC_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM projects WHERE name = ?"));
  del.Bind(1, name);
  MLC_RETURN_IF_ERROR(del.Run());
  MLC_RETURN_IF_ERROR(txn.Commit());
  if (tracking_) return tracking_->ForgetProject(name);  // (opened above when tracking.db exists)
  return Status::Ok();
}

}  // namespace mlcore::local
