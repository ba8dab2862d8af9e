// Helpers shared by the base tests: a temporary directory and process-liveness checks.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "base/paths.h"
#include "support/temp_dir.h"

namespace flakebisect::base::testing {

using TempDir = ::flakebisect::test_support::TempDir;

// True if `pid` no longer runs: no such process, or a zombie waiting for a reaper that is not us
// (PID 1 in a container may never reap the orphans it inherits).
inline bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!stat || !std::getline(stat, line)) {
    return true;
  }
  const auto paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) {
    return true;
  }
  const char state = line[paren + 2];
  return state == 'Z' || state == 'X';
}

// Waits up to `limit` for `pid` to be gone. Generous by default: a SIGKILLed process vanishes in
// microseconds, so the limit only matters when the code under test is broken.
inline bool wait_until_gone(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!process_gone(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The file's contents, or "" if it cannot be read (the assertion on the contents then fails).
inline std::string read_whole_file(const std::string& path) {
  return read_file(path).value_or(std::string());
}

}  // namespace flakebisect::base::testing
