#include "daemon/daemon.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

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

bool process_alive(int64_t pid) {
  if (pid <= 0) {
    return false;
  }
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
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

base::Status serve_queue(const DaemonOptions& options, base::Clock& clock,
                         const engine::ExecutorFactory& executors) {
  FB_ASSIGN_OR_RETURN(store::DaemonLock lock, store::acquire_daemon_lock(options.store_path));
  store::OpenMode mode;
  mode.create_if_missing = true;
  FB_ASSIGN_OR_RETURN(store::Store store, store::Store::open(options.store_path, mode));
  const int64_t pid = ::getpid();

  FB_ASSIGN_OR_RETURN(auto recovered, store.recover_running(process_alive, now_ms(clock)));
  for (int64_t id : recovered) {
    spdlog::warn("bisection {}: its process died while running it; paused", id);
  }

  engine::BisectorOptions bisector_options;
  bisector_options.worktree_root = options.worktree_root;
  bisector_options.owner_pid = pid;
  bisector_options.session_mode = std::string(kDaemonMode);
  bisector_options.stop = options.stop;
  bisector_options.stop_reason =
      "the daemon was stopped; it resumes this bisection when it restarts";
  bisector_options.progress = options.progress;
  engine::Bisector bisector(store, clock, executors, bisector_options);

  const auto work_on = [&](int64_t id) {
    spdlog::info("bisection {}: started", id);
    auto state = bisector.run(id);
    if (!state) {
      spdlog::error("bisection {}: {}", id, state.error().message());
    } else {
      spdlog::info("bisection {}: {}", id, store::to_string(*state));
    }
  };

  // First the daemon's own paused bisections, oldest first.
  FB_ASSIGN_OR_RETURN(auto all, store.list_bisections());
  for (const store::Bisection& bisection : all) {
    if (stopping(options)) {
      return {};
    }
    if (bisection.state != BisectionState::kPaused) {
      continue;
    }
    FB_ASSIGN_OR_RETURN(auto events, store.events(bisection.id));
    if (!resumable_by_daemon(events)) {
      continue;
    }
    auto claimed = store.claim_bisection(bisection.id, pid, now_ms(clock));
    if (!claimed) {
      spdlog::warn("bisection {}: not resumed: {}", bisection.id, claimed.error().message());
      continue;
    }
    work_on(bisection.id);
  }

  while (!stopping(options)) {
    FB_ASSIGN_OR_RETURN(auto next, store.claim_next_queued(pid, now_ms(clock)));
    if (next) {
      work_on(next->id);
      continue;
    }
    if (options.exit_when_idle) {
      break;
    }
    // Sleep in short steps so a stop request is seen quickly.
    const auto until = clock.now() + options.poll_interval;
    while (!stopping(options) && clock.now() < until) {
      clock.sleep_for(std::min(options.poll_interval, std::chrono::milliseconds(100)));
    }
  }
  return {};
}

}  // namespace flakebisect::daemon
