#include "build/builder.h"

#include <fmt/core.h>

#include <algorithm>
#include <csignal>
#include <cstring>

#include "base/failpoint.h"

namespace flakebisect::build {

namespace {

// Whether `line` is gcc's echo of a source line ("   12 |   code"), which may hold any text.
bool is_source_echo(std::string_view line) {
  size_t at = line.find_first_not_of(' ');
  if (at == std::string_view::npos || line[at] < '0' || line[at] > '9') return false;
  at = line.find_first_not_of("0123456789", at);
  at = at == std::string_view::npos ? at : line.find_first_not_of(' ', at);
  return at != std::string_view::npos && line[at] == '|';
}

// Calls `visit` with each line of `output` (without trailing blanks) but gcc's echoes of source
// lines, until it returns a value; returns that value.
template <typename Visit>
std::optional<std::string> first_line_of(std::string_view output, Visit visit) {
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    std::string_view line = output.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (is_source_echo(line)) continue;
    if (std::optional<std::string> found = visit(line)) return found;
  }
  return std::nullopt;
}

// Whether `line` is make's report of a failed recipe: "make: *** [...] ..." or
// "make[2]: *** [...] ...".
bool is_make_failure(std::string_view line) {
  if (!line.starts_with("make")) return false;
  line.remove_prefix(4);
  if (line.starts_with('[')) {
    const size_t close = line.find(']');
    if (close == std::string_view::npos) return false;
    line.remove_prefix(close + 1);
  }
  return line.starts_with(": *** [");
}

// `line`, shortened for a message.
std::string_view quoted(std::string_view line) { return line.substr(0, 160); }

}  // namespace

std::optional<std::string> disk_full_in(std::string_view output) {
  // Only a diagnostic of a failed write, as perror, gcc, ld and make print one ("<what>: <strerror
  // text>" at the end of the line), as as prints one (the text in quotes), as Python prints one
  // ("[Errno 28] <text>: '<path>'") and as Perl's die does ("<what>: <text> at <file> line N.").
  // The words elsewhere in a line (a message that mentions them, gcc echoing a source line that
  // holds them) are not.
  return first_line_of(output, [](std::string_view line) -> std::optional<std::string> {
    for (std::string_view text : {"No space left on device", "Disk quota exceeded"}) {
      const size_t at = line.find(text);
      if (at == std::string_view::npos || at < 2) continue;
      const std::string_view before = line.substr(0, at);
      const std::string_view after = line.substr(at + text.size());
      // Inside a C string literal (a source line a compiler echoed without gcc's "N |" gutter).
      if (std::count(before.begin(), before.end(), '"') % 2 == 1) continue;
      const bool quoted = before.ends_with(": '");
      const bool follows = before.ends_with(": ") || before.ends_with("] ") || quoted;
      const bool ends = after.empty() || (quoted && after == "'") || after == "." ||
                        after.starts_with(": ") || after.starts_with(" at ");
      if (!follows || !ends) continue;
      if (line.size() > 200) line = text;
      return fmt::format("the disk is full (\"{}\")", line);
    }
    return std::nullopt;
  });
}

std::optional<std::string> killed_in(const base::ProcessResult& result, std::string_view output) {
  constexpr std::string_view kCompilerKilled = "Killed signal terminated program";
  // Its own timeout killed it: the commit's skip, as before. A build that dies of another signal
  // every time (SIGSEGV, SIGABRT) is the commit's too: only SIGKILL is the OOM killer's.
  if (result.timed_out || result.no_output_timeout) return std::nullopt;
  if (result.term_signal == SIGKILL) {
    return fmt::format(
        "it was killed by signal {} ({}), not failed by itself: out of memory? "
        "(dmesg says what the OOM killer did); resume builds it again",
        result.term_signal, ::strsignal(result.term_signal));
  }
  if (const size_t at = output.find(kCompilerKilled); at != std::string_view::npos) {
    const size_t end = output.find('\n', at);
    return fmt::format(
        "a compiler was killed (\"{}\"): out of memory? (dmesg says what the OOM "
        "killer did); resume builds it again",
        output.substr(at, std::min<size_t>(end - at, 80)));
  }
  // What a SIGKILL further down says: gcc's driver for the linker ("collect2: fatal error: ld
  // terminated with signal 9 [Killed]"), and make for a recipe whose command was killed (its
  // shell killed: "... Killed"; the shell's command killed, as ld or pahole under
  // link-vmlinux.sh: exit 137, 128 + SIGKILL, "... Error 137"). A commit's own error exits 1 or 2.
  return first_line_of(output, [](std::string_view line) -> std::optional<std::string> {
    const bool linker = line.ends_with("terminated with signal 9 [Killed]");
    const bool recipe =
        is_make_failure(line) && (line.ends_with("] Killed") || line.ends_with("] Error 137"));
    if (!linker && !recipe) return std::nullopt;
    return fmt::format(
        "{} was killed (\"{}\"): out of memory? (dmesg says what the OOM killer did); resume "
        "builds it again",
        linker ? "a linker" : "a command under make", quoted(line));
  });
}

std::optional<std::string> fork_failed_in(std::string_view output) {
  // As make, bash, gcc and friends say it ("make: vfork: Resource temporarily unavailable",
  // "bash: fork: retry: Resource temporarily unavailable", "gcc: fatal error: cannot execute
  // 'cc1': posix_spawn: Cannot allocate memory"), and as dash does ("/bin/sh: 1: Cannot fork").
  return first_line_of(output, [](std::string_view line) -> std::optional<std::string> {
    bool failed = line.ends_with(": Cannot fork");
    for (std::string_view call : {"fork: ", "fork: retry: ", "posix_spawn: ", "clone: "}) {
      for (std::string_view why : {"Resource temporarily unavailable", "Cannot allocate memory"}) {
        failed = failed || line.ends_with(std::string(call) + std::string(why));
      }
    }
    if (!failed) return std::nullopt;
    return fmt::format(
        "the machine could not start a process (\"{}\"): too many processes (ulimit -u) or out "
        "of memory? resume builds it again",
        quoted(line));
  });
}

CommandBuilder::CommandBuilder(base::ProcessRunner& processes, std::vector<std::string> argv,
                               std::chrono::milliseconds timeout)
    : processes_(processes), argv_(std::move(argv)), timeout_(timeout) {}

base::Result<BuildOutcome> CommandBuilder::build(const CommitCheckout& checkout) {
  if (argv_.empty()) {
    return BuildOutcome{};
  }
  base::ProcessOptions options;
  options.argv = argv_;
  options.cwd = checkout.worktree;
  options.env_unset = repository_environment();
  options.env_set = command_environment(checkout, std::nullopt);
  options.timeout = timeout_;
  options.merge_stderr = true;
  options.output_cap = size_t{64} << 10;

  base::Result<base::ProcessResult> result = [&] {
    base::FailpointWhileChildRuns failpoint(base::kFailpointDuringBuild);
    return processes_.run(options);
  }();
  if (!result) {
    return std::move(result).error().context(fmt::format("build {}", checkout.sha.substr(0, 12)));
  }
  BuildOutcome outcome;
  outcome.ok = result->succeeded();
  outcome.detail = outcome.ok ? "" : result->status_text(options);
  outcome.log_tail = tail_of(result->out, kBuildLogTailBytes);
  if (!outcome.ok) {
    if (auto full = disk_full_in(result->out)) {
      return base::make_error(base::ErrorCode::kFailed,
                              "build {} in {}: {}: {}; free some space, then resume",
                              checkout.sha.substr(0, 12), checkout.worktree, outcome.detail, *full);
    }
    std::optional<std::string> problem = killed_in(*result, result->out);
    if (!problem) problem = fork_failed_in(result->out);
    if (problem) {
      return base::make_error(base::ErrorCode::kFailed, "build {} in {}: {}: {}",
                              checkout.sha.substr(0, 12), checkout.worktree, outcome.detail,
                              *problem);
    }
  }
  outcome.duration = result->duration;
  return outcome;
}

}  // namespace flakebisect::build
