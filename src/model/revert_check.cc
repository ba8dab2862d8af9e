#include "model/revert_check.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/log_math.h"

namespace flakebisect::model {
namespace {

double log_sum_exp(const std::vector<double>& values) {
  return model::log_sum_exp(values.data(), values.size());
}

}  // namespace

double revert_fixed_probability(const Posterior& posterior, uint32_t fails, uint32_t passes,
                                double prior_fixed) {
  const ModelOptions& options = posterior.options();
  const std::vector<double>& joint = posterior.rate_posterior();
  const size_t ne = options.eps.values.size();
  const RateSpread spread = RateSpread::of(options.rate_spread);
  std::vector<double> fixed;
  std::vector<double> still;
  std::vector<double> terms(spread.multipliers.size());
  for (size_t g = 0; g < joint.size(); ++g) {
    if (!(joint[g] > 0)) continue;
    const double log_w = std::log(joint[g]);
    fixed.push_back(log_w + log_binomial_kernel(options.eps.values[g % ne], fails, passes));
    const double theta = options.theta.values[g / ne];
    for (size_t j = 0; j < terms.size(); ++j) terms[j] = spread.log_term(theta, j, fails, passes);
    still.push_back(log_w + log_sum_exp(terms));
  }
  const double log_fixed = log_sum_exp(fixed);
  const double log_still = log_sum_exp(still);
  if (log_fixed == kNegInf && log_still == kNegInf) return prior_fixed;  // nothing explains it
  if (log_fixed == kNegInf || prior_fixed <= 0) return 0;
  if (log_still == kNegInf || prior_fixed >= 1) return 1;
  // 1 / (1 + prior odds of still * L_still / L_fixed), without overflow either way.
  return 1 /
         (1 + std::exp(std::log1p(-prior_fixed) - std::log(prior_fixed) + log_still - log_fixed));
}

RevertVerdict evaluate_revert(const Posterior& posterior, uint32_t fails, uint32_t passes,
                              double threshold, double culprit_confidence) {
  if (revert_fixed_probability(posterior, fails, passes) >= threshold) {
    return RevertVerdict::kFixed;
  }
  const double prior = std::clamp(culprit_confidence, 0.5, 1.0);
  if (1 - revert_fixed_probability(posterior, fails, passes, prior) >= threshold) {
    return RevertVerdict::kStillBad;
  }
  return RevertVerdict::kContinue;
}

uint32_t revert_runs_to_decide(const Posterior& posterior, uint32_t fails, uint32_t passes,
                               double threshold, uint32_t cap) {
  if (cap == 0) return 0;
  // P(fixed) grows with every pass wherever theta * u stays above eps, which min_rate_ratio >= 1
  // ensures for u = 1; the spread's lowest multipliers can fall below eps, and then P(fixed) may
  // dip (by less than 0.01 in a scan of 2880 posteriors, only at min_rate_ratio 1 and spread 1).
  // So the count found by bisection is the least sufficient one wherever it is monotone, and
  // otherwise only a batch size: the engine checks the verdict after every run anyway.
  if (revert_fixed_probability(posterior, fails, passes + cap) < threshold) return cap;
  uint32_t low = 1;
  uint32_t high = cap;
  while (low < high) {
    const uint32_t mid = low + (high - low) / 2;
    if (revert_fixed_probability(posterior, fails, passes + mid) >= threshold) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return low;
}

}  // namespace flakebisect::model
