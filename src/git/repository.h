// Repository: a user's git repository, opened read-only through libgit2, that turns revisions into
// full commit SHAs, checks a bisection range and reads commit metadata.
//
// The user's repository is never written to: no refs, no index, no worktree files. Checkouts happen
// in a private Worktree (worktree.h). Revisions, refs and paths are untrusted text; they only ever
// reach libgit2 as C strings (never a shell), and text containing NUL bytes is rejected.
//
// Thread rules: a Repository is not thread-safe (libgit2 repositories are not); use one per thread,
// or serialise access. Movable, not copyable.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "git/commit_info.h"

struct git_repository;

namespace flakebisect::git {

class Repository {
 public:
  // Opens the repository at `path`: a working tree root or a subdirectory of one (found the way
  // `git -C path` finds it), a .git directory, or a bare repository. Error: "<path>: not a git
  // repository
  // (<libgit2 detail>)" with kNotFound.
  static base::Result<Repository> open(const std::filesystem::path& path);

  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  ~Repository();

  // The working tree root, or the git directory for a bare repository.
  const std::filesystem::path& path() const { return path_; }
  // The directory holding the object database shared by all linked worktrees
  // ("<commondir>/objects").
  std::filesystem::path objects_dir() const;

  // Resolves any revision git understands (full or short SHA, branch, tag, HEAD~3, v6.1^{commit})
  // to the full lowercase SHA of a commit; annotated tags are peeled. A short SHA that several
  // objects share means the one commit among them (or tag of one), as in
  // `git rev-parse --verify X^{commit}`, which `git bisect start` uses. Errors:
  //   "unknown revision 'X'"                     kNotFound
  //   "ambiguous revision 'X': ..."              kInvalidInput: a short SHA of several commits
  //                                              (listed: short SHA and subject), or of no commit
  //   "revision 'X' is a tree, not a commit"     kInvalidInput (also blobs, tags of trees)
  //   "invalid revision 'X'"                     kInvalidInput (empty, NUL bytes, bad syntax)
  // A name that is both a tag and a branch resolves as git's does (the tag), with a warning.
  base::Result<std::string> resolve(std::string_view rev) const;

  // Checks a bisection range given as full SHAs: at least one good; every good and bad is a commit;
  // no good equals bad; every good is an ancestor of bad. The error names the offending SHA, e.g.
  // "good 1234...cdef is not an ancestor of bad 89ab...0123" (kInvalidInput). In a shallow clone,
  // the candidates must lie inside the history it has: a commit among them whose parents were not
  // fetched is "<path>: is a shallow clone and the range reaches past its history (...); run
  // `git fetch --unshallow` (or `git fetch --deepen=<n>`)" (kInvalidInput). With `good_names`
  // (one per good) and `bad_name`, the revisions as the user typed them, the error names each
  // end that way too: "--good 'v6.1' (1234567890ab) is not an ancestor of --bad 'v6.0' (...)".
  base::Status validate_range(const std::vector<std::string>& good_shas, std::string_view bad_sha,
                              const std::vector<std::string>& good_names = {},
                              std::string_view bad_name = {}) const;

  // Refuses a partial clone (`git clone --filter=...`: a remote.<name>.promisor or an
  // extensions.partialClone setting), whose missing objects git fetches on demand and libgit2
  // cannot: every checkout would fail on them. The error says how to make the clone whole:
  // "<path>: is a partial clone (remote.origin.promisor = true): ...; bisect in a full clone, or
  // fetch everything with `git fetch --refetch --no-filter origin` and then `git config --unset
  // remote.origin.promisor`" (kInvalidInput). validate_range() checks this first.
  base::Status check_not_partial() const;

  // True iff `ancestor` is a proper ancestor of `descendant` (both full SHAs). In a shallow clone,
  // an answer that depends on history the clone lacks is the error validate_range() describes.
  base::Result<bool> is_ancestor(std::string_view ancestor, std::string_view descendant) const;

  // Metadata of the commit with full SHA `sha`.
  base::Result<CommitInfo> commit_info(std::string_view sha) const;

  // The full SHA of the tree of commit `sha`: the identity of the sources a build sees.
  base::Result<std::string> tree_id(std::string_view sha) const;

  // The content of the file `path` (e.g. "MAINTAINERS") in commit `sha`; nullopt when the commit
  // has no such file (a directory, a submodule or a symbolic link there is none). A file over
  // `max_bytes` is an error naming it, and is not read.
  base::Result<std::optional<std::string>> file_at(std::string_view sha, const std::string& path,
                                                   size_t max_bytes) const;

  // Whether commit `sha`'s tree may hold `path` (relative, "/"-separated, no "." or ".."
  // components): true when it has an entry there of any kind, or when a leading component is a
  // symbolic link or a submodule, whose content the tree does not show; false only when the path
  // is certainly not there.
  base::Result<bool> may_have_path(std::string_view sha, const std::string& path) const;

  // Every directory in commit `sha`'s tree ("fs", "fs/ext4", ...), parents before children; more
  // than `max_count` is an error.
  base::Result<std::vector<std::string>> directories_at(std::string_view sha,
                                                        size_t max_count) const;

  // What commit `sha` changed against its first parent (against nothing for a root commit), as
  // `git show --format= --patch` prints it: "diff --git a/x b/x", "--- a/x", "+++ b/x", hunks.
  // A patch over `max_bytes` is cut there at a line end; `truncated` then says so.
  struct Patch {
    std::string text;
    bool truncated = false;
  };
  base::Result<Patch> patch_of(std::string_view sha, size_t max_bytes) const;

  // The libgit2 handle, for the rest of this module. Owned by this object.
  git_repository* raw() const { return repo_.get(); }

 private:
  void warn_if_ambiguous_name(std::string_view rev) const;
  struct Free {
    void operator()(git_repository* repo) const;
  };
  Repository(std::unique_ptr<git_repository, Free> repo, std::filesystem::path path);

  std::unique_ptr<git_repository, Free> repo_;
  std::filesystem::path path_;
};

}  // namespace flakebisect::git
