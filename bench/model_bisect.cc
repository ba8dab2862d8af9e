#include "model_bisect.h"

#include <fmt/core.h>
#include <time.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "model/revert_check.h"

namespace flakebisect::bench {

namespace {

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

// Evidence gathered since the last decision, recorded at the start of the next one so that its cost
// (the lazy posterior update) is timed with that decision.
struct Pending {
  std::optional<CommitIndex> skipped;
  std::optional<CommitIndex> tested;
  uint32_t fails = 0;
  uint32_t passes = 0;
};

void revert_check(const model::Posterior& posterior, Lab& lab, const ModelBisectOptions& options,
                  CommitIndex culprit, Answer& answer) {
  const double threshold = model::stop_threshold(options.stop);
  uint32_t fails = 0;
  uint32_t passes = 0;
  while (true) {
    switch (
        model::evaluate_revert(posterior, fails, passes, threshold, posterior.max_probability())) {
      case model::RevertVerdict::kFixed:
        answer.revert_check = RevertCheckVerdict::kPass;
        return;
      case model::RevertVerdict::kStillBad:
        answer.revert_check = RevertCheckVerdict::kFail;
        return;
      case model::RevertVerdict::kContinue:
        break;
    }
    if (answer.revert_check_runs >= options.revert_check_max_runs) {
      answer.revert_check = RevertCheckVerdict::kInconclusive;
      return;
    }
    ++answer.revert_check_runs;
    if (lab.run_revert(culprit) == RunOutcome::kFail) {
      ++fails;
    } else {
      ++passes;
    }
  }
}

// Runs the good end until the verify check decides; its verdict and runs go into `answer`.
void verify_check(const model::Posterior& posterior, Lab& lab, const ModelBisectOptions& options,
                  Answer& answer) {
  const double threshold = model::stop_threshold(options.stop);
  uint32_t fails = 0;
  uint32_t passes = 0;
  while (true) {
    switch (model::evaluate_revert(posterior, fails, passes, threshold, model::kGoodEndPrior)) {
      case model::RevertVerdict::kFixed:
        answer.verify_check = RevertCheckVerdict::kPass;
        return;
      case model::RevertVerdict::kStillBad:
        // The regression is at or before the good end: nobody in the range is named, and the
        // claim is that the good end is bad.
        answer.verify_check = RevertCheckVerdict::kFail;
        answer.culprit.reset();
        answer.confidence =
            1 - model::revert_fixed_probability(posterior, fails, passes, model::kGoodEndPrior);
        return;
      case model::RevertVerdict::kContinue:
        break;
    }
    if (answer.verify_check_runs >= options.verify_check_max_runs) {
      answer.verify_check = RevertCheckVerdict::kInconclusive;
      return;
    }
    ++answer.verify_check_runs;
    if (lab.run_good_end() == RunOutcome::kFail) {
      ++fails;
    } else {
      ++passes;
    }
  }
}

}  // namespace

Answer model_bisect(const CandidateDag& dag, Lab& lab, const ModelBisectOptions& options) {
  model::Posterior posterior(dag, options.model);
  const model::Planner planner(options.planner);
  std::vector<bool> built(dag.size(), false);
  Answer answer;
  Pending pending;
  bool found = false;
  while (true) {
    const double start_ms = thread_cpu_ms();
    if (pending.skipped) {
      posterior.mark_skipped(*pending.skipped);
    }
    if (pending.tested) {
      posterior.record(*pending.tested, pending.fails, pending.passes);
    }
    pending = Pending{};
    const model::Verdict verdict = model::evaluate_stop(posterior, options.stop);
    if (verdict == model::Verdict::kNotReproduced) {
      answer.not_reproduced = true;
      answer.confidence = options.stop.confidence;
      return answer;
    }
    // Scored by membership: right when the culprit is in the set, claiming the set's mass.
    auto answer_set = [&] {
      answer.set = posterior.credible_set(model::stop_threshold(options.stop));
      answer.culprit = posterior.most_likely();
      answer.confidence = 0;
      for (CommitIndex c : answer.set) answer.confidence += posterior.culprit_probabilities()[c];
      return answer;
    };
    if (verdict == model::Verdict::kFoundSet) {
      return answer_set();
    }
    if (verdict == model::Verdict::kFound) {
      found = true;
      break;
    }
    if (lab.exhausted()) {
      answer.cap_hit = true;
      break;
    }
    const model::Step step = planner.plan(posterior, built);
    const double step_ms = thread_cpu_ms() - start_ms;
    ++answer.decisions;
    answer.decision_ms_total += step_ms;
    answer.decision_ms_max = std::max(answer.decision_ms_max, step_ms);
    // Nothing testable can split the mass any more (the engine stops there as inconclusive).
    if (step.exhausted) {
      return answer_set();
    }

    const CommitIndex x = step.commit;
    const bool in_range = x < dag.size();
    if (options.trace) {
      const double p_bad = in_range ? posterior.bad_probabilities()[x] : -1;
      fmt::print(options.trace,
                 "{} step {}: commit {}{} P(bad)={:.4f} runs {} info {:.4f} bits cost {:.1f}{}; "
                 "max P {:.4f} at {}; runs so far {}\n",
                 options.trace_name, answer.decisions, x, in_range && built[x] ? " (built)" : "",
                 p_bad, step.runs, step.information_bits, step.cost,
                 step.reproducing ? " reproducing" : "", posterior.max_probability(),
                 posterior.most_likely(), lab.runs());
    }
    // A skipped commit or an empty batch would loop forever: the planner is deterministic.
    if (!in_range || step.runs == 0 || posterior.evidence(x).skipped) {
      answer.stuck = true;
      break;
    }
    if (!built[x]) {
      if (!lab.build(x)) {
        pending.skipped = x;
        continue;
      }
      built[x] = true;
    }
    const uint32_t runs = options.batch_runs ? step.runs : 1;
    lab.boot();
    for (uint32_t i = 0; i < runs && !lab.exhausted(); ++i) {
      switch (lab.run(x)) {
        case RunOutcome::kFail:
          ++pending.fails;
          break;
        case RunOutcome::kPass:
          ++pending.passes;
          break;
        case RunOutcome::kInfra:
          break;
      }
    }
    if (pending.fails + pending.passes > 0) {
      pending.tested = x;
    }
  }
  // The pending evidence of the last batch (if the loop left through the cap) still counts.
  if (pending.skipped) {
    posterior.mark_skipped(*pending.skipped);
  }
  if (pending.tested) {
    posterior.record(*pending.tested, pending.fails, pending.passes);
  }
  answer.culprit = posterior.most_likely();
  answer.confidence = posterior.max_probability();
  // As the engine: the verify check first, where the culprit's parent is the good end; a FAIL
  // names nobody, so there is nothing to revert.
  if (found && options.verify_check && dag.parents(*answer.culprit).empty()) {
    verify_check(posterior, lab, options, answer);
    if (!answer.culprit) {
      return answer;
    }
  }
  if (found && options.revert_check) {
    revert_check(posterior, lab, options, *answer.culprit, answer);
  }
  return answer;
}

}  // namespace flakebisect::bench
