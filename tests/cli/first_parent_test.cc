// `--first-parent` end to end: the real binary bisects a generated history whose regression was
// planted on a topic branch, with the real git and a real test script, and every command that
// looks at the bisection afterwards (resume after a crash, status, the daemon, report and the
// bisect-log replayed by real `git bisect replay`) sees the same first-parent candidates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "base/process.h"
#include "cli/commands.h"
#include "engine/git_history.h"

namespace flakebisect::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

class FirstParentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    history_ = testing::make_history(dir_ / "repo", testing::sized(120, 2));
    script_ = dir_ / "test.sh";
    testing::write_text(script_, testing::flaky_script(50), /*executable=*/true);
    db_ = dir_ / "state" / "flakebisect.db";
    merge_ = history_.shas[testing::first_parent_culprit(history_)];
    for (size_t i : testing::first_parent_chain(history_)) chain_.push_back(history_.shas[i]);
    chain_.erase(chain_.begin());  // the root is the good commit
  }

  // `flakebisect --db <db_> args...`.
  base::ProcessResult flakebisect(const std::vector<std::string>& args,
                                  std::vector<std::pair<std::string, std::string>> env = {}) {
    base::ProcessOptions options;
    options.argv = {FLAKEBISECT_BINARY_DIR "/bin/flakebisect", "--db", db_.native()};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.env_set = std::move(env);
    options.env_unset = {"FLAKEBISECT_FAILPOINT"};
    options.timeout = std::chrono::seconds(120);
    auto result = base::run_process(options);
    EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message());
    return result ? *result : base::ProcessResult{};
  }

  // `run` or `start` of the whole history, with `extra` options before the test command.
  std::vector<std::string> bisect_args(const std::string& command,
                                       const std::vector<std::string>& extra) {
    std::vector<std::string> args = {
        command, "--repo", history_.repo.native(), "--good", history_.root, "--bad", history_.tip};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--", script_.native()});
    return args;
  }

  static json parsed(const base::ProcessResult& result) {
    json value = json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(value.is_discarded()) << result.out << result.err;
    return value;
  }

  // The report's candidate commits, in its order (oldest first).
  std::vector<std::string> report_commits(int64_t id) {
    const base::ProcessResult report = flakebisect({"report", std::to_string(id), "--json"});
    EXPECT_EQ(report.exit_code, kExitOk) << report.err;
    const json document = parsed(report);
    std::vector<std::string> shas;
    for (const json& commit : document["commits"]) shas.push_back(commit["sha"]);
    return shas;
  }

  // What real git says the first bad commit is after replaying bisection `id`'s bisect-log.
  std::string replayed_first_bad_commit(int64_t id) {
    const base::ProcessResult log =
        flakebisect({"report", std::to_string(id), "--format", "bisect-log"});
    EXPECT_EQ(log.exit_code, kExitOk) << log.err;
    const fs::path clone = dir_ / ("clone-" + std::to_string(id));
    testing::git(dir_.path(), {"clone", "-q", history_.repo.native(), clone.native()});
    const fs::path file = dir_ / ("bisect-log-" + std::to_string(id));
    testing::write_text(file, log.out);
    const std::string out = testing::git(clone, {"bisect", "replay", file.native()});
    std::smatch match;
    if (!std::regex_search(out, match, std::regex("([0-9a-f]{40}) is the first bad commit"))) {
      ADD_FAILURE() << "git did not name a first bad commit:\n" << out << "\nlog:\n" << log.out;
      return "";
    }
    return match[1].str();
  }

  testing::TempDir dir_;
  testing::History history_;
  fs::path script_;
  fs::path db_;
  std::string merge_;               // the merge on the first-parent chain that brought the bug in
  std::vector<std::string> chain_;  // the first-parent candidates, oldest first
};

TEST_F(FirstParentTest, RunWithFirstParentNamesTheMergeAndWithoutItTheTopicCommit) {
  // The planted commit is on a topic branch: only its merge is on the first-parent chain.
  ASSERT_NE(merge_, history_.planted_sha());
  const base::ProcessResult first_parent =
      flakebisect(bisect_args("run", {"--first-parent", "--json"}));
  ASSERT_EQ(first_parent.exit_code, kExitOk) << first_parent.err;
  const json result = parsed(first_parent);
  EXPECT_EQ(result["status"], "found");
  EXPECT_EQ(result["culprit"]["sha"], merge_);
  EXPECT_EQ(result["candidates"], chain_.size());

  const base::ProcessResult full = flakebisect(bisect_args("run", {"--json"}));
  ASSERT_EQ(full.exit_code, kExitOk) << full.err;
  EXPECT_EQ(parsed(full)["culprit"]["sha"], history_.planted_sha());
  EXPECT_GT(parsed(full)["candidates"].get<size_t>(), chain_.size());
}

TEST_F(FirstParentTest, AfterACrashResumeStatusAndReportKeepTheFirstParentCandidates) {
  const base::ProcessResult crashed = flakebisect(
      bisect_args("run", {"--first-parent"}), {{"FLAKEBISECT_FAILPOINT", "after-run-commit:6"}});
  ASSERT_EQ(crashed.term_signal, SIGKILL) << crashed.err;

  // status, of the bisection the crash left running.
  const json status = parsed(flakebisect({"status", "1", "--json"}));
  EXPECT_EQ(status["first_parent"], true);
  EXPECT_EQ(status["owner_alive"], false);
  EXPECT_THAT(flakebisect({"status", "1", "--plain"}).out,
              HasSubstr("\n  range:   first-parent chain of bad only (--first-parent)\n"));
  EXPECT_THAT(report_commits(1), ElementsAreArray(chain_));

  const base::ProcessResult resumed = flakebisect({"resume", "1", "--json"});
  ASSERT_EQ(resumed.exit_code, kExitOk) << resumed.err;
  EXPECT_EQ(parsed(resumed)["culprit"]["sha"], merge_);

  const json report = parsed(flakebisect({"report", "1", "--json"}));
  EXPECT_EQ(report["bisection"]["first_parent"], true);
  EXPECT_EQ(report["result"]["culprit"]["sha"], merge_);
  EXPECT_THAT(report_commits(1), ElementsAreArray(chain_));
  const std::string text = flakebisect({"report", "1"}).out;
  EXPECT_THAT(text, HasSubstr("\ncandidates:   " + std::to_string(chain_.size()) +
                              " commits, the first-parent chain of bad (merges"));

  // git, told --first-parent by the log, walks the same chain and ends at the merge.
  const std::string log = flakebisect({"report", "1", "--format", "bisect-log"}).out;
  EXPECT_THAT(log, HasSubstr("\ngit bisect start '--first-parent' '" + history_.tip + "' '" +
                             history_.root + "'\n"));
  EXPECT_EQ(replayed_first_bad_commit(1), merge_);
}

TEST_F(FirstParentTest, StartWithFirstParentIsServedByTheDaemonWithTheSameCandidates) {
  const base::ProcessResult start = flakebisect(bisect_args("start", {"--first-parent"}));
  ASSERT_EQ(start.exit_code, kExitOk) << start.err;
  EXPECT_EQ(start.out, "1\n");
  // Queued: no candidates yet, but status already says which range it will walk.
  EXPECT_EQ(parsed(flakebisect({"status", "1", "--json"}))["first_parent"], true);

  const base::ProcessResult daemon = flakebisect({"daemon", "--exit-when-idle"});
  ASSERT_EQ(daemon.exit_code, kExitOk) << daemon.err;
  const json report = parsed(flakebisect({"report", "1", "--json"}));
  EXPECT_EQ(report["bisection"]["state"], "found");
  EXPECT_EQ(report["result"]["culprit"]["sha"], merge_);
  EXPECT_THAT(report_commits(1), ElementsAreArray(chain_));

  // Without the flag nothing says first-parent.
  ASSERT_EQ(flakebisect(bisect_args("start", {})).exit_code, kExitOk);
  EXPECT_EQ(parsed(flakebisect({"status", "2", "--json"}))["first_parent"], false);
  EXPECT_THAT(flakebisect({"status", "2", "--plain"}).out, Not(HasSubstr("range:")));
}

TEST_F(FirstParentTest, TheConfigKeyDoesWhatTheFlagDoes) {
  const fs::path config = dir_ / "bisect.toml";
  const std::string text =
      "[range]\nfirst_parent = true\n\n[test]\ncommand = [\"" + script_.native() + "\"]\n";
  testing::write_text(config, text);
  const base::ProcessResult run =
      flakebisect({"run", "--repo", history_.repo.native(), "--good", history_.root, "--bad",
                   history_.tip, "--config", config.native(), "--json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(parsed(run)["culprit"]["sha"], merge_);
  const json report = parsed(flakebisect({"report", "1", "--json"}));
  EXPECT_EQ(report["bisection"]["config_text"], text);  // the user's file, as written
  EXPECT_EQ(report["bisection"]["first_parent"], true);
  EXPECT_THAT(report_commits(1), ElementsAreArray(chain_));
}

}  // namespace
}  // namespace flakebisect::cli
