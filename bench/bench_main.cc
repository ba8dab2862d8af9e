// flakebisect-bench: the decision benchmark of docs/benchmark.md. Simulates flaky bisections with a
// known culprit and prints, per cell, our model beside the classic rules. See bench/README.md.
//
// Results go to stdout (a table, or JSON lines with --json); progress and errors go to stderr.
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "harness.h"
#include "history.h"
#include "lower_bound.h"
#include "metrics.h"
#include "rng.h"
#include "scenario.h"
#include "simulator.h"
#include "stats.h"

namespace flakebisect::bench {
namespace {

constexpr std::string_view kUsage = R"(usage: flakebisect-bench [options]

Simulated flaky bisections: our model beside git bisect, fixed-N, syzkaller and greedy.
Default: every scenario (the headline grid with 2000 trials per cell, then the extras).

  --quick              short smoke grid: n {100,1000}, theta {0.1,0.3,1}, eps 0, both histories,
                       100 trials, all algorithms but greedy (same as --scenario quick)
  --scenario LIST      comma-separated: all, quick, headline, small, large, noisy, rare, mixture,
                       faults, misspecified, boot (default: all; headline when --n, --theta,
                       --eps or --history is given)
  --trials N           trials per cell (overrides every scenario's default)
  --n LIST             candidate counts, e.g. 100,1000
  --theta LIST         failure rates of a bad commit, e.g. 0.05,0.1
  --jitter J           per-commit theta jitter: bad commit x fails at theta * exp(J z_x), z_x
                       standard normal (overrides the scenario's; misspecified uses 0.5)
  --build-cost B       what building a commit costs, in runs (default 10, as benchmark.md
                       specifies): charged by the simulator and told to the planner, as the
                       engine learns it (decision.learn_costs); the boot variant keeps it
  --eps LIST           failure rates of a good commit, e.g. 0,0.005
  --history KIND       linear | dag | both
  --algorithms LIST    comma-separated: ours, ours-known, git, fixed10, fixed20, syzkaller, greedy,
                       ours-theta (told theta only; not in the default list)
                       (default: all but ours-theta; --quick also leaves out greedy)
  --confidence P       requested confidence of the model algorithms (default 0.99)
  --rate-spread S      per-commit spread of theta the model algorithms allow for: the sd of
                       log(rate / theta) (default: the engine's, decision.rate_spread)
  --noise-build-weight W
                       the planner's noise_build_weight: a new build costs at least W x the
                       median runs at a built commit x P(eps > 0) (default: the engine's,
                       decision.noise_build_weight, 1; ours-known keeps 0; greedy ignores builds)
  --rare-build-weight W
                       the planner's rare_build_weight: a new build costs at least W x E[1/theta],
                       the runs a bad commit takes on average to fail once (default: the engine's,
                       decision.rare_build_weight, 0; ours-known keeps 0; greedy ignores builds)
  --min-rate-ratio R   the model's min_rate_ratio: it gives no prior mass to a bad commit that
                       fails less than R times as often as a good one (default: the engine's,
                       decision.min_rate_ratio; ours-known keeps 1)
  --max-cost C         additional budget cap on cost per trial (default: none)
  --revert-check       after a single found culprit, ours, ours-known and ours-theta run
                       KernelCI's revert check (the engine's decision.revert_check): the bad tip
                       with the culprit reverted, until the posterior says PASS or FAIL; its runs
                       are counted apart, not in runs or cost (one more line per algorithm in
                       the table, "revert_check" in --json)
  --revert-check-max-runs N
                       the check's cap of runs, then inconclusive (default: the engine's
                       decision.revert_check_max_runs, 1000)
  --verify-check       the same algorithms run the engine's verify check (decision.verify_check)
                       after a single found culprit that is a root of the candidate DAG: the
                       user's good end, its parent, until the posterior says PASS (it is good) or
                       FAIL (it is bad: no culprit is named); its runs are counted apart (one more
                       line per algorithm in the table, "verify_check" in --json)
  --verify-check-max-runs N
                       the verify check's cap of runs, then inconclusive (default: the engine's
                       decision.verify_check_max_runs, 1000)
  --stale-good P       in each trial with probability P (the same trials for every algorithm), the
                       user's good end is in fact bad: every candidate and the good end fail as
                       bad commits, and only an answer naming no culprit is right (default 0)
  --threads N          worker threads (default: number of CPUs); results do not depend on it
  --seed S             master seed (default 1)
  --json               one JSON object per (cell, algorithm) per line instead of the table
  --per-trial          also print one JSON line per (algorithm, trial) to stderr
  --trace              print every decision of the model algorithms in trial 0 to stderr
  --trace-trial T      the same for trial T (0-based, as --per-trial numbers them; a cell with
                       T or fewer trials prints no trace)
  --selftest           check the lower bounds, statistics, histories and determinism, then exit
  -h, --help           this text
)";

[[noreturn]] void usage_error(const std::string& message) {
  fmt::print(stderr, "flakebisect-bench: error: {}\n(see --help)\n", message);
  std::exit(2);
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    if (end > start) {
      out.emplace_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return out;
}

double parse_double(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') {
    usage_error(fmt::format("{}: not a number: '{}'", flag, text));
  }
  return value;
}

uint64_t parse_uint(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || text[0] == '-') {
    usage_error(fmt::format("{}: not a non-negative integer: '{}'", flag, text));
  }
  return value;
}

struct Options {
  std::vector<std::string> scenarios = {"all"};
  GridOverrides overrides;
  HarnessOptions harness;
  bool json = false;
  bool selftest = false;
  bool algorithms_given = false;
  bool scenario_given = false;
  bool per_trial = false;
};

Options parse_args(int argc, char** argv) {
  Options options;
  options.harness.threads = std::max(1U, std::thread::hardware_concurrency());
  options.harness.algorithms = all_algorithms();
  // ours-theta only answers "what does learning theta cost", on request.
  std::erase(options.harness.algorithms, AlgorithmId::kOursTheta);
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (const size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) {
        return *inline_value;
      }
      if (i + 1 >= args.size()) {
        usage_error(flag + " needs a value");
      }
      return args[++i];
    };
    if (flag == "-h" || flag == "--help") {
      fmt::print("{}", kUsage);
      std::exit(0);
    } else if (flag == "--quick") {
      options.scenarios = {"quick"};
      options.scenario_given = true;
    } else if (flag == "--scenario") {
      options.scenarios = split(value());
      options.scenario_given = true;
    } else if (flag == "--trials") {
      const uint64_t trials = parse_uint(flag, value());
      if (trials == 0 || trials > 10'000'000) {
        usage_error("--trials must be in 1..10000000");
      }
      options.overrides.trials = static_cast<uint32_t>(trials);
    } else if (flag == "--n") {
      std::vector<uint32_t> ns;
      for (const std::string& item : split(value())) {
        const uint64_t n = parse_uint(flag, item);
        if (n < 2 || n > 100'000) {
          usage_error("--n values must be in 2..100000");
        }
        ns.push_back(static_cast<uint32_t>(n));
      }
      options.overrides.n = ns;
    } else if (flag == "--theta") {
      std::vector<double> thetas;
      for (const std::string& item : split(value())) {
        const double theta = parse_double(flag, item);
        if (!(theta > 0 && theta <= 1)) {
          usage_error("--theta values must be in (0, 1]");
        }
        thetas.push_back(theta);
      }
      options.overrides.theta = thetas;
    } else if (flag == "--jitter") {
      const double jitter = parse_double(flag, value());
      if (!(jitter >= 0 && jitter <= 2)) {
        usage_error("--jitter must be in [0, 2]");
      }
      options.overrides.theta_jitter = jitter;
    } else if (flag == "--build-cost") {
      const double cost = parse_double(flag, value());
      if (!(cost >= 0 && cost <= 10000)) {
        usage_error("--build-cost must be in [0, 10000]");
      }
      options.overrides.build_cost = cost + 0.0;  // -0 is 0
    } else if (flag == "--eps") {
      std::vector<double> epss;
      for (const std::string& item : split(value())) {
        const double eps = parse_double(flag, item);
        if (!(eps >= 0 && eps < 1)) {
          usage_error("--eps values must be in [0, 1)");
        }
        epss.push_back(eps);
      }
      options.overrides.eps = epss;
    } else if (flag == "--history") {
      const std::string kind = value();
      if (kind == "linear") {
        options.overrides.histories = {{HistoryKind::kLinear}};
      } else if (kind == "dag") {
        options.overrides.histories = {{HistoryKind::kDag}};
      } else if (kind == "both") {
        options.overrides.histories = {{HistoryKind::kLinear, HistoryKind::kDag}};
      } else {
        usage_error("--history must be linear, dag or both");
      }
    } else if (flag == "--algorithms") {
      options.harness.algorithms.clear();
      options.algorithms_given = true;
      for (const std::string& name : split(value())) {
        const std::optional<AlgorithmId> id = parse_algorithm(name);
        if (!id) {
          usage_error(fmt::format("unknown algorithm '{}'", name));
        }
        options.harness.algorithms.push_back(*id);
      }
      if (options.harness.algorithms.empty()) {
        usage_error("--algorithms is empty");
      }
    } else if (flag == "--confidence") {
      const double p = parse_double(flag, value());
      if (!(p > 0.5 && p < 1)) {
        usage_error("--confidence must be in (0.5, 1)");
      }
      options.harness.confidence = p;
    } else if (flag == "--rate-spread") {
      const double spread = parse_double(flag, value());
      if (!(spread >= 0 && spread <= 2)) {
        usage_error("--rate-spread must be in [0, 2]");
      }
      options.harness.rate_spread = spread;
    } else if (flag == "--noise-build-weight") {
      const double weight = parse_double(flag, value());
      if (!(weight >= 0 && weight <= 100)) {
        usage_error("--noise-build-weight must be in [0, 100]");
      }
      options.harness.noise_build_weight = weight;
    } else if (flag == "--rare-build-weight") {
      const double weight = parse_double(flag, value());
      if (!(weight >= 0 && weight <= 100)) {
        usage_error("--rare-build-weight must be in [0, 100]");
      }
      options.harness.rare_build_weight = weight;
    } else if (flag == "--min-rate-ratio") {
      const double ratio = parse_double(flag, value());
      if (!(ratio >= 1 && ratio <= 100)) {
        usage_error("--min-rate-ratio must be in [1, 100]");
      }
      options.harness.min_rate_ratio = ratio;
    } else if (flag == "--max-cost") {
      const double cost = parse_double(flag, value());
      if (!(cost > 0)) {
        usage_error("--max-cost must be positive");
      }
      options.harness.max_cost = cost;
    } else if (flag == "--revert-check") {
      options.harness.revert_check = true;
    } else if (flag == "--revert-check-max-runs") {
      const uint64_t runs = parse_uint(flag, value());
      if (runs == 0 || runs > 1'000'000) {
        usage_error("--revert-check-max-runs must be in 1..1000000");
      }
      options.harness.revert_check_max_runs = static_cast<uint32_t>(runs);
    } else if (flag == "--verify-check") {
      options.harness.verify_check = true;
    } else if (flag == "--verify-check-max-runs") {
      const uint64_t runs = parse_uint(flag, value());
      if (runs == 0 || runs > 1'000'000) {
        usage_error("--verify-check-max-runs must be in 1..1000000");
      }
      options.harness.verify_check_max_runs = static_cast<uint32_t>(runs);
    } else if (flag == "--stale-good") {
      const double p = parse_double(flag, value());
      if (!(p >= 0 && p <= 1)) {
        usage_error("--stale-good must be in [0, 1]");
      }
      options.overrides.stale_good = p + 0.0;  // -0 is 0
    } else if (flag == "--threads") {
      const uint64_t threads = parse_uint(flag, value());
      if (threads == 0 || threads > 1024) {
        usage_error("--threads must be in 1..1024");
      }
      options.harness.threads = static_cast<unsigned>(threads);
    } else if (flag == "--seed") {
      options.harness.seed = parse_uint(flag, value());
    } else if (flag == "--json") {
      options.json = true;
    } else if (flag == "--per-trial") {
      options.per_trial = true;
    } else if (flag == "--trace") {
      options.harness.trace_trial = 0;
    } else if (flag == "--trace-trial") {
      options.harness.trace_trial = parse_uint(flag, value());
    } else if (flag == "--selftest") {
      options.selftest = true;
    } else {
      usage_error(fmt::format("unknown option '{}'", args[i]));
    }
  }
  // A grid given without a scenario means "these cells", not every scenario with them substituted.
  const GridOverrides& grid = options.overrides;
  if (!options.scenario_given && (grid.n || grid.theta || grid.eps || grid.histories)) {
    options.scenarios = {"headline"};
  }
  // --quick has to stay under two minutes on two cores: leave out greedy, the slowest baseline (it
  // builds ~5x more commits, so each of its decisions scores more of them), unless asked for.
  if (!options.algorithms_given && options.scenarios == std::vector<std::string>{"quick"}) {
    std::erase(options.harness.algorithms, AlgorithmId::kGreedy);
  }
  return options;
}

// --selftest: checks that need no model beyond CandidateDag. Returns the number of failures.
int selftest() {
  int failures = 0;
  auto check = [&failures](bool ok, const std::string& what) {
    fmt::print(stderr, "{} {}\n", ok ? "ok  " : "FAIL", what);
    if (!ok) {
      ++failures;
    }
  };
  const std::string bounds = check_lower_bounds();
  check(bounds.empty(), "lower bounds match benchmark.md (363/178/55/30) and numeric capacity" +
                            (bounds.empty() ? "" : ": " + bounds));

  const Interval ci = wilson_interval(95, 100);
  check(std::abs(ci.low - 0.8882) < 1e-3 && std::abs(ci.high - 0.9785) < 1e-3,
        fmt::format("wilson(95/100) = [{:.4f}, {:.4f}] (expected [0.8882, 0.9785])", ci.low,
                    ci.high));
  check(percentile({5, 1, 4, 2, 3}, 0.9) == 5 && percentile({5, 1, 4, 2, 3}, 0.2) == 1,
        "nearest-rank percentile");

  // Counter-based randomness: values are a function of the key only.
  check(keyed_uniform({1, 2, 3}) == keyed_uniform({1, 2, 3}) &&
            keyed_uniform({1, 2, 3}) != keyed_uniform({1, 3, 2}),
        "keyed uniforms depend on the key and its order only");
  {
    RandomStream rng(42);
    double sum = 0;
    const int draws = 200000;
    for (int i = 0; i < draws; ++i) {
      sum += static_cast<double>(rng.geometric(15));
    }
    check(std::abs(sum / draws - 15) < 0.3, fmt::format("geometric mean {:.2f} ~ 15", sum / draws));
  }

  // Kernel-like histories are valid candidate DAGs with about 1 merge in 14 commits.
  for (uint32_t n : {2U, 3U, 16U, 100U, 1000U, 13000U}) {
    uint64_t merges = 0, commits = 0, roots = 0;
    bool valid = true;
    std::string error;
    for (uint64_t seed = 0; seed < (n >= 13000 ? 2 : 30); ++seed) {
      const Parents parents = kernel_parents(n, seed);
      valid = valid && parents.size() == n;
      for (const auto& p : parents) {
        merges += p.size() > 1 ? 1 : 0;
        roots += p.empty() ? 1 : 0;
      }
      commits += n;
      auto dag = CandidateDag::create(parents);
      if (!dag) {
        valid = false;
        error = dag.error().message();
      }
    }
    check(valid, fmt::format("kernel history n={} is a valid candidate DAG{}", n,
                             error.empty() ? "" : ": " + error));
    if (n >= 1000) {
      const double merge_share = static_cast<double>(merges) / static_cast<double>(commits);
      check(
          merge_share > 0.04 && merge_share < 0.11,
          fmt::format("kernel history n={}: {:.3f} merges per commit, {:.1f} roots per history", n,
                      merge_share, static_cast<double>(roots) * n / static_cast<double>(commits)));
    }
  }

  // Runs are classified by what the tested commit is to the truth, through a merge.
  {
    // 0 <- 1 <- 4 (merge of 1 and 3) <- 5 <- 6 (tip), and a branch 0 <- 2 <- 3; the culprit is 3.
    auto dag = CandidateDag::create({{}, {0}, {0}, {2}, {1, 3}, {4}, {5}});
    bool ok = dag.has_value();
    RunsWhere where;
    uint64_t runs = 0;
    if (dag) {
      TrialTruth truth;
      truth.culprit = 3;
      truth.theta = 0.5;
      Lab lab(*dag, truth, model::CostModel{}, Budget{});
      // (commit, runs): culprit 2, parent 3, tip 1, bad 4 + 1, good 2 + 3.
      for (const auto& [commit, count] : std::vector<std::pair<CommitIndex, int>>{
               {3, 2}, {2, 3}, {6, 1}, {4, 4}, {5, 1}, {0, 2}, {1, 3}}) {
        lab.build(commit);
        for (int i = 0; i < count; ++i) {
          lab.run(commit);
        }
      }
      where = lab.runs_where();
      runs = lab.runs();
    }
    ok = ok && where.culprit == 2 && where.parent == 3 && where.tip == 1 && where.bad == 5 &&
         where.good == 5 && runs == 16;
    check(ok, fmt::format("runs by class: culprit {} parent {} tip {} bad {} good {} (expected "
                          "2 3 1 5 5)",
                          where.culprit, where.parent, where.tip, where.bad, where.good));
  }

  // The revert check's runs: the tip without the true culprit fails at eps, without any other
  // commit at the tip's rate; they are not the search's runs or cost.
  {
    auto dag = CandidateDag::create({{}, {0}, {0}, {2}, {1, 3}, {4}, {5}});
    bool ok = dag.has_value();
    if (dag) {
      TrialTruth truth;
      truth.culprit = 3;
      truth.theta = 1;
      Lab lab(*dag, truth, model::CostModel{}, Budget{});
      for (int i = 0; i < 20; ++i) {
        ok = ok && lab.run_revert(3) == RunOutcome::kPass &&
             lab.run_revert(2) == RunOutcome::kFail && lab.run_revert(4) == RunOutcome::kFail;
      }
      ok = ok && lab.runs() == 0 && lab.cost() == 0 && lab.revert_runs() == 60;
    }
    check(ok,
          "revert runs: the true culprit's revert passes at eps 0, any other's fails at theta 1, "
          "and none is in the Lab's runs or cost");
  }
  // --revert-check adds the check and changes nothing else: the same answers, runs, builds and
  // costs; a verdict exactly where ours or ours-known named one culprit, none for the baselines.
  {
    CellSpec cell;
    cell.scenario = "selftest";
    cell.history = HistoryKind::kDag;
    cell.n = 40;
    cell.theta = 0.3;
    cell.eps = 0.005;
    cell.faults.unbuildable = 0.05;
    cell.trials = 12;
    HarnessOptions harness;
    harness.algorithms = {AlgorithmId::kOurs, AlgorithmId::kOursKnown, AlgorithmId::kFixed10};
    harness.threads = 1;
    const CellResult without = run_cell(cell, harness);
    harness.revert_check = true;
    harness.revert_check_max_runs = 40;
    const CellResult with = run_cell(cell, harness);
    bool same = true;
    bool verdicts = true;
    uint64_t checks = 0;
    for (size_t a = 0; a < with.records.size(); ++a) {
      for (size_t t = 0; t < cell.trials; ++t) {
        const TrialRecord& x = without.records[a][t];
        const TrialRecord& y = with.records[a][t];
        same = same && x.answer.culprit == y.answer.culprit && x.answer.set == y.answer.set &&
               x.runs == y.runs && x.builds == y.builds && x.cost == y.cost &&
               x.answer.revert_check == RevertCheckVerdict::kNone;
        const Answer& answer = y.answer;
        const bool single = answer.culprit && answer.set.empty() && !answer.cap_hit &&
                            !answer.stuck && !answer.not_reproduced;
        const bool checked = answer.revert_check != RevertCheckVerdict::kNone;
        verdicts = verdicts && checked == (single && a < 2) &&
                   answer.revert_check_runs <= harness.revert_check_max_runs &&
                   (answer.revert_check != RevertCheckVerdict::kInconclusive ||
                    answer.revert_check_runs == harness.revert_check_max_runs);
        checks += checked ? 1 : 0;
      }
    }
    check(same, "--revert-check leaves answers, runs, builds and costs as they were");
    check(verdicts && checks > 0,
          fmt::format("--revert-check: a verdict for each single found culprit of ours and "
                      "ours-known ({} checks), none for fixed10, within the cap",
                      checks));
  }

  // The good end's runs: at eps, or at theta where it is bad (never a commit's jittered rate);
  // they are not the search's runs or cost.
  {
    auto dag = CandidateDag::create({{}, {0}, {1}});
    bool ok = dag.has_value();
    double rates[2] = {0, 0};
    if (dag) {
      for (const bool bad : {false, true}) {
        TrialTruth truth;
        truth.key = 7;
        truth.culprit = 1;
        truth.theta = 0.6;
        truth.eps = 0.1;
        truth.bad_rate.assign(3, 0.95);
        truth.good_end_bad = bad;
        Lab lab(*dag, truth, model::CostModel{}, Budget{});
        const int runs = 4000;
        int fails = 0;
        for (int i = 0; i < runs; ++i) {
          fails += lab.run_good_end() == RunOutcome::kFail ? 1 : 0;
        }
        rates[bad ? 1 : 0] = static_cast<double>(fails) / runs;
        ok = ok && lab.runs() == 0 && lab.cost() == 0 && lab.good_end_runs() == runs;
      }
    }
    ok = ok && std::abs(rates[0] - 0.1) < 0.02 && std::abs(rates[1] - 0.6) < 0.03;
    check(ok, fmt::format("good-end runs fail at eps (0.1: {:.3f}), at theta where it is bad (0.6: "
                          "{:.3f}), and none is in the Lab's runs or cost",
                          rates[0], rates[1]));
  }
  // --verify-check changes nothing where the culprit found is not a root: the same answers, runs,
  // claims and revert checks; where it is one, the check is made.
  {
    CellSpec cell;
    cell.scenario = "selftest";
    cell.history = HistoryKind::kDag;
    cell.n = 40;
    cell.theta = 0.3;
    cell.eps = 0.005;
    cell.trials = 16;
    HarnessOptions harness;
    harness.algorithms = {AlgorithmId::kOurs, AlgorithmId::kFixed10};
    harness.threads = 1;
    harness.revert_check = true;
    const CellResult without = run_cell(cell, harness);
    harness.verify_check = true;
    const CellResult with = run_cell(cell, harness);
    bool same = true;
    uint64_t roots = 0, others = 0;
    for (size_t a = 0; a < with.records.size(); ++a) {
      for (size_t t = 0; t < cell.trials; ++t) {
        const TrialRecord& x = without.records[a][t];
        const TrialRecord& y = with.records[a][t];
        const Parents parents = trial_history(cell, harness.seed, t);
        const bool root = x.answer.revert_check != RevertCheckVerdict::kNone &&
                          parents[*x.answer.culprit].empty();
        same = same && x.runs == y.runs && x.builds == y.builds && x.cost == y.cost &&
               (y.answer.verify_check != RevertCheckVerdict::kNone) == (root && a == 0);
        if (root) {
          ++roots;
          continue;
        }
        ++others;
        same = same && x.answer.culprit == y.answer.culprit && x.answer.set == y.answer.set &&
               x.answer.confidence == y.answer.confidence && x.correct == y.correct &&
               x.answer.revert_check == y.answer.revert_check &&
               x.answer.revert_check_runs == y.answer.revert_check_runs;
      }
    }
    check(same && roots > 0 && others > 0,
          fmt::format("--verify-check: checks the {} root culprits of ours, and leaves the {} "
                      "other trials as they were",
                      roots, others));
  }
  // A good end that is bad: every candidate fails, so the search names the first one; the verify
  // check finds the good end failing too and names nobody.
  {
    CellSpec cell;
    cell.scenario = "selftest";
    cell.history = HistoryKind::kLinear;
    cell.n = 30;
    cell.theta = 0.3;
    cell.stale_good = 1;
    cell.trials = 10;
    HarnessOptions harness;
    harness.algorithms = {AlgorithmId::kOurs};
    harness.threads = 1;
    const CellResult without = run_cell(cell, harness);
    harness.verify_check = true;
    const CellResult with = run_cell(cell, harness);
    uint32_t named_without = 0, named_with = 0, right_with = 0;
    for (size_t t = 0; t < cell.trials; ++t) {
      const TrialRecord& x = without.records[0][t];
      const TrialRecord& y = with.records[0][t];
      named_without += x.answer.culprit && !x.correct && x.good_end_bad ? 1 : 0;
      named_with += y.answer.culprit ? 1 : 0;
      right_with += y.correct && y.answer.verify_check == RevertCheckVerdict::kFail ? 1 : 0;
    }
    check(named_without == cell.trials && right_with >= cell.trials * 8 / 10,
          fmt::format("--stale-good 1 at theta 0.3: without the verify check {} of {} trials "
                      "name a culprit (all expected), with it {} name none after a FAIL (8+ "
                      "expected), {} still name one",
                      named_without, cell.trials, right_with, named_with));
  }

  // The bound counts the commits the culprit is drawn from (a merge never is), and the
  // confirmation term is there only where the culprit has a parent in the range.
  {
    CellSpec cell;
    cell.scenario = "selftest";
    cell.history = HistoryKind::kDag;
    cell.n = 16;
    cell.theta = 0.3;
    cell.trials = 60;
    HarnessOptions harness;
    harness.algorithms = {AlgorithmId::kGit};
    harness.threads = 1;
    const CellResult result = run_cell(cell, harness);
    bool ok = true;
    uint32_t with_merges = 0, root_culprits = 0;
    for (uint32_t t = 0; t < cell.trials; ++t) {
      const Parents parents = trial_history(cell, harness.seed, t);
      const size_t candidates = non_merge_commits(parents).size();
      const TrialRecord& record = result.records[0][t];
      const bool root = parents[record.culprit].empty();
      with_merges += candidates < cell.n ? 1 : 0;
      root_culprits += root ? 1 : 0;
      const double bound = runs_lower_bound(static_cast<uint32_t>(candidates), cell.theta, cell.eps,
                                            harness.confidence);
      const double confirmation =
          root ? 0.0 : parent_confirmation_runs(cell.theta, cell.eps, harness.confidence);
      ok = ok && std::abs(record.runs_lower_bound - bound) < 1e-9 &&
           std::abs(record.runs_confirm_bound - bound - confirmation) < 1e-9;
    }
    check(ok && with_merges > 0 && root_culprits > 0,
          fmt::format("DAG bound over the non-merge commits ({} of {} histories with merges), no "
                      "parent to confirm for a root culprit ({} trials)",
                      with_merges, cell.trials, root_culprits));
  }

  // Results do not depend on the thread count.
  {
    CellSpec cell;
    cell.scenario = "selftest";
    cell.history = HistoryKind::kDag;
    cell.n = 300;
    cell.theta = 0.3;
    cell.eps = 0.005;
    cell.faults.unbuildable = 0.05;
    cell.faults.infra = 0.02;
    cell.trials = 24;
    HarnessOptions harness;
    harness.algorithms = {AlgorithmId::kGit, AlgorithmId::kFixed10, AlgorithmId::kSyzkaller,
                          AlgorithmId::kOurs};
    harness.threads = 1;
    const CellResult one = run_cell(cell, harness);
    harness.threads = 3;
    const CellResult three = run_cell(cell, harness);
    bool same = true;
    for (size_t a = 0; a < one.records.size(); ++a) {
      for (size_t t = 0; t < cell.trials; ++t) {
        const TrialRecord& x = one.records[a][t];
        const TrialRecord& y = three.records[a][t];
        same = same && x.answer.culprit == y.answer.culprit && x.runs == y.runs &&
               x.builds == y.builds && x.cost == y.cost;
      }
    }
    check(same, "results (git, fixed10, syzkaller, ours) are identical with 1 and 3 threads");
    // theta = 1, eps = 0: git bisect is always right and fixed-N agrees with it.
    cell.theta = 1;
    cell.eps = 0;
    cell.faults = {};
    const CellResult exact = run_cell(cell, harness);
    const std::vector<AlgorithmMetrics> m = compute_metrics(exact);
    check(
        m[0].accuracy == 1 && m[1].accuracy == 1 && m[1].same_as_git == 1,
        fmt::format("theta=1: git accuracy {}, fixed10 accuracy {}", m[0].accuracy, m[1].accuracy));
    check(m[3].same_as_git == 1,
          fmt::format("theta=1, eps=0: ours names git's commit in {} of the trials",
                      m[3].same_as_git));
  }

  // A harness option reaches ours (its runs change on the same trials) and not ours-known, which
  // is told both rates and keeps min_rate_ratio 1, noise_build_weight 0 and rare_build_weight 0.
  const auto ours_changes_known_does_not = [](const CellSpec& cell, HarnessOptions before,
                                              HarnessOptions after) {
    before.algorithms = {AlgorithmId::kOurs, AlgorithmId::kOursKnown};
    before.threads = 1;
    after.algorithms = before.algorithms;
    after.threads = 1;
    const CellResult x = run_cell(cell, before);
    const CellResult y = run_cell(cell, after);
    bool ours_changed = false;
    bool known_same = true;
    for (size_t t = 0; t < cell.trials; ++t) {
      ours_changed = ours_changed || x.records[0][t].runs != y.records[0][t].runs;
      known_same = known_same && x.records[1][t].runs == y.records[1][t].runs;
    }
    return ours_changed && known_same;
  };
  const auto selftest_cell = [](uint32_t n, double eps, uint32_t trials) {
    CellSpec cell;
    cell.scenario = "selftest";
    cell.history = HistoryKind::kLinear;
    cell.n = n;
    cell.theta = 0.1;
    cell.eps = eps;
    cell.trials = trials;
    return cell;
  };
  {
    HarnessOptions before;
    HarnessOptions after;
    before.min_rate_ratio = 1;
    after.min_rate_ratio = 8;
    check(ours_changes_known_does_not(selftest_cell(16, 0, 4), before, after),
          "min_rate_ratio 1 -> 8 changes ours' runs and leaves ours-known's alone");
    before = after = HarnessOptions{};
    before.noise_build_weight = 0;
    after.noise_build_weight = 5;
    check(ours_changes_known_does_not(selftest_cell(100, 0.005, 6), before, after),
          "noise_build_weight 0 -> 5 changes ours' runs and leaves ours-known's alone");
    before = after = HarnessOptions{};
    before.rare_build_weight = 0;
    after.rare_build_weight = 5;
    check(ours_changes_known_does_not(selftest_cell(100, 0, 6), before, after),
          "rare_build_weight 0 -> 5 changes ours' runs and leaves ours-known's alone");
  }

  // --build-cost is what the simulator charges (cost = runs + builds x B) and what the planner is
  // told: at a dearer build ours tests fewer commits.
  {
    CellSpec cell = selftest_cell(100, 0.005, 6);
    HarnessOptions harness;
    harness.algorithms = {AlgorithmId::kOurs, AlgorithmId::kFixed10};
    harness.threads = 1;
    bool charged = true;
    uint64_t builds[2] = {0, 0};
    const double costs[2] = {2, 60};
    for (int i = 0; i < 2; ++i) {
      cell.build_cost = costs[i];
      const CellResult result = run_cell(cell, harness);
      for (size_t a = 0; a < harness.algorithms.size(); ++a) {
        for (const TrialRecord& r : result.records[a]) {
          charged = charged && r.cost == static_cast<double>(r.runs) +
                                             costs[i] * static_cast<double>(r.builds);
          builds[i] += a == 0 ? r.builds : 0;
        }
      }
    }
    check(charged, "--build-cost: every trial costs runs + builds x the build cost");
    check(builds[1] < builds[0],
          fmt::format("--build-cost 2 -> 60: ours builds {} -> {} commits over 6 trials "
                      "(fewer expected)",
                      builds[0], builds[1]));
    // The boot variant charges B too: fixed10 decides without costs, so its trials are the same
    // at both build costs and differ in cost by exactly builds x (60 - 2).
    cell.boot_variant = true;
    harness.algorithms = {AlgorithmId::kFixed10};
    cell.build_cost = costs[0];
    const CellResult cheap = run_cell(cell, harness);
    cell.build_cost = costs[1];
    const CellResult dear = run_cell(cell, harness);
    bool boot_charged = true;
    for (size_t t = 0; t < cell.trials; ++t) {
      const TrialRecord& x = cheap.records[0][t];
      const TrialRecord& y = dear.records[0][t];
      boot_charged = boot_charged && x.runs == y.runs && x.builds == y.builds &&
                     std::abs(y.cost - x.cost - (costs[1] - costs[0]) * x.builds) < 1e-9;
    }
    check(boot_charged, "--build-cost in the boot variant: fixed10 pays builds x the build cost");
  }
  return failures;
}

int run(int argc, char** argv) {
  const Options options = parse_args(argc, argv);
  if (options.selftest) {
    const int failures = selftest();
    fmt::print(stderr, "{}\n", failures == 0 ? "selftest passed" : "selftest FAILED");
    return failures == 0 ? 0 : 1;
  }
  // Cheap and catches a broken formula before hours of simulation are scored against it.
  if (const std::string bounds = check_lower_bounds(); !bounds.empty()) {
    fmt::print(stderr, "flakebisect-bench: error: lower bound self-check failed: {}\n", bounds);
    return 1;
  }

  std::vector<CellSpec> cells;
  for (const std::string& name : options.scenarios) {
    const auto more = scenario_cells(name, options.overrides);
    if (!more) {
      usage_error(fmt::format("unknown scenario '{}'", name));
    }
    cells.insert(cells.end(), more->begin(), more->end());
  }
  if (cells.empty()) {
    usage_error("the selected grid has no cells (eps >= theta everywhere?)");
  }

  if (!options.json) {
    fmt::print("flakebisect-bench: {} cells, seed {}, confidence {}, rate spread {}, {} threads\n",
               cells.size(), options.harness.seed, options.harness.confidence,
               options.harness.rate_spread, options.harness.threads);
    fmt::print(
        "columns: acc = accuracy (! = 95% CI below the requested confidence), conf = mean claimed\n"
        "confidence, calib = conf - acc, runs/p90 = reproducer runs (infra included), /bound =\n"
        "runs / information lower bound, /b+c = runs / (bound + runs confirming the culprit's\n"
        "parent needs), builds/max = distinct builds, cost = 10 per build (build=B in a cell's\n"
        "label: B) + runs, /fix20 = cost / fixed20's, =git = same answer as git bisect, caps =\n"
        "budget-cap (or stuck) trials, nrep = 'not reproduced', ms/step = CPU ms per model\n"
        "decision (mean, max)\n");
    std::fflush(stdout);
  }
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < cells.size(); ++i) {
    const CellResult result = run_cell(cells[i], options.harness);
    const std::vector<AlgorithmMetrics> metrics = compute_metrics(result);
    if (options.json) {
      print_json(stdout, result, metrics, options.harness);
    } else {
      print_table(stdout, result, metrics, options.harness.confidence);
    }
    std::fflush(stdout);
    if (options.per_trial) {
      print_trials(stderr, result);
    }
    fmt::print(stderr, "[{}/{}] {}: {:.1f} s\n", i + 1, cells.size(), cells[i].label(),
               result.wall_seconds);
  }
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "flakebisect-bench: {} cells in {:.1f} s\n", cells.size(), total);
  return 0;
}

}  // namespace
}  // namespace flakebisect::bench

int main(int argc, char** argv) { return flakebisect::bench::run(argc, argv); }
