// A dead owner's pid given to another process: flakebisect as pid 1 of a new pid namespace each
// time, as in a container whose entry point it is. The bisection its killed process left running
// is not taken for alive because some process has pid 1 now: `status` says so, and `resume` or
// the next daemon, pid 1 themselves, take it over. Needs `unshare --pid --fork --mount-proc`
// (root, or unprivileged user namespaces); skipped where it is not permitted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "integration/cli_support.h"

namespace flakebisect::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kUnshare = {"unshare", "--pid", "--fork", "--mount-proc"};

bool can_unshare() {
  base::ProcessOptions options;
  options.argv = kUnshare;
  options.argv.emplace_back("true");
  options.timeout = std::chrono::seconds(20);
  auto result = base::run_process(options);
  return result && result->exit_code == 0;
}

// cli_options() for `flakebisect args...` run as pid 1 of a new pid namespace.
base::ProcessOptions as_pid_one(const std::vector<std::string>& args) {
  base::ProcessOptions options = cli_options(args, {}, std::nullopt);
  options.argv.insert(options.argv.begin(), kUnshare.begin(), kUnshare.end());
  return options;
}

CliResult flakebisect_as_pid_one(const std::vector<std::string>& args) {
  return cli_result(base::run_process(as_pid_one(args)));
}

// Starts `flakebisect args...` as pid 1 of a new pid namespace, waits until bisection 1 has
// stored two runs under pid 1, then kills it (kill -9 from outside, as a container runtime
// would: pid 1 of a namespace ignores signals from inside it).
void run_as_pid_one_then_kill(const Scenario& s, const std::vector<std::string>& args,
                              const fs::path& log) {
  base::ProcessOptions options = as_pid_one(args);
  options.timeout = std::chrono::milliseconds(0);
  options.stdout_path = log.native();
  options.merge_stderr = true;
  auto unshare = base::ChildProcess::start(options);
  ASSERT_TRUE(unshare.has_value()) << unshare.error().message();
  ASSERT_TRUE(wait_for([&] {
    return stored_state(s.db, 1) == "running" && stored_rows(s.db, 1).size() >= 2;
  })) << read_text(log);
  auto store = store::Store::open(s.db.native());
  ASSERT_TRUE(store.has_value()) << store.error().message();
  ASSERT_EQ(store->get_bisection(1).value().owner_pid, 1) << "not pid 1 in its namespace";

  const std::string children =
      read_text(fmt::format("/proc/{}/task/{}/children", unshare->pid(), unshare->pid()));
  const pid_t owner = static_cast<pid_t>(std::stol(children));
  ASSERT_GT(owner, 1) << children;
  ASSERT_EQ(::kill(owner, SIGKILL), 0);
  auto ended = unshare->wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(ended.has_value() && ended->has_value()) << "unshare did not end";
  ASSERT_EQ(stored_state(s.db, 1), "running");
}

TEST(PidReuse, ResumeAsTheSamePidTakesOverTheBisectionItsKilledProcessLeftRunning) {
  if (!can_unshare()) GTEST_SKIP() << "unshare --pid --fork --mount-proc is not permitted here";
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 16), 100);
  write_text(s.slow, "");
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--", s.script.native()});
  ASSERT_NO_FATAL_FAILURE(run_as_pid_one_then_kill(s, args, dir.path() / "run.log"));

  // Pid 1 is alive in every namespace (here it is this machine's init), but it is not the owner.
  const CliResult status = flakebisect({"--db", s.db.native(), "status", "1", "--json"});
  ASSERT_EQ(status.exit_code, 0) << describe(status);
  EXPECT_EQ(parse_json(status.out)["owner_alive"], false) << status.out;
  const CliResult inside = flakebisect_as_pid_one({"--db", s.db.native(), "status", "1", "--json"});
  ASSERT_EQ(inside.exit_code, 0) << describe(inside);
  EXPECT_EQ(parse_json(inside.out)["owner_alive"], false) << inside.out;

  fs::remove(s.slow);
  const CliResult resumed =
      flakebisect_as_pid_one({"--db", s.db.native(), "resume", "1", "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << describe(resumed);
  EXPECT_THAT(resumed.err, Not(HasSubstr("already running")));
  EXPECT_EQ(parse_json(resumed.out)["culprit"]["sha"], s.history.planted_sha());
}

TEST(PidReuse, TheNextDaemonAsTheSamePidResumesWhatItsKilledDaemonLeftRunning) {
  if (!can_unshare()) GTEST_SKIP() << "unshare --pid --fork --mount-proc is not permitted here";
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 17), 100);
  write_text(s.slow, "");
  const CliResult queued =
      flakebisect({"--db", s.db.native(), "start", "--repo", s.history.repo.native(), "--good",
                   s.history.root, "--bad", s.history.tip, "--", s.script.native()});
  ASSERT_EQ(queued.exit_code, 0) << describe(queued);
  ASSERT_NO_FATAL_FAILURE(
      run_as_pid_one_then_kill(s, {"--db", s.db.native(), "daemon"}, dir.path() / "daemon.log"));

  fs::remove(s.slow);
  const CliResult restarted =
      flakebisect_as_pid_one({"--db", s.db.native(), "daemon", "--exit-when-idle"});
  ASSERT_EQ(restarted.exit_code, 0) << describe(restarted);
  EXPECT_EQ(stored_state(s.db, 1), "found") << restarted.err;
}

}  // namespace
}  // namespace flakebisect::testing
