#include "engine/identity.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/paths.h"
#include "base/unique_fd.h"
#include "build/kernel_fragments.h"
#include "config/sha256.h"
#include "run/qemu_runner.h"

namespace flakebisect::engine {
namespace {

constexpr std::string_view kPrebuiltKernelKey = "qemu.kernel";

// The SHA-256 of a file read in pieces: a kernel image may be large (a vmlinux with debug info),
// and is never held whole in memory.
base::Result<std::string> sha256_of_file(const std::string& path) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return base::make_error(base::ErrorCode::kIo, "{}: {}", path, std::strerror(errno));
  }
  config::Sha256 hash;
  std::vector<char> buffer(size_t{1} << 20);
  while (true) {
    const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      return base::make_error(base::ErrorCode::kIo, "{}: {}", path, std::strerror(errno));
    }
    if (got == 0) break;
    hash.update(std::string_view(buffer.data(), static_cast<size_t>(got)));
  }
  std::string hex;
  for (const uint8_t byte : hash.digest()) hex += fmt::format("{:02x}", byte);
  return hex;
}

// Length-prefixed so that no argument can imitate a separator or a neighbouring argument.
void append_argv(std::string& out, std::string_view key, const std::vector<std::string>& argv) {
  out += fmt::format("{}={}", key, argv.size());
  for (const std::string& arg : argv) {
    out += fmt::format(" {}:{}", arg.size(), arg);
  }
  out += '\n';
}

// [kernel]: what decides the kernel that is built (not jobs or ccache, which only change speed).
void append_kernel(std::string& out, const config::Config& config) {
  if (!config.kernel) {
    return;
  }
  append_argv(out, "kernel.base", {config.kernel->base});
  append_argv(out, "kernel.fragments", config.kernel->fragments);
  append_argv(out, "kernel.make", config.kernel->make);
  append_argv(out, "kernel.target", {config.kernel->target});
}

}  // namespace

bool guest_watches_output(const config::Config& config) {
  return config.qemu && !config.xfstests && config.test.no_output_timeout.count() > 0;
}

std::string test_identity(const config::Config& config, std::string_view reproducer_digest,
                          GuestEra era) {
  std::string out = "flakebisect test identity v1\n";
  append_argv(out, "build.command", config.build.command);
  append_argv(out, "test.command", config.test.command);
  out += fmt::format("test.timeout={}\n", config.test.timeout.count());
  out += fmt::format("test.no_output_timeout={}\n", config.test.no_output_timeout.count());
  // Added after v1, only when present, so host-command identities stay as they were. What the
  // guest sees counts (kernel, modules, memory, CPUs, command line, filesystem, reproducer); how
  // fast it gets there (accel, binary, runs per boot, boot timeout) does not.
  append_kernel(out, config);
  if (config.qemu) {
    append_argv(out, "qemu.kernel", {config.qemu->kernel});
    append_argv(out, "qemu.modules", {config.qemu->modules});
    append_argv(out, "qemu.load_modules", config.qemu->load_modules);
    out += fmt::format("qemu.memory_mb={}\nqemu.cpus={}\n", config.qemu->memory_mb,
                       config.qemu->cpus);
    append_argv(out, "qemu.append", config.qemu->append);
    out += fmt::format("scratch.size_mb={}\n", config.scratch.size_mb);
    append_argv(out, "scratch.mkfs", config.scratch.mkfs);
    append_argv(out, "scratch.fstype", {config.scratch.fstype});
    append_argv(out, "scratch.mount_options", {config.scratch.mount_options});
    if (guest_watches_output(config)) {
      // Since 2026-11-27 the guest stops a silent reproducer; runs before it were not stopped.
      // runner_config (bisector.h) tells a bisection stored before by this line: a change to
      // the identity's text must keep that rule right.
      out += "qemu.no_output_timeout=enforced\n";
    }
    if (era == GuestEra::kCurrent) {
      // Since 2026-11-27 (run/qemu_runner.cc); runner_config gives a bisection stored before it
      // the console it had.
      out += "qemu.console_loglevel=7\n";
    }
    if (config.qemu->direct_boot && !config.qemu->kernel.empty()) {
      // Only when set: the guest of a direct (PVH) boot differs in small ways (no VGA text
      // console, the firmware's memory map), so its runs are not a bzImage boot's.
      out += "qemu.direct_boot=pvh\n";
    }
  }
  if (config.reproducer) {
    append_argv(out, "reproducer.program", {config.reproducer->program});
    append_argv(out, "reproducer.args", config.reproducer->args);
    append_argv(out, "reproducer.files", config.reproducer->files);
  }
  if (config.xfstests) {
    append_argv(out, "xfstests.root", {config.xfstests->root});
    append_argv(out, "xfstests.dir", {config.xfstests->dir});
    append_argv(out, "xfstests.tests", config.xfstests->tests);
    append_argv(out, "xfstests.mkfs_options", {config.xfstests->mkfs_options});
    append_argv(out, "xfstests.mount_options", {config.xfstests->mount_options});
    append_argv(out, "xfstests.environment", config.xfstests->environment);
  }
  if (!reproducer_digest.empty()) {
    out += fmt::format("reproducer.digest={}\n", reproducer_digest);
  }
  return config::sha256_hex(out);
}

std::string build_key(const config::Config& config) {
  std::string out = "flakebisect build key v1\n";
  append_argv(out, "build.command", config.build.command);
  out += fmt::format("build.timeout={}\n", config.build.timeout.count());
  append_kernel(out, config);
  return config::sha256_hex(out);
}

std::string build_key(const config::Config& config, const std::vector<InputFile>& inputs) {
  if (!config.kernel) {
    return build_key(config);  // a host build.command is named by its argv alone, as in v1
  }
  std::string out = "flakebisect build key v2\n";
  append_argv(out, "build.command", config.build.command);
  out += fmt::format("build.timeout={}\n", config.build.timeout.count());
  append_kernel(out, config);
  for (const InputFile& input : inputs) {
    if (input.is_kernel()) {
      append_argv(out, input.key, {input.name, input.sha256});
    }
  }
  return config::sha256_hex(out);
}

bool InputFile::is_kernel() const { return key == "kernel.base" || key == "kernel.fragments"; }

bool InputFile::is_bundled() const {
  return key == "reproducer.bundled" || (is_kernel() && (name.empty() || name.front() != '/'));
}

bool InputFile::same_file(const InputFile& other) const {
  return key == other.key && name == other.name;
}

base::Result<std::vector<InputFile>> input_files(const config::Config& config,
                                                 bool prebuilt_kernel) {
  std::vector<InputFile> inputs;
  const auto add_file = [&inputs](const char* key, const std::string& path) -> base::Status {
    auto text = base::read_file(path, size_t{1} << 30);
    if (!text) {
      return std::move(text).error().context(key);
    }
    inputs.push_back({key, path, config::sha256_hex(*text)});
    return {};
  };
  if (config.xfstests) {
    // ./check and the named tests with their golden output: a changed test is a different
    // experiment. common/ and the helpers are not hashed (too much to read at every start).
    FB_ASSIGN_OR_RETURN(const std::vector<std::string> paths,
                        run::xfstests_identity_files(*config.xfstests));
    for (const std::string& path : paths) {
      FB_TRY(add_file("reproducer", path));
    }
  } else if (config.reproducer) {
    const std::string& program = config.reproducer->program;
    if (program.rfind("bundled:", 0) == 0) {
      // Named by its bundled name, not by where this flakebisect is installed, so that the runs of
      // one install count for another. (Until 2026-11-27 the digest named its path, which no
      // absolute path can be confused with.)
      const std::string path = run::bundled_program_path(program, "");
      auto text = base::read_file(path, size_t{1} << 30);
      if (!text) {
        return std::move(text).error().context("reproducer");
      }
      inputs.push_back({"reproducer.bundled", program, config::sha256_hex(*text)});
    } else if (!program.empty() && program.front() == '/') {
      FB_TRY(add_file("reproducer", program));
    }
    for (const std::string& path : config.reproducer->files) {
      FB_TRY(add_file("reproducer", path));
    }
  }
  if (config.kernel) {
    // What the kernel is built from, by content: a base .config file and every fragment (a file,
    // or the text compiled into flakebisect). A base named by a make target (defconfig) is part
    // of the commit.
    const std::string& base = config.kernel->base;
    if (!base.empty() && base.front() == '/') {
      FB_TRY(add_file("kernel.base", base));
    }
    for (const std::string& fragment : config.kernel->fragments) {
      if (!fragment.empty() && fragment.front() == '/') {
        FB_TRY(add_file("kernel.fragments", fragment));
      } else if (auto bundled = build::bundled_fragment(fragment)) {
        inputs.push_back({"kernel.fragments", fragment, config::sha256_hex(*bundled)});
      }
    }
  } else if (prebuilt_kernel && config.qemu && !config.qemu->kernel.empty()) {
    // The prebuilt image booted at every commit, by content: a kernel rebuilt or upgraded at the
    // same path (/vmlinuz follows the newest package) is another experiment. Its modules are
    // named by path only (a tree of thousands of files); they change with the image.
    auto digest = sha256_of_file(config.qemu->kernel);
    if (!digest) {
      return std::move(digest).error().context(std::string(kPrebuiltKernelKey));
    }
    inputs.push_back({std::string(kPrebuiltKernelKey), config.qemu->kernel, *digest});
  }
  return inputs;
}

std::string reproducer_digest(const config::Config& config, const std::vector<InputFile>& inputs) {
  if (inputs.empty() && !config.kernel) {
    return std::string();
  }
  // The v2 text, unchanged since it was written directly from the files (identities stored since
  // then must still match): reproducer files first, then the kernel's, each a length-prefixed
  // name and the SHA-256 of the contents. A prebuilt kernel image comes last.
  std::string contents = "flakebisect reproducer digest v2\n";
  for (const InputFile& input : inputs) {
    if (input.is_kernel()) {
      const char* what = input.key == "kernel.base" ? "base" : "fragment";
      contents += fmt::format("{} {}:{}\n{}\n", what, input.name.size(), input.name, input.sha256);
    } else if (input.key == kPrebuiltKernelKey) {
      // Since 2026-11-27, so only identities with a prebuilt kernel changed (once).
      contents +=
          fmt::format("qemu.kernel {}:{}\n{}\n", input.name.size(), input.name, input.sha256);
    } else {
      contents += fmt::format("{}:{}\n{}\n", input.name.size(), input.name, input.sha256);
    }
  }
  return config::sha256_hex(contents);
}

base::Result<std::string> reproducer_digest(const config::Config& config) {
  FB_ASSIGN_OR_RETURN(const std::vector<InputFile> inputs, input_files(config));
  return reproducer_digest(config, inputs);
}

std::string inputs_to_json(const std::vector<InputFile>& inputs) {
  nlohmann::json array = nlohmann::json::array();
  for (const InputFile& input : inputs) {
    array.push_back({{"key", input.key}, {"name", input.name}, {"sha256", input.sha256}});
  }
  return array.dump();
}

base::Result<std::vector<InputFile>> inputs_from_json(std::string_view text,
                                                      std::string_view where) {
  std::vector<InputFile> inputs;
  try {
    const nlohmann::json array = nlohmann::json::parse(text);
    for (const nlohmann::json& item : array) {
      inputs.push_back({item.at("key").get<std::string>(), item.at("name").get<std::string>(),
                        item.at("sha256").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    return base::make_error(base::ErrorCode::kCorrupt,
                            "{}: the recorded input files are not valid: {}", where, e.what());
  }
  return inputs;
}

base::Status check_inputs_unchanged(const std::vector<InputFile>& recorded,
                                    const std::vector<InputFile>& now) {
  for (const InputFile& then : recorded) {
    const auto same = std::find_if(
        now.begin(), now.end(), [&then](const InputFile& input) { return then.same_file(input); });
    if (same == now.end()) {
      return base::make_error(base::ErrorCode::kInvalidInput,
                              "{} '{}' is no longer one of the files the test reads", then.key,
                              then.name);
    }
    if (same->sha256 == then.sha256) {
      continue;
    }
    if (then.is_bundled()) {
      return base::make_error(
          base::ErrorCode::kInvalidInput,
          "{} '{}' comes with flakebisect, and this flakebisect's differs from the one the "
          "bisection started with (SHA-256 {} then, {} now): its runs would belong to another "
          "experiment; resume it with the flakebisect that started it, or start a new bisection",
          then.key, same->name, then.sha256.substr(0, 12), same->sha256.substr(0, 12));
    }
    return base::make_error(
        base::ErrorCode::kInvalidInput,
        "{} '{}' has changed since the bisection started (SHA-256 {} then, {} now): its runs and "
        "builds would belong to another experiment; restore it and resume, or start a new "
        "bisection",
        then.key, then.name, then.sha256.substr(0, 12), same->sha256.substr(0, 12));
  }
  for (const InputFile& input : now) {
    const bool known = std::any_of(recorded.begin(), recorded.end(),
                                   [&input](const InputFile& r) { return r.same_file(input); });
    if (!known && input.key != kPrebuiltKernelKey) {
      return base::make_error(base::ErrorCode::kInvalidInput,
                              "{} '{}' is read by the test now but was not when the bisection "
                              "started; start a new bisection",
                              input.key, input.name);
    }
  }
  return {};
}

}  // namespace flakebisect::engine
