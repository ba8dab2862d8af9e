#include "build/builder.h"

#include <fmt/core.h>

#include <algorithm>

#include "base/failpoint.h"

namespace flakebisect::build {

std::optional<std::string> disk_full_in(std::string_view output) {
  for (std::string_view text : {"No space left on device", "Disk quota exceeded"}) {
    const size_t at = output.find(text);
    if (at == std::string_view::npos) continue;
    const size_t begin = output.rfind('\n', at);
    const size_t start = begin == std::string_view::npos ? 0 : begin + 1;
    const size_t end = std::min(output.find('\n', at), output.size());
    std::string_view line = output.substr(start, end - start);
    if (line.size() > 200) line = output.substr(at, std::min(text.size(), end - at));
    return fmt::format("the disk is full (\"{}\")", line);
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
