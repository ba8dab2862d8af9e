#include "base/clock.h"

#include <gtest/gtest.h>

namespace flakebisect::base {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ClockTest, FakeClockMovesOnlyWhenAdvancedAndSleepAdvancesInsteadOfBlocking) {
  FakeClock clock;
  const auto steady = clock.now();
  const auto wall = clock.wall_now();
  EXPECT_EQ(clock.now(), steady);
  clock.advance(seconds(5));
  clock.sleep_for(milliseconds(250));
  EXPECT_EQ(clock.now() - steady, milliseconds(5250));
  EXPECT_EQ(clock.wall_now() - wall, milliseconds(5250));
}

TEST(ClockTest, FakeClockStartsAtAFixedWallTimeAndWallStepsLeaveSteadyAlone) {
  FakeClock clock;
  EXPECT_EQ(clock.wall_now().time_since_epoch(), seconds(1704067200));
  const auto steady = clock.now();
  clock.set_wall(std::chrono::system_clock::time_point(seconds(42)));
  EXPECT_EQ(clock.wall_now().time_since_epoch(), seconds(42));
  EXPECT_EQ(clock.now(), steady);
}

TEST(ClockTest, RealClockUsedThroughTheInterfaceIsMonotonic) {
  RealClock real;
  Clock& clock = real;
  const auto before = clock.now();
  clock.sleep_for(milliseconds(1));
  EXPECT_GE(clock.now() - before, milliseconds(1));
  EXPECT_GT(clock.wall_now().time_since_epoch(), seconds(1704067200));
}

}  // namespace
}  // namespace flakebisect::base
