// Information-theoretic lower bounds on the work any bisection strategy needs (benchmark.md).
//
// One run at a commit is a use of a binary channel: a bad commit fails with probability theta, a
// good one with probability eps (eps < theta). Naming the culprit among n equally likely candidates
// with error probability d needs, by Fano's inequality, at least (1-d) log2 n - H(d) bits, so
//   E[runs] >= ((1-d) log2 n - H(d)) / C,
// C the channel capacity in bits per run. Builds need at least about log2 n distinct commits.
//
// That bound leaves out what ends every bisection: the culprit's parent is the one commit whose
// state separates "culprit = c" from "culprit = parent", so only runs at the parent move those
// odds, by D(Bern(eps) || Bern(theta)) nats per run on average when c is the culprit. Reaching odds
// (1-d)/d takes at least ln((1-d)/d) / D such runs (Wald), even with theta and eps known. The sum
// of the two, the shape of Burnashev's E[N] ~ log M / C + log(1/d) / C1 for sequential tests, is
// the benchmark's second reference ("bound + confirmation"). It is a reference, not a strict bound:
// early runs at the parent count toward both terms, which matters little once the search is long.
//
// Thread rules: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace flakebisect::bench {

// H(p) in bits; H(0) = H(1) = 0.
double binary_entropy(double p);

// Capacity in bits per run of the channel bad -> fail w.p. theta, good -> fail w.p. eps. Requires
// 0 <= eps < theta <= 1. Z-channel closed form when eps = 0, binary asymmetric channel otherwise.
double channel_capacity(double theta, double eps);

// Mutual information in bits of one run when P(bad) = p (used to check channel_capacity
// numerically).
double run_information(double p, double theta, double eps);

// Lower bound on expected runs to name the culprit among n with error 1 - confidence.
double runs_lower_bound(uint32_t n, double theta, double eps, double confidence);

// ln((1-d)/d) / D(Bern(eps) || Bern(theta)): expected runs at the culprit's parent to rule out
// "the parent is the culprit" with error d = 1 - confidence. 0 when theta = 1 (one pass decides).
double parent_confirmation_runs(double theta, double eps, double confidence);

// The benchmark's build target: ceil(log2 n) + 3 distinct builds.
uint32_t builds_target(uint32_t n);

// Checks the formulas against benchmark.md's worked example (n = 1000, d = 0.01, eps = 0: 363, 178,
// 55, 30 runs at theta 0.05, 0.1, 0.3, 0.5, rounded to the nearest run) and the closed-form
// capacities against numeric maximisation of run_information. Returns "" on success, else what
// failed.
std::string check_lower_bounds();

}  // namespace flakebisect::bench
