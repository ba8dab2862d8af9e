// serve_queue against a store that another process locks for longer than the busy timeout, and on
// a store that does not exist yet: the daemon waits instead of exiting, and never leaves a
// bisection "running" under itself.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "base/clock.h"
#include "daemon/daemon.h"
#include "engine/bisection_request.h"
#include "engine/fakes.h"
#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace flakebisect::daemon {
namespace {

using namespace std::chrono_literals;
using namespace flakebisect::testing;
using store::BisectionState;

// Another process's write lock on the store, as `sqlite3 store.db 'BEGIN IMMEDIATE'` would hold.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path)
      : db_(store::Database::open(path, SQLITE_OPEN_READWRITE).value()) {
    EXPECT_TRUE(db_.exec("BEGIN IMMEDIATE").has_value());
  }
  void release() {
    if (held_) {
      EXPECT_TRUE(db_.exec("ROLLBACK").has_value());
      held_ = false;
    }
  }
  ~WriteLock() { release(); }

 private:
  store::Database db_;
  bool held_ = true;
};

class DaemonServeTest : public ::testing::Test {
 protected:
  DaemonServeTest() : history_(make_history(dir_ / "repo", sized(30))) {
    bad_ = bad_commits(history_);
    runner_.fn = FakeRunner::flaky(bad_, 40);
    builder_.needs = false;
  }

  DaemonOptions options() {
    DaemonOptions options;
    options.store_path = (dir_ / "state" / "new" / "flakebisect.db").native();
    options.worktree_root = (dir_ / "worktrees").native();
    options.exit_when_idle = true;
    options.poll_interval = 20ms;
    options.store_busy_timeout_ms = 50;
    return options;
  }

  int64_t queue(const std::string& path) {
    store::OpenMode mode;
    mode.create_if_missing = true;
    auto store = store::Store::open(path, mode);
    EXPECT_TRUE(store.has_value()) << store.error().message();
    engine::BisectRequest request{
        history_.repo.native(), {history_.root}, history_.tip, test_config()};
    return store->create_bisection(engine::prepare_bisection(request).value(), 1000).value();
  }

  store::Bisection stored(const std::string& path, int64_t id) {
    return store::Store::open(path).value().get_bisection(id).value();
  }

  TempDir dir_;
  History history_;
  std::set<std::string> bad_;
  base::RealClock clock_;
  FakeBuilder builder_;
  FakeRunner runner_;
};

TEST_F(DaemonServeTest, ADaemonOnAStoreThatDoesNotExistYetCreatesIt) {
  // A first `systemctl --user enable --now` on a new machine: no store, no directory for it.
  const DaemonOptions opts = options();
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_TRUE(std::filesystem::exists(opts.store_path));
}

TEST_F(DaemonServeTest, ADaemonWaitsForAStoreLockedPastTheBusyTimeout) {
  const DaemonOptions opts = options();
  const int64_t id = queue(opts.store_path);
  std::optional<WriteLock> lock(std::in_place, opts.store_path);
  std::thread unlock([&lock] {
    std::this_thread::sleep_for(400ms);  // 8 busy timeouts
    lock.reset();
  });
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  unlock.join();
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_EQ(stored(opts.store_path, id).state, BisectionState::kFound);
}

TEST_F(DaemonServeTest, ADaemonWaitsToMigrateAStoreLockedPastTheBusyTimeout) {
  // A store of schema 1 (as an older flakebisect left it): opening it migrates, which needs the
  // write lock that another process holds.
  const DaemonOptions opts = options();
  std::filesystem::create_directories(std::filesystem::path(opts.store_path).parent_path());
  {
    auto db = store::Database::open(opts.store_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE(db->exec(store::migrations()[0].sql).has_value());
    ASSERT_TRUE(
        db->exec(("PRAGMA application_id = " + std::to_string(store::kApplicationId)).c_str())
            .has_value());
    ASSERT_TRUE(db->exec("PRAGMA user_version = 1").has_value());
  }
  std::optional<WriteLock> lock(std::in_place, opts.store_path);
  std::thread unlock([&lock] {
    std::this_thread::sleep_for(400ms);
    lock.reset();
  });
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  unlock.join();
  ASSERT_TRUE(served.has_value()) << served.error().message();
}

TEST_F(DaemonServeTest, ABisectionWhoseEndTheEngineCouldNotRecordIsPausedNotLeftRunning) {
  const DaemonOptions opts = options();
  const int64_t id = queue(opts.store_path);
  // At the third run another process takes the write lock for 400 ms: the run cannot be recorded,
  // and neither can the engine's pause after that error (each waits 50 ms).
  std::optional<WriteLock> lock;
  std::thread unlock;
  runner_.fn = [&, inner = FakeRunner::flaky(bad_, 40)](const build::CommitCheckout& checkout,
                                                        uint32_t index) {
    if (runner_.calls.size() == 3) {
      lock.emplace(opts.store_path);
      unlock = std::thread([&lock] {
        std::this_thread::sleep_for(400ms);
        lock.reset();
      });
    }
    return inner(checkout, index);
  };
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  if (unlock.joinable()) {
    unlock.join();
  }
  ASSERT_TRUE(served.has_value()) << served.error().message();
  const store::Bisection after = stored(opts.store_path, id);
  EXPECT_EQ(after.state, BisectionState::kPaused);
  EXPECT_EQ(after.owner_pid, std::nullopt);
  EXPECT_NE(after.error.value_or("").find("locked"), std::string::npos) << after.error.value_or("");
}

}  // namespace
}  // namespace flakebisect::daemon
