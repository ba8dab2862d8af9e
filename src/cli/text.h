// Text helpers for what the CLI prints: untrusted commit text made safe for a terminal, times,
// and the human form of a bisection's result.
//
// Thread rules: pure functions.
#pragma once

#include <fmt/core.h>

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace flakebisect::cli {

// fmt::print without its exception: what a reader that went away (`run ... | head`, with SIGPIPE
// ignored: main.cc) does not read is dropped, and the command goes on.
void write_text(std::FILE* out, std::string_view text);
template <typename... T>
void write(std::FILE* out, fmt::format_string<T...> format, T&&... args) {
  write_text(out, fmt::format(format, std::forward<T>(args)...));
}

// Flushes `out`; false once its reader has gone (EPIPE), so that a loop that only prints (`watch`)
// ends instead of polling on for nobody.
bool flush_to_reader(std::FILE* out);

// What main returns: `code`, unless stdout could not take what was written to it (a full disk
// under `report > file`): then an error on stderr, and 1. A reader that went away is no error.
int checked_stdout(int code);

// `text` with control characters (C0 such as ESC, CR and NUL, DEL, and C1 such as U+009B) replaced
// by '?', so a hostile commit subject cannot move the cursor or rewrite the line (bidirectional
// overrides and line separators too: they could reorder it), each byte that is
// not part of valid UTF-8 (Latin-1 text, a cut sequence) replaced by U+FFFD, and cut to at most
// `max_chars` terminal columns (a character takes one, a CJK or other wide character two, a
// combining mark none; a cut ends in "...").
std::string printable(std::string_view text, size_t max_chars = std::string_view::npos);

// "2024-01-01T00:00:00Z" for unix milliseconds.
std::string iso_time(int64_t unix_ms);

// JSON text that is valid whatever bytes its strings hold (invalid UTF-8 becomes U+FFFD).
std::string to_json_text(const nlohmann::json& value, int indent = -1);

// "1 run", "2 runs".
std::string counted(uint64_t n, std::string_view noun);

// The human summary of a stored result (engine/bisector.cc writes it), several lines, each ending
// in '\n':
//   found: <sha> <subject>
//   confidence 0.9952 after 87 runs and 9 builds
std::string result_summary(const nlohmann::json& result);

}  // namespace flakebisect::cli
