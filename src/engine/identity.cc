#include "engine/identity.h"

#include <fmt/core.h>

#include "base/paths.h"
#include "build/kernel_fragments.h"
#include "config/sha256.h"
#include "run/qemu_runner.h"

namespace flakebisect::engine {
namespace {

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

std::string test_identity(const config::Config& config, std::string_view reproducer_digest) {
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

base::Result<std::string> reproducer_digest(const config::Config& config) {
  std::vector<std::string> paths;
  if (config.xfstests) {
    // ./check and the named tests with their golden output: a changed test is a different
    // experiment. common/ and the helpers are not hashed (too much to read at every start).
    FB_ASSIGN_OR_RETURN(paths, run::xfstests_identity_files(*config.xfstests));
  } else if (!config.reproducer) {
    // Nothing to read for the reproducer; the kernel's inputs below may still be.
  } else {
    const std::string& program = config.reproducer->program;
    if (program.rfind("bundled:", 0) == 0) {
      paths.push_back(run::bundled_program_path(program, ""));
    } else if (!program.empty() && program.front() == '/') {
      paths.push_back(program);
    }
    paths.insert(paths.end(), config.reproducer->files.begin(), config.reproducer->files.end());
  }
  if (paths.empty() && !config.kernel) {
    return std::string();
  }
  std::string contents = "flakebisect reproducer digest v2\n";
  for (const std::string& path : paths) {
    auto text = base::read_file(path, size_t{1} << 30);
    if (!text) {
      return std::move(text).error().context("reproducer");
    }
    contents += fmt::format("{}:{}\n", path.size(), path);
    contents += config::sha256_hex(*text) + "\n";
  }
  if (config.kernel) {
    // What the kernel is built from, by content: a base .config file and every fragment (a file,
    // or the text compiled into flakebisect). An edited fragment at the same path builds other
    // kernels, so it is another experiment (v1 hashed only the paths, in the test identity).
    const auto add = [&](std::string_view what, std::string_view name, std::string_view text) {
      contents += fmt::format("{} {}:{}\n{}\n", what, name.size(), name, config::sha256_hex(text));
    };
    const std::string& base = config.kernel->base;
    if (!base.empty() && base.front() == '/') {
      auto text = base::read_file(base, size_t{1} << 30);
      if (!text) {
        return std::move(text).error().context("kernel.base");
      }
      add("base", base, *text);
    }
    for (const std::string& fragment : config.kernel->fragments) {
      if (!fragment.empty() && fragment.front() == '/') {
        auto text = base::read_file(fragment, size_t{1} << 30);
        if (!text) {
          return std::move(text).error().context("kernel.fragments");
        }
        add("fragment", fragment, *text);
      } else if (auto bundled = build::bundled_fragment(fragment)) {
        add("fragment", fragment, *bundled);
      }
    }
  }
  return config::sha256_hex(contents);
}

}  // namespace flakebisect::engine
