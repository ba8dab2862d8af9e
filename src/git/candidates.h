// CandidateGraph: the commits that may hold the culprit of a bisection, read from git as a DAG.
//
// The candidates are ancestors-or-self(bad) minus ancestors-or-self(goods), the set `git rev-list
// bad
// --not goods...` prints. They are indexed 0..n-1 in a topological order, parents before children,
// and the last index is bad. A candidate's parents are the indices of its parents that are
// candidates too, first parent first; parents that are ancestors of a good are left out. This is
// exactly the input model::CandidateDag::create() expects (see dag_parents()), without this module
// depending on the model.
//
// The order is deterministic for a given history (it does not depend on commit dates): a
// depth-first walk from bad that visits a commit's parents in parent order and emits each commit
// after all its parents. On a linear history the order is oldest first; a merged side branch comes
// right before its merge, its own commits oldest first.
//
// With first_parent_only (`git bisect --first-parent`, `git rev-list --first-parent`), the
// candidates are the commits on bad's first-parent chain down to the first ancestor of a good; each
// has the previous one as its only parent, so the graph is linear and merges are tested as one
// unit.
//
// Thread rules: build_candidates() uses the Repository (one thread at a time); results are values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "git/repository.h"

namespace flakebisect::git {

struct Candidate {
  std::string sha;                // full 40-hex
  std::vector<uint32_t> parents;  // indices into CandidateGraph::commits, each smaller than own
  std::string subject;            // as CommitInfo::subject
};

struct CandidateGraph {
  std::vector<Candidate> commits;  // never empty; back() is bad

  uint32_t size() const { return static_cast<uint32_t>(commits.size()); }
  uint32_t bad() const { return size() - 1; }
};

struct CandidateOptions {
  bool first_parent_only = false;
};

// Builds the candidate graph for bad (full SHA) against goods (full SHAs, at least one). Callers
// check the range first with Repository::validate_range(); a range where bad is an ancestor-or-self
// of a good has no candidates and is an error (kInvalidInput). In a shallow clone the walk follows
// the parents the clone has, and a candidate whose parents were not fetched is an error
// (kInvalidInput, see Repository::validate_range()). O(n + edges) in the candidates, plus what
// libgit2's walk needs to mark the goods' ancestors (15000 commits with merges: ~0.25 s); in a
// shallow clone, plus every commit the clone has below the goods.
base::Result<CandidateGraph> build_candidates(const Repository& repo, std::string_view bad_sha,
                                              const std::vector<std::string>& good_shas,
                                              CandidateOptions options = {});

// The parent lists of `graph`, ready for model::CandidateDag::create().
std::vector<std::vector<uint32_t>> dag_parents(const CandidateGraph& graph);

}  // namespace flakebisect::git
