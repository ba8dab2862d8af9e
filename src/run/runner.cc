#include "run/runner.h"

#include <fmt/core.h>

#include "base/failpoint.h"

namespace flakebisect::run {

store::RunOutcome classify_exit(const base::ProcessResult& result) {
  if (result.timed_out || result.no_output_timeout) {
    return store::RunOutcome::kHang;
  }
  if (result.term_signal != 0) {
    return store::RunOutcome::kInfra;
  }
  const int code = result.exit_code;
  if (code == 0) {
    return store::RunOutcome::kPass;
  }
  if (code == 125) {
    return store::RunOutcome::kSkip;
  }
  if (code >= 1 && code <= 127) {
    return store::RunOutcome::kFail;
  }
  return store::RunOutcome::kInfra;  // > 127 (or negative): git bisect run would abort
}

CommandRunner::CommandRunner(base::ProcessRunner& processes, CommandRunnerOptions options)
    : processes_(processes), options_(std::move(options)) {}

base::Status Runner::run_batch(const build::CommitCheckout& checkout, uint32_t first_index,
                              uint32_t count, const RunSink& sink) {
  for (uint32_t k = 0; k < count; ++k) {
    FB_ASSIGN_OR_RETURN(RunResult result, run(checkout, first_index + k));
    FB_ASSIGN_OR_RETURN(bool go_on, sink(result));
    if (!go_on) {
      break;
    }
  }
  return {};
}

base::Result<RunResult> CommandRunner::run(const build::CommitCheckout& checkout,
                                           uint32_t run_index) {
  if (options_.argv.empty()) {
    return base::Error("no test command configured", base::ErrorCode::kInvalidInput);
  }
  base::ProcessOptions options;
  options.argv = options_.argv;
  options.cwd = checkout.worktree;
  options.env_unset = build::repository_environment();
  options.env_set = build::command_environment(checkout, run_index);
  options.timeout = options_.timeout;
  options.no_output_timeout = options_.no_output_timeout;
  options.merge_stderr = true;
  options.output_cap = size_t{64} << 10;

  base::Result<base::ProcessResult> result = [&] {
    base::FailpointWhileChildRuns failpoint(base::kFailpointDuringRun);
    return processes_.run(options);
  }();
  if (!result) {
    base::Error error = std::move(result).error();
    const std::string& program = options.argv.front();
    // Only for the program itself missing ("<program>: not found"), not a missing #!
    // interpreter or loader, which installing it fixes.
    if (error.code() == base::ErrorCode::kNotFound && program.find('/') != std::string::npos &&
        program.front() != '/' && error.message() == program + ": not found") {
      // A relative path is the checkout's: say where it was looked for, and that resuming
      // cannot help unless the commit's build makes the file.
      error = base::Error(
          fmt::format("{} (looked up in the checkout {}); a bisection's test command cannot "
                      "change: if no commit or build makes it, cancel the bisection and start "
                      "again with a path that exists",
                      error.message(), checkout.worktree),
          error.code());
    }
    return std::move(error).context(
        fmt::format("test {} run {}", checkout.sha.substr(0, 12), run_index));
  }
  RunResult outcome;
  outcome.outcome = classify_exit(*result);
  outcome.detail = result->status_text(options);
  if (!result->out.empty()) {
    outcome.detail += "\n" + build::tail_of(result->out, kRunDetailTailBytes);
  }
  outcome.duration = result->duration;
  return outcome;
}

}  // namespace flakebisect::run
