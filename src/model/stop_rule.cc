#include "model/stop_rule.h"

namespace flakebisect::model {

Verdict evaluate_stop(const Posterior& posterior, const StopOptions& options) {
  if (posterior.total_fails() == 0) {
    const CommitEvidence& bad = posterior.evidence(posterior.dag().bad());
    if (bad.passes >= options.max_reproduce_runs) return Verdict::kNotReproduced;
  }
  if (posterior.options().no_regression_prior > 0 &&
      posterior.no_regression_probability() >= options.confidence) {
    return Verdict::kNotReproduced;
  }
  if (posterior.total_fails() > 0 && posterior.max_probability() >= options.confidence) {
    return Verdict::kFound;
  }
  return Verdict::kContinue;
}

}  // namespace flakebisect::model
