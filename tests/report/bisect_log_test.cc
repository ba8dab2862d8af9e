#include "report/bisect_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace flakebisect::report {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string sha_of(size_t i) {
  std::string sha = "0123456789abcdef0123456789abcdef01234567";
  const std::string digits = "0123456789abcdef";
  sha[0] = digits[i / 16 % 16];
  sha[1] = digits[i % 16];
  return sha;
}

struct Tested {
  uint32_t passes = 0;
  uint32_t fails = 0;
  bool skipped = false;
};

// A report over a DAG given as parent lists (candidate order, last = bad), with the evidence at
// the tested commits and P(bad) from the culprit when there is one.
json report_for(const std::vector<std::vector<int>>& parents, const std::map<int, Tested>& tested,
                std::optional<int> culprit, const std::vector<double>& bad_probability = {}) {
  const int n = static_cast<int>(parents.size());
  // ancestors-or-self, for P(bad) under the culprit
  std::vector<std::set<int>> ancestors(parents.size());
  for (int x = 0; x < n; ++x) {
    ancestors[x].insert(x);
    for (int p : parents[x]) ancestors[x].insert(ancestors[p].begin(), ancestors[p].end());
  }
  json commits = json::array();
  for (int x = 0; x < n; ++x) {
    const auto it = tested.find(x);
    const Tested t = it == tested.end() ? Tested{} : it->second;
    double p_bad = culprit ? (ancestors[x].count(*culprit) ? 1.0 : 0.0) : 0.5;
    if (!bad_probability.empty()) p_bad = bad_probability[x];
    commits.push_back(
        json{{"idx", x},
             {"sha", sha_of(x)},
             {"subject", "commit " + std::to_string(x)},
             {"parents", parents[x]},
             {"bad_probability", p_bad},
             {"evidence", {{"passes", t.passes}, {"fails", t.fails}, {"skipped", t.skipped}}}});
  }
  json result{{"status", culprit ? "found" : "inconclusive"}};
  result["culprit"] =
      culprit ? json{{"sha", sha_of(*culprit)}, {"subject", "commit " + std::to_string(*culprit)}}
              : json(nullptr);
  return json{{"bisection",
               {{"bad", {{"sha", sha_of(n - 1)}, {"subject", "tip"}}},
                {"good", {{{"sha", std::string(40, 'f')}, {"subject", "Linux 6.1"}}}}}},
              {"parameters", {{"decision", {{"confidence", 0.99}}}}},
              {"result", result},
              {"commits", commits}};
}

// What `git bisect replay` does with the marks (order matters only for bad: git keeps the last),
// over the same DAG: the commits left to choose from.
std::set<int> replay(const std::string& log, const std::vector<std::vector<int>>& parents) {
  const int n = static_cast<int>(parents.size());
  std::vector<std::set<int>> ancestors(parents.size());
  for (int x = 0; x < n; ++x) {
    ancestors[x].insert(x);
    for (int p : parents[x]) ancestors[x].insert(ancestors[p].begin(), ancestors[p].end());
  }
  std::map<std::string, int> index;
  for (int x = 0; x < n; ++x) index[sha_of(x)] = x;
  int bad = n - 1;
  std::set<int> goods;
  std::istringstream in(log);
  const std::regex mark("^git bisect (good|bad|skip) ([0-9a-f]{40})$");
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (!line.starts_with("git bisect")) continue;
    if (line.starts_with("git bisect start")) continue;
    EXPECT_TRUE(std::regex_match(line, match, mark)) << line;
    if (match.empty() || !index.count(match[2].str())) continue;
    const int x = index[match[2].str()];
    if (match[1] == "bad") bad = x;
    if (match[1] == "good") goods.insert(x);
  }
  std::set<int> left;
  for (int y : ancestors[bad]) {
    bool under_good = false;
    for (int g : goods) under_good = under_good || ancestors[g].count(y) > 0;
    if (!under_good) left.insert(y);
  }
  return left;
}

std::vector<std::vector<int>> linear(int n) {
  std::vector<std::vector<int>> parents(n);
  for (int i = 1; i < n; ++i) parents[i] = {i - 1};
  return parents;
}

TEST(BisectLog, StartsLikeGitWithTheTermsCommentsThenTheStartCommand) {
  const std::string log = render_bisect_log(report_for(linear(4), {{3, {0, 4}}}, 2));
  EXPECT_THAT(log, ::testing::StartsWith("# bad: [" + sha_of(3) + "] commit 3\n# good: [" +
                                         std::string(40, 'f') + "] Linux 6.1\ngit bisect start '" +
                                         sha_of(3) + "' '" + std::string(40, 'f') + "'\n"));
}

TEST(BisectLog, AFirstParentBisectionStartsWithFirstParentAsGitWritesIt) {
  json report = report_for(linear(4), {{3, {0, 4}}}, 2);
  report["bisection"]["first_parent"] = true;
  EXPECT_THAT(render_bisect_log(report),
              HasSubstr("\ngit bisect start '--first-parent' '" + sha_of(3) + "' '" +
                        std::string(40, 'f') + "'\n"));
  // Anything but true (false, absent in an older document, the wrong type) is a plain start.
  for (const json& value : {json(false), json("yes"), json(1)}) {
    report["bisection"]["first_parent"] = value;
    EXPECT_THAT(render_bisect_log(report), Not(HasSubstr("--first-parent"))) << value;
  }
}

TEST(BisectLog, TestedCommitsGetTheCulpritsVerdictsAndReplayEndsAtIt) {
  const auto parents = linear(16);
  const std::string log = render_bisect_log(report_for(
      parents, {{15, {0, 8}}, {7, {16, 0}}, {11, {3, 5}}, {9, {1, 3}}, {8, {12, 1}}}, 9));
  EXPECT_THAT(log, HasSubstr("# flakebisect: 0 of 16 runs failed, P(bad) = 0.0000\n# good: [" +
                             sha_of(7) + "] commit 7\ngit bisect good " + sha_of(7) + "\n"));
  EXPECT_THAT(log, HasSubstr("git bisect bad " + sha_of(11) + "\n"));
  // commit 8 passed 12 of 13 runs, but it is below the culprit: good.
  EXPECT_THAT(log, HasSubstr("git bisect good " + sha_of(8) + "\n"));
  EXPECT_THAT(log, ::testing::EndsWith("# first bad commit: [" + sha_of(9) + "] commit 9\n"));
  EXPECT_THAT(replay(log, parents), ElementsAre(9));
}

TEST(BisectLog, AddsTheStepsGitWouldStillTakeMarkedAsInferred) {
  const auto parents = linear(40);
  const std::string log = render_bisect_log(report_for(parents, {{39, {0, 8}}}, 17));
  EXPECT_THAT(log, HasSubstr("# flakebisect: not tested; judged from the first bad commit " +
                             sha_of(17).substr(0, 12)));
  EXPECT_THAT(replay(log, parents), ElementsAre(17));
  EXPECT_THAT(log, ::testing::EndsWith("# first bad commit: [" + sha_of(17) + "] commit 17\n"));
}

TEST(BisectLog, SideBranchesStayUnmarkedSoEveryGoodIsBelowEveryBad) {
  // 0 - 1 - 2 ------- 6 (merge of 5) - 7
  //      \- 3 - 4 - 5 /
  const std::vector<std::vector<int>> parents = {{}, {0}, {1}, {1}, {3}, {4}, {2, 5}, {6}};
  const std::string log =
      render_bisect_log(report_for(parents, {{7, {0, 5}}, {2, {10, 0}}, {5, {2, 3}}}, 4));
  EXPECT_THAT(log, HasSubstr("# flakebisect: " + sha_of(2).substr(0, 12) +
                             " (0 of 10 runs failed, P(bad) = 0.0000) is on another branch"));
  EXPECT_THAT(log, Not(HasSubstr("git bisect good " + sha_of(2))));
  EXPECT_THAT(replay(log, parents), ElementsAre(4));
  EXPECT_THAT(log, HasSubstr("# first bad commit: [" + sha_of(4) + "]"));
}

TEST(BisectLog, UnbuildableCommitsAreSkipsAndCanLeaveASet) {
  // The culprit's parent does not build: git cannot tell them apart either.
  const auto parents = linear(8);
  const std::string log = render_bisect_log(
      report_for(parents, {{7, {0, 4}}, {2, {10, 0}}, {3, {0, 0, true}}, {4, {0, 3}}}, 4));
  EXPECT_THAT(log, HasSubstr("# skip: [" + sha_of(3) + "] commit 3\ngit bisect skip " + sha_of(3)));
  EXPECT_THAT(log, Not(HasSubstr("# first bad commit")));
  EXPECT_THAT(log, HasSubstr("the first bad commit could be any of: " + sha_of(3).substr(0, 12) +
                             " " + sha_of(4).substr(0, 12)));
}

TEST(BisectLog, WithoutACulpritOnlyConfidentVerdictsAreMarked) {
  const auto parents = linear(6);
  const std::string log =
      render_bisect_log(report_for(parents, {{5, {0, 6}}, {1, {20, 0}}, {3, {5, 1}}}, std::nullopt,
                                   {0.001, 0.004, 0.3, 0.6, 0.9, 0.995}));
  EXPECT_THAT(log, HasSubstr("git bisect good " + sha_of(1)));
  EXPECT_THAT(log, HasSubstr("# flakebisect: " + sha_of(3).substr(0, 12) + " undecided"));
  EXPECT_THAT(log, Not(HasSubstr("git bisect bad " + sha_of(3))));
  EXPECT_THAT(log, HasSubstr("# flakebisect: the bisection is inconclusive; no first bad commit"));
  EXPECT_THAT(replay(log, parents), ElementsAre(2, 3, 4, 5));

  // The status as people write it, not the JSON's name.
  json unreproduced = report_for(parents, {{5, {0, 200}}}, std::nullopt);
  unreproduced["result"]["status"] = "not_reproduced";
  EXPECT_THAT(render_bisect_log(unreproduced),
              HasSubstr("# flakebisect: the bisection is not reproduced; no first bad commit"));
}

TEST(BisectLog, CommitTextNeverBecomesACommand) {
  json report = report_for(linear(4), {{3, {0, 4}}, {1, {4, 0}}}, 2);
  report["commits"][1]["subject"] = "fs: x\ngit bisect bad " + sha_of(0) + "\r\ngit bisect reset";
  report["bisection"]["good"].push_back({{"sha", "'; rm -rf / #"}, {"subject", "x\ngit bisect"}});
  const std::string log = render_bisect_log(report);
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("#")) continue;
    EXPECT_TRUE(std::regex_match(line, std::regex("git bisect (start( '[0-9a-f]{40}')+|"
                                                  "(good|bad|skip) [0-9a-f]{40})")))
        << line;
  }
  EXPECT_THAT(log, Not(HasSubstr("rm -rf")));
  EXPECT_THAT(replay(log, linear(4)), ElementsAre(2));
}

TEST(BisectLog, TheRevertCheckIsACommentBeforeTheFirstBadCommit) {
  const auto parents = linear(16);
  json report = report_for(parents, {{15, {0, 8}}, {7, {16, 0}}, {11, {3, 5}}, {9, {1, 3}}}, 9);
  const std::string plain = render_bisect_log(report);
  report["result"]["checks"] = {{"revert",
                                 {{"status", "fail"},
                                  {"reverted", sha_of(9)},
                                  {"onto", sha_of(15)},
                                  {"commit", std::string(40, 'e')},
                                  {"runs", 16},
                                  {"fails", 6},
                                  {"probability_fixed", 0.0021}}}};
  const std::string log = render_bisect_log(report);
  const std::string first = "# first bad commit: [" + sha_of(9) + "] commit 9\n";
  ASSERT_THAT(plain, ::testing::EndsWith(first));
  EXPECT_EQ(log, plain.substr(0, plain.size() - first.size()) +
                     "# flakebisect: revert check: FAIL (6 of 16 runs failed with " +
                     sha_of(9).substr(0, 12) + " reverted on " + sha_of(15).substr(0, 12) +
                     "; P(fixed) = 0.0021)\n" + first);
  EXPECT_THAT(replay(log, parents), ElementsAre(9));

  // A conflicting path cannot become a command; no check (or an unknown one) adds nothing.
  report["result"]["checks"]["revert"] = {
      {"status", "conflict"},
      {"reverted", sha_of(9)},
      {"onto", sha_of(15)},
      {"conflicts", {"fs/x.c\ngit bisect bad " + sha_of(0) + "\ngit bisect reset"}}};
  std::istringstream in(render_bisect_log(report));
  for (std::string line; std::getline(in, line);) {
    EXPECT_THAT(line, Not(::testing::StartsWith("git bisect reset")));
    EXPECT_NE(line, "git bisect bad " + sha_of(0));
  }
  for (const json& checks : {json(nullptr), json{{"revert", {{"status", "maybe"}}}}, json(3)}) {
    report["result"]["checks"] = checks;
    EXPECT_EQ(render_bisect_log(report), plain) << checks;
  }
}

TEST(BisectLog, TheVerifyCheckIsACommentAfterTheRevertCheck) {
  // The culprit is the first candidate: its parent is the good commit, outside the range.
  const auto parents = linear(8);
  json report = report_for(parents, {{7, {0, 8}}, {3, {5, 3}}, {0, {4, 4}}}, 0);
  const std::string plain = render_bisect_log(report);
  const std::string first = "# first bad commit: [" + sha_of(0) + "] commit 0\n";
  ASSERT_THAT(plain, ::testing::EndsWith(first));
  const std::string good = std::string(40, 'f');
  report["result"]["checks"] = {{"revert", nullptr},
                                {"verify",
                                 {{"status", "pass"},
                                  {"culprit", sha_of(0)},
                                  {"commit", good},
                                  {"runs", 21},
                                  {"fails", 0},
                                  {"probability_good", 0.9961},
                                  {"detail", "git bisect bad " + sha_of(0)}}}};
  const std::string verify_line =
      "# flakebisect: verify check: PASS (0 of 21 runs failed at ffffffffffff, the culprit's "
      "parent, outside the range; P(good) = 0.9961)\n";
  std::string log = render_bisect_log(report);
  EXPECT_EQ(log, plain.substr(0, plain.size() - first.size()) + verify_line + first);
  EXPECT_THAT(replay(log, parents), ElementsAre(0));

  // After the revert check's line, as KernelCI prints them.
  report["result"]["checks"]["revert"] = {{"status", "pass"},
                                          {"reverted", sha_of(0)},
                                          {"onto", sha_of(7)},
                                          {"commit", std::string(40, 'e')},
                                          {"runs", 24},
                                          {"fails", 0},
                                          {"probability_fixed", 0.9961}};
  log = render_bisect_log(report);
  EXPECT_EQ(log, plain.substr(0, plain.size() - first.size()) +
                     "# flakebisect: revert check: PASS (0 of 24 runs failed with " +
                     sha_of(0).substr(0, 12) + " reverted on " + sha_of(7).substr(0, 12) +
                     "; P(fixed) = 0.9961)\n" + verify_line + first);

  // No check, an unknown one or a revert status: nothing more.
  for (const json& verify : {json(nullptr), json{{"status", "conflict"}}, json(3)}) {
    report["result"]["checks"] = {{"revert", nullptr}, {"verify", verify}};
    EXPECT_EQ(render_bisect_log(report), plain) << verify;
  }
}

// result.checks as the engine stores them after a verify check that found the good end (all 'f')
// bad, run for the culprit `culprit`.
json failed_verify_check_of(const std::string& culprit) {
  return {{"revert", nullptr},
          {"verify",
           {{"status", "fail"},
            {"culprit", culprit},
            {"commit", std::string(40, 'f')},
            {"runs", 12},
            {"fails", 3},
            {"probability_good", 0.00002}}}};
}

TEST(BisectLog, AVerifyCheckThatFailedSaysWhyThereIsNoFirstBadCommit) {
  // The engine ends the bisection inconclusive: no culprit, the check stored.
  const auto parents = linear(8);
  json report = report_for(parents, {{7, {0, 8}}, {3, {0, 8}}, {0, {3, 9}}}, std::nullopt,
                           {0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999});
  const std::string plain = render_bisect_log(report);
  const std::string last =
      "# flakebisect: the bisection is inconclusive; no first bad commit yet\n";
  ASSERT_THAT(plain, ::testing::EndsWith(last));
  report["result"]["checks"] = failed_verify_check_of(sha_of(0));
  // Without the check the first commit is marked bad, and git would name it on replay; with it,
  // that mark gives way to a comment, and the replay ends without a first bad commit as the
  // bisection did.
  const std::string pinning = "# flakebisect: 9 of 12 runs failed, P(bad) = 0.9999\n# bad: [" +
                              sha_of(0) + "] commit 0\ngit bisect bad " + sha_of(0) + "\n";
  ASSERT_THAT(plain, HasSubstr(pinning));
  std::string expected = plain.substr(0, plain.size() - last.size());
  // The good end the check found bad is no good mark for git either.
  const std::string good_end = "# good: [" + std::string(40, 'f') + "] Linux 6.1\n";
  ASSERT_THAT(expected, HasSubstr(good_end));
  expected.replace(expected.find(good_end), good_end.size(),
                   "# flakebisect: good ffffffffffff left out: the verify check found it bad\n");
  const std::string start_good = " '" + std::string(40, 'f') + "'\n";
  expected.replace(expected.find(start_good), start_good.size(), "\n");
  expected.replace(expected.find(pinning), pinning.size(),
                   "# flakebisect: " + sha_of(0).substr(0, 12) +
                       " (9 of 12 runs failed, P(bad) = 0.9999) fails like a bad commit, but so "
                       "does its parent, the good end (verify check); left unmarked\n");
  EXPECT_EQ(render_bisect_log(report),
            expected +
                "# flakebisect: verify check: FAIL (3 of 12 runs failed at ffffffffffff, the "
                "culprit's parent, outside the range: the regression is at or before it; P(good) "
                "< 0.0001)\n" +
                last);
}

TEST(BisectLog, AfterAVerifyFailGitHasNoGoodCommitEvenWhereTheBadOneWasNamed) {
  // A one-commit range: the search can only name the bad commit, which `git bisect start` marks
  // bad itself; with the good end there too, git would name it on replay.
  json report = report_for(linear(1), {{0, {0, 8}}}, std::nullopt, {0.9999});
  report["result"]["checks"] = failed_verify_check_of(sha_of(0));
  const std::string log = render_bisect_log(report);
  EXPECT_THAT(log, HasSubstr("\ngit bisect start '" + sha_of(0) + "'\n")) << log;
  EXPECT_THAT(log, Not(HasSubstr("git bisect good"))) << log;
  EXPECT_THAT(log, Not(HasSubstr("# first bad commit"))) << log;
}

TEST(BisectLog, DocumentsOfTheWrongShapeGiveACommentNotACrash) {
  for (const json& garbage :
       {json(nullptr), json::array(), json{{"bisection", {{"bad", {{"sha", 5}}}}}},
        json{{"bisection", {{"bad", {{"sha", sha_of(1)}}}}}, {"commits", {{{"parents", {7}}}}}},
        json{{"bisection", {{"bad", {{"sha", sha_of(1)}}}}},
             {"result", {{"checks", {{"revert", {{"status", "pass"}, {"runs", {1}}}}}}}}},
        json{{"bisection", {{"bad", {{"sha", sha_of(1)}}}}},
             {"result", {{"checks", {{"verify", {{"status", "fail"}, {"commit", {1}}}}}}}}}}) {
    std::string log;
    EXPECT_NO_THROW(log = render_bisect_log(garbage)) << garbage.dump();
    EXPECT_THAT(log, HasSubstr("# flakebisect: ")) << garbage.dump();
  }
}

}  // namespace
}  // namespace flakebisect::report
