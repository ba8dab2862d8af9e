// What the user gets wrong: bad refs, bad configs, a corrupt store, bad usage. Each is refused
// with one "flakebisect: error: ..." line, exit 1 (2 for usage), before anything is stored.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "integration/cli_support.h"

namespace flakebisect::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class ErrorsTest : public ::testing::Test {
 protected:
  ErrorsTest() : s_(make_scenario(dir_.path(), with_blobs(sized(30, 17), 3000), 100)) {}

  CliResult run_with(const std::string& good, const std::string& bad,
                     std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--db",   s_.db.native(), "run",   "--repo", s_.history.repo.native(),
        "--good", good,           "--bad", bad};
    args.insert(args.end(), extra.begin(), extra.end());
    if (std::find(extra.begin(), extra.end(), "--config") == extra.end()) {
      args.insert(args.end(), {"--", s_.script.native()});
    }
    return flakebisect(args);
  }

  void expect_refused(const CliResult& r, const std::string& message) {
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_THAT(r.err, StartsWith("flakebisect: error: ")) << describe(r);
    EXPECT_THAT(r.err, HasSubstr(message)) << describe(r);
    EXPECT_TRUE(r.out.empty()) << describe(r);
    EXPECT_FALSE(fs::exists(s_.db)) << "the store was touched";
  }

  TempDir dir_;
  Scenario s_;
};

TEST_F(ErrorsTest, BadRefsAreRejectedBeforeAnythingIsStored) {
  expect_refused(run_with("no-such-ref", s_.history.tip), "--good 'no-such-ref': unknown revision");
  expect_refused(run_with(s_.history.root, "v9.9"), "--bad 'v9.9'");
  expect_refused(run_with(s_.history.tip, s_.history.tip), "good");

  // A commit that is not an ancestor of bad.
  const std::string side = trim(git(s_.history.repo, {"commit-tree", s_.history.root + "^{tree}",
                                                      "-p", s_.history.root, "-m", "side"}));
  expect_refused(run_with(side, s_.history.tip), "not an ancestor");

  // A short SHA that names two objects, neither a commit (one commit among them would be the
  // answer, as in git bisect).
  std::map<std::string, std::pair<int, int>> prefixes;  // -> (objects, commits)
  std::istringstream all(git(s_.history.repo, {"cat-file", "--batch-all-objects",
                                               "--batch-check=%(objectname) %(objecttype)"}));
  for (std::string sha, type; all >> sha >> type;) {
    auto& [objects, commits] = prefixes[sha.substr(0, 4)];
    ++objects;
    commits += type == "commit" ? 1 : 0;
  }
  std::string ambiguous;
  for (const auto& [prefix, counts] : prefixes) {
    if (counts.first >= 2 && counts.second == 0) ambiguous = prefix;
  }
  ASSERT_FALSE(ambiguous.empty());
  expect_refused(run_with(ambiguous, s_.history.tip), "ambiguous");
  // Not a repository at all.
  std::vector<std::string> args = {
      "--db", s_.db.native(), "run", "--repo", dir_.path().native(), "--good", "a", "--bad",
      "b",    "--",           "true"};
  expect_refused(flakebisect(args), "not a git repository");
}

TEST_F(ErrorsTest, BadConfigsNameTheFileLineAndKey) {
  const fs::path config = dir_.path() / "bisect.toml";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[test\ncommand = [\"x\"]\n", "bisect.toml:1:"},
      {"[decision]\nconfidense = 0.9\n", "bisect.toml:2:1: unknown key 'decision.confidense'"},
      {"[decision]\nmax_runs = \"many\"\n", "bisect.toml:2:1: decision.max_runs"},
      {"[decision]\nmax_runs = 0\n", "decision.max_runs: must be at least 1"},
      {"[test]\ncommand = \"./test.sh --fast\"\n", "no shell is used"},
  };
  for (const auto& [text, message] : cases) {
    write_text(config, text);
    const CliResult r = run_with(s_.history.root, s_.history.tip, {"--config", config.native()});
    expect_refused(r, message);
    // The message names the file; no "(config <file>)" after it says it again.
    EXPECT_THAT(r.err, Not(HasSubstr("(config "))) << describe(r);
  }
  expect_refused(run_with(s_.history.root, s_.history.tip,
                          {"--config", (dir_.path() / "missing.toml").native()}),
                 "missing.toml: not found");
}

// kbuild cannot build in a path with a space or a colon (an O= with a space builds in the part
// before it); kernel builds go next to the store, so such a store is refused before anything is
// stored.
TEST_F(ErrorsTest, AKernelBisectionRefusesAStoreWhosePathMakeCannotTake) {
  const fs::path config = dir_.path() / "kernel.toml";
  write_text(config, "[kernel]\n\n[qemu]\n\n[reproducer]\n");
  // The worktrees' directory is named after the store's file (worktrees/<file>.d/).
  for (const char* name : {"with space/s.db", "with:colon/s.db", "plain/s:1.db", "plain/s 1.db"}) {
    const fs::path db = dir_.path() / name;
    const CliResult r =
        flakebisect({"--db", db.native(), "start", "--repo", s_.history.repo.native(), "--good",
                     s_.history.root, "--bad", s_.history.tip, "--config", config.native()});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("the kernel's make takes no space or colon"));
    EXPECT_FALSE(fs::exists(db)) << name;
  }
}

TEST_F(ErrorsTest, ACorruptStoreIsRefusedAndLeftAlone) {
  fs::create_directories(s_.db.parent_path());
  const std::string garbage(8192, '\x42');
  write_text(s_.db, garbage);
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"status"}, {"list"}, {"daemon", "--exit-when-idle"}}) {
    std::vector<std::string> args = {"--db", s_.db.native()};
    args.insert(args.end(), command.begin(), command.end());
    const CliResult r = flakebisect(args);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_THAT(r.err, StartsWith("flakebisect: error: "));
    // One line that names the file once, with no context after it that says nothing more.
    EXPECT_EQ(r.err, "flakebisect: error: " + s_.db.native() +
                         ": not a flakebisect store (file is not a database)\n");
  }
  // So is a store that is not there.
  fs::remove(s_.db);
  const CliResult none = flakebisect({"--db", s_.db.native(), "resume", "7"});
  EXPECT_EQ(none.err, "flakebisect: error: " + s_.db.native() + ": no flakebisect store here\n");
  // Listing before the first bisection is no error: nothing to list, as in an empty store, and
  // nothing is made.
  for (const bool as_json : {false, true}) {
    std::vector<std::string> args = {"--db", s_.db.native(), "list"};
    if (as_json) args.push_back("--json");
    const CliResult list = flakebisect(args);
    EXPECT_EQ(list.exit_code, 0) << describe(list);
    EXPECT_EQ(list.out, as_json ? "[]\n" : "");
    EXPECT_THAT(list.err, HasSubstr("no bisections yet: there is no store at " + s_.db.native()));
    EXPECT_FALSE(fs::exists(s_.db));
  }
  // status without an id answers the same, and an empty file (touched, or a creation cut short)
  // is a store not made yet for both.
  const CliResult status = flakebisect({"--db", s_.db.native(), "status", "--json"});
  EXPECT_EQ(status.exit_code, 0) << describe(status);
  EXPECT_EQ(status.out, "null\n");
  EXPECT_FALSE(fs::exists(s_.db));
  write_text(s_.db, "");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--db", s_.db.native(), "list"},
        {"--db", s_.db.native(), "status"}}) {
    const CliResult empty = flakebisect(args);
    EXPECT_EQ(empty.exit_code, 0) << describe(empty);
    EXPECT_THAT(empty.err, HasSubstr("no bisections yet: the store is an empty file"));
  }
  EXPECT_EQ(read_text(s_.db), "");
  fs::remove(s_.db);
  write_text(s_.db, garbage);
  const CliResult r = run_with(s_.history.root, s_.history.tip);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(read_text(s_.db), garbage);
}

TEST_F(ErrorsTest, UsageErrorsExitTwo) {
  const std::string db = s_.db.native();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{},
        {"--db", db, "frobnicate"},
        {"--db", db, "run", "--good", "x"},
        {"--db", db, "run", "--good", "x", "--bad", "y", "--bogus"},
        {"--db", db, "report", "1", "--format", "xml"},
        {"--db", db, "run", "--repo", s_.history.repo.native(), "--good", s_.history.root, "--bad",
         s_.history.tip, "--confidence", "1.5", "--", "true"},
        {"--db", db, "run", "--repo", s_.history.repo.native(), "--good", s_.history.root, "--bad",
         s_.history.tip},
        {"--db", db, "run", "--repo", s_.history.repo.native(), "--good", s_.history.root, "--bad",
         s_.history.tip, "--confidence", "", "--", "true"},
        {"--db", db, "run", "--repo", s_.history.repo.native(), "--good", s_.history.root, "--bad",
         s_.history.tip, "--", ""},
        {"--db", "", "list"},
        {"--db", ":memory:", "run", "--repo", s_.history.repo.native(), "--good", s_.history.root,
         "--bad", s_.history.tip, "--", "true"},
        {"--db", db, "run", "--repo", "", "--good", s_.history.root, "--bad", s_.history.tip, "--",
         "true"},
        {"--db", db, "run", "--repo", s_.history.repo.native(), "--good", s_.history.root, "--bad",
         s_.history.tip, "--config", "", "--", "true"},
        // Settings that contradict each other, whatever the range.
        {"--db", db, "run", "--repo", s_.history.repo.native(), "--good", s_.history.root, "--bad",
         s_.history.tip, "--find-fix", "--revert-check", "--", "true"},
        {"--db", db, "start", "--repo", s_.history.repo.native(), "--good", s_.history.root,
         "--bad", s_.history.tip, "--backport-check", "--", "true"},
        {"--db", db, "resume", "99999999999999999999"},
        {"--db", db, "report", "18446744073709551617"},
        {"--db", db, "status", "0"},
        {"--db", db, "cancel", "-3"}}) {
    const CliResult r = flakebisect(args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << describe(r);
    EXPECT_THAT(r.err, StartsWith("flakebisect: error: ")) << describe(r);
  }
  EXPECT_FALSE(fs::exists(s_.db));
  // SQLite's in-memory database would lose the bisection at exit, whichever way it is named.
  const CliResult memory = flakebisect({"list"}, {{"FLAKEBISECT_DB", ":memory:"}});
  EXPECT_EQ(memory.exit_code, 1) << describe(memory);
  EXPECT_THAT(memory.err, HasSubstr("$FLAKEBISECT_DB is ':memory:', SQLite's in-memory database"));
  EXPECT_EQ(flakebisect({"--help"}).exit_code, 0);
  // A mistyped command is named, with the nearest one; `help [COMMAND]` answers as git does.
  const CliResult typo = flakebisect({"--db", db, "statuss"});
  EXPECT_EQ(typo.exit_code, 2) << describe(typo);
  EXPECT_THAT(typo.err, HasSubstr("error: 'statuss' is not a flakebisect command (did you mean "
                                  "'status'?); the commands are: run, start, resume, status"));
  const CliResult other = flakebisect({"frobnicate"});
  EXPECT_THAT(other.err, HasSubstr("'frobnicate' is not a flakebisect command; the commands"));
  const CliResult help = flakebisect({"help", "report"});
  EXPECT_EQ(help.exit_code, 0) << describe(help);
  EXPECT_THAT(help.out, HasSubstr("Usage: flakebisect report [OPTIONS] id"));
  EXPECT_THAT(flakebisect({"help"}).out, HasSubstr("Subcommands:"));
  // A bad value is said plainly, not in the parser's words.
  const CliResult jobs = flakebisect({"--db", db, "daemon", "-j", "abc"});
  EXPECT_EQ(jobs.exit_code, 2) << describe(jobs);
  EXPECT_THAT(jobs.err, HasSubstr("error: --jobs: must be a whole number from 1 to 64, got 'abc'"));
  EXPECT_THAT(
      flakebisect({"--db", db, "watch", "1", "--interval", "abc"}).err,
      HasSubstr("error: --interval: 'abc' is not a number\nRun 'flakebisect watch --help'"));
  EXPECT_THAT(
      flakebisect({"--db", db, "run", "--good", "a", "--bad", "b", "--bad", "c", "--", "true"}).err,
      HasSubstr("error: --bad takes one value, and was given 2 (a bisection has one bad "
                "commit)"));
  EXPECT_THAT(flakebisect({"--db", db, "report", "1", "--format", "xml"}).err,
              HasSubstr("email (or mail), bisect-log or html, got 'xml'\nRun 'flakebisect report "
                        "--help' for usage."));
  // A value of any length (a regex over it once overflowed the stack at 40000 characters).
  const CliResult long_value = flakebisect({"--db", db, "daemon", "-j", std::string(100000, 'a')});
  EXPECT_EQ(long_value.exit_code, 2) << describe(long_value);
  EXPECT_THAT(long_value.err, HasSubstr("--jobs: must be a whole number from 1 to 64, got 'aaa"));
  // `help` after a global option, and an unknown command after it.
  EXPECT_THAT(flakebisect({"-v", "--db", db, "help", "status"}).out,
              HasSubstr("Usage: flakebisect status"));
  const CliResult help_typo = flakebisect({"help", "statuss"});
  EXPECT_EQ(help_typo.exit_code, 2) << describe(help_typo);
  EXPECT_THAT(help_typo.err, HasSubstr("'statuss' is not a flakebisect command (did you mean"));
  // A usage error in a command points at that command's help.
  EXPECT_THAT(flakebisect({"--db", db, "run", "--good", "x"}).err,
              HasSubstr("Run 'flakebisect run --help' for usage."));
  const CliResult version = flakebisect({"--version"});
  EXPECT_EQ(version.exit_code, 0) << describe(version);
  EXPECT_THAT(version.out, StartsWith("flakebisect 0."));

  // A count that is no whole number says so, not CLI11's "Could not convert".
  for (const char* runs : {"-1", "1.5", "1e3", "99999999999", "0"}) {
    const CliResult r = flakebisect(
        {"--db", db, "run", "--good", "a", "--bad", "b", "--max-runs", runs, "--", "true"});
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr(std::string("--max-runs: must be a whole number from 1 to "
                                             "4294967295, got '") +
                                 runs + "'"));
  }

  // Two values after --good: the second is no test command (it would have queued `true` as one).
  const std::vector<std::string> two_goods = {
      "--db",          db,     "start", "--repo",      s_.history.repo.native(), "--good",
      s_.history.root, "true", "--bad", s_.history.tip};
  const CliResult no_dashes = flakebisect(two_goods);
  EXPECT_EQ(no_dashes.exit_code, 2) << describe(no_dashes);
  EXPECT_THAT(no_dashes.err,
              HasSubstr("'true' is not an option: the test command goes after '--'"));
  std::vector<std::string> with_command = two_goods;
  with_command.insert(with_command.end(), {"--", s_.script.native()});
  const CliResult extra = flakebisect(with_command);
  EXPECT_EQ(extra.exit_code, 2) << describe(extra);
  EXPECT_THAT(extra.err, HasSubstr("each good commit needs its own --good"));
  // The stray word is named, not the command after --.
  EXPECT_THAT(extra.err, HasSubstr("error: 'true' is neither an option nor an option's value"));
  EXPECT_THAT(extra.err, Not(HasSubstr(s_.script.native())));
  // An option the command does not have is named as such, not taken for a second good commit.
  std::vector<std::string> unknown = with_command;
  unknown.insert(unknown.begin() + 3, {"--store", "x.db"});
  const CliResult wrong_option = flakebisect(unknown);
  EXPECT_EQ(wrong_option.exit_code, 2) << describe(wrong_option);
  EXPECT_THAT(wrong_option.err, HasSubstr("('--store' is not an option of start)"));
  EXPECT_THAT(wrong_option.err, Not(HasSubstr("each good commit")));
  EXPECT_FALSE(fs::exists(s_.db));

  // Settings a file alone contradicts are the file's error (exit 1), not a usage error.
  const fs::path both = s_.db.parent_path().parent_path() / "both.toml";
  write_text(both, "[range]\nfind_fix = true\n\n[decision]\nrevert_check = true\n");
  const CliResult from_file = flakebisect({"--db", db, "start", "--repo", s_.history.repo.native(),
                                           "--good", s_.history.tip, "--bad", s_.history.root,
                                           "--config", both.native(), "--", "true"});
  EXPECT_EQ(from_file.exit_code, 1) << describe(from_file);
  EXPECT_THAT(from_file.err, HasSubstr("range.find_fix (" + both.native() +
                                       ":2) cannot run the "
                                       "revert check"));
  EXPECT_THAT(from_file.err, Not(HasSubstr("--help")));
  // With a flag as one side, it is a usage error pointing at the command's help.
  const CliResult with_flag = flakebisect({"--db", db, "start", "--repo", s_.history.repo.native(),
                                           "--good", s_.history.tip, "--bad", s_.history.root,
                                           "--find-fix", "--revert-check", "--", "true"});
  EXPECT_EQ(with_flag.exit_code, 2) << describe(with_flag);
  EXPECT_THAT(with_flag.err, HasSubstr("Run 'flakebisect start --help' for usage."));
  EXPECT_FALSE(fs::exists(s_.db));

  // A flag that contradicts the file names both, not a line of a text the user never sees.
  const fs::path config = s_.db.parent_path().parent_path() / "batch.toml";
  write_text(config, "[test]\nruns_per_batch = 10\n");
  const CliResult conflict = flakebisect(
      {"--db", db, "run", "--repo", s_.history.repo.native(), "--good", s_.history.root, "--bad",
       s_.history.tip, "--max-runs", "3", "--config", config.native(), "--", "true"});
  EXPECT_EQ(conflict.exit_code, 2) << describe(conflict);
  EXPECT_THAT(conflict.err,
              HasSubstr("--max-runs 3 is below the 10 runs of one batch, test.runs_per_batch (" +
                        config.native() + ":2)"));
  EXPECT_FALSE(fs::exists(s_.db));
}

TEST_F(ErrorsTest, ATestProgramThatCannotBeRunIsRefusedSayingWhy) {
  const fs::path noexec = dir_.path() / "noexec.sh";
  write_text(noexec, "#!/bin/sh\nexit 0\n");
  fs::permissions(noexec, fs::perms(0644));
  const fs::path directory = dir_.path() / "dir.sh";
  fs::create_directories(directory);
  const fs::path badinterp = dir_.path() / "badinterp.sh";
  write_text(badinterp, "#!/nonexistent/interp\nexit 0\n", /*executable=*/true);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {noexec.native(), noexec.native() + ": is not executable (mode 0644; chmod +x it)"},
      {directory.native(), directory.native() + ": is a directory"},
      {badinterp.native(),
       badinterp.native() + ": its interpreter '/nonexistent/interp' (the #! line) does not exist"},
  };
  for (const auto& [program, message] : cases) {
    expect_refused(flakebisect({"--db", s_.db.native(), "run", "--repo", s_.history.repo.native(),
                                "--good", s_.history.root, "--bad", s_.history.tip, "--", program}),
                   message);
  }
  // An empty program name after '--' is a usage error (UsageErrorsExitTwo); in a config file it
  // is an error naming the key.
}

// `run --json` always prints one JSON document on stdout: here the test program disappears after
// its first run, the bisection pauses with that error, and the document says so.
TEST_F(ErrorsTest, RunJsonPrintsADocumentWhenTheBisectionPausesWithoutAResult) {
  const fs::path vanishing = dir_.path() / "vanishing.sh";
  write_text(vanishing, "#!/bin/sh\nrm -f -- \"$0\"\nexit 0\n", /*executable=*/true);
  const CliResult r =
      flakebisect({"--db", s_.db.native(), "run", "--json", "--repo", s_.history.repo.native(),
                   "--good", s_.history.root, "--bad", s_.history.tip, "--", vanishing.native()});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const auto doc = parse_json(r.out);
  ASSERT_TRUE(doc.is_object()) << describe(r);
  EXPECT_EQ(doc["id"], 1);
  EXPECT_EQ(stored_state(s_.db, 1), "paused");
  EXPECT_EQ(doc["status"], "paused") << doc.dump();
  EXPECT_THAT(doc["reason"].get<std::string>(), HasSubstr("vanishing.sh")) << doc.dump();
}

TEST_F(ErrorsTest, UnknownBisectionsAreErrors) {
  ASSERT_EQ(flakebisect({"--db", s_.db.native(), "start", "--repo", s_.history.repo.native(),
                         "--good", s_.history.root, "--bad", s_.history.tip, "--", "true"})
                .exit_code,
            0);
  for (const char* command : {"status", "log", "report", "cancel", "resume", "watch"}) {
    const CliResult r = flakebisect({"--db", s_.db.native(), command, "42"});
    EXPECT_EQ(r.exit_code, 1) << command << describe(r);
    EXPECT_THAT(r.err, HasSubstr("no bisection 42")) << command;
  }
}

}  // namespace
}  // namespace flakebisect::testing
