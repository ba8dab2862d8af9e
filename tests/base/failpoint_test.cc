#include "base/failpoint.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <csignal>

#include "base/process.h"
#include "base/child_processes.h"

namespace flakebisect::base {
namespace {

// Each death test re-executes the test binary (threadsafe style), so the child reads the variable
// afresh; the parent unsets it again at once.
class FailpointTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  void TearDown() override { ::unsetenv("FLAKEBISECT_FAILPOINT"); }
};

TEST_F(FailpointTest, AnArmedPointKillsTheProcessWithSigkill) {
  ::setenv("FLAKEBISECT_FAILPOINT", "after-checkout", 1);
  EXPECT_EXIT(
      {
        failpoint(kFailpointAfterRunCommit);  // another point: nothing happens
        failpoint(kFailpointAfterCheckout);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "");
}

TEST_F(FailpointTest, ACountFiresAtThatHit) {
  ::setenv("FLAKEBISECT_FAILPOINT", "after-run-commit:3", 1);
  EXPECT_EXIT(
      {
        failpoint(kFailpointAfterRunCommit);
        failpoint(kFailpointAfterRunCommit);
        std::fprintf(stderr, "survived two\n");
        failpoint(kFailpointAfterRunCommit);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "survived two");
}

TEST_F(FailpointTest, ABadSpecArmsNothing) {
  ::setenv("FLAKEBISECT_FAILPOINT", "after-checkout:zero", 1);
  EXPECT_EXIT(
      {
        failpoint(kFailpointAfterCheckout);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

void run_sleep_under_during_run_failpoint() {
  FailpointWhileChildRuns point(kFailpointDuringRun);
  base::ProcessOptions options;
  options.argv = {"sleep", "5"};
  (void)base::run_process(options);
  std::fprintf(stderr, "the child finished\n");
  std::exit(0);
}

TEST_F(FailpointTest, DuringRunDiesWhileTheChildRuns) {
  ::setenv("FLAKEBISECT_FAILPOINT", "during-run", 1);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EXIT(run_sleep_under_during_run_failpoint(), ::testing::KilledBySignal(SIGKILL), "");
  // It died while `sleep 5` ran, not after.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST(ChildProcesses, ListsAndKillsTheGroupsOfRunningChildren) {
  base::ProcessOptions options;
  options.argv = {"sleep", "30"};
  auto child = base::ChildProcess::start(options);
  ASSERT_TRUE(child.has_value());
  const auto children = child_processes();
  // The tool's child is the guard that leads the program's group.
  EXPECT_NE(std::find(children.begin(), children.end(), child->group()), children.end());
  EXPECT_GE(signal_child_process_groups(SIGKILL), 1U);
  auto status = child->wait_for(std::chrono::seconds(5));
  ASSERT_TRUE(status.has_value() && status->has_value());
  EXPECT_EQ((*status)->term_signal, SIGKILL);
}

}  // namespace
}  // namespace flakebisect::base
