// Worktree: a private checkout directory for one bisection, never the user's own checkout.
//
// Layout: `dir` is a small git repository of its own (dir/.git) that borrows every object from the
// user's repository through objects/info/alternates, the mechanism of `git clone --shared`. It has
// no refs; HEAD is detached at the commit last checked out. Creating it copies no objects and
// writes nothing into the user's repository, and `git -C dir status/describe/diff` still work for
// build scripts (the kernel's setlocalversion runs git). Its own object store holds only what
// make_revert() and make_cherry_pick() write: their commits and the trees and blobs they add.
//
// Why not a linked worktree (git_worktree_add): in libgit2 1.5 it writes into the user's .git
// (worktrees/<name>), cannot add a detached worktree (it needs or creates a branch, which would
// appear in the user's `git branch`), and leaves an entry that `git worktree prune` or a moved repo
// breaks. The cost of alternates is the one `git clone --shared` documents: objects the user's
// repository prunes (only unreachable ones, after their reflog expiry) disappear for us too; the
// bisection range is resolved to commits that are reachable when it starts, so this is remote.
//
// Checkout is a forced checkout of the commit's tree with a detached HEAD. libgit2 compares the
// working files with the index (stat data, then content) and rewrites only files whose content or
// mode differs from the target, so unchanged files keep their mtimes and make/ccache see only real
// changes. Files the target lacks are deleted; see CheckoutOptions for untracked and ignored files.
// A symbolic or hard link that a build or test left where the target or the old tree has a file
// or directory is replaced, never written or deleted through (libgit2 would, out of the worktree);
// links the trees have and untracked files elsewhere are left alone.
//
// flakebisect's own directories: a directory at the top of the worktree whose name starts with
// kPrivatePrefix (the kernel builder's O=, build/kernel_builder.h) is ignored by git there
// (.git/info/exclude, written at every open), so checkouts keep it as they keep ignored build
// output, and `git status` in the worktree does not list it.
//
// Crash safety: a Worktree holds an exclusive flock on dir/.git/flakebisect.lock for its lifetime.
// The kernel drops it when the holder dies, so whoever takes it next knows lock files left in
// dir/.git (index.lock, HEAD.lock) are stale and removes them; the next forced checkout then
// repairs any half-written state. A crash during creation leaves "<dir>.flakebisect-new", which the
// next creation discards; `dir` itself only appears complete (it is renamed into place).
//
// Processes: creation is serialised by an flock on "<dir>.flakebisect-lock" beside `dir` (0600,
// held while opening or creating, and while removing): two processes opening a new `dir` at once
// never touch each other's half-built directory; one gets the worktree, the other kBusy. remove()
// deletes that file too.
//
// Thread rules: not thread-safe; one Worktree per directory per process (a second open is kBusy).
// Movable, not copyable.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "git/repository.h"

namespace flakebisect::git {

// See "flakebisect's own directories" above.
inline constexpr std::string_view kPrivatePrefix = ".flakebisect-";

struct CheckoutOptions {
  // Also delete files the target tree lacks that git neither tracks nor ignores (strays from an
  // interrupted checkout, files a test or build wrote among the sources), so the directory matches
  // the tree id a build is keyed by. Ignored files (the tree's .gitignore, e.g. in-tree *.o and
  // .config of a kernel) are kept, so an in-tree build stays incremental, except those in a
  // directory whose path is a file in the target tree: like `git checkout -f`, the checkout
  // deletes them so the file can take the directory's place. Build directories belong outside the
  // worktree (make O=...); one inside it must be ignored or it is deleted.
  // False keeps untracked files, like `git checkout -f`; an untracked file in a tracked directory
  // that the target replaces by a file then makes the checkout fail, naming the path.
  bool remove_untracked = true;
};

// Author and committer of every commit make_revert() writes: fixed, so that its commits are the
// same in every worktree and process.
inline constexpr std::string_view kRevertAuthorName = "flakebisect";
inline constexpr std::string_view kRevertAuthorEmail = "flakebisect@localhost";

// What Worktree::make_revert() made: a commit, or the paths that stopped it.
struct RevertCommit {
  std::string sha;      // the revert commit (full SHA), in the worktree's own object store
  std::string tree_id;  // its tree (full SHA)
  // Paths that conflict when reverting (sorted, each once; for a conflicting rename every path
  // involved). When non-empty, sha and tree_id are empty and no commit or tree was written.
  std::vector<std::string> conflicts;
};

class Worktree {
 public:
  // Opens the private worktree at `dir` for the repository at `repo_path`, creating it when `dir`
  // does not exist or is an empty directory. Refuses (kInvalidInput) a `dir` that holds anything
  // but a flakebisect worktree of this repository, including the user's own checkout; kBusy when
  // another live Worktree holds it.
  static base::Result<Worktree> open_or_create(const std::filesystem::path& repo_path,
                                               const std::filesystem::path& dir);

  // Deletes the worktree at `dir`, the leftovers of a crashed creation and the lock file beside
  // it. kBusy when a live Worktree (in any process; close this process's own first) holds it. A
  // missing `dir` is fine.
  static base::Status remove(const std::filesystem::path& dir);

  Worktree(Worktree&&) noexcept = default;
  Worktree& operator=(Worktree&&) noexcept = default;

  const std::filesystem::path& path() const { return path_; }

  // Makes the directory's tracked files exactly those of commit `sha` (full SHA) and detaches HEAD
  // there. Safe to repeat; repairs local modifications and the leftovers of an interrupted
  // checkout.
  base::Status checkout(std::string_view sha, CheckoutOptions options = {});

  // The full SHA checked out last; kNotFound before the first checkout.
  base::Result<std::string> head() const;

  // The tree id of commit `sha` (full SHA): what checkout(sha) puts in the directory.
  base::Result<std::string> tree_id(std::string_view sha) const { return repo_.tree_id(sha); }

  // The commit `git revert --no-edit` (with `-m 1` when `culprit` is a merge) makes of reverting
  // commit `culprit` on top of commit `onto` (full SHAs; `onto` may be `culprit` itself), written
  // into this worktree's own object store, never the user's repository, without moving HEAD or
  // touching the files: checkout(sha) then checks it out like any commit. Deterministic: the same
  // two commits give the same SHA in any worktree of any process (author and committer
  // kRevertAuthorName <kRevertAuthorEmail> at onto's committer time and offset; rename detection
  // with git's defaults whatever the git config says), so a resumed bisection finds the runs it
  // stored for it; with that identity and date, git 2.39 makes the same commit. The message is
  // git's (the subject is the first line of the culprit's message):
  //   Revert "<culprit subject>"\n\nThis reverts commit <culprit sha>.\n
  // and for a merge "...commit <culprit sha>, reversing\nchanges made to <first parent sha>.\n".
  // A revert that changes nothing (`onto` lacks the culprit's change already) is still a commit,
  // with onto's tree, where git would stop with "nothing to commit".
  // Conflicts are a result, not an error; the merged contents of the paths that did merge may then
  // remain in the worktree's own store, unreferenced. Errors: a root culprit (no parent to revert
  // to) is kInvalidInput; unknown commits kNotFound; each names both commits.
  base::Result<RevertCommit> make_revert(std::string_view culprit, std::string_view onto);

  // The commit `git cherry-pick -x` (with `-m 1` when `commit` is a merge) makes of applying
  // commit `commit` on top of commit `onto`, written and made deterministic as make_revert()'s
  // (the committer is kRevertAuthorName <kRevertAuthorEmail> at onto's committer time; the author
  // is commit's, as git keeps it). The message is commit's, trailing white space dropped, then
  //   \n\n(cherry picked from commit <commit sha>)\n
  // or, when it ends in a trailer block (Signed-off-by: ..., found by libgit2's
  // git_message_trailers), that line right below the block, as git writes it. Conflicts are a
  // result, as for make_revert(); a root commit is kInvalidInput.
  base::Result<RevertCommit> make_cherry_pick(std::string_view commit, std::string_view onto);

  // The worktree's own repository (reads objects from the user's repository).
  const Repository& repository() const { return repo_; }

 private:
  Worktree(Repository repo, std::filesystem::path path, base::UniqueFd lock);

  Repository repo_;
  std::filesystem::path path_;
  base::UniqueFd lock_;  // holds the flock until closed
};

}  // namespace flakebisect::git
