#include "simulator.h"

#include <fmt/core.h>

#include <algorithm>
#include <cassert>
#include <cmath>

#include "rng.h"

namespace flakebisect::bench {

namespace {

// Stream tags: each random quantity of a trial has its own key so that adding one never shifts
// another.
enum Tag : uint64_t {
  kTagHistory = 1,
  kTagCulprit,
  kTagTheta,
  kTagJitter,
  kTagUnbuildable,
  kTagRun,
  kTagInfra,
  kTagRevert,
  kTagGoodEnd,
  kTagStaleGood,
};

uint64_t trial_key(const CellSpec& cell, uint64_t seed, uint64_t trial) {
  return hash_keys({seed, static_cast<uint64_t>(cell.history), cell.n, trial});
}

}  // namespace

model::CostModel CellSpec::cost() const {
  model::CostModel cost;
  cost.build = build_cost;
  cost.boot = boot_variant ? 0.5 : 0.0;
  cost.run = boot_variant ? 0.5 : 1.0;
  return cost;
}

std::string CellSpec::theta_text() const {
  return theta_mixture ? std::string("mix") : fmt::format("{}", theta);
}

std::string CellSpec::label() const {
  std::string label = fmt::format("{} {} n={} theta={} eps={}", scenario, history_name(history), n,
                                  theta_text(), eps);
  if (theta_jitter > 0) {
    label += fmt::format(" jitter={}", theta_jitter);
  }
  if (faults.unbuildable > 0) {
    label += fmt::format(" unbuildable={}", faults.unbuildable);
  }
  if (faults.infra > 0) {
    label += fmt::format(" infra={}", faults.infra);
  }
  if (boot_variant) {
    label += " cost=boot0.5+run0.5";
  }
  if (build_cost != kSpecBuildCost) {
    label += fmt::format(" build={}", build_cost);
  }
  if (stale_good > 0) {
    label += fmt::format(" stale_good={}", stale_good);
  }
  return label;
}

Parents trial_history(const CellSpec& cell, uint64_t seed, uint64_t trial) {
  return make_parents(cell.history, cell.n, hash_keys({trial_key(cell, seed, trial), kTagHistory}));
}

TrialTruth draw_truth(const CellSpec& cell, const CandidateDag& dag,
                      const std::vector<CommitIndex>& non_merge, uint64_t seed, uint64_t trial) {
  const uint64_t key = trial_key(cell, seed, trial);
  TrialTruth truth;
  truth.key = key;
  {
    RandomStream rng(hash_keys({key, kTagCulprit}));
    truth.culprit = non_merge[rng.below(non_merge.size())];
  }
  truth.eps = cell.eps;
  truth.infra = cell.faults.infra;
  // Keyed by the trial alone: every algorithm, and every cell with the same history and n, has
  // the same stale trials at the same P.
  truth.good_end_bad = cell.stale_good > 0 && keyed_uniform({key, kTagStaleGood}) < cell.stale_good;
  if (cell.theta_mixture) {
    RandomStream rng(hash_keys({key, kTagTheta}));
    truth.theta = std::exp(std::log(kMixtureThetaLow) * (1.0 - rng.uniform()));
  } else {
    truth.theta = cell.theta;
  }
  const CommitIndex n = dag.size();
  if (cell.theta_jitter > 0) {
    RandomStream rng(hash_keys({key, kTagJitter}));
    truth.bad_rate.resize(n);
    for (CommitIndex x = 0; x < n; ++x) {
      truth.bad_rate[x] =
          std::clamp(truth.theta * std::exp(cell.theta_jitter * rng.normal()), 0.0, 1.0);
    }
  }
  if (cell.faults.unbuildable > 0) {
    RandomStream rng(hash_keys({key, kTagUnbuildable}));
    truth.unbuildable.resize(n);
    for (CommitIndex x = 0; x < n; ++x) {
      // Drawn for every commit before the exclusions so the set does not depend on the culprit.
      const bool broken = rng.bernoulli(cell.faults.unbuildable);
      truth.unbuildable[x] = broken && x != dag.bad() && x != truth.culprit;
    }
  }
  return truth;
}

Lab::Lab(const CandidateDag& dag, const TrialTruth& truth, model::CostModel cost, Budget budget)
    : dag_(&dag),
      truth_(&truth),
      cost_model_(cost),
      budget_(budget),
      attempted_(dag.size(), false),
      runs_at_(dag.size(), 0) {}

bool Lab::build(CommitIndex x) {
  if (!attempted_[x]) {
    attempted_[x] = true;
    ++builds_;
    cost_ += cost_model_.build;
  }
  return truth_->unbuildable.empty() || !truth_->unbuildable[x];
}

void Lab::boot() {
  ++boots_;
  cost_ += cost_model_.boot;
}

RunOutcome Lab::run(CommitIndex x) {
  assert(attempted_[x]);
  const uint64_t k = runs_at_[x]++;
  ++runs_;
  cost_ += cost_model_.run;
  if (truth_->infra > 0 && keyed_uniform({truth_->key, kTagInfra, x, k}) < truth_->infra) {
    return RunOutcome::kInfra;
  }
  double rate = truth_->eps;
  if (truth_->good_end_bad || dag_->is_ancestor_or_self(truth_->culprit, x)) {
    rate = truth_->bad_rate.empty() ? truth_->theta : truth_->bad_rate[x];
  }
  return keyed_uniform({truth_->key, kTagRun, x, k}) < rate ? RunOutcome::kFail : RunOutcome::kPass;
}

RunOutcome Lab::run_revert(CommitIndex reverted) {
  const uint64_t k = revert_runs_++;
  // Reverting the true culprit undoes the bug: the tip without it is a good commit and fails at
  // eps. Reverting any other commit (an ancestor, a descendant or an unrelated one) leaves the
  // true culprit's change in the tip, so the revert fails as the bad tip itself does.
  // Where the good end is bad, no commit in the range brought the bug: every revert still fails.
  const CommitIndex tip = dag_->bad();
  double rate = truth_->eps;
  if (truth_->good_end_bad || reverted != truth_->culprit) {
    rate = truth_->bad_rate.empty() ? truth_->theta : truth_->bad_rate[tip];
  }
  return keyed_uniform({truth_->key, kTagRevert, k}) < rate ? RunOutcome::kFail : RunOutcome::kPass;
}

RunOutcome Lab::run_good_end() {
  const uint64_t k = good_end_runs_++;
  // The good end is outside the range, and so has no per-commit rate: theta when it is bad.
  const double rate = truth_->good_end_bad ? truth_->theta : truth_->eps;
  return keyed_uniform({truth_->key, kTagGoodEnd, k}) < rate ? RunOutcome::kFail
                                                             : RunOutcome::kPass;
}

std::string_view revert_verdict_name(RevertCheckVerdict verdict) {
  switch (verdict) {
    case RevertCheckVerdict::kNone:
      return "none";
    case RevertCheckVerdict::kPass:
      return "pass";
    case RevertCheckVerdict::kFail:
      return "fail";
    case RevertCheckVerdict::kInconclusive:
      return "inconclusive";
  }
  return "?";
}

RunsWhere Lab::runs_where() const {
  RunsWhere where;
  if (truth_->good_end_bad) {
    for (CommitIndex x = 0; x < dag_->size(); ++x) {
      (x == dag_->bad() ? where.tip : where.bad) += runs_at_[x];
    }
    return where;
  }
  const CommitIndex culprit = truth_->culprit;
  const std::vector<CommitIndex>& parents = dag_->parents(culprit);
  for (CommitIndex x = 0; x < dag_->size(); ++x) {
    const uint64_t runs = runs_at_[x];
    if (x == culprit) {
      where.culprit += runs;
    } else if (std::find(parents.begin(), parents.end(), x) != parents.end()) {
      where.parent += runs;
    } else if (x == dag_->bad()) {
      where.tip += runs;
    } else if (dag_->is_ancestor_or_self(culprit, x)) {
      where.bad += runs;
    } else {
      where.good += runs;
    }
  }
  return where;
}

}  // namespace flakebisect::bench
