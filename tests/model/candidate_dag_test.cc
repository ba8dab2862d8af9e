#include "model/candidate_dag.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace flakebisect::model {
namespace {

// 0 - 1 - 2 ------- 5 - 6      mainline (first parents)
//      \           /
//       3 ------ 4             topic branch forked at 1, merged by 5
CandidateDag merge_dag() {
  auto dag = CandidateDag::create({{}, {0}, {1}, {1}, {3}, {2, 4}, {5}});
  EXPECT_TRUE(dag.has_value());
  return std::move(dag).value();
}

TEST(CandidateDag, LinearHistoryAncestryIsPosition) {
  auto dag = CandidateDag::linear(100);
  EXPECT_EQ(dag.size(), 100U);
  EXPECT_EQ(dag.bad(), 99U);
  EXPECT_TRUE(dag.is_ancestor_or_self(3, 3));
  EXPECT_TRUE(dag.is_ancestor_or_self(3, 70));
  EXPECT_FALSE(dag.is_ancestor_or_self(70, 3));
  EXPECT_EQ(dag.ancestor_count(0), 1U);
  EXPECT_EQ(dag.ancestor_count(99), 100U);
}

TEST(CandidateDag, AncestryFollowsMergesNotPositions) {
  auto dag = merge_dag();
  EXPECT_TRUE(dag.is_merge(5));
  EXPECT_FALSE(dag.is_ancestor_or_self(3, 2));  // topic commit is not under mainline 2
  EXPECT_FALSE(dag.is_ancestor_or_self(2, 4));  // nor mainline 2 under topic 4
  EXPECT_TRUE(dag.is_ancestor_or_self(3, 5));   // the merge brings the topic in
  EXPECT_TRUE(dag.is_ancestor_or_self(2, 5));
  EXPECT_TRUE(dag.is_ancestor_or_self(1, 4));
  EXPECT_EQ(dag.ancestor_count(4), 4U);  // 0, 1, 3, 4
  EXPECT_EQ(dag.ancestor_count(6), 7U);
}

// Random DAGs with branches: each commit's first parent is one of the last few commits, and some
// commits merge an older one; merges at the end bring every branch head under the last commit. The
// expected ancestry comes from walking the parent lists, not from the DAG's bitsets.
TEST(CandidateDag, AncestryAndAncestorSumsMatchAWalkOfTheParentsOnRandomDags) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const auto first = static_cast<CommitIndex>(50 + rng() % 150);
    std::vector<std::vector<CommitIndex>> parents(first);
    std::vector<bool> has_child(first, false);
    for (CommitIndex i = 1; i < first; ++i) {
      const CommitIndex back = 1 + static_cast<CommitIndex>(rng() % std::min<CommitIndex>(i, 6));
      parents[i].push_back(i - back);
      if (i > 3 && rng() % 4 == 0) {
        const auto other = static_cast<CommitIndex>(rng() % (i - 1));
        if (other != i - back) parents[i].push_back(other);
      }
      for (CommitIndex p : parents[i]) has_child[p] = true;
    }
    std::vector<CommitIndex> heads;
    for (CommitIndex i = 0; i < first; ++i) {
      if (!has_child[i]) heads.push_back(i);
    }
    ASSERT_FALSE(heads.empty());
    CommitIndex tip = heads.back();
    heads.pop_back();
    for (CommitIndex head : heads) {
      parents.push_back({tip, head});
      tip = static_cast<CommitIndex>(parents.size() - 1);
    }
    const auto n = static_cast<CommitIndex>(parents.size());
    auto dag = CandidateDag::create(parents);
    ASSERT_TRUE(dag.has_value()) << dag.error().message();

    std::vector<double> weight(n);
    for (auto& w : weight) w = static_cast<double>(rng() % 1000) / 7.0;
    const auto sums = dag->ancestor_sums(weight);
    size_t not_ancestors = 0;
    for (CommitIndex x = 0; x < n; ++x) {
      std::vector<bool> ancestor(n, false);
      std::vector<CommitIndex> stack = {x};
      ancestor[x] = true;
      while (!stack.empty()) {
        const CommitIndex c = stack.back();
        stack.pop_back();
        for (CommitIndex p : parents[c]) {
          if (!ancestor[p]) {
            ancestor[p] = true;
            stack.push_back(p);
          }
        }
      }
      double expected = 0;
      CommitIndex count = 0;
      for (CommitIndex c = 0; c < n; ++c) {
        EXPECT_EQ(dag->is_ancestor_or_self(c, x), ancestor[c]) << "c=" << c << " x=" << x;
        if (ancestor[c]) {
          expected += weight[c];
          ++count;
        } else if (c < x) {
          ++not_ancestors;
        }
      }
      EXPECT_NEAR(sums[x], expected, 1e-9 * (1 + expected)) << "x=" << x;
      EXPECT_EQ(dag->ancestor_count(x), count) << "x=" << x;
    }
    EXPECT_EQ(dag->ancestor_count(n - 1), n);  // every commit is under the last one
    EXPECT_GT(not_ancestors, 0U);              // the branches make ancestry differ from order
  }
}

TEST(CandidateDag, ParentAfterChildIsRejected) {
  auto dag = CandidateDag::create({{}, {2}, {1}});
  ASSERT_FALSE(dag.has_value());
  EXPECT_NE(dag.error().message().find("topological"), std::string::npos);
}

TEST(CandidateDag, CommitThatIsNotAnAncestorOfBadIsRejected) {
  auto dag = CandidateDag::create({{}, {0}, {0}});  // 1 is a side tip
  ASSERT_FALSE(dag.has_value());
  EXPECT_NE(dag.error().message().find("not ancestors of the bad commit"), std::string::npos);
}

TEST(CandidateDag, EmptySetAndDuplicateParentAreRejected) {
  EXPECT_FALSE(CandidateDag::create({}).has_value());
  EXPECT_FALSE(CandidateDag::create({{}, {0, 0}}).has_value());
}

}  // namespace
}  // namespace flakebisect::model
