// Worktree::make_revert() on real repositories, checked against the real git CLI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/paths.h"
#include "base/process.h"
#include "git/test_repo.h"
#include "git/worktree.h"

namespace flakebisect::git {
namespace {

namespace fs = std::filesystem;
using base::ErrorCode;
using testing::CommitSpec;
using ::testing::ElementsAre;
using testing::Files;
using testing::files_in;
using ::testing::HasSubstr;
using testing::read;
using testing::run_git;
using testing::TempDir;
using testing::TestRepo;
using testing::trim;

// Every file of an objects directory (loose objects, packs, info) with its mtime (clock ticks).
std::map<std::string, int64_t> object_files(const fs::path& objects) {
  std::map<std::string, int64_t> out;
  for (const auto& entry : fs::recursive_directory_iterator(objects)) {
    if (entry.is_regular_file()) {
      out[fs::relative(entry.path(), objects).native()] =
          entry.last_write_time().time_since_epoch().count();
    }
  }
  return out;
}

// The ids of the loose objects in an objects directory.
std::set<std::string> loose_objects(const fs::path& objects) {
  std::set<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(objects)) {
    const std::string dir = entry.path().parent_path().filename().native();
    if (entry.is_regular_file() && dir.size() == 2) {  // not info/ or pack/
      out.insert(dir + entry.path().filename().native());
    }
  }
  return out;
}

// Whether `git -C dir args...` exits 0.
bool git_succeeds(const fs::path& dir, const std::vector<std::string>& args) {
  base::ProcessOptions options;
  options.argv = {"git", "-C", dir.native()};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.timeout = std::chrono::seconds(120);
  options.env_set = {{"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", "/dev/null"}};
  auto result = base::run_process(options);
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message());
  return result && result->succeeded();
}

Worktree open_or_die(const fs::path& repo, const fs::path& dir) {
  auto worktree = Worktree::open_or_create(repo, dir);
  EXPECT_TRUE(worktree.has_value()) << worktree.error().message();
  return std::move(worktree).value();
}

RevertCommit revert_or_die(Worktree& worktree, const std::string& culprit,
                           const std::string& onto) {
  auto revert = worktree.make_revert(culprit, onto);
  EXPECT_TRUE(revert.has_value()) << revert.error().message();
  if (!revert) {
    return {};
  }
  EXPECT_THAT(revert->conflicts, ::testing::IsEmpty());
  EXPECT_EQ(revert->sha.size(), 40u);
  return std::move(revert).value();
}

// What `git <args...>` (a revert or a cherry-pick) commits on top of `onto` in a `git clone
// --shared` of `user` at `clone`, as kRevertAuthorName at onto's committer time; with
// `same_author` false the author is kept (a cherry-pick's). The new HEAD's SHA.
std::string commit_with_git(const fs::path& user, const fs::path& clone, const std::string& onto,
                            const std::vector<std::string>& args, bool same_author) {
  testing::clone(user, clone, {"--shared", "--no-checkout"});
  run_git(clone, {"checkout", "-q", "--detach", onto});
  // TestRepo's committers are all at +0000.
  const std::string date =
      "@" + trim(run_git(user, {"log", "-1", "--format=%ct", onto})) + " +0000";
  base::ProcessOptions process;
  process.argv = {"git", "-C", clone.native()};
  process.argv.insert(process.argv.end(), args.begin(), args.end());
  process.timeout = std::chrono::seconds(120);
  process.env_set = {{"GIT_CONFIG_NOSYSTEM", "1"},
                     {"GIT_CONFIG_GLOBAL", "/dev/null"},
                     {"GIT_COMMITTER_NAME", std::string(kRevertAuthorName)},
                     {"GIT_COMMITTER_EMAIL", std::string(kRevertAuthorEmail)},
                     {"GIT_COMMITTER_DATE", date}};
  if (same_author) {
    process.env_set.insert(process.env_set.end(),
                           {{"GIT_AUTHOR_NAME", std::string(kRevertAuthorName)},
                            {"GIT_AUTHOR_EMAIL", std::string(kRevertAuthorEmail)},
                            {"GIT_AUTHOR_DATE", date}});
  }
  auto result = base::run_process(process);
  EXPECT_TRUE(result.has_value() && result->succeeded())
      << (result ? result->err : result.error().message());
  return trim(run_git(clone, {"rev-parse", "HEAD"}));
}

// A user repository "src dir":
//   base      file.txt (seven lines), both.txt (eight lines), other.txt, dir/keep.txt
//   culprit   file.txt line 2 and both.txt line 2 changed, culprit.txt added; its message's first
//             paragraph has two lines, of which git's revert quotes the first
//   later     other.txt and both.txt line 7 changed (apart from the culprit's lines)
//   fix       (branch "fix", on later) file.txt line 2 and culprit.txt changed again
class RevertTest : public ::testing::Test {
 protected:
  RevertTest() : user_(root_ / "src dir"), git_(user_) {
    base_ = git_.commit_on("main", "Base",
                           {{"file.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\n"},
                            {"both.txt", "a\nb\nc\nd\ne\nf\ng\nh\n"},
                            {"other.txt", "other\n"},
                            {"dir/keep.txt", "keep\n"}});
    culprit_ = git_.commit_on("main", "Break two\nstill the subject paragraph\n\nThe body.",
                              {{"file.txt", "one\nTWO\nthree\nfour\nfive\nsix\nseven\n"},
                               {"both.txt", "a\nB\nc\nd\ne\nf\ng\nh\n"},
                               {"culprit.txt", "culprit\n"}});
    later_ =
        git_.commit_on("main", "Later",
                       {{"other.txt", "other later\n"}, {"both.txt", "a\nB\nc\nd\ne\nf\nG\nh\n"}});
    CommitSpec fix;
    fix.message = "Fix two\n";
    fix.parents = {later_};
    fix.changes = {{"file.txt", "one\nTWO fixed\nthree\nfour\nfive\nsix\nseven\n"},
                   {"culprit.txt", "culprit fixed\n"}};
    fix.ref = "refs/heads/fix";
    fix_ = git_.commit(fix);
  }

  fs::path wt_path(const std::string& name = "work tree") const { return root_ / name; }
  fs::path user_objects() const { return user_ / ".git" / "objects"; }

  // What `git revert --no-edit <culprit>` makes on top of `onto` in a `git clone --shared` of the
  // user's repository, as kRevertAuthorName at onto's committer time: the revert commit's SHA.
  std::string git_revert(const std::string& culprit, const std::string& onto,
                         const std::vector<std::string>& options = {}) {
    std::vector<std::string> args = {"revert", "--no-edit"};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(culprit);
    return commit_with_git(user_,
                           root_ / ("clone-" + culprit.substr(0, 8) + "-" + onto.substr(0, 8)),
                           onto, args, /*same_author=*/true);
  }

  TempDir root_{"root"};
  fs::path user_;
  TestRepo git_;
  std::string base_, culprit_, later_, fix_;
};

TEST_F(RevertTest, ACleanRevertUndoesTheCulpritAndKeepsLaterChanges) {
  Worktree worktree = open_or_die(user_, wt_path());
  ASSERT_TRUE(worktree.checkout(fix_).has_value());
  const RevertCommit revert = revert_or_die(worktree, culprit_, later_);
  EXPECT_EQ(revert.tree_id, *worktree.tree_id(revert.sha));
  // Neither HEAD nor the files moved.
  EXPECT_EQ(*worktree.head(), fix_);
  EXPECT_EQ(files_in(wt_path()), git_.files(fix_));

  ASSERT_TRUE(worktree.checkout(revert.sha).has_value());
  EXPECT_EQ(files_in(wt_path()), (Files{{"file.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\n"},
                                        {"both.txt", "a\nb\nc\nd\ne\nf\nG\nh\n"},
                                        {"other.txt", "other later\n"},
                                        {"dir/keep.txt", "keep\n"}}));
  // The git CLI reads the commit from the worktree: parent, identity, date and message.
  const std::string time = trim(run_git(user_, {"log", "-1", "--format=%ct", later_}));
  const std::string identity = "flakebisect <flakebisect@localhost> " + time + " +0000";
  EXPECT_EQ(run_git(wt_path(), {"cat-file", "-p", revert.sha}),
            "tree " + revert.tree_id + "\nparent " + later_ + "\nauthor " + identity +
                "\ncommitter " + identity + "\n\nRevert \"Break two\"\n\nThis reverts commit " +
                culprit_ + ".\n");
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain"}), "");
}

TEST_F(RevertTest, RealGitMakesTheSameCommit) {
  Worktree worktree = open_or_die(user_, wt_path());
  EXPECT_EQ(revert_or_die(worktree, culprit_, later_).sha, git_revert(culprit_, later_));
}

TEST_F(RevertTest, TheCommitLandsInTheWorktreesOwnStoreAndTheUserRepositoryIsUntouched) {
  // Old mtimes, so that touching a file (libgit2 "freshens" objects it would write again) shows.
  for (const auto& entry : fs::recursive_directory_iterator(user_objects())) {
    if (entry.is_regular_file()) {
      fs::last_write_time(entry.path(), fs::file_time_type::clock::now() - std::chrono::hours(24));
    }
  }
  const auto user_before = object_files(user_objects());
  const std::string count_before = run_git(user_, {"count-objects", "-v"});
  Worktree worktree = open_or_die(user_, wt_path());
  const RevertCommit revert = revert_or_die(worktree, culprit_, later_);

  EXPECT_EQ(object_files(user_objects()), user_before);  // same files, same mtimes
  EXPECT_EQ(run_git(user_, {"count-objects", "-v"}), count_before);
  EXPECT_FALSE(git_succeeds(user_, {"cat-file", "-e", revert.sha}));
  // The worktree holds what is new: the commit, its root tree, and both.txt as merged. The
  // unchanged dir/ tree is the user's, not copied.
  const fs::path own = wt_path() / ".git" / "objects";
  EXPECT_TRUE(fs::exists(own / revert.sha.substr(0, 2) / revert.sha.substr(2)));
  const std::string merged_blob = trim(run_git(wt_path(), {"rev-parse", revert.sha + ":both.txt"}));
  EXPECT_EQ(loose_objects(own), (std::set<std::string>{revert.sha, revert.tree_id, merged_blob}));
  EXPECT_EQ(trim(run_git(wt_path(), {"cat-file", "-t", revert.sha})), "commit");
}

TEST_F(RevertTest, AConflictListsItsPathsAndWritesNoCommit) {
  const auto user_before = object_files(user_objects());
  Worktree worktree = open_or_die(user_, wt_path());
  ASSERT_TRUE(worktree.checkout(later_).has_value());
  auto revert = worktree.make_revert(culprit_, fix_);
  ASSERT_TRUE(revert.has_value()) << revert.error().message();
  // file.txt: both sides changed line 2; culprit.txt: the revert deletes what fix modified.
  EXPECT_THAT(revert->conflicts, ElementsAre("culprit.txt", "file.txt"));
  EXPECT_EQ(revert->sha, "");
  EXPECT_EQ(revert->tree_id, "");
  EXPECT_EQ(object_files(user_objects()), user_before);
  // At most both.txt as merged, unreferenced; no commit or tree.
  for (const std::string& object : loose_objects(wt_path() / ".git" / "objects")) {
    EXPECT_EQ(trim(run_git(wt_path(), {"cat-file", "-t", object})), "blob") << object;
  }
  EXPECT_EQ(*worktree.head(), later_);
  EXPECT_EQ(files_in(wt_path()), git_.files(later_));
  EXPECT_EQ(run_git(wt_path(), {"status", "--porcelain"}), "");
}

TEST_F(RevertTest, AMergeIsRevertedAgainstItsFirstParent) {
  // main: later -> main work -> merge of feature -> after; feature (from later): feature.txt.
  CommitSpec feature;
  feature.message = "Add feature\n";
  feature.parents = {later_};
  feature.changes = {{"feature.txt", "feature\n"}};
  feature.ref = "refs/heads/feature";
  const std::string feature_sha = git_.commit(feature);
  const std::string main_work = git_.commit_on("main", "Main work", {{"main.txt", "main\n"}});
  CommitSpec merge;
  merge.message = "Merge branch 'feature'\n";
  merge.parents = {main_work, feature_sha};
  merge.changes = {{"feature.txt", "feature\n"}};
  merge.ref = "refs/heads/main";
  const std::string merge_sha = git_.commit(merge);
  const std::string after = git_.commit_on("main", "After", {{"after.txt", "after\n"}});

  Worktree worktree = open_or_die(user_, wt_path());
  const RevertCommit revert = revert_or_die(worktree, merge_sha, after);
  ASSERT_TRUE(worktree.checkout(revert.sha).has_value());
  Files expected = git_.files(after);
  expected.erase("feature.txt");
  EXPECT_EQ(files_in(wt_path()), expected);
  EXPECT_EQ(run_git(wt_path(), {"log", "-1", "--format=%B", revert.sha}),
            "Revert \"Merge branch 'feature'\"\n\nThis reverts commit " + merge_sha +
                ", reversing\nchanges made to " + main_work + ".\n\n");
  EXPECT_EQ(revert.sha, git_revert(merge_sha, after, {"-m", "1"}));
}

TEST_F(RevertTest, TheSameCommitsGiveTheSameShaInEveryWorktreeAndCall) {
  std::string first;
  {
    Worktree worktree = open_or_die(user_, wt_path("one"));
    first = revert_or_die(worktree, culprit_, later_).sha;
    EXPECT_EQ(revert_or_die(worktree, culprit_, later_).sha, first);
  }
  Worktree other = open_or_die(user_, wt_path("two"));
  ASSERT_TRUE(other.checkout(base_).has_value());  // whatever is checked out
  EXPECT_EQ(revert_or_die(other, culprit_, later_).sha, first);
  Worktree reopened = open_or_die(user_, wt_path("one"));
  EXPECT_EQ(revert_or_die(reopened, culprit_, later_).sha, first);
  std::string upper = culprit_;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(revert_or_die(reopened, upper, later_).sha,
            first);  // the message names it in lowercase
  // Another base gives another commit.
  EXPECT_NE(revert_or_die(reopened, culprit_, culprit_).sha, first);
}

TEST_F(RevertTest, ACommitCanBeRevertedOnItself) {
  Worktree worktree = open_or_die(user_, wt_path());
  const RevertCommit revert = revert_or_die(worktree, culprit_, culprit_);
  EXPECT_EQ(revert.tree_id, git_.tree_of(base_));
  EXPECT_EQ(trim(run_git(wt_path(), {"log", "-1", "--format=%P", revert.sha})), culprit_);
  ASSERT_TRUE(worktree.checkout(revert.sha).has_value());
  EXPECT_EQ(files_in(wt_path()), git_.files(base_));
  EXPECT_EQ(revert.sha, git_revert(culprit_, culprit_));
}

TEST_F(RevertTest, ARevertOntoACommitWithoutTheChangeIsACommitWithItsTree) {
  const std::string undone =
      git_.commit_on("main", "Undo by hand",
                     {{"culprit.txt", std::nullopt},
                      {"file.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\n"},
                      {"both.txt", "a\nb\nc\nd\ne\nf\nG\nh\n"}});
  Worktree worktree = open_or_die(user_, wt_path());
  const RevertCommit revert = revert_or_die(worktree, culprit_, undone);
  EXPECT_EQ(revert.tree_id, git_.tree_of(undone));
  EXPECT_EQ(trim(run_git(wt_path(), {"log", "-1", "--format=%P", revert.sha})), undone);
}

TEST_F(RevertTest, ARootCulpritIsAnErrorNamingIt) {
  Worktree worktree = open_or_die(user_, wt_path());
  auto revert = worktree.make_revert(base_, later_);
  ASSERT_FALSE(revert.has_value());
  EXPECT_EQ(revert.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(revert.error().message(), "revert " + base_.substr(0, 12) + " onto " +
                                          later_.substr(0, 12) + " in " + wt_path().native() +
                                          ": " + base_ +
                                          " is a root commit: it has no parent to revert to");
  EXPECT_EQ(loose_objects(wt_path() / ".git" / "objects"), std::set<std::string>{});
}

// ---- make_cherry_pick(): the fix applied to an older commit (a fix bisection's backport check) --

// What `git cherry-pick -x <commit>` makes on top of `onto` (the author stays the commit's).
std::string git_cherry_pick(const fs::path& user, const fs::path& clone, const std::string& commit,
                            const std::string& onto) {
  return commit_with_git(user, clone, onto, {"cherry-pick", "-x", commit}, /*same_author=*/false);
}

TEST_F(RevertTest, ACherryPickAppliesTheFixToAnOlderCommitAsGitCherryPickXDoes) {
  Worktree worktree = open_or_die(user_, wt_path());
  ASSERT_TRUE(worktree.checkout(later_).has_value());
  auto picked = worktree.make_cherry_pick(fix_, culprit_);
  ASSERT_TRUE(picked.has_value()) << picked.error().message();
  ASSERT_THAT(picked->conflicts, ::testing::IsEmpty());
  EXPECT_EQ(*worktree.head(), later_) << "HEAD does not move";
  ASSERT_TRUE(worktree.checkout(picked->sha).has_value());
  // The fix's two changes on the culprit, without later's.
  EXPECT_EQ(files_in(wt_path()),
            (Files{{"file.txt", "one\nTWO fixed\nthree\nfour\nfive\nsix\nseven\n"},
                   {"both.txt", "a\nB\nc\nd\ne\nf\ng\nh\n"},
                   {"culprit.txt", "culprit fixed\n"},
                   {"other.txt", "other\n"},
                   {"dir/keep.txt", "keep\n"}}));
  EXPECT_EQ(trim(run_git(wt_path(), {"log", "-1", "--format=%B", picked->sha})),
            "Fix two\n\n(cherry picked from commit " + fix_ + ")");
  EXPECT_EQ(run_git(wt_path(), {"log", "-1", "--format=%an <%ae> %at", picked->sha}),
            run_git(user_, {"log", "-1", "--format=%an <%ae> %at", fix_}))
      << "the author is the fix's";
  EXPECT_EQ(trim(run_git(wt_path(), {"log", "-1", "--format=%P", picked->sha})), culprit_);
  // The same commit in another worktree, and the one real git makes.
  Worktree other = open_or_die(user_, wt_path("other"));
  EXPECT_EQ(other.make_cherry_pick(fix_, culprit_)->sha, picked->sha);
  EXPECT_EQ(git_cherry_pick(user_, root_ / "clone-pick", fix_, culprit_), picked->sha);
}

TEST_F(RevertTest, ACherryPickOfAKernelStyleCommitPutsTheLineUnderItsTrailersAsGitDoes) {
  CommitSpec signed_off;
  signed_off.message =
      "ext4: fix the thing\n\nThe body says why.\n\nReported-by: R <r@example.org>\n"
      "Signed-off-by: A U Thor <a@example.org>\n";
  signed_off.parents = {later_};
  signed_off.changes = {{"fixed.txt", "fixed\n"}};
  signed_off.ref = "refs/heads/signed";
  const std::string commit = git_.commit(signed_off);
  Worktree worktree = open_or_die(user_, wt_path());
  auto picked = worktree.make_cherry_pick(commit, culprit_);
  ASSERT_TRUE(picked.has_value()) << picked.error().message();
  EXPECT_EQ(run_git(wt_path(), {"log", "-1", "--format=%B", picked->sha}),
            "ext4: fix the thing\n\nThe body says why.\n\nReported-by: R <r@example.org>\n"
            "Signed-off-by: A U Thor <a@example.org>\n(cherry picked from commit " +
                commit + ")\n\n");
  EXPECT_EQ(git_cherry_pick(user_, root_ / "clone-signed", commit, culprit_), picked->sha);
}

// A culprit or fix whose encoding header says ISO-8859-1 (old kernel history): git writes its
// revert and its cherry-pick in UTF-8, so must we, or the commits differ from git's.
TEST_F(RevertTest, ALatin1CommitIsRevertedAndCherryPickedInUtf8AsGitDoes) {
  const std::string tree = trim(run_git(user_, {"rev-parse", fix_ + "^{tree}"}));
  const std::string object = "tree " + tree + "\nparent " + later_ +
                             "\n"
                             "author J\xf6rg Gr\xfcn <j\xf6rg@example.org> 1000000000 +0000\n"
                             "committer J\xf6rg Gr\xfcn <jg@example.org> 1000000000 +0000\n"
                             "encoding ISO-8859-1\n"
                             "\n"
                             "Fix the caf\xe9 case\n"
                             "\n"
                             "Signed-off-by: J\xf6rg Gr\xfcn <jg@example.org>\n";
  const std::string latin1 =
      trim(run_git(user_, {"hash-object", "-t", "commit", "-w", "--stdin"}, object));
  run_git(user_, {"update-ref", "refs/heads/latin1", latin1});
  Worktree worktree = open_or_die(user_, wt_path());
  const RevertCommit revert = revert_or_die(worktree, latin1, latin1);
  EXPECT_EQ(trim(run_git(wt_path(), {"log", "-1", "--format=%s", revert.sha})),
            "Revert \"Fix the caf\u00e9 case\"");
  EXPECT_EQ(revert.sha, git_revert(latin1, latin1));
  auto picked = worktree.make_cherry_pick(latin1, culprit_);
  ASSERT_TRUE(picked.has_value()) << picked.error().message();
  EXPECT_EQ(trim(run_git(wt_path(), {"log", "-1", "--format=%an", picked->sha})),
            "J\u00f6rg Gr\u00fcn");
  EXPECT_EQ(git_cherry_pick(user_, root_ / "clone-latin1", latin1, culprit_), picked->sha);
}

TEST_F(RevertTest, ACherryPickThatConflictsListsItsPathsAndARootCommitIsRefused) {
  Worktree worktree = open_or_die(user_, wt_path());
  // On base, line 2 is still "two" and culprit.txt does not exist.
  auto conflicted = worktree.make_cherry_pick(fix_, base_);
  ASSERT_TRUE(conflicted.has_value()) << conflicted.error().message();
  EXPECT_THAT(conflicted->conflicts, ElementsAre("culprit.txt", "file.txt"));
  EXPECT_EQ(conflicted->sha, "");
  auto root = worktree.make_cherry_pick(base_, later_);
  ASSERT_FALSE(root.has_value());
  EXPECT_EQ(root.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(root.error().message(),
              HasSubstr("cherry-pick " + base_.substr(0, 12) + " onto " + later_.substr(0, 12)));
  EXPECT_THAT(root.error().message(), HasSubstr("is a root commit"));
}

TEST_F(RevertTest, UnknownCommitsAndTreesAreErrorsNamingBothCommits) {
  Worktree worktree = open_or_die(user_, wt_path());
  const std::string missing(40, 'f');
  auto unknown = worktree.make_revert(culprit_, missing);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(unknown.error().message(),
              HasSubstr("revert " + culprit_.substr(0, 12) + " onto ffffffffffff in "));
  EXPECT_THAT(unknown.error().message(), HasSubstr(missing));
  auto tree = worktree.make_revert(git_.tree_of(culprit_), later_);
  ASSERT_FALSE(tree.has_value());
  EXPECT_EQ(tree.error().code(), ErrorCode::kInvalidInput);
  auto short_sha = worktree.make_revert(culprit_.substr(0, 12), later_);
  ASSERT_FALSE(short_sha.has_value());
  EXPECT_EQ(short_sha.error().code(), ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace flakebisect::git
