// QemuRunner with a fake QEMU: a shell script that plays the guest by writing the results
// channel (the file behind the second -serial) and the console (its stdout), so every host-side
// path (parsing, crash attribution, timeouts, QEMU failures) is exercised without booting.
// tests/qemu/ boots real kernels.
#include "run/qemu_runner.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/fake_process_runner.h"
#include "base/paths.h"
#include "base/unique_fd.h"
#include "config/sha256.h"
#include "run/initramfs.h"
#include "run/test_images.h"
#include "support/temp_dir.h"

namespace flakebisect::run {
namespace {

using base::FakeProcessRunner;
using flakebisect::test_support::TempDir;
using store::RunOutcome;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

// The fake QEMU finds the results file in its argv and runs the guest script with it as $R.
constexpr std::string_view kFakeQemuHead = R"SH(#!/bin/sh
for arg in "$@"; do
  case "$arg" in
    file,id=results,path=*) R=${arg#file,id=results,path=} ;;
  esac
done
)SH";

class QemuRunnerTest : public ::testing::Test {
 protected:
  QemuRunnerTest() {
    std::ofstream(dir_.file("bzImage")) << "not really a kernel";
    std::ofstream(dir_.file("busybox")) << "not really busybox";
    std::ofstream(dir_.file("repro")) << "#!/bin/sh\n";
    processes_.on({"/sbin/mkfs.ext4"}, FakeProcessRunner::exited(0));
  }

  // A runner whose QEMU is `guest` (shell, after kFakeQemuHead).
  QemuRunner runner(const std::string& guest) { return QemuRunner(processes_, options(guest)); }

  QemuRunnerOptions options(const std::string& guest) {
    const std::string qemu = dir_.file("qemu");
    std::ofstream(qemu) << kFakeQemuHead << guest << "\n";
    ::chmod(qemu.c_str(), 0755);
    QemuRunnerOptions options;
    options.qemu.binary = qemu;
    options.qemu.kernel = dir_.file("bzImage");
    options.qemu.accel = "tcg";
    options.qemu.boot_timeout = std::chrono::seconds(2);
    options.scratch.mkfs = {"/sbin/mkfs.ext4", "-q", "-F", "-b", "1024"};
    options.reproducer.program = dir_.file("repro");
    options.run_timeout = std::chrono::milliseconds(1000);
    options.host_grace = std::chrono::milliseconds(1000);
    options.work_dir = dir_.file("work");
    options.cache_dir = dir_.file("cache");
    options.log_dir = dir_.file("logs");
    options.busybox = dir_.file("busybox");
    return options;
  }

  std::vector<RunResult> batch(QemuRunner& runner, uint32_t count) {
    std::vector<RunResult> results;
    auto status = runner.run_batch(checkout_, 0, count, [&](const RunResult& r) {
      results.push_back(r);
      return base::Result<bool>(true);
    });
    EXPECT_TRUE(status) << status.error().message();
    return results;
  }

  TempDir dir_;
  FakeProcessRunner processes_;
  build::CommitCheckout checkout_{"0123456789abcdef0123456789abcdef01234567", "/repo", "/wt", ""};
};

TEST_F(QemuRunnerTest, EachEndLineBecomesARunWithItsExitStatus) {
  auto qemu = runner(R"SH(
echo "Linux version 6.1 (fake)"
echo "FB1 ready" >>"$R"
echo "FB1 begin 0" >>"$R"; echo "FB1 end 0 0 120 0 -" >>"$R"
echo "FB1 begin 1" >>"$R"; echo "FB1 end 1 1 80 41 $(printf 'cmpbuf: offset 0: Expected 0x01, got 0x00' | base64 -w0)" >>"$R"
echo "FB1 begin 2" >>"$R"; echo "FB1 end 2 125 5 0 -" >>"$R"
echo "FB1 done" >>"$R"
sleep 30)SH");
  const auto results = batch(qemu, 3);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass);
  EXPECT_EQ(results[0].duration.count(), 120);
  EXPECT_EQ(results[1].outcome, RunOutcome::kFail);
  EXPECT_THAT(results[1].detail, HasSubstr("cmpbuf: offset 0: Expected 0x01, got 0x00"));
  EXPECT_EQ(results[2].outcome, RunOutcome::kSkip);
  EXPECT_TRUE(results[0].boot_id.has_value());
  EXPECT_EQ(results[0].boot_id, results[2].boot_id);
  ASSERT_TRUE(results[0].console_path.has_value());
  EXPECT_EQ(qemu.accel(), std::optional<std::string>("tcg"));
}

TEST_F(QemuRunnerTest, EachRunKeepsTheConsoleItWasJudgedOnInItsOwnFileWithItsHash) {
  // The boot's log grows after a run is handed on; the run's own file does not, so the hash in
  // its row still matches once the boot is over.
  auto qemu = runner(R"SH(
echo "Linux version 6.1 (fake)"
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "flakebisect: end run 0"; echo "FB1 end 0 0 100 0 -" >>"$R"
sleep 0.2
echo "flakebisect: begin run 1"; echo "FB1 begin 1" >>"$R"
echo "flakebisect: end run 1"; echo "FB1 end 1 1 100 0 -" >>"$R"
echo "FB1 done" >>"$R"
echo "reboot: Power down"
sleep 30)SH");
  std::vector<RunResult> results;
  auto status = qemu.run_batch(checkout_, 5, 2, [&](const RunResult& r) {
    results.push_back(r);
    return base::Result<bool>(true);
  });
  ASSERT_TRUE(status) << status.error().message();
  ASSERT_EQ(results.size(), 2u);
  for (uint32_t k = 0; k < 2; ++k) {
    const RunResult& result = results[k];
    ASSERT_TRUE(result.console_path.has_value());
    ASSERT_TRUE(result.console_sha256.has_value());
    EXPECT_THAT(*result.console_path, HasSubstr(dir_.file("logs") + "/console-0123456789ab-"));
    EXPECT_THAT(*result.console_path, ::testing::EndsWith(fmt::format("-run-{}.log", 5 + k)));
    auto text = base::read_file(*result.console_path);
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_EQ(*result.console_sha256, config::sha256_hex(*text)) << *result.console_path;
    EXPECT_THAT(*text, HasSubstr(fmt::format("flakebisect: begin run {}", k)));
    EXPECT_THAT(*text, Not(HasSubstr(fmt::format("flakebisect: begin run {}", 1 - k))));
  }
  // The boot's whole console is kept too.
  auto boot_log = base::read_file(dir_.file("logs/console-" + *results[0].boot_id + ".log"));
  ASSERT_TRUE(boot_log) << boot_log.error().message();
  EXPECT_THAT(*boot_log, HasSubstr("Linux version 6.1 (fake)"));
  EXPECT_THAT(*boot_log, HasSubstr("flakebisect: end run 1"));
}

TEST_F(QemuRunnerTest, AConsoleLogThatCannotBeWrittenIsAnErrorNamingItAndNoRun) {
  // The log directory turns into a file while run 0 is running: every write there fails, as on
  // a full disk (and for root too, whom permissions would not stop).
  const std::string logs = dir_.file("logs");
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
rm -rf ')SH" + logs + R"SH(' && echo "not a directory" >')SH" +
                     logs + R"SH('
echo "flakebisect: end run 0"; echo "FB1 end 0 1 100 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  std::vector<RunResult> results;
  auto status = qemu.run_batch(checkout_, 7, 1, [&](const RunResult& r) {
    results.push_back(r);
    return base::Result<bool>(true);
  });
  ASSERT_FALSE(status) << "a run was handed on with a console log that is not there";
  EXPECT_TRUE(results.empty());
  const std::string message = status.error().message();
  EXPECT_THAT(message, HasSubstr("qemu 0123456789ab: run 7: cannot keep the console log"));
  EXPECT_THAT(message, HasSubstr(logs + "/console-0123456789ab-"));
  EXPECT_THAT(message, HasSubstr(std::strerror(ENOTDIR)));
}

TEST_F(QemuRunnerTest, AForcedKvmWithoutAUsableDeviceFailsBeforeQemuStarts) {
  const std::string started = dir_.file("started");
  QemuRunnerOptions options = this->options("touch '" + started + R"SH('
echo "FB1 ready" >>"$R"; echo "FB1 done" >>"$R")SH");
  options.qemu.accel = "kvm";
  options.kvm_device = dir_.file("kvm");
  for (const bool directory : {false, true}) {
    // Missing, then present but not openable read-write (a directory: EISDIR, even for root).
    if (directory) {
      std::filesystem::create_directory(options.kvm_device);
    }
    QemuRunner qemu(processes_, options);
    std::vector<RunResult> results;
    auto status = qemu.run_batch(checkout_, 0, 1, [&](const RunResult& r) {
      results.push_back(r);
      return base::Result<bool>(true);
    });
    ASSERT_FALSE(status) << "directory: " << directory;
    EXPECT_THAT(status.error().message(),
                HasSubstr("qemu.accel is \"kvm\" but " + options.kvm_device +
                          " cannot be opened read-write (" +
                          std::strerror(directory ? EISDIR : ENOENT) + ")"));
    EXPECT_THAT(status.error().message(), HasSubstr("set qemu.accel to \"auto\""));
    EXPECT_THAT(status.error().message(), HasSubstr("or \"tcg\""));
    EXPECT_TRUE(results.empty());
    EXPECT_FALSE(std::filesystem::exists(started)) << "QEMU must not start";
    EXPECT_EQ(qemu.accel(), std::nullopt);
  }
  // A device that opens read-write: the guest boots with KVM.
  std::filesystem::remove(options.kvm_device);
  std::ofstream(options.kvm_device).close();
  QemuRunner qemu(processes_, options);
  batch(qemu, 1);
  EXPECT_TRUE(std::filesystem::exists(started));
  EXPECT_EQ(qemu.accel(), std::optional<std::string>("kvm"));
}

TEST_F(QemuRunnerTest, RunnersStartingTogetherShareOneKvmProbe) {
  // A daemon's workers starting at once: the second waits for the first's probe (here a KVM that
  // hangs silently) instead of booting its own.
  const std::string probes = dir_.file("probes");
  QemuRunnerOptions options = this->options(R"SH(case "$*" in
  *rdinit=/nonexistent*) echo probe >>')SH" +
                                            probes + R"SH('; sleep 30 ;;
esac
echo "FB1 ready" >>"$R"; echo "FB1 begin 0" >>"$R"; echo "FB1 end 0 0 5 0 -" >>"$R"
echo "FB1 done" >>"$R")SH");
  options.qemu.accel = "auto";
  options.kvm_device = dir_.file("kvm");
  // Long enough for the fake QEMU, a shell script, to record its start on a loaded machine: at
  // 500 ms a probe under `ctest -j3` was killed before it wrote a line, and none was counted.
  options.kvm_probe_timeout = std::chrono::milliseconds(2000);
  std::ofstream(options.kvm_device).close();
  FakeProcessRunner first_processes;
  FakeProcessRunner second_processes;
  for (FakeProcessRunner* processes : {&first_processes, &second_processes}) {
    processes->on({"/sbin/mkfs.ext4"}, FakeProcessRunner::exited(0));
  }
  QemuRunner first(first_processes, options);
  QemuRunner second(second_processes, options);
  std::vector<RunResult> first_results;
  std::thread other([&] { first_results = batch(first, 1); });
  const std::vector<RunResult> second_results = batch(second, 1);
  other.join();
  ASSERT_EQ(first_results.size(), 1U);
  ASSERT_EQ(second_results.size(), 1U);
  EXPECT_EQ(first.accel(), std::optional<std::string>("tcg"));
  EXPECT_EQ(second.accel(), std::optional<std::string>("tcg"));
  EXPECT_EQ(base::read_file(probes).value_or(""), "probe\n");
}

TEST_F(QemuRunnerTest, RunnersBootingAtOnceNeverTakeEachOthersBootForAnAbandonedOne) {
  // A daemon's workers boot side by side in one work directory, and each boot first removes the
  // boot directories that no live process holds. A boot whose lock file was there but not yet
  // locked was taken for an abandoned one and removed under its runner (seen in a -j3 test run).
  QemuRunnerOptions options = this->options(
      R"SH(echo "FB1 ready" >>"$R"; echo "FB1 begin 0" >>"$R"; echo "FB1 end 0 0 5 0 -" >>"$R"
echo "FB1 done" >>"$R")SH");
  constexpr int kBoots = 200;
  std::atomic<int> failed{0};
  std::string first_error;
  std::mutex error_mutex;
  const auto boot_repeatedly = [&] {
    FakeProcessRunner processes;
    processes.on({"/sbin/mkfs.ext4"}, FakeProcessRunner::exited(0));
    QemuRunner qemu(processes, options);
    for (int i = 0; i < kBoots; ++i) {
      auto status = qemu.run_batch(checkout_, 0, 1, [](const RunResult&) {
        return base::Result<bool>(true);
      });
      if (!status) {
        std::lock_guard lock(error_mutex);
        if (failed++ == 0) first_error = status.error().message();
      }
    }
  };
  std::thread other(boot_repeatedly);
  boot_repeatedly();
  other.join();
  EXPECT_EQ(failed.load(), 0) << first_error;
}

TEST_F(QemuRunnerTest, EveryRunGetsItsOwnFreshOneKilobyteBlockFilesystem) {
  auto qemu = runner(R"SH(echo "FB1 ready" >>"$R"; echo "FB1 done" >>"$R")SH");
  batch(qemu, 3);
  std::vector<std::string> images;
  for (const auto& argv : processes_.argvs()) {
    ASSERT_GE(argv.size(), 6u);
    EXPECT_THAT(std::vector<std::string>(argv.begin(), argv.end() - 1),
                ElementsAre("/sbin/mkfs.ext4", "-q", "-F", "-b", "1024"));
    images.push_back(argv.back());
  }
  ASSERT_EQ(images.size(), 3u);
  EXPECT_NE(images[0], images[1]);
  EXPECT_NE(images[1], images[2]);
}

TEST_F(QemuRunnerTest, AKernelReportDuringARunMakesItACrashWithTheTitleAndEndsTheBoot) {
  // The kernel is tainted after a report (lockdep turns itself off, WARN_ON_ONCE and KASAN report
  // once), so the runs after it could not show the bug again: the boot ends there.
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "------------[ cut here ]------------"
echo "WARNING: CPU: 0 PID: 77 at fs/ext4/inode.c:3600 ext4_dio_write_end+0x1a/0x40"
echo "RIP: 0010:ext4_dio_write_end+0x1a/0x40"
echo "flakebisect: end run 0"; echo "FB1 end 0 0 200 0 -" >>"$R"
echo "flakebisect: begin run 1"; echo "FB1 begin 1" >>"$R"
echo "flakebisect: end run 1"; echo "FB1 end 1 0 200 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto results = batch(qemu, 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash);
  EXPECT_THAT(results[0].signature, Optional(std::string("WARNING in ext4_dio_write_end")));
  EXPECT_THAT(results[0].crash_titles, ElementsAre("WARNING in ext4_dio_write_end"));
  EXPECT_EQ(results[0].test_outcome, RunOutcome::kPass) << "the reproducer exited 0";
}

// The reproducer's own verdict stays with a crash: a cmpbuf mismatch (exit 1) beside a WARNING is
// a failure for a bisection to which the WARNING is somebody else's (engine/evidence.h).
TEST_F(QemuRunnerTest, ACrashKeepsWhatTheReproducerSaidWhenItGotToItsEnd) {
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "------------[ cut here ]------------"
echo "WARNING: CPU: 1 PID: 9 at drivers/virtio/virtio_ring.c:100 vring_foo+0x1/0x2"
echo "RIP: 0010:vring_foo+0x1/0x2"
echo "flakebisect: end run 0"; echo "FB1 end 0 1 200 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto results = batch(qemu, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash);
  EXPECT_EQ(results[0].test_outcome, RunOutcome::kFail);
}

// test.signature may be looking for the second report, and bisections with other signatures
// share the run: the run keeps every title of its window, in order, the first as its signature.
TEST_F(QemuRunnerTest, ACrashKeepsTheTitlesOfEveryReportInItsRunInOrder) {
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "------------[ cut here ]------------"
echo "WARNING: CPU: 0 PID: 77 at mm/page_alloc.c:5525 __alloc_pages+0x2c4/0x340"
echo "RIP: 0010:__alloc_pages+0x2c4/0x340"
echo "---[ end trace 0000000000000000 ]---"
echo "BUG: unable to handle page fault for address: ffff888007a3f000"
echo "Oops: 0002 [#1] PREEMPT SMP NOPTI"
echo "RIP: 0010:ext4_dio_write_iter+0x3c5/0x5a0"
echo "flakebisect: end run 0"; echo "FB1 end 0 0 200 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto results = batch(qemu, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash);
  EXPECT_THAT(results[0].signature, Optional(std::string("WARNING in __alloc_pages")));
  EXPECT_THAT(results[0].crash_titles,
              ElementsAre("WARNING in __alloc_pages",
                          "BUG: unable to handle page fault in ext4_dio_write_iter"));
}

// A kernel that warns in a loop: the first reports tell what the run hit, the row stays small.
TEST_F(QemuRunnerTest, ARunKeepsTheTitlesOfItsFirstSixteenReportsOnly) {
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
for i in $(seq 1 20); do
  echo "------------[ cut here ]------------"
  echo "WARNING: CPU: 0 PID: 77 at fs/ext4/inode.c:$i ext4_f$i+0x1a/0x40"
  echo "RIP: 0010:ext4_f$i+0x1a/0x40"
  echo "---[ end trace 0000000000000000 ]---"
done
echo "flakebisect: end run 0"; echo "FB1 end 0 0 200 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto results = batch(qemu, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash);
  ASSERT_EQ(results[0].crash_titles.size(), kMaxCrashTitlesPerRun);
  EXPECT_EQ(results[0].crash_titles.front(), "WARNING in ext4_f1");
  EXPECT_EQ(results[0].crash_titles.back(), "WARNING in ext4_f16");
}

// A WARN_ON in a loop repeats one title: the kept titles are distinct, so the report that
// test.signature looks for, after twenty of them, is still kept.
TEST_F(QemuRunnerTest, RepeatedReportsKeepOneTitleSoALaterOneIsNotCutOff) {
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
for i in $(seq 1 20); do
  echo "------------[ cut here ]------------"
  echo "WARNING: CPU: 0 PID: 77 at mm/page_alloc.c:4410 __alloc_pages+0x1a/0x40"
  echo "RIP: 0010:__alloc_pages+0x1a/0x40"
  echo "---[ end trace 0000000000000000 ]---"
done
echo "BUG: unable to handle page fault for address: ffff888000000000"
echo "RIP: 0010:ext4_dio_write_iter+0x1a/0x30"
echo "flakebisect: end run 0"; echo "FB1 end 0 1 200 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto results = batch(qemu, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_THAT(results[0].crash_titles,
              ElementsAre("WARNING in __alloc_pages",
                          "BUG: unable to handle page fault in ext4_dio_write_iter"));
}

TEST_F(QemuRunnerTest, AReportBelongsToTheRunItWasPrintedIn) {
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "flakebisect: end run 0"; echo "FB1 end 0 0 200 0 -" >>"$R"
echo "flakebisect: begin run 1"; echo "FB1 begin 1" >>"$R"
echo "------------[ cut here ]------------"
echo "WARNING: CPU: 0 PID: 77 at fs/ext4/inode.c:3600 ext4_dio_write_end+0x1a/0x40"
echo "RIP: 0010:ext4_dio_write_end+0x1a/0x40"
echo "flakebisect: end run 1"; echo "FB1 end 1 0 200 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto results = batch(qemu, 2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass) << "the report belongs to run 1 only";
  EXPECT_EQ(results[1].outcome, RunOutcome::kCrash);
}

TEST_F(QemuRunnerTest, AReportTheConsoleDeliversAfterTheEndLineStillBelongsToItsRun) {
  // The results channel can be ahead of the console: "end" arrives before the report and the end
  // marker that the guest printed first.
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "FB1 end 0 0 200 0 -" >>"$R"
sleep 0.5
echo "------------[ cut here ]------------"
echo "WARNING: CPU: 0 PID: 77 at fs/ext4/inode.c:3600 ext4_dio_write_end+0x1a/0x40"
echo "RIP: 0010:ext4_dio_write_end+0x1a/0x40"
echo "flakebisect: end run 0"
echo "flakebisect: begin run 1"; echo "FB1 begin 1" >>"$R"
echo "flakebisect: end run 1"; echo "FB1 end 1 0 200 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto results = batch(qemu, 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash);
  EXPECT_THAT(results[0].signature, Optional(std::string("WARNING in ext4_dio_write_end")));
}

TEST_F(QemuRunnerTest, AReportOfARunWhoseWholeConsoleLagsBehindTheResultsStillBelongsToIt) {
  // The results channel can be a whole run ahead of the console (asynchronous printk): "begin"
  // and "end" arrive before the run's begin marker. The window used to fall back to the console
  // read so far, which held nothing of the run, and the run passed.
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "FB1 begin 0" >>"$R"; echo "FB1 end 0 0 200 0 -" >>"$R"
sleep 0.5
echo "flakebisect: begin run 0"
echo "------------[ cut here ]------------"
echo "WARNING: CPU: 0 PID: 77 at fs/ext4/inode.c:3600 ext4_dio_write_end+0x1a/0x40"
echo "RIP: 0010:ext4_dio_write_end+0x1a/0x40"
echo "flakebisect: end run 0"
echo "flakebisect: begin run 1"; echo "FB1 begin 1" >>"$R"
echo "flakebisect: end run 1"; echo "FB1 end 1 0 200 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto results = batch(qemu, 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash) << results[0].detail;
  EXPECT_THAT(results[0].signature, Optional(std::string("WARNING in ext4_dio_write_end")));
}

TEST_F(QemuRunnerTest, ACustomInitsMarkersAreWaitedForOnceTheConsoleHasShownOne) {
  // A custom init need not print markers, but one whose markers this boot's console has shown
  // prints them for every run: a later run's lagging console is waited for as with the bundled
  // init.
  QemuRunnerOptions options = this->options(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "flakebisect: end run 0"; echo "FB1 end 0 0 200 0 -" >>"$R"
echo "FB1 begin 1" >>"$R"; echo "FB1 end 1 0 200 0 -" >>"$R"
sleep 0.5
echo "flakebisect: begin run 1"
echo "BUG: kernel NULL pointer dereference, address: 0000000000000008"
echo "RIP: 0010:ext4_es_lookup_extent+0x2c/0x330"
echo "flakebisect: end run 1"
echo "FB1 done" >>"$R"; sleep 30)SH");
  options.init_script = "#!/bin/sh\n# prints the markers\n";
  QemuRunner qemu(processes_, options);
  const auto results = batch(qemu, 2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass);
  EXPECT_EQ(results[1].outcome, RunOutcome::kCrash) << results[1].detail;
}

TEST_F(QemuRunnerTest, AConsoleThatShowsNoMarkersCostsOneWaitPerBootNotOnePerRun) {
  // The bundled init's markers can be hidden (a loglevel in qemu.append): the first run waits
  // for them, the others do not.
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
for k in 0 1 2 3 4; do echo "FB1 begin $k" >>"$R"; echo "FB1 end $k 0 1 0 -" >>"$R"; done
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto start = std::chrono::steady_clock::now();
  const auto results = batch(qemu, 5);
  EXPECT_EQ(results.size(), 5u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(7))
      << "each run waited for markers that never come";
}

TEST_F(QemuRunnerTest, QemuEndingBetweenRunsIsInfraNotACrash) {
  // Run 0 passed; then the kernel panics while the guest cleans up, before run 1 begins. No
  // reproducer ran: that is not a crash the reproducer found, and only the console after run 0 is
  // read (before, the whole boot's was).
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "flakebisect: end run 0"; echo "FB1 end 0 0 200 0 -" >>"$R"
sleep 0.3
echo "Kernel panic - not syncing: Fatal exception in ext4_put_super"
exit 0)SH");
  const auto results = batch(qemu, 3);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass);
  EXPECT_EQ(results[1].outcome, RunOutcome::kInfra);
  EXPECT_FALSE(results[1].signature);
  EXPECT_THAT(results[1].detail, HasSubstr("between runs"));
  EXPECT_THAT(results[1].detail, HasSubstr("Kernel panic"));
}

TEST_F(QemuRunnerTest, AGuestStuckBetweenRunsIsInfraNotAHangOfARunThatNeverBegan) {
  // The bundled init unmounts inside the run's window, so between runs it only reads its own
  // files: no reproducer ran and no scratch filesystem is mounted. A hang there used to be
  // charged to the next run as a hang.
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "flakebisect: end run 0"; echo "FB1 end 0 0 200 0 -" >>"$R"
sleep 30)SH");
  const auto results = batch(qemu, 3);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kPass);
  EXPECT_EQ(results[1].outcome, RunOutcome::kInfra) << results[1].detail;
  EXPECT_THAT(results[1].detail, HasSubstr("no result from the guest"));
  EXPECT_THAT(results[1].detail, HasSubstr("between runs"));
}

TEST_F(QemuRunnerTest, AScratchDiskThatDoesNotMountIsInfraUnlessTheKernelReportedWhileMounting) {
  // "infra K mount" comes after "begin K": the mount is part of run K's window. A report there
  // is run K's crash; one printed before the run (while modules loaded) is not, and the run
  // whose disk did not mount is infra.
  auto crashed = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "BUG: kernel NULL pointer dereference, address: 0000000000000008"
echo "RIP: 0010:ext4_fill_super+0x2c/0x330"
echo "flakebisect: end run 0"; echo "FB1 infra 0 mount" >>"$R"
sleep 30)SH");
  auto results = batch(crashed, 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash) << results[0].detail;
  EXPECT_THAT(results[0].signature,
              Optional(std::string("BUG: kernel NULL pointer dereference in ext4_fill_super")));

  auto before = runner(R"SH(
echo "------------[ cut here ]------------"
echo "WARNING: CPU: 0 PID: 1 at drivers/char/hw_random/core.c:100 hwrng_init+0x1a/0x40"
echo "RIP: 0010:hwrng_init+0x1a/0x40"
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "flakebisect: end run 0"; echo "FB1 infra 0 mount" >>"$R"
sleep 30)SH");
  results = batch(before, 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kInfra) << results[0].detail;
  EXPECT_FALSE(results[0].signature);
  EXPECT_THAT(results[0].detail, HasSubstr("the guest could not start run 0: mount"));
}

TEST_F(QemuRunnerTest, AKernelThatPanicsBeforeTheGuestIsReadyIsInfraNotACrash) {
  auto qemu = runner(R"SH(
echo "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"
exit 0)SH");
  const auto results = batch(qemu, 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kInfra);
  EXPECT_FALSE(results[0].signature);
  EXPECT_THAT(results[0].crash_titles, ::testing::IsEmpty()) << "not a crash of a run";
  EXPECT_THAT(results[0].detail, HasSubstr("before the guest was ready"));
  EXPECT_THAT(results[0].detail, HasSubstr("kernel: Kernel panic"));
}

// A kernel built from the commit is the commit's: one that panics while booting (QEMU then ends by
// itself) does not boot, and the infra run keeps the kernel's titles, which count toward skipping
// the commit (engine/evidence.h). A report that does not end the kernel, before a boot that stalls
// until qemu.boot_timeout, is no such proof: that run keeps no titles.
TEST_F(QemuRunnerTest, AKernelBuiltFromTheCommitThatPanicsWhileBootingKeepsItsTitles) {
  const std::string artifact = dir_.file("artifact");
  std::filesystem::create_directories(artifact);
  std::ofstream(artifact + "/bzImage") << "not really a kernel";
  checkout_.artifact = artifact;
  const auto boot = [&](const std::string& guest) {
    QemuRunnerOptions built = options(guest);
    built.qemu.kernel.clear();
    QemuRunner qemu(processes_, built);
    return batch(qemu, 2);
  };
  auto results = boot(
      "echo 'Linux version 6.1'; echo 'Kernel panic - not syncing: Attempted to kill init! "
      "exitcode=0x00000009'; exit 0");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kInfra) << results[0].detail;
  EXPECT_FALSE(results[0].signature) << "no run's crash";
  EXPECT_THAT(results[0].crash_titles, ElementsAre(HasSubstr("Attempted to kill init")));
  EXPECT_THAT(results[0].detail, HasSubstr("the kernel built from the commit crashed while "
                                           "booting (it counts toward skipping the commit)"));

  results = boot(
      "echo 'Linux version 6.1'; echo 'BUG: kernel NULL pointer dereference, address: "
      "0000000000000008'; echo 'RIP: 0010:virtblk_probe+0x2c/0x330'; sleep 30");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kInfra) << results[0].detail;
  EXPECT_THAT(results[0].crash_titles, ::testing::IsEmpty()) << results[0].detail;
}

TEST_F(QemuRunnerTest, WithoutConsoleMarkersAReportAfterBeginStillBelongsToTheRun) {
  // A custom init that prints no markers: the console from the last read before "begin" on.
  QemuRunnerOptions options = this->options(R"SH(
echo "FB1 ready" >>"$R"
echo "FB1 begin 0" >>"$R"
echo "BUG: kernel NULL pointer dereference, address: 0000000000000008"
echo "CPU: 1 PID: 80 Comm: repro Not tainted 6.1.0 #1"
echo "RIP: 0010:ext4_es_lookup_extent+0x2c/0x330"
echo "FB1 end 0 0 10 0 -" >>"$R"; echo "FB1 done" >>"$R"; sleep 30)SH");
  options.init_script = "#!/bin/sh\n# prints no markers\n";
  QemuRunner qemu(processes_, options);
  const auto results = batch(qemu, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash);
  EXPECT_THAT(results[0].signature,
              Optional(std::string("BUG: kernel NULL pointer dereference in ext4_es_lookup_extent")));
}

TEST_F(QemuRunnerTest, APanicThatEndsQemuIsACrashAndEndsTheBatch) {
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "flakebisect: begin run 0"; echo "FB1 begin 0" >>"$R"
echo "sysrq: Trigger a crash"
echo "Kernel panic - not syncing: sysrq triggered crash"
exit 0)SH");
  const auto results = batch(qemu, 4);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kCrash);
  EXPECT_THAT(results[0].signature,
              Optional(std::string("Kernel panic - not syncing: sysrq triggered crash")));
  EXPECT_THAT(results[0].crash_titles,
              ElementsAre("Kernel panic - not syncing: sysrq triggered crash"));
  EXPECT_EQ(results[0].test_outcome, std::nullopt) << "the reproducer never got to its end";
}

TEST_F(QemuRunnerTest, ARunWithoutAnEndBeforeTheHostDeadlineIsAHang) {
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
echo "FB1 begin 0" >>"$R"
echo "INFO: something the kernel says"
sleep 30)SH");
  const auto results = batch(qemu, 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kHang);
  EXPECT_THAT(results[0].detail, HasSubstr("no result from the guest"));
}

TEST_F(QemuRunnerTest, TheGuestsOwnTimeoutIsAHang) {
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"; echo "FB1 begin 0" >>"$R"; echo "FB1 end 0 timeout 1000 0 -" >>"$R"
echo "FB1 done" >>"$R"; sleep 30)SH");
  const auto results = batch(qemu, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kHang);
}

TEST_F(QemuRunnerTest, ASilentGuestThatNeverGetsReadyIsInfraAndATalkingOneAHang) {
  auto silent = runner("sleep 30");
  auto results = batch(silent, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kInfra);
  // A kernel built from the commit that prints but never gets ready hangs at boot.
  const std::string talking_guest = "echo 'Linux version 6.1'; echo 'Run /init'; sleep 30";
  QemuRunnerOptions built = options(talking_guest);
  built.qemu.kernel.clear();
  const std::string artifact = dir_.file("artifact");
  std::filesystem::create_directories(artifact);
  std::ofstream(artifact + "/bzImage") << "not really a kernel";
  checkout_.artifact = artifact;
  QemuRunner talking(processes_, built);
  results = batch(talking, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kHang);
  EXPECT_THAT(results[0].detail, HasSubstr("qemu.boot_timeout"));
}

TEST_F(QemuRunnerTest, APrebuiltKernelThatNeverGetsReadyIsInfraNotTheCommitsHang) {
  // qemu.kernel boots at every commit and nothing of the commit runs before "ready": a boot that
  // stalls (a TCG guest on a busy host) says nothing about the commit.
  auto talking = runner("echo 'Linux version 6.1'; echo 'Run /init as init process'; sleep 30");
  const auto results = batch(talking, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kInfra);
  EXPECT_THAT(results[0].detail, HasSubstr("qemu.boot_timeout) with the prebuilt kernel"));
}

// qemu.direct_boot: the prebuilt kernel's vmlinux, unpacked into the cache, is what QEMU gets;
// a cache that cannot be written is the batch's error (a bzImage boot under an identity that says
// direct would mix two guests' runs), and without the option the bzImage boots as ever.
TEST_F(QemuRunnerTest, DirectBootGivesQemuTheUnpackedKernelAndACacheItCannotWriteIsAnError) {
  const std::string elf = test_images::elf_with_note("Xen", 18);
  ASSERT_TRUE(base::write_file_atomic(
      dir_.file("bzImage"),
      test_images::bzimage(test_images::with_size(test_images::xz(elf), elf.size()))));
  const std::string script = R"SH(for a in "$@"; do echo "arg: $a"; done; exit 1)SH";
  auto o = options(script);
  o.qemu.direct_boot = true;
  o.kernel_cache_dir = dir_.file("kernels");
  {
    QemuRunner direct(processes_, o);
    const auto results = batch(direct, 1);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_THAT(results[0].detail,
                HasSubstr("booted directly from " + dir_.file("kernels") + "/vmlinux-"));
  }
  o.kernel_cache_dir = dir_.file("bzImage") + "/kernels";  // under a file: cannot be made
  {
    QemuRunner unwritable(processes_, o);
    auto status = unwritable.run_batch(checkout_, 0, 1,
                                       [](const RunResult&) { return base::Result<bool>(true); });
    ASSERT_FALSE(status);
    EXPECT_THAT(status.error().message(), HasSubstr("qemu.direct_boot"));
  }
  o.qemu.direct_boot = false;
  {
    QemuRunner plain(processes_, o);
    const auto results = batch(plain, 1);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_THAT(results[0].detail, Not(HasSubstr("booted directly")));
  }
}

TEST_F(QemuRunnerTest, QemuFailingToStartIsInfraWithItsMessage) {
  auto qemu = runner("echo 'qemu-system-x86_64: -kernel bzImage: cannot load kernel' >&2; exit 1");
  const auto results = batch(qemu, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kInfra);
  EXPECT_THAT(results[0].detail, HasSubstr("cannot load kernel"));
}

TEST_F(QemuRunnerTest, AMissingQemuIsAToolErrorNotARun) {
  auto missing = runner("");
  // Point the runner at a binary that does not exist.
  const std::string gone = dir_.file("qemu");
  std::remove(gone.c_str());
  std::vector<RunResult> results;
  auto status = missing.run_batch(checkout_, 0, 1, [&](const RunResult& r) {
    results.push_back(r);
    return base::Result<bool>(true);
  });
  EXPECT_FALSE(status);
  EXPECT_TRUE(results.empty());
}

TEST_F(QemuRunnerTest, ABootRemovesTheScratchOfKilledBootsButNotOfLiveOnes) {
  namespace fs = std::filesystem;
  fs::create_directories(dir_.file("work/boot-dead"));
  std::ofstream(dir_.file("work/boot-dead/.lock")).close();
  std::ofstream(dir_.file("work/boot-dead/scratch-0.img")) << "old";
  fs::create_directories(dir_.file("work/boot-live"));
  base::UniqueFd held(::open(dir_.file("work/boot-live/.lock").c_str(), O_RDWR | O_CREAT, 0600));
  ASSERT_EQ(::flock(held.get(), LOCK_EX | LOCK_NB), 0);
  auto qemu = runner(R"SH(echo "FB1 ready" >>"$R"; echo "FB1 done" >>"$R")SH");
  batch(qemu, 1);
  EXPECT_FALSE(fs::exists(dir_.file("work/boot-dead")));
  EXPECT_TRUE(fs::exists(dir_.file("work/boot-live")));
}

TEST_F(QemuRunnerTest, TheSinkCanEndTheBatchEarly) {
  auto qemu = runner(R"SH(
echo "FB1 ready" >>"$R"
for k in 0 1 2 3; do echo "FB1 begin $k" >>"$R"; echo "FB1 end $k 0 1 0 -" >>"$R"; done
echo "FB1 done" >>"$R"; sleep 30)SH");
  int seen = 0;
  auto status = qemu.run_batch(checkout_, 0, 4, [&](const RunResult&) {
    return base::Result<bool>(++seen < 2);
  });
  ASSERT_TRUE(status) << status.error().message();
  EXPECT_EQ(seen, 2);
}

// busybox's timeout would exit 127 at every run of every commit: a failure everywhere, good commits
// included. Refused before QEMU starts, saying why.
TEST_F(QemuRunnerTest, AReproducerTheGuestCannotStartIsAnErrorBeforeAnyBoot) {
  processes_.on({dir_.file("busybox"), "--list"}, FakeProcessRunner::exited(0, "sh\nash\nawk\n"));
  auto qemu = runner("echo started > " + dir_.file("booted"));
  std::ofstream(dir_.file("repro")) << "#!/bin/bash\nexit 0\n";
  int runs = 0;
  auto status = qemu.run_batch(checkout_, 0, 1, [&](const RunResult&) {
    ++runs;
    return base::Result<bool>(true);
  });
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message(), HasSubstr("cannot run in the guest"));
  EXPECT_THAT(status.error().message(), HasSubstr("'/bin/bash'"));
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("booted")));
}

// Under TCG the guest's CPUs stall while the host is busy: longer soft-lockup and RCU-stall
// thresholds, so a good commit does not "crash"; qemu.append comes after them and wins.
TEST_F(QemuRunnerTest, TcgGuestsGetLongerLockupThresholdsThatQemuAppendOverrides) {
  QemuRunnerOptions with_append = options("printf '%s\\n' \"$@\" > " + dir_.file("argv"));
  with_append.qemu.append = {"watchdog_thresh=30"};
  QemuRunner qemu(processes_, with_append);
  (void)qemu.run_batch(checkout_, 0, 1, [](const RunResult&) { return base::Result<bool>(true); });
  std::ifstream in(dir_.file("argv"));
  std::string line, cmdline;
  while (std::getline(in, line)) {
    if (line.starts_with("console=")) cmdline = line;
  }
  EXPECT_THAT(cmdline, HasSubstr(" watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120 "
                                 "sysctl.kernel.hung_task_timeout_secs=240 "
                                 "sysctl.kernel.hung_task_check_interval_secs=30 "));
  EXPECT_THAT(cmdline, EndsWith(" watchdog_thresh=30"));
}

// The console shows KERN_INFO (a hung task's trace) at qemu.console_loglevel 7; a bisection stored
// before goes on at 5. The KVM probe waits for the kernel's banner, a KERN_NOTICE line: it is at 7
// whatever the boots get.
TEST_F(QemuRunnerTest, BootsGetTheConsoleLoglevelAndTheKvmProbeAlwaysSevenAsItNeeds) {
  const std::string lines = dir_.file("cmdlines");
  QemuRunnerOptions o = options("for a in \"$@\"; do case \"$a\" in console=*) echo \"$a\" >>" +
                                lines + ";; esac; done");
  o.qemu.console_loglevel = 5;
  o.qemu.accel = "auto";
  o.kvm_probe_timeout = std::chrono::milliseconds(500);
  QemuRunner qemu(processes_, o);
  (void)qemu.run_batch(checkout_, 0, 1, [](const RunResult&) { return base::Result<bool>(true); });
  const std::string text = base::read_file(lines).value_or("");
  if (::access("/dev/kvm", R_OK | W_OK) == 0) {
    EXPECT_THAT(text, HasSubstr(" loglevel=7 rdinit=/nonexistent")) << "the probe";
  }
  EXPECT_THAT(text, HasSubstr(" loglevel=5")) << "the boot";
  EXPECT_THAT(text, Not(HasSubstr(" loglevel=5 rdinit")));
}

TEST_F(QemuRunnerTest, AReproducerMissingFromTheCheckoutIsASkip) {
  runner("exit 0");
  std::vector<RunResult> results;
  // A relative program is looked for in the commit's checkout.
  QemuRunnerOptions relative;
  relative.qemu.binary = dir_.file("qemu");
  relative.qemu.kernel = dir_.file("bzImage");
  relative.qemu.accel = "tcg";
  relative.reproducer.program = "tools/repro";
  relative.work_dir = dir_.file("work");
  relative.cache_dir = dir_.file("cache");
  relative.log_dir = dir_.file("logs");
  relative.busybox = dir_.file("busybox");
  relative.scratch.mkfs = {"/sbin/mkfs.ext4"};
  QemuRunner in_tree(processes_, relative);
  build::CommitCheckout checkout = checkout_;
  checkout.worktree = dir_.path();
  auto status = in_tree.run_batch(checkout, 0, 1, [&](const RunResult& r) {
    results.push_back(r);
    return base::Result<bool>(true);
  });
  ASSERT_TRUE(status) << status.error().message();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kSkip);
}

TEST_F(QemuRunnerTest, XfstestsRunsGetTwoFreshDisksEachAndTheRootOverVirtio9p) {
  // root = the temp dir, dir = /xfstests inside it.
  const std::string tree = dir_.file("xfstests");
  std::filesystem::create_directories(tree + "/ltp");
  std::ofstream(tree + "/check") << "#!/bin/bash\n";
  std::ofstream(tree + "/ltp/fsstress") << "#!/bin/sh\n";
  ::chmod((tree + "/ltp/fsstress").c_str(), 0755);
  QemuRunnerOptions options = this->options(R"SH(
printf '%s\n' "$@" >"$(dirname "$R")/../../argv"
echo "FB1 ready" >>"$R"
echo "FB1 begin 0" >>"$R"; echo "FB1 end 0 1 900 12 $(printf 'Failures: generic/418' | base64 -w0)" >>"$R"
echo "FB1 begin 1" >>"$R"; echo "FB1 end 1 254 100 0 -" >>"$R"
echo "FB1 done" >>"$R"
sleep 30
)SH");
  options.reproducer = {};
  options.xfstests.emplace();
  options.xfstests->root = dir_.path();
  options.xfstests->dir = "/xfstests";
  QemuRunner runner(processes_, options);
  std::vector<RunResult> results;
  auto status = runner.run_batch(checkout_, 40, 14, [&](const RunResult& r) {
    results.push_back(r);
    return base::Result<bool>(true);
  });
  ASSERT_TRUE(status) << status.error().message();
  // 14 runs asked, 16 per boot allowed, but 12 with xfstests: 24 fresh filesystems.
  EXPECT_EQ(processes_.argvs().size(), 24u);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome, RunOutcome::kFail);
  EXPECT_THAT(results[0].detail, HasSubstr("xfstests failed (results in " + dir_.file("logs") +
                                           "/xfstests-"));
  EXPECT_THAT(results[0].detail, HasSubstr("/run-40)"));
  EXPECT_THAT(results[0].detail, HasSubstr("Failures: generic/418"));
  EXPECT_EQ(results[1].outcome, RunOutcome::kInfra);
  EXPECT_THAT(results[1].detail, HasSubstr("./check could not run the tests"));

  auto argv = base::read_file(dir_.file("argv"));
  ASSERT_TRUE(argv) << argv.error().message();
  EXPECT_THAT(*argv, HasSubstr("\nlocal,id=fbroot,path=" + dir_.path() +
                               ",security_model=none,readonly=on,multidevs=remap\n"));
  EXPECT_THAT(*argv, HasSubstr("\nvirtio-9p-pci,fsdev=fbroot,mount_tag=fbroot\n"));
  EXPECT_THAT(*argv, HasSubstr("local,id=fbresults,path=" + dir_.file("logs") + "/xfstests-"));
}

TEST(XfstestsTreeTest, IdentityFilesAreCheckAndTheNamedTestsAndABadTreeIsNamed) {
  TempDir dir;
  const std::string tree = dir.file("xfstests-dev");
  std::filesystem::create_directories(tree + "/tests/generic");
  std::filesystem::create_directories(tree + "/ltp");
  config::XfstestsConfig xfstests;
  xfstests.root = dir.path();
  xfstests.dir = "/xfstests-dev";
  xfstests.tests = {"-g", "quick", "generic/418", "generic/999", "../etc/passwd"};
  auto missing = xfstests_identity_files(xfstests);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "xfstests.dir /xfstests-dev: no ./check in " + tree + " (not an xfstests tree)");
  std::ofstream(tree + "/check") << "#!/bin/bash\n";
  auto unbuilt = xfstests_identity_files(xfstests);
  ASSERT_FALSE(unbuilt);
  EXPECT_THAT(unbuilt.error().message(), HasSubstr("ltp/fsstress is missing: build xfstests first"));
  std::ofstream(tree + "/ltp/fsstress") << "#!/bin/sh\n";
  ::chmod((tree + "/ltp/fsstress").c_str(), 0755);
  std::ofstream(tree + "/tests/generic/418") << "#!/bin/bash\n";
  std::ofstream(tree + "/tests/generic/418.out") << "QA output created by 418\n";
  auto files = xfstests_identity_files(xfstests);
  ASSERT_TRUE(files) << files.error().message();
  EXPECT_THAT(*files, ElementsAre(tree + "/check", tree + "/tests/generic/418",
                                  tree + "/tests/generic/418.out"));
  xfstests.dir = "/proc/xfstests-dev";
  auto hidden = xfstests_identity_files(xfstests);
  ASSERT_FALSE(hidden);
  EXPECT_THAT(hidden.error().message(), HasSubstr("the guest mounts its own /proc"));
  for (const char* guest_dir : {"/tmp", "/tmp/", "/dev", "/tmp/fb/x", "/"}) {
    xfstests.dir = guest_dir;
    auto refused = xfstests_identity_files(xfstests);
    ASSERT_FALSE(refused) << guest_dir;
    EXPECT_THAT(refused.error().message(), HasSubstr("the guest mounts its own")) << guest_dir;
  }
  EXPECT_EQ(path_in_root("/", "/opt/x"), "/opt/x");
  EXPECT_EQ(path_in_root("/srv/root/", "/opt/x"), "/srv/root/opt/x");
}

TEST(ResultsLineTest, ParsesTheProtocolAndRejectsAnythingElse) {
  auto end = parse_results_line("FB1 end 3 1 250 12 aGVsbG8=");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->kind, ResultsLine::Kind::kEnd);
  EXPECT_EQ(end->run, 3u);
  EXPECT_THAT(end->status, Optional(1));
  EXPECT_EQ(end->output_tail, "hello");
  EXPECT_FALSE(end->silent);
  auto silent = parse_results_line("FB1 end 0 silent 4100 6 -");
  ASSERT_TRUE(silent);
  EXPECT_TRUE(silent->silent);
  EXPECT_EQ(silent->status, std::nullopt);
  EXPECT_FALSE(parse_results_line("FB1 end 3 1 250"));
  EXPECT_FALSE(parse_results_line("FB1 end x 1 250 0 -"));
  EXPECT_FALSE(parse_results_line("FB1 end 1 999 250 0 -"));
  EXPECT_FALSE(parse_results_line("Kernel panic - not syncing: FB1 ready"));
  EXPECT_FALSE(parse_results_line(std::string("FB1 \0ready", 10)));
  EXPECT_TRUE(parse_results_line("FB1 ready\r"));
}

TEST(VirtioDiskNameTest, FollowsTheKernelsNaming) {
  EXPECT_EQ(virtio_disk_name(0), "vda");
  EXPECT_EQ(virtio_disk_name(25), "vdz");
  EXPECT_EQ(virtio_disk_name(26), "vdaa");
  EXPECT_EQ(virtio_disk_name(27), "vdab");
}

TEST(CpioWriterTest, WritesNewcEntriesThatCpioCanList) {
  CpioWriter cpio;
  cpio.add_directory("bin");
  cpio.add_file("bin/hello", "hello\n", 0755);
  cpio.add_symlink("bin/sh", "busybox");
  cpio.add_char_device("console", 5, 1);
  const std::string archive = cpio.finish();
  EXPECT_EQ(archive.substr(0, 6), "070701");
  EXPECT_EQ(archive.size() % 4, 0u);
  EXPECT_NE(archive.find("TRAILER!!!"), std::string::npos);
  CpioWriter again;
  again.add_directory("bin");
  again.add_file("bin/hello", "hello\n", 0755);
  again.add_symlink("bin/sh", "busybox");
  again.add_char_device("console", 5, 1);
  EXPECT_EQ(again.finish(), archive) << "same content, same bytes";

  TempDir dir;
  std::ofstream(dir.file("a.cpio"), std::ios::binary) << archive;
  base::ProcessOptions list;
  list.argv = {"cpio", "-it", "--quiet", "-F", dir.file("a.cpio")};
  auto listed = base::run_process(list);
  ASSERT_TRUE(listed) << listed.error().message();
  EXPECT_EQ(listed->out, "bin\nbin/hello\nbin/sh\nconsole\n") << listed->err;
}

}  // namespace
}  // namespace flakebisect::run
