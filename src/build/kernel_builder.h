// KernelBuilder: builds a Linux kernel at each commit the way kvm-xfstests does (a base config plus
// fragments, `make olddefconfig`, `make -jN O=dir`), checks that the config it asked for is the
// config it got, and keeps every image in an artifact cache keyed by what went into it.
//
// build(checkout), in checkout.worktree (a kernel tree at the commit), with O=<worktree>/
// .flakebisect-obj (kObjDirName: why there, below):
//   1. base config: `make O=<obj> defconfig|tinyconfig|allnoconfig`, or a copy of the .config file
//      the base names;
//   2. the fragments merged over <obj>/.config in order, later lines winning (what
//      scripts/kconfig/merge_config.sh does, in C++: see merge_config()); kernel_fragments.h has
//      the syntax;
//   3. `make O=<obj> olddefconfig`;
//   4. the required-symbol check: every symbol the fragments set must still have the value asked
//      for ("is not set" is satisfied by absence). olddefconfig silently drops what
//      an older tree lacks or cannot satisfy, so a commit that loses a symbol is a skip naming it:
//      "olddefconfig dropped CONFIG_VIRTIO_MENU (wanted y)";
//   5. the artifact cache: key = sha256 over the tree id (the sha when the engine gave none), the
//      final .config, the compiler's `--version` line, the make argv and the target. A hit skips
//      the build: BuildOutcome{ok, detail "cached", artifact = the cache entry};
//   6. `make O=<obj> -j<jobs> [CC=ccache <cc>] <target>` with the build timeout;
//   7. the image and the final config copied into a new cache entry, which becomes the artifact.
//
// Every make call gets the same make argv prefix and, when the kernel config asks for ccache and
// ccache is installed, "CC=ccache <cc>" as one argument (kbuild takes it as the C compiler command;
// a CC= already in the make argv is wrapped instead). <cc> is what kbuild would use: the make
// argv's CC=, else clang for LLVM= (with LLVM's prefix or suffix), else CROSS_COMPILE + gcc. The
// environment is fixed for reproducible, ccache-friendly builds (KBUILD_BUILD_TIMESTAMP, _USER,
// _HOST, _VERSION), and the variables that would make kbuild read something other than the config
// (KCONFIG_CONFIG, KCONFIG_ALLCONFIG, KBUILD_OUTPUT, ARCH, CROSS_COMPILE, LLVM) are removed.
//
// The image is <obj>/arch/<arch>/boot/<target> (arch x86 unless the make argv sets ARCH=), or else
// <obj>/<target> (for example vmlinux).
//
// Artifact cache entry <cache_root>/<key>/: <target> (the image, e.g. bzImage), `config` (the final
// .config) and `build.log`. An entry is written into a directory of its own, <key>.tmp-XXXXXX
// (mkdtemp), and renamed into place, so one that exists is complete; two builders racing for the
// same key (two processes, or two workers of one daemon) both end up using the winner's.
// Temporary directories left by builds that died are removed once they are an hour old.
//
// Interrupted builds: a make killed mid-build (the build timeout, a stop, kill -9 of flakebisect,
// a power cut) can leave half-written objects in O= that kbuild would never rebuild. The file
// <obj>/.flakebisect-build-in-progress is written before each make step and removed when the step
// ends by itself (success or an ordinary failure, not a full disk or a killed compiler or linker,
// which may leave half-written files too). A build that finds it first removes
// every regular file under O= modified since it was written (less 2 s), but those under
// include/config/, so that kbuild remakes them; the build log says how many.
//
// Logs: every build writes <log_dir>/<sha12>-<unix ms>.log with the output of each make call
// (while the kernel builds, it is the live make output, so it can be followed). A failing build
// names it in BuildOutcome::detail: "make bzImage: exit 2; log: <path>".
//
// Outcomes: anything the commit does wrong is a skip (BuildOutcome::ok false): a make step that
// fails or times out, a dropped symbol. A Result error means the tool cannot build at all: make or
// the compiler cannot be run, a fragment or base config is missing or malformed, a directory cannot
// be written, or the machine failed the build (a full disk, a missing build tool or host
// development header, named with its Debian package, a SIGKILL under make as builder.h's
// killed_in() sees it, a process that could not be started). Errors read "build <sha12>: ...".
//
// Thread rules: one thread at a time (builds with the same settings take turns, see build()).
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/process.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "build/builder.h"
#include "build/commit_checkout.h"
#include "config/config.h"

namespace flakebisect::build {

// Names of the files in an artifact cache entry besides the image (named like the target).
inline constexpr std::string_view kArtifactConfigName = "config";
inline constexpr std::string_view kArtifactLogName = "build.log";

// The O= directory's name in the worktree. A direct subdirectory of the source tree makes kbuild
// take the source tree as ".." (srctree), so every compiler command line is the same in every
// worktree and ccache hits across bisections; with O= anywhere else srctree is the worktree's
// absolute path, which differs per bisection, and a second bisection of the same config rebuilt
// everything cold. Each bisection's worktree has its own, so two bisections never rebuild each
// other's objects either; it goes when the worktree does. git ignores it in flakebisect's
// worktrees (git/worktree.h: top-level names starting with ".flakebisect-").
inline constexpr std::string_view kObjDirName = ".flakebisect-obj";

// The O= directory of builds in the worktree `worktree`: <worktree>/<name>, by default
// kObjDirName (KernelBuilderOptions::obj_dir_name).
std::string obj_dir_in(const std::string& worktree, std::string_view name = kObjDirName);

// A file in the O= directory while a build's make steps run: found at the start of a build, it
// says that the previous one was cut short (see "Interrupted builds" above).
inline constexpr std::string_view kBuildInProgressMarker = ".flakebisect-build-in-progress";

// One setting from a config fragment.
struct ConfigSetting {
  std::string symbol;  // "CONFIG_FOO"
  // As written after '=' ("y", "m", "\"str\"", "0x10"); nullopt for "# CONFIG_FOO is not set" and
  // for CONFIG_FOO=n, which Kconfig reads the same way.
  std::optional<std::string> value;
  std::string where;  // "<source>:<line>", for messages
};

// The settings in a fragment, in order. Comments and blank lines are skipped; any other line that
// is not `CONFIG_<NAME>=<y|m|n|integer|0xhex|"string">` or `# CONFIG_<NAME> is not set` is an
// error (kInvalidInput) naming "<source_name>:<line>".
base::Result<std::vector<ConfigSetting>> parse_config_fragment(std::string_view text,
                                                               std::string_view source_name);

// The settings of the fragments `names` in order: each a bundled fragment's name
// (kernel_fragments.h) or an absolute path. Errors: a fragment that does not exist or cannot be
// read (kNotFound for an unknown bundled name), a malformed line (parse_config_fragment()), and
// any `=m` (kInvalidInput, "<file>:<line>: CONFIG_FOO=m: ... use CONFIG_FOO=y ..."): the image is
// booted without modules, so a module would never be loaded. For checking a configuration before
// a bisection is stored, as well as for the build.
base::Result<std::vector<ConfigSetting>> load_kernel_fragments(
    const std::vector<std::string>& names);

// `config` (a .config's text) with `settings` applied in order, as scripts/kconfig/merge_config.sh
// does: every line of a symbol being set is removed and the setting appended at the end, so the
// last setting wins, also between the members of a choice (Kconfig takes the last one set to y).
// Other lines are kept as they are.
std::string merge_config(std::string_view config, const std::vector<ConfigSetting>& settings);

struct KernelBuilderOptions {
  // One directory per set of build settings; created with mode 0700. A build holds an flock on
  // <build_root>/lock: builds with the same settings take turns, in and across processes (they
  // would each get half the CPUs, and the second then finds the first one's objects in ccache).
  // Until 2026-11-27 it held the shared O= directory, <build_root>/obj, which the first build
  // removes.
  std::string build_root;
  // The name of the O= directory in the worktree (kObjDirName): builds of other settings in one
  // tree (tests) each need their own. It must start with ".flakebisect-" for git to ignore it.
  std::string obj_dir_name = std::string(kObjDirName);
  // The artifact cache (one directory per key); created with mode 0700.
  std::string cache_root;
  // Where build logs are kept, one per build; created with mode 0700.
  std::string log_dir;
  // The compiler's identity for the cache key. Unset: the first line of `<cc> --version`, run once
  // through the process runner the first time it is needed.
  std::optional<std::string> compiler_version;
  // Whether ccache is installed. Unset: whether base::find_executable("ccache") finds it (checked
  // when the builder is constructed).
  std::optional<bool> ccache_available;
  // When set (a signal watcher's flag; may be null), a build stops waiting for another build's
  // directory lock and returns an error: the engine, which reads the same flag, abandons it.
  const std::atomic<bool>* stop = nullptr;
  // A second flag with the same effect (may be null): a daemon's own, set when another worker's
  // error ends it.
  const std::atomic<bool>* also_stop = nullptr;
};

class KernelBuilder final : public Builder {
 public:
  // `processes` must outlive this object. `timeout` bounds each make call.
  KernelBuilder(base::ProcessRunner& processes, config::KernelConfig kernel,
                std::chrono::milliseconds timeout, KernelBuilderOptions options);

  bool needs_build() const override { return true; }
  base::Result<BuildOutcome> build(const CommitCheckout& checkout) override;

 private:
  // build() without the "build <sha12>" context on errors.
  base::Result<BuildOutcome> build_unwrapped(const CommitCheckout& checkout);
  // An flock on <build_root>/lock, held for one build (see the .cc); kBusy after the build
  // timeout.
  base::Result<base::UniqueFd> lock_build_root() const;
  // Whether options_.stop or options_.also_stop is set.
  bool stopped() const {
    return (options_.stop != nullptr && options_.stop->load()) ||
           (options_.also_stop != nullptr && options_.also_stop->load());
  }
  base::Result<std::string> compiler_version();
  // kernel_.make (less a CC= that ccache wraps), O=<obj_dir>, `args` but the last, CC=ccache <cc>
  // when ccache is used, and the last of `args` (the make target).
  std::vector<std::string> make_argv(const std::string& obj_dir,
                                     std::vector<std::string> args) const;
  base::ProcessOptions make_options(const CommitCheckout& checkout,
                                    std::vector<std::string> args) const;

  base::ProcessRunner& processes_;
  config::KernelConfig kernel_;
  std::chrono::milliseconds timeout_;
  KernelBuilderOptions options_;
  std::string compiler_;  // what kbuild runs as the C compiler (see above), without ccache
  bool use_ccache_ = false;
};

}  // namespace flakebisect::build
