// Bisector: the loop that runs one bisection to its end, with the store as its only memory.
//
//   load the bisection (full SHAs, configuration) -> candidates from the store, or from git the
//   first time -> rebuild evidence from every stored run with this test identity -> loop:
//     stop?  found / not reproduced (model::evaluate_stop), budget spent (inconclusive), nothing
//            testable left (inconclusive)
//     plan   model::Planner picks (commit, runs); the decision is logged as a "plan" event
//     build  check the commit out in the bisection's private worktree, run the build; a failed
//            build is recorded and makes the commit a skip
//     run    the batch through Runner::run_batch (one QEMU boot holds several runs); each run is
//            recorded in its own committed transaction as it is reported, before the model sees
//            it, and the batch ends early once the stop rule is met
//
// Resume and determinism: everything the loop decides is a function of the stored rows, so a
// resumed bisection (after a pause, a crash or kill -9 at any point) computes the same posterior
// and takes the same next step. In particular the posterior is rebuilt from the evidence table in
// candidate order before every decision rather than updated in place, and an unfinished batch is
// recognised from its "plan" event (runs recorded since it < runs planned) and continued rather
// than re-planned. A run the process did not finish is never recorded, and the next run at that
// commit gets the same FLAKEBISECT_RUN index. Costs come from the configuration, not from measured
// durations, so that timing noise cannot change a decision.
//
// Stopping: `*stop` (set by a signal watcher or another thread; likewise `*also_stop`) is checked
// between runs and after
// every build and run; when it is set, the build or run that was in progress is abandoned (not
// recorded), the bisection is paused with `stop_reason` and run() returns kPaused. A bisection
// whose state is changed in the store by someone else (`flakebisect cancel`) stops at the next
// check; run() then returns the state it found.
//
// Errors: when the tool fails (store I/O, a build or test program that cannot be started, five
// infra outcomes in a row), the bisection is paused with the error message so it can be resumed
// once the cause is fixed, and run() returns the error. A stored configuration or candidate set
// that cannot be used marks it failed.
//
// Thread rules: a Bisector is used by one thread; its Store must belong to that thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/process.h"
#include "base/result.h"
#include "config/config.h"
#include "build/builder.h"
#include "run/runner.h"
#include "store/records.h"
#include "store/store.h"

namespace flakebisect::engine {

// What the loop is doing, for a live progress line. Reported after every decision, build and run.
struct Progress {
  enum class Phase { kPlanning, kCheckout, kBuilding, kRunning, kFinished, kPaused };
  int64_t bisection_id = 0;
  Phase phase = Phase::kPlanning;
  std::string sha;             // the commit being worked on (empty while planning)
  // Set during a check ("revert check", "verify check"): sha is then the check's commit, not a
  // candidate (bad with the culprit reverted, or the culprit's parent outside the range), and
  // subject what describes it ("Revert \"<culprit's subject>\"", or the parent's subject).
  std::string check;
  std::string subject;         // its subject
  uint32_t batch_run = 0;      // while running: 1-based position within the batch
  uint32_t batch_runs = 0;     // runs planned for this commit in this step
  uint64_t runs = 0;           // runs this bisection has recorded
  uint64_t max_runs = 0;       // decision.max_runs
  uint64_t builds = 0;         // builds this bisection has recorded
  double max_probability = 0;  // of the most likely culprit, as of the last decision
  std::string best_sha;        // the most likely culprit
  // A one-line description of a milestone (a plan, a build result, the end); empty for updates
  // that only advance a counter.
  std::string milestone;
};
using ProgressFn = std::function<void(const Progress&)>;

// The builder and runner for a configuration.
struct Executors {
  std::unique_ptr<build::Builder> builder;
  std::unique_ptr<run::Runner> runner;
};
using ExecutorFactory = std::function<base::Result<Executors>(const config::Config&)>;

// The builder and runner a configuration asks for, over `processes` (which must outlive the
// factory's products): build::KernelBuilder with [kernel], else build::CommandBuilder; with
// [qemu] a run::QemuRunner, else run::CommandRunner. Kernel build directories, the artifact cache,
// initramfs cache, scratch images and kept logs go under `state_dir` (next to the store):
//   kernel/obj-<build key>/ (the build lock; O= is in the worktree)   kernel/artifacts/   qemu/
//   cache/initramfs/
//   logs/build/   logs/console/
// `stop` (may be null) is the flag the engine stops on: a kernel build waiting for another build's
// directory gives up when it is set (build::KernelBuilderOptions::stop).
// `also_stop` (may be null) likewise: a daemon's own flag (daemon::DaemonOptions::failing).
ExecutorFactory standard_executors(base::ProcessRunner& processes, std::string state_dir,
                                   const std::atomic<bool>* stop = nullptr,
                                   const std::atomic<bool>* also_stop = nullptr);

struct BisectorOptions {
  // Private worktrees go to <worktree_root>/bisection-<id> (created 0700). Required.
  std::string worktree_root;
  // The pid that claimed the bisection (store owner_pid); 0 = getpid().
  int64_t owner_pid = 0;
  // "foreground" or "daemon": who runs it, logged with every session so that a restarted daemon
  // knows which paused bisections were its own.
  std::string session_mode = "foreground";
  const std::atomic<bool>* stop = nullptr;  // may be null
  // A second flag with the same meaning, checked beside *stop (may be null): a daemon's own, set
  // when another worker's error ends the daemon. A signal watcher's flag must be `stop` itself,
  // never relayed into this one: the watcher kills the build or run in progress right after
  // setting its flag, and only a flag the engine reads directly tells it not to record that.
  const std::atomic<bool>* also_stop = nullptr;
  std::string stop_reason = "interrupted";  // the pause message when *stop ends a session
  ProgressFn progress;                      // may be empty
  bool keep_worktree = false;  // keep the private worktree after the bisection finishes
  // How long a finished run waits for a store that another process keeps locked past its busy
  // timeout before the session ends with that error (tests shorten it).
  std::chrono::milliseconds store_busy_patience{std::chrono::minutes(10)};
};

// The "paused" event written when *stop ends a session carries {"by": session_mode}; a
// "session" event {"mode", "pid", "resumed"} opens every session.
inline constexpr std::string_view kEventSession = "session";
inline constexpr std::string_view kEventPlan = "plan";
inline constexpr std::string_view kEventBuild = "build";
inline constexpr std::string_view kEventPaused = "paused";
inline constexpr std::string_view kEventFinished = "finished";
inline constexpr std::string_view kEventError = "error";
// {"accel": "kvm"|"tcg"}: how the QEMU guests of this session ran.
inline constexpr std::string_view kEventEnvironment = "environment";
// One batch of runs ended: {"sha", "runs", "run_ms" (the runs' own durations), "wall_ms"}; the
// planner learns its costs from these and the build events (cost_learner.h).
inline constexpr std::string_view kEventBatch = "batch";
// The revert check (decision.revert_check): a batch of its runs {"sha", "runs"}, and its end, whose
// data is the result's checks.revert.
inline constexpr std::string_view kEventCheck = "check";

// The configuration a bisection's runner gets: `config`, except that a guest bisection whose stored
// test identity predates a change to the guest goes on with the guest it had, so that its runs stay
// what its identity says they are: before the console showed KERN_INFO (GuestEra in identity.h),
// qemu.console_loglevel 5 (its boots, not the KVM probe, get "loglevel=5" before qemu.append's
// words); before the guest's watch of test.no_output_timeout
// (guest_watches_output in identity.h; its identity lacks the line that says so), no watch.
config::Config runner_config(const config::Config& config, const store::BisectionSpec& spec);

// kvm-xfstests' name of a test configuration, which the batch events of an [xfstests] bisection
// start with ("ext4/1k: 12 tests, 3 failures, 95 seconds"): the filesystem and, from MKFS_OPTIONS'
// -b, the block size; the filesystem alone without -b.
std::string xfstests_config_name(const config::XfstestsConfig& xfstests,
                                 const config::ScratchConfig& scratch);

// The private worktree of bisection `id` under `worktree_root`. The engine removes it when the
// bisection finishes; whoever cancels a bisection no process is running may remove it too.
std::string worktree_path(const std::string& worktree_root, int64_t id);

class Bisector {
 public:
  Bisector(store::Store& store, base::Clock& clock, ExecutorFactory executors,
           BisectorOptions options);

  // Works on bisection `id`, which the caller has claimed (state running, owner options.owner_pid),
  // until it finishes (found, inconclusive, not_reproduced: the result is stored), is paused by
  // *stop, or is changed in the store by someone else. Returns the state it is left in.
  base::Result<store::BisectionState> run(int64_t id);

 private:
  store::Store& store_;
  base::Clock& clock_;
  ExecutorFactory executors_;
  BisectorOptions options_;
};

}  // namespace flakebisect::engine
