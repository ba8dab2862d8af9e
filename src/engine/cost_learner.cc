#include "engine/cost_learner.h"

#include <algorithm>

namespace flakebisect::engine {
namespace {

double median(std::vector<int64_t> values) {
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid),
                   values.end());
  const double upper = static_cast<double>(values[mid]);
  if (values.size() % 2 == 1) {
    return upper;
  }
  // Even count: the lower middle is the largest of the values nth_element put before `mid`.
  const double lower = static_cast<double>(
      *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid)));
  return (lower + upper) / 2;
}

}  // namespace

void CostLearner::add_build(int64_t duration_ms) {
  builds_ms_.push_back(std::max<int64_t>(0, duration_ms));
}

void CostLearner::add_batch(uint32_t runs, int64_t run_ms, int64_t wall_ms) {
  if (runs == 0) {
    return;
  }
  runs_ += runs;
  run_ms_ += std::max<int64_t>(0, run_ms);
  boots_ms_.push_back(std::max<int64_t>(0, wall_ms - std::max<int64_t>(0, run_ms)));
}

model::CostModel CostLearner::costs() const {
  if (!learned()) {
    return prior_;
  }
  const double unit =
      std::max(static_cast<double>(kMinRunMs), static_cast<double>(run_ms_) / runs_);
  const auto ratio = [&](double ms) { return std::clamp(ms / unit, 0.0, kMaxRatio); };
  // The prior in units of one run, for the components not measured yet.
  const double prior_run = prior_.run > 0 ? prior_.run : 1;
  model::CostModel costs;
  costs.run = 1;
  costs.build = builds_ms_.empty() ? prior_.build / prior_run : ratio(median(builds_ms_));
  costs.boot = boots_ms_.empty() ? prior_.boot / prior_run : ratio(median(boots_ms_));
  return costs;
}

}  // namespace flakebisect::engine
