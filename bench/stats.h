// Small statistics for the benchmark tables: Wilson score intervals, means and percentiles.
//
// Thread rules: pure functions.
#pragma once

#include <cstdint>
#include <vector>

namespace flakebisect::bench {

struct Interval {
  double low = 0;
  double high = 0;
};

// Wilson score interval for a binomial proportion, successes out of trials, at normal quantile z
// (1.96: 95%). trials = 0 gives [0, 1].
Interval wilson_interval(uint64_t successes, uint64_t trials, double z = 1.96);

double mean(const std::vector<double>& values);  // 0 for an empty vector

// Nearest-rank percentile (q in [0, 1]): the smallest value with at least q of the values at or
// below it. 0 for an empty vector.
double percentile(std::vector<double> values, double q);

}  // namespace flakebisect::bench
