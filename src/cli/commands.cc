#include "cli/commands.h"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/clock.h"
#include "base/paths.h"
#include "base/process.h"
#include "cli/live_view.h"
#include "cli/progress_line.h"
#include "cli/text.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/signal_watcher.h"
#include "engine/bisection_request.h"
#include "engine/bisector.h"
#include "git/worktree.h"
#include "report/bisect_log.h"
#include "report/email.h"
#include "report/html.h"
#include "report/report.h"
#include "store/store.h"

namespace flakebisect::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using store::BisectionState;

// Prints `error` with what it concerns: each part of `where` is "<what> <path>" ("store s.db",
// "config c.toml", "bisection 4"), left out when the message says it already ("store s.db: no
// bisection 4"), names its path ("c.toml:2:1: ..."), or is a bare word ("store") that adds
// nothing.
int fail(const base::Error& error, const std::vector<std::string>& where) {
  const std::string message = error.message();
  std::vector<std::string> unsaid;
  for (const std::string& part : where) {
    const size_t space = part.find(' ');
    if (space == std::string::npos || message.find(part) != std::string::npos) {
      continue;
    }
    const std::string path = part.substr(space + 1);
    if (path.size() >= 3 && message.find(path) != std::string::npos) {
      continue;
    }
    unsaid.push_back(part);
  }
  cli::write(stderr, "flakebisect: error: {}{}\n", printable(message),
             unsaid.empty()
                 ? ""
                 : fmt::format(" ({})", printable(fmt::format("{}", fmt::join(unsaid, ", ")))));
  return kExitError;
}

int fail(const base::Error& error, const std::string& where) {
  return fail(error, std::vector<std::string>{where});
}

// `command` ("report"), when known, points the user at that command's own help.
int usage_error(const std::string& message, std::string_view command = "") {
  cli::write(stderr, "flakebisect: error: {}\nRun 'flakebisect {}{}--help' for usage.\n", message,
             command, command.empty() ? "" : " ");
  return kExitUsage;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Whether bisection `id`, read as running under `owner_pid`, is running under a process that no
// longer exists (kill -9, a crash, a reboot), although its pid may have been given to another
// since: nothing will move it on until `resume` takes it over. Its owner would have moved it on
// before exiting, so a caller that sees this outside a write transaction must read the bisection
// again to rule out an owner that finished between the read and the check. A store that cannot
// tell counts as a live owner.
bool owner_gone(store::Store& store, int64_t id, BisectionState state,
                std::optional<int64_t> owner_pid) {
  if (state != BisectionState::kRunning || !owner_pid) {
    return false;
  }
  auto owner = store.owner(id);
  if (!owner || !*owner || (*owner)->pid != *owner_pid) {
    return false;  // unreadable, or moved on since the caller's read: not this owner's end
  }
  return !base::process_still_alive((*owner)->pid, (*owner)->start_stamp);
}

bool owner_gone(store::Store& store, const store::Bisection& bisection) {
  return owner_gone(store, bisection.id, bisection.state, bisection.owner_pid);
}

bool finished(BisectionState state) {
  return state == BisectionState::kFound || state == BisectionState::kInconclusive ||
         state == BisectionState::kNotReproduced || state == BisectionState::kCancelled ||
         state == BisectionState::kFailed;
}

base::Result<std::string> store_path(const GlobalOptions& global) {
  if (!global.db.empty()) {
    return global.db;
  }
  const char* env = std::getenv("FLAKEBISECT_DB");
  if (env != nullptr && env[0] != '\0') {
    if (std::string_view(env) == ":memory:") {
      return base::make_error(base::ErrorCode::kInvalidInput,
                              "$FLAKEBISECT_DB is ':memory:', SQLite's in-memory database, which "
                              "would lose the bisection when the command exits; a store is a file "
                              "(for one of that name, './:memory:')");
    }
    return std::string(env);
  }
  FB_ASSIGN_OR_RETURN(std::string home, base::data_home());
  return home + "/flakebisect.db";
}

// Private worktrees live next to the store, so one --db keeps everything of a setup together.
// Kernel builds, caches, scratch images and kept logs (engine::standard_executors) live next to the
// store, like the worktrees.
std::string state_dir(const std::string& db) {
  std::error_code ec;
  fs::path absolute = fs::absolute(db, ec);
  if (ec) {
    absolute = db;
  }
  return absolute.parent_path().native();
}

// Worktrees are named by bisection id, and every store numbers its bisections from 1: stores side
// by side in one directory must not share one, or two bisections would check out their commits in
// one tree. The default store keeps the layout it always had (worktrees/bisection-ID); any other
// gets a directory of its own, worktrees/<file name>.d/. The path is taken as given, like
// state_dir's, so that everything of a store stays together.
std::string worktree_root(const std::string& db) {
  std::error_code ec;
  fs::path absolute = fs::absolute(db, ec);
  if (ec) {
    absolute = db;
  }
  fs::path root = absolute.parent_path() / "worktrees";
  if (absolute.filename() != "flakebisect.db") {
    root /= absolute.filename().native() + ".d";
  }
  return root.native();
}

struct OpenedStore {
  std::string path;
  store::Store store;
};

base::Result<OpenedStore> open_store(const GlobalOptions& global, bool create) {
  FB_ASSIGN_OR_RETURN(std::string path, store_path(global));
  store::OpenMode mode;
  mode.create_if_missing = create;
  FB_ASSIGN_OR_RETURN(store::Store store, store::Store::open(path, mode));
  return OpenedStore{path, std::move(store)};
}

// The configuration a run/start uses: the file (or the defaults) with the command line on top.
// Usage errors (a flag value out of range) come back as kInvalidInput with `usage` set.
base::Result<config::Config> effective_config(const StartOptions& options, bool& usage) {
  usage = false;
  config::Config config;
  if (!options.config_path.empty()) {
    FB_ASSIGN_OR_RETURN(config, config::load_config(options.config_path));
  }
  if (options.confidence) {
    if (!(*options.confidence > 0.5 && *options.confidence < 1)) {
      usage = true;
      return base::make_error(base::ErrorCode::kInvalidInput,
                              "--confidence must be in (0.5, 1), got {}", *options.confidence);
    }
    config.decision.confidence = *options.confidence;
    config.key_lines.erase("decision.confidence");
  }
  if (options.max_runs) {
    if (*options.max_runs < 1) {
      usage = true;
      return base::Error("--max-runs must be at least 1", base::ErrorCode::kInvalidInput);
    }
    config.decision.max_runs = *options.max_runs;
    config.key_lines.erase("decision.max_runs");
    // The file's own keys were checked against its max_runs; this one comes from here.
    if (config.test.runs_per_batch > config.decision.max_runs) {
      usage = true;
      return base::make_error(base::ErrorCode::kInvalidInput,
                              "--max-runs {} is below the {} runs of one batch, {}; allow at "
                              "least one batch",
                              config.decision.max_runs, config.test.runs_per_batch,
                              config.origin_of("test.runs_per_batch", "test.runs_per_batch"));
    }
  }
  if (options.first_parent) {
    config.range.first_parent = true;
    config.key_lines.erase("range.first_parent");
  }
  if (options.find_fix) {
    config.range.find_fix = true;
    config.key_lines.erase("range.find_fix");
  }
  if (options.backport_check) {
    config.decision.backport_check = true;
    config.key_lines.erase("decision.backport_check");
  }
  if (!options.backport_onto.empty()) {
    config.decision.backport_onto = options.backport_onto;
    config.key_lines.erase("decision.backport_onto");
  }
  if (options.revert_check) {
    config.decision.revert_check = true;
    config.key_lines.erase("decision.revert_check");
  }
  if (options.no_verify_check) {
    config.decision.verify_check = false;
    config.key_lines.erase("decision.verify_check");
  }
  if (!options.command.empty() && (config.reproducer || config.xfstests)) {
    usage = true;
    return base::Error(
        fmt::format("a command after '--' runs the test on the host, but the configuration runs "
                    "{} in a QEMU guest; use one or the other",
                    config.reproducer ? "[reproducer]" : "[xfstests]"),
        base::ErrorCode::kInvalidInput);
  }
  if (!options.command.empty() && options.command.front().empty()) {
    usage = true;
    return base::Error("the test command after '--' has an empty program name",
                       base::ErrorCode::kInvalidInput);
  }
  if (!options.command.empty()) {
    config.test.command = options.command;
    config.key_lines.erase("test.command");
    // A relative program path that exists from here means the file the user is looking at, not
    // one in the commit's worktree (where commands run).
    std::string& program = config.test.command.front();
    if (program.find('/') != std::string::npos && program.front() != '/') {
      std::error_code ec;
      if (fs::exists(program, ec)) {
        program = fs::absolute(program, ec).lexically_normal().native();
      }
    }
  }
  if (config.test.command.empty() && !config.reproducer && !config.xfstests) {
    usage = true;
    return base::Error(
        "no test command: give one after '--', set test.command, or use [qemu] with "
        "[reproducer] or [xfstests] in the configuration",
        base::ErrorCode::kInvalidInput);
  }
  // Settings that contradict each other (--find-fix --revert-check): a usage error when a flag
  // is one of them, as --max-runs below a batch is; the file's own error when it set both.
  if (auto conflict = engine::check_setting_conflicts(config); !conflict) {
    usage = options.find_fix || options.revert_check || options.backport_check ||
            !options.backport_onto.empty();
    return std::move(conflict).error();
  }
  return config;
}

base::Result<store::BisectionSpec> checked_spec(const GlobalOptions& global,
                                                const StartOptions& options, int& exit_code) {
  bool usage = false;
  auto config = effective_config(options, usage);
  if (!config) {
    exit_code =
        usage ? usage_error(config.error().message(), options.name)
              : fail(config.error(), options.config_path.empty() ? "command line"
                                                                 : "config " + options.config_path);
    return std::move(config).error();
  }
  // Kernel builds run `make O=<worktree>/.flakebisect-obj` in a worktree next to the store, and
  // kbuild takes no space or colon in either ("source directory cannot contain spaces or colons";
  // an O= with a space builds in the part before it): refused now rather than at every commit's
  // build.
  if (config->kernel) {
    if (auto db = store_path(global); db) {
      // The worktrees' directory adds the store's file name (worktree_root): --db /x/a:b.db.
      const std::string state = state_dir(*db);
      const std::string dir =
          state.find_first_of(" :") != std::string::npos ? state : worktree_root(*db);
      if (dir.find_first_of(" :") != std::string::npos) {
        auto error = base::make_error(
            base::ErrorCode::kInvalidInput,
            "[kernel] builds run in '{}', next to the store, and the kernel's make takes no space "
            "or colon in its paths: put the store (--db or FLAKEBISECT_DB) in a directory without "
            "them, under a name without them",
            dir);
        exit_code = fail(error, "");
        return error;
      }
    }
  }
  engine::BisectRequest request{options.repo, options.good, options.bad, std::move(*config)};
  auto spec = engine::prepare_bisection(request);
  if (!spec) {
    exit_code = fail(spec.error(), "repository " + options.repo);
  }
  return spec;
}

void print_result(const store::Bisection& bisection, bool as_json) {
  if (!bisection.result_json) {
    return;
  }
  const json result = json::parse(*bisection.result_json, nullptr, false);
  if (as_json) {
    cli::write(stdout, "{}\n", to_json_text(result, 2));
  } else {
    cli::write(stdout, "{}", result_summary(result));
  }
}

// Runs bisection `id`, already claimed by this process, in the foreground. `state_out`, when given,
// is set to the state the engine left it in.
int run_claimed(const GlobalOptions& global, OpenedStore& opened, int64_t id, bool as_json,
                std::optional<BisectionState>* state_out = nullptr) {
  // The live line needs a terminal that can go back to the start of a line: as `watch`, not with
  // TERM=dumb (Emacs shells), where "\r\033[K" would show as text.
  ProgressLine line(::isatty(STDERR_FILENO) == 1 && terminal_can_redraw(), global.verbosity);
  base::SubprocessRunner processes;
  base::RealClock clock;
  engine::BisectorOptions options;
  options.worktree_root = worktree_root(opened.path);
  options.owner_pid = ::getpid();
  options.session_mode = "foreground";
  if (global.signals != nullptr) {
    options.stop = &global.signals->stop_requested();
  }
  options.stop_reason = "interrupted by a signal";
  options.progress = [&line](const engine::Progress& progress) { line.update(progress); };
  engine::Bisector bisector(
      opened.store, clock,
      engine::standard_executors(processes, state_dir(opened.path), options.stop), options);
  auto state = bisector.run(id);
  line.finish();
  // With --json, stdout always holds one document: the result, or without one what stopped it.
  const auto print_unfinished = [&](std::string_view status, std::optional<std::string> reason) {
    if (!as_json) return;
    if (!reason) {
      if (auto bisection = opened.store.get_bisection(id)) reason = bisection->error;
    }
    cli::write(stdout, "{}\n",
               to_json_text(json{{"id", id},
                                 {"status", status},
                                 {"reason", reason ? json(*reason) : json(nullptr)}},
                            2));
  };
  if (!state) {
    // Stopped by an error, usually paused with it (`resume` continues it): say the stored state.
    auto now = opened.store.get_bisection(id);
    print_unfinished(now ? store::to_string(now->state) : "error", state.error().message());
    const int code = fail(state.error(), {fmt::format("bisection {}", id), "store " + opened.path});
    // The engine pauses the bisection with its error; when the store could not take that either
    // (a full disk), it still says running under this process, which is about to exit.
    if (!now || (now->state == BisectionState::kRunning && now->owner_pid == options.owner_pid)) {
      cli::write(stderr,
                 "flakebisect: bisection {} could not be stored as paused; it shows as running "
                 "(not alive) once this process has exited: once the store can be written again "
                 "(another process holding its lock lets go of it, or a full disk has space "
                 "again), continue it with: flakebisect resume {}\n",
                 id, id);
    } else if (now->state == BisectionState::kPaused) {
      cli::write(stderr,
                 "flakebisect: bisection {} paused; once the cause is fixed, continue with: "
                 "flakebisect resume {}\n",
                 id, id);
    }
    return code;
  }
  if (state_out != nullptr) {
    *state_out = *state;
  }
  switch (*state) {
    case BisectionState::kPaused:
      print_unfinished("paused", std::nullopt);
      cli::write(stderr, "flakebisect: bisection {} paused; continue with: flakebisect resume {}\n",
                 id, id);
      return kExitOk;
    case BisectionState::kCancelled:
      print_unfinished("cancelled", std::nullopt);
      cli::write(stderr, "flakebisect: bisection {} was cancelled\n", id);
      return kExitOk;
    case BisectionState::kFound:
    case BisectionState::kInconclusive:
    case BisectionState::kNotReproduced: {
      auto bisection = opened.store.get_bisection(id);
      if (!bisection) {
        return fail(bisection.error(), "store " + opened.path);
      }
      print_result(*bisection, as_json);
      return kExitOk;
    }
    default:
      print_unfinished(store::to_string(*state), std::nullopt);
      cli::write(stderr, "flakebisect: bisection {} is {}\n", id, store::to_string(*state));
      return kExitError;
  }
}

// What status, list and report show about one bisection.
struct Overview {
  store::Bisection bisection;
  uint64_t runs = 0;
  uint64_t builds = 0;
  std::string last_step;  // message of the last plan event
  bool owner_gone = false;  // running under a process that no longer exists (see owner_gone())
  bool first_parent = false;  // its stored configuration's range.first_parent
  bool find_fix = false;      // its stored configuration's range.find_fix
};

base::Result<Overview> overview(store::Store& store, int64_t id) {
  FB_ASSIGN_OR_RETURN(store::Transaction snapshot, store.begin_read());
  Overview view;
  FB_ASSIGN_OR_RETURN(view.bisection, store.get_bisection(id));
  FB_ASSIGN_OR_RETURN(auto runs, store.runs_for_bisection(id));
  view.runs = runs.size();
  FB_ASSIGN_OR_RETURN(auto events, store.events(id));
  for (const store::Event& event : events) {
    if (event.kind == engine::kEventBuild) {
      ++view.builds;
    }
    if (event.kind == engine::kEventPlan) {
      view.last_step = event.message;
    }
  }
  FB_TRY(snapshot.commit());
  // A configuration this version cannot parse shows as the default; the engine and the report
  // say what is wrong with it.
  auto config = config::parse_config(view.bisection.spec.config_toml, "stored configuration",
                                     config::ConfigOrigin::kStored);
  view.first_parent = config && config->range.first_parent;
  view.find_fix = config && config->range.find_fix;
  return view;
}

// overview() with owner_gone set: a bisection whose owner seems dead is read again, and counts
// as abandoned only if it is still running under that process.
base::Result<Overview> checked_overview(store::Store& store, int64_t id) {
  FB_ASSIGN_OR_RETURN(Overview view, overview(store, id));
  if (owner_gone(store, view.bisection)) {
    const int64_t dead = *view.bisection.owner_pid;
    FB_ASSIGN_OR_RETURN(view, overview(store, id));
    view.owner_gone = view.bisection.state == BisectionState::kRunning &&
                      view.bisection.owner_pid.value_or(0) == dead;
  }
  return view;
}

// gather_snapshot() with owner_gone set, as checked_overview() does.
base::Result<LiveSnapshot> checked_snapshot(store::Store& store, int64_t id) {
  FB_ASSIGN_OR_RETURN(LiveSnapshot snapshot, gather_snapshot(store, id));
  const auto gone = [&store, id](const LiveSnapshot& s) {
    return owner_gone(store, id, s.state, s.owner_pid);
  };
  if (gone(snapshot)) {
    const int64_t dead = *snapshot.owner_pid;
    FB_ASSIGN_OR_RETURN(snapshot, gather_snapshot(store, id));
    snapshot.owner_gone =
        snapshot.state == BisectionState::kRunning && snapshot.owner_pid.value_or(0) == dead;
  }
  return snapshot;
}

json overview_json(const Overview& view) {
  const store::Bisection& b = view.bisection;
  json out{{"id", b.id},
           {"state", store::to_string(b.state)},
           {"repo", b.spec.repo},
           {"bad", b.spec.bad_sha},
           {"good", b.spec.good_shas},
           {"first_parent", view.first_parent},
           {"mode", view.find_fix ? "fix" : "regression"},
           {"created_at", iso_time(b.created_at_ms)},
           {"updated_at", iso_time(b.updated_at_ms)},
           {"runs", view.runs},
           {"builds", view.builds},
           {"config_hash", b.spec.config_hash},
           {"test_identity", b.spec.test_identity}};
  out["owner_pid"] = b.owner_pid ? json(*b.owner_pid) : json(nullptr);
  out["owner_alive"] = b.owner_pid ? json(!view.owner_gone) : json(nullptr);
  out["error"] = b.error ? json(*b.error) : json(nullptr);
  out["last_step"] = view.last_step.empty() ? json(nullptr) : json(view.last_step);
  out["result"] = b.result_json ? json::parse(*b.result_json, nullptr, false) : json(nullptr);
  return out;
}

std::string result_headline(const store::Bisection& b) {
  if (!b.result_json) {
    return b.error ? printable(*b.error, 80) : "";
  }
  const json result = json::parse(*b.result_json, nullptr, false);
  if (result.contains("culprit") && result["culprit"].is_object()) {
    return fmt::format("{}{} p={:.4f} {}", result.value("mode", "") == "fix" ? "fix " : "",
                       result["culprit"].value("sha", std::string()).substr(0, 12),
                       result.value("confidence", 0.0),
                       printable(result["culprit"].value("subject", std::string()), 50));
  }
  return printable(result.value("reason", std::string()), 80);
}

// " (pid N)" after a running bisection's state, or " (pid N, not alive: resume it)".
std::string owner_text(std::optional<int64_t> owner_pid, bool gone) {
  if (!owner_pid) {
    return "";
  }
  return gone ? fmt::format(" (pid {}, not alive: resume it)", *owner_pid)
              : fmt::format(" (pid {})", *owner_pid);
}

void print_overview(const Overview& view) {
  const store::Bisection& b = view.bisection;
  cli::write(stdout, "bisection {}: {}{}\n", b.id, store::to_string(b.state),
             owner_text(b.owner_pid, view.owner_gone));
  cli::write(stdout, "  repo:    {}\n", printable(b.spec.repo));
  cli::write(stdout, "  bad:     {}{}\n", b.spec.bad_sha,
             view.find_fix ? " (broken: the test fails)" : "");
  for (const std::string& good : b.spec.good_shas) {
    cli::write(stdout, "  good:    {}{}\n", good, view.find_fix ? " (fixed: the test passes)" : "");
  }
  if (view.find_fix) {
    cli::write(stdout, "  range:   good's first-parent chain, looking for the fix (--find-fix)\n");
  } else if (view.first_parent) {
    cli::write(stdout, "  range:   first-parent chain of bad only (--first-parent)\n");
  }
  cli::write(stdout, "  created: {}\n", iso_time(b.created_at_ms));
  cli::write(stdout, "  runs:    {}, builds: {}\n", view.runs, view.builds);
  if (!view.last_step.empty()) {
    cli::write(stdout, "  last:    {}\n", printable(view.last_step));
  }
  if (b.error) {
    cli::write(stdout, "  note:    {}\n", printable(*b.error));
  }
  if (b.result_json) {
    const json result = json::parse(*b.result_json, nullptr, false);
    std::string summary = result_summary(result);
    size_t start = 0;
    while (start < summary.size()) {
      const size_t end = summary.find('\n', start);
      cli::write(stdout, "  {}\n", summary.substr(start, end - start));
      start = end == std::string::npos ? summary.size() : end + 1;
    }
  }
}

}  // namespace

namespace {

// What `run` and `start` share: check the request, open (or create) the store and create the
// bisection, claimed by `owner_pid` when set. On failure `exit_code` says how to exit.
std::optional<int64_t> create_bisection(const GlobalOptions& global, const StartOptions& options,
                                        std::optional<int64_t> owner_pid,
                                        std::optional<OpenedStore>& opened, int& exit_code) {
  exit_code = kExitError;
  // Reading the configuration and the repository may block (a FIFO, a slow disk) or take long (a
  // large history); until the bisection is stored a signal has nothing to pause.
  if (global.signals != nullptr) global.signals->begin_nothing_to_pause();
  auto spec = checked_spec(global, options, exit_code);
  if (global.signals != nullptr) global.signals->end_nothing_to_pause();
  if (!spec) {
    return std::nullopt;
  }
  auto store = open_store(global, /*create=*/true);
  if (!store) {
    exit_code = fail(store.error(), "store");
    return std::nullopt;
  }
  opened.emplace(std::move(store).value());
  auto id = owner_pid ? opened->store.create_bisection(*spec, now_ms(), *owner_pid)
                      : opened->store.create_bisection(*spec, now_ms());
  if (!id) {
    exit_code = fail(id.error(), "store " + opened->path);
    return std::nullopt;
  }
  if (owner_pid) {
    cli::write(stderr, "flakebisect: bisection {}: bad {}, {} good\n", *id,
               spec->bad_sha.substr(0, 12), spec->good_shas.size());
  }
  return *id;
}

}  // namespace

ForegroundRun run_foreground(const GlobalOptions& global, const StartOptions& options) {
  ForegroundRun run;
  std::optional<OpenedStore> opened;
  run.id = create_bisection(global, options, ::getpid(), opened, run.exit_code);
  if (run.id) {
    run.exit_code = run_claimed(global, *opened, *run.id, options.json, &run.state);
  }
  return run;
}

int run_command(const GlobalOptions& global, const StartOptions& options) {
  return run_foreground(global, options).exit_code;
}

int start_command(const GlobalOptions& global, const StartOptions& options) {
  std::optional<OpenedStore> opened;
  int exit_code = kExitError;
  const auto id = create_bisection(global, options, std::nullopt, opened, exit_code);
  if (!id) {
    return exit_code;
  }
  cli::write(stderr, "flakebisect: bisection {} queued; `flakebisect daemon` runs it\n", *id);
  cli::write(stdout, "{}\n", *id);
  return kExitOk;
}

int resume_command(const GlobalOptions& global, int64_t id, bool json_output) {
  auto opened = open_store(global, /*create=*/false);
  if (!opened) {
    return fail(opened.error(), "store");
  }
  // A bisection whose process died still says running: pause it first so it can be claimed. This
  // process owns nothing yet, so a bisection under its own pid is an earlier process's that had
  // the same pid (pid 1 in a container), even in a row without a start stamp.
  const int64_t self = ::getpid();
  auto recovered = opened->store.recover_running(
      [self](int64_t pid, const std::string& start_stamp) {
        return pid != self && base::process_still_alive(pid, start_stamp);
      },
      now_ms());
  if (!recovered) {
    return fail(recovered.error(), "store " + opened->path);
  }
  auto claimed = opened->store.claim_bisection(id, ::getpid(), now_ms());
  if (!claimed) {
    return fail(claimed.error(), {fmt::format("bisection {}", id), "store " + opened->path});
  }
  cli::write(stderr, "flakebisect: resuming bisection {}\n", id);
  return run_claimed(global, *opened, id, json_output);
}

// Before the first bisection there is no store, or an empty file where one will be (`touch`,
// or a store whose creation was cut short): nothing to read yet, which list and status say as for
// an empty store. Said on stderr, so that stdout is what a script expects. False when it cannot
// tell: opening the store then says what is wrong.
bool no_store_yet(const GlobalOptions& global, std::string_view empty_stdout) {
  auto path = store_path(global);
  if (!path) return false;
  std::error_code error;
  const fs::file_status status = fs::status(*path, error);
  const bool missing = status.type() == fs::file_type::not_found;
  const bool empty =
      !error && fs::is_regular_file(status) && fs::file_size(*path, error) == 0 && !error;
  if (!missing && !empty) return false;
  cli::write(stderr, "flakebisect: no bisections yet: {} {} (run or start makes it)\n",
             missing ? "there is no store at" : "the store is an empty file,", printable(*path));
  cli::write(stdout, "{}", empty_stdout);
  return true;
}

int status_command(const GlobalOptions& global, std::optional<int64_t> id, bool json_output,
                   bool plain) {
  if (!id && no_store_yet(global, json_output ? "null\n" : "")) {
    return kExitOk;
  }
  auto opened = open_store(global, /*create=*/false);
  if (!opened) {
    return fail(opened.error(), "store");
  }
  if (!id) {
    auto all = opened->store.list_bisections();
    if (!all) {
      return fail(all.error(), "store " + opened->path);
    }
    if (all->empty()) {
      if (json_output) {
        cli::write(stdout, "null\n");
      } else {
        cli::write(stderr, "flakebisect: no bisections in {}\n", opened->path);
      }
      return kExitOk;
    }
    id = all->back().id;
  }
  // On a terminal: the live view's frame (one snapshot); in a pipe or with --plain: lines.
  const std::optional<FrameOptions> terminal =
      json_output || plain ? std::nullopt : terminal_frame_options(STDOUT_FILENO);
  if (terminal) {
    auto snapshot = checked_snapshot(opened->store, *id);
    if (!snapshot) {
      return fail(snapshot.error(), "store " + opened->path);
    }
    cli::write(stdout, "{}", render_frame(*snapshot, *terminal));
    return kExitOk;
  }
  auto view = checked_overview(opened->store, *id);
  if (!view) {
    return fail(view.error(), "store " + opened->path);
  }
  if (json_output) {
    cli::write(stdout, "{}\n", to_json_text(overview_json(*view), 2));
  } else {
    print_overview(*view);
  }
  return kExitOk;
}

int list_command(const GlobalOptions& global, bool json_output) {
  if (no_store_yet(global, json_output ? "[]\n" : "")) {
    return kExitOk;
  }
  auto opened = open_store(global, /*create=*/false);
  if (!opened) {
    return fail(opened.error(), "store");
  }
  auto all = opened->store.list_bisections();
  if (!all) {
    return fail(all.error(), "store " + opened->path);
  }
  json rows = json::array();
  if (!json_output) {
    cli::write(stdout, "{:>5}  {:<14}  {:>6}  {:<12}  {}\n", "ID", "STATE", "RUNS", "BAD",
               "RESULT");
  }
  for (const store::Bisection& b : *all) {
    auto view = checked_overview(opened->store, b.id);
    if (!view) {
      return fail(view.error(), "store " + opened->path);
    }
    if (json_output) {
      rows.push_back(overview_json(*view));
    } else {
      // As status says it: a bisection whose process died is running in name only.
      const std::string headline =
          view->owner_gone ? fmt::format("its process (pid {}) is gone: flakebisect resume {}",
                                         b.owner_pid.value_or(0), b.id)
                           : result_headline(view->bisection);
      cli::write(stdout, "{:>5}  {:<14}  {:>6}  {:<12}  {}\n", b.id, store::to_string(b.state),
                 view->runs, b.spec.bad_sha.substr(0, 12), headline);
    }
  }
  if (json_output) {
    cli::write(stdout, "{}\n", to_json_text(rows, 2));
  }
  return kExitOk;
}

namespace {

// An event as `log --json` lists it and `watch --json` streams it.
json event_json(const store::Event& event) {
  return json{
      {"id", event.id},
      {"at", iso_time(event.at_ms)},
      {"kind", event.kind},
      {"message", event.message},
      {"data", event.data_json ? json::parse(*event.data_json, nullptr, false) : json(nullptr)}};
}

}  // namespace

int log_command(const GlobalOptions& global, int64_t id, bool json_output) {
  auto opened = open_store(global, /*create=*/false);
  if (!opened) {
    return fail(opened.error(), "store");
  }
  auto bisection = opened->store.get_bisection(id);
  if (!bisection) {
    return fail(bisection.error(), "store " + opened->path);
  }
  auto events = opened->store.events(id);
  if (!events) {
    return fail(events.error(), "store " + opened->path);
  }
  json rows = json::array();
  for (const store::Event& event : *events) {
    if (json_output) {
      rows.push_back(event_json(event));
    } else {
      cli::write(stdout, "{} {:<9} {}\n", iso_time(event.at_ms), event.kind,
                 printable(event.message));
    }
  }
  if (json_output) {
    cli::write(stdout, "{}\n", to_json_text(rows, 2));
  }
  return kExitOk;
}

namespace {

// The formats `report` prints (docs/reports.md): the JSON document and its renderings.
constexpr std::string_view kReportFormats = "json, text, email (or mail), bisect-log or html";

// The email's reporter: $FLAKEBISECT_REPORTER ("Name <address>") when set and valid; one without
// an address is not used (a message needs an originator), and the user is told.
report::EmailOptions email_options() {
  report::EmailOptions options;
  const char* reporter = std::getenv("FLAKEBISECT_REPORTER");
  if (reporter == nullptr || reporter[0] == '\0') {
    return options;
  }
  if (report::parse_person(reporter)) {
    options.reporter = reporter;
  } else {
    spdlog::warn(
        "$FLAKEBISECT_REPORTER '{}' has no valid address (\"Name <address>\"); the report names "
        "{} instead",
        printable(reporter, 200), options.reporter);
  }
  return options;
}

}  // namespace

int report_command(const GlobalOptions& global, int64_t id, const std::string& asked,
                   const std::string& tree, bool maintainers) {
  const std::string format = asked == "mail" ? "email" : asked;  // what people call it too
  if (format != "json" && format != "text" && format != "email" && format != "bisect-log" &&
      format != "html") {
    return usage_error(
        fmt::format("--format must be {}, got '{}'", kReportFormats, printable(format, 40)),
        "report");
  }
  // A name as KernelCI's trees have ("mainline", "linux-next", "stable-rc"), for a mail header.
  if (tree.size() > 40 || std::any_of(tree.begin(), tree.end(), [](unsigned char c) {
        return !std::isalnum(c) && c != '.' && c != '_' && c != '+' && c != '-';
      })) {
    return usage_error(
        fmt::format("--tree must be a name of at most 40 letters, digits, '.', '_', '+' or '-' "
                    "(\"mainline\", \"linux-next\"), got '{}'",
                    printable(tree, 40)),
        "report");
  }
  if (!tree.empty() && format != "email") {
    cli::write(stderr,
               "flakebisect: note: --tree names the tree in the email's subject; --format {} "
               "has none\n",
               format);
  }
  report::EmailOptions email = email_options();
  email.tree = tree;
  auto opened = open_store(global, /*create=*/false);
  if (!opened) {
    return fail(opened.error(), "store");
  }
  report::ReportOptions options;
  options.generated_at_ms = now_ms();
  base::SubprocessRunner processes;
  // The bisect-log has no use for them, and a script that is slow should not hold it up.
  if (maintainers && format != "bisect-log") options.process_runner = &processes;
  auto document = report::build_report(opened->store, id, options);
  if (!document) {
    return fail(document.error(), "store " + opened->path);
  }
  if (format == "json") {
    cli::write(stdout, "{}\n", report::json_text(*document, 2));
  } else if (format == "email") {
    cli::write(stdout, "{}", report::render_email(*document, email));
    // A mail to send: from an address no list can reply to unless the user said who sends it.
    if (const char* reporter = std::getenv("FLAKEBISECT_REPORTER");
        reporter == nullptr || reporter[0] == '\0') {
      cli::write(stderr,
                 "flakebisect: note: the mail is From: and Reported-by: {}; before sending it, "
                 "set FLAKEBISECT_REPORTER='Your Name <you@example.org>'\n",
                 email.reporter);
    }
  } else if (format == "bisect-log") {
    cli::write(stdout, "{}", report::render_bisect_log(*document));
  } else if (format == "html") {
    cli::write(stdout, "{}", report::render_html(*document));
  } else {
    cli::write(stdout, "{}", report::render_text(*document, email));
  }
  // The report is the stored state; "running" under a dead process would mislead (kill -9). Read
  // again: an owner that ended between the first read and the liveness check moved it on.
  auto bisection = opened->store.get_bisection(id);
  if (bisection && owner_gone(opened->store, *bisection))
    bisection = opened->store.get_bisection(id);
  if (bisection && owner_gone(opened->store, *bisection)) {
    cli::write(stderr,
               "flakebisect: note: bisection {} is stored as running, but its process (pid {}) "
               "is gone; continue it with: flakebisect resume {}\n",
               id, *bisection->owner_pid, id);
  }
  return kExitOk;
}

namespace {

// What `watch` prints when the bisection's process is gone; the exit status.
int report_owner_gone(int64_t id, int64_t pid) {
  cli::write(stdout, "bisection {}: running, but its process (pid {}) is gone\n", id, pid);
  cli::write(stderr,
             "flakebisect: error: bisection {} is not being worked on: its process (pid {}) is "
             "gone; continue with: flakebisect resume {}\n",
             id, pid, id);
  return kExitError;
}

// `watch` on a terminal: the live view's frame, redrawn in place every interval, until the
// bisection ends or pauses, or its process is found gone; then the same closing lines as the
// plain mode.
int watch_live(OpenedStore& opened, int64_t id, std::chrono::milliseconds interval) {
  while (true) {
    auto snapshot = checked_snapshot(opened.store, id);
    if (!snapshot) {
      return fail(snapshot.error(), "store " + opened.path);
    }
    const FrameOptions options = terminal_frame_options(STDOUT_FILENO).value_or(FrameOptions{});
    const size_t rows = terminal_rows(STDOUT_FILENO);
    // One row stays free so the last line's newline cannot scroll the frame's top away.
    cli::write(stdout, "{}",
               redraw_in_place(render_frame(*snapshot, options), rows > 1 ? rows - 1 : 0));
    if (!flush_to_reader(stdout)) return kExitOk;
    if (snapshot->owner_gone) {
      return report_owner_gone(id, *snapshot->owner_pid);
    }
    if (finished(snapshot->state) || snapshot->state == BisectionState::kPaused) {
      auto bisection = opened.store.get_bisection(id);
      if (!bisection) {
        return fail(bisection.error(), "store " + opened.path);
      }
      cli::write(stdout, "bisection {}: {}\n", id, store::to_string(snapshot->state));
      print_result(*bisection, false);
      return kExitOk;
    }
    std::this_thread::sleep_for(interval);
  }
}

// The bisection, then its events after `after_id`. In that order: the events then hold every one
// committed with or before the state that was read, so the final event is printed before the
// final state. (One snapshot would do for the engine's own transactions, but the events read
// later also catch one logged just after its state change, as the engine's error path does.)
struct WatchRead {
  store::Bisection bisection;
  std::vector<store::Event> events;
};

base::Result<WatchRead> read_for_watch(store::Store& store, int64_t id, int64_t after_id) {
  WatchRead read;
  FB_ASSIGN_OR_RETURN(read.bisection, store.get_bisection(id));
  FB_ASSIGN_OR_RETURN(read.events, store.events(id, after_id));
  return read;
}

}  // namespace

int watch_command(const GlobalOptions& global, int64_t id, double interval_s, bool plain,
                  bool json_output) {
  // Below 50 ms a poll would mostly wait on the store; above an hour it is surely a mistake (and
  // the conversion to milliseconds stays far from overflow).
  if (!(interval_s >= kMinWatchIntervalS && interval_s <= kMaxWatchIntervalS)) {
    return usage_error(fmt::format("--interval must be between {} and {} seconds, got {}",
                                   kMinWatchIntervalS, kMaxWatchIntervalS, interval_s),
                       "watch");
  }
  auto opened = open_store(global, /*create=*/false);
  if (!opened) {
    return fail(opened.error(), "store");
  }
  const auto interval = std::chrono::milliseconds(std::llround(interval_s * 1000));
  if (!plain && !json_output && terminal_can_redraw() && terminal_frame_options(STDOUT_FILENO)) {
    return watch_live(*opened, id, interval);
  }
  // Otherwise one line per event, as `log` prints them; with --json one JSON object per line (as
  // `log --json`'s elements), and last {"id", "state", "result"} (or "owner_alive": false).
  int64_t last_event = 0;
  int64_t dead_owner = 0;  // the pid of an owner found gone at the previous read, 0 if none
  while (true) {
    auto read = read_for_watch(opened->store, id, last_event);
    if (!read) {
      return fail(read.error(), "store " + opened->path);
    }
    for (const store::Event& event : read->events) {
      if (json_output) {
        cli::write(stdout, "{}\n", to_json_text(event_json(event)));
      } else {
        cli::write(stdout, "{} {:<9} {}\n", iso_time(event.at_ms), event.kind,
                   printable(event.message));
      }
      last_event = event.id;
    }
    if (!flush_to_reader(stdout)) return kExitOk;
    const store::Bisection& bisection = read->bisection;
    if (finished(bisection.state) || bisection.state == BisectionState::kPaused) {
      if (json_output) {
        json end{{"id", id}, {"state", store::to_string(bisection.state)}};
        end["result"] = bisection.result_json ? json::parse(*bisection.result_json, nullptr, false)
                                              : json(nullptr);
        cli::write(stdout, "{}\n", to_json_text(end));
        return kExitOk;
      }
      cli::write(stdout, "bisection {}: {}\n", id, store::to_string(bisection.state));
      print_result(bisection, false);
      return kExitOk;
    }
    if (owner_gone(opened->store, bisection)) {
      // Gone at two reads in a row: not an owner that finished between a read and the check.
      if (dead_owner == *bisection.owner_pid) {
        if (json_output) {
          cli::write(stdout, "{}\n",
                     to_json_text(json{{"id", id},
                                       {"state", "running"},
                                       {"owner_pid", dead_owner},
                                       {"owner_alive", false}}));
          cli::write(stderr,
                     "flakebisect: error: bisection {} is not being worked on: its process (pid "
                     "{}) is gone; continue with: flakebisect resume {}\n",
                     id, dead_owner, id);
          return kExitError;
        }
        return report_owner_gone(id, dead_owner);
      }
      dead_owner = *bisection.owner_pid;
      continue;
    }
    dead_owner = 0;
    std::this_thread::sleep_for(interval);
  }
}

int cancel_command(const GlobalOptions& global, int64_t id) {
  auto opened = open_store(global, /*create=*/false);
  if (!opened) {
    return fail(opened.error(), "store");
  }
  store::Store& store = opened->store;
  // Whether a process is still working on it: then that process removes the worktree when it
  // notices the cancel. Decided inside the write transaction, where no owner can move it on.
  bool owner_working = false;
  int64_t dead_owner = 0;  // the pid of a running owner found gone, 0 if none
  auto cancel = [&]() -> base::Status {
    FB_ASSIGN_OR_RETURN(store::Transaction txn, store.begin_write());
    FB_ASSIGN_OR_RETURN(store::Bisection bisection, store.get_bisection(id));
    if (finished(bisection.state)) {
      return base::make_error(base::ErrorCode::kInvalidInput, "bisection {} has already ended ({})",
                              id, store::to_string(bisection.state));
    }
    if (owner_gone(store, bisection)) {
      dead_owner = *bisection.owner_pid;
    } else {
      owner_working = bisection.state == BisectionState::kRunning;
    }
    FB_TRY(store.set_state(id, BisectionState::kCancelled, now_ms(), "cancelled by the user"));
    store::Event event;
    event.bisection_id = id;
    event.at_ms = now_ms();
    event.kind = "cancelled";
    event.message = fmt::format("cancelled by the user (pid {})", ::getpid());
    if (dead_owner != 0) {
      event.message += fmt::format("; its process (pid {}) was gone", dead_owner);
    }
    FB_TRY(store.append_event(event));
    return txn.commit();
  };
  if (auto cancelled = cancel(); !cancelled) {
    return fail(cancelled.error(), "store " + opened->path);
  }
  if (owner_working) {
    cli::write(stderr,
               "flakebisect: bisection {} cancelled; its process stops after the run or build "
               "under way (a kernel build can take minutes)\n",
               id);
    return kExitOk;
  }
  // Nobody holds its worktree (a running owner removes it when it notices the cancel).
  (void)git::Worktree::remove(engine::worktree_path(worktree_root(opened->path), id));
  cli::write(stderr, "flakebisect: bisection {} cancelled{}\n", id,
             dead_owner != 0 ? fmt::format("; its process (pid {}) was gone", dead_owner) : "");
  return kExitOk;
}

int daemon_command(const GlobalOptions& global, bool exit_when_idle, int jobs) {
  auto path = store_path(global);
  if (!path) {
    return fail(path.error(), "store");
  }
  base::SubprocessRunner processes;
  base::RealClock clock;
  daemon::DaemonOptions options;
  options.store_path = *path;
  options.worktree_root = worktree_root(*path);
  options.exit_when_idle = exit_when_idle;
  options.workers = jobs;
  if (global.signals != nullptr) {
    options.stop = &global.signals->stop_requested();
  }
  options.progress = [](const engine::Progress& progress) {
    if (!progress.milestone.empty()) {
      spdlog::info("bisection {}: {}", progress.bisection_id, printable(progress.milestone, 400));
    }
  };
  std::atomic<bool> failing{false};
  options.failing = &failing;
  auto served = daemon::serve_queue(
      options, clock,
      engine::standard_executors(processes, state_dir(*path), options.stop, &failing));
  if (!served) {
    return fail(served.error(), "store " + *path);
  }
  return kExitOk;
}

}  // namespace flakebisect::cli
