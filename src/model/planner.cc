#include "model/planner.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace flakebisect::model {
namespace {

// Predictive distributions of the number of failures k in r runs at a bad and at a good commit,
// mixed over the posterior of theta and eps respectively.
struct Predictive {
  std::vector<double> bad;   // size r + 1
  std::vector<double> good;  // size r + 1
  double entropy_bad = 0;
  double entropy_good = 0;
};

double entropy(const std::vector<double>& p) {
  double h = 0;
  for (double v : p)
    if (v > 0) h -= v * std::log2(v);
  return h;
}

void add_binomial(std::vector<double>& out, uint32_t r, double rate, double weight) {
  if (weight <= 0) return;
  if (rate <= 0) {
    out[0] += weight;
    return;
  }
  if (rate >= 1) {
    out[r] += weight;
    return;
  }
  const double lr = std::log(rate);
  const double lq = std::log1p(-rate);
  for (uint32_t k = 0; k <= r; ++k) {
    double log_choose = std::lgamma(r + 1.0) - std::lgamma(k + 1.0) - std::lgamma(r - k + 1.0);
    out[k] += weight * std::exp(log_choose + k * lr + (r - k) * lq);
  }
}

Predictive predictive(const Posterior& posterior, uint32_t r) {
  const auto& options = posterior.options();
  const auto& joint = posterior.rate_posterior();
  const size_t nt = options.theta.values.size();
  const size_t ne = options.eps.values.size();
  std::vector<double> theta_mass(nt, 0.0), eps_mass(ne, 0.0);
  for (size_t g = 0; g < joint.size(); ++g) {
    theta_mass[g / ne] += joint[g];
    eps_mass[g % ne] += joint[g];
  }
  Predictive pred;
  pred.bad.assign(r + 1, 0.0);
  pred.good.assign(r + 1, 0.0);
  for (size_t t = 0; t < nt; ++t) add_binomial(pred.bad, r, options.theta.values[t], theta_mass[t]);
  for (size_t e = 0; e < ne; ++e) add_binomial(pred.good, r, options.eps.values[e], eps_mass[e]);
  pred.entropy_bad = entropy(pred.bad);
  pred.entropy_good = entropy(pred.good);
  return pred;
}

double information(const Predictive& pred, double p) {
  double h = 0;
  for (size_t k = 0; k < pred.bad.size(); ++k) {
    double v = p * pred.bad[k] + (1 - p) * pred.good[k];
    if (v > 0) h -= v * std::log2(v);
  }
  return std::max(0.0, h - p * pred.entropy_bad - (1 - p) * pred.entropy_good);
}

// argmax over p in [0, 1] of the concave information(p).
double best_split(const Predictive& pred) {
  double lo = 0;
  double hi = 1;
  for (int i = 0; i < 60; ++i) {
    double a = lo + (hi - lo) / 3;
    double b = hi - (hi - lo) / 3;
    if (information(pred, a) < information(pred, b)) {
      lo = a;
    } else {
      hi = b;
    }
  }
  return (lo + hi) / 2;
}

// P(bad) this close to 0 or 1 cannot split the mass.
constexpr double kSplitEpsilon = 1e-9;
// Classes lighter than this are left out of the exact information computation.
constexpr double kNegligibleMass = 1e-12;

// Binomial pmfs for r runs at each grid rate: pmf[i * (r + 1) + k].
std::vector<double> binomial_table(const std::vector<double>& rates, uint32_t r) {
  std::vector<double> table(rates.size() * (r + 1), 0.0);
  for (size_t i = 0; i < rates.size(); ++i) {
    std::vector<double> row(r + 1, 0.0);
    add_binomial(row, r, rates[i], 1.0);
    std::copy(row.begin(), row.end(), table.begin() + static_cast<std::ptrdiff_t>(i * (r + 1)));
  }
  return table;
}

// Predictive distributions of each hypothesis class for one batch size (empty for negligible ones).
std::vector<Predictive> class_predictives(const Posterior& posterior, uint32_t r,
                                          const std::vector<double>& theta_pmf,
                                          const std::vector<double>& eps_pmf) {
  const auto& options = posterior.options();
  const size_t nt = options.theta.values.size();
  const size_t ne = options.eps.values.size();
  const auto& classes = posterior.classes();
  std::vector<Predictive> out(classes.size());
  std::vector<double> theta_mass(nt), eps_mass(ne);
  for (size_t k = 0; k < classes.size(); ++k) {
    const auto& hc = classes[k];
    if (hc.mass < kNegligibleMass) continue;
    std::fill(theta_mass.begin(), theta_mass.end(), 0.0);
    std::fill(eps_mass.begin(), eps_mass.end(), 0.0);
    for (size_t g = 0; g < hc.rates.size(); ++g) {
      theta_mass[g / ne] += hc.rates[g];
      eps_mass[g % ne] += hc.rates[g];
    }
    Predictive& pred = out[k];
    pred.bad.assign(r + 1, 0.0);
    pred.good.assign(r + 1, 0.0);
    for (size_t t = 0; t < nt; ++t) {
      if (theta_mass[t] == 0) continue;
      for (uint32_t j = 0; j <= r; ++j) pred.bad[j] += theta_mass[t] * theta_pmf[t * (r + 1) + j];
    }
    for (size_t e = 0; e < ne; ++e) {
      if (eps_mass[e] == 0) continue;
      for (uint32_t j = 0; j <= r; ++j) pred.good[j] += eps_mass[e] * eps_pmf[e * (r + 1) + j];
    }
    pred.entropy_bad = entropy(pred.bad);
    pred.entropy_good = entropy(pred.good);
  }
  return out;
}

// Per class, the posterior mass of its members that are bad at x (ancestors-or-self of x).
std::vector<double> class_bad_mass(const Posterior& posterior, CommitIndex x) {
  const CandidateDag& dag = posterior.dag();
  const auto& cls = posterior.class_of();
  const auto& prob = posterior.culprit_probabilities();
  std::vector<double> mass(posterior.classes().size(), 0.0);
  const uint64_t* bits = dag.ancestor_bits(x);
  for (size_t w = 0; w < dag.words(); ++w) {
    uint64_t word = bits[w];
    while (word != 0) {
      const auto c = static_cast<CommitIndex>(w * 64 + static_cast<size_t>(std::countr_zero(word)));
      mass[cls[c]] += prob[c];
      word &= word - 1;
    }
  }
  return mass;
}

// I(C; K) for r runs at x. Each class predicts K with its own rate posterior, so a test that every
// class agrees is bad still informs when the classes disagree about theta.
double exact_information(const Posterior& posterior, const std::vector<Predictive>& preds,
                         const std::vector<double>& bad_mass, uint32_t r,
                         std::vector<double>& scratch) {
  const auto& classes = posterior.classes();
  scratch.assign(r + 1, 0.0);
  double conditional = 0;
  double total = 0;
  for (size_t k = 0; k < classes.size(); ++k) {
    const double mass = classes[k].mass;
    if (mass < kNegligibleMass) continue;
    const Predictive& pred = preds[k];
    const double bad = std::min(bad_mass[k], mass);
    const double good = mass - bad;
    for (uint32_t j = 0; j <= r; ++j) scratch[j] += bad * pred.bad[j] + good * pred.good[j];
    conditional += bad * pred.entropy_bad + good * pred.entropy_good;
    total += mass;
  }
  if (total <= 0) return 0;
  double h = 0;
  for (double v : scratch) {
    if (v > 0) h -= v / total * std::log2(v / total);
  }
  return std::max(0.0, h - conditional / total);
}

}  // namespace

double expected_information(const Posterior& posterior, double p, uint32_t runs) {
  return information(predictive(posterior, runs), p);
}

Planner::Planner(PlannerOptions options) : options_(std::move(options)) {
  std::sort(options_.run_counts.begin(), options_.run_counts.end());
  options_.run_counts.erase(std::unique(options_.run_counts.begin(), options_.run_counts.end()),
                            options_.run_counts.end());
  std::erase(options_.run_counts, 0U);
  if (options_.run_counts.empty()) options_.run_counts = {1};
  if (options_.reproduce_runs == 0) options_.reproduce_runs = 1;
}

Step Planner::plan(const Posterior& posterior, const std::vector<bool>& built) const {
  const CandidateDag& dag = posterior.dag();
  const CostModel& cost = options_.cost;
  const CommitIndex bad = dag.bad();

  if (posterior.total_fails() == 0) {
    // Nothing has failed yet: make sure the bug reproduces on the bad commit before trusting the
    // range. This also gives the first estimate of theta.
    Step step;
    step.commit = bad;
    step.runs = options_.reproduce_runs;
    step.cost = (built[bad] ? 0 : cost.build) + cost.boot + step.runs * cost.run;
    step.reproducing = true;
    return step;
  }

  const std::vector<double> bad_probability = posterior.bad_probabilities();
  const CommitIndex n = dag.size();
  const size_t nr = options_.run_counts.size();

  std::vector<Predictive> preds;
  std::vector<double> target(nr);
  preds.reserve(nr);
  for (size_t i = 0; i < nr; ++i) {
    preds.push_back(predictive(posterior, options_.run_counts[i]));
    target[i] = best_split(preds.back());
  }

  // For each batch size, the unbuilt commits whose P(bad) is nearest the best split from below and
  // from above; the lowest index wins among equals.
  std::vector<CommitIndex> below(nr, n), above(nr, n);
  std::vector<CommitIndex> built_list;
  for (CommitIndex x = 0; x < n; ++x) {
    if (posterior.evidence(x).skipped) continue;
    if (built[x]) {
      // A built commit is scored exactly even when it cannot move the culprit directly: runs there
      // still sharpen theta, which is what separates the remaining hypotheses late in a bisection.
      built_list.push_back(x);
      continue;
    }
    const double q = bad_probability[x];
    if (q <= kSplitEpsilon || q >= 1 - kSplitEpsilon) continue;
    for (size_t i = 0; i < nr; ++i) {
      if (q <= target[i]) {
        if (below[i] == n || q > bad_probability[below[i]]) below[i] = x;
      } else {
        if (above[i] == n || q < bad_probability[above[i]]) above[i] = x;
      }
    }
  }

  // Score the shortlist (built commits, and per batch size the two unbuilt commits nearest the
  // split) by the exact information about the culprit per unit cost.
  std::vector<CommitIndex> shortlist = built_list;
  for (size_t i = 0; i < nr; ++i) {
    if (below[i] != n) shortlist.push_back(below[i]);
    if (above[i] != n) shortlist.push_back(above[i]);
  }
  std::sort(shortlist.begin(), shortlist.end());
  shortlist.erase(std::unique(shortlist.begin(), shortlist.end()), shortlist.end());
  std::vector<std::vector<double>> bad_mass;
  bad_mass.reserve(shortlist.size());
  for (CommitIndex x : shortlist) bad_mass.push_back(class_bad_mass(posterior, x));

  const auto& opts = posterior.options();
  Step best;
  best.commit = n;
  double best_score = -1;
  std::vector<double> scratch;
  for (size_t i = 0; i < nr; ++i) {
    const uint32_t r = options_.run_counts[i];
    const auto class_preds = class_predictives(posterior, r, binomial_table(opts.theta.values, r),
                                         binomial_table(opts.eps.values, r));
    for (size_t s = 0; s < shortlist.size(); ++s) {
      const CommitIndex x = shortlist[s];
      const bool is_built = built[x];
      // Unbuilt commits are only worth their batch size's own split point.
      if (!is_built && x != below[i] && x != above[i]) continue;
      const double c = (is_built ? 0 : cost.build) + cost.boot + r * cost.run;
      const double info = exact_information(posterior, class_preds, bad_mass[s], r, scratch);
      if (info <= 0) continue;
      const double score = c > 0 ? info / c : info;
      // Strictly better wins; on equal score prefer the lower index, then fewer runs.
      const bool better = score > best_score * (1 + 1e-12) ||
                          (score >= best_score * (1 - 1e-12) &&
                           (x < best.commit || (x == best.commit && r < best.runs)));
      if (better) {
        best_score = score;
        best.commit = x;
        best.runs = r;
        best.information_bits = info;
        best.cost = c;
      }
    }
  }
  if (best.commit == n) {
    // No commit can split the mass (everything left is skipped): keep measuring the bad commit, which
    // sharpens theta but never moves the culprit. The engine's budget ends such a bisection.
    best.commit = bad;
    best.runs = options_.run_counts.front();
    best.cost = (built[bad] ? 0 : cost.build) + cost.boot + best.runs * cost.run;
  }
  return best;
}

}  // namespace flakebisect::model
