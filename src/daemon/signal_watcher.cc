#include "daemon/signal_watcher.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "base/child_processes.h"

namespace flakebisect::daemon {

base::Result<std::unique_ptr<SignalWatcher>> SignalWatcher::start() {
  std::unique_ptr<SignalWatcher> watcher(new SignalWatcher());
  sigemptyset(&watcher->watched_);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    // A signal that was ignored when we started (nohup, a background job of a script) stays
    // ignored: whoever started us asked for that, and blocking it would turn it into a stop.
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) != 0) {
      return base::make_error(base::ErrorCode::kFailed, "cannot read the disposition of SIG{}: {}",
                              ::sigabbrev_np(sig), std::strerror(errno));
    }
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_IGN) {
      sigaddset(&watcher->watched_, sig);
    }
  }
  if (const int err = ::pthread_sigmask(SIG_BLOCK, &watcher->watched_, nullptr); err != 0) {
    return base::make_error(base::ErrorCode::kFailed, "cannot block signals: {}",
                            std::strerror(err));
  }
  watcher->thread_ = std::thread([w = watcher.get()] { w->watch(); });
  return watcher;
}

SignalWatcher::~SignalWatcher() {
  quit_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
}

void SignalWatcher::end_nothing_to_pause() {
  if (phase_.exchange(kPausing) == kQuitting) {
    phase_ = kQuitting;
    while (true) ::pause();  // the watcher thread is about to _exit
  }
}

void SignalWatcher::watch() {
  // Short waits so that quit_ is seen promptly, and so that once stopping, children started after
  // the first kill (a race with the engine) are killed too.
  const timespec tick{0, 50'000'000};
  while (!quit_.load()) {
    const int sig = ::sigtimedwait(&watched_, nullptr, &tick);
    if (sig > 0) {
      int expected = kNothingToPause;
      if (phase_.compare_exchange_strong(expected, kQuitting)) {
        const char* name = ::sigabbrev_np(sig);
        spdlog::warn("received SIG{} before the bisection was stored: nothing to pause, quitting",
                     name != nullptr ? name : std::to_string(sig));
        ::_exit(128 + sig);
      }
      if (stop_.load()) {
        // Second signal: leave now. Safe as kill -9; children die with us (each child's guard
        // sees our life pipe close and kills its group; base/process.h).
        ::_exit(128 + sig);
      }
      signal_ = sig;
      stop_ = true;
      const char* name = ::sigabbrev_np(sig);
      spdlog::warn(
          "received SIG{}: stopping, and pausing whatever is in progress (send it again "
          "to quit at once)",
          name != nullptr ? name : std::to_string(sig));
    }
    if (stop_.load()) {
      base::signal_child_process_groups(SIGKILL);
    }
  }
}

}  // namespace flakebisect::daemon
