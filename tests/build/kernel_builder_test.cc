#include "build/kernel_builder.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/fake_process_runner.h"
#include "base/paths.h"
#include "base/unique_fd.h"
#include "build/kernel_fragments.h"
#include "support/temp_dir.h"

namespace flakebisect::build {
namespace {

namespace fs = std::filesystem;
using base::FakeProcessRunner;
using base::ProcessOptions;
using base::ProcessResult;
using ::testing::_;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr char kSha[] = "89abcdef0123456789abcdef0123456789abcdef";
constexpr char kTree[] = "0123456789012345678901234567890123456789";
constexpr char kCompiler[] = "gcc (Debian 12.2.0-14) 12.2.0";

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// The O= directory a make call was given.
std::string obj_of(const ProcessOptions& options) {
  for (const std::string& arg : options.argv) {
    if (arg.starts_with("O=")) {
      return arg.substr(2);
    }
  }
  ADD_FAILURE() << "no O= argument";
  return "/nonexistent";
}

// Drops every line of `config` that mentions `symbol`, as olddefconfig does with a symbol the
// tree does not know.
std::string without(const std::string& config, const std::string& symbol) {
  std::istringstream in(config);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.find(symbol + "=") == std::string::npos &&
        line.find(symbol + " is not set") == std::string::npos) {
      kept += line + "\n";
    }
  }
  return kept;
}

// A kernel tree as make sees it: the base target writes `base_config`, olddefconfig applies
// `olddefconfig` to <obj>/.config, and the build target writes an image whose bytes depend on the
// config, unless `build_result` says the build fails.
class KernelBuilderTest : public ::testing::Test {
 protected:
  KernelBuilderTest() {
    fs::create_directories(worktree_);
    kernel_.fragments = {};
    kernel_.jobs = 3;
    kernel_.ccache = false;
    processes_.on({"make"}, [this](const ProcessOptions& options) {
      return make_ ? make_(options) : fake_make(options);
    });
  }

  KernelBuilderOptions options() const {
    KernelBuilderOptions options;
    options.build_root = dir_.file("build");
    options.cache_root = dir_.file("cache");
    options.log_dir = dir_.file("logs");
    options.compiler_version = kCompiler;
    options.ccache_available = false;
    return options;
  }
  KernelBuilder builder(KernelBuilderOptions opts) {
    return KernelBuilder(processes_, kernel_, std::chrono::hours(1), std::move(opts));
  }
  KernelBuilder builder() { return builder(options()); }
  CommitCheckout checkout() const {
    return CommitCheckout{kSha, "/src/linux", worktree_, "", kTree};
  }
  std::string obj() const { return worktree_ + "/.flakebisect-obj"; }

  base::Result<ProcessResult> fake_make(const ProcessOptions& options) {
    const std::string& target = options.argv.back();
    const std::string config = obj_of(options) + "/.config";
    if (target == "defconfig" || target == "tinyconfig" || target == "allnoconfig") {
      write(config, base_config_);
      return FakeProcessRunner::exited(0,
                                       "*** Default configuration is based on '" + target + "'\n");
    }
    if (target == "olddefconfig") {
      if (olddefconfig_result_) return *olddefconfig_result_;
      seen_by_olddefconfig_ = read(config);
      write(config, olddefconfig_(seen_by_olddefconfig_));
      return FakeProcessRunner::exited(0, "#\n# configuration written to .config\n#\n");
    }
    ++builds_;
    if (build_result_) {
      return *build_result_;
    }
    write(obj_of(options) + "/arch/x86/boot/" + target, "image built from\n" + read(config));
    return FakeProcessRunner::exited(0, "  BUILD   arch/x86/boot/" + target + "\n");
  }

  test_support::TempDir dir_;
  std::string worktree_ = dir_.file("linux");
  config::KernelConfig kernel_;
  FakeProcessRunner processes_;
  std::string base_config_ = "CONFIG_64BIT=y\n# CONFIG_VIRTIO_MENU is not set\nCONFIG_NR_CPUS=8\n";
  std::function<std::string(const std::string&)> olddefconfig_ = [](const std::string& c) {
    return c;
  };
  std::optional<ProcessResult> build_result_;
  std::optional<ProcessResult> olddefconfig_result_;  // what make olddefconfig returns, when set
  // Replaces fake_make() when set.
  FakeProcessRunner::Handler make_;
  std::string seen_by_olddefconfig_;
  int builds_ = 0;
};

TEST_F(KernelBuilderTest, TheOldSharedBuildDirectoryGoesAtTheFirstBuild) {
  // Before O= moved into the worktrees, builds with the same settings shared <build_root>/obj.
  write(dir_.file("build") + "/obj/fs/ext4/inode.o", "an object nothing uses any more");
  write(dir_.file("build") + "/keep", "not the old O=");
  KernelBuilder kb = builder();
  auto outcome = kb.build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_TRUE(outcome->ok) << outcome->detail;
  EXPECT_FALSE(fs::exists(dir_.file("build") + "/obj"));
  EXPECT_TRUE(fs::exists(dir_.file("build") + "/keep"));
  EXPECT_TRUE(fs::exists(obj() + "/.config"));
}

TEST_F(KernelBuilderTest, RunsBaseConfigOlddefconfigAndTheBuildInTheWorktree) {
  KernelBuilder kb = builder();
  EXPECT_TRUE(kb.needs_build());
  EXPECT_EQ(obj_dir_in(worktree_), obj()) << "O= is a direct subdirectory of the worktree";
  auto outcome = kb.build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_TRUE(outcome->ok) << outcome->detail;
  EXPECT_EQ(outcome->detail, "");

  const std::string o = "O=" + obj();
  EXPECT_THAT(processes_.argvs(), ElementsAre(ElementsAre("make", o, "defconfig"),
                                              ElementsAre("make", o, "olddefconfig"),
                                              ElementsAre("make", o, "-j3", "bzImage")));
  for (const ProcessOptions& call : processes_.calls()) {
    EXPECT_EQ(call.cwd, worktree_);
    EXPECT_EQ(call.timeout, std::chrono::hours(1));
    EXPECT_TRUE(call.merge_stderr);
    EXPECT_THAT(call.env_set, Contains(Pair("KBUILD_BUILD_TIMESTAMP", "1970-01-01 00:00:00 UTC")));
    EXPECT_THAT(call.env_set, Contains(Pair("KBUILD_BUILD_USER", "flakebisect")));
    EXPECT_THAT(call.env_set, Contains(Pair("FLAKEBISECT_COMMIT", kSha)));
    EXPECT_FALSE(call.inherit_env) << "make sees only the variables it is given";
  }
  // The build's live output goes to the log.
  const ProcessOptions build_call = processes_.calls().back();
  ASSERT_TRUE(build_call.stdout_path.has_value());
  EXPECT_THAT(*build_call.stdout_path, StartsWith(dir_.file("logs") + "/89abcdef0123-"));

  struct stat st {};
  ASSERT_EQ(::stat(obj().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);

  // The artifact is a cache entry with the image, the final config and the log.
  EXPECT_THAT(outcome->artifact, StartsWith(dir_.file("cache") + "/"));
  EXPECT_EQ(read(outcome->artifact + "/bzImage"), "image built from\n" + base_config_);
  EXPECT_EQ(read(outcome->artifact + "/config"), base_config_);
  EXPECT_THAT(read(outcome->artifact + "/build.log"), HasSubstr("BUILD   arch/x86/boot/bzImage"));
  EXPECT_THAT(outcome->log_tail, HasSubstr("BUILD   arch/x86/boot/bzImage"));
  EXPECT_EQ(processes_.call_count(), 3U);
}

TEST_F(KernelBuilderTest, ABuildWaitsForAnotherProcessBuildingInTheSameBuildRoot) {
  // Another process (here: this test, through its own descriptor) holds the build root's lock:
  // a build waits for it, up to the build timeout, and then says why it gave up.
  ASSERT_TRUE(base::make_private_dir(dir_.file("build")).has_value());
  base::UniqueFd other(::open(dir_.file("build/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(other.valid());
  ASSERT_EQ(::flock(other.get(), LOCK_EX | LOCK_NB), 0);
  KernelBuilder waiting(processes_, kernel_, std::chrono::milliseconds(300), options());
  const auto refused = waiting.build(checkout());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), base::ErrorCode::kBusy);
  EXPECT_THAT(refused.error().message(), HasSubstr("another process has been building"));
  EXPECT_EQ(builds_, 0);
  // Released: the same build goes ahead.
  other.reset();
  const auto built = waiting.build(checkout());
  ASSERT_TRUE(built.has_value()) << built.error().message();
  EXPECT_EQ(builds_, 1);
}

TEST_F(KernelBuilderTest, BuildersOfOneProcessTakeTurnsWithoutTheTimeoutsDeadline) {
  // Two workers of one daemon, one configuration: the second waits for the whole of the first's
  // build, longer than its own build timeout (which bounds another process's build), and then
  // goes ahead, instead of giving up and pausing its bisection.
  make_ = [this](const ProcessOptions& options) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    return fake_make(options);
  };
  KernelBuilder first(processes_, kernel_, std::chrono::milliseconds(300), options());
  KernelBuilder second(processes_, kernel_, std::chrono::milliseconds(300), options());
  base::Result<BuildOutcome> first_built = base::make_error(base::ErrorCode::kFailed, "not run");
  std::thread other([&] { first_built = first.build(checkout()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto second_built = second.build(checkout());
  other.join();
  ASSERT_TRUE(first_built.has_value()) << first_built.error().message();
  ASSERT_TRUE(second_built.has_value()) << second_built.error().message();
  EXPECT_TRUE(first_built->ok);
  EXPECT_TRUE(second_built->ok);
}

TEST_F(KernelBuilderTest, AStopEndsTheWaitForAnotherBuildsDirectory) {
  // SIGTERM while a daemon's worker waits for another worker's build (stop), or another worker's
  // error ending the daemon (also_stop): it must not wait for that build (an hour) and then build
  // itself; the engine reads the same flags and pauses.
  ASSERT_TRUE(base::make_private_dir(dir_.file("build")).has_value());
  base::UniqueFd other(::open(dir_.file("build/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(other.valid());
  ASSERT_EQ(::flock(other.get(), LOCK_EX | LOCK_NB), 0);
  for (const bool also : {false, true}) {
    std::atomic<bool> stop{false};
    KernelBuilderOptions opts = options();
    (also ? opts.also_stop : opts.stop) = &stop;
    std::thread signal([&stop] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      stop = true;
    });
    const auto started = std::chrono::steady_clock::now();
    const auto stopped = builder(opts).build(checkout());
    signal.join();
    ASSERT_FALSE(stopped.has_value()) << also;
    EXPECT_THAT(stopped.error().message(), HasSubstr("stopped while waiting for another build"));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << also;
  }
  EXPECT_EQ(builds_, 0);
}

TEST_F(KernelBuilderTest, BuildsThroughCcacheOnlyWhenAskedAndInstalled) {
  struct Case {
    bool asked, installed, used;
  };
  for (const Case c :
       {Case{true, true, true}, Case{true, false, false}, Case{false, true, false}}) {
    SCOPED_TRACE(::testing::Message() << "asked " << c.asked << " installed " << c.installed);
    FakeProcessRunner processes;
    processes.on({"make"}, [this](const ProcessOptions& options) { return fake_make(options); });
    kernel_.ccache = c.asked;
    KernelBuilderOptions opts = options();
    opts.ccache_available = c.installed;
    opts.cache_root = dir_.file(fmt::format("cache-{}{}", c.asked, c.installed));
    KernelBuilder kb(processes, kernel_, std::chrono::hours(1), opts);
    auto outcome = kb.build(checkout());
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
    ASSERT_TRUE(outcome->ok) << outcome->detail;
    const std::string o = "O=" + obj();
    if (c.used) {
      // Every make call gets the same compiler, so kbuild never re-runs its config for a new CC.
      EXPECT_THAT(processes.argvs(),
                  ElementsAre(ElementsAre("make", o, "CC=ccache gcc", "defconfig"),
                              ElementsAre("make", o, "CC=ccache gcc", "olddefconfig"),
                              ElementsAre("make", o, "-j3", "CC=ccache gcc", "bzImage")));
      // With -g ccache would hash the working directory (O= in each worktree) without it.
      for (const ProcessOptions& call : processes.calls()) {
        EXPECT_THAT(call.env_set, Contains(Pair("CCACHE_NOHASHDIR", "1")));
      }
    } else {
      for (const ProcessOptions& call : processes.calls()) {
        EXPECT_THAT(call.env_set, Not(Contains(Pair("CCACHE_NOHASHDIR", _))));
      }
      EXPECT_THAT(processes.argvs(), ElementsAre(ElementsAre("make", o, "defconfig"),
                                                 ElementsAre("make", o, "olddefconfig"),
                                                 ElementsAre("make", o, "-j3", "bzImage")));
    }
  }
}

TEST_F(KernelBuilderTest, CcacheWrapsTheCompilerTheMakeArgvChooses) {
  kernel_.ccache = true;
  KernelBuilderOptions opts = options();
  opts.ccache_available = true;
  kernel_.make = {"make", "LLVM=1"};
  ASSERT_TRUE(builder(opts).build(checkout()).has_value());
  EXPECT_THAT(processes_.argvs().back(),
              ElementsAre("make", "LLVM=1", "O=" + obj(), "-j3", "CC=ccache clang", "bzImage"));

  kernel_.make = {"make", "CC=gcc-12", "W=1"};
  ASSERT_TRUE(builder(opts).build(checkout()).has_value());
  EXPECT_THAT(processes_.argvs().back(),
              ElementsAre("make", "W=1", "O=" + obj(), "-j3", "CC=ccache gcc-12", "bzImage"));
}

TEST_F(KernelBuilderTest, ZeroJobsMeansOnlineCpusPlusOne) {
  kernel_.jobs = 0;
  ASSERT_TRUE(builder().build(checkout()).has_value());
  const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
  EXPECT_THAT(processes_.argvs().back(), Contains(fmt::format("-j{}", cpus + 1)));
}

TEST_F(KernelBuilderTest, FragmentsMergeInOrderAndTheLaterLineWins) {
  base_config_ =
      "#\n# Linux/x86 6.1.0 Kernel Configuration\n#\nCONFIG_A=y\n# CONFIG_B is not set\n"
      "CONFIG_C=m\n";
  kernel_.fragments = {
      dir_.write("one.config", "# first\nCONFIG_B=y\nCONFIG_D=0x10\nCONFIG_S=\"console=ttyS0\"\n"),
      dir_.write("two.config", "\n# CONFIG_A is not set\nCONFIG_D=0x20\nCONFIG_E=n\n")};
  auto outcome = builder().build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_TRUE(outcome->ok) << outcome->detail;
  EXPECT_EQ(
      seen_by_olddefconfig_,
      "#\n# Linux/x86 6.1.0 Kernel Configuration\n#\nCONFIG_C=m\nCONFIG_B=y\n"
      "CONFIG_S=\"console=ttyS0\"\n# CONFIG_A is not set\nCONFIG_D=0x20\n# CONFIG_E is not set\n");
}

TEST(MergeConfig, MovesEverySetSymbolToTheEndSoTheLastSettingWins) {
  auto settings = parse_config_fragment("CONFIG_A=m\nCONFIG_NEW=0x10\nCONFIG_A=y\n", "f.config");
  ASSERT_TRUE(settings.has_value()) << settings.error().message();
  EXPECT_EQ(merge_config("CONFIG_A=n\n# comment\nCONFIG_ABC=y\n# CONFIG_A is not set\n", *settings),
            "# comment\nCONFIG_ABC=y\nCONFIG_NEW=0x10\nCONFIG_A=y\n");
}

TEST(MergeConfig, AChoiceMemberFromAFragmentComesAfterTheBaseConfigsChoice) {
  // Kconfig takes the last member of a choice set to y: SLUB must follow SLOB.
  auto settings = parse_config_fragment("CONFIG_SLUB=y\n", "kasan.config");
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(merge_config("# CONFIG_SLAB is not set\n# CONFIG_SLUB is not set\nCONFIG_SLOB=y\n",
                         *settings),
            "# CONFIG_SLAB is not set\nCONFIG_SLOB=y\nCONFIG_SLUB=y\n");
}

TEST(ParseConfigFragment, AcceptsEveryValueKconfigWrites) {
  auto settings = parse_config_fragment(
      "CONFIG_Y=y\nCONFIG_M=m\nCONFIG_N=n\n# CONFIG_U is not set\nCONFIG_I=-12\nCONFIG_H=0x1f\n"
      "CONFIG_S=\"a \\\"quoted\\\" word\"\n  CONFIG_T=y  \r\n# CONFIG_Y=y is a comment\n",
      "f.config");
  ASSERT_TRUE(settings.has_value()) << settings.error().message();
  std::vector<std::pair<std::string, std::string>> got;
  for (const ConfigSetting& s : *settings) {
    got.emplace_back(s.symbol, s.value.value_or("<unset>"));
  }
  EXPECT_THAT(
      got,
      ElementsAre(Pair("CONFIG_Y", "y"), Pair("CONFIG_M", "m"), Pair("CONFIG_N", "<unset>"),
                  Pair("CONFIG_U", "<unset>"), Pair("CONFIG_I", "-12"), Pair("CONFIG_H", "0x1f"),
                  Pair("CONFIG_S", "\"a \\\"quoted\\\" word\""), Pair("CONFIG_T", "y")));
  EXPECT_EQ((*settings)[3].where, "f.config:4");
}

TEST(ParseConfigFragment, RejectsValuesKconfigWouldNotRead) {
  for (const char* line : {"CONFIG_X=yes", "CONFIG_X=", "CONFIG_X=\"open", "CONFIG_X=\"a\"b",
                           "CONFIG_X=0x", "CONFIG_X=12a"}) {
    SCOPED_TRACE(line);
    auto settings = parse_config_fragment(std::string("# c\n") + line + "\n", "f.config");
    ASSERT_FALSE(settings.has_value());
    EXPECT_THAT(settings.error().message(), StartsWith("f.config:2: CONFIG_X: the value must be"));
  }
}

TEST_F(KernelBuilderTest, AMalformedFragmentLineIsAnErrorNamingFileAndLine) {
  const std::string fragment = dir_.write("bad.config", "# mine\nCONFIG_A=y\nVIRTIO_BLK=y\n");
  kernel_.fragments = {fragment};
  auto outcome = builder().build(checkout());
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code(), base::ErrorCode::kInvalidInput);
  EXPECT_EQ(outcome.error().message(),
            "build 89abcdef0123: " + fragment +
                ":3: not a config line (CONFIG_NAME=value or # CONFIG_NAME is not set): "
                "VIRTIO_BLK=y");
  EXPECT_EQ(processes_.call_count(), 0U);
}

TEST_F(KernelBuilderTest, AMissingFragmentIsAnErrorNotASkip) {
  kernel_.fragments = {"qemu-guest", dir_.file("missing.config")};
  auto outcome = builder().build(checkout());
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code(), base::ErrorCode::kNotFound);
  EXPECT_THAT(outcome.error().message(), StartsWith("build 89abcdef0123: fragment: "));
  EXPECT_THAT(outcome.error().message(), HasSubstr(dir_.file("missing.config")));

  kernel_.fragments = {"qemu-gest"};
  outcome = builder().build(checkout());
  ASSERT_FALSE(outcome.has_value());
  EXPECT_THAT(outcome.error().message(),
              HasSubstr("fragment 'qemu-gest': no bundled fragment has that name (bundled: "));
  EXPECT_EQ(processes_.call_count(), 0U);
}

TEST_F(KernelBuilderTest, ADroppedSymbolIsASkipNamingIt) {
  kernel_.fragments = {"qemu-guest",
                       dir_.write("extra.config", "CONFIG_NR_CPUS=4\nCONFIG_MINE=y\n")};
  olddefconfig_ = [](const std::string& config) {
    std::string c = without(without(config, "CONFIG_VIRTIO_MENU"), "CONFIG_MINE");
    return without(c, "CONFIG_NR_CPUS") + "CONFIG_NR_CPUS=8\n";
  };
  auto outcome = builder().build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_FALSE(outcome->ok);
  EXPECT_EQ(outcome->detail,
            "olddefconfig dropped CONFIG_VIRTIO_MENU (wanted y), CONFIG_NR_CPUS (wanted 4, got 8), "
            "CONFIG_MINE (wanted y)");
  EXPECT_THAT(outcome->log_tail, HasSubstr("configuration written to .config"));
  EXPECT_EQ(builds_, 0);
}

TEST_F(KernelBuilderTest, NotSetIsMetByAbsence) {
  kernel_.fragments = {dir_.write("f.config", "CONFIG_EXT4_FS=y\n# CONFIG_GONE is not set\n")};
  olddefconfig_ = [](const std::string& config) { return without(config, "CONFIG_GONE"); };
  auto outcome = builder().build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_TRUE(outcome->ok) << outcome->detail;
}

// The guest gets no modules built at the commit: a file system asked for as a module would be
// missing at every run (every run an infra failure), so =m is refused before anything runs.
TEST_F(KernelBuilderTest, AModuleRequestIsAnErrorNamingFileLineAndSymbolBeforeAnyMake) {
  const std::string fragment =
      dir_.write("mine.config", "# my file systems\nCONFIG_EXT4_FS=m\nCONFIG_XFS_FS=y\n");
  kernel_.fragments = {"qemu-guest", fragment};
  auto outcome = builder().build(checkout());
  ASSERT_FALSE(outcome.has_value()) << "the user's to fix, not the commit's skip";
  EXPECT_EQ(outcome.error().code(), base::ErrorCode::kInvalidInput);
  EXPECT_EQ(outcome.error().message(),
            "build 89abcdef0123: " + fragment +
                ":2: CONFIG_EXT4_FS=m: flakebisect boots the built image without modules, so use "
                "CONFIG_EXT4_FS=y to build it in");
  EXPECT_EQ(processes_.call_count(), 0U);

  // The same check, for a configuration before a bisection is stored.
  auto loaded = load_kernel_fragments({"qemu-guest", fragment});
  ASSERT_FALSE(loaded.has_value());
  EXPECT_THAT(loaded.error().message(), StartsWith(fragment + ":2: CONFIG_EXT4_FS=m: "));
  auto fine = load_kernel_fragments({"qemu-guest", dir_.write("y.config", "CONFIG_EXT4_FS=y\n")});
  ASSERT_TRUE(fine.has_value()) << fine.error().message();
  EXPECT_EQ(fine->back().symbol, "CONFIG_EXT4_FS");
}

TEST_F(KernelBuilderTest, AFailedBuildIsASkipWithTheLogTailAndTheLogKept) {
  build_result_ = FakeProcessRunner::exited(
      2, std::string(20000, '.') + "\nfs/ext4/inode.c:12:1: error: expected ';'\n");
  auto outcome = builder().build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_FALSE(outcome->ok);
  EXPECT_THAT(outcome->detail,
              StartsWith("make bzImage: exit 2; log: " + dir_.file("logs") + "/89abcdef0123-"));
  const std::string log_path = outcome->detail.substr(outcome->detail.find("log: ") + 5);
  EXPECT_THAT(log_path, ::testing::EndsWith(".log"));
  const std::string log = read(log_path);
  EXPECT_THAT(log, HasSubstr("$ make O=" + obj() + " olddefconfig\n"));
  EXPECT_THAT(log, HasSubstr("configuration written to .config"));
  EXPECT_THAT(log, HasSubstr("error: expected ';'"));
  EXPECT_LE(outcome->log_tail.size(), kBuildLogTailBytes);
  EXPECT_THAT(outcome->log_tail, HasSubstr("fs/ext4/inode.c:12:1: error: expected ';'"));
  EXPECT_TRUE(outcome->artifact.empty());
  EXPECT_TRUE(fs::is_empty(dir_.file("cache")));
}

TEST_F(KernelBuilderTest, AMakeOrCompilerTheOomKillerKilledPausesInsteadOfSkipping) {
  build_result_ = FakeProcessRunner::signalled(SIGKILL);
  auto make = builder().build(checkout());
  ASSERT_FALSE(make.has_value()) << "a killed build is not the commit's fault";
  EXPECT_THAT(make.error().message(), HasSubstr("make bzImage: killed by signal 9"));
  EXPECT_THAT(make.error().message(), HasSubstr("out of memory?"));
  EXPECT_THAT(make.error().message(), HasSubstr("log: " + dir_.file("logs") + "/89abcdef0123-"));

  build_result_ = FakeProcessRunner::exited(
      2,
      "  CC      fs/ext4/inode.o\ngcc: fatal error: Killed signal terminated program cc1\n"
      "compilation terminated.\nmake[3]: *** [fs/ext4/inode.o] Error 1\n");
  auto compiler = builder().build(checkout());
  ASSERT_FALSE(compiler.has_value());
  EXPECT_THAT(compiler.error().message(), HasSubstr("a compiler was killed"));

  // Any make step: olddefconfig killed pauses too, and one that crashes is the commit's skip.
  build_result_.reset();
  olddefconfig_result_ = FakeProcessRunner::signalled(SIGKILL);
  auto config = builder().build(checkout());
  ASSERT_FALSE(config.has_value());
  EXPECT_THAT(config.error().message(), HasSubstr("make olddefconfig: killed by signal 9"));
  olddefconfig_result_ = FakeProcessRunner::signalled(SIGSEGV);
  auto crashed = builder().build(checkout());
  ASSERT_TRUE(crashed.has_value()) << crashed.error().message();
  EXPECT_FALSE(crashed->ok);
}

TEST_F(KernelBuilderTest, AFullDiskOrAMissingToolPausesInsteadOfSkipping) {
  build_result_ = FakeProcessRunner::exited(
      2, "  CC      fs/ext4/inode.o\nfs/ext4/inode.o: No space left on device\n");
  auto full = builder().build(checkout());
  ASSERT_FALSE(full.has_value()) << "a full disk is not the commit's fault";
  EXPECT_THAT(full.error().message(), HasSubstr("the disk is full"));

  build_result_ = FakeProcessRunner::exited(2, "/bin/sh: 1: bison: not found\nmake[2]: *** [x] "
                                               "Error 127\n");
  auto tool = builder().build(checkout());
  ASSERT_FALSE(tool.has_value());
  EXPECT_THAT(tool.error().message(), HasSubstr("needs bison"));

  // A distribution's config as kernel.base asks for BTF, which needs pahole at the link.
  build_result_ = FakeProcessRunner::exited(
      2,
      "  LD      .tmp_vmlinux.btf\nBTF: .tmp_vmlinux.btf: pahole (pahole) is not available\n"
      "Failed to generate BTF for vmlinux\nTry to disable CONFIG_DEBUG_INFO_BTF\n"
      "make[1]: *** [Makefile:1236: vmlinux] Error 1\n");
  auto btf = builder().build(checkout());
  ASSERT_FALSE(btf.has_value()) << "the host lacks a tool, the commit is fine";
  EXPECT_THAT(btf.error().message(), HasSubstr("needs pahole"));
  EXPECT_THAT(btf.error().message(), HasSubstr("dwarves"));

  // A missing header in the commit's own sources is still the commit's problem.
  build_result_ = FakeProcessRunner::exited(
      2, "fs/ext4/inode.c:3:10: fatal error: linux/nope.h: No such file or directory\n");
  auto header = builder().build(checkout());
  ASSERT_TRUE(header.has_value()) << header.error().message();
  EXPECT_FALSE(header->ok);
}

// Machine failures that kbuild's output shows: they pause the bisection (nothing recorded, resume
// builds the commit again) rather than skipping the commit for good.
TEST_F(KernelBuilderTest, AKilledLinkerAForkFailureOrAMissingHostHeaderPausesInsteadOfSkipping) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"  LD      vmlinux.o\ncollect2: fatal error: ld terminated with signal 9 [Killed]\n"
       "compilation terminated.\nmake[2]: *** [scripts/Makefile.vmlinux_o:61: vmlinux.o] Error 1\n",
       "a linker was killed"},
      {"  LD      .tmp_vmlinux.kallsyms1\nscripts/link-vmlinux.sh: line 71: 4242 Killed    "
       "ld -m elf_x86_64 -o .tmp_vmlinux.kallsyms1\nmake[2]: *** "
       "[scripts/Makefile.vmlinux:34: vmlinux] Error 137\nmake[1]: *** [Makefile:1250: vmlinux] "
       "Error 2\n",
       "a command under make was killed"},
      {"  CC      kernel/fork.o\nmake[3]: vfork: Resource temporarily unavailable\n",
       "could not start a process"},
      {"/bin/sh: fork: Cannot allocate memory\nmake[2]: *** [x] Error 2\n",
       "could not start a process"},
      {"  HOSTCC  tools/objtool/elf.o\nelf.c:17:10: fatal error: gelf.h: No such file or "
       "directory\n   17 | #include <gelf.h>\n",
       "missing: gelf.h (from libelf-dev)"},
      {"elf.h:10:10: fatal error: libelf.h: No such file or directory\n",
       "missing: libelf.h (from libelf-dev)"},
      {"scripts/sign-file.c:25:10: fatal error: openssl/opensslv.h: No such file or directory\n",
       "missing: openssl/opensslv.h (from libssl-dev)"},
      {"certs/extract-cert.c:21:10: fatal error: 'openssl/bio.h' file not found\n",
       "missing: openssl/bio.h (from libssl-dev)"},
      {"scripts/foo.c:3:10: fatal error: zlib.h: No such file or directory\n",
       "missing: zlib.h (from zlib1g-dev)"},
  };
  for (const auto& [output, says] : cases) {
    SCOPED_TRACE(output);
    build_result_ = FakeProcessRunner::exited(2, output);
    auto outcome = builder().build(checkout());
    ASSERT_FALSE(outcome.has_value()) << "the machine's fault, not the commit's";
    EXPECT_THAT(outcome.error().message(), HasSubstr(says));
    EXPECT_THAT(outcome.error().message(), HasSubstr("log: " + dir_.file("logs") + "/"));
  }

  // The commit's own errors stay its skip: a kernel header it lacks, a header of its own, an
  // error in its source that mentions the same words.
  for (const char* output : {
           "fs/ext4/inode.c:3:10: fatal error: linux/gelf.h: No such file or directory\n",
           "fs/ext4/inode.c:3:10: fatal error: ext4_extents.h: No such file or directory\n",
           "kernel/fork.c:9:1: error: 'Killed' undeclared\nmake[3]: *** [kernel/fork.o] Error 1\n",
       }) {
    SCOPED_TRACE(output);
    build_result_ = FakeProcessRunner::exited(2, output);
    auto outcome = builder().build(checkout());
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
    EXPECT_FALSE(outcome->ok);
  }
}

TEST_F(KernelBuilderTest, ATimedOutBuildIsASkip) {
  build_result_ = FakeProcessRunner::timed_out("  CC      kernel/fork.o\n");
  auto outcome = builder().build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_FALSE(outcome->ok);
  EXPECT_THAT(outcome->detail, StartsWith("make bzImage: timed out after 3600000 ms; log: "));
  EXPECT_THAT(outcome->log_tail, HasSubstr("kernel/fork.o"));
}

// Writes `path` with an mtime an hour ago: what a build that ended long before wrote.
void write_old(const std::string& path, const std::string& text) {
  write(path, text);
  fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::hours(1));
}

// A make killed mid-build (its timeout, a stop, kill -9 of flakebisect) leaves the empty object
// `as` had created, with a fresh mtime: kbuild would never rebuild it and every later link would
// fail. The next build removes what the cut-short one wrote and nothing else.
TEST_F(KernelBuilderTest, ABuildCutShortHasWhatItWroteRemovedByTheNextBuild) {
  const std::string marker = obj() + "/.flakebisect-build-in-progress";
  for (const bool timed_out : {true, false}) {
    SCOPED_TRACE(timed_out ? "timed out" : "stopped");
    fs::remove_all(obj());
    fs::remove_all(dir_.file("cache"));  // not the first iteration's image
    write_old(obj() + "/fs/ext4/super.o", "an object of an earlier build");
    write_old(obj() + "/include/config/auto.conf", "CONFIG_EXT4_FS=y\n");
    bool marker_seen = false;
    make_ = [&](const ProcessOptions& options) -> base::Result<ProcessResult> {
      // While make runs the marker is on disk, so that kill -9 or a power cut leaves it too.
      marker_seen = fs::exists(marker);
      if (options.argv.back() != "bzImage") return fake_make(options);
      write(obj() + "/fs/ext4/inode.o", "");
      write(obj() + "/.tmp_vmlinux.kallsyms1", "");
      write(obj() + "/include/config/EXT4_FS_SECURITY", "");  // syncconfig's touch
      write(obj() + "/include/generated/autoconf.h", "#define CONFIG_EXT4_FS 1\n");
      if (timed_out) return FakeProcessRunner::timed_out("  AS      fs/ext4/inode.o\n");
      return FakeProcessRunner::signalled(SIGKILL);
    };
    auto cut = builder().build(checkout());
    EXPECT_TRUE(marker_seen);
    if (timed_out) {
      ASSERT_TRUE(cut.has_value()) << cut.error().message();
      EXPECT_FALSE(cut->ok);
    } else {
      EXPECT_FALSE(cut.has_value());
    }
    EXPECT_TRUE(fs::exists(marker)) << "a make that was killed keeps the marker";

    std::vector<std::string> at_build;  // what the next build's make finds in O=
    make_ = [&](const ProcessOptions& options) -> base::Result<ProcessResult> {
      marker_seen = fs::exists(marker);
      if (options.argv.back() == "defconfig") {
        for (const auto& entry : fs::recursive_directory_iterator(obj())) {
          if (entry.is_regular_file()) at_build.push_back(entry.path().lexically_relative(obj()));
        }
        std::sort(at_build.begin(), at_build.end());
      }
      return fake_make(options);
    };
    auto next = builder().build(checkout());
    ASSERT_TRUE(next.has_value()) << next.error().message();
    EXPECT_TRUE(next->ok) << next->detail;
    EXPECT_TRUE(marker_seen);
    // Removed: the object, the linker's file, the generated header and .config (rewritten by
    // the build anyway). Kept: an earlier build's object, and include/config/, where the touched
    // symbol file makes the objects the cut-short build did not reach rebuild. The marker is
    // written again for the step.
    EXPECT_THAT(at_build,
                ElementsAre(".flakebisect-build-in-progress", "fs/ext4/super.o",
                            "include/config/EXT4_FS_SECURITY", "include/config/auto.conf"));
    EXPECT_THAT(read(processes_.calls().back().stdout_path.value()),
                HasSubstr("# the previous build in " + obj() +
                          " was cut short: removed the 4 files it wrote"));
    EXPECT_FALSE(fs::exists(marker)) << "a build that ended by itself leaves no marker";
  }
}

TEST_F(KernelBuilderTest, ABuildThatFailsByItselfLeavesNothingForTheNextBuildToRemove) {
  const std::string marker = obj() + "/.flakebisect-build-in-progress";
  make_ = [&](const ProcessOptions& options) -> base::Result<ProcessResult> {
    if (options.argv.back() != "bzImage") return fake_make(options);
    write(obj() + "/fs/ext4/super.o", "an object that compiled");
    return FakeProcessRunner::exited(2, "fs/ext4/inode.c:12:1: error: expected ';'\n");
  };
  auto failed = builder().build(checkout());
  ASSERT_TRUE(failed.has_value()) << failed.error().message();
  EXPECT_FALSE(failed->ok);
  EXPECT_FALSE(fs::exists(marker));

  make_ = nullptr;
  auto next = builder().build(checkout());
  ASSERT_TRUE(next.has_value()) << next.error().message();
  EXPECT_TRUE(next->ok) << next->detail;
  EXPECT_TRUE(fs::exists(obj() + "/fs/ext4/super.o"));
  EXPECT_THAT(read(processes_.calls().back().stdout_path.value()), Not(HasSubstr("cut short")));
}

TEST_F(KernelBuilderTest, AFailingBaseConfigIsASkip) {
  make_ = [](const ProcessOptions&) -> base::Result<ProcessResult> {
    return FakeProcessRunner::exited(2, "*** Can't find default configuration\n");
  };
  auto outcome = builder().build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_FALSE(outcome->ok);
  EXPECT_THAT(outcome->detail, StartsWith("make defconfig: exit 2; log: "));
  EXPECT_EQ(processes_.call_count(), 1U);
}

TEST_F(KernelBuilderTest, AMissingMakeIsAnErrorWithContext) {
  make_ = [](const ProcessOptions&) -> base::Result<ProcessResult> {
    return base::Error("make: not found", base::ErrorCode::kNotFound);
  };
  auto outcome = builder().build(checkout());
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().message(), "build 89abcdef0123: make: not found");
  EXPECT_EQ(outcome.error().code(), base::ErrorCode::kNotFound);
}

TEST_F(KernelBuilderTest, TheSameTreeAndConfigIsBuiltOnce) {
  auto first = builder().build(checkout());
  ASSERT_TRUE(first.has_value()) << first.error().message();
  ASSERT_TRUE(first->ok);
  // Another commit with the same tree, in a new builder (as after a restart).
  CommitCheckout other = checkout();
  other.sha = "fedcba9876543210fedcba9876543210fedcba98";
  auto second = builder().build(other);
  ASSERT_TRUE(second.has_value()) << second.error().message();
  EXPECT_TRUE(second->ok);
  EXPECT_EQ(second->detail, "cached");
  EXPECT_EQ(second->artifact, first->artifact);
  EXPECT_EQ(builds_, 1);
  // The config was still made and checked, and the second build has its own log.
  EXPECT_THAT(processes_.argvs().back(), ElementsAre("make", "O=" + obj(), "olddefconfig"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.file("logs")), fs::directory_iterator()), 2);
}

// Each store of a cache entry copies into a temporary directory of its own (two workers of one
// daemon can store one key at once), and removes only those that builds which died left behind
// over an hour ago.
TEST_F(KernelBuilderTest, AStoreUsesItsOwnTemporaryDirectoryAndRemovesOnlyStaleOnes) {
  auto first = builder().build(checkout());
  ASSERT_TRUE(first.has_value()) << first.error().message();
  ASSERT_TRUE(first->ok);
  const std::string entry = first->artifact;
  fs::remove_all(entry);
  const std::string stale = entry + ".tmp-stale1";
  const std::string busy = entry + ".tmp-busy01";  // another worker copying right now
  fs::create_directories(stale);
  fs::create_directories(busy);
  fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(2));
  auto second = builder().build(checkout());
  ASSERT_TRUE(second.has_value()) << second.error().message();
  ASSERT_TRUE(second->ok);
  EXPECT_EQ(second->artifact, entry);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(busy));
  size_t temporaries = 0;
  for (const auto& sibling : fs::directory_iterator(fs::path(entry).parent_path())) {
    temporaries += sibling.path().filename().native().find(".tmp-") != std::string::npos;
  }
  EXPECT_EQ(temporaries, 1U) << "only the other worker's";
}

TEST_F(KernelBuilderTest, AChangedConfigTreeOrCompilerMissesTheCache) {
  auto first = builder().build(checkout());
  ASSERT_TRUE(first.has_value() && first->ok);

  kernel_.fragments = {dir_.write("more.config", "CONFIG_PROVE_LOCKING=y\n")};
  auto changed_config = builder().build(checkout());
  ASSERT_TRUE(changed_config.has_value() && changed_config->ok);
  EXPECT_EQ(changed_config->detail, "");
  EXPECT_NE(changed_config->artifact, first->artifact);
  EXPECT_THAT(read(changed_config->artifact + "/config"), HasSubstr("CONFIG_PROVE_LOCKING=y"));
  kernel_.fragments = {};

  CommitCheckout other_tree = checkout();
  other_tree.tree_id = "9999999999999999999999999999999999999999";
  auto changed_tree = builder().build(other_tree);
  ASSERT_TRUE(changed_tree.has_value() && changed_tree->ok);
  EXPECT_NE(changed_tree->artifact, first->artifact);

  KernelBuilderOptions opts = options();
  opts.compiler_version = "gcc (Debian 13.2.0-1) 13.2.0";
  auto changed_compiler = builder(opts).build(checkout());
  ASSERT_TRUE(changed_compiler.has_value() && changed_compiler->ok);
  EXPECT_NE(changed_compiler->artifact, first->artifact);
  EXPECT_EQ(builds_, 4);
}

TEST_F(KernelBuilderTest, TheCompilerVersionIsAskedOnceFromGcc) {
  processes_.on({"gcc", "--version"},
                FakeProcessRunner::exited(0, std::string(kCompiler) + "\nCopyright (C) 2022\n"));
  KernelBuilderOptions opts = options();
  opts.compiler_version.reset();
  KernelBuilder kb = builder(opts);
  ASSERT_TRUE(kb.build(checkout()).has_value());
  auto second = kb.build(checkout());
  ASSERT_TRUE(second.has_value()) << second.error().message();
  EXPECT_EQ(second->detail, "cached");
  const auto argvs = processes_.argvs();
  EXPECT_EQ(std::count(argvs.begin(), argvs.end(), std::vector<std::string>{"gcc", "--version"}),
            1);
  // The same key as a builder told the version.
  auto told = builder().build(checkout());
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->artifact, second->artifact);
}

TEST_F(KernelBuilderTest, AMissingCompilerIsAnError) {
  processes_.on({"gcc"}, base::Error("gcc: not found", base::ErrorCode::kNotFound));
  KernelBuilderOptions opts = options();
  opts.compiler_version.reset();
  auto outcome = builder(opts).build(checkout());
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().message(), "build 89abcdef0123: compiler version: gcc: not found");
}

TEST_F(KernelBuilderTest, AUserConfigBaseIsCopied) {
  kernel_.base = dir_.write("my.config", "CONFIG_MINE=y\n# CONFIG_VIRTIO_MENU is not set\n");
  kernel_.fragments = {dir_.write("f.config", "CONFIG_VIRTIO_MENU=y\n")};
  auto outcome = builder().build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_TRUE(outcome->ok) << outcome->detail;
  EXPECT_EQ(seen_by_olddefconfig_, "CONFIG_MINE=y\nCONFIG_VIRTIO_MENU=y\n");  // moved to the end
  EXPECT_THAT(processes_.argvs(), ElementsAre(ElementsAre("make", "O=" + obj(), "olddefconfig"),
                                              ElementsAre("make", "O=" + obj(), "-j3", "bzImage")));
}

TEST_F(KernelBuilderTest, AMissingUserConfigBaseIsAnError) {
  kernel_.base = dir_.file("nope.config");
  auto outcome = builder().build(checkout());
  ASSERT_FALSE(outcome.has_value());
  EXPECT_THAT(outcome.error().message(), StartsWith("build 89abcdef0123: base config: "));
  EXPECT_EQ(processes_.call_count(), 0U);
}

TEST_F(KernelBuilderTest, ATargetOutsideArchBootIsFoundInTheObjDir) {
  kernel_.target = "vmlinux";
  make_ = [this](const ProcessOptions& options) -> base::Result<ProcessResult> {
    if (options.argv.back() == "vmlinux") {
      write(obj_of(options) + "/vmlinux", "ELF");
      return FakeProcessRunner::exited(0);
    }
    return fake_make(options);
  };
  auto outcome = builder().build(checkout());
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  EXPECT_TRUE(outcome->ok);
  EXPECT_EQ(read(outcome->artifact + "/vmlinux"), "ELF");
}

TEST_F(KernelBuilderTest, ABuildThatMakesNoImageIsAnError) {
  make_ = [this](const ProcessOptions& options) -> base::Result<ProcessResult> {
    return options.argv.back() == "bzImage" ? FakeProcessRunner::exited(0) : fake_make(options);
  };
  auto outcome = builder().build(checkout());
  ASSERT_FALSE(outcome.has_value());
  EXPECT_THAT(outcome.error().message(), HasSubstr("make bzImage succeeded but made neither"));
}

// The real process runner with a make that is a script: the log file that make's live output
// went to ends up holding every step's output.
// Builds kSha from an empty tree in dir/linux with `make` (a script), real processes, no ccache.
base::Result<BuildOutcome> build_with_real_make(test_support::TempDir& dir, const std::string& make,
                                                std::vector<std::string> fragments) {
  fs::permissions(make, fs::perms::owner_all);
  fs::create_directories(dir.file("linux"));
  config::KernelConfig kernel;
  kernel.make = {make};
  kernel.fragments = std::move(fragments);
  kernel.ccache = false;
  KernelBuilderOptions options;
  options.build_root = dir.file("build");
  options.cache_root = dir.file("cache");
  options.log_dir = dir.file("logs");
  options.compiler_version = kCompiler;
  base::SubprocessRunner processes;
  KernelBuilder builder(processes, kernel, std::chrono::seconds(60), options);
  return builder.build(CommitCheckout{kSha, "/src", dir.file("linux"), "", ""});
}

TEST(KernelBuilder, WorksWithARealMakeProgram) {
  test_support::TempDir dir;
  const std::string make = dir.write("make", R"(#!/bin/sh
for arg; do
  case "$arg" in O=*) obj=${arg#O=} ;; esac
  last=$arg
done
case "$last" in
defconfig) printf 'CONFIG_64BIT=y\n' >"$obj/.config" && echo "defconfig written" ;;
olddefconfig) echo "configuration written to .config" ;;
bzImage)
  mkdir -p "$obj/arch/x86/boot" && printf 'image' >"$obj/arch/x86/boot/bzImage"
  echo "  CC      init/main.o"
  echo "init/main.c:1: warning: unused" >&2 ;;
*) exit 2 ;;
esac
)");
  auto outcome = build_with_real_make(dir, make, {"qemu-guest"});
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  ASSERT_TRUE(outcome->ok) << outcome->detail;
  EXPECT_EQ(read(outcome->artifact + "/bzImage"), "image");
  EXPECT_THAT(read(outcome->artifact + "/config"), HasSubstr("CONFIG_VIRTIO_BLK=y"));
  EXPECT_THAT(outcome->log_tail, HasSubstr("init/main.c:1: warning: unused"));
  ASSERT_EQ(std::distance(fs::directory_iterator(dir.file("logs")), fs::directory_iterator()), 1);
  const std::string log = read(fs::directory_iterator(dir.file("logs"))->path());
  EXPECT_THAT(log, HasSubstr("defconfig written"));
  EXPECT_THAT(log, HasSubstr("configuration written to .config"));
  EXPECT_THAT(log, HasSubstr("CC      init/main.o"));
  EXPECT_EQ(read(outcome->artifact + "/build.log"), log.substr(0, log.find("# stored: ")));
}

TEST(KernelBuilder, MakeRunsWithoutTheKbuildVariablesOfTheToolsEnvironment) {
  // KCFLAGS=-O0 (or a MAKEFLAGS that carries it) in the shell that started the daemon would build
  // another kernel under the same artifact key; make sees the fixed KBUILD_BUILD_* values, and of
  // the tool's environment only where programs and caches are (PATH, HOME, CCACHE_*, ...).
  const std::vector<std::pair<const char*, const char*>> inherited = {
      {"KCFLAGS", "-O0"},           {"KCPPFLAGS", "-DX"},
      {"MAKEFLAGS", "KCFLAGS=-O0"}, {"KBUILD_EXTRA_WARN", "1"},
      {"KCONFIG_WERROR", "1"},      {"LOCALVERSION", "-mine"},
      {"CROSS_COMPILE", "x-"},      {"KBUILD_BUILD_USER", "me"},
      {"KASAN_SANITIZE", "n"},      {"CCACHE_DIR", "/tmp/fb-ccache"}};
  for (const auto& [name, value] : inherited) {
    ASSERT_EQ(::setenv(name, value, 1), 0);
  }
  test_support::TempDir dir;
  const std::string make = dir.write("make", R"(#!/bin/sh
for arg; do
  case "$arg" in O=*) obj=${arg#O=} ;; esac
  last=$arg
done
case "$last" in
defconfig) printf 'CONFIG_64BIT=y\n' >"$obj/.config" ;;
olddefconfig) ;;
bzImage)
  mkdir -p "$obj/arch/x86/boot"
  env | grep -E '^(K|MAKE|LOCALVERSION|CROSS_COMPILE|CCACHE_DIR|PATH=)' | sed 's/^PATH=.*/PATH/' |
    sort >"$obj/arch/x86/boot/bzImage" ;;
*) exit 2 ;;
esac
)");
  auto outcome = build_with_real_make(dir, make, {});
  for (const auto& [name, value] : inherited) {
    ::unsetenv(name);
  }
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
  ASSERT_TRUE(outcome->ok) << outcome->detail;
  EXPECT_EQ(read(outcome->artifact + "/bzImage"),
            "CCACHE_DIR=/tmp/fb-ccache\n"
            "KBUILD_BUILD_HOST=flakebisect\n"
            "KBUILD_BUILD_TIMESTAMP=1970-01-01 00:00:00 UTC\n"
            "KBUILD_BUILD_USER=flakebisect\n"
            "KBUILD_BUILD_VERSION=1\n"
            "PATH\n");
}

TEST(BundledFragments, IncludeTheQemuGuestXfstestsAndTheDebugFragments) {
  EXPECT_THAT(bundled_fragment_names(),
              ElementsAre("debug-kasan", "debug-lockdep", "qemu-guest", "xfstests"));
  auto xfstests = bundled_fragment("xfstests");
  ASSERT_TRUE(xfstests.has_value());
  EXPECT_THAT(std::string(*xfstests), HasSubstr("\nCONFIG_NET_9P_VIRTIO=y\n"));
  auto guest = bundled_fragment("qemu-guest");
  ASSERT_TRUE(guest.has_value());
  EXPECT_THAT(std::string(*guest), HasSubstr("\nCONFIG_VIRTIO_BLK=y\n"));
  EXPECT_THAT(std::string(*guest), HasSubstr("\nCONFIG_SERIAL_8250_RUNTIME_UARTS=4\n"));
  EXPECT_FALSE(bundled_fragment("nope").has_value());
}

TEST(BundledFragments, EveryOneParsesAndMatchesItsFile) {
  for (const std::string& name : bundled_fragment_names()) {
    SCOPED_TRACE(name);
    const std::string_view text = *bundled_fragment(name);
    auto settings = parse_config_fragment(text, name);
    ASSERT_TRUE(settings.has_value()) << settings.error().message();
    EXPECT_FALSE(settings->empty());
    auto loaded = load_kernel_fragments({name});  // no =m either
    EXPECT_TRUE(loaded.has_value()) << loaded.error().message();
    EXPECT_EQ(text,
              read(std::string(FLAKEBISECT_SOURCE_DIR) + "/configs/kernel/" + name + ".config"));
  }
}

}  // namespace
}  // namespace flakebisect::build
