// Report: everything known about one bisection, collected from the store and the repository into
// one JSON document, the versioned schema of docs/report-schema.json (docs/reports.md explains
// every field). The other formats (email.h, bisect_log.h, the HTML page) are renderings of this
// document, so they can never disagree with it.
//
// Where the numbers come from: the posterior is rebuilt from every stored run with the bisection's
// test identity (engine/evidence.h, the way the engine rebuilds it), so commit probabilities,
// confidence, the credible set and the rate estimates describe the evidence at report time.
// result.status, result.reason and the culprit are what the bisection decided (its state and stored
// result), result.checks what the engine's checks on it found (the stored result's "checks",
// every member checked; checks.h); a running or paused bisection gets its current best guess in
// the credible set only.
//
// Robustness: the document is valid whatever the store and the repository hold. Text from git and
// consoles is made valid UTF-8 and capped (a subject at 1000 bytes, a console excerpt at 4 KiB);
// a commit message body never enters the report, only its trailers. When the repository cannot be
// read (moved, deleted, another machine) or the stored configuration no longer parses, the fields
// that need it are null and `warnings` says why; that is not an error.
//
// Errors: only a store that cannot be read, or no bisection with that id (kNotFound).
//
// Thread rules: build_report uses the Store (one thread at a time); the rest are pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/process.h"
#include "base/result.h"
#include "store/store.h"

namespace flakebisect::report {

inline constexpr std::string_view kSchemaName = "flakebisect-report";
inline constexpr int kSchemaVersion = 1;

// The tool's version (CMake's PROJECT_VERSION), as reports name it.
std::string_view tool_version();

struct ReportOptions {
  // When the report was made (unix ms), written as "generated_at"; 0 leaves it null (golden tests).
  int64_t generated_at_ms = 0;
  // Most lines of console output in one excerpt.
  size_t console_excerpt_lines = 40;
  // When set, the culprit's own scripts/get_maintainer.pl is run on it (maintainers.h) for
  // result.culprit.maintainers; unset leaves that null (golden tests, `report --no-maintainers`).
  base::ProcessRunner* process_runner = nullptr;
  // Where get_maintainer.pl's temporary files go; empty: TMPDIR, else /tmp.
  std::string temp_dir;
};

base::Result<nlohmann::json> build_report(store::Store& store, int64_t id,
                                          const ReportOptions& options = {});

// The JSON text of a report (or any document): valid UTF-8 whatever its strings hold. indent < 0
// gives one line.
std::string json_text(const nlohmann::json& document, int indent = 2);

// "2024-01-01T00:00:00Z" for unix milliseconds.
std::string iso_utc(int64_t unix_ms);

}  // namespace flakebisect::report
