#include "config/duration.h"

#include <gtest/gtest.h>

#include <string>

namespace flakebisect::config {
namespace {

using std::chrono::seconds;

seconds parsed(std::string_view text) {
  auto result = parse_duration(text);
  EXPECT_TRUE(result) << text << ": " << result.error().message();
  return result.value_or(seconds(-1));
}

std::string failure(std::string_view text) {
  auto result = parse_duration(text);
  EXPECT_FALSE(result) << text << " parsed";
  if (result) {
    return "";
  }
  EXPECT_EQ(result.error().code(), base::ErrorCode::kInvalidInput);
  return result.error().message();
}

TEST(DurationTest, EachUnitAndTheirCombinationsParse) {
  EXPECT_EQ(parsed("90s"), seconds(90));
  EXPECT_EQ(parsed("10m"), seconds(600));
  EXPECT_EQ(parsed("12h"), seconds(12 * 3600));
  EXPECT_EQ(parsed("2d"), seconds(2 * 86400));
  EXPECT_EQ(parsed("1h30m"), seconds(5400));
  EXPECT_EQ(parsed("1d2h3m4s"), seconds(86400 + 7200 + 180 + 4));
  EXPECT_EQ(parsed("90m"), seconds(5400));  // a part may exceed the next unit up
  EXPECT_EQ(parsed("0s"), seconds(0));
  EXPECT_EQ(parsed("365d"), kMaxDuration);
}

TEST(DurationTest, ANumberWithoutAUnitIsRefusedRatherThanGuessed) {
  EXPECT_EQ(failure("90"), "no unit after 90");
  EXPECT_EQ(failure("1h30"), "no unit after 30");
}

TEST(DurationTest, MalformedStringsSayWhatIsWrong) {
  EXPECT_EQ(failure(""), "empty");
  EXPECT_EQ(failure("10x"), "unknown unit 'x'; use d, h, m or s");
  EXPECT_EQ(failure("10\n"), "unknown unit '\\x0a'; use d, h, m or s");
  EXPECT_EQ(failure("ten minutes"), "expected a number before each unit");
  EXPECT_EQ(failure("1.5h"), "whole numbers only (write 1h30m, not 1.5h)");
  EXPECT_EQ(failure("-5s"), "expected a number before each unit");
  EXPECT_EQ(failure("1h 30m"), "expected a number before each unit");
  EXPECT_EQ(failure("30m1h"),
            "units out of order or repeated (write them largest first, once each)");
  EXPECT_EQ(failure("1m1m"),
            "units out of order or repeated (write them largest first, once each)");
}

TEST(DurationTest, DurationsLongerThanAYearAreRefusedWithoutOverflowing) {
  EXPECT_EQ(failure("366d"), "longer than 365d");
  EXPECT_EQ(failure("365d1s"), "longer than 365d");
  EXPECT_EQ(failure("99999999999999999999999999s"), "longer than 365d");
  EXPECT_EQ(failure("9223372036854775807h"), "longer than 365d");
}

TEST(DurationTest, FormattingUsesTheLargestUnitsAndParsesBack) {
  EXPECT_EQ(format_duration(seconds(0)), "0s");
  EXPECT_EQ(format_duration(seconds(90)), "1m30s");
  EXPECT_EQ(format_duration(seconds(5400)), "1h30m");
  EXPECT_EQ(format_duration(seconds(90061)), "1d1h1m1s");
  EXPECT_EQ(format_duration(seconds(-5)), "-5s");
  for (const int64_t value : {1, 59, 60, 3599, 3600, 86399, 86400, 1234567}) {
    EXPECT_EQ(parsed(format_duration(seconds(value))), seconds(value));
  }
}

}  // namespace
}  // namespace flakebisect::config
