// Durations as users write them in a config: "90s", "10m", "12h", "1h30m", "2d".
//
// A duration string is one or more <digits><unit> parts, units d (86400 s), h, m and s, each used
// at most once and largest first, with no spaces or signs. Whole seconds only: the timeouts and
// budgets they configure do not need finer resolution. Every duration is at most kMaxDuration so
// that adding it to a steady_clock time point (nanoseconds in an int64) can never overflow.
//
// Thread rules: pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"

namespace flakebisect::config {

inline constexpr std::chrono::seconds kMaxDuration = std::chrono::hours(24 * 365);

// Parses a duration string. Error (kInvalidInput) with a short reason, without repeating the
// input, e.g. "no unit after 90", "unknown unit 'x'; use d, h, m or s", "longer than 365d".
base::Result<std::chrono::seconds> parse_duration(std::string_view text);

// The inverse for display: 5400 s -> "1h30m", 0 s -> "0s". Negative values are not durations and
// come back as plain "-5s".
std::string format_duration(std::chrono::seconds duration);

}  // namespace flakebisect::config
