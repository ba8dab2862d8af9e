// Builder: turns a checked-out commit into something the Runner can test.
//
// A build that fails (non-zero exit, killed, timed out) is data, not an error: the commit becomes
// a skip for the model and the log tail says why. A Result error means the tool could not build
// at all (the build program is missing, fork failed, the disk is full), which pauses the
// bisection instead of turning every commit into a skip.
//
// CommandBuilder runs build.command (an argv, never a shell) in the worktree with build.timeout,
// stdout and stderr merged, through a base::ProcessRunner. No command means there is nothing to
// build: needs_build() is false and the engine treats every commit as built and records no builds.
//
// Thread rules: a Builder is used by one thread at a time.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/process.h"
#include "base/result.h"
#include "build/commit_checkout.h"

namespace flakebisect::build {

struct BuildOutcome {
  bool ok = true;        // false: the commit cannot be tested (a skip)
  std::string detail;    // how it ended, "exit 2", "timed out after 3600000 ms"; empty when ok
  std::string log_tail;  // the last bytes of the build's output (at most kBuildLogTailBytes)
  std::chrono::milliseconds duration{0};
  // Where the products are (CommitCheckout::artifact for the runs); empty = the worktree.
  std::string artifact;
};

inline constexpr size_t kBuildLogTailBytes = 8192;

// "the disk is full: <the output's line that says so>" when a failed build's output says that a
// write failed for lack of space or quota (ENOSPC, EDQUOT): the machine's fault, not the
// commit's, so the bisection pauses instead of skipping the commit for good. Nothing otherwise.
std::optional<std::string> disk_full_in(std::string_view output);

// Why a failed build was killed rather than failing by itself, as the OOM killer does it: the
// build command died of SIGKILL (not of its timeout), or a compiler under it did (gcc's "Killed
// signal terminated program cc1"), or the linker did ("collect2: fatal error: ld terminated with
// signal 9 [Killed]"), or a recipe's command did, as make reports it ("make[2]: *** [...] Killed",
// or "Error 137": 128 + SIGKILL from the recipe's shell). The machine's trouble, not the commit's:
// the bisection pauses and `resume` builds the commit again, instead of skipping it for good.
// Nothing otherwise.
std::optional<std::string> killed_in(const base::ProcessResult& result, std::string_view output);

// Why a failed build could not start a process, when its output says so ("vfork: Resource
// temporarily unavailable", "fork: Cannot allocate memory", dash's "Cannot fork"): the machine
// is out of processes or memory, so the bisection pauses as for killed_in(). Nothing otherwise.
std::optional<std::string> fork_failed_in(std::string_view output);

class Builder {
 public:
  virtual ~Builder() = default;
  // False when there is nothing to build (build() is then never called).
  virtual bool needs_build() const = 0;
  // Whether a build stays usable once made (an artifact cache). False when it lives in the
  // worktree, so that going back to a commit built before builds it again: the planner charges it.
  virtual bool keeps_builds() const { return true; }
  virtual base::Result<BuildOutcome> build(const CommitCheckout& checkout) = 0;
};

class CommandBuilder final : public Builder {
 public:
  // `processes` must outlive this object. An empty argv means nothing to build.
  CommandBuilder(base::ProcessRunner& processes, std::vector<std::string> argv,
                 std::chrono::milliseconds timeout);

  bool needs_build() const override { return !argv_.empty(); }
  bool keeps_builds() const override { return false; }  // it builds in the worktree
  base::Result<BuildOutcome> build(const CommitCheckout& checkout) override;

 private:
  base::ProcessRunner& processes_;
  std::vector<std::string> argv_;
  std::chrono::milliseconds timeout_;
};

}  // namespace flakebisect::build
