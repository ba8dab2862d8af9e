// The subcommands of the `flakebisect` binary. Each returns the process exit status: 0 on success
// (a bisection that ends found, inconclusive, not reproduced or paused has succeeded as a
// command), 1 when the tool failed, 2 for a usage error. Errors are printed once, here, as
//   flakebisect: error: <what> (<where>)
// Results go to stdout, diagnostics and progress to stderr.
//
// Thread rules: called from main() only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/records.h"

namespace flakebisect::daemon {
class SignalWatcher;
}

namespace flakebisect::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::string db;  // --db; empty = $FLAKEBISECT_DB or <data home>/flakebisect.db
  int verbosity = 0;
  daemon::SignalWatcher* signals = nullptr;  // set for the commands that run bisections
};

// `run` and `start`.
struct StartOptions {
  std::string repo = ".";
  std::vector<std::string> good;
  std::string bad;
  std::string config_path;
  std::optional<double> confidence;
  std::optional<uint32_t> max_runs;
  std::vector<std::string> command;  // after "--": the test command
  bool first_parent = false;         // --first-parent: sets range.first_parent
  bool find_fix = false;             // --find-fix: sets range.find_fix
  bool backport_check = false;       // --backport-check: sets decision.backport_check
  std::string backport_onto;         // --backport-onto: sets decision.backport_onto
  bool revert_check = false;         // --revert-check: sets decision.revert_check
  bool no_verify_check = false;      // --no-verify-check: clears decision.verify_check
  bool json = false;
  std::string name = "run";  // the command ("run" or "start"), whose --help a usage error names
};

int run_command(const GlobalOptions& global, const StartOptions& options);
// `run`, for a caller that goes on from there (the demo): the exit status, the bisection it
// created (none when it refused the request) and the state the engine left it in (none when the
// engine failed): only found, inconclusive and not reproduced have a result.
struct ForegroundRun {
  int exit_code = kExitError;
  std::optional<int64_t> id;
  std::optional<store::BisectionState> state;
};
ForegroundRun run_foreground(const GlobalOptions& global, const StartOptions& options);
int start_command(const GlobalOptions& global, const StartOptions& options);
int resume_command(const GlobalOptions& global, int64_t id, bool json);
// On a terminal (unless json or plain) `status` prints the live view's frame (cli/live_view.h) and
// `watch` redraws it in place; otherwise they print lines.
int status_command(const GlobalOptions& global, std::optional<int64_t> id, bool json, bool plain);
int list_command(const GlobalOptions& global, bool json);
int log_command(const GlobalOptions& global, int64_t id, bool json);
// `maintainers`: run the culprit's scripts/get_maintainer.pl for its maintainers (report/
// maintainers.h); `report --no-maintainers` turns it off.
int report_command(const GlobalOptions& global, int64_t id, const std::string& format,
                   const std::string& tree = "", bool maintainers = true);
// `watch --interval`: the seconds between polls, from kMinWatchIntervalS to kMaxWatchIntervalS
// (else a usage error).
inline constexpr double kMinWatchIntervalS = 0.05;
inline constexpr double kMaxWatchIntervalS = 3600;
// json_output: JSON Lines (each event, then the end state), never the live view.
int watch_command(const GlobalOptions& global, int64_t id, double interval_s, bool plain,
                  bool json_output);
int cancel_command(const GlobalOptions& global, int64_t id);
// jobs: bisections served at once (daemon::DaemonOptions::workers, 1 to 64).
int daemon_command(const GlobalOptions& global, bool exit_when_idle, int jobs);

}  // namespace flakebisect::cli
