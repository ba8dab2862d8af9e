// Identities: the keys under which runs and builds are stored, so that evidence and builds are
// shared exactly between the bisections that would have produced the same ones.
//
// Test identity (store::RunRecord::test_identity, store::BisectionSpec::test_identity): two runs at
// the same commit with the same test identity are interchangeable samples of one experiment, and a
// later bisection reuses them (design.md: runs are keyed by commit, build config, reproducer and
// scratch fs config). It is the SHA-256 (64 hex digits) of a versioned, length-prefixed
// serialisation of exactly the settings that can change a run's raw outcome:
//   - build.command (what the reproducer runs on),
//   - test.command (the reproducer),
//   - test.timeout and test.no_output_timeout (they decide when a run becomes a hang).
// Not part of it: the decision settings (they change how outcomes are used, not the outcomes),
// test.failure_outcomes and test.signature (stored runs keep their raw outcome and signature; the
// classification into pass/fail happens when evidence is rebuilt, see evidence.h),
// test.runs_per_batch, and build.timeout (a build that times out is a failed build, recorded under
// the build key, and has no runs). The repository path is not part of it either: commits are
// named by SHA, so a clone elsewhere shares the runs.
//
// Guest tests add what the guest sees ([kernel], [qemu] but not its speed settings, [scratch],
// [reproducer]) and, through `reproducer_digest`, the content of a reproducer that lives outside
// the repository (bundled:dio-check or an absolute path, plus reproducer.files): a rebuilt or
// edited reproducer is a different experiment even at the same path. A reproducer in the checkout
// is part of the commit already. With [xfstests], the digest covers ./check and the files of the
// tests named in xfstests.tests (run::xfstests_identity_files); a tree without ./check is an
// error here, before anything is built. With [kernel], it also covers the contents of the base
// .config (when it is a file) and of every fragment, so an edited fragment is another experiment.
//
// Build key (store::BuildRecord::config_hash): builds are stored per (tree id, build key); the key
// is the SHA-256 of build.command and build.timeout, with [kernel] its settings and (v2) the
// contents of its base .config file and fragments: an edited fragment must not find the kernels
// built from the old one, nor the old one's failed builds. A failed build under a key makes every
// commit with that tree a skip for bisections using that key. A bisection stores its build key and
// its input files (InputFile) when it is created (store::BisectionSpec); a resume uses the stored
// key and refuses to go on when a file has changed (check_inputs_unchanged), so that no run or
// build is recorded under an identity that no longer describes it. Bisections stored before the
// key was stored (schema 1) use the v1 key, recomputed from the configuration.
//
// Both are versioned: changing what goes in changes every key (old runs are then no longer reused),
// so change the serialisation only together with its version line.
//
// Thread rules: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "config/config.h"

namespace flakebisect::engine {

// Which flakebisect's guest a test identity describes: a guest's kernel console has shown
// KERN_INFO lines (loglevel 7) since 2026-11-27, which changes crash titles (a hung task's names
// the function it hangs in), so those identities carry a line saying so.
enum class GuestEra {
  kCurrent,
  kBeforeConsoleLoglevel7,  // loglevel 5: a hung task's title names the task
};

// Changing what goes in also changes runner_config's answer (bisector.h) for bisections stored
// before: keep them apart there (GuestEra).
std::string test_identity(const config::Config& config, std::string_view reproducer_digest = {},
                          GuestEra era = GuestEra::kCurrent);

// Whether a guest run stops a reproducer that prints nothing for test.no_output_timeout ([qemu]
// with a reproducer). Such identities carry a line saying so: versions before 2026-11-27 ignored
// the key in a guest, and their runs must not count as runs under that rule.
bool guest_watches_output(const config::Config& config);

// One file outside the repository whose contents a test depends on. key: "reproducer" (with
// [xfstests]: ./check and the named tests), "reproducer.bundled" (a bundled: program),
// "kernel.base" or "kernel.fragments", or "qemu.kernel" (the prebuilt kernel image booted at every
// commit, when there is no [kernel]); name: its absolute path, or a bundled program's or
// fragment's name ("bundled:dio-check", "qemu-guest"); sha256: of its contents.
struct InputFile {
  std::string key;
  std::string name;
  std::string sha256;

  bool is_kernel() const;
  // Shipped with flakebisect (a bundled: reproducer or fragment), not the user's to restore.
  bool is_bundled() const;
  // Whether `other` is the same input, whatever its contents: same key and name.
  bool same_file(const InputFile& other) const;
};

// The input files of a configuration, reproducer files first; a file that cannot be read is an
// error naming it and its key. Without `prebuilt_kernel` a qemu.kernel image is left out (and not
// read): what a resume of a bisection that did not record one checks.
base::Result<std::vector<InputFile>> input_files(const config::Config& config,
                                                 bool prebuilt_kernel = true);

// SHA-256 over the input files (see above): the reproducer files that live outside the repository,
// with [kernel] what the kernel is built from (a base .config file, every fragment file or bundled
// fragment), and a prebuilt kernel image; "" when there are none and no [kernel].
std::string reproducer_digest(const config::Config& config, const std::vector<InputFile>& inputs);
base::Result<std::string> reproducer_digest(const config::Config& config);

// v1, from the configuration alone: what bisections stored before schema 2 use.
std::string build_key(const config::Config& config);
// v2 with [kernel] (v1 without, where the inputs add nothing): the one new bisections store.
std::string build_key(const config::Config& config, const std::vector<InputFile>& inputs);

// The inputs as stored with a bisection (store::BisectionSpec::inputs_json), and back; `where`
// names the bisection in a parse error.
std::string inputs_to_json(const std::vector<InputFile>& inputs);
base::Result<std::vector<InputFile>> inputs_from_json(std::string_view text,
                                                      std::string_view where);

// Ok when `now` holds the same files with the same contents as `recorded`; otherwise an error
// naming the first file that changed, appeared or went. A prebuilt kernel image in `now` that
// `recorded` lacks is accepted: bisections stored before 2026-11-27 did not record it (their
// test identity does not cover it either).
base::Status check_inputs_unchanged(const std::vector<InputFile>& recorded,
                                    const std::vector<InputFile>& now);

}  // namespace flakebisect::engine
