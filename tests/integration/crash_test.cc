// kill -9 at every failpoint, then `flakebisect resume`: the same rows (no run counted twice or
// half) and the same result as a bisection that was never interrupted; no orphaned test process.
// Also SIGINT: a foreground run pauses cleanly and resumes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>
#include <thread>

#include "integration/cli_support.h"

namespace flakebisect::testing {
namespace {

using ::testing::HasSubstr;

// One history, test script and build command for every crash; the uninterrupted bisection is
// computed once.
class CrashTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    scenario_ = new Scenario(make_scenario(dir_->path(), sized(150, 21), 30));
    const fs::path build = dir_->path() / "build.sh";
    write_text(build, "#!/bin/sh\necho building \"$FLAKEBISECT_COMMIT\"\n", true);
    const fs::path config = dir_->path() / "bisect.toml";
    // Fixed costs: with costs learned from wall-clock durations (the default) the path of a
    // bisection depends on timing, and a killed batch's timing is lost, so two bisections need
    // not test the same commits; what must match after a crash is then only the stored data.
    write_text(config, "[decision]\nlearn_costs = false\n\n[build]\ncommand = [\"" +
                           build.native() + "\"]\n\n[test]\ncommand = [\"" +
                           scenario_->script.native() + "\"]\n");
    config_ = new fs::path(config);
    reference_db_ = new fs::path(dir_->path() / "reference" / "flakebisect.db");
    std::vector<std::string> args = run_args(*scenario_);
    args[1] = reference_db_->native();
    args.insert(args.end(), {"--config", config.native(), "--json"});
    const CliResult run = flakebisect(args);
    ASSERT_EQ(run.exit_code, 0) << describe(run);
    reference_result_ = new nlohmann::json(parse_json(run.out));
    reference_rows_ = new std::vector<Row>(stored_rows(*reference_db_, 1));
  }
  static void TearDownTestSuite() {
    delete reference_rows_;
    delete reference_result_;
    delete reference_db_;
    delete config_;
    delete scenario_;
    delete dir_;
  }

  static TempDir* dir_;
  static Scenario* scenario_;
  static fs::path* config_;
  static fs::path* reference_db_;
  static nlohmann::json* reference_result_;
  static std::vector<Row>* reference_rows_;
};

TempDir* CrashTest::dir_ = nullptr;
Scenario* CrashTest::scenario_ = nullptr;
fs::path* CrashTest::config_ = nullptr;
fs::path* CrashTest::reference_db_ = nullptr;
nlohmann::json* CrashTest::reference_result_ = nullptr;
std::vector<Row>* CrashTest::reference_rows_ = nullptr;

TEST_P(CrashTest, KillNineThenResumeGivesTheSameRowsAndResult) {
  ASSERT_NE(reference_result_, nullptr);
  ASSERT_EQ((*reference_result_)["status"], "found");
  TempDir state;
  const fs::path db = state.path() / "flakebisect.db";
  std::vector<std::string> args = run_args(*scenario_);
  args[1] = db.native();
  args.insert(args.end(), {"--config", config_->native()});
  fs::remove(scenario_->pids);
  const CliResult crashed = flakebisect(args, {{"FLAKEBISECT_FAILPOINT", GetParam()}});
  ASSERT_EQ(crashed.term_signal, SIGKILL) << describe(crashed);
  EXPECT_EQ(stored_state(db, 1), "running");  // as a crash leaves it

  // Whatever test process was running died with the tool.
  std::istringstream pids(read_text(scenario_->pids));
  for (pid_t pid; pids >> pid;) {
    EXPECT_TRUE(wait_for([&] { return process_gone(pid); }, std::chrono::seconds(5)))
        << "test process " << pid << " outlived the tool";
  }
  // Nothing half-done was counted: every stored row is a prefix of the uninterrupted run's.
  const std::vector<Row> before = stored_rows(db, 1);
  ASSERT_LE(before.size(), reference_rows_->size());
  EXPECT_TRUE(std::equal(before.begin(), before.end(), reference_rows_->begin()));

  const CliResult resumed = flakebisect({"--db", db.native(), "resume", "1", "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << describe(resumed);
  const auto result = parse_json(resumed.out);
  EXPECT_EQ(result["status"], (*reference_result_)["status"]);
  EXPECT_EQ(result["culprit"], (*reference_result_)["culprit"]);
  EXPECT_EQ(result["confidence"], (*reference_result_)["confidence"]);
  EXPECT_EQ(result["runs"], (*reference_result_)["runs"]);
  const std::vector<Row> after = stored_rows(db, 1);
  EXPECT_EQ(after, *reference_rows_);
  std::set<std::pair<std::string, int64_t>> unique;
  for (const Row& row : after) {
    EXPECT_TRUE(unique.emplace(std::get<0>(row), std::get<1>(row)).second) << "run counted twice";
  }
  const CliResult log = flakebisect({"--db", db.native(), "log", "1"});
  EXPECT_THAT(log.out, HasSubstr("(resumed)"));
}

INSTANTIATE_TEST_SUITE_P(Failpoints, CrashTest,
                         ::testing::Values("after-checkout", "after-checkout:3", "during-build",
                                           "during-build:4", "during-run", "during-run:9",
                                           "after-run-commit", "after-run-commit:17"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(Interrupt, SigintPausesAForegroundRunWhichResumesToTheSameAnswer) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(60, 8), 30);
  write_text(s.slow, "");
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--", s.script.native()});
  auto child = start_cli(args, dir.path() / "run.log");
  ASSERT_TRUE(child.has_value()) << child.error().message();
  // Interrupt once a few runs are stored and the next one is running.
  ASSERT_TRUE(wait_for([&] { return line_count(s.pids) >= 4; }));
  ASSERT_TRUE(::kill(child->pid(), SIGINT) == 0);
  auto status = child->wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value() && status->has_value()) << "did not stop after SIGINT";
  EXPECT_EQ((*status)->term_signal, 0);
  EXPECT_EQ((*status)->exit_code, 0);
  EXPECT_EQ(stored_state(s.db, 1), "paused");
  std::istringstream pids(read_text(s.pids));
  for (pid_t pid; pids >> pid;) {
    EXPECT_TRUE(wait_for([&] { return process_gone(pid); }, std::chrono::seconds(5)));
  }
  const size_t stored = stored_rows(s.db, 1).size();
  EXPECT_GE(stored, 3U);

  fs::remove(s.slow);
  const CliResult resumed = flakebisect({"--db", s.db.native(), "resume", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << describe(resumed);
  EXPECT_THAT(resumed.out, HasSubstr("found: " + s.history.planted_sha()));
}

// Before the bisection is stored there is nothing to pause: a signal ends `run` at once, even
// while it is blocked reading its configuration (here a FIFO nobody writes).
TEST(Interrupt, SigintBeforeTheBisectionIsStoredQuitsAtOnce) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(20, 8), 30);
  const fs::path fifo = dir.path() / "config.toml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--config", fifo.native(), "--", s.script.native()});
  auto child = start_cli(args, dir.path() / "run.log");
  ASSERT_TRUE(child.has_value()) << child.error().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(::kill(child->pid(), SIGINT), 0);
  auto status = child->wait_for(std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value() && status->has_value()) << "still running after SIGINT";
  EXPECT_EQ((*status)->exit_code, 128 + SIGINT);
  EXPECT_THAT(read_text(dir.path() / "run.log"),
              HasSubstr("received SIGINT before the bisection was stored: nothing to pause"));
  EXPECT_FALSE(fs::exists(s.db));
}

// Two foreground bisections of one test (two ranges ending at one bad commit) in two processes
// start by reproducing at that commit at the same moment. Each run still gets its own
// FLAKEBISECT_RUN there: the store holds the indexes a batch in progress has taken, so a seeded
// reproducer never makes the same run twice.
TEST(Interrupt, TwoProcessesRunningOneTestAtOneCommitTakeDistinctRunIndexes) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 20), 30);
  write_text(s.slow, "");
  std::vector<std::string> wide = run_args(s);
  wide.insert(wide.end(), {"--", s.script.native()});
  std::vector<std::string> narrow = {
      "--db",           s.db.native(),     "run",   "--repo",      s.history.repo.native(),
      "--good",         s.history.shas[5], "--bad", s.history.tip, "--",
      s.script.native()};
  auto first = start_cli(wide, dir.path() / "wide.log");
  auto second = start_cli(narrow, dir.path() / "narrow.log");
  ASSERT_TRUE(first.has_value() && second.has_value());
  // Both reproduce at the tip, 0.3 s a run, before the runs go fast.
  ASSERT_TRUE(wait_for([&] { return line_count(s.pids) >= 8; }));
  fs::remove(s.slow);
  for (auto* child : {&*first, &*second}) {
    auto status = child->wait_for(std::chrono::seconds(120));
    ASSERT_TRUE(status.has_value() && status->has_value()) << "did not end";
    EXPECT_EQ((*status)->exit_code, 0)
        << read_text(dir.path() / "wide.log") << read_text(dir.path() / "narrow.log");
  }
  std::vector<Row> rows = stored_rows(s.db, 1);
  const std::vector<Row> others = stored_rows(s.db, 2);
  rows.insert(rows.end(), others.begin(), others.end());
  std::map<std::pair<std::string, int64_t>, int> taken;
  size_t at_tip = 0;
  for (const auto& [sha, index, outcome] : rows) {
    EXPECT_EQ(++taken[std::make_pair(sha, index)], 1)
        << "FLAKEBISECT_RUN " << index << " at " << sha << " ran twice";
    if (sha == s.history.tip) ++at_tip;
  }
  EXPECT_GE(at_tip, 2U);
  EXPECT_FALSE(others.empty());
}

// `run ... 2>&1 | head`: the reader goes away after a line, and the bisection goes on to its
// answer instead of dying of SIGPIPE half way through a write (left "running" for a resume).
TEST(Interrupt, AReaderThatGoesAwayDoesNotStopTheBisection) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 20), 30);
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--", s.script.native()});
  const fs::path rc = dir.path() / "rc";
  base::ProcessOptions options = cli_options({}, {}, std::nullopt);
  std::vector<std::string> argv = {
      "/bin/sh", "-c", "( \"$0\" \"$@\" 2>&1; echo $? > '" + rc.native() + "' ) | head -c 20",
      FLAKEBISECT_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  options.argv = argv;
  auto result = base::run_process(options);
  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->out.size(), 20U) << result->out;
  EXPECT_EQ(read_text(rc), "0\n");
  EXPECT_EQ(stored_state(s.db, 1), "found");
}

// Four `start`s at once on a store that does not exist yet: each waits for the one making it,
// instead of reading its half-made store as a foreign database or as locked.
TEST(Interrupt, CommandsStartingAtOnceOnAStoreNotYetMadeAllSucceed) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(20, 10), 30);
  for (int round = 0; round < 5; ++round) {
    const fs::path db = dir.path() / ("fresh-" + std::to_string(round)) / "flakebisect.db";
    std::vector<base::ChildProcess> children;
    for (int i = 0; i < 4; ++i) {
      auto child = start_cli(
          {"--db", db.native(), "start", "--repo", s.history.repo.native(), "--good",
           s.history.shas[static_cast<size_t>(i)], "--bad", s.history.tip, "--", s.script.native()},
          dir.path() / ("start-" + std::to_string(i) + ".log"));
      ASSERT_TRUE(child.has_value()) << child.error().message();
      children.push_back(std::move(*child));
    }
    for (size_t i = 0; i < children.size(); ++i) {
      auto status = children[i].wait_for(std::chrono::seconds(60));
      ASSERT_TRUE(status.has_value() && status->has_value());
      EXPECT_EQ((*status)->exit_code, 0)
          << "round " << round << ": "
          << read_text(dir.path() / ("start-" + std::to_string(i) + ".log"));
    }
    auto store = store::Store::open(db.native());
    ASSERT_TRUE(store.has_value()) << store.error().message();
    auto all = store->list_bisections();
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(all->size(), 4U);
  }
}

// `watch ... | head`: once its reader is gone it ends, instead of polling for nobody until the
// bisection ends (SIGPIPE no longer ends it). And output that cannot be written is an error.
TEST(Interrupt, WatchEndsWhenItsReaderGoesAwayAndAFullStdoutIsAnError) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 20), 30);
  write_text(s.slow, "");
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--", s.script.native()});
  auto bisecting = start_cli(args, dir.path() / "run.log");
  ASSERT_TRUE(bisecting.has_value()) << bisecting.error().message();
  ASSERT_TRUE(wait_for([&] { return line_count(s.pids) >= 2; }));
  base::ProcessOptions options = cli_options({}, {}, std::nullopt);
  options.argv = {"/bin/sh",       "-c",   "\"$0\" \"$@\" | head -c 10",
                  FLAKEBISECT_BIN, "--db", s.db.native(),
                  "watch",         "1",    "--plain",
                  "--interval",    "0.2"};
  options.timeout = std::chrono::seconds(30);
  auto watched = base::run_process(options);
  ASSERT_TRUE(watched.has_value()) << watched.error().message();
  EXPECT_FALSE(watched->timed_out) << "watch went on without a reader";
  EXPECT_EQ(watched->out.size(), 10U);
  EXPECT_EQ(stored_state(s.db, 1), "running");

  base::ProcessOptions full = cli_options({}, {}, std::nullopt);
  full.argv = {"/bin/sh",       "-c",   "\"$0\" \"$@\" > /dev/full",
               FLAKEBISECT_BIN, "--db", s.db.native(),
               "report",        "1",    "--format",
               "json"};
  auto refused = base::run_process(full);
  ASSERT_TRUE(refused.has_value()) << refused.error().message();
  EXPECT_EQ(refused->exit_code, 1);
  EXPECT_THAT(refused->err,
              HasSubstr("flakebisect: error: writing standard output: No space left on device"));

  ::kill(bisecting->pid(), SIGTERM);
  auto status = bisecting->wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value() && status->has_value());
}

}  // namespace
}  // namespace flakebisect::testing
