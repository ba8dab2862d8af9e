// Reports of fix bisections (range.find_fix, `--find-fix`): bisections run by the real engine with
// fake runners over a generated history, then every format of their report, and the bisect-log
// replayed by real `git bisect replay`.
#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "engine/bisection_request.h"
#include "engine/bisector.h"
#include "engine/fakes.h"
#include "report/bisect_log.h"
#include "report/checks.h"
#include "report/email.h"
#include "report/html.h"
#include "report/report.h"

namespace flakebisect::report {
namespace {

using namespace flakebisect::testing;
using nlohmann::json;
using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class FixReportTest : public ::testing::Test {
 protected:
  FixReportTest() : store_(memory_store()) {}

  void make(HistoryOptions options) {
    history_ = make_history(dir_ / "repo", options);
    chain_ = first_parent_chain(history_);
  }

  // A fix bisection from the root (broken) to the tip (fixed) where the chain's commits before
  // position `fix` fail (30% of runs) and the rest pass; run to its end.
  int64_t bisect_fix(size_t fix) {
    std::set<std::string> broken;
    for (size_t i = 0; i < fix && i < chain_.size(); ++i) broken.insert(history_.shas[chain_[i]]);
    return bisect_fix(broken);
  }

  int64_t bisect_fix(const std::set<std::string>& broken) {
    runner_.fn = FakeRunner::flaky(broken, 30);
    return run_fix(false);
  }

  // With the backport check: the fix cherry-picked onto the broken end (the root) passes, or with
  // `pick_fails` fails like the broken commits (the fix alone does not fix it there).
  int64_t bisect_fix_with_backport(size_t fix, bool pick_fails) {
    std::set<std::string> broken;
    for (size_t i = 0; i < fix && i < chain_.size(); ++i) broken.insert(history_.shas[chain_[i]]);
    const std::set<std::string> real(history_.shas.begin(), history_.shas.end());
    runner_.fn = [broken, real, pick_fails](const build::CommitCheckout& checkout,
                                            uint32_t index) -> base::Result<run::RunResult> {
      const bool bad = broken.count(checkout.sha) > 0 || (pick_fails && !real.count(checkout.sha));
      run::RunResult outcome;
      outcome.outcome = bad && draw(checkout.sha, index) % 100 < 30 ? store::RunOutcome::kFail
                                                                    : store::RunOutcome::kPass;
      outcome.duration = std::chrono::milliseconds(5);
      return outcome;
    };
    return run_fix(true);
  }

  int64_t run_fix(bool backport_check) {
    config::Config config = test_config();
    config.range.find_fix = true;
    config.decision.backport_check = backport_check;
    engine::BisectRequest request{history_.repo.native(), {history_.tip}, history_.root, config};
    auto spec = engine::prepare_bisection(request);
    EXPECT_TRUE(spec.has_value()) << (spec ? "" : spec.error().message());
    const int64_t id = store_.create_bisection(*spec, 1000, ::getpid()).value_or(0);
    engine::BisectorOptions options;
    options.worktree_root = (dir_ / "worktrees").native();
    options.stop = &stop_;
    engine::Bisector bisector(store_, clock_, fake_executors(builder_, runner_), options);
    EXPECT_TRUE(bisector.run(id).has_value());
    return id;
  }

  json report(int64_t id) {
    auto document = build_report(store_, id);
    EXPECT_TRUE(document.has_value()) << (document ? "" : document.error().message());
    return document.value_or(json());
  }

  // `git bisect replay` of `log` in a fresh clone: git's output.
  std::string replay(const std::string& log, const std::string& name) {
    const fs::path clone = dir_ / ("clone-" + name);
    git(dir_.path(), {"clone", "-q", history_.repo.native(), clone.native()});
    const fs::path file = dir_ / (name + ".bisect-log");
    write_text(file, log);
    return git(clone, {"bisect", "replay", file.native()});
  }

  std::string sha_at(size_t position) const { return history_.shas[chain_[position]]; }

  // The stored result's checks.backport replaced, as a store written by hand or by another version
  // could have it.
  void store_backport(int64_t id, const json& backport) {
    auto bisection = store_.get_bisection(id);
    ASSERT_TRUE(bisection.has_value() && bisection->result_json.has_value());
    json result = json::parse(*bisection->result_json);
    result["checks"]["backport"] = backport;
    ASSERT_TRUE(store_.set_result(id, result.dump(), 2000));
  }

  TempDir dir_;
  History history_;
  std::vector<size_t> chain_;  // the tip's first-parent chain, oldest (the root) first
  store::Store store_;
  base::FakeClock clock_;
  FakeBuilder builder_;
  FakeRunner runner_;
  std::atomic<bool> stop_{false};
};

std::string first_fixed_commit(const std::string& git_output) {
  std::smatch match;
  if (!std::regex_search(git_output, match,
                         std::regex("([0-9a-f]{40}) is the first fixed commit"))) {
    return "";
  }
  return match[1].str();
}

TEST_F(FixReportTest, TheDocumentNamesTheFixAndListsTheRealChainOldestFirst) {
  make(sized(80, 5));
  const size_t fix = chain_.size() / 2;
  const int64_t id = bisect_fix(fix);
  const json doc = report(id);
  ASSERT_EQ(doc["result"]["status"], "found") << doc["result"].dump();
  EXPECT_EQ(doc["bisection"]["mode"], "fix");
  EXPECT_EQ(doc["bisection"]["first_parent"], true);
  EXPECT_EQ(doc["bisection"]["bad"]["sha"], history_.root);
  EXPECT_EQ(doc["bisection"]["good"][0]["sha"], history_.tip);
  const json& culprit = doc["result"]["culprit"];
  EXPECT_EQ(culprit["sha"], sha_at(fix));
  EXPECT_EQ(doc["result"]["most_likely"]["sha"], sha_at(fix));
  EXPECT_EQ(doc["result"]["credible_set"][0]["sha"], sha_at(fix));
  EXPECT_EQ(doc["result"]["last_broken"]["sha"], sha_at(fix - 1));
  EXPECT_GE(doc["result"]["confidence"].get<double>(), 0.99);
  EXPECT_EQ(culprit["probability"], doc["result"]["confidence"]);
  EXPECT_TRUE(culprit["author"].is_object());

  // The chain as git has it, from the broken end (the root) to the fixed end's parent, each
  // commit's parent the one before it; the fix's row has its probability.
  const json& commits = doc["commits"];
  ASSERT_EQ(commits.size(), chain_.size() - 1);
  for (size_t k = 0; k < commits.size(); ++k) {
    EXPECT_EQ(commits[k]["idx"], k);
    EXPECT_EQ(commits[k]["sha"], sha_at(k)) << k;
    EXPECT_EQ(commits[k]["parents"], k == 0 ? json::array() : json::array({k - 1})) << k;
  }
  ASSERT_TRUE(culprit["idx"].is_number());
  EXPECT_EQ(commits[culprit["idx"].get<size_t>()]["sha"], sha_at(fix));
  EXPECT_EQ(commits[culprit["idx"].get<size_t>()]["probability"], culprit["probability"]);
  EXPECT_EQ(commits[0]["probability"], 0.0) << "the broken end cannot be the fix";
  // Commits before the fix fail, the rest pass.
  EXPECT_GE(commits[fix - 1]["bad_probability"].get<double>(), 0.99);
  EXPECT_LE(commits[fix]["bad_probability"].get<double>(), 0.01);
}

TEST_F(FixReportTest, TextAndEmailSayFixedByAndOfferTheFixForBackportInsteadOfFixesTags) {
  make(sized(60, 9));
  const size_t fix = chain_.size() / 3;
  const json doc = report(bisect_fix(fix));
  const std::string sha12 = sha_at(fix).substr(0, 12);
  const std::string text = render_text(doc);
  EXPECT_THAT(text,
              StartsWith("flakebisect has bisected the fix of a flaky failure to:\n\ncommit " +
                         sha_at(fix) + "\n"));
  EXPECT_THAT(text, HasSubstr("that this is the first fixed commit."));
  EXPECT_THAT(text, HasSubstr("\nbroken:       " + history_.root.substr(0, 12) + " "));
  EXPECT_THAT(text, HasSubstr("\nfixed:        " + history_.tip.substr(0, 12) + " "));
  EXPECT_THAT(text, HasSubstr("first fixed commit):"));
  EXPECT_THAT(text, HasSubstr("of runs on broken commits"));
  const std::string subject = doc["result"]["culprit"]["subject"].get<std::string>();
  EXPECT_THAT(text, HasSubstr("\ncommit " + sha12 + " (\"" + subject +
                              "\") fixes this; to backport: git cherry-pick -x " + sha12 + "\n"));
  EXPECT_THAT(text, Not(HasSubstr("Fixes:")));
  EXPECT_THAT(text, Not(HasSubstr("Reported-by:")));
  EXPECT_THAT(text, Not(HasSubstr("first bad commit")));
  EXPECT_THAT(text, Not(HasSubstr("\nbad commit:")));
  EXPECT_THAT(text, Not(HasSubstr("\ngood commit:")));
  // The table marks the fix.
  EXPECT_THAT(text, HasSubstr("\n* " + sha12 + " "));

  const std::string email = render_email(doc);
  EXPECT_THAT(email, HasSubstr("\nSubject: [flakebisect] repo/" + history_.tip.substr(0, 12) +
                               " fix bisection: true on host\n"));
}

TEST_F(FixReportTest, TheBisectLogUsesGitsTermsAndReplaysToTheFixInRealGit) {
  make(sized(80, 11));
  const size_t fix = chain_.size() * 2 / 3;
  const json doc = report(bisect_fix(fix));
  ASSERT_EQ(doc["result"]["culprit"]["sha"], sha_at(fix));
  const std::string log = render_bisect_log(doc);
  EXPECT_THAT(log, StartsWith("# fixed: [" + history_.tip + "] "));
  EXPECT_THAT(log, HasSubstr("\n# broken: [" + history_.root + "] commit "));
  EXPECT_THAT(log, HasSubstr("\ngit bisect start '--term-old' 'broken' '--term-new' 'fixed' "
                             "'--first-parent' '" +
                             history_.tip + "' '" + history_.root + "'\n"));
  EXPECT_THAT(log, HasSubstr("P(broken) = "));
  EXPECT_THAT(log, Not(HasSubstr("git bisect good")));
  EXPECT_THAT(log, Not(HasSubstr("git bisect bad")));
  EXPECT_THAT(log, EndsWith("# first fixed commit: [" + sha_at(fix) + "] " +
                            doc["result"]["culprit"]["subject"].get<std::string>() + "\n"));
  // Every tested commit is marked by what the verdict has it do: failing ones broken.
  EXPECT_THAT(log, HasSubstr("git bisect broken " + sha_at(fix - 1) + "\n"));
  EXPECT_THAT(log, HasSubstr("git bisect fixed " + sha_at(fix) + "\n"));
  const std::string replayed = replay(log, "fix");
  EXPECT_EQ(first_fixed_commit(replayed), sha_at(fix)) << log << replayed;
}

TEST_F(FixReportTest, AFixAtTheGoodEndHasNoIndexAndReplaysToTheGoodEnd) {
  make(sized(40, 3));
  const json doc = report(bisect_fix(chain_.size() - 1));
  ASSERT_EQ(doc["result"]["culprit"]["sha"], history_.tip) << doc["result"].dump();
  EXPECT_TRUE(doc["result"]["culprit"]["idx"].is_null());
  EXPECT_EQ(doc["result"]["last_broken"]["sha"], sha_at(chain_.size() - 2));
  EXPECT_EQ(doc["result"]["checks"]["verify"]["status"], "pass");

  const std::string text = render_text(doc);
  EXPECT_THAT(text, HasSubstr("verify:  PASS  (0 of "));
  const auto verify = describe_verify_check(doc);
  ASSERT_TRUE(verify.has_value());
  EXPECT_THAT(verify->explanation,
              HasSubstr(" runs failed at " + history_.tip.substr(0, 12) +
                        ", the fixed (good) end; P(good) = "));
  EXPECT_THAT(text, Not(HasSubstr("the culprit's parent")));
  EXPECT_THAT(text, HasSubstr("\n* " + history_.tip.substr(0, 12) +
                              " is the fixed end itself, which the search does not run;\n"
                              "the verify check ran it.\n"));
  json unchecked = doc;  // as with --no-verify-check: nobody ran it, and the line says no more
  unchecked["result"].erase("checks");
  EXPECT_THAT(render_text(unchecked),
              HasSubstr("\n* " + history_.tip.substr(0, 12) +
                        " is the fixed end itself, which the search does not run.\n"));
  EXPECT_THAT(render_html(doc), HasSubstr("&middot; fixed end <code"));

  const std::string log = render_bisect_log(doc);
  EXPECT_THAT(log, HasSubstr("# flakebisect: verify check: PASS ("));
  EXPECT_THAT(log, EndsWith("# first fixed commit: [" + history_.tip + "] " +
                            doc["bisection"]["good"][0]["subject"].get<std::string>() + "\n"));
  const std::string replayed = replay(log, "good-end");
  EXPECT_EQ(first_fixed_commit(replayed), history_.tip) << log << replayed;
}

TEST_F(FixReportTest, AGoodEndThatStillFailsLeavesGitWithoutAFixedCommit) {
  make(sized(40, 3));
  const std::set<std::string> everything(history_.shas.begin(), history_.shas.end());
  const json doc = report(bisect_fix(everything));
  ASSERT_EQ(doc["result"]["status"], "inconclusive") << doc["result"].dump();
  EXPECT_TRUE(doc["result"]["culprit"].is_null());
  EXPECT_TRUE(doc["result"]["last_broken"].is_null());
  ASSERT_EQ(doc["result"]["checks"]["verify"]["status"], "fail");

  const std::string text = render_text(doc);
  EXPECT_THAT(text, StartsWith("flakebisect could not bisect the fix of this flaky failure"));
  EXPECT_THAT(text, HasSubstr(": it fails too, the fix is newer than the range"));
  std::string email = render_email(doc);
  email = std::regex_replace(email, std::regex("\n "), " ");  // unfolded
  EXPECT_THAT(email, HasSubstr(" fix bisection: true on host (inconclusive)\n"));

  const std::string log = render_bisect_log(doc);
  EXPECT_THAT(log, StartsWith("# flakebisect: fixed " + history_.tip.substr(0, 12) +
                              " left out: the verify check found it failing\ngit bisect start "
                              "'--term-old' 'broken' '--term-new' 'fixed' '--first-parent'\n# "
                              "broken: [" +
                              history_.root + "] "));
  EXPECT_THAT(log, HasSubstr("\ngit bisect broken " + history_.root + "\n"));
  EXPECT_THAT(log, Not(HasSubstr("git bisect fixed")));
  EXPECT_THAT(log, Not(HasSubstr("# first fixed commit")));
  EXPECT_THAT(log, EndsWith("no first fixed commit yet\n"));
  const std::string replayed = replay(log, "still-fails");
  EXPECT_EQ(first_fixed_commit(replayed), "") << log << replayed;
  EXPECT_THAT(replayed, Not(HasSubstr("is the first")));
}

TEST_F(FixReportTest, TheHtmlPageSaysFixFoundFixAndBrokenAndFixedEnds) {
  make(sized(40, 7));
  const size_t fix = chain_.size() / 2;
  const std::string html = render_html(report(bisect_fix(fix)));
  EXPECT_THAT(html, HasSubstr("<h1>flakebisect: fix found</h1>"));
  EXPECT_THAT(html, HasSubstr("<p>Fix <code>" + sha_at(fix).substr(0, 12) + "</code>"));
  EXPECT_THAT(html, HasSubstr("<dt>Fix</dt><dd><code id=\"culprit-sha\">" + sha_at(fix)));
  EXPECT_THAT(html,
              HasSubstr("<dt>Last broken</dt><dd><code id=\"last-broken-sha\">" + sha_at(fix - 1)));
  EXPECT_THAT(html, HasSubstr("<dt>Broken</dt><dd><code>" + history_.root.substr(0, 12)));
  EXPECT_THAT(html, HasSubstr("<dt>Fixed</dt><dd><code>" + history_.tip.substr(0, 12)));
  EXPECT_THAT(html, HasSubstr(">fix " + sha_at(fix).substr(0, 12) + "</text>"));
  EXPECT_THAT(html, Not(HasSubstr("regression found")));
  EXPECT_THAT(html, Not(HasSubstr("<dt>Culprit</dt>")));
}

// The "Checks:" block wraps a check's words under them ("  backport: " is 12 columns); this joins
// the lines again for a match across a break.
std::string unwrapped(const std::string& text) {
  return std::regex_replace(text, std::regex("\n {12}([^ ])"), " $1");
}

TEST_F(FixReportTest, EveryFormatShowsTheBackportCheckOfTheFixPickedOntoTheBrokenEnd) {
  make(sized(60, 5));
  const size_t fix = chain_.size() / 2;
  const json doc = report(bisect_fix_with_backport(fix, false));
  ASSERT_EQ(doc["result"]["culprit"]["sha"], sha_at(fix)) << doc["result"].dump();
  EXPECT_EQ(doc["warnings"], json::array());
  ASSERT_TRUE(doc["result"]["checks"].contains("backport")) << doc["result"].dump();
  const json& backport = doc["result"]["checks"]["backport"];
  ASSERT_TRUE(backport.is_object()) << doc["result"]["checks"].dump();
  EXPECT_EQ(backport["status"], "pass") << backport.dump();
  EXPECT_EQ(backport["picked"], sha_at(fix));
  EXPECT_EQ(backport["onto"], history_.root);
  ASSERT_TRUE(backport["commit"].is_string());
  const std::string pick = backport["commit"];
  EXPECT_EQ(std::count(history_.shas.begin(), history_.shas.end(), pick), 0);
  const auto runs = backport["runs"].get<uint64_t>();
  EXPECT_GE(runs, 3U);
  EXPECT_EQ(backport["fails"], 0);
  EXPECT_EQ(backport["own_runs"], runs);
  EXPECT_EQ(backport["outcomes"]["runs"], runs) << "the runs stored at the pick commit";
  EXPECT_GE(backport["probability_fixed"].get<double>(), 0.99);
  EXPECT_EQ(backport["conflicts"], json::array());
  EXPECT_EQ(backport["conflict_count"], 0);
  EXPECT_TRUE(backport["detail"].is_string());
  EXPECT_FALSE(backport.contains("reverted"));
  EXPECT_TRUE(doc["result"]["checks"]["revert"].is_null()) << "no revert check in a fix bisection";
  // The pick is no candidate: no row in the commit table.
  for (const json& commit : doc["commits"]) EXPECT_NE(commit["sha"], pick);

  const auto words = describe_backport_check(doc);
  ASSERT_TRUE(words.has_value());
  const std::string said =
      fmt::format("0 of {} runs failed with {} cherry-picked onto {}; P(fixed) = ", runs,
                  sha_at(fix).substr(0, 12), history_.root.substr(0, 12));
  EXPECT_THAT(words->explanation, StartsWith(said));

  const std::string text = render_text(doc);
  EXPECT_THAT(unwrapped(text), HasSubstr("\nChecks:\n  backport: PASS  (" + said));
  EXPECT_THAT(text, Not(HasSubstr("revert:")));
  EXPECT_THAT(unwrapped(render_email(doc)), HasSubstr("\nChecks:\n  backport: PASS  (" + said));

  const std::string log = render_bisect_log(doc);
  EXPECT_THAT(log, HasSubstr("\n# flakebisect: backport check: PASS (" + words->explanation +
                             ")\n# first fixed commit: [" + sha_at(fix) + "] "));
  EXPECT_EQ(first_fixed_commit(replay(log, "backport")), sha_at(fix)) << log;

  const std::string html = render_html(doc);
  EXPECT_THAT(
      html,
      HasSubstr("<dt>Backport check</dt><dd id=\"backport-check\"><strong>PASS</strong> " + said));
  EXPECT_THAT(html, HasSubstr(" &middot; backport commit <code title=\"" + pick + "\">" +
                              pick.substr(0, 12) + "</code></dd>\n"));
  EXPECT_THAT(html, Not(HasSubstr("Revert check")));
}

TEST_F(FixReportTest, ABackportThatDoesNotFixTheBrokenEndFailsInEveryFormat) {
  make(sized(60, 5));
  const size_t fix = chain_.size() / 2;
  const json doc = report(bisect_fix_with_backport(fix, true));
  ASSERT_EQ(doc["result"]["culprit"]["sha"], sha_at(fix)) << doc["result"].dump();
  ASSERT_TRUE(doc["result"]["checks"].contains("backport")) << doc["result"].dump();
  const json& backport = doc["result"]["checks"]["backport"];
  EXPECT_EQ(backport["status"], "fail") << backport.dump();
  EXPECT_GE(backport["fails"].get<uint64_t>(), 1U);
  const std::string note =
      ": the fix alone does not fix it there (it needs other commits too); "
      "P(fixed) ";
  EXPECT_THAT(unwrapped(render_text(doc)), HasSubstr("\n  backport: FAIL  ("));
  EXPECT_THAT(unwrapped(render_text(doc)), HasSubstr(note));
  EXPECT_THAT(render_bisect_log(doc), HasSubstr("\n# flakebisect: backport check: FAIL ("));
  EXPECT_THAT(render_bisect_log(doc), HasSubstr(note));
  EXPECT_THAT(render_html(doc), HasSubstr("<dd id=\"backport-check\"><strong>FAIL</strong> "));
  // The footer names the fix without telling the reader to cherry-pick it alone.
  std::string text = render_text(doc);
  std::replace(text.begin(), text.end(), '\n', ' ');  // the paragraph is wrapped
  EXPECT_THAT(text, Not(HasSubstr("to backport: git cherry-pick")));
  EXPECT_THAT(text, HasSubstr("fixes this on the fixed branch, but cherry-picked alone onto the "
                              "broken commit it does not make the failure go away"));
}

TEST_F(FixReportTest, AStoredBackportCheckIsValidatedWithWarnings) {
  make(sized(40, 3));
  const size_t fix = chain_.size() / 2;
  const int64_t id = bisect_fix_with_backport(fix, false);
  const std::string other = sha_at(fix - 1);  // neither the fix nor the broken end

  // Another fix, onto another commit: shown as stored, with a warning for each.
  store_backport(id, {{"status", "conflict"},
                      {"picked", other},
                      {"onto", other},
                      {"commit", nullptr},
                      {"runs", 0},
                      {"fails", 0},
                      {"own_runs", 0},
                      {"probability_fixed", nullptr},
                      {"conflicts", {"fs/ext4/inode.c"}},
                      {"conflict_count", 1},
                      {"detail", "cherry-picking conflicts"}});
  json doc = report(id);
  EXPECT_EQ(doc["result"]["checks"]["backport"]["picked"], other);
  EXPECT_EQ(doc["result"]["checks"]["backport"]["conflicts"], json::array({"fs/ext4/inode.c"}));
  EXPECT_EQ(
      doc["warnings"],
      json::array({"the backport check cherry-picked " + other.substr(0, 12) +
                       ", which is not the fix " + sha_at(fix).substr(0, 12),
                   "the backport check was made on " + other.substr(0, 12) +
                       ", which is not the broken (bad) commit " + history_.root.substr(0, 12)}));
  EXPECT_THAT(unwrapped(render_text(doc)),
              HasSubstr("\n  backport: CONFLICT  (" + other.substr(0, 12) +
                        " does not cherry-pick cleanly onto " + other.substr(0, 12) +
                        ": conflicts in fs/ext4/inode.c)\n"));

  // Members of the wrong type or value become null, with one warning naming them.
  store_backport(id, {{"status", "pass"},
                      {"picked", "HEAD"},
                      {"onto", 5},
                      {"commit", "abc"},
                      {"runs", -1},
                      {"fails", "0"},
                      {"own_runs", 2.5},
                      {"probability_fixed", 7},
                      {"reverted", sha_at(fix)}});
  doc = report(id);
  const json& damaged = doc["result"]["checks"]["backport"];
  EXPECT_EQ(damaged["status"], "pass");
  for (const char* key :
       {"picked", "onto", "commit", "runs", "fails", "own_runs", "probability_fixed", "outcomes"}) {
    EXPECT_EQ(damaged[key], nullptr) << key;
  }
  EXPECT_FALSE(damaged.contains("reverted"));
  EXPECT_EQ(doc["warnings"],
            json::array({"the stored backport check has members of the wrong type or value, left "
                         "null or empty: picked, onto, commit, runs, fails, own_runs, "
                         "probability_fixed"}));
  EXPECT_THAT(unwrapped(render_text(doc)),
              HasSubstr("\n  backport: PASS  (the fix cherry-picked onto the broken commit, run "
                        "counts not known)\n"));

  // Not an object, or an unknown status: left out, with a warning; no format shows it.
  for (const json& garbage : {json("PASS"), json{{"status", "picked"}}}) {
    store_backport(id, garbage);
    doc = report(id);
    EXPECT_TRUE(doc["result"]["checks"]["backport"].is_null()) << garbage;
    ASSERT_EQ(doc["warnings"].size(), 1U) << garbage;
    EXPECT_THAT(doc["warnings"][0].get<std::string>(),
                AllOf(StartsWith("the stored backport check"), EndsWith("it is left out")));
    EXPECT_THAT(render_text(doc), Not(HasSubstr("Checks:")));
    EXPECT_THAT(render_bisect_log(doc), Not(HasSubstr("backport check")));
    EXPECT_THAT(render_html(doc), Not(HasSubstr("Backport check")));
  }
}

}  // namespace
}  // namespace flakebisect::report
