#include "model/stop_rule.h"

namespace flakebisect::model {

double stop_threshold(const StopOptions& options) {
  return 1 - (1 - options.confidence) * options.error_margin;
}

Verdict evaluate_stop(const Posterior& posterior, const StopOptions& options) {
  const double threshold = stop_threshold(options);
  if (posterior.total_fails() == 0) {
    const CommitEvidence& bad = posterior.evidence(posterior.dag().bad());
    if (bad.passes >= options.max_reproduce_runs) return Verdict::kNotReproduced;
  }
  if (posterior.options().no_regression_prior > 0 &&
      posterior.no_regression_probability() >= threshold) {
    return Verdict::kNotReproduced;
  }
  if (posterior.total_fails() == 0) return Verdict::kContinue;
  if (posterior.max_probability() >= threshold) return Verdict::kFound;
  // Skipped commits can never be told apart from each other or from their one testable neighbour.
  const auto set = posterior.credible_set(threshold);
  size_t testable = 0;
  for (CommitIndex c : set) testable += posterior.evidence(c).skipped ? 0 : 1;
  if (testable <= 1) return Verdict::kFoundSet;
  return Verdict::kContinue;
}

}  // namespace flakebisect::model
