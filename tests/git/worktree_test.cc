#include "git/worktree.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base/paths.h"
#include "git/test_repo.h"

namespace flakebisect::git {
namespace {

namespace fs = std::filesystem;
using base::ErrorCode;
using testing::CommitSpec;
using testing::Files;
using testing::files_in;
using ::testing::HasSubstr;
using testing::read;
using testing::run_git;
using testing::TempDir;
using testing::TestRepo;
using testing::trim;

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(base::write_file_atomic(path.native(), text, 0644).has_value());
}

// An empty git repository "user" under `root`, with an identity to commit as.
fs::path new_user_repository(const TempDir& root) {
  const fs::path user = root.path() / "user";
  fs::create_directories(user);
  run_git(user, {"init", "-q", "-b", "main"});
  run_git(user, {"config", "user.email", "a@b"});
  run_git(user, {"config", "user.name", "a"});
  return user;
}

Worktree open_or_die(const fs::path& repo, const fs::path& dir) {
  auto worktree = Worktree::open_or_create(repo, dir);
  EXPECT_TRUE(worktree.has_value()) << worktree.error().message();
  return std::move(worktree).value();
}

void checkout_or_die(Worktree& worktree, const std::string& sha, CheckoutOptions options = {}) {
  auto status = worktree.checkout(sha, options);
  ASSERT_TRUE(status.has_value()) << status.error().message();
}

// A user repository "src dir" with two commits, A and B:
//   keep.txt, dir/nested.txt   same in both
//   change.txt                 changed in B
//   remove.txt, gone/only.txt  removed in B
//   add.txt                    added in B
//   .gitignore                 "*.o" in both
class WorktreeTest : public ::testing::Test {
 protected:
  WorktreeTest() : user_(root_ / "src dir"), git_(user_) {
    a_ = git_.commit_on("main", "A",
                        {{"keep.txt", "keep\n"},
                         {"dir/nested.txt", "nested\n"},
                         {"change.txt", "old\n"},
                         {"remove.txt", "remove\n"},
                         {"gone/only.txt", "only\n"},
                         {".gitignore", "*.o\n"}});
    b_ = git_.commit_on("main", "B",
                        {{"change.txt", "new\n"},
                         {"remove.txt", std::nullopt},
                         {"gone/only.txt", std::nullopt},
                         {"add.txt", "added\n"}});
  }

  fs::path wt_path() const { return root_ / "work tree;$(x)"; }

  TempDir root_{"root"};
  fs::path user_;
  TestRepo git_;
  std::string a_, b_;
};

TEST_F(WorktreeTest, CheckoutWritesTheCommitsFilesAndDetachesHead) {
  Worktree worktree = open_or_die(user_, wt_path());
  EXPECT_EQ(worktree.head().error().code(), ErrorCode::kNotFound);
  checkout_or_die(worktree, a_);
  EXPECT_EQ(files_in(wt_path()), git_.files(a_));
  EXPECT_EQ(*worktree.head(), a_);
  checkout_or_die(worktree, b_);
  EXPECT_EQ(files_in(wt_path()), git_.files(b_));
  EXPECT_EQ(*worktree.head(), b_);
  EXPECT_FALSE(fs::exists(wt_path() / "gone"));  // emptied directories go too
  // The git CLI agrees: detached at B, nothing modified or untracked.
  EXPECT_EQ(trim(run_git(wt_path(), {"rev-parse", "HEAD"})), b_);
  EXPECT_EQ(read(wt_path() / ".git" / "HEAD"), b_ + "\n");  // detached: HEAD holds the SHA
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain", "--ignored"}), "");
  EXPECT_EQ(*worktree.tree_id(b_), trim(run_git(user_, {"rev-parse", b_ + "^{tree}"})));
}

TEST_F(WorktreeTest, UserRepositoryIsNeverWritten) {
  const std::string refs_before = run_git(user_, {"for-each-ref"});
  const std::string worktrees_before = run_git(user_, {"worktree", "list", "--porcelain"});
  const std::string head_before = trim(run_git(user_, {"rev-parse", "HEAD"}));
  {
    Worktree worktree = open_or_die(user_, wt_path());
    checkout_or_die(worktree, a_);
    checkout_or_die(worktree, b_);
  }
  EXPECT_EQ(run_git(user_, {"for-each-ref"}), refs_before);
  EXPECT_EQ(run_git(user_, {"worktree", "list", "--porcelain"}), worktrees_before);
  EXPECT_EQ(trim(run_git(user_, {"rev-parse", "HEAD"})), head_before);
  EXPECT_FALSE(fs::exists(user_ / ".git" / "worktrees"));
  // The user's checkout was never populated by us (TestRepo writes objects only).
  EXPECT_FALSE(fs::exists(user_ / "keep.txt"));
  // Objects are borrowed, not copied.
  EXPECT_EQ(trim(read(wt_path() / ".git" / "objects" / "info" / "alternates")),
            fs::weakly_canonical(user_ / ".git" / "objects").native());
}

TEST_F(WorktreeTest, UnchangedFilesKeepTheirMtimeAndChangedOnesAreRewritten) {
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  // Backdate every file: a rewrite would give it a current mtime.
  const auto past = fs::file_time_type::clock::now() - std::chrono::hours(24 * 365 * 3);
  for (const auto& [path, content] : git_.files(a_)) {
    fs::last_write_time(wt_path() / path, past);
  }

  checkout_or_die(worktree, b_);
  EXPECT_EQ(fs::last_write_time(wt_path() / "keep.txt"), past);
  EXPECT_EQ(fs::last_write_time(wt_path() / "dir" / "nested.txt"), past);
  EXPECT_EQ(fs::last_write_time(wt_path() / ".gitignore"), past);
  EXPECT_NE(fs::last_write_time(wt_path() / "change.txt"), past);
  EXPECT_EQ(read(wt_path() / "change.txt"), "new\n");
  EXPECT_EQ(read(wt_path() / "add.txt"), "added\n");
  EXPECT_FALSE(fs::exists(wt_path() / "remove.txt"));
  EXPECT_FALSE(fs::exists(wt_path() / "gone" / "only.txt"));
}

TEST_F(WorktreeTest, UnchangedFilesKeepTheirMtimeWithoutBackdating) {
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  const auto keep = fs::last_write_time(wt_path() / "keep.txt");
  const auto change = fs::last_write_time(wt_path() / "change.txt");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  checkout_or_die(worktree, b_);
  checkout_or_die(worktree, b_);  // a no-op checkout touches nothing
  EXPECT_EQ(fs::last_write_time(wt_path() / "keep.txt"), keep);
  EXPECT_GT(fs::last_write_time(wt_path() / "change.txt"), change);
}

TEST_F(WorktreeTest, CheckoutRepairsLocalChangesAndRemovesStraysButKeepsIgnoredFiles) {
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, b_);
  write(wt_path() / "keep.txt", "scribbled\n");
  fs::remove(wt_path() / "add.txt");
  write(wt_path() / "stray.c", "int stray;\n");
  write(wt_path() / "dir" / "built.o", "object code");

  checkout_or_die(worktree, b_);
  EXPECT_EQ(read(wt_path() / "keep.txt"), "keep\n");
  EXPECT_EQ(read(wt_path() / "add.txt"), "added\n");
  EXPECT_FALSE(fs::exists(wt_path() / "stray.c"));
  EXPECT_EQ(read(wt_path() / "dir" / "built.o"), "object code");  // ignored: in-tree build output
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain"}), "");
}

TEST_F(WorktreeTest, FlakebisectsOwnBuildDirectoryIsKeptAndNotListedByGit) {
  // The kernel builder's O= (kObjDirName): untracked, not ignored by the tree's .gitignore, and
  // with kbuild's "source" link back to the worktree in it.
  const fs::path obj = wt_path() / (std::string(kPrivatePrefix) + "obj");
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  write(obj / "fs" / "ext4" / "inode.c.cmd", "cmd_fs/ext4/inode.o := gcc ...");
  write(obj / ".config", "CONFIG_EXT4_FS=y\n");
  fs::create_directory_symlink("..", obj / "source");
  write(wt_path() / "stray.c", "int stray;\n");

  checkout_or_die(worktree, b_);  // removes untracked files
  checkout_or_die(worktree, a_);
  EXPECT_FALSE(fs::exists(wt_path() / "stray.c"));
  EXPECT_EQ(read(obj / ".config"), "CONFIG_EXT4_FS=y\n");
  EXPECT_EQ(read(obj / "fs" / "ext4" / "inode.c.cmd"), "cmd_fs/ext4/inode.o := gcc ...");
  EXPECT_TRUE(fs::is_symlink(obj / "source"));
  EXPECT_EQ(read(wt_path() / "keep.txt"), "keep\n") << "nothing went through the link";
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain", "--untracked-files=all"}), "");
}

TEST_F(WorktreeTest, AWorktreeFromBeforeTheRuleGetsItOnOpen) {
  {
    Worktree worktree = open_or_die(user_, wt_path());
    checkout_or_die(worktree, a_);
  }
  fs::remove(wt_path() / ".git" / "info" / "exclude");
  write(wt_path() / ".flakebisect-obj" / "vmlinux", "built");
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, b_);
  EXPECT_EQ(read(wt_path() / ".flakebisect-obj" / "vmlinux"), "built");
}

TEST_F(WorktreeTest, ADirectoryOfIgnoredFilesGivesWayToAFileOfTheSameName) {
  // C has a file where the worktree has a directory that holds only build output ("*.o" is
  // ignored), the way `make` leaves one behind; `git checkout -f C` replaces it. libgit2 already
  // removes such an untracked directory by itself, so this guards the behaviour rather than the
  // code for ignored files; the next test, whose directory also holds tracked files, needs that.
  const std::string c = git_.commit_on("main", "C", {{"out", "now a file\n"}});
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, b_);
  write(wt_path() / "out" / "x.o", "object code");
  write(wt_path() / "out" / "sub" / "y.o", "object code");
  write(wt_path() / "dir" / "built.o", "object code");

  checkout_or_die(worktree, c);
  EXPECT_EQ(read(wt_path() / "out"), "now a file\n");
  EXPECT_EQ(*worktree.head(), c);
  EXPECT_EQ(read(wt_path() / "dir" / "built.o"), "object code");  // not in the way: kept
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain"}), "");
  checkout_or_die(worktree, b_);
  EXPECT_EQ(files_in(wt_path()), (std::map<std::string, std::string>{
                                     {".gitignore", "*.o\n"},
                                     {"add.txt", "added\n"},
                                     {"change.txt", "new\n"},
                                     {"dir/built.o", "object code"},
                                     {"dir/nested.txt", "nested\n"},
                                     {"keep.txt", "keep\n"},
                                 }));
}

// A: "gone" is a directory holding a tracked file; D: "gone" is a file.
std::string commit_where_a_directory_becomes_a_file(TestRepo& git, const std::string& a) {
  CommitSpec spec;
  spec.message = "D\n";
  spec.parents = {a};
  spec.changes = {{"gone/only.txt", std::nullopt}, {"gone", "a file\n"}};
  return git.commit(spec);
}

TEST_F(WorktreeTest, ADirectoryOfTrackedAndIgnoredFilesGivesWayToAFileOfTheSameName) {
  // The build left "gone/only.o" (ignored: "*.o") beside the tracked "gone/only.txt"; in D,
  // "gone" is a file. `git checkout -f D` deletes the build output; so does a checkout here.
  const std::string d = commit_where_a_directory_becomes_a_file(git_, a_);
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  write(wt_path() / "gone" / "only.o", "object code");
  write(wt_path() / "gone" / "sub" / "deeper.o", "object code");
  write(wt_path() / "dir" / "built.o", "object code");

  checkout_or_die(worktree, d);
  EXPECT_EQ(read(wt_path() / "gone"), "a file\n");
  EXPECT_EQ(*worktree.head(), d);
  EXPECT_EQ(read(wt_path() / "dir" / "built.o"), "object code");  // not in the way: kept
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain"}), "");
  checkout_or_die(worktree, a_);
  EXPECT_EQ(read(wt_path() / "gone" / "only.txt"), "only\n");
}

TEST(WorktreeLinks, ClearingIgnoredFilesNeverFollowsALinkOutOfTheWorktree) {
  // "lnk" is a tracked link to a directory outside the worktree in the first commit and a
  // directory holding the file "lnk/sub" in the second: "lnk/sub" then resolves, through the old
  // link, to outside/sub, whose ignored files are not the worktree's to delete.
  TempDir root("root");
  const fs::path user = root.path() / "user";
  const fs::path outside = root.path() / "outside";
  fs::create_directories(user);
  write(outside / "sub" / "precious.o", "user data outside the worktree");
  run_git(user, {"init", "-q", "-b", "main"});
  run_git(user, {"config", "user.email", "a@b"});
  run_git(user, {"config", "user.name", "a"});
  write(user / ".gitignore", "*.o\n");
  fs::create_directory_symlink(outside, user / "lnk");
  run_git(user, {"add", "-A"});
  run_git(user, {"commit", "-q", "-m", "one"});
  const std::string one = trim(run_git(user, {"rev-parse", "HEAD"}));
  run_git(user, {"rm", "-q", "lnk"});
  write(user / "lnk" / "sub", "now a file\n");
  run_git(user, {"add", "-A"});
  run_git(user, {"commit", "-q", "-m", "two"});
  const std::string two = trim(run_git(user, {"rev-parse", "HEAD"}));
  const fs::path wt = root.path() / "wt";
  Worktree worktree = open_or_die(user, wt);
  checkout_or_die(worktree, one);
  ASSERT_TRUE(fs::is_symlink(wt / "lnk"));
  (void)worktree.checkout(two);
  EXPECT_EQ(read(outside / "sub" / "precious.o"), "user data outside the worktree");
}

// A test or build that leaves a link where a tracked file or directory was must not lead the next
// checkout out of the worktree: `git checkout -f` replaces the link and leaves its target alone.
TEST_F(WorktreeTest, ALinkLeftInPlaceOfAFileIsReplacedNotWrittenThrough) {
  // As a test did: ln -sf "$FLAKEBISECT_REPO/change.txt" change.txt. keep.txt is the same in A
  // and B, so only its link differs from the tree.
  write(user_ / "change.txt", "the user's own\n");
  write(root_ / "outside.txt", "user data\n");
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  fs::remove(wt_path() / "change.txt");
  fs::create_symlink(user_ / "change.txt", wt_path() / "change.txt");
  fs::remove(wt_path() / "keep.txt");
  fs::create_symlink(root_ / "outside.txt", wt_path() / "keep.txt");

  checkout_or_die(worktree, b_);
  EXPECT_EQ(read(user_ / "change.txt"), "the user's own\n");
  EXPECT_EQ(read(root_ / "outside.txt"), "user data\n");
  EXPECT_FALSE(fs::is_symlink(wt_path() / "change.txt"));
  EXPECT_FALSE(fs::is_symlink(wt_path() / "keep.txt"));
  EXPECT_EQ(files_in(wt_path()), git_.files(b_));
}

TEST_F(WorktreeTest, ALinkLeftInPlaceOfADirectoryIsReplacedNotWrittenThrough) {
  write(root_ / "outside" / "nested.txt", "user data\n");
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  fs::remove_all(wt_path() / "dir");
  fs::create_directory_symlink(root_ / "outside", wt_path() / "dir");

  checkout_or_die(worktree, b_);
  EXPECT_EQ(files_in(root_ / "outside"), (Files{{"nested.txt", "user data\n"}}));
  EXPECT_FALSE(fs::is_symlink(wt_path() / "dir"));
  EXPECT_EQ(files_in(wt_path()), git_.files(b_));
}

TEST_F(WorktreeTest, ALinkInPlaceOfWhatTheTargetDeletesLeadsNoDeletionOutside) {
  // "gone/only.txt" and "remove.txt" are in A, not in B: the checkout deletes them, but not
  // through the links.
  write(root_ / "outside" / "only.txt", "user data\n");
  write(root_ / "outside" / "remove.txt", "user data\n");
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  fs::remove_all(wt_path() / "gone");
  fs::create_directory_symlink(root_ / "outside", wt_path() / "gone");
  fs::remove(wt_path() / "remove.txt");
  fs::create_directory_symlink(root_ / "outside", wt_path() / "remove.txt");

  checkout_or_die(worktree, b_);
  EXPECT_EQ(files_in(root_ / "outside"),
            (Files{{"only.txt", "user data\n"}, {"remove.txt", "user data\n"}}));
  EXPECT_EQ(files_in(wt_path()), git_.files(b_));
}

TEST_F(WorktreeTest, ALinkInPlaceOfADirectoryThatBecomesAFileOrTheReverseIsReplaced) {
  // A: "gone" is a directory holding "only.txt"; D: "gone" is a file. Links in place of "gone":
  // to a directory, checking out D; to a directory, then to a file, checking out A.
  const std::string d = commit_where_a_directory_becomes_a_file(git_, a_);
  write(root_ / "outside" / "only.txt", "user data\n");
  write(root_ / "outside.txt", "user data\n");
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  fs::remove_all(wt_path() / "gone");
  fs::create_directory_symlink(root_ / "outside", wt_path() / "gone");
  checkout_or_die(worktree, d);
  EXPECT_EQ(read(wt_path() / "gone"), "a file\n");
  EXPECT_EQ(files_in(root_ / "outside"), (Files{{"only.txt", "user data\n"}}));
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain"}), "");
  fs::remove(wt_path() / "gone");
  fs::create_directory_symlink(root_ / "outside", wt_path() / "gone");
  checkout_or_die(worktree, a_);
  EXPECT_EQ(read(wt_path() / "gone" / "only.txt"), "only\n");
  EXPECT_EQ(files_in(root_ / "outside"), (Files{{"only.txt", "user data\n"}}));
  EXPECT_EQ(files_in(wt_path()), git_.files(a_));
  checkout_or_die(worktree, d);
  fs::remove(wt_path() / "gone");
  fs::create_symlink(root_ / "outside.txt", wt_path() / "gone");
  checkout_or_die(worktree, a_);
  EXPECT_EQ(read(root_ / "outside.txt"), "user data\n");
  EXPECT_EQ(files_in(wt_path()), git_.files(a_));
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain"}), "");
}

TEST_F(WorktreeTest, AHardLinkLeftInPlaceOfAFileIsReplacedNotRewrittenInPlace) {
  // As a test did: ln -f /tmp/victim change.txt. The write would truncate the shared inode.
  write(root_ / "victim", "user data\n");
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  fs::remove(wt_path() / "change.txt");
  fs::create_hard_link(root_ / "victim", wt_path() / "change.txt");

  checkout_or_die(worktree, b_);
  EXPECT_EQ(read(root_ / "victim"), "user data\n");
  EXPECT_EQ(fs::hard_link_count(root_ / "victim"), 1U);
  EXPECT_EQ(fs::hard_link_count(wt_path() / "change.txt"), 1U);
  EXPECT_EQ(files_in(wt_path()), git_.files(b_));
}

TEST_F(WorktreeTest, BuildOutputAndItsLinksSurviveTheCheckForLinks) {
  // ccache's hard_link mode links object files into the build; a build may link its outputs. They
  // are at paths no tree has, so nothing writes through them.
  write(root_ / "cache" / "built.o", "object code");
  write(root_ / "cache" / "linked.o", "object code");
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  fs::create_hard_link(root_ / "cache" / "built.o", wt_path() / "dir" / "built.o");
  fs::create_symlink(root_ / "cache" / "linked.o", wt_path() / "linked.o");
  write(wt_path() / "dir" / "plain.o", "object code");
  write(wt_path() / "stray.c", "int stray;\n");

  checkout_or_die(worktree, b_, {.remove_untracked = false});
  EXPECT_EQ(fs::hard_link_count(wt_path() / "dir" / "built.o"), 2U);
  EXPECT_TRUE(fs::is_symlink(wt_path() / "linked.o"));
  EXPECT_EQ(read(wt_path() / "dir" / "plain.o"), "object code");
  EXPECT_EQ(read(wt_path() / "stray.c"), "int stray;\n");
  checkout_or_die(worktree, a_);  // removes untracked files, keeps ignored ones
  EXPECT_EQ(fs::hard_link_count(wt_path() / "dir" / "built.o"), 2U);
  EXPECT_TRUE(fs::is_symlink(wt_path() / "linked.o"));
  EXPECT_EQ(read(wt_path() / "dir" / "plain.o"), "object code");
  EXPECT_EQ(read(root_ / "cache" / "built.o"), "object code");
}

// A directory that becomes a tracked link, with a test's link to somewhere else in its place: the
// checkout makes the tracked link (libgit2 1.5 deleted the foreign one and wrote nothing).
TEST(WorktreeLinks, ADirectoryThatBecomesATrackedLinkIsWrittenWhenALinkIsInItsPlace) {
  TempDir root("root");
  const fs::path user = new_user_repository(root);
  write(user / "d" / "x", "x\n");
  write(user / "d" / "y", "y\n");
  write(user / "k" / "z", "z\n");
  run_git(user, {"add", "-A"});
  run_git(user, {"commit", "-q", "-m", "one"});
  const std::string one = trim(run_git(user, {"rev-parse", "HEAD"}));
  fs::remove_all(user / "d");
  fs::create_directory_symlink("k", user / "d");
  run_git(user, {"add", "-A"});
  run_git(user, {"commit", "-q", "-m", "two"});
  const std::string two = trim(run_git(user, {"rev-parse", "HEAD"}));
  write(root.path() / "outside" / "x", "user data\n");

  const fs::path wt = root.path() / "wt";
  Worktree worktree = open_or_die(user, wt);
  checkout_or_die(worktree, one);
  fs::remove_all(wt / "d");
  fs::create_directory_symlink(root.path() / "outside", wt / "d");
  checkout_or_die(worktree, two);
  ASSERT_TRUE(fs::is_symlink(wt / "d"));
  EXPECT_EQ(fs::read_symlink(wt / "d"), "k");
  EXPECT_EQ(read(root.path() / "outside" / "x"), "user data\n");
  EXPECT_EQ(run_git(wt, {"status", "--porcelain"}), "");
}

TEST(WorktreeLinks, TrackedLinksCheckOutAsLinks) {
  // one: "f" a file, "ln" a link to it, "dirln" a link to "dir". two: "f" a link to "dir/x", "ln"
  // a link to "dir/x", "dirln" unchanged.
  TempDir root("root");
  const fs::path user = new_user_repository(root);
  write(user / "f", "one\n");
  write(user / "dir" / "x", "x\n");
  fs::create_symlink("f", user / "ln");
  fs::create_directory_symlink("dir", user / "dirln");
  run_git(user, {"add", "-A"});
  run_git(user, {"commit", "-q", "-m", "one"});
  const std::string one = trim(run_git(user, {"rev-parse", "HEAD"}));
  fs::remove(user / "f");
  fs::remove(user / "ln");
  fs::create_symlink("dir/x", user / "f");
  fs::create_symlink("dir/x", user / "ln");
  run_git(user, {"add", "-A"});
  run_git(user, {"commit", "-q", "-m", "two"});
  const std::string two = trim(run_git(user, {"rev-parse", "HEAD"}));
  const fs::path wt = root.path() / "wt";
  Worktree worktree = open_or_die(user, wt);
  const auto inode = [](const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_ino;
  };

  checkout_or_die(worktree, one);
  EXPECT_FALSE(fs::is_symlink(wt / "f"));
  EXPECT_EQ(fs::read_symlink(wt / "ln"), "f");
  EXPECT_EQ(fs::read_symlink(wt / "dirln"), "dir");
  const ino_t dirln = inode(wt / "dirln");
  checkout_or_die(worktree, two);
  EXPECT_EQ(fs::read_symlink(wt / "f"), "dir/x");
  EXPECT_EQ(fs::read_symlink(wt / "ln"), "dir/x");
  EXPECT_EQ(inode(wt / "dirln"), dirln);  // unchanged in the tree: left alone
  EXPECT_EQ(read(wt / "dir" / "x"), "x\n");
  const ino_t f = inode(wt / "f");
  checkout_or_die(worktree, two);
  EXPECT_EQ(inode(wt / "f"), f);
  checkout_or_die(worktree, one);
  EXPECT_FALSE(fs::is_symlink(wt / "f"));
  EXPECT_EQ(read(wt / "f"), "one\n");
  EXPECT_EQ(read(wt / "dir" / "x"), "x\n");
  EXPECT_EQ(run_git(wt, {"status", "--porcelain"}), "");

  // A link or hard link a test left in place of a tracked link that becomes a file: libgit2
  // replaces it (a type change), through neither.
  write(root.path() / "outside", "user data\n");
  checkout_or_die(worktree, two);
  fs::remove(wt / "f");
  fs::create_symlink(root.path() / "outside", wt / "f");
  checkout_or_die(worktree, one);
  EXPECT_EQ(read(wt / "f"), "one\n");
  checkout_or_die(worktree, two);
  fs::remove(wt / "f");
  fs::create_hard_link(root.path() / "outside", wt / "f");
  checkout_or_die(worktree, one);
  EXPECT_EQ(read(wt / "f"), "one\n");
  EXPECT_EQ(read(root.path() / "outside"), "user data\n");
  EXPECT_EQ(fs::hard_link_count(root.path() / "outside"), 1U);
  EXPECT_EQ(run_git(wt, {"status", "--porcelain"}), "");
}

TEST(WorktreeLinks, ARefusedDirectoryKeepsNoLockFileBesideIt) {
  TempDir root("root");
  const fs::path user = root.path() / "user";
  TestRepo git(user);
  git.commit_on("main", "A", {{"f", "a\n"}});
  write(root.path() / "mine" / "file", "x");
  auto refused = Worktree::open_or_create(user, root.path() / "mine");
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(), HasSubstr("is not a flakebisect worktree"));
  EXPECT_FALSE(fs::exists(root.path() / "mine.flakebisect-lock"));
}

TEST_F(WorktreeTest, KeptUntrackedFilesInADirectoryThatBecomesAFileAreNotDeleted) {
  const std::string d = commit_where_a_directory_becomes_a_file(git_, a_);
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  write(wt_path() / "gone" / "notes.txt", "mine");
  write(wt_path() / "gone" / "only.o", "object code");
  auto kept = worktree.checkout(d, {.remove_untracked = false});
  ASSERT_FALSE(kept.has_value());
  EXPECT_THAT(kept.error().message(), HasSubstr("gone"));
  EXPECT_EQ(read(wt_path() / "gone" / "notes.txt"), "mine");
  // By default untracked files go, so the directory does too.
  checkout_or_die(worktree, d);
  EXPECT_EQ(read(wt_path() / "gone"), "a file\n");
}

TEST_F(WorktreeTest, KeepingUntrackedFilesIsAnOption) {
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  write(wt_path() / "stray.c", "int stray;\n");
  checkout_or_die(worktree, b_, {.remove_untracked = false});
  EXPECT_TRUE(fs::exists(wt_path() / "stray.c"));
  EXPECT_FALSE(fs::exists(wt_path() / "remove.txt"));  // tracked in A, gone in B: still deleted
  EXPECT_EQ(read(wt_path() / "change.txt"), "new\n");
}

TEST_F(WorktreeTest, ReopenAfterACrashRemovesStaleLocksAndRepairsTheTree) {
  {
    Worktree worktree = open_or_die(user_, wt_path());
    checkout_or_die(worktree, a_);
  }
  // What a process killed in the middle of a checkout leaves behind.
  write(wt_path() / ".git" / "index.lock", "");
  write(wt_path() / ".git" / "HEAD.lock", "");
  write(wt_path() / "change.txt", "ne");  // half written
  fs::remove(wt_path() / "keep.txt");
  write(wt_path() / "add.txt", "added\n");  // already written, index not updated

  Worktree worktree = open_or_die(user_, wt_path());
  EXPECT_FALSE(fs::exists(wt_path() / ".git" / "index.lock"));
  EXPECT_FALSE(fs::exists(wt_path() / ".git" / "HEAD.lock"));
  EXPECT_EQ(*worktree.head(), a_);
  checkout_or_die(worktree, b_);
  EXPECT_EQ(files_in(wt_path()), git_.files(b_));
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain"}), "");
}

TEST_F(WorktreeTest, ALiveWorktreeIsBusyAndAKilledHoldersLockIsReleased) {
  { open_or_die(user_, wt_path()); }  // create it first
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    auto held = Worktree::open_or_create(user_, wt_path());
    char byte = held.has_value() ? 'y' : 'n';
    (void)!::write(ready[1], &byte, 1);
    ::pause();  // until SIGKILL: a crash, no destructors
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(byte, 'y');

  auto busy = Worktree::open_or_create(user_, wt_path());
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code(), ErrorCode::kBusy);
  EXPECT_THAT(busy.error().message(), HasSubstr("in use by another process"));

  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
}

TEST_F(WorktreeTest, ProcessesCreatingTheSameWorktreeAtOnceGetItOrBusy) {
  // Each round, kChildren processes wait at a pipe, then all create the same new worktree. Each
  // must get it or kBusy, never an error from another one's half-built directory.
  constexpr int kRounds = 10;
  constexpr int kChildren = 6;
  for (int round = 0; round < kRounds; ++round) {
    const fs::path dir = root_ / ("race " + std::to_string(round));
    int start[2];
    ASSERT_EQ(::pipe(start), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < kChildren; ++i) {
      pid_t child = ::fork();
      ASSERT_GE(child, 0);
      if (child == 0) {
        ::close(start[1]);
        char byte = 0;
        (void)!::read(start[0], &byte, 1);  // EOF: go
        auto worktree = Worktree::open_or_create(user_, dir);
        if (worktree.has_value()) {
          ::_exit(0);
        }
        if (worktree.error().code() == ErrorCode::kBusy) {
          ::_exit(1);
        }
        ::fprintf(stderr, "child %d: %s\n", i, worktree.error().message().c_str());
        ::_exit(2);
      }
      children.push_back(child);
    }
    ::close(start[0]);
    ::close(start[1]);  // all children start
    int succeeded = 0;
    for (pid_t child : children) {
      int status = 0;
      ASSERT_EQ(::waitpid(child, &status, 0), child);
      ASSERT_TRUE(WIFEXITED(status));
      EXPECT_NE(WEXITSTATUS(status), 2) << "round " << round;
      succeeded += WEXITSTATUS(status) == 0 ? 1 : 0;
    }
    EXPECT_GE(succeeded, 1) << "round " << round;
    EXPECT_EQ(trim(run_git(dir, {"config", "core.autocrlf"})), "false") << "round " << round;
    fs::path staging = dir;
    staging += ".flakebisect-new";
    EXPECT_FALSE(fs::exists(staging)) << "round " << round;
    Worktree worktree = open_or_die(user_, dir);
    checkout_or_die(worktree, a_);
  }
}

TEST_F(WorktreeTest, RemoveDeletesTheWorktreeAndItsLockFileUnlessItIsInUse) {
  fs::path lock_file = wt_path();
  lock_file += ".flakebisect-lock";
  {
    Worktree worktree = open_or_die(user_, wt_path());
    checkout_or_die(worktree, a_);
    EXPECT_EQ(fs::status(lock_file).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    auto busy = Worktree::remove(wt_path());
    ASSERT_FALSE(busy.has_value());
    EXPECT_EQ(busy.error().code(), ErrorCode::kBusy);
    EXPECT_TRUE(fs::exists(wt_path() / "keep.txt"));
  }
  ASSERT_TRUE(Worktree::remove(wt_path()).has_value());
  EXPECT_FALSE(fs::exists(wt_path()));
  EXPECT_FALSE(fs::exists(lock_file));
  EXPECT_TRUE(Worktree::remove(wt_path()).has_value());  // already gone: fine
  Worktree again = open_or_die(user_, wt_path());        // and it can be made again
  checkout_or_die(again, b_);
}

TEST_F(WorktreeTest, SecondOpenInTheSameProcessIsBusy) {
  Worktree first = open_or_die(user_, wt_path());
  auto second = Worktree::open_or_create(user_, wt_path());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kBusy);
  Worktree moved = std::move(first);  // the lock moves with the object
  EXPECT_FALSE(Worktree::open_or_create(user_, wt_path()).has_value());
}

TEST_F(WorktreeTest, LeftoverFromACrashedCreationIsDiscarded) {
  fs::path staging = wt_path();
  staging += ".flakebisect-new";
  write(staging / ".git" / "HEAD", "garbage");
  write(staging / "half.txt", "half");
  Worktree worktree = open_or_die(user_, wt_path());
  EXPECT_FALSE(fs::exists(staging));
  checkout_or_die(worktree, a_);
  EXPECT_EQ(files_in(wt_path()), git_.files(a_));
}

TEST_F(WorktreeTest, ExistingEmptyDirectoryIsUsed) {
  fs::create_directories(wt_path());
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  EXPECT_EQ(files_in(wt_path()), git_.files(a_));
}

TEST_F(WorktreeTest, RefusesDirectoriesItDidNotCreate) {
  // The user's own checkout.
  auto own = Worktree::open_or_create(user_, user_);
  ASSERT_FALSE(own.has_value());
  EXPECT_EQ(own.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(own.error().message(),
            user_.native() +
                ": is the repository's own checkout; a worktree must be a separate directory");
  // Also when named another way.
  fs::create_directories(user_ / "sub");
  auto dotted = Worktree::open_or_create(user_, user_ / "sub" / "..");
  ASSERT_FALSE(dotted.has_value());
  EXPECT_THAT(dotted.error().message(), HasSubstr("repository's own checkout"));

  // Another git checkout.
  TempDir other_dir;
  TestRepo other(other_dir.path());
  auto foreign = Worktree::open_or_create(user_, other_dir.path());
  ASSERT_FALSE(foreign.has_value());
  EXPECT_THAT(foreign.error().message(), HasSubstr("not created by flakebisect"));

  // A directory with someone's files: left untouched.
  const fs::path data = root_ / "data";
  write(data / "precious.txt", "precious");
  auto plain = Worktree::open_or_create(user_, data);
  ASSERT_FALSE(plain.has_value());
  EXPECT_THAT(plain.error().message(), HasSubstr("refusing"));
  EXPECT_EQ(read(data / "precious.txt"), "precious");

  // A worktree made for another repository.
  { open_or_die(other_dir.path(), root_ / "theirs"); }
  auto theirs = Worktree::open_or_create(user_, root_ / "theirs");
  ASSERT_FALSE(theirs.has_value());
  EXPECT_THAT(theirs.error().message(), HasSubstr("belongs to another repository"));
}

TEST_F(WorktreeTest, BadShasAreErrorsThatLeaveTheTreeAlone) {
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  auto missing = worktree.checkout(std::string(40, 'f'));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("checkout " + std::string(40, 'f')));
  auto tree = worktree.checkout(git_.tree_of(a_));
  ASSERT_FALSE(tree.has_value());
  EXPECT_EQ(tree.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(*worktree.head(), a_);
  EXPECT_EQ(files_in(wt_path()), git_.files(a_));
}

TEST_F(WorktreeTest, GitInTheWorktreeOfAShallowCloneKnowsWhereItsHistoryEnds) {
  const std::string c = git_.commit_on("main", "C", {{"c.txt", "c\n"}});
  const fs::path shallow = root_ / "shallow";
  testing::clone(user_, shallow, {"--depth", "2"});  // B and C; B without its parent
  {
    Worktree worktree = open_or_die(shallow, wt_path());
    checkout_or_die(worktree, c);
    // What a build script would run; it fails reading A without the clone's boundary.
    EXPECT_EQ(run_git(wt_path(), {"log", "--format=%H"}), c + "\n" + b_ + "\n");
  }
  run_git(shallow, {"fetch", "-q", "--unshallow"});
  Worktree worktree = open_or_die(shallow, wt_path());
  EXPECT_FALSE(fs::exists(wt_path() / ".git" / "shallow"));
  EXPECT_EQ(run_git(wt_path(), {"log", "--format=%H"}), c + "\n" + b_ + "\n" + a_ + "\n");
}

TEST_F(WorktreeTest, APartialCloneIsRefusedBeforeACheckoutFailsOnAMissingBlob) {
  run_git(user_, {"config", "uploadpack.allowFilter", "true"});
  const fs::path partial = root_ / "partial";
  testing::clone(user_, partial, {"--filter=blob:none", "--no-checkout"});
  auto worktree = Worktree::open_or_create(partial, wt_path());
  ASSERT_FALSE(worktree.has_value());
  EXPECT_EQ(worktree.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(worktree.error().message(),
              HasSubstr(partial.native() + ": is a partial clone (remote.origin.promisor = true)"));
  EXPECT_FALSE(fs::exists(wt_path()));
}

TEST_F(WorktreeTest, CommitsAddedToTheUserRepositoryLaterAreVisible) {
  Worktree worktree = open_or_die(user_, wt_path());
  checkout_or_die(worktree, a_);
  const std::string c = git_.commit_on("main", "C", {{"late.txt", "late\n"}});
  checkout_or_die(worktree, c);
  EXPECT_EQ(read(wt_path() / "late.txt"), "late\n");
}

}  // namespace
}  // namespace flakebisect::git
