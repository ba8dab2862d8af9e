#include "engine/config_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace flakebisect::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConfigTextForStorage, KeepsTheUsersTextWhenNothingWasOverridden) {
  const std::string text = "# my bisection\n[test]\ncommand = [\"./repro\"]\ntimeout = \"10m\"\n";
  auto config = config::parse_config(text, "my.toml");
  ASSERT_TRUE(config.has_value());
  auto stored = config_text_for_storage(*config);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(*stored, text);
}

TEST(ConfigTextForStorage, RendersOverridesSoTheTextParsesToTheSameConfiguration) {
  auto config = config::parse_config("[test]\ncommand = [\"./repro\"]\n", "my.toml");
  ASSERT_TRUE(config.has_value());
  config->decision.confidence = 0.995;
  config->decision.max_runs = 42;
  config->decision.theta_min = 0.0123456789012345;
  config->decision.min_rate_ratio = 2.5;
  config->decision.noise_build_weight = 0.75;
  config->decision.rare_build_weight = 1.25;
  config->test.command = {"./other", "it's \"quoted\"", "ünïcode ✓", "tab\there", "$(x);|&"};
  config->test.signature = "BUG: .*ext4";
  config->build.command = {"make", "-j8"};
  config->decision.max_wall_time = std::chrono::seconds(5400);
  auto stored = config_text_for_storage(*config);
  ASSERT_TRUE(stored.has_value()) << stored.error().message();
  EXPECT_THAT(*stored, HasSubstr("with command-line overrides"));
  auto reparsed = config::parse_config(*stored, "stored");
  ASSERT_TRUE(reparsed.has_value()) << reparsed.error().message() << "\n" << *stored;
  EXPECT_EQ(reparsed->hash(), config->hash());
  EXPECT_EQ(reparsed->test.command, config->test.command);
  EXPECT_THAT(*stored, Not(HasSubstr("backport_check"))) << "written only when set";

  config->decision.backport_check = true;
  config->decision.backport_check_max_runs = 77;
  stored = config_text_for_storage(*config);
  ASSERT_TRUE(stored.has_value()) << stored.error().message();
  reparsed = config::parse_config(*stored, "stored");
  ASSERT_TRUE(reparsed.has_value()) << reparsed.error().message() << "\n" << *stored;
  EXPECT_EQ(reparsed->hash(), config->hash());
  EXPECT_TRUE(reparsed->decision.backport_check);
  EXPECT_EQ(reparsed->decision.backport_check_max_runs, 77u);
}

TEST(ConfigTextForStorage, RendersTheGuestTablesOfAnOverriddenGuestConfig) {
  // The seed cases with --confidence: the stored text must keep [kernel], [qemu], [scratch] and
  // [reproducer] or [xfstests], or the bisection could not be stored at all.
  for (const char* name : {"generic-418-ext4-1k.toml", "generic-418-xfstests.toml"}) {
    auto config = config::load_config(std::string(FLAKEBISECT_SOURCE_DIR "/configs/bisect/") + name);
    ASSERT_TRUE(config.has_value()) << config.error().message();
    config->decision.confidence = 0.95;
    config->decision.learn_costs = false;
    auto stored = config_text_for_storage(*config);
    ASSERT_TRUE(stored.has_value()) << name << ": " << stored.error().message();
    EXPECT_THAT(*stored, HasSubstr("with command-line overrides"));
    auto reparsed = config::parse_config(*stored, "stored");
    ASSERT_TRUE(reparsed.has_value()) << reparsed.error().message() << "\n" << *stored;
    EXPECT_EQ(reparsed->hash(), config->hash()) << *stored;
    EXPECT_TRUE(reparsed->kernel && reparsed->qemu);
    EXPECT_EQ(reparsed->xfstests.has_value(), config->xfstests.has_value());
    EXPECT_FALSE(reparsed->decision.learn_costs);
  }
}

TEST(ConfigTextForStorage, RendersTheDefaultsWhenThereIsNoFile) {
  config::Config config;
  config.test.command = {"./repro"};
  config.decision.build_cost = 1.0 / 3;  // all 17 digits are needed here
  auto stored = config_text_for_storage(config);
  ASSERT_TRUE(stored.has_value());
  auto reparsed = config::parse_config(*stored, "stored");
  ASSERT_TRUE(reparsed.has_value());
  EXPECT_EQ(reparsed->hash(), config.hash());
  // Floats in their shortest form, as a person would write them (not 0.98999999999999999).
  EXPECT_THAT(*stored, HasSubstr("\nconfidence = 0.99\n"));
  EXPECT_THAT(*stored, HasSubstr("\ntheta_min = 0.005\n"));
  EXPECT_THAT(*stored, HasSubstr("\nbuild_cost = 0.3333333333333333\n"));
}

// --first-parent on the command line over a file without [range]: the stored text must say so, or
// a resume, the daemon and the report would rebuild another candidate set.
TEST(ConfigTextForStorage, RendersRangeFirstParentOnlyWhenSet) {
  auto config = config::parse_config("[test]\ncommand = [\"./repro\"]\n", "my.toml");
  ASSERT_TRUE(config.has_value());
  config->decision.confidence = 0.95;
  auto plain = config_text_for_storage(*config);
  ASSERT_TRUE(plain.has_value()) << plain.error().message();
  EXPECT_THAT(*plain, Not(HasSubstr("[range]")));

  config->range.first_parent = true;
  auto stored = config_text_for_storage(*config);
  ASSERT_TRUE(stored.has_value()) << stored.error().message();
  EXPECT_THAT(*stored, HasSubstr("[range]\nfirst_parent = true\n"));
  auto reparsed = config::parse_config(*stored, "stored");
  ASSERT_TRUE(reparsed.has_value()) << reparsed.error().message() << "\n" << *stored;
  EXPECT_TRUE(reparsed->range.first_parent);
  EXPECT_EQ(reparsed->hash(), config->hash());

  config->range.first_parent = false;
  config->range.find_fix = true;
  stored = config_text_for_storage(*config);
  ASSERT_TRUE(stored.has_value()) << stored.error().message();
  EXPECT_THAT(*stored, HasSubstr("[range]\nfind_fix = true\n"));
  reparsed = config::parse_config(*stored, "stored");
  ASSERT_TRUE(reparsed.has_value()) << reparsed.error().message() << "\n" << *stored;
  EXPECT_TRUE(reparsed->range.find_fix);
  EXPECT_FALSE(reparsed->range.first_parent);
  EXPECT_EQ(reparsed->hash(), config->hash());
}

TEST(ConfigTextForStorage, RefusesAnArgumentTomlCannotHold) {
  config::Config config;
  config.test.command = {"./repro", std::string("\xff\xfe", 2)};
  EXPECT_FALSE(config_text_for_storage(config).has_value());
}

}  // namespace
}  // namespace flakebisect::engine
