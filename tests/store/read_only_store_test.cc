// A store this user cannot write, and SQLite's -wal and -shm next to it: reading works, writing
// says which file is in the way, and no read leaves side files that break later writes.
//
// Root ignores file modes, so as root each test runs its checks in a forked child that has become
// uid/gid 65534 (nobody); it is skipped where that switch is impossible.
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "store/store_test_support.h"

namespace flakebisect::store {
namespace {

using base::ErrorCode;
using testing::create_mode;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::sample_spec;
using testing::TempDir;

constexpr uid_t kNobody = 65534;
constexpr int kCannotSwitch = 77;

// Runs `body` as a user that file modes apply to: this process when it is not root, else a forked
// child that became uid/gid 65534 after `dir` was given to it. gtest prints the child's failures
// as they happen; its exit status carries them back here.
void as_ordinary_user(const TempDir& dir, const std::function<void()>& body) {
  if (::geteuid() != 0) {
    body();
    return;
  }
  ASSERT_EQ(::chown(dir.path().c_str(), kNobody, kNobody), 0);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0 ||
        ::access(dir.path().c_str(), R_OK | W_OK | X_OK) != 0) {
      ::_exit(kCannotSwitch);
    }
    body();
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == kCannotSwitch) {
    GTEST_SKIP() << "cannot run as uid 65534 in " << dir.path();
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the checks made as uid 65534 failed (their messages are above)";
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Gives a directory back its write permission at scope exit, so that it can be removed.
class WritableAgain {
 public:
  explicit WritableAgain(std::string dir) : dir_(std::move(dir)) {}
  WritableAgain(const WritableAgain&) = delete;
  WritableAgain& operator=(const WritableAgain&) = delete;
  ~WritableAgain() { ::chmod(dir_.c_str(), 0700); }

 private:
  std::string dir_;
};

// Makes a store with one queued bisection at `path`, closes it (SQLite then removes the -wal and
// -shm) and gives the file `mode`.
void make_store(const std::string& path, mode_t mode = 0600) {
  {
    ASSERT_OK_AND_ASSIGN(Store store, Store::open(path, create_mode()));
    ASSERT_OK(store.create_bisection(sample_spec(), 1));
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

TEST(ReadOnlyStore, AStoreThisUserCannotWriteIsOpenedReadOnlyAndReads) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  as_ordinary_user(dir, [&] {
    make_store(path, 0444);
    ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
    EXPECT_TRUE(store.read_only());
    ASSERT_OK_AND_ASSIGN(auto all, store.list_bisections());
    ASSERT_EQ(all.size(), 1U);
    ASSERT_OK_AND_ASSIGN(Transaction snapshot, store.begin_read());
    ASSERT_OK_AND_ASSIGN(Bisection one, store.get_bisection(all[0].id));
    EXPECT_EQ(one.state, BisectionState::kQueued);
  });
}

TEST(ReadOnlyStore, AWriteToItNamesTheStoreFileAndItsModeAndSuggestsNoDeletion) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  as_ordinary_user(dir, [&] {
    make_store(path, 0444);
    ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
    const auto refused = store.set_state(1, BisectionState::kCancelled, 2);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), ErrorCode::kIo);
    EXPECT_EQ(refused.error().message(),
              "store " + path + ": cannot write: this user cannot write " + path +
                  " (mode 0444; chmod u+w " + path + " to change the store)");
    ASSERT_FALSE(store.create_bisection(sample_spec(), 3).has_value());
    ASSERT_OK_AND_ASSIGN(Bisection still, store.get_bisection(1));
    EXPECT_EQ(still.state, BisectionState::kQueued);
  });
}

TEST(ReadOnlyStore, ReadingItLeavesSideFilesItsOwnerCanWriteSoWritesWorkOnceItIsWritableAgain) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  as_ordinary_user(dir, [&] {
    make_store(path, 0444);
    {
      ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
      ASSERT_OK(store.list_bisections());
    }
    // SQLite gives a -wal and -shm it makes the store file's mode, here 0444, and a read-only
    // connection leaves them behind.
    for (const std::string& side : {path + "-wal", path + "-shm"}) {
      if (exists(side)) {
        EXPECT_EQ(mode_of(side) & 0600, 0600U) << side;
      }
    }
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
    EXPECT_FALSE(store.read_only());
    ASSERT_OK(store.set_state(1, BisectionState::kCancelled, 2));
  });
}

TEST(ReadOnlyStore, SideFilesLeftWithoutOwnerWriteAreRepairedAtOpen) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  as_ordinary_user(dir, [&] {
    // What an earlier flakebisect left after reading the store while it was 0444.
    make_store(path, 0444);
    { ASSERT_OK_AND_ASSIGN(Store store, Store::open(path)); }
    ASSERT_TRUE(exists(path + "-wal") && exists(path + "-shm"));
    ASSERT_EQ(::chmod((path + "-wal").c_str(), 0444), 0);
    ASSERT_EQ(::chmod((path + "-shm").c_str(), 0444), 0);
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);

    ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
    EXPECT_EQ(mode_of(path + "-wal") & 0600, 0600U);
    EXPECT_EQ(mode_of(path + "-shm") & 0600, 0600U);
    ASSERT_OK(store.set_state(1, BisectionState::kCancelled, 2));
  });
}

TEST(ReadOnlyStore, AWriteRefusedForAnUnwritableShmNamesItAndItsMode) {
  // The store repairs its own side files at open; a connection that does not (another program,
  // or a file the user cannot chmod) gets SQLite's "attempt to write a readonly database", which
  // the error mapping turns into the file and its mode.
  TempDir dir;
  const std::string path = dir.file("s.db");
  as_ordinary_user(dir, [&] {
    make_store(path, 0444);
    { ASSERT_OK_AND_ASSIGN(Store store, Store::open(path)); }
    ASSERT_TRUE(exists(path + "-shm"));
    ASSERT_EQ(::chmod((path + "-shm").c_str(), 0444), 0);
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);

    ASSERT_OK_AND_ASSIGN(Database db, Database::open(path, SQLITE_OPEN_READWRITE));
    const auto refused = db.exec("BEGIN IMMEDIATE; UPDATE bisections SET updated_at = 2; COMMIT");
    ASSERT_FALSE(refused.has_value());
    EXPECT_THAT(refused.error().message(),
                HasSubstr("store " + path + ": cannot write: this user cannot write " + path +
                          "-shm (mode 0444, owner uid " + std::to_string(::geteuid()) + ")"));
    EXPECT_THAT(refused.error().message(), Not(HasSubstr("delete")));
    EXPECT_THAT(refused.error().message(), Not(HasSubstr("remove")));
  });
}

TEST(ReadOnlyStore, InADirectoryThisUserCannotWriteItIsReadOnlyWithItsSideFilesElseRefused) {
  TempDir dir;
  const std::string store_dir = dir.file("d");
  const std::string path = store_dir + "/s.db";
  as_ordinary_user(dir, [&] {
    ASSERT_EQ(::mkdir(store_dir.c_str(), 0700), 0);
    WritableAgain restore(store_dir);
    make_store(path);
    ASSERT_FALSE(exists(path + "-wal"));
    ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
    ASSERT_EQ(::chmod(store_dir.c_str(), 0555), 0);
    // Without its -wal and -shm SQLite cannot read it safely (an immutable read would not see a
    // writer that reaches the file another way): refused, saying why.
    auto refused_open = Store::open(path);
    ASSERT_FALSE(refused_open.has_value());
    EXPECT_EQ(refused_open.error().message(),
              path + ": cannot be read: SQLite needs " + path + "-wal and " + path +
                  "-shm next to it, and this user cannot create them in " + store_dir +
                  " (mode 0555); make the directory writable, or read a copy of the store");
    EXPECT_FALSE(exists(path + "-wal"));
    EXPECT_FALSE(exists(path + "-shm"));

    // With them there (SQLite removes them when the last connection closes: here a writer, as a
    // daemon would be, keeps them), it is read read-only.
    ASSERT_EQ(::chmod(store_dir.c_str(), 0755), 0);
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    ASSERT_OK_AND_ASSIGN(Store writer, Store::open(path));
    ASSERT_OK(writer.list_bisections());
    ASSERT_TRUE(exists(path + "-wal") && exists(path + "-shm"));
    ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
    ASSERT_EQ(::chmod(store_dir.c_str(), 0555), 0);
    ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
    EXPECT_TRUE(store.read_only());
    ASSERT_OK_AND_ASSIGN(auto all, store.list_bisections());
    EXPECT_EQ(all.size(), 1U);
    ASSERT_OK(store.events(1));
    const auto refused = store.set_state(1, BisectionState::kCancelled, 2);
    ASSERT_FALSE(refused.has_value());
    EXPECT_THAT(refused.error().message(), HasSubstr("store " + path + ": cannot write: "));
  });
}

TEST(ReadOnlyStore, AnOutdatedStoreOpenedReadOnlyIsNotMigratedAndSaysItNeedsAWritableOpen) {
  TempDir dir;
  const std::string path = dir.file("v1.db");
  as_ordinary_user(dir, [&] {
    {
      ASSERT_OK_AND_ASSIGN(Database db,
                           Database::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
      ASSERT_OK(db.exec(migrations()[0].sql));
      ASSERT_OK(db.exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str()));
      ASSERT_OK(db.exec("PRAGMA user_version = 1"));
    }
    ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
    const auto refused = Store::open(path);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().message(),
              path + ": store has schema version 1 and must be upgraded to version " +
                  std::to_string(schema_version()) +
                  ", which needs a writable open: this user cannot write " + path +
                  " (mode 0444; chmod u+w " + path + " to change the store)");

    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    ASSERT_OK_AND_ASSIGN(Store store, Store::open(path));
    ASSERT_OK(store.create_bisection(sample_spec(), 1));
  });
}

TEST(ReadOnlyStore, AStoreThisUserCannotReadSaysSoWithItsMode) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  as_ordinary_user(dir, [&] {
    make_store(path);
    ASSERT_EQ(::chmod(path.c_str(), 0200), 0);
    const auto refused = Store::open(path);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().message(), path + ": this user cannot read it (mode 0200)");
  });
}

TEST(StoreOpen, ARelativeStoreNamedLikeAUriIsAFileName) {
  // Debian's libsqlite3 reads "file:..." as a URI even without SQLITE_OPEN_URI: the checks on the
  // file would then be about one file and SQLite would open another.
  TempDir dir;
  char* saved = ::getcwd(nullptr, 0);
  ASSERT_NE(saved, nullptr);
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);
  {
    auto store = Store::open("file:s.db", OpenMode{.create_if_missing = true});
    ASSERT_TRUE(store.has_value()) << store.error().message();
    EXPECT_TRUE(store->list_bisections().has_value());
  }
  EXPECT_TRUE(exists(dir.file("file:s.db")));
  EXPECT_FALSE(exists(dir.file("s.db"))) << "SQLite opened the file the URI names";
  ASSERT_EQ(::chdir(saved), 0);
  std::free(saved);
}

}  // namespace
}  // namespace flakebisect::store
