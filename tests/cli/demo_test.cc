// The demo's generated history (the bisection itself is exercised by `flakebisect demo` in
// scripts/demo.sh and by tests/qemu/).
#include "cli/demo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/process.h"
#include "support/temp_dir.h"

namespace flakebisect::cli {
namespace {

using test_support::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

base::ProcessResult git(const std::string& repo, std::vector<std::string> args,
                        std::optional<std::string> input = std::nullopt) {
  base::ProcessOptions options;
  options.argv = {"git", "-C", repo};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdin_data = std::move(input);
  options.timeout = std::chrono::seconds(60);
  options.env_set = {{"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", "/dev/null"}};
  auto result = base::run_process(options);
  EXPECT_TRUE(result && result->succeeded()) << (result ? result->err : result.error().message());
  return result ? *result : base::ProcessResult{};
}

TEST(DemoHistoryTest, IsTheSameEveryTime) {
  EXPECT_EQ(demo_history(60).stream, demo_history(60).stream);
}

TEST(DemoHistoryTest, PlantsTheRaceOnATopicBranchThatReachesMain) {
  TempDir dir;
  const std::string repo = dir.file("repo");
  const DemoHistory history = demo_history(60);
  git(dir.path(), {"init", "-q", "-b", "main", repo});
  git(repo, {"fast-import", "--quiet"}, history.stream);
  EXPECT_EQ(git(repo, {"rev-list", "--count", "main"}).out, std::to_string(history.commits) + "\n");
  EXPECT_EQ(git(repo, {"rev-list", "--count", "--merges", "main"}).out,
            std::to_string(history.merges) + "\n");
  EXPECT_GE(history.merges, 3u);

  const std::string culprit =
      git(repo, {"rev-parse", "main^{/^applog: reserve slots}"}).out.substr(0, 40);
  // Its parent is good, it and main are racy: the tail is read outside the lock.
  const std::string racy = "tail_offset = slot + (off_t)block;";
  const auto has_race = [&](const std::string& rev) {
    return git(repo, {"show", rev + ":applog.c"}).out.find(racy) != std::string::npos;
  };
  EXPECT_FALSE(has_race(culprit + "^"));
  EXPECT_TRUE(has_race(culprit));
  EXPECT_TRUE(has_race("main"));
  // It came in through a merge: it is not on main's first-parent line.
  EXPECT_THAT(git(repo, {"rev-list", "--first-parent", "main"}).out, Not(HasSubstr(culprit)));
  // Exactly one commit makes the change.
  EXPECT_EQ(git(repo, {"log", "--format=%H", "-G", "tail_offset = slot", "main", "--", "applog.c"})
                .out,
            culprit + "\n");
  // Reverting it on main applies cleanly and takes the race out (the demo's revert check).
  git(repo, {"reset", "-q", "--hard"});
  git(repo,
      {"-c", "user.name=t", "-c", "user.email=t@example.org", "revert", "--no-edit", culprit});
  EXPECT_FALSE(has_race("HEAD"));
  EXPECT_EQ(git(repo, {"show", "HEAD:applog.c"}).out,
            git(repo, {"show", culprit + "^:applog.c"}).out);
}

}  // namespace
}  // namespace flakebisect::cli
