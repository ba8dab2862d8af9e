// Runs every selected algorithm on every trial of one cell, with common random numbers.
//
// For each trial the harness builds the trial's history and truth once and hands each algorithm a
// fresh Lab on them, so all algorithms face the same culprit and the same outcome streams. Trials
// are spread over worker threads (an atomic counter hands out trial indices); each result is stored
// at its trial index, so everything except the timing columns is identical for any thread count.
//
// Budget cap, the same for every algorithm: runs > 20 x the trial's runs lower bound + 200
// (benchmark's "budget cap"), or cost > max_cost when given.
//
// Thread rules: run_cell starts and joins its own threads; nothing is shared between calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "model/planner.h"
#include "simulator.h"

namespace flakebisect::bench {

enum class AlgorithmId {
  kOurs,       // Posterior + Planner + evaluate_stop, theta and eps unknown
  kOursKnown,  // the same told the true theta and eps (oracle reference for "rate known")
  kOursTheta,  // the same told the true theta only (eps unknown): what learning theta costs
  kGit,        // git bisect, one run per commit
  kFixed10,    // good after 10 passes, first fail = bad
  kFixed20,    // good after 20 passes, first fail = bad
  kSyzkaller,  // syzkaller's 10/20-run rule
  kGreedy,     // Posterior + Planner with build cost 0 and one run per step
};

std::string_view algorithm_name(AlgorithmId id);
// The algorithms that make the revert check under --revert-check, and the verify check under
// --verify-check: ours, ours-known, ours-theta (the engine's loop; greedy and the classic rules
// are not).
bool makes_revert_check(AlgorithmId id);
std::optional<AlgorithmId> parse_algorithm(std::string_view name);
const std::vector<AlgorithmId>& all_algorithms();

struct HarnessOptions {
  uint64_t seed = 1;
  unsigned threads = 1;
  double confidence = 0.99;
  // The model algorithms' ModelOptions::rate_spread (how much they let theta vary per commit):
  // by default the engine's, decision.rate_spread.
  double rate_spread = config::DecisionConfig{}.rate_spread;
  // The planner's PlannerOptions::noise_build_weight (`--noise-build-weight`): by default the
  // engine's, decision.noise_build_weight. `ours-known`, told both rates, keeps 0.
  double noise_build_weight = config::DecisionConfig{}.noise_build_weight;
  // The planner's PlannerOptions::rare_build_weight (`--rare-build-weight`): by default the
  // engine's, decision.rare_build_weight. `ours-known`, told theta, keeps 0.
  double rare_build_weight = config::DecisionConfig{}.rare_build_weight;
  // The model algorithms' ModelOptions::min_rate_ratio (`--min-rate-ratio`): by default the
  // engine's, decision.min_rate_ratio. `ours-known`, told both rates, keeps 1.
  double min_rate_ratio = config::DecisionConfig{}.min_rate_ratio;
  double max_cost = 0;  // 0: no cost cap
  double cap_factor = 20;
  double cap_offset = 200;
  // KernelCI's revert check after a single found culprit (`--revert-check`,
  // `--revert-check-max-runs`): the engine's decision.revert_check, off by default as there.
  bool revert_check = false;
  uint32_t revert_check_max_runs = config::DecisionConfig{}.revert_check_max_runs;
  // The engine's verify check where the culprit found is a root of the candidate DAG
  // (`--verify-check`, `--verify-check-max-runs`): on by default in the engine, off here so that
  // the tables before it stay as they were.
  bool verify_check = false;
  uint32_t verify_check_max_runs = config::DecisionConfig{}.verify_check_max_runs;
  std::vector<AlgorithmId> algorithms;
  // Model algorithms print every decision of this trial to stderr (none: no trace).
  std::optional<uint64_t> trace_trial;
};

// One algorithm's trial, as scored by the harness.
struct TrialRecord {
  Answer answer;
  CommitIndex culprit = 0;  // the truth
  double theta = 0;         // the truth's nominal theta (drawn per trial in the mixture)
  // The good end is bad (TrialTruth::good_end_bad): correct then means that nobody was named.
  bool good_end_bad = false;
  bool correct = false;
  uint64_t runs = 0;
  uint64_t builds = 0;
  double cost = 0;
  RunsWhere where;                // the runs above, by what each tested commit is to the truth
  // For this trial's theta (differs per trial in the mixture) and its number of possible culprits
  // (the non-merge commits; differs per trial on DAGs).
  double runs_lower_bound = 0;
  // runs_lower_bound + parent_confirmation_runs, the latter only where the culprit has a parent in
  // the range.
  double runs_confirm_bound = 0;
};

struct CellResult {
  CellSpec cell;
  std::vector<AlgorithmId> algorithms;
  std::vector<std::vector<TrialRecord>> records;  // [algorithm][trial]
  bool revert_check = false;                      // HarnessOptions::revert_check
  bool verify_check = false;                      // HarnessOptions::verify_check
  double wall_seconds = 0;
};

CellResult run_cell(const CellSpec& cell, const HarnessOptions& options);

}  // namespace flakebisect::bench
