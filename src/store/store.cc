#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <utility>

#include "base/process.h"
#include "store/schema.h"
#include "store/store_files.h"

namespace flakebisect::store {

using base::Error;
using base::ErrorCode;
using base::Result;
using base::Status;

namespace {

constexpr const char* kMemoryPath = ":memory:";

// --- opening ---

// Creates the missing directories above `path`, each 0700 regardless of umask. Existing directories
// keep their mode: they belong to the user.
Status create_parent_directories(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) {
    return {};
  }
  std::filesystem::path prefix;
  for (const auto& part : parent) {
    prefix /= part;
    if (mkdir(prefix.c_str(), 0700) == 0) {
      if (chmod(prefix.c_str(), 0700) != 0) {
        return base::make_error(ErrorCode::kIo, "{}: cannot set mode 0700: {}", prefix.string(),
                                std::strerror(errno));
      }
    } else if (errno != EEXIST) {
      return base::make_error(ErrorCode::kIo, "{}: cannot create directory: {}", prefix.string(),
                              std::strerror(errno));
    }
  }
  return {};
}

Error not_a_database(const std::string& path) {
  return base::make_error(ErrorCode::kCorrupt,
                          "{}: not a flakebisect store (file is not a database)", path);
}

// Checks that a non-empty file starts with a whole SQLite header. SQLite itself treats a file too
// short to hold a page as an empty database and would write a new one over it; we refuse instead.
//
// The header is read through the connection's own file handle, just opened and not used yet, never
// through a descriptor of our own: closing any descriptor of the store file drops every POSIX lock
// this process holds on it (fcntl locks belong to the process, not the descriptor), including the
// shared lock another connection of this process keeps in WAL mode. A reader in another process
// then closes believing it was the last connection, checkpoints, and deletes the -wal and -shm
// files under that connection, whose later commits go into the deleted -wal and are lost. A daemon
// with several workers has a connection per worker, so a worker's open would do exactly that.
Status check_sqlite_header(const Database& db, const std::string& path, off_t size) {
  static constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with its NUL
  static constexpr off_t kHeaderSize = 100;
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db.handle(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr) {
    return base::make_error(ErrorCode::kIo, "{}: cannot read its header", path);
  }
  char magic[sizeof(kMagic)] = {};
  const int rc = file->pMethods->xRead(file, magic, sizeof(magic), 0);
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
    return base::make_error(ErrorCode::kIo, "{}: cannot read its header (SQLite error {})", path,
                            rc);
  }
  // A short read fills the rest with zeros: a cut-off header still starts with the magic.
  const bool sqlite =
      std::memcmp(magic, kMagic, std::min<size_t>(sizeof(kMagic), static_cast<size_t>(size))) == 0;
  if (size < kHeaderSize && sqlite) {
    return base::make_error(ErrorCode::kCorrupt,
                            "{}: store is cut short ({} bytes, less than SQLite's 100-byte "
                            "header): a copy or a disk that stopped part way; restore it from a "
                            "backup, or give --db a new path",
                            path, size);
  }
  if (size < kHeaderSize || rc == SQLITE_IOERR_SHORT_READ || !sqlite) {
    return not_a_database(path);
  }
  return {};
}

// A store file, or its -wal or -shm file, that another user owns: whoever can write it can put
// evidence, or a configuration whose commands the daemon runs, into the bisections. Only files
// this user owns are opened (a store in a shared directory such as /tmp is where that matters).
Status check_owned_by_us(const std::string& path, const struct stat& st) {
  if (st.st_uid != ::geteuid()) {
    return base::make_error(ErrorCode::kInvalidInput,
                            "{}: owned by uid {}, not by this user (uid {}); flakebisect opens "
                            "only a store its own user owns",
                            path, st.st_uid, ::geteuid());
  }
  return {};
}

// SQLite's unix VFS: MAX_PATHNAME (512), the longest full path of a database file it opens.
constexpr size_t kMaxSqlitePath = 512;

// Makes sure the store file exists before SQLite opens it, so that we, not SQLite and the umask,
// choose its mode. SQLite gives the -wal and -shm files the database file's mode.
Status prepare_store_file(const std::string& path, bool create_if_missing) {
  // SQLite's unix VFS opens a database by its absolute path, which with a "-journal" after it
  // (the longest name of a side file) must fit kMaxSqlitePath bytes; a longer one fails as "unable
  // to open database file" after the file below was made, leaving an empty store behind.
  std::error_code error;
  const size_t full = std::filesystem::absolute(path, error).native().size();
  if (!error && full + std::string_view("-journal").size() > kMaxSqlitePath) {
    return base::make_error(ErrorCode::kInvalidInput,
                            "{}: the store's path is {} bytes from /, and SQLite opens at most {}: "
                            "use a shorter --db",
                            path, full, kMaxSqlitePath - std::string_view("-journal").size());
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    struct stat side {};
    if (lstat((path + suffix).c_str(), &side) == 0) {
      FB_TRY(check_owned_by_us(path + suffix, side));
    }
  }
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return base::make_error(ErrorCode::kInvalidInput,
                              "{}: not a flakebisect store (not a regular file)", path);
    }
    FB_TRY(check_owned_by_us(path, st));
    if (st.st_size > 0 && ::access(path.c_str(), R_OK) != 0 && errno == EACCES) {
      return base::make_error(ErrorCode::kIo, "{}: this user cannot read it (mode {:04o})", path,
                              st.st_mode & 07777);
    }
    // An empty file: check_identity decides whether it may be created. Otherwise Store::open
    // checks the header once SQLite has the file open (check_sqlite_header).
    return {};
  }
  if (errno != ENOENT) {
    return base::make_error(ErrorCode::kIo, "{}: {}", path, std::strerror(errno));
  }
  if (!create_if_missing) {
    return base::make_error(ErrorCode::kNotFound, "{}: no flakebisect store here", path);
  }
  FB_TRY(create_parent_directories(path));
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return {};  // another process created it first; it checks the contents
    }
    return base::make_error(ErrorCode::kIo, "{}: cannot create store: {}", path,
                            std::strerror(errno));
  }
  // The umask can only have removed bits from 0600; fchmod makes the mode exact anyway.
  int rc = fchmod(fd, 0600);
  int chmod_errno = errno;
  close(fd);
  if (rc != 0) {
    return base::make_error(ErrorCode::kIo, "{}: cannot set mode 0600: {}", path,
                            std::strerror(chmod_errno));
  }
  return {};
}

// How to open an existing store file. Read-write when this user can write it and SQLite can make
// the -wal and -shm it needs; else read-only, so that reading commands still work: SQLite reads a
// WAL store read-only when its -wal and -shm exist or can be created. When they cannot be created
// (a directory this user cannot write, a read-only mount) the store is refused with the reason:
// reading it as immutable (no locks, no side files) would let a writer elsewhere (the same file
// through another mount, the directory made writable again) change it under the reader, which
// then reports a sound store as corrupt or never sees an update.
struct OpenPlan {
  std::optional<std::string> read_only_because;  // set: open read-only, for this reason
};

Result<OpenPlan> plan_open(const std::string& path) {
  OpenPlan plan;
  plan.read_only_because = why_not_writable(path);
  const std::string dir = store_directory(path);
  if (!plan.read_only_because || may_write(dir)) {
    return plan;
  }
  const auto [wal, shm] = side_file_paths(path);
  if (!file_exists(wal) || !file_exists(shm)) {
    struct stat st {};
    const unsigned dir_mode = stat(dir.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
    const std::string why =
        on_read_only_file_system(dir)
            ? fmt::format("{} is on a read-only file system", dir)
            : fmt::format("this user cannot create them in {} (mode {:04o})", dir, dir_mode);
    return base::make_error(ErrorCode::kIo,
                            "{}: cannot be read: SQLite needs {} and {} next to it, and {}; make "
                            "the directory writable, or read a copy of the store",
                            path, wal, shm, why);
  }
  return plan;
}

Result<int64_t> query_int(const Database& db, std::string_view sql) {
  FB_ASSIGN_OR_RETURN(Statement stmt, db.prepare(sql));
  FB_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) {
    return base::make_error(ErrorCode::kFailed, "store {}: no result from {}", db.path(), sql);
  }
  return stmt.column_int64(0);
}

Result<std::string> query_text(const Database& db, std::string_view sql) {
  FB_ASSIGN_OR_RETURN(Statement stmt, db.prepare(sql));
  FB_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) {
    return base::make_error(ErrorCode::kFailed, "store {}: no result from {}", db.path(), sql);
  }
  return stmt.column_text(0);
}

// Decides, reading only, whether the file is ours. Nothing is written before this passes, so a
// foreign or damaged file is left exactly as it was. An empty database passes (when it may be
// created): the migrations initialise it like an outdated store.
Status check_identity(const Database& db, bool create_if_missing) {
  // The first read of the file: a file that is not SQLite fails here with SQLITE_NOTADB.
  FB_ASSIGN_OR_RETURN(int64_t application_id, query_int(db, "PRAGMA application_id"));
  FB_ASSIGN_OR_RETURN(int64_t user_version, query_int(db, "PRAGMA user_version"));
  FB_ASSIGN_OR_RETURN(int64_t objects, query_int(db, "SELECT count(*) FROM sqlite_schema"));
  const std::string& path = db.path();
  if (application_id == 0 && user_version == 0 && objects == 0) {
    if (!create_if_missing) {
      return base::make_error(ErrorCode::kNotFound, "{}: no flakebisect store here (empty file)",
                              path);
    }
    return {};
  }
  if (application_id != kApplicationId) {
    return base::make_error(ErrorCode::kCorrupt,
                            "{}: not a flakebisect store (a SQLite database of another "
                            "application, application_id {:#x})",
                            path, static_cast<uint32_t>(application_id));
  }
  if (user_version > schema_version()) {
    return base::make_error(ErrorCode::kFailed,
                            "{}: store has schema version {}, newer than the {} this flakebisect "
                            "understands; use a newer flakebisect",
                            path, user_version, schema_version());
  }
  // quick_check: the O(N) page and index structure checks of integrity_check, without
  // cross-checking index contents. It reports "ok" or up to N problems.
  FB_ASSIGN_OR_RETURN(std::string check, query_text(db, "PRAGMA quick_check(1)"));
  if (check != "ok") {
    // The report reads "*** in database main ***\nOn tree page 20 cell 5: ..."; keep one line.
    static constexpr std::string_view kBanner = "*** in database main ***\n";
    if (check.starts_with(kBanner)) {
      check.erase(0, kBanner.size());
    }
    std::replace(check.begin(), check.end(), '\n', ' ');
    return base::make_error(ErrorCode::kCorrupt, "{}: store is corrupt (integrity check: {})", path,
                            check);
  }
  return {};
}

// A store opened read-only cannot be migrated: one at an older schema version is refused.
Status check_current_schema(const Database& db, const std::string& read_only_because) {
  FB_ASSIGN_OR_RETURN(int64_t version, query_int(db, "PRAGMA user_version"));
  if (version == 0) {
    return base::make_error(ErrorCode::kFailed,
                            "{}: empty, and creating a store in it needs a writable open: {}",
                            db.path(), read_only_because);
  }
  if (version < schema_version()) {
    return base::make_error(ErrorCode::kFailed,
                            "{}: store has schema version {} and must be upgraded to version {}, "
                            "which needs a writable open: {}",
                            db.path(), version, schema_version(), read_only_because);
  }
  return {};
}

// Connection settings. A read-only connection keeps the journal mode the file has (WAL): setting
// it would be a write.
Status configure(const Database& db, bool memory, bool read_only) {
  if (!read_only) {
    FB_ASSIGN_OR_RETURN(std::string mode, query_text(db, "PRAGMA journal_mode = WAL"));
    if (!memory && mode != "wal") {
      return base::make_error(
          ErrorCode::kIo, "store {}: cannot use write-ahead logging (mode is {})", db.path(), mode);
    }
  }
  FB_TRY(db.exec("PRAGMA synchronous = FULL"));
  FB_TRY(db.exec("PRAGMA foreign_keys = ON"));
  return {};
}

// Applies the migrations the file lacks, each in its own write transaction. Pragma values cannot be
// bound parameters; the numbers formatted into them are our own constants.
Status migrate(const Database& db) {
  for (const Migration& migration : migrations()) {
    FB_ASSIGN_OR_RETURN(int64_t version, query_int(db, "PRAGMA user_version"));
    if (version >= migration.version) {
      continue;
    }
    FB_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(db, Transaction::Kind::kWrite));
    // Another process may have migrated while this one waited for the write lock.
    FB_ASSIGN_OR_RETURN(version, query_int(db, "PRAGMA user_version"));
    if (version >= migration.version) {
      continue;  // txn rolls back: it changed nothing
    }
    if (version != migration.version - 1) {
      return base::make_error(ErrorCode::kCorrupt,
                              "{}: store is at schema version {}, expected {} before migration {}",
                              db.path(), version, migration.version - 1, migration.version);
    }
    FB_TRY(db.exec(migration.sql));
    if (migration.version == 1) {
      FB_TRY(db.exec(fmt::format("PRAGMA application_id = {}", kApplicationId).c_str()));
    }
    FB_TRY(db.exec(fmt::format("PRAGMA user_version = {}", migration.version).c_str()));
    FB_TRY(txn.commit());
  }
  return {};
}

// --- JSON columns ---
// nlohmann::json throws; these are the third-party boundary where that becomes an Error.

template <typename T>
Result<std::string> to_json_array(const std::vector<T>& values, const char* what) {
  try {
    return nlohmann::json(values).dump();
  } catch (const nlohmann::json::exception& e) {
    return base::make_error(ErrorCode::kInvalidInput, "{} cannot be stored as JSON: {}", what,
                            e.what());
  }
}

template <typename T>
Result<std::vector<T>> from_json_array(const std::string& text, const std::string& path,
                                       const char* what) {
  try {
    return nlohmann::json::parse(text).get<std::vector<T>>();
  } catch (const nlohmann::json::exception& e) {
    return base::make_error(ErrorCode::kCorrupt, "{}: store is corrupt ({} is not valid: {})", path,
                            what, e.what());
  }
}

// --- rows ---
// Each SELECT lists its columns in the order its reader expects.

constexpr const char* kBisectionColumns =
    "id, created_at, updated_at, repo, bad_sha, good_shas, config_toml, config_hash, "
    "test_identity, state, result_json, owner_pid, error, build_key, inputs_json, "
    "bad_ref, good_refs";

template <typename Enum>
Result<Enum> parse_column(Result<Enum> parsed, const std::string& path) {
  if (!parsed) {
    return base::make_error(ErrorCode::kCorrupt, "{}: store is corrupt ({})", path,
                            parsed.error().message());
  }
  return parsed;
}

Result<Bisection> read_bisection(const Statement& stmt, const std::string& path) {
  Bisection b;
  b.id = stmt.column_int64(0);
  b.created_at_ms = stmt.column_int64(1);
  b.updated_at_ms = stmt.column_int64(2);
  b.spec.repo = stmt.column_text(3);
  b.spec.bad_sha = stmt.column_text(4);
  FB_ASSIGN_OR_RETURN(b.spec.good_shas,
                      from_json_array<std::string>(stmt.column_text(5), path, "good_shas"));
  b.spec.config_toml = stmt.column_text(6);
  b.spec.config_hash = stmt.column_text(7);
  b.spec.test_identity = stmt.column_text(8);
  FB_ASSIGN_OR_RETURN(b.state, parse_column(parse_bisection_state(stmt.column_text(9)), path));
  b.result_json = stmt.column_optional_text(10);
  b.owner_pid = stmt.column_optional_int64(11);
  b.error = stmt.column_optional_text(12);
  b.spec.build_key = stmt.column_optional_text(13).value_or(std::string());
  b.spec.inputs_json = stmt.column_optional_text(14).value_or(std::string());
  b.spec.bad_ref = stmt.column_optional_text(15).value_or(std::string());
  if (const auto good_refs = stmt.column_optional_text(16)) {
    FB_ASSIGN_OR_RETURN(b.spec.good_refs,
                        from_json_array<std::string>(*good_refs, path, "good_refs"));
  }
  return b;
}

constexpr const char* kBuildColumns =
    "id, sha, tree_id, config_hash, status, artifact_path, log_tail, duration_ms, created_at";

Result<BuildRecord> read_build(const Statement& stmt, const std::string& path) {
  BuildRecord b;
  b.id = stmt.column_int64(0);
  b.sha = stmt.column_text(1);
  b.tree_id = stmt.column_text(2);
  b.config_hash = stmt.column_text(3);
  FB_ASSIGN_OR_RETURN(b.status, parse_column(parse_build_status(stmt.column_text(4)), path));
  b.artifact_path = stmt.column_optional_text(5);
  b.log_tail = stmt.column_text(6);
  b.duration_ms = stmt.column_int64(7);
  b.created_at_ms = stmt.column_int64(8);
  return b;
}

constexpr const char* kRunColumns =
    "id, test_identity, sha, build_id, bisection_id, boot_id, run_index, outcome, signature, "
    "duration_ms, console_path, console_sha256, detail, created_at, crash_titles, test_outcome";

Result<RunRecord> read_run(const Statement& stmt, const std::string& path) {
  RunRecord r;
  r.id = stmt.column_int64(0);
  r.test_identity = stmt.column_text(1);
  r.sha = stmt.column_text(2);
  r.build_id = stmt.column_optional_int64(3);
  r.bisection_id = stmt.column_int64(4);
  r.boot_id = stmt.column_optional_text(5);
  r.run_index = stmt.column_int64(6);
  FB_ASSIGN_OR_RETURN(r.outcome, parse_column(parse_run_outcome(stmt.column_text(7)), path));
  r.signature = stmt.column_optional_text(8);
  r.duration_ms = stmt.column_int64(9);
  r.console_path = stmt.column_optional_text(10);
  r.console_sha256 = stmt.column_optional_text(11);
  r.detail = stmt.column_optional_text(12);
  r.created_at_ms = stmt.column_int64(13);
  if (const auto titles = stmt.column_optional_text(14)) {
    FB_ASSIGN_OR_RETURN(r.crash_titles,
                        from_json_array<std::string>(*titles, path, "runs.crash_titles"));
  }
  if (const auto said = stmt.column_optional_text(15)) {
    FB_ASSIGN_OR_RETURN(r.test_outcome, parse_column(parse_run_outcome(*said), path));
  }
  return r;
}

constexpr const char* kEventColumns = "id, bisection_id, at, kind, message, data_json";

Result<Event> read_event(const Statement& stmt, const std::string& /*path*/) {
  Event e;
  e.id = stmt.column_int64(0);
  e.bisection_id = stmt.column_int64(1);
  e.at_ms = stmt.column_int64(2);
  e.kind = stmt.column_text(3);
  e.message = stmt.column_text(4);
  e.data_json = stmt.column_optional_text(5);
  return e;
}

// Runs a bound SELECT and reads every row with `read`.
template <typename Row, typename Reader>
Result<std::vector<Row>> read_all(Statement& stmt, const std::string& path, Reader read) {
  std::vector<Row> rows;
  while (true) {
    FB_ASSIGN_OR_RETURN(bool more, stmt.step());
    if (!more) {
      return rows;
    }
    FB_ASSIGN_OR_RETURN(Row row, read(stmt, path));
    rows.push_back(std::move(row));
  }
}

// Runs an INSERT ... RETURNING id to completion and returns the id.
Result<int64_t> insert_returning_id(Statement& stmt, const std::string& path) {
  FB_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) {
    return base::make_error(ErrorCode::kFailed, "store {}: insert returned no id", path);
  }
  int64_t id = stmt.column_int64(0);
  FB_TRY(stmt.run());
  return id;
}

// What the store keeps beside an owner pid (see OwnerProcess); NULL when /proc cannot tell.
std::optional<std::string> start_stamp_of(int64_t pid) {
  std::string stamp = base::process_start_stamp(pid);
  return stamp.empty() ? std::nullopt : std::optional<std::string>(std::move(stamp));
}

Error no_bisection(const std::string& path, int64_t id) {
  return base::make_error(ErrorCode::kNotFound, "store {}: no bisection {}", path, id);
}

// Serialises opening a store that may still be being made, between processes; the mutex in
// Store::open covers the threads of one. Two commands starting at once on a store that does not
// exist yet would otherwise each see the other's half-made store (its switch to WAL, its
// migrations), as a foreign database or as a lock held past the busy timeout. Only for a file that
// is empty or small (a made store holds its schema's pages, or its -wal does): a store in use is
// opened as before. An flock on the store's directory, not on the store file: closing any
// descriptor of the file would drop this process's SQLite (POSIX) locks on it. Shared for a
// read-only open, exclusive otherwise, held until the open is done; tried without blocking until
// `wait` has passed (as SQLite's busy timeout), then the open goes on without it, so that a
// process stopped while it opens, or an `flock DIR` around the command, cannot hang it.
class OpeningLock {
 public:
  OpeningLock(const std::string& path, bool exclusive, std::chrono::milliseconds wait) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (::flock(fd_, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
      if ((errno != EWOULDBLOCK && errno != EINTR) ||
          std::chrono::steady_clock::now() >= deadline) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~OpeningLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  OpeningLock(const OpeningLock&) = delete;
  OpeningLock& operator=(const OpeningLock&) = delete;

  // Whether a store file of this path may still be being made by another process.
  static bool maybe_unmade(const std::string& path) {
    constexpr off_t kMadeStoreBytes = 64 * 1024;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || st.st_size >= kMadeStoreBytes) return st.st_size == 0;
    struct stat wal {};
    return ::stat((path + "-wal").c_str(), &wal) != 0 || wal.st_size < kMadeStoreBytes;
  }

 private:
  int fd_ = -1;
};

}  // namespace

// --- Store ---

Result<Store> Store::open(const std::string& path, const OpenMode& mode) {
  if (path.empty()) {
    return base::make_error(ErrorCode::kInvalidInput, "store path is empty");
  }
  if (sqlite3_libversion_number() < 3037000) {
    // STRICT tables need 3.37; an older library would call the schema malformed.
    return base::make_error(ErrorCode::kFailed,
                            "store {}: SQLite {} is too old (need 3.37 or newer)", path,
                            sqlite3_libversion());
  }
  const bool memory = path == kMemoryPath;
  int flags = SQLITE_OPEN_READWRITE;
  OpenPlan plan;
  // A libsqlite3 built with SQLITE_USE_URI (Debian's is) reads a name that starts with "file:" as
  // a URI even without SQLITE_OPEN_URI; "./" keeps a relative store of that name a file name.
  const std::string name = path.rfind("file:", 0) == 0 ? "./" + path : path;
  // prepare_store_file may create the file and close its descriptor: no other thread of this
  // process may have a connection to it by then (see check_sqlite_header), so creating a file and
  // opening one take turns. Released once SQLite holds the file.
  static std::mutex opening;
  std::unique_lock<std::mutex> opening_lock(opening, std::defer_lock);
  std::optional<OpeningLock> between_processes;
  if (memory) {
    flags |= SQLITE_OPEN_CREATE;
  } else {
    opening_lock.lock();
    FB_TRY(prepare_store_file(path, mode.create_if_missing));
    // Side files an earlier read of a read-only store left without owner write would make every
    // later write fail.
    repair_side_file_modes(path);
    FB_ASSIGN_OR_RETURN(plan, plan_open(path));
    if (plan.read_only_because) {
      flags = SQLITE_OPEN_READONLY;
    }
    if (OpeningLock::maybe_unmade(path)) {
      between_processes.emplace(path, !plan.read_only_because.has_value(),
                                std::chrono::milliseconds(mode.busy_timeout_ms));
    }
  }
  const bool read_only = plan.read_only_because.has_value();
  FB_ASSIGN_OR_RETURN(Database db, Database::open(path, flags, memory ? std::string() : name));
  if (!memory) {
    // Before SQLite reads or writes anything: the size as it is now, with the file open.
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && st.st_size > 0) {
      FB_TRY(check_sqlite_header(db, path, st.st_size));
    }
    opening_lock.unlock();
  }
  db.set_busy_timeout(mode.busy_timeout_ms);
  FB_TRY(check_identity(db, mode.create_if_missing || memory));
  if (read_only) {
    FB_TRY(check_current_schema(db, *plan.read_only_because));
  }
  FB_TRY(configure(db, memory, read_only));
  if (!read_only) {
    FB_TRY(migrate(db));
  }
  if (!memory) {
    // SQLite has made the -wal and -shm by now (the first read does), with the store file's mode,
    // and gives an empty -wal that mode again at each open: 0444 when the store is read-only.
    repair_side_file_modes(path);
  }
  return Store(std::make_unique<Database>(std::move(db)));
}

Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

Result<Transaction> Store::begin_write() {
  return Transaction::begin(*db_, Transaction::Kind::kWrite);
}

Result<Transaction> Store::begin_read() {
  return Transaction::begin(*db_, Transaction::Kind::kRead);
}

// --- bisections ---

Result<int64_t> Store::create_bisection(const BisectionSpec& spec, int64_t now_ms,
                                        std::optional<int64_t> owner_pid) {
  FB_ASSIGN_OR_RETURN(std::string good_shas, to_json_array(spec.good_shas, "good SHAs"));
  if (!spec.good_refs.empty() && spec.good_refs.size() != spec.good_shas.size()) {
    return base::make_error(ErrorCode::kInvalidInput,
                            "store {}: {} good revisions as typed for {} good SHAs", path(),
                            spec.good_refs.size(), spec.good_shas.size());
  }
  std::optional<std::string> good_refs;
  if (!spec.good_refs.empty()) {
    FB_ASSIGN_OR_RETURN(good_refs, to_json_array(spec.good_refs, "good revisions"));
  }
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(R"sql(
      INSERT INTO bisections (created_at, updated_at, repo, bad_sha, good_shas, config_toml,
                              config_hash, test_identity, state, owner_pid, build_key, inputs_json,
                              bad_ref, good_refs, owner_start)
      VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id)sql"));
  BisectionState state = owner_pid ? BisectionState::kRunning : BisectionState::kQueued;
  const auto or_null = [](const std::string& text) {
    return text.empty() ? std::nullopt : std::optional<std::string>(text);
  };
  FB_TRY(stmt.bind_all(now_ms, spec.repo, spec.bad_sha, good_shas, spec.config_toml,
                       spec.config_hash, spec.test_identity, to_string(state), owner_pid,
                       or_null(spec.build_key), or_null(spec.inputs_json), or_null(spec.bad_ref),
                       good_refs, owner_pid ? start_stamp_of(*owner_pid) : std::nullopt));
  FB_ASSIGN_OR_RETURN(int64_t id, insert_returning_id(stmt, path()));
  FB_TRY(txn.commit());
  return id;
}

Result<Bisection> Store::get_bisection(int64_t id) {
  FB_ASSIGN_OR_RETURN(
      Statement stmt,
      db_->prepare(fmt::format("SELECT {} FROM bisections WHERE id = ?1", kBisectionColumns)));
  FB_TRY(stmt.bind_all(id));
  FB_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) {
    return no_bisection(path(), id);
  }
  return read_bisection(stmt, path());
}

Result<std::vector<Bisection>> Store::list_bisections() {
  FB_ASSIGN_OR_RETURN(
      Statement stmt,
      db_->prepare(fmt::format("SELECT {} FROM bisections ORDER BY id", kBisectionColumns)));
  return read_all<Bisection>(stmt, path(), read_bisection);
}

Status Store::set_state(int64_t id, BisectionState state, int64_t now_ms,
                        const std::optional<std::string>& error) {
  if (state == BisectionState::kRunning) {
    return base::make_error(ErrorCode::kInvalidInput,
                            "store {}: bisection {} cannot be set running without an owner; "
                            "claim it instead",
                            path(), id);
  }
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_TRY(db_->execute(
      "UPDATE bisections SET state = ?2, updated_at = ?3, error = ?4, owner_pid = NULL, "
      "owner_start = NULL WHERE id = ?1",
      id, to_string(state), now_ms, error));
  if (sqlite3_changes64(db_->handle()) == 0) {
    return no_bisection(path(), id);
  }
  return txn.commit();
}

Result<bool> Store::set_state_if_owner(int64_t id, int64_t owner_pid, BisectionState state,
                                       int64_t now_ms, const std::optional<std::string>& error) {
  if (state == BisectionState::kRunning) {
    return base::make_error(ErrorCode::kInvalidInput,
                            "store {}: bisection {}: its owner can only move it on from running",
                            path(), id);
  }
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_TRY(db_->execute(
      "UPDATE bisections SET state = ?2, updated_at = ?3, error = ?4, owner_pid = NULL, "
      "owner_start = NULL WHERE id = ?1 AND state = 'running' AND owner_pid = ?5",
      id, to_string(state), now_ms, error, owner_pid));
  if (sqlite3_changes64(db_->handle()) == 0) {
    FB_TRY(get_bisection(id));  // no such bisection is an error; someone else's state is not
    return false;
  }
  FB_TRY(txn.commit());
  return true;
}

Status Store::set_result(int64_t id, const std::string& result_json, int64_t now_ms) {
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_TRY(db_->execute("UPDATE bisections SET result_json = ?2, updated_at = ?3 WHERE id = ?1", id,
                      result_json, now_ms));
  if (sqlite3_changes64(db_->handle()) == 0) {
    return no_bisection(path(), id);
  }
  return txn.commit();
}

Result<std::optional<Bisection>> Store::claim_next_queued(int64_t owner_pid, int64_t now_ms) {
  // The write lock is taken before the SELECT, so no other claimer can pick the same row between
  // the read and the update.
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  std::optional<int64_t> id;
  {
    FB_ASSIGN_OR_RETURN(Statement stmt,
                        db_->prepare("SELECT id FROM bisections WHERE state = 'queued' "
                                     "ORDER BY id LIMIT 1"));
    FB_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (row) {
      id = stmt.column_int64(0);
    }
  }
  if (!id) {
    return std::optional<Bisection>();
  }
  FB_TRY(db_->execute(
      "UPDATE bisections SET state = 'running', owner_pid = ?2, updated_at = ?3, error = NULL, "
      "owner_start = ?4 WHERE id = ?1",
      *id, owner_pid, now_ms, start_stamp_of(owner_pid)));
  FB_ASSIGN_OR_RETURN(Bisection claimed, get_bisection(*id));
  FB_TRY(txn.commit());
  return std::optional<Bisection>(std::move(claimed));
}

Result<Bisection> Store::claim_bisection(int64_t id, int64_t owner_pid, int64_t now_ms) {
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_ASSIGN_OR_RETURN(Bisection current, get_bisection(id));
  if (current.state == BisectionState::kRunning) {
    return base::make_error(ErrorCode::kBusy, "bisection {} is already running (pid {})", id,
                            current.owner_pid.value_or(0));
  }
  if (current.state != BisectionState::kQueued && current.state != BisectionState::kPaused) {
    return base::make_error(ErrorCode::kInvalidInput,
                            "bisection {} is {}; only a queued or paused bisection can run", id,
                            to_string(current.state));
  }
  FB_TRY(db_->execute(
      "UPDATE bisections SET state = 'running', owner_pid = ?2, updated_at = ?3, error = NULL, "
      "owner_start = ?4 WHERE id = ?1",
      id, owner_pid, now_ms, start_stamp_of(owner_pid)));
  FB_ASSIGN_OR_RETURN(Bisection claimed, get_bisection(id));
  FB_TRY(txn.commit());
  return claimed;
}

Result<std::vector<int64_t>> Store::recover_running(
    const std::function<bool(int64_t pid, const std::string& start_stamp)>& owner_alive,
    int64_t now_ms) {
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  std::vector<std::pair<int64_t, OwnerProcess>> running;  // (id, owner)
  {
    FB_ASSIGN_OR_RETURN(Statement stmt,
                        db_->prepare("SELECT id, owner_pid, owner_start FROM bisections "
                                     "WHERE state = 'running' ORDER BY id"));
    while (true) {
      FB_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) {
        break;
      }
      running.emplace_back(
          stmt.column_int64(0),
          OwnerProcess{stmt.column_int64(1), stmt.column_optional_text(2).value_or("")});
    }
  }
  std::vector<int64_t> recovered;
  for (const auto& [id, owner] : running) {
    if (owner_alive(owner.pid, owner.start_stamp)) {
      continue;
    }
    const int64_t pid = owner.pid;
    std::string why = fmt::format("owner process {} exited while the bisection was running", pid);
    FB_TRY(db_->execute(
        "UPDATE bisections SET state = 'paused', owner_pid = NULL, owner_start = NULL, "
        "updated_at = ?2, error = ?3 WHERE id = ?1",
        id, now_ms, why));
    FB_TRY(
        db_->execute("INSERT INTO events (bisection_id, at, kind, message, data_json) "
                     "VALUES (?1, ?2, 'recovered', ?3, json_object('owner_pid', ?4))",
                     id, now_ms, why, pid));
    recovered.push_back(id);
  }
  FB_TRY(txn.commit());
  return recovered;
}

Result<std::optional<OwnerProcess>> Store::owner(int64_t id) {
  FB_ASSIGN_OR_RETURN(Statement stmt,
                      db_->prepare("SELECT state = 'running', owner_pid, owner_start "
                                   "FROM bisections WHERE id = ?1"));
  FB_TRY(stmt.bind_all(id));
  FB_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) {
    return no_bisection(path(), id);
  }
  if (stmt.column_int64(0) == 0) {
    return std::optional<OwnerProcess>();
  }
  return std::optional<OwnerProcess>(
      OwnerProcess{stmt.column_int64(1), stmt.column_optional_text(2).value_or("")});
}

// --- candidates ---

Status Store::put_candidates(int64_t bisection_id, const std::vector<Candidate>& candidates) {
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_TRY(db_->execute("DELETE FROM candidates WHERE bisection_id = ?1", bisection_id));
  FB_ASSIGN_OR_RETURN(Statement insert,
                      db_->prepare("INSERT INTO candidates (bisection_id, idx, sha, parents, "
                                   "subject) VALUES (?1, ?2, ?3, ?4, ?5)"));
  for (const Candidate& c : candidates) {
    FB_ASSIGN_OR_RETURN(std::string parents, to_json_array(c.parents, "candidate parents"));
    FB_TRY(insert.bind_all(bisection_id, static_cast<int64_t>(c.idx), c.sha, parents, c.subject));
    FB_TRY(insert.run());
    insert.reset();
  }
  return txn.commit();
}

Result<std::vector<Candidate>> Store::get_candidates(int64_t bisection_id) {
  FB_ASSIGN_OR_RETURN(Statement stmt,
                      db_->prepare("SELECT idx, sha, parents, subject FROM candidates "
                                   "WHERE bisection_id = ?1 ORDER BY idx"));
  FB_TRY(stmt.bind_all(bisection_id));
  return read_all<Candidate>(
      stmt, path(), [](const Statement& s, const std::string& path) -> Result<Candidate> {
        Candidate c;
        c.idx = static_cast<uint32_t>(s.column_int64(0));
        c.sha = s.column_text(1);
        FB_ASSIGN_OR_RETURN(c.parents,
                            from_json_array<uint32_t>(s.column_text(2), path, "candidate parents"));
        c.subject = s.column_text(3);
        return c;
      });
}

// --- builds ---

Result<std::optional<BuildRecord>> Store::find_build(const std::string& tree_id,
                                                     const std::string& config_hash) {
  FB_ASSIGN_OR_RETURN(Statement stmt,
                      db_->prepare(fmt::format("SELECT {} FROM builds WHERE tree_id = ?1 AND "
                                               "config_hash = ?2",
                                               kBuildColumns)));
  FB_TRY(stmt.bind_all(tree_id, config_hash));
  FB_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) {
    return std::optional<BuildRecord>();
  }
  FB_ASSIGN_OR_RETURN(BuildRecord build, read_build(stmt, path()));
  return std::optional<BuildRecord>(std::move(build));
}

Result<int64_t> Store::record_build(const BuildRecord& build) {
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(R"sql(
      INSERT INTO builds (sha, tree_id, config_hash, status, artifact_path, log_tail, duration_ms,
                          created_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
      ON CONFLICT (tree_id, config_hash) DO UPDATE SET
        sha = excluded.sha, status = excluded.status, artifact_path = excluded.artifact_path,
        log_tail = excluded.log_tail, duration_ms = excluded.duration_ms,
        created_at = excluded.created_at
      RETURNING id)sql"));
  FB_TRY(stmt.bind_all(build.sha, build.tree_id, build.config_hash, to_string(build.status),
                       build.artifact_path, build.log_tail, build.duration_ms,
                       build.created_at_ms));
  FB_ASSIGN_OR_RETURN(int64_t id, insert_returning_id(stmt, path()));
  FB_TRY(txn.commit());
  return id;
}

// --- runs ---

Result<int64_t> Store::record_run(const RunRecord& run) {
  // No titles is NULL, as in the rows from before schema 6, which read back the same.
  std::optional<std::string> crash_titles;
  if (!run.crash_titles.empty()) {
    FB_ASSIGN_OR_RETURN(crash_titles, to_json_array(run.crash_titles, "crash titles"));
  }
  std::optional<std::string> test_outcome;
  if (run.test_outcome) test_outcome = std::string(to_string(*run.test_outcome));
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(R"sql(
      INSERT INTO runs (test_identity, sha, build_id, bisection_id, boot_id, run_index, outcome,
                        signature, duration_ms, console_path, console_sha256, detail, created_at,
                        crash_titles, test_outcome)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) RETURNING id)sql"));
  FB_TRY(stmt.bind_all(run.test_identity, run.sha, run.build_id, run.bisection_id, run.boot_id,
                       run.run_index, to_string(run.outcome), run.signature, run.duration_ms,
                       run.console_path, run.console_sha256, run.detail, run.created_at_ms,
                       crash_titles, test_outcome));
  FB_ASSIGN_OR_RETURN(int64_t id, insert_returning_id(stmt, path()));
  FB_TRY(txn.commit());
  return id;
}

Result<std::vector<RunRecord>> Store::runs_for(const std::string& test_identity) {
  FB_ASSIGN_OR_RETURN(
      Statement stmt,
      db_->prepare(
          fmt::format("SELECT {} FROM runs WHERE test_identity = ?1 ORDER BY id", kRunColumns)));
  FB_TRY(stmt.bind_all(test_identity));
  return read_all<RunRecord>(stmt, path(), read_run);
}

Result<std::vector<RunRecord>> Store::runs_for(const std::string& test_identity,
                                               const std::string& sha) {
  FB_ASSIGN_OR_RETURN(Statement stmt,
                      db_->prepare(fmt::format("SELECT {} FROM runs WHERE test_identity = ?1 AND "
                                               "sha = ?2 ORDER BY id",
                                               kRunColumns)));
  FB_TRY(stmt.bind_all(test_identity, sha));
  return read_all<RunRecord>(stmt, path(), read_run);
}

Result<int64_t> Store::next_run_index(const std::string& test_identity, const std::string& sha) {
  FB_ASSIGN_OR_RETURN(Statement stmt, db_->prepare("SELECT coalesce(max(run_index) + 1, 0) FROM "
                                                   "runs WHERE test_identity = ?1 AND sha = ?2"));
  FB_TRY(stmt.bind_all(test_identity, sha));
  FB_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) {
    return base::make_error(ErrorCode::kFailed, "store {}: no result for the next run index",
                            path());
  }
  return stmt.column_int64(0);
}

Result<std::pair<int64_t, int64_t>> Store::reserve_run_indexes(
    const std::string& test_identity, const std::string& sha, int64_t floor, int64_t count,
    int64_t owner_pid, const std::string& owner_start, int64_t now_ms,
    const std::function<bool(int64_t pid, const std::string& start_stamp)>& alive) {
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_ASSIGN_OR_RETURN(int64_t first, next_run_index(test_identity, sha));
  first = std::max(first, floor);
  std::vector<int64_t> dead;
  {
    FB_ASSIGN_OR_RETURN(Statement taken,
                        db_->prepare("SELECT id, end_index, owner_pid, coalesce(owner_start, '') "
                                     "FROM run_index_reservations "
                                     "WHERE test_identity = ?1 AND sha = ?2"));
    FB_TRY(taken.bind_all(test_identity, sha));
    while (true) {
      FB_ASSIGN_OR_RETURN(bool row, taken.step());
      if (!row) break;
      if (!alive(taken.column_int64(2), taken.column_text(3))) {
        dead.push_back(taken.column_int64(0));
        continue;
      }
      first = std::max(first, taken.column_int64(1));
    }
  }
  for (int64_t id : dead) {
    FB_ASSIGN_OR_RETURN(Statement drop,
                        db_->prepare("DELETE FROM run_index_reservations WHERE id = ?1"));
    FB_TRY(drop.bind_all(id));
    FB_TRY(drop.run());
  }
  FB_ASSIGN_OR_RETURN(Statement insert, db_->prepare(R"sql(
      INSERT INTO run_index_reservations (test_identity, sha, first_index, end_index, owner_pid,
                                          owner_start, taken_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id)sql"));
  FB_TRY(insert.bind_all(
      test_identity, sha, first, first + std::max<int64_t>(count, 0), owner_pid,
      owner_start.empty() ? std::nullopt : std::optional<std::string>(owner_start), now_ms));
  FB_ASSIGN_OR_RETURN(int64_t id, insert_returning_id(insert, path()));
  FB_TRY(txn.commit());
  return std::make_pair(id, first);
}

Status Store::release_run_indexes(int64_t reservation_id) {
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_ASSIGN_OR_RETURN(Statement stmt,
                      db_->prepare("DELETE FROM run_index_reservations WHERE id = ?1"));
  FB_TRY(stmt.bind_all(reservation_id));
  FB_TRY(stmt.run());
  return txn.commit();
}

Result<std::vector<RunRecord>> Store::runs_for_bisection(int64_t bisection_id) {
  FB_ASSIGN_OR_RETURN(Statement stmt,
                      db_->prepare(fmt::format(
                          "SELECT {} FROM runs WHERE bisection_id = ?1 ORDER BY id", kRunColumns)));
  FB_TRY(stmt.bind_all(bisection_id));
  return read_all<RunRecord>(stmt, path(), read_run);
}

// --- events ---

Result<int64_t> Store::append_event(const Event& event) {
  FB_ASSIGN_OR_RETURN(Transaction txn, begin_write());
  FB_ASSIGN_OR_RETURN(Statement stmt,
                      db_->prepare("INSERT INTO events (bisection_id, at, kind, message, "
                                   "data_json) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id"));
  FB_TRY(
      stmt.bind_all(event.bisection_id, event.at_ms, event.kind, event.message, event.data_json));
  FB_ASSIGN_OR_RETURN(int64_t id, insert_returning_id(stmt, path()));
  FB_TRY(txn.commit());
  return id;
}

Result<std::vector<Event>> Store::events(int64_t bisection_id, int64_t after_id) {
  FB_ASSIGN_OR_RETURN(Statement stmt,
                      db_->prepare(fmt::format("SELECT {} FROM events WHERE bisection_id = ?1 AND "
                                               "id > ?2 ORDER BY id",
                                               kEventColumns)));
  FB_TRY(stmt.bind_all(bisection_id, after_id));
  return read_all<Event>(stmt, path(), read_event);
}

}  // namespace flakebisect::store
