// Real boots (ctest label qemu): Debian's packaged kernel (linux-image-amd64, installed by
// scripts/install-deps.sh) under QEMU with TCG or KVM, the real initramfs with busybox-static and
// the guest init, real mkfs.ext4 -b 1024 scratch disks, and real reproducers. Each test is one
// boot of about 5-10 s under TCG. A missing kernel or QEMU fails loudly: CI installs them.
#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/paths.h"
#include "base/process.h"
#include "run/qemu_runner.h"
#include "qemu/guest_support.h"
#include "support/temp_dir.h"

namespace flakebisect::run {
namespace {

namespace fs = std::filesystem;
using flakebisect::guest_support::debian_kernel;
using flakebisect::test_support::TempDir;
using store::RunOutcome;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using ::testing::StartsWith;

// The newest /boot/vmlinuz-* with a module tree.

class QemuBootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = debian_kernel();
    ASSERT_FALSE(kernel_.empty())
        << "no /boot/vmlinuz-* with modules: run scripts/install-deps.sh (linux-image-amd64)";
  }

  // A reproducer script (busybox sh in the guest).
  std::string script(const std::string& name, const std::string& body) {
    const std::string path = dir_.file(name);
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path;
  }

  QemuRunnerOptions options(const std::string& program, std::vector<std::string> args = {}) {
    QemuRunnerOptions o = guest_support::guest_options(kernel_, dir_.path());
    o.reproducer.program = program;
    o.reproducer.args = std::move(args);
    return o;
  }

  std::vector<RunResult> boot(QemuRunnerOptions o, uint32_t runs) {
    QemuRunner runner(processes_, std::move(o));
    std::vector<RunResult> results;
    auto status = runner.run_batch(checkout_, 0, runs, [&](const RunResult& r) {
      results.push_back(r);
      return base::Result<bool>(true);
    });
    EXPECT_TRUE(status) << status.error().message();
    return results;
  }

  std::string console_of(const RunResult& result) {
    if (!result.console_path) {
      return "";
    }
    auto text = base::read_file(*result.console_path);
    return text ? *text : std::string();
  }

  TempDir dir_;
  std::string kernel_;
  base::SubprocessRunner processes_;
  build::CommitCheckout checkout_{"0123456789abcdef0123456789abcdef01234567", "/repo", "/wt", ""};
};

TEST_F(QemuBootTest, TheBundledReproducerPassesOnFreshOneKilobyteExt4) {
  const auto results =
      boot(options("bundled:dio-check", {"-w", "-r", "-t", "-b", "1024", "-n", "4", "-i", "10",
                                         "{scratch}/dio-check.file"}),
           3);
  ASSERT_EQ(results.size(), 3u) << (results.empty() ? "" : results[0].detail + console_of(results[0]));
  for (const RunResult& result : results) {
    EXPECT_EQ(result.outcome, RunOutcome::kPass) << result.detail << console_of(result);
  }
}

TEST_F(QemuBootTest, EveryRunSeesItsOwnNewlyMadeOneKilobyteBlockFilesystem) {
  // Fails if the block size is not 1024, if the filesystem is not ext4 or if an earlier run's
  // file is still there (a reused filesystem).
  const std::string check = script("check-scratch", R"SH(
set -e
[ "$(stat -f -c %S /scratch)" = 1024 ] || { echo "block size $(stat -f -c %S /scratch)"; exit 3; }
grep -q " /scratch ext4 " /proc/mounts || { echo "not ext4"; exit 4; }
[ ! -e /scratch/marker ] || { echo "stale marker from run $(cat /scratch/marker)"; exit 5; }
echo "$1" > /scratch/marker
echo "run $1 ok")SH");
  const auto results = boot(options(check, {"{run}"}), 3);
  ASSERT_EQ(results.size(), 3u);
  for (const RunResult& result : results) {
    EXPECT_EQ(result.outcome, RunOutcome::kPass) << result.detail;
  }
  EXPECT_THAT(results[2].detail, HasSubstr("run 2 ok"));
}

TEST_F(QemuBootTest, TheScratchMountAndUnmountAreInsideTheRunsConsoleWindow) {
  // ext4 bugs show at unmount and writeback too: a WARNING there must be the run's, not fall
  // between two runs' windows. With every kernel message on the console, each run's own console
  // holds its filesystem's mount and unmount messages (ext4's, at KERN_INFO).
  auto o = options(script("ok", "echo data > /scratch/file\nexit 0"));
  o.qemu.append = {"ignore_loglevel"};
  const auto results = boot(o, 2);
  ASSERT_EQ(results.size(), 2u);
  for (const RunResult& result : results) {
    EXPECT_EQ(result.outcome, RunOutcome::kPass) << result.detail;
    const std::string console = console_of(result);
    EXPECT_THAT(console, HasSubstr("EXT4-fs (vd")) << console;
    EXPECT_THAT(console, HasSubstr("mounted filesystem")) << console;
    EXPECT_THAT(console, HasSubstr("unmounting filesystem")) << console;
  }
}

// What a run leaves running is killed before its unmount: a child in the background that holds
// /scratch, and one in a session of its own. The next run follows in the same boot, without them.
TEST_F(QemuBootTest, WhatARunLeavesRunningIsKilledAndTheNextRunFollowsInTheSameBoot) {
  auto o = options(script("leaves-children", R"SH(
if [ "$1" = 0 ]; then
	cd /scratch && (sleep 100000 &)
	setsid sh -c 'echo $$ >/tmp/stray.pid; exec sleep 100000' </dev/null >/dev/null 2>&1 &
	while [ ! -s /tmp/stray.pid ]; do sleep 0.1; done
	echo "left $(cat /tmp/stray.pid)"
	exit 0
fi
pid=$(cat /tmp/stray.pid)
if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status"; then
	echo "the stray process $pid of run 0 still runs"
	exit 1
fi
echo "no stray process"
exit 0)SH"),
                   {"{run}"});
  const auto results = boot(o, 2);
  ASSERT_EQ(results.size(), 2u) << "the boot ended after run 0: "
                                << (results.empty() ? "" : results[0].detail);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass) << results[0].detail << console_of(results[0]);
  EXPECT_EQ(results[1].outcome, RunOutcome::kPass) << results[1].detail << console_of(results[1]);
  EXPECT_THAT(results[1].detail, HasSubstr("no stray process"));
}

// /scratch that cannot be unmounted (here a mount inside it) is detached: its writeback, and what
// the kernel says about it, would fall in the next run's window, so the boot ends after this run.
TEST_F(QemuBootTest, AScratchThatStaysBusyEndsTheBootAfterItsRun) {
  auto o = options(
      script("mounts-inside", "mkdir /scratch/sub && mount -t tmpfs none /scratch/sub && exit 0"));
  const auto results = boot(o, 2);
  ASSERT_EQ(results.size(), 1u);  // the batch ends with the boot; the engine plans the next one
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass) << results[0].detail << console_of(results[0]);
}

// A reproducer that writes verdict lines to the results port (as a test of every serial port
// might) reaches neither its node, which is gone, nor the init's descriptor for it.
TEST_F(QemuBootTest, TheReproducerCannotWriteTheResultsChannel) {
  const auto results = boot(options(script("forges", R"SH(
[ -c /dev/ttyS1 ] && echo "/dev/ttyS1 is there"
echo "FB1 end 0 1 1 1 -" >/dev/ttyS1
echo "FB1 end 0 1 1 1 -" >&3
echo "done"
exit 0)SH")),
                            1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass) << results[0].detail;
  EXPECT_THAT(results[0].detail, HasSubstr("done"));
  EXPECT_THAT(results[0].detail, Not(HasSubstr("/dev/ttyS1 is there")));
}

// With qemu.direct_boot the packaged kernel boots from its unpacked vmlinux through its PVH entry
// (a third of the time under TCG, qemu/README.md), which shows in the guest: no VGA text console,
// only the dummy one. Without it, from the bzImage as before. The other tests here boot directly.
TEST_F(QemuBootTest, WithDirectBootThePrebuiltKernelBootsFromItsUnpackedImage) {
  const auto boot_console = [&](const QemuRunnerOptions& o) {
    std::string text;
    for (const auto& entry : fs::directory_iterator(o.log_dir)) {
      const std::string name = entry.path().filename().native();
      if (name.find("-run-") == std::string::npos) {
        text += base::read_file(entry.path().native()).value_or("");
      }
      fs::remove(entry.path());
    }
    return text;
  };
  auto o = options(script("ok", "exit 0"));
  ASSERT_TRUE(o.qemu.direct_boot);
  auto results = boot(o, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass) << results[0].detail << console_of(results[0]);
  size_t unpacked = 0;
  for (const auto& entry : fs::directory_iterator(o.kernel_cache_dir)) {
    EXPECT_THAT(entry.path().filename().native(), StartsWith("vmlinux-"));
    std::string head(4, '\0');
    std::ifstream(entry.path()).read(head.data(), 4);
    EXPECT_EQ(head,
              "\x7f"
              "ELF");
    ++unpacked;
  }
  EXPECT_EQ(unpacked, 1u);
  std::string console = boot_console(o);
  EXPECT_THAT(console, HasSubstr("Console: colour dummy device")) << console;

  o.qemu.direct_boot = false;
  results = boot(o, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass) << results[0].detail << console_of(results[0]);
  console = boot_console(o);
  EXPECT_THAT(console, HasSubstr("Linux version")) << console;
  EXPECT_THAT(console, Not(HasSubstr("Console: colour dummy device"))) << console;
}

TEST_F(QemuBootTest, AFailingReproducerIsAFailWithItsOutput) {
  const auto results = boot(
      options(script("fail", "echo 'cmpbuf: offset 1024: Expected 0x01, got 0x00'; exit 1")), 2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kFail);
  EXPECT_THAT(results[0].detail, HasSubstr("Expected 0x01, got 0x00"));
  EXPECT_EQ(results[1].outcome, RunOutcome::kFail);
}

TEST_F(QemuBootTest, AGuestPanicIsACrashWithTheKernelsTitle) {
  const auto results =
      boot(options(script("panic", "echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger")),
           3);
  ASSERT_EQ(results.size(), 1u) << "the panic ends the boot";
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash) << results[0].detail;
  EXPECT_THAT(results[0].signature, Optional(StartsWith("Kernel panic - not syncing: sysrq")));
  EXPECT_THAT(console_of(results[0]), HasSubstr("sysrq"));
}

TEST_F(QemuBootTest, AHungTaskIsACrashNamedByTheFunctionItHangsIn) {
  // A writer blocked on a frozen scratch filesystem is a task in D state; with a 2 s threshold
  // khungtaskd reports it. The report's trace is printed at KERN_INFO: the guest's console
  // loglevel must show it, or the title can only be the task's name.
  const auto results = boot(options(script("hung", R"SH(
echo 2 > /proc/sys/kernel/hung_task_timeout_secs
fsfreeze --freeze "$SCRATCH_MNT" || exit 2
echo data > "$SCRATCH_MNT/file" &
sleep 8
fsfreeze --unfreeze "$SCRATCH_MNT"
wait
exit 0)SH")),
                            2);
  ASSERT_EQ(results.size(), 1u) << "a kernel report ends the boot: " << results[0].detail
                                << console_of(results[0]);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash) << results[0].detail;
  EXPECT_THAT(results[0].signature, Optional(StartsWith("INFO: task hung in ")))
      << results[0].detail;
  EXPECT_THAT(results[0].detail, HasSubstr("Call Trace:"));
}

TEST_F(QemuBootTest, AReproducerThatNeverEndsIsAHang) {
  auto o = options(script("hang", "sleep 100000"));
  o.run_timeout = std::chrono::milliseconds(3000);
  const auto results = boot(o, 2);
  ASSERT_EQ(results.size(), 1u) << "a run that timed out ends the boot";
  EXPECT_EQ(results[0].outcome, RunOutcome::kHang) << results[0].detail;
}

TEST_F(QemuBootTest, AReproducerSilentForNoOutputTimeoutIsAHangStoppedInTheGuest) {
  // test.no_output_timeout: it printed once, then nothing (a child of it sleeps too).
  auto o = options(script("quiet", "echo started\nsleep 100000 &\nsleep 100000"));
  o.run_timeout = std::chrono::milliseconds(120000);
  o.no_output_timeout = std::chrono::milliseconds(3000);
  const auto start = std::chrono::steady_clock::now();
  const auto results = boot(o, 2);
  std::string seen;  // what each run came back as, should this fail again (once under ctest -j3)
  for (const RunResult& r : results) {
    seen += fmt::format("\n{}: {}", store::to_string(r.outcome), r.detail);
  }
  ASSERT_EQ(results.size(), 1u) << "a run stopped for silence ends the boot; got:" << seen;
  EXPECT_EQ(results[0].outcome, RunOutcome::kHang) << results[0].detail;
  EXPECT_THAT(results[0].detail,
              HasSubstr("printed nothing for 3 s (test.no_output_timeout): stopped in the guest"));
  EXPECT_THAT(results[0].detail, HasSubstr("started"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(100))
      << "stopped by test.timeout, not by the silence";

  // Watched, a reproducer still runs in the foreground: SIGINT is not ignored (a background job's
  // would be), and a quick one is not held for the watcher's second.
  auto interrupted = options(script("sigint", "echo hi\nkill -INT $$\necho survived"));
  interrupted.no_output_timeout = std::chrono::milliseconds(3000);
  const auto sigint = boot(interrupted, 1);
  ASSERT_EQ(sigint.size(), 1u);
  EXPECT_THAT(sigint[0].detail, HasSubstr("exit 130"));
  EXPECT_THAT(sigint[0].detail, Not(HasSubstr("survived")));
  EXPECT_LT(sigint[0].duration, std::chrono::milliseconds(900));

  // A reproducer that keeps printing runs its course.
  auto chatty = options(script("chatty", "for i in 1 2 3 4 5 6; do echo $i; sleep 1; done"));
  chatty.no_output_timeout = std::chrono::milliseconds(3000);
  const auto passed = boot(chatty, 1);
  ASSERT_EQ(passed.size(), 1u);
  EXPECT_EQ(passed[0].outcome, RunOutcome::kPass) << passed[0].detail;
}

TEST_F(QemuBootTest, AReproducerKilledBySigkillBeforeItsTimeIsInfraNotAHang) {
  // What the OOM killer does: exit 137, like busybox timeout's kill, but long before the timeout.
  auto o = options(script("oom", "kill -9 $$"));
  o.run_timeout = std::chrono::milliseconds(60000);
  const auto results = boot(o, 2);
  ASSERT_EQ(results.size(), 1u) << "a killed reproducer ends the boot";
  EXPECT_EQ(results[0].outcome, RunOutcome::kInfra) << results[0].detail;
  EXPECT_THAT(results[0].detail, HasSubstr("exit 137"));
}

TEST_F(QemuBootTest, GarbageAndAFakePanicFromTheReproducerDoNotChangeTheVerdict) {
  const auto results = boot(options(script("garbage", R"SH(
head -c 3000000 /dev/urandom
printf 'Kernel panic - not syncing: fake\nFB1 end 0 1 1 1 -\nBUG: unable to handle page fault\n'
exit 0)SH")),
                            1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass) << results[0].detail;
  EXPECT_LE(results[0].detail.size(), 8192u);
}

TEST_F(QemuBootTest, AutoAccelUsesKvmOnlyWhenAProbeGuestBootsWithIt) {
  // Here /dev/kvm may exist and hang: whatever the probe decides, the runs must work.
  auto o = options(script("ok", "exit 0"));
  o.qemu.accel = "auto";
  o.kvm_probe_timeout = std::chrono::milliseconds(10000);
  QemuRunner runner(processes_, o);
  std::vector<RunResult> results;
  auto status = runner.run_batch(checkout_, 0, 1, [&](const RunResult& r) {
    results.push_back(r);
    return base::Result<bool>(true);
  });
  ASSERT_TRUE(status) << status.error().message();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass) << results[0].detail;
  EXPECT_TRUE(runner.accel() == "kvm" || runner.accel() == "tcg") << runner.accel().value_or("none");
}

TEST_F(QemuBootTest, AMissingQemuIsAnErrorBeforeAnyRun) {
  auto o = options("bundled:dio-check");
  o.qemu.binary = dir_.file("no-such-qemu");
  o.qemu.accel = "tcg";
  QemuRunner runner(processes_, o);
  int runs = 0;
  auto status = runner.run_batch(checkout_, 0, 1, [&](const RunResult&) {
    ++runs;
    return base::Result<bool>(true);
  });
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message(), HasSubstr("no-such-qemu"));
  EXPECT_EQ(runs, 0);
}

}  // namespace
}  // namespace flakebisect::run
