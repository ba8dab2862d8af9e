// The subcommands that only read or mark the store, run as the real binary on a store prepared by
// hand, with stdout and stderr on pipes.
#include "cli/commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/process.h"
#include "engine/bisector.h"
#include "engine/fakes.h"
#include "support/dead_pid.h"

namespace flakebisect::cli {
namespace {

namespace fs = std::filesystem;
using store::BisectionState;
using ::testing::HasSubstr;
using ::testing::Not;

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    history_ = testing::make_history(dir_ / "repo", testing::sized(30, 3));
    db_ = dir_ / "state" / "flakebisect.db";
    store::OpenMode mode;
    mode.create_if_missing = true;
    auto opened = store::Store::open(db_.native(), mode);
    ASSERT_TRUE(opened.has_value()) << opened.error().message();
    store_.emplace(std::move(opened).value());
  }

  // A bisection of the history, running under `owner_pid` (none: queued).
  int64_t create(std::optional<int64_t> owner_pid) {
    engine::BisectRequest request{
        history_.repo.native(), {history_.root}, history_.tip, testing::test_config()};
    auto spec = engine::prepare_bisection(request);
    EXPECT_TRUE(spec.has_value()) << (spec ? "" : spec.error().message());
    auto id = store_->create_bisection(*spec, 1000, owner_pid);
    EXPECT_TRUE(id.has_value()) << (id ? "" : id.error().message());
    return id.value_or(0);
  }

  // `flakebisect --db <db_> args...`, killed after `limit`.
  base::ProcessResult flakebisect(const std::vector<std::string>& args,
                                  std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    base::ProcessOptions options;
    options.argv = {FLAKEBISECT_BINARY_DIR "/bin/flakebisect", "--db", db_.native()};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.timeout = limit;
    auto result = base::run_process(options);
    EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message());
    return result ? *result : base::ProcessResult{};
  }

  // The bisection's private checkout, made by hand as the engine would have.
  fs::path make_worktree(int64_t id) {
    const fs::path worktree = engine::worktree_path((dir_ / "state" / "worktrees").native(), id);
    testing::write_text(worktree / "Makefile", "all:\n");
    return worktree;
  }

  BisectionState state(int64_t id) {
    auto bisection = store_->get_bisection(id);
    EXPECT_TRUE(bisection.has_value());
    return bisection ? bisection->state : BisectionState::kQueued;
  }

  testing::TempDir dir_;
  testing::History history_;
  fs::path db_;
  std::optional<store::Store> store_;
};

TEST_F(CommandsTest, StatusSaysARunningBisectionsProcessIsGone) {
  const int64_t pid = test_support::dead_pid();
  const int64_t id = create(pid);
  const base::ProcessResult plain = flakebisect({"status", std::to_string(id), "--plain"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_THAT(plain.out, HasSubstr(fmt::format("bisection {}: running (pid {}, not alive: resume "
                                               "it)\n",
                                               id, pid)));

  const base::ProcessResult json = flakebisect({"status", std::to_string(id), "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"owner_alive\": false"));

  // `report` prints the stored state, and says that nothing is working on it.
  const base::ProcessResult report = flakebisect({"report", std::to_string(id)});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_THAT(report.err, HasSubstr(fmt::format("bisection {} is stored as running, but its "
                                                "process (pid {}) is gone; continue it with: "
                                                "flakebisect resume {}",
                                                id, pid, id)));

  // Its process alive (this one): just the pid.
  const int64_t alive = create(::getpid());
  const base::ProcessResult running = flakebisect({"status", std::to_string(alive), "--plain"});
  EXPECT_THAT(running.out,
              HasSubstr(fmt::format("bisection {}: running (pid {})\n", alive, ::getpid())));
  EXPECT_EQ(flakebisect({"report", std::to_string(alive)}).err, "");

  // `list` says it as status does, on the dead one's row only.
  const base::ProcessResult list = flakebisect({"list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr(fmt::format(
                            "its process (pid {}) is gone: flakebisect resume {}\n", pid, id)));
  EXPECT_THAT(list.out, Not(HasSubstr(fmt::format("(pid {}) is gone", ::getpid()))));
}

// Its process gone, and its pid given to another since (pid 1 in each new container, any pid after
// a reboot): that pid's process is alive, but it is not the owner, whose start stamp it lacks.
TEST_F(CommandsTest, StatusSaysARunningBisectionsProcessIsGoneWhenItsPidWasGivenToAnother) {
  const int64_t id = create(::getpid());
  const std::string stamp = base::process_start_stamp(::getpid());
  ASSERT_FALSE(stamp.empty());
  ASSERT_TRUE(store_->database_for_testing()
                  .execute("UPDATE bisections SET owner_start = ?1 WHERE id = ?2",
                           stamp.substr(0, stamp.find(' ')) + " 1", id)
                  .has_value());
  const base::ProcessResult plain = flakebisect({"status", std::to_string(id), "--plain"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_THAT(plain.out, HasSubstr(fmt::format("bisection {}: running (pid {}, not alive: resume "
                                               "it)\n",
                                               id, ::getpid())));
  const base::ProcessResult json = flakebisect({"status", std::to_string(id), "--json"});
  EXPECT_THAT(json.out, HasSubstr("\"owner_alive\": false"));
  const base::ProcessResult cancel = flakebisect({"cancel", std::to_string(id)});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_THAT(cancel.err, HasSubstr(fmt::format("its process (pid {}) was gone", ::getpid())));
}

TEST_F(CommandsTest, WatchEndsWhenTheBisectionsProcessIsGone) {
  const int64_t pid = test_support::dead_pid();
  const int64_t id = create(pid);
  const base::ProcessResult watch =
      flakebisect({"watch", std::to_string(id), "--interval", "0.05"}, std::chrono::seconds(10));
  ASSERT_FALSE(watch.timed_out) << "watch never ended\n" << watch.out;
  EXPECT_EQ(watch.exit_code, kExitError) << watch.err;
  EXPECT_THAT(
      watch.out,
      HasSubstr(fmt::format("bisection {}: running, but its process (pid {}) is gone\n", id, pid)));
  EXPECT_THAT(watch.err, HasSubstr(fmt::format("flakebisect resume {}", id)));
  EXPECT_EQ(state(id), BisectionState::kRunning);  // watch only reads

  const base::ProcessResult json = flakebisect(
      {"watch", std::to_string(id), "--interval", "0.05", "--json"}, std::chrono::seconds(10));
  ASSERT_FALSE(json.timed_out) << "watch --json never ended\n" << json.out;
  EXPECT_EQ(json.exit_code, kExitError) << json.err;
  EXPECT_THAT(json.out, HasSubstr(fmt::format("{{\"id\":{},\"owner_alive\":false,\"owner_pid\":{},"
                                              "\"state\":\"running\"}}\n",
                                              id, pid)));
}

TEST_F(CommandsTest, WatchKeepsFollowingABisectionWhoseProcessIsAlive) {
  const int64_t id = create(::getpid());
  const base::ProcessResult watch =
      flakebisect({"watch", std::to_string(id), "--interval", "0.05"}, std::chrono::seconds(1));
  EXPECT_TRUE(watch.timed_out) << watch.out << watch.err;
}

TEST_F(CommandsTest, CancelOfABisectionWhoseProcessIsGoneRemovesItsWorktree) {
  const int64_t pid = test_support::dead_pid();
  const int64_t id = create(pid);
  const fs::path worktree = make_worktree(id);
  const base::ProcessResult cancel = flakebisect({"cancel", std::to_string(id)});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_EQ(state(id), BisectionState::kCancelled);
  EXPECT_FALSE(fs::exists(worktree));
  EXPECT_THAT(cancel.err, Not(HasSubstr("stops after the current run")));
  EXPECT_THAT(cancel.err, HasSubstr(fmt::format("its process (pid {}) was gone", pid)));
}

TEST_F(CommandsTest, CancelOfARunningBisectionLeavesItsWorktreeToItsProcess) {
  const int64_t id = create(::getpid());
  const fs::path worktree = make_worktree(id);
  const base::ProcessResult cancel = flakebisect({"cancel", std::to_string(id)});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_EQ(state(id), BisectionState::kCancelled);
  EXPECT_TRUE(fs::exists(worktree));
  EXPECT_THAT(cancel.err, HasSubstr("its process stops after the run or build under way"));
}

TEST_F(CommandsTest, CancelOfAPausedBisectionRemovesItsWorktree) {
  const int64_t id = create(std::nullopt);
  ASSERT_TRUE(store_->set_state(id, BisectionState::kPaused, 2000).has_value());
  const fs::path worktree = make_worktree(id);
  const base::ProcessResult cancel = flakebisect({"cancel", std::to_string(id)});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_FALSE(fs::exists(worktree));
}

TEST_F(CommandsTest, WatchRefusesAnIntervalOutsideItsRange) {
  const int64_t id = create(std::nullopt);
  ASSERT_TRUE(store_->set_state(id, BisectionState::kPaused, 2000).has_value());
  // 0.0004 s used to become a 0 ms busy loop; 1e30 s an undefined conversion.
  for (const std::string interval : {"0.0004", "0.049", "3601", "1e30"}) {
    const base::ProcessResult watch =
        flakebisect({"watch", std::to_string(id), "--interval", interval});
    EXPECT_EQ(watch.exit_code, kExitUsage) << interval << ": " << watch.err;
    EXPECT_THAT(watch.err, HasSubstr("--interval must be between 0.05 and 3600 seconds, got "))
        << interval;
    EXPECT_EQ(watch.out, "") << interval;
  }
  for (const std::string interval : {"0.05", "3600"}) {
    const base::ProcessResult watch =
        flakebisect({"watch", std::to_string(id), "--interval", interval});
    EXPECT_EQ(watch.exit_code, kExitOk) << interval << ": " << watch.err;
    EXPECT_THAT(watch.out, HasSubstr(fmt::format("bisection {}: paused\n", id))) << interval;
  }
}

// design.md: `--json` on read commands. report's is --format json; with another format it is a
// usage error rather than one of them silently winning.
TEST_F(CommandsTest, ReportJsonIsTheJsonFormatAndRefusesAnotherFormat) {
  const int64_t id = create(std::nullopt);
  const std::string ids = std::to_string(id);
  const base::ProcessResult json = flakebisect({"report", ids, "--json"});
  EXPECT_EQ(json.exit_code, kExitOk) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"schema\": \"flakebisect-report\""));
  const base::ProcessResult format = flakebisect({"report", ids, "--format", "json"});
  // The same document but for the time it was made.
  const auto without_time = [](const std::string& text) {
    const size_t at = text.find("\"generated_at\"");
    return at == std::string::npos ? text : text.substr(0, at) + text.substr(text.find('\n', at));
  };
  EXPECT_EQ(without_time(json.out), without_time(format.out));
  for (const std::vector<std::string>& agreeing :
       {std::vector<std::string>{"report", ids, "--json", "--format", "json"},
        std::vector<std::string>{"report", "--format", "json", ids, "--json"}}) {
    const base::ProcessResult both = flakebisect(agreeing);
    EXPECT_EQ(both.exit_code, kExitOk) << both.err;
    EXPECT_EQ(without_time(both.out), without_time(json.out));
  }
  for (const std::string other : {"text", "email", "bisect-log", "html"}) {
    const base::ProcessResult clash = flakebisect({"report", ids, "--format", other, "--json"});
    EXPECT_EQ(clash.exit_code, kExitUsage) << other << ": " << clash.err;
    EXPECT_THAT(clash.err,
                HasSubstr("--json prints the JSON report; it cannot go with --format " + other));
    EXPECT_EQ(clash.out, "") << other;
  }
}

// What the demo goes on from: the id `run` created (not always 1) and how the bisection ended.
TEST_F(CommandsTest, RunForegroundSaysWhichBisectionItRanAndWhereItLeftIt) {
  const int64_t earlier = create(std::nullopt);
  GlobalOptions global;
  global.db = db_.native();
  StartOptions options;
  options.repo = history_.repo.native();
  options.good = {history_.root};
  options.bad = history_.tip;
  options.max_runs = 3;
  options.command = {"false"};
  const ForegroundRun run = run_foreground(global, options);
  EXPECT_EQ(run.exit_code, kExitOk);
  ASSERT_TRUE(run.id.has_value());
  EXPECT_EQ(*run.id, earlier + 1);
  EXPECT_EQ(run.state, BisectionState::kInconclusive);
  EXPECT_EQ(state(*run.id), BisectionState::kInconclusive);

  options.good = {"no-such-revision"};
  const ForegroundRun refused = run_foreground(global, options);
  EXPECT_EQ(refused.exit_code, kExitError);
  EXPECT_FALSE(refused.id.has_value());
  EXPECT_FALSE(refused.state.has_value());
}

}  // namespace
}  // namespace flakebisect::cli
