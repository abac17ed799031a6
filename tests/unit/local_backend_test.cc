// Faults of the local backend that the conformance suite cannot express: bad state directories,
// foreign files, schema versions.
#include "local/local_backend.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using testing::IsolatedEnv;
using testing::TempDir;
using testing::WriteFile;

TEST_CASE("the state directory is created, with missing parents") {
  TempDir dir;
  IsolatedEnv env(dir);
  auto client = Client::Open("local://" + dir.path() + "/a/b/c");
  MLC_REQUIRE_OK(client);
  struct stat st {};
  REQUIRE(stat((dir.path() + "/a/b/c/mlcore.db").c_str(), &st) == 0);
  auto info = (*client)->GetBackendInfo();
  CHECK(info->scheme() == "local");
  CHECK(info->target() == "local://" + dir.path() + "/a/b/c");
  CHECK(info->store_schema_version() == static_cast<int>(local::StoreMigrations().size()));
}

TEST_CASE("concurrent first calls from many threads share one runtime context") {
  // A server calls the backend from many threads at once; the lazily built runtime context
  // (flavors, this node) was once built twice and freed under a reader (ASan caught it).
  TempDir dir;
  IsolatedEnv env(dir);
  auto backend = BackendRegistry::Global().Create("local://" + dir.path() + "/state");
  MLC_REQUIRE_OK(backend);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::vector<std::string> catalogs(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto flavors = (*backend)->ListFlavors(v1::ListFlavorsRequest());
      if (flavors.ok()) {
        ++ok;
        catalogs[i] = flavors->SerializeAsString();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(std::count(catalogs.begin(), catalogs.end(), catalogs[0]) == 8);
  CHECK_FALSE(catalogs[0].empty());
}

TEST_CASE("relative and home-relative state paths resolve to absolute ones") {
  TempDir dir;
  IsolatedEnv env(dir);
  testing::ScopedEnv home(testing::EnvMap{{"HOME", dir.path()}});
  auto client = Client::Open("local://~/state");
  MLC_REQUIRE_OK(client);
  CHECK((*client)->GetBackendInfo()->target() == "local://" + dir.path() + "/state");
}

TEST_CASE("a state path that is a file is refused, naming it") {
  TempDir dir;
  IsolatedEnv env(dir);
  WriteFile(dir / "file", "x");
  auto client = Client::Open("local://" + dir.path() + "/file");
  REQUIRE_FALSE(client.ok());
  CHECK(client.status().code() == StatusCode::kFailedPrecondition);
  CHECK(client.status().message().find(dir.path() + "/file exists but is not a directory") !=
        std::string::npos);
  auto below = Client::Open("local://" + dir.path() + "/file/sub");
  REQUIRE_FALSE(below.ok());
  CHECK(below.status().message().find(dir.path() + "/file/sub") != std::string::npos);
}

TEST_CASE("an unreadable state directory gives PERMISSION_DENIED") {
  TempDir dir;
  IsolatedEnv env(dir);
  std::string state = dir / "locked";
  REQUIRE(mkdir(state.c_str(), 0700) == 0);
  if (geteuid() != 0) {
    REQUIRE(chmod(state.c_str(), 0) == 0);
    auto client = Client::Open("local://" + state);
    REQUIRE_FALSE(client.ok());
    CHECK(client.status().code() == StatusCode::kPermissionDenied);
    CHECK(client.status().message().find(state) != std::string::npos);
    return;
  }
  // Root bypasses permission bits, so check as an unprivileged user in a child process.
  REQUIRE(chmod(dir.path().c_str(), 0755) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(90);
    auto client = Client::Open("local://" + state);
    if (client.ok()) _exit(91);
    if (client.status().code() != StatusCode::kPermissionDenied) _exit(92);
    if (client.status().message().find(state) == std::string::npos) _exit(93);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a foreign file in place of the store is reported, never overwritten") {
  TempDir dir;
  IsolatedEnv env(dir);
  WriteFile(dir / "mlcore.db", "this is not sqlite, it is my notes\n");
  auto client = Client::Open("local://" + dir.path());
  REQUIRE_FALSE(client.ok());
  CHECK(client.status().code() == StatusCode::kDataLoss);
  std::ifstream in(dir / "mlcore.db");
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(contents == "this is not sqlite, it is my notes\n");
}

TEST_CASE("a store written by a newer mlcore is refused") {
  TempDir dir;
  IsolatedEnv env(dir);
  { MLC_REQUIRE_OK(Client::Open("local://" + dir.path())); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "mlcore.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version=999", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto client = Client::Open("local://" + dir.path());
  REQUIRE_FALSE(client.ok());
  CHECK(client.status().code() == StatusCode::kFailedPrecondition);
  CHECK(client.status().message().find("schema version 999") != std::string::npos);
  CHECK(client.status().message().find("upgrade mlcore") != std::string::npos);
}

TEST_CASE("unknown schemes list the registered ones") {
  TempDir dir;
  IsolatedEnv env(dir);
  auto client = Client::Open("s3://bucket/x");
  REQUIRE_FALSE(client.ok());
  CHECK(client.status().code() == StatusCode::kInvalidArgument);
  std::string known;
  for (const auto& scheme : BackendRegistry::Global().Schemes()) {
    known += (known.empty() ? "" : ", ") + scheme;
  }
  CHECK(known.find("local") != std::string::npos);
  CHECK(client.status().message() ==
        "unknown backend scheme \"s3\" in \"s3://bucket/x\"; known schemes: " + known);
  testing::ScopedEnv bad(testing::EnvMap{{"MLC_BACKEND", "nope://x"}});
  auto from_env = Client::Open(ClientOptions{});
  REQUIRE_FALSE(from_env.ok());
  CHECK(from_env.status().message().find("backend from env MLC_BACKEND") != std::string::npos);
}

TEST_CASE("backends can be registered for new schemes, once") {
  auto& registry = BackendRegistry::Global();
  MLC_CHECK_OK(
      registry.Register("test-mem", [](const Uri& uri) -> Result<std::unique_ptr<Backend>> {
        return local::LocalBackend::Open(uri);
      }));
  CHECK(registry.Register("test-mem", nullptr).code() == StatusCode::kAlreadyExists);
  auto schemes = registry.Schemes();
  CHECK(std::find(schemes.begin(), schemes.end(), "test-mem") != schemes.end());
  TempDir dir;
  IsolatedEnv env(dir);
  // test-mem is not a path-style scheme: "host" becomes the authority, the rest the path.
  auto backend = registry.Create("test-mem://host" + dir.path());
  MLC_CHECK_OK(backend);
}

}  // namespace
}  // namespace mlcore
