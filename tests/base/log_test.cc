#include "base/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace flakebisect::base {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string log_at(int verbosity) {
  setup_logging(verbosity);
  ::testing::internal::CaptureStderr();
  spdlog::warn("disk almost full");
  spdlog::info("building {}", "1a2b3c4");
  spdlog::debug("cache key {}", 42);
  return ::testing::internal::GetCapturedStderr();
}

TEST(LogTest, DefaultVerbosityPrintsOnlyWarningsAndErrorsTersely) {
  EXPECT_EQ(log_at(0), "flakebisect: disk almost full\n");
}

TEST(LogTest, OneVAddsInfoMessages) {
  EXPECT_EQ(log_at(1), "flakebisect: disk almost full\nflakebisect: building 1a2b3c4\n");
}

TEST(LogTest, TwoVAddsDebugMessagesWithTimeAndLevel) {
  const std::string text = log_at(2);
  EXPECT_THAT(text, HasSubstr("debug: cache key 42\n"));
  EXPECT_THAT(text, HasSubstr("info: building 1a2b3c4\n"));
  EXPECT_THAT(text, Not(HasSubstr("trace")));
  EXPECT_THAT(text, ::testing::StartsWith("flakebisect: "));
}

}  // namespace
}  // namespace flakebisect::base
