// Shallow clones (`git clone --depth N`): walks over the history such a clone has, which libgit2
// 1.5 cannot do by itself.
//
// A shallow clone lists in "<git common dir>/shallow" its boundary: the commits it has without
// their parents. git treats them as root commits; libgit2 1.5 ignores the file, so its revision
// walks and ancestry tests fail with "object not found" as soon as they look past a boundary
// commit, which they do even for a range that lies inside the clone's history. The walks here
// follow only the parents the clone has. A range whose candidates include a boundary commit needs
// history the clone lacks: that is an error telling the user how to fetch it, never a bisection of
// a truncated range.
//
// Include only from src/git/*.cc. Thread rules: as the git_repository passed in; results are
// values.
#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "git/libgit2.h"

namespace flakebisect::git {

class ShallowBoundary {
 public:
  // Reads the boundary of the repository (empty for a complete one). Errors: kIo, and kCorrupt for
  // a line that is not a full SHA.
  static base::Result<ShallowBoundary> read(git_repository* repo);

  bool empty() const { return commits_.empty(); }
  bool contains(const git_oid& oid) const { return commits_.count(oid) != 0; }

  // The commits reachable from bad, bad included, that are not reachable from any good (goods
  // included): `git rev-list bad --not goods...` in the clone, in no particular order. Error (see
  // reaches_past_history()) when one of them is a boundary commit.
  base::Result<std::vector<git_oid>> candidates(git_repository* repo,
                                                const std::filesystem::path& repo_path,
                                                const git_oid& bad,
                                                const std::vector<git_oid>& goods) const;

  // True iff `ancestor` is a proper ancestor of `descendant`. Exact wherever the answer follows
  // from the history the clone has; otherwise an error (see reaches_past_history()).
  base::Result<bool> is_ancestor(git_repository* repo, const std::filesystem::path& repo_path,
                                 const git_oid& ancestor, const git_oid& descendant) const;

 private:
  OidSet commits_;
};

// "<repo_path>: is a shallow clone and the range reaches past its history (the parents of <sha12>
// were not fetched); run `git fetch --unshallow` (or `git fetch --deepen=<n>`)", kInvalidInput.
base::Error reaches_past_history(const std::filesystem::path& repo_path, const git_oid& boundary);

}  // namespace flakebisect::git
