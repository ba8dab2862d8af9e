#include "model/planner.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <tuple>
#include <vector>

namespace flakebisect::model {

// What r runs at a bad commit with evidence will show, per theta (with a rate spread).
struct OwnRateRows {
  std::vector<double> pmf;      // [t * (r + 1) + k]
  std::vector<double> entropy;  // H(K | theta, data at x), bits
};

// Binomial pmfs of k failures in r runs for every grid rate and every batch size, computed once per
// grid: the planner runs after every single run, and lgamma/exp would otherwise dominate it.
struct Planner::BinomialTables {
  std::vector<double> theta_values;
  std::vector<double> eps_values;
  double rate_spread = 0;
  // With a rate spread: per batch size, the pmf of each (theta, multiplier) pair:
  // [(t * multipliers + j) * (r + 1) + k].
  std::vector<std::vector<double>> spread_pmf;
  // own_rate_rows by (fails, passes, batch size index); cleared when it grows large.
  mutable std::map<std::tuple<uint32_t, uint32_t, size_t>, OwnRateRows> own_rate_cache;
  std::vector<std::vector<double>> theta_pmf;  // per batch size: [rate * (r + 1) + k]
  std::vector<std::vector<double>> eps_pmf;
  std::vector<std::vector<double>> theta_entropy;  // per batch size: H(K | rate) per grid rate
  std::vector<std::vector<double>> eps_entropy;
};

namespace {

// P(bad) this close to 0 or 1 cannot split the mass.
constexpr double kSplitEpsilon = 1e-9;
// Classes lighter than this are left out of the information computation.
constexpr double kNegligibleMass = 1e-12;
// Theta grid values a class gives less than this are left out of its conditioned predictive (rate
// spread only; the mixing is the planner's inner loop there).
constexpr double kNegligibleTheta = 1e-9;

// Distributions of the number of failures in r runs at a commit that is bad / good.
struct Predictive {
  std::vector<double> bad;   // size r + 1
  std::vector<double> good;  // size r + 1
  double entropy_bad = 0;
  double entropy_good = 0;
  // E[H(K | theta)] / E[H(K | eps)] over the rate posterior: H(K | culprit, rates), for the
  // information about the rates.
  double rate_entropy_bad = 0;
  double rate_entropy_good = 0;
};

double entropy(const std::vector<double>& p) {
  double h = 0;
  for (double v : p) {
    if (v > 0) h -= v * std::log2(v);
  }
  return h;
}

// Entropy (bits) of each row of a pmf table with rows of r + 1 entries.
std::vector<double> row_entropies(const std::vector<double>& table, uint32_t r) {
  std::vector<double> h(table.size() / (r + 1), 0.0);
  for (size_t i = 0; i < h.size(); ++i) {
    for (uint32_t k = 0; k <= r; ++k) {
      const double v = table[i * (r + 1) + k];
      if (v > 0) h[i] -= v * std::log2(v);
    }
  }
  return h;
}

std::vector<double> binomial_pmfs(const std::vector<double>& rates, uint32_t r) {
  std::vector<double> table(rates.size() * (r + 1), 0.0);
  for (size_t i = 0; i < rates.size(); ++i) {
    double* row = &table[i * (r + 1)];
    const double rate = rates[i];
    if (rate <= 0) {
      row[0] = 1;
    } else if (rate >= 1) {
      row[r] = 1;
    } else {
      const double lr = std::log(rate);
      const double lq = std::log1p(-rate);
      for (uint32_t k = 0; k <= r; ++k) {
        const double log_choose =
            std::lgamma(r + 1.0) - std::lgamma(k + 1.0) - std::lgamma(r - k + 1.0);
        row[k] = std::exp(log_choose + k * lr + (r - k) * lq);
      }
    }
  }
  return table;
}

// The pmfs of a bad commit at each theta, for a commit nothing was seen at: with a rate spread,
// each is the mixture over the commit's own multiplier with its prior weights.
std::vector<double> bad_pmfs(const std::vector<double>& theta, const RateSpread& spread,
                             uint32_t r) {
  const size_t nu = spread.multipliers.size();
  if (nu == 1) return binomial_pmfs(theta, r);
  std::vector<double> table(theta.size() * (r + 1), 0.0);
  std::vector<double> rates(nu);
  for (size_t t = 0; t < theta.size(); ++t) {
    for (size_t j = 0; j < nu; ++j) rates[j] = spread.rate(theta[t], j);
    const std::vector<double> rows = binomial_pmfs(rates, r);
    for (size_t j = 0; j < nu; ++j)
      for (uint32_t k = 0; k <= r; ++k)
        table[t * (r + 1) + k] += spread.weights[j] * rows[j * (r + 1) + k];
  }
  return table;
}

// Mixes the per-rate pmfs of one batch size with the given rate masses.
Predictive mix(const std::vector<double>& theta_mass, const std::vector<double>& eps_mass,
               const std::vector<double>& theta_pmf, const std::vector<double>& eps_pmf,
               uint32_t r) {
  Predictive pred;
  pred.bad.assign(r + 1, 0.0);
  pred.good.assign(r + 1, 0.0);
  for (size_t t = 0; t < theta_mass.size(); ++t) {
    if (theta_mass[t] == 0) continue;
    const double* row = &theta_pmf[t * (r + 1)];
    for (uint32_t k = 0; k <= r; ++k) pred.bad[k] += theta_mass[t] * row[k];
  }
  for (size_t e = 0; e < eps_mass.size(); ++e) {
    if (eps_mass[e] == 0) continue;
    const double* row = &eps_pmf[e * (r + 1)];
    for (uint32_t k = 0; k <= r; ++k) pred.good[k] += eps_mass[e] * row[k];
  }
  pred.entropy_bad = entropy(pred.bad);
  pred.entropy_good = entropy(pred.good);
  return pred;
}

void rate_marginals(const std::vector<double>& joint, size_t ne, std::vector<double>& theta_mass,
                    std::vector<double>& eps_mass) {
  std::fill(theta_mass.begin(), theta_mass.end(), 0.0);
  std::fill(eps_mass.begin(), eps_mass.end(), 0.0);
  for (size_t g = 0; g < joint.size(); ++g) {
    theta_mass[g / ne] += joint[g];
    eps_mass[g % ne] += joint[g];
  }
}

// Information (bits) about "x is bad" from K when P(bad) = p and both sides use one predictive.
double split_information(const Predictive& pred, double p) {
  double h = 0;
  for (size_t k = 0; k < pred.bad.size(); ++k) {
    const double v = p * pred.bad[k] + (1 - p) * pred.good[k];
    if (v > 0) h -= v * std::log2(v);
  }
  return std::max(0.0, h - p * pred.entropy_bad - (1 - p) * pred.entropy_good);
}

// argmax over p in [0, 1] of split_information, which is concave in p.
double best_split(const Predictive& pred) {
  double lo = 0;
  double hi = 1;
  for (int i = 0; i < 50; ++i) {
    const double a = lo + (hi - lo) / 3;
    const double b = hi - (hi - lo) / 3;
    if (split_information(pred, a) < split_information(pred, b)) {
      lo = a;
    } else {
      hi = b;
    }
  }
  return (lo + hi) / 2;
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

// What r runs at x are expected to tell, in bits.
struct BatchValue {
  double culprit = 0;       // I(C; K): information about the culprit
  double rates = 0;         // I(theta, eps; K | C): information about the rates given the culprit
  double confirmation = 0;  // expected gain in log2-odds of the leading commit
};

// The leading commit, whose odds the confirmation term measures.
struct Leader {
  uint32_t cls = 0;  // its class
  double mass = 0;   // its posterior probability
};

// Each class predicts K with its own rate posterior, so a test every class agrees is bad still
// informs when classes disagree about theta (late in a bisection that is what separates the culprit
// from its neighbours).
//   culprit:      H(K) - sum_k P(k) H(K | k)
//   rates:        sum_k P(k) (H(K | k) - E[H(K | k, theta, eps)])
//   confirmation: E[log2 P(K | leader) - log2 P(K | not leader)]
//                 = D(P(K) || P(K | not leader)) - D(P(K) || P(K | leader))
BatchValue batch_value(const Posterior& posterior, const std::vector<Predictive>& preds,
                       const std::vector<double>& bad_mass, uint32_t r, const Leader& leader,
                       bool leader_bad, std::vector<double>& scratch) {
  const auto& classes = posterior.classes();
  scratch.assign(r + 1, 0.0);
  double conditional = 0;
  double rate_conditional = 0;
  double total = 0;
  for (size_t k = 0; k < classes.size(); ++k) {
    const double mass = classes[k].mass;
    if (mass < kNegligibleMass) continue;
    const Predictive& pred = preds[k];
    const double bad = std::min(bad_mass[k], mass);
    const double good = mass - bad;
    for (uint32_t j = 0; j <= r; ++j) scratch[j] += bad * pred.bad[j] + good * pred.good[j];
    conditional += bad * pred.entropy_bad + good * pred.entropy_good;
    rate_conditional += bad * pred.rate_entropy_bad + good * pred.rate_entropy_good;
    total += mass;
  }
  BatchValue value;
  if (total <= 0) return value;
  double h = 0;
  for (double v : scratch) {
    if (v > 0) h -= v / total * std::log2(v / total);
  }
  value.culprit = std::max(0.0, h - conditional / total);
  value.rates = std::max(0.0, (conditional - rate_conditional) / total);
  const double rest_mass = total - leader.mass;
  if (leader.mass > 0 && rest_mass > kNegligibleMass) {
    const std::vector<double>& lead = leader_bad ? preds[leader.cls].bad : preds[leader.cls].good;
    for (uint32_t j = 0; j <= r; ++j) {
      const double rest = (scratch[j] - leader.mass * lead[j]) / rest_mass;
      // An outcome the leader rules out would end its lead; one only it allows is bounded by the
      // other outcomes' terms. Both are left out (0 log 0).
      if (scratch[j] <= 0 || rest <= 0 || lead[j] <= 0) continue;
      value.confirmation += scratch[j] / total * (std::log2(lead[j]) - std::log2(rest));
    }
    value.confirmation = std::max(0.0, value.confirmation);
  }
  return value;
}

// With a rate spread, each bad commit fails at theta times its own multiplier, and runs at x teach
// mostly about x's multiplier. The class predictives (made for a commit nothing was seen at) would
// keep promising that more runs at x tell classes apart by theta, and the planner would run there
// forever. So at a commit with evidence the bad side of each class's predictive is conditioned on
// that evidence:
//   P(K | bad, theta, data at x) = sum_j P(j | theta, data at x) B(K | r, theta u_j),
//   P(j | theta, data at x) ~ w_j (theta u_j)^f_x (1 - theta u_j)^p_x.
// The class's posterior over theta already includes x's runs (with u_x integrated out), so this is
// the model's exact predictive.
//
// own_rate_rows: per theta, P(K | bad, theta, data at x) and its entropy. It depends only on x's
// counts, so the planner caches it.
OwnRateRows own_rate_rows(const std::vector<double>& pair_pmf, const std::vector<double>& theta,
                          const RateSpread& spread, uint32_t fails, uint32_t passes, uint32_t r) {
  const size_t nt = theta.size();
  const size_t nu = spread.multipliers.size();
  OwnRateRows rows;
  rows.pmf.assign(nt * (r + 1), 0.0);
  std::vector<double> w(nu);
  for (size_t t = 0; t < nt; ++t) {
    double top = -std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < nu; ++j) {
      w[j] = spread.log_term(theta[t], j, fails, passes);
      top = std::max(top, w[j]);
    }
    // This theta cannot explain x's runs (its class mass is 0): an all-zero row.
    if (top == -std::numeric_limits<double>::infinity()) continue;
    double total = 0;
    for (size_t j = 0; j < nu; ++j) total += w[j] = std::exp(w[j] - top);
    double* row = &rows.pmf[t * (r + 1)];
    for (size_t j = 0; j < nu; ++j) {
      if (w[j] == 0) continue;
      const double* src = &pair_pmf[(t * nu + j) * (r + 1)];
      for (uint32_t k = 0; k <= r; ++k) row[k] += w[j] / total * src[k];
    }
  }
  rows.entropy = row_entropies(rows.pmf, r);
  return rows;
}

// Each class's predictive with the bad side replaced by the one conditioned on x's evidence. Only
// classes in which x is bad (bad_mass) or that lead (their bad side scores the confirmation) need
// it; the others keep the class predictive, whose bad side nothing reads. out is reused between
// calls so its vectors keep their capacity.
void condition_on_commit(const std::vector<Predictive>& class_preds,
                         const std::vector<std::vector<double>>& class_theta,
                         const std::vector<double>& bad_mass, uint32_t leader,
                         const OwnRateRows& rows, uint32_t r, std::vector<Predictive>& out) {
  out.resize(class_preds.size());
  for (size_t c = 0; c < out.size(); ++c) {
    if (class_theta[c].empty()) continue;  // a negligible class: batch_value skips it
    Predictive& pred = out[c];
    pred.good = class_preds[c].good;
    pred.entropy_good = class_preds[c].entropy_good;
    pred.rate_entropy_good = class_preds[c].rate_entropy_good;
    if (bad_mass[c] <= 0 && c != leader) {
      pred.bad = class_preds[c].bad;
      pred.entropy_bad = class_preds[c].entropy_bad;
      pred.rate_entropy_bad = class_preds[c].rate_entropy_bad;
      continue;
    }
    pred.bad.assign(r + 1, 0.0);
    pred.rate_entropy_bad = 0;
    double* bad = pred.bad.data();
    for (size_t t = 0; t < class_theta[c].size(); ++t) {
      // Theta values the class has all but ruled out change nothing a score can see.
      const double m = class_theta[c][t];
      if (m < kNegligibleTheta) continue;
      const double* row = &rows.pmf[t * (r + 1)];
      for (uint32_t k = 0; k <= r; ++k) bad[k] += m * row[k];
      pred.rate_entropy_bad += m * rows.entropy[t];
    }
    pred.entropy_bad = entropy(pred.bad);
  }
}

}  // namespace

Planner::Planner(PlannerOptions options) : options_(std::move(options)) {
  auto& counts = options_.run_counts;
  std::erase(counts, 0U);
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  if (counts.empty()) counts = {1};
  if (options_.reproduce_runs == 0) options_.reproduce_runs = 1;
}

Planner::~Planner() = default;
Planner::Planner(Planner&&) noexcept = default;
Planner& Planner::operator=(Planner&&) noexcept = default;

const Planner::BinomialTables& Planner::tables(const ModelOptions& model) const {
  if (!tables_ || tables_->theta_values != model.theta.values ||
      tables_->eps_values != model.eps.values || tables_->rate_spread != model.rate_spread) {
    auto t = std::make_unique<BinomialTables>();
    t->theta_values = model.theta.values;
    t->eps_values = model.eps.values;
    t->rate_spread = model.rate_spread;
    const RateSpread spread = RateSpread::of(model.rate_spread);
    std::vector<double> pair_rates;
    if (spread.multipliers.size() > 1) {
      for (double theta : t->theta_values)
        for (size_t j = 0; j < spread.multipliers.size(); ++j)
          pair_rates.push_back(spread.rate(theta, j));
    }
    for (uint32_t r : options_.run_counts) {
      t->theta_pmf.push_back(bad_pmfs(t->theta_values, spread, r));
      if (!pair_rates.empty()) t->spread_pmf.push_back(binomial_pmfs(pair_rates, r));
      t->eps_pmf.push_back(binomial_pmfs(t->eps_values, r));
      t->theta_entropy.push_back(row_entropies(t->theta_pmf.back(), r));
      t->eps_entropy.push_back(row_entropies(t->eps_pmf.back(), r));
    }
    tables_ = std::move(t);
  }
  return *tables_;
}

CostModel Planner::costs_now(const Posterior& posterior, const std::vector<bool>& built) const {
  CostModel cost = options_.cost;
  if (options_.rare_build_weight > 0 && posterior.total_fails() > 0) {
    // E[1 / theta]: the runs a bad commit takes, on average, to fail once (theta's grid values
    // above 1 are 1). Before the first failure the planner only reproduces, and the posterior over
    // theta has seen no failure to go by.
    const ModelOptions& model = posterior.options();
    std::vector<double> theta_mass(model.theta.values.size());
    std::vector<double> eps_mass(model.eps.values.size());
    rate_marginals(posterior.rate_posterior(), eps_mass.size(), theta_mass, eps_mass);
    double runs_to_fail = 0;
    double mass = 0;
    for (size_t t = 0; t < theta_mass.size(); ++t) {
      runs_to_fail += theta_mass[t] / std::min(1.0, model.theta.values[t]);
      mass += theta_mass[t];
    }
    if (mass > 0) {
      cost.build =
          std::max(cost.build, options_.rare_build_weight * runs_to_fail / mass * cost.run);
    }
  }
  if (options_.noise_build_weight <= 0) return cost;
  // Runs per build: the median over the built commits (the upper one for an even count), not the
  // mean, so that runs piling up at fewer than half of the built commits while no build happens
  // do not move the charge. Early in a search, with three or four commits built, that is a weak
  // guarantee (docs/benchmark.md, "Experiments that did not stay").
  std::vector<uint64_t> runs;
  for (CommitIndex x = 0; x < built.size(); ++x) {
    if (!built[x]) continue;
    const CommitEvidence& evidence = posterior.evidence(x);
    runs.push_back(uint64_t{evidence.fails} + evidence.passes);
  }
  if (runs.empty()) return cost;
  const auto middle = runs.begin() + static_cast<std::ptrdiff_t>(runs.size() / 2);
  std::nth_element(runs.begin(), middle, runs.end());
  const auto runs_per_build = static_cast<double>(*middle);
  const std::vector<double>& eps = posterior.options().eps.values;
  const std::vector<double> eps_mass = posterior.eps_marginal();
  double false_failures = 0;  // P(eps > 0)
  for (size_t e = 0; e < eps.size(); ++e) {
    if (eps[e] > 0) false_failures += eps_mass[e];
  }
  cost.build = std::max(cost.build,
                        options_.noise_build_weight * runs_per_build * false_failures * cost.run);
  return cost;
}

Step Planner::plan(const Posterior& posterior, const std::vector<bool>& built,
                   std::optional<CommitIndex> checked_out) const {
  const CandidateDag& dag = posterior.dag();
  const CostModel cost = costs_now(posterior, built);
  const CommitIndex bad = dag.bad();
  const CommitIndex n = dag.size();
  // A build made before costs its build again when it is not kept and another commit is checked
  // out: the cost model's, not raised by the weights, which are about the commits never built.
  auto build_cost = [&](CommitIndex x) {
    if (!built[x]) return cost.build;
    return options_.builds_kept || checked_out == x ? 0.0 : options_.cost.build;
  };
  auto step_cost = [&](CommitIndex x, uint32_t r) {
    return build_cost(x) + cost.boot + r * cost.run;
  };

  if (posterior.total_fails() == 0) {
    // Nothing has failed yet: make sure the bug reproduces on the bad commit before trusting the
    // range. This also gives the first estimate of theta.
    Step step;
    step.commit = bad;
    step.runs = options_.reproduce_runs;
    step.cost = step_cost(bad, step.runs);
    step.reproducing = true;
    return step;
  }

  const ModelOptions& model = posterior.options();
  const BinomialTables& tab = tables(model);
  const size_t nt = model.theta.values.size();
  const size_t ne = model.eps.values.size();
  const size_t nr = options_.run_counts.size();
  const std::vector<double> bad_probability = posterior.bad_probabilities();
  const auto& classes = posterior.classes();

  // Per batch size: the global predictive (to find the best split point for unbuilt commits) and
  // each class's own predictive (to score the shortlist exactly).
  std::vector<double> theta_mass(nt), eps_mass(ne);
  std::vector<double> target(nr);
  std::vector<std::vector<Predictive>> class_preds(nr);
  std::vector<std::vector<double>> class_theta(classes.size());  // theta marginal per class
  rate_marginals(posterior.rate_posterior(), ne, theta_mass, eps_mass);
  for (size_t i = 0; i < nr; ++i) {
    const uint32_t r = options_.run_counts[i];
    target[i] = best_split(mix(theta_mass, eps_mass, tab.theta_pmf[i], tab.eps_pmf[i], r));
  }
  for (size_t k = 0; k < classes.size(); ++k) {
    if (classes[k].mass < kNegligibleMass) continue;
    rate_marginals(classes[k].rates, ne, theta_mass, eps_mass);
    class_theta[k] = theta_mass;
    for (size_t i = 0; i < nr; ++i) {
      class_preds[i].resize(classes.size());
      Predictive& pred = class_preds[i][k];
      pred = mix(theta_mass, eps_mass, tab.theta_pmf[i], tab.eps_pmf[i], options_.run_counts[i]);
      for (size_t t = 0; t < nt; ++t)
        pred.rate_entropy_bad += theta_mass[t] * tab.theta_entropy[i][t];
      for (size_t e = 0; e < ne; ++e) pred.rate_entropy_good += eps_mass[e] * tab.eps_entropy[i][e];
    }
  }

  // Shortlist: every built commit (runs there are cheap and sharpen theta even when they cannot
  // move the culprit directly) and, per batch size, the unbuilt commits whose P(bad) is nearest the
  // best split from below and from above (the lowest index among equals).
  std::vector<CommitIndex> below(nr, n), above(nr, n);
  std::vector<CommitIndex> shortlist;
  for (CommitIndex x = 0; x < n; ++x) {
    if (posterior.evidence(x).skipped) continue;
    if (built[x]) {
      shortlist.push_back(x);
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
  for (size_t i = 0; i < nr; ++i) {
    if (below[i] != n) shortlist.push_back(below[i]);
    if (above[i] != n) shortlist.push_back(above[i]);
  }
  std::sort(shortlist.begin(), shortlist.end());
  shortlist.erase(std::unique(shortlist.begin(), shortlist.end()), shortlist.end());

  Step best;
  best.commit = n;
  double best_score = -1;
  std::vector<double> scratch;
  const CommitIndex leader_commit = posterior.most_likely();
  const Leader leader{posterior.class_of()[leader_commit], posterior.max_probability()};
  const RateSpread spread = RateSpread::of(model.rate_spread);
  std::vector<Predictive> conditioned;
  for (CommitIndex x : shortlist) {
    const std::vector<double> bad_mass = class_bad_mass(posterior, x);
    const bool leader_bad = dag.is_ancestor_or_self(leader_commit, x);
    const CommitEvidence& ev = posterior.evidence(x);
    const bool own_rate = !tab.spread_pmf.empty() && ev.fails + ev.passes > 0;
    for (size_t i = 0; i < nr; ++i) {
      // An unbuilt commit is only worth scoring at the batch sizes it is a split point for.
      if (!built[x] && x != below[i] && x != above[i]) continue;
      const uint32_t r = options_.run_counts[i];
      const double c = step_cost(x, r);
      if (own_rate) {
        auto& cache = tab.own_rate_cache;
        if (cache.size() > 4096) cache.clear();
        auto [it, fresh] = cache.try_emplace({ev.fails, ev.passes, i});
        if (fresh) {
          it->second =
              own_rate_rows(tab.spread_pmf[i], model.theta.values, spread, ev.fails, ev.passes, r);
        }
        condition_on_commit(class_preds[i], class_theta, bad_mass, leader.cls, it->second, r,
                            conditioned);
      }
      const BatchValue value = batch_value(posterior, own_rate ? conditioned : class_preds[i],
                                           bad_mass, r, leader, leader_bad, scratch);
      // Only a test that can move the culprit is a candidate: the other terms weigh tests, they
      // never keep a bisection going that nothing can advance.
      const double info = value.culprit;
      if (info <= 0) continue;
      const double worth = info + options_.rate_information_weight * value.rates +
                           options_.confirmation_weight * value.confirmation;
      const double score = c > 0 ? worth / c : worth;
      // Strictly better wins; ties go to the lower index, then to fewer runs (x ascends).
      if (score > best_score * (1 + 1e-12)) {
        best_score = score;
        best.commit = x;
        best.runs = r;
        best.information_bits = info;
        best.cost = c;
      }
    }
  }
  if (best.commit == n) {
    // Nothing left can be learned: everything that could split the mass is skipped.
    best.commit = bad;
    best.runs = options_.run_counts.front();
    best.cost = step_cost(bad, best.runs);
    best.exhausted = true;
  }
  return best;
}

double expected_information(const Posterior& posterior, double p, uint32_t runs) {
  const ModelOptions& model = posterior.options();
  const size_t ne = model.eps.values.size();
  std::vector<double> theta_mass(model.theta.values.size()), eps_mass(ne);
  rate_marginals(posterior.rate_posterior(), ne, theta_mass, eps_mass);
  return split_information(
      mix(theta_mass, eps_mass,
          bad_pmfs(model.theta.values, RateSpread::of(model.rate_spread), runs),
          binomial_pmfs(model.eps.values, runs), runs),
      p);
}

}  // namespace flakebisect::model
