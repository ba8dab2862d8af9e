#include "lower_bound.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace flakebisect::bench {

double binary_entropy(double p) {
  if (p <= 0.0 || p >= 1.0) {
    return 0.0;
  }
  return -p * std::log2(p) - (1.0 - p) * std::log2(1.0 - p);
}

double channel_capacity(double theta, double eps) {
  if (eps <= 0.0) {
    // Z-channel. pow(0, 0) = 1 makes theta = 1 give exactly 1 bit.
    return std::log2(1.0 + theta * std::pow(1.0 - theta, (1.0 - theta) / theta));
  }
  const double z = (binary_entropy(theta) - binary_entropy(eps)) / (theta - eps);
  return std::log2(1.0 + std::exp2(z)) - (1.0 - eps) * z - binary_entropy(eps);
}

double run_information(double p, double theta, double eps) {
  const double fail = p * theta + (1.0 - p) * eps;
  return binary_entropy(fail) - p * binary_entropy(theta) - (1.0 - p) * binary_entropy(eps);
}

double parent_confirmation_runs(double theta, double eps, double confidence) {
  if (theta >= 1.0) {
    return 0.0;  // a bad commit never passes: one pass at the parent is proof
  }
  const double d = 1.0 - confidence;
  // D(Bern(eps) || Bern(theta)) in nats; the eps * ln(eps / theta) term is 0 at eps = 0.
  double divergence = (1.0 - eps) * std::log((1.0 - eps) / (1.0 - theta));
  if (eps > 0) {
    divergence += eps * std::log(eps / theta);
  }
  return divergence > 0 ? std::log((1.0 - d) / d) / divergence : 0.0;
}

double runs_lower_bound(uint32_t n, double theta, double eps, double confidence) {
  const double d = 1.0 - confidence;
  const double bits = (1.0 - d) * std::log2(static_cast<double>(n)) - binary_entropy(d);
  return std::max(0.0, bits) / channel_capacity(theta, eps);
}

uint32_t builds_target(uint32_t n) {
  return static_cast<uint32_t>(std::ceil(std::log2(static_cast<double>(n)))) + 3;
}

namespace {

// max over p of run_information, by golden-section search (it is concave in p).
double numeric_capacity(double theta, double eps) {
  double lo = 0.0, hi = 1.0;
  const double g = (std::sqrt(5.0) - 1.0) / 2.0;
  for (int i = 0; i < 200; ++i) {
    const double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    if (run_information(a, theta, eps) < run_information(b, theta, eps)) {
      lo = a;
    } else {
      hi = b;
    }
  }
  return run_information((lo + hi) / 2.0, theta, eps);
}

}  // namespace

std::string check_lower_bounds() {
  struct Example {
    double theta;
    double runs;
  };
  for (const Example e :
       {Example{0.05, 363}, Example{0.1, 178}, Example{0.3, 55}, Example{0.5, 30}}) {
    // benchmark.md rounds to the nearest run (178.4 -> 178).
    const double got = std::round(runs_lower_bound(1000, e.theta, 0.0, 0.99));
    if (got != e.runs) {
      return fmt::format("runs_lower_bound(1000, theta={}, eps=0, 0.99) = {}, benchmark.md says {}",
                         e.theta, got, e.runs);
    }
  }
  for (double theta : {0.02, 0.05, 0.1, 0.3, 0.5, 1.0}) {
    for (double eps : {0.0, 0.005, 0.02}) {
      if (eps >= theta) {
        continue;
      }
      const double closed = channel_capacity(theta, eps);
      const double numeric = numeric_capacity(theta, eps);
      if (std::abs(closed - numeric) > 1e-6 * std::max(1.0, numeric) + 1e-9) {
        return fmt::format("capacity(theta={}, eps={}): closed form {} but numeric maximum {}",
                           theta, eps, closed, numeric);
      }
    }
  }
  // theta 0.3, eps 0, d 0.01: ln 99 / -ln 0.7 = 12.88 passes at the parent.
  const double confirmation = parent_confirmation_runs(0.3, 0.0, 0.99);
  if (std::abs(confirmation - 12.883) > 1e-3) {
    return fmt::format("parent_confirmation_runs(0.3, 0, 0.99) = {}, expected 12.883",
                       confirmation);
  }
  if (parent_confirmation_runs(1.0, 0.0, 0.99) != 0.0) {
    return "parent_confirmation_runs at theta = 1 is not 0";
  }
  if (builds_target(1000) != 13 || builds_target(16) != 7) {
    return "builds_target is off";
  }
  return "";
}

}  // namespace flakebisect::bench
