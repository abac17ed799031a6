// A thin, safe layer over SQLite for the local backend's store.
//
// - Db opens a database in WAL mode with a busy timeout, so several processes (CLI invocations,
//   notebooks, job supervisors) can use one store at once: readers never block, writers queue.
// - Schema migrations are numbered; Open applies the missing ones in one IMMEDIATE transaction
//   (so concurrent openers serialize) and refuses a store whose schema is newer than this build.
// - Statement is RAII over sqlite3_stmt; Transaction rolls back unless committed.
// - Db::Cached compiles a statement once per connection and hands it out again (hot reads: a job
//   by id, a model version by alias), which saves most of the cost of a small query.
//
// Thread safety: a Db (one connection) must be used by one thread at a time; callers serialize.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mlcore/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace mlcore::sqlite {

// Translates a SQLite result code (and the connection's last message) into a Status naming
// `what`; SQLITE_BUSY/LOCKED -> UNAVAILABLE, SQLITE_FULL -> RESOURCE_EXHAUSTED,
// SQLITE_NOTADB/CORRUPT -> DATA_LOSS, SQLITE_CANTOPEN/PERM/READONLY -> PERMISSION_DENIED,
// SQLITE_CONSTRAINT -> ALREADY_EXISTS or FAILED_PRECONDITION.
Status FromSqlite(int rc, sqlite3* db, std::string_view what);

// One schema migration: the statements that take the schema from version-1 to version.
struct Migration {
  int version;
  const char* sql;
};

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binders take 1-based parameter indexes and return *this for chaining; a bind failure is
  // reported by the next Step().
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);

  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows.
  Status Run();
  // Resets for re-execution, keeping bindings.
  void Reset();
  // Resets and clears the bindings (what a statement returned to a cache needs).
  void ResetAndClear();

  int64_t ColumnInt(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class Db;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int bind_error_ = 0;
};

// A prepared statement borrowed from its Db's cache (Db::Cached), reset and unbound when this
// handle goes out of scope. While a handle is alive, asking for the same SQL again (a nested use)
// compiles a private copy, finalized with its handle, so handles never share a statement.
class CachedStatement {
 public:
  CachedStatement(CachedStatement&& other) noexcept;
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  CachedStatement& operator=(CachedStatement&&) = delete;
  ~CachedStatement();

  Statement* operator->() { return statement_; }
  Statement& operator*() { return *statement_; }

 private:
  friend class Db;
  // Borrows `cached` (its `busy` flag set by the Db, cleared here).
  CachedStatement(Statement* cached, bool* busy) : statement_(cached), busy_(busy) {}
  // Owns `own` (the cached copy was busy).
  explicit CachedStatement(Statement own) : owned_(std::move(own)), statement_(&owned_) {}

  Statement owned_;
  Statement* statement_;
  bool* busy_ = nullptr;  // the cache entry's flag when borrowed
};

class Db {
 public:
  // Opens (creating if needed) the database at `path`, sets WAL, a busy timeout of
  // `busy_timeout_ms` and foreign keys, then applies `migrations` (sorted by version, starting at
  // 1). Errors: PERMISSION_DENIED, DATA_LOSS (not a database), FAILED_PRECONDITION (schema newer
  // than the latest migration: upgrade mlcore), UNAVAILABLE (locked past the timeout).
  // `create_sql` runs first on a database without schema (settings such as auto_vacuum that only
  // take before the first table).
  static Result<std::unique_ptr<Db>> Open(const std::string& path,
                                          const std::vector<Migration>& migrations,
                                          int busy_timeout_ms = 10000,
                                          std::string_view create_sql = {});
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  // Compiles one statement.
  Result<Statement> Prepare(std::string_view sql);
  // One statement, compiled on its first use by this connection and kept (keyed by its text):
  // for statements run often, whose text takes a few distinct values.
  Result<CachedStatement> Cached(std::string_view sql);
  // Runs one statement without results through the cache (BEGIN, COMMIT, ...).
  Status Run(std::string_view sql);
  // Rowid of the last INSERT on this connection.
  int64_t LastInsertRowId();
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int Changes();
  // The schema version after migrations.
  int schema_version() const { return schema_version_; }
  const std::string& path() const { return path_; }
  sqlite3* raw() { return db_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Migrate(const std::vector<Migration>& migrations);
  Result<int> ReadUserVersion();

  struct CacheEntry {
    Statement statement;
    bool busy = false;  // a CachedStatement holds it
  };
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>()(text); }
  };

  sqlite3* db_;
  std::string path_;
  int schema_version_ = 0;
  // Elements keep their addresses across rehashing, so handles may point into it.
  std::unordered_map<std::string, CacheEntry, TextHash, std::equal_to<>> cache_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back by the destructor unless Commit() succeeded. IMMEDIATE
// takes the write lock at once, so read-modify-write sequences cannot interleave across processes.
class Transaction {
 public:
  static Result<Transaction> Begin(Db& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;  // borrowed; null once committed or rolled back
};

// BEGIN (deferred) ... COMMIT around a group of reads, ended when it goes out of scope: the reads
// see one snapshot (a concurrent writer's change entirely or not at all) and take the store's
// read lock once instead of once per statement. Not for use inside another transaction.
class ReadTransaction {
 public:
  static Result<ReadTransaction> Begin(Db& db);
  ReadTransaction(ReadTransaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ReadTransaction& operator=(ReadTransaction&&) = delete;
  ~ReadTransaction();

 private:
  explicit ReadTransaction(Db* db) : db_(db) {}
  Db* db_;  // borrowed
};

}  // namespace mlcore::sqlite
