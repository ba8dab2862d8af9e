// Crash reports in a guest kernel's console output: where they are and what to call them.
//
// The console is the guest's serial console as QEMU captured it: kernel messages interleaved with
// whatever the reproducer and init printed, possibly with NULs and binary garbage, "\r\n" line
// ends, and cut off anywhere (the guest hung, the capture was capped). A report starts at a line
// that *begins* with a kernel marker ("Kernel panic - not syncing:", "BUG: ...", "WARNING: CPU:",
// "general protection fault", "INFO: task ... blocked", ...), after an optional log level ("<4>"),
// printk timestamp ("[   12.345678]") and caller id ("[    T1]"); the same words in the middle of
// a line are someone printing them, not the kernel. A separator or "cut here" line (or "sysrq:
// Trigger a crash") just before the marker belongs to the report.
//
// Titles follow syzkaller's style: one line naming the kind of failure and the kernel function it
// happened in, stable across runs (no addresses, pids or timestamps where the format allows), so
// runs can be grouped by title: "BUG: unable to handle page fault in ext4_dio_write_iter",
// "WARNING in ext4_foo", "possible deadlock in ext4_dio_write_iter", "KASAN: slab-use-after-free
// Read in ext4_foo", "INFO: task hung in ext4_buffered_write_iter", "Kernel panic - not syncing:
// sysrq triggered crash". A report whose function is not (yet) printed, because the console was
// cut off, gets the title without " in <func>".
//
// A report ends at its end marker ("---[ end trace ...]---", "---[ end Kernel panic ...]---", the
// closing "====" line of a KASAN/UBSAN report), at the next report, after kMaxReportLines lines, or
// where the text ends. A "Kernel panic" within kPanicFollowLines lines of a report (or inside it)
// is that report's consequence ("Fatal exception", "panic_on_warn set"), not a report of its own:
// the report grows to include it. Likewise the "Oops: 0000 [#1]" line after a "BUG: unable to
// handle page fault".
//
// Cost: one pass over the lines with constant work per line outside reports and work linear in a
// report's size inside one; no regular expressions. At most kMaxReports reports are returned.
//
// Thread rules: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flakebisect::run {

inline constexpr size_t kMaxReports = 100;
inline constexpr size_t kMaxReportLines = 300;   // from the marker line
inline constexpr size_t kPanicFollowLines = 60;  // from a report's last line to a panic it caused
inline constexpr size_t kMaxExcerptLines = 80;
inline constexpr size_t kMaxExcerptBytes = 8 * 1024;
inline constexpr size_t kMaxExcerptLineBytes = 512;  // longer lines are cut and end in " [...]"
inline constexpr size_t kMaxTitleBytes = 200;

struct CrashReport {
  // One line, valid UTF-8, at most kMaxTitleBytes, e.g. "BUG: unable to handle page fault in
  // ext4_dio_write_iter".
  std::string title;
  // What detected it: "panic", "bug", "warning", "gpf", "oops", "lockdep", "soft_lockup",
  // "hard_lockup", "rcu_stall", "hung_task", "kasan", "kmsan", "kfence", "kcsan", "ubsan".
  std::string kind;
  // The report's bytes in the console text: [begin, end), whole lines, end just past the last
  // line's '\n' (or the end of the text).
  size_t begin = 0, end = 0;
  // The report's first lines as printed (printk timestamps kept), at most kMaxExcerptLines lines
  // and kMaxExcerptBytes bytes, each line ending in '\n', cleaned like console_tail().
  std::string excerpt;
};

// Every crash report in `console`, in order; the first is the primary one. Never fails: text with
// no report gives an empty vector.
std::vector<CrashReport> find_crash_reports(std::string_view console);

// The primary report, if any: find_crash_reports(console).front(), without finishing the others.
std::optional<CrashReport> first_crash(std::string_view console);

// The kernel function a stack frame or register line names, without offset, module and compiler
// suffixes (".isra.0", ".constprop.0", ".part.0", ".cold"): " ext4_foo.isra.0+0x12/0x340 [ext4]",
// "RIP: 0010:ext4_foo+0x12/0x340", " [<ffffffff81234567>] ext4_foo+0x12/0x340" and "pc :
// ext4_foo+0x12/0x340" all give "ext4_foo". Console prefixes (timestamp, log level) are allowed.
// "" for unreliable frames ("? ext4_foo+0x12/0x340"), user-space addresses ("RIP: 0033:0x7f12")
// and lines that are not frames.
std::string frame_function(std::string_view frame_line);

// The last `max_lines` lines of `console`, at most `max_bytes` bytes (fewer lines then, the first
// possibly cut), cleaned for people: valid UTF-8, '\r' dropped, every run of other control
// characters (except '\n' and '\t') or invalid UTF-8 bytes replaced by one U+FFFD. For console
// excerpts when there is no crash. "" if either limit is 0.
std::string console_tail(std::string_view console, size_t max_lines, size_t max_bytes);

}  // namespace flakebisect::run
