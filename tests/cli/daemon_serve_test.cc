// serve_queue against a store that another process locks for longer than the busy timeout, and on
// a store that does not exist yet: the daemon waits instead of exiting, and never leaves a
// bisection "running" under itself.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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
  DaemonOptions opts = options();
  opts.store_busy_patience = std::chrono::milliseconds(100);
  const int64_t id = queue(opts.store_path);
  // At the third run another process takes the write lock for 400 ms: the run cannot be recorded
  // (it waits 100 ms for it here, 10 minutes by default), and neither can the engine's pause after
  // that error (each waits 50 ms).
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

// ---- the worker pool (`daemon --jobs`) -------------------------------------------------------

// Executors of their own for every bisection (the workers run at once, and the shared fakes above
// are not thread-safe), whose runs first wait, up to `wait`, until `together` bisections have
// started a run: with fewer workers than that, the wait runs out. `on_together` is called once,
// by the run that completes the set.
struct Gathering {
  std::mutex mutex;
  std::condition_variable arrived;
  std::set<std::string> worktrees;  // one per bisection
  size_t together = 2;
  std::chrono::milliseconds wait{10000};
  bool met = false;
  std::function<void()> on_together;

  void arrive(const std::string& worktree) {
    std::unique_lock<std::mutex> lock(mutex);
    if (!worktrees.insert(worktree).second) return;
    if (worktrees.size() >= together && !met) {
      met = true;
      if (on_together) on_together();
      arrived.notify_all();
      return;
    }
    arrived.wait_for(lock, wait, [this] { return met; });
  }
};

// Options for a pool: the workers write to the store at once, so its busy timeout is the
// daemon's own (5 s), not the 50 ms the tests above use to make another process's lock bite.
DaemonOptions pool_options(DaemonOptions options, int workers) {
  options.workers = workers;
  options.store_busy_timeout_ms = 5000;
  return options;
}

// Options for a daemon that only `stop` ends (a SIGTERM), on a store under `dir`.
DaemonOptions stoppable(DaemonOptions options, const std::filesystem::path& dir, int workers,
                        std::atomic<bool>& stop) {
  options = pool_options(std::move(options), workers);
  options.store_path = (dir / "s.db").native();
  options.exit_when_idle = false;
  options.stop = &stop;
  return options;
}

engine::ExecutorFactory gathering_executors(Gathering& gathering, std::set<std::string> bad) {
  return [&gathering, bad](const config::Config&) -> base::Result<engine::Executors> {
    engine::Executors executors;
    auto builder = std::make_unique<FakeBuilder>();
    builder->needs = false;
    executors.builder = std::move(builder);
    auto runner = std::make_unique<FakeRunner>();
    runner->fn = [&gathering, inner = FakeRunner::flaky(bad, 40)](
                     const build::CommitCheckout& checkout, uint32_t index) {
      gathering.arrive(checkout.worktree);
      return inner(checkout, index);
    };
    executors.runner = std::move(runner);
    return executors;
  };
}

TEST_F(DaemonServeTest, TwoWorkersServeTwoBisectionsAtOnce) {
  DaemonOptions opts = pool_options(options(), 2);
  const int64_t first = queue(opts.store_path);
  const int64_t second = queue(opts.store_path);
  Gathering gathering;
  auto served = serve_queue(opts, clock_, gathering_executors(gathering, bad_));
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_TRUE(gathering.met) << "the second bisection started only after the first had waited "
                                "10 s for it: the workers did not serve them at once";
  EXPECT_EQ(stored(opts.store_path, first).state, BisectionState::kFound);
  EXPECT_EQ(stored(opts.store_path, second).state, BisectionState::kFound);
  // Both test the same commits with the same test, and both began at the bad commit at once:
  // each run still has its own FLAKEBISECT_RUN index there.
  auto store = store::Store::open(opts.store_path);
  ASSERT_TRUE(store.has_value()) << store.error().message();
  std::map<std::pair<std::string, int64_t>, int64_t> taken;  // (sha, index) -> bisection
  for (const int64_t id : {first, second}) {
    auto runs = store->runs_for_bisection(id);
    ASSERT_TRUE(runs.has_value()) << runs.error().message();
    ASSERT_FALSE(runs->empty());
    for (const store::RunRecord& run : *runs) {
      const auto [it, fresh] = taken.emplace(std::make_pair(run.sha, run.run_index), id);
      EXPECT_TRUE(fresh) << "run " << run.run_index << " at " << run.sha << " by bisection " << id
                         << " and by bisection " << it->second;
    }
  }
}

TEST_F(DaemonServeTest, OneWorkerServesTheQueueOneBisectionAtATime) {
  // The counterpart of the test above, which shows that its gathering can fail.
  DaemonOptions opts = options();
  const int64_t first = queue(opts.store_path);
  const int64_t second = queue(opts.store_path);
  Gathering gathering;
  gathering.wait = 300ms;
  auto served = serve_queue(opts, clock_, gathering_executors(gathering, bad_));
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_FALSE(gathering.met);
  EXPECT_EQ(stored(opts.store_path, first).state, BisectionState::kFound);
  EXPECT_EQ(stored(opts.store_path, second).state, BisectionState::kFound);
}

TEST_F(DaemonServeTest, MoreWorkersThanBisectionsEndWhenTheQueueIsEmpty) {
  DaemonOptions opts = pool_options(options(), 3);
  const int64_t id = queue(opts.store_path);
  Gathering gathering;
  gathering.together = 1;
  auto served = serve_queue(opts, clock_, gathering_executors(gathering, bad_));
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_EQ(stored(opts.store_path, id).state, BisectionState::kFound);
}

TEST_F(DaemonServeTest, AStopPausesEveryWorkersBisectionAndTheNextDaemonResumesThemAll) {
  DaemonOptions opts = pool_options(options(), 2);
  opts.exit_when_idle = false;  // only the stop ends it
  std::atomic<bool> stop{false};
  opts.stop = &stop;
  const int64_t first = queue(opts.store_path);
  const int64_t second = queue(opts.store_path);
  Gathering gathering;
  gathering.on_together = [&stop] { stop = true; };  // SIGTERM while both are running
  auto served = serve_queue(opts, clock_, gathering_executors(gathering, bad_));
  ASSERT_TRUE(served.has_value()) << served.error().message();
  ASSERT_TRUE(gathering.met);
  for (int64_t id : {first, second}) {
    const store::Bisection paused = stored(opts.store_path, id);
    EXPECT_EQ(paused.state, BisectionState::kPaused) << id;
    EXPECT_EQ(paused.owner_pid, std::nullopt) << id;
  }

  DaemonOptions next = pool_options(options(), 2);
  Gathering again;
  again.together = 1;
  served = serve_queue(next, clock_, gathering_executors(again, bad_));
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_EQ(stored(next.store_path, first).state, BisectionState::kFound);
  EXPECT_EQ(stored(next.store_path, second).state, BisectionState::kFound);
}

// SIGTERM: the signal watcher sets the daemon's stop flag and at once kills the build or run in
// progress, which returns within a millisecond. The engine must see that flag itself, not a copy
// the daemon makes later, or it records the killed run as infra and the killed build as failed
// (which would skip the commit for every bisection sharing the build).
TEST_F(DaemonServeTest, TheRunASigtermKillsIsNotRecorded) {
  for (const int workers : {1, 2}) {
    TempDir dir;
    std::atomic<bool> stop{false};
    const DaemonOptions opts = stoppable(options(), dir.path(), workers, stop);
    const int64_t id = queue(opts.store_path);
    runner_.calls.clear();
    runner_.fn = [&, inner = FakeRunner::flaky(bad_, 40)](const build::CommitCheckout& checkout,
                                                          uint32_t index) {
      if (runner_.calls.size() < 3) return inner(checkout, index);
      stop = true;  // as the watcher does, then it kills the run
      run::RunResult killed;
      killed.outcome = store::RunOutcome::kInfra;
      killed.detail = "killed by signal 9 (SIGKILL)";
      return base::Result<run::RunResult>(killed);
    };
    auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
    ASSERT_TRUE(served.has_value()) << served.error().message();
    const store::Bisection after = stored(opts.store_path, id);
    EXPECT_EQ(after.state, BisectionState::kPaused) << workers;
    auto runs = store::Store::open(opts.store_path).value().runs_for_bisection(id);
    ASSERT_TRUE(runs.has_value());
    EXPECT_EQ(runs->size(), 2U) << "workers " << workers << ": the killed run was recorded";
  }
}

TEST_F(DaemonServeTest, AfterASigtermTheWorkerClaimsNoOtherBisection) {
  // The engine pauses at once on the caller's flag; the worker must not then claim the next
  // queued bisection through the pool's copy of the flag, which can lag by 50 ms.
  std::atomic<bool> stop{false};
  const DaemonOptions opts = stoppable(options(), dir_.path(), 1, stop);
  const int64_t first = queue(opts.store_path);
  const int64_t second = queue(opts.store_path);
  runner_.fn = [&, inner = FakeRunner::flaky(bad_, 40)](const build::CommitCheckout& checkout,
                                                        uint32_t index) {
    if (runner_.calls.size() == 3) stop = true;
    return inner(checkout, index);
  };
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_EQ(stored(opts.store_path, first).state, BisectionState::kPaused);
  EXPECT_EQ(stored(opts.store_path, second).state, BisectionState::kQueued)
      << "claimed (and paused) after the SIGTERM";
}

TEST_F(DaemonServeTest, TheBuildASigtermKillsIsNotRecorded) {
  for (const int workers : {1, 2}) {
    TempDir dir;
    std::atomic<bool> stop{false};
    const DaemonOptions opts = stoppable(options(), dir.path(), workers, stop);
    const int64_t id = queue(opts.store_path);
    builder_.needs = true;
    builder_.fn = [&](const build::CommitCheckout&) -> base::Result<build::BuildOutcome> {
      stop = true;  // as the watcher does, then it kills the build
      build::BuildOutcome killed;
      killed.ok = false;
      killed.log_tail = "make: *** killed by SIGKILL";
      return killed;
    };
    auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
    ASSERT_TRUE(served.has_value()) << served.error().message();
    EXPECT_EQ(stored(opts.store_path, id).state, BisectionState::kPaused) << workers;
    auto store = store::Store::open(opts.store_path).value();
    auto events = store.events(id);
    ASSERT_TRUE(events.has_value());
    for (const store::Event& event : *events) {
      EXPECT_EQ(event.message.find("failed"), std::string::npos)
          << "workers " << workers << ": " << event.message;
    }
  }
}

// A build that gives up waiting for another worker's build directory because of the stop (see
// KernelBuilderOptions::stop) is an error, not a result: the bisection is paused by the stop,
// so the next daemon resumes it, not paused by an error that waits for the user.
TEST_F(DaemonServeTest, ABuildThatGivesUpOnTheStopLeavesTheBisectionToTheNextDaemon) {
  std::atomic<bool> stop{false};
  const DaemonOptions opts = stoppable(options(), dir_.path(), 1, stop);
  const int64_t id = queue(opts.store_path);
  builder_.needs = true;
  builder_.fn = [&](const build::CommitCheckout&) -> base::Result<build::BuildOutcome> {
    stop = true;
    return base::make_error(base::ErrorCode::kFailed, "stopped while waiting for another build");
  };
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_EQ(stored(opts.store_path, id).state, BisectionState::kPaused);
  auto events = store::Store::open(opts.store_path).value().events(id);
  ASSERT_TRUE(events.has_value());
  EXPECT_TRUE(resumable_by_daemon(*events));
}

TEST_F(DaemonServeTest, AWorkersFatalErrorSetsTheFailingFlagTheBuildersWatch) {
  // The store loses its bisections table under the daemon (a store another version broke): the
  // worker's claim fails, which ends the daemon. DaemonOptions::failing tells the executor
  // factory's builders, which do not see the pool's own flag, to stop waiting too.
  DaemonOptions opts = pool_options(options(), 2);
  opts.exit_when_idle = false;
  std::atomic<bool> failing{false};
  opts.failing = &failing;
  const int64_t id = queue(opts.store_path);
  runner_.fn = [&, inner = FakeRunner::flaky(bad_, 40)](const build::CommitCheckout& checkout,
                                                        uint32_t index) {
    if (runner_.calls.size() == 3) {
      auto db = store::Database::open(opts.store_path, SQLITE_OPEN_READWRITE);
      EXPECT_TRUE(db.has_value());
      if (db) {
        EXPECT_TRUE(db->exec("ALTER TABLE bisections RENAME TO lost").has_value());
      }
    }
    return inner(checkout, index);
  };
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  EXPECT_FALSE(served.has_value());
  EXPECT_TRUE(failing.load()) << "bisection " << id;
}

TEST_F(DaemonServeTest, ADaemonWithoutWorkersIsRefused) {
  DaemonOptions opts = options();
  opts.workers = 0;
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  ASSERT_FALSE(served.has_value());
  EXPECT_NE(served.error().message().find("at least one worker"), std::string::npos)
      << served.error().message();
}

// ---- a full disk -----------------------------------------------------------------------------

// A full disk for this process: from fill() until free(), every write to a regular file fails
// (EFBIG past RLIMIT_FSIZE 0, which SQLite reports as an I/O error like ENOSPC), so the store
// takes no commit, on any connection. SIGXFSZ is ignored, as a full disk sends none.
class FullDisk {
 public:
  FullDisk() {
    ::signal(SIGXFSZ, SIG_IGN);
    EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &saved_), 0);
  }
  ~FullDisk() { free(); }
  void fill() {
    rlimit full = saved_;
    full.rlim_cur = 0;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &full), 0);
  }
  void free() { EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &saved_), 0); }

 private:
  rlimit saved_{};
};

// reliability.md: on a full disk the bisection is paused with a clear error once there is space.
// At the third run the disk fills: the run cannot be recorded, nor the engine's pause after that
// error, nor the worker's; the bisection says running under the daemon. Space comes back while
// the daemon is still serving: it must pause the bisection then, not at its next start.
TEST_F(DaemonServeTest, ABisectionThatHitAFullDiskIsPausedWithItsErrorOnceThereIsSpace) {
  std::atomic<bool> stop{false};
  const DaemonOptions opts = stoppable(options(), dir_.path(), 1, stop);
  const int64_t id = queue(opts.store_path);
  FullDisk disk;
  std::atomic<bool> paused_while_serving{false};
  std::thread space;
  runner_.fn = [&, inner = FakeRunner::flaky(bad_, 40)](const build::CommitCheckout& checkout,
                                                        uint32_t index) {
    if (runner_.calls.size() == 3) {
      disk.fill();
      space = std::thread([&] {
        std::this_thread::sleep_for(500ms);
        disk.free();
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline && !paused_while_serving) {
          paused_while_serving = stored(opts.store_path, id).state == BisectionState::kPaused;
          std::this_thread::sleep_for(20ms);
        }
        stop = true;
      });
    }
    return inner(checkout, index);
  };
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  if (space.joinable()) {
    space.join();
  }
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_TRUE(paused_while_serving) << "still running under the daemon 10 s after space came back";
  const store::Bisection after = stored(opts.store_path, id);
  EXPECT_EQ(after.state, BisectionState::kPaused);
  EXPECT_EQ(after.owner_pid, std::nullopt);
  EXPECT_NE(after.error.value_or("").find("I/O error"), std::string::npos)
      << after.error.value_or("");
  auto events = store::Store::open(opts.store_path).value().events(id);
  ASSERT_TRUE(events.has_value());
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().kind, "error");
  EXPECT_EQ(events->back().message, after.error.value_or(""));
  EXPECT_FALSE(resumable_by_daemon(*events)) << "paused by an error: it waits for `resume`";
}

// The same with another bisection queued: the worker's claim of it finds the disk full too, and
// waits for space instead of ending the daemon; then it serves it.
TEST_F(DaemonServeTest, AClaimThatFindsTheDiskFullWaitsForSpaceInsteadOfEndingTheDaemon) {
  std::atomic<bool> stop{false};
  const DaemonOptions opts = stoppable(options(), dir_.path(), 1, stop);
  const int64_t id = queue(opts.store_path);
  const int64_t next = queue(opts.store_path);
  FullDisk disk;
  std::thread space;
  runner_.fn = [&, inner = FakeRunner::flaky(bad_, 40)](const build::CommitCheckout& checkout,
                                                        uint32_t index) {
    if (runner_.calls.size() == 3) {
      disk.fill();
      space = std::thread([&] {
        std::this_thread::sleep_for(500ms);
        disk.free();
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < deadline &&
               stored(opts.store_path, next).state != BisectionState::kFound) {
          std::this_thread::sleep_for(20ms);
        }
        stop = true;
      });
    }
    return inner(checkout, index);
  };
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  if (space.joinable()) {
    space.join();
  }
  ASSERT_TRUE(served.has_value()) << served.error().message();
  EXPECT_EQ(stored(opts.store_path, id).state, BisectionState::kPaused);
  EXPECT_EQ(stored(opts.store_path, next).state, BisectionState::kFound);
}

// The same, with the space back only just before the daemon stops: it tries once more then.
TEST_F(DaemonServeTest, ADaemonThatStopsPausesTheBisectionThatHitAFullDisk) {
  std::atomic<bool> stop{false};
  DaemonOptions opts = stoppable(options(), dir_.path(), 1, stop);
  opts.poll_interval = std::chrono::hours(1);  // no try while it serves
  const int64_t id = queue(opts.store_path);
  FullDisk disk;
  std::thread space;
  runner_.fn = [&, inner = FakeRunner::flaky(bad_, 40)](const build::CommitCheckout& checkout,
                                                        uint32_t index) {
    if (runner_.calls.size() == 3) {
      disk.fill();
      space = std::thread([&] {
        std::this_thread::sleep_for(500ms);
        disk.free();
        EXPECT_EQ(stored(opts.store_path, id).state, BisectionState::kRunning);
        stop = true;
      });
    }
    return inner(checkout, index);
  };
  auto served = serve_queue(opts, clock_, fake_executors(builder_, runner_));
  if (space.joinable()) {
    space.join();
  }
  ASSERT_TRUE(served.has_value()) << served.error().message();
  const store::Bisection after = stored(opts.store_path, id);
  EXPECT_EQ(after.state, BisectionState::kPaused);
  EXPECT_EQ(after.owner_pid, std::nullopt);
  EXPECT_NE(after.error.value_or("").find("I/O error"), std::string::npos)
      << after.error.value_or("");
}

}  // namespace
}  // namespace flakebisect::daemon
