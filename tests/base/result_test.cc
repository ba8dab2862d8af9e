#include "base/result.h"

#include <gtest/gtest.h>

#include <string>

namespace flakebisect::base {
namespace {

Result<int> parse_positive(int value) {
  if (value <= 0) {
    return Error("not positive", ErrorCode::kInvalidInput);
  }
  return value;
}

Result<int> doubled(int value) {
  FB_ASSIGN_OR_RETURN(const int parsed, parse_positive(value));
  return parsed * 2;
}

Status check(int value) {
  FB_TRY(parse_positive(value));
  return {};
}

TEST(ResultTest, ContextChainsWithTheOutermostLayerFirstAndKeepsTheCode) {
  const Error inner("not found", ErrorCode::kNotFound);
  const Error outer = inner.context("make").context("build 1a2b3c4");
  EXPECT_EQ(outer.message(), "build 1a2b3c4: make: not found");
  EXPECT_EQ(outer.code(), ErrorCode::kNotFound);
  EXPECT_EQ(inner.message(), "not found");  // the lvalue overload leaves the original alone
}

TEST(ResultTest, ContextOnAResultErrorMovesTheMessage) {
  Result<int> failed = parse_positive(-1);
  ASSERT_FALSE(failed);
  const Error error = std::move(failed).error().context("config");
  EXPECT_EQ(error.message(), "config: not positive");
  EXPECT_EQ(error.code(), ErrorCode::kInvalidInput);
}

TEST(ResultTest, AssignOrReturnYieldsTheValueOrPropagatesTheError) {
  ASSERT_TRUE(doubled(21));
  EXPECT_EQ(*doubled(21), 42);
  const auto failed = doubled(0);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message(), "not positive");
}

TEST(ResultTest, TryPropagatesTheErrorAndStatusDefaultsToSuccess) {
  EXPECT_TRUE(check(1));
  const Status failed = check(-5);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::kInvalidInput);
  EXPECT_TRUE(Status());
}

TEST(ResultTest, MakeErrorFormatsAndValueOrFallsBack) {
  const Error error = make_error(ErrorCode::kIo, "{}: {} bytes", "disk", 3);
  EXPECT_EQ(error.message(), "disk: 3 bytes");
  EXPECT_EQ(parse_positive(-1).value_or(7), 7);
  EXPECT_EQ(parse_positive(4).value_or(7), 4);
}

}  // namespace
}  // namespace flakebisect::base
