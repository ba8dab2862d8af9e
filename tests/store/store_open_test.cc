// Opening a store: creation, schema and migrations, file modes, and refusing files that are not
// ours.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "base/process.h"
#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "store/store_files.h"
#include "store/store_test_support.h"

namespace flakebisect::store {
namespace {

using base::ErrorCode;
using testing::create_mode;
using testing::read_bytes;
using testing::sample_run;
using testing::sample_spec;
using testing::TempDir;
using testing::write_bytes;

int64_t pragma(const Database& db, const char* sql) {
  auto stmt = db.prepare(sql);
  EXPECT_TRUE(stmt.has_value());
  auto row = stmt->step();
  EXPECT_TRUE(row.has_value() && *row);
  return stmt->column_int64(0);
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Opens `path` as a plain SQLite database, outside the Store.
Database raw_open(const std::string& path) {
  auto db = Database::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  EXPECT_TRUE(db.has_value());
  return std::move(db).value();
}

// A store at schema `version` (older than today's) with bisection 1 in it, paused, written by
// that version's migrations as the flakebisect of the time left it.
void write_old_store(const std::string& path, int version) {
  Database db = raw_open(path);
  for (int v = 0; v < version; ++v) {
    ASSERT_OK(db.exec(migrations()[static_cast<size_t>(v)].sql));
  }
  ASSERT_OK(db.exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str()));
  ASSERT_OK(db.exec(("PRAGMA user_version = " + std::to_string(version)).c_str()));
  ASSERT_OK(db.exec(
      "INSERT INTO bisections (created_at, updated_at, repo, bad_sha, good_shas, config_toml, "
      "config_hash, test_identity, state) VALUES (1, 1, '/r', 'b', '[\"g\"]', '', 'h', 'i', "
      "'paused')"));
}

// Restores the process umask when a test that changed it ends.
class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(umask(mask)) {}
  ~UmaskGuard() { umask(old_); }

 private:
  mode_t old_;
};

TEST(StoreOpen, NewStoreHasCurrentSchemaVersionAndApplicationId) {
  ASSERT_OK_AND_ASSIGN(Store store, Store::open(":memory:"));
  const Database& db = store.database_for_testing();
  EXPECT_EQ(pragma(db, "PRAGMA user_version"), schema_version());
  EXPECT_EQ(pragma(db, "PRAGMA application_id"), kApplicationId);
  for (const char* table : {"bisections", "candidates", "builds", "runs", "events"}) {
    auto stmt = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    ASSERT_TRUE(stmt.has_value());
    ASSERT_OK(stmt->bind_all(table));
    ASSERT_TRUE(stmt->step().value_or(false));
    EXPECT_EQ(stmt->column_int64(0), 1) << table;
  }
}

TEST(StoreOpen, FileStoreUsesWalFullSyncAndForeignKeys) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(Store store, Store::open(dir.file("s.db"), create_mode()));
  const Database& db = store.database_for_testing();
  auto mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.has_value());
  ASSERT_TRUE(mode->step().value_or(false));
  EXPECT_EQ(mode->column_text(0), "wal");
  EXPECT_EQ(pragma(db, "PRAGMA synchronous"), 2);  // FULL
  EXPECT_EQ(pragma(db, "PRAGMA foreign_keys"), 1);
}

TEST(StoreOpen, ReopeningKeepsTheData) {
  TempDir dir;
  std::string path = dir.file("s.db");
  int64_t id = 0;
  {
    ASSERT_OK_AND_ASSIGN(Store store, Store::open(path, create_mode()));
    ASSERT_OK_AND_ASSIGN(id, store.create_bisection(sample_spec(), 100));
    ASSERT_OK(store.record_run(sample_run(id, "identity-1", "abc")));
  }
  ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
  ASSERT_OK_AND_ASSIGN(Bisection b, store.get_bisection(id));
  EXPECT_EQ(b.spec.bad_sha, sample_spec().bad_sha);
  ASSERT_OK_AND_ASSIGN(auto runs, store.runs_for_bisection(id));
  EXPECT_EQ(runs.size(), 1U);
  EXPECT_EQ(pragma(store.database_for_testing(), "PRAGMA user_version"), schema_version());
}

TEST(StoreOpen, MissingStoreIsNotFoundUnlessCreating) {
  TempDir dir;
  auto store = Store::open(dir.file("absent.db"));
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(store.error().message().find(dir.file("absent.db")), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.file("absent.db")));
}

// SQLite opens a database by its absolute path, at most 504 bytes (512 with "-journal"): a longer
// one is refused before any file is made (it used to leave an empty store behind, then fail as
// "unable to open database file"); the longest that fits opens.
TEST(StoreOpen, AStorePathSqliteCannotOpenIsRefusedBeforeAnyFileIsMade) {
  TempDir dir;
  std::filesystem::path deep = dir.path();
  while (deep.native().size() < 400) deep /= std::string(60, 'd');
  std::filesystem::create_directories(deep);
  const auto path_of = [&](size_t length) {
    const size_t name = length - deep.native().size() - 1;
    return (deep / (std::string(name - 3, 's') + ".db")).native();
  };
  const std::string too_long = path_of(505);
  auto refused = Store::open(too_long, create_mode());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(refused.error().message(),
              ::testing::HasSubstr("505 bytes from /, and SQLite opens at most 504"));
  EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("shorter --db"));
  EXPECT_FALSE(std::filesystem::exists(too_long));
  const std::string longest = path_of(504);
  ASSERT_OK_AND_ASSIGN(Store store, Store::open(longest, create_mode()));
  EXPECT_TRUE(store.create_bisection(sample_spec(), 100).has_value());
}

// Opening a new store holds an flock on its directory so that processes take turns making it;
// one held elsewhere (a process stopped while it opened, `flock DIR flakebisect ...`) delays the
// open by the busy timeout at most, and a store in use is opened without it.
TEST(StoreOpen, AnOpeningLockHeldElsewhereDelaysANewStoreByTheBusyTimeoutAtMost) {
  TempDir dir;
  const int held = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX), 0);
  const auto start = std::chrono::steady_clock::now();
  {
    auto store = Store::open(dir.file("new.db"), create_mode(300));
    ASSERT_TRUE(store.has_value()) << store.error().message();
    ASSERT_TRUE(store->create_bisection(sample_spec(), 1).has_value());
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  EXPECT_LT(waited, std::chrono::seconds(4));
  ::close(held);
}

TEST(StoreOpen, CreatedFilesAreOwnerOnlyWhateverTheUmask) {
  TempDir dir;
  UmaskGuard umask_guard(0);
  std::string path = dir.file("new/nested/s.db");
  ASSERT_OK_AND_ASSIGN(Store store, Store::open(path, create_mode()));
  ASSERT_OK(store.create_bisection(sample_spec(), 1));  // makes SQLite write the -wal
  EXPECT_EQ(mode_of(path), 0600U);
  EXPECT_EQ(mode_of(path + "-wal"), 0600U);
  EXPECT_EQ(mode_of(path + "-shm"), 0600U);
  EXPECT_EQ(mode_of(dir.file("new")), 0700U);
  EXPECT_EQ(mode_of(dir.file("new/nested")), 0700U);
}

TEST(StoreOpen, GarbageFileIsRefusedAndLeftUntouched) {
  TempDir dir;
  std::string path = dir.file("garbage.db");
  std::string garbage = "this is not a database\n";
  for (int i = 0; i < 5000; ++i) {
    garbage.push_back(static_cast<char>((i * 7919) % 251));
  }
  write_bytes(path, garbage);
  for (bool create : {false, true}) {
    OpenMode mode;
    mode.create_if_missing = create;
    auto store = Store::open(path, mode);
    ASSERT_FALSE(store.has_value());
    EXPECT_EQ(store.error().code(), ErrorCode::kCorrupt);
    EXPECT_EQ(store.error().message(), path + ": not a flakebisect store (file is not a database)");
  }
  EXPECT_EQ(read_bytes(path), garbage);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

// SQLite alone would take a file shorter than a page for an empty database and write over it.
TEST(StoreOpen, ShortGarbageFileIsRefusedAndLeftUntouched) {
  TempDir dir;
  std::string path = dir.file("short.db");
  for (const std::string& bytes :
       {std::string("x"), std::string(99, 'y'), std::string("SQLite format 3")}) {
    write_bytes(path, bytes);
    auto store = Store::open(path, create_mode());
    ASSERT_FALSE(store.has_value()) << bytes.size();
    EXPECT_EQ(store.error().code(), ErrorCode::kCorrupt);
    EXPECT_EQ(read_bytes(path), bytes);
    // One that starts as SQLite's files do is a store cut short, not somebody else's file.
    EXPECT_THAT(store.error().message(),
                bytes[0] == 'S'
                    ? ::testing::HasSubstr(": store is cut short (15 bytes")
                    : ::testing::HasSubstr(": not a flakebisect store (file is not a database)"));
  }
}

// Opening a second connection in a process that has one already (the daemon's workers) must not
// drop the first one's locks: POSIX locks belong to the process, so closing any descriptor of the
// store file would. Another process's reader then believes, as it closes, that it was the last
// connection, and deletes the -wal under the first one, whose later commits are lost.
TEST(StoreOpen, ASecondConnectionInTheProcessKeepsTheFirstOnesCommitsSafe) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  ASSERT_OK_AND_ASSIGN(Store first, Store::open(path, create_mode()));
  ASSERT_OK_AND_ASSIGN(int64_t id, first.create_bisection(sample_spec(), 1));
  { ASSERT_OK_AND_ASSIGN(Store second, Store::open(path)); }
  ASSERT_TRUE(std::filesystem::exists(path + "-wal"));

  // Another process (the sqlite3 shell, as a user's `status` would) reads the store and closes.
  base::ProcessOptions other;
  other.argv = {"sqlite3", path, "SELECT count(*) FROM bisections;"};
  ASSERT_OK_AND_ASSIGN(base::ProcessResult read, base::run_process(other));
  ASSERT_TRUE(read.succeeded()) << read.err;

  EXPECT_TRUE(std::filesystem::exists(path + "-wal"))
      << "the other process took itself for the last connection and deleted the -wal";
  ASSERT_OK(first.record_run(sample_run(id, "identity-1", std::string(40, 'f'))));
  ASSERT_OK_AND_ASSIGN(Store reader, Store::open(path));
  ASSERT_OK_AND_ASSIGN(auto runs, reader.runs_for_bisection(id));
  EXPECT_EQ(runs.size(), 1U) << "a run committed after that was lost";
}

// Another process's last connection deletes the -wal and -shm as it closes. A store opened while
// that happens is still opened for writing: a side file that vanished between looking at it and
// asking whether it may be written is made again by SQLite, and is no reason to read only. (A
// daemon in CI took such a moment for "cannot write" and opened its store read-only.)
TEST(StoreOpen, SideFilesDeletedWhileItLooksAreNoReasonToOpenTheStoreReadOnly) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  { ASSERT_OK_AND_ASSIGN(Store created, Store::open(path, create_mode())); }
  std::atomic<bool> done{false};
  std::thread closer([&] {
    // What a closing last connection does to the side files, as fast as it can.
    while (!done.load()) {
      for (const char* suffix : {"-wal", "-shm"}) {
        write_bytes(path + suffix, "");
        std::filesystem::remove(path + suffix);
      }
    }
  });
  int read_only = 0;
  std::string first_reason;
  for (int i = 0; i < 20000; ++i) {
    if (auto why = why_not_writable(path)) {
      if (read_only++ == 0) first_reason = *why;
    }
  }
  done = true;
  closer.join();
  EXPECT_EQ(read_only, 0) << "first: " << first_reason;
}

TEST(StoreOpen, DamagedStoreFailsTheIntegrityCheck) {
  TempDir dir;
  std::string path = dir.file("s.db");
  {
    ASSERT_OK_AND_ASSIGN(Store store, Store::open(path, create_mode()));
    ASSERT_OK_AND_ASSIGN(int64_t id, store.create_bisection(sample_spec(), 1));
    ASSERT_OK_AND_ASSIGN(Transaction txn, store.begin_write());
    for (int i = 0; i < 200; ++i) {
      ASSERT_OK(store.record_run(sample_run(id, "identity-1", std::string(40, 'f'))));
    }
    ASSERT_OK(txn.commit());
  }  // closing the last connection checkpoints the WAL into the file
  std::string bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), 8U * 4096U);
  // Scribble over every page but the first (the header and schema), as a bad disk would.
  for (size_t i = 4096; i < bytes.size(); i += 97) {
    bytes[i] = static_cast<char>(0xA5);
  }
  write_bytes(path, bytes);

  auto store = Store::open(path);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(store.error().message().find(path), std::string::npos) << store.error().message();
  EXPECT_THAT(store.error().message(), ::testing::StartsWith(path + ": store is corrupt"));
  EXPECT_EQ(store.error().message().find('\n'), std::string::npos) << store.error().message();
  EXPECT_EQ(read_bytes(path), bytes);
}

TEST(StoreOpen, ForeignSqliteDatabaseIsRefusedAndLeftUntouched) {
  TempDir dir;
  std::string path = dir.file("other.db");
  {
    Database db = raw_open(path);
    ASSERT_OK(db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')"));
  }
  std::string before = read_bytes(path);
  auto store = Store::open(path, create_mode());
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(store.error().message().find(path + ": not a flakebisect store"), std::string::npos)
      << store.error().message();
  EXPECT_EQ(read_bytes(path), before);
}

TEST(StoreOpen, StoreFromANewerFlakebisectIsRefused) {
  TempDir dir;
  std::string path = dir.file("s.db");
  { ASSERT_OK(Store::open(path, create_mode())); }
  {
    Database db = raw_open(path);
    ASSERT_OK(db.exec(("PRAGMA user_version = " + std::to_string(schema_version() + 1)).c_str()));
  }
  auto store = Store::open(path);
  ASSERT_FALSE(store.has_value());
  EXPECT_NE(store.error().message().find("newer"), std::string::npos) << store.error().message();
  EXPECT_NE(store.error().message().find(path), std::string::npos);
  // Still refused, not downgraded, on a second attempt.
  Database db = raw_open(path);
  EXPECT_EQ(pragma(db, "PRAGMA user_version"), schema_version() + 1);
}

TEST(StoreOpen, AVersionOneStoreIsMigratedAndKeepsItsBisections) {
  // A store written before schema 2, with a bisection in it, as that flakebisect left it.
  TempDir dir;
  std::string path = dir.file("v1.db");
  write_old_store(path, 1);
  ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
  EXPECT_EQ(pragma(store.database_for_testing(), "PRAGMA user_version"), schema_version());
  ASSERT_OK_AND_ASSIGN(auto old, store.get_bisection(1));
  EXPECT_EQ(old.spec.test_identity, "i");
  EXPECT_EQ(old.spec.build_key, "") << "recomputed (v1) by the engine";
  EXPECT_EQ(old.spec.inputs_json, "");

  // A new bisection keeps its build key and input files.
  auto spec = sample_spec();
  spec.build_key = "k2";
  spec.inputs_json = R"([{"key":"kernel.fragments","name":"/f","sha256":"ab"}])";
  ASSERT_OK_AND_ASSIGN(int64_t id, store.create_bisection(spec, 5));
  ASSERT_OK_AND_ASSIGN(auto back, store.get_bisection(id));
  EXPECT_EQ(back.spec.build_key, "k2");
  EXPECT_EQ(back.spec.inputs_json, spec.inputs_json);
  spec.inputs_json = "{}";
  EXPECT_FALSE(store.create_bisection(spec, 6).has_value()) << "not an array";
}

TEST(StoreOpen, ABisectionKeepsItsRevisionsAsTypedAndOneFromBeforeHasNone) {
  TempDir dir;
  std::string path = dir.file("v2.db");
  write_old_store(path, 2);  // as the flakebisect before schema 3 left it
  ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
  ASSERT_OK_AND_ASSIGN(auto old, store.get_bisection(1));
  EXPECT_EQ(old.spec.bad_ref, "");
  EXPECT_TRUE(old.spec.good_refs.empty());

  auto spec = sample_spec();
  spec.bad_ref = "linux-6.1.y";
  spec.good_refs.assign(spec.good_shas.size(), "v6.1");
  ASSERT_OK_AND_ASSIGN(int64_t id, store.create_bisection(spec, 5));
  ASSERT_OK_AND_ASSIGN(auto back, store.get_bisection(id));
  EXPECT_EQ(back.spec.bad_ref, "linux-6.1.y");
  EXPECT_EQ(back.spec.good_refs, spec.good_refs);

  spec.good_refs.push_back("one too many");
  auto refused = store.create_bisection(spec, 6);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("good revisions as typed"));
}

// Runs recorded before schema 6 kept only their first crash title: they read back without
// titles, and are then judged by their signature alone, as before (engine/evidence.h).
TEST(StoreOpen, RunsOfAVersionFiveStoreAreKeptWithoutCrashTitles) {
  TempDir dir;
  std::string path = dir.file("v5.db");
  write_old_store(path, 5);
  {
    Database db = raw_open(path);
    ASSERT_OK(db.exec(
        "INSERT INTO runs (test_identity, sha, bisection_id, run_index, outcome, signature, "
        "duration_ms, created_at) VALUES ('i', 's', 1, 0, 'crash', 'WARNING in __alloc_pages', "
        "10, 1), ('i', 's', 1, 1, 'pass', NULL, 10, 2)"));
  }
  ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
  EXPECT_EQ(pragma(store.database_for_testing(), "PRAGMA user_version"), schema_version());
  ASSERT_OK_AND_ASSIGN(auto old, store.runs_for("i", "s"));
  ASSERT_EQ(old.size(), 2U);
  EXPECT_EQ(old[0].outcome, RunOutcome::kCrash);
  EXPECT_EQ(old[0].signature, "WARNING in __alloc_pages");
  EXPECT_TRUE(old[0].crash_titles.empty());
  EXPECT_EQ(old[1].outcome, RunOutcome::kPass);
  EXPECT_TRUE(old[1].crash_titles.empty());

  // A run recorded now keeps all of them.
  RunRecord run = sample_run(1, "i", "s", RunOutcome::kCrash);
  run.signature = "WARNING in __alloc_pages";
  run.crash_titles = {"WARNING in __alloc_pages",
                      "BUG: unable to handle page fault in ext4_dio_write_iter"};
  ASSERT_OK(store.record_run(run));
  ASSERT_OK_AND_ASSIGN(auto all, store.runs_for("i", "s"));
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all[2].crash_titles, run.crash_titles);
}

TEST(StoreOpen, EmptyFileBecomesAStoreOnlyWhenCreating) {
  TempDir dir;
  std::string path = dir.file("empty.db");
  write_bytes(path, "");
  auto refused = Store::open(path);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(Store store, Store::open(path, create_mode()));
  EXPECT_EQ(pragma(store.database_for_testing(), "PRAGMA user_version"), schema_version());
}

TEST(StoreOpen, DirectoryIsNotAStore) {
  TempDir dir;
  auto store = Store::open(dir.path(), create_mode());
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), ErrorCode::kInvalidInput);
}

TEST(StoreOpen, TwoStoresOnOneFileShareCommittedData) {
  TempDir dir;
  std::string path = dir.file("s.db");
  ASSERT_OK_AND_ASSIGN(Store writer, Store::open(path, create_mode()));
  ASSERT_OK_AND_ASSIGN(Store reader, Store::open(path));
  ASSERT_OK_AND_ASSIGN(int64_t id, writer.create_bisection(sample_spec(), 1));
  ASSERT_OK_AND_ASSIGN(Bisection b, reader.get_bisection(id));
  EXPECT_EQ(b.id, id);
}

TEST(StoreOpen, AStoreOrItsWalThatAnotherUserOwnsIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "giving a file to another user needs root";
  }
  TempDir dir;
  const std::string path = dir.file("s.db");
  { ASSERT_OK_AND_ASSIGN(Store store, Store::open(path, create_mode())); }
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  auto theirs = Store::open(path);
  ASSERT_FALSE(theirs.has_value());
  EXPECT_EQ(theirs.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(theirs.error().message(), ::testing::HasSubstr("owned by uid 65534"));

  // Ours again, but with a -wal file someone else planted next to it.
  ASSERT_EQ(::chown(path.c_str(), 0, 0), 0);
  { ASSERT_OK_AND_ASSIGN(Store store, Store::open(path)); }
  write_bytes(path + "-wal", "");
  ASSERT_EQ(::chown((path + "-wal").c_str(), 65534, 65534), 0);
  auto planted = Store::open(path);
  ASSERT_FALSE(planted.has_value());
  EXPECT_THAT(planted.error().message(), ::testing::HasSubstr("s.db-wal: owned by uid 65534"));
}

}  // namespace
}  // namespace flakebisect::store
