// The daemon: serves the queue of a store, one bisection at a time, with the same engine as a
// foreground `flakebisect run`.
//
// Start-up: takes the store's daemon lock (a second daemon is refused with kBusy, naming the
// holder's pid), pauses bisections whose owner process is gone (Store::recover_running), then
// resumes, oldest first, the paused bisections that were the daemon's own: those a stopped daemon
// paused (a "paused" event by "daemon") and those a daemon was running when it died (a "recovered"
// event after a daemon session). Bisections paused by a foreground run, by an error or by the user
// stay paused until `flakebisect resume`.
//
// Then it claims queued bisections in order (Store::claim_next_queued), polling when the queue is
// empty. When *stop is set (SIGTERM), the engine pauses the current bisection at once (see
// engine/bisector.h) and serve_queue() returns: the next daemon resumes it. A bisection that ends
// in an error has been paused (or failed) by the engine with the message; the daemon logs it and
// goes on with the next one. When the engine could not record that either (the store was locked
// or failing at the time), the daemon pauses the bisection itself once the store lets it, so that
// it never stays "running" under a live daemon. A store locked by another process past the busy
// timeout (kBusy) makes the daemon wait and try again every poll interval, never exit.
//
// Start-up order: the store is opened (and created, with its directory) before the daemon lock
// is taken, since the lock file lives beside it. Opening only creates or migrates it, each step a
// transaction that two processes may attempt at once; nothing else is written before the lock.
//
// Thread rules: serve_queue() blocks the calling thread, which owns the store connection.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "engine/bisector.h"
#include "store/records.h"

namespace flakebisect::daemon {

struct DaemonOptions {
  std::string store_path;
  std::string worktree_root;  // see engine::BisectorOptions
  // Return once nothing is queued or resumable instead of polling (scripts, tests).
  bool exit_when_idle = false;
  // Also the interval between tries while the store is locked by another process past the busy
  // timeout: an idle daemon waits for it instead of exiting.
  std::chrono::milliseconds poll_interval{1000};
  int store_busy_timeout_ms = 5000;         // store::OpenMode::busy_timeout_ms
  const std::atomic<bool>* stop = nullptr;  // may be null
  engine::ProgressFn progress;              // may be empty
};

base::Status serve_queue(const DaemonOptions& options, base::Clock& clock,
                         const engine::ExecutorFactory& executors);

// True when a paused bisection with this event log belongs back to the daemon (see above).
bool resumable_by_daemon(const std::vector<store::Event>& events);

}  // namespace flakebisect::daemon
