#include "cli/text.h"

#include <fmt/chrono.h>
#include <fmt/core.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "report/text.h"

namespace flakebisect::cli {
namespace {

std::string string_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) {
    return "";
  }
  return object[key].get<std::string>();
}

double number_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number()) {
    return 0;
  }
  return object[key].get<double>();
}

// U+FFFD, which stands for a byte that is not part of valid UTF-8.
constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// The length of the valid UTF-8 encoding of one code point at the start of `text` (non-empty),
// with the code point; 0 when the first byte does not start one: a stray continuation byte, a
// truncated sequence, an overlong form, a surrogate, or beyond U+10FFFF.
size_t utf8_sequence(std::string_view text, char32_t& code_point) {
  const auto lead = static_cast<unsigned char>(text[0]);
  size_t length = 0;
  char32_t min = 0;
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    min = 0x80;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    min = 0x800;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    min = 0x10000;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) {
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte & 0xC0) != 0x80) {
      return 0;
    }
    code_point = (code_point << 6) | (byte & 0x3F);
  }
  if (code_point < min || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// The terminal columns a printable code point takes: 2 for East Asian wide and fullwidth
// characters and emoji, 0 for combining marks and zero-width characters, 1 for the rest. The
// common ranges only (no locale, so the same in every environment); a rare character counted 1
// that takes 2 makes a line one column wider, never a wrapped mess.
size_t column_width(char32_t c) {
  struct Range {
    char32_t first, last;
  };
  static constexpr Range kZero[] = {{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD},
                                    {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F},
                                    {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}};
  static constexpr Range kWide[] = {
      {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
      {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xA960, 0xA97F},   {0xAC00, 0xD7A3},
      {0xF900, 0xFAFF},   {0xFE30, 0xFE4F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},
      {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F900, 0x1F9FF}, {0x20000, 0x3FFFD}};
  const auto in = [c](const auto& ranges) {
    return std::any_of(std::begin(ranges), std::end(ranges),
                       [c](const Range& r) { return c >= r.first && c <= r.last; });
  };
  if (in(kZero)) {
    return 0;
  }
  return in(kWide) ? 2 : 1;
}

// The checks a stored result can have, in the order the engine runs them (a fix bisection's
// backport check last).
constexpr const char* kCheckNames[] = {"verify", "revert", "backport"};

}  // namespace

std::string printable(std::string_view text, size_t max_chars) {
  // Columns kept before the "..." that marks a cut, and the bytes they take in `out`.
  const size_t kept = max_chars >= 3 ? max_chars - 3 : 0;
  size_t kept_bytes = 0;
  std::string out;
  size_t columns = 0;
  for (size_t at = 0; at < text.size();) {
    char32_t code_point = 0;
    const size_t length = utf8_sequence(text.substr(at), code_point);
    std::string_view piece;
    size_t width = 1;
    if (length == 0) {
      piece = kReplacementCharacter;
    } else if (code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F) ||
               report::is_layout_control(code_point)) {
      // C0, DEL and C1 (0x9B is a one-character CSI on some terminals), and what would reorder
      // the rest of the terminal's line (a right-to-left override in a commit subject).
      piece = "?";
    } else {
      piece = text.substr(at, length);
      width = column_width(code_point);
    }
    if (columns + width > max_chars) {
      out.resize(kept_bytes);
      out.append(std::min<size_t>(max_chars, 3), '.');
      return out;
    }
    out.append(piece);
    at += length == 0 ? 1 : length;
    columns += width;
    if (columns <= kept) {
      kept_bytes = out.size();
    }
  }
  return out;
}

std::string iso_time(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(seconds));
}

std::string to_json_text(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// The errno of the first write to stdout that failed (0: none did).
int stdout_error = 0;

void note_failure(std::FILE* out) {
  if (out == stdout && stdout_error == 0) stdout_error = errno != 0 ? errno : EIO;
}

}  // namespace

void write_text(std::FILE* out, std::string_view text) {
  errno = 0;
  if (std::fwrite(text.data(), 1, text.size(), out) != text.size()) note_failure(out);
}

bool flush_to_reader(std::FILE* out) {
  errno = 0;
  if (std::fflush(out) != 0) {
    const int error = errno;
    note_failure(out);
    if (error == EPIPE) return false;
    if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR) std::clearerr(out);
    return true;
  }
  // Nothing was left to write, so nothing found the reader gone: ask the pipe (its write end
  // reports POLLERR once no reader is left; a terminal or a file never does).
  pollfd fd{::fileno(out), 0, 0};
  return !(::poll(&fd, 1, 0) == 1 && (fd.revents & POLLERR) != 0);
}

int checked_stdout(int code) {
  errno = 0;
  if (std::fflush(stdout) != 0) note_failure(stdout);
  if (std::ferror(stdout) == 0 && stdout_error == 0) return code;
  if (stdout_error == EPIPE) return code;
  const int error = stdout_error;
  std::fprintf(stderr, "flakebisect: error: writing standard output: %s\n",
               error != 0 ? std::strerror(error) : "write error");
  return code == 0 ? 1 : code;
}

std::string counted(uint64_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

std::string result_summary(const nlohmann::json& result) {
  const std::string status = string_field(result, "status");
  std::string out;
  const auto runs = static_cast<uint64_t>(number_field(result, "runs"));
  const auto builds = static_cast<uint64_t>(number_field(result, "builds"));
  // The checks' runs are the bisection's too; say how many, so that "after N runs" does not
  // read as the search's alone. own_runs: the runs this bisection made at the check's commit,
  // whatever their outcome (the check's runs and fails also count another bisection's there).
  std::string checked;
  uint64_t check_runs = 0;
  int checks_with_runs = 0;
  std::string only;
  for (const char* name : kCheckNames) {
    if (result.contains("checks") && result["checks"].is_object() &&
        result["checks"].contains(name) && result["checks"][name].is_object()) {
      const auto own = static_cast<uint64_t>(number_field(result["checks"][name], "own_runs"));
      if (own > 0) {
        check_runs += own;
        ++checks_with_runs;
        only = name;
      }
    }
  }
  if (check_runs > 0) {
    checked = checks_with_runs == 1 ? fmt::format(" ({} of them the {} check's)", check_runs, only)
                                    : fmt::format(" ({} of them the checks')", check_runs);
  }
  // Runs of other bisections of the same test count too ("after 0 runs" alone would puzzle).
  const auto evidence = static_cast<uint64_t>(number_field(result, "evidence_runs"));
  const std::string reused =
      evidence > runs
          ? fmt::format("counting {} in all, with those of other bisections of this test\n",
                        counted(evidence, "run"))
          : "";
  // A fix bisection (range.find_fix) names the fix: the first commit on the chain that passes.
  const bool fix = string_field(result, "mode") == "fix";
  // A result stored before evidence_failures was counted is read as having seen one.
  const bool failure_seen =
      !result.contains("evidence_failures") || number_field(result, "evidence_failures") > 0;
  if (status == "found" && result.contains("culprit") && result["culprit"].is_object()) {
    out += fmt::format("found{}: {} {}\n", fix ? " the fix" : "",
                       string_field(result["culprit"], "sha"),
                       printable(string_field(result["culprit"], "subject"), 200));
    if (fix && result.contains("last_broken") && result["last_broken"].is_object()) {
      out += fmt::format("last broken: {} {}\n", string_field(result["last_broken"], "sha"),
                         printable(string_field(result["last_broken"], "subject"), 200));
    }
    out += fmt::format("confidence {:.4f} after {}{} and {}\n", number_field(result, "confidence"),
                       counted(runs, "run"), checked, counted(builds, "build"));
    out += reused;
  } else {
    out += fmt::format("{}: {}\n", status.empty() ? "unknown" : status,
                       printable(string_field(result, "reason"), 500));
    // Not reproduced, or no failure seen yet: the posterior over the culprit and the rate only
    // restate the prior (the report leaves them out too).
    if (status != "not_reproduced" && !failure_seen) {
      out += "no run has failed yet, so the culprit and the failure rate are still unknown\n";
    }
    if (status != "not_reproduced" && failure_seen && result.contains("credible_set") &&
        result["credible_set"].is_array() && !result["credible_set"].empty()) {
      out += fmt::format("the {} is one of (holding {:.2f} of the probability):\n",
                         fix ? "first fixed commit" : "first bad commit",
                         number_field(result, "credible_mass"));
      for (const auto& entry : result["credible_set"]) {
        out += fmt::format("  {} {:.4f} {}\n", string_field(entry, "sha"),
                           number_field(entry, "probability"),
                           printable(string_field(entry, "subject"), 100));
      }
      const auto size = static_cast<size_t>(number_field(result, "credible_set_size"));
      if (size > result["credible_set"].size()) {
        out += fmt::format("  ... and {} more\n", size - result["credible_set"].size());
      }
    }
    out += fmt::format("{}{} and {}\n", counted(runs, "run"), checked, counted(builds, "build"));
    out += reused;
  }
  if (status != "not_reproduced" && failure_seen && result.contains("theta") &&
      result["theta"].is_object()) {
    const auto& theta = result["theta"];
    out += fmt::format("failure rate on {} commits: {:.3f} (90% interval {:.3f} to {:.3f})\n",
                       fix ? "broken" : "bad", number_field(theta, "mean"),
                       number_field(theta, "low"), number_field(theta, "high"));
  }
  for (const char* name : kCheckNames) {
    if (!result.contains("checks") || !result["checks"].is_object() ||
        !result["checks"].contains(name) || !result["checks"][name].is_object()) {
      continue;
    }
    // KernelCI's spelling: "revert: PASS".
    const auto& check = result["checks"][name];
    std::string verdict = string_field(check, "status");
    if (verdict.empty()) {
      continue;  // not a check this version wrote
    }
    std::replace(verdict.begin(), verdict.end(), '_', ' ');
    std::transform(verdict.begin(), verdict.end(), verdict.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    out += fmt::format("{} check: {} ({})\n", name, printable(verdict, 20),
                       printable(string_field(check, "detail"), 300));
  }
  return out;
}

}  // namespace flakebisect::cli
