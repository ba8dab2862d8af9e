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
