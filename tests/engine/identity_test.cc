#include "engine/identity.h"

#include <gtest/gtest.h>

namespace flakebisect::engine {
namespace {

config::Config base_config() {
  config::Config config;
  config.test.command = {"./repro", "-n", "4"};
  config.build.command = {"make", "-j8"};
  return config;
}

TEST(TestIdentity, IsASha256) {
  const std::string id = test_identity(base_config());
  EXPECT_EQ(id.size(), 64U);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(TestIdentity, ChangesWithWhatCanChangeARunsOutcome) {
  const std::string id = test_identity(base_config());
  config::Config c = base_config();
  c.test.command = {"./repro", "-n", "5"};
  EXPECT_NE(test_identity(c), id);
  c = base_config();
  c.build.command = {"make", "-j8", "W=1"};
  EXPECT_NE(test_identity(c), id);
  c = base_config();
  c.test.timeout = std::chrono::seconds(1);
  EXPECT_NE(test_identity(c), id);
  c = base_config();
  c.test.no_output_timeout = std::chrono::seconds(1);
  EXPECT_NE(test_identity(c), id);
  // Arguments cannot imitate each other.
  c = base_config();
  c.test.command = {"./repro -n", "4"};
  EXPECT_NE(test_identity(c), id);
}

TEST(TestIdentity, IgnoresDecisionAndClassificationSettings) {
  const std::string id = test_identity(base_config());
  config::Config c = base_config();
  c.decision.confidence = 0.999;
  c.decision.max_runs = 7;
  c.test.failure_outcomes = {"fail", "crash", "hang"};
  c.test.signature = "ext4";
  c.test.runs_per_batch = 4;
  c.build.timeout = std::chrono::seconds(5);
  EXPECT_EQ(test_identity(c), id);
}

TEST(BuildKey, ChangesWithTheBuildCommandAndTimeoutOnly) {
  const std::string key = build_key(base_config());
  config::Config c = base_config();
  c.test.command = {"other"};
  EXPECT_EQ(build_key(c), key);
  c.build.timeout = std::chrono::seconds(1);
  EXPECT_NE(build_key(c), key);
  EXPECT_NE(build_key(c), test_identity(c));
}

}  // namespace
}  // namespace flakebisect::engine
