#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <string>

#include "base/process.h"
#include "test_util.h"

namespace flakebisect::base {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::read_whole_file;
using testing::TempDir;
using testing::wait_until_gone;

// Reads from a non-blocking fd until a full line arrives or `limit` passes; returns the line
// without its newline, or "" on timeout or EOF.
std::string read_line(int fd, milliseconds limit = seconds(10)) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (text.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return "";
    }
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char buffer[256];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) {
      return "";
    }
    if (n > 0) {
      text.append(buffer, static_cast<size_t>(n));
    }
  }
  return text.substr(0, text.find('\n'));
}

ProcessOptions command(std::vector<std::string> argv) {
  ProcessOptions options;
  options.argv = std::move(argv);
  return options;
}

TEST(ChildProcessTest, ARunningChildCanBeStoppedOnDemandWithASignal) {
  auto child = ChildProcess::start(command({"sh", "-c", "echo ready; exec sleep 100"}));
  ASSERT_TRUE(child) << child.error().message();
  EXPECT_GT(child->pid(), 0);
  EXPECT_EQ(read_line(child->stdout_fd()), "ready");

  const auto still_running = child->wait_for(milliseconds(0));
  ASSERT_TRUE(still_running);
  EXPECT_FALSE(*still_running);

  ASSERT_TRUE(child->kill_group(SIGTERM));
  const auto status = child->wait_for(seconds(10));
  ASSERT_TRUE(status) << status.error().message();
  ASSERT_TRUE(*status) << "still running after SIGTERM";
  EXPECT_EQ((*status)->exit_code, -1);
  EXPECT_EQ((*status)->term_signal, SIGTERM);
  EXPECT_TRUE(child->exit_status());
  EXPECT_TRUE(child->kill_group(SIGKILL)) << "a reaped child is not signalled, and that is fine";
}

TEST(ChildProcessTest, WaitForReportsTheExitCodeAndStderrHasItsOwnPipe) {
  auto child = ChildProcess::start(command({"sh", "-c", "echo oops >&2; exit 7"}));
  ASSERT_TRUE(child) << child.error().message();
  EXPECT_EQ(read_line(child->stderr_fd()), "oops");
  const auto status = child->wait_for(seconds(10));
  ASSERT_TRUE(status && *status);
  EXPECT_EQ((*status)->exit_code, 7);
  EXPECT_EQ((*status)->term_signal, 0);
}

TEST(ChildProcessTest, StdoutCanGoStraightToAFileWithStderrMergedIn) {
  TempDir tmp;
  auto options = command({"sh", "-c", "echo console; echo more >&2"});
  options.stdout_path = tmp.file("console.log");
  options.merge_stderr = true;
  auto child = ChildProcess::start(options);
  ASSERT_TRUE(child) << child.error().message();
  EXPECT_EQ(child->stdout_fd(), -1);
  EXPECT_EQ(child->stderr_fd(), -1);
  const auto status = child->wait_for(seconds(10));
  ASSERT_TRUE(status && *status);
  EXPECT_EQ(read_whole_file(tmp.file("console.log")), "console\nmore\n");
}

TEST(ChildProcessTest, DestroyingARunningChildKillsItsWholeGroup) {
  pid_t grandchild = -1;
  {
    auto child = ChildProcess::start(command({"sh", "-c", "sleep 100 & echo $!; wait"}));
    ASSERT_TRUE(child) << child.error().message();
    grandchild = static_cast<pid_t>(std::stol("0" + read_line(child->stdout_fd())));
    ASSERT_GT(grandchild, 1);
  }
  EXPECT_TRUE(wait_until_gone(grandchild));
  ::kill(grandchild, SIGKILL);
}

// A helper process plays the tool: it starts a child with `command`, reports the pid that
// `victim` gives for it and dies without any cleanup (no destructors: only the kernel and the
// child's guard can clean up). Returns the reported pid, -1 if none came.
pid_t pid_left_by_a_dying_tool(const ProcessOptions& command,
                               const std::function<pid_t(ChildProcess&)>& victim) {
  std::array<int, 2> report{};
  if (::pipe(report.data()) != 0) {
    return -1;
  }
  const pid_t tool = ::fork();
  if (tool == 0) {
    ::close(report[0]);
    auto child = ChildProcess::start(command);
    const pid_t pid = child ? victim(*child) : -1;
    [[maybe_unused]] const ssize_t n = ::write(report[1], &pid, sizeof pid);
    ::_exit(0);
  }
  ::close(report[1]);
  pid_t pid = -1;
  const ssize_t n = ::read(report[0], &pid, sizeof pid);
  ::close(report[0]);
  int status = 0;
  ::waitpid(tool, &status, 0);
  return n == static_cast<ssize_t>(sizeof pid) ? pid : -1;
}

TEST(ChildProcessTest, TheChildDiesWhenTheToolDies) {
  // The child's guard must kill it.
  const pid_t child =
      pid_left_by_a_dying_tool(command({"sleep", "100"}), [](ChildProcess& c) { return c.pid(); });
  ASSERT_GT(child, 1);
  EXPECT_TRUE(wait_until_gone(child)) << "child " << child << " outlived the tool";
  ::kill(child, SIGKILL);
}

TEST(ChildProcessTest, WhatTheChildStartedDiesWhenTheToolDies) {
  // As above, but the child has a child of its own (a compiler under make, a shell's background
  // job), which PR_SET_PDEATHSIG would not reach: the guard must kill it too.
  const pid_t grandchild = pid_left_by_a_dying_tool(
      command({"sh", "-c", "sleep 100 & echo $!; wait"}), [](ChildProcess& c) {
        return static_cast<pid_t>(std::stol("0" + read_line(c.stdout_fd())));
      });
  ASSERT_GT(grandchild, 1);
  EXPECT_TRUE(wait_until_gone(grandchild)) << "grandchild " << grandchild << " outlived the tool";
  ::kill(grandchild, SIGKILL);
}

TEST(ChildProcessTest, PidIsTheProgramAndASignalToItIsRelayedAsItsStatus) {
  auto child = ChildProcess::start(
      command({"sh", "-c", "echo $$ $(cut -d' ' -f5 /proc/$$/stat); exec sleep 100"}));
  ASSERT_TRUE(child) << child.error().message();
  EXPECT_EQ(read_line(child->stdout_fd()),
            std::to_string(child->pid()) + " " + std::to_string(child->group()));
  EXPECT_NE(child->pid(), child->group());
  // What a user or a test sends to pid() reaches the program; the guard reports how it ended.
  ASSERT_EQ(::kill(child->pid(), SIGTERM), 0);
  const auto status = child->wait_for(seconds(10));
  ASSERT_TRUE(status && *status);
  EXPECT_EQ((*status)->term_signal, SIGTERM);
}

TEST(ChildProcessTest, OptionsItCannotHonourAreRejected) {
  auto options = command({"true"});
  options.timeout = seconds(1);
  const auto child = ChildProcess::start(options);
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().code(), ErrorCode::kInvalidInput);
}

TEST(ChildProcessTest, AMissingProgramIsANotFoundError) {
  const auto child = ChildProcess::start(command({"flakebisect-no-such-qemu"}));
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(child.error().message(), "flakebisect-no-such-qemu: not found");
}

}  // namespace
}  // namespace flakebisect::base
