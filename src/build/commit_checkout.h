// CommitCheckout: the commit a build or a run is for, and where its sources are.
//
// Build and test commands run with the worktree as their working directory and get the commit in
// their environment, so that a script can find the sources and make per-run decisions:
//   FLAKEBISECT_COMMIT    the full SHA being built or tested
//   FLAKEBISECT_REPO      the user's repository
//   FLAKEBISECT_WORKTREE  the private checkout of the commit (also the cwd)
//   FLAKEBISECT_RUN       test commands only: the run's index at this commit, 0 for the first run
//                         ever recorded there with this test identity, 1 for the next, ... (a
//                         resumed bisection that lost a run to a crash repeats its index)
//
// Thread rules: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flakebisect::build {

struct CommitCheckout {
  std::string sha;
  std::string repo;
  std::string worktree;
  // Where the commit's build put what the runner needs (a kernel builder's artifact directory with
  // bzImage and its kernel config as "config"); empty when nothing is built or the builder keeps it in the worktree.
  std::string artifact;
  // The git tree id of the commit (40 hex digits), filled by the engine; empty when unknown.
  // Builders that cache products key them by tree rather than commit, so commits with the same
  // tree share a build. (Initialised so brace-initialisations that stop at `artifact` stay valid.)
  std::string tree_id{};
};

// The variables above; FLAKEBISECT_RUN only when run_index is set.
std::vector<std::pair<std::string, std::string>> command_environment(
    const CommitCheckout& checkout, std::optional<uint32_t> run_index);

// The variables that point git at one repository (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, ...;
// git's own local_repo_env list), unset for the commands run in a worktree: inherited from a git
// hook, `git rebase -x` or an alias, they would make `git` in the test read the user's repository
// instead of the commit checked out.
const std::vector<std::string>& repository_environment();

// The last `max_bytes` of `text`, starting at a line boundary when one is near, for log tails
// kept in the store and shown to people.
std::string tail_of(const std::string& text, size_t max_bytes);

}  // namespace flakebisect::build
