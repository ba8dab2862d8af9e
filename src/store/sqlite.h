// Database and Statement: thin RAII owners of a sqlite3 connection and a prepared statement, and
// the one place that turns SQLite result codes into base::Error.
//
// These hold no schema knowledge; Store builds on them. Every value reaches SQL through a bound
// parameter: text is bound with its byte length, so NULs, invalid UTF-8 and megabyte strings
// round-trip unchanged. Error codes map as follows (see Database::error):
//   SQLITE_BUSY/LOCKED                 -> kBusy     "store <path> is locked by another process"
//   SQLITE_FULL/IOERR/CANTOPEN/...     -> kIo       "store <path>: disk full (...)" etc.
//   SQLITE_READONLY                    -> kIo       "store <path>: cannot write: this user cannot
//                                                    write <path>-shm (mode 0444, owner uid 1000)"
//   SQLITE_NOTADB                      -> kCorrupt  "<path>: not a flakebisect store (file is ...)"
//   SQLITE_CORRUPT                     -> kCorrupt
//   SQLITE_CONSTRAINT/MISMATCH/TOOBIG  -> kInvalidInput
//
// Thread rules: a Database is used by one thread at a time (connections are opened
// SQLITE_OPEN_NOMUTEX). A Statement belongs to its Database: it must not outlive it, and the
// Database must not move while Statements exist (Store keeps its Database on the heap for this).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace flakebisect::store {

class Database;

class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binds parameter `index` (1-based). Text is bound with its length, never NUL-terminated.
  base::Status bind(int index, std::string_view text);
  base::Status bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  base::Status bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  base::Status bind(int index, int64_t value);
  base::Status bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  base::Status bind(int index, std::nullopt_t);
  template <typename T>
  base::Status bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, std::nullopt);
  }

  // Binds args to parameters 1..N in order.
  template <typename... Args>
  base::Status bind_all(const Args&... args) {
    [[maybe_unused]] int index = 0;
    base::Status status;
    ((status = status ? bind(++index, args) : status), ...);
    return status;
  }

  // Advances one step: true when a row is available, false when the statement is done.
  base::Result<bool> step();
  // Steps until done, for statements that return no rows.
  base::Status run();
  // Makes the statement ready to bind and run again (bindings are kept until rebound).
  void reset();

  bool is_null(int column) const;
  int64_t column_int64(int column) const;
  // The column's bytes exactly as stored (length from sqlite3_column_bytes, so embedded NULs
  // survive).
  std::string column_text(int column) const;
  std::optional<std::string> column_optional_text(int column) const;
  std::optional<int64_t> column_optional_int64(int column) const;

 private:
  friend class Database;
  Statement(const Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  const Database* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_NOMUTEX is always added) and turns on
  // extended result codes. `path` is used in error messages. A non-empty `name` is what SQLite
  // opens instead: the same file spelled so that SQLite cannot read it as a URI.
  static base::Result<Database> open(const std::string& path, int flags,
                                     const std::string& name = {});

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Prepares one SQL statement; trailing text after it is an error.
  base::Result<Statement> prepare(std::string_view sql) const;
  // Runs SQL that takes no parameters (schema, pragmas, transaction control); may hold several
  // statements.
  base::Status exec(const char* sql) const;
  // Prepares, binds and runs a statement that returns no rows.
  template <typename... Args>
  base::Status execute(std::string_view sql, const Args&... args) const {
    FB_ASSIGN_OR_RETURN(auto stmt, prepare(sql));
    FB_TRY(stmt.bind_all(args...));
    return stmt.run();
  }

  // The error for SQLite result code `rc` from the last call on this connection (its message is
  // sqlite3_errmsg, so call this before the next SQLite call).
  base::Error error(int rc) const;

  void set_busy_timeout(int ms) const;
  // True when SQLite opened the database read-only (asked to, or the file was not writable).
  bool read_only() const;
  // True when a transaction is open on this connection.
  bool in_transaction() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Database(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

  std::string path_;
  sqlite3* db_;
};

// Maps a SQLite result code to an Error for the store at `path`; `detail` is SQLite's message. A
// refused write (SQLITE_READONLY) names the file in the way and its mode, from a look at the
// store's files (store_files.h); `opened_read_only` says the connection was read-only from the
// start.
base::Error sqlite_error(int rc, const std::string& path, std::string_view detail,
                         bool opened_read_only = false);

}  // namespace flakebisect::store
