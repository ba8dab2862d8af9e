#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "base/paths.h"
#include "support/temp_dir.h"

namespace flakebisect::config {
namespace {

using base::ErrorCode;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The guest tables ([kernel], [qemu], [scratch], [reproducer]) with every key set to something
// other than its default; a guest test cannot also have test.command, so it is a text of its own.
constexpr std::string_view kEveryGuestKey = R"([kernel]
base = "tinyconfig"
fragments = ["qemu-guest", "/home/me/extra.config"]
make = ["make", "LLVM=1"]
jobs = 3
ccache = false
target = "vmlinux"

[qemu]
binary = "/opt/qemu/bin/qemu-system-x86_64"
kernel = ""
modules = ""
load_modules = ["virtio_blk"]
accel = "tcg"
memory_mb = 1024
cpus = 4
append = ["nokaslr", "slub_debug=FZ"]
boot_timeout = "5m"
runs_per_boot = 8
direct_boot = true

[scratch]
size_mb = 512
mkfs = ["mkfs.ext4", "-F", "-b", "1024", "-O", "^has_journal"]
fstype = "ext2"
mount_options = "noatime,data=ordered"

[reproducer]
program = "tools/repro"
args = ["-w", "{scratch}/f", "{run}"]
files = ["/etc/hostname"]
)";

// The [xfstests] keys (instead of [reproducer]), each set to something other than its default.
constexpr std::string_view kEveryXfstestsKey = R"(
[xfstests]
root = "/srv/bookworm"
dir = "/opt/xfstests-dev"
tests = ["-g", "quick"]
mkfs_options = "-b 1024"
mount_options = "-o nodelalloc"
environment = ["DIFF_LENGTH=0"]
)";

// A config that sets every key to something other than its default.
constexpr std::string_view kEveryKey = R"([range]
first_parent = true
find_fix = true

[decision]
confidence = 0.95
max_runs = 800
max_wall_time = "2d"
no_regression_prior = 0.1
theta_min = 0.01
rate_spread = 0.35
min_rate_ratio = 3
noise_build_weight = 0.5
rare_build_weight = 2.5
max_reproduce_runs = 64
build_cost = 40
boot_cost = 2.5
run_cost = 0.5
learn_costs = false
revert_check = true
revert_check_max_runs = 120
verify_check = false
verify_check_max_runs = 80
backport_check = true
backport_check_max_runs = 90
backport_onto = "linux-6.1.y"

[build]
command = ["make", "-j16", "bzImage"]
timeout = "2h"

[test]
command = ["./repro", "--iterations", "1"]
timeout = 90
no_output_timeout = "5m"
failure_outcomes = ["crash", "hang"]
signature = "^BUG: .* in ext4_"
runs_per_batch = 16
)";

Config parsed(std::string_view text) {
  auto config = parse_config(text, "config.toml");
  EXPECT_TRUE(config) << config.error().message();
  return config ? std::move(config).value() : Config{};
}

// The message of the error parsing `text` gives; the error must be kInvalidInput.
std::string error_of(std::string_view text) {
  auto config = parse_config(text, "config.toml");
  EXPECT_FALSE(config) << "parsed:\n" << text;
  if (config) {
    return "";
  }
  EXPECT_EQ(config.error().code(), ErrorCode::kInvalidInput);
  return config.error().message();
}

using TempDir = ::flakebisect::test_support::TempDir;

// ---- Values -------------------------------------------------------------------------------------

TEST(ConfigTest, EmptyTextGivesTheDefaults) {
  const Config config = parsed("");
  EXPECT_EQ(config.range, RangeConfig{});
  EXPECT_FALSE(config.range.first_parent);
  EXPECT_EQ(config.decision, DecisionConfig{});
  EXPECT_EQ(config.build, BuildConfig{});
  EXPECT_EQ(config.test, TestConfig{});
  EXPECT_EQ(config.decision.confidence, 0.99);
  EXPECT_EQ(config.decision.max_runs, 5000u);
  EXPECT_EQ(config.decision.max_wall_time, seconds(0));
  EXPECT_TRUE(config.build.command.empty());
  EXPECT_EQ(config.build.timeout, seconds(3600));
  EXPECT_EQ(config.test.timeout, seconds(600));
  EXPECT_THAT(config.test.failure_outcomes, ElementsAre("fail", "crash"));
  EXPECT_FALSE(config.test.signature);
  EXPECT_EQ(config.test.runs_per_batch, 0u);
}

TEST(ConfigTest, CommentsAndEmptyTablesAloneGiveTheDefaults) {
  const Config config = parsed("# nothing yet\n[decision]\n[build]\n[test]\n");
  EXPECT_EQ(config.decision, DecisionConfig{});
  EXPECT_EQ(config.build, BuildConfig{});
  EXPECT_EQ(config.test, TestConfig{});
}

// An error about two settings names each by where it was set (engine/bisection_request.cc).
TEST(ConfigTest, EachKeySetRemembersItsLine) {
  auto config =
      parse_config("[range]\nfind_fix = true\n\n[decision]\n  revert_check = true\n", "fix.toml");
  ASSERT_TRUE(config.has_value()) << config.error().message();
  EXPECT_THAT(config->key_lines,
              ElementsAre(std::pair<const std::string, uint32_t>("decision.revert_check", 5),
                          std::pair<const std::string, uint32_t>("range.find_fix", 2)));
  EXPECT_EQ(config->origin_of("decision.revert_check", "--revert-check"),
            "decision.revert_check (fix.toml:5)");
  EXPECT_EQ(config->origin_of("decision.backport_check", "--backport-check"), "--backport-check");
  EXPECT_TRUE(parsed("").key_lines.empty());
}

TEST(ConfigTest, EveryKeyIsRead) {
  const Config config = parsed(kEveryKey);
  EXPECT_TRUE(config.range.first_parent);
  EXPECT_TRUE(config.range.find_fix);
  EXPECT_EQ(config.decision.confidence, 0.95);
  EXPECT_EQ(config.decision.max_runs, 800u);
  EXPECT_EQ(config.decision.max_wall_time, seconds(2 * 86400));
  EXPECT_EQ(config.decision.no_regression_prior, 0.1);
  EXPECT_EQ(config.decision.theta_min, 0.01);
  EXPECT_EQ(config.decision.rate_spread, 0.35);
  EXPECT_EQ(config.decision.min_rate_ratio, 3.0);
  EXPECT_EQ(config.decision.noise_build_weight, 0.5);
  EXPECT_EQ(config.decision.rare_build_weight, 2.5);
  EXPECT_EQ(config.decision.max_reproduce_runs, 64u);
  EXPECT_EQ(config.decision.build_cost, 40.0);
  EXPECT_EQ(config.decision.boot_cost, 2.5);
  EXPECT_EQ(config.decision.run_cost, 0.5);
  EXPECT_FALSE(config.decision.learn_costs);
  EXPECT_TRUE(config.decision.revert_check);
  EXPECT_EQ(config.decision.revert_check_max_runs, 120u);
  EXPECT_FALSE(config.decision.verify_check);
  EXPECT_EQ(config.decision.verify_check_max_runs, 80u);
  EXPECT_TRUE(config.decision.backport_check);
  EXPECT_EQ(config.decision.backport_check_max_runs, 90u);
  EXPECT_EQ(config.decision.backport_onto, "linux-6.1.y");
  EXPECT_THAT(config.build.command, ElementsAre("make", "-j16", "bzImage"));
  EXPECT_EQ(config.build.timeout, seconds(7200));
  EXPECT_THAT(config.test.command, ElementsAre("./repro", "--iterations", "1"));
  EXPECT_EQ(config.test.timeout, seconds(90));
  EXPECT_EQ(config.test.no_output_timeout, seconds(300));
  EXPECT_THAT(config.test.failure_outcomes, ElementsAre("crash", "hang"));
  EXPECT_EQ(config.test.signature, "^BUG: .* in ext4_");
  EXPECT_EQ(config.test.runs_per_batch, 16u);
}

TEST(ConfigTest, EveryGuestKeyIsRead) {
  const Config config = parsed(kEveryGuestKey);
  ASSERT_TRUE(config.kernel);
  EXPECT_EQ(config.kernel->base, "tinyconfig");
  EXPECT_THAT(config.kernel->fragments, ElementsAre("qemu-guest", "/home/me/extra.config"));
  EXPECT_THAT(config.kernel->make, ElementsAre("make", "LLVM=1"));
  EXPECT_EQ(config.kernel->jobs, 3u);
  EXPECT_FALSE(config.kernel->ccache);
  EXPECT_EQ(config.kernel->target, "vmlinux");
  ASSERT_TRUE(config.qemu);
  EXPECT_EQ(config.qemu->binary, "/opt/qemu/bin/qemu-system-x86_64");
  EXPECT_EQ(config.qemu->kernel, "");
  EXPECT_EQ(config.qemu->modules, "");  // must be empty with [kernel]
  EXPECT_THAT(config.qemu->load_modules, ElementsAre("virtio_blk"));
  // With a prebuilt kernel it names that kernel's module tree.
  const Config prebuilt = parsed(
      "[qemu]\nkernel = \"/boot/vmlinuz-6.1.0-13-amd64\"\nmodules = \"/opt/modules\"\n"
      "[reproducer]\n");
  ASSERT_TRUE(prebuilt.qemu);
  EXPECT_EQ(prebuilt.qemu->modules, "/opt/modules");
  EXPECT_EQ(config.qemu->accel, "tcg");
  EXPECT_EQ(config.qemu->memory_mb, 1024u);
  EXPECT_EQ(config.qemu->cpus, 4u);
  EXPECT_THAT(config.qemu->append, ElementsAre("nokaslr", "slub_debug=FZ"));
  EXPECT_EQ(config.qemu->boot_timeout, seconds(300));
  EXPECT_EQ(config.qemu->runs_per_boot, 8u);
  EXPECT_EQ(config.scratch.size_mb, 512u);
  EXPECT_THAT(config.scratch.mkfs,
              ElementsAre("mkfs.ext4", "-F", "-b", "1024", "-O", "^has_journal"));
  EXPECT_EQ(config.scratch.fstype, "ext2");
  EXPECT_EQ(config.scratch.mount_options, "noatime,data=ordered");
  ASSERT_TRUE(config.reproducer);
  EXPECT_EQ(config.reproducer->program, "tools/repro");
  EXPECT_THAT(config.reproducer->args, ElementsAre("-w", "{scratch}/f", "{run}"));
  EXPECT_THAT(config.reproducer->files, ElementsAre("/etc/hostname"));
  EXPECT_FALSE(config.xfstests);
}

TEST(ConfigTest, EveryXfstestsKeyIsRead) {
  std::string text(kEveryGuestKey);
  text.erase(text.find("[reproducer]"));
  text += kEveryXfstestsKey;
  const Config config = parsed(text);
  EXPECT_FALSE(config.reproducer);
  ASSERT_TRUE(config.xfstests);
  EXPECT_EQ(config.xfstests->root, "/srv/bookworm");
  EXPECT_EQ(config.xfstests->dir, "/opt/xfstests-dev");
  EXPECT_THAT(config.xfstests->tests, ElementsAre("-g", "quick"));
  EXPECT_EQ(config.xfstests->mkfs_options, "-b 1024");
  EXPECT_EQ(config.xfstests->mount_options, "-o nodelalloc");
  EXPECT_THAT(config.xfstests->environment, ElementsAre("DIFF_LENGTH=0"));
}

TEST(ConfigTest, DottedKeysAndInlineTablesWorkLikeTables) {
  const Config config = parsed(
      "decision.max_runs = 10\n"
      "build = { command = [\"make\"], timeout = 60 }\n");
  EXPECT_EQ(config.decision.max_runs, 10u);
  EXPECT_THAT(config.build.command, ElementsAre("make"));
  EXPECT_EQ(config.build.timeout, seconds(60));
}

TEST(ConfigTest, DurationsAcceptIntegerSecondsAndUnitStrings) {
  const Config config = parsed(R"([decision]
max_wall_time = "12h"
[build]
timeout = "1h30m"
[test]
timeout = 90
no_output_timeout = "10m"
)");
  EXPECT_EQ(config.decision.max_wall_time, seconds(12 * 3600));
  EXPECT_EQ(config.build.timeout, seconds(5400));
  EXPECT_EQ(config.test.timeout, seconds(90));
  EXPECT_EQ(config.test.no_output_timeout, seconds(600));
  EXPECT_EQ(parsed("[test]\ntimeout = \"90s\"\n").test.timeout, seconds(90));
}

TEST(ConfigTest, ZeroMeansUnlimitedOrDisabledWhereTheDocsSaySo) {
  const Config config = parsed(
      "[decision]\nmax_wall_time = 0\n[test]\nno_output_timeout = \"0s\"\nruns_per_batch = 0\n");
  EXPECT_EQ(config.decision.max_wall_time, seconds(0));
  EXPECT_EQ(config.test.no_output_timeout, seconds(0));
  EXPECT_EQ(config.test.runs_per_batch, 0u);
}

TEST(ConfigTest, NumbersAcceptIntegersAndFloats) {
  const Config config = parsed("[decision]\nbuild_cost = 25\nrun_cost = 1.5\nboot_cost = 0\n");
  EXPECT_EQ(config.decision.build_cost, 25.0);
  EXPECT_EQ(config.decision.run_cost, 1.5);
  EXPECT_EQ(config.decision.boot_cost, 0.0);
}

TEST(ConfigTest, FailureOutcomesAreKeptInCanonicalOrderWithoutRepeats) {
  EXPECT_THAT(
      parsed("[test]\nfailure_outcomes = [\"hang\", \"fail\", \"hang\"]\n").test.failure_outcomes,
      ElementsAre("fail", "hang"));
}

TEST(ConfigTest, EmptyCommandsMeanNothingConfigured) {
  const Config config = parsed("[build]\ncommand = []\n[test]\ncommand = []\n");
  EXPECT_TRUE(config.build.command.empty());
  EXPECT_TRUE(config.test.command.empty());
}

TEST(ConfigTest, CommandArgumentsAreKeptVerbatimWithoutShellInterpretation) {
  const Config config = parsed(R"([test]
command = ["./repro", "$HOME", "a b", "", "; rm -rf /", "ünïcode"]
)");
  EXPECT_THAT(config.test.command,
              ElementsAre("./repro", "$HOME", "a b", "", "; rm -rf /", "ünïcode"));
}

TEST(ConfigTest, TheSourceTextAndNameAreKept) {
  const std::string text = "# hello\n[decision]\nmax_runs = 7\n";
  auto config = parse_config(text, "/etc/flakebisect/418.toml");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->source_text, text);
  EXPECT_EQ(config->source_name, "/etc/flakebisect/418.toml");
}

// ---- Hash ---------------------------------------------------------------------------------------

TEST(ConfigTest, HashIsSixtyFourLowercaseHexDigits) {
  const std::string hash = parsed("").hash();
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(hash.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(ConfigTest, HashIgnoresCommentsWhitespaceKeyOrderAndSpelling) {
  const std::string reference = parsed(kEveryKey).hash();
  const Config reordered = parsed(R"(
# The same values, written differently.
[test]
runs_per_batch   = 16        # per boot
signature = '^BUG: .* in ext4_'
failure_outcomes = [ "hang", "crash" ]
no_output_timeout = 300
timeout = "1m30s"
command = [
  "./repro",
  "--iterations",
  "1",
]

[build]
timeout = 7200
command = ["make", "-j16", "bzImage"]

[decision]
revert_check_max_runs = 1_20
verify_check_max_runs = 8_0
verify_check = false
backport_check_max_runs = 9_0
backport_onto = 'linux-6.1.y'
backport_check = true
run_cost = 0.50
learn_costs = false
revert_check = true
boot_cost = 2.5
build_cost = 40.0
max_reproduce_runs = 64
theta_min = 1e-2
min_rate_ratio = 3.0
noise_build_weight = 0.50
rare_build_weight = 2.50
rate_spread = 0.350
no_regression_prior = 0.1
max_wall_time = "48h"
max_runs = 8_00
confidence = 0.95

[range]
find_fix = true
first_parent = true
)");
  EXPECT_EQ(reordered.hash(), reference);
  // Neither the text nor the name is part of the identity.
  EXPECT_EQ(parse_config(kEveryKey, "other.toml")->hash(), reference);
}

TEST(ConfigTest, SpellingOutTheDefaultsHashesLikeAnEmptyConfig) {
  EXPECT_EQ(parsed(R"([decision]
confidence = 0.99
max_runs = 5000
max_wall_time = 0
no_regression_prior = 0.0
theta_min = 0.005
rate_spread = 0.25
min_rate_ratio = 2
noise_build_weight = 1
rare_build_weight = 0
max_reproduce_runs = 200
build_cost = 10
boot_cost = 0
run_cost = 1
revert_check = false
revert_check_max_runs = 1000
verify_check = true
verify_check_max_runs = 1000
backport_check = false
backport_check_max_runs = 1000
[range]
first_parent = false
[build]
command = []
timeout = "1h"
[test]
command = []
timeout = "10m"
no_output_timeout = 0
failure_outcomes = ["fail", "crash"]
runs_per_batch = 0
)")
                .hash(),
            parsed("").hash());
}

// decision.noise_build_weight's default went from 0 to 1 in session 11. A stored bisection's hash
// must still mean what it meant: the hex digits are what flakebisect at 79e9eff (default 0) gave
// for "" (weight 0) and for "noise_build_weight = 1". decision.rare_build_weight (session 12) is 0
// by default, as the planner was before it, and leaves these hashes alone.
TEST(ConfigTest, NoiseBuildWeightKeepsTheHashesItHadBeforeItsDefaultChanged) {
  const std::string weight_0 = "6f9ca05a725ae1b5fad5af83789100d9ced8f7a9e9db3c3f5c0bf05538975f42";
  const std::string weight_1 = "e5ae9d8712daaac5e7ed2a76cbdeabf915ac5bfdd47a056ea77ff0d20176069f";
  EXPECT_EQ(parsed("[decision]\nnoise_build_weight = 0\nrare_build_weight = 0\n").hash(), weight_0);
  EXPECT_EQ(parsed("[decision]\nnoise_build_weight = 1\nrare_build_weight = 0\n").hash(), weight_1);
  EXPECT_EQ(parsed("").hash(), weight_1);  // the default is 1 now, and hashes as 1 did
  EXPECT_NE(parsed("[decision]\nrare_build_weight = 1\n").hash(), weight_1);
}

// [range] came after v1: a config without it, or with first_parent = false, keeps the hash it had
// (the hex digits are weight_1 above, what "" gave before [range] existed); true changes it,
// since it changes the candidates and so the answer.
TEST(ConfigTest, RangeFirstParentChangesTheHashOnlyWhenTrue) {
  const std::string before = "e5ae9d8712daaac5e7ed2a76cbdeabf915ac5bfdd47a056ea77ff0d20176069f";
  EXPECT_EQ(parsed("").hash(), before);
  EXPECT_EQ(parsed("[range]\nfirst_parent = false\n").hash(), before);
  EXPECT_NE(parsed("[range]\nfirst_parent = true\n").hash(), before);
  Config built;
  built.range.first_parent = true;
  EXPECT_EQ(built.hash(), parsed("[range]\nfirst_parent = true\n").hash());
}

TEST(ConfigTest, RangeFindFixIsReadAndChangesTheHashOnlyWhenTrue) {
  const std::string before = parsed("").hash();
  EXPECT_FALSE(parsed("").range.find_fix);
  EXPECT_TRUE(parsed("[range]\nfind_fix = true\n").range.find_fix);
  EXPECT_EQ(parsed("[range]\nfind_fix = false\n").hash(), before);
  const std::string fix = parsed("[range]\nfind_fix = true\n").hash();
  EXPECT_NE(fix, before);
  EXPECT_NE(fix, parsed("[range]\nfirst_parent = true\n").hash());
  Config built;
  built.range.find_fix = true;
  EXPECT_EQ(built.hash(), fix);
  // A fix search walks the first-parent chain anyway: first_parent says nothing more.
  EXPECT_EQ(parsed("[range]\nfind_fix = true\nfirst_parent = true\n").hash(), fix);
  auto wrong = parse_config("[range]\nfind_fix = \"yes\"\n", "c.toml");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_THAT(wrong.error().message(), HasSubstr("c.toml:2:"));
  EXPECT_THAT(wrong.error().message(), HasSubstr("range.find_fix"));
}

TEST(ConfigTest, HashOfAConfigBuiltInCodeTreatsOutcomesAsASetAndNegativeZeroAsZero) {
  Config built;
  built.test.failure_outcomes = {"crash", "fail", "crash"};
  built.decision.boot_cost = -0.0;
  EXPECT_EQ(built.hash(), parsed("").hash());
}

TEST(ConfigTest, HashChangesWhenAnyValueChanges) {
  const std::vector<std::string> variants = {
      "",
      "[range]\nfirst_parent = true\n",
      "[decision]\nconfidence = 0.999\n",
      "[decision]\nmax_runs = 5001\n",
      "[decision]\nmax_wall_time = 1\n",
      "[decision]\nno_regression_prior = 0.01\n",
      "[decision]\ntheta_min = 0.006\n",
      "[decision]\nrate_spread = 0.35\n",
      "[decision]\nmin_rate_ratio = 1\n",
      "[decision]\nnoise_build_weight = 0\n",
      "[decision]\nrare_build_weight = 1\n",
      "[decision]\nmax_reproduce_runs = 201\n",
      "[decision]\nbuild_cost = 11\n",
      "[decision]\nboot_cost = 1\n",
      "[decision]\nrun_cost = 2\n",
      "[build]\ncommand = [\"make\"]\n",
      "[build]\ncommand = [\"make\", \"\"]\n",
      "[build]\ncommand = [\"make \"]\n",
      "[build]\ntimeout = 3601\n",
      "[test]\ncommand = [\"make\"]\n",
      "[test]\ncommand = [\"a\", \"b\"]\n",
      "[test]\ncommand = [\"a b\"]\n",
      "[test]\ntimeout = 601\n",
      "[test]\nno_output_timeout = 1\n",
      "[test]\nfailure_outcomes = [\"fail\"]\n",
      "[test]\nfailure_outcomes = [\"fail\", \"crash\", \"hang\"]\n",
      "[test]\nsignature = \"BUG\"\n",
      "[test]\nsignature = \"BUG \"\n",
      "[test]\nruns_per_batch = 1\n",
  };
  std::set<std::string> hashes;
  for (const std::string& text : variants) {
    EXPECT_TRUE(hashes.insert(parsed(text).hash()).second) << "same hash as another for:\n" << text;
  }
}

// ---- Errors -------------------------------------------------------------------------------------

TEST(ConfigTest, SyntaxErrorsNameTheLineAndColumn) {
  EXPECT_EQ(error_of("[decision]\nmax_runs = 10\nconfidence = [0.9, \n"),
            "config.toml:3:21: syntax error: Error while parsing array: encountered end-of-file");
  EXPECT_EQ(error_of("[test]\ncommand = [\"a\"]\ncommand = [\"b\"]\n"),
            "config.toml:3:11: syntax error: Error while parsing key-value pair: cannot redefine "
            "existing array 'command'");
}

TEST(ConfigTest, AnUnknownKeyIsAnErrorThatSuggestsTheNearestKnownKey) {
  EXPECT_EQ(error_of("# bisection of generic/418\n\n[decison]\nconfidence = 0.9\n"),
            "config.toml:4:1: unknown key 'decison.confidence'; did you mean "
            "'decision.confidence'?");
  EXPECT_EQ(error_of("[test]\ntimeuot = 5\n"),
            "config.toml:2:1: unknown key 'test.timeuot'; did you mean 'test.timeout'?");
}

TEST(ConfigTest, AKeyInTheWrongTableSuggestsTheTableItBelongsIn) {
  EXPECT_EQ(error_of("[test]\nmax_runs = 100\n"),
            "config.toml:2:1: unknown key 'test.max_runs'; did you mean 'decision.max_runs'?");
  EXPECT_EQ(error_of("confidence = 0.9\n"),
            "config.toml:1:1: unknown key 'confidence'; did you mean 'decision.confidence'?");
  EXPECT_EQ(error_of("[decision]\nfirst_parent = true\n"),
            "config.toml:2:1: unknown key 'decision.first_parent'; did you mean "
            "'range.first_parent'?");
}

TEST(ConfigTest, AnUnknownKeyFarFromEveryKnownKeyHasNoSuggestion) {
  EXPECT_EQ(error_of("[build]\nzebra = true\n"), "config.toml:2:1: unknown key 'build.zebra'");
}

TEST(ConfigTest, AKernelKeyInTheBuildTableSuggestsTheKernelTable) {
  EXPECT_EQ(error_of("[build]\nccache = true\n"),
            "config.toml:2:1: unknown key 'build.ccache'; did you mean 'kernel.ccache'?");
}

TEST(ConfigTest, HostileKeysAreQuotedSoTheMessageStaysOneLine) {
  const std::string message = error_of("[test]\n\"time\\nout\" = 5\n");
  EXPECT_EQ(message, "config.toml:2:1: unknown key 'test.\"time\\nout\"'");
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(ConfigTest, AbsurdlyDeepKeysAreRefusedInsteadOfOverflowingTheStack) {
  std::string deep = "[test]\n# a comment. with. dots. does not count.\na";
  for (int i = 0; i < 100000; ++i) {
    deep += ".a";
  }
  EXPECT_EQ(error_of(deep + " = 1\n"),
            "config.toml:3:1: syntax error: more than 1000 '.' outside comments; keys nested this "
            "deep are not supported");
}

TEST(ConfigTest, AVeryLongUnknownKeyIsShortenedInTheMessage) {
  const std::string message = error_of("[test]\n" + std::string(5000, 'k') + " = 1\n");
  EXPECT_EQ(message, "config.toml:2:1: unknown key 'test." + std::string(195, 'k') + "...'");
}

TEST(ConfigTest, AWrongTypeNamesTheExpectedTypeAndWhatWasWritten) {
  EXPECT_EQ(error_of("[decision]\nmax_runs = \"100\"\n"),
            "config.toml:2:1: decision.max_runs: must be an integer, got \"100\"");
  EXPECT_EQ(error_of("[decision]\nmax_runs = 100.0\n"),
            "config.toml:2:1: decision.max_runs: must be an integer, got 100.0");
  EXPECT_EQ(error_of("[decision]\nconfidence = \"high\"\n"),
            "config.toml:2:1: decision.confidence: must be a number, got \"high\"");
  EXPECT_EQ(error_of("[test]\ntimeout = 1.5\n"),
            "config.toml:2:1: test.timeout: must be a duration (whole seconds, or a string like "
            "\"90s\", \"10m\", \"1h30m\"), got 1.5");
  EXPECT_EQ(error_of("[test]\nsignature = 5\n"),
            "config.toml:2:1: test.signature: must be a string (a regular expression), got 5");
  EXPECT_EQ(error_of("[test]\nfailure_outcomes = \"fail\"\n"),
            "config.toml:2:1: test.failure_outcomes: must be an array of outcome names, got "
            "\"fail\"");
  EXPECT_EQ(error_of("[range]\nfirst_parent = 1\n"),
            "config.toml:2:1: range.first_parent: must be true or false, got 1");
  EXPECT_EQ(error_of("decision = 5\n"), "config.toml:1:1: decision: must be a table, got 5");
  EXPECT_EQ(error_of("[[test]]\n"), "config.toml:1:3: test: must be a table, got an array");
}

TEST(ConfigTest, AnOutOfRangeNumberShowsTheRangeAndTheValue) {
  EXPECT_EQ(error_of("# generic/418\n\n[build]\ncommand = [\"make\"]\n\n[decision]\n"
                     "confidence = 1.5\n"),
            "config.toml:7:1: decision.confidence: must be a number in (0.5, 1), got 1.5");
  EXPECT_EQ(error_of("[decision]\nconfidence = 0.5\n"),
            "config.toml:2:1: decision.confidence: must be a number in (0.5, 1), got 0.5");
  EXPECT_EQ(error_of("[decision]\nno_regression_prior = 1\n"),
            "config.toml:2:1: decision.no_regression_prior: must be a number in [0, 1), got 1");
  EXPECT_EQ(error_of("[decision]\ntheta_min = 0\n"),
            "config.toml:2:1: decision.theta_min: must be a number in (0, 1), got 0");
  EXPECT_EQ(error_of("[decision]\nrate_spread = -0.1\n"),
            "config.toml:2:1: decision.rate_spread: must be a number in [0, 2], got -0.1");
  EXPECT_EQ(error_of("[decision]\nmin_rate_ratio = 0.5\n"),
            "config.toml:2:1: decision.min_rate_ratio: must be a number in [1, 100], got 0.5");
  EXPECT_EQ(error_of("[decision]\nnoise_build_weight = -1\n"),
            "config.toml:2:1: decision.noise_build_weight: must be a number in [0, 100], got -1");
  EXPECT_EQ(error_of("[decision]\nrare_build_weight = 101\n"),
            "config.toml:2:1: decision.rare_build_weight: must be a number in [0, 100], got 101");
  EXPECT_EQ(error_of("[decision]\nbuild_cost = -1\n"),
            "config.toml:2:1: decision.build_cost: must be a number >= 0, got -1");
  EXPECT_EQ(error_of("[decision]\nrun_cost = 0\n"),
            "config.toml:2:1: decision.run_cost: must be a number > 0, got 0");
  EXPECT_EQ(error_of("[decision]\nrun_cost = inf\n"),
            "config.toml:2:1: decision.run_cost: must be a finite number, got inf");
  EXPECT_EQ(error_of("[decision]\nboot_cost = nan\n"),
            "config.toml:2:1: decision.boot_cost: must be a finite number, got nan");
}

TEST(ConfigTest, CountsMustBePositive) {
  EXPECT_EQ(error_of("[decision]\nmax_runs = 0\n"),
            "config.toml:2:1: decision.max_runs: must be at least 1, got 0");
  EXPECT_EQ(error_of("[decision]\nmax_reproduce_runs = -3\n"),
            "config.toml:2:1: decision.max_reproduce_runs: must be at least 1, got -3");
  EXPECT_EQ(error_of("[decision]\nrevert_check_max_runs = 0\n"),
            "config.toml:2:1: decision.revert_check_max_runs: must be at least 1, got 0");
  EXPECT_THAT(error_of("[decision]\nrevert_check = \"yes\"\n"), HasSubstr("decision.revert_check"));
  EXPECT_EQ(error_of("[decision]\nverify_check_max_runs = 0\n"),
            "config.toml:2:1: decision.verify_check_max_runs: must be at least 1, got 0");
  EXPECT_THAT(error_of("[decision]\nverify_check = 1\n"), HasSubstr("decision.verify_check"));
  EXPECT_THAT(error_of("[decision]\nbackport_onto = \"\"\n"), HasSubstr("must name a revision"));
  EXPECT_EQ(error_of("[decision]\nbackport_check_max_runs = 0\n"),
            "config.toml:2:1: decision.backport_check_max_runs: must be at least 1, got 0");
  EXPECT_EQ(error_of("[test]\nruns_per_batch = -1\n"),
            "config.toml:2:1: test.runs_per_batch: must be at least 0, got -1");
  EXPECT_EQ(error_of("[decision]\nmax_runs = 4294967296\n"),
            "config.toml:2:1: decision.max_runs: must be at most 4294967295, got 4294967296");
}

TEST(ConfigTest, RunsPerBatchMayNotExceedTheWholeBudget) {
  EXPECT_EQ(error_of("[test]\nruns_per_batch = 20\n[decision]\nmax_runs = 10\n"),
            "config.toml:2:1: test.runs_per_batch: must be at most decision.max_runs (10), got 20");
}

TEST(ConfigTest, TimeoutsMustBePositiveAndDurationsWellFormed) {
  EXPECT_EQ(error_of("[build]\ntimeout = 0\n"),
            "config.toml:2:1: build.timeout: must be at least 1s, got 0");
  EXPECT_EQ(error_of("[test]\ntimeout = \"0s\"\n"),
            "config.toml:2:1: test.timeout: must be at least 1s, got \"0s\"");
  EXPECT_EQ(error_of("[test]\nno_output_timeout = -1\n"),
            "config.toml:2:1: test.no_output_timeout: must not be negative, got -1");
  EXPECT_EQ(error_of("[decision]\nmax_wall_time = 99999999999\n"),
            "config.toml:2:1: decision.max_wall_time: must be at most 365d, got 99999999999");
  EXPECT_EQ(error_of("[test]\ntimeout = \"10 minutes\"\n"),
            "config.toml:2:1: test.timeout: \"10 minutes\" is not a duration: unknown unit ' '; "
            "use d, h, m or s");
  EXPECT_EQ(error_of("[test]\ntimeout = \"10\"\n"),
            "config.toml:2:1: test.timeout: \"10\" is not a duration: no unit after 10");
}

TEST(ConfigTest, AShellStringCommandIsRefusedWithTheArgvToWriteInstead) {
  EXPECT_EQ(error_of("[build]\ncommand = \"make -j8  bzImage\"\n"),
            "config.toml:2:1: build.command: must be an array of strings (argv); no shell is used: "
            "write [\"make\", \"-j8\", \"bzImage\"]");
  EXPECT_EQ(error_of("[test]\ncommand = \"./repro && dmesg | grep BUG\"\n"),
            "config.toml:2:1: test.command: must be an array of strings (argv); no shell is used: "
            "write [\"sh\", \"-c\", \"./repro && dmesg | grep BUG\"] if you need one");
}

TEST(ConfigTest, ABadCommandItemIsReportedAtTheItem) {
  EXPECT_EQ(error_of("[build]\ncommand = [\"make\", 8]\n"),
            "config.toml:2:20: build.command[1]: must be a string, got 8");
  EXPECT_EQ(error_of("[test]\ncommand = [\"\", \"x\"]\n"),
            "config.toml:2:12: test.command[0]: the program name must not be empty");
  EXPECT_EQ(error_of("[test]\ncommand = [\"a\\u0000b\"]\n"),
            "config.toml:2:12: test.command[0]: must not contain a NUL character");
  EXPECT_EQ(error_of("[test]\ncommand = 5\n"),
            "config.toml:2:1: test.command: must be an array of strings (argv), got 5");
}

TEST(ConfigTest, ASignatureThatIsNotARegexIsReportedWithTheRegexError) {
  const std::string message = error_of("[test]\nsignature = \"BUG: (unclosed\"\n");
  EXPECT_THAT(message,
              StartsWith("config.toml:2:1: test.signature: not a valid regular expression: "));
  EXPECT_GT(message.size(), std::string_view("config.toml:2:1: test.signature: not a valid "
                                             "regular expression: ")
                                .size());
  EXPECT_EQ(error_of("[test]\nsignature = \"\"\n"),
            "config.toml:2:1: test.signature: must not be empty (leave it out to count every "
            "crash)");
}

TEST(ConfigTest, AnUnknownOutcomeNameIsReportedAtTheItem) {
  EXPECT_EQ(error_of("[test]\nfailure_outcomes = [\"fail\", \"oops\"]\n"),
            "config.toml:2:29: test.failure_outcomes[1]: must be one of fail, crash, hang, got "
            "\"oops\"");
  EXPECT_EQ(error_of("[test]\nfailure_outcomes = [\"infra\"]\n"),
            "config.toml:2:21: test.failure_outcomes[0]: must be one of fail, crash, hang, got "
            "\"infra\" (infra says nothing about the commit, so it never counts)");
  EXPECT_EQ(error_of("[test]\nfailure_outcomes = []\n"),
            "config.toml:2:1: test.failure_outcomes: must name at least one outcome (fail, crash "
            "or hang)");
}

TEST(ConfigTest, OfSeveralProblemsTheOneNearestTheStartIsReported) {
  // [decision] sorts before [test]; the report still follows the file.
  EXPECT_EQ(error_of("[test]\ntimeout = 0\n[decision]\nmax_runs = 0\nbogus = 1\n"),
            "config.toml:2:1: test.timeout: must be at least 1s, got 0");
}

TEST(ConfigTest, AnEmptySourceNameStillGivesAPosition) {
  auto config = parse_config("[decision]\nmax_runs = 0\n", "");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message(), "config:2:1: decision.max_runs: must be at least 1, got 0");
}

// ---- Files --------------------------------------------------------------------------------------

TEST(ConfigTest, LoadConfigReadsTheFileAndNamesItInErrors) {
  const TempDir dir;
  const std::string good = dir.write("good.toml", "[decision]\nmax_runs = 12\n");
  auto config = load_config(good);
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->decision.max_runs, 12u);
  EXPECT_EQ(config->source_name, good);

  const std::string bad = dir.write("bad.toml", "[decision]\nmax_runs = 0\n");
  auto failed = load_config(bad);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(failed.error().message(), bad + ":2:1: decision.max_runs: must be at least 1, got 0");
}

TEST(ConfigTest, LoadingAMissingFileIsNotFound) {
  const TempDir dir;
  const std::string path = dir.path() + "/missing.toml";
  auto config = load_config(path);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(config.error().message(), "config " + path + ": not found");
}

TEST(ConfigTest, LoadingADirectoryIsAnErrorNamingThePath) {
  const TempDir dir;
  auto config = load_config(dir.path());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code(), ErrorCode::kIo);
  EXPECT_THAT(config.error().message(), StartsWith("config " + dir.path() + ": "));
}

TEST(ConfigTest, LoadingAHugeFileIsRefused) {
  const TempDir dir;
  const std::string path = dir.write("huge.toml", std::string(size_t{2} << 20, '#'));
  auto config = load_config(path);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(config.error().message(), StartsWith("config " + path + ": "));
}

TEST(ConfigTest, TheExampleConfigParses) {
  auto config = load_config(FLAKEBISECT_SOURCE_DIR "/configs/bisect/example.toml");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_FALSE(config->test.command.empty());
  EXPECT_FALSE(config->build.command.empty());
}

TEST(ConfigTest, EveryKeyIsDocumented) {
  auto docs = base::read_file(FLAKEBISECT_SOURCE_DIR "/docs/config.md");
  ASSERT_TRUE(docs) << docs.error().message();
  for (const std::string& key : config_keys()) {
    EXPECT_NE(docs->find("`" + key + "`"), std::string::npos) << key << " is not in docs/config.md";
  }
}

TEST(ConfigTest, TheEveryKeyTextsOfTheseTestsSetEveryKey) {
  const std::vector<std::string> keys = config_keys();
  EXPECT_EQ(keys.size(), 61u);
  const std::string both =
      std::string(kEveryKey) + std::string(kEveryGuestKey) + std::string(kEveryXfstestsKey);
  for (const std::string& key : keys) {
    const auto dot = key.find('.');
    const std::string table = "[" + key.substr(0, dot) + "]";
    const size_t at = both.find(table);
    ASSERT_NE(at, std::string::npos) << key;
    const size_t next = both.find("\n[", at + 1);
    EXPECT_THAT(both.substr(at, next == std::string::npos ? std::string::npos : next - at),
                HasSubstr("\n" + key.substr(dot + 1) + " = "))
        << key;
  }
}

TEST(FilesystemConfigName, NamesTheBlockSizeAsKvmXfstestsDoesAndIgnoresWhatIsNoBlockSize) {
  using Args = std::vector<std::string>;
  EXPECT_EQ(filesystem_config_name("ext4", Args{"mkfs.ext4", "-q", "-F", "-b", "1024"}), "ext4/1k");
  EXPECT_EQ(filesystem_config_name("ext4", Args{"-b4096"}), "ext4/4k");
  EXPECT_EQ(filesystem_config_name("xfs", Args{"-f", "-b", "size=4096"}), "xfs/4k");
  EXPECT_EQ(filesystem_config_name("xfs", Args{"-b", "size=4k"}), "xfs/4k");
  EXPECT_EQ(filesystem_config_name("xfs", Args{"-b", "1000"}), "xfs/1000");
  EXPECT_EQ(filesystem_config_name("ext4", Args{"-b", "1024", "-b", "4096"}), "ext4/4k");
  EXPECT_EQ(filesystem_config_name("ext4", Args{"mkfs.ext4"}), "ext4");
  EXPECT_EQ(filesystem_config_name("ext4", Args{"-O", "^has_journal", "-b"}), "ext4");
  // Some other mkfs's -b, or a mistake: no block size.
  for (const Args& args : {Args{"-b", "10G"}, Args{"-b", "foo"}, Args{"-b", "0"},
                           Args{"-b", "-O", "^has_journal"}, Args{"-b", "1024", "-b", "foo"}}) {
    const std::string expected = args.size() == 4 ? "ext4/1k" : "ext4";
    EXPECT_EQ(filesystem_config_name("ext4", args), expected) << ::testing::PrintToString(args);
  }
}

}  // namespace
}  // namespace flakebisect::config

namespace flakebisect::config {
namespace {

TEST(ConfigTest, QemuDirectBootIsABooleanOffByDefaultAndHashedOnlyWhenOn) {
  const std::string guest =
      "[reproducer]\nprogram = \"bundled:dio-check\"\n[qemu]\nkernel = "
      "\"/boot/vmlinuz-6.1.0-56-amd64\"\n";
  const auto off = parse_config(guest, "c.toml");
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_FALSE(off->qemu->direct_boot);
  const auto spelled = parse_config(guest + "direct_boot = false\n", "c.toml");
  ASSERT_TRUE(spelled) << spelled.error().message();
  EXPECT_EQ(spelled->hash(), off->hash()) << "configurations from before the key hash as they did";
  const auto on = parse_config(guest + "direct_boot = true\n", "c.toml");
  ASSERT_TRUE(on) << on.error().message();
  EXPECT_TRUE(on->qemu->direct_boot);
  EXPECT_NE(on->hash(), off->hash());
  const auto wrong = parse_config(guest + "direct_boot = \"yes\"\n", "c.toml");
  ASSERT_FALSE(wrong);
  EXPECT_THAT(wrong.error().message(), ::testing::HasSubstr("qemu.direct_boot"));
}

}  // namespace
}  // namespace flakebisect::config
