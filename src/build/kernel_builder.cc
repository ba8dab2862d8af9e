#include "build/kernel_builder.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "base/failpoint.h"
#include "base/paths.h"
#include "base/unique_fd.h"
#include "build/kernel_fragments.h"
#include "config/sha256.h"

namespace flakebisect::build {
namespace {

// Host development headers kbuild's host programs include (objtool, resolve_btfids, sign-file,
// extract-cert, ...) and the Debian package of each; a name ending in '/' is a directory. A
// compiler that cannot find one of these misses a package of the machine: the kernel's own
// headers are found as <linux/...>, <asm/...> and so on, never by these names.
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kHostHeaders = {{
    {"gelf.h", "libelf-dev"},
    {"libelf.h", "libelf-dev"},
    {"openssl/", "libssl-dev"},
    {"zlib.h", "zlib1g-dev"},
    {"elfutils/", "libdw-dev"},
    {"dwarf.h", "libdw-dev"},
}};

// "<header> (from <package>)" when `line` is gcc's or clang's report of a missing host header
// ("fatal error: gelf.h: No such file or directory", "fatal error: 'gelf.h' file not found").
std::optional<std::string> missing_host_header(std::string_view line) {
  constexpr std::string_view kFatal = "fatal error: ";
  const size_t at = line.find(kFatal);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view header = line.substr(at + kFatal.size());
  constexpr std::string_view kGccMissing = ": No such file or directory";
  constexpr std::string_view kClangMissing = "' file not found";
  if (header.ends_with(kGccMissing)) {
    header.remove_suffix(kGccMissing.size());
  } else if (header.starts_with('\'') && header.ends_with(kClangMissing)) {
    header = header.substr(1, header.size() - 1 - kClangMissing.size());
  } else {
    return std::nullopt;
  }
  for (const auto& [name, package] : kHostHeaders) {
    if (name.ends_with('/') ? header.starts_with(name) : header == name) {
      return fmt::format("{} (from {})", header, package);
    }
  }
  return std::nullopt;
}

// Build failures that come from the machine rather than the commit.
std::optional<std::string> environment_problem(std::string_view output) {
  if (auto full = disk_full_in(output)) {
    return full;
  }
  if (auto fork = fork_failed_in(output)) {
    return fork;
  }
  for (size_t start = 0; start < output.size();) {
    const size_t end = std::min(output.find('\n', start), output.size());
    const std::string_view line = output.substr(start, end - start);
    start = end + 1;
    if (auto header = missing_host_header(line)) {
      return fmt::format(
          "a host development header is missing: {} (\"{}\"); install that package (Debian's "
          "name), then resume",
          *header, line.substr(0, 160));
    }
  }
  // scripts/link-vmlinux.sh when the config asks for BTF (a distribution's config, as
  // kernel.base, does): "BTF: .tmp_vmlinux.btf: pahole (pahole) is not available".
  if (const size_t at = output.find(": pahole (");
      at != std::string_view::npos &&
      output.find("is not available", at) != std::string_view::npos) {
    return std::string(
        "the build needs pahole for the config's CONFIG_DEBUG_INFO_BTF (Debian's package dwarves; "
        "scripts/install-deps.sh --kernel), then resume");
  }
  for (std::string_view tool : {"bison", "flex", "bc", "perl", "gcc", "cc", "ld", "openssl",
                                "pahole", "xz", "zstd", "cpio"}) {
    for (std::string_view form : {": not found", ": command not found", ": No such file or directory"}) {
      const std::string needle = std::string(tool) + std::string(form);
      const size_t at = output.find(needle);
      // "<tool>: not found" with the tool name starting a word (not "libelf-bc: ...").
      if (at != std::string_view::npos &&
          (at == 0 || output[at - 1] == ' ' || output[at - 1] == '\n' || output[at - 1] == '/')) {
        return fmt::format("the build needs {} (scripts/install-deps.sh --kernel)", tool);
      }
    }
  }
  return std::nullopt;
}

namespace fs = std::filesystem;
using base::Error;
using base::ErrorCode;
using base::Result;

// The kernel build's output is kept whole in the log (a quiet kbuild run writes well under 1 MiB;
// this leaves room for warnings) and its tail in BuildOutcome::log_tail.
constexpr size_t kMakeOutputCap = size_t{16} << 20;
constexpr std::chrono::seconds kCompilerProbeTimeout{60};

// Bumped whenever what goes into an artifact, or how it is laid out, changes.
// v2: make no longer sees the tool's environment (kKeptEnv), so an image cached by v1 may have
// been built with the KCFLAGS or MAKEFLAGS of whatever shell started it.
constexpr std::string_view kCacheKeyVersion = "flakebisect-kernel-artifact-v2";

// Fixed so that two builds of the same tree and config produce the same image and hit in ccache.
// The timestamp must be something `date -d` parses (scripts/gen_initramfs.sh and friends do).
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kReproducibleEnv = {{
    {"KBUILD_BUILD_TIMESTAMP", "1970-01-01 00:00:00 UTC"},
    {"KBUILD_BUILD_USER", "flakebisect"},
    {"KBUILD_BUILD_HOST", "flakebisect"},
    {"KBUILD_BUILD_VERSION", "1"},
}};
// Make gets only these variables of the tool's environment (and the fixed ones above): kbuild
// reads many more (KCFLAGS, KCPPFLAGS, a MAKEFLAGS carrying "KCFLAGS=...", ARCH, CROSS_COMPILE,
// LLVM, LOCALVERSION, KBUILD_*, KCONFIG_*, KASAN_SANITIZE, CLANG_FLAGS, ...), and any of them would
// build another kernel under the same artifact key. What a user wants passed belongs in
// kernel.make, which is part of the build key. Kept: where programs are, the user's home and
// temporary directory (ccache's cache lives there), the locale, and ccache's and distcc's own
// settings, which change where objects are cached or compiled, not what they are.
constexpr std::array<std::string_view, 11> kKeptEnv = {
    "PATH", "HOME", "USER",           "LOGNAME",         "TMPDIR",         "LANG",
    "TZ",   "TERM", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "PKG_CONFIG_PATH"};
constexpr std::array<std::string_view, 3> kKeptEnvPrefixes = {"LC_", "CCACHE_", "DISTCC_"};

// The variables of the tool's environment that make keeps (kKeptEnv, kKeptEnvPrefixes).
std::vector<std::pair<std::string, std::string>> kept_environment() {
  std::vector<std::pair<std::string, std::string>> kept;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      continue;
    }
    const std::string_view name = text.substr(0, eq);
    const bool keep =
        std::find(kKeptEnv.begin(), kKeptEnv.end(), name) != kKeptEnv.end() ||
        std::any_of(kKeptEnvPrefixes.begin(), kKeptEnvPrefixes.end(),
                    [name](std::string_view prefix) { return name.starts_with(prefix); });
    if (keep) {
      kept.emplace_back(std::string(name), std::string(text.substr(eq + 1)));
    }
  }
  return kept;
}

bool is_base_target(const std::string& base) {
  return base == "defconfig" || base == "tinyconfig" || base == "allnoconfig";
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

bool is_symbol_name(std::string_view symbol) {
  constexpr std::string_view kPrefix = "CONFIG_";
  if (!symbol.starts_with(kPrefix) || symbol.size() == kPrefix.size()) {
    return false;
  }
  return std::all_of(symbol.begin() + kPrefix.size(), symbol.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool all_of_chars(std::string_view text, std::string_view allowed) {
  return !text.empty() && text.find_first_not_of(allowed) == std::string_view::npos;
}

// Whether `value` is one of the forms Kconfig writes: y/m/n, a decimal or hex number, or a
// double-quoted string with backslash escapes.
bool is_config_value(std::string_view value) {
  if (value == "y" || value == "m" || value == "n") {
    return true;
  }
  if (all_of_chars(value.starts_with('-') ? value.substr(1) : value, "0123456789")) {
    return true;
  }
  if ((value.starts_with("0x") || value.starts_with("0X")) &&
      all_of_chars(value.substr(2), "0123456789abcdefABCDEF")) {
    return true;
  }
  if (value.size() < 2 || value.front() != '"') {
    return false;
  }
  for (size_t i = 1; i < value.size(); ++i) {
    if (value[i] == '\\') {
      ++i;  // the escaped character, whatever it is
    } else if (value[i] == '"') {
      return i == value.size() - 1;
    }
  }
  return false;
}

// The symbol a .config line sets, and its value (nullopt for "is not set"); nullopt for any other
// line. Values are not validated here: this reads what Kconfig wrote.
std::optional<std::pair<std::string, std::optional<std::string>>> config_line_symbol(
    std::string_view line) {
  line = trim(line);
  constexpr std::string_view kUnsetPrefix = "# ";
  constexpr std::string_view kUnsetSuffix = " is not set";
  if (line.starts_with(kUnsetPrefix) && line.ends_with(kUnsetSuffix)) {
    const std::string_view symbol =
        line.substr(kUnsetPrefix.size(), line.size() - kUnsetPrefix.size() - kUnsetSuffix.size());
    if (is_symbol_name(symbol)) {
      return std::make_pair(std::string(symbol), std::optional<std::string>());
    }
    return std::nullopt;
  }
  const auto equals = line.find('=');
  if (equals == std::string_view::npos || !is_symbol_name(line.substr(0, equals))) {
    return std::nullopt;
  }
  return std::make_pair(std::string(line.substr(0, equals)),
                        std::optional<std::string>(line.substr(equals + 1)));
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    lines.push_back(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  }
  return lines;
}

std::string setting_line(const ConfigSetting& setting) {
  return setting.value ? setting.symbol + "=" + *setting.value
                       : "# " + setting.symbol + " is not set";
}

// "CONFIG_X (wanted y), CONFIG_Y (wanted 4, got 8)" for the settings `config` does not honour
// (the last setting of a symbol is the one wanted); empty when it honours them all.
std::string unmet_settings(const std::vector<ConfigSetting>& settings, std::string_view config) {
  std::unordered_map<std::string, std::optional<std::string>> final_values;
  for (std::string_view line : split_lines(config)) {
    if (auto symbol = config_line_symbol(line)) {
      final_values[symbol->first] = std::move(symbol->second);
    }
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> wanted;  // first-set order
  for (const ConfigSetting& setting : settings) {
    auto it = std::find_if(wanted.begin(), wanted.end(),
                           [&](const auto& entry) { return entry.first == setting.symbol; });
    if (it == wanted.end()) {
      wanted.emplace_back(setting.symbol, setting.value);
    } else {
      it->second = setting.value;
    }
  }
  std::string unmet;
  for (const auto& [symbol, want] : wanted) {
    const auto found = final_values.find(symbol);
    const std::optional<std::string> got =
        found == final_values.end() ? std::nullopt : found->second;
    bool met = false;
    if (!want) {
      met = !got;
    } else {
      met = got == want;
    }
    if (met) {
      continue;
    }
    unmet += unmet.empty() ? "" : ", ";
    unmet += fmt::format("{} (wanted {}", symbol, want ? *want : "not set");
    unmet += got ? fmt::format(", got {})", *got) : ")";
  }
  return unmet;
}

// For log headers only: the argv as a reader would type it.
std::string display_argv(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    line += line.empty() ? "" : " ";
    line += arg.find_first_of(" \t'\"") == std::string::npos ? arg : "'" + arg + "'";
  }
  return line;
}

// The value of the first "NAME=value" argument after argv[0], if any.
std::optional<std::string> make_variable(const std::vector<std::string>& make,
                                         std::string_view name) {
  for (size_t i = 1; i < make.size(); ++i) {
    if (make[i].size() > name.size() && make[i].starts_with(name) && make[i][name.size()] == '=') {
      return make[i].substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

// What kbuild runs as CC for this make argv (top-level Makefile: CC, LLVM, CROSS_COMPILE).
std::string kbuild_compiler(const std::vector<std::string>& make) {
  if (auto cc = make_variable(make, "CC")) {
    return *cc;
  }
  if (auto llvm = make_variable(make, "LLVM"); llvm && !llvm->empty()) {
    if (llvm->back() == '/') {
      return *llvm + "clang";
    }
    return llvm->front() == '-' ? "clang" + *llvm : "clang";
  }
  return make_variable(make, "CROSS_COMPILE").value_or("") + "gcc";
}

// The kernel's arch/ directory for this make argv.
std::string kbuild_arch_dir(const std::vector<std::string>& make) {
  const std::string arch = make_variable(make, "ARCH").value_or("x86");
  if (arch == "x86_64" || arch == "i386") {
    return "x86";
  }
  return arch == "sparc64" ? "sparc" : arch;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  size_t pos = 0;
  while ((pos = text.find_first_not_of(' ', pos)) != std::string_view::npos) {
    const size_t end = text.find(' ', pos);
    words.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  return words;
}

uint64_t unix_ms_now() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// <log_dir>/<sha12>-<unix ms>.log, with a suffix if a build in the same millisecond took it.
std::string new_log_path(const std::string& log_dir, const std::string& sha12) {
  const std::string stem = fmt::format("{}/{}-{}", log_dir, sha12, unix_ms_now());
  std::string path = stem + ".log";
  std::error_code ignored;
  for (int n = 1; fs::exists(path, ignored); ++n) {
    path = fmt::format("{}-{}.log", stem, n);
  }
  return path;
}

Result<void> copy_file(const std::string& from, const std::string& to) {
  std::error_code error;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
  if (error) {
    return Error(
        fmt::format("copy {} to {}: {}", from, to, error.message()),
        error == std::errc::no_such_file_or_directory ? ErrorCode::kNotFound : ErrorCode::kIo);
  }
  return {};
}

// Makes what was written to `path` (a file or a directory's entries) durable.
Result<void> sync_path(const std::string& path) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return base::os_error(path, errno);
  }
  if (::fsync(fd.get()) != 0) {
    return base::os_error(path, errno);
  }
  return {};
}

bool is_complete_entry(const std::string& entry, const std::string& image_name) {
  std::error_code ignored;
  return fs::is_regular_file(entry + "/" + image_name, ignored) &&
         fs::is_regular_file(entry + "/" + std::string(kArtifactConfigName), ignored);
}

// Writes the cache entry `entry` from these files so that it appears complete or not at all.
Result<void> store_artifact(const std::string& cache_root, const std::string& entry,
                            const std::string& image, const std::string& image_name,
                            const std::string& config, const std::string& log) {
  // A name of its own (mkdtemp), not one per process: the workers of one daemon (`--jobs`) can
  // store the same key at once from build directories of their own. Temporary directories that
  // builds which died left behind are removed once they are an hour old (a copy takes seconds).
  FB_TRY(base::make_private_dir(cache_root));
  std::error_code ignored;
  const std::string prefix = fs::path(entry).filename().native() + ".tmp-";
  for (const auto& sibling : fs::directory_iterator(cache_root, ignored)) {
    const std::string name = sibling.path().filename().native();
    if (name.rfind(prefix, 0) != 0) continue;
    const auto age =
        fs::file_time_type::clock::now() - fs::last_write_time(sibling.path(), ignored);
    if (!ignored && age > std::chrono::hours(1)) fs::remove_all(sibling.path(), ignored);
  }
  std::string temp = entry + ".tmp-XXXXXX";
  if (::mkdtemp(temp.data()) == nullptr) {
    return base::os_error(temp, errno);
  }
  FB_TRY(base::make_private_dir(temp));  // exactly 0700, whatever the umask
  const std::string image_copy = temp + "/" + image_name;
  const std::string config_copy = temp + "/" + std::string(kArtifactConfigName);
  const std::string log_copy = temp + "/" + std::string(kArtifactLogName);
  auto fill = [&]() -> Result<void> {
    FB_TRY(copy_file(image, image_copy));
    FB_TRY(copy_file(config, config_copy));
    FB_TRY(base::write_file_atomic(log_copy, log));
    FB_TRY(sync_path(image_copy));
    FB_TRY(sync_path(config_copy));
    return sync_path(temp);
  };
  if (auto filled = fill(); !filled) {
    fs::remove_all(temp, ignored);
    return filled;
  }
  // An incomplete entry (someone deleted files by hand) would block the rename forever.
  if (fs::exists(entry, ignored) && !is_complete_entry(entry, image_name)) {
    fs::remove_all(entry, ignored);
  }
  if (::rename(temp.c_str(), entry.c_str()) != 0) {
    const int err = errno;
    fs::remove_all(temp, ignored);
    // Another builder stored the same key first; its entry has the same contents.
    if ((err != EEXIST && err != ENOTEMPTY) || !is_complete_entry(entry, image_name)) {
      return base::os_error(entry, err);
    }
  }
  return sync_path(cache_root);
}

// Whether a make step ended in a way that leaves no half-written file in O=: by itself, and not for
// want of space or because something under it was killed (kbuild deletes the target of a recipe
// that fails, but not what a killed linker script or a full disk left beside it).
bool ended_by_itself(const base::ProcessResult& result) {
  if (result.term_signal != 0 || result.timed_out || result.no_output_timeout) return false;
  return result.succeeded() || (!disk_full_in(result.out) && !killed_in(result, result.out));
}

// Files a build cut short may have written are those modified at or after its marker's mtime less
// this much: room for file systems with coarse timestamps and for the marker's own write.
constexpr std::chrono::seconds kCutShortSlack{2};

// Whether `a` is at or after `b`.
bool at_or_after(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec >= b.tv_nsec;
}

// Removes every regular file under `obj_dir` modified at or after `since`, but what is under
// include/config/ and the file `marker` at the top, and returns how many it removed. Why, and why
// include/config/ stays: see KernelBuilder::build_unwrapped().
Result<size_t> remove_files_written_since(const std::string& obj_dir, const struct timespec& since,
                                          std::string_view marker) {
  const fs::path keep = fs::path(obj_dir) / "include" / "config";
  const fs::path marker_path = fs::path(obj_dir) / marker;
  size_t removed = 0;
  std::error_code error;
  fs::recursive_directory_iterator it(obj_dir, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const fs::directory_entry& entry = *it;
    // Symbolic links are not followed (O=/source points at the worktree) nor removed.
    const fs::file_type type = entry.symlink_status(error).type();
    if (error) break;
    if (type == fs::file_type::directory) {
      if (entry.path() == keep) it.disable_recursion_pending();
      continue;
    }
    if (type != fs::file_type::regular || entry.path() == marker_path) continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return base::os_error(entry.path().native(), errno);
    }
    if (!at_or_after(st.st_mtim, since)) continue;
    if (::unlink(entry.path().c_str()) != 0 && errno != ENOENT) {
      return base::os_error(entry.path().native(), errno);
    }
    ++removed;
  }
  if (error) {
    return Error(fmt::format("{}: {}", obj_dir, error.message()), ErrorCode::kIo);
  }
  return removed;
}

}  // namespace

Result<std::vector<ConfigSetting>> parse_config_fragment(std::string_view text,
                                                         std::string_view source_name) {
  std::vector<ConfigSetting> settings;
  const std::vector<std::string_view> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = trim(lines[i]);
    const std::string where = fmt::format("{}:{}", source_name, i + 1);
    auto symbol = config_line_symbol(line);
    if (!symbol) {
      if (line.empty() || line.front() == '#') {
        continue;  // blank or a comment
      }
      return base::make_error(ErrorCode::kInvalidInput,
                              "{}: not a config line (CONFIG_NAME=value or # CONFIG_NAME is not "
                              "set): {}",
                              where, line.substr(0, 80));
    }
    if (symbol->second && !is_config_value(*symbol->second)) {
      return base::make_error(ErrorCode::kInvalidInput,
                              "{}: {}: the value must be y, m, n, a number or a \"string\", got {}",
                              where, symbol->first, symbol->second->substr(0, 80));
    }
    if (symbol->second == "n") {
      symbol->second.reset();  // Kconfig reads =n as "is not set"
    }
    settings.push_back(ConfigSetting{std::move(symbol->first), std::move(symbol->second), where});
  }
  return settings;
}

Result<std::vector<ConfigSetting>> load_kernel_fragments(const std::vector<std::string>& names) {
  std::vector<ConfigSetting> settings;
  for (const std::string& name : names) {
    std::string text;
    std::string source;
    if (!name.empty() && name.front() == '/') {
      auto read = base::read_file(name);
      if (!read) {
        return std::move(read).error().context("fragment");
      }
      text = std::move(read).value();
      source = name;
    } else if (auto bundled = bundled_fragment(name)) {
      text = std::string(*bundled);
      source = name + ".config";
    } else {
      std::string known;
      for (const std::string& bundled_name : bundled_fragment_names()) {
        known += known.empty() ? "" : ", ";
        known += bundled_name;
      }
      return base::make_error(ErrorCode::kNotFound,
                              "fragment '{}': no bundled fragment has that name (bundled: {})",
                              name, known);
    }
    FB_ASSIGN_OR_RETURN(std::vector<ConfigSetting> parsed, parse_config_fragment(text, source));
    // The image boots without modules (the guest gets none built at the commit), so a driver or
    // file system asked for as a module would be missing at every run: every run an infra failure.
    for (const ConfigSetting& setting : parsed) {
      if (setting.value == "m") {
        return base::make_error(ErrorCode::kInvalidInput,
                                "{}: {}=m: flakebisect boots the built image without modules, so "
                                "use {}=y to build it in",
                                setting.where, setting.symbol, setting.symbol);
      }
    }
    std::move(parsed.begin(), parsed.end(), std::back_inserter(settings));
  }
  return settings;
}

std::string merge_config(std::string_view config, const std::vector<ConfigSetting>& settings) {
  std::vector<std::optional<std::string>> lines;  // nullopt = removed
  std::unordered_map<std::string, std::vector<size_t>> lines_of;
  for (std::string_view line : split_lines(config)) {
    if (auto symbol = config_line_symbol(line)) {
      lines_of[symbol->first].push_back(lines.size());
    }
    lines.emplace_back(std::string(line));
  }
  // Like merge_config.sh, a set symbol moves to the end rather than being replaced in place: for a
  // choice (the slab allocator, say) Kconfig takes the last member set to y in the file, so the
  // fragment's member has to come after the base config's.
  for (const ConfigSetting& setting : settings) {
    std::vector<size_t>& at = lines_of[setting.symbol];
    for (size_t index : at) {
      lines[index].reset();
    }
    at.assign(1, lines.size());
    lines.emplace_back(setting_line(setting));
  }
  std::string merged;
  for (const auto& line : lines) {
    if (line) {
      merged += *line;
      merged += '\n';
    }
  }
  return merged;
}

std::string obj_dir_in(const std::string& worktree, std::string_view name) {
  return (fs::path(worktree) / name).native();
}

KernelBuilder::KernelBuilder(base::ProcessRunner& processes, config::KernelConfig kernel,
                             std::chrono::milliseconds timeout, KernelBuilderOptions options)
    : processes_(processes),
      kernel_(std::move(kernel)),
      timeout_(timeout),
      options_(std::move(options)),
      compiler_(kbuild_compiler(kernel_.make)) {
  const bool ccache_available =
      options_.ccache_available.value_or(base::find_executable("ccache").has_value());
  // A CC that already goes through ccache is left alone.
  use_ccache_ = kernel_.ccache && ccache_available && !compiler_.starts_with("ccache ");
}

// Two processes may build with the same build root: it is keyed by the build settings, so a
// foreground `run` beside the daemon on one store shares it. Two builds in one O= directory at
// once would mix their objects, and the image cached for one commit could hold the other's. So a
// build holds an flock on <build_root>/lock, waiting for the other build up to the build timeout,
// or until options_.stop is set. Builders of this process take turns before that (build()), so
// the deadline only counts another process's build.
base::Result<base::UniqueFd> KernelBuilder::lock_build_root() const {
  FB_TRY(base::make_private_dir(options_.build_root));
  const std::string path = options_.build_root + "/lock";
  base::UniqueFd lock(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock.valid()) {
    return base::os_error(path, errno);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) {
      continue;
    }
    if (errno != EWOULDBLOCK) {
      return base::os_error(path, errno);
    }
    if (stopped()) {
      return base::make_error(ErrorCode::kFailed,
                              "{}: stopped while waiting for another build in {}", path,
                              options_.build_root);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return base::make_error(ErrorCode::kBusy,
                              "{}: another process has been building in {} for longer than the "
                              "build timeout",
                              path, options_.build_root);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return lock;
}

namespace {

// One turn per build directory among the builders of this process (a daemon's workers): they
// wait for each other here, without the build timeout's deadline, since every holder is bounded
// by its own; the flock after it is then contended only by other processes.
std::timed_mutex& in_process_turn(const std::string& build_root) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<std::timed_mutex>> turns;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<std::timed_mutex>& turn = turns[build_root];
  if (!turn) turn = std::make_unique<std::timed_mutex>();
  return *turn;
}

}  // namespace

base::Result<BuildOutcome> KernelBuilder::build(const CommitCheckout& checkout) {
  if (checkout.worktree.empty() || checkout.worktree.front() != '/') {
    return base::make_error(ErrorCode::kInvalidInput,
                            "build {}: the worktree '{}' is not an absolute path",
                            checkout.sha.substr(0, 12), checkout.worktree);
  }
  std::unique_lock<std::timed_mutex> turn(in_process_turn(options_.build_root), std::defer_lock);
  while (!turn.try_lock_for(std::chrono::milliseconds(100))) {
    if (stopped()) {
      return base::make_error(ErrorCode::kFailed,
                              "build {}: stopped while waiting for another build in {}",
                              checkout.sha.substr(0, 12), options_.build_root);
    }
  }
  auto lock = lock_build_root();
  if (!lock) {
    return std::move(lock).error().context(fmt::format("build {}", checkout.sha.substr(0, 12)));
  }
  // The O= directory that builds with these settings shared before it moved into the worktrees:
  // several GB nothing uses any more.
  if (const std::string old_obj = options_.build_root + "/obj"; fs::is_directory(old_obj)) {
    std::error_code error;
    const auto removed = fs::remove_all(old_obj, error);
    spdlog::info("build: removed the old shared build directory {} ({} files){}", old_obj, removed,
                 error ? ": " + error.message() : std::string());
  }
  auto outcome = build_unwrapped(checkout);
  if (!outcome) {
    return std::move(outcome).error().context(fmt::format("build {}", checkout.sha.substr(0, 12)));
  }
  return outcome;
}

std::vector<std::string> KernelBuilder::make_argv(const std::string& obj_dir,
                                                  std::vector<std::string> args) const {
  std::vector<std::string> argv;
  for (size_t i = 0; i < kernel_.make.size(); ++i) {
    if (use_ccache_ && i > 0 && kernel_.make[i].starts_with("CC=")) {
      continue;  // replaced by the wrapped CC below
    }
    argv.push_back(kernel_.make[i]);
  }
  argv.push_back("O=" + obj_dir);
  // The make target is the last argument; CC goes just before it.
  std::string target = std::move(args.back());
  args.pop_back();
  std::move(args.begin(), args.end(), std::back_inserter(argv));
  if (use_ccache_) {
    argv.push_back("CC=ccache " + compiler_);
  }
  argv.push_back(std::move(target));
  return argv;
}

base::ProcessOptions KernelBuilder::make_options(const CommitCheckout& checkout,
                                                 std::vector<std::string> args) const {
  base::ProcessOptions options;
  options.argv = make_argv(obj_dir_in(checkout.worktree, options_.obj_dir_name), std::move(args));
  options.cwd = checkout.worktree;
  options.inherit_env = false;
  options.env_set = kept_environment();
  for (auto& entry : command_environment(checkout, std::nullopt)) {
    options.env_set.push_back(std::move(entry));
  }
  for (const auto& [name, value] : kReproducibleEnv) {
    options.env_set.emplace_back(name, value);
  }
  // With -g (CONFIG_DEBUG_INFO) ccache hashes the working directory, O= in the worktree, which
  // differs per bisection: no hits across bisections. Left out of the hash, a hit's debug info
  // names the other worktree's directory, which no bisection reads. A setting of the user's wins.
  if (use_ccache_ &&
      std::none_of(options.env_set.begin(), options.env_set.end(), [](const auto& e) {
        return e.first == "CCACHE_HASHDIR" || e.first == "CCACHE_NOHASHDIR";
      })) {
    options.env_set.emplace_back("CCACHE_NOHASHDIR", "1");
  }
  options.timeout = timeout_;
  options.merge_stderr = true;
  return options;
}

base::Result<std::string> KernelBuilder::compiler_version() {
  if (options_.compiler_version) {
    return *options_.compiler_version;
  }
  base::ProcessOptions options;
  options.argv = split_words(compiler_);
  options.argv.emplace_back("--version");
  options.timeout = kCompilerProbeTimeout;
  options.merge_stderr = true;
  auto result = processes_.run(options);
  if (!result) {
    return std::move(result).error().context("compiler version");
  }
  const std::string_view out = result->out;
  const std::string first_line(trim(out.substr(0, out.find('\n'))));
  if (!result->succeeded() || first_line.empty()) {
    return base::make_error(ErrorCode::kFailed, "compiler version: {}: {}",
                            display_argv(options.argv),
                            result->succeeded() ? "printed nothing" : result->status_text(options));
  }
  options_.compiler_version = first_line;
  return first_line;
}

base::Result<BuildOutcome> KernelBuilder::build_unwrapped(const CommitCheckout& checkout) {
  const auto start = std::chrono::steady_clock::now();
  const std::string sha12 = checkout.sha.substr(0, 12);
  // Fragment problems are the user's to fix, before anything runs.
  FB_ASSIGN_OR_RETURN(const std::vector<ConfigSetting> settings,
                      load_kernel_fragments(kernel_.fragments));
  const std::string obj_dir = obj_dir_in(checkout.worktree, options_.obj_dir_name);
  FB_TRY(base::make_private_dir(obj_dir));
  FB_TRY(base::make_private_dir(options_.log_dir));
  FB_TRY(base::make_private_dir(options_.cache_root));
  const std::string log_path = new_log_path(options_.log_dir, sha12);
  const std::string config_path = obj_dir + "/.config";
  std::string log;  // everything so far, written to log_path whenever the build ends

  // A build that did not end by itself (its timeout, a stop, kill -9 of flakebisect, a power cut)
  // leaves half-written files in O=: `as` and `ld` create their output when they start, so a
  // killed one leaves an empty object with a fresh mtime, which kbuild's if_changed never rebuilds
  // (same command, no newer prerequisite), and every later build fails to link. So a marker,
  // written (and synced) before each make step, is removed only when the step ended by itself (a
  // make that fails by itself deletes its half-made target: kbuild sets .DELETE_ON_ERROR). A build
  // that finds it removes every file modified since it was written, and kbuild remakes what is
  // missing: objects, .cmd files, generated headers; .config is written again by steps 1-3.
  // include/config/ stays: there syncconfig touches an empty file per changed symbol, newer than
  // the objects that use it, and writes auto.conf (atomically), which the next syncconfig compares
  // the config with. Without them the objects the cut-short build did not reach would not be
  // rebuilt for the symbols it changed (or, without auto.conf, every object would be).
  const std::string marker = obj_dir + "/" + std::string(kBuildInProgressMarker);
  if (struct stat st{}; ::stat(marker.c_str(), &st) == 0) {
    struct timespec since = st.st_mtim;
    since.tv_sec -= kCutShortSlack.count();
    FB_ASSIGN_OR_RETURN(const size_t removed,
                        remove_files_written_since(obj_dir, since, kBuildInProgressMarker));
    // Only now: a removal that fails half-way is tried again by the next build.
    if (::unlink(marker.c_str()) != 0 && errno != ENOENT) {
      return base::os_error(marker, errno);
    }
    const std::string files = fmt::format("{} file{}", removed, removed == 1 ? "" : "s");
    log += fmt::format(
        "# the previous build in {} was cut short: removed the {} it wrote, which kbuild "
        "remakes\n",
        obj_dir, files);
    spdlog::info("build {}: the previous build in {} was cut short; removed the {} it wrote", sha12,
                 obj_dir, files);
  } else if (errno != ENOENT) {
    return base::os_error(marker, errno);
  }

  auto finish = [&](BuildOutcome outcome, std::string_view tail) -> Result<BuildOutcome> {
    FB_TRY(base::write_file_atomic(log_path, log));
    outcome.log_tail = tail_of(std::string(tail), kBuildLogTailBytes);
    outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    return outcome;
  };
  auto skip = [&](std::string detail, std::string_view tail,
                  const base::ProcessResult* result = nullptr) -> Result<BuildOutcome> {
    // A full disk, a missing build tool or the OOM killer says nothing about the commit: pause
    // the bisection (a Result error) instead of skipping the commit for good.
    std::optional<std::string> problem = environment_problem(tail);
    if (!problem && result != nullptr) problem = killed_in(*result, tail);
    if (problem) {
      FB_TRY(base::write_file_atomic(log_path, log));
      return base::make_error(base::ErrorCode::kFailed, "{}: {}; log: {}", detail, *problem,
                              log_path);
    }
    BuildOutcome outcome;
    outcome.ok = false;
    outcome.detail = std::move(detail);
    return finish(std::move(outcome), tail);
  };
  // Runs one make call, logging it. A non-zero exit is the caller's to judge.
  auto run_make = [&](const base::ProcessOptions& options) -> Result<base::ProcessResult> {
    log += "$ " + display_argv(options.argv) + "\n";
    FB_TRY(base::write_file_atomic(marker, ""));
    FB_ASSIGN_OR_RETURN(base::ProcessResult result, processes_.run(options));
    if (ended_by_itself(result) && ::unlink(marker.c_str()) != 0 && errno != ENOENT) {
      return base::os_error(marker, errno);
    }
    if (result.out_dropped > 0) {
      log += fmt::format("[... {} bytes of output not kept ...]\n", result.out_dropped);
    }
    log += result.out;
    if (!result.out.empty() && result.out.back() != '\n') {
      log += '\n';
    }
    if (!result.succeeded()) {
      log += "# " + result.status_text(options) + "\n";
    }
    return result;
  };

  // 1. The base config.
  if (is_base_target(kernel_.base)) {
    const base::ProcessOptions options = make_options(checkout, {kernel_.base});
    FB_ASSIGN_OR_RETURN(const base::ProcessResult result, run_make(options));
    if (!result.succeeded()) {
      return skip(
          fmt::format("make {}: {}; log: {}", kernel_.base, result.status_text(options), log_path),
          result.out, &result);
    }
  } else {
    auto base_config = base::read_file(kernel_.base);
    if (!base_config) {
      return std::move(base_config).error().context("base config");
    }
    FB_TRY(base::write_file_atomic(config_path, *base_config));
    log += fmt::format("# base config: {}\n", kernel_.base);
  }

  // 2. The fragments.
  FB_ASSIGN_OR_RETURN(const std::string base_text, base::read_file(config_path));
  FB_TRY(base::write_file_atomic(config_path, merge_config(base_text, settings)));
  for (const std::string& fragment : kernel_.fragments) {
    log += fmt::format("# merged fragment: {}\n", fragment);
  }

  // 3. olddefconfig.
  {
    const base::ProcessOptions options = make_options(checkout, {"olddefconfig"});
    FB_ASSIGN_OR_RETURN(const base::ProcessResult result, run_make(options));
    if (!result.succeeded()) {
      return skip(
          fmt::format("make olddefconfig: {}; log: {}", result.status_text(options), log_path),
          result.out, &result);
    }
  }

  // 4. Did every symbol the fragments set survive?
  FB_ASSIGN_OR_RETURN(const std::string final_config, base::read_file(config_path));
  if (const std::string unmet = unmet_settings(settings, final_config); !unmet.empty()) {
    log += "# olddefconfig dropped " + unmet + "\n";
    return skip("olddefconfig dropped " + unmet, log);
  }

  // 5. The artifact cache.
  FB_ASSIGN_OR_RETURN(const std::string compiler, compiler_version());
  std::string key_text =
      fmt::format("{}\ntree={}\nconfig={}\ncompiler={}\ntarget={}\nmake=", kCacheKeyVersion,
                  checkout.tree_id.empty() ? checkout.sha : checkout.tree_id,
                  config::sha256_hex(final_config), compiler, kernel_.target);
  for (const std::string& arg : kernel_.make) {
    key_text += arg;
    key_text += '\0';
  }
  const std::string key = config::sha256_hex(key_text);
  const std::string entry = options_.cache_root + "/" + key;
  const std::string image_name = fs::path(kernel_.target).filename().string();
  log += fmt::format("# compiler: {}\n# artifact key: {}\n", compiler, key);
  if (is_complete_entry(entry, image_name)) {
    log += fmt::format("# cached: {}\n", entry);
    BuildOutcome outcome;
    outcome.detail = "cached";
    outcome.artifact = entry;
    return finish(std::move(outcome), log);
  }

  // 6. The kernel.
  const uint32_t jobs =
      kernel_.jobs != 0 ? kernel_.jobs : std::max(1U, std::thread::hardware_concurrency()) + 1;
  base::ProcessOptions options =
      make_options(checkout, {fmt::format("-j{}", jobs), kernel_.target});
  // While it runs the log file is make's live output; the whole log replaces it at the end.
  options.stdout_path = log_path;
  options.output_cap = kMakeOutputCap;
  base::Result<base::ProcessResult> built = [&] {
    base::FailpointWhileChildRuns failpoint(base::kFailpointDuringBuild);
    return run_make(options);
  }();
  if (!built) {
    return std::move(built).error();
  }
  if (!built->succeeded()) {
    return skip(
        fmt::format("make {}: {}; log: {}", kernel_.target, built->status_text(options), log_path),
        built->out, &*built);
  }

  // 7. Into the cache.
  const std::string arch_image =
      fmt::format("{}/arch/{}/boot/{}", obj_dir, kbuild_arch_dir(kernel_.make), kernel_.target);
  const std::string top_image = obj_dir + "/" + kernel_.target;
  std::error_code ignored;
  const std::string image = fs::is_regular_file(arch_image, ignored) ? arch_image : top_image;
  if (!fs::is_regular_file(image, ignored)) {
    return base::make_error(ErrorCode::kNotFound,
                            "make {} succeeded but made neither {} nor {}; is the target an image?",
                            kernel_.target, arch_image, top_image);
  }
  FB_TRY(store_artifact(options_.cache_root, entry, image, image_name, config_path, log));
  log += fmt::format("# stored: {}\n", entry);
  BuildOutcome outcome;
  outcome.artifact = entry;
  return finish(std::move(outcome), built->out);
}

}  // namespace flakebisect::build
