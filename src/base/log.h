// Logging setup for the entry points (cli, daemon).
//
// Library code logs through spdlog's default logger (spdlog::warn, spdlog::info, spdlog::debug) and
// never configures it; only a main() calls setup_logging(), once, before starting threads.
// Diagnostics go to stderr so that results on stdout stay machine-readable.
//
// Thread rules: setup_logging() is not thread-safe; logging afterwards is.
#pragma once

namespace flakebisect::base {

// Installs a stderr logger as spdlog's default. verbosity is the number of -v flags:
//   0: warnings and errors only, as "flakebisect: <msg>"
//   1: adds info messages, same terse form
//   2 or more: adds debug messages, each with time and level: "flakebisect: 12:00:01.234 debug:
//   <msg>"
// Negative verbosity is treated as 0.
void setup_logging(int verbosity);

}  // namespace flakebisect::base
