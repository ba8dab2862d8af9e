// Per-(cell, algorithm) metrics of benchmark.md, and their two renderings: an aligned text table
// grouped by cell, and one JSON object per line.
//
// Definitions (over the cell's trials):
//   accuracy            fraction of trials whose answer is the true culprit ("not reproduced" and
//                       no answer count as wrong); Wilson 95% interval in accuracy_lo/hi
//   confidence_mean     mean confidence the algorithm claimed (1 for the classic baselines)
//   calibration         confidence_mean - accuracy: > 0 claims more than it delivers
//   runs_mean/p90       reproducer runs, infra runs included (p90: nearest rank)
//   runs_lower_bound    mean over trials of the runs lower bound (lower_bound.h) for the trial's
//                       theta and its number of possible culprits (the non-merge commits);
//                       runs_over_bound = runs_mean / runs_lower_bound
//   runs_confirm_bound  the same plus the runs that confirming the culprit's parent needs
//                       (parent_confirmation_runs; 0 for a culprit with no parent in the range);
//                       runs_over_confirm_bound = runs_mean / it
//   runs_at             runs_mean split by what the tested commit is to the truth (RunsWhere):
//                       culprit, its parents, the bad tip, other bad commits, good commits
//   builds_mean/max     distinct commits whose build was attempted (failed builds included)
//   cost_mean           build 10 per commit + runs (+ boots in the boot variant)
//   cost_ratio_fixed20  cost_mean / fixed20's cost_mean in the same cell (NaN if fixed20 not run)
//   same_as_git         fraction of trials with the same answer as git bisect (NaN if git not run)
//   cap_hits            trials stopped by the budget cap; stuck: the planner proposed nothing
//                       usable
//   not_reproduced      trials that ended with "not reproduced"
//   set_answers         trials answered with a set no test could split (scored by membership)
//   ms_per_step         model algorithms: mean thread CPU ms per decision (record + stop + plan);
//                       ms_per_step_max the largest single decision; 0 for the baselines
//   revert_check        only with --revert-check, for ours, ours-known and ours-theta: checks =
//                       trials that ended with one found culprit, and so ran KernelCI's revert
//                       check; their verdicts (PASS: the revert fixes it, FAIL: it still fails,
//                       inconclusive: the cap of runs) among right and among wrong answers; the
//                       check's runs per check, mean and p90 (nearest rank). These runs are in
//                       none of the columns above (runs, cost, runs_at): the search is measured
//                       as without the check
//   verify_check        only with --verify-check, for the same algorithms: checks = trials that
//                       ended with one found culprit that is a root of the candidate DAG, and so
//                       ran the verify check (its parent is the user's good end); none = the
//                       other trials; the verdicts (PASS: the good end behaves as good, FAIL: as
//                       bad, which clears the answer, inconclusive: the cap), also among the
//                       trials whose good end was in fact bad; runs per check, mean and p90.
//                       Counted apart like the revert check's
//   stale_good          only with --stale-good P > 0: the trials whose good end was bad, and how
//                       many of them still named a culprit (a commit or a set). Those trials count
//                       as right in accuracy only when nobody is named; their claimed confidence
//                       is what the algorithm claimed for its answer; the bounds and runs_at are
//                       as for any trial (runs_at: the tip, and every other commit as bad)
//
// Thread rules: pure functions; printing writes to the given FILE*.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace flakebisect::bench {

// KernelCI's revert check over a cell's trials (the `revert_check` definition above).
struct RevertCheckMetrics {
  uint32_t checks = 0;
  // Verdicts where the named culprit is the true one, and where it is not.
  uint32_t right_pass = 0;
  uint32_t right_fail = 0;
  uint32_t right_inconclusive = 0;
  uint32_t wrong_pass = 0;
  uint32_t wrong_fail = 0;
  uint32_t wrong_inconclusive = 0;
  double runs_mean = 0;  // the check's runs, over the checks (0 when none)
  double runs_p90 = 0;
};

// The verify check over a cell's trials (the `verify_check` definition above).
struct VerifyCheckMetrics {
  uint32_t checks = 0;
  uint32_t none = 0;  // trials without a check
  uint32_t pass = 0;
  uint32_t fail = 0;
  uint32_t inconclusive = 0;
  // The verdicts of the checks whose good end was in fact bad (--stale-good).
  uint32_t stale_pass = 0;
  uint32_t stale_fail = 0;
  uint32_t stale_inconclusive = 0;
  double runs_mean = 0;  // the check's runs, over the checks (0 when none)
  double runs_p90 = 0;
};

// The trials whose good end was bad (the `stale_good` definition above).
struct StaleGoodMetrics {
  uint32_t trials = 0;
  uint32_t named = 0;  // of them, those that named a culprit or a set (wrong answers)
};

struct AlgorithmMetrics {
  AlgorithmId algorithm;
  uint32_t trials = 0;
  double accuracy = 0;
  double accuracy_lo = 0;
  double accuracy_hi = 0;
  double confidence_mean = 0;
  double calibration = 0;
  double runs_mean = 0;
  double runs_p90 = 0;
  double runs_lower_bound = 0;
  double runs_over_bound = 0;
  double runs_confirm_bound = 0;
  double runs_over_confirm_bound = 0;
  // Mean runs per trial at the culprit, its parents, the bad tip, other bad and good commits.
  double runs_at_culprit = 0;
  double runs_at_parent = 0;
  double runs_at_tip = 0;
  double runs_at_bad = 0;
  double runs_at_good = 0;
  double builds_mean = 0;
  uint64_t builds_max = 0;
  double cost_mean = 0;
  double cost_ratio_fixed20 = 0;
  double same_as_git = 0;
  uint32_t cap_hits = 0;
  uint32_t stuck = 0;
  uint32_t not_reproduced = 0;
  uint32_t set_answers = 0;  // trials answered with a set of commits (scored by membership)
  double ms_per_step = 0;
  double ms_per_step_max = 0;
  std::optional<RevertCheckMetrics> revert_check;  // with --revert-check, where it is made
  std::optional<VerifyCheckMetrics> verify_check;  // with --verify-check, where it is made
  std::optional<StaleGoodMetrics> stale_good;      // with --stale-good P > 0
};

// One entry per algorithm of the cell, in the cell's order.
std::vector<AlgorithmMetrics> compute_metrics(const CellResult& result);

// Writes the cell's block of the text table.
void print_table(std::FILE* out, const CellResult& result,
                 const std::vector<AlgorithmMetrics>& metrics, double confidence);

// Writes one JSON object per algorithm, one per line, with the options that shaped the models.
void print_json(std::FILE* out, const CellResult& result,
                const std::vector<AlgorithmMetrics>& metrics, const HarnessOptions& options);

// Writes one JSON object per (algorithm, trial), one per line: the raw material behind a cell.
void print_trials(std::FILE* out, const CellResult& result);

}  // namespace flakebisect::bench
