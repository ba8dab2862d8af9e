#include "model/posterior.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <tuple>

namespace flakebisect::model {
namespace {

ModelOptions known(double theta, double eps) {
  ModelOptions o;
  o.theta = RateGrid::point(theta);
  o.eps = RateGrid::point(eps);
  return o;
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

TEST(Posterior, UniformPriorBeforeAnyEvidence) {
  auto dag = CandidateDag::linear(4);
  Posterior post(dag, ModelOptions{});
  for (double p : post.culprit_probabilities()) EXPECT_DOUBLE_EQ(p, 0.25);
}

TEST(Posterior, OnePassWithKnownRatesMatchesHandComputation) {
  // c = 0 or 1 makes commit 1 bad: a pass has probability 1 - theta = 0.5. c = 2 makes it good.
  auto dag = CandidateDag::linear(3);
  Posterior post(dag, known(0.5, 0.0));
  post.record(1, 0, 1);
  const auto& p = post.culprit_probabilities();
  EXPECT_NEAR(p[0], 0.25, 1e-12);
  EXPECT_NEAR(p[1], 0.25, 1e-12);
  EXPECT_NEAR(p[2], 0.5, 1e-12);
}

TEST(Posterior, FailureWithZeroEpsRulesOutLaterCulprits) {
  auto dag = CandidateDag::linear(3);
  Posterior post(dag, known(0.5, 0.0));
  post.record(1, 1, 0);
  const auto& p = post.culprit_probabilities();
  EXPECT_NEAR(p[0], 0.5, 1e-12);
  EXPECT_NEAR(p[1], 0.5, 1e-12);
  EXPECT_EQ(p[2], 0.0);
}

TEST(Posterior, ThetaIsMarginalisedNotPluggedIn) {
  // theta in {0.2, 0.8} equally likely; two passes at commit 1.
  // c <= 1: E[(1-theta)^2] = (0.64 + 0.04) / 2 = 0.34;  c = 2: 1.
  auto dag = CandidateDag::linear(3);
  ModelOptions o;
  o.theta = RateGrid{{0.2, 0.8}, {1, 1}};
  o.eps = RateGrid::point(0);
  Posterior post(dag, o);
  post.record(1, 0, 2);
  const auto& p = post.culprit_probabilities();
  EXPECT_NEAR(p[0], 0.34 / 1.68, 1e-12);
  EXPECT_NEAR(p[1], 0.34 / 1.68, 1e-12);
  EXPECT_NEAR(p[2], 1.0 / 1.68, 1e-12);
  // theta posterior over the culprit hypotheses: theta .2 has weight 2 * .64 * .5 + 1 * .5 = 1.14,
  // theta .8 has 2 * .04 * .5 + 1 * .5 = 0.54.
  auto theta = post.theta_summary();
  EXPECT_NEAR(theta.mean, (1.14 * 0.2 + 0.54 * 0.8) / 1.68, 1e-12);
}

TEST(Posterior, EpsIsMarginalisedOverItsGrid) {
  // eps in {0, 0.1} equally likely, theta = 0.5; one failure at commit 1.
  // c <= 1: 0.5;  c = 2: E[eps] = 0.05.
  auto dag = CandidateDag::linear(3);
  ModelOptions o;
  o.theta = RateGrid::point(0.5);
  o.eps = RateGrid{{0.0, 0.1}, {1, 1}};
  Posterior post(dag, o);
  post.record(1, 1, 0);
  const auto& p = post.culprit_probabilities();
  EXPECT_NEAR(p[0], 0.5 / 1.05, 1e-12);
  EXPECT_NEAR(p[2], 0.05 / 1.05, 1e-12);
}

TEST(Posterior, MinRateRatioLeavesOutPairsWhereEpsIsCloseToTheta) {
  // theta in {0.02, 0.05}, eps in {0, 0.01}, all equally likely; one failure at commit 1.
  // Ratio 1 keeps all four pairs: c <= 1: (0.02 + 0.02 + 0.05 + 0.05) / 4 = 0.035,
  //                               c = 2: (0 + 0.01 + 0 + 0.01) / 4 = 0.005.
  // Ratio 2 drops (0.02, 0.01), as 2 * 0.01 >= 0.02: c <= 1: 0.12 / 3, c = 2: 0.01 / 3.
  auto dag = CandidateDag::linear(3);
  ModelOptions o;
  o.theta = RateGrid{{0.02, 0.05}, {1, 1}};
  o.eps = RateGrid{{0.0, 0.01}, {1, 1}};
  Posterior one(dag, o);
  one.record(1, 1, 0);
  EXPECT_NEAR(one.culprit_probabilities()[0], 0.035 / 0.075, 1e-12);
  EXPECT_NEAR(one.culprit_probabilities()[2], 0.005 / 0.075, 1e-12);
  EXPECT_GT(one.rate_posterior()[0 * 2 + 1], 0.0);

  o.min_rate_ratio = 2;
  Posterior two(dag, o);
  two.record(1, 1, 0);
  EXPECT_NEAR(two.culprit_probabilities()[0], 0.04 / (0.08 + 0.01 / 3), 1e-12);
  EXPECT_NEAR(two.culprit_probabilities()[2], (0.01 / 3) / (0.08 + 0.01 / 3), 1e-12);
  EXPECT_EQ(two.rate_posterior()[0 * 2 + 1], 0.0);
  EXPECT_NEAR(sum(two.rate_posterior()), 1.0, 1e-12);
}

TEST(Posterior, RateSpreadQuadratureIsANormalInLogSpace) {
  const RateSpread none = RateSpread::of(0);
  EXPECT_EQ(none.multipliers, std::vector<double>{1.0});
  EXPECT_EQ(none.weights, std::vector<double>{1.0});
  const RateSpread s = RateSpread::of(0.5);
  ASSERT_EQ(s.multipliers.size(), 5U);
  double mean = 0;
  double second = 0;
  double fourth = 0;
  for (size_t j = 0; j < 5; ++j) {
    const double z = std::log(s.multipliers[j]);
    mean += s.weights[j] * z;
    second += s.weights[j] * z * z;
    fourth += s.weights[j] * z * z * z * z;
  }
  EXPECT_NEAR(sum(s.weights), 1.0, 1e-12);
  EXPECT_NEAR(mean, 0.0, 1e-12);
  EXPECT_NEAR(second, 0.25, 1e-12);        // spread^2
  EXPECT_NEAR(fourth, 3 * 0.0625, 1e-12);  // 3 spread^4
  EXPECT_DOUBLE_EQ(s.rate(0.3, 2), 0.3);   // the middle node is theta itself
  EXPECT_DOUBLE_EQ(s.rate(0.9, 4), 1.0);   // capped at 1
}

TEST(Posterior, RateSpreadGivesEachBadCommitItsOwnRate) {
  // theta = 0.4 known, eps = 0. Commit 1: one pass; commit 2: one failure. Each bad commit's rate
  // is 0.4 u_x with its own u_x, so the factors multiply per commit:
  //   c <= 1: E[1 - 0.4 u] * E[0.4 u];   c = 2: 1 * E[0.4 u].
  // With one shared rate it would be E[(1 - 0.4 u) 0.4 u] instead.
  auto dag = CandidateDag::linear(3);
  ModelOptions o = known(0.4, 0.0);
  o.rate_spread = 0.7;
  Posterior post(dag, o);
  post.record(1, 0, 1);
  post.record(2, 1, 0);
  const RateSpread s = RateSpread::of(0.7);
  double fail = 0;
  for (size_t j = 0; j < 5; ++j) fail += s.weights[j] * s.rate(0.4, j);
  const double pass = 1 - fail;
  const double total = 2 * pass * fail + fail;
  const auto& p = post.culprit_probabilities();
  EXPECT_NEAR(p[0], pass * fail / total, 1e-12);
  EXPECT_NEAR(p[1], pass * fail / total, 1e-12);
  EXPECT_NEAR(p[2], fail / total, 1e-12);
}

TEST(Posterior, RateSpreadMakesPassesAtOneCommitWeakerEvidence) {
  // 20 passes at commit 1 after failures at commit 2: with one shared rate they nearly rule out
  // c <= 1; if commit 1 may fail less often than commit 2, they rule it out less.
  auto dag = CandidateDag::linear(3);
  ModelOptions shared;
  ModelOptions spread;
  spread.rate_spread = 0.5;
  Posterior a(dag, shared);
  Posterior b(dag, spread);
  for (Posterior* post : {&a, &b}) {
    post->record(2, 10, 10);
    post->record(1, 0, 20);
  }
  EXPECT_GT(b.bad_probabilities()[1], 2 * a.bad_probabilities()[1]);
  EXPECT_GT(a.culprit_probabilities()[2], b.culprit_probabilities()[2]);
}

TEST(Posterior, ThetaSummaryIsARateEvenWhenTheGridGoesPastOne) {
  // A bug that failed every run: theta's posterior sits on grid values above 1, which all mean
  // "the median bad commit fails every run"; the summary reports that rate, 1.
  auto dag = CandidateDag::linear(4);
  ModelOptions o;
  o.rate_spread = 0.25;
  o.theta = theta_grid(0.005, 32, 0.25);
  Posterior post(dag, o);
  post.record(3, 30, 0);
  post.record(2, 30, 0);
  post.record(1, 0, 30);
  const RateSummary theta = post.theta_summary();
  EXPECT_LE(theta.mean, 1.0);
  EXPECT_GT(theta.mean, 0.9);
  EXPECT_EQ(theta.high, 1.0);
  EXPECT_GT(post.culprit_probabilities()[2], 0.999);
}

TEST(Posterior, FailureOnAMergeDoesNotBlameTheOtherBranchAlone) {
  // 0 - 1 - 2 --- 5      topic 3 - 4 forked at 1 and merged by 5
  auto dag = CandidateDag::create({{}, {0}, {1}, {1}, {3}, {2, 4}});
  ASSERT_TRUE(dag.has_value());
  Posterior post(*dag, known(1.0, 0.0));
  post.record(2, 0, 1);  // mainline 2 good: 0, 1, 2 cleared
  post.record(4, 1, 0);  // topic tip bad: culprit in {3, 4}
  const auto& p = post.culprit_probabilities();
  EXPECT_EQ(p[0] + p[1] + p[2], 0.0);
  EXPECT_NEAR(p[3], 0.5, 1e-12);
  EXPECT_NEAR(p[4], 0.5, 1e-12);
  EXPECT_EQ(p[5], 0.0);
}

TEST(Posterior, SkippedCommitsKeepTheirShareOfTheMass) {
  auto dag = CandidateDag::linear(6);
  Posterior post(dag, known(1.0, 0.0));
  post.mark_skipped(2);
  post.mark_skipped(3);
  post.record(1, 0, 1);  // 0, 1 good
  post.record(4, 1, 0);  // 4 bad: culprit in {2, 3, 4}
  const auto& p = post.culprit_probabilities();
  EXPECT_NEAR(p[2], 1.0 / 3, 1e-12);
  EXPECT_NEAR(p[3], 1.0 / 3, 1e-12);
  EXPECT_NEAR(p[4], 1.0 / 3, 1e-12);
  auto set = post.credible_set(0.99);
  EXPECT_EQ(set.size(), 3U);
}

TEST(Posterior, CommitPriorWeightsShiftTheMass) {
  auto dag = CandidateDag::linear(2);
  Posterior post(dag, known(1.0, 0.0), {3.0, 1.0});
  EXPECT_NEAR(post.culprit_probabilities()[0], 0.75, 1e-12);
}

TEST(Posterior, EvidenceOrderDoesNotChangeTheNumbers) {
  auto dag = CandidateDag::linear(50);
  Posterior a(dag, ModelOptions{});
  Posterior b(dag, ModelOptions{});
  a.record(10, 0, 3);
  a.record(40, 2, 1);
  a.record(25, 1, 4);
  b.record(25, 1, 4);
  b.record(40, 2, 1);
  b.record(10, 0, 3);
  EXPECT_EQ(a.culprit_probabilities(), b.culprit_probabilities());
  EXPECT_EQ(a.rate_posterior(), b.rate_posterior());
}

TEST(Posterior, NoUnderflowAtThirteenThousandCommitsAndThousandsOfRuns) {
  auto dag = CandidateDag::linear(13000);
  Posterior post(dag, ModelOptions{});
  post.record(12999, 300, 2700);
  post.record(6000, 0, 5000);
  post.record(9000, 280, 2500);
  post.record(7500, 0, 4000);
  const auto& p = post.culprit_probabilities();
  for (double v : p) ASSERT_TRUE(std::isfinite(v));
  EXPECT_NEAR(sum(p), 1.0, 1e-9);
  // The culprit lies in (7500, 9000].
  double inside = 0;
  for (CommitIndex c = 7501; c <= 9000; ++c) inside += p[c];
  EXPECT_GT(inside, 0.999);
  auto theta = post.theta_summary();
  EXPECT_GT(theta.mean, 0.08);
  EXPECT_LT(theta.mean, 0.13);
}

TEST(Posterior, NoRegressionHypothesisGrowsWhenTheBadCommitNeverFails) {
  auto dag = CandidateDag::linear(20);
  ModelOptions o;
  o.no_regression_prior = 0.5;
  Posterior post(dag, o);
  post.record(19, 0, 500);
  EXPECT_GT(post.no_regression_probability(), 0.9);
  EXPECT_NEAR(sum(post.culprit_probabilities()) + post.no_regression_probability(), 1.0, 1e-9);
}

TEST(Posterior, NoRegressionIsAlmostRuledOutOnceTheBadCommitFailsOften) {
  auto dag = CandidateDag::linear(20);
  ModelOptions o;
  o.no_regression_prior = 0.5;
  Posterior post(dag, o);
  post.record(19, 10, 10);
  EXPECT_LT(post.no_regression_probability(), 1e-6);
}

TEST(Posterior, CredibleSetIsSmallestMostProbableFirst) {
  auto dag = CandidateDag::linear(3);
  Posterior post(dag, known(0.5, 0.0));
  post.record(1, 0, 1);  // (0.25, 0.25, 0.5)
  EXPECT_EQ(post.credible_set(0.5), std::vector<CommitIndex>({2}));
  EXPECT_EQ(post.credible_set(0.7), std::vector<CommitIndex>({2, 0}));
  EXPECT_EQ(post.most_likely(), 2U);
}

TEST(Posterior, BadProbabilitiesAreAncestorSums) {
  auto dag = CandidateDag::linear(3);
  Posterior post(dag, known(0.5, 0.0));
  post.record(1, 0, 1);
  auto q = post.bad_probabilities();
  EXPECT_NEAR(q[0], 0.25, 1e-12);
  EXPECT_NEAR(q[1], 0.5, 1e-12);
  EXPECT_NEAR(q[2], 1.0, 1e-12);
}

TEST(Posterior, RateGridsHaveTheDocumentedShape) {
  auto theta = RateGrid::log_uniform(0.005, 32);
  ASSERT_EQ(theta.values.size(), 32U);
  EXPECT_NEAR(theta.values.front(), 0.005, 1e-15);
  EXPECT_EQ(theta.values.back(), 1.0);
  for (size_t i = 1; i < theta.values.size(); ++i) EXPECT_GT(theta.values[i], theta.values[i - 1]);
  EXPECT_EQ(theta_grid(0.005, 32, 0).values, theta.values);
  // With a spread the same spacing continues past 1 to the first value at or above saturation.
  const double saturation = RateSpread::of(0.25).saturation();
  EXPECT_NEAR(saturation, std::exp(0.25 * 2.856970013872806), 1e-12);
  auto wide = theta_grid(0.005, 32, 0.25);
  ASSERT_GT(wide.values.size(), 32U);
  EXPECT_EQ(std::vector<double>(wide.values.begin(), wide.values.begin() + 32), theta.values);
  EXPECT_GE(wide.values.back(), saturation);
  EXPECT_LT(wide.values[wide.values.size() - 2], saturation);
  for (size_t i = 32; i < wide.values.size(); ++i) {
    EXPECT_NEAR(wide.values[i] / wide.values[i - 1], theta.values[31] / theta.values[30], 1e-9);
  }
  EXPECT_EQ(wide.weights, std::vector<double>(wide.values.size(), 1.0));
  // Never more than 8 values past 1: a wide spread, theta_min near 1, a one-point grid.
  for (auto [low, points, spread] : {std::tuple{0.005, 32, 2.0}, std::tuple{0.5, 32, 0.25},
                                     std::tuple{1 - 1e-16, 32, 0.25}, std::tuple{0.1, 1, 0.5}}) {
    auto grid = theta_grid(low, points, spread);
    const double top = RateSpread::of(spread).saturation();
    ASSERT_EQ(grid.values.size(), static_cast<size_t>(points) + 8) << low << " " << spread;
    EXPECT_NEAR(grid.values.back(), top, 1e-9 * top);
    EXPECT_EQ(grid.values[static_cast<size_t>(points) - 1], 1.0);
  }
  auto eps = RateGrid::mostly_zero(0.6);
  EXPECT_EQ(eps.values.front(), 0.0);
  EXPECT_NEAR(sum(eps.weights), 1.0, 1e-12);
}

}  // namespace
}  // namespace flakebisect::model
