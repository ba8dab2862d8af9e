#include "build/builder.h"

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "base/fake_process_runner.h"

namespace flakebisect::build {
namespace {

using base::FakeProcessRunner;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

const CommitCheckout kCheckout{"89abcdef0123456789abcdef0123456789abcdef", "/src", "/wt", ""};

TEST(CommandBuilder, NoCommandMeansNothingToBuild) {
  FakeProcessRunner processes;
  CommandBuilder builder(processes, {}, std::chrono::seconds(10));
  EXPECT_FALSE(builder.needs_build());
  auto outcome = builder.build(kCheckout);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->ok);
  EXPECT_EQ(processes.call_count(), 0U);
}

TEST(CommandBuilder, RunsTheArgvInTheWorktreeWithATimeout) {
  FakeProcessRunner processes;
  processes.on({"make"}, FakeProcessRunner::exited(0, "CC fs/ext4/inode.o\n"));
  CommandBuilder builder(processes, {"make", "-j8", "O=/tmp/out dir"}, std::chrono::seconds(3600));
  EXPECT_TRUE(builder.needs_build());
  auto outcome = builder.build(kCheckout);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->ok);
  const auto calls = processes.calls();
  ASSERT_EQ(calls.size(), 1U);
  EXPECT_THAT(calls[0].argv, ElementsAre("make", "-j8", "O=/tmp/out dir"));
  EXPECT_EQ(calls[0].cwd, "/wt");
  EXPECT_EQ(calls[0].timeout, std::chrono::seconds(3600));
  EXPECT_THAT(calls[0].env_set, Contains(Pair("FLAKEBISECT_COMMIT", kCheckout.sha)));
}

TEST(CommandBuilder, ACompileErrorIsASkipWithTheLogTailNotAnError) {
  FakeProcessRunner processes;
  processes.on({}, FakeProcessRunner::exited(
                       2, std::string(20000, '.') + "\nfs/ext4/inode.c:12: error: oops\n"));
  CommandBuilder builder(processes, {"make"}, std::chrono::seconds(10));
  auto outcome = builder.build(kCheckout);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->ok);
  EXPECT_EQ(outcome->detail, "exit 2");
  EXPECT_LE(outcome->log_tail.size(), kBuildLogTailBytes);
  EXPECT_THAT(outcome->log_tail, HasSubstr("error: oops"));
}

TEST(CommandBuilder, AFullDiskPausesInsteadOfSkippingTheCommit) {
  FakeProcessRunner processes;
  processes.on({},
               FakeProcessRunner::exited(
                   1,
                   "  LD      vmlinux.o\n/usr/bin/ld: final link failed: No space left on "
                   "device\nmake: *** [Makefile:1] Error 1\n"),
               1);
  CommandBuilder builder(processes, {"make"}, std::chrono::seconds(10));
  auto full = builder.build(kCheckout);
  ASSERT_FALSE(full.has_value()) << "a full disk is not the commit's fault";
  EXPECT_EQ(full.error().message(),
            "build 89abcdef0123 in /wt: exit 1: the disk is full (\"/usr/bin/ld: final link "
            "failed: No space left on device\"); free some space, then resume");

  processes.on({}, FakeProcessRunner::exited(1, "cc1: error: Disk quota exceeded"), 1);
  auto quota = builder.build(kCheckout);
  ASSERT_FALSE(quota.has_value());
  EXPECT_THAT(quota.error().message(),
              HasSubstr("the disk is full (\"cc1: error: Disk quota exceeded\")"));

  // The same words from a build that succeeded are only output.
  processes.on({}, FakeProcessRunner::exited(0, "test: No space left on device is handled\n"), 1);
  auto ok = builder.build(kCheckout);
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->ok);
}

// The OOM killer's work says nothing about the commit: a build command killed by a signal, or a
// compiler under it (gcc's message), pauses the bisection so that `resume` builds it again; a
// build that failed by itself, or ran out of its time, is the commit's skip as before.
TEST(CommandBuilder, ABuildTheOomKillerKilledPausesInsteadOfSkippingTheCommit) {
  FakeProcessRunner processes;
  processes.on({}, FakeProcessRunner::signalled(SIGKILL), 1);
  CommandBuilder builder(processes, {"make"}, std::chrono::seconds(10));
  auto killed = builder.build(kCheckout);
  ASSERT_FALSE(killed.has_value()) << "a killed build is not the commit's fault";
  EXPECT_THAT(killed.error().message(), StartsWith("build 89abcdef0123 in /wt: "));
  EXPECT_THAT(
      killed.error().message(),
      HasSubstr("it was killed by signal 9 (Killed), not failed by itself: out of memory?"));
  EXPECT_THAT(killed.error().message(), HasSubstr("resume builds it again"));

  processes.on(
      {},
      FakeProcessRunner::exited(2,
                                "gcc: fatal error: Killed signal terminated program cc1\n"
                                "compilation terminated.\nmake: *** [Makefile:9: big.o] Error 1\n"),
      1);
  auto compiler = builder.build(kCheckout);
  ASSERT_FALSE(compiler.has_value());
  EXPECT_THAT(compiler.error().message(),
              HasSubstr("exit 2: a compiler was killed (\"Killed signal terminated program "
                        "cc1\"): out of memory?"));

  processes.on({}, FakeProcessRunner::timed_out(), 1);
  auto slow = builder.build(kCheckout);
  ASSERT_TRUE(slow.has_value()) << slow.error().message();
  EXPECT_FALSE(slow->ok);

  // A build that crashes (SIGSEGV, SIGABRT) does so every time: the commit's skip.
  processes.on({}, FakeProcessRunner::signalled(SIGSEGV), 1);
  auto crashed = builder.build(kCheckout);
  ASSERT_TRUE(crashed.has_value()) << crashed.error().message();
  EXPECT_FALSE(crashed->ok);
}

// What a SIGKILL below make looks like in its output: the linker under gcc's driver, a recipe's
// command killed (make says "Killed"), or a command under the recipe's shell killed (the shell
// exits 128 + 9, make says "Error 137"), as for ld or pahole under link-vmlinux.sh.
TEST(KilledIn, SeesTheLinkerOrARecipesCommandKilledButNotAnOrdinaryFailure) {
  const base::ProcessResult exit2 = FakeProcessRunner::exited(2);
  for (const char* output : {
           "  LD      vmlinux.o\ncollect2: fatal error: ld terminated with signal 9 [Killed]\n"
           "compilation terminated.\nmake[2]: *** [scripts/Makefile.vmlinux_o:61: vmlinux.o] "
           "Error 1\n",
           "  LD      .tmp_vmlinux.kallsyms1\nmake[2]: *** [scripts/Makefile.vmlinux:34: vmlinux] "
           "Killed\nmake[1]: *** [Makefile:1250: vmlinux] Error 2\n",
           "  BTF     .btf.vmlinux.bin.o\nscripts/link-vmlinux.sh: line 113: 4242 Killed  "
           "   ${PAHOLE} -J ${PAHOLE_FLAGS} ${1}\nmake[2]: *** [scripts/Makefile.vmlinux:34: "
           "vmlinux] Error 137\nmake: *** [Makefile:250: __sub-make] Error 2\n",
           "make: *** [Makefile:2: all] Killed\n",
       }) {
    SCOPED_TRACE(output);
    auto killed = killed_in(exit2, output);
    ASSERT_TRUE(killed.has_value());
    EXPECT_THAT(*killed, HasSubstr("was killed (\""));
    EXPECT_THAT(*killed, HasSubstr("out of memory?"));
  }
  for (const char* output : {
           "fs/ext4/inode.c:12:1: error: expected ';'\nmake[3]: *** [fs/ext4/inode.o] Error 1\n",
           "make[1]: *** [Makefile:9: x] Error 2\nmake: *** [Makefile:2: all] Error 137 "
           "(ignored)\n",
           "fs/ext4/inode.c:3:5: error: 'x' undeclared\n    3 | make: *** [x] Killed\n",
           "echo: the test was Killed\n",
       }) {
    SCOPED_TRACE(output);
    EXPECT_EQ(killed_in(exit2, output), std::nullopt);
  }
}

TEST(ForkFailedIn, SeesMakeBashGccAndDashUnableToStartAProcess) {
  for (const char* line : {"make[2]: vfork: Resource temporarily unavailable",
                           "/bin/bash: fork: retry: Resource temporarily unavailable",
                           "make: fork: Cannot allocate memory",
                           "gcc: fatal error: cannot execute 'cc1': posix_spawn: Resource "
                           "temporarily unavailable",
                           "/bin/sh: 1: Cannot fork"}) {
    SCOPED_TRACE(line);
    auto failed = fork_failed_in(std::string("  CC      kernel/fork.o\n") + line + "\n");
    ASSERT_TRUE(failed.has_value());
    EXPECT_EQ(*failed, fmt::format("the machine could not start a process (\"{}\"): too many "
                                   "processes (ulimit -u) or out of memory? resume builds it again",
                                   line));
  }
  EXPECT_EQ(fork_failed_in("kernel/fork.c:9:1: error: expected ';'\n"), std::nullopt);
  EXPECT_EQ(fork_failed_in("   12 |  pr_err(\"fork: Cannot allocate memory\"\n"), std::nullopt);
}

TEST(CommandBuilder, ABuildThatCouldNotForkPausesInsteadOfSkippingTheCommit) {
  FakeProcessRunner processes;
  processes.on({}, FakeProcessRunner::exited(2, "make: vfork: Resource temporarily unavailable\n"));
  CommandBuilder builder(processes, {"make"}, std::chrono::seconds(10));
  auto outcome = builder.build(kCheckout);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_THAT(outcome.error().message(),
              HasSubstr("exit 2: the machine could not start a process"));
}

TEST(DiskFullIn, QuotesTheLineThatSaysSoAndOnlyItsWordsWhenTheLineIsHuge) {
  EXPECT_EQ(disk_full_in("a\nb: No space left on device\nc\n"),
            "the disk is full (\"b: No space left on device\")");
  EXPECT_EQ(disk_full_in(std::string(300, 'x') + ": No space left on device\r\n"),
            "the disk is full (\"No space left on device\")");
  EXPECT_EQ(disk_full_in("make: *** write error: stdout: No space left on device \n"),
            "the disk is full (\"make: *** write error: stdout: No space left on device\")");
  // The words in a line that is not a diagnostic of a failed write: a compile error in code that
  // prints them (filesystem code does), with gcc's echo of the source line.
  EXPECT_EQ(disk_full_in("fs/ext4/super.c:12:5: error: implicit declaration of 'ext4_msgx'\n"
                         "   12 |     ext4_msgx(sb, KERN_ERR, \"No space left on device\");\n"
                         "      |     ^~~~~~~~~\n"),
            std::nullopt);
  EXPECT_EQ(disk_full_in("warning: No space left on device is not handled here\n"), std::nullopt);
  // as quotes the text; Python's OSError and Perl's die add to it.
  EXPECT_TRUE(
      disk_full_in("fs/ext4/inode.s: Assembler messages:\nfs/ext4/inode.s: Fatal error: "
                   "can't write 4096 bytes to section .text of fs/ext4/inode.o: 'No space "
                   "left on device'\n"));
  EXPECT_TRUE(disk_full_in("OSError: [Errno 28] No space left on device: '/build/out'\n"));
  EXPECT_TRUE(disk_full_in("Cannot write out: No space left on device at gen.pl line 12.\n"));
  // A source line with such a string in a format, echoed by gcc under an error.
  EXPECT_EQ(disk_full_in("   12 |   printf(\"%s: No space left on device\", name);\n"),
            std::nullopt);
  // The same line echoed without the gutter (clang 16 and older, old gcc).
  EXPECT_EQ(disk_full_in("  fprintf(stderr, \"%s: No space left on device: %s\\n\", a, b);\n"),
            std::nullopt);
  EXPECT_EQ(disk_full_in("error: expected ';'\n"), std::nullopt);
}

TEST(CommandBuilder, ATimedOutBuildIsASkip) {
  FakeProcessRunner processes;
  processes.on({}, FakeProcessRunner::timed_out());
  CommandBuilder builder(processes, {"make"}, std::chrono::seconds(10));
  auto outcome = builder.build(kCheckout);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->ok);
}

TEST(CommandBuilder, AMissingBuildProgramIsAnError) {
  FakeProcessRunner processes;
  processes.on({}, base::Error("make: not found", base::ErrorCode::kNotFound));
  CommandBuilder builder(processes, {"make"}, std::chrono::seconds(10));
  auto outcome = builder.build(kCheckout);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().message(), "build 89abcdef0123: make: not found");
}

}  // namespace
}  // namespace flakebisect::build
