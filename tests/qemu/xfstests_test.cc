// xfstests mode under a real boot (ctest label qemu): Debian's packaged kernel under QEMU, the
// host's root shared read-only over virtio-9p, the guest chrooted into it running ./check of
// tests/qemu/fake-xfstests (a stand-in with xfstests' interface: environment, RESULT_BASE layout,
// summary lines; this machine has no xfstests build). The host's bash, coreutils and util-linux
// run in the guest on freshly made 1k-block ext4 TEST_DEV and SCRATCH_DEV disks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/paths.h"
#include "base/process.h"
#include "qemu/guest_support.h"
#include "run/qemu_runner.h"
#include "support/temp_dir.h"

namespace flakebisect::run {
namespace {

namespace fs = std::filesystem;
using flakebisect::guest_support::debian_kernel;
using flakebisect::test_support::TempDir;
using store::RunOutcome;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kFakeTree = FLAKEBISECT_SOURCE_DIR "/tests/qemu/fake-xfstests";

class XfstestsGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = debian_kernel();
    ASSERT_FALSE(kernel_.empty())
        << "no /boot/vmlinuz-* with modules: run scripts/install-deps.sh (linux-image-amd64)";
  }

  QemuRunnerOptions options(const std::string& tree) {
    QemuRunnerOptions o = guest_support::guest_options(kernel_, dir_.path());
    o.xfstests.emplace();
    o.xfstests->dir = tree;
    o.xfstests->tests = {"generic/900"};
    o.xfstests->mkfs_options = "-b 1024";
    o.run_timeout = std::chrono::milliseconds(120000);
    return o;
  }

  base::Result<std::vector<RunResult>> boot(QemuRunnerOptions o, uint32_t first, uint32_t runs) {
    QemuRunner runner(processes_, std::move(o));
    std::vector<RunResult> results;
    FB_TRY(runner.run_batch(checkout_, first, runs, [&](const RunResult& r) {
      results.push_back(r);
      return base::Result<bool>(true);
    }));
    return results;
  }

  std::string console_of(const RunResult& result) {
    auto text = result.console_path ? base::read_file(*result.console_path)
                                    : base::Result<std::string>(std::string());
    return text ? build::tail_of(*text, 3000) : std::string();
  }

  // A tree made by a test, under /tmp: the guest covers /tmp with its own tmpfs and binds the
  // tree back at the same path.
  std::string tree_dir(const std::string& name) {
    const std::string path = dir_.file(name);
    fs::create_directories(path);
    return path;
  }

  // A tree that looks like a built xfstests (./check and ltp/fsstress), whose ./check is `check`.
  std::string fake_tree(const std::string& name, const std::string& check) {
    const std::string tree = tree_dir(name);
    fs::create_directories(fs::path(tree) / "ltp");
    std::ofstream(tree + "/check") << check;
    std::ofstream(tree + "/ltp/fsstress") << "#!/bin/sh\n";
    ::chmod((tree + "/check").c_str(), 0755);
    ::chmod((tree + "/ltp/fsstress").c_str(), 0755);
    return tree;
  }

  TempDir dir_;
  std::string kernel_;
  base::SubprocessRunner processes_;
  build::CommitCheckout checkout_{"0123456789abcdef0123456789abcdef01234567", "/repo", "/wt", ""};
};

TEST_F(XfstestsGuestTest, CheckRunsInTheHostRootAndItsSummaryIsTheVerdict) {
  // Runs 3, 4, 5: the fake test passes, fails with a cmpbuf line, and is "not run".
  auto results = boot(options(kFakeTree), 3, 3);
  ASSERT_TRUE(results) << results.error().message();
  ASSERT_EQ(results->size(), 3u) << (results->empty() ? std::string("no runs")
                                                      : (*results)[0].detail +
                                                            console_of((*results)[0]));
  const RunResult& pass = (*results)[0];
  const RunResult& fail = (*results)[1];
  const RunResult& notrun = (*results)[2];
  EXPECT_EQ(pass.outcome, RunOutcome::kPass) << pass.detail << console_of(pass);
  EXPECT_THAT(pass.detail, HasSubstr("Passed all 1 tests"));
  EXPECT_EQ(fail.outcome, RunOutcome::kFail) << fail.detail;
  EXPECT_THAT(fail.detail, HasSubstr("Failures: generic/900"));
  EXPECT_THAT(fail.detail, HasSubstr("cmpbuf: offset 4096: Expected 0x1, got 0x0"));
  EXPECT_EQ(notrun.outcome, RunOutcome::kSkip) << notrun.detail;
  EXPECT_THAT(notrun.detail, HasSubstr("Not run: generic/900"));

  // The results came back to the host, one RESULT_BASE per run.
  const std::string marker = "(results in ";
  const size_t at = fail.detail.find(marker);
  ASSERT_NE(at, std::string::npos) << fail.detail;
  const std::string run_dir =
      fail.detail.substr(at + marker.size(), fail.detail.find(')', at) - at - marker.size());
  EXPECT_THAT(run_dir, HasSubstr("run-4"));
  auto bad = base::read_file(run_dir + "/generic/900.out.bad");
  ASSERT_TRUE(bad) << bad.error().message();
  EXPECT_THAT(*bad, HasSubstr("blocksize 1024"));  // TEST_DEV: a fresh 1k-block ext4
  EXPECT_THAT(*bad, HasSubstr("direct write, buffered read: same"));
  EXPECT_TRUE(fs::exists(fs::path(run_dir).parent_path() / "run-5" / "generic" / "900.notrun"));
  EXPECT_THAT(console_of(pass), Not(HasSubstr("Kernel panic")));
}

TEST_F(XfstestsGuestTest, ACheckThatCannotStartIsInfraWithItsMessage) {
  // A tree whose ./check refuses to run: the run is infra (the tool's setup, not the kernel).
  const std::string tree =
      fake_tree("broken", "#!/bin/bash\necho 'common/config: xfs_io not found'\nexit 1\n");
  auto results = boot(options(tree), 0, 1);
  ASSERT_TRUE(results) << results.error().message();
  ASSERT_EQ(results->size(), 1u);
  EXPECT_EQ((*results)[0].outcome, RunOutcome::kInfra) << (*results)[0].detail;
  EXPECT_THAT((*results)[0].detail, HasSubstr("./check could not run the tests"));
  EXPECT_THAT((*results)[0].detail, HasSubstr("xfs_io not found"));
}

TEST_F(XfstestsGuestTest, ACheckThatTimesOutIsAHangAndEndsTheBoot) {
  // Its processes may still hold the disks, so the next run must not share the guest.
  const std::string tree = fake_tree("sleepy", "#!/bin/bash\nsleep 3600 &\nwait\n");
  auto o = options(tree);
  o.run_timeout = std::chrono::milliseconds(5000);
  auto results = boot(std::move(o), 0, 3);
  ASSERT_TRUE(results) << results.error().message();
  ASSERT_EQ(results->size(), 1u) << "a timed-out ./check ends the boot";
  EXPECT_EQ((*results)[0].outcome, RunOutcome::kHang) << (*results)[0].detail;
  EXPECT_THAT((*results)[0].detail, HasSubstr("xfstests timed out in the guest"));
}

TEST_F(XfstestsGuestTest, ACheckKilledBySigkillBeforeItsTimeIsInfraNotAHang) {
  // What the OOM killer does: exit 137, like the guest's timeout kill, but long before the timeout.
  const std::string tree = fake_tree("killed", "#!/bin/bash\nkill -9 $$\n");
  auto o = options(tree);
  o.run_timeout = std::chrono::milliseconds(60000);
  auto results = boot(std::move(o), 0, 3);
  ASSERT_TRUE(results) << results.error().message();
  ASSERT_EQ(results->size(), 1u) << "a killed ./check ends the boot";
  EXPECT_EQ((*results)[0].outcome, RunOutcome::kInfra) << (*results)[0].detail;
  EXPECT_THAT((*results)[0].detail, HasSubstr("killed by a signal"));
}

TEST_F(XfstestsGuestTest, ATreeThatIsNotABuiltXfstestsIsAnErrorBeforeBooting) {
  const std::string tree = tree_dir("not-xfstests");
  auto results = boot(options(tree), 0, 1);
  ASSERT_FALSE(results);
  EXPECT_THAT(results.error().message(), HasSubstr("no ./check in " + tree));
  std::ofstream(tree + "/check") << "#!/bin/bash\n";
  results = boot(options(tree), 0, 1);
  ASSERT_FALSE(results);
  EXPECT_THAT(results.error().message(), HasSubstr("build xfstests first"));
  auto hidden = boot(options("/proc/xfstests"), 0, 1);
  ASSERT_FALSE(hidden);
  EXPECT_THAT(hidden.error().message(), HasSubstr("the guest mounts its own /proc"));
}

}  // namespace
}  // namespace flakebisect::run
