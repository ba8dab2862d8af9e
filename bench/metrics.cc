#include "metrics.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "lower_bound.h"
#include "stats.h"

namespace flakebisect::bench {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::optional<size_t> index_of(const CellResult& result, AlgorithmId id) {
  for (size_t a = 0; a < result.algorithms.size(); ++a) {
    if (result.algorithms[a] == id) {
      return a;
    }
  }
  return std::nullopt;
}

bool is_model_algorithm(AlgorithmId id) {
  return id == AlgorithmId::kOurs || id == AlgorithmId::kOursKnown ||
         id == AlgorithmId::kOursTheta || id == AlgorithmId::kGreedy;
}

// "1.23" or "-" for NaN, right-aligned in `width`.
std::string number(double value, int width, int precision) {
  if (std::isnan(value)) {
    return fmt::format("{:>{}}", "-", width);
  }
  return fmt::format("{:>{}.{}f}", value, width, precision);
}

RevertCheckMetrics revert_check_metrics(const std::vector<TrialRecord>& records) {
  RevertCheckMetrics m;
  std::vector<double> runs;
  for (const TrialRecord& r : records) {
    const RevertCheckVerdict verdict = r.answer.revert_check;
    if (verdict == RevertCheckVerdict::kNone) {
      continue;
    }
    ++m.checks;
    runs.push_back(static_cast<double>(r.answer.revert_check_runs));
    switch (verdict) {
      case RevertCheckVerdict::kPass:
        ++(r.correct ? m.right_pass : m.wrong_pass);
        break;
      case RevertCheckVerdict::kFail:
        ++(r.correct ? m.right_fail : m.wrong_fail);
        break;
      case RevertCheckVerdict::kInconclusive:
        ++(r.correct ? m.right_inconclusive : m.wrong_inconclusive);
        break;
      case RevertCheckVerdict::kNone:
        break;
    }
  }
  m.runs_mean = mean(runs);
  m.runs_p90 = percentile(runs, 0.9);
  return m;
}

VerifyCheckMetrics verify_check_metrics(const std::vector<TrialRecord>& records) {
  VerifyCheckMetrics m;
  std::vector<double> runs;
  for (const TrialRecord& r : records) {
    const RevertCheckVerdict verdict = r.answer.verify_check;
    if (verdict == RevertCheckVerdict::kNone) {
      ++m.none;
      continue;
    }
    ++m.checks;
    runs.push_back(static_cast<double>(r.answer.verify_check_runs));
    switch (verdict) {
      case RevertCheckVerdict::kPass:
        ++m.pass;
        m.stale_pass += r.good_end_bad ? 1 : 0;
        break;
      case RevertCheckVerdict::kFail:
        ++m.fail;
        m.stale_fail += r.good_end_bad ? 1 : 0;
        break;
      case RevertCheckVerdict::kInconclusive:
        ++m.inconclusive;
        m.stale_inconclusive += r.good_end_bad ? 1 : 0;
        break;
      case RevertCheckVerdict::kNone:
        break;
    }
  }
  m.runs_mean = mean(runs);
  m.runs_p90 = percentile(runs, 0.9);
  return m;
}

StaleGoodMetrics stale_good_metrics(const std::vector<TrialRecord>& records) {
  StaleGoodMetrics m;
  for (const TrialRecord& r : records) {
    if (r.good_end_bad) {
      ++m.trials;
      m.named += r.answer.culprit || !r.answer.set.empty() ? 1 : 0;
    }
  }
  return m;
}

}  // namespace

std::vector<AlgorithmMetrics> compute_metrics(const CellResult& result) {
  std::vector<AlgorithmMetrics> out;
  const std::optional<size_t> git = index_of(result, AlgorithmId::kGit);
  for (size_t a = 0; a < result.algorithms.size(); ++a) {
    const std::vector<TrialRecord>& records = result.records[a];
    AlgorithmMetrics m;
    m.algorithm = result.algorithms[a];
    m.trials = static_cast<uint32_t>(records.size());
    uint64_t correct = 0, same_as_git = 0, decisions = 0;
    RunsWhere where;  // sums over the trials
    double decision_ms = 0;
    std::vector<double> runs, builds, costs, confidences, bounds, confirm_bounds;
    for (size_t t = 0; t < records.size(); ++t) {
      const TrialRecord& r = records[t];
      correct += r.correct ? 1 : 0;
      if (git && result.records[*git][t].answer.culprit == r.answer.culprit) {
        ++same_as_git;
      }
      runs.push_back(static_cast<double>(r.runs));
      where += r.where;
      builds.push_back(static_cast<double>(r.builds));
      costs.push_back(r.cost);
      confidences.push_back(r.answer.confidence);
      bounds.push_back(r.runs_lower_bound);
      confirm_bounds.push_back(r.runs_confirm_bound);
      m.builds_max = std::max(m.builds_max, r.builds);
      m.cap_hits += r.answer.cap_hit ? 1 : 0;
      m.stuck += r.answer.stuck ? 1 : 0;
      m.not_reproduced += r.answer.not_reproduced ? 1 : 0;
      m.set_answers += r.answer.set.empty() ? 0 : 1;
      decisions += r.answer.decisions;
      decision_ms += r.answer.decision_ms_total;
      m.ms_per_step_max = std::max(m.ms_per_step_max, r.answer.decision_ms_max);
    }
    const double trials = std::max<double>(1, static_cast<double>(records.size()));
    m.accuracy = static_cast<double>(correct) / trials;
    const Interval ci = wilson_interval(correct, records.size());
    m.accuracy_lo = ci.low;
    m.accuracy_hi = ci.high;
    m.confidence_mean = mean(confidences);
    m.calibration = m.confidence_mean - m.accuracy;
    m.runs_mean = mean(runs);
    m.runs_p90 = percentile(runs, 0.9);
    m.runs_lower_bound = mean(bounds);
    m.runs_over_bound = m.runs_mean / m.runs_lower_bound;
    m.runs_confirm_bound = mean(confirm_bounds);
    m.runs_over_confirm_bound = m.runs_mean / m.runs_confirm_bound;
    m.runs_at_culprit = static_cast<double>(where.culprit) / trials;
    m.runs_at_parent = static_cast<double>(where.parent) / trials;
    m.runs_at_tip = static_cast<double>(where.tip) / trials;
    m.runs_at_bad = static_cast<double>(where.bad) / trials;
    m.runs_at_good = static_cast<double>(where.good) / trials;
    m.builds_mean = mean(builds);
    m.cost_mean = mean(costs);
    m.same_as_git = git ? static_cast<double>(same_as_git) / trials : kNaN;
    m.ms_per_step = decisions > 0 ? decision_ms / static_cast<double>(decisions) : 0;
    if (result.revert_check && makes_revert_check(m.algorithm)) {
      m.revert_check = revert_check_metrics(records);
    }
    if (result.verify_check && makes_revert_check(m.algorithm)) {
      m.verify_check = verify_check_metrics(records);
    }
    if (result.cell.stale_good > 0) {
      m.stale_good = stale_good_metrics(records);
    }
    out.push_back(m);
  }
  const std::optional<size_t> fixed20 = index_of(result, AlgorithmId::kFixed20);
  for (AlgorithmMetrics& m : out) {
    m.cost_ratio_fixed20 = fixed20 ? m.cost_mean / out[*fixed20].cost_mean : kNaN;
  }
  return out;
}

void print_table(std::FILE* out, const CellResult& result,
                 const std::vector<AlgorithmMetrics>& metrics, double confidence) {
  const CellSpec& cell = result.cell;
  const double bound = metrics.empty() ? kNaN : metrics.front().runs_lower_bound;
  const double confirm_bound = metrics.empty() ? kNaN : metrics.front().runs_confirm_bound;
  fmt::print(out,
             "\n== {} | {} trials | runs bound {:.1f}, +confirmation {:.1f} | builds target {} | "
             "{:.1f} s\n",
             cell.label(), cell.trials, bound, confirm_bound, builds_target(cell.n),
             result.wall_seconds);
  fmt::print(out,
             "{:<11} {:>6} {:>15} {:>6} {:>6} {:>8} {:>6} {:>6} {:>5} {:>6} {:>4} {:>8} {:>6} "
             "{:>5} {:>4} {:>4} {:>4} {:>7} {:>7}\n",
             "algorithm", "acc", "95% CI", "conf", "calib", "runs", "p90", "/bound", "/b+c",
             "builds", "max", "cost", "/fix20", "=git", "caps", "nrep", "sets", "ms/step",
             "ms max");
  for (const AlgorithmMetrics& m : metrics) {
    const bool model = is_model_algorithm(m.algorithm);
    // "!" marks an accuracy whose whole 95% interval lies below the requested confidence.
    const char* flag = model && m.accuracy_hi < confidence ? "!" : " ";
    fmt::print(out,
               "{:<11} {:>6.4f}{} [{:.3f},{:.3f}] {:>6.4f} {:>+6.3f} {} {} {} {} {} {:>4} {} {} "
               "{} {:>4} {:>4} {:>4} {} {}\n",
               algorithm_name(m.algorithm), m.accuracy, flag, m.accuracy_lo, m.accuracy_hi,
               m.confidence_mean, m.calibration, number(m.runs_mean, 8, 1),
               number(m.runs_p90, 6, 0), number(m.runs_over_bound, 6, 2),
               number(m.runs_over_confirm_bound, 5, 2), number(m.builds_mean, 6, 1), m.builds_max,
               number(m.cost_mean, 8, 1), number(m.cost_ratio_fixed20, 6, 2),
               number(m.same_as_git, 5, 2), m.cap_hits + m.stuck, m.not_reproduced, m.set_answers,
               number(model ? m.ms_per_step : kNaN, 7, 2),
               number(model ? m.ms_per_step_max : kNaN, 7, 1));
    if (m.revert_check) {
      const RevertCheckMetrics& r = *m.revert_check;
      fmt::print(
          out,
          "  revert check: {} checks, mean {:.1f} runs (p90 {:.0f}); right answers: {} PASS, "
          "{} FAIL, {} inconclusive; wrong answers: {} PASS, {} FAIL, {} inconclusive\n",
          r.checks, r.runs_mean, r.runs_p90, r.right_pass, r.right_fail, r.right_inconclusive,
          r.wrong_pass, r.wrong_fail, r.wrong_inconclusive);
    }
    if (m.verify_check) {
      const VerifyCheckMetrics& v = *m.verify_check;
      fmt::print(out,
                 "  verify check: {} checks ({} trials without), mean {:.1f} runs (p90 {:.0f}); "
                 "{} PASS, {} FAIL, {} inconclusive; where the good end was bad: {} PASS, {} "
                 "FAIL, {} inconclusive\n",
                 v.checks, v.none, v.runs_mean, v.runs_p90, v.pass, v.fail, v.inconclusive,
                 v.stale_pass, v.stale_fail, v.stale_inconclusive);
    }
    if (m.stale_good) {
      fmt::print(out, "  stale good: {} trials with a bad good end, {} of them named a culprit\n",
                 m.stale_good->trials, m.stale_good->named);
    }
  }
}

void print_json(std::FILE* out, const CellResult& result,
                const std::vector<AlgorithmMetrics>& metrics, const HarnessOptions& options) {
  const CellSpec& cell = result.cell;
  for (const AlgorithmMetrics& m : metrics) {
    nlohmann::ordered_json j;
    j["algorithm"] = algorithm_name(m.algorithm);
    j["scenario"] = cell.scenario;
    j["history"] = history_name(cell.history);
    j["n"] = cell.n;
    if (cell.theta_mixture) {
      j["theta"] = "mixture";
    } else {
      j["theta"] = cell.theta;
    }
    j["eps"] = cell.eps;
    j["theta_jitter"] = cell.theta_jitter;
    j["unbuildable"] = cell.faults.unbuildable;
    j["infra"] = cell.faults.infra;
    j["cost_model"] = cell.boot_variant ? "boot0.5+run0.5" : "run1";
    j["build_cost"] = cell.build_cost;
    j["confidence"] = options.confidence;
    j["rate_spread"] = options.rate_spread;
    j["noise_build_weight"] = options.noise_build_weight;
    j["rare_build_weight"] = options.rare_build_weight;
    j["min_rate_ratio"] = options.min_rate_ratio;
    j["seed"] = options.seed;
    j["trials"] = m.trials;
    j["accuracy"] = m.accuracy;
    j["accuracy_lo"] = m.accuracy_lo;
    j["accuracy_hi"] = m.accuracy_hi;
    j["confidence_mean"] = m.confidence_mean;
    j["calibration"] = m.calibration;
    j["runs_mean"] = m.runs_mean;
    j["runs_p90"] = m.runs_p90;
    j["runs_lower_bound"] = m.runs_lower_bound;
    j["runs_over_bound"] = m.runs_over_bound;
    j["runs_confirm_bound"] = m.runs_confirm_bound;
    j["runs_over_confirm_bound"] = m.runs_over_confirm_bound;
    j["runs_at"] = {{"culprit", m.runs_at_culprit},
                    {"parent", m.runs_at_parent},
                    {"tip", m.runs_at_tip},
                    {"bad", m.runs_at_bad},
                    {"good", m.runs_at_good}};
    j["builds_mean"] = m.builds_mean;
    j["builds_max"] = m.builds_max;
    j["builds_target"] = builds_target(cell.n);
    j["cost_mean"] = m.cost_mean;
    j["cost_ratio_fixed20"] = m.cost_ratio_fixed20;  // NaN is written as null
    j["same_as_git"] = m.same_as_git;
    j["cap_hits"] = m.cap_hits;
    j["stuck"] = m.stuck;
    j["not_reproduced"] = m.not_reproduced;
    j["set_answers"] = m.set_answers;
    j["ms_per_step"] = m.ms_per_step;
    j["ms_per_step_max"] = m.ms_per_step_max;
    if (m.revert_check) {
      const RevertCheckMetrics& r = *m.revert_check;
      j["revert_check"] = {{"max_runs", options.revert_check_max_runs},
                           {"checks", r.checks},
                           {"runs_mean", r.runs_mean},
                           {"runs_p90", r.runs_p90},
                           {"right",
                            {{"pass", r.right_pass},
                             {"fail", r.right_fail},
                             {"inconclusive", r.right_inconclusive}}},
                           {"wrong",
                            {{"pass", r.wrong_pass},
                             {"fail", r.wrong_fail},
                             {"inconclusive", r.wrong_inconclusive}}}};
    }
    if (m.verify_check) {
      const VerifyCheckMetrics& v = *m.verify_check;
      j["verify_check"] = {{"max_runs", options.verify_check_max_runs},
                           {"checks", v.checks},
                           {"none", v.none},
                           {"pass", v.pass},
                           {"fail", v.fail},
                           {"inconclusive", v.inconclusive},
                           {"runs_mean", v.runs_mean},
                           {"runs_p90", v.runs_p90},
                           {"good_end_bad",
                            {{"pass", v.stale_pass},
                             {"fail", v.stale_fail},
                             {"inconclusive", v.stale_inconclusive}}}};
    }
    if (m.stale_good) {
      j["stale_good"] = {{"rate", cell.stale_good},
                         {"trials", m.stale_good->trials},
                         {"named", m.stale_good->named}};
    }
    j["cell_wall_s"] = result.wall_seconds;
    fmt::print(out, "{}\n", j.dump());
  }
}

void print_trials(std::FILE* out, const CellResult& result) {
  for (size_t a = 0; a < result.algorithms.size(); ++a) {
    for (size_t t = 0; t < result.records[a].size(); ++t) {
      const TrialRecord& r = result.records[a][t];
      nlohmann::ordered_json j;
      j["cell"] = result.cell.label();
      j["algorithm"] = algorithm_name(result.algorithms[a]);
      j["trial"] = t;
      j["culprit"] = r.culprit;
      j["theta"] = r.theta;
      if (r.answer.culprit) {
        j["answer"] = *r.answer.culprit;
      } else {
        j["answer"] = nullptr;
      }
      if (!r.answer.set.empty()) j["set"] = r.answer.set;
      j["correct"] = r.correct;
      j["confidence"] = r.answer.confidence;
      j["runs"] = r.runs;
      j["runs_at"] = {{"culprit", r.where.culprit},
                      {"parent", r.where.parent},
                      {"tip", r.where.tip},
                      {"bad", r.where.bad},
                      {"good", r.where.good}};
      j["builds"] = r.builds;
      j["cost"] = r.cost;
      j["cap_hit"] = r.answer.cap_hit;
      j["stuck"] = r.answer.stuck;
      j["not_reproduced"] = r.answer.not_reproduced;
      j["decisions"] = r.answer.decisions;
      if (r.answer.revert_check != RevertCheckVerdict::kNone) {
        j["revert_check"] = revert_verdict_name(r.answer.revert_check);
        j["revert_check_runs"] = r.answer.revert_check_runs;
      }
      if (r.answer.verify_check != RevertCheckVerdict::kNone) {
        j["verify_check"] = revert_verdict_name(r.answer.verify_check);
        j["verify_check_runs"] = r.answer.verify_check_runs;
      }
      if (r.good_end_bad) {
        j["good_end_bad"] = true;
      }
      fmt::print(out, "{}\n", j.dump());
    }
  }
}

}  // namespace flakebisect::bench
