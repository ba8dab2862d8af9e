// Config: the TOML configuration of one bisection (how to decide, how to build, how to test), and
// its parser.
//
// A config file has the tables [range], [decision], [build], [test], [kernel], [qemu], [scratch],
// [reproducer] and [xfstests]; docs/config.md lists every key. A test is either test.command (run
// on the host) or [qemu] + [reproducer] (run in a guest on a fresh scratch filesystem); [kernel]
// builds the kernel. Parsing is strict so that a typo never silently turns into a default: an
// unknown key, a value of the wrong type, an out-of-range number, a command written as a shell
// string, a bad outcome name or a signature that is not a valid regular expression are all errors
// (ErrorCode::kInvalidInput) that name the file, line, column and key:
//
//   config.toml:7:1: decision.confidence: must be a number in (0.5, 1), got 1.5
//   config.toml:3:21: syntax error: Error while parsing array: encountered end-of-file
//   config.toml:4:1: unknown key 'decison.confidence'; did you mean 'decision.confidence'?
//
// When a file has several problems, the one nearest its start is reported. Parsing reads only the
// text (load_config also reads the file) and never writes anything.
//
// Thread rules: plain values and pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace flakebisect::config {

// Which commits between good and bad are candidates. The revisions themselves come from the
// command line (--good, --bad) and are stored with the bisection as full SHAs.
struct RangeConfig {
  // Only the commits on bad's first-parent chain are candidates (`git bisect start
  // --first-parent`): a merge on that chain is tested as one commit, the commits of the branch it
  // merged never are, and the answer may be the merge (git::CandidateOptions::first_parent_only).
  bool first_parent = false;
  // Find the commit that fixed the failure instead of the one that caused it (git bisect's
  // custom terms, `--term-old broken --term-new fixed`). bad is then the older commit, where the
  // test fails, and the one good the newer, where it passes; the candidates are good's
  // first-parent chain down to bad, and the answer is the first commit on it that passes
  // (engine/bisector.cc, docs/usage.md "Finding the fix"). Implies first_parent.
  bool find_fix = false;

  bool operator==(const RangeConfig&) const = default;
};

// When the bisection is sure enough, and how much it may spend getting there.
struct DecisionConfig {
  // Answers are right at least this often, in (0.5, 1): the engine stops when one culprit holds
  // model::stop_threshold of it (0.995 at 0.99) of the posterior mass.
  double confidence = 0.99;
  uint32_t max_runs = 5000;  // reproducer runs in total, over all commits, >= 1
  std::chrono::seconds max_wall_time{0};  // 0 = unlimited
  double no_regression_prior = 0.0;       // prior mass on "no regression in this range", in [0, 1)
  double theta_min = 0.005;  // lowest failure rate on bad commits considered, in (0, 1)
  // How much the failure rate may differ between bad commits (sd of its log), in [0, 2]; 0 = one
  // rate for all (model::ModelOptions::rate_spread).
  double rate_spread = 0.25;
  // How many times more often than a good commit a bad one fails at the least, in [1, 100]
  // (model::ModelOptions::min_rate_ratio). 2 keeps a rare bug's failures from being taken for a
  // noisy good commit's (docs/model.md); 1 was the model until session 10.
  double min_rate_ratio = 2;
  // Charge a new build at least this many times the median runs at a built commit, times
  // P(eps > 0), in [0, 100]; 0 = the build cost alone (model::PlannerOptions::noise_build_weight).
  // 1 since session 11: fewer builds in rare, noisy searches at build costs of 3 to 30 runs, for
  // about the same cost (docs/model.md); 0 was the engine's until then.
  double noise_build_weight = 1;
  // Charge a new build at least this many times E[1 / theta], the runs a bad commit takes on
  // average to fail once, in [0, 100]; 0 = off (model::PlannerOptions::rare_build_weight). Off by
  // default: 1 builds fewer commits where a bug fails in 2-5% of runs, but costs 2-11% more where
  // good commits never fail (docs/model.md).
  double rare_build_weight = 0;
  uint32_t max_reproduce_runs = 200;  // runs on the bad commit before "could not reproduce", >= 1
  // Relative costs the planner uses until measured durations exist; only their ratios matter.
  double build_cost = 10;  // building a commit, >= 0
  double boot_cost = 0;    // starting a test environment for a batch of runs, >= 0
  double run_cost = 1;     // one reproducer run, > 0
  // Replace the three costs above by measured durations as they come (engine/cost_learner.h);
  // false = plan with the configured costs throughout.
  bool learn_costs = true;
  // KernelCI's revert check: once a culprit is found, test the bad commit with it reverted until
  // the posterior says the revert fixes it or not (model/revert_check.h), at most
  // revert_check_max_runs runs (>= 1). Off by default: it costs one more build and, for a bug that
  // fails in 5% of runs, a couple of hundred runs.
  bool revert_check = false;
  uint32_t revert_check_max_runs = 1000;
  // The verify check: when the culprit found is the first commit after a good one (its first
  // parent is outside the candidates, so the search never ran it and the verdict rests on the
  // user's word that it is good), run that parent until the posterior says it behaves like a
  // good commit (pass) or a bad one (fail: the regression is older than the range, and the
  // bisection ends inconclusive), at most verify_check_max_runs runs (>= 1). On by default: it
  // costs nothing unless the culprit is such a commit.
  bool verify_check = true;
  uint32_t verify_check_max_runs = 1000;
  // The backport check, for range.find_fix only: once the fix is found, test the broken (bad)
  // commit with the fix cherry-picked onto it (`git cherry-pick -x`) until the posterior says
  // the pick fixes it or not, as the revert check weighs a revert, at most
  // backport_check_max_runs runs (>= 1). Off by default, as the revert check.
  bool backport_check = false;
  uint32_t backport_check_max_runs = 1000;
  // Where the backport check cherry-picks the fix: "" for the broken (bad) commit, or a revision
  // (a stable branch that still fails, say), which a new bisection resolves to its full SHA and
  // stores so. Implies backport_check.
  std::string backport_onto;

  bool operator==(const DecisionConfig&) const = default;
};

// How to build a commit. Started in the commit's checkout; exit status 0 = built, anything else =
// the commit is skipped.
struct BuildConfig {
  std::vector<std::string> command;    // argv, run without a shell; empty = nothing to build
  std::chrono::seconds timeout{3600};  // > 0

  bool operator==(const BuildConfig&) const = default;
};

// How to run the reproducer once, and which outcomes count as the bug being hunted.
struct TestConfig {
  // argv, run without a shell, with git-bisect-run exit codes (0 pass, 125 skip, 1..127 fail).
  // Empty = none configured; starting a bisection needs one.
  std::vector<std::string> command;
  std::chrono::seconds timeout{600};          // one run, > 0
  // Silence that counts as a hang; 0 = disabled. test.command only: refused with [qemu].
  std::chrono::seconds no_output_timeout{0};
  // Outcomes that count as a failure of the bug, a non-empty subset of fail, crash and hang, in
  // that order and without repeats whatever order the file used.
  std::vector<std::string> failure_outcomes = {"fail", "crash"};
  // ECMAScript regex (std::regex); when set, a crash counts only if the regex matches somewhere in
  // its title (std::regex_search; ^ and $ anchor). Non-empty and known to compile.
  std::optional<std::string> signature;
  uint32_t runs_per_batch = 0;  // runs per boot; 0 = the planner decides; <= decision.max_runs

  bool operator==(const TestConfig&) const = default;
};

// [kernel]: build a Linux kernel at each commit (the repository is a kernel tree). Mutually
// exclusive with build.command; needs [qemu] to boot what it builds.
struct KernelConfig {
  // "defconfig", "tinyconfig", "allnoconfig" (make targets), or an absolute path to a .config.
  std::string base = "defconfig";
  // Merged over the base in order: a bundled fragment's name (kernel_fragments.h) or an absolute
  // path to a file of CONFIG_ lines.
  std::vector<std::string> fragments = {"qemu-guest"};
  std::vector<std::string> make = {"make"};  // argv prefix, e.g. ["make", "LLVM=1"]
  uint32_t jobs = 0;                         // make -j; 0 = online CPUs + 1
  bool ccache = true;                        // build through ccache when it is installed
  std::string target = "bzImage";            // make target; the image is arch/x86/boot/<target>

  bool operator==(const KernelConfig&) const = default;
};

// [qemu]: boot the kernel under QEMU and run the reproducer inside the guest.
struct QemuConfig {
  std::string binary = "qemu-system-x86_64";
  // A prebuilt kernel image to boot at every commit (when the build makes the reproducer, not the
  // kernel); must be empty with [kernel]. Absolute path.
  std::string kernel;
  // Module tree of a modular prebuilt kernel (absolute path); empty = /lib/modules/<version> when
  // `kernel` is named /boot/vmlinuz-<version> and that directory exists, else none.
  std::string modules;
  // Modules to load in the guest, with their dependencies, in order (ignored without a module tree).
  std::vector<std::string> load_modules = {"virtio_pci", "virtio_blk", "crc32c_generic", "ext4"};
  std::string accel = "auto";  // auto (KVM if a probe guest boots with it, else TCG) | kvm | tcg
  uint32_t memory_mb = 512;    // guest memory, >= 64
  uint32_t cpus = 2;           // guest CPUs, >= 1
  std::vector<std::string> append;        // extra kernel command line words
  std::chrono::seconds boot_timeout{180};  // from start until the guest is ready to run, > 0
  uint32_t runs_per_boot = 16;             // most runs in one boot (one scratch disk each), 1..24
  // Boot the prebuilt `kernel` from its unpacked vmlinux through its PVH entry, when it has one
  // (run/kernel_image.h): about 6 s less per boot under TCG, and a guest that differs from a
  // bzImage boot in small ways (no VGA text console, the firmware's memory map). Part of the test
  // identity when set.
  bool direct_boot = false;
  // Not a key of the file: the guest console's loglevel, which engine::runner_config lowers to 5
  // for a bisection stored before the console showed KERN_INFO (engine/identity.h GuestEra).
  uint32_t console_loglevel = 7;

  bool operator==(const QemuConfig&) const = default;
};

// [scratch]: the filesystem every run gets, made fresh on the host for each run.
struct ScratchConfig {
  uint32_t size_mb = 256;  // >= 16
  // mkfs argv; the image path is appended. Must make what `fstype` mounts.
  std::vector<std::string> mkfs = {"mkfs.ext4", "-q", "-F", "-b", "1024"};
  std::string fstype = "ext4";  // mount -t
  std::string mount_options;    // mount -o; empty = defaults

  bool operator==(const ScratchConfig&) const = default;
};

// [reproducer]: what runs in the guest, once per run, with the scratch filesystem mounted.
struct ReproducerConfig {
  // "bundled:dio-check" (the bundled generic/418-style checker), an absolute host path, or a path
  // relative to the commit's checkout (something build.command made). Copied into the guest.
  std::string program = "bundled:dio-check";
  // Arguments. The words {scratch} (the mount point) and {run} (the run index) are replaced.
  std::vector<std::string> args = {"-w", "-t", "-b", "1024", "-n", "4", "-i", "20",
                                   "{scratch}/dio-check.file"};
  std::vector<std::string> files;  // more host files (absolute) copied to /fb/files/ in the guest

  bool operator==(const ReproducerConfig&) const = default;
};

// [xfstests]: run tests of a built xfstests tree in the guest instead of a [reproducer]. The guest
// chroots into `root`, a host directory tree shared read-only over virtio-9p (the host itself by
// default), so xfstests finds bash, perl, xfsprogs and the rest there; each run gets its own
// freshly made TEST_DEV and SCRATCH_DEV.
struct XfstestsConfig {
  std::string root = "/";  // absolute host path: the guest's userland
  std::string dir;         // absolute path of the built xfstests tree, as seen inside `root`
  // ./check's arguments: test names, groups (-g quick), options; passed as they are.
  std::vector<std::string> tests = {"generic/418"};
  std::string mkfs_options;   // MKFS_OPTIONS, e.g. "-b 1024"; empty = xfstests' default
  std::string mount_options;  // MOUNT_OPTIONS, e.g. "-o dioread_nolock"; empty = its default
  std::vector<std::string> environment;  // more "NAME=value" variables for ./check

  bool operator==(const XfstestsConfig&) const = default;
};

struct Config {
  RangeConfig range;
  DecisionConfig decision;
  BuildConfig build;
  TestConfig test;
  std::optional<KernelConfig> kernel;          // [kernel] present
  std::optional<QemuConfig> qemu;              // [qemu] present
  ScratchConfig scratch;                       // used with [qemu]
  std::optional<ReproducerConfig> reproducer;  // [reproducer] present
  std::optional<XfstestsConfig> xfstests;      // [xfstests] present (instead of [reproducer])
  std::string source_text;  // the text parsed, kept so a bisection can store what the user wrote
  std::string source_name;  // the file name used in error messages
  // The line of each key the text set ("decision.revert_check" -> 3). A command-line option that
  // overrides a key drops it, so that an error names whichever of the two set the value.
  std::map<std::string, uint32_t> key_lines;

  // How an error names a setting: "decision.revert_check (a.toml:3)" when the text set it, else
  // `flag` ("--revert-check").
  std::string origin_of(std::string_view key, std::string_view flag) const;

  // SHA-256 (64 hex digits) of a canonical serialisation of every table: the effective values,
  // not the text, so comments, whitespace, key order and spelling out a default do not change it,
  // and any changed value does. source_text and source_name are not part of it. The guest tables
  // ([kernel], [qemu] with [scratch], [reproducer], [xfstests]) are serialised only when present,
  // and [range] only when not the default, so configs without them kept the hashes they had before
  // those tables existed.
  std::string hash() const;
};

// Every key a config file may hold, as "table.key", in the order docs/config.md lists them.
std::vector<std::string> config_keys();

// What a text is: a configuration for a new bisection, or one stored with a bisection (whatever an
// earlier flakebisect accepted: rules added since, such as test.no_output_timeout refused with
// [xfstests], are not applied to it, so that a paused bisection still resumes).
enum class ConfigOrigin { kNew, kStored };

// Parses config text. `source_name` (usually the path) starts every error message.
base::Result<Config> parse_config(std::string_view text, std::string_view source_name,
                                  ConfigOrigin origin = ConfigOrigin::kNew);

// Reads and parses the file at `path`. Errors: "config <path>: not found" (kNotFound) for a missing
// file, "config <path>: <reason>" (kIo, or kInvalidInput above 1 MiB) when it cannot be read, and
// parse_config's errors with `path` as the source name.
base::Result<Config> load_config(const std::string& path);

// kvm-xfstests' name of a filesystem configuration ("ext4/1k", "xfs/4k"): `fstype` and the block
// size that the mkfs arguments ask for ("-b 1024", "-b1024", mkfs.xfs' "-b size=4096") in KiB, or
// in bytes when not a whole number of KiB; `fstype` alone when they name none. The engine's
// [xfstests] batch events and the reports' mail subject both use it.
std::string filesystem_config_name(std::string_view fstype,
                                   const std::vector<std::string>& mkfs_args);

}  // namespace flakebisect::config
