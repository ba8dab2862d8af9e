#include "model/posterior.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

#include "model/log_math.h"

namespace flakebisect::model {
namespace {

RateSummary summarise(const std::vector<double>& values, const std::vector<double>& mass) {
  RateSummary s;
  double total = std::accumulate(mass.begin(), mass.end(), 0.0);
  if (total <= 0) return s;
  // Grid values are ascending; the interval ends are grid points holding the 5% and 95% quantiles.
  double cumulative = 0;
  bool have_low = false;
  bool have_high = false;
  for (size_t i = 0; i < values.size(); ++i) {
    double m = mass[i] / total;
    s.mean += m * values[i];
    cumulative += m;
    if (!have_low && cumulative >= 0.05) {
      s.low = values[i];
      have_low = true;
    }
    if (!have_high && cumulative >= 0.95 - 1e-12) {
      s.high = values[i];
      have_high = true;
    }
  }
  return s;
}

}  // namespace

RateGrid RateGrid::log_uniform(double low, int points, double high) {
  RateGrid grid;
  for (int i = 0; i < points; ++i) {
    double v = points == 1 ? 1.0 : low * std::pow(1.0 / low, static_cast<double>(i) / (points - 1));
    grid.values.push_back(i == points - 1 ? 1.0 : v);
    grid.weights.push_back(1.0);
  }
  // Past 1: the same spacing up to the first value at or above high, or, where that would take more
  // than kMaxAbove points (theta_min near 1, a wide spread), kMaxAbove points ending at high.
  constexpr int kMaxAbove = 8;
  if (high > 1) {
    const double step = points > 1 ? std::pow(1.0 / low, 1.0 / (points - 1)) : 1.0;
    const double needed = std::ceil(std::log(high) / std::log(step) - 1e-9);  // +inf for step 1
    const int above = needed <= kMaxAbove ? static_cast<int>(needed) : kMaxAbove;
    const double spacing = needed <= kMaxAbove ? step : std::pow(high, 1.0 / kMaxAbove);
    for (int i = 0; i < above; ++i) {
      grid.values.push_back(grid.values.back() * spacing);
      grid.weights.push_back(1.0);
    }
  }
  return grid;
}

RateGrid theta_grid(double low, int points, double rate_spread) {
  return RateGrid::log_uniform(low, points, RateSpread::of(rate_spread).saturation());
}

RateGrid RateGrid::mostly_zero(double zero_mass) {
  RateGrid grid;
  grid.values = {0.0, 0.001, 0.002, 0.005, 0.01, 0.02};
  grid.weights.push_back(zero_mass);
  for (size_t i = 1; i < grid.values.size(); ++i) {
    grid.weights.push_back((1 - zero_mass) / static_cast<double>(grid.values.size() - 1));
  }
  return grid;
}

RateGrid RateGrid::point(double value) { return RateGrid{{value}, {1.0}}; }

RateSpread RateSpread::of(double spread) {
  if (!(spread > 0)) return RateSpread{{1.0}, {1.0}, {0.0}};
  // Five-point Gauss-Hermite rule for a standard normal (probabilists' nodes): exact for
  // polynomials up to degree 9, and its outer nodes (+-2.86 sd) keep the tails that matter here (a
  // culprit that fails far less often than its descendants).
  static constexpr double kNodes[] = {-2.856970013872806, -1.355626179974266, 0.0,
                                      1.355626179974266, 2.856970013872806};
  static constexpr double kWeights[] = {0.011257411327721, 0.222075922005613, 0.533333333333333,
                                        0.222075922005613, 0.011257411327721};
  RateSpread out;
  for (size_t j = 0; j < 5; ++j) {
    out.multipliers.push_back(std::exp(spread * kNodes[j]));
    out.weights.push_back(kWeights[j]);
    out.log_weights.push_back(std::log(kWeights[j]));
  }
  return out;
}

double RateSpread::log_term(double theta, size_t j, uint32_t fails, uint32_t passes) const {
  return log_weights[j] + log_binomial_kernel(rate(theta, j), fails, passes);
}

Posterior::Posterior(const CandidateDag& dag, ModelOptions options,
                     std::vector<double> commit_prior)
    : dag_(&dag), options_(std::move(options)), evidence_(dag.size()) {
  assert(options_.min_rate_ratio >= 1);
  const CommitIndex n = dag.size();
  log_commit_prior_.resize(n);
  auto weight = [&](CommitIndex c) {
    const double w = commit_prior.empty() ? 1.0 : commit_prior[c];
    return dag.is_merge(c) ? w * options_.merge_weight : w;
  };
  double total = 0;
  for (CommitIndex c = 0; c < n; ++c) total += weight(c);
  for (CommitIndex c = 0; c < n; ++c) {
    const double w = weight(c);
    log_commit_prior_[c] = w > 0 ? std::log(w / total) : kNegInf;
  }
}

void Posterior::record(CommitIndex x, uint32_t fails, uint32_t passes) {
  assert(x < dag_->size());
  if (fails + passes == 0) return;
  CommitEvidence& e = evidence_[x];
  if (e.fails + e.passes == 0) tested_.push_back(x);
  e.fails += fails;
  e.passes += passes;
  total_runs_ += fails + passes;
  total_fails_ += fails;
  dirty_ = true;
}

void Posterior::mark_skipped(CommitIndex x) {
  evidence_[x].skipped = true;
  dirty_ = true;
}

void Posterior::update() const {
  if (!dirty_) return;
  dirty_ = false;
  const CommitIndex n = dag_->size();
  const auto& theta = options_.theta;
  const auto& eps = options_.eps;
  const size_t nt = theta.values.size();
  const size_t ne = eps.values.size();
  const size_t grid = nt * ne;

  // Prior over grid pairs; pairs with min_rate_ratio * eps >= theta are excluded (weight -inf).
  std::vector<double> log_pair_prior(grid, kNegInf);
  {
    const double ratio = options_.min_rate_ratio;
    auto allowed = [&](size_t t, size_t e) { return ratio * eps.values[e] < theta.values[t]; };
    double total = 0;
    for (size_t t = 0; t < nt; ++t)
      for (size_t e = 0; e < ne; ++e)
        if (allowed(t, e)) total += theta.weights[t] * eps.weights[e];
    for (size_t t = 0; t < nt; ++t)
      for (size_t e = 0; e < ne; ++e) {
        double w = theta.weights[t] * eps.weights[e];
        if (allowed(t, e) && w > 0) log_pair_prior[t * ne + e] = std::log(w / total);
      }
  }

  // Sort tested commits so the result does not depend on the order evidence arrived in.
  std::vector<CommitIndex> tested = tested_;
  std::sort(tested.begin(), tested.end());
  const size_t nx = tested.size();

  // Per tested commit, log-likelihood of its runs on each grid pair if it is bad / good.
  std::vector<double> log_bad(nx * nt), log_good(nx * ne);
  const RateSpread spread = RateSpread::of(options_.rate_spread);
  const size_t nu = spread.multipliers.size();
  std::vector<double> terms(nu);
  for (size_t i = 0; i < nx; ++i) {
    const CommitEvidence& ev = evidence_[tested[i]];
    for (size_t t = 0; t < nt; ++t) {
      for (size_t j = 0; j < nu; ++j) {
        terms[j] = spread.log_term(theta.values[t], j, ev.fails, ev.passes);
      }
      log_bad[i * nt + t] = log_sum_exp(terms.data(), nu);
    }
    for (size_t e = 0; e < ne; ++e)
      log_good[i * ne + e] = log_binomial_kernel(eps.values[e], ev.fails, ev.passes);
  }

  // Partition candidates into classes with equal sets of tested descendants-or-self: they share a
  // likelihood. Refine one tested commit at a time: class' = 2 * class + bit, renumbered densely.
  std::vector<uint32_t> cls(n, 0);
  uint32_t classes = 1;
  std::vector<uint32_t> remap;
  for (size_t i = 0; i < nx; ++i) {
    const uint64_t* bits = dag_->ancestor_bits(tested[i]);
    remap.assign(2 * static_cast<size_t>(classes), UINT32_MAX);
    uint32_t next = 0;
    for (CommitIndex c = 0; c < n; ++c) {
      uint32_t key = 2 * cls[c] + static_cast<uint32_t>((bits[c / 64] >> (c % 64)) & 1U);
      if (remap[key] == UINT32_MAX) remap[key] = next++;
      cls[c] = remap[key];
    }
    classes = next;
  }
  std::vector<CommitIndex> representative(classes, 0);
  std::vector<double> class_prior(classes, 0.0);
  {
    std::vector<bool> seen(classes, false);
    for (CommitIndex c = 0; c < n; ++c) {
      if (!seen[cls[c]]) {
        seen[cls[c]] = true;
        representative[cls[c]] = c;
      }
      class_prior[cls[c]] += std::exp(log_commit_prior_[c]);
    }
  }

  // log joint weight of (class, grid pair).
  const double culprit_share = 1.0 - options_.no_regression_prior;
  std::vector<double> joint(static_cast<size_t>(classes) * grid);
  for (uint32_t k = 0; k < classes; ++k) {
    const CommitIndex rep = representative[k];
    double* row = &joint[static_cast<size_t>(k) * grid];
    const double base = class_prior[k] > 0 && culprit_share > 0
                            ? std::log(class_prior[k] * culprit_share)
                            : kNegInf;
    for (size_t g = 0; g < grid; ++g) row[g] = base + log_pair_prior[g];
    for (size_t i = 0; i < nx; ++i) {
      if (dag_->is_ancestor_or_self(rep, tested[i])) {
        for (size_t t = 0; t < nt; ++t) {
          double lb = log_bad[i * nt + t];
          for (size_t e = 0; e < ne; ++e) row[t * ne + e] += lb;
        }
      } else {
        for (size_t t = 0; t < nt; ++t)
          for (size_t e = 0; e < ne; ++e) row[t * ne + e] += log_good[i * ne + e];
      }
    }
  }
  // "No regression": every tested commit is good.
  double log_none = kNegInf;
  std::vector<double> none_row;
  if (options_.no_regression_prior > 0) {
    none_row.resize(grid);
    for (size_t g = 0; g < grid; ++g) {
      none_row[g] = log_pair_prior[g];
      for (size_t i = 0; i < nx; ++i) none_row[g] += log_good[i * ne + g % ne];
    }
    log_none = std::log(options_.no_regression_prior) + log_sum_exp(none_row.data(), grid);
  }

  double top = log_none;
  for (double v : joint) top = std::max(top, v);
  double total = log_none == kNegInf ? 0 : std::exp(log_none - top);
  rate_posterior_.assign(grid, 0.0);
  std::vector<double> class_mass(classes, 0.0);
  classes_.assign(classes, HypothesisClass{});
  for (uint32_t k = 0; k < classes; ++k) {
    const double* row = &joint[static_cast<size_t>(k) * grid];
    HypothesisClass& hc = classes_[k];
    hc.representative = representative[k];
    hc.rates.assign(grid, 0.0);
    for (size_t g = 0; g < grid; ++g) {
      double w = row[g] == kNegInf ? 0 : std::exp(row[g] - top);
      hc.rates[g] = w;
      class_mass[k] += w;
      rate_posterior_[g] += w;
    }
    total += class_mass[k];
  }
  if (!(total > 0)) {
    // Every hypothesis is impossible on the grid (only when the user's grids exclude what was
    // observed, e.g. theta fixed at 1 and a pass on a bad commit, or min_rate_ratio leaves no
    // (theta, eps) pair of the grids in); fall back to the prior.
    total = 0;
    for (uint32_t k = 0; k < classes; ++k) total += class_mass[k] = class_prior[k];
  }
  no_regression_ = log_none == kNegInf ? 0 : std::exp(log_none - top) / total;
  for (uint32_t k = 0; k < classes; ++k) {
    HypothesisClass& hc = classes_[k];
    double row_total = std::accumulate(hc.rates.begin(), hc.rates.end(), 0.0);
    if (row_total > 0) {
      for (double& w : hc.rates) w /= row_total;
    }
    hc.mass = class_mass[k] / total;
  }
  if (log_none != kNegInf) {
    HypothesisClass none;
    none.no_regression = true;
    none.mass = no_regression_;
    none.rates.assign(grid, 0.0);
    const double none_log_total = log_sum_exp(none_row.data(), grid);
    for (size_t g = 0; g < grid; ++g) {
      if (none_row[g] != kNegInf) none.rates[g] = std::exp(none_row[g] - none_log_total);
    }
    classes_.push_back(std::move(none));
  }
  double rate_total = std::accumulate(rate_posterior_.begin(), rate_posterior_.end(), 0.0);
  if (rate_total > 0) {
    for (double& w : rate_posterior_) w /= rate_total;
  }

  class_of_ = cls;
  probability_.assign(n, 0.0);
  for (CommitIndex c = 0; c < n; ++c) {
    uint32_t k = cls[c];
    if (class_prior[k] > 0) {
      probability_[c] = class_mass[k] / total * std::exp(log_commit_prior_[c]) / class_prior[k];
    }
  }
}

const std::vector<double>& Posterior::culprit_probabilities() const {
  update();
  return probability_;
}

double Posterior::no_regression_probability() const {
  update();
  return no_regression_;
}

CommitIndex Posterior::most_likely() const {
  const auto& p = culprit_probabilities();
  // max_element returns the first maximum: ties go to the lower index.
  return static_cast<CommitIndex>(std::max_element(p.begin(), p.end()) - p.begin());
}

double Posterior::max_probability() const { return culprit_probabilities()[most_likely()]; }

std::vector<double> Posterior::bad_probabilities() const {
  return dag_->ancestor_sums(culprit_probabilities());
}

std::vector<CommitIndex> Posterior::credible_set(double mass) const {
  const auto& p = culprit_probabilities();
  std::vector<CommitIndex> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](CommitIndex a, CommitIndex b) { return p[a] > p[b]; });
  std::vector<CommitIndex> set;
  double sum = 0;
  for (CommitIndex c : order) {
    if (sum >= mass) break;
    set.push_back(c);
    sum += p[c];
  }
  return set;
}

const std::vector<uint32_t>& Posterior::class_of() const {
  update();
  return class_of_;
}

const std::vector<Posterior::HypothesisClass>& Posterior::classes() const {
  update();
  return classes_;
}

const std::vector<double>& Posterior::rate_posterior() const {
  update();
  return rate_posterior_;
}

RateSummary Posterior::theta_summary() const {
  const auto& joint = rate_posterior();
  const size_t ne = options_.eps.values.size();
  std::vector<double> mass(options_.theta.values.size(), 0.0);
  for (size_t g = 0; g < joint.size(); ++g) mass[g / ne] += joint[g];
  std::vector<double> rates = options_.theta.values;
  for (double& r : rates) r = std::min(r, 1.0);
  return summarise(rates, mass);
}

std::vector<double> Posterior::eps_marginal() const {
  const auto& joint = rate_posterior();
  const size_t ne = options_.eps.values.size();
  std::vector<double> mass(ne, 0.0);
  for (size_t g = 0; g < joint.size(); ++g) mass[g % ne] += joint[g];
  return mass;
}

RateSummary Posterior::eps_summary() const {
  return summarise(options_.eps.values, eps_marginal());
}

}  // namespace flakebisect::model
