// The real scripts/get_maintainer.pl and MAINTAINERS of Debian's linux-source-6.1 (label kernel,
// opt-in; needs scripts/install-deps.sh --kernel), run by report::kernel_maintainers() on a
// commit that changes an ext4 file, one that changes iomap and one in a driver whose MAINTAINERS
// entry names its directory without a trailing slash: the people and lists the kernel's own
// script names for them, as `git show | scripts/get_maintainer.pl --no-git` does in the tree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/process.h"
#include "git/test_repo.h"
#include "report/maintainers.h"

namespace flakebisect {
namespace {

namespace fs = std::filesystem;
using git::testing::TempDir;
using git::testing::TestRepo;
using ::testing::Contains;
using ::testing::Field;
using ::testing::Not;

constexpr const char* kTarball = "/usr/src/linux-source-6.1.tar.xz";

std::vector<std::string> addresses(const std::vector<report::Maintainer>& people) {
  std::vector<std::string> out;
  for (const auto& person : people) out.push_back(person.address + " (" + person.role + ")");
  return out;
}

TEST(GetMaintainer, TheKernelsOwnScriptNamesTheMaintainersAndListsOfWhatACommitChanges) {
  ASSERT_TRUE(fs::exists(kTarball))
      << kTarball << " is missing: run scripts/install-deps.sh --kernel";
  TempDir unpack("unpack");
  base::ProcessOptions untar;
  untar.argv = {"tar",
                "-xf",
                kTarball,
                "-C",
                unpack.path().native(),
                "linux-source-6.1/MAINTAINERS",
                "linux-source-6.1/scripts/get_maintainer.pl"};
  untar.timeout = std::chrono::minutes(10);
  auto untarred = base::run_process(untar);
  ASSERT_TRUE(untarred && untarred->succeeded())
      << (untarred ? untarred->err : untarred.error().message());
  const fs::path tree = unpack.path() / "linux-source-6.1";

  TempDir dir("repo");
  TempDir tmp("tmp");
  TestRepo git(dir.path());
  git.commit_on(
      "main", "Linux 6.1",
      {{"MAINTAINERS", git::testing::read(tree / "MAINTAINERS")},
       {"scripts/get_maintainer.pl", git::testing::read(tree / "scripts" / "get_maintainer.pl")},
       {"fs/ext4/inode.c", "/* ext4 */\n"},
       {"fs/iomap/direct-io.c", "/* iomap */\n"},
       {"drivers/infiniband/hw/erdma/erdma_main.c", "/* erdma */\n"}});
  const std::string ext4 =
      git.commit_on("main", "ext4: a change", {{"fs/ext4/inode.c", "/* ext4, changed */\n"}});
  const std::string iomap = git.commit_on("main", "iomap: a change",
                                          {{"fs/iomap/direct-io.c", "/* iomap, changed */\n"}});
  // MAINTAINERS names this driver's directory without a trailing slash: the script must see that
  // it is a directory.
  const std::string erdma =
      git.commit_on("main", "RDMA/erdma: a change",
                    {{"drivers/infiniband/hw/erdma/erdma_main.c", "/* erdma, changed */\n"}});
  auto repo = git::Repository::open(dir.path());
  ASSERT_TRUE(repo) << repo.error().message();
  base::SubprocessRunner processes;
  report::MaintainersOptions options;
  options.temp_parent = tmp.path().native();

  auto found = report::kernel_maintainers(*repo, ext4, processes, options);
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_TRUE(found->has_value());
  EXPECT_THAT(addresses(**found),
              ::testing::ElementsAre("tytso@mit.edu (maintainer:EXT4 FILE SYSTEM)",
                                     "adilger.kernel@dilger.ca (maintainer:EXT4 FILE SYSTEM)",
                                     "linux-ext4@vger.kernel.org (open list:EXT4 FILE SYSTEM)",
                                     "linux-kernel@vger.kernel.org (open list)"));
  EXPECT_THAT(**found, Contains(Field(&report::Maintainer::name, "Theodore Ts'o")));

  found = report::kernel_maintainers(*repo, iomap, processes, options);
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_TRUE(found->has_value());
  const auto iomap_addresses = addresses(**found);
  EXPECT_THAT(iomap_addresses,
              Contains("linux-fsdevel@vger.kernel.org (open list:IOMAP FILESYSTEM LIBRARY)"));
  EXPECT_THAT(iomap_addresses, Contains("djwong@kernel.org (supporter:IOMAP FILESYSTEM LIBRARY)"));
  EXPECT_THAT(iomap_addresses,
              Not(Contains("linux-ext4@vger.kernel.org (open list:EXT4 FILE SYSTEM)")));

  found = report::kernel_maintainers(*repo, erdma, processes, options);
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_TRUE(found->has_value());
  EXPECT_THAT(addresses(**found),
              Contains("chengyou@linux.alibaba.com (supporter:ALIBABA ELASTIC RDMA DRIVER)"));
  EXPECT_THAT(addresses(**found),
              Contains("linux-rdma@vger.kernel.org (open list:ALIBABA ELASTIC RDMA DRIVER)"));
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

}  // namespace
}  // namespace flakebisect
