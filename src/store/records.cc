#include "store/records.h"

#include <array>
#include <utility>

namespace flakebisect::store {

namespace {

template <typename Enum, size_t N>
using Names = std::array<std::pair<Enum, std::string_view>, N>;

// The stored spellings. The schema's CHECK constraints list the same words; change both together
// (through a migration).
constexpr Names<BisectionState, 8> kStateNames = {{
    {BisectionState::kQueued, "queued"},
    {BisectionState::kRunning, "running"},
    {BisectionState::kPaused, "paused"},
    {BisectionState::kFound, "found"},
    {BisectionState::kInconclusive, "inconclusive"},
    {BisectionState::kNotReproduced, "not_reproduced"},
    {BisectionState::kCancelled, "cancelled"},
    {BisectionState::kFailed, "failed"},
}};

constexpr Names<BuildStatus, 3> kBuildStatusNames = {{
    {BuildStatus::kOk, "ok"},
    {BuildStatus::kFailed, "failed"},
    {BuildStatus::kSkip, "skip"},
}};

constexpr Names<RunOutcome, 7> kOutcomeNames = {{
    {RunOutcome::kPass, "pass"},
    {RunOutcome::kFail, "fail"},
    {RunOutcome::kCrash, "crash"},
    {RunOutcome::kHang, "hang"},
    {RunOutcome::kInfra, "infra"},
    {RunOutcome::kSkip, "skip"},
    {RunOutcome::kInterrupted, "interrupted"},
}};

template <typename Enum, size_t N>
std::string_view name_of(const Names<Enum, N>& names, Enum value) {
  for (const auto& [e, name] : names) {
    if (e == value) {
      return name;
    }
  }
  return "unknown";
}

template <typename Enum, size_t N>
base::Result<Enum> parse(const Names<Enum, N>& names, std::string_view text, const char* what) {
  for (const auto& [e, name] : names) {
    if (name == text) {
      return e;
    }
  }
  return base::make_error(base::ErrorCode::kInvalidInput, "unknown {} '{}'", what, text);
}

}  // namespace

std::string_view to_string(BisectionState state) { return name_of(kStateNames, state); }
std::string_view to_string(BuildStatus status) { return name_of(kBuildStatusNames, status); }
std::string_view to_string(RunOutcome outcome) { return name_of(kOutcomeNames, outcome); }

base::Result<BisectionState> parse_bisection_state(std::string_view text) {
  return parse(kStateNames, text, "bisection state");
}
base::Result<BuildStatus> parse_build_status(std::string_view text) {
  return parse(kBuildStatusNames, text, "build status");
}
base::Result<RunOutcome> parse_run_outcome(std::string_view text) {
  return parse(kOutcomeNames, text, "run outcome");
}

}  // namespace flakebisect::store
