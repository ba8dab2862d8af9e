// reliability.md for guests: kill -9 or Ctrl-C of `flakebisect run` while a QEMU guest is running
// leaves no QEMU behind, records no half run, and the bisection resumes to its end.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "base/paths.h"
#include "base/process.h"
#include "qemu/guest_support.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace flakebisect {
namespace {

namespace fs = std::filesystem;
using guest_support::debian_kernel;
using guest_support::run;
using test_support::TempDir;
using ::testing::HasSubstr;



// The pids of QEMU processes whose command line mentions `marker`.
std::vector<pid_t> qemus_mentioning(const std::string& marker) {
  std::vector<pid_t> pids;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().native();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = base::read_file((entry.path() / "cmdline").native(), 1 << 20);
    if (!cmdline) continue;
    if (cmdline->find("qemu-system") != std::string::npos &&
        cmdline->find(marker) != std::string::npos) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return pids;
}

bool wait_until(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

class GuestFaultsTest : public ::testing::TestWithParam<int> {};

TEST_P(GuestFaultsTest, StoppingTheToolDuringABootLeavesNoQemuAndTheBisectionResumes) {
  const int signal = GetParam();
  const std::string kernel = debian_kernel();
  ASSERT_FALSE(kernel.empty()) << "run scripts/install-deps.sh (linux-image-amd64)";
  TempDir dir;
  const std::string repo = dir.file("repo");
  fs::create_directories(repo);
  run({"git", "init", "-q", "-b", "main"}, repo);
  run({"git", "commit", "-q", "--allow-empty", "-m", "good"}, repo);
  run({"git", "commit", "-q", "--allow-empty", "-m", "bad"}, repo);
  const std::string script = dir.file("slow.sh");
  std::ofstream(script) << "#!/bin/sh\nsleep 6\nexit 0\n";
  fs::permissions(script, fs::perms(0755));
  const std::string config = dir.file("guest.toml");
  // Room for a run that is neither a pass nor a fail: on a loaded CI host a TCG boot has, once,
  // not been ready within qemu.boot_timeout (a hang, or infra), and a budget of exactly two runs
  // then ended the bisection inconclusive. What the test checks is that two passes at the bad
  // commit end it, stopped in between or not.
  std::ofstream(config) << "[decision]\nmax_runs = 6\nmax_reproduce_runs = 2\n"
                        << "[qemu]\nkernel = \"" << kernel << "\"\naccel = \"tcg\"\n"
                        << "runs_per_boot = 2\n[scratch]\nsize_mb = 16\n"
                        << "[reproducer]\nprogram = \"" << script << "\"\nargs = []\n"
                        << "[test]\ntimeout = \"60s\"\n";
  const std::string db = dir.file("fb.db");
  const std::vector<std::string> bisect = {FLAKEBISECT_BIN, "--db", db, "run", "--repo", repo,
                                           "--good", "HEAD~1", "--bad", "HEAD", "--config",
                                           config};
  base::ProcessOptions options;
  options.argv = bisect;
  options.cwd = dir.path();
  options.stdout_path = dir.file("run.log");
  options.merge_stderr = true;
  auto tool = base::ChildProcess::start(options);
  ASSERT_TRUE(tool) << tool.error().message();

  // The scratch images live next to the store, so QEMU's command line names the directory.
  ASSERT_TRUE(wait_until([&] { return !qemus_mentioning(dir.path()).empty(); },
                         std::chrono::seconds(120)))
      << "no QEMU started";
  const std::vector<pid_t> qemus = qemus_mentioning(dir.path());
  // Let the guest get into a run, then stop the tool itself (not its group).
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_EQ(::kill(tool->pid(), signal), 0);
  auto ended = tool->wait_for(std::chrono::seconds(60));
  ASSERT_TRUE(ended && *ended) << "the tool did not end";
  if (signal == SIGINT) {
    EXPECT_EQ((*ended)->exit_code, 0) << "Ctrl-C pauses and exits 0";
  }
  EXPECT_TRUE(wait_until([&] { return qemus_mentioning(dir.path()).empty(); },
                         std::chrono::seconds(10)))
      << "QEMU outlived flakebisect (pid " << qemus.front() << ")";

  // Nothing half done is recorded; resume finishes the bisection.
  {
    auto store = store::Store::open(db);
    ASSERT_TRUE(store) << store.error().message();
    auto runs = store->runs_for_bisection(1);
    ASSERT_TRUE(runs);
    for (const auto& r : *runs) {
      EXPECT_EQ(r.outcome, store::RunOutcome::kPass) << "a stopped run must not be recorded";
    }
  }
  const base::ProcessResult resumed = run({FLAKEBISECT_BIN, "--db", db, "resume", "1"}, dir.path());
  auto store = store::Store::open(db);
  ASSERT_TRUE(store);
  auto runs = store->runs_for_bisection(1);
  ASSERT_TRUE(runs);
  std::string recorded;
  for (const auto& r : *runs) {
    recorded += fmt::format("run {} at {}: {}: {}\n", r.run_index, r.sha.substr(0, 12),
                            store::to_string(r.outcome), r.detail.value_or(""));
  }
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_THAT(resumed.out, HasSubstr("could not reproduce")) << recorded << resumed.err;
  size_t passes = 0;
  for (const auto& r : *runs) passes += r.outcome == store::RunOutcome::kPass ? 1 : 0;
  EXPECT_EQ(passes, 2u) << recorded;
  if (runs->size() != passes) {
    std::cerr << "runs that neither passed nor failed (not this test's concern):\n" << recorded;
  }
  EXPECT_TRUE(qemus_mentioning(dir.path()).empty());
  // The scratch images of the stopped boot are gone too.
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir.file("qemu"), error)) {
    ADD_FAILURE() << "left behind: " << entry.path();
  }
}

INSTANTIATE_TEST_SUITE_P(KillAndInterrupt, GuestFaultsTest, ::testing::Values(SIGKILL, SIGINT),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return std::string(param.param == SIGKILL ? "Kill9" : "CtrlC");
                         });

}  // namespace
}  // namespace flakebisect
