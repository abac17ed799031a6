// The embedded `local://PATH` backend: state in SQLite under PATH, everything in-process.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "local/sqlite_store.h"
#include "mlcore/backend.h"

namespace mlcore::local {

// The store's schema, as ordered migrations (exposed for tests of migration behaviour).
const std::vector<sqlite::Migration>& StoreMigrations();

class LocalBackend final : public Backend {
 public:
  // Opens (creating when missing) the state directory `uri.path` and its store.
  // Errors: INVALID_ARGUMENT (no path), PERMISSION_DENIED / FAILED_PRECONDITION (unusable
  // directory), DATA_LOSS (the store file is not a database), FAILED_PRECONDITION (newer schema).
  static Result<std::unique_ptr<Backend>> Open(const Uri& uri);

  v1::BackendInfo Info() override;
  Result<v1::Project> CreateProject(const v1::Project& project) override;
  Result<v1::Project> GetProject(const std::string& name) override;
  Result<v1::ListProjectsResponse> ListProjects(const v1::ListProjectsRequest& request) override;
  Status DeleteProject(const std::string& name) override;

 private:
  LocalBackend(std::string dir, std::unique_ptr<sqlite::Db> db);
  Result<v1::Project> GetProjectLocked(const std::string& name);

  const std::string dir_;
  std::mutex mu_;  // serializes use of db_ (one SQLite connection)
  std::unique_ptr<sqlite::Db> db_;
};

}  // namespace mlcore::local
