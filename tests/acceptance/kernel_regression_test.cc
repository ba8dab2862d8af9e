// Acceptance (ctest label `kernel`, opt-in; about half an hour on 2 cores, most of it the first
// kernel build): a git history on top of Debian's linux-source-6.1 in which one commit plants a
// real flaky kernel regression, bisected by the real `flakebisect run` with real kernel builds
// (tinyconfig + configs/kernel/qemu-guest.config), QEMU boots and the bundled reproducer on
// fresh 1k-block ext4 filesystems.
//
// The planted change is generic/418's bug class: iomap stops invalidating the page cache after
// direct writes smaller than a page. With 4k blocks every block is its own page and nothing
// changes; with 1k blocks four children's blocks share a page, and when one child's buffered read
// pulls the page in while a neighbour's direct write is in flight, the neighbour later reads its
// block back stale ("cmpbuf: offset N: Expected 0x.., got 0x.."). Whether that happens depends on
// timing: the bug is flaky.
//
// The work directory ($FLAKEBISECT_ACCEPTANCE_DIR, default <build>/acceptance) keeps the
// repository, store, kernel builds and logs for inspection; delete it to start over.
//
// Needs: scripts/install-deps.sh --kernel.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/paths.h"
#include "base/process.h"

namespace flakebisect {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;

constexpr const char* kTarball = "/usr/src/linux-source-6.1.tar.xz";
constexpr int kCommits = 12;  // on top of the imported tree
constexpr int kPlanted = 7;   // 1-based among them

fs::path work_dir() {
  const char* dir = ::getenv("FLAKEBISECT_ACCEPTANCE_DIR");
  return dir != nullptr && *dir != '\0' ? fs::path(dir)
                                        : fs::path(FLAKEBISECT_BINARY_DIR) / "acceptance";
}

base::ProcessResult run(std::vector<std::string> argv, const fs::path& cwd,
                        std::chrono::minutes timeout = std::chrono::minutes(30)) {
  base::ProcessOptions options;
  options.argv = std::move(argv);
  options.cwd = cwd.native();
  options.timeout = timeout;
  options.env_set = {{"GIT_AUTHOR_NAME", "Flaky Bisect"},
                     {"GIT_AUTHOR_EMAIL", "fb@example.org"},
                     {"GIT_COMMITTER_NAME", "Flaky Bisect"},
                     {"GIT_COMMITTER_EMAIL", "fb@example.org"},
                     {"GIT_CONFIG_NOSYSTEM", "1"},
                     {"GIT_CONFIG_GLOBAL", "/dev/null"}};
  auto result = base::run_process(options);
  EXPECT_TRUE(result) << (result ? "" : result.error().message());
  return result ? *result : base::ProcessResult{};
}

void replace_in_file(const fs::path& path, const std::string& from, const std::string& to) {
  auto text = base::read_file(path.native(), size_t{16} << 20);
  ASSERT_TRUE(text) << text.error().message();
  const size_t at = text->find(from);
  ASSERT_NE(at, std::string::npos) << "not in " << path << ": " << from;
  text->replace(at, from.size(), to);
  std::ofstream(path, std::ios::trunc) << *text;
}

// The history: the tarball's tree, then kCommits commits; the kPlanted-th changes iomap.
std::vector<std::string> make_history(const fs::path& repo) {
  std::vector<std::string> shas;
  if (!fs::exists(repo / ".git")) {
    fs::create_directories(repo.parent_path());
    const fs::path unpack = repo.parent_path() / "unpack";
    fs::remove_all(unpack);
    fs::create_directories(unpack);
    EXPECT_EQ(run({"tar", "-xf", kTarball, "-C", unpack.native()}, unpack).exit_code, 0);
    fs::rename(unpack / "linux-source-6.1", repo);
    // Debian's tarball ignores everything at the top level (packaging lines at the end of its
    // .gitignore): drop those so `git add -A` takes the tree.
    auto ignore = base::read_file((repo / ".gitignore").native());
    if (ignore) {
      const size_t debian = ignore->find("\n#\n# Debian");
      std::ofstream(repo / ".gitignore", std::ios::trunc)
          << (debian == std::string::npos ? *ignore : ignore->substr(0, debian + 1));
    }
    EXPECT_EQ(run({"git", "init", "-q", "-b", "main"}, repo).exit_code, 0);
    EXPECT_EQ(run({"git", "add", "-A"}, repo).exit_code, 0);
    EXPECT_EQ(run({"git", "commit", "-q", "-m", "Linux 6.1 (Debian linux-source-6.1)"}, repo)
                  .exit_code,
              0);
    for (int i = 1; i <= kCommits; ++i) {
      std::string subject;
      if (i == kPlanted) {
        replace_in_file(repo / "fs/iomap/direct-io.c",
                        "\tif (!dio->error && dio->size && (dio->flags & IOMAP_DIO_WRITE))\n"
                        "\t\tkiocb_invalidate_post_direct_write(iocb, dio->size);\n",
                        "\t/*\n\t * Writes smaller than a page had their range invalidated before\n"
                        "\t * the write was issued; only larger ones need a second pass.\n\t */\n"
                        "\tif (!dio->error && dio->size && (dio->flags & IOMAP_DIO_WRITE) &&\n"
                        "\t    dio->size >= PAGE_SIZE)\n"
                        "\t\tkiocb_invalidate_post_direct_write(iocb, dio->size);\n");
        subject = "iomap: skip the post-write invalidation for sub-page direct writes";
      } else {
        std::ofstream(repo / "Documentation/filesystems/ext4/about.rst", std::ios::app)
            << "\n.. flakebisect acceptance history, change " << i << "\n";
        subject = "Documentation: ext4: note " + std::to_string(i);
      }
      EXPECT_EQ(run({"git", "commit", "-q", "-a", "-m", subject}, repo).exit_code, 0);
    }
  }
  const std::string log = run({"git", "rev-list", "--reverse", "main"}, repo).out;
  for (size_t at = 0; at + 40 <= log.size(); at += 41) {
    shas.push_back(log.substr(at, 40));
  }
  return shas;
}

TEST(Acceptance, BisectsAPlantedFlakyIomapRegressionInLinux61WithRealBuildsAndBoots) {
  ASSERT_TRUE(fs::exists(kTarball))
      << kTarball << " is missing: run scripts/install-deps.sh --kernel";
  const fs::path dir = work_dir();
  const fs::path repo = dir / "linux";
  const auto start = Clock::now();
  const std::vector<std::string> shas = make_history(repo);
  ASSERT_EQ(shas.size(), static_cast<size_t>(kCommits + 1));
  const std::string planted = shas[kPlanted];
  std::printf("history ready in %.0f s; planted %s\n",
              std::chrono::duration<double>(Clock::now() - start).count(), planted.c_str());

  const fs::path config = dir / "acceptance.toml";
  std::ofstream(config, std::ios::trunc) << R"(# tests/acceptance: the seed case on a planted bug.
[decision]
confidence = 0.99
max_runs = 1500
build_cost = 30
boot_cost = 10
run_cost = 1

[build]
timeout = "2h"

[kernel]
base = "tinyconfig"
fragments = ["qemu-guest"]

[qemu]
accel = "auto"
memory_mb = 512
cpus = 2
runs_per_boot = 16

[scratch]
size_mb = 64
mkfs = ["mkfs.ext4", "-q", "-F", "-b", "1024"]

[reproducer]
program = "bundled:dio-check"
# generic/418's shape: direct writes, buffered reads, truncate first, 1k blocks, 4 children.
args = ["-w", "-t", "-b", "1024", "-n", "2", "-i", "1", "{scratch}/dio-check.file"]

[test]
timeout = "3m"
)";
  const fs::path db = dir / "acceptance.db";
  if (fs::exists(db)) {
    fs::remove(db);
  }
  const auto bisect_start = Clock::now();
  const base::ProcessResult bisect = run(
      {FLAKEBISECT_BIN, "--db", db.native(), "run", "--repo", repo.native(), "--good", shas.front(),
       "--bad", shas.back(), "--config", config.native(), "--revert-check", "--json"},
      dir, std::chrono::minutes(180));
  const double seconds = std::chrono::duration<double>(Clock::now() - bisect_start).count();
  std::printf("bisection: %.0f s, exit %d\n%s\n%s\n", seconds, bisect.exit_code, bisect.out.c_str(),
              bisect.err.substr(bisect.err.size() > 4000 ? bisect.err.size() - 4000 : 0).c_str());
  ASSERT_EQ(bisect.exit_code, 0);
  EXPECT_THAT(bisect.out, HasSubstr(planted));
  // KernelCI's revert check: the last commit with the iomap change reverted is a kernel built and
  // booted like the others, and the reproducer stops failing on it.
  const auto result = nlohmann::json::parse(bisect.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(result.is_object()) << bisect.out;
  const auto& revert = result["checks"]["revert"];
  EXPECT_EQ(revert["status"], "pass") << revert.dump();
  EXPECT_EQ(revert["reverted"], planted);
  EXPECT_EQ(revert["onto"], shas.back());
  EXPECT_EQ(revert["fails"], 0);
}

}  // namespace
}  // namespace flakebisect
