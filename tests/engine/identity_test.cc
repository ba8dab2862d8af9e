#include "engine/identity.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "build/kernel_fragments.h"
#include "config/sha256.h"
#include "support/temp_dir.h"

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
  const std::string timed = build_key(c);
  EXPECT_NE(timed, key);
  c.build.command.push_back("V=1");
  EXPECT_NE(build_key(c), timed);
  EXPECT_NE(build_key(c), key);
}

config::Config guest_config() {
  config::Config config;
  config.kernel.emplace();
  config.qemu.emplace();
  config.reproducer.emplace();
  return config;
}

TEST(TestIdentity, AGuestThatStopsASilentReproducerSaysSo) {
  // Runs of versions that ignored test.no_output_timeout in a guest are not runs under it.
  config::Config c = guest_config();
  c.test.no_output_timeout = std::chrono::seconds(60);
  EXPECT_TRUE(guest_watches_output(c));
  const std::string watched = test_identity(c);
  c.xfstests.emplace();
  EXPECT_FALSE(guest_watches_output(c)) << "./check is not watched";
  c.xfstests.reset();
  c.test.no_output_timeout = std::chrono::seconds(0);
  EXPECT_FALSE(guest_watches_output(c));
  EXPECT_NE(watched, test_identity(c));
  config::Config host = base_config();
  host.test.no_output_timeout = std::chrono::seconds(60);
  EXPECT_FALSE(guest_watches_output(host));
}

TEST(TestIdentity, AGuestWhoseConsoleShowsKernInfoSaysSo) {
  // A hung task's title names the function it hangs in only when the console shows KERN_INFO:
  // runs from a guest at loglevel 5 are not runs of this one.
  const config::Config c = guest_config();
  EXPECT_NE(test_identity(c), test_identity(c, {}, GuestEra::kBeforeConsoleLoglevel7));
  EXPECT_EQ(test_identity(base_config()),
            test_identity(base_config(), {}, GuestEra::kBeforeConsoleLoglevel7))
      << "a host test has no guest console";
}

TEST(TestIdentity, AGuestTestChangesWithWhatTheGuestSeesNotWithHowFast) {
  const std::string id = test_identity(guest_config());
  EXPECT_NE(id, test_identity(base_config()));
  config::Config c = guest_config();
  c.scratch.mkfs = {"mkfs.ext4", "-q", "-F", "-b", "4096"};
  EXPECT_NE(test_identity(c), id) << "the filesystem";
  c = guest_config();
  c.reproducer->args = {"-w"};
  EXPECT_NE(test_identity(c), id) << "the reproducer";
  c = guest_config();
  c.kernel->fragments = {"qemu-guest", "debug-kasan"};
  EXPECT_NE(test_identity(c), id) << "the kernel config";
  EXPECT_NE(build_key(c), build_key(guest_config()));
  c = guest_config();
  c.qemu->accel = "kvm";
  c.qemu->runs_per_boot = 3;
  c.kernel->jobs = 9;
  EXPECT_EQ(test_identity(c), id) << "speed only";
  EXPECT_EQ(build_key(c), build_key(guest_config()));
}

TEST(TestIdentity, ADirectBootOfThePrebuiltKernelSaysSo) {
  // Its guest differs in small ways (no VGA text console, the memory map): not a bzImage boot's.
  config::Config c = guest_config();
  c.kernel.reset();
  c.qemu->kernel = "/boot/vmlinuz-6.1.0-56-amd64";
  const std::string bzimage = test_identity(c);
  c.qemu->direct_boot = true;
  EXPECT_NE(test_identity(c), bzimage);
  // A kernel built from the commits is always booted as its bzImage.
  config::Config built = guest_config();
  const std::string built_id = test_identity(built);
  built.qemu->direct_boot = true;
  EXPECT_EQ(test_identity(built), built_id);
}

TEST(TestIdentity, HostCommandIdentitiesAreUnchangedByTheGuestTables) {
  // Identities stored before the guest tables existed must still match: the v1 text is unchanged
  // when the tables are absent.
  // sha256 of the v1 text, computed outside flakebisect.
  EXPECT_EQ(test_identity(base_config()),
            "9ee699c2467a00fc2752f7f41351b1cb5d29f03af699e9c83a55bd5b19611fd8");
  config::Config c = base_config();
  c.scratch.size_mb = 1024;  // [scratch] without [qemu] is refused by the parser; ignored here
  EXPECT_EQ(test_identity(c), test_identity(base_config()));
}

TEST(ReproducerDigest, FollowsTheContentOfAReproducerOutsideTheRepository) {
  const std::string path = ::testing::TempDir() + "/fb-identity-repro.sh";
  std::ofstream(path, std::ios::trunc) << "#!/bin/sh\nexit 0\n";
  config::Config c = guest_config();
  c.reproducer->program = path;
  auto first = reproducer_digest(c);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->size(), 64U);
  EXPECT_NE(test_identity(c, *first), test_identity(c));
  std::ofstream(path, std::ios::trunc) << "#!/bin/sh\nexit 1\n";
  auto second = reproducer_digest(c);
  ASSERT_TRUE(second);
  EXPECT_NE(*second, *first) << "an edited reproducer is a different experiment";

  c.reproducer->program = "tools/repro";  // in the checkout: part of the commit, not read
  const auto in_checkout = reproducer_digest(c);
  c.reproducer->program = "tools/other";
  EXPECT_EQ(reproducer_digest(c).value_or("x"), in_checkout.value_or("y"));
  c.kernel.reset();  // and without [kernel], nothing outside the repository is left to hash
  EXPECT_EQ(reproducer_digest(c).value_or("x"), "");
  c.kernel.emplace();
  c.reproducer->program = path + ".missing";
  EXPECT_FALSE(reproducer_digest(c));
  std::remove(path.c_str());
}

TEST(ReproducerDigest, FollowsTheContentOfTheKernelFragmentsAndBaseConfig) {
  // An edited fragment at the same path builds other kernels: another experiment, whose runs must
  // not be pooled with the old ones.
  test_support::TempDir dir;
  const std::string fragment = dir.file("frag.config");
  std::ofstream(fragment, std::ios::trunc) << "CONFIG_EXT4_FS=y\n";
  config::Config c = guest_config();
  c.reproducer->program = "tools/repro";
  c.kernel->fragments = {"qemu-guest", fragment};
  auto first = reproducer_digest(c);
  ASSERT_TRUE(first) << first.error().message();
  std::ofstream(fragment, std::ios::trunc) << "CONFIG_EXT4_FS=y\nCONFIG_KASAN=y\n";
  auto kasan = reproducer_digest(c);
  ASSERT_TRUE(kasan);
  EXPECT_NE(*kasan, *first);
  EXPECT_NE(test_identity(c, *kasan), test_identity(c, *first));

  // A base .config file counts by content too; a named one (defconfig) by its name alone.
  const std::string base = dir.file("base.config");
  std::ofstream(base, std::ios::trunc) << "CONFIG_64BIT=y\n";
  c.kernel->base = base;
  auto with_base = reproducer_digest(c);
  ASSERT_TRUE(with_base);
  std::ofstream(base, std::ios::trunc) << "CONFIG_64BIT=y\nCONFIG_SMP=y\n";
  EXPECT_NE(reproducer_digest(c).value_or(*with_base), *with_base);

  c.kernel->fragments = {dir.file("missing.config")};
  const auto missing = reproducer_digest(c);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("missing.config"), std::string::npos)
      << missing.error().message();
}

TEST(ReproducerDigest, IsTheV2TextOverTheInputFiles) {
  // Identities stored since the v2 digest must still match: the text is pinned here, written out
  // by hand from the files' contents, reproducer files first, then the kernel's.
  test_support::TempDir dir;
  const std::string repro = dir.file("repro.sh");
  const std::string extra = dir.file("data.bin");
  const std::string base = dir.file("base.config");
  const std::string fragment = dir.file("frag.config");
  std::ofstream(repro) << "#!/bin/sh\n";
  std::ofstream(extra) << "data";
  std::ofstream(base) << "CONFIG_64BIT=y\n";
  std::ofstream(fragment) << "CONFIG_EXT4_FS=y\n";
  config::Config c = guest_config();
  c.reproducer->program = repro;
  c.reproducer->files = {extra};
  c.kernel->base = base;
  c.kernel->fragments = {fragment, "qemu-guest"};
  const auto line = [](const std::string& name, const std::string& contents) {
    return std::to_string(name.size()) + ":" + name + "\n" + config::sha256_hex(contents) + "\n";
  };
  const std::string bundled(build::bundled_fragment("qemu-guest").value());
  const std::string text = "flakebisect reproducer digest v2\n" + line(repro, "#!/bin/sh\n") +
                           line(extra, "data") + "base " + line(base, "CONFIG_64BIT=y\n") +
                           "fragment " + line(fragment, "CONFIG_EXT4_FS=y\n") + "fragment " +
                           line("qemu-guest", bundled);
  EXPECT_EQ(reproducer_digest(c).value_or(""), config::sha256_hex(text));

  auto inputs = input_files(c);
  ASSERT_TRUE(inputs) << inputs.error().message();
  ASSERT_EQ(inputs->size(), 5U);
  EXPECT_EQ((*inputs)[2].key, "kernel.base");
  EXPECT_EQ((*inputs)[4].name, "qemu-guest");
  auto back = inputs_from_json(inputs_to_json(*inputs), "test");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(reproducer_digest(c, *back), config::sha256_hex(text));
  EXPECT_FALSE(inputs_from_json("[{\"key\": 1}]", "bisection 3"));
}

TEST(BuildKey, FollowsTheContentsOfTheKernelInputsButNotOfTheReproducer) {
  // An edited fragment builds other kernels: a bisection with it must not find the old builds
  // (nor the old failed ones, which would stay skips).
  test_support::TempDir dir;
  const std::string fragment = dir.file("frag.config");
  const std::string repro = dir.file("repro.sh");
  std::ofstream(fragment) << "CONFIG_EXT4_FS=y\n";
  std::ofstream(repro) << "#!/bin/sh\n";
  config::Config c = guest_config();
  c.kernel->fragments = {fragment};
  c.reproducer->program = repro;
  const std::string key = build_key(c, input_files(c).value());
  EXPECT_NE(key, build_key(c)) << "v2 with [kernel]";
  std::ofstream(repro, std::ios::trunc) << "#!/bin/sh\nexit 1\n";
  EXPECT_EQ(build_key(c, input_files(c).value()), key) << "the reproducer is not built";
  std::ofstream(fragment, std::ios::trunc) << "CONFIG_EXT4_FS=y\nCONFIG_KASAN=y\n";
  EXPECT_NE(build_key(c, input_files(c).value()), key);

  // A host build.command keeps its v1 key: there is nothing of the kernel's to add.
  const config::Config host = base_config();
  EXPECT_EQ(build_key(host, input_files(host).value()), build_key(host));
}

TEST(InputFiles, ACheckNamesTheFileThatChanged) {
  const std::vector<InputFile> then = {{"reproducer", "/r", "aaaa"},
                                       {"kernel.fragments", "/f.config", "bbbbbbbbbbbbbbbb"}};
  EXPECT_TRUE(check_inputs_unchanged(then, then));
  std::vector<InputFile> now = then;
  now[1].sha256 = "cccccccccccccccc";
  auto changed = check_inputs_unchanged(then, now);
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().message(),
            "kernel.fragments '/f.config' has changed since the bisection started (SHA-256 "
            "bbbbbbbbbbbb then, cccccccccccc now): its runs and builds would belong to another "
            "experiment; restore it and resume, or start a new bisection");
  now = {then[0]};
  EXPECT_NE(check_inputs_unchanged(then, now).error().message().find("'/f.config' is no longer"),
            std::string::npos);
  // A bundled program is the same input wherever flakebisect is installed (a queue filled by one
  // install and served by another); another build of it is not the user's to restore.
  const std::vector<InputFile> bundled = {{"reproducer.bundled", "bundled:dio-check", "eeee"}};
  EXPECT_TRUE(check_inputs_unchanged(bundled, bundled));
  auto rebuilt =
      check_inputs_unchanged(bundled, {{"reproducer.bundled", "bundled:dio-check", "ffff"}});
  ASSERT_FALSE(rebuilt);
  EXPECT_NE(rebuilt.error().message().find("'bundled:dio-check' comes with flakebisect"),
            std::string::npos)
      << rebuilt.error().message();
  EXPECT_NE(rebuilt.error().message().find("resume it with the flakebisect that started it"),
            std::string::npos);
  now = then;
  now.push_back({"reproducer", "/new", "dddd"});
  EXPECT_NE(check_inputs_unchanged(then, now).error().message().find("'/new' is read by the test"),
            std::string::npos);
}

TEST(ReproducerDigest, FollowsTheContentOfAPrebuiltKernelImage) {
  // A kernel rebuilt or upgraded at the same path (/vmlinuz follows the newest package) is another
  // experiment: a new bisection must not count the old image's runs, and a resume must notice.
  test_support::TempDir dir;
  const std::string image = dir.file("vmlinuz");
  const std::string repro = dir.file("repro.sh");
  std::ofstream(image) << "bzImage 1";
  std::ofstream(repro) << "#!/bin/sh\n";
  config::Config c = guest_config();
  c.kernel.reset();
  c.qemu->kernel = image;
  c.reproducer->program = repro;
  const auto line = [](const std::string& name, const std::string& contents) {
    return std::to_string(name.size()) + ":" + name + "\n" + config::sha256_hex(contents) + "\n";
  };
  // The v2 text with the image last: configurations without one keep their digests.
  EXPECT_EQ(reproducer_digest(c).value_or(""),
            config::sha256_hex("flakebisect reproducer digest v2\n" + line(repro, "#!/bin/sh\n") +
                               "qemu.kernel " + line(image, "bzImage 1")));
  const auto first = input_files(c).value();
  ASSERT_EQ(first.size(), 2U);
  EXPECT_EQ(first[1].key, "qemu.kernel");
  const std::string identity = test_identity(c, reproducer_digest(c, first));

  std::ofstream(image, std::ios::trunc) << "bzImage 2";
  const auto second = input_files(c).value();
  EXPECT_NE(test_identity(c, reproducer_digest(c, second)), identity);
  auto changed = check_inputs_unchanged(first, second);
  ASSERT_FALSE(changed);
  EXPECT_NE(changed.error().message().find("qemu.kernel '" + image + "' has changed"),
            std::string::npos)
      << changed.error().message();
  // A bisection stored before images were recorded resumes: its identity never covered one.
  EXPECT_TRUE(check_inputs_unchanged({first[0]}, second));

  c.qemu->kernel = image + ".missing";
  auto missing = input_files(c);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("qemu.kernel"), std::string::npos);
  // What a resume of a bisection that recorded no image checks: the image is not even read.
  auto without = input_files(c, /*prebuilt_kernel=*/false);
  ASSERT_TRUE(without) << without.error().message();
  EXPECT_EQ(without->size(), 1U);
}

TEST(ReproducerDigest, AnXfstestsExperimentFollowsCheckAndTheNamedTests) {
  namespace fs = std::filesystem;
  test_support::TempDir dir;
  const std::string tree = dir.file("xfstests-dev");
  fs::create_directories(fs::path(tree) / "ltp");
  fs::create_directories(fs::path(tree) / "tests" / "generic");
  std::ofstream(tree + "/check") << "#!/bin/bash\n";
  std::ofstream(tree + "/ltp/fsstress") << "#!/bin/sh\n";
  fs::permissions(tree + "/ltp/fsstress", fs::perms::owner_all);
  std::ofstream(tree + "/tests/generic/418") << "#!/bin/bash\n# v1\n";
  std::ofstream(tree + "/tests/generic/418.out") << "QA output created by 418\n";
  config::Config c = guest_config();
  c.reproducer.reset();
  c.xfstests.emplace();
  c.xfstests->root = dir.path();
  c.xfstests->dir = "/xfstests-dev";
  auto first = reproducer_digest(c);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->size(), 64U);
  std::ofstream(tree + "/tests/generic/418") << "#!/bin/bash\n# v2\n";
  auto edited = reproducer_digest(c);
  ASSERT_TRUE(edited);
  EXPECT_NE(*edited, *first) << "an edited test is a different experiment";

  const std::string id = test_identity(c, *edited);
  c.xfstests->mkfs_options = "-b 1024";
  EXPECT_NE(test_identity(c, *edited), id) << "the filesystem xfstests makes";
  c.xfstests->tests = {"generic/419"};
  EXPECT_NE(test_identity(c, *edited), id);

  c.xfstests->dir = "/nowhere";
  auto missing = reproducer_digest(c);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("xfstests.dir /nowhere: no ./check in"),
            std::string::npos)
      << missing.error().message();
}

}  // namespace
}  // namespace flakebisect::engine
