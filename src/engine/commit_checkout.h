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

namespace flakebisect::engine {

struct CommitCheckout {
  std::string sha;
  std::string repo;
  std::string worktree;
};

// The variables above; FLAKEBISECT_RUN only when run_index is set.
std::vector<std::pair<std::string, std::string>> command_environment(
    const CommitCheckout& checkout, std::optional<uint32_t> run_index);

// The last `max_bytes` of `text`, starting at a line boundary when one is near, for log tails
// kept in the store and shown to people.
std::string tail_of(const std::string& text, size_t max_bytes);

}  // namespace flakebisect::engine
