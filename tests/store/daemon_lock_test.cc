// The daemon lock: one holder per store, released when the holder goes away, kill -9 included.
#include "store/daemon_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "store/store_test_support.h"

namespace flakebisect::store {
namespace {

using base::ErrorCode;
using testing::TempDir;

TEST(DaemonLock, SecondHolderIsRefusedUntilTheFirstReleases) {
  TempDir dir;
  std::string store = dir.file("s.db");
  {
    ASSERT_OK_AND_ASSIGN(DaemonLock first, acquire_daemon_lock(store));
    EXPECT_EQ(first.lock_path(), store + ".daemon.lock");
    struct stat st {};
    ASSERT_EQ(stat(first.lock_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);

    // flock belongs to the open file description, so a second open in this process conflicts.
    auto second = acquire_daemon_lock(store);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code(), ErrorCode::kBusy);
    EXPECT_EQ(second.error().message(), "store " + store + " is already served by a daemon (pid " +
                                            std::to_string(getpid()) + ")");
  }
  ASSERT_OK(acquire_daemon_lock(store));
}

TEST(DaemonLock, AStoreReachedThroughASymbolicLinkHasTheSameLock) {
  // A link to the store file (--db ~/fb.db -> /data/fb.db) named another lock file beside the
  // link, so two daemons served one store. (A link to a directory above the store needs nothing:
  // the lock file's path then resolves to the same file.)
  TempDir dir;
  const std::string store = dir.file("s.db");
  { std::ofstream(store) << ""; }
  ASSERT_EQ(symlink(store.c_str(), dir.file("filelink.db").c_str()), 0);
  ASSERT_OK_AND_ASSIGN(DaemonLock first, acquire_daemon_lock(store));
  auto via_link = acquire_daemon_lock(dir.file("filelink.db"));
  ASSERT_FALSE(via_link.has_value());
  EXPECT_EQ(via_link.error().code(), ErrorCode::kBusy);
}

TEST(DaemonLock, MovedLockStaysHeld) {
  TempDir dir;
  std::string store = dir.file("s.db");
  ASSERT_OK_AND_ASSIGN(DaemonLock first, acquire_daemon_lock(store));
  DaemonLock moved = std::move(first);
  EXPECT_EQ(acquire_daemon_lock(store).error().code(), ErrorCode::kBusy);
}

TEST(DaemonLock, LockOfAKilledHolderIsFree) {
  TempDir dir;
  std::string store = dir.file("s.db");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = acquire_daemon_lock(store);
    char ok = lock.has_value() ? '1' : '0';
    (void)!write(ready[1], &ok, 1);
    pause();  // held until killed
    _exit(0);
  }
  close(ready[1]);
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  close(ready[0]);
  ASSERT_EQ(ok, '1');

  auto refused = acquire_daemon_lock(store);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("pid " + std::to_string(child)), std::string::npos)
      << refused.error().message();

  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_OK(acquire_daemon_lock(store));
}

TEST(DaemonLock, ALockFileAnotherUserOwnsIsRefusedAsSuch) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "giving a file to another user needs root";
  }
  TempDir dir;
  const std::string store = dir.file("s.db");
  const std::string path = daemon_lock_path(store);
  {
    auto lock = acquire_daemon_lock(store);
    ASSERT_TRUE(lock.has_value()) << lock.error().message();
  }
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  auto refused = acquire_daemon_lock(store);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(refused.error().message().find("owned by uid 65534"), std::string::npos)
      << refused.error().message();
}

TEST(DaemonLock, InMemoryStoreHasNoLock) {
  EXPECT_EQ(acquire_daemon_lock(":memory:").error().code(), ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace flakebisect::store
