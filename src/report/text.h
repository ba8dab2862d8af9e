// Text hygiene for reports: commit text, console logs and reasons are untrusted bytes (git does not
// require UTF-8, a console holds whatever the kernel printed), and every report format must stay
// well-formed whatever they hold: JSON needs valid UTF-8, a mail header must not gain a line, a
// BISECT_LOG comment must not become a `git bisect` command, a terminal must not receive escapes.
//
// Widths are counted in Unicode code points ("columns"), not in terminal cells: a CJK character
// counts one. That keeps the arithmetic independent of the reader's font tables.
//
// Thread rules: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flakebisect::report {

// `text` as valid UTF-8: every byte that does not start a well-formed sequence (overlong forms,
// surrogates and code points above U+10FFFF included) becomes U+FFFD. When the result would be
// longer than max_bytes it is cut at a character boundary and ends in "..." (the whole fits
// max_bytes).
std::string valid_utf8(std::string_view text, size_t max_bytes = std::string_view::npos);

// One line of plain text for a subject, a name or a comment: valid_utf8, terminal escape sequences
// dropped, every control character (C0, DEL, C1), line or paragraph separator and bidirectional
// override replaced by a space, runs of spaces collapsed and the ends trimmed; cut to max_columns
// code points (ending in "...").
std::string one_line(std::string_view text, size_t max_columns = std::string_view::npos);

// A block of lines for a console excerpt or a log tail: valid_utf8, terminal escape sequences
// dropped, CR LF and lone CR read as line ends, tabs expanded to 8-column stops, other control
// characters and bidirectional overrides replaced by '?', trailing spaces trimmed, each line cut
// to max_columns (ending in "..."). Lines are joined by '\n'; no trailing newline.
std::string clean_block(std::string_view text, size_t max_columns = std::string_view::npos);

// Line and paragraph separators and the bidirectional embeddings, overrides and isolates ("Trojan
// Source"): they can make text read differently from what it is. The functions above replace them.
bool is_layout_control(uint32_t code_point);

// Code points in valid UTF-8 `text`.
size_t columns(std::string_view text);

// `text` (one line) cut to at most `max_columns` code points; a cut one ends in "...".
std::string truncate_columns(std::string_view text, size_t max_columns);

// Greedy word wrap of one paragraph (spaces separate words) into lines of at most `width` columns;
// a word longer than `width` is split. Never returns an empty vector.
std::vector<std::string> wrap(std::string_view paragraph, size_t width);

// The last `lines` lines of `text` (no trailing empty line), keeping at most the last max_bytes.
std::string tail_lines(std::string_view text, size_t lines, size_t max_bytes);

}  // namespace flakebisect::report
