#include "model/planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

#include "model/stop_rule.h"

namespace flakebisect::model {
namespace {

ModelOptions known(double theta, double eps) {
  ModelOptions o;
  o.theta = RateGrid::point(theta);
  o.eps = RateGrid::point(eps);
  return o;
}

TEST(Planner, FirstReproducesOnTheBadCommit) {
  auto dag = CandidateDag::linear(100);
  Posterior post(dag, ModelOptions{});
  Planner planner(PlannerOptions{});
  Step step = planner.plan(post, std::vector<bool>(100, false));
  EXPECT_EQ(step.commit, 99U);
  EXPECT_TRUE(step.reproducing);
  EXPECT_GT(step.runs, 0U);
}

TEST(Planner, DeterministicBugIsBisectedAtTheMidpoint) {
  auto dag = CandidateDag::linear(101);
  Posterior post(dag, known(1.0, 0.0));
  post.record(100, 1, 0);
  PlannerOptions options;
  options.cost = {0, 0, 1};
  Planner planner(options);
  Step step = planner.plan(post, std::vector<bool>(101, false));
  // P(x bad) = (x + 1) / 101: commit 49 or 50 splits the mass in half.
  EXPECT_TRUE(step.commit == 49 || step.commit == 50) << step.commit;
  EXPECT_EQ(step.runs, 1U);  // one run of a deterministic bug says everything
  EXPECT_NEAR(step.information_bits, 1.0, 0.01);
}

TEST(Planner, NeverPicksACommitThatCannotSplitTheMass) {
  // Known rates: every commit outside (3, 7] is settled, and skipped commits are never chosen.
  auto dag = CandidateDag::linear(12);
  Posterior post(dag, known(1.0, 0.0));
  post.record(11, 1, 0);
  post.record(3, 0, 1);
  post.record(7, 1, 0);
  post.mark_skipped(5);
  std::vector<bool> built(12, false);
  built[3] = built[7] = built[11] = true;
  Planner planner(PlannerOptions{});
  for (int i = 0; i < 2; ++i) {
    Step step = planner.plan(post, built);
    EXPECT_FALSE(step.exhausted);
    auto q = post.bad_probabilities();
    EXPECT_GT(q[step.commit], 1e-9) << step.commit;
    EXPECT_LT(q[step.commit], 1 - 1e-9) << step.commit;
    EXPECT_NE(step.commit, 5U);
    EXPECT_GT(step.information_bits, 0);
    built[step.commit] = true;
    post.record(step.commit, step.commit >= 6 ? 1 : 0, step.commit >= 6 ? 0 : 1);
  }
  // Now the culprit is 5 (skipped) or 6 (built, bad): nothing can split them.
  Step last = planner.plan(post, built);
  EXPECT_TRUE(last.exhausted);
  EXPECT_EQ(last.information_bits, 0);
  EXPECT_EQ(post.credible_set(0.99), std::vector<CommitIndex>({5, 6}));
}

TEST(Planner, BuildCostMakesItRunMoreOnBuiltCommits) {
  auto dag = CandidateDag::linear(200);
  Posterior post(dag, ModelOptions{});
  post.record(199, 2, 8);
  post.record(100, 0, 1);
  std::vector<bool> built(200, false);
  built[199] = built[100] = true;
  // Information about the culprit only: with free builds, a rerun at 100 is a near-tie with the
  // best split (0.0817 vs 0.0828 bits) that the information about theta tips, and this test is
  // about the build cost.
  PlannerOptions cheap;
  cheap.cost = {0, 0, 1};
  cheap.rate_information_weight = 0;
  PlannerOptions dear;
  dear.cost = {1000, 0, 1};
  dear.rate_information_weight = 0;
  Step cheap_step = Planner(cheap).plan(post, built);
  Step dear_step = Planner(dear).plan(post, built);
  EXPECT_FALSE(built[cheap_step.commit]);  // free builds: go where the split is best
  EXPECT_TRUE(built[dear_step.commit]);    // dear builds: reuse what is built
}

// A build that lives in the worktree (build.command) is made again when the search goes back to
// its commit: with dear builds the planner then stays where it is checked out.
TEST(Planner, ABuildNotKeptCostsItsBuildAgainAwayFromTheCheckout) {
  auto dag = CandidateDag::linear(200);
  Posterior post(dag, ModelOptions{});
  post.record(199, 2, 8);
  post.record(100, 0, 1);
  post.record(150, 0, 1);
  std::vector<bool> built(200, false);
  built[199] = built[100] = built[150] = true;
  PlannerOptions dear;
  dear.cost = {1000, 0, 1};
  dear.rate_information_weight = 0;
  const Step kept = Planner(dear).plan(post, built, CommitIndex{100});
  ASSERT_TRUE(built[kept.commit]);
  EXPECT_LT(kept.cost, 1000);  // going back to any built commit is free
  dear.builds_kept = false;
  for (const CommitIndex at : {CommitIndex{100}, CommitIndex{150}}) {
    const Step step = Planner(dear).plan(post, built, at);
    EXPECT_EQ(step.commit, at) << "checked out " << at;
    EXPECT_LT(step.cost, 1000);
  }
  // Nothing checked out (a new session): every commit costs a build, and the best split wins.
  const Step fresh = Planner(dear).plan(post, built);
  EXPECT_GE(fresh.cost, 1000);
}

// A rare bug (5 fails in 200 runs at the bad commit), four commits built, and the culprit in
// (100, 199]. The good commits have passed 230 times; with a false failure at 20, whose
// descendant 100 has passed 200 times, eps > 0 is all but certain.
struct NoisySearch {
  CandidateDag dag = CandidateDag::linear(200);
  Posterior post;
  std::vector<bool> built = std::vector<bool>(200, false);

  explicit NoisySearch(bool false_failure, const ModelOptions& model = {}) : post(dag, model) {
    for (auto [x, f, p] : std::vector<std::tuple<CommitIndex, uint32_t, uint32_t>>{
             {199, 5, 195}, {100, 0, 200}, {150, 1, 20}, {20, false_failure ? 1U : 0U, 30}}) {
      post.record(x, f, p);
      built[x] = true;
    }
  }
};

// P(eps > 0): every eps of the default grid but its first, 0.
double p_false_failures(const Posterior& post) {
  EXPECT_EQ(post.options().eps.values.front(), 0);
  return 1 - post.eps_marginal().front();
}

TEST(Planner, NoiseBuildWeightChargesANewBuildTheRunsACommitHasCost) {
  PlannerOptions options;
  EXPECT_EQ(options.noise_build_weight, 0);  // 0 here; the engine's default (DecisionConfig) is 1
  options.cost = {10, 0, 1};
  options.noise_build_weight = 1;
  NoisySearch noisy(true);
  const double p = p_false_failures(noisy.post);
  EXPECT_GT(p, 0.9);
  // Runs at the built commits: 21, 31, 200, 200. The median (the upper one for an even count) is
  // 200 runs per build, times P(eps > 0). The mean would be 113.
  EXPECT_NEAR(Planner(options).costs_now(noisy.post, noisy.built).build, 200 * p, 1e-9);
  options.noise_build_weight = 0.5;
  EXPECT_NEAR(Planner(options).costs_now(noisy.post, noisy.built).build, 100 * p, 1e-9);
  options.noise_build_weight = 0;
  EXPECT_EQ(Planner(options).costs_now(noisy.post, noisy.built).build, 10);
  // Never below the cost model's.
  options.noise_build_weight = 1;
  options.cost.build = 1000;
  EXPECT_EQ(Planner(options).costs_now(noisy.post, noisy.built).build, 1000);
  // The other costs are the cost model's.
  EXPECT_EQ(Planner(options).costs_now(noisy.post, noisy.built).run, 1);
}

TEST(Planner, NoiseBuildWeightDoesNotGrowWhileRunsPileUpAtOneBuiltCommit) {
  // A stall: 400 more runs at the undecided commit 150 and no new build. With the mean the charge
  // would nearly double (113 -> 213 runs per build) and make the next build dearer still; the
  // median stays at 200.
  PlannerOptions options;
  options.cost = {10, 0, 1};
  options.noise_build_weight = 1;
  NoisySearch noisy(true);
  noisy.post.record(150, 0, 400);
  const double p = p_false_failures(noisy.post);
  EXPECT_GT(p, 0.9);
  EXPECT_NEAR(Planner(options).costs_now(noisy.post, noisy.built).build, 200 * p, 1e-9);
  // A fifth built commit with 1000 runs leaves it at 200: one outlier does not set the charge.
  noisy.post.record(60, 0, 1000);
  noisy.built[60] = true;
  EXPECT_NEAR(Planner(options).costs_now(noisy.post, noisy.built).build,
              200 * p_false_failures(noisy.post), 1e-9);
}

TEST(Planner, NoiseBuildWeightIsNothingWhileGoodCommitsCannotFail) {
  PlannerOptions options;
  options.cost = {10, 0, 1};
  options.noise_build_weight = 1;
  ModelOptions no_false_failures;
  no_false_failures.eps = RateGrid::point(0);
  NoisySearch clean(false, no_false_failures);
  EXPECT_EQ(Planner(options).costs_now(clean.post, clean.built).build, 10);
  PlannerOptions off = options;
  off.noise_build_weight = 0;
  const Step a = Planner(options).plan(clean.post, clean.built);
  const Step b = Planner(off).plan(clean.post, clean.built);
  EXPECT_EQ(a.commit, b.commit);
  EXPECT_EQ(a.runs, b.runs);
}

TEST(Planner, NoiseBuildWeightReusesBuiltCommitsInANoisyRareSearch) {
  PlannerOptions options;
  options.cost = {10, 0, 1};
  options.noise_build_weight = 1;
  NoisySearch noisy(true);
  PlannerOptions off = options;
  off.noise_build_weight = 0;
  const Step with = Planner(options).plan(noisy.post, noisy.built);
  const Step without = Planner(off).plan(noisy.post, noisy.built);
  // Without the weight, a build between 100 and 199 for 48 runs (123 here); with it, the next
  // runs go to 150, built and still undecided.
  EXPECT_FALSE(noisy.built[without.commit]) << without.commit;
  EXPECT_TRUE(noisy.built[with.commit]) << with.commit;
  EXPECT_EQ(with.commit, 150U);
}

// A search with theta known (a one-point grid): E[1 / theta] is 1 / theta exactly.
Posterior known_rate_search(const CandidateDag& dag, double theta, uint32_t passes_at_100 = 12) {
  ModelOptions model;
  model.theta = RateGrid::point(theta);
  model.eps = RateGrid::point(0);
  Posterior post(dag, model);
  post.record(199, 3, theta < 1 ? 57 : 0);
  post.record(100, 0, passes_at_100);
  return post;
}

TEST(Planner, RareBuildWeightChargesANewBuildTheRunsABadCommitTakesToFailOnce) {
  PlannerOptions options;
  EXPECT_EQ(options.rare_build_weight, 0);  // 0 here and in the engine (DecisionConfig)
  options.cost = {10, 0, 1};
  options.rare_build_weight = 1;
  const CandidateDag dag = CandidateDag::linear(200);
  std::vector<bool> built(200, false);
  built[199] = built[100] = true;
  const Posterior rare = known_rate_search(dag, 0.05);
  EXPECT_NEAR(Planner(options).costs_now(rare, built).build, 20, 1e-9);
  options.rare_build_weight = 3;
  EXPECT_NEAR(Planner(options).costs_now(rare, built).build, 60, 1e-9);
  // Never below the cost model's: 0.25 x 20 runs is less than a build.
  options.rare_build_weight = 0.25;
  EXPECT_EQ(Planner(options).costs_now(rare, built).build, 10);
  options.rare_build_weight = 0;
  EXPECT_EQ(Planner(options).costs_now(rare, built).build, 10);
  // A frequent signal: 1 / 0.3 runs is below a build; theta's grid past 1 counts as 1.
  options.rare_build_weight = 1;
  EXPECT_EQ(Planner(options).costs_now(known_rate_search(dag, 0.3), built).build, 10);
  options.cost.build = 0.5;
  EXPECT_NEAR(Planner(options).costs_now(known_rate_search(dag, 0.3), built).build, 1 / 0.3, 1e-9);
  EXPECT_NEAR(Planner(options).costs_now(known_rate_search(dag, 1.4), built).build, 1, 1e-9);
  // The other costs are the cost model's.
  EXPECT_EQ(Planner(options).costs_now(rare, built).run, 1);
}

TEST(Planner, RareBuildWeightAveragesOneOverThetaOverThePosterior) {
  // Two rates, 0.05 and 0.5, equally likely a priori. 1 fail in 20 runs at the bad commit (and 12
  // passes at 100, which the culprit may be below or above) weigh them; the charge is
  // P(0.05) x 20 + P(0.5) x 2 runs, between the two.
  ModelOptions model;
  model.theta.values = {0.05, 0.5};
  model.theta.weights = {0.5, 0.5};
  model.eps = RateGrid::point(0);
  const CandidateDag dag = CandidateDag::linear(200);
  Posterior post(dag, model);
  post.record(199, 1, 19);
  std::vector<bool> built(200, false);
  built[199] = true;
  const std::vector<double>& joint = post.rate_posterior();
  ASSERT_EQ(joint.size(), 2U);
  const double low = joint[0] / (joint[0] + joint[1]);
  EXPECT_GT(low, 0.9);  // 1 in 20 is far likelier at 0.05 than at 0.5
  PlannerOptions options;
  options.cost = {0, 0, 1};
  options.rare_build_weight = 1;
  EXPECT_NEAR(Planner(options).costs_now(post, built).build, low * 20 + (1 - low) * 2, 1e-9);
}

TEST(Planner, RareBuildWeightIsOffUntilTheFirstFailure) {
  // Before any failure the planner only reproduces on the bad commit.
  ModelOptions model;
  model.theta = RateGrid::point(0.05);
  const CandidateDag dag = CandidateDag::linear(200);
  Posterior post(dag, model);
  post.record(199, 0, 10);
  PlannerOptions options;
  options.cost = {10, 0, 1};
  options.rare_build_weight = 1;
  std::vector<bool> built(200, false);
  built[199] = true;
  EXPECT_EQ(Planner(options).costs_now(post, built).build, 10);
}

TEST(Planner, RareBuildWeightReusesABuiltCommitInARareSearch) {
  // Theta 0.05: 60 passes at 100 leave P(100 bad) at 0.045. The build cost alone sends the next
  // batch to a new commit between 100 and 199 (139, 24 runs); charged the 20 runs a bad commit
  // takes to fail once, the planner runs at 100 again. (56 passes: both run at 100; 70: both
  // build.)
  const CandidateDag dag = CandidateDag::linear(200);
  const Posterior rare = known_rate_search(dag, 0.05, 60);
  std::vector<bool> built(200, false);
  built[199] = built[100] = true;
  PlannerOptions off;
  off.cost = {10, 0, 1};
  PlannerOptions on = off;
  on.rare_build_weight = 1;
  const Step without = Planner(off).plan(rare, built);
  const Step with = Planner(on).plan(rare, built);
  EXPECT_FALSE(built[without.commit]) << without.commit;
  EXPECT_TRUE(built[with.commit]) << with.commit;
}

TEST(Planner, SameEvidenceGivesTheSameStep) {
  auto dag = CandidateDag::linear(500);
  auto make = [&](bool reversed) {
    Posterior post(dag, ModelOptions{});
    std::vector<std::tuple<CommitIndex, uint32_t, uint32_t>> ev = {
        {499, 3, 5}, {250, 0, 4}, {375, 2, 2}, {300, 0, 6}};
    if (reversed) std::reverse(ev.begin(), ev.end());
    for (auto [x, f, p] : ev) post.record(x, f, p);
    std::vector<bool> built(500, false);
    built[499] = built[250] = built[375] = built[300] = true;
    return Planner(PlannerOptions{}).plan(post, built);
  };
  Step a = make(false);
  Step b = make(true);
  EXPECT_EQ(a.commit, b.commit);
  EXPECT_EQ(a.runs, b.runs);
  EXPECT_EQ(a.information_bits, b.information_bits);
}

TEST(Planner, WithARateSpreadAPlannerThatPlannedBeforeGivesTheSameStepAsAFreshOne) {
  // The rows conditioned on a tested commit's runs are cached per (fails, passes, batch size); a
  // warm cache must not change a step (a resumed bisection plans with a fresh planner).
  auto dag = CandidateDag::linear(200);
  ModelOptions options;
  options.rate_spread = 0.5;
  Posterior post(dag, options);
  std::vector<bool> built(200, false);
  const Planner warm(PlannerOptions{});
  for (auto [x, f, p] : std::vector<std::tuple<CommitIndex, uint32_t, uint32_t>>{
           {199, 3, 5}, {100, 0, 4}, {150, 2, 2}, {100, 0, 6}, {150, 1, 9}, {120, 0, 5}}) {
    post.record(x, f, p);
    built[x] = true;
    const Step step = warm.plan(post, built);
    const Step fresh = Planner(PlannerOptions{}).plan(post, built);
    EXPECT_EQ(step.commit, fresh.commit);
    EXPECT_EQ(step.runs, fresh.runs);
    EXPECT_EQ(step.information_bits, fresh.information_bits);
    EXPECT_EQ(step.cost, fresh.cost);
  }
}

TEST(Planner, InformationIsZeroForASettledCommitAndPositiveForAnOpenOne) {
  auto dag = CandidateDag::linear(10);
  Posterior post(dag, known(0.5, 0.0));
  post.record(9, 1, 1);
  EXPECT_NEAR(expected_information(post, 1.0, 4), 0.0, 1e-12);
  EXPECT_NEAR(expected_information(post, 0.0, 4), 0.0, 1e-12);
  EXPECT_GT(expected_information(post, 0.5, 4), expected_information(post, 0.5, 1));
}

TEST(StopRule, FoundOnlyAtTheRequestedConfidence) {
  auto dag = CandidateDag::linear(3);
  Posterior post(dag, known(1.0, 0.0));
  post.record(2, 1, 0);
  EXPECT_EQ(evaluate_stop(post, {}), Verdict::kContinue);
  post.record(0, 0, 1);
  post.record(1, 1, 0);
  EXPECT_EQ(evaluate_stop(post, {}), Verdict::kFound);
  EXPECT_EQ(post.most_likely(), 1U);
}

TEST(StopRule, SetOfSkippedCommitsAndOneTestableNeighbourIsAnAnswer) {
  auto dag = CandidateDag::linear(6);
  Posterior post(dag, known(1.0, 0.0));
  post.mark_skipped(2);
  post.record(1, 0, 1);
  post.record(3, 1, 0);  // culprit 2 (skipped) or 3
  EXPECT_EQ(evaluate_stop(post, {}), Verdict::kFoundSet);
  EXPECT_EQ(post.credible_set(stop_threshold({})), std::vector<CommitIndex>({2, 3}));
}

// The credible set takes the most probable commits first, so skipped commits on both sides of a
// testable one can fill it with a single testable member. That is not the end while a run at the
// commit between them can rule one side out.
TEST(StopRule, SetThatATestableCommitSplitsIsNotAnAnswerYet) {
  auto dag = CandidateDag::linear(6);
  Posterior post(dag, known(0.5, 0.0));
  post.mark_skipped(1);
  post.mark_skipped(2);
  post.mark_skipped(4);
  post.record(0, 0, 40);
  post.record(3, 0, 7);
  post.record(5, 1, 0);
  // 4 and 5 hold about 0.494 each and 1, 2 and 3 about 0.004 each: the set is {4, 5, 1, 2}, with 5
  // its one testable member, but 3 is testable and splits {1, 2} from {4, 5}.
  EXPECT_EQ(post.credible_set(stop_threshold({})), std::vector<CommitIndex>({4, 5, 1, 2}));
  EXPECT_EQ(evaluate_stop(post, {}), Verdict::kContinue);
  PlannerOptions options;
  options.cost = {10, 0, 1};
  std::vector<bool> built(6, false);
  built[0] = built[3] = built[5] = true;
  EXPECT_EQ(Planner(options).plan(post, built).commit, 3U);
  // Passes at 3 rule out 1, 2 and 3; what is left, {4, 5}, no testable commit can split.
  post.record(3, 0, 6);
  EXPECT_EQ(post.credible_set(stop_threshold({})), std::vector<CommitIndex>({4, 5}));
  EXPECT_EQ(evaluate_stop(post, {}), Verdict::kFoundSet);
}

TEST(StopRule, ThresholdLeavesHalfTheRequestedErrorByDefault) {
  StopOptions options;
  options.confidence = 0.99;
  EXPECT_NEAR(stop_threshold(options), 0.995, 1e-12);
  options.error_margin = 1;
  EXPECT_NEAR(stop_threshold(options), 0.99, 1e-12);
}

TEST(StopRule, NotReproducedAfterTheReproduceBudget) {
  auto dag = CandidateDag::linear(10);
  Posterior post(dag, ModelOptions{});
  StopOptions options;
  options.max_reproduce_runs = 50;
  post.record(9, 0, 49);
  EXPECT_EQ(evaluate_stop(post, options), Verdict::kContinue);
  post.record(9, 0, 1);
  EXPECT_EQ(evaluate_stop(post, options), Verdict::kNotReproduced);
}

// Simulated bisections with a fixed seed: deterministic, so this cannot flake, yet it fails if the
// model's accuracy or calibration regresses.
struct SimResult {
  int correct = 0;
  double confidence = 0;
  double runs = 0;
};

// jitter > 0: each bad commit x fails at min(1, theta * exp(jitter * z_x)), z_x standard normal
// (the benchmark's misspecified scenario); the model is told rate_spread. saturating_grid false
// stops theta's grid at 1 even with a spread (the model before theta_grid).
SimResult simulate(const CandidateDag& dag, double theta, double eps, int trials, uint64_t seed,
                   double jitter = 0, double rate_spread = 0, bool saturating_grid = true) {
  SimResult result;
  const CommitIndex n = dag.size();
  for (int t = 0; t < trials; ++t) {
    std::mt19937_64 rng(seed + static_cast<uint64_t>(t));
    const auto culprit = static_cast<CommitIndex>(rng() % n);
    std::vector<double> rate(n, theta);
    if (jitter > 0) {
      std::normal_distribution<double> normal;
      for (double& r : rate) r = std::min(1.0, theta * std::exp(jitter * normal(rng)));
    }
    ModelOptions model;
    model.rate_spread = rate_spread;
    model.theta = theta_grid(0.005, 32, saturating_grid ? rate_spread : 0);
    Posterior post(dag, model);
    Planner planner(PlannerOptions{});
    std::vector<bool> built(n, false);
    int runs = 0;
    while (evaluate_stop(post, {}) == Verdict::kContinue && runs < 5000) {
      Step step = planner.plan(post, built);
      built[step.commit] = true;
      const bool bad = dag.is_ancestor_or_self(culprit, step.commit);
      const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
      const bool fail = u < (bad ? rate[step.commit] : eps);
      post.record(step.commit, fail ? 1 : 0, fail ? 0 : 1);
      ++runs;
    }
    result.correct += post.most_likely() == culprit ? 1 : 0;
    result.confidence += post.max_probability();
    result.runs += runs;
  }
  result.confidence /= trials;
  result.runs /= trials;
  return result;
}

TEST(ModelStatistics, FlakyBugOnALinearHistoryIsFoundAsOftenAsClaimed) {
  auto dag = CandidateDag::linear(64);
  SimResult r = simulate(dag, 0.3, 0.0, 150, 1000);
  EXPECT_GE(r.correct, 147);  // claimed >= 0.99
  EXPECT_GE(r.confidence, 0.99);
  EXPECT_LT(r.runs, 150);  // lower bound ~ 38 runs; fixed-N(20) needs ~6 x 20
}

TEST(ModelStatistics, RatesThatVaryPerCommitAreFoundAsOftenAsClaimedWithARateSpread) {
  // The culprit may fail less often than its descendants: with rate_spread the model does not take
  // a weakly failing culprit's passes for a good commit, and does not run forever at a commit whose
  // own rate it already knows (every trial must stop well under the 5000-run cap).
  auto dag = CandidateDag::linear(32);
  SimResult r = simulate(dag, 0.3, 0.0, 60, 4242, 0.5, 0.5);  // without the spread: 55 correct
  EXPECT_GE(r.correct, 59);
  EXPECT_GE(r.confidence, 0.99);
  EXPECT_LT(r.runs, 200);
}

TEST(ModelStatistics, ADeterministicBugNeedsNoMoreRunsWithARateSpread) {
  // theta = 1. With a spread and theta's grid ending at 1, a quarter of the multipliers let a bad
  // commit pass, so each pass at a good commit is weak evidence and every good commit near the
  // culprit is re-run; theta_grid's values above 1 let the model see that every bad commit fails.
  auto dag = CandidateDag::linear(64);
  SimResult plain = simulate(dag, 1.0, 0.0, 40, 99);
  SimResult spread = simulate(dag, 1.0, 0.0, 40, 99, 0, 0.25);
  SimResult capped = simulate(dag, 1.0, 0.0, 40, 99, 0, 0.25, false);
  // Measured: 18.7 runs without a spread, 17.0 with it, 22.1 with it and theta <= 1.
  EXPECT_LE(spread.runs, plain.runs);
  EXPECT_LT(spread.runs, capped.runs - 3);
  EXPECT_EQ(plain.correct, 40);
  EXPECT_EQ(spread.correct, 40);
  EXPECT_EQ(capped.correct, 40);
}

TEST(ModelStatistics, RareBugOnAMergeHeavyHistoryIsFound) {
  // Mainline of 40 with a 4-commit topic branch merged every 8 commits.
  std::vector<std::vector<CommitIndex>> parents;
  CommitIndex main_tip = 0;
  parents.push_back({});
  for (int i = 1; i < 40; ++i) {
    if (i % 8 == 0) {
      CommitIndex fork = main_tip;
      for (int k = 0; k < 4; ++k) {
        parents.push_back({k == 0 ? fork : static_cast<CommitIndex>(parents.size() - 1)});
      }
      CommitIndex topic_tip = static_cast<CommitIndex>(parents.size() - 1);
      parents.push_back({main_tip, topic_tip});
    } else {
      parents.push_back({main_tip});
    }
    main_tip = static_cast<CommitIndex>(parents.size() - 1);
  }
  auto dag = CandidateDag::create(parents);
  ASSERT_TRUE(dag.has_value()) << dag.error().message();
  SimResult r = simulate(*dag, 0.1, 0.0, 60, 77);
  EXPECT_GE(r.correct, 57);  // 95%: 60 trials cannot resolve 99%; the benchmark does that
  EXPECT_GE(r.confidence, 0.99);
}

}  // namespace
}  // namespace flakebisect::model
