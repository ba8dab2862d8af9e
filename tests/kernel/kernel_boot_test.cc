// Opt-in (ctest label `kernel`, see docs/testing in README): builds a real kernel from Debian's
// linux-source-6.1 with tinyconfig + configs/kernel/qemu-guest.config through build::KernelBuilder,
// boots it under QEMU with run::QemuRunner on fresh 1k-block ext4 scratch filesystems, and runs
// the bundled reproducer, which must pass. A cold build takes about 10 minutes on 2 cores; the
// unpacked tree (with the O= directories in it) and the artifact cache persist under
// $FLAKEBISECT_KERNEL_TEST_DIR (default <build>/kernel-test), so a second run is a cache hit.
//
// A second test builds tinyconfig + qemu-guest + xfstests (its own O= directory in the tree) and
// runs the stand-in xfstests tree (tests/qemu/fake-xfstests) in [xfstests] mode over virtio-9p.
//
// Needs: scripts/install-deps.sh --kernel (linux-source-6.1, bc, bison, flex, libelf-dev).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/process.h"
#include "build/kernel_builder.h"
#include "run/qemu_runner.h"

namespace flakebisect {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr const char* kTarball = "/usr/src/linux-source-6.1.tar.xz";

fs::path test_dir() {
  const char* dir = ::getenv("FLAKEBISECT_KERNEL_TEST_DIR");
  return dir != nullptr && *dir != '\0' ? fs::path(dir)
                                        : fs::path(FLAKEBISECT_BINARY_DIR) / "kernel-test";
}

// Debian's kernel source, unpacked once.
fs::path kernel_tree() {
  const fs::path dir = test_dir();
  const fs::path tree = dir / "linux-source-6.1";
  if (fs::exists(tree / "Makefile")) {
    return tree;
  }
  fs::create_directories(dir);
  base::ProcessOptions untar;
  untar.argv = {"tar", "-xf", kTarball, "-C", dir.native()};
  untar.timeout = std::chrono::minutes(20);
  auto result = base::run_process(untar);
  EXPECT_TRUE(result && result->succeeded())
      << (result ? result->err : result.error().message());
  return tree;
}

// Builds tinyconfig + `fragments` from linux-source-6.1 through build::KernelBuilder in
// <test dir>/<build_dir>; a test failure (and an empty artifact) when it does not build.
build::BuildOutcome build_kernel(base::ProcessRunner& processes,
                                 std::vector<std::string> fragments, const std::string& build_dir,
                                 build::CommitCheckout& checkout) {
  build::BuildOutcome none;
  EXPECT_TRUE(fs::exists(kTarball))
      << kTarball << " is missing: run scripts/install-deps.sh --kernel";
  const fs::path tree = kernel_tree();
  EXPECT_TRUE(fs::exists(tree / "Makefile"));
  config::KernelConfig kernel;
  kernel.base = "tinyconfig";
  kernel.fragments = std::move(fragments);
  build::KernelBuilderOptions options;
  options.build_root = (test_dir() / build_dir).native();
  options.obj_dir_name = ".flakebisect-" + build_dir;  // one O= per config in the one tree
  options.cache_root = (test_dir() / "artifacts").native();
  options.log_dir = (test_dir() / "logs").native();
  build::KernelBuilder builder(processes, kernel, std::chrono::minutes(60), options);
  checkout = build::CommitCheckout{"6100000000000000000000000000000000000000", tree.native(),
                                   tree.native(), "", "linux-source-6.1-tarball"};
  auto built = builder.build(checkout);
  EXPECT_TRUE(built) << built.error().message();
  if (!built) {
    return none;
  }
  EXPECT_TRUE(built->ok) << built->detail << "\n" << built->log_tail;
  std::printf("kernel build (%s): %lld ms (%s)\n", build_dir.c_str(),
              static_cast<long long>(built->duration.count()),
              built->detail.empty() ? "built" : built->detail.c_str());
  checkout.artifact = built->ok ? built->artifact : "";
  return *built;
}

TEST(KernelBootTest, ATinyconfigKernelFromLinuxSourceBootsAndTheReproducerPasses) {
  base::SubprocessRunner processes;
  build::CommitCheckout checkout;
  const build::BuildOutcome built = build_kernel(processes, {"qemu-guest"}, "build", checkout);
  ASSERT_FALSE(checkout.artifact.empty());
  EXPECT_TRUE(fs::exists(fs::path(built.artifact) / "bzImage"));

  run::QemuRunnerOptions qemu;
  qemu.qemu.accel = "auto";
  qemu.scratch.size_mb = 64;
  qemu.reproducer.args = {"-w", "-r", "-t", "-b", "1024", "-n", "4", "-i", "20",
                          "{scratch}/dio-check.file"};
  qemu.run_timeout = std::chrono::minutes(2);
  qemu.work_dir = (test_dir() / "qemu").native();
  qemu.cache_dir = (test_dir() / "initramfs").native();
  qemu.log_dir = (test_dir() / "console").native();
  qemu.helper_dir = FLAKEBISECT_BINARY_DIR "/bin";
  run::QemuRunner runner(processes, qemu);
  std::vector<run::RunResult> results;
  auto status = runner.run_batch(checkout, 0, 3, [&](const run::RunResult& result) {
    results.push_back(result);
    return base::Result<bool>(true);
  });
  ASSERT_TRUE(status) << status.error().message();
  ASSERT_EQ(results.size(), 3u) << (results.empty() ? "" : results[0].detail);
  for (const run::RunResult& result : results) {
    EXPECT_EQ(result.outcome, store::RunOutcome::kPass) << result.detail;
  }
  ASSERT_TRUE(results[0].console_path);
  std::printf("boot %s, console %s\n", runner.accel().value_or("none").c_str(), results[0].console_path->c_str());
}

TEST(KernelBootTest, AKernelWithTheXfstestsFragmentRunsXfstestsOverVirtio9p) {
  base::SubprocessRunner processes;
  build::CommitCheckout checkout;
  build_kernel(processes, {"qemu-guest", "xfstests"}, "build-xfstests", checkout);
  ASSERT_FALSE(checkout.artifact.empty());

  run::QemuRunnerOptions qemu;
  qemu.qemu.accel = "auto";
  qemu.scratch.size_mb = 64;
  qemu.xfstests.emplace();
  qemu.xfstests->dir = FLAKEBISECT_SOURCE_DIR "/tests/qemu/fake-xfstests";
  qemu.xfstests->tests = {"generic/900"};
  qemu.xfstests->mkfs_options = "-b 1024";
  qemu.run_timeout = std::chrono::minutes(3);
  qemu.work_dir = (test_dir() / "qemu").native();
  qemu.cache_dir = (test_dir() / "initramfs").native();
  qemu.log_dir = (test_dir() / "console").native();
  run::QemuRunner runner(processes, qemu);
  std::vector<run::RunResult> results;
  // Runs 0 and 1 of the stand-in test: a pass and a cmpbuf mismatch.
  auto status = runner.run_batch(checkout, 0, 2, [&](const run::RunResult& result) {
    results.push_back(result);
    return base::Result<bool>(true);
  });
  ASSERT_TRUE(status) << status.error().message();
  ASSERT_EQ(results.size(), 2u) << (results.empty() ? "" : results[0].detail);
  EXPECT_EQ(results[0].outcome, store::RunOutcome::kPass) << results[0].detail;
  EXPECT_EQ(results[1].outcome, store::RunOutcome::kFail) << results[1].detail;
  EXPECT_THAT(results[1].detail, HasSubstr("cmpbuf: offset 4096"));
}

}  // namespace
}  // namespace flakebisect
