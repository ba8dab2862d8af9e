#include "engine/cost_learner.h"

#include <gtest/gtest.h>

namespace flakebisect::engine {
namespace {

TEST(CostLearner, UsesThePriorUntilARunHasBeenMeasured) {
  CostLearner learner({40, 2.5, 0.5});
  EXPECT_FALSE(learner.learned());
  EXPECT_EQ(learner.costs().build, 40);
  EXPECT_EQ(learner.costs().boot, 2.5);
  EXPECT_EQ(learner.costs().run, 0.5);
  learner.add_build(600000);  // a build alone gives no unit to price it in
  EXPECT_FALSE(learner.learned());
  EXPECT_EQ(learner.costs().build, 40);
}

TEST(CostLearner, MeasuredCostsAreInUnitsOfOneMeanRun) {
  CostLearner learner({10, 0, 1});
  learner.add_build(120000);
  // 4 runs of 2 s each in 18 s: 10 s of boot and setup.
  learner.add_batch(4, 8000, 18000);
  ASSERT_TRUE(learner.learned());
  EXPECT_DOUBLE_EQ(learner.costs().run, 1);
  EXPECT_DOUBLE_EQ(learner.costs().build, 60);  // 120 s / 2 s
  EXPECT_DOUBLE_EQ(learner.costs().boot, 5);    // 10 s / 2 s
}

TEST(CostLearner, AComponentNotMeasuredYetKeepsThePriorRatio) {
  CostLearner learner({30, 4, 2});
  learner.add_batch(2, 1000, 1000);  // no boot overhead, no build yet
  EXPECT_DOUBLE_EQ(learner.costs().build, 15);  // 30 / 2, in runs
  EXPECT_DOUBLE_EQ(learner.costs().boot, 0);
}

TEST(CostLearner, TheMedianBuildKeepsOneColdBuildFromPricingEveryIncrementalOne) {
  CostLearner learner({10, 0, 1});
  learner.add_batch(10, 10000, 10000);  // 1 s runs
  learner.add_build(600000);            // cold
  learner.add_build(20000);
  learner.add_build(25000);
  EXPECT_DOUBLE_EQ(learner.costs().build, 25);
  learner.add_build(15000);
  EXPECT_DOUBLE_EQ(learner.costs().build, 22.5);  // (20 + 25) / 2
}

TEST(CostLearner, InstantRunsCannotMakeBuildsInfinitelyExpensive) {
  CostLearner learner({10, 0, 1});
  learner.add_batch(5, 0, 0);
  learner.add_build(3600000);
  EXPECT_LE(learner.costs().build, CostLearner::kMaxRatio);
  EXPECT_DOUBLE_EQ(learner.costs().boot, 0);
  learner.add_batch(0, 0, 50000);  // an empty batch says nothing
  EXPECT_DOUBLE_EQ(learner.costs().boot, 0);
}

}  // namespace
}  // namespace flakebisect::engine
