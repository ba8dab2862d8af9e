#include "run/crash_report.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>

namespace flakebisect::run {
namespace {

using std::string_view;

constexpr string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// ---------------------------------------------------------------------------------------------
// Characters and strings

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c) || c == '.'; }
bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

string_view trim_left(string_view s) {
  const size_t first = s.find_first_not_of(" \t");
  return first == string_view::npos ? string_view() : s.substr(first);
}

string_view trim(string_view s) {
  s = trim_left(s);
  const size_t last = s.find_last_not_of(" \t");
  return last == string_view::npos ? string_view() : s.substr(0, last + 1);
}

bool consume(string_view& s, string_view prefix) {
  if (!s.starts_with(prefix)) {
    return false;
  }
  s.remove_prefix(prefix.size());
  return true;
}

bool contains(string_view s, string_view part) { return s.find(part) != string_view::npos; }

bool all_digits(string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

// The first whitespace-separated word of s.
string_view first_word(string_view s) {
  s = trim_left(s);
  return s.substr(0, s.find_first_of(" \t"));
}

// Length of the well-formed UTF-8 sequence starting at text[pos], or 0 if there is none there. C1
// control characters (U+0080..U+009F) count as not well-formed: they are control characters.
size_t utf8_length(string_view text, size_t pos) {
  const auto c0 = static_cast<unsigned char>(text[pos]);
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    length = 2;
    if (c0 == 0xC2) {
      low = 0xA0;
    }
  } else if (c0 == 0xE0) {
    length = 3;
    low = 0xA0;
  } else if ((c0 >= 0xE1 && c0 <= 0xEC) || c0 == 0xEE || c0 == 0xEF) {
    length = 3;
  } else if (c0 == 0xED) {
    length = 3;
    high = 0x9F;  // no UTF-16 surrogates
  } else if (c0 == 0xF0) {
    length = 4;
    low = 0x90;
  } else if (c0 >= 0xF1 && c0 <= 0xF3) {
    length = 4;
  } else if (c0 == 0xF4) {
    length = 4;
    high = 0x8F;
  } else {
    return 0;
  }
  if (text.size() - pos < length) {
    return 0;
  }
  const auto c1 = static_cast<unsigned char>(text[pos + 1]);
  if (c1 < low || c1 > high) {
    return 0;
  }
  for (size_t i = 2; i < length; ++i) {
    if (!is_continuation(text[pos + i])) {
      return 0;
    }
  }
  return length;
}

// Appends text to out as valid UTF-8 for people: '\r' dropped, '\t' kept, '\n' kept if
// keep_newlines, and each run of other control characters or malformed bytes becomes one U+FFFD.
void append_clean(std::string& out, string_view text, bool keep_newlines) {
  bool replacing = false;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\r') {
      ++i;
      continue;
    }
    if ((byte >= 0x20 && byte < 0x7F) || c == '\t' || (c == '\n' && keep_newlines)) {
      out += c;
      replacing = false;
      ++i;
      continue;
    }
    const size_t length = byte >= 0x80 ? utf8_length(text, i) : 0;
    if (length > 0) {
      out.append(text.substr(i, length));
      replacing = false;
      i += length;
      continue;
    }
    if (!replacing) {
      out.append(kReplacement);
      replacing = true;
    }
    ++i;
  }
}

std::string clean(string_view text) {
  std::string out;
  append_clean(out, text, false);
  return out;
}

// Shortens valid UTF-8 to at most max_bytes without splitting a character.
void cut_utf8(std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return;
  }
  size_t size = max_bytes;
  while (size > 0 && is_continuation(text[size])) {
    --size;
  }
  text.resize(size);
}

// The longest prefix of raw bytes of at most max_bytes that does not end inside a UTF-8 sequence
// (so cutting there leaves no malformed tail behind).
string_view utf8_prefix(string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return text;
  }
  size_t size = max_bytes;
  for (int back = 0; back < 3 && size > 0 && is_continuation(text[size]); ++back) {
    --size;
  }
  return text.substr(0, size);
}

// ---------------------------------------------------------------------------------------------
// Console lines

// A line without its '\n' and trailing '\r's.
string_view without_cr(string_view line) {
  while (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

bool is_timestamp(string_view s) {  // "12.345678"
  const size_t dot = s.find('.');
  return dot != string_view::npos && all_digits(s.substr(0, dot)) && all_digits(s.substr(dot + 1));
}

bool is_caller_id(string_view s) {  // "T1" (task) or "C0" (CPU)
  return s.size() >= 2 && (s[0] == 'T' || s[0] == 'C') && all_digits(s.substr(1));
}

// The message of a console line: what the kernel printed, without what comes before it. Drops
// control bytes left over from garbage, a syslog level "<4>", a printk timestamp "[   12.345678]"
// and a caller id "[    T1]", in any order, each followed by at most one space.
string_view message_of(string_view line) {
  line = without_cr(line);
  for (int round = 0; round < 6; ++round) {
    size_t skip = 0;
    while (skip < line.size() && static_cast<unsigned char>(line[skip]) < 0x20 &&
           line[skip] != '\t') {
      ++skip;
    }
    line.remove_prefix(skip);
    if (line.empty()) {
      break;
    }
    size_t close = string_view::npos;
    bool matched = false;
    if (line[0] == '<') {
      close = line.substr(0, 5).find('>');
      matched = close != string_view::npos && all_digits(line.substr(1, close - 1));
    } else if (line[0] == '[') {
      close = line.substr(0, 24).find(']');
      if (close != string_view::npos) {
        const string_view inside = trim(line.substr(1, close - 1));
        matched = is_timestamp(inside) || is_caller_id(inside);
      }
    }
    if (!matched) {
      break;
    }
    line.remove_prefix(close + 1);
    consume(line, " ");
  }
  return line;
}

// A row of '=' or '-' (lockdep, KASAN and UBSAN frame their reports with them) or the "cut here"
// line that opens a WARNING or kernel BUG.
bool is_separator(string_view message) {
  const string_view t = trim(message);
  if (t.starts_with("------------[ cut here ]")) {
    return true;
  }
  return t.size() >= 8 && (t[0] == '=' || t[0] == '-') &&
         t.find_first_not_of(t[0]) == string_view::npos;
}

bool is_equals_row(string_view message) {
  const string_view t = trim(message);
  return t.size() >= 8 && t.find_first_not_of('=') == string_view::npos;
}

// A line just before a marker that belongs to its report.
bool is_preamble(string_view message) {
  return is_separator(message) || message.starts_with("sysrq: Trigger a crash") ||
         message.starts_with("SysRq : Trigger a crash");
}

bool is_end_marker(string_view message) {
  const string_view t = trim_left(message);
  return t.starts_with("---[ end trace") || t.starts_with("---[ end Kernel panic");
}

bool is_kernel_context(string_view message) {
  const string_view t = trim_left(message);
  return t.starts_with("CPU: ") || t.starts_with("Call Trace:") || t.starts_with("Call trace:") ||
         t.starts_with("Hardware name:");
}

// Answers "does the kernel's usual context for a report (the CPU/PID line, a call trace) start
// within the next few lines?", evidence that a loose "BUG: ..." line came from the kernel. Asked
// for lines in increasing order, it reads each line at most once, so a text full of such lines
// stays linear.
class ContextLookahead {
 public:
  explicit ContextLookahead(string_view console) : console_(console) {}

  static constexpr size_t kLines = 30;

  // line: the asking line's number; next: the offset just past it.
  bool follows(size_t line, size_t next) {
    if (found_ && *found_ > line) {
      return *found_ - line <= kLines;
    }
    found_.reset();
    if (scan_line_ <= line) {
      scan_line_ = line + 1;
      scan_pos_ = next;
    }
    while (scan_line_ <= line + kLines && scan_pos_ < console_.size()) {
      const size_t newline = console_.find('\n', scan_pos_);
      const size_t end = newline == string_view::npos ? console_.size() : newline;
      const bool context =
          is_kernel_context(message_of(console_.substr(scan_pos_, end - scan_pos_)));
      scan_pos_ = end + 1;
      ++scan_line_;
      if (context) {
        found_ = scan_line_ - 1;
        return true;
      }
    }
    return false;
  }

 private:
  string_view console_;
  size_t scan_line_ = 0;  // the next line to read, at offset scan_pos_
  size_t scan_pos_ = 0;
  std::optional<size_t> found_;  // the last context line read, if no line after it was read
};

// ---------------------------------------------------------------------------------------------
// Frames

// "ext4_foo.isra.0" -> "ext4_foo"; "" unless name is a C identifier (plus compiler suffixes).
std::string identifier(string_view name) {
  if (name.empty() || !is_ident_start(name[0]) ||
      !std::all_of(name.begin(), name.end(), is_ident_char)) {
    return "";
  }
  // C names have no dots; everything from the first one is a compiler suffix (.isra.0,
  // .constprop.0, .part.0, .cold, .llvm.123).
  return std::string(name.substr(0, name.find('.')));
}

// "ext4_foo+0x12/0x340" -> "ext4_foo".
std::string symbol_name(string_view token) {
  const size_t plus = token.find("+0x");
  if (plus == string_view::npos || plus + 3 >= token.size() || !is_hex(token[plus + 3])) {
    return "";
  }
  return identifier(token.substr(0, plus));
}

string_view skip_addresses(string_view s) {  // "[<ffffffff81234567>] " (kernels before 4.x)
  while (s.starts_with("[<")) {
    const size_t close = s.find(">]");
    if (close == string_view::npos) {
      return {};
    }
    s = trim_left(s.substr(close + 2));
  }
  return s;
}

// A frame's function, if it names a function in a skip list (prefixes, matched after leading
// underscores, so "schedule" also skips "__schedule" and "schedule_timeout").
bool in_list(string_view function, std::span<const string_view> prefixes) {
  const size_t first = function.find_first_not_of('_');
  const string_view bare = first == string_view::npos ? function : function.substr(first);
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](string_view prefix) { return bare.starts_with(prefix); });
}

using SkipList = std::span<const string_view>;

// Not where a task hangs but how it waits.
constexpr string_view kWaitFrames[] = {
    "schedule",
    "io_schedule",
    "preempt_schedule",
    "context_switch",
    "switch_to",
    "mutex_lock",
    "rt_mutex",
    "rwsem_down",
    "down_",
    "percpu_down",
    "percpu_rwsem",
    "wait_for_",
    "wait_on_",
    "wait_event",
    "bit_wait",
    "folio_wait",
    "folio_lock",
    "lock_page",
    "out_of_line_wait_on_bit",
};

// The machinery that reports a stall or a lockup, not what stalled.
constexpr string_view kStallFrames[] = {
    "dump_stack",
    "show_stack",
    "sched_show_task",
    "nmi_",
    "arch_trigger",
    "trigger_",
    "rcu_",
    "print_cpu_stall",
    "check_cpu_stall",
    "update_process_times",
    "tick_",
    "hrtimer_",
    "sysvec_",
    "asm_",
    "irq_",
    "do_softirq",
    "softirq",
    "handle_softirqs",
    "run_timer",
    "call_timer_fn",
    "expire_timers",
    "apic_",
    "lapic_",
    "watchdog",
    "flush_smp_call_function",
    "schedule",
    "preempt_schedule",
    "irqentry_",
    "context_switch",
    "switch_to",
};

// The machinery that reports sleeping in atomic context, and the sleeping primitives themselves.
constexpr string_view kMightSleepFrames[] = {
    "dump_stack",  "show_stack", "might_resched", "might_sleep",         "might_fault",
    "might_alloc", "cant_sleep", "cant_migrate",  "slab_pre_alloc_hook", "kmem_cache_alloc",
    "kmalloc",     "mutex_lock", "down_",         "rwsem_down",
};

// The machinery that reports undefined behaviour, not where it happened.
constexpr string_view kUbsanFrames[] = {"dump_stack", "show_stack", "ubsan_"};

constexpr SkipList kNothing;

// The messages of a report's lines, the marker first.
using Messages = std::vector<string_view>;

bool is_register_line(string_view message) {
  const string_view t = trim_left(message);
  return t.starts_with("RIP: ") || t.starts_with("EIP: ") || t.starts_with("pc : ");
}

// The function in the first kernel instruction pointer line ("RIP: 0010:func+0x12/0x340").
std::string rip_function(const Messages& messages, SkipList skip) {
  for (size_t i = 1; i < messages.size(); ++i) {
    if (!is_register_line(messages[i])) {
      continue;
    }
    std::string function = frame_function(messages[i]);
    if (!function.empty() && !in_list(function, skip)) {
      return function;
    }
  }
  return "";
}

// The first reliable call trace frame not in `skip`; with skip_irq, frames between <IRQ> and
// </IRQ> (the interrupt that noticed the problem) do not count.
std::string trace_function(const Messages& messages, SkipList skip, bool skip_irq) {
  bool in_trace = false;
  bool in_irq = false;
  for (size_t i = 1; i < messages.size(); ++i) {
    const string_view t = trim(messages[i]);
    if (t.starts_with("Call Trace:") || t.starts_with("Call trace:")) {
      in_trace = true;
      in_irq = false;
      continue;
    }
    if (!in_trace) {
      continue;
    }
    if (t == "<IRQ>") {
      in_irq = true;
      continue;
    }
    if (t == "</IRQ>") {
      in_irq = false;
      continue;
    }
    if (in_irq && skip_irq) {
      continue;
    }
    std::string function = frame_function(t);
    if (!function.empty() && !in_list(function, skip)) {
      return function;
    }
  }
  return "";
}

// The function in the first lockdep "..., at: func+0x12/0x340" (the lock being taken), where the
// frame may also be on the next line when the kernel wrapped it.
std::string lock_site_function(const Messages& messages) {
  for (size_t i = 1; i < messages.size(); ++i) {
    const string_view m = messages[i];
    size_t at = m.find(" at:");
    if (at == string_view::npos && m.starts_with("at:")) {
      at = 0;
    } else if (at != string_view::npos) {
      at += 1;
    } else {
      continue;
    }
    const string_view rest = trim_left(m.substr(at + 3));
    std::string function;
    if (!rest.empty()) {
      function = symbol_name(first_word(skip_addresses(rest)));
    } else if (i + 1 < messages.size()) {
      function = frame_function(messages[i + 1]);
    }
    if (!function.empty()) {
      return function;
    }
  }
  return "";
}

// "fs/ext4/inode.c:123" and the like.
bool is_source_location(string_view token) {
  const size_t colon = token.find(':');
  if (colon == string_view::npos) {
    return false;
  }
  const string_view path = token.substr(0, colon);
  string_view line = token.substr(colon + 1);
  const size_t second = line.find(':');  // an optional column
  if (second != string_view::npos && !all_digits(line.substr(second + 1))) {
    return false;
  }
  line = line.substr(0, second);
  return all_digits(line) &&
         (path.ends_with(".c") || path.ends_with(".h") || path.ends_with(".rs"));
}

// "fs/ext4/foo.c:12:3" -> "fs/ext4/foo.c:12".
string_view without_column(string_view location) {
  const size_t last = location.rfind(':');
  const size_t first = location.find(':');
  if (first != last && all_digits(location.substr(last + 1))) {
    return location.substr(0, last);
  }
  return location;
}

std::string in_function(const std::string& function) {
  return function.empty() ? "" : " in " + function;
}

// ---------------------------------------------------------------------------------------------
// Markers

enum class Detector {
  kPanic,          // Kernel panic - not syncing: <msg>
  kBadAccess,      // BUG: unable to handle page fault / kernel NULL pointer dereference
  kKernelBug,      // kernel BUG at <file:line>!
  kWarning,        // WARNING: CPU: 0 PID: 1 at <file:line> <func>
  kGpf,            // general protection fault
  kOops,           // Oops: 0000 [#1] SMP
  kLockdep,        // WARNING: possible circular locking dependency detected, ...
  kSleepInAtomic,  // BUG: sleeping function called from invalid context at <file:line>
  kSoftLockup,     // watchdog: BUG: soft lockup - CPU#0 stuck for 22s!
  kHardLockup,     // watchdog: Watchdog detected hard LOCKUP on cpu 0
  kRcuStall,       // rcu: INFO: rcu_sched detected stalls on CPUs/tasks:
  kHungTask,       // INFO: task foo:123 blocked for more than 120 seconds.
  kSanitizer,      // BUG: KASAN: slab-use-after-free in <func>, KMSAN, KFENCE, KCSAN
  kUbsan,          // UBSAN: array-index-out-of-bounds in <file:line:col>
  kGenericBug,     // BUG: <anything else>, with a CPU line or call trace after it
};

struct Marker {
  Detector detector;
  std::string kind;
  std::string base;  // the fixed start of the title, where the marker alone decides it
};

struct LockdepHeadline {
  string_view headline;
  string_view title;
  bool with_function;
};

constexpr LockdepHeadline kLockdepHeadlines[] = {
    {"possible circular locking dependency detected", "possible deadlock", true},
    {"possible recursive locking detected", "possible deadlock", true},
    {"possible irq lock inversion dependency detected", "possible deadlock", true},
    {"SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected", "possible deadlock", true},
    {"HARDIRQ-safe -> HARDIRQ-unsafe lock order detected", "possible deadlock", true},
    {"inconsistent lock state", "inconsistent lock state", true},
    {"held lock freed", "held lock freed", true},
    {"lock held when returning to user space", "lock held when returning to user space", true},
    {"bad unlock balance detected", "bad unlock balance", true},
    {"suspicious RCU usage", "suspicious RCU usage", false},
};

// "WARNING: bad unlock balance detected!" -> "WARNING: bad unlock balance detected".
std::string headline_title(string_view prefix, string_view headline) {
  headline = trim(headline);
  while (!headline.empty() && (headline.back() == '!' || headline.back() == ' ')) {
    headline.remove_suffix(1);
  }
  return std::string(prefix) + std::string(headline);
}

// The line's marker, if it opens a report. after_separator: the previous line is a row of '=' or
// '-'. context_follows: whether the kernel's context follows, for markers that need evidence.
std::optional<Marker> match_marker(string_view message, bool after_separator,
                                   const std::function<bool()>& context_follows) {
  if (message.empty()) {
    return std::nullopt;
  }
  if (message.starts_with("Kernel panic - not syncing")) {
    return Marker{Detector::kPanic, "panic", ""};
  }
  string_view watchdog = message;
  consume(watchdog, "watchdog: ");
  if (watchdog.starts_with("BUG: soft lockup")) {
    return Marker{Detector::kSoftLockup, "soft_lockup", "BUG: soft lockup"};
  }
  if (watchdog.starts_with("Watchdog detected hard LOCKUP")) {
    return Marker{Detector::kHardLockup, "hard_lockup", "Watchdog detected hard LOCKUP"};
  }
  string_view rest = message;
  if (consume(rest, "BUG: ")) {
    for (const string_view tool : {"KASAN", "KMSAN", "KFENCE", "KCSAN"}) {
      if (rest.starts_with(tool) && rest.substr(tool.size()).starts_with(": ")) {
        std::string kind(tool);
        std::transform(kind.begin(), kind.end(), kind.begin(),
                       [](char c) { return static_cast<char>(c - 'A' + 'a'); });
        return Marker{Detector::kSanitizer, kind, ""};
      }
    }
    for (const string_view access :
         {"unable to handle page fault", "unable to handle kernel paging request",
          "kernel NULL pointer dereference", "unable to handle kernel NULL pointer dereference"}) {
      if (rest.starts_with(access)) {
        return Marker{Detector::kBadAccess, "bug", "BUG: " + std::string(access)};
      }
    }
    if (rest.starts_with("sleeping function called from invalid context")) {
      return Marker{Detector::kSleepInAtomic, "bug", ""};
    }
    if (context_follows()) {
      return Marker{Detector::kGenericBug, "bug", ""};
    }
    return std::nullopt;
  }
  if (message.starts_with("kernel BUG at ")) {
    return Marker{Detector::kKernelBug, "bug", ""};
  }
  const bool warning = message.starts_with("WARNING: ");
  if (warning || message.starts_with("INFO: ")) {
    rest = message.substr(warning ? 9 : 6);
    if (warning && rest.starts_with("CPU: ")) {
      return Marker{Detector::kWarning, "warning", ""};
    }
    if (warning && rest.starts_with("at ") && is_source_location(first_word(rest.substr(3)))) {
      return Marker{Detector::kWarning, "warning", ""};
    }
    // Newer kernels: "WARNING: fs/ext4/inode.c:1234 at ext4_foo+0x12/0x40, CPU#1: comm/42".
    if (warning && is_source_location(first_word(rest)) &&
        trim_left(rest.substr(first_word(rest).size())).starts_with("at ")) {
      return Marker{Detector::kWarning, "warning", ""};
    }
    for (const LockdepHeadline& known : kLockdepHeadlines) {
      if (rest.starts_with(known.headline)) {
        return Marker{Detector::kLockdep, "lockdep", std::string(known.title)};
      }
    }
    // Lockdep frames its reports in rows of '='; an unknown headline there is still lockdep's.
    if (warning && after_separator) {
      return Marker{Detector::kLockdep, "lockdep", headline_title("WARNING: ", rest)};
    }
  }
  rest = message;
  while (consume(rest, "Oops: ")) {
  }
  if (rest.starts_with("general protection fault") &&
      (contains(rest, "[#") || contains(rest, "non-canonical"))) {
    return Marker{Detector::kGpf, "gpf", "general protection fault"};
  }
  if (rest.size() != message.size() && contains(rest, "[#")) {
    return Marker{Detector::kOops, "oops", "Oops"};
  }
  rest = message;
  consume(rest, "rcu: ");
  if (rest.starts_with("INFO: rcu") && contains(rest, "detected") && contains(rest, "stall")) {
    return Marker{Detector::kRcuStall, "rcu_stall", "INFO: rcu detected stall"};
  }
  if (message.starts_with("INFO: task ") && contains(message, " blocked for more than ")) {
    return Marker{Detector::kHungTask, "hung_task", ""};
  }
  if (message.starts_with("UBSAN: ")) {
    return Marker{Detector::kUbsan, "ubsan", ""};
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Titles

std::string warning_title(const Messages& messages) {
  string_view rest = messages[0].substr(9);  // after "WARNING: "
  string_view tail;
  if (consume(rest, "at ")) {
    tail = rest;
  } else if (const size_t at = rest.find(" at "); at != string_view::npos) {
    tail = rest.substr(at + 4);
  }
  string_view first = first_word(tail);
  if (first.ends_with(',')) {  // "at ext4_foo+0x12/0x40, CPU#1: ..."
    first.remove_suffix(1);
  }
  std::string function = symbol_name(first);
  string_view location;
  if (function.empty()) {
    location = first;
    const string_view second = first_word(trim_left(tail).substr(first.size()));
    function = symbol_name(second);
    if (function.empty() && second.ends_with("()")) {  // "WARNING: at fs/x.c:12 func()"
      function = identifier(second.substr(0, second.size() - 2));
    }
  }
  if (function.empty()) {
    function = rip_function(messages, kNothing);
  }
  if (!function.empty()) {
    return "WARNING in " + function;
  }
  if (is_source_location(location)) {
    return "WARNING at " + std::string(location);
  }
  return "WARNING";
}

std::string lockdep_title(const Marker& marker, const Messages& messages) {
  if (marker.base == "suspicious RCU usage") {
    for (size_t i = 1; i < std::min<size_t>(messages.size(), 8); ++i) {
      const string_view word = first_word(messages[i]);
      if (is_source_location(word)) {
        return "suspicious RCU usage at " + std::string(word);
      }
    }
    return marker.base;
  }
  for (const LockdepHeadline& known : kLockdepHeadlines) {
    if (known.title == marker.base && known.with_function) {
      return marker.base + in_function(lock_site_function(messages));
    }
  }
  return marker.base;
}

std::string sanitizer_title(const Messages& messages) {
  string_view rest = messages[0].substr(5);  // "KASAN: slab-use-after-free in ext4_foo+0x12/0x340"
  const size_t colon = rest.find(": ");
  const string_view tool = rest.substr(0, colon);
  rest = trim(rest.substr(colon + 2));
  const size_t in = rest.find(" in ");
  const string_view type = rest.substr(0, in);
  std::string title = std::string(tool) + ": " + std::string(type);
  if (tool == "KASAN") {
    for (size_t i = 1; i < std::min<size_t>(messages.size(), 5); ++i) {
      const string_view t = trim_left(messages[i]);
      if (t.starts_with("Read of size")) {
        title += " Read";
        break;
      }
      if (t.starts_with("Write of size")) {
        title += " Write";
        break;
      }
    }
  }
  if (in == string_view::npos) {
    return title;
  }
  // KCSAN names both sides of a race: "data-race in func_a / func_b".
  std::string functions;
  string_view where = rest.substr(in + 4);
  while (!where.empty()) {
    const size_t slash = where.find(" / ");
    const string_view word = first_word(where.substr(0, slash));
    std::string function = symbol_name(word);
    if (function.empty()) {
      function = identifier(word);  // KCSAN prints bare names
    }
    if (!function.empty()) {
      functions += (functions.empty() ? "" : " / ") + function;
    }
    where = slash == string_view::npos ? string_view() : where.substr(slash + 3);
  }
  return title + in_function(functions);
}

// "UBSAN: <check> in <file:line:col>" named by the function the trace shows, as syzkaller does: a
// line number moves between the commits of a range, the function seldom does.
std::string ubsan_title(const Messages& messages) {
  const string_view rest = trim(messages[0].substr(7));  // after "UBSAN: "
  const size_t in = rest.find(" in ");
  if (in == string_view::npos) {
    return "UBSAN: " + std::string(rest);
  }
  const std::string function = trace_function(messages, kUbsanFrames, false);
  return "UBSAN: " + std::string(rest.substr(0, in)) + " in " +
         (function.empty() ? std::string(without_column(first_word(rest.substr(in + 4))))
                           : function);
}

std::string hung_task_title(const Messages& messages) {
  const std::string function = trace_function(messages, kWaitFrames, false);
  if (!function.empty()) {
    return "INFO: task hung in " + function;
  }
  // "INFO: task fb-dio-check:42 blocked for more than 120 seconds." without the pid and the
  // seconds: the kernel prints the trace at KERN_INFO, which a console at loglevel 5 or below
  // (a guest before 2026-11-27, or qemu.append's own loglevel) does not show; the seconds vary
  // from one report to the next (120 to about 240).
  const string_view rest = messages[0].substr(11);
  const size_t blocked = rest.find(" blocked for more than ");
  string_view task = rest.substr(0, blocked);
  if (const size_t colon = task.rfind(':');
      colon != string_view::npos && all_digits(task.substr(colon + 1))) {
    task = task.substr(0, colon);
  }
  return "INFO: task " + std::string(task) + " blocked";
}

// "BUG: Bad page state in process fb  pfn:12345" -> "BUG: Bad page state": the words before any
// detail (a ':' value, a " - " explanation, a process or CPU name, a bracketed number).
std::string generic_bug_title(string_view message) {
  string_view rest = message.substr(5);
  size_t cut = rest.size();
  for (const string_view stop : {" - ", " in process", " on CPU", " [", " (", ", "}) {
    cut = std::min(cut, rest.find(stop));
  }
  if (const size_t colon = rest.find(':'); colon < cut) {
    cut = colon;
    if (colon + 1 < rest.size() && rest[colon + 1] != ' ') {  // "state mm:0000": drop "mm"
      const size_t space = rest.rfind(' ', colon);
      cut = space == string_view::npos ? colon : space;
    }
  }
  return headline_title("BUG: ", rest.substr(0, cut));
}

std::string make_title(const Marker& marker, const Messages& messages) {
  const string_view message = messages[0];
  switch (marker.detector) {
    case Detector::kPanic: {
      string_view why = message.substr(string_view("Kernel panic - not syncing").size());
      consume(why, ":");
      why = trim(why);
      return why.empty() ? "Kernel panic - not syncing"
                         : "Kernel panic - not syncing: " + std::string(why);
    }
    case Detector::kBadAccess:
    case Detector::kGpf:
    case Detector::kOops:
    case Detector::kHardLockup:
      return marker.base + in_function(rip_function(messages, kNothing));
    case Detector::kKernelBug: {
      const std::string function = rip_function(messages, kNothing);
      if (!function.empty()) {
        return "kernel BUG in " + function;
      }
      const size_t bang = message.find('!');
      return std::string(trim(message.substr(0, bang == string_view::npos ? bang : bang + 1)));
    }
    case Detector::kWarning:
      return warning_title(messages);
    case Detector::kLockdep:
      return lockdep_title(marker, messages);
    case Detector::kSleepInAtomic: {
      const std::string function = trace_function(messages, kMightSleepFrames, false);
      if (!function.empty()) {
        return "BUG: sleeping function called from invalid context in " + function;
      }
      return std::string(trim(message));
    }
    case Detector::kSoftLockup:
    case Detector::kRcuStall: {
      std::string function = rip_function(messages, kStallFrames);
      if (function.empty()) {
        function = trace_function(messages, kStallFrames, true);
      }
      return marker.base + in_function(function);
    }
    case Detector::kHungTask:
      return hung_task_title(messages);
    case Detector::kSanitizer:
      return sanitizer_title(messages);
    case Detector::kUbsan:
      return ubsan_title(messages);
    case Detector::kGenericBug:
      return generic_bug_title(message);
  }
  return std::string(trim(message));
}

// ---------------------------------------------------------------------------------------------
// Reports

struct Pending {
  Marker marker;
  size_t begin = 0;         // offset of the first line (a preamble line before the marker included)
  size_t marker_begin = 0;  // offset of the marker line
  size_t end = 0;           // offset just past the last line so far
  size_t marker_line = 0;   // line numbers, for the limits
  size_t last_line = 0;
  size_t open_since = 0;
  bool open = true;  // false once its end marker, its line limit or a later report was seen
};

bool ends_at_equals_row(Detector detector) {
  return detector == Detector::kSanitizer || detector == Detector::kUbsan;
}

// Whether a marker continues the pending report rather than opening one of its own.
bool absorbs(const Pending& pending, const Marker& marker, size_t line) {
  switch (marker.detector) {
    case Detector::kPanic:  // "Fatal exception", "panic_on_warn set", "hung_task: blocked tasks"
      return line <= pending.last_line + kPanicFollowLines;
    case Detector::kOops: {  // "Oops: 0000 [#1]" after the BUG line that explains it
      const Detector first = pending.marker.detector;
      return pending.open && line <= pending.marker_line + 40 &&
             (first == Detector::kBadAccess || first == Detector::kKernelBug ||
              first == Detector::kSanitizer || first == Detector::kGenericBug);
    }
    default:
      return false;
  }
}

std::string make_excerpt(string_view text) {
  std::string out;
  size_t lines = 0;
  size_t pos = 0;
  while (pos < text.size() && lines < kMaxExcerptLines) {
    const size_t newline = text.find('\n', pos);
    const size_t end = newline == string_view::npos ? text.size() : newline;
    const string_view line = without_cr(text.substr(pos, end - pos));
    pos = end + 1;
    std::string cleaned;
    append_clean(cleaned, utf8_prefix(line, kMaxExcerptLineBytes), false);
    bool cut = line.size() > kMaxExcerptLineBytes;
    if (cleaned.size() > kMaxExcerptLineBytes) {
      cut_utf8(cleaned, kMaxExcerptLineBytes);
      cut = true;
    }
    if (cut) {
      cleaned += " [...]";
    }
    cleaned += '\n';
    if (out.size() + cleaned.size() > kMaxExcerptBytes) {
      break;
    }
    out += cleaned;
    ++lines;
  }
  return out;
}

// A title that stays the same for the same bug from one run, boot and commit to the next, so that
// test.signature and the reports can match it: a symbol's offset ("ext4_foo+0x1a3/0x1b0"), a source
// line ("fs/ext4/inode.c:2719", which moves as commits change the file) and an address
// ("ffff888003a1b2c0") are dropped or replaced by "ADDR".
std::string stable_title(string_view title) {
  std::string out;
  for (size_t pos = 0; pos <= title.size();) {
    const size_t space = std::min(title.find(' ', pos), title.size());
    string_view word = title.substr(pos, space - pos);
    const size_t lead = std::min(word.find_first_not_of("(["), word.size());
    out += word.substr(0, lead);
    word.remove_prefix(lead);
    size_t core = word.size();
    while (core > 0 && std::string_view(",;:!)]").find(word[core - 1]) != string_view::npos) {
      --core;
    }
    const string_view trail = word.substr(core);
    word = word.substr(0, core);
    string_view digits = word;
    consume(digits, "0x");
    const size_t hex = std::min(
        digits.size(), static_cast<size_t>(std::find_if_not(digits.begin(), digits.end(), is_hex) -
                                           digits.begin()));
    if (const std::string symbol = symbol_name(word); !symbol.empty()) {
      out += symbol;
    } else if (is_source_location(word)) {
      out += word.substr(0, word.find(':'));
    } else if (hex >= 8) {
      out += "ADDR";
      out += digits.substr(hex);
    } else {
      out += word;
    }
    out += trail;
    if (space < title.size()) {
      out += ' ';
    }
    pos = space + 1;
  }
  return out;
}

CrashReport finish(string_view console, const Pending& pending) {
  Messages messages;
  const string_view text = console.substr(pending.marker_begin, pending.end - pending.marker_begin);
  for (size_t pos = 0; pos < text.size();) {
    const size_t newline = text.find('\n', pos);
    const size_t end = newline == string_view::npos ? text.size() : newline;
    messages.push_back(message_of(text.substr(pos, end - pos)));
    pos = end + 1;
  }
  CrashReport report;
  report.title = clean(stable_title(make_title(pending.marker, messages)));
  cut_utf8(report.title, kMaxTitleBytes);
  report.kind = pending.marker.kind;
  report.begin = pending.begin;
  report.end = pending.end;
  report.excerpt = make_excerpt(console.substr(pending.begin, pending.end - pending.begin));
  return report;
}

// The reports in console, stopping once `limit` are complete.
std::vector<CrashReport> scan(string_view console, size_t limit) {
  std::vector<CrashReport> reports;
  std::optional<Pending> pending;
  ContextLookahead lookahead(console);
  bool previous_preamble = false;
  bool previous_separator = false;
  size_t previous_begin = 0;
  size_t line = 0;
  for (size_t pos = 0; pos < console.size(); ++line) {
    const size_t newline = console.find('\n', pos);
    const size_t line_end = newline == string_view::npos ? console.size() : newline;
    const size_t next = newline == string_view::npos ? console.size() : newline + 1;
    const string_view message = message_of(console.substr(pos, line_end - pos));

    bool ended = false;
    if (pending && pending->open) {
      if (line - pending->open_since >= kMaxReportLines) {
        pending->open = false;
      } else if (is_end_marker(message) ||
                 (ends_at_equals_row(pending->marker.detector) && line > pending->marker_line &&
                  is_equals_row(message))) {
        pending->end = next;
        pending->last_line = line;
        pending->open = false;
        ended = true;
      }
    }
    std::optional<Marker> marker;
    if (!ended) {
      marker =
          match_marker(message, previous_separator, [&] { return lookahead.follows(line, next); });
    }
    if (marker && pending && absorbs(*pending, *marker, line)) {
      pending->end = next;
      pending->last_line = line;
      pending->open = true;
      if (marker->detector == Detector::kPanic) {
        pending->open_since = line;
      }
    } else if (marker) {
      const size_t begin = previous_preamble ? previous_begin : pos;
      if (pending) {
        pending->end = std::min(pending->end, begin);
        reports.push_back(finish(console, *pending));
        if (reports.size() >= limit) {
          return reports;
        }
      }
      pending = Pending{*std::move(marker), begin, pos, next, line, line, line, true};
    } else if (pending && pending->open) {
      pending->end = next;
      pending->last_line = line;
    }
    // The row that closed a report is not the opening row of the next.
    previous_preamble = !ended && is_preamble(message);
    previous_separator = is_separator(message);
    previous_begin = pos;
    pos = next;
  }
  if (pending) {
    reports.push_back(finish(console, *pending));
  }
  return reports;
}

}  // namespace

std::vector<CrashReport> find_crash_reports(std::string_view console) {
  return scan(console, kMaxReports);
}

std::optional<CrashReport> first_crash(std::string_view console) {
  std::vector<CrashReport> reports = scan(console, 1);
  if (reports.empty()) {
    return std::nullopt;
  }
  return std::move(reports.front());
}

std::string frame_function(std::string_view frame_line) {
  string_view s = trim_left(message_of(frame_line));
  for (const string_view registers : {"RIP: ", "EIP: ", "pc : ", "lr : "}) {
    if (consume(s, registers)) {
      s = trim_left(s);
      // The code segment before the address: "0010:" (kernel) or "0033:" (user space).
      if (s.size() > 5 && std::all_of(s.begin(), s.begin() + 4, is_hex) && s[4] == ':') {
        s.remove_prefix(5);
      }
      break;
    }
  }
  s = skip_addresses(s);
  if (s.starts_with("? ")) {  // not known to be on the stack: a leftover, not a caller
    return "";
  }
  return symbol_name(first_word(s));
}

std::string console_tail(std::string_view console, size_t max_lines, size_t max_bytes) {
  if (max_lines == 0 || max_bytes == 0 || console.empty()) {
    return "";
  }
  // Look at no more raw bytes than can matter: cleaning turns a run of garbage into 3 bytes, so a
  // few times max_bytes leaves room for that without reading a huge tail.
  const size_t window = max_bytes > console.size() / 4 ? console.size() : max_bytes * 4;
  size_t start = console.size() - window;
  // A final '\n' ends the last line rather than starting an empty one.
  size_t search = console.size() - (console.back() == '\n' ? 1 : 0);
  for (size_t lines = 0; search > start;) {
    const size_t newline = console.rfind('\n', search - 1);
    if (newline == string_view::npos || newline < start) {
      break;
    }
    if (++lines == max_lines) {
      start = newline + 1;
      break;
    }
    search = newline;
  }
  // Cut inside a character: its remaining bytes are not worth a replacement character.
  for (int skipped = 0; skipped < 3 && start < console.size() && start > 0 &&
                        console[start - 1] != '\n' && is_continuation(console[start]);
       ++skipped) {
    ++start;
  }
  std::string out;
  append_clean(out, console.substr(start), true);
  if (out.size() > max_bytes) {
    size_t drop = out.size() - max_bytes;
    while (drop < out.size() && is_continuation(out[drop])) {
      ++drop;
    }
    out.erase(0, drop);
  }
  return out;
}

}  // namespace flakebisect::run
