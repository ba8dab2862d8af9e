#include "report/email.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>
#include <vector>

#include "config/config.h"
#include "config/sha256.h"
#include "report/checks.h"
#include "report/json_access.h"
#include "report/text.h"

namespace flakebisect::report {
namespace {

using nlohmann::json;

constexpr size_t kHeaderColumns = 78;
constexpr size_t kMaxNameColumns = 100;
constexpr size_t kMaxSubjectColumns = 200;
constexpr size_t kMaxCc = 32;
constexpr size_t kFieldColumns = 14;  // "repository:  " and friends
constexpr size_t kMaxTableRows = 200;
constexpr size_t kMaxSetLines = 20;
constexpr size_t kMaxFailureTitles = 10;
constexpr size_t kConsoleColumns = 200;
// Bytes of UTF-8 per encoded-word: base64 of 42 bytes is 56 characters, and with "=?UTF-8?B?" and
// "?=" the word is 68 characters: within RFC 2047's 75, and "Subject: " plus one word fits 78.
constexpr size_t kEncodedWordBytes = 42;

// ---- JSON access that never throws (json_access.h has the rest) ------------------------------

uint64_t count(const json& object, const char* key) {
  const double value = num(object, key);
  return value > 0 ? static_cast<uint64_t>(value) : 0;
}

// "<sentence>: <reason>." (a stored reason is a phrase: "cancelled by the user"), or "<sentence>."
// without one; a reason that ends its own sentence keeps its mark.
std::string with_reason(std::string sentence, const std::string& reason) {
  if (!reason.empty()) sentence += ": " + reason;
  if (sentence.back() != '.' && sentence.back() != '!' && sentence.back() != '?') sentence += '.';
  return sentence;
}

std::string sha12(const json& object, const char* key = "sha") {
  return one_line(str(object, key)).substr(0, 12);
}

// ---- headers
// -------------------------------------------------------------------------------------

bool ascii_printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

std::string base64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t chunk = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (i + 1 < data.size())
      chunk |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    if (i + 2 < data.size()) chunk |= static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < data.size() ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

// RFC 2047 B encoded-words for valid UTF-8 `text`, separated by spaces (which decoders drop
// between adjacent encoded-words), each word holding whole characters.
std::string encoded_words(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.size(), start + kEncodedWordBytes);
    while (end < text.size() && end > start &&
           (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += ' ';
    out += "=?UTF-8?B?" + base64(text.substr(start, end - start)) + "?=";
    start = end;
  }
  return out;
}

// Text that may go into a header as it is: printable ASCII that cannot be read as an encoded-word.
bool literal_header_text(std::string_view text) {
  return ascii_printable(text) && text.find("=?") == std::string_view::npos;
}

// Appends the words of `text` to `line`, each after a space, first moving `line` to `out` (a
// folded header line) where the next word would take it past 78 columns. While `fresh` (nothing
// on `line` yet but the header's name), the first word stays on it whatever its length.
void fold_words(std::string& out, std::string& line, std::string_view text, bool fresh) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view word = text.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    if (!fresh && line.size() + 1 + word.size() > kHeaderColumns) {
      out += line + "\n";
      line.clear();
    }
    line += ' ';
    line.append(word);
    fresh = false;
  }
}

// Folds "Name: value" at spaces so that lines stay within 78 columns where the words allow.
std::string fold(std::string_view name, std::string_view value) {
  std::string out;
  std::string line = std::string(name) + ":";
  fold_words(out, line, value, /*fresh=*/true);
  return out + line + "\n";
}

bool atext(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool valid_address(std::string_view address) {
  const size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || address.size() > 254 ||
      address.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return false;
  }
  if (!std::all_of(local.begin(), local.end(), [](char c) { return atext(c) || c == '.'; })) {
    return false;
  }
  if (domain.empty()) return false;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-')) {
        return false;
      }
    }
    start = end + 1;
  }
  return true;
}

std::string lowercase(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

std::string trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return std::string(text);
}

// ---- numbers in words
// ----------------------------------------------------------------------------

// "30.1%", rounded down to a tenth of a percent (0.79999 is "79.9%", not "80.0%", which would
// cross a word's threshold), with more decimals near 100% so that a probability below 1 never
// reads "100%".
std::string percent(double p) {
  if (!(p > 0)) return "0%";
  if (p >= 1) return "100%";
  const double value = p * 100;
  // The tolerance keeps 0.57 at 57.0% although p * 1000 is 569.99999999999994 in binary; but
  // never past p itself (0.7999999999996 must not read 80.0%, a threshold it is below).
  double tenths = std::floor(p * 1000 + 1e-9);
  if (tenths / 1000 > p) tenths -= 1;
  if (tenths < 1) return "<0.1%";
  if (value < 99.95) return fmt::format("{:.1f}%", tenths / 10);
  for (int decimals = 2; decimals <= 6; ++decimals) {
    const double scale = std::pow(10.0, decimals);
    const double down = std::floor(value * scale) / scale;
    if (down < 100) return fmt::format("{:.{}f}%", down, decimals);
  }
  return ">99.9999%";
}

std::string duration(int64_t ms) {
  if (ms < 1000) return fmt::format("{} ms", std::max<int64_t>(ms, 0));
  // Rounded to the nearest second, as the HTML page rounds (1976 ms is 2s, not 1s).
  const int64_t s = (ms + 500) / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {:02}s", s / 60, s % 60);
  return fmt::format("{}h {:02}m", s / 3600, s % 3600 / 60);
}

// "h:mm:ss" for a decision's elapsed time.
std::string clock_time(int64_t ms) {
  const int64_t s = std::max<int64_t>(ms, 0) / 1000;
  return fmt::format("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60);
}

// An argv for reading: words with spaces or shell specials in single quotes.
std::string command_line(const json& argv) {
  std::string out;
  if (!argv.is_array()) return out;
  for (const json& arg : argv) {
    if (!arg.is_string()) continue;
    std::string word = one_line(arg.get<std::string>(), kMaxSubjectColumns);
    const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
             std::string_view("-_./:=,+@%{}").find(c) != std::string_view::npos ||
             static_cast<unsigned char>(c) >= 0x80;
    });
    if (!plain) {
      std::string quoted = "'";
      for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      word = quoted + "'";
    }
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

// "2023-11-14T22:13:20+01:00" as git's "2023-11-14 22:13:20 +0100".
// The number written in text[at, at + count), or -1 when one of them is not a digit.
int digits_at(std::string_view text, size_t at, size_t count) {
  int value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::string git_date(const std::string& iso) {
  // git show's default form, "Tue Nov 14 22:40:20 2023 +0000", in the author's own time zone.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto digits = [&](size_t at, size_t count) { return digits_at(iso, at, count); };
  if (iso.size() != 25 || iso[4] != '-' || iso[7] != '-' || iso[10] != 'T' || iso[13] != ':' ||
      iso[16] != ':' || (iso[19] != '+' && iso[19] != '-') || iso[22] != ':') {
    return one_line(iso, 40);
  }
  const int year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (year < 0 || digits(11, 2) < 0 || digits(14, 2) < 0 || digits(17, 2) < 0 ||
      digits(20, 2) < 0 || digits(23, 2) < 0 || !date.ok()) {
    return one_line(iso, 40);
  }
  const std::chrono::weekday weekday{std::chrono::sys_days(date)};
  return fmt::format("{} {} {} {} {} {}{}", kDays[weekday.c_encoding()], kMonths[month - 1], day,
                     iso.substr(11, 8), iso.substr(0, 4), iso.substr(19, 3), iso.substr(23, 2));
}

// A time as report.cc's iso_utc writes it ("2024-01-01T00:00:00Z"); nullopt for anything else.
std::optional<std::chrono::sys_seconds> utc_time(std::string_view iso) {
  if (iso.size() != 20 || iso[4] != '-' || iso[7] != '-' || iso[10] != 'T' || iso[13] != ':' ||
      iso[16] != ':' || iso[19] != 'Z') {
    return std::nullopt;
  }
  const auto field = [&](size_t at, size_t count) { return digits_at(iso, at, count); };
  const int year = field(0, 4), month = field(5, 2), day = field(8, 2);
  const int hour = field(11, 2), minute = field(14, 2), second = field(17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 59) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second);
}

// RFC 5322's date-time in UTC: "Mon, 01 Jan 2024 00:00:00 +0000".
std::string rfc5322_date(std::chrono::sys_seconds time) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto days = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date(days);
  const std::chrono::hh_mm_ss clock(time - days);
  return fmt::format(
      "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kDays[std::chrono::weekday(days).c_encoding()],
      static_cast<unsigned>(date.day()), kMonths[static_cast<unsigned>(date.month()) - 1],
      static_cast<int>(date.year()), clock.hours().count(), clock.minutes().count(),
      clock.seconds().count());
}

// "20240101T000000Z": the time in a form that may stand in a Message-ID's dot-atom.
std::string compact_utc(std::chrono::sys_seconds time) {
  const auto days = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date(days);
  const std::chrono::hh_mm_ss clock(time - days);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     clock.hours().count(), clock.minutes().count(), clock.seconds().count());
}

// The strings of a JSON array; other items are skipped.
std::vector<std::string> string_items(const json& array) {
  std::vector<std::string> out;
  if (array.is_array()) {
    for (const json& item : array) {
      if (item.is_string()) out.push_back(item.get<std::string>());
    }
  }
  return out;
}

// A reproducer.program as a reader knows it: "bundled:dio-check" is flakebisect's own checker,
// named "dio-check" (its source: qemu/reproducer/).
constexpr std::string_view kBundled = "bundled:";
std::string reader_program(const std::string& program) {
  return program.starts_with(kBundled) ? program.substr(kBundled.size()) : program;
}

// The name a subject line gives the test: xfstests' tests ("generic/418"), else the reproducer's
// program, else the test command's, without their directories.
std::string test_name(const json& report) {
  const json& parameters = member(report, "parameters");
  const json& xfstests = member(parameters, "xfstests");
  if (xfstests.is_object()) {
    std::string tests;
    for (const std::string& test : string_items(member(xfstests, "tests"))) {
      tests += (tests.empty() ? "" : " ") + test;
    }
    tests = one_line(tests, 60);
    return tests.empty() ? "xfstests" : tests;
  }
  std::string program = reader_program(str(member(parameters, "reproducer"), "program"));
  if (program.empty()) {
    const json& command = member(member(parameters, "test"), "command");
    if (command.is_array() && !command.empty() && command[0].is_string()) {
      program = command[0].get<std::string>();
    }
  }
  const size_t slash = program.rfind('/');
  if (slash != std::string::npos && slash + 1 < program.size()) program = program.substr(slash + 1);
  program = one_line(program, 60);
  return program.empty() ? "test" : program;
}

// The last component of a path, without a trailing "/" or ".git": "/src/linux.git" and
// "/src/linux/.git" are "linux".
std::string base_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  // A repository named by its git directory ("/src/linux/.git") is the directory above it.
  if (path.ends_with("/.git")) path.resize(path.size() - 5);
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash + 1 < path.size()) path = path.substr(slash + 1);
  if (path.size() > 4 && path.ends_with(".git")) path.resize(path.size() - 4);
  return path;
}

// KernelCI's "<tree>/<branch>": the tree the options name, else the repository's directory; the
// branch is the bad revision as typed ("linux-6.1.y", "v6.2-rc1"), without "refs/heads/" and the
// like, or the bad commit's SHA where the bisection did not keep it or it was typed as a SHA. A
// fix bisection names its good (fixed) commit instead: the newer one, on the branch with the fix.
std::string tree_and_branch(const json& report, const EmailOptions& options) {
  const json& bisection = member(report, "bisection");
  std::string tree = options.tree;
  if (tree.empty()) {
    // The directory's name, in the characters --tree allows ("r'e$po" is "r-e-po").
    for (const char c : base_name(str(bisection, "repo"))) {
      const bool allowed = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' ||
                           c == '_' || c == '+' || c == '-';
      if (allowed) {
        tree += c;
      } else if (!tree.empty() && tree.back() != '-') {
        tree += '-';
      }
    }
    while (!tree.empty() && tree.back() == '-') tree.pop_back();
  }
  tree = one_line(tree, 40);
  if (tree.empty() || tree == "/") tree = "tree";
  const json& goods = member(bisection, "good");
  const json& bad = fix_mode(report) && goods.is_array() && !goods.empty()
                        ? goods.front()
                        : member(bisection, "bad");
  std::string branch = revision_name(bad);
  for (std::string_view prefix : {"refs/heads/", "refs/tags/", "refs/remotes/", "refs/"}) {
    if (branch.starts_with(prefix) && branch.size() > prefix.size()) {
      branch.erase(0, prefix.size());
      break;
    }
  }
  if (branch.empty()) branch = str(bad, "sha").substr(0, 12);
  return tree + "/" + one_line(branch, 60);
}

// What the test ran on, in kvm-xfstests' words where it can: "qemu-x86_64 ext4/1k" (the QEMU
// binary's architecture and the scratch filesystem with its block size), else "host".
std::string target_name(const json& report) {
  const json& parameters = member(report, "parameters");
  const json& qemu = member(parameters, "qemu");
  if (!qemu.is_object()) return "host";
  std::string target = "qemu";
  const std::string binary = base_name(str(qemu, "binary"));
  if (binary.starts_with("qemu-system-") && binary.size() > 12) {
    target += "-" + binary.substr(12);
  }
  const json& scratch = member(parameters, "scratch");
  const std::string fstype = str(scratch, "fstype");
  if (!fstype.empty()) {
    std::vector<std::string> mkfs = string_items(member(scratch, "mkfs"));
    const json& xfstests = member(parameters, "xfstests");
    if (xfstests.is_object()) {
      // MKFS_OPTIONS is one string that xfstests splits at blanks.
      mkfs.clear();
      std::istringstream words(str(xfstests, "mkfs_options"));
      for (std::string word; words >> word;) mkfs.push_back(word);
    }
    target += " " + config::filesystem_config_name(fstype, mkfs);
  }
  return one_line(target, 60);
}

// ---- the body
// ------------------------------------------------------------------------------------

class Body {
 public:
  // One blank line, never two in a row and never at the start.
  void blank() {
    if (!lines_.empty() && !lines_.back().empty()) lines_.emplace_back();
  }
  // A line we composed; cut to the body width as a last resort.
  void line(std::string_view text) { lines_.push_back(truncate_columns(text, kEmailBodyColumns)); }
  void verbatim(std::string_view text) { lines_.emplace_back(text); }
  void paragraph(std::string_view text, std::string_view indent = "") {
    for (const std::string& line : wrap(text, kEmailBodyColumns - columns(indent))) {
      lines_.push_back(std::string(indent) + line);
    }
  }
  // "key:         value", the value wrapped under itself.
  void field(std::string_view key, std::string_view value) {
    std::string label = std::string(key) + ":";
    label.resize(std::max(label.size() + 1, kFieldColumns), ' ');
    const std::string indent(columns(label), ' ');
    bool first = true;
    for (const std::string& line : wrap(value, kEmailBodyColumns - columns(indent))) {
      lines_.push_back((first ? label : indent) + line);
      first = false;
    }
  }
  // `first` then the words of `text`, wrapped at the body width; continuation lines start with
  // `indent` spaces.
  void hanging(std::string_view first, size_t indent, std::string_view text) {
    std::string line(first);
    bool empty = true;  // nothing of `text` on this line yet
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find(' ', start);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view word = text.substr(start, end - start);
      start = end + 1;
      if (word.empty()) continue;
      if (!empty && columns(line) + 1 + columns(word) > kEmailBodyColumns) {
        lines_.push_back(truncate_columns(line, kEmailBodyColumns));
        line = std::string(indent, ' ');
        empty = true;
      }
      if (!empty) line += ' ';
      line.append(word);
      empty = false;
    }
    lines_.push_back(truncate_columns(line, kEmailBodyColumns));
  }
  std::string text() const {
    std::string out;
    size_t end = lines_.size();
    while (end > 0 && lines_[end - 1].empty()) --end;
    for (size_t i = 0; i < end; ++i) {
      std::string line = lines_[i];
      // "-- " is the signature separator; every other line loses trailing spaces.
      if (line != "-- ") {
        while (!line.empty() && line.back() == ' ') line.pop_back();
      }
      // A lone "." ends the message for `sendmail -t` without -i, and mbox tools take a line
      // starting "From " for the next message: such lines (console output, say) get a leading
      // space, as RFC 3676 space-stuffing does.
      if (line == "." || line.starts_with("From ")) line.insert(0, " ");
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::string> lines_;
};

// Whether a run has counted as a failure: until one has, the most likely culprit and the failure
// rates are the prior's (every commit alike), not anything seen. A document without the count
// (made before it was added) is read by its evidence runs, as it was then.
bool failure_seen(const json& report) {
  const json& totals = member(report, "totals");
  if (totals.is_object() && totals.contains("evidence_failures")) {
    return count(totals, "evidence_failures") > 0;
  }
  return count(totals, "evidence_runs") > 0;
}

void headline(Body& body, const json& report) {
  const json& result = member(report, "result");
  const json& bisection = member(report, "bisection");
  const std::string status = str(result, "status");
  const json& culprit = member(result, "culprit");
  const std::string reason = one_line(str(result, "reason"), 1000);
  // A fix bisection names the first commit that passes: "first fixed commit", as git bisect
  // says with the terms broken and fixed.
  const bool fix = fix_mode(report);
  const std::string first = fix ? "first fixed commit" : "first bad commit";
  if (culprit.is_object()) {
    body.line(fix ? "flakebisect has bisected the fix of a flaky failure to:"
                  : "flakebisect has bisected a flaky failure to:");
    body.blank();
    body.line("commit " + one_line(str(culprit, "sha"), 64));
    const json& author = member(culprit, "author");
    // Verbatim like git's own "Author:" line, so that it can be searched for and copied.
    if (author.is_object()) {
      body.verbatim("Author: " + one_line(str(author, "name")) + " <" +
                    one_line(str(author, "email")) + ">");
    }
    if (!str(culprit, "date").empty()) body.line("Date:   " + git_date(str(culprit, "date")));
    body.blank();
    body.paragraph(one_line(str(culprit, "subject"), kMaxSubjectColumns), "    ");
    body.blank();
    body.paragraph("Confidence: " + confidence_in_words(num(result, "confidence")) +
                   " that this is the " + first + ".");
  } else if (status == "inconclusive") {
    body.paragraph((fix ? "flakebisect could not bisect the fix of this flaky failure to one commit"
                        : "flakebisect could not bisect this flaky failure to one commit") +
                   (reason.empty() ? std::string(".") : ": " + reason));
    const json& set = member(result, "credible_set");
    if (set.is_array() && !set.empty()) {
      body.blank();
      body.paragraph(fmt::format("The {} could be any of ({} of the probability):", first,
                                 percent(num(result, "credible_mass"))));
      size_t shown = 0;
      for (const json& entry : set) {
        if (shown == kMaxSetLines) break;
        body.line(fmt::format("  {:<12}  {:>6}  {}", sha12(entry),
                              percent(num(entry, "probability")),
                              one_line(str(entry, "subject"), kMaxSubjectColumns)));
        ++shown;
      }
      // The document lists at most 50 members; credible_set_size is the whole set's.
      const uint64_t size = std::max<uint64_t>(count(result, "credible_set_size"), set.size());
      if (size > shown) body.line(fmt::format("  ... and {} more", size - shown));
    }
  } else if (status == "not_reproduced") {
    body.paragraph(with_reason("flakebisect could not reproduce the failure", reason));
  } else {
    std::string text = with_reason(fmt::format("Bisection {} is {}", count(bisection, "id"),
                                               one_line(status.empty() ? "unknown" : status, 40)),
                                   reason);
    const json& best = member(result, "most_likely");
    if (best.is_object() && failure_seen(report)) {
      text += fmt::format(" The most likely {} so far is {} (\"{}\") at {}.", first, sha12(best),
                          one_line(str(best, "subject"), kMaxSubjectColumns),
                          percent(num(best, "probability")));
    }
    body.paragraph(text);
  }

  // Without a failure that counted, theta and eps are the prior's: no rate was seen yet.
  const json& theta = member(result, "theta");
  const json& eps = member(result, "eps");
  if (theta.is_object() && status != "not_reproduced" && status != "queued" &&
      failure_seen(report)) {
    body.blank();
    std::string rates =
        fmt::format("The failure shows in about {} of runs on {} commits (90% interval {} to {})",
                    percent(num(theta, "mean")), fix ? "broken" : "bad", percent(num(theta, "low")),
                    percent(num(theta, "high")));
    if (eps.is_object()) {
      rates += fmt::format(" and in about {} of runs on {} commits (false positives)",
                           percent(num(eps, "mean")), fix ? "fixed" : "good");
    }
    body.paragraph(rates + ".");
  }
}

// KernelCI's "Checks:" block, after the verdict: "  revert:  PASS  (0 of 24 runs failed ...)",
// then "  verify:  PASS  (0 of 21 runs failed at ...)", then a fix bisection's "  backport: PASS
// (0 of 24 runs failed with ... cherry-picked onto ...)". A verify check that failed leaves the
// result inconclusive, so the block does not wait for a culprit.
void checks(Body& body, const json& report) {
  const auto revert = describe_revert_check(report);
  const auto verify = describe_verify_check(report);
  const auto backport = describe_backport_check(report);
  if (!revert && !verify && !backport) return;
  body.blank();
  body.line("Checks:");
  // The verdicts line up: "  revert:  ", "  verify:  ", and with a backport check "  verify:   ".
  const size_t width = backport ? 12 : 11;
  const auto check = [&](const std::string& name, const CheckWords& words) {
    std::string label = "  " + name + ":";
    label.resize(std::max(label.size() + 1, width), ' ');
    body.hanging(label + words.verdict + "  ", columns(label), "(" + words.explanation + ")");
  };
  if (revert) check("revert", *revert);
  if (verify) check("verify", *verify);
  if (backport) check("backport", *backport);
}

// Who the tree says looks after what the culprit changes (its scripts/get_maintainer.pl), as the
// script prints them: "  Name <address> (role)". The mail's Cc: holds them too.
void maintainers(Body& body, const json& report) {
  const json& list = member(member(member(report, "result"), "culprit"), "maintainers");
  if (!list.is_array() || list.empty()) return;
  body.blank();
  body.line("Maintainers (scripts/get_maintainer.pl):");
  for (const json& person : list) {
    const std::string name = one_line(str(person, "name"), 80);
    const std::string role = one_line(str(person, "role"), 80);
    std::string line = "  " + (name.empty() ? std::string() : name + " <") +
                       one_line(str(person, "email"), 120) + (name.empty() ? "" : ">");
    // The role after the address, or under it where the line would pass 72 columns.
    const std::string role_text = role.empty() ? "" : "(" + role + ")";
    if (!role.empty() && columns(line) + 1 + columns(role_text) <= kEmailBodyColumns) {
      body.verbatim(line + " " + role_text);
      continue;
    }
    body.verbatim(line);
    if (!role.empty()) body.hanging("    ", 4, role_text);
  }
}

void parameters(Body& body, const json& report, bool config_attached) {
  const json& bisection = member(report, "bisection");
  const json& parameters = member(report, "parameters");
  const json& totals = member(report, "totals");
  body.blank();
  // "44a2e5043026 (linux-6.1.y) subject": the revision as typed, where it was not the SHA.
  const auto commit_line = [](const json& commit) {
    std::string line = sha12(commit);
    const std::string ref = revision_name(commit);
    if (!ref.empty()) line += " (" + one_line(ref, 60) + ")";
    return line + " " + one_line(str(commit, "subject"), kMaxSubjectColumns);
  };
  // A fix bisection's bad commit is the older one, where the test fails; its good the newer.
  const bool fix = fix_mode(report);
  // "broken" and "fixed" fit the column the other fields' values start at.
  body.field(fix ? "broken" : "bad commit", commit_line(member(bisection, "bad")));
  const json& goods = member(bisection, "good");
  if (goods.is_array()) {
    for (const json& good : goods) {
      body.field(fix ? "fixed" : "good commit", commit_line(good));
    }
  }
  const json& first_parent = member(bisection, "first_parent");
  // How many commits the range held: what the runs and builds below are to be read against.
  // None stored yet (the bisection never ran: the range is read at its first session) says
  // nothing about the range, so no count is shown; a range always holds its bad commit.
  const json& how_many = member(bisection, "candidates");
  const std::string count_text =
      (how_many.is_number_unsigned() || how_many.is_number_integer()) && how_many.get<int64_t>() > 0
          ? fmt::format("{} commit{}", how_many.get<int64_t>(),
                        how_many.get<int64_t>() == 1 ? "" : "s")
          : std::string();
  if (fix) {
    body.field("candidates", (count_text.empty() ? "" : count_text + ", the ") +
                                 "first-parent chain of the fixed commit down to the broken one "
                                 "(merges tested as one commit)");
  } else if (first_parent.is_boolean() && first_parent.get<bool>()) {
    body.field("candidates", (count_text.empty() ? "" : count_text + ", the ") +
                                 "first-parent chain of bad (merges tested as one commit)");
  } else if (!count_text.empty()) {
    body.field("candidates", count_text + " between good and bad");
  }
  body.field("repository", one_line(str(bisection, "repo"), 1000));

  const json& test = member(parameters, "test");
  const json& reproducer = member(parameters, "reproducer");
  const json& xfstests = member(parameters, "xfstests");
  if (xfstests.is_object()) {
    std::string line = command_line(member(xfstests, "tests"));
    for (const auto& [key, name] :
         {std::pair{"mkfs_options", "MKFS_OPTIONS"}, std::pair{"mount_options", "MOUNT_OPTIONS"}}) {
      const std::string value = one_line(str(xfstests, key), kMaxSubjectColumns);
      if (!value.empty()) line += fmt::format("; {}={}", name, value);
    }
    body.field("xfstests", line);
  } else if (reproducer.is_object()) {
    const std::string program = str(reproducer, "program");
    body.field("reproducer",
               one_line(reader_program(program), kMaxSubjectColumns) + " " +
                   command_line(member(reproducer, "args")) +
                   (program.starts_with(kBundled) ? " (bundled with flakebisect)" : ""));
  } else if (test.is_object()) {
    body.field("test", command_line(member(test, "command")));
  }
  if (test.is_object()) {
    std::string outcomes;
    for (const json& outcome : member(test, "failure_outcomes")) {
      if (!outcome.is_string()) continue;
      outcomes += (outcomes.empty() ? "" : ", ") + one_line(outcome.get<std::string>(), 20);
    }
    std::string counts = "failures: " + (outcomes.empty() ? std::string("-") : outcomes);
    if (!str(test, "signature").empty()) {
      counts += "; signature /" + one_line(str(test, "signature"), kMaxSubjectColumns) + "/";
    }
    counts += fmt::format("; timeout {}s", count(test, "timeout_s"));
    body.field("counts as", counts);
  }
  const json& build = member(parameters, "build");
  if (build.is_object() && member(build, "command").is_array() &&
      !member(build, "command").empty()) {
    body.field("build", command_line(member(build, "command")));
  }
  const json& kernel = member(parameters, "kernel");
  if (kernel.is_object()) {
    std::string text = one_line(str(kernel, "base"), 200);
    for (const json& fragment : member(kernel, "fragments")) {
      if (fragment.is_string()) text += " + " + one_line(fragment.get<std::string>(), 200);
    }
    text += " (" + one_line(str(kernel, "target"), 40) + ")";
    const std::string hash = str(parameters, "kernel_config_hash");
    if (!hash.empty()) {
      text += ", .config " + one_line(hash, 64).substr(0, 12);
      if (config_attached) text += " (attached as \"config\")";
    }
    body.field("kernel", text);
    const std::string compiler = str(parameters, "compiler");
    if (!compiler.empty()) body.field("compiler", one_line(compiler, 200));
  }
  const json& qemu = member(parameters, "qemu");
  if (qemu.is_object()) {
    // A prebuilt kernel (a user-space bisection): which one was booted is part of the setup.
    if (!kernel.is_object() && !str(qemu, "kernel").empty()) {
      body.field("kernel", one_line(str(qemu, "kernel"), 200) + " (prebuilt, at every commit)");
    }
    body.field("qemu", fmt::format("accel {}, {} CPUs, {} MB", one_line(str(qemu, "accel"), 20),
                                   count(qemu, "cpus"), count(qemu, "memory_mb")));
  }
  const json& scratch = member(parameters, "scratch");
  if (scratch.is_object()) {
    body.field("scratch fs",
               fmt::format("{} ({}, {} MB)", command_line(member(scratch, "mkfs")),
                           one_line(str(scratch, "fstype"), 20), count(scratch, "size_mb")));
  }
  if (totals.is_object()) {
    std::string spent = fmt::format("{} runs", count(totals, "runs"));
    if (count(totals, "reused_runs") > 0) {
      spent +=
          fmt::format(" (and {} reused from other bisections of this test)", count(totals, "reused_runs"));
    }
    if (count(totals, "boots") > 0) spent += fmt::format(" in {} boots", count(totals, "boots"));
    if (count(totals, "builds") > 0) {
      spent += fmt::format(", {} build{}", count(totals, "builds"),
                           count(totals, "builds") == 1 ? "" : "s");
      std::vector<std::string> kinds;
      if (count(totals, "failed_builds") > 0) {
        kinds.push_back(fmt::format("{} failed", count(totals, "failed_builds")));
      }
      if (count(totals, "cached_builds") > 0) {
        kinds.push_back(fmt::format("{} from the artifact cache", count(totals, "cached_builds")));
      }
      if (!kinds.empty()) spent += " (" + fmt::format("{}", fmt::join(kinds, ", ")) + ")";
    }
    spent += fmt::format(", {} in all", duration(static_cast<int64_t>(num(totals, "wall_ms"))));
    std::vector<std::string> parts;
    if (num(totals, "build_ms") > 0) {
      parts.push_back(duration(static_cast<int64_t>(num(totals, "build_ms"))) + " building");
    }
    // Under TCG a boot takes longer than a run; without this the rest of the time is unexplained.
    if (num(totals, "setup_ms") >= 1000) {
      parts.push_back(
          duration(static_cast<int64_t>(num(totals, "setup_ms"))) +
          (count(totals, "boots") > 0 ? " booting and setting up" : " setting up runs"));
    }
    if (num(totals, "run_ms") > 0) {
      parts.push_back(duration(static_cast<int64_t>(num(totals, "run_ms"))) + " running");
    }
    if (!parts.empty()) spent += " (" + fmt::format("{}", fmt::join(parts, ", ")) + ")";
    if (num(totals, "cost") > 0) spent += fmt::format("; planner cost {:.4g}", num(totals, "cost"));
    body.field("spent", spent);
  }
}

void commit_table(Body& body, const json& report) {
  const json& commits = member(report, "commits");
  const std::string culprit = str(member(member(report, "result"), "culprit"), "sha");
  if (!commits.is_array()) return;
  std::vector<const json*> rows;
  for (const json& commit : commits) {
    const bool tested = count(commit, "runs") > 0;
    const bool built = member(commit, "build").is_string();
    if (tested || built || (!culprit.empty() && str(commit, "sha") == culprit)) {
      rows.push_back(&commit);
    }
  }
  if (rows.empty()) return;
  body.blank();
  body.paragraph(culprit.empty()
                     ? "Results per commit (commits with runs or builds, oldest first):"
                     : fmt::format("Results per commit (commits with runs or builds, oldest first; "
                                   "* marks the {}):",
                                   fix_mode(report) ? "first fixed commit" : "first bad commit"));
  body.blank();
  body.line(fmt::format("  {:<12} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:<6} {:>8}", "commit",
                        "runs", "pass", "fail", "crash", "hang", "infra", "skip", "build",
                        "P(first)"));
  size_t shown = 0;
  for (const json* commit : rows) {
    if (shown++ == kMaxTableRows) {
      body.line(fmt::format("  ... and {} more commits", rows.size() - kMaxTableRows));
      break;
    }
    const json& c = *commit;
    const std::string build = member(c, "build").is_string() ? one_line(str(c, "build"), 6) : "-";
    body.line(fmt::format("{} {:<12} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:<6} {:>8.4f}",
                          !culprit.empty() && str(c, "sha") == culprit ? "*" : " ", sha12(c),
                          count(c, "runs"), count(c, "passes"), count(c, "fails"),
                          count(c, "crashes"), count(c, "hangs"), count(c, "infra"),
                          count(c, "skips"), build, num(c, "probability")));
  }
  // A fix named at the fixed end is no candidate, so no row holds it: say where the mark went.
  const bool marked = std::any_of(rows.begin(), rows.end(),
                                  [&](const json* c) { return str(*c, "sha") == culprit; });
  if (fix_mode(report) && !culprit.empty() && !marked) {
    const json& verify = member(member(member(report, "result"), "checks"), "verify");
    const bool ran = str(verify, "commit") == culprit && count(verify, "runs") > 0;
    body.paragraph(fmt::format("* {} is the fixed end itself, which the search does not run{}.",
                               culprit.substr(0, 12), ran ? "; the verify check ran it" : ""));
  }
}

void decision_log(Body& body, const json& report, size_t max_decisions) {
  const json& decisions = member(report, "decisions");
  if (!decisions.is_array() || decisions.empty()) return;
  body.blank();
  body.paragraph(fmt::format(
      "Decision log (each step: the commit tested, the runs planned, the information expected "
      "in bits and its cost, and the most likely {} before the step):",
      fix_mode(report) ? "first fixed commit" : "first bad commit"));
  body.blank();
  body.line(fmt::format("  {:>8}  {:<12} {:>5} {:>6} {:>7}  {:<12} {:>8}", "elapsed", "commit",
                        "runs", "bits", "cost", "best", "P(best)"));
  const size_t skip = decisions.size() > max_decisions ? decisions.size() - max_decisions : 0;
  if (skip > 0) body.line(fmt::format("  ({} earlier steps left out)", skip));
  for (size_t i = skip; i < decisions.size(); ++i) {
    const json& d = decisions[i];
    body.line(fmt::format("  {:>8}  {:<12} {:>5} {:>6.3f} {:>7.4g}  {:<12} {:>8.4f}",
                          clock_time(static_cast<int64_t>(num(d, "elapsed_ms"))), sha12(d),
                          count(d, "runs"), num(d, "information_bits"), num(d, "cost"),
                          sha12(d, "best_sha"), num(d, "max_probability")));
  }
}

// The failure whose console a reader wants first: one of the bug being hunted (counted), a kernel
// crash before a hang before a plain test failure, and one with an excerpt at all.
const json* excerpt_to_show(const json& crashes) {
  const json* best = nullptr;
  int best_rank = -1;
  for (const json& crash : crashes) {
    if (str(crash, "console_excerpt").empty()) continue;
    const std::string outcome = str(crash, "outcome");
    const bool counted =
        member(crash, "counted").is_boolean() && member(crash, "counted").get<bool>();
    const int rank = (counted ? 4 : 0) + (outcome == "crash" ? 2 : outcome == "hang" ? 1 : 0);
    if (rank > best_rank) {
      best = &crash;
      best_rank = rank;
    }
  }
  return best;
}

void failures(Body& body, const json& report) {
  const json& crashes = member(report, "crashes");
  if (!crashes.is_array() || crashes.empty()) return;
  body.blank();
  body.paragraph("Failures seen (runs, commits, title):");
  body.blank();
  size_t shown = 0;
  for (const json& crash : crashes) {
    const bool counted =
        member(crash, "counted").is_boolean() && member(crash, "counted").get<bool>();
    if (shown++ == kMaxFailureTitles) {
      body.line(fmt::format("  ... and {} more", crashes.size() - kMaxFailureTitles));
      continue;
    }
    if (shown > kMaxFailureTitles) continue;
    body.line(fmt::format("  {:>5} {:>3}  {}{}", count(crash, "count"), count(crash, "commits"),
                          one_line(str(crash, "title"), kMaxSubjectColumns),
                          counted ? "" : " (not counted)"));
  }
  const json* excerpt = excerpt_to_show(crashes);
  if (excerpt == nullptr) return;
  const std::string console = clean_block(str(*excerpt, "console_excerpt"), kConsoleColumns);
  body.blank();
  body.paragraph(fmt::format("Console output of the first run at {} that found: {}",
                             sha12(*excerpt, "first_sha"),
                             one_line(str(*excerpt, "title"), kMaxSubjectColumns)));
  body.blank();
  size_t start = 0;
  while (start <= console.size()) {
    size_t end = console.find('\n', start);
    if (end == std::string::npos) end = console.size();
    body.verbatim(std::string_view(console).substr(start, end - start));
    start = end + 1;
  }
}

// The reporter the message names: options.reporter, or the default one when it has no valid
// address (a message must have an originator, and a Reported-by: tag needs an address).
std::string reporter_of(const EmailOptions& options) {
  return parse_person(options.reporter) ? options.reporter : EmailOptions{}.reporter;
}

void tags(Body& body, const json& report, const EmailOptions& options) {
  const json& culprit = member(member(report, "result"), "culprit");
  if (!culprit.is_object()) return;
  body.blank();
  if (fix_mode(report)) {
    // The fix exists: no tags to add, but what a stable maintainer needs to take it. The line is
    // pasted as it is, like the tags.
    // Unless the backport check found that the pick alone does not do it: then the commit is
    // still named, with what the check found, and no instruction the check contradicts.
    const auto backport = describe_backport_check(report);
    const std::string named =
        fmt::format("commit {} (\"{}\")", sha12(culprit), one_line(str(culprit, "subject")));
    if (backport && (backport->status == "fail" || backport->status == "conflict" ||
                     backport->status == "build_failed")) {
      // Onto the broken commit, or onto the one --backport-onto named (a stable branch).
      const std::string onto =
          str(member(member(member(report, "result"), "checks"), "backport"), "onto");
      const std::string bad = str(member(member(report, "bisection"), "bad"), "sha");
      body.paragraph(fmt::format(
          "{} fixes this on the fixed branch, but cherry-picked alone onto {} it {} (Checks "
          "above): a backport needs more than this commit.",
          named,
          onto.empty() || onto == bad ? std::string("the broken commit") : onto.substr(0, 12),
          backport->status == "fail"       ? "does not make the failure go away"
          : backport->status == "conflict" ? "does not apply cleanly"
                                           : "does not build"));
      return;
    }
    body.paragraph("To backport the fix to a tree that still fails:");
    body.verbatim(
        fmt::format("{} fixes this; to backport: git cherry-pick -x {}", named, sha12(culprit)));
    return;
  }
  body.paragraph("If you fix the issue, please add the following tags to the commit:");
  // Tags are pasted into commits as they are: never cut, whatever their length.
  body.verbatim("Reported-by: " + one_line(reporter_of(options)));
  // The full subject, as kernel convention has it (the report caps it at 1000 bytes).
  body.verbatim(
      fmt::format("Fixes: {} (\"{}\")", sha12(culprit), one_line(str(culprit, "subject"))));
}

void footer(Body& body, const json& report) {
  const json& tool = member(report, "tool");
  const uint64_t id = count(member(report, "bisection"), "id");
  body.blank();
  body.verbatim("-- ");
  body.paragraph(
      fmt::format("{} {}, bisection {}. `flakebisect report {} --format json` has every number; "
                  "`--format bisect-log` gives a log for `git bisect replay`.",
                  one_line(str(tool, "name").empty() ? "flakebisect" : str(tool, "name"), 40),
                  one_line(str(tool, "version"), 40), id, id));
}

// An attachment's Content-Transfer-Encoding header, a blank line and its text: as it is (8bit) when
// every line fits SMTP's 998 bytes and none could end the message (a lone ".") or be taken for an
// mbox separator ("From "), which a .config's CONFIG_ and # lines never are; else base64 in
// 76-column lines.
std::string attachment_text(const std::string& text) {
  bool plain = text.find('\r') == std::string::npos && text.find('\0') == std::string::npos;
  for (size_t start = 0; plain && start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    plain = end - start <= 998 && text.compare(start, 5, "From ") != 0 &&
            text.compare(start, end - start, ".") != 0;
    start = end + 1;
  }
  if (plain) {
    std::string out = "Content-Transfer-Encoding: 8bit\n\n" + text;
    if (out.back() != '\n') out += '\n';
    return out;
  }
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  for (size_t i = 0; i < text.size(); i += 3) {
    const size_t n = std::min<size_t>(3, text.size() - i);
    uint32_t chunk = 0;
    for (size_t k = 0; k < 3; ++k) {
      chunk = (chunk << 8) | (k < n ? static_cast<unsigned char>(text[i + k]) : 0U);
    }
    for (size_t k = 0; k < 4; ++k) {
      encoded += k <= n ? kAlphabet[(chunk >> (18 - 6 * k)) & 0x3F] : '=';
    }
  }
  std::string out = "Content-Transfer-Encoding: base64\n\n";
  for (size_t at = 0; at < encoded.size(); at += 76) out += encoded.substr(at, 76) + "\n";
  return out;
}

std::string body_of(const json& report, const EmailOptions& options, bool config_attached = false) {
  Body body;
  headline(body, report);
  checks(body, report);
  maintainers(body, report);
  parameters(body, report, config_attached);
  commit_table(body, report);
  decision_log(body, report, options.max_decisions);
  failures(body, report);
  tags(body, report, options);
  footer(body, report);
  return body.text();
}

// KernelCI's subject: "<tree>/<branch> bisection: <test> on <target>", with the outcome after it
// when no culprit was found.
std::string subject_of(const json& report, const EmailOptions& options) {
  const json& result = member(report, "result");
  std::string outcome;
  if (!member(result, "culprit").is_object()) {
    std::string status = one_line(str(result, "status"), 40);
    std::replace(status.begin(), status.end(), '_', ' ');
    outcome = " (" + (status.empty() ? std::string("unknown") : status) + ")";
  }
  // The parts are capped one by one; the whole is cut to fit before the outcome, which stays.
  const std::string subject = "[flakebisect] " + tree_and_branch(report, options) +
                              (fix_mode(report) ? " fix bisection: " : " bisection: ") +
                              test_name(report) + " on " + target_name(report);
  return one_line(subject, kMaxSubjectColumns - columns(outcome)) + outcome;
}

// Folded between mailboxes, never inside one where it fits a line: a fold inside a quoted name
// ("Darrick\n J. Wong") is legal but some mail readers keep the line break in the name. A
// mailbox too long for any line (long encoded-words) is folded between its words.
std::string address_header(std::string_view name, const std::vector<std::string>& mailboxes) {
  std::string out;
  std::string line = std::string(name) + ":";
  bool empty = true;  // no mailbox on this line yet
  for (size_t i = 0; i < mailboxes.size(); ++i) {
    const std::string unit = mailboxes[i] + (i + 1 < mailboxes.size() ? "," : "");
    if (!empty && line.size() + 1 + unit.size() > kHeaderColumns) {
      out += line + "\n";
      line.clear();
    }
    if (1 + unit.size() <= kHeaderColumns) {
      line += ' ' + unit;
    } else {
      fold_words(out, line, unit, /*fresh=*/empty || line.empty());  // its words one by one
    }
    empty = false;
  }
  return out + line + "\n";
}

}  // namespace

std::string confidence_in_words(double probability) {
  const char* words = probability >= 0.99   ? "almost certain"
                      : probability >= 0.95 ? "very likely"
                      : probability >= 0.8  ? "likely"
                      : probability >= 0.5  ? "more likely than not"
                      : probability >= 0.2  ? "possible"
                                            : "unlikely";
  return fmt::format("{} ({})", words, percent(probability));
}

std::optional<std::string> mailbox(std::string_view name, std::string_view address) {
  if (!valid_address(address)) return std::nullopt;
  const std::string display = one_line(name, kMaxNameColumns);
  if (display.empty()) return std::string(address);
  std::string phrase;
  if (!literal_header_text(display)) {
    phrase = encoded_words(display);
  } else if (std::all_of(display.begin(), display.end(),
                         [](char c) { return atext(c) || c == ' '; })) {
    phrase = display;
  } else {
    phrase = "\"";
    for (char c : display) {
      if (c == '"' || c == '\\') phrase += '\\';
      phrase += c;
    }
    phrase += "\"";
  }
  return phrase + " <" + std::string(address) + ">";
}

// The mailboxes of a trailer such as "Cc: A <a@example.com>, b@example.com": split at the commas
// outside quotes and angle brackets.
std::vector<std::string_view> split_mailboxes(std::string_view text) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  int angle = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && quoted) {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '<') {
      ++angle;
    } else if (!quoted && c == '>' && angle > 0) {
      --angle;
    } else if (!quoted && angle == 0 && c == ',') {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

std::optional<Person> parse_person(std::string_view text) {
  // Two mailboxes are not one person: rfind('<') below would join the first's name and address
  // to the second's name.
  if (split_mailboxes(text).size() > 1) return std::nullopt;
  std::string line = one_line(text, 1000);
  const size_t comment = line.find(" #");
  if (comment != std::string::npos) line.resize(comment);
  Person person;
  const size_t open = line.rfind('<');
  if (open != std::string::npos) {
    const size_t close = line.find('>', open);
    if (close == std::string::npos) return std::nullopt;
    person.address = trim(std::string_view(line).substr(open + 1, close - open - 1));
    person.name = trim(std::string_view(line).substr(0, open));
    if (person.name.size() >= 2 && person.name.front() == '"' && person.name.back() == '"') {
      person.name = person.name.substr(1, person.name.size() - 2);
    }
  } else {
    person.address = trim(line);
    const size_t space = person.address.find(' ');
    if (space != std::string::npos) person.address.resize(space);
  }
  if (!valid_address(person.address)) return std::nullopt;
  return person;
}

std::string unstructured_header(std::string_view name, std::string_view value) {
  const std::string line = one_line(value, kMaxSubjectColumns + 20);
  return fold(name, literal_header_text(line) ? line : encoded_words(line));
}

std::string render_text(const json& report, const EmailOptions& options) {
  return body_of(report, options);
}

std::string render_email(const json& report, const EmailOptions& options) {
  std::string headers;
  // reporter_of always parses: the default reporter stands in for one without an address.
  const Person from = parse_person(reporter_of(options)).value_or(Person{});
  if (auto box = mailbox(from.name, from.address)) headers += address_header("From", {*box});
  const json& culprit = member(member(report, "result"), "culprit");
  std::set<std::string> seen;
  std::vector<std::string> to;
  std::vector<std::string> cc;
  const json& author = member(culprit, "author");
  if (auto box = mailbox(str(author, "name"), str(author, "email"))) {
    to.push_back(*box);
    seen.insert(lowercase(str(author, "email")));
  }
  static const std::set<std::string> kCcKeys = {"signed-off-by", "co-developed-by", "reviewed-by",
                                                "acked-by",      "tested-by",       "cc"};
  const json& trailers = member(culprit, "trailers");
  if (trailers.is_array()) {
    for (const json& trailer : trailers) {
      if (cc.size() == kMaxCc) break;
      if (kCcKeys.count(lowercase(one_line(str(trailer, "key"), 40))) == 0) continue;
      const std::string value = str(trailer, "value");
      for (const std::string_view part : split_mailboxes(value)) {
        const auto person = parse_person(part);
        if (!person || cc.size() == kMaxCc || !seen.insert(lowercase(person->address)).second) {
          continue;
        }
        if (auto box = mailbox(person->name, person->address)) cc.push_back(*box);
      }
    }
  }
  // Then the maintainers and lists of what it changes, as the tree's get_maintainer.pl names them.
  const json& maintainers = member(culprit, "maintainers");
  if (maintainers.is_array()) {
    // Room of their own (up to 2 * kMaxCc in all), lists first: the script names them last, and
    // a long list of people must not push out the subsystem's list.
    const auto is_list = [](const json& person) {
      return str(person, "role").find("list") != std::string::npos;
    };
    for (const bool lists : {true, false}) {
      for (const json& person : maintainers) {
        if (cc.size() == 2 * kMaxCc) break;
        if (is_list(person) != lists) continue;
        const std::string address = str(person, "email");
        if (!seen.insert(lowercase(address)).second) continue;
        if (auto box = mailbox(str(person, "name"), address)) cc.push_back(*box);
      }
    }
  }
  if (!to.empty()) headers += address_header("To", to);
  if (!cc.empty()) headers += address_header("Cc", cc);
  headers += unstructured_header("Subject", subject_of(report, options));
  // A kernel bisection's .config goes along as an attachment, as kernel test robots and syzbot
  // give theirs: the message becomes multipart/mixed.
  const std::string kernel_config = str(member(report, "parameters"), "kernel_config");
  const std::string body = body_of(report, options, !kernel_config.empty());
  // Date: and Message-ID: come from the report, never from the clock, so that one report always
  // renders to the same message. A bisection that has ended dates its mail when it ended (its
  // updated_at), so that making its report again gives the same message, the same Message-ID
  // for a thread; one still going, when the report was made. A document without the time has
  // no Date: (the submitting MTA adds one).
  const json& bisection = member(report, "bisection");
  const std::string state = str(bisection, "state");
  const bool ended = state == "found" || state == "inconclusive" || state == "not_reproduced" ||
                     state == "cancelled" || state == "failed";
  const auto generated_at = utc_time(ended && !str(bisection, "updated_at").empty()
                                         ? str(bisection, "updated_at")
                                         : str(report, "generated_at"));
  if (generated_at) headers += "Date: " + rfc5322_date(*generated_at) + "\n";
  const std::string digest = config::sha256_hex(headers + "\n" + body).substr(0, 12);
  const std::string domain = from.address.substr(from.address.find('@') + 1);
  headers += fmt::format(
      "Message-ID: <flakebisect-{}-{}{}@{}>\n", count(member(report, "bisection"), "id"),
      generated_at ? compact_utc(*generated_at) + "-" : std::string(), digest, domain);
  headers += "MIME-Version: 1.0\n";
  if (kernel_config.empty()) {
    headers +=
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n";
    return headers + "\n" + body;
  }
  // A boundary that neither part holds (RFC 2046: a line starting with "--" and it).
  std::string boundary = "flakebisect-" + digest;
  while (body.find(boundary) != std::string::npos ||
         kernel_config.find(boundary) != std::string::npos) {
    boundary += "-" + config::sha256_hex(boundary).substr(0, 8);
  }
  // Its parts are 8bit, so the whole is too (RFC 2045 6.4): an MTA without 8BITMIME must convert.
  headers += "Content-Type: multipart/mixed; boundary=\"" + boundary +
             "\"\n"
             "Content-Transfer-Encoding: 8bit\n";
  std::string out = headers + "\nThis is a multi-part message in MIME format.\n";
  out += "\n--" + boundary + "\n";
  out +=
      "Content-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: 8bit\n\n";
  out += body;
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += "\n--" + boundary + "\n";
  out +=
      "Content-Type: text/plain; charset=utf-8; name=\"config\"\n"
      "Content-Disposition: attachment; filename=\"config\"\n";
  out += attachment_text(kernel_config);
  out += "\n--" + boundary + "--\n";
  return out;
}

}  // namespace flakebisect::report
