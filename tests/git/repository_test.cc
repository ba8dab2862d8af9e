#include "git/repository.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "git/candidates.h"
#include "git/libgit2.h"
#include "git/test_repo.h"

namespace flakebisect::git {
namespace {

using base::ErrorCode;
using testing::CommitSpec;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::run_git;
using testing::TempDir;
using testing::TestRepo;
using testing::trim;

Repository open_or_die(const std::filesystem::path& path) {
  auto repo = Repository::open(path);
  EXPECT_TRUE(repo.has_value()) << repo.error().message();
  return std::move(repo).value();
}

// main: c1 - c2 - c3 (HEAD), side branched at c1: s1; tags v1 (annotated), light (lightweight).
class ResolveTest : public ::testing::Test {
 protected:
  ResolveTest() : git_(dir_.path()) {
    c1_ = git_.commit_on("main", "first", {{"a.txt", "1"}});
    c2_ = git_.commit_on("main", "second", {{"a.txt", "2"}});
    c3_ = git_.commit_on("main", "third", {{"b.txt", "3"}});
    s1_ = git_.commit_on("side", "side one", {{"s.txt", "s"}});
    git_.set_ref("refs/heads/side", s1_);
    git_.annotated_tag("v1", c2_);
    git_.set_ref("refs/tags/light", c1_);
  }

  TempDir dir_;
  TestRepo git_;
  std::string c1_, c2_, c3_, s1_;
};

TEST_F(ResolveTest, ResolvesFullShortBranchTagAndExpressionsToFullCommitShas) {
  Repository repo = open_or_die(dir_.path());
  EXPECT_EQ(*repo.resolve(c2_), c2_);
  EXPECT_EQ(*repo.resolve(c2_.substr(0, 7)), c2_);
  std::string upper = c2_;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(*repo.resolve(upper), c2_);
  EXPECT_EQ(*repo.resolve("main"), c3_);
  EXPECT_EQ(*repo.resolve("refs/heads/main"), c3_);
  EXPECT_EQ(*repo.resolve("HEAD"), c3_);
  EXPECT_EQ(*repo.resolve("HEAD~2"), c1_);
  EXPECT_EQ(*repo.resolve("main^"), c2_);
  EXPECT_EQ(*repo.resolve("side"), s1_);
  EXPECT_EQ(*repo.resolve("v1"), c2_);  // annotated tag peeled to its commit
  EXPECT_EQ(*repo.resolve("v1^{commit}"), c2_);
  EXPECT_EQ(*repo.resolve("light"), c1_);
  EXPECT_EQ(*repo.resolve("HEAD^{/second}"), c2_);  // spaces and braces are fine for libgit2
}

TEST_F(ResolveTest, ResolvesLikeTheGitCli) {
  Repository repo = open_or_die(dir_.path());
  for (const char* rev : {"HEAD", "HEAD~1", "v1", "light", "side", "main^"}) {
    EXPECT_EQ(*repo.resolve(rev),
              trim(run_git(dir_.path(), {"rev-parse", "--verify", std::string(rev) + "^{commit}"})))
        << rev;
  }
}

// A tag and a branch of one name: git takes the tag and warns, and so does flakebisect.
TEST_F(ResolveTest, ANameThatIsATagAndABranchIsTheTagWithAWarning) {
  git_.set_ref("refs/heads/light", c3_);
  Repository repo = open_or_die(dir_.path());
  std::ostringstream logged;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(logged);
  spdlog::default_logger()->sinks().push_back(sink);
  const auto light = repo.resolve("light");
  const auto main = repo.resolve("main");
  spdlog::default_logger()->sinks().pop_back();
  ASSERT_TRUE(light.has_value());
  EXPECT_EQ(*light, c1_);
  EXPECT_EQ(*light, trim(run_git(dir_.path(), {"rev-parse", "--verify", "light^{commit}"})));
  EXPECT_THAT(logged.str(), HasSubstr("revision 'light' is ambiguous (refs/tags/light, "
                                      "refs/heads/light); using refs/tags/light"));
  EXPECT_EQ(*main, c3_);
  EXPECT_THAT(logged.str(), Not(HasSubstr("'main'")));
}

TEST_F(ResolveTest, MissingRevisionIsNotFound) {
  Repository repo = open_or_die(dir_.path());
  for (const std::string& rev :
       std::vector<std::string>{"no-such-branch", std::string(40, '0'), "HEAD~10", "v2",
                                // 1-3 hex digits: libgit2 says "prefix too short" of them
                                "bad", "ab", "c1", "fed~2"}) {
    auto sha = repo.resolve(rev);
    ASSERT_FALSE(sha.has_value()) << rev;
    EXPECT_EQ(sha.error().code(), ErrorCode::kNotFound) << rev << ": " << sha.error().message();
    EXPECT_EQ(sha.error().message(), "unknown revision '" + rev + "'");
  }
}

TEST_F(ResolveTest, EmptyOrNulRevisionIsInvalid) {
  Repository repo = open_or_die(dir_.path());
  for (const std::string& rev : std::vector<std::string>{"", std::string("main\0junk", 9)}) {
    auto sha = repo.resolve(rev);
    ASSERT_FALSE(sha.has_value());
    EXPECT_EQ(sha.error().code(), ErrorCode::kInvalidInput);
  }
}

TEST_F(ResolveTest, TreeBlobAndTagOfTreeAreNotCommits) {
  Repository repo = open_or_die(dir_.path());
  const std::string tree = git_.tree_of(c3_);
  const std::string blob = git_.write_blob("just a blob\n");
  git_.annotated_tag("tree-tag", tree);

  auto from_tree = repo.resolve(tree);
  ASSERT_FALSE(from_tree.has_value());
  EXPECT_EQ(from_tree.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(from_tree.error().message(), "revision '" + tree + "' is a tree, not a commit");

  auto from_expression = repo.resolve("HEAD^{tree}");
  ASSERT_FALSE(from_expression.has_value());
  EXPECT_THAT(from_expression.error().message(), HasSubstr("is a tree, not a commit"));

  auto from_blob = repo.resolve(blob);
  ASSERT_FALSE(from_blob.has_value());
  EXPECT_THAT(from_blob.error().message(), HasSubstr("is a blob, not a commit"));

  auto from_tag = repo.resolve("tree-tag");
  ASSERT_FALSE(from_tag.has_value());
  EXPECT_EQ(from_tag.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(from_tag.error().message(), HasSubstr("is a tree, not a commit"));
}

TEST_F(ResolveTest, AmbiguousShortShaIsRejectedAndALongerPrefixResolves) {
  // Write dangling commits until two share a 4-hex prefix (birthday bound: a few hundred).
  std::map<std::string, std::string> by_prefix;
  std::string first, second;
  for (int i = 0; i < 20000 && first.empty(); ++i) {
    CommitSpec spec;
    spec.message = "dangling " + std::to_string(i) + "\n";
    spec.parents = {c3_};
    std::string sha = git_.commit(spec);
    auto [it, inserted] = by_prefix.emplace(sha.substr(0, 4), sha);
    if (!inserted) {
      first = it->second;
      second = sha;
    }
  }
  ASSERT_FALSE(first.empty());
  Repository repo = open_or_die(dir_.path());
  auto ambiguous = repo.resolve(first.substr(0, 4));
  ASSERT_FALSE(ambiguous.has_value());
  EXPECT_EQ(ambiguous.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(ambiguous.error().message(),
              HasSubstr("ambiguous revision '" + first.substr(0, 4) + "'"));
  // The error lists the commits it could be, with their subjects.
  const auto subject = [&](const std::string& sha) {
    return trim(run_git(dir_.path(), {"log", "-1", "--format=%s", sha}));
  };
  EXPECT_THAT(ambiguous.error().message(),
              HasSubstr(first.substr(0, 12) + " (" + subject(first) + ")"));
  EXPECT_THAT(ambiguous.error().message(),
              HasSubstr(second.substr(0, 12) + " (" + subject(second) + ")"));
  auto expression = repo.resolve(first.substr(0, 4) + "^{commit}");
  ASSERT_FALSE(expression.has_value());
  EXPECT_THAT(expression.error().message(), HasSubstr(first.substr(0, 12)));
  EXPECT_EQ(*repo.resolve(first.substr(0, 12)), first);
  EXPECT_EQ(*repo.resolve(second.substr(0, 12)), second);
}

TEST_F(ResolveTest, ShortShaOfOneCommitAndOtherObjectsResolvesToTheCommitLikeGit) {
  // Write dangling commits and blobs until a blob shares a 4-hex prefix with exactly one commit
  // (a few hundred of each).
  std::map<std::string, std::vector<std::string>> commits_by_prefix;
  for (const std::string& sha : {c1_, c2_, c3_, s1_}) {
    commits_by_prefix[sha.substr(0, 4)].push_back(sha);
  }
  std::map<std::string, std::string> blobs_by_prefix;
  std::string prefix;
  for (int i = 0; i < 20000 && prefix.empty(); ++i) {
    CommitSpec spec;
    spec.message = "dangling " + std::to_string(i) + "\n";
    spec.parents = {c2_};
    const std::string commit = git_.commit(spec);
    commits_by_prefix[commit.substr(0, 4)].push_back(commit);
    const std::string blob = git_.write_blob("blob " + std::to_string(i) + "\n");
    blobs_by_prefix.emplace(blob.substr(0, 4), blob);
    for (const std::string& candidate : {commit.substr(0, 4), blob.substr(0, 4)}) {
      auto commits = commits_by_prefix.find(candidate);
      if (blobs_by_prefix.count(candidate) != 0 && commits != commits_by_prefix.end() &&
          commits->second.size() == 1) {
        prefix = candidate;
      }
    }
  }
  ASSERT_FALSE(prefix.empty());
  const std::string commit = commits_by_prefix.at(prefix).front();
  Repository repo = open_or_die(dir_.path());
  // git bisect start resolves its arguments with `git rev-parse --verify X^{commit}`.
  EXPECT_EQ(trim(run_git(dir_.path(), {"rev-parse", "--verify", "-q", prefix + "^{commit}"})),
            commit);
  for (const std::string& rev : {prefix, prefix + "^{commit}", prefix + "~0"}) {
    auto resolved = repo.resolve(rev);
    ASSERT_TRUE(resolved.has_value()) << rev << ": " << resolved.error().message();
    EXPECT_EQ(*resolved, commit) << rev;
  }
  EXPECT_EQ(*repo.resolve(prefix + "^"), c2_);
  // What follows the short SHA still applies to the commit.
  auto tree = repo.resolve(prefix + "^{tree}");
  ASSERT_FALSE(tree.has_value());
  EXPECT_EQ(tree.error().message(), "revision '" + prefix + "^{tree}' is a tree, not a commit");
}

TEST_F(ResolveTest, ShortShaOfOnlyNonCommitsIsAmbiguousAndSaysNoCommitMatches) {
  std::map<std::string, std::string> blobs_by_prefix;
  std::string prefix;
  for (int i = 0; i < 20000 && prefix.empty(); ++i) {
    const std::string blob = git_.write_blob("blob " + std::to_string(i) + "\n");
    if (!blobs_by_prefix.emplace(blob.substr(0, 4), blob).second) {
      prefix = blob.substr(0, 4);
    }
  }
  ASSERT_FALSE(prefix.empty());
  for (const std::string& sha : {c1_, c2_, c3_, s1_}) {
    ASSERT_NE(sha.substr(0, 4), prefix);
  }
  Repository repo = open_or_die(dir_.path());
  auto ambiguous = repo.resolve(prefix);
  ASSERT_FALSE(ambiguous.has_value());
  EXPECT_EQ(ambiguous.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(ambiguous.error().message(), HasSubstr("ambiguous revision '" + prefix + "'"));
  EXPECT_THAT(ambiguous.error().message(), HasSubstr("none of them a commit"));
}

TEST_F(ResolveTest, RefNamesWithShellMetacharactersResolveWithoutAShell) {
  // Legal ref names: git forbids spaces, ~^:?*[\ and control characters, not these.
  const std::string evil = "evil;$(touch${IFS}pwned)|&`touch${IFS}pwned2`'\"<>!";
  git_.set_ref("refs/heads/" + evil, c1_);
  Repository repo = open_or_die(dir_.path());
  EXPECT_EQ(*repo.resolve(evil), c1_);
  auto spaced = repo.resolve("a b;$(touch pwned)");
  ASSERT_FALSE(spaced.has_value());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "pwned"));
  EXPECT_FALSE(std::filesystem::exists("pwned"));
  EXPECT_FALSE(std::filesystem::exists("pwned2"));
}

TEST(RepositoryOpen, NonRepositoryIsAClearError) {
  TempDir dir("plain dir");
  auto repo = Repository::open(dir.path());
  ASSERT_FALSE(repo.has_value());
  EXPECT_THAT(repo.error().message(), HasSubstr(dir.path().native() + ": not a git repository"));

  auto missing = Repository::open(dir.path() / "missing");
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message(), HasSubstr("missing: not a git repository"));
}

// Git refuses a repository another user owns until safe.directory says to trust it; the error
// says that and how, not libgit2's "config value 'safe.directory' was not found".
TEST(RepositoryOpen, ARepositoryAnotherUserOwnsIsRefusedSayingHowToTrustIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the repository to another user";
  TempDir dir;
  TestRepo git(dir.path());
  git.commit_on("main", "one", {{"file", "x"}});
  ASSERT_EQ(::lchown(dir.path().c_str(), 65534, 65534), 0);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    ASSERT_EQ(::lchown(entry.path().c_str(), 65534, 65534), 0) << entry.path();
  }
  auto repo = Repository::open(dir.path());
  ASSERT_FALSE(repo.has_value());
  EXPECT_THAT(repo.error().message(),
              HasSubstr(": dubious ownership: another user owns this repository"));
  EXPECT_THAT(repo.error().message(),
              HasSubstr("git config --global --add safe.directory '" + dir.path().native() + "'"));
}

TEST(RepositoryOpen, SubdirectoryOpensTheEnclosingRepository) {
  TempDir dir;
  TestRepo git(dir.path());
  std::string sha = git.commit_on("main", "one", {{"sub/dir/file", "x"}});
  std::filesystem::create_directories(dir.path() / "sub" / "dir");
  auto repo = Repository::open(dir.path() / "sub" / "dir");
  ASSERT_TRUE(repo.has_value()) << repo.error().message();
  EXPECT_EQ(repo->path(), dir.path());
  EXPECT_EQ(*repo->resolve("HEAD"), sha);
}

TEST(RepositoryOpen, PathWithSpacesAndShellMetacharactersWorks) {
  TempDir dir("a b;$(x) `y` 'q\" & | >z");
  TestRepo git(dir.path());
  std::string sha = git.commit_on("main", "one", {{"f", "x"}});
  Repository repo = open_or_die(dir.path());
  EXPECT_EQ(repo.path(), dir.path());
  EXPECT_EQ(*repo.resolve("main"), sha);
  EXPECT_EQ(trim(run_git(dir.path(), {"rev-parse", "HEAD"})), sha);
  EXPECT_FALSE(std::filesystem::exists(dir.path().parent_path() / "z"));
}

// main: g0 - g1 - m2 - b3; side: x1 (from g0) merged? no: x1 is a sibling of g1.
class ValidateRangeTest : public ::testing::Test {
 protected:
  ValidateRangeTest() : git_(dir_.path()) {
    g0_ = git_.commit_on("main", "g0", {{"f", "0"}});
    g1_ = git_.commit_on("main", "g1", {{"f", "1"}});
    b3_ = git_.commit_on("main", "b3", {{"f", "3"}});
    git_.set_ref("refs/heads/side", g0_);
    x1_ = git_.commit_on("side", "x1", {{"x", "1"}});
  }

  TempDir dir_;
  TestRepo git_;
  std::string g0_, g1_, b3_, x1_;
};

TEST_F(ValidateRangeTest, AncestorGoodsAreAccepted) {
  Repository repo = open_or_die(dir_.path());
  auto ok = repo.validate_range({g1_}, b3_);
  EXPECT_TRUE(ok.has_value()) << ok.error().message();
  auto two = repo.validate_range({g0_, g1_}, b3_);
  EXPECT_TRUE(two.has_value()) << two.error().message();
}

TEST_F(ValidateRangeTest, GoodThatIsNotAnAncestorOfBadIsNamed) {
  Repository repo = open_or_die(dir_.path());
  auto status = repo.validate_range({g1_, x1_}, b3_);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidInput);
  // x1 is on a side branch from g0 (a stable release against a later mainline tag): the message
  // names the merge base, which git bisect would test first.
  EXPECT_EQ(status.error().message(),
            "good " + x1_ + " is not an ancestor of bad " + b3_ +
                " (they diverge at their merge base " + g0_.substr(0, 12) +
                " (\"g0\"): if the failure does not happen there, give it as "
                "--good)");
}

TEST_F(ValidateRangeTest, SwappedGoodAndBadSaySo) {
  Repository repo = open_or_die(dir_.path());
  auto status = repo.validate_range({b3_}, g1_);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message(), HasSubstr("good " + b3_ + " is not an ancestor of bad"));
  EXPECT_THAT(status.error().message(), HasSubstr("swapped"));
}

TEST_F(ValidateRangeTest, GoodEqualToBadIsRejected) {
  Repository repo = open_or_die(dir_.path());
  auto status = repo.validate_range({g0_, b3_}, b3_);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(status.error().message(), "good " + b3_ + " is the same commit as bad");
}

TEST_F(ValidateRangeTest, MissingShortTreeAndEmptyGoodsAreRejected) {
  Repository repo = open_or_die(dir_.path());
  auto none = repo.validate_range({}, b3_);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kInvalidInput);

  auto missing = repo.validate_range({std::string(40, 'a')}, b3_);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "good: commit " + std::string(40, 'a') + " not found");

  auto short_sha = repo.validate_range({g0_.substr(0, 12)}, b3_);
  ASSERT_FALSE(short_sha.has_value());
  EXPECT_EQ(short_sha.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(short_sha.error().message(), HasSubstr("is not a full 40-hex SHA"));

  const std::string tree = git_.tree_of(b3_);
  auto bad_tree = repo.validate_range({g0_}, tree);
  ASSERT_FALSE(bad_tree.has_value());
  EXPECT_EQ(bad_tree.error().message(), "bad: " + tree + " is a tree, not a commit");
}

// A partial clone (git clone --filter=blob:none) of a three-commit repository.
class PartialClone : public ::testing::Test {
 protected:
  PartialClone() : source_(root_ / "src") {
    a_ = source_.commit_on("main", "a", {{"f", "a\n"}, {"g", "a\n"}});
    b_ = source_.commit_on("main", "b", {{"f", "b\n"}});
    c_ = source_.commit_on("main", "c", {{"g", "c\n"}});
    run_git(source_.path(), {"config", "uploadpack.allowFilter", "true"});
    testing::clone(source_.path(), clone_, {"--filter=blob:none"});
  }

  TempDir root_{"root"};
  TestRepo source_;
  std::filesystem::path clone_ = root_ / "partial";
  std::string a_, b_, c_;
};

TEST_F(PartialClone, IsRefusedUpFrontSayingHowToMakeItWhole) {
  Repository repo = open_or_die(clone_);
  auto status = repo.validate_range({a_}, c_);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(status.error().message(),
            clone_.native() +
                ": is a partial clone (remote.origin.promisor = true): git fetches the objects it "
                "lacks when needed, and flakebisect (libgit2) cannot; bisect in a full clone, or "
                "fetch everything with `git fetch --refetch --no-filter origin` and then "
                "`git config --unset remote.origin.promisor`");
  EXPECT_EQ(repo.check_not_partial().error().message(), status.error().message());

  // What the message says works.
  run_git(clone_, {"fetch", "-q", "--refetch", "--no-filter", "origin"});
  run_git(clone_, {"config", "--unset", "remote.origin.promisor"});
  Repository whole = open_or_die(clone_);
  auto valid = whole.validate_range({a_}, c_);
  EXPECT_TRUE(valid.has_value()) << valid.error().message();
}

TEST_F(PartialClone, OlderGitsExtensionIsRefusedTheSameWay) {
  // Older gits mark a partial clone with extensions.partialClone = <remote>; git still honours it.
  run_git(clone_, {"config", "--unset", "remote.origin.promisor"});
  run_git(clone_, {"config", "extensions.partialClone", "origin"});
  auto repo = Repository::open(clone_);
  ASSERT_TRUE(repo.has_value()) << repo.error().message();
  auto status = repo->validate_range({a_}, c_);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message(),
              HasSubstr(": is a partial clone (extensions.partialClone = origin): "));
  EXPECT_THAT(status.error().message(),
              HasSubstr("`git fetch --refetch --no-filter origin` and then "
                        "`git config --unset extensions.partialClone`"));
}

TEST(CommitInfo, ReadsAuthorCommitterParentsTreeAndTrailers) {
  TempDir dir;
  TestRepo git(dir.path());
  std::string parent = git.commit_on("main", "base", {{"f", "0"}});
  CommitSpec spec;
  spec.parents = {parent};
  spec.author_name = "Jöhn Dœ 山田 😀";
  spec.author_email = "jd@example.org";
  spec.time = 1712345678;
  spec.offset_minutes = -420;
  spec.message =
      "ext4: fix DIO vs buffered read race ✓\n"
      "\n"
      "Body of the change.\n"
      "\n"
      "Fixes: 0123456789ab (\"ext4: old change\")\n"
      "Reported-by: Bot <bot@example.com>\n"
      "Signed-off-by: Jöhn Dœ <jd@example.org>\n"
      "Reviewed-by: R <r@example.org>\n"
      "Acked-by: A <a@example.org>\n"
      "Cc: stable@vger.kernel.org # 6.1+\n";
  spec.changes = {{"f", "1"}};
  std::string sha = git.commit(spec);

  Repository repo = open_or_die(dir.path());
  auto info = repo.commit_info(sha);
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(info->sha, sha);
  EXPECT_EQ(info->tree, git.tree_of(sha));
  EXPECT_THAT(info->parents, ElementsAre(parent));
  EXPECT_EQ(info->subject, "ext4: fix DIO vs buffered read race ✓");
  EXPECT_EQ(info->message, spec.message);
  EXPECT_EQ(info->encoding, "");
  EXPECT_EQ(info->author.name, "Jöhn Dœ 山田 😀");
  EXPECT_EQ(info->author.email, "jd@example.org");
  EXPECT_EQ(info->author.time, 1712345678);
  EXPECT_EQ(info->author.offset_minutes, -420);
  EXPECT_EQ(info->committer.name, "C O Mitter");
  std::vector<std::pair<std::string, std::string>> trailers;
  for (const Trailer& t : info->trailers) {
    trailers.emplace_back(t.key, t.value);
  }
  EXPECT_THAT(
      trailers,
      ElementsAre(
          std::pair<std::string, std::string>("Fixes", "0123456789ab (\"ext4: old change\")"),
          std::pair<std::string, std::string>("Reported-by", "Bot <bot@example.com>"),
          std::pair<std::string, std::string>("Signed-off-by", "Jöhn Dœ <jd@example.org>"),
          std::pair<std::string, std::string>("Reviewed-by", "R <r@example.org>"),
          std::pair<std::string, std::string>("Acked-by", "A <a@example.org>"),
          std::pair<std::string, std::string>("Cc", "stable@vger.kernel.org # 6.1+")));
  // The same as git's own view of the commit.
  EXPECT_EQ(
      trim(run_git(dir.path(),
                   {"log", "-1", "--format=%s%n%an%n%ae%n%at %ad", "--date=format:%z", sha})),
      info->subject + "\n" + info->author.name + "\n" + info->author.email + "\n1712345678 -0700");
}

TEST(CommitInfo, SubjectIsTheFirstParagraphOnOneLineLikeGit) {
  TempDir dir;
  TestRepo git(dir.path());
  CommitSpec spec;
  spec.message = "first line of subject\nsecond line of subject\n\nbody\n";
  std::string sha = git.commit(spec);
  Repository repo = open_or_die(dir.path());
  auto info = repo.commit_info(sha);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->subject, "first line of subject second line of subject");
  EXPECT_EQ(info->subject, trim(run_git(dir.path(), {"log", "-1", "--format=%s", sha})));
  EXPECT_EQ(info->message, spec.message);
  EXPECT_TRUE(info->parents.empty());
  EXPECT_TRUE(info->trailers.empty());
}

TEST(CommitInfo, OneMegabyteMessageIsKeptWhole) {
  TempDir dir;
  TestRepo git(dir.path());
  CommitSpec spec;
  spec.message = "huge\n\n";
  while (spec.message.size() < (size_t{1} << 20)) {
    spec.message += "line of a very long commit message with unicode ü and <html> & \"quotes\"\n";
  }
  spec.message += "\nSigned-off-by: Big <big@example.com>\n";
  std::string sha = git.commit(spec);
  Repository repo = open_or_die(dir.path());
  auto info = repo.commit_info(sha);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->message.size(), spec.message.size());
  EXPECT_EQ(info->message, spec.message);
  EXPECT_EQ(info->subject, "huge");
  ASSERT_EQ(info->trailers.size(), 1U);
  EXPECT_EQ(info->trailers[0].value, "Big <big@example.com>");
}

// A subject is stored with every candidate and event and shown in every report: a megabyte-long
// first paragraph is cut to kMaxSubjectBytes, at a character boundary, for commit_info and the
// candidates alike.
TEST(CommitInfo, AHugeSubjectIsCutAtACharacterBoundary) {
  TempDir dir;
  TestRepo git(dir.path());
  const std::string base = git.commit_on("main", "base", {{"f", "0"}});
  CommitSpec spec;
  spec.message = "a";
  while (spec.message.size() < (size_t{1} << 20)) {
    spec.message += " ü";  // two bytes each: some cut falls inside one
  }
  spec.message += "\n\nbody\n";
  spec.changes = {{"f", "1"}};
  spec.parents = {base};
  spec.ref = "refs/heads/main";
  const std::string sha = git.commit(spec);
  Repository repo = open_or_die(dir.path());
  auto info = repo.commit_info(sha);
  ASSERT_TRUE(info.has_value());
  EXPECT_LE(info->subject.size(), kMaxSubjectBytes);
  EXPECT_GE(info->subject.size(), kMaxSubjectBytes - 4);
  EXPECT_TRUE(info->subject.ends_with("...")) << info->subject.substr(info->subject.size() - 8);
  EXPECT_TRUE(info->subject.starts_with("a ü ü"));
  const std::string kept = info->subject.substr(0, info->subject.size() - 3);
  EXPECT_TRUE(kept.ends_with("ü") || kept.ends_with(" ")) << kept.substr(kept.size() - 4);
  EXPECT_EQ(info->message.size(), spec.message.size());  // the message itself is whole

  auto graph = build_candidates(repo, sha, {base});
  ASSERT_TRUE(graph.has_value()) << graph.error().message();
  ASSERT_EQ(graph->commits.size(), 1U);
  EXPECT_EQ(graph->commits[0].subject, info->subject);
}

// Old kernel history has commits whose "encoding" header says ISO-8859-1: git log shows them in
// UTF-8, and so must the reports (raw Latin-1 bytes would be escaped as invalid UTF-8).
TEST(CommitInfo, ALatin1CommitIsReadInUtf8LikeGitLog) {
  TempDir dir;
  TestRepo git(dir.path());
  git.commit_on("main", "one", {{"f", "x"}});
  const std::string tree =
      trim(run_git(dir.path(), {"hash-object", "-t", "tree", "-w", "--stdin"}, std::string()));
  const std::string object = "tree " + tree +
                             "\n"
                             "author J\xf6rg Gr\xfcn <jg@example.org> 1000000000 +0100\n"
                             "committer J\xf6rg Gr\xfcn <j\xf6rg@example.org> 1000000000 +0100\n"
                             "encoding ISO-8859-1\n"
                             "\n"
                             "ext4: fix the caf\xe9 case\n"
                             "\n"
                             "Signed-off-by: J\xf6rg Gr\xfcn <jg@example.org>\n";
  const std::string sha =
      trim(run_git(dir.path(), {"hash-object", "-t", "commit", "-w", "--stdin"}, object));
  Repository repo = open_or_die(dir.path());
  auto info = repo.commit_info(sha);
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(info->encoding, "ISO-8859-1");
  EXPECT_EQ(info->subject, "ext4: fix the caf\u00e9 case");
  EXPECT_EQ(info->subject, trim(run_git(dir.path(), {"log", "-1", "--format=%s", sha})));
  EXPECT_EQ(info->author.name, "J\u00f6rg Gr\u00fcn");
  EXPECT_EQ(info->author.name, trim(run_git(dir.path(), {"log", "-1", "--format=%an", sha})));
  EXPECT_EQ(info->committer.name, "J\u00f6rg Gr\u00fcn");
  EXPECT_EQ(info->committer.email, "j\u00f6rg@example.org");
  EXPECT_EQ(info->committer.email, trim(run_git(dir.path(), {"log", "-1", "--format=%ce", sha})));
  EXPECT_EQ(info->author.email, "jg@example.org");
  ASSERT_EQ(info->trailers.size(), 1u);
  EXPECT_EQ(info->trailers[0].value, "J\u00f6rg Gr\u00fcn <jg@example.org>");
  // A header naming a charset iconv does not know, or bytes not valid in it, keeps the bytes.
  EXPECT_EQ(commit_text_utf8("caf\xe9", "NO-SUCH-CHARSET"), "caf\xe9");
  EXPECT_EQ(commit_text_utf8("caf\xe9", "UTF-8"), "caf\xe9");
  EXPECT_EQ(commit_text_utf8("caf\xe9", nullptr), "caf\xe9");
  EXPECT_EQ(commit_text_utf8("\x82", "SHIFT_JIS"), "\x82");  // half a character
  EXPECT_EQ(commit_text_utf8("caf\xe9", "latin-1"), "caf\u00e9") << "git's spelling too";
  // CP1252's 0x80 is the euro sign, three bytes in UTF-8: more than the first buffer holds.
  std::string euros;
  for (int i = 0; i < 1000; ++i) euros += "\u20ac";
  EXPECT_EQ(commit_text_utf8(std::string(1000, '\x80'), "CP1252"), euros);
}

TEST(CommitInfo, NonCommitAndShortShaAreErrors) {
  TempDir dir;
  TestRepo git(dir.path());
  std::string sha = git.commit_on("main", "one", {{"f", "x"}});
  Repository repo = open_or_die(dir.path());
  auto tree = repo.commit_info(git.tree_of(sha));
  ASSERT_FALSE(tree.has_value());
  EXPECT_EQ(tree.error().code(), ErrorCode::kInvalidInput);
  auto short_sha = repo.commit_info(sha.substr(0, 8));
  ASSERT_FALSE(short_sha.has_value());
  EXPECT_EQ(short_sha.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(*repo.tree_id(sha), trim(run_git(dir.path(), {"rev-parse", sha + "^{tree}"})));
}

}  // namespace
}  // namespace flakebisect::git

namespace flakebisect::git {
namespace {

class FileAndPatchTest : public ::testing::Test {
 protected:
  FileAndPatchTest() : git_(dir_.path()) {
    root_ = git_.commit_on(
        "main", "root",
        {{"MAINTAINERS", "M: a@example.org\n"}, {"fs/ext4/inode.c", "one\ntwo\nthree\n"}});
    change_ = git_.commit_on("main", "change",
                             {{"fs/ext4/inode.c", "one\n2\nthree\n"},
                              {"fs/new.c", "new\n"},
                              {"MAINTAINERS", std::nullopt}});
  }

  TempDir dir_;
  TestRepo git_;
  std::string root_, change_;
};

TEST_F(FileAndPatchTest, FileAtReadsAFileAsTheCommitHasIt) {
  Repository repo = open_or_die(dir_.path());
  EXPECT_EQ(*repo.file_at(root_, "fs/ext4/inode.c", 1000), "one\ntwo\nthree\n");
  EXPECT_EQ(*repo.file_at(change_, "fs/ext4/inode.c", 1000), "one\n2\nthree\n");
  EXPECT_EQ(*repo.file_at(root_, "MAINTAINERS", 1000), "M: a@example.org\n");
  EXPECT_EQ(*repo.file_at(change_, "MAINTAINERS", 1000), std::nullopt);  // deleted
  EXPECT_EQ(*repo.file_at(root_, "fs/ext4", 1000), std::nullopt);        // a directory
  EXPECT_EQ(*repo.file_at(root_, "no/such/file", 1000), std::nullopt);
  auto big = repo.file_at(root_, "fs/ext4/inode.c", 4);
  ASSERT_FALSE(big);
  EXPECT_THAT(big.error().message(), HasSubstr("fs/ext4/inode.c is 14 bytes"));
}

TEST_F(FileAndPatchTest, PatchOfIsWhatGitShowPrints) {
  Repository repo = open_or_die(dir_.path());
  for (const std::string& sha : {root_, change_}) {
    auto patch = repo.patch_of(sha, size_t{1} << 20);
    ASSERT_TRUE(patch) << patch.error().message();
    EXPECT_FALSE(patch->truncated);
    EXPECT_EQ(patch->text, run_git(dir_.path(), {"show", "--format=", "--patch", "--no-renames",
                                                 "--abbrev=7", sha}))
        << sha;
  }
}

TEST_F(FileAndPatchTest, PatchOfKeepsTheAAndBPrefixesWhateverTheUsersGitConfigSays) {
  run_git(dir_.path(), {"config", "diff.noprefix", "true"});
  run_git(dir_.path(), {"config", "diff.mnemonicPrefix", "true"});
  run_git(dir_.path(), {"config", "diff.context", "0"});
  Repository repo = open_or_die(dir_.path());
  auto patch = repo.patch_of(change_, size_t{1} << 20);
  ASSERT_TRUE(patch) << patch.error().message();
  EXPECT_THAT(patch->text, HasSubstr("diff --git a/fs/ext4/inode.c b/fs/ext4/inode.c\n"));
  EXPECT_THAT(patch->text, HasSubstr("--- a/fs/ext4/inode.c\n+++ b/fs/ext4/inode.c\n"));
  EXPECT_THAT(patch->text, HasSubstr(" one\n-two\n+2\n three\n"));  // three lines of context
}

TEST_F(FileAndPatchTest, DirectoriesAtListsEveryDirectoryOfTheCommit) {
  Repository repo = open_or_die(dir_.path());
  EXPECT_THAT(*repo.directories_at(root_, 100), ElementsAre("fs", "fs/ext4"));
  auto too_many = repo.directories_at(root_, 1);
  ASSERT_FALSE(too_many);
  EXPECT_THAT(too_many.error().message(), HasSubstr("more than 1 directories"));
}

TEST_F(FileAndPatchTest, APatchOverTheCapIsCutAtALineEnd) {
  Repository repo = open_or_die(dir_.path());
  auto patch = repo.patch_of(change_, 120);
  ASSERT_TRUE(patch) << patch.error().message();
  EXPECT_TRUE(patch->truncated);
  EXPECT_LE(patch->text.size(), 120u);
  ASSERT_FALSE(patch->text.empty());
  EXPECT_EQ(patch->text.back(), '\n');
}

}  // namespace
}  // namespace flakebisect::git
