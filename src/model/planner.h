// Planner: chooses where to test next, and how many times, by expected information per unit cost.
//
// For a commit x with P(x bad) = p, r runs at x give k failures with probability
//   p * B(k | r, theta) + (1 - p) * B(k | r, eps), (theta, eps) drawn from their joint posterior,
// and the expected information gain about the culprit is
//   I(p, r) = H(K) - p H(K | bad) - (1-p) H(K | good).
// I is concave in p, so for each r the best unbuilt commit is one of the two whose p lies
// nearest the maximiser; built commits are all scored. The step maximises worth / cost with
//   worth = I(C; K) + rate_information_weight * I(theta, eps; K | C)
//           + confirmation_weight * E[gain in log2-odds of the most probable commit],
//   cost = (built ? 0 : build) + boot + r * run,
//   build = max(cost model's build,
//               noise_build_weight * (median runs at a built commit) * P(eps > 0) * run,
//               rare_build_weight * E[1 / theta] * run),
//   the second and third terms off unless their weights are > 0 (the engine's defaults: 1 and 0).
// I(C; K) alone is myopic twice over: it does not value learning theta (what makes passes at the
// culprit's parent convincing later), and once one commit leads, what ends the bisection is that
// commit's odds reaching the stop threshold, not the entropy of the rest. Only tests with
// I(C; K) > 0 are candidates, so the extra terms never keep a bisection going.
// The build cost's second term is for noise. Every new commit is one more place where a good
// commit's false failure can start a chase that takes a rare bug's worth of runs to undo; a
// one-step score does not see that cost. So while good commits may fail (P(eps > 0)) and each
// commit has needed many runs (a rare signal), a new build is charged what a built commit has
// typically cost in runs so far: the median, which runs piling up at fewer than half of the built
// commits do not move. It changes nothing while the signal is frequent or the good commits never
// failed.
// The third term is for a rare signal, with or without noise. Most runs at a bad commit then pass,
// and passes at a bad commit are what send a search past the culprit: every commit built on that
// excursion is abandoned when the search comes back. So a new build is charged at least the runs a
// bad commit takes, on average, to fail once: E[1 / theta] under the posterior. It is below a
// build's cost wherever theta is well above run / build.
// Plain "midpoint once" is wrong for flaky bugs, and greedy-per-run ignores build cost; this is
// neither. Before any failure has been seen the planner tests the bad commit, which checks that the
// bug reproduces and gives the first estimate of theta.
// With ModelOptions::rate_spread > 0 a bad commit fails at its own rate around theta; at a commit
// with runs, the bad side of each class's predictive is then conditioned on those runs (what they
// say about that commit's own rate), or the planner would keep running where it learns only that.
// Those rows are cached per (fails, passes, batch size).
//
// Deterministic: equal scores break toward the lower commit index and fewer runs, so a resumed
// bisection picks the same next step from the same stored data.
// Thread rules: plan() is const but fills a cache of binomial tables: one Planner per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "model/posterior.h"

namespace flakebisect::model {

struct CostModel {
  double build = 10;  // building a commit not built yet
  double boot = 0;    // starting a test environment (VM boot) for a batch of runs
  double run = 1;     // one reproducer run
};

struct PlannerOptions {
  CostModel cost;
  // Batch sizes considered for one step.
  std::vector<uint32_t> run_counts = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};
  // Runs per batch while reproducing on the bad commit.
  uint32_t reproduce_runs = 4;
  // Weight of the information about (theta, eps) given the culprit (0: information about the
  // culprit only).
  double rate_information_weight = 0.5;
  // Weight of the expected gain in log2-odds of the most probable commit.
  double confirmation_weight = 1.0;
  // A new build is charged at least noise_build_weight x (median runs at a built commit) x
  // P(eps > 0) runs (0: the cost model's build cost only). See the comment at the top of this
  // file. 0 here, so that a Planner alone is the cost model's; the engine's default
  // (config::DecisionConfig::noise_build_weight) is 1 since session 11 (docs/model.md).
  double noise_build_weight = 0;
  // A new build is charged at least rare_build_weight x E[1 / theta] runs, the runs a bad commit
  // takes on average to fail once (0: off). See the comment at the top of this file. 0 here and
  // in the engine (config::DecisionConfig::rare_build_weight).
  double rare_build_weight = 0;
  // Whether a build, once made, stays usable (the kernel builder's artifact cache; or nothing to
  // build). False when it lives in the one worktree (build.command): going back to a commit built
  // before, other than the one checked out, builds it again, so it costs cost.build again.
  bool builds_kept = true;
};

struct Step {
  CommitIndex commit = 0;
  uint32_t runs = 0;
  double information_bits = 0;  // expected information about the culprit from the whole batch
  double cost = 0;
  bool reproducing = false;  // testing the bad commit before any failure was seen
  // Nothing testable can split the remaining mass (what is left is skipped): more runs cannot name
  // a single culprit, and the caller should stop with the credible set as the answer. The step
  // then names the bad commit, with no information.
  bool exhausted = false;
};

class Planner {
 public:
  explicit Planner(PlannerOptions options);
  ~Planner();
  Planner(Planner&&) noexcept;
  Planner& operator=(Planner&&) noexcept;

  // built[x]: x is already built (no build cost; with builds_kept false, only for the commit
  // `checked_out`). Skipped commits are never chosen; a commit whose P(bad) is 0 or 1 cannot split
  // the mass and is chosen only to reproduce on the bad commit.
  Step plan(const Posterior& posterior, const std::vector<bool>& built,
            std::optional<CommitIndex> checked_out = std::nullopt) const;

  const PlannerOptions& options() const { return options_; }
  // The costs plan() uses for this evidence: the cost model's, with the build cost raised by
  // noise_build_weight and rare_build_weight.
  CostModel costs_now(const Posterior& posterior, const std::vector<bool>& built) const;
  // New costs (the engine learns them as a bisection goes); the cached tables stay valid.
  void set_cost(const CostModel& cost) { options_.cost = cost; }

 private:
  struct BinomialTables;
  const BinomialTables& tables(const ModelOptions& model) const;

  PlannerOptions options_;
  mutable std::unique_ptr<BinomialTables> tables_;  // cache keyed by the grids
};

// Expected information (bits) about the culprit from r runs at a commit with P(bad) = p, given the
// joint posterior over (theta, eps). Exposed for tests and the benchmark.
double expected_information(const Posterior& posterior, double p, uint32_t runs);

}  // namespace flakebisect::model
