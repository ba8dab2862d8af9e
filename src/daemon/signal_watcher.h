// SignalWatcher: turns SIGINT, SIGTERM and SIGHUP into a stop request for the engine.
//
// The first signal sets stop_requested() and kills the process group of every child process (the
// build or test command in progress, see base/child_processes.h), then keeps killing children
// that appear until the watcher is destroyed, so the engine abandons the current build or run at
// once instead of waiting for its timeout; the engine then pauses the bisection. A second signal
// ends the process at once with status 128 + signal: that is as safe as kill -9 (the store is
// crash-safe, children die with their parent).
//
// A signal that was already ignored when start() ran (SIG_IGN inherited from `nohup`, or SIGINT in
// a background job of a script) is left alone: neither blocked nor watched, so it stays ignored.
//
// The signals are blocked in the thread that calls start() and handled by a watcher thread with
// sigtimedwait, so nothing runs in signal-handler context. Call start() from main() before any
// other thread exists, so that every thread inherits the mask (children get the default mask back;
// see base/process.h).
//
// Thread rules: stop_requested() may be read from any thread. One watcher per process.
#pragma once

#include <signal.h>

#include <atomic>
#include <memory>
#include <thread>

#include "base/result.h"

namespace flakebisect::daemon {

class SignalWatcher {
 public:
  static base::Result<std::unique_ptr<SignalWatcher>> start();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  // Stops the watcher thread. The signals stay blocked (a later one stays pending, harmlessly,
  // until exit).
  ~SignalWatcher();

  const std::atomic<bool>& stop_requested() const { return stop_; }
  // The first signal received, 0 if none.
  int signal() const { return signal_.load(); }
  // From begin_nothing_to_pause() to end_nothing_to_pause() there is nothing to pause yet (a `run`
  // still reading its configuration and the repository, before its bisection is stored): a signal
  // ends the process at once with status 128 + signal, instead of a stop request that nothing
  // would see while a read blocks. end_nothing_to_pause() does not return once a signal has
  // claimed that exit, so that nothing is stored after it.
  void begin_nothing_to_pause() { phase_ = kNothingToPause; }
  void end_nothing_to_pause();

 private:
  SignalWatcher() = default;
  void watch();

  std::atomic<bool> stop_{false};
  std::atomic<int> signal_{0};
  std::atomic<bool> quit_{false};
  static constexpr int kPausing = 0;
  static constexpr int kNothingToPause = 1;
  static constexpr int kQuitting = 2;  // a signal claimed the exit of kNothingToPause
  std::atomic<int> phase_{kPausing};
  sigset_t watched_{};  // the signals blocked and waited for: those not ignored at start()
  std::thread thread_;
};

}  // namespace flakebisect::daemon
