// Evidence: how stored runs and builds become observations for the model, rebuilt from the store
// the same way every time, so that a resumed bisection computes the same posterior.
//
// Rules (design.md, "Outcomes of one run"):
//   pass                          a pass
//   fail, crash, hang             a failure if test.failure_outcomes lists the outcome (a crash
//                                 also needs its signature to match test.signature when one is
//                                 set); otherwise not evidence: the run did not test our bug
//   skip (exit 125)               the commit is a skip
//   infra, interrupted            not evidence
//   a failed or skipped build     the commit is a skip
// Runs count whatever bisection recorded them, as long as their test identity is this bisection's
// (identity.h) and their commit is one of its candidates.
//
// Canonical order: evidence is summed per commit and handed to the posterior in candidate index
// order, so neither the order of the rows nor the way runs were batched can change the numbers.
//
// Thread rules: OutcomePolicy is immutable after from(); the functions are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "model/planner.h"
#include "model/posterior.h"
#include "store/records.h"

namespace flakebisect::engine {

enum class Observation { kPass, kFail, kSkip, kNone };

class OutcomePolicy {
 public:
  static base::Result<OutcomePolicy> from(const config::TestConfig& test);

  Observation classify(store::RunOutcome outcome,
                       const std::optional<std::string>& signature) const;

 private:
  bool fail_counts_ = true;
  bool crash_counts_ = true;
  bool hang_counts_ = false;
  std::optional<std::regex> signature_;
};

struct Evidence {
  std::vector<model::CommitEvidence> commits;  // per candidate index
  // Per candidate: every stored run at it with this identity, whatever its outcome. This is also
  // the index the next run there gets (FLAKEBISECT_RUN).
  std::vector<uint32_t> recorded_runs;
  uint64_t used_runs = 0;  // runs that became a pass or a failure
};

// Sums `runs` (rows of one test identity) per candidate; rows at other commits are ignored.
// build_failed[x]: the commit's tree has a failed or skipped build under the bisection's build key.
Evidence gather_evidence(const std::vector<store::RunRecord>& runs,
                         const std::unordered_map<std::string, model::CommitIndex>& index_of,
                         const std::vector<bool>& build_failed, const OutcomePolicy& policy);

// The model a bisection with these decision settings uses (every view of a bisection must compute
// the same posterior from the same store).
model::ModelOptions model_options(const config::DecisionConfig& decision);

// The planner's options from the decision settings: the configured costs and the noise build
// weight. The bisector then fits the run counts to its batches and boots.
model::PlannerOptions planner_options(const config::DecisionConfig& decision);

// Records `evidence` into a fresh posterior, in candidate index order.
void apply_evidence(const Evidence& evidence, model::Posterior& posterior);

}  // namespace flakebisect::engine
