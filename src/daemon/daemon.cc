#include "daemon/daemon.h"

#include <fmt/core.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "base/process.h"
#include "store/daemon_lock.h"
#include "store/store.h"

namespace flakebisect::daemon {
namespace {

using store::BisectionState;

constexpr std::string_view kDaemonMode = "daemon";

int64_t now_ms(const base::Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch())
      .count();
}

std::string data_string(const store::Event& event, const char* key) {
  if (!event.data_json) {
    return "";
  }
  const auto data = nlohmann::json::parse(*event.data_json, nullptr, /*allow_exceptions=*/false);
  if (!data.is_object() || !data.contains(key) || !data[key].is_string()) {
    return "";
  }
  return data[key].get<std::string>();
}

bool stopping(const DaemonOptions& options) {
  return options.stop != nullptr && options.stop->load();
}

// Sleeps in short steps so that a stop request is seen quickly.
void pause_for(const DaemonOptions& options, base::Clock& clock, std::chrono::milliseconds delay) {
  const auto until = clock.now() + delay;
  while (!stopping(options) && clock.now() < until) {
    clock.sleep_for(std::min(delay, std::chrono::milliseconds(100)));
  }
}

// Calls `attempt` again, every poll interval, while the store is busy: another process holding its
// write lock past the busy timeout (a long report, a backup, sqlite3 at a prompt) is no reason for
// a daemon to exit, which under systemd would soon hit the unit's restart limit. Any other error,
// or a stop request, ends the retries.
template <typename Attempt>
auto while_busy(const DaemonOptions& options, base::Clock& clock, std::string_view what,
                Attempt attempt) -> decltype(attempt()) {
  bool warned = false;
  while (true) {
    auto result = attempt();
    if (result || result.error().code() != base::ErrorCode::kBusy || stopping(options)) {
      return result;
    }
    if (!warned) {
      spdlog::warn("{}: {}; trying again every {} ms", what, result.error().message(),
                   options.poll_interval.count());
      warned = true;
    }
    pause_for(options, clock, options.poll_interval);
  }
}

// Pauses bisection `id` with the error that ended its session, and logs that error, as the engine
// does, if it is still running under this daemon (`pid`). False, with nothing written, when it is
// not (a user's cancel: their state stands).
base::Result<bool> pause_with_error(store::Store& store, base::Clock& clock, int64_t id,
                                    int64_t pid, const std::string& message) {
  FB_ASSIGN_OR_RETURN(store::Transaction txn, store.begin_write());
  const int64_t now = now_ms(clock);
  FB_ASSIGN_OR_RETURN(const bool ours,
                      store.set_state_if_owner(id, pid, BisectionState::kPaused, now, message));
  if (!ours) {
    return false;
  }
  store::Event event;
  event.bisection_id = id;
  event.at_ms = now;
  event.kind = std::string(engine::kEventError);
  event.message = message;
  FB_TRY(store.append_event(event));
  FB_TRY(txn.commit());
  return true;
}

// After a session that ended in an error: when the engine could not record its end either (the
// store was busy or failing then: a full disk), the bisection would stay "running" under this
// live process, where neither `resume` nor a daemon takes it up. Pauses it, waiting while the
// store is busy. False when it is still ours and running: the caller must try again later.
bool release_if_still_ours(const DaemonOptions& options, base::Clock& clock, store::Store& store,
                           int64_t id, int64_t pid, const std::string& message) {
  auto paused = while_busy(options, clock, fmt::format("bisection {}: pausing after an error", id),
                           [&] { return pause_with_error(store, clock, id, pid, message); });
  if (!paused) {
    spdlog::error("bisection {}: cannot pause it after the error: {}; trying again every {} ms", id,
                  paused.error().message(), options.poll_interval.count());
    return false;
  }
  if (*paused) {
    spdlog::warn("bisection {}: paused: {}", id, message);
  }
  return true;
}

}  // namespace

bool resumable_by_daemon(const std::vector<store::Event>& events) {
  std::string last_session_mode;
  std::string verdict;  // "yes", "no" or "" (no pause seen yet)
  for (const store::Event& event : events) {
    if (event.kind == engine::kEventSession) {
      last_session_mode = data_string(event, "mode");
    } else if (event.kind == engine::kEventPaused) {
      verdict = data_string(event, "by") == kDaemonMode ? "yes" : "no";
    } else if (event.kind == "recovered") {
      verdict = last_session_mode == kDaemonMode ? "yes" : "no";
    } else if (event.kind == engine::kEventError || event.kind == "cancelled") {
      verdict = "no";
    }
  }
  return verdict == "yes";
}

namespace {

// What the workers of one serve_queue() share.
struct Pool {
  std::mutex mutex;
  std::condition_variable changed;   // a worker ended
  std::deque<int64_t> resumable;     // the daemon's own paused bisections, oldest first
  std::optional<base::Error> error;  // the first error that ends the daemon
  int live = 0;                      // workers still serving
  std::atomic<bool> stop{false};     // every worker's engine pauses and its loop ends
  // Bisections that still say running under this daemon, though no worker serves them any more:
  // their session ended in an error that could not be recorded, nor could the pause after it (a
  // full disk). id -> that error. serve_queue() pauses them once the store lets it.
  std::map<int64_t, std::string> unreleased;
};

// One try at pausing each of `pool.unreleased` (see there); those paused, or no longer ours, are
// taken off. `last_try` says what to log about one that still cannot be.
void release_unserved(base::Clock& clock, store::Store& store, Pool& pool, bool last_try) {
  std::map<int64_t, std::string> pending;
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    pending = pool.unreleased;
  }
  const int64_t pid = ::getpid();
  for (const auto& [id, message] : pending) {
    auto paused = pause_with_error(store, clock, id, pid, message);
    if (!paused) {
      if (last_try) {
        spdlog::error(
            "bisection {}: cannot pause it after the error: {}; it shows as running (not alive) "
            "until `flakebisect resume {}` takes it over",
            id, paused.error().message(), id);
      } else {
        spdlog::debug("bisection {}: cannot pause it yet: {}", id, paused.error().message());
      }
      continue;
    }
    if (*paused) {
      spdlog::warn("bisection {}: paused: {}", id, message);
    }
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.unreleased.erase(id);
  }
}

// Whether `error` is the store's full disk or failing write (store/sqlite.cc: SQLITE_FULL,
// SQLITE_IOERR), which space coming back can end, rather than a store it cannot write at all.
bool waits_for_space(const base::Error& error) {
  if (error.code() != base::ErrorCode::kIo) return false;
  const std::string message = error.message();
  return message.find(": disk full (") != std::string::npos ||
         message.find(": I/O error (") != std::string::npos;
}

// One worker: its own store connection and engine, serving until the queue is empty (with
// exit_when_idle), a stop, or an error that ends the daemon.
base::Status serve_as_worker(const DaemonOptions& options, const std::atomic<bool>* caller_stop,
                             base::Clock& clock, const engine::ExecutorFactory& executors,
                             int worker, Pool& pool) {
  store::OpenMode mode;
  mode.busy_timeout_ms = options.store_busy_timeout_ms;
  FB_ASSIGN_OR_RETURN(store::Store store, while_busy(options, clock, "opening the store", [&] {
                        return store::Store::open(options.store_path, mode);
                      }));
  const int64_t pid = ::getpid();
  engine::BisectorOptions bisector_options;
  bisector_options.worktree_root = options.worktree_root;
  bisector_options.owner_pid = pid;
  bisector_options.session_mode = std::string(kDaemonMode);
  // The caller's flag itself (a signal watcher's, which kills the build or run in progress right
  // after setting it: the engine must see it at once to not record that), and the pool's.
  bisector_options.stop = caller_stop;
  bisector_options.also_stop = &pool.stop;
  bisector_options.stop_reason =
      "the daemon was stopped; it resumes this bisection when it restarts";
  bisector_options.progress = options.progress;
  bisector_options.store_busy_patience = options.store_busy_patience;
  engine::Bisector bisector(store, clock, executors, bisector_options);
  const std::string who = options.workers > 1 ? fmt::format(" (worker {})", worker) : "";

  const auto work_on = [&](int64_t id) {
    spdlog::info("bisection {}: started{}", id, who);
    auto state = bisector.run(id);
    if (!state) {
      spdlog::error("bisection {}: {}", id, state.error().message());
      if (!release_if_still_ours(options, clock, store, id, pid, state.error().message())) {
        std::lock_guard<std::mutex> lock(pool.mutex);
        pool.unreleased.emplace(id, state.error().message());
      }
    } else {
      spdlog::info("bisection {}: {}", id, store::to_string(*state));
    }
  };

  // The caller's flag is read directly here too: after SIGTERM the engine has paused at once, and
  // the pool's copy of the flag (up to 50 ms late) must not let this worker claim another.
  const auto halted = [&] {
    return stopping(options) || (caller_stop != nullptr && caller_stop->load());
  };

  // First the daemon's own paused bisections, oldest first, shared out among the workers.
  while (!halted()) {
    int64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(pool.mutex);
      if (pool.resumable.empty()) break;
      id = pool.resumable.front();
      pool.resumable.pop_front();
    }
    // Not retried while busy: kBusy here may also mean that another process runs it now.
    auto claimed = store.claim_bisection(id, pid, now_ms(clock));
    if (!claimed) {
      spdlog::warn("bisection {}: not resumed: {}", id, claimed.error().message());
      continue;
    }
    work_on(id);
  }

  uint64_t claim_waits = 0;
  while (!halted()) {
    auto next = while_busy(options, clock, "claiming the next bisection",
                           [&] { return store.claim_next_queued(pid, now_ms(clock)); });
    if (!next && waits_for_space(next.error()) && !options.exit_when_idle) {
      // A full disk (or a failing write) refuses the claim as it refused a pause: the worker waits
      // for space as serve_queue's retries of those pauses do, instead of ending the daemon. A
      // store it cannot write at all (read-only) is no such wait: that error ends it, as before.
      spdlog::log(
          claim_waits++ == 0 ? spdlog::level::warn : spdlog::level::debug,
          "cannot claim the next bisection: {}; trying again every {} ms", next.error().message(),
          std::chrono::duration_cast<std::chrono::milliseconds>(options.poll_interval).count());
      pause_for(options, clock, options.poll_interval);
      continue;
    }
    claim_waits = 0;
    if (!next) return std::move(next).error();
    if (*next) {
      work_on((*next)->id);
      continue;
    }
    if (options.exit_when_idle) {
      break;
    }
    pause_for(options, clock, options.poll_interval);
  }
  return {};
}

}  // namespace

base::Status serve_queue(const DaemonOptions& options, base::Clock& clock,
                         const engine::ExecutorFactory& executors) {
  if (options.workers < 1) {
    return base::make_error(base::ErrorCode::kInvalidInput,
                            "the daemon needs at least one worker, got {}", options.workers);
  }
  // The store first: opening it creates its directory (a first `daemon` on a new machine), where
  // the lock file goes. Nothing is changed in it before the lock is held.
  store::OpenMode mode;
  mode.create_if_missing = true;
  mode.busy_timeout_ms = options.store_busy_timeout_ms;
  // Opening may migrate the schema, which needs the write lock.
  FB_ASSIGN_OR_RETURN(store::Store store, while_busy(options, clock, "opening the store", [&] {
                        return store::Store::open(options.store_path, mode);
                      }));
  FB_ASSIGN_OR_RETURN(store::DaemonLock lock, store::acquire_daemon_lock(options.store_path));

  // Nothing is ours yet: a bisection under this daemon's own pid is an earlier process's, one
  // given the same pid (a container's daemon is pid 1 each time), even in a row without a start
  // stamp, where the pid is all process_still_alive() has to go on.
  const int64_t self = ::getpid();
  const auto owner_alive = [self](int64_t pid, const std::string& start_stamp) {
    return pid != self && base::process_still_alive(pid, start_stamp);
  };
  FB_ASSIGN_OR_RETURN(auto recovered, while_busy(options, clock, "recovering", [&] {
                        return store.recover_running(owner_alive, now_ms(clock));
                      }));
  for (int64_t id : recovered) {
    spdlog::warn("bisection {}: its process died while running it; paused", id);
  }

  Pool pool;
  FB_ASSIGN_OR_RETURN(auto all, while_busy(options, clock, "listing bisections",
                                           [&] { return store.list_bisections(); }));
  for (const store::Bisection& bisection : all) {
    if (stopping(options)) {
      return {};
    }
    if (bisection.state != BisectionState::kPaused) {
      continue;
    }
    FB_ASSIGN_OR_RETURN(auto events,
                        while_busy(options, clock, fmt::format("bisection {}", bisection.id),
                                   [&] { return store.events(bisection.id); }));
    if (resumable_by_daemon(events)) {
      pool.resumable.push_back(bisection.id);
    }
  }

  // The workers see one stop flag: set by the caller's (SIGTERM), or by a worker whose error ends
  // the daemon, so that the others pause their bisections too and the next daemon resumes them.
  DaemonOptions worker_options = options;
  worker_options.stop = &pool.stop;
  std::vector<std::thread> threads;
  pool.live = options.workers;
  for (int worker = 1; worker <= options.workers; ++worker) {
    threads.emplace_back([&, worker] {
      base::Status served =
          serve_as_worker(worker_options, options.stop, clock, executors, worker, pool);
      std::lock_guard<std::mutex> guard(pool.mutex);
      if (!served) {
        if (options.failing != nullptr) *options.failing = true;
        if (!pool.error) {
          pool.error = std::move(served).error();
        } else {
          spdlog::error("worker {}: {}", worker, served.error().message());
        }
        pool.stop = true;
      }
      --pool.live;
      pool.changed.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> guard(pool.mutex);
    auto next_try = clock.now() + options.poll_interval;
    while (pool.live > 0) {
      if (stopping(options)) pool.stop = true;
      pool.changed.wait_for(guard, std::chrono::milliseconds(50));
      // A full disk that a session's error and its pause could not be written to: try again every
      // poll interval, so that once there is space the bisection is paused with its error.
      if (!pool.unreleased.empty() && clock.now() >= next_try) {
        guard.unlock();
        release_unserved(clock, store, pool, /*last_try=*/false);
        guard.lock();
        next_try = clock.now() + options.poll_interval;
      }
    }
  }
  for (std::thread& thread : threads) thread.join();
  release_unserved(clock, store, pool, /*last_try=*/true);
  if (pool.error) {
    return std::move(*pool.error);
  }
  return {};
}

}  // namespace flakebisect::daemon
