// Maintainers of the culprit (report/maintainers.h): parsing get_maintainer.pl's output, and
// running a tree's own script with the culprit's MAINTAINERS on the culprit's patch. The script
// here is a small perl program in the test repository that prints what it was given, so that the
// test sees which script, MAINTAINERS and patch were used; tests/kernel/get_maintainer_test.cc runs
// the real scripts/get_maintainer.pl of linux-source-6.1 (label kernel).
#include "report/maintainers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "base/process.h"
#include "git/test_repo.h"

namespace flakebisect::report {
namespace {

using git::testing::TempDir;
using git::testing::TestRepo;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

MATCHER_P3(IsMaintainer, name, address, role, "") {
  return arg.name == name && arg.address == address && arg.role == role;
}

TEST(ParseGetMaintainerOutput, ReadsNamesAddressesAndRolesAsTheScriptPrintsThem) {
  const auto people = parse_get_maintainer_output(
      "\"Theodore Ts'o\" <tytso@mit.edu> (maintainer:EXT4 FILE SYSTEM)\n"
      "Andreas Dilger <adilger.kernel@dilger.ca> (maintainer:EXT4 FILE SYSTEM)\n"
      "linux-ext4@vger.kernel.org (open list:EXT4 FILE SYSTEM)\n"
      "LINUX-EXT4@vger.kernel.org (open list:EXT4 FILE SYSTEM)\n"  // the same address again
      "\n"
      "not an address (open list)\n"
      "Someone <no-domain> (reviewer:X)\n"
      "x86@kernel.org (maintainer:X86 ARCHITECTURE (32-BIT AND 64-BIT))\n"
      "Ulf Hansson <ulf.hansson@linaro.org> (maintainer:MULTIMEDIA CARD (MMC), SECURE DIGITAL "
      "(SD) AND SDIO SUBSYSTEM)\n"
      "linux-kernel@vger.kernel.org\r\n");
  EXPECT_THAT(
      people,
      ElementsAre(
          IsMaintainer("Theodore Ts'o", "tytso@mit.edu", "maintainer:EXT4 FILE SYSTEM"),
          IsMaintainer("Andreas Dilger", "adilger.kernel@dilger.ca", "maintainer:EXT4 FILE SYSTEM"),
          IsMaintainer("", "linux-ext4@vger.kernel.org", "open list:EXT4 FILE SYSTEM"),
          IsMaintainer("", "x86@kernel.org", "maintainer:X86 ARCHITECTURE (32-BIT AND 64-BIT)"),
          IsMaintainer("Ulf Hansson", "ulf.hansson@linaro.org",
                       "maintainer:MULTIMEDIA CARD (MMC), SECURE DIGITAL (SD) AND SDIO SUBSYSTEM"),
          IsMaintainer("", "linux-kernel@vger.kernel.org", "")));
}

TEST(ParseGetMaintainerOutput, KeepsAtMostTheCap) {
  std::string output;
  for (size_t i = 0; i < kMaxMaintainers + 10; ++i) {
    output += "list" + std::to_string(i) + "@example.org (open list)\n";
  }
  EXPECT_EQ(parse_get_maintainer_output(output).size(), kMaxMaintainers);
}

// A stand-in for get_maintainer.pl: checks the options flakebisect must pass and that it runs in
// a copy of the commit's directories with a HOME of its own, then prints, for each file the patch
// changes, the ./MAINTAINERS line ("<path prefix> <address>") whose prefix it starts with, and
// the script's own version.
constexpr const char* kFakeScript = R"PL(use strict;
my (@files, %flags);
while (@ARGV) {
  my $a = shift @ARGV;
  if ($a =~ /^--/) { $flags{$a} = 1; }
  else { push @files, $a; }
}
for my $f ('--no-tree', '--no-git', '--no-git-fallback', '--rolestats') {
  die "missing $f\n" unless $flags{$f};
}
die "not in a copy of the tree\n" unless -d 'fs/ext4' && -f 'scripts/get_maintainer.pl';
die "the user's HOME\n" if $ENV{HOME} eq $ENV{FLAKEBISECT_TEST_USER_HOME};
open(my $m, '<', 'MAINTAINERS') or die "MAINTAINERS: $!\n";
my @sections;
while (<$m>) { chomp; push @sections, [split / /, $_, 2]; }
open(my $p, '<', $files[0]) or die "patch: $!\n";
while (<$p>) {
  next unless m{^\+\+\+ b/(\S+)};
  my $file = $1;
  for my $s (@sections) {
    print "$s->[1] (open list:$s->[0] VERSION)\n" if index($file, $s->[0]) == 0;
  }
}
)PL";

std::string fake_script(const std::string& version) {
  std::string script = kFakeScript;
  script.replace(script.find("VERSION"), 7, version);
  return script;
}

class KernelMaintainersTest : public ::testing::Test {
 protected:
  KernelMaintainersTest() : git_(dir_.path()) {
    const char* home = std::getenv("HOME");
    ::setenv("FLAKEBISECT_TEST_USER_HOME", home != nullptr ? home : "", 1);
  }

  base::Result<std::optional<std::vector<Maintainer>>> maintainers(const std::string& sha) {
    auto repo = git::Repository::open(dir_.path());
    EXPECT_TRUE(repo) << repo.error().message();
    MaintainersOptions options;
    options.temp_parent = tmp_.path();
    return kernel_maintainers(*repo, sha, processes_, options);
  }

  TempDir dir_;
  TempDir tmp_;
  TestRepo git_;
  base::SubprocessRunner processes_;
};

TEST_F(KernelMaintainersTest, RunsTheCulpritsOwnScriptWithItsMaintainersOnItsPatch) {
  git_.commit_on("main", "base",
                 {{"scripts/get_maintainer.pl", fake_script("v1")},
                  {"MAINTAINERS", "fs/ext4/ ext4@example.org\nfs/xfs/ xfs@example.org\n"},
                  {"fs/ext4/inode.c", "a\nb\n"},
                  {"fs/xfs/inode.c", "x\n"}});
  // The culprit changes ext4 only, and brings a newer script and MAINTAINERS, which are what
  // count (not the base's, and not a worktree's).
  const std::string culprit =
      git_.commit_on("main", "ext4: the culprit",
                     {{"scripts/get_maintainer.pl", fake_script("v2")},
                      {"MAINTAINERS",
                       "fs/ext4/ linux-ext4@example.org\nfs/xfs/ linux-xfs@example.org\n"
                       "fs/ Fs People <fs@example.org>\n"},
                      {"fs/ext4/inode.c", "a\nc\n"}});
  git_.commit_on("main", "xfs: later", {{"fs/xfs/inode.c", "y\n"}});
  auto found = maintainers(culprit);
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_TRUE(found->has_value());
  EXPECT_THAT(**found,
              ElementsAre(IsMaintainer("", "linux-ext4@example.org", "open list:fs/ext4/ v2"),
                          IsMaintainer("Fs People", "fs@example.org", "open list:fs/ v2")));
  // Its files are gone.
  EXPECT_TRUE(std::filesystem::is_empty(tmp_.path()));
}

TEST_F(KernelMaintainersTest, ATreeWithoutTheScriptOrMaintainersHasNone) {
  const std::string plain = git_.commit_on("main", "not a kernel", {{"a.c", "1\n"}});
  auto found = maintainers(plain);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_FALSE(found->has_value());
  const std::string no_maintainers =
      git_.commit_on("main", "a script only", {{"scripts/get_maintainer.pl", fake_script("v1")}});
  found = maintainers(no_maintainers);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_FALSE(found->has_value());
}

TEST_F(KernelMaintainersTest, AScriptThatFailsIsAnErrorWithWhatItSaid) {
  const std::string sha = git_.commit_on(
      "main", "broken script",
      {{"scripts/get_maintainer.pl", "print STDERR \"Unknown option: mpath\\n\"; exit 2;\n"},
       {"MAINTAINERS", "fs/ x@example.org\n"},
       {"fs/a.c", "1\n"}});
  auto found = maintainers(sha);
  ASSERT_FALSE(found);
  EXPECT_THAT(found.error().message(), HasSubstr("get_maintainer.pl at " + sha.substr(0, 12)));
  EXPECT_THAT(found.error().message(), HasSubstr("exit 2"));
  EXPECT_THAT(found.error().message(), HasSubstr("Unknown option: mpath"));
  EXPECT_TRUE(std::filesystem::is_empty(tmp_.path()));
}

TEST_F(KernelMaintainersTest, AMergeHasNoneItsFirstParentDiffIsAWholeBranch) {
  const std::string base = git_.commit_on("main", "base",
                                          {{"scripts/get_maintainer.pl", fake_script("v1")},
                                           {"MAINTAINERS", "fs/ext4/ linux-ext4@example.org\n"},
                                           {"fs/ext4/inode.c", "a\n"}});
  git::testing::CommitSpec topic;
  topic.message = "ext4: on a branch\n";
  topic.parents = {base};
  topic.changes = {{"fs/ext4/super.c", "s\n"}};
  const std::string on_topic = git_.commit(topic);
  git_.commit_on("main", "main moves on", {{"README", "r\n"}});
  const std::string merge = git_.merge_on("main", {on_topic}, "Merge branch 'topic'");
  auto found = maintainers(merge);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_FALSE(found->has_value());
  // The branch's own commit has them.
  found = maintainers(on_topic);
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->size(), 1u);
}

TEST_F(KernelMaintainersTest, AnUnknownCommitIsAnError) {
  git_.commit_on("main", "one", {{"a", "1\n"}});
  EXPECT_FALSE(maintainers("0123456789abcdef0123456789abcdef01234567"));
}

}  // namespace
}  // namespace flakebisect::report
