// CandidateDag: the commits that may hold the culprit, as a DAG with O(1) ancestry queries.
//
// The candidate set of a bisection is ancestors(bad) minus ancestors(goods). Commits are indexed
// 0..n-1 in a topological order (every parent has a smaller index than its child) and the last index
// is the bad commit, of which every candidate is an ancestor-or-self. Parents outside the candidate
// set (ancestors of a good) are left out: if such a parent were the culprit, the good commit would be
// bad. A linear history is the special case where commit i has the single parent i-1.
//
// Commit x is bad under hypothesis "culprit is c" iff c is an ancestor-or-self of x, so ancestry is
// the one question the model asks, millions of times. Each commit keeps a bitset of its
// ancestors-or-self (n*n/8 bytes: 21 MB at n = 13000), built once in O(n*n/64).
//
// Thread rules: immutable after create(); safe to share between threads.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"

namespace flakebisect::model {

using CommitIndex = uint32_t;

class CandidateDag {
 public:
  // parents[i] lists i's parents inside the candidate set, first parent first; each must be < i.
  // Fails on an empty set, an out-of-order or duplicate parent, or a commit that is not an ancestor of
  // the last one (the bad commit).
  static base::Result<CandidateDag> create(std::vector<std::vector<CommitIndex>> parents);
  // A linear history of n commits: commit i has parent i-1.
  static CandidateDag linear(CommitIndex n);

  CommitIndex size() const { return n_; }
  CommitIndex bad() const { return n_ - 1; }
  const std::vector<CommitIndex>& parents(CommitIndex x) const { return parents_[x]; }
  bool is_merge(CommitIndex x) const { return parents_[x].size() > 1; }

  // True iff a is an ancestor of x or a == x.
  bool is_ancestor_or_self(CommitIndex a, CommitIndex x) const {
    return (ancestors_[static_cast<size_t>(x) * words_ + a / 64] >> (a % 64)) & 1U;
  }
  // Number of candidates that are ancestors-or-self of x (git bisect's "reach").
  CommitIndex ancestor_count(CommitIndex x) const { return ancestor_count_[x]; }

  // For each x, the candidates c with c <= x, as sum(weight[c]). O(n + total merge side size): the
  // DAG is walked in topological order, adding for a merge only the commits its later parents bring
  // in beyond the first parent (precomputed at create()).
  std::vector<double> ancestor_sums(const std::vector<double>& weight) const;

  // The ancestor-or-self bitset of x, words() 64-bit words, bit c set iff c <= x.
  const uint64_t* ancestor_bits(CommitIndex x) const {
    return &ancestors_[static_cast<size_t>(x) * words_];
  }
  size_t words() const { return words_; }

 private:
  CandidateDag() = default;
  void build_ancestry();

  CommitIndex n_ = 0;
  size_t words_ = 0;
  std::vector<std::vector<CommitIndex>> parents_;
  std::vector<uint64_t> ancestors_;
  std::vector<CommitIndex> ancestor_count_;
  // For merge x: side_[side_begin_[x] .. side_begin_[x+1]) holds the ancestors of its later parents
  // that are not ancestors of its first parent. Empty for non-merges.
  std::vector<CommitIndex> side_;
  std::vector<uint32_t> side_begin_;
};

}  // namespace flakebisect::model
