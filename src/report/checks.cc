#include "report/checks.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <vector>

#include "report/json_access.h"
#include "report/text.h"

namespace flakebisect::report {
namespace {

using nlohmann::json;

// Conflicting paths named in the explanation; the rest are counted.
constexpr size_t kNamedConflicts = 3;
constexpr size_t kPathColumns = 100;

// The first 12 digits of an object name; "" for anything else (so no garbage is shown).
std::string short_name(const json& object, const char* key) {
  const std::string sha = str(object, key);
  return is_object_name(sha) ? sha.substr(0, 12) : std::string();
}

// A non-negative count, or nullopt.
std::optional<uint64_t> count_of(const json& object, const char* key) {
  const json& value = member(object, key);
  if (!value.is_number()) return std::nullopt;
  const double number = value.get<double>();
  if (!(number >= 0) || number > 9e15) return std::nullopt;
  return static_cast<uint64_t>(number);
}

// "P(fixed) = 0.9961" (or "P(good) = ..."), rounded down to four decimals with the tolerance
// email.cc's percent() uses (0.9961 stays 0.9961 although p * 10000 may be 9960.999... in binary,
// but never reads above p itself).
std::string probability_words(std::string_view name, double p) {
  if (!(p > 0)) return fmt::format("{} = 0.0000", name);
  if (p >= 1) return fmt::format("{} = 1.0000", name);
  double units = std::floor(p * 10000 + 1e-9);
  if (units / 10000 > p) units -= 1;
  if (units < 1) return fmt::format("{} < 0.0001", name);
  return fmt::format("{} = {:.4f}", name, units / 10000);
}

// "; P(fixed) = 0.9961" from the check's `key`; "" when it is no number.
std::string probability_of(const json& check, const char* key, std::string_view name) {
  const json& p = member(check, key);
  if (!p.is_number() || !std::isfinite(p.get<double>())) return "";
  return "; " + probability_words(name, std::clamp(p.get<double>(), 0.0, 1.0));
}

// Why an inconclusive check ended undecided, from the stored runs at its commit (all outcomes):
// "; a run there was a skip", "; undecided after 1000 runs there", or "".
std::string undecided_why(const json& check) {
  const json& outcomes = member(check, "outcomes");
  const auto made = count_of(outcomes, "runs");
  if (count_of(outcomes, "skips").value_or(0) > 0) return "; a run there was a skip";
  if (made) return fmt::format("; undecided after {} runs there", *made);
  return "";
}

}  // namespace

bool known_revert_status(std::string_view status) {
  return std::find(std::begin(kRevertStatuses), std::end(kRevertStatuses), status) !=
         std::end(kRevertStatuses);
}

bool known_verify_status(std::string_view status) {
  return std::find(std::begin(kVerifyStatuses), std::end(kVerifyStatuses), status) !=
         std::end(kVerifyStatuses);
}

bool is_object_name(std::string_view sha) {
  return (sha.size() == 40 || sha.size() == 64) && std::all_of(sha.begin(), sha.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

namespace {

// How a check that applies one commit onto the bad one (the revert and the backport check) words
// it: "<applied> <participle> <preposition> <onto>".
struct AppliedCheck {
  const char* key;              // in result.checks
  const char* applied_key;      // the commit applied: "reverted" or "picked"
  const char* applied_unknown;  // what stands in for it when it is missing
  const char* onto_unknown;     // what stands in for `onto` when it is missing
  const char* infinitive;       // "revert"
  const char* participle;       // "reverted"
  const char* preposition;      // "on"
  const char* fail_note;        // added to a fail before P(fixed); "" for none
};

constexpr AppliedCheck kRevertCheck{
    "revert", "reverted", "the first bad commit", "the bad commit", "revert", "reverted", "on", ""};
constexpr AppliedCheck kBackportCheck{
    "backport",
    "picked",
    "the fix",
    "the broken commit",
    "cherry-pick",
    "cherry-picked",
    "onto",
    ": the fix alone does not fix it there (it needs other commits too)"};

std::optional<CheckWords> describe_applied_check(const json& report, const AppliedCheck& kind) {
  const json& check = member(member(member(report, "result"), "checks"), kind.key);
  const std::string status = str(check, "status");
  if (!check.is_object() || !known_revert_status(status)) return std::nullopt;
  std::string applied = short_name(check, kind.applied_key);
  std::string onto = short_name(check, "onto");
  if (applied.empty()) applied = kind.applied_unknown;
  if (onto.empty()) onto = kind.onto_unknown;
  // "4576a2190ffa reverted on 1a2b3c4d5e6f"
  const std::string with =
      fmt::format("{} {} {} {}", applied, kind.participle, kind.preposition, onto);

  CheckWords words;
  words.status = status;
  if (status == "conflict") {
    words.verdict = "CONFLICT";
    words.explanation = fmt::format("{} does not {} cleanly {} {}", applied, kind.infinitive,
                                    kind.preposition, onto);
    std::vector<std::string> paths;
    const json& conflicts = member(check, "conflicts");
    if (conflicts.is_array()) {
      for (const json& path : conflicts) {
        if (path.is_string()) paths.push_back(one_line(path.get<std::string>(), kPathColumns));
      }
    }
    // The document keeps the first 50 paths; conflict_count counts all of them.
    const uint64_t total =
        std::max<uint64_t>(count_of(check, "conflict_count").value_or(0), paths.size());
    if (!paths.empty()) {
      words.explanation += ": conflicts in ";
      const size_t named = std::min(paths.size(), kNamedConflicts);
      for (size_t i = 0; i < named; ++i) {
        if (i > 0) words.explanation += i + 1 == named && total == named ? " and " : ", ";
        words.explanation += paths[i];
      }
      if (total > named) words.explanation += fmt::format(" and {} more", total - named);
    }
    return words;
  }
  if (status == "build_failed") {
    words.verdict = "BUILD FAILED";
    words.explanation = fmt::format("{} with {} {} does not build", onto, applied, kind.participle);
    return words;
  }
  words.verdict = status == "pass" ? "PASS" : status == "fail" ? "FAIL" : "INCONCLUSIVE";
  if (status == "inconclusive" && !member(check, "commit").is_string()) {
    // No commit was made (a commit without a parent): there are no runs to count.
    words.explanation =
        fmt::format("{} could not be {} {} {}", applied, kind.participle, kind.preposition, onto);
    return words;
  }
  const auto runs = count_of(check, "runs");
  const auto fails = count_of(check, "fails");
  words.explanation = runs && fails && *fails <= *runs
                          ? fmt::format("{} of {} runs failed with {}", *fails, *runs, with)
                          : with + ", run counts not known";
  if (status == "fail") words.explanation += kind.fail_note;
  words.explanation += probability_of(check, "probability_fixed", "P(fixed)");
  if (status == "inconclusive") words.explanation += undecided_why(check);
  return words;
}

}  // namespace

std::optional<CheckWords> describe_revert_check(const json& report) {
  return describe_applied_check(report, kRevertCheck);
}

std::optional<CheckWords> describe_backport_check(const json& report) {
  return describe_applied_check(report, kBackportCheck);
}

std::optional<CheckWords> describe_verify_check(const json& report) {
  const json& check = member(member(member(report, "result"), "checks"), "verify");
  const std::string status = str(check, "status");
  if (!check.is_object() || !known_verify_status(status)) return std::nullopt;
  const std::string parent = short_name(check, "commit");
  // A fix bisection's verify check runs the good end itself, when that is the fix named.
  const bool fix = fix_mode(report);
  const std::string what = fix ? "the fixed (good) end" : "the culprit's parent";
  const std::string where = parent.empty() ? what : parent + ", " + what;

  CheckWords words;
  words.status = status;
  if (status == "build_failed") {
    words.verdict = "BUILD FAILED";
    words.explanation = where + (parent.empty() ? " does not build" : ", does not build");
    return words;
  }
  words.verdict = status == "pass" ? "PASS" : status == "fail" ? "FAIL" : "INCONCLUSIVE";
  const auto runs = count_of(check, "runs");
  const auto fails = count_of(check, "fails");
  const std::string_view outside = fix ? "" : ", outside the range";
  words.explanation =
      runs && fails && *fails <= *runs
          ? fmt::format("{} of {} runs failed at {}{}", *fails, *runs, where, outside)
          : fmt::format("{}{}, run counts not known", where, outside);
  if (status == "fail") {
    words.explanation += fix ? ": it fails too, the fix is newer than the range"
                             : ": the regression is at or before it";
  }
  words.explanation += probability_of(check, "probability_good", "P(good)");
  if (status == "inconclusive") words.explanation += undecided_why(check);
  return words;
}

}  // namespace flakebisect::report
