#include "model/candidate_dag.h"

#include <gtest/gtest.h>

#include <random>

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

TEST(CandidateDag, AncestorSumsMatchBruteForceOnRandomDags) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const CommitIndex n = 50 + static_cast<CommitIndex>(rng() % 150);
    std::vector<std::vector<CommitIndex>> parents(n);
    for (CommitIndex i = 1; i < n; ++i) {
      parents[i].push_back(i - 1);  // keeps everything an ancestor of the last commit
      if (i > 3 && rng() % 4 == 0) {
        CommitIndex other = static_cast<CommitIndex>(rng() % (i - 1));
        parents[i].push_back(other);
      }
    }
    auto dag = CandidateDag::create(parents);
    ASSERT_TRUE(dag.has_value()) << dag.error().message();
    std::vector<double> weight(n);
    for (auto& w : weight) w = static_cast<double>(rng() % 1000) / 7.0;
    auto sums = dag->ancestor_sums(weight);
    for (CommitIndex x = 0; x < n; ++x) {
      double expected = 0;
      CommitIndex count = 0;
      for (CommitIndex c = 0; c < n; ++c) {
        if (dag->is_ancestor_or_self(c, x)) {
          expected += weight[c];
          ++count;
        }
      }
      EXPECT_NEAR(sums[x], expected, 1e-9 * (1 + expected)) << "x=" << x;
      EXPECT_EQ(dag->ancestor_count(x), count);
    }
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
