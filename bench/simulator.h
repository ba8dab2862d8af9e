// The simulated world a bisection algorithm runs in: a benchmark cell, the hidden truth of one
// trial, and the Lab through which an algorithm builds commits and runs the reproducer.
//
// Common random numbers: everything random about trial t is keyed by (seed, history kind, n, t), so
// every algorithm in a cell (and every cell with the same history and n) sees the same history, the
// same culprit and the same faults. The outcome of run k at commit x is
//   infra  if U_infra(t, x, k) < infra rate, else
//   fail   if U_run(t, x, k) < rate(x),       else pass,
// where rate(x) = theta_x if the culprit is an ancestor-or-self of x and eps otherwise, and k
// counts the runs the asking algorithm made at x so far (infra runs included). Two algorithms that
// run x five times see the same five outcomes; one that runs it more sees a longer prefix of the
// same stream. Algorithms see only outcomes; theta and eps are never given to them (except
// "ours-known", the labelled oracle reference).
//
// KernelCI's revert check (Lab::run_revert) runs the bad tip with the named culprit reverted. Its
// run k fails iff U_revert(t, k) < its rate, a stream keyed by the trial and k only, so every
// algorithm that checks sees the same uniforms whichever commit it names; there are no infra runs.
// The verify check (Lab::run_good_end) runs the user's good end, outside the range, the same way:
// run k fails iff U_good_end(t, k) < eps, or theta when the trial's good end is in fact bad.
//
// A stale good end (CellSpec::stale_good): with that probability per trial, keyed by the trial
// alone so that every algorithm sees the same trials, the user's good end is bad. The regression
// is older than the range: every candidate fails at its bad rate and the good end at theta, and
// the right answer is to name no culprit. The culprit is drawn all the same (so that no other
// stream moves) and plays no part in the runs.
//
// Thread rules: CellSpec and TrialTruth are values; a Lab belongs to one algorithm in one trial.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "history.h"
#include "model/candidate_dag.h"
#include "model/planner.h"

namespace flakebisect::bench {

using model::CandidateDag;
using model::CommitIndex;

// The mixture scenario draws theta per trial, log-uniform over [kMixtureThetaLow, 1].
constexpr double kMixtureThetaLow = 0.02;

// benchmark.md's cost of a build, in runs (`--build-cost` changes it).
constexpr double kSpecBuildCost = 10;

struct Faults {
  double unbuildable = 0;  // chance each commit fails to build (never the bad tip or the culprit)
  double infra = 0;        // chance each run is an infrastructure failure (costs, tells nothing)
};

// One cell of the benchmark grid.
struct CellSpec {
  std::string scenario = "headline";
  HistoryKind history = HistoryKind::kLinear;
  uint32_t n = 100;
  double theta = 0.1;          // failure rate of a bad commit (ignored when theta_mixture)
  bool theta_mixture = false;  // per-trial theta ~ log-uniform[kMixtureThetaLow, 1]
  double eps = 0;              // failure rate of a good commit
  double theta_jitter = 0;  // misspecification: theta_x = clip(theta * exp(N(0, jitter^2)), 0, 1)
  Faults faults;
  bool boot_variant = false;  // costs: boot 0.5 per batch + 0.5 per run, instead of 1 per run
  double build_cost = kSpecBuildCost;  // a commit's build, in the units where a run costs 1
  // Chance per trial that the user's good end is in fact bad (`--stale-good`; TrialTruth).
  double stale_good = 0;
  uint32_t trials = 2000;

  // Build build_cost (10 unless --build-cost); run 1, or boot 0.5 + run 0.5 in the boot variant.
  model::CostModel cost() const;
  // "dag n=1000 theta=0.1 eps=0" plus the scenario's distinguishing knobs.
  std::string label() const;
  std::string theta_text() const;  // "0.1" or "mix"
};

// The hidden truth of one trial.
struct TrialTruth {
  uint64_t key = 0;  // root of this trial's run outcome streams
  CommitIndex culprit = 0;
  double theta = 0;  // nominal theta (the drawn one in the mixture scenario)
  double eps = 0;
  std::vector<double> bad_rate;   // per-commit failure rate when bad; empty: theta everywhere
  std::vector<bool> unbuildable;  // empty: everything builds
  double infra = 0;
  // The good end is bad (CellSpec::stale_good): every commit fails at its bad rate, whatever
  // `culprit` says, and the right answer names no culprit.
  bool good_end_bad = false;
};

// The history of trial `trial` (linear histories do not depend on it).
Parents trial_history(const CellSpec& cell, uint64_t seed, uint64_t trial);

// Draws the truth of trial `trial` on its history `dag`.
TrialTruth draw_truth(const CellSpec& cell, const CandidateDag& dag,
                      const std::vector<CommitIndex>& non_merge, uint64_t seed, uint64_t trial);

enum class RunOutcome { kPass, kFail, kInfra };

// Where one algorithm's runs went in one trial, by what each commit is to the truth. Each run is
// counted once, in the first class that applies in this order; the five add up to Lab::runs().
// Where the good end is bad there is no culprit in the range: runs at the tip are `tip`, all
// others `bad`.
struct RunsWhere {
  // At the culprit: shows that it is bad (and, with eps unknown, that its fails are not false).
  uint64_t culprit = 0;
  uint64_t parent = 0;  // at a parent of the culprit: what tells it from that parent
  uint64_t tip = 0;     // at the bad tip: reproducing, and learning the failure rate
  uint64_t bad = 0;     // at the culprit's other descendants (bad commits)
  uint64_t good = 0;    // at every other commit (good ones)

  RunsWhere& operator+=(const RunsWhere& other) {
    culprit += other.culprit;
    parent += other.parent;
    tip += other.tip;
    bad += other.bad;
    good += other.good;
    return *this;
  }
};

// Stop conditions the harness imposes on every algorithm, which checks Lab::exhausted() before
// each run and stops with a cap hit when it is true.
struct Budget {
  uint64_t max_runs = std::numeric_limits<uint64_t>::max();
  double max_cost = std::numeric_limits<double>::infinity();
};

// What one algorithm does to the world in one trial, and what it has spent.
class Lab {
 public:
  Lab(const CandidateDag& dag, const TrialTruth& truth, model::CostModel cost, Budget budget);

  // Builds x if that was not attempted yet (charging cost.build once per commit, failed builds
  // included); returns whether x builds.
  bool build(CommitIndex x);
  bool build_attempted(CommitIndex x) const { return attempted_[x]; }
  // Starts a test environment for a batch of runs (charges cost.boot).
  void boot();
  // One reproducer run at x, which must have built (charges cost.run).
  RunOutcome run(CommitIndex x);
  // One run of the bad tip with `reverted` reverted (KernelCI's revert check): k is the number of
  // revert runs before it. Free and outside the budget: not in runs(), cost() or runs_where(),
  // so the search's own metrics stay as they are with or without the check.
  RunOutcome run_revert(CommitIndex reverted);
  uint64_t revert_runs() const { return revert_runs_; }
  // One run of the user's good end, outside the range (the verify check): k is the number of
  // good-end runs before it; it fails at eps, or at theta where the good end is bad. Free and
  // outside the budget, as run_revert.
  RunOutcome run_good_end();
  uint64_t good_end_runs() const { return good_end_runs_; }
  // The budget is spent: the caller must not run again.
  bool exhausted() const { return runs_ >= budget_.max_runs || cost_ >= budget_.max_cost; }

  uint64_t runs() const { return runs_; }      // infra runs included
  uint64_t builds() const { return builds_; }  // build attempts, failed ones included
  uint64_t boots() const { return boots_; }
  double cost() const { return cost_; }
  RunsWhere runs_where() const;

 private:
  const CandidateDag* dag_;
  const TrialTruth* truth_;
  model::CostModel cost_model_;
  Budget budget_;
  std::vector<bool> attempted_;
  std::vector<uint32_t> runs_at_;
  uint64_t runs_ = 0;
  uint64_t builds_ = 0;
  uint64_t boots_ = 0;
  double cost_ = 0;
  uint64_t revert_runs_ = 0;
  uint64_t good_end_runs_ = 0;
};

// How KernelCI's revert check ended (model/revert_check.h); kNone: no check was made. The verify
// check's verdicts too: there kPass says the good end behaves as a good commit, kFail as a bad one.
enum class RevertCheckVerdict {
  kNone,
  kPass,          // model::RevertVerdict::kFixed: the revert fixes the bug
  kFail,          // model::RevertVerdict::kStillBad: the revert still fails
  kInconclusive,  // neither held within the cap of runs
};

std::string_view revert_verdict_name(RevertCheckVerdict verdict);  // "pass", "fail", ...

// What an algorithm concluded in one trial.
struct Answer {
  std::optional<CommitIndex> culprit;  // nullopt: no answer ("not reproduced", or gave up)
  // A set answer ("the culprit is one of these", when skipped commits cannot be split): its
  // members, culprit above is the most probable of them, and confidence is the set's mass. Empty
  // otherwise.
  std::vector<CommitIndex> set;
  double confidence = 1;         // what it claims; 1 for the classic baselines
  bool not_reproduced = false;   // concluded there is no (reproducible) regression
  bool cap_hit = false;          // stopped by the Budget
  bool stuck = false;            // the planner proposed nothing runnable
  uint64_t decisions = 0;        // planner decisions (model algorithms)
  double decision_ms_total = 0;  // thread CPU time of those decisions
  double decision_ms_max = 0;
  // The revert check made after a single found culprit (--revert-check; model algorithms but
  // greedy), and its runs, which are not in the Lab's runs or cost.
  RevertCheckVerdict revert_check = RevertCheckVerdict::kNone;
  uint64_t revert_check_runs = 0;
  // The verify check made before it where that culprit is a root of the candidate DAG
  // (--verify-check; the same algorithms), and its runs, which are not in the Lab's runs or cost.
  // A FAIL clears culprit (the bisection names nobody) and no revert check follows.
  RevertCheckVerdict verify_check = RevertCheckVerdict::kNone;
  uint64_t verify_check_runs = 0;
};

}  // namespace flakebisect::bench
