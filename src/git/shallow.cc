#include "git/shallow.h"

#include <cerrno>
#include <string>
#include <utility>

#include "base/paths.h"

namespace flakebisect::git {
namespace {

using base::ErrorCode;
using base::make_error;

// Adds the parents that `oid` has in the clone (none for a boundary commit) to `out`.
base::Status push_parents(git_repository* repo, const ShallowBoundary& boundary, const git_oid& oid,
                          std::vector<git_oid>& out) {
  if (boundary.contains(oid)) {
    return {};
  }
  FB_ASSIGN_OR_RETURN(CommitHandle commit, lookup_commit(repo, oid));
  const unsigned count = git_commit_parentcount(commit.get());
  for (unsigned i = 0; i < count; ++i) {
    out.push_back(*git_commit_parent_id(commit.get(), i));
  }
  return {};
}

// Every commit reachable from `starts` (included) over the parents the clone has, except those in
// `excluded` and what is reachable only through them. Calls `visit` on each, once; `visit` returns
// whether to go on (false ends the walk early).
template <typename Visit>
base::Status walk(git_repository* repo, const ShallowBoundary& boundary,
                  std::vector<git_oid> starts, const OidSet& excluded, Visit&& visit) {
  OidSet seen;
  std::vector<git_oid>& pending = starts;
  while (!pending.empty()) {
    const git_oid oid = pending.back();
    pending.pop_back();
    if (excluded.count(oid) != 0 || !seen.insert(oid).second) {
      continue;
    }
    FB_ASSIGN_OR_RETURN(const bool go_on, visit(oid));
    if (!go_on) {
      return {};
    }
    FB_TRY(push_parents(repo, boundary, oid, pending));
  }
  return {};
}

}  // namespace

base::Result<ShallowBoundary> ShallowBoundary::read(git_repository* repo) {
  std::filesystem::path path(git_repository_commondir(repo));
  path /= "shallow";
  ShallowBoundary boundary;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) {
    return boundary;
  }
  // 41 bytes a commit: 256 MiB is six million boundary commits.
  FB_ASSIGN_OR_RETURN(const std::string text, base::read_file(path.native(), size_t{256} << 20));
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string_view line(text.data() + start, end - start);
    if (!line.empty()) {
      auto oid = parse_sha(line);
      if (!oid) {
        return make_error(ErrorCode::kCorrupt, "{}: '{}' is not a commit SHA", path.native(), line);
      }
      boundary.commits_.insert(*oid);
    }
    start = end + 1;
  }
  return boundary;
}

base::Result<std::vector<git_oid>> ShallowBoundary::candidates(
    git_repository* repo, const std::filesystem::path& repo_path, const git_oid& bad,
    const std::vector<git_oid>& goods) const {
  OidSet hidden;
  FB_TRY(walk(repo, *this, goods, OidSet(), [&](const git_oid& oid) -> base::Result<bool> {
    hidden.insert(oid);
    return true;
  }));
  std::vector<git_oid> out;
  FB_TRY(walk(repo, *this, {bad}, hidden, [&](const git_oid& oid) -> base::Result<bool> {
    if (contains(oid)) {
      return reaches_past_history(repo_path, oid);
    }
    out.push_back(oid);
    return true;
  }));
  return out;
}

base::Result<bool> ShallowBoundary::is_ancestor(git_repository* repo,
                                                const std::filesystem::path& repo_path,
                                                const git_oid& ancestor,
                                                const git_oid& descendant) const {
  std::vector<git_oid> parents;
  FB_TRY(push_parents(repo, *this, descendant, parents));
  bool found = false;
  std::vector<git_oid> reached;  // boundary commits below descendant
  FB_TRY(walk(repo, *this, std::move(parents), OidSet(),
              [&](const git_oid& oid) -> base::Result<bool> {
                found = git_oid_equal(&oid, &ancestor) != 0;
                if (contains(oid)) {
                  reached.push_back(oid);
                }
                return !found;  // found: no need to see the rest of the history
              }));
  if (found || reached.empty()) {
    return found;
  }
  // `ancestor` could still lie beyond a boundary commit, unless that commit is an ancestor of
  // `ancestor` itself (the history would have a cycle).
  OidSet below_ancestor;
  FB_TRY(walk(repo, *this, {ancestor}, OidSet(), [&](const git_oid& oid) -> base::Result<bool> {
    below_ancestor.insert(oid);
    return true;
  }));
  for (const git_oid& oid : reached) {
    if (below_ancestor.count(oid) == 0) {
      return reaches_past_history(repo_path, oid);
    }
  }
  return false;
}

base::Error reaches_past_history(const std::filesystem::path& repo_path, const git_oid& boundary) {
  return base::Error(fmt::format("{}: is a shallow clone and the range reaches past its history "
                                 "(the parents of {} were not fetched); run `git fetch "
                                 "--unshallow` (or `git fetch --deepen=<n>`)",
                                 repo_path.native(), to_hex(boundary).substr(0, 12)),
                     ErrorCode::kInvalidInput);
}

}  // namespace flakebisect::git
