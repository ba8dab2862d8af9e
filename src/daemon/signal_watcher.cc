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
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

base::Result<std::unique_ptr<SignalWatcher>> SignalWatcher::start() {
  const sigset_t set = stop_signals();
  if (const int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    return base::make_error(base::ErrorCode::kFailed, "cannot block signals: {}",
                            std::strerror(err));
  }
  std::unique_ptr<SignalWatcher> watcher(new SignalWatcher());
  watcher->thread_ = std::thread([w = watcher.get()] { w->watch(); });
  return watcher;
}

SignalWatcher::~SignalWatcher() {
  quit_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
}

void SignalWatcher::watch() {
  const sigset_t set = stop_signals();
  // Short waits so that quit_ is seen promptly, and so that once stopping, children started after
  // the first kill (a race with the engine) are killed too.
  const timespec tick{0, 50'000'000};
  while (!quit_.load()) {
    const int sig = ::sigtimedwait(&set, nullptr, &tick);
    if (sig > 0) {
      if (stop_.load()) {
        // Second signal: leave now. Safe as kill -9; children die with us (PR_SET_PDEATHSIG).
        ::_exit(128 + sig);
      }
      signal_ = sig;
      stop_ = true;
      const char* name = ::sigabbrev_np(sig);
      spdlog::warn("received SIG{}: pausing (send it again to quit at once)",
                   name != nullptr ? name : std::to_string(sig));
    }
    if (stop_.load()) {
      base::signal_child_process_groups(SIGKILL);
    }
  }
}

}  // namespace flakebisect::daemon
