// flakebisect: the command-line entry point. Parses the git-like subcommands (CLI11), sets up
// logging and signal handling, and hands over to cli/commands.h. docs/usage.md is the reference.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/text.h"
#include "cli/commands.h"
#include "cli/demo.h"
#include "cli/text.h"
#include "daemon/signal_watcher.h"
#include "report/report.h"

namespace {

using namespace flakebisect;

// Checked on the text, before CLI11 converts it: its conversion clamps a number past int64 to the
// largest one, which would then name a bisection the user never typed.
const CLI::Validator kBisectionId(
    [](std::string& text) -> std::string {
      int64_t value = 0;
      const char* end = text.data() + text.size();
      const auto [stop, error] = std::from_chars(text.data(), end, value);
      if (error != std::errc() || stop != end || value < 1) {
        return fmt::format("a bisection id is a whole number from 1 to {}, got '{}'",
                           std::numeric_limits<int64_t>::max(), cli::printable(text, 40));
      }
      return std::string();
    },
    "ID");

const CLI::Validator kNumber(
    [](std::string& text) -> std::string {
      double value = 0;
      const char* end = text.data() + text.size();
      const auto [stop, error] = std::from_chars(text.data(), end, value);
      if (text.empty() || error != std::errc() || stop != end) {
        return fmt::format("must be a number, got '{}'", cli::printable(text, 40));
      }
      return std::string();
    },
    "");

// For a count of at least 1 (uint32_t): CLI11 would say only "Could not convert" of -1, 1.5 or 1e3.
const CLI::Validator kCount(
    [](std::string& text) -> std::string {
      uint32_t value = 0;
      const char* end = text.data() + text.size();
      const auto [stop, error] = std::from_chars(text.data(), end, value);
      if (text.empty() || error != std::errc() || stop != end || value < 1) {
        return fmt::format("must be a whole number from 1 to {}, got '{}'",
                           std::numeric_limits<uint32_t>::max(), cli::printable(text, 40));
      }
      return std::string();
    },
    "");

const CLI::Validator kNonEmpty(
    [](std::string& text) -> std::string { return text.empty() ? "must not be empty" : ""; }, "");

// SQLite's in-memory database would lose every bisection when the command exits.
const CLI::Validator kStorePath(
    [](std::string& text) -> std::string {
      if (text.empty()) return "must not be empty";
      if (text == ":memory:") {
        return "':memory:' is SQLite's in-memory database, which would lose the bisection when "
               "the command exits; a store is a file (for one of that name, './:memory:')";
      }
      return "";
    },
    "");

void add_start_options(CLI::App* command, cli::StartOptions& options, double& confidence,
                       uint32_t& max_runs) {
  command->add_option("--repo", options.repo, "the git repository (default: the current directory)")
      ->check(kNonEmpty);
  command->add_option("--good", options.good, "a known good revision (repeatable)")
      ->required()
      ->allow_extra_args(false);
  command->add_option("--bad", options.bad, "the known bad revision")->required();
  command->add_option("--config", options.config_path, "configuration file (TOML)")
      ->check(kNonEmpty);
  command->add_flag("--first-parent", options.first_parent,
                    "only bad's first-parent chain is bisected: a merge is tested as one commit "
                    "(range.first_parent)");
  command->add_flag("--find-fix", options.find_fix,
                    "find the commit that fixed the failure: --bad is the older commit, where the "
                    "test fails, --good the newer one, where it passes (range.find_fix)");
  command->add_flag("--backport-check", options.backport_check,
                    "with --find-fix: once found, test bad with the fix cherry-picked onto it "
                    "(decision.backport_check)");
  command
      ->add_option("--backport-onto", options.backport_onto,
                   "with --find-fix: cherry-pick the fix onto this revision (a stable branch "
                   "that still fails) instead of bad; implies --backport-check "
                   "(decision.backport_onto)")
      ->check(kNonEmpty);
  command->add_flag("--revert-check", options.revert_check,
                    "once found, test bad with the culprit reverted, as KernelCI's revert check "
                    "(decision.revert_check)");
  command->add_flag("--no-verify-check", options.no_verify_check,
                    "name a culprit that is the first commit after a good one without running "
                    "that good commit (decision.verify_check = false)");
  command
      ->add_option("--confidence", confidence,
                   "be right this often: stop when one commit holds 1 - (1 - P) / 2 of the "
                   "probability (0.995 at 0.99)")
      ->check(kNumber);
  command
      ->add_option("--max-runs", max_runs,
                   "at most this many test runs in the search (decision.max_runs)")
      ->check(kCount);
  command->add_option("command", options.command,
                      "the test command, after '--' (overrides test.command)");
}

}  // namespace

int run_main(int argc, char** argv);

int main(int argc, char** argv) { return cli::checked_stdout(run_main(argc, argv)); }

namespace {

// CLI11's messages for a bad option value, in our words; anything else as it is. Parsed by hand:
// the value can be any length (a regex over it recursed once per character).
std::string plain_parse_error(const std::string& what) {
  const auto option_end = [&](size_t from) {
    size_t end = from;
    while (end < what.size() && (std::isalnum(static_cast<unsigned char>(what[end])) != 0 ||
                                 what[end] == '-' || what[end] == '_')) {
      ++end;
    }
    return end;
  };
  if (what.starts_with("-")) {
    const size_t end = option_end(0);
    const std::string option = what.substr(0, end);
    const std::string_view rest = std::string_view(what).substr(end);
    // "--jobs: Value abc not in range 1 to 64"
    constexpr std::string_view kValue = ": Value ";
    constexpr std::string_view kRange = " not in range ";
    if (rest.starts_with(kValue)) {
      const size_t range = rest.rfind(kRange);
      const size_t to = rest.rfind(" to ");
      if (range != std::string_view::npos && to != std::string_view::npos && to > range) {
        const std::string_view value = rest.substr(kValue.size(), range - kValue.size());
        const std::string_view low = rest.substr(range + kRange.size(), to - range - kRange.size());
        const std::string_view high = rest.substr(to + 4);
        return fmt::format("{}: must be a whole number from {} to {}, got '{}'", option, low, high,
                           cli::printable(value, 40));
      }
    }
    // "--bad: At Most 1 required but received 2"
    constexpr std::string_view kAtMostOne = ": At Most 1 required but received ";
    if (rest.starts_with(kAtMostOne)) {
      return fmt::format("{} takes one value, and was given {}{}", option,
                         cli::printable(rest.substr(kAtMostOne.size()), 20),
                         option == "--bad" ? " (a bisection has one bad commit)" : "");
    }
    return what;
  }
  // "Could not convert: --interval = abc"
  constexpr std::string_view kConvert = "Could not convert: ";
  if (what.starts_with(kConvert) && what.size() > kConvert.size() && what[kConvert.size()] == '-') {
    const size_t end = option_end(kConvert.size());
    if (std::string_view(what).substr(end).starts_with(" = ")) {
      return fmt::format("{}: '{}' is not a number",
                         what.substr(kConvert.size(), end - kConvert.size()),
                         cli::printable(what.substr(end + 3), 40));
    }
  }
  return what;
}

}  // namespace

int run_main(int argc, char** argv) {
  // A reader that goes away (`run ... | head`, a dropped ssh session's tee) must not kill a
  // bisection half way through a write: with SIGPIPE ignored the write fails with EPIPE and the
  // bisection goes on (SIGHUP still pauses it). Programs it starts get the default back
  // (base/process.cc).
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app("flakebisect: find the commit that introduced a flaky regression", "flakebisect");
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", "flakebisect " + std::string(report::tool_version()),
                       "print the version and exit");
  cli::GlobalOptions global;
  app.add_option("--db", global.db,
                 "the store (default: $FLAKEBISECT_DB, else <data home>/flakebisect.db)")
      ->check(kStorePath);
  app.add_flag("-v,--verbose", global.verbosity, "more detail on stderr (repeatable)");

  cli::StartOptions start_options;
  double confidence = 0;
  uint32_t max_runs = 0;
  CLI::App* run = app.add_subcommand("run", "bisect in the foreground");
  add_start_options(run, start_options, confidence, max_runs);
  run->add_flag("--json", start_options.json, "print the result as JSON");
  CLI::App* start = app.add_subcommand("start", "queue a bisection for the daemon");
  add_start_options(start, start_options, confidence, max_runs);

  int64_t id = 0;
  bool json = false;
  CLI::App* resume = app.add_subcommand("resume", "continue a paused bisection in the foreground");
  resume->add_option("id", id, "bisection id")->required()->check(kBisectionId);
  resume->add_flag("--json", json, "print the result as JSON");

  std::optional<int64_t> status_id;
  int64_t status_value = 0;
  CLI::App* status = app.add_subcommand("status", "show a bisection (default: the latest)");
  CLI::Option* status_id_option =
      status->add_option("id", status_value, "bisection id")->check(kBisectionId);
  status->add_flag("--json", json, "print JSON");
  bool plain = false;
  status->add_flag("--plain", plain, "print lines even on a terminal (no live view)");

  CLI::App* list = app.add_subcommand("list", "list all bisections");
  list->add_flag("--json", json, "print JSON");

  CLI::App* log = app.add_subcommand("log", "print a bisection's event log");
  log->add_option("id", id, "bisection id")->required()->check(kBisectionId);
  log->add_flag("--json", json, "print JSON");

  std::string format = "text";
  CLI::App* report = app.add_subcommand("report", "print a bisection's result");
  report->add_option("id", id, "bisection id")->required()->check(kBisectionId);
  report->add_option("--format", format,
                     "text, json (docs/report-schema.json), email or mail (for a mailing list), "
                     "bisect-log (for git bisect replay) or html (one page with plots); "
                     "default: text");
  bool report_json = false;
  report->add_flag("--json", report_json, "print JSON: the same as --format json");
  std::string tree;
  report->add_option("--tree", tree,
                     "the tree the email's subject names (\"mainline\", \"linux-next\"; "
                     "default: the repository's directory name)");
  bool no_maintainers = false;
  report->add_flag("--no-maintainers", no_maintainers,
                   "do not run the culprit's scripts/get_maintainer.pl (a kernel tree's) for the "
                   "maintainers and lists it names");

  double interval = 1.0;
  CLI::App* watch = app.add_subcommand("watch", "follow a bisection until it ends or pauses");
  watch->add_option("id", id, "bisection id")->required()->check(kBisectionId);
  watch->add_option("--interval", interval, "seconds between polls, 0.05 to 3600 (default: 1)");
  watch->add_flag("--plain", plain, "print event lines even on a terminal (no live view)");
  watch->add_flag("--json", json,
                  "one JSON object per line: each event as `log --json` lists it, then the end");

  CLI::App* cancel = app.add_subcommand("cancel", "cancel a bisection");
  cancel->add_option("id", id, "bisection id")->required()->check(kBisectionId);

  bool exit_when_idle = false;
  cli::DemoOptions demo_options;
  CLI::App* demo = app.add_subcommand(
      "demo", "bisect a planted race in a generated history, in QEMU guests (a few minutes)");
  demo->add_option("--dir", demo_options.dir,
                   "where to put the demo (default: <data home>/demo-<time>)");
  demo->add_option("--commits", demo_options.commits, "commits on the main line (default 300)")
      ->check(CLI::Range(20, 5000));
  CLI::App* daemon = app.add_subcommand("daemon", "serve the queue of bisections");
  daemon->add_flag("--exit-when-idle", exit_when_idle, "exit once nothing is left to do");
  int jobs = 1;
  daemon->add_option("-j,--jobs", jobs, "bisections to serve at once (default 1)")
      ->check(CLI::Range(1, 64));

  // The words that are no option (nor --db's value) before any "--": the first should be the
  // command. `flakebisect help [COMMAND]` is answered as git answers it.
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--db") {
      ++i;  // its value
    } else if (arg == "--") {
      break;
    } else if (!arg.empty() && arg.front() != '-') {
      words.emplace_back(arg);
    }
  }
  std::vector<std::string> commands;
  for (const CLI::App* command : app.get_subcommands({})) {
    commands.push_back(command->get_name());
  }
  // Names the word that should have been a command (`statuss`), with the nearest one.
  const auto unknown_command = [&](const std::string& word) {
    const std::string near = base::nearest_word(word, commands);
    cli::write(stderr,
               "flakebisect: error: '{}' is not a flakebisect command{}; the commands are: "
               "{}\nRun 'flakebisect --help' for usage.\n",
               cli::printable(word, 60),
               near.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", near),
               fmt::join(commands, ", "));
    return cli::kExitUsage;
  };
  if (!words.empty() && words.front() == "help") {
    if (words.size() == 1) {
      cli::write(stdout, "{}", app.help());
      return 0;
    }
    for (const CLI::App* command : app.get_subcommands({})) {
      if (command->get_name() == words[1]) {
        cli::write(stdout, "{}", command->help("flakebisect"));
        return 0;
      }
    }
    return unknown_command(words[1]);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) {
      return app.exit(error);  // --help
    }
    // `--good A B -- CMD`: B took the command's place, and CMD is the extra. An extra that looks
    // like an option is one this command does not have (`--store` for `--db`).
    std::string hint;
    if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
      const std::vector<CLI::App*> parsed = app.get_subcommands();
      const CLI::App* command = parsed.empty() ? nullptr : parsed.front();
      std::string unknown;
      for (const std::string& arg : app.remaining()) {
        if (arg.size() > 1 && arg.front() == '-' && arg != "--") {
          unknown = arg;
          break;
        }
      }
      if (!unknown.empty()) {
        hint = fmt::format(
            " ('{}' is not an option{})", cli::printable(unknown, 60),
            command == nullptr ? std::string() : fmt::format(" of {}", command->get_name()));
      } else if (run->parsed() || start->parsed()) {
        // The word that took the command's place is the one to name: `--good A B --bad C --
        // CMD` reports CMD as the extra, but B is the mistake.
        const auto dashes = std::find(argv + 1, argv + argc, std::string_view("--"));
        const std::vector<std::string>& taken = start_options.command;
        if (!taken.empty() && dashes + 1 < argv + argc && taken.front() != *(dashes + 1)) {
          // CLI11 names the command after "--" as the extra; the stray word is the one to name.
          cli::write(stderr,
                     "flakebisect: error: '{}' is neither an option nor an option's value: each "
                     "option takes one value, so each good commit needs its own --good (--good A "
                     "--good B)\nRun 'flakebisect {} --help' for usage.\n",
                     cli::printable(taken.front(), 60), run->parsed() ? "run" : "start");
          return cli::kExitUsage;
        } else {
          hint = " (each good commit needs its own --good: --good A --good B)";
        }
      }
    }
    const std::vector<CLI::App*> parsed = app.get_subcommands();
    // CLI11's own words for a bad value ("--jobs: Value abc not in range 1 to 64", "Could not
    // convert: --interval = abc", "--bad: At Most 1 required but received 2"), said plainly.
    const std::string said = plain_parse_error(error.what());
    if (parsed.empty() && !words.empty()) {
      return unknown_command(words.front());  // no command was recognised
    }
    cli::write(stderr, "flakebisect: error: {}{}\nRun 'flakebisect {}--help' for usage.\n", said,
               hint, parsed.empty() ? std::string() : parsed.front()->get_name() + " ");
    return cli::kExitUsage;
  }
  // The test command only after "--": otherwise `--good A B` would make B the test command.
  if ((run->parsed() || start->parsed()) && !start_options.command.empty() &&
      std::find(argv + 1, argv + argc, std::string_view("--")) == argv + argc) {
    cli::write(stderr,
               "flakebisect: error: '{}' is not an option: the test command goes after '--' "
               "(flakebisect {} --good G --bad B -- CMD ARGS...); give more good commits as "
               "--good A --good B\nRun 'flakebisect --help' for usage.\n",
               cli::printable(start_options.command.front(), 60), run->parsed() ? "run" : "start");
    return cli::kExitUsage;
  }
  base::setup_logging(global.verbosity);

  if (run->count("--confidence") + start->count("--confidence") > 0) {
    start_options.confidence = confidence;
  }
  if (run->count("--max-runs") + start->count("--max-runs") > 0) {
    start_options.max_runs = max_runs;
  }
  if (status_id_option->count() > 0) {
    status_id = status_value;
  }

  // Commands that run bisections turn SIGINT/SIGTERM into a pause. Started before any other thread
  // so every thread inherits the blocked mask.
  std::unique_ptr<daemon::SignalWatcher> signals;
  if (run->parsed() || resume->parsed() || daemon->parsed() || demo->parsed()) {
    auto started = daemon::SignalWatcher::start();
    if (!started) {
      cli::write(stderr, "flakebisect: error: {}\n", started.error().message());
      return cli::kExitError;
    }
    signals = std::move(started).value();
    global.signals = signals.get();
  }

  if (run->parsed()) {
    return cli::run_command(global, start_options);
  }
  if (start->parsed()) {
    start_options.name = "start";
    return cli::start_command(global, start_options);
  }
  if (resume->parsed()) {
    return cli::resume_command(global, id, json);
  }
  if (status->parsed()) {
    return cli::status_command(global, status_id, json, plain);
  }
  if (list->parsed()) {
    return cli::list_command(global, json);
  }
  if (log->parsed()) {
    return cli::log_command(global, id, json);
  }
  if (report->parsed()) {
    if (report_json) {
      // --json, as on the other read commands; with --format it must agree.
      if (report->count("--format") > 0 && format != "json") {
        cli::write(stderr,
                   "flakebisect: error: --json prints the JSON report; it cannot go with "
                   "--format {}\nRun 'flakebisect --help' for usage.\n",
                   cli::printable(format, 40));
        return cli::kExitUsage;
      }
      format = "json";
    }
    return cli::report_command(global, id, format, tree, !no_maintainers);
  }
  if (watch->parsed()) {
    return cli::watch_command(global, id, interval, plain, json);
  }
  if (cancel->parsed()) {
    return cli::cancel_command(global, id);
  }
  if (daemon->parsed()) {
    return cli::daemon_command(global, exit_when_idle, jobs);
  }
  if (demo->parsed()) {
    return cli::demo_command(global, demo_options);
  }
  return cli::kExitUsage;
}
