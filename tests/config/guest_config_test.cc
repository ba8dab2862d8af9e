// The guest tables: [kernel], [qemu], [scratch], [reproducer] and [xfstests].
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace flakebisect::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kDebianKernel = R"([qemu]
kernel = "/boot/vmlinuz-6.1.0-13-amd64"

[reproducer]
)";

Config parsed(std::string_view text) {
  auto config = parse_config(text, "g.toml");
  EXPECT_TRUE(config) << config.error().message();
  return config ? std::move(config).value() : Config{};
}

std::string error_of(std::string_view text) {
  auto config = parse_config(text, "g.toml");
  EXPECT_FALSE(config) << "parsed:\n" << text;
  return config ? std::string() : config.error().message();
}

TEST(GuestConfigTest, ANoOutputTimeoutIsRefusedInANewXfstestsTestButNotInAStoredOne) {
  const std::string text =
      "[qemu]\nkernel = \"/boot/vmlinuz\"\n[xfstests]\ndir = \"/opt/xfstests\"\n"
      "tests = [\"generic/418\"]\n[test]\nno_output_timeout = \"2m\"\n";
  EXPECT_THAT(error_of(text), HasSubstr("g.toml:7:1: test.no_output_timeout: not supported with "
                                        "[xfstests]"));
  // Earlier versions stored such configurations: their bisections must still resume.
  auto stored = parse_config(text, "bisection 3 configuration", ConfigOrigin::kStored);
  ASSERT_TRUE(stored) << stored.error().message();
  EXPECT_EQ(stored->test.no_output_timeout, std::chrono::minutes(2));
}

TEST(GuestConfigTest, AnEmptyReproducerTableMeansTheBundledGeneric418Checker) {
  const Config config = parsed(kDebianKernel);
  ASSERT_TRUE(config.qemu && config.reproducer);
  EXPECT_FALSE(config.kernel);
  EXPECT_EQ(config.reproducer->program, "bundled:dio-check");
  EXPECT_THAT(config.scratch.mkfs, ElementsAre("mkfs.ext4", "-q", "-F", "-b", "1024"));
  EXPECT_EQ(config.qemu->accel, "auto");
  EXPECT_EQ(config.qemu->runs_per_boot, 16u);
}

TEST(GuestConfigTest, AGuestTestNeedsBothQemuAndReproducer) {
  EXPECT_EQ(error_of("[qemu]\nkernel = \"/boot/vmlinuz\"\n"),
            "g.toml:1:2: [qemu]: needs a [reproducer] or [xfstests] table saying what to run in "
            "the guest");
  EXPECT_EQ(error_of("[reproducer]\n"),
            "g.toml:1:2: [reproducer]: needs a [qemu] table to run the guest in");
}

TEST(GuestConfigTest, AHostCommandAndAGuestReproducerAreExclusive) {
  EXPECT_THAT(error_of(std::string(kDebianKernel) + "[test]\ncommand = [\"./t\"]\n"),
              HasSubstr("[reproducer]: test.command already says how to test"));
}

TEST(GuestConfigTest, WithoutAKernelTableQemuNeedsAPrebuiltKernel) {
  EXPECT_THAT(error_of("[qemu]\n[reproducer]\n"),
              HasSubstr("qemu.kernel: a prebuilt kernel image is needed"));
  EXPECT_THAT(error_of("[kernel]\n[qemu]\nkernel = \"/boot/vmlinuz\"\n[reproducer]\n"),
              HasSubstr("qemu.kernel: must be empty with [kernel]"));
  // Modules built for another kernel cannot go with the kernels built at each commit.
  EXPECT_THAT(
      error_of("[kernel]\n[qemu]\nmodules = \"/lib/modules/6.1.0-13-amd64\"\n[reproducer]\n"),
      HasSubstr("qemu.modules: must be empty with [kernel]"));
  const Config built = parsed("[kernel]\n[qemu]\n[reproducer]\n");
  ASSERT_TRUE(built.kernel);
  EXPECT_THAT(built.kernel->fragments, ElementsAre("qemu-guest"));
}

TEST(GuestConfigTest, AKernelBuildAndABuildCommandAreExclusive) {
  EXPECT_THAT(error_of("[build]\ncommand = [\"make\"]\n[kernel]\n[qemu]\n[reproducer]\n"),
              HasSubstr("[kernel]: build.command already says how to build"));
}

TEST(GuestConfigTest, BadGuestValuesNameTheKey) {
  const std::string base(kDebianKernel);
  EXPECT_EQ(error_of("[kernel]\nbase = \"my.config\"\n[qemu]\n[reproducer]\n"),
            "g.toml:2:1: kernel.base: must be defconfig, tinyconfig, allnoconfig or an absolute "
            "path to a .config, got \"my.config\"");
  EXPECT_EQ(error_of("[kernel]\nfragments = [\"../x.config\"]\n[qemu]\n[reproducer]\n"),
            "g.toml:2:14: kernel.fragments[0]: must be a bundled fragment's name or an absolute "
            "path, got \"../x.config\"");
  EXPECT_EQ(error_of("[qemu]\nkernel = \"/boot/vmlinuz\"\naccel = \"hvf\"\n[reproducer]\n"),
            "g.toml:3:1: qemu.accel: must be auto, kvm or tcg, got \"hvf\"");
  EXPECT_EQ(error_of("[qemu]\nkernel = \"/boot/vmlinuz\"\nruns_per_boot = 99\n[reproducer]\n"),
            "g.toml:3:1: qemu.runs_per_boot: must be at most 24, got 99");
  EXPECT_EQ(error_of("[qemu]\nkernel = \"vmlinuz\"\n[reproducer]\n"),
            "g.toml:2:1: qemu.kernel: must be an absolute path, got \"vmlinuz\"");
  EXPECT_EQ(error_of(base + "program = \"bundled:xfstests\"\n"),
            "g.toml:5:1: reproducer.program: the bundled reproducer is bundled:dio-check, got "
            "\"bundled:xfstests\"");
  EXPECT_EQ(error_of(base + "args = [\"a\\nb\"]\n"),
            "g.toml:5:9: reproducer.args[0]: must not contain a line break, got \"a\\nb\"");
  EXPECT_EQ(error_of(base + "[scratch]\nmkfs = \"mkfs.ext4 -b 1024\"\n"),
            "g.toml:6:1: scratch.mkfs: must be an array of strings (argv); no shell is used: "
            "write [\"mkfs.ext4\", \"-b\", \"1024\"]");
  EXPECT_EQ(error_of(base + "[scratch]\nsize_mb = 8\n"),
            "g.toml:6:1: scratch.size_mb: must be at least 16, got 8");
}

TEST(GuestConfigTest, TheKernelTargetIsAMakeTarget) {
  EXPECT_EQ(parsed("[kernel]\ntarget = \"bzImage\"\n[qemu]\n[reproducer]\n").kernel->target, "bzImage");
  EXPECT_EQ(error_of("[kernel]\ntarget = \"/boot/x\"\n[qemu]\n[reproducer]\n"),
            "g.toml:2:1: kernel.target: must be a make target such as bzImage, got \"/boot/x\"");
}

TEST(GuestConfigTest, AScratchTableWithoutQemuIsAnError) {
  EXPECT_EQ(error_of("[scratch]\nsize_mb = 64\n"), "g.toml:1:2: [scratch]: only used with [qemu]");
}

TEST(GuestConfigTest, GuestTablesChangeTheHashOnlyWhenPresentAndDifferent) {
  const std::string plain = parsed("[test]\ncommand = [\"./t\"]\n").hash();
  EXPECT_EQ(parsed("[test]\ncommand = [\"./t\"]\n# a comment\n").hash(), plain);
  const std::string guest = parsed(kDebianKernel).hash();
  EXPECT_NE(guest, plain);
  EXPECT_EQ(parsed(std::string(kDebianKernel) + "program = \"bundled:dio-check\"\n").hash(), guest);
  EXPECT_NE(parsed(std::string(kDebianKernel) + "args = [\"-w\"]\n").hash(), guest);
  EXPECT_NE(parsed(std::string(kDebianKernel) + "[scratch]\nsize_mb = 128\n").hash(), guest);
}

constexpr std::string_view kXfstests = R"([qemu]
kernel = "/boot/vmlinuz-6.1.0-13-amd64"

[xfstests]
dir = "/opt/xfstests-dev"
)";

TEST(GuestConfigTest, AnXfstestsTableRunsGeneric418FromTheHostRootByDefault) {
  const Config config = parsed(kXfstests);
  ASSERT_TRUE(config.qemu && config.xfstests);
  EXPECT_FALSE(config.reproducer);
  EXPECT_EQ(config.xfstests->root, "/");
  EXPECT_EQ(config.xfstests->dir, "/opt/xfstests-dev");
  EXPECT_THAT(config.xfstests->tests, ElementsAre("generic/418"));
  EXPECT_EQ(config.xfstests->mkfs_options, "");
  EXPECT_TRUE(config.xfstests->environment.empty());
  const Config every = parsed(std::string(kXfstests) +
                              "root = \"/srv/bookworm\"\ntests = [\"-g\", \"quick\"]\n"
                              "mkfs_options = \"-b 1024\"\nmount_options = \"-o nodelalloc\"\n"
                              "environment = [\"DIFF_LENGTH=0\", \"SOAK_DURATION=10m\"]\n");
  EXPECT_EQ(every.xfstests->root, "/srv/bookworm");
  EXPECT_THAT(every.xfstests->tests, ElementsAre("-g", "quick"));
  EXPECT_EQ(every.xfstests->mkfs_options, "-b 1024");
  EXPECT_EQ(every.xfstests->mount_options, "-o nodelalloc");
  EXPECT_THAT(every.xfstests->environment, ElementsAre("DIFF_LENGTH=0", "SOAK_DURATION=10m"));
}

TEST(GuestConfigTest, XfstestsNeedsQemuADirAndNoOtherTest) {
  EXPECT_EQ(error_of("[xfstests]\ndir = \"/x\"\n"),
            "g.toml:1:2: [xfstests]: needs a [qemu] table to run the guest in");
  EXPECT_EQ(error_of("[qemu]\nkernel = \"/boot/vmlinuz\"\n[xfstests]\n"),
            "g.toml:3:2: xfstests.dir: required: the absolute path of a built xfstests tree (the "
            "directory holding ./check), as seen inside xfstests.root");
  EXPECT_THAT(error_of(std::string(kXfstests) + "[reproducer]\n"),
              HasSubstr("[xfstests]: the guest runs either a [reproducer] or xfstests, not both"));
  EXPECT_THAT(error_of(std::string(kXfstests) + "[test]\ncommand = [\"./t\"]\n"),
              HasSubstr("[xfstests]: test.command already says how to test"));
}

TEST(GuestConfigTest, BadXfstestsValuesNameTheKey) {
  const std::string base(kXfstests);
  EXPECT_EQ(error_of(base + "root = \"srv\"\n"),
            "g.toml:6:1: xfstests.root: must be an absolute path, got \"srv\"");
  EXPECT_EQ(error_of(base + "tests = []\n"),
            "g.toml:6:1: xfstests.tests: must name at least one test, e.g. [\"generic/418\"]");
  EXPECT_EQ(error_of(base + "environment = [\"1X=2\"]\n"),
            "g.toml:6:16: xfstests.environment[0]: must be NAME=value with NAME made of letters, "
            "digits and _, got \"1X=2\"");
  EXPECT_EQ(error_of(base + "environment = [\"X\"]\n"),
            "g.toml:6:16: xfstests.environment[0]: must be NAME=value with NAME made of letters, "
            "digits and _, got \"X\"");
  EXPECT_EQ(error_of(base + "root = \"/srv/x\\ny\"\n"),
            "g.toml:6:1: xfstests.root: must not contain a line break, got \"/srv/x\\ny\"");
  EXPECT_EQ(error_of(base + "mkfs_options = \"-b\\n1024\"\n"),
            "g.toml:6:1: xfstests.mkfs_options: must not contain a line break, got \"-b\\n1024\"");
}

TEST(GuestConfigTest, TheXfstestsTableChangesTheHash) {
  const std::string plain = parsed(kXfstests).hash();
  EXPECT_EQ(parsed(std::string(kXfstests) + "tests = [\"generic/418\"]\nroot = \"/\"\n").hash(),
            plain);
  EXPECT_NE(parsed(std::string(kXfstests) + "tests = [\"generic/419\"]\n").hash(), plain);
  EXPECT_NE(parsed(std::string(kXfstests) + "mkfs_options = \"-b 1024\"\n").hash(), plain);
  EXPECT_NE(parsed(std::string(kDebianKernel)).hash(), plain);
}

TEST(GuestConfigTest, TheSeedCaseConfigParses) {
  auto config = load_config(FLAKEBISECT_SOURCE_DIR "/configs/bisect/generic-418-ext4-1k.toml");
  ASSERT_TRUE(config) << config.error().message();
  ASSERT_TRUE(config->kernel && config->qemu && config->reproducer);
  EXPECT_EQ(config->reproducer->program, "bundled:dio-check");
  EXPECT_THAT(config->scratch.mkfs, testing::Contains("1024"));
}

TEST(GuestConfigTest, TheXfstestsSeedCaseConfigParses) {
  auto config = load_config(FLAKEBISECT_SOURCE_DIR "/configs/bisect/generic-418-xfstests.toml");
  ASSERT_TRUE(config) << config.error().message();
  ASSERT_TRUE(config->kernel && config->qemu && config->xfstests);
  EXPECT_THAT(config->kernel->fragments, ElementsAre("qemu-guest", "xfstests"));
  EXPECT_THAT(config->xfstests->tests, ElementsAre("generic/418"));
  EXPECT_EQ(config->xfstests->mkfs_options, "-b 1024");
  // test.signature filters crashes by title: it must not be set to generic/418's output.
  EXPECT_FALSE(config->test.signature);
}

}  // namespace
}  // namespace flakebisect::config
