#include "engine/evidence.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace flakebisect::engine {
namespace {

using store::RunOutcome;

OutcomePolicy policy(std::vector<std::string> failures,
                     std::optional<std::string> signature = std::nullopt) {
  config::TestConfig test;
  test.failure_outcomes = std::move(failures);
  test.signature = std::move(signature);
  auto made = OutcomePolicy::from(test);
  EXPECT_TRUE(made.has_value());
  return std::move(made).value();
}

TEST(OutcomePolicy, DefaultsCountFailAndCrashButNotHang) {
  const OutcomePolicy p = policy({"fail", "crash"});
  EXPECT_EQ(p.classify(RunOutcome::kPass, std::nullopt, {}), Observation::kPass);
  EXPECT_EQ(p.classify(RunOutcome::kFail, std::nullopt, {}), Observation::kFail);
  EXPECT_EQ(p.classify(RunOutcome::kCrash, "BUG: oops", {}), Observation::kFail);
  EXPECT_EQ(p.classify(RunOutcome::kHang, std::nullopt, {}), Observation::kNone);
  EXPECT_EQ(p.classify(RunOutcome::kSkip, std::nullopt, {}), Observation::kSkip);
  EXPECT_EQ(p.classify(RunOutcome::kInfra, std::nullopt, {}), Observation::kNone);
  EXPECT_EQ(p.classify(RunOutcome::kInterrupted, std::nullopt, {}), Observation::kNone);
}

TEST(OutcomePolicy, AHangCountsOnlyWhenConfigured) {
  EXPECT_EQ(policy({"hang"}).classify(RunOutcome::kHang, std::nullopt, {}), Observation::kFail);
  EXPECT_EQ(policy({"hang"}).classify(RunOutcome::kFail, std::nullopt, {}), Observation::kNone);
}

TEST(OutcomePolicy, ASignatureSeparatesOurCrashFromOthers) {
  const OutcomePolicy p = policy({"crash"}, "ext4_.*_write");
  EXPECT_EQ(
      p.classify(RunOutcome::kCrash, "BUG: unable to handle page fault in ext4_dio_write", {}),
      Observation::kFail);
  EXPECT_EQ(p.classify(RunOutcome::kCrash, "WARNING in xfs_reclaim", {}), Observation::kNone);
  EXPECT_EQ(p.classify(RunOutcome::kCrash, std::nullopt, {}), Observation::kNone);
}

// A crash that is not the bug keeps what the reproducer said beside it: a cmpbuf mismatch that
// exited 1 next to an unrelated WARNING is still the bug's failure, and a passing run next to
// one a pass. Runs stored without the verdict (before schema 7, or a crash that ended the run)
// count as they did.
TEST(OutcomePolicy, ACrashThatIsNotTheBugCountsAsTheReproducersOwnVerdict) {
  const std::vector<std::string> warning = {"WARNING in virtqueue_add"};
  for (const OutcomePolicy& p : {policy({"fail"}), policy({"fail", "crash"}, "ext4_")}) {
    EXPECT_EQ(p.classify(RunOutcome::kCrash, warning[0], warning, RunOutcome::kFail),
              Observation::kFail);
    EXPECT_EQ(p.classify(RunOutcome::kCrash, warning[0], warning, RunOutcome::kPass),
              Observation::kPass);
    EXPECT_EQ(p.classify(RunOutcome::kCrash, warning[0], warning, RunOutcome::kSkip),
              Observation::kSkip);
    EXPECT_EQ(p.classify(RunOutcome::kCrash, warning[0], warning), Observation::kNone);
  }
  // The bug's own crash counts whatever the reproducer said.
  const std::vector<std::string> ours = {"BUG: unable to handle page fault in ext4_dio_write_iter"};
  EXPECT_EQ(policy({"fail", "crash"}, "ext4_")
                .classify(RunOutcome::kCrash, ours[0], ours, RunOutcome::kPass),
            Observation::kFail);
  // Only crashes count: the reproducer's failure beside another crash is not evidence either.
  EXPECT_EQ(policy({"crash"}, "ext4_")
                .classify(RunOutcome::kCrash, warning[0], warning, RunOutcome::kFail),
            Observation::kNone);
}

// A kernel often prints an unrelated report first (a WARNING in the allocator under memory
// pressure) and then ours: the run reproduced the bug, whatever came before it.
TEST(OutcomePolicy, ASignatureMatchingAnyReportOfTheRunCountsTheCrash) {
  const OutcomePolicy p = policy({"crash"}, "^BUG: .* in ext4_");
  const std::vector<std::string> titles = {
      "WARNING in __alloc_pages", "BUG: unable to handle page fault in ext4_dio_write_iter"};
  EXPECT_EQ(p.classify(RunOutcome::kCrash, titles[0], titles), Observation::kFail);
  EXPECT_EQ(p.matching_title(titles[0], titles), titles[1]);
  // Neither report is ours.
  const std::vector<std::string> others = {"WARNING in __alloc_pages", "WARNING in xfs_reclaim"};
  EXPECT_EQ(p.classify(RunOutcome::kCrash, others[0], others), Observation::kNone);
  EXPECT_EQ(p.matching_title(others[0], others), std::nullopt);
  // A run stored before schema 6 has its first title only, and is judged by it as it was.
  EXPECT_EQ(p.classify(RunOutcome::kCrash, titles[0], {}), Observation::kNone);
  EXPECT_EQ(p.classify(RunOutcome::kCrash, titles[1], {}), Observation::kFail);
  // Without test.signature every crash counts, and none is singled out.
  const OutcomePolicy any = policy({"crash"});
  EXPECT_EQ(any.classify(RunOutcome::kCrash, titles[0], titles), Observation::kFail);
  EXPECT_EQ(any.matching_title(titles[0], titles), std::nullopt);
}

TEST(GatherEvidence, ACrashWhoseSecondReportIsOursIsAFailure) {
  const std::unordered_map<std::string, model::CommitIndex> index_of = {{"a", 0}, {"b", 1}};
  std::vector<store::RunRecord> runs(2);
  runs[0].sha = "a";
  runs[0].outcome = RunOutcome::kCrash;
  runs[0].signature = "WARNING in __alloc_pages";
  runs[0].crash_titles = {"WARNING in __alloc_pages",
                          "BUG: unable to handle page fault in ext4_dio_write_iter"};
  runs[1] = runs[0];
  runs[1].sha = "b";
  runs[1].crash_titles.clear();  // as stored before schema 6
  const Evidence e = gather_evidence(runs, index_of, {false, false},
                                     policy({"fail", "crash"}, "^BUG: .* in ext4_"), 1);
  EXPECT_EQ(e.commits[0].fails, 1U);
  EXPECT_EQ(e.unjudged_runs[0], 0U);
  EXPECT_EQ(e.commits[1].fails, 0U);
  EXPECT_EQ(e.unjudged_runs[1], 1U);
  EXPECT_EQ(e.used_runs, 1U);
}

TEST(GatherEvidence, SumsPerCommitWhateverTheRowOrder) {
  const std::unordered_map<std::string, model::CommitIndex> index_of = {
      {"a", 0}, {"b", 1}, {"c", 2}};
  std::vector<store::RunRecord> runs;
  auto add = [&](std::string sha, RunOutcome outcome) {
    store::RunRecord run;
    run.sha = std::move(sha);
    run.outcome = outcome;
    runs.push_back(run);
  };
  add("a", RunOutcome::kPass);
  add("c", RunOutcome::kFail);
  add("c", RunOutcome::kPass);
  add("c", RunOutcome::kInfra);
  add("b", RunOutcome::kSkip);
  add("elsewhere", RunOutcome::kFail);
  add("c", RunOutcome::kFail);
  const OutcomePolicy p = policy({"fail", "crash"});
  const Evidence first = gather_evidence(runs, index_of, {false, false, false}, p, 2);
  std::mt19937 rng(5);
  std::shuffle(runs.begin(), runs.end(), rng);
  const Evidence second = gather_evidence(runs, index_of, {false, false, false}, p, 2);
  for (const Evidence* e : {&first, &second}) {
    EXPECT_EQ(e->commits[0].passes, 1U);
    EXPECT_EQ(e->commits[2].fails, 2U);
    EXPECT_EQ(e->commits[2].passes, 1U);
    EXPECT_TRUE(e->commits[1].skipped);
    EXPECT_EQ(e->recorded_runs, (std::vector<uint32_t>{1, 1, 4}));
    EXPECT_EQ(e->used_runs, 4U);
  }
}

TEST(GatherEvidence, AFailedBuildMakesTheCommitASkip) {
  const std::unordered_map<std::string, model::CommitIndex> index_of = {{"a", 0}, {"b", 1}};
  const Evidence e = gather_evidence({}, index_of, {false, true}, policy({"fail"}), 1);
  EXPECT_FALSE(e.commits[0].skipped);
  EXPECT_TRUE(e.commits[1].skipped);
}

// The runner keeps crash titles on an infra run only when the commit's own kernel crashed while
// booting: those count toward a skip; the host's infra (no titles) never does.
TEST(GatherEvidence, BootsWhoseOwnKernelCrashedCountTowardASkipOtherInfraDoesNot) {
  const std::unordered_map<std::string, model::CommitIndex> index_of = {
      {"panics", 0}, {"host", 1}, {"bad", 2}};
  std::vector<store::RunRecord> runs;
  for (int i = 0; i < 8; ++i) {
    store::RunRecord panic;
    panic.sha = "panics";
    panic.outcome = RunOutcome::kInfra;
    panic.crash_titles = {"Kernel panic - not syncing: VFS: Unable to mount root fs"};
    runs.push_back(panic);
    store::RunRecord host;
    host.sha = "host";
    host.outcome = RunOutcome::kInfra;
    runs.push_back(host);
  }
  // At the bad commit, tested first, a boot that panics may be the host's: infra as any other.
  for (int i = 0; i < 25; ++i) {
    store::RunRecord at_bad;
    at_bad.sha = "bad";
    at_bad.outcome = RunOutcome::kInfra;
    at_bad.crash_titles = {"Kernel panic - not syncing: Attempted to kill init!"};
    runs.push_back(at_bad);
  }
  const Evidence e =
      gather_evidence(runs, index_of, std::vector<bool>(3, false), policy({"fail", "crash"}), 2);
  EXPECT_TRUE(e.commits[0].skipped);
  EXPECT_FALSE(e.commits[1].skipped);
  EXPECT_FALSE(e.commits[2].skipped);
  EXPECT_EQ(e.unjudged_runs, (std::vector<uint32_t>{8, 0, 0}));
  EXPECT_EQ(e.used_runs, 0U);
  EXPECT_TRUE(counts_as_unjudged(RunOutcome::kInfra, {"Kernel panic - not syncing: x"}, false));
  EXPECT_FALSE(counts_as_unjudged(RunOutcome::kInfra, {"Kernel panic - not syncing: x"}, true));
  EXPECT_FALSE(counts_as_unjudged(RunOutcome::kInfra, {}, false));
  EXPECT_FALSE(counts_as_unjudged(RunOutcome::kInterrupted, {"BUG: x"}, false));
}

// A commit whose kernel never reaches the test hangs every time: with hang not counted it teaches
// nothing, and without the rule the planner would run it for ever.
TEST(GatherEvidence, UnjudgedRunsPilingUpMakeTheCommitASkip) {
  const std::unordered_map<std::string, model::CommitIndex> index_of = {
      {"hangs", 0}, {"four", 1},  {"mostly", 2}, {"more", 3},
      {"infra", 4}, {"other", 5}, {"bad", 6}};
  std::vector<store::RunRecord> runs;
  auto add = [&](std::string sha, RunOutcome outcome, int times,
                 std::optional<std::string> signature = std::nullopt) {
    for (int i = 0; i < times; ++i) {
      store::RunRecord run;
      run.sha = sha;
      run.outcome = outcome;
      run.signature = signature;
      runs.push_back(run);
    }
  };
  add("hangs", RunOutcome::kHang, 8);
  add("four", RunOutcome::kHang, 7);    // fewer than kMinUnjudged
  add("mostly", RunOutcome::kHang, 9);  // 9 unjudged, 1 judged: below 5 x (1 + 1)
  add("mostly", RunOutcome::kPass, 1);
  add("more", RunOutcome::kHang, 10);
  add("more", RunOutcome::kFail, 1);
  add("infra", RunOutcome::kInfra, 20);                           // the environment, not the commit
  add("infra", RunOutcome::kInterrupted, 20);                     // nor a run cut short
  add("other", RunOutcome::kCrash, 8, "WARNING in xfs_reclaim");  // somebody else's crash
  add("bad", RunOutcome::kHang, 19);  // the bad commit needs kMinUnjudgedAtBad
  const Evidence e = gather_evidence(runs, index_of, std::vector<bool>(7, false),
                                     policy({"fail", "crash"}, "ext4_"), 6);
  // With only crashes counted, a test's own failures are left out but not unjudged: the test ran
  // to its end, and the bug's crash may come in a few of such runs.
  std::vector<store::RunRecord> fails;
  for (int i = 0; i < 20; ++i) {
    store::RunRecord run;
    run.sha = "hangs";
    run.outcome = RunOutcome::kFail;
    fails.push_back(run);
  }
  const Evidence crash_only =
      gather_evidence(fails, index_of, std::vector<bool>(7, false), policy({"crash"}), 6);
  EXPECT_FALSE(crash_only.commits[0].skipped);
  EXPECT_EQ(crash_only.unjudged_runs[0], 0U);
  EXPECT_TRUE(e.commits[0].skipped);
  EXPECT_FALSE(e.commits[1].skipped);
  EXPECT_FALSE(e.commits[2].skipped);
  EXPECT_EQ(e.commits[2].passes, 1U);
  EXPECT_TRUE(e.commits[3].skipped);
  EXPECT_EQ(e.commits[3].fails, 1U);  // the evidence stays
  EXPECT_FALSE(e.commits[4].skipped);
  EXPECT_TRUE(e.commits[5].skipped);
  EXPECT_FALSE(e.commits[6].skipped);
  EXPECT_EQ(e.unjudged_runs, (std::vector<uint32_t>{8, 7, 9, 10, 0, 8, 19}));
  EXPECT_TRUE(unjudged_make_a_skip(kMinUnjudgedAtBad, 0, /*bad_commit=*/true));
  EXPECT_FALSE(unjudged_make_a_skip(kMinUnjudged, 0, /*bad_commit=*/true));
  // A bug in a third of the runs among hangs: five hangs in a row are bad luck, not a skip.
  EXPECT_FALSE(unjudged_make_a_skip(5, 0, /*bad_commit=*/false));
}

TEST(ApplyEvidence, GivesTheSamePosteriorAsRecordingRunByRun) {
  const model::CandidateDag dag = model::CandidateDag::linear(6);
  Evidence evidence;
  evidence.commits.resize(6);
  evidence.recorded_runs.assign(6, 0);
  evidence.commits[5] = {3, 1, false};
  evidence.commits[2] = {0, 4, false};
  evidence.commits[3] = {1, 2, false};
  evidence.commits[1].skipped = true;
  model::Posterior rebuilt(dag, {});
  apply_evidence(evidence, rebuilt);
  // The same runs one at a time, in another order, as a bisection records them.
  model::Posterior by_run(dag, {});
  for (auto [commit, fail] : std::vector<std::pair<model::CommitIndex, bool>>{{5, true},
                                                                              {2, false},
                                                                              {3, false},
                                                                              {5, false},
                                                                              {2, false},
                                                                              {3, true},
                                                                              {5, true},
                                                                              {2, false},
                                                                              {3, false},
                                                                              {2, false},
                                                                              {5, true}}) {
    by_run.record(commit, fail ? 1 : 0, fail ? 0 : 1);
  }
  by_run.mark_skipped(1);
  ASSERT_EQ(rebuilt.culprit_probabilities().size(), by_run.culprit_probabilities().size());
  for (size_t c = 0; c < 6; ++c) {
    EXPECT_NEAR(rebuilt.culprit_probabilities()[c], by_run.culprit_probabilities()[c], 1e-12)
        << "commit " << c;
  }
  EXPECT_EQ(rebuilt.total_runs(), 11U);
  EXPECT_EQ(rebuilt.evidence(5).fails, 3U);
  EXPECT_EQ(rebuilt.evidence(5).passes, 1U);
  EXPECT_EQ(rebuilt.evidence(3).fails, 1U);
  EXPECT_TRUE(rebuilt.evidence(1).skipped);
}

TEST(ModelOptions, TheEngineModelTakesTheDecisionKeys) {
  config::DecisionConfig decision;
  decision.theta_min = 0.01;
  decision.no_regression_prior = 0.05;
  const model::ModelOptions options = model_options(decision);
  EXPECT_EQ(options.rate_spread, decision.rate_spread);
  EXPECT_EQ(options.min_rate_ratio, decision.min_rate_ratio);
  decision.min_rate_ratio = 3;
  EXPECT_EQ(model_options(decision).min_rate_ratio, 3.0);
  EXPECT_EQ(options.no_regression_prior, 0.05);
  // With the default spread theta's grid goes past 1, so a deterministic bug is representable.
  EXPECT_EQ(options.theta.values, model::theta_grid(0.01, 32, decision.rate_spread).values);
  EXPECT_NEAR(options.theta.values.front(), 0.01, 1e-15);
  EXPECT_GE(options.theta.values.back(), model::RateSpread::of(decision.rate_spread).saturation());
  decision.rate_spread = 0;
  EXPECT_EQ(model_options(decision).theta.values.back(), 1.0);
  EXPECT_EQ(model_options(decision).theta.values.size(), 32U);
}

TEST(PlannerOptions, TheEnginePlannerTakesTheCostsAndTheNoiseBuildWeight) {
  config::DecisionConfig decision;
  // The engine's default since session 11; model::PlannerOptions alone has 0.
  EXPECT_EQ(planner_options(decision).noise_build_weight, 1);
  EXPECT_EQ(model::PlannerOptions{}.noise_build_weight, 0);
  EXPECT_EQ(planner_options(decision).rare_build_weight, 0);  // off unless configured
  decision.build_cost = 40;
  decision.boot_cost = 2.5;
  decision.run_cost = 0.5;
  decision.noise_build_weight = 0.75;
  decision.rare_build_weight = 1.25;
  const model::PlannerOptions options = planner_options(decision);
  EXPECT_EQ(options.cost.build, 40);
  EXPECT_EQ(options.cost.boot, 2.5);
  EXPECT_EQ(options.cost.run, 0.5);
  EXPECT_EQ(options.noise_build_weight, 0.75);
  EXPECT_EQ(options.rare_build_weight, 1.25);
}

}  // namespace
}  // namespace flakebisect::engine
