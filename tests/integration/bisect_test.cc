// End-to-end bisections with the real binary: a flaky bug in a kernel-like history, the
// deterministic case against real `git bisect run`, hostile commit text, and shell
// metacharacters everywhere a user can put them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "integration/cli_support.h"

namespace flakebisect::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Bisect, NamesThePlantedCommitOfAThirtyPercentBugInAKernelLikeHistory) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(150, 42), 30);
  // Fixed costs: with the ones learned from the wall clock the path, and so the runs and the 90%
  // interval checked below, would depend on the machine's load (the interval missed 0.3 once in
  // a loaded run, at 0.302).
  const fs::path config = dir.path() / "fixed-costs.toml";
  write_text(config, "[decision]\nlearn_costs = false\n");
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--config", config.native(), "--", s.script.native()});
  const CliResult run = flakebisect(args);
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_THAT(run.out, HasSubstr("found: " + s.history.planted_sha()));

  const CliResult report = flakebisect({"--db", s.db.native(), "report", "1", "--format", "json"});
  ASSERT_EQ(report.exit_code, 0) << describe(report);
  const auto json = parse_json(report.out);
  EXPECT_EQ(json["result"]["status"], "found");
  EXPECT_EQ(json["result"]["culprit"]["sha"], s.history.planted_sha());
  EXPECT_GE(json["result"]["confidence"].get<double>(), 0.99);
  EXPECT_EQ(json["bisection"]["state"], "found");
  // The failure rate it estimated covers the true 30%.
  EXPECT_LE(json["result"]["theta"]["low"].get<double>(), 0.3);
  EXPECT_GE(json["result"]["theta"]["high"].get<double>(), 0.3);

  // The read commands work on the finished bisection.
  for (const std::vector<std::string>& read : {std::vector<std::string>{"status", "1"},
                                               {"status", "--json"},
                                               {"list"},
                                               {"list", "--json"},
                                               {"log", "1"},
                                               {"log", "1", "--json"},
                                               {"report", "1"},
                                               {"watch", "1"}}) {
    std::vector<std::string> full = {"--db", s.db.native()};
    full.insert(full.end(), read.begin(), read.end());
    const CliResult r = flakebisect(full);
    EXPECT_EQ(r.exit_code, 0) << ::testing::PrintToString(read) << describe(r);
    if (read.back() == "--json") parse_json(r.out);
  }
}

TEST(Bisect, TheDeterministicCaseMatchesGitBisectRun) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(150, 9), 100);
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--json", "--", s.script.native()});
  const CliResult run = flakebisect(args);
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto result = parse_json(run.out);
  EXPECT_EQ(result["status"], "found");
  const std::string ours = result["culprit"]["sha"];

  // git bisect run, in a clone (it moves HEAD and writes refs).
  const fs::path clone = dir.path() / "clone";
  git(dir.path(), {"clone", "-q", s.history.repo.native(), clone.native()});
  git(clone, {"bisect", "start", s.history.tip, s.history.root});
  const std::string out = git(clone, {"bisect", "run", s.script.native()});
  std::smatch match;
  ASSERT_TRUE(std::regex_search(out, match, std::regex("([0-9a-f]{40}) is the first bad commit")))
      << out;
  EXPECT_EQ(ours, match[1].str());
  EXPECT_EQ(ours, s.history.planted_sha());
}

// --find-fix: the test fails until the marker arrives (the fix) and passes from then on. On the
// tip's first-parent chain that is the merge that brought the marker in.
std::string fixed_by_marker_script(int failure_percent) {
  std::string script = "#!/bin/sh\n[ -f bug/marker ] && exit 0\n";
  if (failure_percent >= 100) return script + "exit 1\n";
  script +=
      "h=$(printf '%s-%s' \"$FLAKEBISECT_COMMIT\" \"$FLAKEBISECT_RUN\" | sha256sum | cut -c1-8)\n";
  script += "[ $((0x$h % 100)) -lt " + std::to_string(failure_percent) + " ] && exit 1\n";
  return script + "exit 0\n";
}

TEST(Bisect, FindFixNamesTheCommitThatFixedAFlakyFailure) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(150, 42), 30);
  write_text(s.script, fixed_by_marker_script(30), /*executable=*/true);
  const std::string fix = s.history.shas[first_parent_culprit(s.history)];
  const CliResult run = flakebisect(
      {"--db", s.db.native(), "run", "--repo", s.history.repo.native(), "--find-fix",
       "--backport-check", "--bad", s.history.root, "--good", "main", "--", s.script.native()});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_THAT(run.out, HasSubstr(fix)) << describe(run);

  const CliResult status = flakebisect({"--db", s.db.native(), "status", "1", "--json"});
  ASSERT_EQ(status.exit_code, 0) << describe(status);
  const auto json = parse_json(status.out);
  EXPECT_EQ(json["mode"], "fix");
  EXPECT_EQ(json["bad"], s.history.root);
  EXPECT_EQ(json["result"]["mode"], "fix");
  EXPECT_EQ(json["result"]["culprit"]["sha"], fix) << json.dump();
  EXPECT_GE(json["result"]["confidence"].get<double>(), 0.99);
  // The fix (a merge) cherry-picked onto the broken root brings the marker: the failure goes.
  const auto& backport = json["result"]["checks"]["backport"];
  EXPECT_EQ(backport["status"], "pass") << backport.dump();
  EXPECT_EQ(backport["picked"], fix);
  EXPECT_EQ(backport["onto"], s.history.root);
  const CliResult plain = flakebisect({"--db", s.db.native(), "status", "1", "--plain"});
  EXPECT_THAT(plain.out, HasSubstr("looking for the fix (--find-fix)")) << describe(plain);

  // Given the other way round, as for a regression, it says which end is which.
  const CliResult swapped =
      flakebisect({"--db", s.db.native(), "run", "--repo", s.history.repo.native(), "--find-fix",
                   "--bad", "main", "--good", s.history.root, "--", s.script.native()});
  EXPECT_EQ(swapped.exit_code, 1) << describe(swapped);
  EXPECT_THAT(swapped.err, HasSubstr("--bad is the older commit")) << describe(swapped);
}

TEST(Bisect, BackportOntoChecksTheFixOnAStableBranchAndTheReportAgrees) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(60, 7), 100);
  write_text(s.script, fixed_by_marker_script(100), /*executable=*/true);
  const std::string stable =
      trim(git(s.history.repo, {"commit-tree", s.history.root + "^{tree}", "-p", s.history.root,
                                "-m", "stable fix-up"}));
  git(s.history.repo, {"branch", "linux-1.0.y", stable});
  const CliResult run =
      flakebisect({"--db", s.db.native(), "run", "--repo", s.history.repo.native(), "--find-fix",
                   "--backport-onto", "linux-1.0.y", "--bad", s.history.root, "--good",
                   s.history.tip, "--", s.script.native()});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const CliResult report = flakebisect({"--db", s.db.native(), "report", "1", "--format", "json"});
  ASSERT_EQ(report.exit_code, 0) << describe(report);
  const auto json = parse_json(report.out);
  EXPECT_EQ(json["result"]["checks"]["backport"]["onto"], stable) << json["result"].dump();
  EXPECT_EQ(json["result"]["checks"]["backport"]["status"], "pass");
  EXPECT_TRUE(json["warnings"].empty()) << json["warnings"].dump();

  const CliResult unknown =
      flakebisect({"--db", s.db.native(), "run", "--repo", s.history.repo.native(), "--find-fix",
                   "--backport-onto", "linux-9.9.y", "--bad", s.history.root, "--good",
                   s.history.tip, "--", s.script.native()});
  EXPECT_EQ(unknown.exit_code, 1) << describe(unknown);
  EXPECT_THAT(unknown.err, HasSubstr("--backport-onto 'linux-9.9.y'")) << describe(unknown);
  const CliResult empty =
      flakebisect({"--db", s.db.native(), "run", "--repo", s.history.repo.native(), "--find-fix",
                   "--backport-onto", "", "--bad", s.history.root, "--good", s.history.tip, "--",
                   s.script.native()});
  EXPECT_EQ(empty.exit_code, 2) << describe(empty);
  EXPECT_THAT(empty.err, HasSubstr("--backport-onto")) << describe(empty);
}

TEST(Bisect, FindFixOfADeterministicFailureMatchesGitBisectWithTerms) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(150, 9), 100);
  write_text(s.script, fixed_by_marker_script(100), /*executable=*/true);
  const CliResult run = flakebisect({"--db", s.db.native(), "run", "--repo",
                                     s.history.repo.native(), "--find-fix", "--bad", s.history.root,
                                     "--good", s.history.tip, "--json", "--", s.script.native()});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto result = parse_json(run.out);
  ASSERT_EQ(result["status"], "found") << result.dump();
  const std::string ours = result["culprit"]["sha"];

  // git with the terms a fix hunt uses; `git bisect run` marks exit 0 with the old term, so
  // the script for git exits 0 where the test fails (broken) and 1 where it passes (fixed).
  const fs::path clone = dir.path() / "clone";
  git(dir.path(), {"clone", "-q", s.history.repo.native(), clone.native()});
  const fs::path inverted = dir.path() / "broken-is-old.sh";
  write_text(inverted, "#!/bin/sh\n[ -f bug/marker ] && exit 1\nexit 0\n", true);
  git(clone, {"bisect", "start", "--term-old", "broken", "--term-new", "fixed", "--first-parent",
              s.history.tip, s.history.root});
  const std::string out = git(clone, {"bisect", "run", inverted.native()});
  std::smatch match;
  ASSERT_TRUE(std::regex_search(out, match, std::regex("([0-9a-f]{40}) is the first fixed commit")))
      << out;
  EXPECT_EQ(ours, match[1].str());
  EXPECT_EQ(ours, s.history.shas[first_parent_culprit(s.history)]);
}

TEST(Bisect, SurvivesUnicodeControlCharactersAndAMegabyteCommitMessage) {
  TempDir dir;
  HistoryOptions options = sized(60, 4);
  const std::string subject = "fs: ✓ ünïcödé \x1b[31mred\x1b[0m \"quoted\" <b> \u202e";
  options.planted_message = subject + "\n\n" + std::string(1 << 20, 'z') + "\n";
  options.subject_prefix = "修正 ";
  Scenario s = make_scenario(dir.path(), options, 100);
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--", s.script.native()});
  const CliResult run = flakebisect(args);
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_THAT(run.out, Not(HasSubstr("\x1b"))) << "a commit subject reached the terminal raw";

  const CliResult report = flakebisect({"--db", s.db.native(), "report", "1", "--format", "json"});
  ASSERT_EQ(report.exit_code, 0) << describe(report);
  const auto json = parse_json(report.out);
  EXPECT_EQ(json["result"]["culprit"]["sha"], s.history.planted_sha());
  EXPECT_EQ(json["result"]["culprit"]["subject"], subject);
  const CliResult status = flakebisect({"--db", s.db.native(), "status", "1"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(status.out, Not(HasSubstr("\x1b")));
}

TEST(Bisect, ShellMetacharactersInRefsPathsAndArgumentsReachNoShell) {
  TempDir dir("repo dir $(touch pwned) ;&|`touch pwned`");
  Scenario s = make_scenario(dir.path(), sized(40, 2), 100);
  const std::string good_ref = "good;$(touch${IFS}pwned)&|<>\"";
  git(s.history.repo, {"tag", good_ref, s.history.root});
  const fs::path args_file = dir.path() / "args.txt";
  const fs::path script = dir.path() / "record-args.sh";
  write_text(script, "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$ARGS_FILE\"\nexec \"$REAL_TEST\"\n",
             /*executable=*/true);
  const std::vector<std::string> hostile = {"$(touch pwned)", ";",   "|",     "a b", "*",
                                            "`touch pwned`",  "'\"", "--good"};
  std::vector<std::string> args = {
      "--db",   s.db.native(), "run",  "--repo", s.history.repo.native(), "--good",
      good_ref, "--bad",       "main", "--",     script.native()};
  args.insert(args.end(), hostile.begin(), hostile.end());
  const CliResult run = flakebisect(
      args, {{"ARGS_FILE", args_file.native()}, {"REAL_TEST", s.script.native()}}, dir.path());
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_THAT(run.out, HasSubstr("found: " + s.history.planted_sha()));
  std::string expected;
  for (const std::string& arg : hostile) expected += arg + "\n";
  EXPECT_EQ(read_text(args_file), expected);
  const fs::path top = dir.path().parent_path();
  EXPECT_TRUE(find_files_named(top, "pwned").empty()) << "something ran a shell";
}

TEST(Bisect, ARelativeTestCommandMeansTheFileInTheCurrentDirectory) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(30, 3), 100);
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--", "./" + s.script.filename().native()});
  const CliResult run = flakebisect(args, {}, dir.path());
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_THAT(run.out, HasSubstr("found: " + s.history.planted_sha()));
}

// Started from a git hook or `git rebase -x`, flakebisect inherits GIT_DIR and friends; `git` in
// the build and test commands must still see the commit checked out, not the user's repository.
// An error pause (five infra outcomes in a row) exits 1 with the error and says how to go on.
TEST(Bisect, AnErrorPauseSaysHowToContinue) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(20, 6), 100);
  const fs::path harness = dir.path() / "broken-harness.sh";
  write_text(harness, "#!/bin/sh\nexit 200\n", true);
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--", harness.native()});
  const CliResult run = flakebisect(args);
  EXPECT_EQ(run.exit_code, 1) << describe(run);
  EXPECT_THAT(run.err, HasSubstr("5 runs in a row failed for reasons outside the test (infra)"));
  EXPECT_THAT(run.err, HasSubstr("bisection 1 paused; once the cause is fixed, continue with: "
                                 "flakebisect resume 1"));
}

TEST(Bisect, GitVariablesOfTheCallerDoNotReachTheCommands) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(20, 6), 100);
  const fs::path check = dir.path() / "check-head.sh";
  write_text(check,
             "#!/bin/sh\n[ \"$(git rev-parse HEAD)\" = \"$FLAKEBISECT_COMMIT\" ] || exit 3\n"
             "[ -z \"$GIT_DIR$GIT_WORK_TREE$GIT_INDEX_FILE\" ] || exit 4\n"
             "[ \"$1\" = --build ] && exit 0\nexec '" +
                 s.script.native() + "' \"$@\"\n",
             true);
  const fs::path config = dir.path() / "bisect.toml";
  // As the build command it only checks: the script's exit status would be the build's.
  write_text(config, "[build]\ncommand = [\"" + check.native() +
                         "\", \"--build\"]\n\n[test]\ncommand = [\"" + check.native() + "\"]\n");
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--config", config.native(), "--json"});
  const fs::path git_dir = s.history.repo / ".git";
  const CliResult run = flakebisect(args, {{"GIT_DIR", git_dir.native()},
                                           {"GIT_WORK_TREE", s.history.repo.native()},
                                           {"GIT_INDEX_FILE", (git_dir / "index").native()}});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto result = parse_json(run.out);
  ASSERT_TRUE(result["culprit"].is_object()) << describe(run);
  EXPECT_EQ(result["culprit"]["sha"], s.history.planted_sha()) << describe(run);
}

TEST(Bisect, AConfigFileSetsTheBuildAndTestCommands) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 6), 100);
  const fs::path build = dir.path() / "build.sh";
  const fs::path built = dir.path() / "built.log";
  write_text(build,
             "#!/bin/sh\necho \"$FLAKEBISECT_COMMIT\" >> '" + built.native() +
                 "'\n[ \"$FLAKEBISECT_WORKTREE\" = \"$PWD\" ] || exit 3\n",
             true);
  const fs::path config = dir.path() / "bisect.toml";
  write_text(config, "[decision]\nconfidence = 0.995\n\n[build]\ncommand = [\"" + build.native() +
                         "\"]\ntimeout = \"5m\"\n\n[test]\ncommand = [\"" + s.script.native() +
                         "\"]\ntimeout = 60\n");
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--config", config.native(), "--json"});
  const CliResult run = flakebisect(args);
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto result = parse_json(run.out);
  EXPECT_EQ(result["culprit"]["sha"], s.history.planted_sha());
  EXPECT_GE(result["confidence"].get<double>(), 0.995);
  EXPECT_GT(result["builds"].get<int>(), 0);
  EXPECT_THAT(read_text(built), HasSubstr(s.history.tip));
}

// reliability.md: a full disk pauses the bisection; it continues once space is back. The build
// command fails like a linker on a full disk from its third build on, while a "full" file exists.
TEST(Bisect, ABuildThatFindsTheDiskFullPausesAndResumesOnceThereIsSpace) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 6), 100);
  const fs::path build = dir.path() / "build.sh";
  const fs::path built = dir.path() / "built.log";
  const fs::path full = dir.path() / "full";
  write_text(full, "");
  write_text(build,
             "#!/bin/sh\nif [ -e '" + full.native() + "' ] && [ -e '" + built.native() +
                 "' ] && [ $(wc -l < '" + built.native() +
                 "') -ge 2 ]; then\n  echo \"$FLAKEBISECT_COMMIT\" > '" +
                 (dir.path() / "failed").native() +
                 "'\n  echo '/usr/bin/ld: final link failed: No space left on device'\n  exit 1\n"
                 "fi\necho \"$FLAKEBISECT_COMMIT\" >> '" +
                 built.native() + "'\n",
             true);
  const fs::path config = dir.path() / "bisect.toml";
  write_text(config, "[build]\ncommand = [\"" + build.native() + "\"]\n\n[test]\ncommand = [\"" +
                         s.script.native() + "\"]\n");
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--config", config.native()});
  const CliResult run = flakebisect(args);
  EXPECT_EQ(run.exit_code, 1) << describe(run);
  EXPECT_THAT(run.err, HasSubstr("the disk is full (\"/usr/bin/ld: final link failed: No space "
                                 "left on device\"); free some space, then resume"));
  const CliResult status = flakebisect({"--db", s.db.native(), "status", "1", "--json"});
  ASSERT_EQ(status.exit_code, 0) << describe(status);
  EXPECT_EQ(parse_json(status.out)["state"], "paused");

  fs::remove(full);
  const CliResult resumed = flakebisect({"--db", s.db.native(), "resume", "1", "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << describe(resumed);
  const auto result = parse_json(resumed.out);
  EXPECT_EQ(result["culprit"]["sha"], s.history.planted_sha());
  // The commit whose build hit the full disk was built after the resume, not skipped for good.
  const std::string failed = trim(read_text(dir.path() / "failed"));
  ASSERT_EQ(failed.size(), 40U);
  EXPECT_THAT(read_text(built), HasSubstr(failed + "\n"));
}

// The same full disk, now also under the store: the run cannot be recorded, and neither can the
// pause after that error. The bisection stays running under a process that exits; the user must
// be told that, and how it continues. At the third run the test command fills the disk for
// flakebisect alone (RLIMIT_FSIZE 0: each write to a file fails, as with ENOSPC; SIGXFSZ, which a
// full disk does not send, ignored).
TEST(Bisect, ARunWhosePauseTheFullDiskRefusesSaysThatResumeContinuesIt) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 18), 100);
  const fs::path test = dir.path() / "fill-the-disk.sh";
  const fs::path count = dir.path() / "count";
  write_text(test,
             "#!/bin/sh\nn=$(($(cat '" + count.native() +
                 "' 2>/dev/null || echo 0) + 1))\n"
                 "echo $n > '" +
                 count.native() +
                 "'\nif [ $n -eq 3 ]; then\n"
                 "  tool=$(cut -d' ' -f4 /proc/$PPID/stat)\n"
                 "  prlimit --pid \"$tool\" --fsize=0: || exit 99\nfi\nexec '" +
                 s.script.native() + "'\n",
             true);
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(), {"--", test.native()});
  base::ProcessOptions options = cli_options(args, {}, std::nullopt);
  options.argv.insert(options.argv.begin(), {"sh", "-c", "trap '' XFSZ; exec \"$@\"", "sh"});
  auto run = base::run_process(options);
  ASSERT_TRUE(run.has_value()) << run.error().message();
  EXPECT_EQ(run->exit_code, 1) << run->err;
  EXPECT_THAT(run->err, HasSubstr("I/O error")) << run->err;
  EXPECT_THAT(run->err, HasSubstr("bisection 1 could not be stored as paused; it shows as running "
                                  "(not alive) once this process has exited: once the store can "
                                  "be written again (another process holding its lock lets go "
                                  "of it, or a full disk has space again), continue it with: "
                                  "flakebisect resume 1"))
      << run->err;
  const CliResult status = flakebisect({"--db", s.db.native(), "status", "1", "--json"});
  ASSERT_EQ(status.exit_code, 0) << describe(status);
  EXPECT_EQ(parse_json(status.out)["state"], "running");
  EXPECT_EQ(parse_json(status.out)["owner_alive"], false);

  const CliResult resumed = flakebisect({"--db", s.db.native(), "resume", "1", "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << describe(resumed);
  EXPECT_EQ(parse_json(resumed.out)["culprit"]["sha"], s.history.planted_sha());
}

// Every store numbers its bisections from 1: two stores in one directory must not share the
// checkout of their bisection 1 (one would test its commits in the other's tree, and its end would
// remove the checkout the other's paused bisection keeps).
TEST(Bisect, StoresSideBySideKeepTheirCheckoutsApart) {
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(30, 8), 100);
  // A test killed by a signal is infra; five in a row pause the bisection.
  const fs::path stop = dir.path() / "stop.sh";
  write_text(stop, "#!/bin/sh\nkill -KILL $$\n", true);
  std::vector<std::string> paused = run_args(s);
  paused[1] = (dir.path() / "state" / "a.db").native();
  paused.insert(paused.end(), {"--", stop.native()});
  const CliResult first = flakebisect(paused);
  ASSERT_EQ(first.exit_code, 1) << describe(first);
  ASSERT_EQ(stored_state(paused[1], 1), "paused");
  const fs::path kept = dir.path() / "state" / "worktrees" / "a.db.d" / "bisection-1";
  ASSERT_TRUE(fs::exists(kept / ".git")) << "a paused bisection keeps its checkout";

  std::vector<std::string> other = run_args(s);
  other[1] = (dir.path() / "state" / "b.db").native();
  other.insert(other.end(), {"--", s.script.native()});
  const CliResult second = flakebisect(other);
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_THAT(second.out, HasSubstr("found: " + s.history.planted_sha()));
  EXPECT_TRUE(fs::exists(kept / ".git")) << "the other store's bisection removed it";
  // The default store keeps the layout it always had.
  std::vector<std::string> plain = run_args(s);
  plain.insert(plain.end(), {"--", stop.native()});
  const CliResult third = flakebisect(plain);
  ASSERT_EQ(third.exit_code, 1) << describe(third);
  EXPECT_TRUE(fs::exists(dir.path() / "state" / "worktrees" / "bisection-1" / ".git"));
}

TEST(Bisect, AGoodCommitThatFailsTooIsCaughtByTheVerifyCheck) {
  // A user's "good" commit that already has the bug (it passed a few times by hand): every
  // candidate is bad, so without the check the first one would be named. The verify check runs
  // its parent, the good commit, and ends the bisection inconclusive instead.
  TempDir dir;
  Scenario s = make_scenario(dir.path(), sized(40, 8), 40);
  std::vector<std::string> args = run_args(s);
  args[6] = s.history.planted_sha();  // the value of --good
  args.insert(args.end(), {"--", s.script.native()});
  const CliResult result = flakebisect(args);
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_THAT(result.out, HasSubstr("inconclusive: the culprit's parent " +
                                    s.history.planted_sha().substr(0, 12) + " is not good"));
  EXPECT_THAT(result.out, HasSubstr("older than the range"));
  EXPECT_THAT(result.out, HasSubstr("verify check: FAIL ("));
  const CliResult report = flakebisect({"--db", s.db.native(), "report", "1", "--format", "text"});
  ASSERT_EQ(report.exit_code, 0) << describe(report);
  EXPECT_THAT(report.out, HasSubstr("verify:  FAIL"));
  const auto json =
      parse_json(flakebisect({"--db", s.db.native(), "report", "1", "--format", "json"}).out);
  EXPECT_EQ(json["result"]["status"], "inconclusive");
  EXPECT_EQ(json["result"]["checks"]["verify"]["status"], "fail");
  EXPECT_EQ(json["result"]["checks"]["verify"]["commit"], s.history.planted_sha());
  // git, replaying the log, names no first bad commit either: the good end the check found bad
  // is left out, so git waits for a good commit.
  const fs::path log = dir.path() / "verify.bisect-log";
  write_text(log,
             flakebisect({"--db", s.db.native(), "report", "1", "--format", "bisect-log"}).out);
  const fs::path clone = dir.path() / "clone";
  git(dir.path(), {"clone", "-q", s.history.repo.native(), clone.native()});
  const std::string replayed = git(clone, {"bisect", "replay", log.native()});
  EXPECT_THAT(replayed, Not(HasSubstr("is the first bad commit"))) << replayed;
  EXPECT_THAT(replayed, HasSubstr("waiting for good commit(s)")) << replayed;

  // Without the check the same range names its first commit, on the user's word.
  std::vector<std::string> unchecked = args;
  unchecked[1] = (dir.path() / "unchecked.db").native();
  unchecked.insert(unchecked.end() - 2, "--no-verify-check");
  const CliResult named = flakebisect(unchecked);
  ASSERT_EQ(named.exit_code, 0) << describe(named);
  EXPECT_THAT(named.out, HasSubstr("found: "));
  EXPECT_THAT(named.out, Not(HasSubstr("verify check")));
}

// `--revert-check` end to end: the real binary, git and a shell test script. The check's runs see
// the revert commit as FLAKEBISECT_COMMIT, in the worktree's own objects and not the user's; a
// kill -9 in the middle of the check resumes to the same check; the text report shows it.
TEST(Bisect, TheRevertCheckRunsTheBadCommitWithTheCulpritRevertedAndSurvivesAKill) {
  TempDir dir;
  const fs::path seen = dir.path() / "seen";
  Scenario s = make_scenario(dir.path(), sized(60, 8), 40);
  // Each run notes its commit and whether the user's repository and the worktree know it.
  write_text(s.script,
             flaky_script(40,
                          "printf '%s %s %s\\n' \"$FLAKEBISECT_COMMIT\" \"$(git cat-file -t "
                          "\"$FLAKEBISECT_COMMIT\" 2>/dev/null)\" \"$(git -C \"$FLAKEBISECT_REPO\" "
                          "cat-file -t \"$FLAKEBISECT_COMMIT\" 2>/dev/null)\" >> '" +
                              seen.native() + "'"),
             /*executable=*/true);
  // Planned with the configured costs, not measured ones, so that the killed run below takes the
  // same steps as this one and the kill lands in the check.
  const fs::path config = dir.path() / "bisect.toml";
  write_text(config, "[decision]\nlearn_costs = false\n");
  std::vector<std::string> args = run_args(s);
  args.insert(args.end(),
              {"--config", config.native(), "--revert-check", "--json", "--", s.script.native()});
  const CliResult reference = flakebisect(args);
  ASSERT_EQ(reference.exit_code, 0) << describe(reference);
  const auto result = parse_json(reference.out);
  EXPECT_EQ(result["culprit"]["sha"], s.history.planted_sha());
  const auto& revert = result["checks"]["revert"];
  EXPECT_EQ(revert["status"], "pass") << revert.dump();
  const std::string commit = revert["commit"];
  const auto check_runs = revert["runs"].get<size_t>();
  ASSERT_GE(check_runs, 4u);
  // The check's runs tested the revert commit, which the worktree has and the user's repository
  // does not: "<sha> commit " (git -C repo printed nothing).
  const std::string lines = read_text(seen);
  size_t at_commit = 0;
  for (size_t at = lines.find(commit + " commit \n"); at != std::string::npos;
       at = lines.find(commit + " commit \n", at + 1)) {
    ++at_commit;
  }
  EXPECT_EQ(at_commit, check_runs) << lines;

  const CliResult text = flakebisect({"--db", s.db.native(), "report", "1"});
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_THAT(text.out, HasSubstr("Checks:\n  revert:  PASS"));

  // Killed after the check's second run is committed, then resumed: the same runs and check.
  const fs::path db2 = dir.path() / "state2" / "flakebisect.db";
  std::vector<std::string> again = args;
  again[1] = db2.native();
  const size_t kill_at = result["runs"].get<size_t>() - check_runs + 2;
  const CliResult killed = flakebisect(
      again, {{"FLAKEBISECT_FAILPOINT", "after-run-commit:" + std::to_string(kill_at)}});
  ASSERT_EQ(killed.term_signal, SIGKILL) << describe(killed);
  // It died in the check: two more runs at the revert commit than the first bisection made.
  const std::string after_kill = read_text(seen);
  size_t now_at_commit = 0;
  for (size_t at = after_kill.find(commit + " "); at != std::string::npos;
       at = after_kill.find(commit + " ", at + 1)) {
    ++now_at_commit;
  }
  EXPECT_EQ(now_at_commit, check_runs + 2);
  const CliResult resumed = flakebisect({"--db", db2.native(), "resume", "1", "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << describe(resumed);
  const auto after = parse_json(resumed.out);
  EXPECT_EQ(after["culprit"], result["culprit"]);
  EXPECT_EQ(after["checks"], result["checks"]);
  EXPECT_EQ(after["runs"], result["runs"]);
}

}  // namespace
}  // namespace flakebisect::testing
