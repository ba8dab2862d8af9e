#include "store/sqlite.h"

#include <utility>

#include "store/store_files.h"

namespace flakebisect::store {

using base::Error;
using base::ErrorCode;
using base::Result;
using base::Status;

namespace {

// A refused write ("attempt to write a readonly database") says nothing about which file is in the
// way; the files do. Never suggests deleting -wal or -shm: they may hold committed transactions.
Error read_only_error(const std::string& path, std::string_view detail, bool opened_read_only) {
  if (path != ":memory:") {
    if (auto why = why_not_writable(path)) {
      return base::make_error(ErrorCode::kIo, "store {}: cannot write: {}", path, *why);
    }
    if (opened_read_only) {
      return base::make_error(ErrorCode::kIo,
                              "store {}: cannot write: it was opened read-only, when this user "
                              "could not write it; run the command again",
                              path);
    }
  }
  return base::make_error(ErrorCode::kIo, "store {}: {}", path, detail);
}

}  // namespace

Error sqlite_error(int rc, const std::string& path, std::string_view detail,
                   bool opened_read_only) {
  switch (rc & 0xff) {  // the primary code; extended codes only refine it
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return base::make_error(ErrorCode::kBusy, "store {} is locked by another process", path);
    case SQLITE_FULL:
      return base::make_error(ErrorCode::kIo, "store {}: disk full ({})", path, detail);
    case SQLITE_IOERR:
      return base::make_error(ErrorCode::kIo, "store {}: I/O error ({})", path, detail);
    case SQLITE_READONLY:
      return read_only_error(path, detail, opened_read_only);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_NOLFS:
    case SQLITE_PROTOCOL:
      return base::make_error(ErrorCode::kIo, "store {}: {}", path, detail);
    case SQLITE_NOTADB:
      return base::make_error(ErrorCode::kCorrupt,
                              "{}: not a flakebisect store (file is not a database)", path);
    case SQLITE_CORRUPT:
      return base::make_error(ErrorCode::kCorrupt, "{}: store is corrupt ({})", path, detail);
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return base::make_error(ErrorCode::kInvalidInput, "store {}: {}", path, detail);
    default:
      return base::make_error(ErrorCode::kFailed, "store {}: {}", path, detail);
  }
}

// --- Statement ---

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Status Statement::bind(int index, std::string_view text) {
  // A zero-length view may have a null data(); SQLite would bind that as NULL, not as "".
  static constexpr char kEmpty[] = "";
  const char* data = text.data() != nullptr ? text.data() : kEmpty;
  int rc = sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) {
    return db_->error(rc);
  }
  return {};
}

Status Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) {
    return db_->error(rc);
  }
  return {};
}

Status Statement::bind(int index, std::nullopt_t) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) {
    return db_->error(rc);
  }
  return {};
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  Error error = db_->error(rc);
  // Resetting clears the statement's error state so a retry (after a busy wait) starts cleanly.
  sqlite3_reset(stmt_);
  return error;
}

Status Statement::run() {
  while (true) {
    FB_ASSIGN_OR_RETURN(bool row, step());
    if (!row) {
      return {};
    }
  }
}

void Statement::reset() { sqlite3_reset(stmt_); }

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::column_int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::column_text(int column) const {
  // sqlite3_column_text first, then sqlite3_column_bytes: the order SQLite documents as safe.
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  int bytes = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) {
    return {};
  }
  return std::string(text, static_cast<size_t>(bytes));
}

std::optional<std::string> Statement::column_optional_text(int column) const {
  if (is_null(column)) {
    return std::nullopt;
  }
  return column_text(column);
}

std::optional<int64_t> Statement::column_optional_int64(int column) const {
  if (is_null(column)) {
    return std::nullopt;
  }
  return column_int64(column);
}

// --- Database ---

Result<Database> Database::open(const std::string& path, int flags, const std::string& name) {
  sqlite3* db = nullptr;
  const std::string& opened = name.empty() ? path : name;
  int rc = sqlite3_open_v2(opened.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);  // a handle is returned even on failure, and must be closed
    return sqlite_error(rc, path, detail);
  }
  sqlite3_extended_result_codes(db, 1);
  return Database(path, db);
}

Database::Database(Database&& other) noexcept
    : path_(std::move(other.path_)), db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    path_ = std::move(other.path_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

// close_v2: should a Statement outlive its Database despite the contract, the connection lingers
// until it is finalized instead of leaking.
Database::~Database() { sqlite3_close_v2(db_); }

Result<Statement> Database::prepare(std::string_view sql) const {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, &tail);
  if (rc != SQLITE_OK) {
    return error(rc);
  }
  Statement statement(this, stmt);
  if (tail != nullptr && tail != sql.data() + sql.size() &&
      std::string_view(tail, sql.data() + sql.size() - tail).find_first_not_of(" \t\r\n;") !=
          std::string_view::npos) {
    return base::make_error(ErrorCode::kFailed, "store {}: more than one SQL statement in: {}",
                            path_, sql);
  }
  return statement;
}

Status Database::exec(const char* sql) const {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return error(rc);
  }
  return {};
}

Error Database::error(int rc) const {
  return sqlite_error(rc, path_, db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc),
                      read_only());
}

bool Database::read_only() const { return db_ != nullptr && sqlite3_db_readonly(db_, "main") == 1; }

void Database::set_busy_timeout(int ms) const { sqlite3_busy_timeout(db_, ms); }

bool Database::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

}  // namespace flakebisect::store
