#include "engine/evidence.h"

#include <algorithm>

namespace flakebisect::engine {

base::Result<OutcomePolicy> OutcomePolicy::from(const config::TestConfig& test) {
  OutcomePolicy policy;
  const auto& listed = test.failure_outcomes;
  const auto lists = [&](std::string_view name) {
    return std::find(listed.begin(), listed.end(), name) != listed.end();
  };
  policy.fail_counts_ = lists("fail");
  policy.crash_counts_ = lists("crash");
  policy.hang_counts_ = lists("hang");
  if (test.signature) {
    try {
      policy.signature_.emplace(*test.signature, std::regex::ECMAScript);
    } catch (const std::regex_error& error) {
      return base::make_error(base::ErrorCode::kInvalidInput,
                              "test.signature: not a valid regular expression: {}", error.what());
    }
  }
  return policy;
}

std::optional<std::string> OutcomePolicy::matching_title(
    const std::optional<std::string>& signature,
    const std::vector<std::string>& crash_titles) const {
  if (!signature_) {
    return std::nullopt;
  }
  if (signature && std::regex_search(*signature, *signature_)) {
    return signature;
  }
  for (const std::string& title : crash_titles) {
    // The signature is normally the first title too: no need to search it twice.
    if (title != signature && std::regex_search(title, *signature_)) {
      return title;
    }
  }
  return std::nullopt;
}

Observation OutcomePolicy::classify(store::RunOutcome outcome,
                                    const std::optional<std::string>& signature,
                                    const std::vector<std::string>& crash_titles,
                                    std::optional<store::RunOutcome> test_outcome) const {
  using store::RunOutcome;
  switch (outcome) {
    case RunOutcome::kPass:
      return Observation::kPass;
    case RunOutcome::kFail:
      return fail_counts_ ? Observation::kFail : Observation::kNone;
    case RunOutcome::kCrash:
      // Any report of the run may be ours: an unrelated WARNING often comes first.
      if (crash_counts_ && (!signature_ || matching_title(signature, crash_titles))) {
        return Observation::kFail;
      }
      // Somebody else's crash, or crashes do not count: what the reproducer said, if it got to
      // its end (a data mismatch beside an unrelated WARNING is still the bug's failure).
      if (test_outcome == RunOutcome::kPass || test_outcome == RunOutcome::kFail ||
          test_outcome == RunOutcome::kSkip) {
        return classify(*test_outcome, std::nullopt, {});
      }
      return Observation::kNone;
    case RunOutcome::kHang:
      return hang_counts_ ? Observation::kFail : Observation::kNone;
    case RunOutcome::kSkip:
      return Observation::kSkip;
    case RunOutcome::kInfra:
    case RunOutcome::kInterrupted:
      return Observation::kNone;
  }
  return Observation::kNone;
}

bool counts_as_unjudged(store::RunOutcome outcome, const std::vector<std::string>& crash_titles,
                        bool bad_commit) {
  // Not a plain failure that test.failure_outcomes leaves out: the test ran to its end there, and
  // a bug that shows as a counted crash in a few of such runs must keep its commits testable.
  return outcome == store::RunOutcome::kCrash || outcome == store::RunOutcome::kHang ||
         (outcome == store::RunOutcome::kInfra && !crash_titles.empty() && !bad_commit);
}

model::ModelOptions model_options(const config::DecisionConfig& decision) {
  model::ModelOptions options;
  options.theta =
      model::theta_grid(decision.theta_min, model::kThetaGridPoints, decision.rate_spread);
  options.no_regression_prior = decision.no_regression_prior;
  options.rate_spread = decision.rate_spread;
  options.min_rate_ratio = decision.min_rate_ratio;
  return options;
}

model::PlannerOptions planner_options(const config::DecisionConfig& decision) {
  model::PlannerOptions options;
  options.cost = {decision.build_cost, decision.boot_cost, decision.run_cost};
  options.noise_build_weight = decision.noise_build_weight;
  options.rare_build_weight = decision.rare_build_weight;
  return options;
}

Evidence gather_evidence(const std::vector<store::RunRecord>& runs,
                         const std::unordered_map<std::string, model::CommitIndex>& index_of,
                         const std::vector<bool>& build_failed, const OutcomePolicy& policy,
                         model::CommitIndex bad) {
  Evidence evidence;
  evidence.commits.resize(build_failed.size());
  evidence.recorded_runs.assign(build_failed.size(), 0);
  evidence.unjudged_runs.assign(build_failed.size(), 0);
  for (size_t x = 0; x < build_failed.size(); ++x) {
    evidence.commits[x].skipped = build_failed[x];
  }
  for (const store::RunRecord& run : runs) {
    const auto it = index_of.find(run.sha);
    if (it == index_of.end()) {
      continue;
    }
    const model::CommitIndex x = it->second;
    ++evidence.recorded_runs[x];
    switch (policy.classify(run.outcome, run.signature, run.crash_titles, run.test_outcome)) {
      case Observation::kPass:
        ++evidence.commits[x].passes;
        ++evidence.used_runs;
        break;
      case Observation::kFail:
        ++evidence.commits[x].fails;
        ++evidence.used_runs;
        break;
      case Observation::kSkip:
        evidence.commits[x].skipped = true;
        break;
      case Observation::kNone:
        evidence.unjudged_runs[x] += counts_as_unjudged(run.outcome, run.crash_titles, x == bad);
        break;
    }
  }
  for (size_t x = 0; x < evidence.commits.size(); ++x) {
    model::CommitEvidence& e = evidence.commits[x];
    if (unjudged_make_a_skip(evidence.unjudged_runs[x], e.passes + e.fails, x == bad)) {
      e.skipped = true;
    }
  }
  return evidence;
}

void apply_evidence(const Evidence& evidence, model::Posterior& posterior) {
  for (model::CommitIndex x = 0; x < evidence.commits.size(); ++x) {
    const model::CommitEvidence& e = evidence.commits[x];
    if (e.fails > 0 || e.passes > 0) {
      posterior.record(x, e.fails, e.passes);
    }
    if (e.skipped) {
      posterior.mark_skipped(x);
    }
  }
}

}  // namespace flakebisect::engine
