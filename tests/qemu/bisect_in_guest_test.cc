// End to end in a guest (label qemu): the real `flakebisect run` on a git history whose commits
// carry the reproducer (a busybox script run inside the guest on each run's fresh 1k-block ext4
// filesystem). From the planted commit on, the script's file round trip goes wrong half of the
// time. Debian's packaged kernel boots under QEMU for every batch of runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/process.h"
#include "store/store.h"
#include "qemu/guest_support.h"
#include "support/temp_dir.h"

namespace flakebisect {
namespace {

namespace fs = std::filesystem;
using guest_support::debian_kernel;
using guest_support::run;
using test_support::TempDir;
using ::testing::HasSubstr;

constexpr int kCommits = 12;
constexpr int kPlanted = 7;  // commits 1..kCommits; kPlanted is the first bad one



std::string reproducer(bool buggy) {
  // Writes a 1 KiB block on the scratch filesystem and reads it back; the "bug" loses the write
  // in half of the runs, chosen by the run's index (FLAKEBISECT_RUN) in a fixed irregular
  // pattern rather than at random, so the bisection, and this test, cannot flake.
  std::string text = R"SH(#!/bin/sh
dd if=/dev/zero bs=1024 count=1 2>/dev/null | tr '\0' '\001' > /scratch/block
sync
)SH";
  if (buggy) {
    text += "[ $(( (FLAKEBISECT_RUN * 7 + 3) % 10 < 5 )) -eq 1 ] && : > /scratch/block\n";
  }
  text += R"SH(if [ "$(od -An -tx1 -N1 /scratch/block | tr -d ' ')" != "01" ]; then
  echo "cmpbuf: offset 0: Expected 0x01, got 0x00"
  exit 1
fi
)SH";
  return text;
}

TEST(BisectInGuest, FindsThePlantedCommitWithEveryRunInAGuest) {
  const std::string kernel = debian_kernel();
  ASSERT_FALSE(kernel.empty()) << "run scripts/install-deps.sh (linux-image-amd64)";
  TempDir dir;
  const std::string repo = dir.file("repo");
  fs::create_directories(repo);
  ASSERT_EQ(run({"git", "init", "-q", "-b", "main"}, repo).exit_code, 0);
  std::vector<std::string> shas;
  for (int i = 1; i <= kCommits; ++i) {
    std::ofstream(repo + "/repro.sh") << reproducer(i >= kPlanted);
    fs::permissions(repo + "/repro.sh", fs::perms(0755));
    std::ofstream(repo + "/notes.txt", std::ios::app) << "change " << i << "\n";
    run({"git", "add", "-A"}, repo);
    ASSERT_EQ(run({"git", "commit", "-q", "-m", "change " + std::to_string(i)}, repo).exit_code, 0);
    shas.push_back(run({"git", "rev-parse", "HEAD"}, repo).out.substr(0, 40));
  }

  const std::string config = dir.file("guest.toml");
  std::ofstream(config) << "[decision]\nconfidence = 0.95\nmax_runs = 300\nboot_cost = 4\n"
                        << "[qemu]\nkernel = \"" << kernel << "\"\naccel = \"tcg\"\n"
                        << "runs_per_boot = 12\ndirect_boot = true\n"
                        << "[scratch]\nsize_mb = 32\n"
                        << "[reproducer]\nprogram = \"repro.sh\"\nargs = []\n"
                        << "[test]\ntimeout = \"60s\"\n";
  const std::string db = dir.file("fb.db");
  auto bisect = run({FLAKEBISECT_BIN, "--db", db, "run", "--repo", repo, "--good", shas.front(),
                     "--bad", shas.back(), "--config", config},
                    dir.path());
  ASSERT_EQ(bisect.exit_code, 0) << bisect.out << bisect.err;
  EXPECT_THAT(bisect.out, HasSubstr("found: " + shas[kPlanted - 1]));

  // Every run came from a boot, with the console kept.
  auto store = store::Store::open(db);
  ASSERT_TRUE(store) << store.error().message();
  auto runs = store->runs_for_bisection(1);
  ASSERT_TRUE(runs);
  ASSERT_FALSE(runs->empty());
  std::set<std::string> boots;
  for (const auto& r : *runs) {
    ASSERT_TRUE(r.boot_id && r.console_path) << r.sha;
    EXPECT_TRUE(fs::exists(*r.console_path)) << *r.console_path;
    boots.insert(*r.boot_id);
  }
  EXPECT_LT(boots.size(), runs->size()) << "several runs share a boot";
  // qemu.direct_boot: the kernel was unpacked next to the store and booted from there.
  size_t unpacked = 0;
  for (const auto& entry : fs::directory_iterator(dir.file("cache/kernels"))) {
    EXPECT_THAT(entry.path().filename().native(), ::testing::StartsWith("vmlinux-"));
    std::string head(4, '\0');
    std::ifstream(entry.path()).read(head.data(), 4);
    EXPECT_EQ(head,
              "\x7f"
              "ELF")
        << entry.path();
    ++unpacked;
  }
  EXPECT_EQ(unpacked, 1u);
  std::printf("%zu runs in %zu boots\n", runs->size(), boots.size());
}

}  // namespace
}  // namespace flakebisect
