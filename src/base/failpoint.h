// Failpoints: named places where a crash test makes the process die as kill -9 would.
//
// FLAKEBISECT_FAILPOINT=<name> arms one point; the process raises SIGKILL on itself the first time
// execution reaches it. <name>:<n> (n >= 1) fires at the n-th time instead, so a test can kill the
// process at run k. Anything else in the variable (an unknown name, a bad count) arms nothing; a
// typo therefore makes a crash test fail loudly (the process does not die), never pass.
//
// The points (reliability.md lists the faults they stand for):
//   after-checkout   the worktree was checked out, nothing built yet
//   during-build     the build command is running (the process dies while it runs)
//   during-run       the test command is running (the process dies while it runs)
//   after-run-commit a run's row was just committed, the posterior not yet updated
//
// The variable is read once per process. Thread rules: all functions may be called from any thread.
#pragma once

#include <string_view>

namespace flakebisect::base {

inline constexpr std::string_view kFailpointAfterCheckout = "after-checkout";
inline constexpr std::string_view kFailpointDuringBuild = "during-build";
inline constexpr std::string_view kFailpointDuringRun = "during-run";
inline constexpr std::string_view kFailpointAfterRunCommit = "after-run-commit";

// Counts a hit of `name` and dies if it is the armed hit.
void failpoint(std::string_view name);

// For the during-* points: counts a hit of `name` when constructed; if it is the armed hit, a
// watcher thread kills the process as soon as it has a child process (the build or test command
// the caller is about to start), or at the latest when this object is destroyed. Either way the
// command's outcome is never recorded.
class FailpointWhileChildRuns {
 public:
  explicit FailpointWhileChildRuns(std::string_view name);
  FailpointWhileChildRuns(const FailpointWhileChildRuns&) = delete;
  FailpointWhileChildRuns& operator=(const FailpointWhileChildRuns&) = delete;
  ~FailpointWhileChildRuns();

 private:
  bool armed_ = false;
};

}  // namespace flakebisect::base
