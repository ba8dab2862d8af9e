// Posterior: the belief over which candidate commit introduced a flaky regression.
//
// Hypotheses: the culprit is candidate c (prior weight per commit, uniform by default), or, when
// enabled, "no regression in this range". A run at commit x fails with probability theta if x is
// bad (c <= x) and eps otherwise. theta and eps are unknown: each has a prior over a fixed grid and
// both are marginalised, never plugged in as point estimates:
//
//   P(c | data) ~ prior(c) * sum_{theta,eps} prior(theta) prior(eps)
//                 * prod_x [c <= x ? theta^f_x (1-theta)^p_x : eps^f_x (1-eps)^p_x]
//
// With rate_spread > 0 the bad-commit factor becomes sum_j w_j (theta u_j)^f_x (1 - theta u_j)^p_x:
// each bad commit's rate is theta times its own multiplier (see ModelOptions::rate_spread).
//
// Grid pairs with min_rate_ratio * eps >= theta are excluded (a bad commit fails more often than a
// good one; ModelOptions::min_rate_ratio says how many times more often at the least). All
// arithmetic is in log space. Candidates whose set of tested descendants is equal share a
// likelihood, so the cost of an update is O(n * tested / 64 + classes * tested * grid * spread
// nodes), not O(n * grid).
//
// Skipped (unbuildable) commits are never observed and keep their prior mass relative to their
// neighbours, so the answer may be a set. Infra runs are not evidence and never reach this class.
//
// Everything is deterministic: the same evidence in any order gives the same numbers.
// Thread rules: not thread-safe; const methods may be called concurrently once update() ran.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "model/candidate_dag.h"

namespace flakebisect::model {

// A prior over a grid of values of one rate. weights need not be normalised.
struct RateGrid {
  std::vector<double> values;
  std::vector<double> weights;

  // theta: `points` values log-uniform over [low, 1], 1 included, equal weights; with high > 1
  // the same spacing continues past 1 up to the first value at or above high, at most 8 values
  // (more would be needed with low near 1 or a wide spread: then 8 evenly spaced ones end at high).
  static RateGrid log_uniform(double low, int points, double high = 1.0);
  // eps: 0 with weight `zero_mass`, the rest spread equally over {0.001, 0.002, 0.005, 0.01, 0.02}.
  static RateGrid mostly_zero(double zero_mass);
  // A single known value (for tests and for "rate known" benchmark cells).
  static RateGrid point(double value);
};

// Values in theta's grid over [theta_min, 1] (theta_grid may add a few above 1).
inline constexpr int kThetaGridPoints = 32;

struct ModelOptions {
  RateGrid theta = RateGrid::log_uniform(0.005, kThetaGridPoints);
  RateGrid eps = RateGrid::mostly_zero(0.6);
  // Prior probability of "no regression in range" (0 disables that hypothesis).
  double no_regression_prior = 0.0;
  // Relative prior weight of a merge commit being the culprit (1 for an ordinary commit). Merges
  // can introduce bugs (a bad conflict resolution) but rarely do; with equal weight a merge whose
  // merged branch tip happened to pass collects the branch's mass and is named over-confidently.
  double merge_weight = 0.1;
  // How much the failure rate may differ between bad commits: bad commit x fails with probability
  // min(1, theta * u_x), u_x independent per commit with log u_x ~ Normal(0, rate_spread^2)
  // (integrated with RateSpread's nodes). 0: every bad commit fails at the same theta. Real
  // regressions drift: later commits change timing and make a race easier or harder to hit, and a
  // model that assumes one rate then trusts passes at a weakly failing culprit too much. The
  // engine's default is config::DecisionConfig::rate_spread (0.25); 0 here keeps the model plain.
  double rate_spread = 0.0;
  // How many times more often than a good commit a bad one fails at the least: grid pairs with
  // min_rate_ratio * eps >= theta get no prior mass. 1 only says that a bad commit fails more
  // often. Higher values keep a rare bug's failures from being explained as a noisy good commit's
  // (at theta 0.02, ratio 1 leaves eps 0.01 in), at the price of misreading a good commit that
  // fails nearly as often as a bad one. At least 1; the engine's default is
  // config::DecisionConfig::min_rate_ratio.
  double min_rate_ratio = 1.0;
};

// The quadrature of ModelOptions::rate_spread: multipliers u_j and weights w_j (summing to 1) with
// E[f(u)] ~ sum_j w_j f(u_j) for log u ~ Normal(0, spread^2); {1} with weight 1 for spread 0.
struct RateSpread {
  std::vector<double> multipliers;
  std::vector<double> weights;
  std::vector<double> log_weights;
  static RateSpread of(double spread);
  // The failure rate of a bad commit with multiplier j at theta.
  double rate(double theta, size_t j) const { return std::min(1.0, theta * multipliers[j]); }
  // The smallest theta at which every multiplier's rate is 1 (1 without a spread).
  double saturation() const { return 1.0 / multipliers.front(); }
  // log(w_j * rate^fails * (1 - rate)^passes) at that rate: multiplier j's term in a bad commit's
  // likelihood (the posterior sums them; the planner normalises them into P(j | runs at x)).
  double log_term(double theta, size_t j, uint32_t fails, uint32_t passes) const;
};

// theta's prior grid for a model with this rate spread: `points` values log-uniform over [low, 1]
// and, with a spread, the same spacing continued up to saturation() of RateSpread::of(spread).
// theta is the rate of the median bad commit, so theta above 1 is a bug whose bad commits nearly
// all fail every run. Without those values a spread model cannot represent a deterministic bug: at
// theta = 1 the multipliers below 1 (a weight of 0.233) still let a bad commit pass, so a pass at a
// good commit is weak evidence. Equal weights continue the log-uniform prior (5 of 37 values at the
// default low = 0.005 and spread 0.25; never more than 8).
RateGrid theta_grid(double low, int points, double rate_spread);

// Evidence gathered at one commit.
struct CommitEvidence {
  uint32_t fails = 0;
  uint32_t passes = 0;
  bool skipped = false;  // the commit cannot be tested (build failure, reproducer said skip)
};

// Posterior mean and central 90% credible interval of a rate.
struct RateSummary {
  double mean = 0;
  double low = 0;
  double high = 0;
};

class Posterior {
 public:
  // commit_prior: optional relative prior weight per commit (size n), e.g. to favour commits that
  // touch fs/ext4; empty means uniform. Merges are further weighted by options.merge_weight.
  Posterior(const CandidateDag& dag, ModelOptions options, std::vector<double> commit_prior = {});

  const CandidateDag& dag() const { return *dag_; }
  const ModelOptions& options() const { return options_; }

  // Adds evidence; invalidates the cached posterior until the next query.
  void record(CommitIndex x, uint32_t fails, uint32_t passes);
  void mark_skipped(CommitIndex x);
  const CommitEvidence& evidence(CommitIndex x) const { return evidence_[x]; }
  uint64_t total_runs() const { return total_runs_; }
  uint64_t total_fails() const { return total_fails_; }

  // P(culprit = c), size n; sums with no_regression_probability() to 1.
  const std::vector<double>& culprit_probabilities() const;
  double no_regression_probability() const;
  CommitIndex most_likely() const;
  double max_probability() const;
  // P(x is bad) for every x: the mass of the culprits that are ancestors-or-self of x.
  std::vector<double> bad_probabilities() const;
  // Smallest set of commits, most probable first, holding at least `mass` (ties by lower index).
  std::vector<CommitIndex> credible_set(double mass) const;

  // Joint posterior over the (theta, eps) grid, marginalised over culprits; index t * eps + e.
  // Pairs excluded by min_rate_ratio * eps >= theta have weight 0. Only culprit hypotheses
  // contribute.
  const std::vector<double>& rate_posterior() const;
  // Of min(1, theta): the median bad commit's failure rate (theta_grid's values above 1 are 1).
  RateSummary theta_summary() const;
  RateSummary eps_summary() const;
  // P(eps = eps.values[e]) for every e: rate_posterior() summed over theta.
  std::vector<double> eps_marginal() const;

  // Hypothesis classes: culprits with the same set of tested descendants-or-self share a likelihood
  // and so a posterior over (theta, eps). The planner needs each class's own rate posterior,
  // because a test that cannot move the culprit directly (the bad commit, say) still separates
  // classes that disagree about theta. "No regression", when enabled, is a class with no
  // representative.
  struct HypothesisClass {
    CommitIndex representative = 0;  // any member; ignored for "no regression"
    bool no_regression = false;
    double mass = 0;            // posterior probability of the class
    std::vector<double> rates;  // posterior over the (theta, eps) grid given the class
  };
  const std::vector<HypothesisClass>& classes() const;
  // class_of()[c]: the index into classes() of candidate c's class.
  const std::vector<uint32_t>& class_of() const;

 private:
  void update() const;

  const CandidateDag* dag_;
  ModelOptions options_;
  std::vector<double> log_commit_prior_;
  std::vector<CommitEvidence> evidence_;
  std::vector<CommitIndex> tested_;  // commits with at least one run, in first-tested order
  uint64_t total_runs_ = 0;
  uint64_t total_fails_ = 0;

  mutable bool dirty_ = true;
  mutable std::vector<double> probability_;
  mutable double no_regression_ = 0;
  mutable std::vector<double> rate_posterior_;
  mutable std::vector<HypothesisClass> classes_;
  mutable std::vector<uint32_t> class_of_;
};

}  // namespace flakebisect::model
