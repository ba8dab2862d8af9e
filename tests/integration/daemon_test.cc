// The daemon: serves the queue, refuses to be started twice on one store, pauses on SIGTERM and
// resumes what it paused when it restarts; start/cancel/watch around it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "integration/cli_support.h"

namespace flakebisect::testing {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> start_args(const Scenario& s) {
  return {"--db",         s.db.native(), "start",       "--repo", s.history.repo.native(), "--good",
          s.history.root, "--bad",       s.history.tip, "--",     s.script.native()};
}

TEST(Daemon, ServesTheQueueRefusesASecondDaemonAndResumesAfterSigterm) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(60, 12), 30);
  write_text(s.slow, "");
  const CliResult queued = flakebisect(start_args(s));
  ASSERT_EQ(queued.exit_code, 0) << describe(queued);
  EXPECT_EQ(queued.out, "1\n");
  EXPECT_EQ(stored_state(s.db, 1), "queued");

  auto daemon = start_cli({"--db", s.db.native(), "-v", "daemon"}, dir.path() / "daemon1.log");
  ASSERT_TRUE(daemon.has_value()) << daemon.error().message();
  ASSERT_TRUE(wait_for([&] { return stored_rows(s.db, 1).size() >= 2; }))
      << read_text(dir.path() / "daemon1.log");

  const CliResult second = flakebisect({"--db", s.db.native(), "daemon", "--exit-when-idle"});
  EXPECT_EQ(second.exit_code, 1) << describe(second);
  EXPECT_THAT(second.err, HasSubstr("flakebisect: error:"));
  EXPECT_THAT(second.err, HasSubstr("already served by a daemon"));

  ASSERT_EQ(::kill(daemon->pid(), SIGTERM), 0);
  auto status = daemon->wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value() && status->has_value()) << "daemon did not stop on SIGTERM";
  EXPECT_EQ((*status)->exit_code, 0) << read_text(dir.path() / "daemon1.log");
  EXPECT_EQ(stored_state(s.db, 1), "paused");

  // A new daemon takes back what the old one paused.
  fs::remove(s.slow);
  const CliResult restarted = flakebisect({"--db", s.db.native(), "daemon", "--exit-when-idle"});
  ASSERT_EQ(restarted.exit_code, 0) << describe(restarted);
  EXPECT_EQ(stored_state(s.db, 1), "found");
  const CliResult report = flakebisect({"--db", s.db.native(), "report", "1", "--format", "json"});
  EXPECT_EQ(parse_json(report.out)["result"]["culprit"]["sha"], s.history.planted_sha());
}

TEST(Daemon, WithTwoJobsServesTwoBisectionsAtOnceAndResumesBothAfterSigterm) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(60, 12), 30);
  write_text(s.slow, "");
  ASSERT_EQ(flakebisect(start_args(s)).exit_code, 0);
  ASSERT_EQ(flakebisect(start_args(s)).exit_code, 0);

  auto daemon =
      start_cli({"--db", s.db.native(), "-v", "daemon", "--jobs", "2"}, dir.path() / "d.log");
  ASSERT_TRUE(daemon.has_value()) << daemon.error().message();
  // Both running, each with runs of its own, under the one daemon.
  ASSERT_TRUE(wait_for([&] {
    return stored_state(s.db, 1) == "running" && stored_state(s.db, 2) == "running" &&
           stored_rows(s.db, 1).size() >= 2 && stored_rows(s.db, 2).size() >= 2;
  })) << read_text(dir.path() / "d.log");

  ASSERT_EQ(::kill(daemon->pid(), SIGTERM), 0);
  auto status = daemon->wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value() && status->has_value()) << "daemon did not stop on SIGTERM";
  EXPECT_EQ((*status)->exit_code, 0) << read_text(dir.path() / "d.log");
  EXPECT_EQ(stored_state(s.db, 1), "paused");
  EXPECT_EQ(stored_state(s.db, 2), "paused");

  fs::remove(s.slow);
  const CliResult restarted =
      flakebisect({"--db", s.db.native(), "daemon", "--jobs", "2", "--exit-when-idle"});
  ASSERT_EQ(restarted.exit_code, 0) << describe(restarted);
  for (int id : {1, 2}) {
    EXPECT_EQ(stored_state(s.db, id), "found")
        << id << "\n"
        << restarted.err << flakebisect({"--db", s.db.native(), "log", std::to_string(id)}).out;
    const CliResult report =
        flakebisect({"--db", s.db.native(), "report", std::to_string(id), "--format", "json"});
    EXPECT_EQ(parse_json(report.out)["result"]["culprit"]["sha"], s.history.planted_sha()) << id;
  }
}

TEST(Daemon, RefusesJobsOutsideOneToSixtyFour) {
  TempDir dir;
  for (const char* jobs : {"0", "65", "two"}) {
    const CliResult result = flakebisect(
        {"--db", (dir.path() / "s.db").native(), "daemon", "--jobs", jobs, "--exit-when-idle"});
    EXPECT_EQ(result.exit_code, 2) << describe(result);
    EXPECT_THAT(result.err, HasSubstr("--jobs")) << jobs;
  }
}

TEST(Daemon, ResumesABisectionWhoseDaemonWasKilled) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(50, 13), 30);
  ASSERT_EQ(flakebisect(start_args(s)).exit_code, 0);
  const CliResult killed = flakebisect({"--db", s.db.native(), "daemon", "--exit-when-idle"},
                                       {{"FLAKEBISECT_FAILPOINT", "after-run-commit:5"}});
  ASSERT_EQ(killed.term_signal, SIGKILL) << describe(killed);
  EXPECT_EQ(stored_state(s.db, 1), "running");
  const CliResult restarted = flakebisect({"--db", s.db.native(), "daemon", "--exit-when-idle"});
  ASSERT_EQ(restarted.exit_code, 0) << describe(restarted);
  EXPECT_EQ(stored_state(s.db, 1), "found");
}

TEST(Daemon, LeavesAForegroundRunsBisectionToResume) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 14), 30);
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--", s.script.native()});
  ASSERT_EQ(flakebisect(args, {{"FLAKEBISECT_FAILPOINT", "after-run-commit:3"}}).term_signal,
            SIGKILL);
  const CliResult daemon = flakebisect({"--db", s.db.native(), "daemon", "--exit-when-idle"});
  ASSERT_EQ(daemon.exit_code, 0) << describe(daemon);
  EXPECT_EQ(stored_state(s.db, 1), "paused");  // recovered, not taken over
  const CliResult resumed = flakebisect({"--db", s.db.native(), "resume", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << describe(resumed);
  EXPECT_EQ(stored_state(s.db, 1), "found");
}

TEST(Queue, CancelWatchAndStatus) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 15), 100);
  ASSERT_EQ(flakebisect(start_args(s)).out, "1\n");
  ASSERT_EQ(flakebisect(start_args(s)).out, "2\n");
  const CliResult cancel = flakebisect({"--db", s.db.native(), "cancel", "1"});
  EXPECT_EQ(cancel.exit_code, 0) << describe(cancel);
  EXPECT_EQ(stored_state(s.db, 1), "cancelled");
  const CliResult again = flakebisect({"--db", s.db.native(), "cancel", "1"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("already ended"));

  ASSERT_EQ(flakebisect({"--db", s.db.native(), "daemon", "--exit-when-idle"}).exit_code, 0);
  EXPECT_EQ(stored_state(s.db, 1), "cancelled");
  EXPECT_EQ(stored_state(s.db, 2), "found");
  const CliResult watch = flakebisect({"--db", s.db.native(), "watch", "2", "--interval", "0.1"});
  EXPECT_EQ(watch.exit_code, 0);
  EXPECT_THAT(watch.out, HasSubstr("bisection 2: found"));
  EXPECT_THAT(watch.out, HasSubstr("found: " + s.history.planted_sha()));
  // --json: JSON Lines, every event as `log --json` lists it, then the end state and result.
  const CliResult lines =
      flakebisect({"--db", s.db.native(), "watch", "2", "--interval", "0.1", "--json"});
  EXPECT_EQ(lines.exit_code, 0) << describe(lines);
  std::vector<nlohmann::json> objects;
  std::istringstream stream(lines.out);
  for (std::string line; std::getline(stream, line);) objects.push_back(parse_json(line));
  const auto logged = parse_json(flakebisect({"--db", s.db.native(), "log", "2", "--json"}).out);
  ASSERT_EQ(objects.size(), logged.size() + 1);
  for (size_t i = 0; i < logged.size(); ++i) EXPECT_EQ(objects[i], logged[i]);
  EXPECT_EQ(objects.back()["state"], "found");
  EXPECT_EQ(objects.back()["result"]["culprit"]["sha"], s.history.planted_sha());
  const auto list = parse_json(flakebisect({"--db", s.db.native(), "list", "--json"}).out);
  ASSERT_EQ(list.size(), 2U);
  EXPECT_EQ(list[0]["state"], "cancelled");
  EXPECT_EQ(list[1]["state"], "found");
  const auto status = parse_json(flakebisect({"--db", s.db.native(), "status", "--json"}).out);
  EXPECT_EQ(status["id"], 2);
  EXPECT_EQ(status["result"]["status"], "found");
}

TEST(Queue, FlakebisectDbSelectsTheStore) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(20, 16), 100);
  std::vector<std::string> args = start_args(s);
  args.erase(args.begin(), args.begin() + 2);  // no --db
  const CliResult queued = flakebisect(args, {{"FLAKEBISECT_DB", s.db.native()}});
  ASSERT_EQ(queued.exit_code, 0) << describe(queued);
  EXPECT_EQ(stored_state(s.db, 1), "queued");
  // Without either, the store lives under the XDG data home.
  const CliResult defaulted = flakebisect(args, {{"XDG_DATA_HOME", (dir.path() / "xdg").native()}});
  ASSERT_EQ(defaulted.exit_code, 0) << describe(defaulted);
  EXPECT_TRUE(fs::exists(dir.path() / "xdg" / "flakebisect" / "flakebisect.db"));
}

// A queued bisection names its revisions by full SHA when it is started: a branch that moves
// before a daemon takes it up changes nothing (design.md, "branch moved later").
TEST(Queue, ABranchThatMovesBeforeTheDaemonTakesItUpChangesNothing) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 17), 100);
  git(s.history.repo, {"branch", "moving", s.history.tip});
  git(s.history.repo, {"tag", "base", s.history.root});
  std::vector<std::string> args = start_args(s);
  args[6] = "base";
  args[8] = "moving";
  ASSERT_EQ(flakebisect(args).exit_code, 0);
  git(s.history.repo, {"branch", "-f", "moving", s.history.root});
  git(s.history.repo, {"tag", "-f", "base", s.history.tip});
  ASSERT_EQ(flakebisect({"--db", s.db.native(), "daemon", "--exit-when-idle"}).exit_code, 0);
  const auto status = parse_json(flakebisect({"--db", s.db.native(), "status", "1", "--json"}).out);
  EXPECT_EQ(status["result"]["status"], "found");
  EXPECT_EQ(status["result"]["culprit"]["sha"], s.history.planted_sha());
  EXPECT_EQ(status["bad"], s.history.tip) << status.dump();
}

// A fix bisection queued with `start --find-fix` is the daemon's like any other: it names the
// fix, the first commit on the tip's first-parent chain that has the marker.
TEST(Queue, TheDaemonServesAFixBisection) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(60, 18), 100);
  write_text(s.script, "#!/bin/sh\n[ -f bug/marker ] && exit 0\nexit 1\n", /*executable=*/true);
  const CliResult start =
      flakebisect({"--db", s.db.native(), "start", "--repo", s.history.repo.native(), "--find-fix",
                   "--bad", s.history.root, "--good", s.history.tip, "--", s.script.native()});
  ASSERT_EQ(start.exit_code, 0) << describe(start);
  ASSERT_EQ(flakebisect({"--db", s.db.native(), "daemon", "--exit-when-idle"}).exit_code, 0);
  const auto status = parse_json(flakebisect({"--db", s.db.native(), "status", "1", "--json"}).out);
  EXPECT_EQ(status["mode"], "fix");
  EXPECT_EQ(status["result"]["status"], "found") << status.dump();
  EXPECT_EQ(status["result"]["culprit"]["sha"], s.history.shas[first_parent_culprit(s.history)]);
}

// `--good` is repeatable, as in `git bisect start BAD GOOD...`: the candidates are the ancestors of
// bad that are ancestors of no good.
TEST(Queue, SeveralGoodRevisionsNarrowTheRange) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(60, 18), 100);
  const std::string parent =
      trim(git(s.history.repo, {"rev-parse", s.history.planted_sha() + "^"}));
  std::vector<std::string> one = {
      "--db",  s.db.native(), "run",    "--repo", s.history.repo.native(), "--good", s.history.root,
      "--bad", s.history.tip, "--json", "--",     s.script.native()};
  const CliResult wide = flakebisect(one);
  ASSERT_EQ(wide.exit_code, 0) << describe(wide);
  std::vector<std::string> two = one;
  two.insert(two.begin() + 7, {"--good", parent});
  const CliResult narrow = flakebisect(two);
  ASSERT_EQ(narrow.exit_code, 0) << describe(narrow);
  const auto wide_result = parse_json(wide.out);
  const auto narrow_result = parse_json(narrow.out);
  EXPECT_EQ(narrow_result["culprit"]["sha"], s.history.planted_sha());
  const std::string count = trim(git(
      s.history.repo, {"rev-list", "--count", s.history.tip, "^" + s.history.root, "^" + parent}));
  EXPECT_EQ(narrow_result["candidates"], std::stoi(count));
  EXPECT_LT(narrow_result["candidates"].get<int>(), wide_result["candidates"].get<int>());
}

}  // namespace
}  // namespace flakebisect::testing
