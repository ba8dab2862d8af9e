// HTML report: `flakebisect report --format html`, one self-contained page rendered from the JSON
// report (report.h, schema "flakebisect-report" version 1).
//
// The page needs nothing outside itself: inline CSS, inline SVG, no scripts, no fonts, no images
// (a Content-Security-Policy meta tag forbids them, so even an escaping bug could not run code). It
// shows the result (status, culprit, confidence, the revert, verify and backport checks when they
// ran, theta and eps), an SVG plot of the posterior over the candidate commits with the runs per
// commit split by outcome underneath, the culprit highlighted and SVG <title> tooltips, a
// per-commit table, the decision log with the most probable commit's probability over time, and the
// crashes with their console excerpts.
//
// Input is treated as untrusted: commit subjects and console text come from the repository and the
// kernel. Every string is cleaned with text.h (one_line for fields, clean_block for <pre> blocks:
// valid UTF-8, no terminal escapes or control characters, cut to a bounded length) and then
// HTML-escaped; missing, null or wrongly typed fields render as "n/a" instead of failing. Large
// inputs stay bounded: beyond kMaxPlotBars commits, neighbouring commits share a bar, and the
// tables and crash list are capped.
//
// Thread rules: pure function of its argument.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace flakebisect::report {

// Most bars per plot panel; with more candidate commits, each bar covers a run of consecutive ones.
inline constexpr size_t kMaxPlotBars = 400;

// Renders the report as one HTML5 document (UTF-8). Never throws on the report's content.
std::string render_html(const nlohmann::json& report);

}  // namespace flakebisect::report
