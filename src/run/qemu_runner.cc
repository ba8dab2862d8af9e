#include "run/qemu_runner.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <utility>

#include "base/paths.h"
#include "base/unique_fd.h"
#include "build/commit_checkout.h"
#include "config/sha256.h"
#include "run/crash_report.h"
#include "run/guest_program.h"
#include "run/initramfs.h"
#include "run/kernel_image.h"

namespace flakebisect::run {
namespace {

namespace fs = std::filesystem;
using base::ErrorCode;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Console bytes kept per boot: the start (boot messages) and the newest part (where crashes are).
constexpr size_t kConsoleHeadBytes = size_t{256} << 10;
constexpr size_t kConsoleTailBytes = size_t{3} << 20;
// A results line longer than this is not ours (4 KiB of output is 5.5 KiB of base64).
constexpr size_t kMaxResultsLine = 16 << 10;
// How long a run's "end" waits for its console markers (see await_console_markers).
constexpr std::chrono::milliseconds kConsoleMarkerWait{2000};
constexpr std::string_view kGuestScratch = "/scratch";

std::string short_sha(const std::string& sha) { return sha.substr(0, 12); }

// mkfs.ext4 and modprobe by full path when found (base::find_system_executable), else as given so
// that running it reports the error.
std::string system_program(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  auto found = base::find_system_executable(name);
  return found ? *found : name;
}

int64_t ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

std::string base64_decode(std::string_view text) {
  static const std::array<int8_t, 256> table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < alphabet.size(); ++i) {
      t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    }
    return t;
  }();
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const int8_t v = table[static_cast<unsigned char>(c)];
    if (v < 0) {
      continue;  // padding or noise
    }
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

std::string random_id() {
  std::random_device device;
  return fmt::format("{:08x}{:08x}", device(), device());
}

// The console of one boot: everything up to kConsoleHeadBytes, then the newest kConsoleTailBytes.
// Offsets are absolute byte counts since the boot started.
class ConsoleLog {
 public:
  void append(std::string_view bytes) {
    total_ += bytes.size();
    if (head_.size() < kConsoleHeadBytes) {
      const size_t take = std::min(bytes.size(), kConsoleHeadBytes - head_.size());
      head_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
    }
    tail_.append(bytes);
    if (tail_.size() > 2 * kConsoleTailBytes) {
      tail_.erase(0, tail_.size() - kConsoleTailBytes);
    }
  }
  uint64_t total() const { return total_; }
  // What is kept from `from` (absolute) on.
  std::string since(uint64_t from) const {
    const uint64_t tail_start = total_ - tail_.size();
    std::string out;
    if (from < head_.size()) {
      out = head_.substr(from);
      if (tail_start > head_.size()) {
        out += "\n[... console bytes dropped ...]\n";
      }
      out += tail_;
      return out;
    }
    return from >= tail_start ? tail_.substr(from - tail_start) : tail_;
  }
  std::string text() const { return since(0); }

 private:
  std::string head_, tail_;
  uint64_t total_ = 0;
};

// Where `marker` (followed by a non-digit) last starts in `text`, or npos.
size_t find_marker(std::string_view text, const std::string& marker) {
  size_t at = text.rfind(marker);
  while (at != std::string_view::npos) {
    const size_t after = at + marker.size();
    if (after >= text.size() || text[after] < '0' || text[after] > '9') {
      return at;
    }
    at = at == 0 ? std::string_view::npos : text.rfind(marker, at - 1);
  }
  return std::string_view::npos;
}

store::RunOutcome outcome_of_status(std::optional<int> status) {
  if (!status) {
    return store::RunOutcome::kHang;
  }
  base::ProcessResult result;
  result.exit_code = *status;
  return classify_exit(result);
}

std::string status_text(std::optional<int> status) {
  return status ? fmt::format("exit {}", *status) : std::string("timed out in the guest");
}

// The titles of a run's reports, in console order, at most kMaxCrashTitlesPerRun of them.
std::vector<std::string> titles_of(const std::vector<CrashReport>& reports) {
  // Distinct titles, in console order: a WARN_ON in a loop must not push the report that
  // test.signature looks for out of the kept ones.
  std::vector<std::string> titles;
  for (size_t k = 0; k < reports.size() && titles.size() < kMaxCrashTitlesPerRun; ++k) {
    if (std::find(titles.begin(), titles.end(), reports[k].title) == titles.end()) {
      titles.push_back(reports[k].title);
    }
  }
  return titles;
}

}  // namespace

std::string installed_kernel() {
  std::string best;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/boot", error)) {
    const std::string name = entry.path().filename().native();
    if (name.rfind("vmlinuz-", 0) == 0 && fs::is_directory("/lib/modules/" + name.substr(8))) {
      best = std::max(best, entry.path().native());
    }
  }
  return best;
}

std::string bundled_program_path(const std::string& program, const std::string& helper_dir) {
  std::string dir = helper_dir;
  if (dir.empty()) {
    std::error_code error;
    dir = fs::read_symlink("/proc/self/exe", error).parent_path().native();
  }
  const std::string name = program.rfind("bundled:", 0) == 0 ? program.substr(8) : program;
  return (fs::path(dir) / ("fb-" + name)).native();
}

std::string virtio_disk_name(uint32_t k) {
  std::string suffix;
  uint32_t n = k;
  while (true) {
    suffix.insert(suffix.begin(), static_cast<char>('a' + n % 26));
    if (n < 26) {
      break;
    }
    n = n / 26 - 1;
  }
  return "vd" + suffix;
}

std::string path_in_root(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") {
    return path;
  }
  std::string joined = root;
  while (joined.size() > 1 && joined.back() == '/') {
    joined.pop_back();
  }
  return joined + (path.empty() || path.front() != '/' ? "/" : "") + path;
}

base::Result<std::vector<std::string>> xfstests_identity_files(
    const config::XfstestsConfig& xfstests) {
  const std::string tree = path_in_root(xfstests.root, xfstests.dir);
  std::error_code error;
  // The guest mounts its own filesystems on /proc, /sys, /tmp, /run, /var/tmp and /dev, and keeps
  // its files in /tmp/fb. A tree below /tmp, /run, /var/tmp or /dev is bound back over the
  // guest's mount by the guest init; one that is such a directory itself, or is below /proc,
  // /sys or /tmp/fb, would hide the guest's own files or never be seen.
  std::string dir = fs::path(xfstests.dir).lexically_normal().native();
  while (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  for (const std::string_view hidden : {"/", "/proc", "/sys", "/tmp", "/run", "/var/tmp", "/dev",
                                        "/tmp/fb"}) {
    const bool below = hidden == "/proc" || hidden == "/sys" || hidden == "/tmp/fb";
    if (dir == hidden || (below && dir.rfind(std::string(hidden) + "/", 0) == 0)) {
      return base::make_error(ErrorCode::kInvalidInput,
                              "xfstests.dir {}: the guest mounts its own {} over the root, so the "
                              "tree must live elsewhere",
                              xfstests.dir, hidden);
    }
  }
  if (!fs::is_directory(xfstests.root, error)) {
    return base::make_error(ErrorCode::kNotFound, "xfstests.root {}: not a directory",
                            xfstests.root);
  }
  const std::string check = (fs::path(tree) / "check").native();
  if (::access(check.c_str(), R_OK) != 0) {
    return base::make_error(ErrorCode::kNotFound,
                            "xfstests.dir {}: no ./check in {} (not an xfstests tree)",
                            xfstests.dir, tree);
  }
  // common/config refuses to start without the built helpers; say so before anything boots.
  const std::string fsstress = (fs::path(tree) / "ltp" / "fsstress").native();
  if (::access(fsstress.c_str(), X_OK) != 0) {
    return base::make_error(ErrorCode::kNotFound,
                            "xfstests.dir {}: {} is missing: build xfstests first (make in {})",
                            xfstests.dir, fsstress, tree);
  }
  std::vector<std::string> files = {check};
  for (const std::string& test : xfstests.tests) {
    // A test name is <group dir>/<name>; options and group names are not files.
    if (test.empty() || test.front() == '-' || test.find('/') == std::string::npos ||
        test.find("..") != std::string::npos) {
      continue;
    }
    for (const std::string& file : {test, test + ".out"}) {
      const std::string path = (fs::path(tree) / "tests" / file).native();
      if (fs::is_regular_file(path, error)) {
        files.push_back(path);
      }
    }
  }
  return files;
}

std::optional<ResultsLine> parse_results_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  std::vector<std::string_view> words;
  for (size_t i = 0; i < line.size();) {
    const size_t space = std::min(line.find(' ', i), line.size());
    if (space > i) {
      words.push_back(line.substr(i, space - i));
    }
    i = space + 1;
  }
  if (words.size() < 2 || words[0] != "FB1") {
    return std::nullopt;
  }
  const auto number = [](std::string_view text, auto& out) {
    if (text.empty() || text.size() > 18 ||
        text.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
    out = 0;
    for (char c : text) {
      out = out * 10 + (c - '0');
    }
    return true;
  };
  ResultsLine parsed;
  const std::string_view kind = words[1];
  if (kind == "ready" && words.size() == 2) {
    parsed.kind = ResultsLine::Kind::kReady;
  } else if (kind == "done" && words.size() == 2) {
    parsed.kind = ResultsLine::Kind::kDone;
  } else if (kind == "begin" && words.size() == 3 && number(words[2], parsed.run)) {
    parsed.kind = ResultsLine::Kind::kBegin;
  } else if (kind == "end" && words.size() == 7 && number(words[2], parsed.run) &&
             number(words[4], parsed.ms) && number(words[5], parsed.bytes)) {
    parsed.kind = ResultsLine::Kind::kEnd;
    int status = 0;
    if (words[3] == "timeout") {
      parsed.status = std::nullopt;
    } else if (words[3] == "silent") {
      parsed.status = std::nullopt;
      parsed.silent = true;
    } else if (number(words[3], status) && status <= 255) {
      parsed.status = status;
    } else {
      return std::nullopt;
    }
    if (words[6] != "-") {
      parsed.output_tail = base64_decode(words[6]);
    }
  } else if (kind == "infra" && words.size() == 4 && number(words[2], parsed.run)) {
    parsed.kind = ResultsLine::Kind::kInfra;
    parsed.what = std::string(words[3]);
  } else if (kind == "error" && words.size() >= 3) {
    parsed.kind = ResultsLine::Kind::kError;
    parsed.what = std::string(line.substr(words[2].data() - line.data()));
  } else {
    return std::nullopt;
  }
  return parsed;
}

namespace {

// Removes boot-* directories under `work_dir` (other than `mine`) whose lock no process holds:
// scratch images left by a killed flakebisect. A directory being set up (no lock file yet) is
// left alone unless it is an hour old.
void remove_abandoned_boots(const std::string& work_dir, const std::string& mine) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(work_dir, error)) {
    const std::string name = entry.path().filename().native();
    if (name.rfind("boot-", 0) != 0 || entry.path().native() == mine) {
      continue;
    }
    const fs::path lock_path = entry.path() / ".lock";
    base::UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CLOEXEC));
    if (!lock.valid()) {
      const auto age = fs::file_time_type::clock::now() - fs::last_write_time(entry.path(), error);
      if (error || age < std::chrono::hours(1)) {
        continue;
      }
    } else if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      continue;  // a live boot
    }
    spdlog::info("qemu: removing {} (left by a flakebisect that did not finish)",
                 entry.path().native());
    fs::remove_all(entry.path(), error);
  }
}

}  // namespace

// ---- one boot --------------------------------------------------------------------------------

// State of one boot while it runs; see run_batch().
struct QemuRunner::Boot {
  std::string id;
  std::string dir;
  std::string results_path;
  std::string console_path;
  ConsoleLog console;
  std::string results_pending;  // bytes of an unfinished results line
  off_t results_offset = 0;
  bool ready = false;
  std::optional<uint32_t> current;  // run (within the boot) that has begun and not ended
  uint64_t current_console_from = 0;
  uint64_t after_last_run = 0;  // console offset when the last run ended (0 before any)
  // Whether this boot's console has shown a run's marker, and whether a wait for the markers of
  // a run ended without the console ever showing one (see await_console_markers).
  bool console_has_markers = false;
  bool console_lacks_markers = false;
  Clock::time_point started, last_event;
  uint32_t finished_runs = 0;
  std::string qemu_stderr;
  std::string direct_image;  // the unpacked vmlinux QEMU boots (qemu.direct_boot), else empty

  // For a boot that did not get ready: how it was booted, when directly.
  std::string how_booted() const {
    return direct_image.empty()
               ? std::string()
               : fmt::format(
                     " (booted directly from {}; qemu.direct_boot = false boots the "
                     "bzImage)",
                     direct_image);
  }

  // The console of boot-relative run k: between the guest's "flakebisect: begin run k" and
  // "flakebisect: end run k" console markers, which the kernel prints in order with its own
  // messages. Without the begin marker (a custom init), from `fallback_from` on.
  std::string run_console(uint32_t k, uint64_t fallback_from) const {
    const std::string text = console.text();
    const size_t begin = find_marker(text, fmt::format("flakebisect: begin run {}", k));
    if (begin == std::string::npos) {
      return console.since(fallback_from);
    }
    const size_t end = find_marker(text, fmt::format("flakebisect: end run {}", k));
    return text.substr(begin, end != std::string::npos && end > begin ? end - begin
                                                                       : std::string::npos);
  }

  // Whether the console holds the guest's marker for run k ("begin" or "end").
  bool has_marker(std::string_view which, uint32_t k) const {
    return find_marker(console.text(), fmt::format("flakebisect: {} run {}", which, k)) !=
           std::string::npos;
  }

  // Rewrites the boot's console log file (capped), the whole boot so far.
  base::Status save_console() const {
    return base::write_file_atomic(console_path, console.text());
  }

  // Where run `index` (FLAKEBISECT_RUN) keeps the console its outcome was read from: a file of
  // its own, written once, so the hash in its row stays true (the boot's log grows).
  std::string run_console_path(uint32_t index) const {
    std::string path = console_path;
    path.insert(path.size() - std::string_view(".log").size(), fmt::format("-run-{}", index));
    return path;
  }
};

QemuRunner::QemuRunner(base::ProcessRunner& processes, QemuRunnerOptions options)
    : processes_(processes), options_(std::move(options)) {}

QemuRunner::~QemuRunner() = default;

base::Result<RunResult> QemuRunner::run(const build::CommitCheckout& checkout,
                                        uint32_t run_index) {
  std::optional<RunResult> got;
  FB_TRY(run_batch(checkout, run_index, 1, [&](const RunResult& result) -> base::Result<bool> {
    got = result;
    return false;
  }));
  if (!got) {
    return base::Error("the guest reported no run", ErrorCode::kFailed);
  }
  return *got;
}

base::Result<std::string> QemuRunner::kernel_image(const build::CommitCheckout& checkout) const {
  std::string image = options_.qemu.kernel;
  if (image.empty()) {
    if (checkout.artifact.empty()) {
      return base::Error("no kernel: qemu.kernel is empty and the build made no artifact",
                         ErrorCode::kInvalidInput);
    }
    image = (fs::path(checkout.artifact) / options_.artifact_image).native();
  }
  std::error_code error;
  if (!fs::is_regular_file(image, error)) {
    return base::make_error(ErrorCode::kNotFound, "kernel image {}: not found", image);
  }
  return image;
}

base::Result<std::optional<std::string>> QemuRunner::reproducer_path(
    const build::CommitCheckout& checkout) const {
  const std::string& program = options_.reproducer.program;
  std::string path;
  if (program.rfind("bundled:", 0) == 0) {
    path = bundled_program_path(program, options_.helper_dir);
    if (::access(path.c_str(), X_OK) != 0) {
      return base::make_error(ErrorCode::kNotFound,
                              "bundled reproducer {}: not found (build flakebisect with its qemu/ "
                              "directory, or set reproducer.program to a path)",
                              path);
    }
    return std::optional<std::string>(path);
  }
  if (program.front() == '/') {
    if (::access(program.c_str(), R_OK) != 0) {
      return base::make_error(ErrorCode::kNotFound, "reproducer {}: not found", program);
    }
    path = program;
  } else {
    // In the commit's checkout: a commit without it cannot be tested (a skip), not a tool error.
    path = (fs::path(checkout.worktree) / program).native();
    if (::access(path.c_str(), R_OK) != 0) {
      return std::optional<std::string>();
    }
  }
  // Before any boot: one that cannot start would exit 127 in every run, a failure at every commit.
  const auto list_applets = [this] {
    std::set<std::string> applets;
    base::ProcessOptions list;
    list.argv = {options_.busybox, "--list"};
    list.timeout = std::chrono::seconds(30);
    list.output_cap = size_t{1} << 20;
    if (auto listed = processes_.run(list); listed && listed->exit_code == 0) {
      for (size_t pos = 0; pos < listed->out.size();) {
        const size_t end = std::min(listed->out.find('\n', pos), listed->out.size());
        applets.insert(listed->out.substr(pos, end - pos));
        pos = end + 1;
      }
    }
    return applets;
  };
  if (const auto why = guest_cannot_run(path, list_applets)) {
    return base::make_error(ErrorCode::kInvalidInput, "reproducer {} cannot run in the guest: {}",
                            path, *why);
  }
  return std::optional<std::string>(path);
}

base::Result<std::vector<std::string>> QemuRunner::module_paths() {
  if (modules_) {
    return *modules_;
  }
  std::string tree = options_.qemu.modules;
  if (tree.empty() && !options_.qemu.kernel.empty()) {
    const std::string name = fs::path(options_.qemu.kernel).filename().native();
    if (name.rfind("vmlinuz-", 0) == 0) {
      const std::string guess = "/lib/modules/" + name.substr(8);
      std::error_code error;
      if (fs::is_directory(guess, error)) {
        tree = guess;
      }
    }
  }
  std::vector<std::string> paths;
  std::vector<std::string> load = options_.qemu.load_modules;
  if (options_.xfstests && !load.empty()) {
    // The guest's root comes over virtio-9p.
    load.insert(load.end(), {"9pnet_virtio", "9p"});
  }
  if (tree.empty() || load.empty()) {
    modules_ = paths;
    return paths;
  }
  // <root>/lib/modules/<version>: modprobe -d <root> -S <version>.
  const fs::path tree_path(tree);
  const std::string version = tree_path.filename().native();
  const std::string root = tree_path.parent_path().parent_path().parent_path().native();
  std::set<std::string> seen;
  for (const std::string& module : load) {
    base::ProcessOptions modprobe;
    modprobe.argv = {system_program("modprobe"), "-d", root.empty() ? "/" : root, "-S", version,
                     "--show-depends", module};
    modprobe.timeout = milliseconds(30000);
    auto result = processes_.run(modprobe);
    if (!result) {
      return std::move(result).error().context("modprobe (package kmod)");
    }
    if (!result->succeeded()) {
      const bool added = std::find(options_.qemu.load_modules.begin(),
                                   options_.qemu.load_modules.end(),
                                   module) == options_.qemu.load_modules.end();
      return base::make_error(ErrorCode::kInvalidInput, "{}: module {} is not in {}: {}",
                              added ? "[xfstests] (virtio-9p for the guest's root)"
                                    : "qemu.load_modules",
                              module, tree, build::tail_of(result->err + result->out, 300));
    }
    size_t start = 0;
    const std::string& out = result->out;
    while (start < out.size()) {
      const size_t end = std::min(out.find('\n', start), out.size());
      const std::string_view line(out.data() + start, end - start);
      start = end + 1;
      if (line.rfind("insmod ", 0) != 0) {
        continue;  // "builtin x": nothing to load
      }
      std::string_view path = line.substr(7);
      path = path.substr(0, path.find(' '));
      if (seen.insert(std::string(path)).second) {
        paths.emplace_back(path);
      }
    }
  }
  modules_ = paths;
  return paths;
}

base::Result<std::string> QemuRunner::base_initramfs() {
  if (base_initramfs_) {
    return *base_initramfs_;
  }
  FB_ASSIGN_OR_RETURN(std::vector<std::string> modules, module_paths());
  CpioWriter cpio;
  for (const char* dir : {"bin", "dev", "proc", "sys", "tmp", "fb", "fb/modules", "fb/files",
                          "scratch"}) {
    cpio.add_directory(dir);
  }
  cpio.add_char_device("dev/console", 5, 1);
  if (auto added = cpio.add_host_file("bin/busybox", options_.busybox, 0755); !added) {
    return std::move(added).error().context("busybox (package busybox-static)");
  }
  cpio.add_symlink("bin/sh", "busybox");
  const std::string init =
      options_.init_script.empty() ? std::string(bundled_guest_init()) : options_.init_script;
  cpio.add_file("init", init, 0755);
  std::string list;
  for (const std::string& module : modules) {
    const std::string name = fs::path(module).filename().native();
    FB_TRY(cpio.add_host_file("fb/modules/" + name, module, 0644));
    list += name + "\n";
  }
  cpio.add_file("fb/module-list", list);
  const std::string archive = cpio.finish();
  FB_TRY(base::make_private_dir(options_.cache_dir));
  const std::string path =
      (fs::path(options_.cache_dir) / ("initramfs-" + config::sha256_hex(archive).substr(0, 24) +
                                       ".cpio"))
          .native();
  std::error_code error;
  if (!fs::exists(path, error)) {
    FB_TRY(base::write_file_atomic(path, archive));
  }
  base_initramfs_ = path;
  return path;
}

std::vector<std::string> QemuRunner::qemu_argv(const std::string& accel, const std::string& kernel,
                                               const std::string& initrd,
                                               const std::string& results,
                                               const std::vector<std::string>& disks,
                                               bool probe, const std::string& share) const {
  std::string append = "console=ttyS0,115200 panic=-1 oops=panic nokaslr";
  // loglevel=7: a report's trace is not always printed at its headline's level (a hung task's
  // "Call Trace:" comes at KERN_INFO), and without it the title names the task, not the function
  // it hangs in; a boot that never gets ready is diagnosed from KERN_INFO lines too.
  append += probe ? " loglevel=7 rdinit=/nonexistent"
                  : fmt::format(" loglevel={}", options_.qemu.console_loglevel);
  if (accel == "tcg") {
    // Emulated CPUs stall whenever the host is busy (a build beside it): at the kernel's default
    // thresholds (soft lockup after 20 s, RCU stall after 21 s, a hung task after 120 s with a
    // distribution's config) a good commit then "crashes", a false failure. Longer thresholds
    // still catch a real lockup, which never ends; the words come before qemu.append's, so the
    // user's own values win. The hung-task ones are sysctls (kernels from 5.8 read sysctl.* words;
    // older ones ignore them): khungtaskd checks every timeout's worth of seconds unless told
    // otherwise, so a longer timeout alone would report a real hang up to twice as late, past
    // test.timeout's 10 minutes; every 30 s, a task blocked for 240 s is reported within 270 s.
    append +=
        " watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120 "
        "sysctl.kernel.hung_task_timeout_secs=240 "
        "sysctl.kernel.hung_task_check_interval_secs=30";
  }
  for (const std::string& word : options_.qemu.append) {
    append += " " + word;
  }
  std::vector<std::string> argv = {options_.qemu.binary,
                                   "-nodefaults",
                                   "-no-user-config",
                                   "-display",
                                   "none",
                                   "-no-reboot",
                                   "-accel",
                                   accel,
                                   "-m",
                                   std::to_string(options_.qemu.memory_mb),
                                   "-smp",
                                   std::to_string(options_.qemu.cpus),
                                   "-kernel",
                                   kernel,
                                   "-append",
                                   append,
                                   "-chardev",
                                   "stdio,id=console,signal=off",
                                   "-serial",
                                   "chardev:console"};
  if (!initrd.empty()) {
    argv.insert(argv.end(), {"-initrd", initrd});
  }
  // QEMU's option parser splits on ','; a ',' in a path is written ',,'.
  const auto escaped = [](const std::string& path) {
    std::string out;
    for (char c : path) {
      out += c == ',' ? std::string(",,") : std::string(1, c);
    }
    return out;
  };
  if (!results.empty()) {
    argv.insert(argv.end(), {"-chardev", "file,id=results,path=" + escaped(results), "-serial",
                             "chardev:results"});
  }
  for (const std::string& disk : disks) {
    argv.insert(argv.end(),
                {"-drive", "file=" + escaped(disk) + ",if=virtio,format=raw,cache=none"});
  }
  if (options_.xfstests && !probe) {
    // The guest's userland, read-only (multidevs=remap: the tree may span host filesystems), and
    // the directory it writes xfstests' results into.
    const std::string& root = options_.xfstests->root;
    argv.insert(argv.end(),
                {"-fsdev",
                 "local,id=fbroot,path=" + escaped(root) +
                     ",security_model=none,readonly=on,multidevs=remap",
                 "-device", "virtio-9p-pci,fsdev=fbroot,mount_tag=fbroot"});
    if (!share.empty()) {
      argv.insert(argv.end(), {"-fsdev",
                               "local,id=fbresults,path=" + escaped(share) +
                                   ",security_model=none",
                               "-device", "virtio-9p-pci,fsdev=fbresults,mount_tag=fbresults"});
    }
  }
  return argv;
}

base::Result<std::string> QemuRunner::boot_image(const std::string& kernel) {
  // Only the prebuilt kernel, the same at every commit: a kernel built from a commit boots the
  // way it was built to (its PVH entry is code of the commit too).
  if (!options_.qemu.direct_boot || options_.qemu.kernel.empty() ||
      options_.kernel_cache_dir.empty() || kernel != options_.qemu.kernel) {
    return kernel;
  }
  // QEMU's PVH loader (pvh.bin) copies the command line into a 4 KiB buffer.
  size_t command_line = 0;
  for (const std::string& word : options_.qemu.append) command_line += word.size() + 1;
  if (command_line > 2048) {
    spdlog::warn("qemu: booting {} as it is: qemu.append is too long for a direct boot", kernel);
    return kernel;
  }
  if (const auto known = boot_images_.find(kernel); known != boot_images_.end()) {
    std::error_code error;
    if (known->second == kernel || fs::is_regular_file(known->second, error)) {
      return known->second;
    }
    boot_images_.erase(known);  // the cached file was removed: unpack it again
  }
  std::string image = kernel;
  auto direct = pvh_vmlinux(kernel, options_.kernel_cache_dir);
  if (!direct) {
    return std::move(direct).error().context("qemu.direct_boot");
  }
  if (*direct) {
    spdlog::debug("qemu: booting {} directly (PVH) from {}", kernel, **direct);
    image = **direct;
  } else {
    spdlog::info(
        "qemu: {} has no PVH entry (or a compression flakebisect cannot unpack): "
        "booted as it is despite qemu.direct_boot",
        kernel);
  }
  boot_images_.emplace(kernel, image);
  return image;
}

base::Result<std::string> QemuRunner::choose_accel(const std::string& kernel) {
  if (!accel_.empty()) {
    return accel_;
  }
  if (options_.qemu.accel == "kvm") {
    // Without the device QEMU cannot start: say so once, before any run, rather than record
    // every boot's failure as an infra run.
    base::UniqueFd kvm(::open(options_.kvm_device.c_str(), O_RDWR | O_CLOEXEC));
    if (!kvm.valid()) {
      return base::make_error(ErrorCode::kInvalidInput,
                              "qemu.accel is \"kvm\" but {} cannot be opened read-write ({}); "
                              "set qemu.accel to \"auto\" (KVM when it works, else TCG) or "
                              "\"tcg\"",
                              options_.kvm_device, std::strerror(errno));
    }
  }
  if (options_.qemu.accel != "auto") {
    accel_ = options_.qemu.accel;
    return accel_;
  }
  // One probe per QEMU binary per process: a daemon's bisections share it. The lock is held
  // through the probe, so that the workers of a daemon starting together wait for one probe
  // instead of each booting its own (a broken KVM keeps a core busy for the whole timeout).
  static std::mutex probed_mutex;
  static std::map<std::string, std::string> probed;
  std::lock_guard probing(probed_mutex);
  if (auto it = probed.find(options_.qemu.binary); it != probed.end()) {
    accel_ = it->second;
    return accel_;
  }
  if (::access(options_.kvm_device.c_str(), R_OK | W_OK) != 0) {
    spdlog::info("qemu: {} is not usable ({}); using TCG", options_.kvm_device,
                 std::strerror(errno));
    accel_ = "tcg";
    return accel_;
  }
  // A probe boot with KVM: the kernel must print within the probe timeout. Present-but-broken KVM
  // hangs silently at 100% CPU.
  base::ProcessOptions options;
  options.argv = qemu_argv("kvm", kernel, "", "", {}, true);
  options.merge_stderr = true;
  FB_ASSIGN_OR_RETURN(base::ChildProcess qemu, base::ChildProcess::start(options));
  std::string seen;
  const auto deadline = Clock::now() + options_.kvm_probe_timeout;
  bool printed = false;
  while (Clock::now() < deadline && !printed) {
    pollfd fd{qemu.stdout_fd(), POLLIN, 0};
    ::poll(&fd, 1, 100);
    char buffer[4096];
    const ssize_t n = ::read(qemu.stdout_fd(), buffer, sizeof buffer);
    if (n > 0) {
      seen.append(buffer, static_cast<size_t>(n));
      printed = seen.find("Linux version") != std::string::npos;
    }
    FB_ASSIGN_OR_RETURN(auto exited, qemu.wait_for(milliseconds(0)));
    if (exited) {
      break;
    }
  }
  (void)qemu.kill_group(SIGKILL);
  (void)qemu.wait_for(milliseconds(2000));
  accel_ = printed ? "kvm" : "tcg";
  probed[options_.qemu.binary] = accel_;
  if (!printed) {
    spdlog::warn("qemu: a KVM probe guest printed nothing in {} ms; using TCG (slower)",
                 options_.kvm_probe_timeout.count());
  }
  return accel_;
}

base::Status QemuRunner::run_batch(const build::CommitCheckout& checkout, uint32_t first_index,
                                   uint32_t count, const RunSink& sink) {
  const std::string what = fmt::format("qemu {}", short_sha(checkout.sha));
  const auto started = Clock::now();
  const auto skip = [&](const std::string& detail) -> base::Status {
    RunResult result;
    result.outcome = store::RunOutcome::kSkip;
    result.detail = detail;
    FB_TRY(sink(result));
    return {};
  };

  auto kernel = kernel_image(checkout);
  if (!kernel) {
    return std::move(kernel).error().context(what);
  }
  // Before anything can record a run (a skip, below): a forced accelerator that cannot work is an
  // error, not a run.
  auto accel = choose_accel(*kernel);
  if (!accel) {
    return std::move(accel).error().context(what);
  }
  std::optional<std::string> reproducer;
  if (options_.xfstests) {
    if (auto tree = xfstests_identity_files(*options_.xfstests); !tree) {
      return std::move(tree).error().context(what);
    }
  } else {
    FB_ASSIGN_OR_RETURN(reproducer, reproducer_path(checkout));
    if (!reproducer) {
      return skip(fmt::format("reproducer {} is not in the checkout of {}",
                              options_.reproducer.program, short_sha(checkout.sha)));
    }
  }
  auto base = base_initramfs();
  if (!base) {
    return std::move(base).error().context(what + ": initramfs");
  }

  // With xfstests every run has a TEST_DEV and a SCRATCH_DEV.
  const uint32_t disks_per_run = options_.xfstests ? 2 : 1;
  const uint32_t runs = std::min({count, options_.qemu.runs_per_boot,
                                  options_.xfstests ? kXfstestsRunsPerBoot : UINT32_MAX});
  Boot boot;
  boot.id = fmt::format("{}-{}", short_sha(checkout.sha), random_id());
  FB_TRY(base::make_private_dir(options_.work_dir));
  FB_TRY(base::make_private_dir(options_.log_dir));
  boot.dir = (fs::path(options_.work_dir) / ("boot-" + boot.id)).native();
  FB_TRY(base::make_private_dir(boot.dir));
  // Held for the whole boot: a boot directory whose lock nobody holds belongs to a flakebisect
  // that was killed (kill -9, power loss) and is removed by the next boot. The lock is taken
  // under another name and renamed into place, so that ".lock" is never there unlocked: another
  // runner starting at the same moment (a daemon's other worker) would take this boot for an
  // abandoned one and remove it.
  const fs::path lock_path = fs::path(boot.dir) / ".lock";
  const fs::path new_lock_path = fs::path(boot.dir) / ".lock.new";
  base::UniqueFd boot_lock(
      ::open(new_lock_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!boot_lock.valid() || ::flock(boot_lock.get(), LOCK_EX | LOCK_NB) != 0 ||
      ::rename(new_lock_path.c_str(), lock_path.c_str()) != 0) {
    return base::make_error(ErrorCode::kIo, "{}: lock {}: {}", what, boot.dir,
                            std::strerror(errno));
  }
  remove_abandoned_boots(options_.work_dir, boot.dir);
  struct RemoveDir {
    std::string path;
    ~RemoveDir() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } remove_dir{boot.dir};
  boot.results_path = (fs::path(boot.dir) / "results").native();
  boot.console_path = (fs::path(options_.log_dir) / ("console-" + boot.id + ".log")).native();
  FB_TRY(base::write_file_atomic(boot.results_path, ""));

  // One fresh filesystem per run (two with xfstests).
  std::vector<std::string> disks;
  for (uint32_t k = 0; k < runs * disks_per_run; ++k) {
    const std::string image = (fs::path(boot.dir) / fmt::format("scratch-{}.img", k)).native();
    {
      std::error_code error;
      std::ofstream(image).close();
      fs::resize_file(image, uint64_t{options_.scratch.size_mb} << 20, error);
      if (error) {
        return base::make_error(ErrorCode::kIo, "{}: scratch image {}: {}", what, image,
                                error.message());
      }
    }
    base::ProcessOptions mkfs;
    mkfs.argv = options_.scratch.mkfs;
    mkfs.argv.front() = system_program(mkfs.argv.front());
    mkfs.argv.push_back(image);
    mkfs.timeout = milliseconds(120000);
    mkfs.merge_stderr = true;
    auto made = processes_.run(mkfs);
    if (!made) {
      return std::move(made).error().context(what + ": scratch.mkfs");
    }
    if (!made->succeeded()) {
      return base::make_error(ErrorCode::kFailed, "{}: scratch.mkfs failed ({}): {}", what,
                              made->status_text(mkfs), build::tail_of(made->out, 500));
    }
    disks.push_back(image);
  }

  // xfstests writes its results (check.log, <test>.out.bad, .full, .dmesg) here, kept like the
  // console log.
  std::string share;
  if (options_.xfstests) {
    share = (fs::path(options_.log_dir) / ("xfstests-" + boot.id)).native();
    FB_TRY(base::make_private_dir(share));
  }

  // The per-boot archive, appended to the cached base.
  CpioWriter extra;
  std::string args;
  if (options_.xfstests) {
    const config::XfstestsConfig& xfstests = *options_.xfstests;
    extra.add_file("fb/mode", "xfstests\n");
    extra.add_file("fb/xfstests_dir", xfstests.dir + "\n");
    // ./check's environment, one NAME=value per line, handed to env(1) as words (never a
    // sourced local.config, so no value is interpreted by a shell).
    std::string environment = "FSTYP=" + options_.scratch.fstype + "\n";
    if (!xfstests.mkfs_options.empty()) {
      environment += "MKFS_OPTIONS=" + xfstests.mkfs_options + "\n";
    }
    if (!xfstests.mount_options.empty()) {
      environment += "MOUNT_OPTIONS=" + xfstests.mount_options + "\n";
    }
    for (const std::string& entry : xfstests.environment) {
      environment += entry + "\n";
    }
    extra.add_file("fb/environment", environment);
    for (const std::string& arg : xfstests.tests) {
      args += arg + "\n";
    }
  } else {
    extra.add_file("fb/mode", "program\n");
    if (auto added = extra.add_host_file("fb/reproducer", *reproducer, 0755); !added) {
      return std::move(added).error().context(what + ": reproducer");
    }
    for (std::string arg : options_.reproducer.args) {
      for (size_t at = arg.find("{scratch}"); at != std::string::npos;
           at = arg.find("{scratch}", at + kGuestScratch.size())) {
        arg.replace(at, 9, kGuestScratch);
      }
      args += arg + "\n";
    }
  }
  extra.add_file("fb/args", args);
  extra.add_file("fb/runs", std::to_string(runs) + "\n");
  extra.add_file("fb/first_run", std::to_string(first_index) + "\n");
  extra.add_file("fb/timeout",
                 std::to_string(std::max<int64_t>(1, options_.run_timeout.count() / 1000)) + "\n");
  extra.add_file("fb/no_output_timeout",
                 std::to_string(options_.xfstests ? 0 : no_output_seconds()) + "\n");
  extra.add_file("fb/fstype", options_.scratch.fstype + "\n");
  extra.add_file("fb/mount_options", options_.scratch.mount_options + "\n");
  std::string disk_names;
  for (uint32_t k = 0; k < runs * disks_per_run; ++k) {
    disk_names += virtio_disk_name(k) + "\n";
  }
  extra.add_file("fb/disks", disk_names);
  for (const std::string& file : options_.reproducer.files) {
    if (auto added = extra.add_host_file("fb/files/" + fs::path(file).filename().native(), file);
        !added) {
      return std::move(added).error().context(what + ": reproducer.files");
    }
  }
  FB_ASSIGN_OR_RETURN(std::string initrd_bytes, base::read_file(*base, size_t{1} << 30));
  initrd_bytes += extra.finish();
  const std::string initrd = (fs::path(boot.dir) / "initramfs.cpio").native();
  FB_TRY(base::write_file_atomic(initrd, initrd_bytes));
  initrd_bytes.clear();

  base::ProcessOptions qemu_options;
  FB_ASSIGN_OR_RETURN(boot.direct_image, boot_image(*kernel));
  if (boot.direct_image == *kernel) boot.direct_image.clear();
  qemu_options.argv = qemu_argv(*accel, boot.direct_image.empty() ? *kernel : boot.direct_image,
                                initrd, boot.results_path, disks, false, share);
  auto started_qemu = base::ChildProcess::start(qemu_options);
  if (!started_qemu) {
    return std::move(started_qemu).error().context(what);
  }
  base::ChildProcess qemu = std::move(started_qemu).value();
  boot.started = boot.last_event = Clock::now();
  spdlog::debug("{}: boot {} with {} runs ({}, {} ms to prepare)", what, boot.id, runs, *accel,
                ms_between(started, boot.started));

  base::UniqueFd results_fd(::open(boot.results_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!results_fd.valid()) {
    return base::make_error(ErrorCode::kIo, "{}: {}: {}", what, boot.results_path,
                            std::strerror(errno));
  }

  // Results of the runs of this boot, by the end of which the batch stops.
  bool stop = false;
  std::optional<base::Error> sink_error;
  // Hands a run to the sink once its console (`console`, what its outcome was read from) is
  // kept in its own file. A log that cannot be written (a full disk) ends the batch with an
  // error, and the run is not handed on: a row never points at a log that is not there.
  const auto deliver = [&](RunResult result, const std::string& console) {
    const uint32_t index = first_index + boot.finished_runs;
    const std::string path = boot.run_console_path(index);
    base::Status saved = base::write_file_atomic(path, console);
    if (saved) {
      saved = boot.save_console();
    }
    if (!saved) {
      sink_error = std::move(saved).error().context(
          fmt::format("{}: run {}: cannot keep the console log", what, index));
      stop = true;
      return;
    }
    result.boot_id = boot.id;
    result.console_path = path;
    result.console_sha256 = config::sha256_hex(console);
    ++boot.finished_runs;
    auto go_on = sink(result);
    if (!go_on) {
      sink_error = std::move(go_on).error();
      stop = true;
    } else if (!*go_on) {
      stop = true;
    }
  };
  // The boot ended abnormally: `console` is the part that matters (the run's, or what came after
  // the last run). During a run (from its "begin" to its "end", scratch mount and unmount
  // included), a kernel report there makes the run a crash, else `otherwise`. Outside a run
  // (before the guest was ready, between runs) no reproducer ran and no scratch filesystem was
  // mounted, so a report is not a crash the reproducer found: the boot ends as infra, with the
  // report's title in the detail (callers pass infra as `otherwise` there too). A kernel built
  // from the commit that panicked before the guest was ready (QEMU then ended by itself:
  // `panic=-1 -no-reboot`; not killed, not stopped by the guest's own error, not a timeout) is the
  // commit's, though: it does not boot, as git bisect, ktest and syzbot would skip it. That infra
  // run keeps the reports' titles, which makes it count toward skipping the commit
  // (engine/evidence.h) instead of toward pausing for the host's sake.
  const auto end_abnormally = [&](const std::string& console, store::RunOutcome otherwise,
                                  const std::string& why, bool qemu_ended_itself = false) {
    const bool in_run = boot.ready && boot.current.has_value();
    RunResult result;
    if (const std::vector<CrashReport> reports = find_crash_reports(console); !reports.empty()) {
      const bool commits_kernel_did_not_boot =
          qemu_ended_itself && !boot.ready && options_.qemu.kernel.empty() &&
          console.find("Kernel panic - not syncing") != std::string::npos;
      const CrashReport& crash = reports.front();
      result.outcome = in_run ? store::RunOutcome::kCrash : store::RunOutcome::kInfra;
      if (in_run) {
        result.signature = crash.title;
      }
      if (in_run || commits_kernel_did_not_boot) {
        result.crash_titles = titles_of(reports);
      }
      result.detail = why +
                      (in_run ? "\n"
                       : commits_kernel_did_not_boot
                           ? "; the kernel built from the commit crashed while booting (it counts "
                             "toward skipping the commit): " +
                                 crash.title + "\n"
                           : "; kernel: " + crash.title + "\n") +
                      crash.excerpt;
    } else {
      result.outcome = otherwise;
      result.detail = why + "\n" + console_tail(console, 40, 4096);
    }
    result.duration = milliseconds(ms_between(boot.last_event, Clock::now()));
    deliver(std::move(result), console);
    stop = true;
  };

  const auto read_console = [&] {
    char buffer[16384];
    for (int fd : {qemu.stdout_fd(), qemu.stderr_fd()}) {
      while (fd >= 0) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) {
          break;
        }
        if (fd == qemu.stdout_fd()) {
          boot.console.append(std::string_view(buffer, static_cast<size_t>(n)));
        } else {
          boot.qemu_stderr.append(buffer, static_cast<size_t>(n));
          if (boot.qemu_stderr.size() > 65536) {
            boot.qemu_stderr.erase(0, boot.qemu_stderr.size() - 32768);
          }
        }
      }
    }
  };

  // The console (ttyS0, a pipe) and the results (ttyS1, a file) are two channels: the guest prints
  // "begin run k" and "end run k" on the console before it writes "begin" and "end" to the
  // results, but the console's bytes can reach this process much later (the kernel's console
  // output is asynchronous since 6.x printk, and QEMU flushes each chardev on its own): a whole
  // run can be reported on the results before its first console byte. Read then, the run's
  // window would be empty and a report the kernel printed during the run missed (or found in the
  // next run's window). So wait for both markers of run k, up to kConsoleMarkerWait, whenever
  // they are to be expected: the bundled init always prints them, and a custom one does once
  // this boot's console has shown one. A console that never shows them (a custom init that
  // prints none, or a kernel command line that hides the init's messages) costs one wait per
  // boot, not one per run; a marker that never comes leaves the console as it is.
  const auto await_console_markers = [&](uint32_t k) {
    const auto both = [&] { return boot.has_marker("begin", k) && boot.has_marker("end", k); };
    const bool expected =
        boot.console_has_markers || (options_.init_script.empty() && !boot.console_lacks_markers);
    if (expected) {
      const auto deadline = Clock::now() + kConsoleMarkerWait;
      while (!both()) {
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        pollfd pfd{qemu.stdout_fd(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
          spdlog::debug("{}: run {}: its console markers did not come within {} ms", what, k,
                        kConsoleMarkerWait.count());
          break;
        }
        const uint64_t before = boot.console.total();
        read_console();
        if (boot.console.total() == before) {
          break;  // end of file: QEMU is gone
        }
      }
    }
    if (boot.has_marker("begin", k)) {
      boot.console_has_markers = true;
    } else if (expected && !boot.console_has_markers) {
      boot.console_lacks_markers = true;
    }
  };

  uint64_t console_before = 0;
  const auto handle_line = [&](const ResultsLine& line) {
    boot.last_event = Clock::now();
    switch (line.kind) {
      case ResultsLine::Kind::kReady:
        boot.ready = true;
        spdlog::debug("{}: guest ready after {} ms", what, ms_between(boot.started, Clock::now()));
        break;
      case ResultsLine::Kind::kBegin:
        boot.current = line.run;
        // The console bytes read in this iteration may have been printed after the guest wrote
        // "begin": start from what had been read before it.
        boot.current_console_from = console_before;
        break;
      case ResultsLine::Kind::kEnd: {
        // The guest printed this run's console markers before writing "end": drain the console
        // pipe so they (and any report between them) are in hand.
        read_console();
        await_console_markers(line.run);
        RunResult result;
        result.outcome = outcome_of_status(line.status);
        const std::string ended =
            line.silent ? fmt::format(
                              "printed nothing for {} s (test.no_output_timeout): stopped "
                              "in the guest",
                              no_output_seconds())
                        : status_text(line.status);
        result.detail = ended;
        if (options_.xfstests) {
          // The guest init turned ./check's summary into an exit status (qemu/guest/init).
          result.detail =
              fmt::format("xfstests {} (results in {}/run-{})",
                          !line.status          ? std::string("timed out in the guest")
                          : *line.status == 0   ? std::string("passed")
                          : *line.status == 125 ? std::string("did not run the test (not run)")
                          : *line.status == 254 ? std::string("./check could not run the tests")
                          : *line.status == 137 ? std::string("was killed by a signal (exit 137)")
                                                : std::string("failed"),
                          share, first_index + line.run);
        }
        if (line.bytes > 0) {
          result.detail += fmt::format(" ({} bytes of output)\n", line.bytes) +
                           build::tail_of(line.output_tail, kRunDetailTailBytes);
        }
        const std::string console =
            boot.run_console(line.run, boot.current_console_from);
        // Every report, not only the first: an unrelated WARNING may come before the one that
        // test.signature looks for, and the runs are shared by bisections with other signatures.
        if (const std::vector<CrashReport> reports = find_crash_reports(console);
            !reports.empty()) {
          // The kernel reported a problem during the run: that is what this run found.
          const CrashReport& crash = reports.front();
          // The reproducer's own verdict stays with the run: a bisection for which this crash
          // is not the bug counts that instead (engine/evidence.h).
          // Not with xfstests: its ./check fails a test whose dmesg shows a report
          // (_check_dmesg), so its verdict would turn every unrelated WARNING into a failure.
          if (!line.silent && !options_.xfstests &&
              (result.outcome == store::RunOutcome::kPass ||
               result.outcome == store::RunOutcome::kFail ||
               result.outcome == store::RunOutcome::kSkip)) {
            result.test_outcome = result.outcome;
          }
          result.outcome = store::RunOutcome::kCrash;
          result.signature = crash.title;
          result.crash_titles = titles_of(reports);
          const std::string ran = options_.xfstests
                                      ? result.detail.substr(0, result.detail.find('\n'))
                                      : "reproducer " + ended;
          result.detail = fmt::format("{}; kernel: {}\n{}", ran, crash.title, crash.excerpt);
        }
        result.duration = milliseconds(line.ms);
        const bool crashed = result.outcome == store::RunOutcome::kCrash;
        boot.current.reset();
        boot.after_last_run = boot.console.total();
        deliver(std::move(result), console);
        // A kernel that has reported a problem is tainted (lockdep turns itself off, KASAN and
        // WARN_ON_ONCE report once): later runs in this boot could not show the bug again.
        if (crashed) {
          stop = true;
        }
        break;
      }
      case ResultsLine::Kind::kInfra: {
        // "mount" comes after the run's "begin" (the mount is part of the run): a kernel report
        // while mounting makes it that run's crash, so read its window as for an "end".
        const bool begun = boot.current == line.run;
        if (begun) {
          read_console();
          await_console_markers(line.run);
        }
        end_abnormally(begun ? boot.run_console(line.run, boot.current_console_from)
                             : boot.console.since(boot.after_last_run),
                       store::RunOutcome::kInfra,
                       fmt::format("the guest could not start run {}: {}", line.run, line.what));
        break;
      }
      case ResultsLine::Kind::kError:
        end_abnormally(boot.console.text(), store::RunOutcome::kInfra,
                       fmt::format("the guest could not get ready: {}", line.what));
        break;
      case ResultsLine::Kind::kDone:
        stop = true;
        break;
    }
  };

  const auto read_results = [&] {
    char buffer[8192];
    while (!stop) {
      const ssize_t n = ::pread(results_fd.get(), buffer, sizeof buffer, boot.results_offset);
      if (n <= 0) {
        break;
      }
      boot.results_offset += n;
      boot.results_pending.append(buffer, static_cast<size_t>(n));
      size_t newline;
      while (!stop && (newline = boot.results_pending.find('\n')) != std::string::npos) {
        const std::string line = boot.results_pending.substr(0, newline);
        boot.results_pending.erase(0, newline + 1);
        if (auto parsed = parse_results_line(line)) {
          handle_line(*parsed);
        } else {
          spdlog::debug("{}: ignoring results line {:.80}", what, line);
        }
      }
      if (boot.results_pending.size() > kMaxResultsLine) {
        boot.results_pending.clear();
      }
    }
  };
  const milliseconds run_deadline = options_.run_timeout + options_.host_grace;
  while (!stop) {
    console_before = boot.console.total();
    std::array<pollfd, 2> fds{pollfd{qemu.stdout_fd(), POLLIN, 0},
                              pollfd{qemu.stderr_fd(), POLLIN, 0}};
    ::poll(fds.data(), fds.size(), 50);
    // Console first: a crash printed before a run's "end" must be seen when the end is handled.
    read_console();
    read_results();
    if (stop) {
      break;
    }
    FB_ASSIGN_OR_RETURN(auto exited, qemu.wait_for(milliseconds(0)));
    if (exited) {
      read_console();
      read_results();
      if (stop) {
        break;
      }
      const std::string how =
          exited->term_signal != 0 ? fmt::format("killed by signal {}", exited->term_signal)
                                   : fmt::format("exit {}", exited->exit_code);
      std::string why = fmt::format("QEMU ended ({}) ", how);
      if (!boot.ready) {
        why += "before the guest was ready" + boot.how_booted();
        if (!boot.qemu_stderr.empty()) {
          why += ": " + build::tail_of(boot.qemu_stderr, 1000);
        }
        end_abnormally(boot.console.text(), store::RunOutcome::kInfra, why,
                       /*qemu_ended_itself=*/exited->term_signal == 0);
      } else {
        why += boot.current ? fmt::format("during run {}", *boot.current)
                            : std::string("between runs");
        end_abnormally(boot.current ? boot.run_console(*boot.current, boot.current_console_from)
                                    : boot.console.since(boot.after_last_run),
                       store::RunOutcome::kInfra, why);
      }
      break;
    }
    const auto now = Clock::now();
    if (!boot.ready && now - boot.started > options_.qemu.boot_timeout) {
      // A kernel built from the commit that never gets to run anything hangs at boot: that is
      // the commit's. qemu.kernel is the same prebuilt kernel at every commit, and nothing of the
      // commit runs before "ready" (the reproducer comes after it): not booting then is the
      // host's doing (a TCG guest starved on a busy host), not a result.
      const bool prebuilt = !options_.qemu.kernel.empty();
      end_abnormally(boot.console.text(),
                     boot.console.total() == 0 || prebuilt ? store::RunOutcome::kInfra
                                                           : store::RunOutcome::kHang,
                     fmt::format("the guest was not ready after {} s (qemu.boot_timeout){}",
                                 options_.qemu.boot_timeout.count(),
                                 prebuilt ? fmt::format(" with the prebuilt kernel {}{}",
                                                        options_.qemu.kernel, boot.how_booted())
                                          : std::string()));
    } else if (boot.ready && now - boot.last_event > run_deadline) {
      // In a run this is the run's hang (an unmount that never returns included). Between runs
      // the guest only reads its own files: whatever stopped it is no run's doing.
      end_abnormally(boot.current ? boot.run_console(*boot.current, boot.current_console_from)
                                  : boot.console.since(boot.after_last_run),
                     boot.current ? store::RunOutcome::kHang : store::RunOutcome::kInfra,
                     fmt::format("no result from the guest for {} ms (test.timeout + {} ms){}",
                                 ms_between(boot.last_event, now), options_.host_grace.count(),
                                 boot.current ? "" : " between runs"));
    }
  }
  (void)qemu.kill_group(SIGKILL);
  (void)qemu.wait_for(milliseconds(5000));
  read_console();
  base::Status saved = boot.save_console();
  spdlog::debug("{}: boot {} ended after {} ms, {} runs", what, boot.id,
                ms_between(boot.started, Clock::now()), boot.finished_runs);
  if (sink_error) {
    return std::move(*sink_error);
  }
  if (!saved) {
    // The runs are recorded and their own logs kept; the boot's whole log is not.
    return std::move(saved).error().context(fmt::format("{}: cannot keep the console log", what));
  }
  return {};
}

}  // namespace flakebisect::run
