// Helpers for the integration tests: run the real `flakebisect` binary (FLAKEBISECT_BIN, set by
// CMake) with argv only, and read what it stored through the store API.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "base/process.h"
#include "engine/git_history.h"
#include "store/store.h"

namespace flakebisect::testing {

struct CliResult {
  int exit_code = -1;
  int term_signal = 0;
  std::string out;
  std::string err;
};

using Env = std::vector<std::pair<std::string, std::string>>;

inline base::ProcessOptions cli_options(const std::vector<std::string>& args, const Env& env,
                                        const std::optional<fs::path>& cwd) {
  base::ProcessOptions options;
  options.argv = {FLAKEBISECT_BIN};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  if (cwd) options.cwd = cwd->native();
  // Keep the user's store and git configuration out of the tests.
  options.env_unset = {"FLAKEBISECT_DB", "FLAKEBISECT_FAILPOINT"};
  options.env_set = {{"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", "/dev/null"}};
  options.env_set.insert(options.env_set.end(), env.begin(), env.end());
  options.timeout = std::chrono::seconds(120);
  options.output_cap = size_t{16} << 20;
  return options;
}

// What a finished `flakebisect` process did.
inline CliResult cli_result(const base::Result<base::ProcessResult>& result) {
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message());
  CliResult cli;
  if (!result) return cli;
  cli.exit_code = result->exit_code;
  cli.term_signal = result->term_signal;
  cli.out = result->out;
  cli.err = result->err;
  return cli;
}

// Runs `flakebisect args...` to completion.
inline CliResult flakebisect(const std::vector<std::string>& args, const Env& env = {},
                             const std::optional<fs::path>& cwd = std::nullopt) {
  return cli_result(base::run_process(cli_options(args, env, cwd)));
}

// Starts `flakebisect args...` in the background, its stdout and stderr going to `log`.
inline base::Result<base::ChildProcess> start_cli(const std::vector<std::string>& args,
                                                  const fs::path& log, const Env& env = {}) {
  base::ProcessOptions options = cli_options(args, env, std::nullopt);
  options.timeout = std::chrono::milliseconds(0);
  options.stdout_path = log.native();
  options.merge_stderr = true;
  return base::ChildProcess::start(options);
}

inline std::string describe(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.term_signal) +
         "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

inline nlohmann::json parse_json(const std::string& text) {
  auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(value.is_discarded()) << "not JSON:\n" << text;
  return value;
}

// The rows a bisection recorded, as (sha, run_index, outcome).
using Row = std::tuple<std::string, int64_t, std::string>;
inline std::vector<Row> stored_rows(const fs::path& db, int64_t id) {
  auto store = store::Store::open(db.native());
  EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message());
  std::vector<Row> rows;
  if (!store) return rows;
  auto runs = store->runs_for_bisection(id);
  EXPECT_TRUE(runs.has_value());
  if (!runs) return rows;
  for (const auto& run : *runs) {
    rows.emplace_back(run.sha, run.run_index, std::string(store::to_string(run.outcome)));
  }
  return rows;
}

inline std::string stored_state(const fs::path& db, int64_t id) {
  auto store = store::Store::open(db.native());
  if (!store) return "no store: " + store.error().message();
  auto bisection = store->get_bisection(id);
  if (!bisection) return "no bisection: " + bisection.error().message();
  return std::string(store::to_string(bisection->state));
}

// Waits up to `limit` for `done()`.
template <typename Fn>
bool wait_for(Fn done, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// True if no process has this pid (or only a zombie nobody reaps).
inline bool process_gone(pid_t pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos || paren + 2 >= stat.size()) return true;
  return stat[paren + 2] == 'Z' || stat[paren + 2] == 'X';
}

// The lines in `file` (0 when it does not exist yet): the runs a Scenario's script has started.
inline size_t line_count(const fs::path& file) {
  std::istringstream lines(read_text(file));
  size_t count = 0;
  for (std::string line; std::getline(lines, line);) ++count;
  return count;
}

// Every regular file under `root` whose name is `name`.
inline std::vector<fs::path> find_files_named(const fs::path& root, const std::string& name) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path().filename() == name) found.push_back(it->path());
  }
  return found;
}

// A repository of `commits` commits, a flaky test script (failure_percent on bad commits) that
// also appends its pid to <dir>/pids and sleeps while <dir>/slow exists, and a store path.
struct Scenario {
  History history;
  fs::path script;
  fs::path db;
  fs::path pids;
  fs::path slow;
};

inline Scenario make_scenario(const fs::path& dir, const HistoryOptions& options,
                              int failure_percent) {
  Scenario s;
  s.history = make_history(dir / "repo", options);
  s.pids = dir / "pids";
  s.slow = dir / "slow";
  s.script = dir / "flaky-test.sh";
  s.db = dir / "state" / "flakebisect.db";
  // Paths are single-quoted for the script; the tests' directories hold no single quote.
  const std::string extra =
      "echo $$ >> '" + s.pids.native() + "'\n[ -e '" + s.slow.native() + "' ] && sleep 0.3\n";
  write_text(s.script, flaky_script(failure_percent, extra), /*executable=*/true);
  return s;
}

inline std::vector<std::string> run_args(const Scenario& s) {
  return {"--db",   s.db.native(),  "run",   "--repo",     s.history.repo.native(),
          "--good", s.history.root, "--bad", s.history.tip};
}

}  // namespace flakebisect::testing
