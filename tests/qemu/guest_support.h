// Helpers shared by the qemu-label tests: the kernel to boot and a command runner for git and
// the flakebisect binary.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/process.h"
#include "run/qemu_runner.h"

namespace flakebisect::guest_support {

// The kernel the qemu tests boot (run::installed_kernel()).
inline std::string debian_kernel() { return run::installed_kernel(); }

// A TCG boot of `kernel` with 64 MiB scratch disks, the runner's state under `dir`, the bundled
// programs from the build, a 60 s run timeout; tests set what they run.
inline run::QemuRunnerOptions guest_options(const std::string& kernel, const std::string& dir) {
  run::QemuRunnerOptions o;
  o.qemu.kernel = kernel;
  o.qemu.accel = "tcg";
  o.qemu.boot_timeout = std::chrono::seconds(120);
  o.scratch.size_mb = 64;
  o.run_timeout = std::chrono::milliseconds(60000);
  o.host_grace = std::chrono::milliseconds(20000);
  o.work_dir = dir + "/work";
  o.cache_dir = dir + "/cache";
  o.kernel_cache_dir = dir + "/kernels";
  o.qemu.direct_boot = true;  // a third of the boot time under TCG (qemu/README.md)
  o.log_dir = dir + "/logs";
  o.helper_dir = FLAKEBISECT_BINARY_DIR "/bin";
  return o;
}

// Runs argv in `cwd` with a fixed git identity and no user or system git config; a tool error
// fails the test and gives an empty result.
inline base::ProcessResult run(std::vector<std::string> argv, const std::string& cwd,
                               std::chrono::minutes timeout = std::chrono::minutes(15)) {
  base::ProcessOptions options;
  options.argv = std::move(argv);
  options.cwd = cwd;
  options.timeout = timeout;
  options.env_set = {{"GIT_AUTHOR_NAME", "A U Thor"},   {"GIT_AUTHOR_EMAIL", "a@example.org"},
                     {"GIT_COMMITTER_NAME", "C Omm"},   {"GIT_COMMITTER_EMAIL", "c@example.org"},
                     {"GIT_CONFIG_NOSYSTEM", "1"},      {"HOME", cwd}};
  auto result = base::run_process(options);
  EXPECT_TRUE(result) << (result ? "" : result.error().message());
  return result ? *result : base::ProcessResult{};
}

}  // namespace flakebisect::guest_support
