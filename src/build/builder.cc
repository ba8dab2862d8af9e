#include "build/builder.h"

#include <fmt/core.h>

#include <algorithm>

#include "base/failpoint.h"

namespace flakebisect::build {

std::optional<std::string> disk_full_in(std::string_view output) {
  // Only a diagnostic: a line that ends "<what>: <strerror text>", as perror, gcc, ld and make
  // print one. The words inside a line (gcc echoing a source line with that string) are not.
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    std::string_view line = output.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    for (std::string_view text : {": No space left on device", ": Disk quota exceeded"}) {
      if (line.size() < text.size() || line.substr(line.size() - text.size()) != text) continue;
      if (line.size() > 200) line = line.substr(line.size() - text.size() + 2);
      return fmt::format("the disk is full (\"{}\")", line);
    }
  }
  return std::nullopt;
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
  }
  outcome.duration = result->duration;
  return outcome;
}

}  // namespace flakebisect::build
