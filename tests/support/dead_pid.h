// dead_pid(): the pid of a process that has exited and been reaped, for tests of what happens to a
// bisection whose owner died (kill -9, a crash). Nothing else can have that pid until the kernel
// wraps its pid counter around, which takes tens of thousands of new processes.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

namespace flakebisect::test_support {

inline int64_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) {
    ::_exit(0);
  }
  EXPECT_GT(child, 0) << "fork";
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, 0), child);
  return child;
}

}  // namespace flakebisect::test_support
