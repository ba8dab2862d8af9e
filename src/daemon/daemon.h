// The daemon: serves the queue of a store with a pool of workers (`daemon --jobs N`, one by
// default), each serving one bisection at a time with the same engine as a foreground
// `flakebisect run`.
//
// Start-up: takes the store's daemon lock (a second daemon is refused with kBusy, naming the
// holder's pid), pauses bisections whose owner process is gone (Store::recover_running), then
// resumes, oldest first, the paused bisections that were the daemon's own: those a stopped daemon
// paused (a "paused" event by "daemon") and those a daemon was running when it died (a "recovered"
// event after a daemon session). Bisections paused by a foreground run, by an error or by the user
// stay paused until `flakebisect resume`.
//
// Then each worker claims queued bisections in order (Store::claim_next_queued, atomic, so two
// workers never take the same one), polling when the queue is empty. The workers share nothing
// but the store (each has its own connection and engine) and what is safe across processes
// already: worktrees are per bisection, kernel builds of one configuration take turns on their
// build directory's flock, QEMU boots each have their own directory, and the caches are written
// by atomic renames. When *stop is set (SIGTERM), every worker's engine pauses its bisection at
// once (see engine/bisector.h) and serve_queue() returns once all have: the next daemon resumes
// them. A bisection that ends in an error has been paused (or failed) by the engine with the
// message; the daemon logs it and the worker goes on with the next one. When the engine could not
// record that either (the store was locked or failing at the time), the worker pauses the
// bisection itself once the store lets it, so that it never stays "running" under a live daemon:
// while the store is locked it waits; when writes fail (a full disk) it hands the bisection to
// serve_queue(), which tries again every poll interval, and once more before it returns, until
// the bisection is paused with its error (it then waits for `flakebisect resume`, as every
// bisection paused by an error does).
// A store locked by another process past the busy timeout (kBusy) makes a worker wait and try
// again every poll interval, never exit. Any other store error ends the daemon: the other workers
// pause their bisections first, and serve_queue() returns the first such error.
//
// Start-up order: the store is opened (and created, with its directory) before the daemon lock
// is taken, since the lock file lives beside it. Opening only creates or migrates it, each step a
// transaction that two processes may attempt at once; nothing else is written before the lock.
//
// Thread rules: serve_queue() blocks the calling thread until every worker has ended. The
// executor factory and the progress function are called from the workers, possibly at once.
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
  // engine::BisectorOptions::store_busy_patience: how long a finished run waits for the store.
  std::chrono::milliseconds store_busy_patience{std::chrono::minutes(10)};
  const std::atomic<bool>* stop = nullptr;  // may be null
  // Called from the worker threads, possibly at once; may be empty.
  engine::ProgressFn progress;
  // Bisections served at once, each by its own worker thread with its own store connection and
  // engine (`daemon --jobs`). At least 1.
  int workers = 1;
  // Set by serve_queue() when a worker's error ends the daemon (may be null). Give the same flag
  // to the executor factory (engine::standard_executors' also_stop), so that a build waiting for
  // another's directory gives up too instead of building only to be thrown away.
  std::atomic<bool>* failing = nullptr;
};

base::Status serve_queue(const DaemonOptions& options, base::Clock& clock,
                         const engine::ExecutorFactory& executors);

// True when a paused bisection with this event log belongs back to the daemon (see above).
bool resumable_by_daemon(const std::vector<store::Event>& events);

}  // namespace flakebisect::daemon
