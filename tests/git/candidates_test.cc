#include "git/candidates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/paths.h"
#include "git/test_repo.h"

namespace flakebisect::git {
namespace {

using base::ErrorCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::lines;
using testing::run_git;
using testing::TempDir;
using testing::TestRepo;

Repository open_or_die(const std::filesystem::path& path) {
  auto repo = Repository::open(path);
  EXPECT_TRUE(repo.has_value()) << repo.error().message();
  return std::move(repo).value();
}

CandidateGraph build_or_die(const Repository& repo, const std::string& bad,
                            const std::vector<std::string>& goods, CandidateOptions options = {}) {
  auto graph = build_candidates(repo, bad, goods, options);
  EXPECT_TRUE(graph.has_value()) << graph.error().message();
  return graph.has_value() ? std::move(graph).value() : CandidateGraph{};
}

std::vector<std::string> shas(const CandidateGraph& graph) {
  std::vector<std::string> out;
  for (const Candidate& c : graph.commits) {
    out.push_back(c.sha);
  }
  return out;
}

// Checks `graph` against `git rev-list --parents [--first-parent] bad --not goods...`: the same
// set, bad last, parents before children, and each commit's in-set parents in git's parent order.
void expect_matches_git(const std::filesystem::path& dir, const CandidateGraph& graph,
                        const std::string& bad, const std::vector<std::string>& goods,
                        bool first_parent) {
  std::vector<std::string> args = {"rev-list", "--parents"};
  if (first_parent) {
    args.emplace_back("--first-parent");
  }
  args.push_back(bad);
  args.emplace_back("--not");
  args.insert(args.end(), goods.begin(), goods.end());
  std::map<std::string, std::vector<std::string>> git_parents;
  for (const std::string& line : lines(run_git(dir, args))) {
    std::istringstream fields(line);
    std::string sha, parent;
    fields >> sha;
    auto& parents = git_parents[sha];
    while (fields >> parent) {
      parents.push_back(parent);
    }
  }

  ASSERT_EQ(graph.size(), git_parents.size());
  ASSERT_FALSE(graph.commits.empty());
  EXPECT_EQ(graph.commits.back().sha, bad);
  std::map<std::string, uint32_t> index;
  for (uint32_t i = 0; i < graph.size(); ++i) {
    ASSERT_TRUE(index.emplace(graph.commits[i].sha, i).second) << "duplicate " << i;
    ASSERT_TRUE(git_parents.count(graph.commits[i].sha)) << graph.commits[i].sha << " not in git";
  }
  for (uint32_t i = 0; i < graph.size(); ++i) {
    const Candidate& c = graph.commits[i];
    std::vector<uint32_t> expected;
    for (const std::string& parent : git_parents[c.sha]) {
      auto it = index.find(parent);
      if (it == index.end()) {
        continue;
      }
      if (std::find(expected.begin(), expected.end(), it->second) == expected.end()) {
        expected.push_back(it->second);
      }
      if (first_parent) {
        break;
      }
    }
    EXPECT_EQ(c.parents, expected) << "commit " << i << " " << c.sha;
    for (uint32_t p : c.parents) {
      EXPECT_LT(p, i) << "parent after child at " << i;
    }
  }
}

TEST(BuildCandidates, LinearHistoryIsOldestFirstWithBadLast) {
  TempDir dir;
  TestRepo git(dir.path());
  std::vector<std::string> c;
  c.reserve(10);
  for (int i = 0; i < 10; ++i) {
    c.push_back(git.commit_on("main", "commit " + std::to_string(i), {{"f", std::to_string(i)}}));
  }
  Repository repo = open_or_die(dir.path());
  CandidateGraph graph = build_or_die(repo, c[9], {c[2]});
  EXPECT_THAT(shas(graph), ElementsAre(c[3], c[4], c[5], c[6], c[7], c[8], c[9]));
  EXPECT_EQ(graph.bad(), 6U);
  EXPECT_THAT(graph.commits[0].parents, IsEmpty());  // c2 is a good, outside the set
  for (uint32_t i = 1; i < graph.size(); ++i) {
    EXPECT_THAT(graph.commits[i].parents, ElementsAre(i - 1));
  }
  EXPECT_EQ(graph.commits[0].subject, "commit 3");
  EXPECT_EQ(graph.commits.back().subject, "commit 9");
  expect_matches_git(dir.path(), graph, c[9], {c[2]}, false);
}

// main:  r0 - a1 - a2 --------------- m1 - a3 --------- m2 - m3 - a4 (bad)
//                 \                 /                 /    /
// topic:           t1 - t2 ---- mt - t3              /    a1 (ancestor of good a2)
//                   \         /                     /
// sub:               u1 - u2                       o1 (from r0)
class MergeHistory : public ::testing::Test {
 protected:
  MergeHistory() : git_(dir_.path()) {
    r0_ = git_.commit_on("main", "r0", {{"f", "0"}});
    a1_ = git_.commit_on("main", "a1", {{"f", "1"}});
    git_.set_ref("refs/heads/topic", a1_);
    a2_ = git_.commit_on("main", "a2", {{"f", "2"}});
    t1_ = git_.commit_on("topic", "t1", {{"t", "1"}});
    git_.set_ref("refs/heads/sub", t1_);
    t2_ = git_.commit_on("topic", "t2", {{"t", "2"}});
    u1_ = git_.commit_on("sub", "u1", {{"u", "1"}});
    u2_ = git_.commit_on("sub", "u2", {{"u", "2"}});
    mt_ = git_.merge_on("topic", {u2_}, "Merge sub into topic");
    t3_ = git_.commit_on("topic", "t3", {{"t", "3"}});
    m1_ = git_.merge_on("main", {t3_}, "Merge topic");
    a3_ = git_.commit_on("main", "a3", {{"f", "3"}});
    git_.set_ref("refs/heads/old", r0_);
    o1_ = git_.commit_on("old", "o1", {{"o", "1"}});
    m2_ = git_.merge_on("main", {o1_}, "Merge old");
    m3_ = git_.merge_on("main", {a1_}, "Merge an ancestor of good");
    a4_ = git_.commit_on("main", "a4", {{"f", "4"}});
  }

  TempDir dir_;
  TestRepo git_;
  std::string r0_, a1_, a2_, t1_, t2_, u1_, u2_, mt_, t3_, m1_, a3_, o1_, m2_, m3_, a4_;
};

TEST_F(MergeHistory, CandidatesEqualGitRevListWithParentsBeforeChildren) {
  Repository repo = open_or_die(dir_.path());
  CandidateGraph graph = build_or_die(repo, a4_, {a2_});
  expect_matches_git(dir_.path(), graph, a4_, {a2_}, false);
  // Depth-first, first parent first: the topic (with its nested sub merge) right before m1.
  EXPECT_THAT(shas(graph), ElementsAre(t1_, t2_, u1_, u2_, mt_, t3_, m1_, a3_, o1_, m2_, m3_, a4_));
  const auto at = [&](const std::string& sha) {
    auto all = shas(graph);
    return static_cast<uint32_t>(std::find(all.begin(), all.end(), sha) - all.begin());
  };
  EXPECT_THAT(graph.commits[at(m1_)].parents, ElementsAre(at(t3_)));  // a2 is good: left out
  EXPECT_THAT(graph.commits[at(mt_)].parents, ElementsAre(at(t2_), at(u2_)));
  EXPECT_THAT(graph.commits[at(m2_)].parents, ElementsAre(at(a3_), at(o1_)));
  EXPECT_THAT(graph.commits[at(m3_)].parents, ElementsAre(at(m2_)));  // a1 is an ancestor of good
  EXPECT_THAT(graph.commits[at(o1_)].parents, IsEmpty());
  EXPECT_EQ(graph.commits[at(mt_)].subject, "Merge sub into topic");
  EXPECT_EQ(dag_parents(graph).size(), graph.size());
  for (uint32_t i = 0; i < graph.size(); ++i) {
    EXPECT_EQ(dag_parents(graph)[i], graph.commits[i].parents);
  }
}

TEST_F(MergeHistory, SeveralGoodsHideAllTheirAncestors) {
  Repository repo = open_or_die(dir_.path());
  const std::vector<std::string> goods = {a2_, t2_, o1_};
  CandidateGraph graph = build_or_die(repo, a4_, goods);
  expect_matches_git(dir_.path(), graph, a4_, goods, false);
  EXPECT_THAT(shas(graph), ElementsAre(u1_, u2_, mt_, t3_, m1_, a3_, m2_, m3_, a4_));
}

TEST_F(MergeHistory, FirstParentFollowsTheMainlineLikeGit) {
  Repository repo = open_or_die(dir_.path());
  CandidateGraph graph = build_or_die(repo, a4_, {a2_}, {.first_parent_only = true});
  expect_matches_git(dir_.path(), graph, a4_, {a2_}, true);
  EXPECT_THAT(shas(graph), ElementsAre(m1_, a3_, m2_, m3_, a4_));
  EXPECT_THAT(graph.commits[0].parents, IsEmpty());
  for (uint32_t i = 1; i < graph.size(); ++i) {
    EXPECT_THAT(graph.commits[i].parents, ElementsAre(i - 1));
  }
}

TEST_F(MergeHistory, EmptyRangeAndBadInputsAreErrors) {
  Repository repo = open_or_die(dir_.path());
  auto same = build_candidates(repo, a2_, {a2_});
  ASSERT_FALSE(same.has_value());
  EXPECT_EQ(same.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(same.error().message(), HasSubstr("no commits to bisect"));

  auto behind = build_candidates(repo, a1_, {a4_});
  ASSERT_FALSE(behind.has_value());
  EXPECT_EQ(behind.error().code(), ErrorCode::kInvalidInput);

  auto no_goods = build_candidates(repo, a4_, {});
  ASSERT_FALSE(no_goods.has_value());
  EXPECT_EQ(no_goods.error().code(), ErrorCode::kInvalidInput);

  auto tree = build_candidates(repo, git_.tree_of(a4_), {a2_});
  ASSERT_FALSE(tree.has_value());
  EXPECT_THAT(tree.error().message(), HasSubstr("bad: "));
  EXPECT_THAT(tree.error().message(), HasSubstr("is a tree, not a commit"));

  auto missing = build_candidates(repo, a4_, {std::string(40, 'e')});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

// Writes a random DAG of `n` commits through `git fast-import` (one pack, fast): forks, merges of
// branch tips (so merges nest and criss-cross), the odd octopus, all merged into the final commit.
// Returns the SHAs in creation order; the last one is the only tip.
std::vector<std::string> random_history(const std::filesystem::path& dir, int n, uint32_t seed,
                                        bool skewed_dates = false) {
  std::mt19937 rng(seed);
  const auto pick = [&](size_t size) { return static_cast<size_t>(rng() % size); };
  std::vector<std::vector<int>> parents(1);
  std::vector<int> tips = {0};
  while (static_cast<int>(parents.size()) < n - 1) {
    const int id = static_cast<int>(parents.size());
    const uint32_t roll = rng() % 100;
    if (roll < 6 && tips.size() < 12) {
      parents.push_back({static_cast<int>(pick(parents.size()))});  // fork anywhere
      tips.push_back(id);
    } else if (roll < 16 && tips.size() >= 2) {
      size_t a = pick(tips.size()), b = pick(tips.size());
      if (a == b) {
        b = (a + 1) % tips.size();
      }
      std::vector<int> merge = {tips[a], tips[b]};
      if (roll < 8 && tips.size() >= 3) {  // octopus
        size_t c = (b + 1) % tips.size();
        if (c != a) {
          merge.push_back(tips[c]);
        }
      }
      parents.push_back(merge);
      tips[a] = id;
      if (roll % 2 == 0) {
        tips.erase(tips.begin() + static_cast<long>(b));  // else criss-cross
      }
    } else {
      size_t a = pick(tips.size());
      parents.push_back({tips[a]});
      tips[a] = id;
    }
  }
  parents.push_back(tips);  // the final commit merges every tip, so everything is its ancestor

  std::string stream;
  for (size_t i = 0; i < parents.size(); ++i) {
    const std::string message = "commit " + std::to_string(i) + "\n";
    if (parents[i].empty()) {
      stream += "reset refs/heads/import\n";
    }
    stream += "commit refs/heads/import\nmark :" + std::to_string(i + 1) + "\n";
    // Skewed: commit dates in random order, as after a rebase or with a wrong clock, which defeats
    // date-based shortcuts in history walks.
    const uint64_t date = skewed_dates ? 1700000000 + rng() % 100000 : 1700000000 + i;
    stream += "committer C <c@example.com> " + std::to_string(date) + " +0000\n";
    stream += "data " + std::to_string(message.size()) + "\n" + message;
    for (size_t p = 0; p < parents[i].size(); ++p) {
      stream += (p == 0 ? "from :" : "merge :") + std::to_string(parents[i][p] + 1) + "\n";
    }
    stream += "\n";
  }
  const std::filesystem::path marks = dir / ".." / "marks";
  run_git(dir, {"fast-import", "--quiet", "--export-marks=" + marks.native()}, stream);
  std::vector<std::string> out(parents.size());
  auto marks_text = base::read_file(marks.native());
  EXPECT_TRUE(marks_text.has_value());
  for (const std::string& line : lines(marks_text.value_or(""))) {
    std::istringstream fields(line);
    std::string mark, sha;
    fields >> mark >> sha;
    out[std::stoul(mark.substr(1)) - 1] = sha;
  }
  return out;
}

// A shallow clone ("clone", git clone --depth 10) of "src": main is c0..c19, then a side branch
// from c18 (s0, s1) merged as m, the tip. The clone has m and the 9 commits below it on main
// (c11..c19), s0 and s1; c11 (HEAD~9) is its boundary, a commit without its parents, which libgit2
// 1.5 does not know about.
class ShallowClone : public ::testing::Test {
 protected:
  ShallowClone() : source_(root_ / "src") {
    for (int i = 0; i < 20; ++i) {
      c_.push_back(source_.commit_on("main", "c" + std::to_string(i), {{"f", std::to_string(i)}}));
    }
    source_.set_ref("refs/heads/side", c_[18]);
    s_.push_back(source_.commit_on("side", "s0", {{"s", "0"}}));
    s_.push_back(source_.commit_on("side", "s1", {{"s", "1"}}));
    m_ = source_.merge_on("main", {s_[1]}, "m");
    source_.set_ref("refs/tags/old", c_[4]);
    testing::clone(source_.path(), clone_, {"--depth", "10", "--no-tags"});
  }

  TempDir root_{"root"};
  TestRepo source_;
  std::filesystem::path clone_ = root_ / "clone";
  std::vector<std::string> c_, s_;
  std::string m_;
};

TEST_F(ShallowClone, ARangeWithinTheHistoryItHasIsBisectedLikeGit) {
  ASSERT_EQ(testing::trim(run_git(clone_, {"rev-parse", "--is-shallow-repository"})), "true");
  ASSERT_EQ(testing::trim(run_git(clone_, {"rev-parse", "HEAD~9"})), c_[11]);
  Repository repo = open_or_die(clone_);
  // c11 is the boundary itself, c12 a good whose parent is the boundary, c18 a good near bad.
  for (const std::string& good : {c_[11], c_[12], c_[18]}) {
    auto valid = repo.validate_range({good}, m_);
    ASSERT_TRUE(valid.has_value()) << good << ": " << valid.error().message();
    EXPECT_TRUE(*repo.is_ancestor(good, m_));
    EXPECT_FALSE(*repo.is_ancestor(m_, good));
    expect_matches_git(clone_, build_or_die(repo, m_, {good}), m_, {good}, false);
    expect_matches_git(clone_, build_or_die(repo, m_, {good}, {.first_parent_only = true}), m_,
                       {good}, true);
  }
  EXPECT_EQ(build_or_die(repo, m_, {c_[11]}).size(), 11U);  // c12..c19, s0, s1, m
  // A name that walks past the boundary says why it is unknown here.
  auto past = repo.resolve("HEAD~12");
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(past.error().message(),
              HasSubstr("unknown revision 'HEAD~12': this is a shallow clone, whose history may "
                        "stop before it; `git fetch --unshallow`"));
  EXPECT_EQ(repo.resolve("no-such-branch").error().message(), "unknown revision 'no-such-branch'");
  auto swapped = repo.validate_range({m_}, c_[13]);
  ASSERT_FALSE(swapped.has_value());
  EXPECT_THAT(swapped.error().message(), HasSubstr("swapped"));
}

TEST_F(ShallowClone, ARangeReachingPastItsHistoryIsRefusedWithWhatToFetch) {
  // The tag of c4 fetched alone: c4 is in the clone, the commits between it and c11 are not.
  run_git(clone_, {"fetch", "-q", "--depth", "1", "origin", "tag", "old"});
  Repository repo = open_or_die(clone_);
  const std::string expected = clone_.native() +
                               ": is a shallow clone and the range reaches past its history (the "
                               "parents of " +
                               c_[11].substr(0, 12) +
                               " were not fetched); run `git fetch --unshallow` (or "
                               "`git fetch --deepen=<n>`)";
  auto valid = repo.validate_range({c_[4]}, m_);
  ASSERT_FALSE(valid.has_value());
  EXPECT_EQ(valid.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(valid.error().message(), expected);
  auto graph = build_candidates(repo, m_, {c_[4]});
  ASSERT_FALSE(graph.has_value());
  EXPECT_EQ(graph.error().message(), expected);
  auto ancestor = repo.is_ancestor(c_[4], m_);
  ASSERT_FALSE(ancestor.has_value());
  EXPECT_EQ(ancestor.error().message(), expected);

  // What the message says works.
  run_git(clone_, {"fetch", "-q", "--unshallow"});
  Repository whole = open_or_die(clone_);
  auto now_valid = whole.validate_range({c_[4]}, m_);
  ASSERT_TRUE(now_valid.has_value()) << now_valid.error().message();
  expect_matches_git(clone_, build_or_die(whole, m_, {c_[4]}), m_, {c_[4]}, false);
}

TEST(BuildCandidates, RandomDagsMatchGitRevListWithAndWithoutFirstParentEvenWithSkewedDates) {
  for (uint32_t seed : {1U, 2U, 3U, 4U, 5U, 6U, 7U, 8U}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir;
    TestRepo git(dir.path());
    std::vector<std::string> commits = random_history(dir.path(), 600, seed, seed > 5);
    Repository repo = open_or_die(dir.path());
    std::mt19937 rng(seed);
    const std::string& bad = commits.back();
    std::vector<std::string> goods;
    goods.reserve(3);
    for (int g = 0; g < 1 + static_cast<int>(seed % 3); ++g) {
      goods.push_back(commits[rng() % (commits.size() / 2)]);
    }
    expect_matches_git(dir.path(), build_or_die(repo, bad, goods), bad, goods, false);
    expect_matches_git(dir.path(), build_or_die(repo, bad, goods, {.first_parent_only = true}), bad,
                       goods, true);
  }
}

TEST(BuildCandidates, FifteenThousandCommitsWithMergesMatchGit) {
  TempDir dir;
  TestRepo git(dir.path());
  std::vector<std::string> commits = random_history(dir.path(), 15000, 42);
  Repository repo = open_or_die(dir.path());
  const std::string& bad = commits.back();
  const std::vector<std::string> goods = {commits[5]};
  const auto start = std::chrono::steady_clock::now();
  CandidateGraph graph = build_or_die(repo, bad, goods);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  RecordProperty("build_candidates_ms", static_cast<int>(elapsed.count()));
  std::cout << "build_candidates: " << graph.size() << " commits in " << elapsed.count() << " ms\n";
  EXPECT_GT(graph.size(), 14000U);
  expect_matches_git(dir.path(), graph, bad, goods, false);
}

}  // namespace
}  // namespace flakebisect::git
