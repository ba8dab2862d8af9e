// RevertCheck: KernelCI's "revert" check, as a posterior. Once a bisection has named culprit c,
// the bad commit with c reverted is tested. Two hypotheses explain its runs:
//
//   fixed:  the revert behaves like a good commit and fails at eps;
//   still:  it behaves like a bad commit and fails at theta * u, with u a fresh multiplier of the
//           rate spread (ModelOptions::rate_spread), as any other bad commit's.
//
// Both are integrated over the bisection's own posterior of (theta, eps) (Posterior::
// rate_posterior), so what the bisection learnt about the bug's rate is what a pass at the revert
// is weighed against: at theta 0.3 about two dozen passes say "fixed", at theta 0.05 one to three
// hundred. A revert that still fails is the signal KernelCI's check exists for: the culprit is
// wrong, or the bug needs it and something after it.
//
// Each verdict must overcome the prior least favourable to it. PASS uses a prior of 1/2: the
// revert's own runs must show that it fixes the bug, whatever the search concluded. FAIL uses the
// search's confidence in its culprit as the prior of "fixed" (a right culprit's revert fixes the
// bug): a FAIL contradicts a search that is right 99.5% of the time, so the revert's runs must
// outweigh that too. With a symmetric prior, one false failure of a good commit at the revert was
// enough for FAIL where the search had seen none, and such false alarms outnumbered the wrong
// answers caught (docs/benchmark.md, "The revert check").
//
// Thread rules: pure functions; the posterior must have been updated (any const call does that)
// before concurrent use.
#pragma once

#include <cstdint>

#include "model/posterior.h"

namespace flakebisect::model {

// The verify check's prior that a good commit the user gave is good, which its FAIL must
// overcome: a user's "good" is right about nine times in ten, a guess (docs/model.md, "Verify
// check"). The engine and the benchmark's simulation of the check both use it.
constexpr double kGoodEndPrior = 0.9;

enum class RevertVerdict {
  kContinue,
  kFixed,     // P(fixed) >= threshold
  kStillBad,  // P(still) >= threshold
};

// P(fixed | fails, passes at the revert), given the bisection's posterior, from a prior
// P(fixed) of `prior_fixed` (1/2 unless given).
double revert_fixed_probability(const Posterior& posterior, uint32_t fails, uint32_t passes,
                                double prior_fixed = 0.5);

// kFixed when P(fixed) from a prior of 1/2 holds at least `threshold` (in (0.5, 1)); kStillBad
// when P(still bad) from a prior P(fixed) = `culprit_confidence` (the search's posterior of its
// culprit; 1/2 makes the rule symmetric) does.
RevertVerdict evaluate_revert(const Posterior& posterior, uint32_t fails, uint32_t passes,
                              double threshold, double culprit_confidence);

// The fewest further runs that could end the check: passes in a row until P(fixed) reaches
// `threshold`, at most `cap` (cap when even that many would not). At least 1 when cap > 0.
uint32_t revert_runs_to_decide(const Posterior& posterior, uint32_t fails, uint32_t passes,
                               double threshold, uint32_t cap);

}  // namespace flakebisect::model
