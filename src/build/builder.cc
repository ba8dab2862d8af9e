#include "build/builder.h"

#include <fmt/core.h>

#include "base/failpoint.h"

namespace flakebisect::build {

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
  outcome.duration = result->duration;
  return outcome;
}

}  // namespace flakebisect::build
