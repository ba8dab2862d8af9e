// Log-space helpers shared by the model's files (internal to src/model).
// Thread rules: pure functions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace flakebisect::model {

inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// log(p^k (1-p)^m) with 0 log 0 = 0, so a rate of 0 or 1 is an exact possibility, not an error.
inline double log_binomial_kernel(double p, uint32_t k, uint32_t m) {
  double result = 0;
  if (k > 0) result += p > 0 ? k * std::log(p) : kNegInf;
  if (m > 0) result += p < 1 ? m * std::log1p(-p) : kNegInf;
  return result;
}

// log(sum exp(values)); -inf for no values or all -inf.
inline double log_sum_exp(const double* values, size_t count) {
  double top = kNegInf;
  for (size_t i = 0; i < count; ++i) top = std::max(top, values[i]);
  if (top == kNegInf) return kNegInf;
  double sum = 0;
  for (size_t i = 0; i < count; ++i) sum += std::exp(values[i] - top);
  return top + std::log(sum);
}

}  // namespace flakebisect::model
