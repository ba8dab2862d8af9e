#include "run/runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <map>

#include "base/fake_process_runner.h"

namespace flakebisect::run {
namespace {

using base::FakeProcessRunner;
using store::RunOutcome;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(ClassifyExit, FollowsGitBisectRunExitCodes) {
  EXPECT_EQ(classify_exit(FakeProcessRunner::exited(0)), RunOutcome::kPass);
  EXPECT_EQ(classify_exit(FakeProcessRunner::exited(125)), RunOutcome::kSkip);
  for (int code : {1, 2, 100, 124, 126, 127}) {
    EXPECT_EQ(classify_exit(FakeProcessRunner::exited(code)), RunOutcome::kFail) << code;
  }
  for (int code : {128, 129, 200, 255}) {
    EXPECT_EQ(classify_exit(FakeProcessRunner::exited(code)), RunOutcome::kInfra) << code;
  }
}

TEST(ClassifyExit, ASignalIsInfraAndATimeoutIsAHang) {
  EXPECT_EQ(classify_exit(FakeProcessRunner::signalled(SIGSEGV)), RunOutcome::kInfra);
  EXPECT_EQ(classify_exit(FakeProcessRunner::signalled(SIGKILL)), RunOutcome::kInfra);
  EXPECT_EQ(classify_exit(FakeProcessRunner::timed_out()), RunOutcome::kHang);
  base::ProcessResult silent = FakeProcessRunner::signalled(SIGKILL);
  silent.no_output_timeout = true;
  EXPECT_EQ(classify_exit(silent), RunOutcome::kHang);
}

class CommandRunnerTest : public ::testing::Test {
 protected:
  CommandRunnerOptions options() {
    CommandRunnerOptions o;
    o.argv = {"./repro.sh", "$(touch x)", "a b"};
    o.timeout = std::chrono::seconds(30);
    o.no_output_timeout = std::chrono::seconds(5);
    return o;
  }
  build::CommitCheckout checkout{"0123456789abcdef0123456789abcdef01234567", "/src/linux", "/wt/b-1", ""};
  FakeProcessRunner processes;
};

TEST_F(CommandRunnerTest, RunsTheArgvInTheWorktreeWithTheCommitInItsEnvironment) {
  processes.on({"./repro.sh"},
               FakeProcessRunner::exited(1, "cmpbuf: offset 4096: Expected 0x1, got 0x0\n"));
  CommandRunner runner(processes, options());
  auto outcome = runner.run(checkout, 7);
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_EQ(outcome->outcome, RunOutcome::kFail);
  EXPECT_THAT(outcome->detail, HasSubstr("exit 1"));
  EXPECT_THAT(outcome->detail, HasSubstr("Expected 0x1, got 0x0"));

  ASSERT_EQ(processes.calls().size(), 1U);
  const base::ProcessOptions call = processes.calls()[0];
  EXPECT_THAT(call.argv, ElementsAre("./repro.sh", "$(touch x)", "a b"));
  EXPECT_EQ(call.cwd, "/wt/b-1");
  EXPECT_EQ(call.timeout, std::chrono::seconds(30));
  EXPECT_EQ(call.no_output_timeout, std::chrono::seconds(5));
  EXPECT_TRUE(call.merge_stderr);
  EXPECT_THAT(call.env_set, UnorderedElementsAre(Pair("FLAKEBISECT_COMMIT", checkout.sha),
                                                 Pair("FLAKEBISECT_REPO", "/src/linux"),
                                                 Pair("FLAKEBISECT_WORKTREE", "/wt/b-1"),
                                                 Pair("FLAKEBISECT_RUN", "7")));
  EXPECT_THAT(call.env_unset, IsSupersetOf({"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"}));
}

TEST_F(CommandRunnerTest, ATimeoutIsAHangNotAPass) {
  processes.on({}, FakeProcessRunner::timed_out("still running\n"));
  CommandRunner runner(processes, options());
  auto outcome = runner.run(checkout, 0);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->outcome, RunOutcome::kHang);
}

TEST_F(CommandRunnerTest, KeepsOnlyTheTailOfHugeOutput) {
  processes.on({}, FakeProcessRunner::exited(0, std::string(100000, 'x') + "\nlast line\n"));
  CommandRunner runner(processes, options());
  auto outcome = runner.run(checkout, 0);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_LE(outcome->detail.size(), kRunDetailTailBytes + 64);
  EXPECT_THAT(outcome->detail, HasSubstr("last line"));
}

TEST_F(CommandRunnerTest, AProgramThatCannotStartIsAnErrorNotAnOutcome) {
  processes.on({}, base::Error("./repro.sh: not found", base::ErrorCode::kNotFound));
  CommandRunner runner(processes, options());
  auto outcome = runner.run(checkout, 3);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code(), base::ErrorCode::kNotFound);
  EXPECT_THAT(outcome.error().message(), HasSubstr("test 0123456789ab run 3"));
  // A relative path is the checkout's: the error says where it looked, and that resuming the
  // same command cannot find it.
  EXPECT_THAT(outcome.error().message(),
              HasSubstr("./repro.sh: not found (looked up in the checkout " + checkout.worktree +
                        "); a bisection's test command cannot change"));
  // A missing #! interpreter is also "not found", but installing it and resuming fixes that.
  base::FakeProcessRunner no_interpreter;
  no_interpreter.on({}, base::Error("./repro.sh: its interpreter '/usr/bin/python9' (the #! line) "
                                    "does not exist",
                                    base::ErrorCode::kNotFound));
  CommandRunner other(no_interpreter, options());
  outcome = other.run(checkout, 4);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_THAT(outcome.error().message(), HasSubstr("its interpreter '/usr/bin/python9'"));
  EXPECT_THAT(outcome.error().message(), Not(HasSubstr("cannot change")));
}

}  // namespace
}  // namespace flakebisect::run
