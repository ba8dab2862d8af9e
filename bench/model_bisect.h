// The model-driven algorithms: flakebisect's own loop ("ours") and greedy information gain per run.
//
// Loop, as the engine runs it: evaluate_stop -> plan -> build the planned commit if it is not built
// (an unbuildable commit is marked skipped and the loop re-plans) -> run -> record -> repeat. With
// batch_runs = false the planned runs are executed one at a time and the loop re-plans after each
// (the planner's batch size only shapes its score); with batch_runs = true (the boot variant, where
// a batch shares one boot) the whole planned batch runs before re-planning. Infra runs are not
// recorded. The loop ends when evaluate_stop says found or not reproduced, when the Lab's budget is
// spent (cap hit), or when the planner proposes nothing runnable (reported as stuck).
// Answer: posterior.most_likely() with confidence posterior.max_probability(); "not reproduced"
// gives no culprit, with the stop rule's confidence as the claim. When the stop rule ends on a set
// (kFoundSet: skipped commits no test can split), or the planner finds nothing left that can split
// the mass (Step::exhausted, where the engine stops as inconclusive), the answer is the credible
// set, claiming its mass, and is scored by membership.
//
// With revert_check set, a search that ends with one found culprit (not a set, the cap, stuck or
// "not reproduced") then runs KernelCI's revert check as the engine does (model/revert_check.h):
// Lab::run_revert one run at a time, re-evaluated after each by model::evaluate_revert on the same
// posterior at the search's threshold, until PASS (fixed), FAIL (still bad) or
// revert_check_max_runs runs (inconclusive). The engine batches these runs
// (revert_runs_to_decide); here, without costs per batch, one at a time gives the same verdict and
// the fewest runs.
//
// With verify_check set, the same search, where its culprit is a root of the candidate DAG (its
// parent is the user's good end, which the search never ran), first runs the engine's verify
// check: Lab::run_good_end one run at a time, re-evaluated after each by model::evaluate_revert
// with "fixed" read as "the good end is good" and, for FAIL, a prior of 0.9 that it is
// (model::kGoodEndPrior, the engine's too), until PASS, FAIL or verify_check_max_runs runs
// (inconclusive). A FAIL ends the bisection as the engine does, inconclusive: no culprit, no revert
// check, and the claim is P(the good end is bad). Otherwise the revert check follows as above.
//
// Decision time is the thread CPU time of record + evaluate_stop + plan per decision (the posterior
// updates lazily inside the first query after a record), so it is not inflated when the benchmark
// runs more threads than cores.
//
// Thread rules: pure function of its arguments; the Lab is the caller's.
#pragma once

#include <cstdio>
#include <string_view>

#include "model/planner.h"
#include "model/posterior.h"
#include "model/stop_rule.h"
#include "simulator.h"

namespace flakebisect::bench {

struct ModelBisectOptions {
  model::ModelOptions model;
  model::PlannerOptions planner;
  model::StopOptions stop;
  bool batch_runs = false;
  bool revert_check = false;
  uint32_t revert_check_max_runs = 1000;  // every run at the revert counts
  bool verify_check = false;
  uint32_t verify_check_max_runs = 1000;  // every run at the good end counts
  // When set, one line per decision is written here (for debugging the model; slow at large n).
  std::FILE* trace = nullptr;
  std::string_view trace_name;  // prefixes each trace line
};

Answer model_bisect(const CandidateDag& dag, Lab& lab, const ModelBisectOptions& options);

}  // namespace flakebisect::bench
