#include "harness.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "baselines.h"
#include "lower_bound.h"
#include "model_bisect.h"

namespace flakebisect::bench {

namespace {

struct AlgorithmInfo {
  AlgorithmId id;
  std::string_view name;
};

constexpr AlgorithmInfo kAlgorithms[] = {
    {AlgorithmId::kOurs, "ours"},
    {AlgorithmId::kOursKnown, "ours-known"},
    {AlgorithmId::kOursTheta, "ours-theta"},
    {AlgorithmId::kGit, "git"},
    {AlgorithmId::kFixed10, "fixed10"},
    {AlgorithmId::kFixed20, "fixed20"},
    {AlgorithmId::kSyzkaller, "syzkaller"},
    {AlgorithmId::kGreedy, "greedy"},
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "flakebisect-bench: error: %s\n", message.c_str());
  std::exit(1);
}

Answer run_algorithm(AlgorithmId id, const CellSpec& cell, const HarnessOptions& options,
                     const CandidateDag& dag, const TrialTruth& truth, Lab& lab, bool trace) {
  switch (id) {
    case AlgorithmId::kGit:
      return git_bisect(dag, lab);
    case AlgorithmId::kFixed10:
      return fixed_n_bisect(dag, lab, 10);
    case AlgorithmId::kFixed20:
      return fixed_n_bisect(dag, lab, 20);
    case AlgorithmId::kSyzkaller:
      return syzkaller_bisect(dag, lab);
    case AlgorithmId::kOurs:
    case AlgorithmId::kOursKnown:
    case AlgorithmId::kOursTheta:
    case AlgorithmId::kGreedy:
      break;
  }
  ModelBisectOptions model;
  model.stop.confidence = options.confidence;
  model.model.rate_spread = options.rate_spread;
  model.model.min_rate_ratio = options.min_rate_ratio;
  // The engine's theta grid (engine::model_options).
  model.model.theta = model::theta_grid(config::DecisionConfig{}.theta_min, model::kThetaGridPoints,
                                        options.rate_spread);
  model.planner.cost = cell.cost();
  model.planner.noise_build_weight = options.noise_build_weight;
  model.planner.rare_build_weight = options.rare_build_weight;
  model.batch_runs = cell.boot_variant;
  model.revert_check = options.revert_check && makes_revert_check(id);
  model.revert_check_max_runs = options.revert_check_max_runs;
  model.verify_check = options.verify_check && makes_revert_check(id);
  model.verify_check_max_runs = options.verify_check_max_runs;
  if (trace) {
    model.trace = stderr;
    model.trace_name = algorithm_name(id);
  }
  if (id == AlgorithmId::kOursKnown || id == AlgorithmId::kOursTheta) {
    // Told the truth about theta, and so also how much it varies between commits: the cell's
    // jitter (0 in a one-rate cell, where a spread would only hide that theta = 1 never passes).
    model.model.theta = model::RateGrid::point(truth.theta);
    model.model.rate_spread = cell.theta_jitter;
  }
  if (id == AlgorithmId::kOursKnown) {
    model.model.eps = model::RateGrid::point(truth.eps);
    model.model.min_rate_ratio = 1;  // the truth may be closer than a ratio would allow
    // Told eps > 0, P(eps > 0) is 1 and the charge is the whole median: 3-4% more cost at theta
    // 0.05-0.1 eps 0.005 (docs/benchmark.md). The reference stays the planner without it.
    model.planner.noise_build_weight = 0;
    // The reference stays the planner without the rare-signal charge too.
    model.planner.rare_build_weight = 0;
  }
  if (id == AlgorithmId::kGreedy) {
    model.planner.cost.build = 0;
    model.planner.noise_build_weight = 0;
    model.planner.rare_build_weight = 0;
    model.planner.run_counts = {1};
    model.batch_runs = false;
  }
  return model_bisect(dag, lab, model);
}

}  // namespace

std::string_view algorithm_name(AlgorithmId id) {
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (info.id == id) {
      return info.name;
    }
  }
  return "?";
}

bool makes_revert_check(AlgorithmId id) {
  return id == AlgorithmId::kOurs || id == AlgorithmId::kOursKnown || id == AlgorithmId::kOursTheta;
}

std::optional<AlgorithmId> parse_algorithm(std::string_view name) {
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (info.name == name) {
      return info.id;
    }
  }
  return std::nullopt;
}

const std::vector<AlgorithmId>& all_algorithms() {
  static const std::vector<AlgorithmId> all = [] {
    std::vector<AlgorithmId> ids;
    for (const AlgorithmInfo& info : kAlgorithms) {
      ids.push_back(info.id);
    }
    return ids;
  }();
  return all;
}

CellResult run_cell(const CellSpec& cell, const HarnessOptions& options) {
  const auto wall_start = std::chrono::steady_clock::now();
  CellResult result;
  result.cell = cell;
  result.algorithms = options.algorithms;
  result.revert_check = options.revert_check;
  result.verify_check = options.verify_check;
  result.records.assign(options.algorithms.size(), std::vector<TrialRecord>(cell.trials));

  // A linear history does not depend on the trial: build its DAG (and non-merge list) once.
  std::unique_ptr<const CandidateDag> shared_dag;
  std::vector<CommitIndex> shared_non_merge;
  if (cell.history == HistoryKind::kLinear) {
    shared_dag = std::make_unique<const CandidateDag>(CandidateDag::linear(cell.n));
    shared_non_merge = non_merge_commits(linear_parents(cell.n));
  }

  std::atomic<uint32_t> next_trial{0};
  auto worker = [&] {
    for (uint32_t t = next_trial++; t < cell.trials; t = next_trial++) {
      std::unique_ptr<const CandidateDag> own_dag;
      std::vector<CommitIndex> own_non_merge;
      if (!shared_dag) {
        Parents parents = trial_history(cell, options.seed, t);
        own_non_merge = non_merge_commits(parents);
        auto created = CandidateDag::create(std::move(parents));
        if (!created) {
          die("generated history is not a valid candidate DAG: " + created.error().message());
        }
        own_dag = std::make_unique<const CandidateDag>(std::move(created).value());
      }
      const CandidateDag& dag = shared_dag ? *shared_dag : *own_dag;
      const std::vector<CommitIndex>& non_merge = shared_dag ? shared_non_merge : own_non_merge;
      const TrialTruth truth = draw_truth(cell, dag, non_merge, options.seed, t);

      // The budget cap keeps its definition over all n commits, so that trials stop where they
      // always did; the reported bound counts the commits the culprit is drawn from (a merge is
      // never the culprit), and confirming the culprit's parent only where it has one in the range
      // (a root's parent is the known-good commit). A trial whose good end is bad keeps the bounds
      // of its drawn culprit: simple, and the same trials keep the same numbers at any P.
      const double cap_bound = runs_lower_bound(cell.n, truth.theta, truth.eps, options.confidence);
      const double bound = runs_lower_bound(static_cast<uint32_t>(non_merge.size()), truth.theta,
                                            truth.eps, options.confidence);
      const double confirmation =
          dag.parents(truth.culprit).empty()
              ? 0.0
              : parent_confirmation_runs(truth.theta, truth.eps, options.confidence);
      Budget budget;
      budget.max_runs = static_cast<uint64_t>(options.cap_factor * cap_bound + options.cap_offset);
      if (options.max_cost > 0) {
        budget.max_cost = options.max_cost;
      }

      for (size_t a = 0; a < options.algorithms.size(); ++a) {
        Lab lab(dag, truth, cell.cost(), budget);
        TrialRecord& record = result.records[a][t];
        record.answer = run_algorithm(options.algorithms[a], cell, options, dag, truth, lab,
                                      options.trace_trial == t);
        record.culprit = truth.culprit;
        record.theta = truth.theta;
        record.good_end_bad = truth.good_end_bad;
        const std::vector<CommitIndex>& set = record.answer.set;
        if (truth.good_end_bad) {
          // No commit in the range brought the bug: only an answer naming nobody is right.
          record.correct = !record.answer.culprit && set.empty();
        } else {
          record.correct = record.answer.culprit == truth.culprit ||
                           std::find(set.begin(), set.end(), truth.culprit) != set.end();
        }
        record.runs = lab.runs();
        record.builds = lab.builds();
        record.cost = lab.cost();
        record.where = lab.runs_where();
        record.runs_lower_bound = bound;
        record.runs_confirm_bound = bound + confirmation;
      }
    }
  };
  const unsigned threads = std::max(1U, std::min(options.threads, cell.trials));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) {
    pool.emplace_back(worker);
  }
  worker();
  for (std::thread& thread : pool) {
    thread.join();
  }

  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

}  // namespace flakebisect::bench
