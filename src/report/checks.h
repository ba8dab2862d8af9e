// Checks: what a bisection did to confirm its verdict, in the words every report format uses.
// There are three, the first two in the order KernelCI prints them:
//  - the revert check: the bad commit is built with the culprit reverted and the reproducer runs
//    on it until the posterior says the revert fixes the failure (pass) or not (fail), or a run
//    cap ends it (inconclusive); the revert may also not apply (conflict) or not build
//    (build_failed). The report carries it as result.checks.revert.
//  - the verify check: when the culprit's first parent lies outside the candidate range (the
//    culprit is the first commit after a --good commit, or on a branch forked before one, so the
//    verdict rests on the user's word that the parent is good), the test runs at that parent until
//    the posterior says it behaves like a good commit (pass) or like a bad one (fail: the
//    regression is at or before it, older than the range, and the bisection ends inconclusive), or
//    a run cap or a skip ends it (inconclusive); the parent may also not build (build_failed). The
//    report carries it as result.checks.verify.
//  - the backport check (a fix bisection's only): the broken (bad) commit is built with the fix
//    cherry-picked onto it and run as the revert check runs a revert, with the same statuses (a
//    fail: the fix alone does not fix it there, it needs other commits too). The
//    report carries it as result.checks.backport, shaped like the revert check's with `picked`
//    (the fix) for `reverted`.
// docs/reports.md ("Checks") has them; text, email, bisect-log and HTML word them with
// describe_revert_check, describe_verify_check and describe_backport_check, so that they never
// disagree.
//
// Thread rules: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace flakebisect::report {

// The statuses a revert (or backport) check can have, as the JSON writes them.
inline constexpr std::string_view kRevertStatuses[] = {"pass", "fail", "inconclusive", "conflict",
                                                       "build_failed"};

bool known_revert_status(std::string_view status);

// The statuses a verify check can have, as the JSON writes them.
inline constexpr std::string_view kVerifyStatuses[] = {"pass", "fail", "inconclusive",
                                                       "build_failed"};

bool known_verify_status(std::string_view status);

// A plain object name: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
bool is_object_name(std::string_view sha);

// A check in words.
struct CheckWords {
  std::string status;   // one of kRevertStatuses (or kVerifyStatuses)
  std::string verdict;  // "PASS", "FAIL", "INCONCLUSIVE", "CONFLICT" or "BUILD FAILED"
  // One line of clean text (text.h one_line; not HTML-escaped), e.g. "0 of 24 runs failed with
  // 4576a2190ffa reverted on 1a2b3c4d5e6f; P(fixed) = 0.9961" (P(fixed) rounded down to four
  // decimals, so that a probability below 1 never reads 1.0000; "P(fixed) < 0.0001" below it), or
  // "4576a2190ffa does not revert cleanly on 1a2b3c4d5e6f: conflicts in fs/iomap/direct-io.c". Made
  // from the check's fields, never from its free-text `detail`; a field that is missing or of the
  // wrong type is worded generically ("the first bad commit", "runs not known") instead of shown.
  // A verify check's reads "0 of 21 runs failed at ddd417a89b93, the culprit's parent, outside
  // the range; P(good) = 0.9961" (a fail adds ": the regression is at or before it" before P),
  // or "ddd417a89b93, the culprit's parent, does not build"; a missing parent reads "the
  // culprit's parent". In a fix bisection (json_access.h fix_mode) the check ran the good end,
  // named the fix: "0 of 21 runs failed at ddd417a89b93, the fixed (good) end; P(good) = 0.9961",
  // a fail adding ": it fails too, the fix is newer than the range". A backport check's reads as
  // a revert check's with "cherry-picked onto" for "reverted on" ("0 of 24 runs failed with
  // 4576a2190ffa cherry-picked onto 1a2b3c4d5e6f; P(fixed) = 0.9961", "4576a2190ffa does not
  // cherry-pick cleanly onto 1a2b3c4d5e6f: conflicts in ...", "1a2b3c4d5e6f with 4576a2190ffa
  // cherry-picked does not build"), a fail adding ": the fix alone does not fix it there (it
  // needs other commits too)" before P; missing names read "the fix" and "the
  // broken commit".
  std::string explanation;
};
using RevertCheckWords = CheckWords;

// The report's result.checks.revert in words; nullopt when the document has none, or one whose
// status is not a known one (no format shows a check then). Any JSON is accepted.
std::optional<CheckWords> describe_revert_check(const nlohmann::json& report);

// The report's result.checks.verify in words, by the same rules.
std::optional<CheckWords> describe_verify_check(const nlohmann::json& report);

// The report's result.checks.backport in words, by the same rules (statuses: kRevertStatuses).
std::optional<CheckWords> describe_backport_check(const nlohmann::json& report);

}  // namespace flakebisect::report
