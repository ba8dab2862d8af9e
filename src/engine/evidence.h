// Evidence: how stored runs and builds become observations for the model, rebuilt from the store
// the same way every time, so that a resumed bisection computes the same posterior.
//
// Rules (design.md, "Outcomes of one run"):
//   pass                          a pass
//   fail, crash, hang             a failure if test.failure_outcomes lists the outcome (a crash
//                                 also needs one of its titles, the signature or any of its
//                                 crash_titles, to match test.signature when one is set);
//                                 otherwise not evidence: the run did not test our bug
//   skip (exit 125)               the commit is a skip
//   infra, interrupted            not evidence
//   a failed or skipped build     the commit is a skip
//   unjudged runs piling up       the commit is a skip: kUnjudgedPerJudged runs that are not
//                                 evidence (a hang, a crash that does not count, or a boot of
//                                 the commit's own kernel that crashed before the test; not a
//                                 plain failure left out, other infra or an interrupted run) for
//                                 each pass or failure plus one (at least kMinUnjudged), as a
//                                 commit whose kernel never reaches the test hangs every time;
//                                 without this rule the
//                                 planner, learning nothing there, would run it for ever
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

// Unjudged runs (Observation::kNone from a hang or a crash the policy leaves out) per
// judged one, plus one, after which a commit is a skip (see the rules above), and never before
// kMinUnjudged of them (kMinUnjudgedAtBad at the bad commit, where a skip ends the bisection as not
// reproduced): a bug that shows in a third of the runs among hangs must not lose its commits to a
// run of bad luck (0.7^8 = 6%, 0.7^20 = 0.08%).
inline constexpr uint32_t kUnjudgedPerJudged = 5;
inline constexpr uint32_t kMinUnjudged = 8;
inline constexpr uint32_t kMinUnjudgedAtBad = 20;

// Whether a commit with these runs is a skip by that rule.
inline bool unjudged_make_a_skip(uint32_t unjudged, uint32_t judged, bool bad_commit) {
  return unjudged >= (bad_commit ? kMinUnjudgedAtBad : kMinUnjudged) &&
         uint64_t{unjudged} >= uint64_t{kUnjudgedPerJudged} * (uint64_t{judged} + 1);
}

class OutcomePolicy {
 public:
  static base::Result<OutcomePolicy> from(const config::TestConfig& test);

  // `signature`, `crash_titles` and `test_outcome` as in store::RunRecord: the first crash title
  // and every one of the run's (empty for runs stored before schema 6, which thus match by
  // signature alone), and for a crash the reproducer's own verdict. A crash that is not the bug
  // (crash left out of test.failure_outcomes, or no title matching test.signature) counts as that
  // verdict when there is one (a failure only if test.failure_outcomes counts "fail"), else as
  // nothing.
  Observation classify(store::RunOutcome outcome, const std::optional<std::string>& signature,
                       const std::vector<std::string>& crash_titles,
                       std::optional<store::RunOutcome> test_outcome = std::nullopt) const;

  // The first of `signature`, then `crash_titles`, that test.signature matches: the report a run
  // counted for, to show as its title. nullopt when test.signature is unset or none matches.
  std::optional<std::string> matching_title(const std::optional<std::string>& signature,
                                            const std::vector<std::string>& crash_titles) const;

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
  // Per candidate: runs that were neither evidence nor infra, interrupted or a skip (a hang or a
  // crash that does not count).
  std::vector<uint32_t> unjudged_runs;
  uint64_t used_runs = 0;  // runs that became a pass or a failure

  // Of used_runs, those that became a failure: until one has, every rate and culprit
  // probability is the prior's.
  uint64_t failures() const {
    uint64_t n = 0;
    for (const model::CommitEvidence& commit : commits) n += commit.fails;
    return n;
  }
};

// Whether a run that is not evidence counts toward unjudged_make_a_skip: a hang or a crash the
// policy leaves out (another signature), and, except at the bad commit, an infra run with crash
// titles, which the runner gives only when a kernel built from the commit panicked before the
// guest was ready (run/qemu_runner.cc: the commit's kernel does not boot); not a plain failure
// the policy leaves out (the test ran to its end), other infra or an interrupted run. At the bad
// commit, tested first, such a boot is infra like any other: a panic there at every boot may be
// the host's (a broken initramfs), and five in a row pause the bisection, which a resume can take
// up once it is mended, instead of ending it as not reproduced.
bool counts_as_unjudged(store::RunOutcome outcome, const std::vector<std::string>& crash_titles,
                        bool bad_commit);

// Sums `runs` (rows of one test identity) per candidate; rows at other commits are ignored.
// build_failed[x]: the commit's tree has a failed or skipped build under the bisection's build key.
// `bad`: the bad commit's index, for unjudged_make_a_skip().
Evidence gather_evidence(const std::vector<store::RunRecord>& runs,
                         const std::unordered_map<std::string, model::CommitIndex>& index_of,
                         const std::vector<bool>& build_failed, const OutcomePolicy& policy,
                         model::CommitIndex bad);

// The model a bisection with these decision settings uses (every view of a bisection must compute
// the same posterior from the same store).
model::ModelOptions model_options(const config::DecisionConfig& decision);

// The planner's options from the decision settings: the configured costs and the noise build
// weight. The bisector then fits the run counts to its batches and boots.
model::PlannerOptions planner_options(const config::DecisionConfig& decision);

// Records `evidence` into a fresh posterior, in candidate index order.
void apply_evidence(const Evidence& evidence, model::Posterior& posterior);

}  // namespace flakebisect::engine
