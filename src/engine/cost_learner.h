// CostLearner: the planner's costs, learned from what builds, boots and runs really took.
//
// design.md: the planner maximises information per unit of cost, with the costs "learned from
// measured durations". The config's decision.build_cost, boot_cost and run_cost are the prior:
// they hold until this bisection has measured something, and only their ratios matter (the
// planner divides information by cost). Measured durations replace them one by one:
//   - run:   the mean duration of the runs measured so far is the unit (one run = 1);
//   - build: the median duration of the builds this bisection made (a failed build costs time
//            too; the median keeps one cold build from pricing every later incremental one),
//            in runs;
//   - boot:  the median per-batch overhead (a batch's wall time minus its runs' durations: VM
//            boot, initramfs, mkfs), in runs.
// Each component switches from prior to measured on its own, once the runs' unit is known.
// Ratios are clamped to [0, kMaxRatio] so that a run measured at ~0 ms cannot make a build look
// infinitely expensive.
//
// The bisector feeds it from its "build" and "batch" events, which are stored, so a resumed
// session learns the same costs from the same data (a batch cut short by a stop is not logged).
//
// Thread rules: a value type.
#pragma once

#include <cstdint>
#include <vector>

#include "model/planner.h"

namespace flakebisect::engine {

class CostLearner {
 public:
  static constexpr double kMaxRatio = 1e5;
  static constexpr int64_t kMinRunMs = 10;  // shorter measured runs count as this

  explicit CostLearner(model::CostModel prior) : prior_(prior) {}

  void add_build(int64_t duration_ms);
  // One batch: `runs` runs whose durations sum to `run_ms`, in `wall_ms` of wall time.
  void add_batch(uint32_t runs, int64_t run_ms, int64_t wall_ms);

  // The costs to plan with, in units of one run when measured, else the prior.
  model::CostModel costs() const;
  // Whether the costs come from measurements (at least one run measured).
  bool learned() const { return runs_ > 0; }

 private:
  model::CostModel prior_;
  std::vector<int64_t> builds_ms_;
  std::vector<int64_t> boots_ms_;
  uint64_t runs_ = 0;
  int64_t run_ms_ = 0;
};

}  // namespace flakebisect::engine
