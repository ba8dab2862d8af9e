#include "model/stop_rule.h"

#include <cstddef>
#include <vector>

namespace flakebisect::model {
namespace {

// Whether a run at some testable commit would find part of the set bad and part of it good.
bool testable_commit_splits(const Posterior& posterior, const std::vector<CommitIndex>& set) {
  const CandidateDag& dag = posterior.dag();
  for (CommitIndex x = 0; x < dag.size(); ++x) {
    if (posterior.evidence(x).skipped) continue;
    size_t bad = 0;
    for (CommitIndex c : set) bad += dag.is_ancestor_or_self(c, x) ? 1 : 0;
    if (bad > 0 && bad < set.size()) return true;
  }
  return false;
}

}  // namespace

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
  // A set that some testable commit splits is not that yet: skipped commits on both sides of a
  // commit that can still run (the credible set takes the most probable commits first, whatever
  // lies between them).
  const auto set = posterior.credible_set(threshold);
  size_t testable = 0;
  for (CommitIndex c : set) testable += posterior.evidence(c).skipped ? 0 : 1;
  if (testable <= 1 && !testable_commit_splits(posterior, set)) return Verdict::kFoundSet;
  return Verdict::kContinue;
}

}  // namespace flakebisect::model
