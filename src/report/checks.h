// Checks: what a bisection did to confirm its verdict, in the words every report format uses.
// Today there is one, KernelCI's revert check: the bad commit is built with the culprit reverted
// and the reproducer runs on it until the posterior says the revert fixes the failure (pass) or
// not (fail), or a run cap ends it (inconclusive); the revert may also not apply (conflict) or not
// build (build_failed). The report carries it as result.checks.revert (docs/reports.md,
// "Checks"); text, email, bisect-log and HTML word it with describe_revert_check, so that they
// never disagree.
//
// Thread rules: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace flakebisect::report {

// The statuses a revert check can have, as the JSON writes them.
inline constexpr std::string_view kRevertStatuses[] = {"pass", "fail", "inconclusive", "conflict",
                                                       "build_failed"};

bool known_revert_status(std::string_view status);

// A plain object name: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
bool is_object_name(std::string_view sha);

struct RevertCheckWords {
  std::string status;   // one of kRevertStatuses
  std::string verdict;  // "PASS", "FAIL", "INCONCLUSIVE", "CONFLICT" or "BUILD FAILED"
  // One line of clean text (text.h one_line; not HTML-escaped), e.g. "0 of 24 runs failed with
  // 4576a2190ffa reverted on 1a2b3c4d5e6f; P(fixed) = 0.9961" (P(fixed) rounded down to four
  // decimals, so that a probability below 1 never reads 1.0000; "P(fixed) < 0.0001" below it), or
  // "4576a2190ffa does not revert cleanly on 1a2b3c4d5e6f: conflicts in fs/iomap/direct-io.c". Made
  // from the check's fields, never from its free-text `detail`; a field that is missing or of the
  // wrong type is worded generically ("the first bad commit", "runs not known") instead of shown.
  std::string explanation;
};

// The report's result.checks.revert in words; nullopt when the document has none, or one whose
// status is not a known one (no format shows a check then). Any JSON is accepted.
std::optional<RevertCheckWords> describe_revert_check(const nlohmann::json& report);

}  // namespace flakebisect::report
