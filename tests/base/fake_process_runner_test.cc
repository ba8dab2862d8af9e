#include "base/fake_process_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

namespace flakebisect::base {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ProcessOptions command(std::vector<std::string> argv) {
  ProcessOptions options;
  options.argv = std::move(argv);
  return options;
}

TEST(FakeProcessRunnerTest, RecordsEveryCallWithItsFullOptions) {
  FakeProcessRunner runner;
  runner.on({}, FakeProcessRunner::exited(0));
  auto options = command({"make", "-j8", "bzImage"});
  options.cwd = "/src/linux";
  options.env_set = {{"ARCH", "x86_64"}};
  ASSERT_TRUE(runner.run(options));
  ASSERT_TRUE(runner.run(command({"git", "status"})));

  EXPECT_EQ(runner.call_count(), 2u);
  EXPECT_THAT(runner.argvs(),
              ElementsAre(ElementsAre("make", "-j8", "bzImage"), ElementsAre("git", "status")));
  const auto calls = runner.calls();
  EXPECT_EQ(calls[0].cwd, "/src/linux");
  EXPECT_EQ(calls[0].env_set[0].second, "x86_64");
}

TEST(FakeProcessRunnerTest, TheFirstRuleWhoseArgvPrefixMatchesAnswers) {
  FakeProcessRunner runner;
  runner.on({"make", "olddefconfig"}, FakeProcessRunner::exited(0, "configured"))
      .on({"make"}, FakeProcessRunner::exited(2, "", "error: foo.c"));
  EXPECT_EQ(runner.run(command({"make", "olddefconfig"}))->out, "configured");
  const auto build = runner.run(command({"make", "-j8"}));
  ASSERT_TRUE(build);
  EXPECT_EQ(build->exit_code, 2);
  EXPECT_EQ(build->err, "error: foo.c");
}

TEST(FakeProcessRunnerTest, OneShotRulesAreSpentSoTheyScriptASequence) {
  FakeProcessRunner runner;
  runner.on({}, FakeProcessRunner::exited(1), 1)
      .on({}, FakeProcessRunner::timed_out("partial"), 1)
      .on({}, FakeProcessRunner::signalled(SIGSEGV), 1);
  EXPECT_EQ(runner.pending_one_shot_rules(), 3u);
  EXPECT_EQ(runner.run(command({"repro"}))->exit_code, 1);
  const auto second = runner.run(command({"repro"}));
  EXPECT_TRUE(second->timed_out);
  EXPECT_EQ(second->term_signal, SIGKILL);
  EXPECT_EQ(second->out, "partial");
  EXPECT_EQ(runner.run(command({"repro"}))->term_signal, SIGSEGV);
  EXPECT_EQ(runner.pending_one_shot_rules(), 0u);
  EXPECT_FALSE(runner.run(command({"repro"}))) << "the script has run out";
}

TEST(FakeProcessRunnerTest, AnUnscriptedCallIsAnErrorNamingTheCommandAndIsStillRecorded) {
  FakeProcessRunner runner;
  const auto result = runner.run(command({"rm", "-rf", "/"}));
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message(), HasSubstr("rm -rf /"));
  EXPECT_EQ(runner.call_count(), 1u);
}

TEST(FakeProcessRunnerTest, RulesCanAnswerWithAToolErrorOrAHandlerThatSeesTheOptions) {
  FakeProcessRunner runner;
  runner.on({"qemu-system-x86_64"}, Error("qemu-system-x86_64: not found", ErrorCode::kNotFound));
  runner.on({"cat"}, [](const ProcessOptions& options) -> Result<ProcessResult> {
    return FakeProcessRunner::exited(0, options.stdin_data.value_or(""));
  });
  const auto qemu = runner.run(command({"qemu-system-x86_64", "-m", "2G"}));
  ASSERT_FALSE(qemu);
  EXPECT_EQ(qemu.error().code(), ErrorCode::kNotFound);
  auto cat = command({"cat"});
  cat.stdin_data = "echoed";
  EXPECT_EQ(runner.run(cat)->out, "echoed");
}

TEST(FakeProcessRunnerTest, ItIsAProcessRunnerThatModulesCanTakeByReference) {
  FakeProcessRunner fake;
  fake.on({"uname"}, FakeProcessRunner::exited(0, "Linux\n"));
  ProcessRunner& runner = fake;
  EXPECT_EQ(runner.run(command({"uname"}))->out, "Linux\n");
}

}  // namespace
}  // namespace flakebisect::base
