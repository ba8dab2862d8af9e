#include "base/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/paths.h"
#include "test_util.h"

namespace flakebisect::base {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::read_whole_file;
using testing::TempDir;
using testing::wait_until_gone;

// Every test run is bounded, so a broken implementation fails instead of hanging the suite.
constexpr milliseconds kSafetyTimeout = seconds(20);

ProcessOptions command(std::vector<std::string> argv) {
  ProcessOptions options;
  options.argv = std::move(argv);
  options.timeout = kSafetyTimeout;
  return options;
}

ProcessResult run_ok(const ProcessOptions& options) {
  auto result = run_process(options);
  EXPECT_TRUE(result) << result.error().message();
  return result ? *std::move(result) : ProcessResult{};
}

std::string seq_output(int last) {
  std::string text;
  for (int i = 1; i <= last; ++i) {
    text += std::to_string(i) + "\n";
  }
  return text;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  size_t start = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    result.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return result;
}

pid_t read_pid(const std::string& path) {
  const std::string text = read_whole_file(path);
  return text.empty() ? -1 : static_cast<pid_t>(std::stol(text));
}

TEST(ProcessTest, ExitCodeIsReported) {
  const auto zero = run_ok(command({"true"}));
  EXPECT_EQ(zero.exit_code, 0);
  EXPECT_TRUE(zero.succeeded());
  const auto three = run_ok(command({"sh", "-c", "exit 3"}));
  EXPECT_EQ(three.exit_code, 3);
  EXPECT_EQ(three.term_signal, 0);
  EXPECT_FALSE(three.succeeded());
  EXPECT_FALSE(three.timed_out);
  EXPECT_EQ(three.status_text({}), "exit 3");
}

TEST(ProcessTest, DeathBySignalIsReportedAsMinusOneAndTheSignal) {
  const auto result = run_ok(command({"sh", "-c", "kill -TERM $$"}));
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_EQ(result.term_signal, SIGTERM);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.status_text({}), "killed by signal 15 (SIGTERM)");
}

TEST(ProcessTest, ACrashIsReportedAsItsSignalWithoutACoreFile) {
  TempDir tmp;
  // The tool allows core files, the program does not make one: a core file in its directory can
  // only be the guard's.
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &old_limit), 0);
  rlimit allow = old_limit;
  allow.rlim_cur = old_limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_CORE, &allow), 0);
  auto options = command({"sh", "-c", "ulimit -c 0; kill -SEGV $$"});
  options.cwd = tmp.path();
  const auto result = run_ok(options);
  ::setrlimit(RLIMIT_CORE, &old_limit);
  EXPECT_EQ(result.term_signal, SIGSEGV);
  EXPECT_EQ(result.status_text({}), "killed by signal 11 (SIGSEGV)");
  // The guard relays the program's death by dying the same way, and must not dump a core of its
  // own into the program's directory.
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) {
    ADD_FAILURE() << "left behind: " << entry.path();
  }
}

TEST(ProcessTest, AProgramSignallingItsOwnGroupStillHasItsOwnStatusReported) {
  // `kill 0` reaches the whole group, the guard included, which must not die of it: the status is
  // the program's, which ignores the signal and exits 3.
  const auto result = run_ok(command({"sh", "-c", "trap '' TERM; kill 0; exit 3"}));
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.term_signal, 0);
}

TEST(ProcessTest, AProgramThatWaitsForAllItsChildrenIsNotKeptWaiting) {
  // The guard is the program's parent, not its child: a program that reaps every child until
  // there are none (as init-like harnesses do) must see only its own.
  const auto result =
      run_ok(command({"perl", "-e", "my $n = 0; $n++ while wait() != -1; print \"$n\\n\""}));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "0\n");
}

TEST(ProcessTest, StdoutAndStderrAreCapturedSeparately) {
  const auto result = run_ok(command({"sh", "-c", "printf out; printf err >&2"}));
  EXPECT_EQ(result.out, "out");
  EXPECT_EQ(result.err, "err");
  EXPECT_EQ(result.out_dropped, 0u);
  EXPECT_EQ(result.err_dropped, 0u);
}

TEST(ProcessTest, MergedStderrIsInterleavedIntoStdout) {
  auto options = command({"sh", "-c", "echo a; echo b >&2; echo c"});
  options.merge_stderr = true;
  const auto result = run_ok(options);
  EXPECT_EQ(result.out, "a\nb\nc\n");
  EXPECT_EQ(result.err, "");
}

TEST(ProcessTest, OutputCapKeepsTheTailAndCountsWhatWasDropped) {
  auto options = command({"sh", "-c", "printf 0123456789abcdefghij; printf 0123456789 >&2"});
  options.output_cap = 10;
  const auto result = run_ok(options);
  EXPECT_EQ(result.out, "abcdefghij");
  EXPECT_EQ(result.out_dropped, 10u);
  EXPECT_EQ(result.err, "0123456789");
  EXPECT_EQ(result.err_dropped, 0u);
}

TEST(ProcessTest, OutputCapKeepsTheExactTailOfALargeStream) {
  auto options = command({"seq", "1", "200000"});
  options.output_cap = 1000;
  const auto result = run_ok(options);
  const std::string all = seq_output(200000);
  EXPECT_EQ(result.out, all.substr(all.size() - 1000));
  EXPECT_EQ(result.out_dropped, all.size() - 1000);
}

TEST(ProcessTest, StdoutFileFollowsTheOutputAndEndsHoldingTheSameTail) {
  TempDir tmp;
  auto options = command({"seq", "1", "100000"});
  options.output_cap = 1000;
  options.stdout_path = tmp.file("out.log");
  const auto result = run_ok(options);
  const std::string all = seq_output(100000);
  EXPECT_EQ(result.out, all.substr(all.size() - 1000));
  EXPECT_EQ(read_whole_file(tmp.file("out.log")), result.out);

  options.argv = {"echo", "hello"};
  run_ok(options);
  EXPECT_EQ(read_whole_file(tmp.file("out.log")), "hello\n") << "the file is truncated first";
}

TEST(ProcessTest, UnwritableStdoutFileIsAnErrorNamingIt) {
  auto options = command({"true"});
  options.stdout_path = "/nonexistent-dir/out.log";
  const auto result = run_process(options);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message(), HasSubstr("/nonexistent-dir/out.log"));
}

TEST(ProcessTest, StdinDataReachesTheChild) {
  auto options = command({"cat"});
  options.stdin_data = "line one\nline two\n";
  EXPECT_EQ(run_ok(options).out, "line one\nline two\n");
}

TEST(ProcessTest, WithoutStdinDataTheChildReadsEndOfFileNotTheToolsInput) {
  const auto result = run_ok(command({"cat"}));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "");
}

TEST(ProcessTest, LargeStdinAndOutputFlowAtOnceWithoutDeadlock) {
  std::string input;
  for (int i = 0; input.size() < (4u << 20); ++i) {
    input += "input line " + std::to_string(i) + "\n";
  }
  auto options = command({"cat"});
  options.stdin_data = input;
  options.output_cap = 8u << 20;
  const auto result = run_ok(options);
  EXPECT_EQ(result.out.size(), input.size());
  EXPECT_TRUE(result.out == input);
}

TEST(ProcessTest, AChildFillingStderrBeforeStdoutDoesNotDeadlock) {
  // Each stream is far larger than a pipe buffer: reading stdout alone first would hang.
  auto options = command({"sh", "-c", "seq 1 200000 >&2; seq 1 200000"});
  options.output_cap = 4u << 20;
  const auto result = run_ok(options);
  EXPECT_EQ(result.exit_code, 0);
  // EXPECT_TRUE, not EXPECT_EQ: gtest's diff of megabyte strings takes minutes.
  const std::string expected = seq_output(200000);
  EXPECT_EQ(result.err.size(), expected.size());
  EXPECT_TRUE(result.err == expected);
  EXPECT_EQ(result.out.size(), expected.size());
  EXPECT_TRUE(result.out == expected);
}

TEST(ProcessTest, AChildThatIgnoresItsStdinDoesNotKillTheToolWithSigpipe) {
  auto options = command({"true"});
  options.stdin_data = std::string(4u << 20, 'x');
  const auto result = run_ok(options);
  EXPECT_EQ(result.exit_code, 0);
}

TEST(ProcessTest, EnvironmentVariablesAreSetAndUnset) {
  ASSERT_EQ(::setenv("FLAKEBISECT_TEST_DROP_ME", "1", 1), 0);
  auto options = command({"env"});
  options.env_set = {{"FLAKEBISECT_TEST_VAR", "a value with spaces"},
                     {"FLAKEBISECT_TEST_TWICE", "first"},
                     {"FLAKEBISECT_TEST_TWICE", "second"}};
  options.env_unset = {"FLAKEBISECT_TEST_DROP_ME"};
  const auto env = lines(run_ok(options).out);
  ::unsetenv("FLAKEBISECT_TEST_DROP_ME");
  EXPECT_THAT(env, Contains("FLAKEBISECT_TEST_VAR=a value with spaces"));
  EXPECT_THAT(env, Contains("FLAKEBISECT_TEST_TWICE=second"));
  EXPECT_THAT(env, Not(Contains("FLAKEBISECT_TEST_TWICE=first")));
  EXPECT_THAT(env, Not(Contains(HasSubstr("FLAKEBISECT_TEST_DROP_ME"))));
  EXPECT_THAT(env, Contains(::testing::StartsWith("PATH="))) << "the rest is inherited";
}

TEST(ProcessTest, WithoutInheritTheChildSeesOnlyTheVariablesSet) {
  auto options = command({"env"});
  options.inherit_env = false;
  options.env_set = {{"ONLY", "1"}};
  EXPECT_EQ(run_ok(options).out, "ONLY=1\n");
}

TEST(ProcessTest, TheProgramIsLookedUpInThePathTheChildWillHave) {
  TempDir tmp;
  const std::string tool = tmp.file("flakebisect-test-tool");
  ASSERT_TRUE(write_file_atomic(tool, "#!/bin/sh\necho from the child path\n", 0755));
  EXPECT_FALSE(run_process(command({"flakebisect-test-tool"})));
  auto options = command({"flakebisect-test-tool"});
  options.env_set = {{"PATH", tmp.path() + ":/usr/bin:/bin"}};
  EXPECT_EQ(run_ok(options).out, "from the child path\n");
}

TEST(ProcessTest, TheChildRunsInTheRequestedDirectory) {
  TempDir tmp;
  auto options = command({"pwd", "-P"});
  options.cwd = tmp.path();
  EXPECT_EQ(run_ok(options).out, std::filesystem::canonical(tmp.path()).string() + "\n");
}

TEST(ProcessTest, AMissingWorkingDirectoryIsAnErrorNamingIt) {
  auto options = command({"true"});
  options.cwd = "/nonexistent-flakebisect-dir";
  const auto result = run_process(options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(result.error().message(), HasSubstr("/nonexistent-flakebisect-dir"));
}

TEST(ProcessTest, AnExecutableNotOnPathIsANotFoundErrorNamingIt) {
  const auto result = run_process(command({"flakebisect-no-such-program", "arg"}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(result.error().message(), "flakebisect-no-such-program: not found");
}

TEST(ProcessTest, AMissingPathIsReportedFromTheFailedExecAsNotFoundRatherThanExit127) {
  const auto result = run_process(command({"/nonexistent/flakebisect-prog"}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(result.error().message(), "/nonexistent/flakebisect-prog: not found");
}

TEST(ProcessTest, ANonExecutableFileIsAnErrorSayingSoWithItsModeRatherThanExit126) {
  TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp.file("data.txt"), "not a program\n", 0644));
  const auto result = run_process(command({tmp.file("data.txt")}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(),
            tmp.file("data.txt") + ": is not executable (mode 0644; chmod +x it)");
}

TEST(ProcessTest, ADirectoryAsTheProgramIsAnErrorSayingItIsADirectory) {
  TempDir tmp;
  ASSERT_TRUE(make_private_dir(tmp.file("tests")));
  const auto result = run_process(command({tmp.file("tests")}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(), tmp.file("tests") + ": is a directory");
}

TEST(ProcessTest, AScriptWhoseInterpreterIsMissingIsAnErrorNamingTheInterpreterNotTheScript) {
  TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp.file("badinterp.sh"), "#!/nonexistent/interp\nexit 0\n", 0755));
  const auto result = run_process(command({tmp.file("badinterp.sh")}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(result.error().message(),
            tmp.file("badinterp.sh") +
                ": its interpreter '/nonexistent/interp' (the #! line) does not exist");
}

TEST(ProcessTest, ARelativeProgramIsExplainedFromTheWorkingDirectoryTheChildHad) {
  TempDir tmp;
  ASSERT_TRUE(make_private_dir(tmp.file("checkout/tools")));
  ASSERT_TRUE(
      write_file_atomic(tmp.file("checkout/tools/run.sh"), "#!/nonexistent/interp\n", 0755));
  auto options = command({"tools/run.sh"});
  options.cwd = tmp.file("checkout");
  const auto result = run_process(options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(),
            "tools/run.sh: its interpreter '/nonexistent/interp' (the #! line) does not exist");
}

TEST(ProcessTest, AProgramOnPathWithAMissingInterpreterIsNamedByItsFullPath) {
  TempDir tmp;
  ASSERT_TRUE(
      write_file_atomic(tmp.file("flakebisect-test-tool"), "#!/nonexistent/interp\n", 0755));
  auto options = command({"flakebisect-test-tool"});
  options.env_set = {{"PATH", tmp.path()}};
  const auto result = run_process(options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(),
            tmp.file("flakebisect-test-tool") +
                ": its interpreter '/nonexistent/interp' (the #! line) does not exist");
}

TEST(ProcessTest, AScriptWithoutAHashBangLineIsAnErrorSayingSo) {
  // execve, unlike a shell or execvp, does not fall back to /bin/sh for such a file (ENOEXEC).
  TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp.file("plain.sh"), "exit 0\n", 0755));
  const auto result = run_process(command({tmp.file("plain.sh")}));
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message(),
              HasSubstr(tmp.file("plain.sh") + ": has no #! line and is not a program"));
}

TEST(ProcessTest, EmptyArgvIsInvalidInput) {
  const auto result = run_process(ProcessOptions{});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(result.error().message(), "the command is empty");
}

TEST(ProcessTest, AnEmptyProgramNameIsInvalidInputSayingSo) {
  const auto result = run_process(command({"", "arg"}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(result.error().message(), "the command's program name is empty");
}

TEST(ProcessTest, ArgumentsWithShellMetacharactersAndSpacesArriveVerbatim) {
  const std::vector<std::string> args = {
      "a b", "$HOME", "`id`", "$(id)", "'single'", "\"double\"", ";",           "&&",
      "|",   "*",     "~",    "\\",    "",         "x > y",      "line\nbreak", "-n"};
  std::vector<std::string> argv = {"printf", "[%s]\n"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string expected;
  for (const auto& arg : args) {
    expected += "[" + arg + "]\n";
  }
  EXPECT_EQ(run_ok(command(argv)).out, expected);
}

TEST(ProcessTest, TheChildStartsWithDefaultSignalsEvenIfTheToolIgnoresSigpipe) {
  const auto old = std::signal(SIGPIPE, SIG_IGN);
  const auto result = run_ok(command({"grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"}));
  std::signal(SIGPIPE, old);
  EXPECT_EQ(result.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(ProcessTest, TheProgramRunsInAGroupOfItsOwnLedByItsGuard) {
  // Fields 4 and 5 of /proc/<pid>/stat are the parent and the process group; $$ of `sh -c` is the
  // program. Its parent is the guard the tool started, which leads the group.
  const auto out = lines(run_ok(command({"sh", "-c", "cut -d' ' -f4,5 /proc/$$/stat"})).out);
  ASSERT_EQ(out.size(), 1u);
  const auto space = out[0].find(' ');
  ASSERT_NE(space, std::string::npos) << out[0];
  const std::string parent = out[0].substr(0, space);
  const std::string group = out[0].substr(space + 1);
  EXPECT_EQ(parent, group);
  EXPECT_NE(parent, std::to_string(::getpid()));
  EXPECT_NE(group, std::to_string(::getpgrp()));
}

TEST(ProcessTest, TimeoutKillsTheWholeProcessGroupIncludingGrandchildren) {
  TempDir tmp;
  const std::string pidfile = tmp.file("grandchild.pid");
  auto options = command({"sh", "-c", "sleep 100 & echo $! > \"$1\"; wait", "sh", pidfile});
  options.timeout = milliseconds(500);
  const auto result = run_ok(options);
  EXPECT_TRUE(result.timed_out);
  EXPECT_FALSE(result.no_output_timeout);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_EQ(result.term_signal, SIGKILL);
  EXPECT_GE(result.duration, milliseconds(500));
  EXPECT_LT(result.duration, seconds(10));
  EXPECT_EQ(result.status_text(options), "timed out after 500 ms");
  const pid_t grandchild = read_pid(pidfile);
  ASSERT_GT(grandchild, 1) << "the shell did not record its background job in time";
  EXPECT_TRUE(wait_until_gone(grandchild)) << "grandchild " << grandchild << " survived";
  ::kill(grandchild, SIGKILL);  // in case it did
}

TEST(ProcessTest, NoOutputTimeoutKillsASilentChildAndKeepsWhatItPrinted) {
  auto options = command({"sh", "-c", "echo started; exec sleep 100"});
  options.no_output_timeout = milliseconds(300);
  const auto result = run_ok(options);
  EXPECT_TRUE(result.no_output_timeout);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.term_signal, SIGKILL);
  EXPECT_EQ(result.out, "started\n");
  EXPECT_LT(result.duration, seconds(10));
  EXPECT_EQ(result.status_text(options), "no output for 300 ms");
}

TEST(ProcessTest, SteadyOutputKeepsTheNoOutputTimeoutAtBay) {
  auto options = command({"sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.1; done"});
  options.no_output_timeout = seconds(3);
  const auto result = run_ok(options);
  EXPECT_FALSE(result.no_output_timeout);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "1\n2\n3\n4\n5\n");
}

TEST(ProcessTest, AnExitingChildTakesItsLeftoverBackgroundProcessesWithIt) {
  // The background sleep holds stdout open; without the group kill this would wait 100 s (or the
  // safety timeout).
  const auto result = run_ok(command({"sh", "-c", "sleep 100 & echo $!"}));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_FALSE(result.timed_out);
  EXPECT_LT(result.duration, seconds(10));
  const pid_t background = static_cast<pid_t>(std::stol(result.out));
  EXPECT_TRUE(wait_until_gone(background));
  ::kill(background, SIGKILL);
}

TEST(ProcessTest, ConcurrentRunsNeitherMixUpOutputsNorHoldEachOthersPipesOpen) {
  // If one run's pipe leaked into another thread's long-lived child, that run would not see EOF
  // until the sleeper ended; every short run must instead finish while the sleeper still runs.
  std::atomic<bool> sleeper_done{false};
  std::thread sleeper([&] {
    run_ok(command({"sleep", "1.5"}));
    sleeper_done = true;
  });
  std::vector<std::thread> workers;
  workers.reserve(4);
  std::atomic<int> finished_before_sleeper{0};
  for (int worker = 0; worker < 4; ++worker) {
    workers.emplace_back([&, worker] {
      for (int run = 0; run < 10; ++run) {
        const std::string id = std::to_string(worker) + "." + std::to_string(run);
        EXPECT_EQ(run_ok(command({"sh", "-c", "echo \"$1\"", "sh", id})).out, id + "\n");
      }
      if (!sleeper_done) {
        ++finished_before_sleeper;
      }
    });
  }
  for (auto& worker : workers) {
    worker.join();
  }
  sleeper.join();
  EXPECT_EQ(finished_before_sleeper, 4);
}

// A pid is given again once its process is gone (pid 1 in each new container, any pid after a
// reboot): the start stamp tells the process that had it from the one that has it now.
TEST(ProcessTest, AStartStampTellsAProcessFromALaterOneWithTheSamePid) {
  const int64_t self = ::getpid();
  const std::string stamp = process_start_stamp(self);
  const size_t space = stamp.find(' ');
  ASSERT_NE(space, std::string::npos) << stamp;
  const std::string boot = stamp.substr(0, space);
  EXPECT_EQ(boot + "\n", read_whole_file("/proc/sys/kernel/random/boot_id"));
  EXPECT_EQ(process_start_stamp(self), stamp) << "a process's stamp does not change";

  EXPECT_TRUE(process_still_alive(self, stamp));
  EXPECT_TRUE(process_still_alive(self, "")) << "no stamp: the pid decides, as before stamps";
  EXPECT_FALSE(process_still_alive(self, boot + " 1")) << "another start time: a later process";
  EXPECT_FALSE(
      process_still_alive(self, "00000000-0000-0000-0000-000000000000" + stamp.substr(space)))
      << "another boot";

  // A process that is gone: no stamp to read, and dead whatever was recorded.
  const pid_t child = ::fork();
  if (child == 0) {
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(process_start_stamp(child), "");
  EXPECT_FALSE(process_still_alive(child, ""));
  EXPECT_EQ(process_start_stamp(0), "");
}

TEST(ProcessTest, SubprocessRunnerRunsTheRealProcess) {
  SubprocessRunner real;
  ProcessRunner& runner = real;
  const auto result = runner.run(command({"echo", "via runner"}));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->out, "via runner\n");
}

}  // namespace
}  // namespace flakebisect::base
