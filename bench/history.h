// Synthetic commit histories for the benchmark: the candidate DAGs a bisection searches.
//
// A history is the `parents` vector that model::CandidateDag::create takes: commits 0..n-1 in
// topological order (every parent index is smaller), the last commit is the bad tip and every
// commit is its ancestor-or-self. Two shapes:
//   - linear: commit i has the single parent i-1.
//   - kernel-like DAG: a first-parent mainline into which topic branches are merged. A branch has a
//     geometric length (mean 15), forks from one of the last few mainline commits (early branches
//     fork from before the range, i.e. from an ancestor of the good commit, so they start with a
//     root that has no parent inside the candidate set), and sometimes merges a nested sub-branch
//     of its own before being merged. Roughly 1 commit in 14 is a merge, about what v6.x merge
//     windows show.
// Generation is a pure function of (n, seed, shape).
//
// Thread rules: pure functions.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "model/candidate_dag.h"

namespace flakebisect::bench {

enum class HistoryKind { kLinear, kDag };

std::string_view history_name(HistoryKind kind);

using Parents = std::vector<std::vector<model::CommitIndex>>;

// The knobs of the kernel-like generator. The defaults are the benchmark's.
struct KernelShape {
  double mean_topic_length = 15;  // geometric, commits per topic branch (excluding its merge)
  double direct_commit_p = 0.25;  // chance the next mainline step is a plain commit, not a merge
  uint32_t fork_window = 8;  // a branch forks from one of the last fork_window mainline commits
  double nested_p = 0.2;     // chance a topic branch (of >= 4 commits) merges a sub-branch
  double mean_nested_length = 5;  // geometric, commits per sub-branch
};

// Linear history of n >= 1 commits.
Parents linear_parents(uint32_t n);

// Kernel-like DAG of exactly n >= 1 commits (see the file comment).
Parents kernel_parents(uint32_t n, uint64_t seed, const KernelShape& shape = {});

// The history of the given kind; `seed` is ignored for linear histories.
Parents make_parents(HistoryKind kind, uint32_t n, uint64_t seed);

// Commits that may be the culprit: every non-merge commit, ascending.
std::vector<model::CommitIndex> non_merge_commits(const Parents& parents);

}  // namespace flakebisect::bench
