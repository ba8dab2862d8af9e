// Runner: runs the reproducer on a built commit and says what happened, one run at a time or in a
// batch (several runs in one test environment, e.g. one QEMU boot).
//
// The outcome is data (store::RunOutcome): pass, fail, crash, hang, infra or skip; whether it
// counts as evidence is decided later, from the stored row (evidence.h). A Result error means the
// tool could not run the reproducer at all (the test program is missing, fork failed); the
// bisection then pauses rather than record a run that never happened.
//
// CommandRunner runs test.command (an argv, never a shell) in the worktree, stdout and stderr
// merged, with test.timeout and test.no_output_timeout, through a base::ProcessRunner, and maps
// its end with git bisect run's conventions (classify_exit):
//   exit 0                      pass
//   exit 125                    skip (this commit cannot be tested)
//   exit 1..124, 126, 127       fail
//   exit > 127, killed by a signal (a crash of the test harness itself, OOM kill, ...)   infra
//   timeout or no-output timeout (the group was killed)                                  hang
//
// Thread rules: a Runner is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/process.h"
#include "base/result.h"
#include "build/commit_checkout.h"
#include "store/records.h"

namespace flakebisect::run {

struct RunResult {
  store::RunOutcome outcome = store::RunOutcome::kPass;
  std::optional<std::string> signature;  // crash title, when the runner can tell one
  // For a crash: the titles of every kernel report in the run's window, in console order, the
  // first being `signature`; at most kMaxCrashTitlesPerRun. test.signature is matched against all
  // of them (evidence.h): an unrelated WARNING printed before our BUG must not hide it. Empty
  // where the runner tells no titles (host commands).
  std::vector<std::string> crash_titles;
  // For a crash: what the reproducer itself said when it got to its end (kPass, kFail or kSkip by
  // its exit status), which the kernel's report replaced as the outcome; nullopt when it did not
  // get there (the crash ended the boot, it timed out) and for every other outcome.
  std::optional<store::RunOutcome> test_outcome;
  std::string detail;  // how it ended ("exit 1", "timed out after 600000 ms") and an output tail
  std::chrono::milliseconds duration{0};
  // Runs in one test environment (a QEMU boot) share a boot id. console_path is the file that
  // holds the console the run's outcome was read from, written before the run is handed on and
  // never rewritten, and console_sha256 its SHA-256 (lowercase hex); both absent for host
  // commands, whose output tail is in detail.
  std::optional<std::string> boot_id;
  std::optional<std::string> console_path;
  std::optional<std::string> console_sha256;
};

inline constexpr size_t kRunDetailTailBytes = 2048;
// A kernel that keeps reporting (a WARNING in a loop) would otherwise store up to
// run::kMaxReports titles in every row; the first few are the ones that tell what the run hit.
inline constexpr size_t kMaxCrashTitlesPerRun = 16;

// Receives each finished run of a batch, in order, as soon as it is known (the engine commits it
// to the store before returning). Returns true to go on, false to end the batch early (the runner
// then starts no further run and tears its environment down), or an error, which ends the batch
// and is returned by run_batch().
using RunSink = std::function<base::Result<bool>(const RunResult&)>;

class Runner {
 public:
  virtual ~Runner() = default;
  // One run. run_index: FLAKEBISECT_RUN for this run (see commit_checkout.h).
  virtual base::Result<RunResult> run(const build::CommitCheckout& checkout,
                                      uint32_t run_index) = 0;
  // Up to `count` runs with indexes first_index, first_index + 1, ..., each handed to `sink` when it
  // finishes. A batch may end early without an error: when the sink says so, or when the
  // environment cannot go on (a kernel crash or hang ends a boot; its run is reported and the rest
  // are not run). The default runs run() `count` times.
  virtual base::Status run_batch(const build::CommitCheckout& checkout, uint32_t first_index,
                                 uint32_t count, const RunSink& sink);
  // The accelerator the runs used ("kvm", "tcg") once known, for reports; nullopt for runners
  // that boot nothing.
  virtual std::optional<std::string> accel() const { return std::nullopt; }
};

// git bisect run's exit code convention, plus timeouts (hang) and signals (infra).
store::RunOutcome classify_exit(const base::ProcessResult& result);

struct CommandRunnerOptions {
  std::vector<std::string> argv;                   // must not be empty
  std::chrono::milliseconds timeout{0};            // 0 = none
  std::chrono::milliseconds no_output_timeout{0};  // 0 = none
};

class CommandRunner final : public Runner {
 public:
  // `processes` must outlive this object.
  CommandRunner(base::ProcessRunner& processes, CommandRunnerOptions options);

  base::Result<RunResult> run(const build::CommitCheckout& checkout, uint32_t run_index) override;

 private:
  base::ProcessRunner& processes_;
  CommandRunnerOptions options_;
};

}  // namespace flakebisect::run
