#include "local/sqlite_store.h"

#include <algorithm>
#include <string>

#include <sqlite3.h>

namespace mlcore::sqlite {

Status FromSqlite(int rc, sqlite3* db, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += (db != nullptr && sqlite3_errcode(db) == rc) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::Ok();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError(message +
                              " (the store is locked by another process; retry, or find the "
                              "process holding it)");
    case SQLITE_FULL:
      return ResourceExhaustedError(message + " (the disk is full; free space and retry)");
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return DataLossError(message + " (the file is not a usable mlcore store)");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return PermissionDeniedError(message + " (check the state directory's permissions)");
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        return AlreadyExistsError(message);
      }
      return FailedPreconditionError(message);
    case SQLITE_IOERR:
      return UnavailableError(message + " (I/O error)");
    default:
      return InternalError(message);
  }
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    bind_error_ = other.bind_error_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  int rc =
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  int rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Result<bool> Statement::Step() {
  if (bind_error_ != 0) return FromSqlite(bind_error_, db_, "cannot bind statement parameter");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return FromSqlite(rc, db_, "store query failed");
}

Status Statement::Run() {
  MLC_ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  Reset();
  return Status::Ok();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  bind_error_ = 0;
}

void Statement::ResetAndClear() {
  Reset();
  sqlite3_clear_bindings(stmt_);
}

CachedStatement::CachedStatement(CachedStatement&& other) noexcept
    : owned_(std::move(other.owned_)),
      statement_(other.statement_ == &other.owned_ ? &owned_ : other.statement_),
      busy_(other.busy_) {
  other.statement_ = nullptr;
  other.busy_ = nullptr;
}

CachedStatement::~CachedStatement() {
  if (busy_ == nullptr) return;  // owned (finalized with owned_) or moved from
  statement_->ResetAndClear();
  *busy_ = false;
}

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::string Statement::ColumnBlob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) return {};
  return {static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path,
                                     const std::vector<Migration>& migrations, int busy_timeout_ms,
                                     std::string_view create_sql) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Db> db(new Db(raw, path));
  if (rc != SQLITE_OK) return FromSqlite(rc, raw, "cannot open store " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  // Reading the schema first detects "not a database" before any write is attempted.
  MLC_ASSIGN_OR_RETURN(int version, db->ReadUserVersion());
  if (version == 0 && !create_sql.empty()) MLC_RETURN_IF_ERROR(db->Exec(create_sql));
  MLC_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  MLC_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"));
  MLC_RETURN_IF_ERROR(db->Migrate(migrations));
  return db;
}

Db::~Db() {
  cache_.clear();  // finalized before the connection closes
  sqlite3_close_v2(db_);
}

int64_t Db::LastInsertRowId() { return sqlite3_last_insert_rowid(db_); }

int Db::Changes() { return sqlite3_changes(db_); }

Status Db::Exec(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text is still available from sqlite3_errmsg
  if (rc != SQLITE_OK) return FromSqlite(rc, db_, "store " + path_);
  return Status::Ok();
}

Result<Statement> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return FromSqlite(rc, db_, "cannot prepare store query");
  return Statement(db_, stmt);
}

Result<CachedStatement> Db::Cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    MLC_ASSIGN_OR_RETURN(Statement statement, Prepare(sql));
    it = cache_.emplace(std::string(sql), CacheEntry{std::move(statement)}).first;
  } else if (it->second.busy) {
    MLC_ASSIGN_OR_RETURN(Statement statement, Prepare(sql));
    return CachedStatement(std::move(statement));
  }
  it->second.busy = true;
  return CachedStatement(&it->second.statement, &it->second.busy);
}

Status Db::Run(std::string_view sql) {
  MLC_ASSIGN_OR_RETURN(CachedStatement statement, Cached(sql));
  const int rc = sqlite3_step(statement->stmt_);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  return FromSqlite(rc, db_, "store " + path_);
}

Result<int> Db::ReadUserVersion() {
  MLC_ASSIGN_OR_RETURN(Statement stmt, Prepare("PRAGMA user_version"));
  auto row = stmt.Step();
  if (!row.ok()) return row.status().WithContext("cannot read store " + path_);
  return *row ? static_cast<int>(stmt.ColumnInt(0)) : 0;
}

Status Db::Migrate(const std::vector<Migration>& migrations) {
  int latest = migrations.empty() ? 0 : migrations.back().version;
  MLC_ASSIGN_OR_RETURN(int version, ReadUserVersion());
  auto too_new = [&](int v) {
    return FailedPreconditionError("store " + path_ + " has schema version " + std::to_string(v) +
                                   ", newer than this mlcore supports (" + std::to_string(latest) +
                                   "); upgrade mlcore, or point it at another state directory");
  };
  if (version > latest) return too_new(version);
  if (version < latest) {
    MLC_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*this));
    // Another process may have migrated while we waited for the write lock.
    MLC_ASSIGN_OR_RETURN(version, ReadUserVersion());
    if (version > latest) return too_new(version);
    for (const auto& migration : migrations) {
      if (migration.version <= version) continue;
      Status status = Exec(migration.sql);
      if (!status.ok()) {
        return status.WithContext("schema migration " + std::to_string(migration.version) +
                                  " failed");
      }
    }
    MLC_RETURN_IF_ERROR(Exec("PRAGMA user_version=" + std::to_string(latest)));
    MLC_RETURN_IF_ERROR(txn.Commit());
  }
  schema_version_ = latest;
  return Status::Ok();
}

Result<Transaction> Transaction::Begin(Db& db) {
  MLC_RETURN_IF_ERROR(db.Run("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) db_->Run("ROLLBACK").IgnoreError();
}

Status Transaction::Commit() {
  Db* db = db_;
  db_ = nullptr;
  Status status = db->Run("COMMIT");
  if (!status.ok()) db->Run("ROLLBACK").IgnoreError();
  return status;
}

Result<ReadTransaction> ReadTransaction::Begin(Db& db) {
  MLC_RETURN_IF_ERROR(db.Run("BEGIN"));
  return ReadTransaction(&db);
}

ReadTransaction::~ReadTransaction() {
  if (db_ != nullptr) db_->Run("COMMIT").IgnoreError();
}

}  // namespace mlcore::sqlite
