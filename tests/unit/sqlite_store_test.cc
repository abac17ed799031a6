#include "local/sqlite_store.h"

#include <unistd.h>

#include <sys/wait.h>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "unit/test_support.h"

namespace mlcore::sqlite {
namespace {

using testing::TempDir;
using testing::WriteFile;

const std::vector<Migration> kV1 = {{1, "CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER);"}};
const std::vector<Migration> kV2 = {{1, "CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER);"},
                                    {2, "ALTER TABLE t ADD COLUMN note TEXT;"}};

int64_t Count(Db& db) {
  auto stmt = db.Prepare("SELECT COUNT(*) FROM t");
  REQUIRE(stmt.ok());
  REQUIRE(stmt->Step().value());
  return stmt->ColumnInt(0);
}

TEST_CASE("migrations run once, in order, and upgrade existing stores") {
  TempDir dir;
  std::string path = dir / "store.db";
  {
    auto db = Db::Open(path, kV1);
    MLC_REQUIRE_OK(db);
    CHECK((*db)->schema_version() == 1);
    MLC_REQUIRE_OK((*db)->Exec("INSERT INTO t VALUES ('a', 1)"));
  }
  auto db = Db::Open(path, kV2);
  MLC_REQUIRE_OK(db);
  CHECK((*db)->schema_version() == 2);
  MLC_REQUIRE_OK((*db)->Exec("UPDATE t SET note = 'kept' WHERE k = 'a'"));
  CHECK(Count(**db) == 1);
  auto mode = (*db)->Prepare("PRAGMA journal_mode");
  REQUIRE(mode->Step().value());
  CHECK(mode->ColumnText(0) == "wal");
}

TEST_CASE("a store with a newer schema is refused with a clear error") {
  TempDir dir;
  std::string path = dir / "store.db";
  { MLC_REQUIRE_OK(Db::Open(path, kV2)); }
  auto old_build = Db::Open(path, kV1);
  REQUIRE_FALSE(old_build.ok());
  CHECK(old_build.status().code() == StatusCode::kFailedPrecondition);
  CHECK(old_build.status().message().find("schema version 2, newer than this mlcore supports "
                                          "(1); upgrade mlcore") != std::string::npos);
}

TEST_CASE("a file that is not a database is reported as such, and left untouched") {
  TempDir dir;
  std::string path = dir / "store.db";
  WriteFile(path, std::string(4096, 'x'));
  auto db = Db::Open(path, kV1);
  REQUIRE_FALSE(db.ok());
  CHECK(db.status().code() == StatusCode::kDataLoss);
  CHECK(db.status().message().find(path) != std::string::npos);
}

TEST_CASE("failed migrations roll back entirely") {
  TempDir dir;
  std::string path = dir / "store.db";
  const std::vector<Migration> broken = {{1, "CREATE TABLE t(k TEXT); CREATE TABLE t(k TEXT);"}};
  auto db = Db::Open(path, broken);
  REQUIRE_FALSE(db.ok());
  CHECK(db.status().message().find("schema migration 1 failed") != std::string::npos);
  auto fixed = Db::Open(path, kV1);  // nothing half-applied is left behind
  MLC_REQUIRE_OK(fixed);
  CHECK(Count(**fixed) == 0);
}

TEST_CASE("transactions roll back unless committed; statements bind and read values") {
  TempDir dir;
  auto db = Db::Open(dir / "store.db", kV1);
  MLC_REQUIRE_OK(db);
  {
    auto txn = Transaction::Begin(**db);
    MLC_REQUIRE_OK(txn);
    MLC_REQUIRE_OK((*db)->Exec("INSERT INTO t VALUES ('gone', 1)"));
  }
  CHECK(Count(**db) == 0);
  {
    auto txn = Transaction::Begin(**db);
    MLC_REQUIRE_OK(txn);
    auto insert = (*db)->Prepare("INSERT INTO t(k, v) VALUES (?, ?)");
    MLC_REQUIRE_OK(insert);
    MLC_REQUIRE_OK(insert->Bind(1, std::string_view("kept")).Bind(2, int64_t{42}).Run());
    auto duplicate = insert->Run();
    CHECK(duplicate.code() == StatusCode::kAlreadyExists);
    MLC_REQUIRE_OK(txn->Commit());
  }
  auto select = (*db)->Prepare("SELECT k, v FROM t");
  REQUIRE(select->Step().value());
  CHECK(select->ColumnText(0) == "kept");
  CHECK(select->ColumnInt(1) == 42);
  CHECK_FALSE(select->Step().value());
}

TEST_CASE("cached statements are reused, start afresh, and a nested use gets its own copy") {
  TempDir dir;
  auto db = Db::Open(dir / "store.db", kV1);
  MLC_REQUIRE_OK(db);
  MLC_REQUIRE_OK((*db)->Exec("INSERT INTO t VALUES ('a', 1), ('b', 2)"));
  const char* sql = "SELECT k FROM t WHERE v >= ? ORDER BY k";
  {
    auto outer = (*db)->Cached(sql);
    MLC_REQUIRE_OK(outer);
    (*outer)->Bind(1, int64_t{1});
    REQUIRE((*outer)->Step().value());
    CHECK((*outer)->ColumnText(0) == "a");
    {
      // The same SQL while the outer handle is mid-iteration: a private copy, which leaves the
      // outer one where it was.
      auto inner = (*db)->Cached(sql);
      MLC_REQUIRE_OK(inner);
      (*inner)->Bind(1, int64_t{2});
      REQUIRE((*inner)->Step().value());
      CHECK((*inner)->ColumnText(0) == "b");
    }
    REQUIRE((*outer)->Step().value());
    CHECK((*outer)->ColumnText(0) == "b");
  }
  // Returned to the cache reset and unbound: the next use starts from the first row, with the
  // parameter NULL until bound again.
  auto again = (*db)->Cached(sql);
  MLC_REQUIRE_OK(again);
  CHECK_FALSE((*again)->Step().value());
  (*again)->Reset();
  (*again)->Bind(1, int64_t{0});
  REQUIRE((*again)->Step().value());
  CHECK((*again)->ColumnText(0) == "a");
  // One compiled statement for that SQL is all the connection holds (the copy was finalized).
  int statements = 0;
  for (sqlite3_stmt* s = sqlite3_next_stmt((*db)->raw(), nullptr); s != nullptr;
       s = sqlite3_next_stmt((*db)->raw(), s)) {
    statements += std::string_view(sqlite3_sql(s)) == sql ? 1 : 0;
  }
  CHECK(statements == 1);
  MLC_REQUIRE_OK((*db)->Run("BEGIN"));
  MLC_REQUIRE_OK((*db)->Run("COMMIT"));
}

TEST_CASE("several processes write to one store at once without losing a row") {
  TempDir dir;
  std::string path = dir / "store.db";
  { MLC_REQUIRE_OK(Db::Open(path, kV1)); }
  constexpr int kProcesses = 6;
  constexpr int kRowsEach = 40;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto db = Db::Open(path, kV1);
      if (!db.ok()) _exit(10);
      for (int i = 0; i < kRowsEach; ++i) {
        auto txn = Transaction::Begin(**db);
        if (!txn.ok()) _exit(11);
        auto insert = (*db)->Prepare("INSERT INTO t(k, v) VALUES (?, ?)");
        std::string key = std::to_string(p) + "-" + std::to_string(i);
        if (!insert.ok() ||
            !insert->Bind(1, std::string_view(key)).Bind(2, int64_t{i}).Run().ok()) {
          _exit(12);
        }
        if (!txn->Commit().ok()) _exit(13);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto db = Db::Open(path, kV1);
  MLC_REQUIRE_OK(db);
  CHECK(Count(**db) == kProcesses * kRowsEach);
}

TEST_CASE("a writer blocked past the busy timeout gets UNAVAILABLE, not a hang") {
  TempDir dir;
  std::string path = dir / "store.db";
  auto holder = Db::Open(path, kV1);
  MLC_REQUIRE_OK(holder);
  auto txn = Transaction::Begin(**holder);  // holds the write lock
  MLC_REQUIRE_OK(txn);
  auto waiter = Db::Open(path, kV1, /*busy_timeout_ms=*/50);
  MLC_REQUIRE_OK(waiter);  // opening needs no write lock once migrated
  auto blocked = Transaction::Begin(**waiter);
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.status().code() == StatusCode::kUnavailable);
  CHECK(blocked.status().message().find("locked by another process") != std::string::npos);
}

}  // namespace
}  // namespace mlcore::sqlite
