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
// The build key still names the fragments by path.
//
// Build key (store::BuildRecord::config_hash): builds are stored per (tree id, build key); the key
// is the SHA-256 of build.command and build.timeout. A failed build under a key makes every commit
// with that tree a skip for bisections using that key.
//
// Both are versioned: changing what goes in changes every key (old runs are then no longer reused),
// so change the serialisation only together with its version line.
//
// Thread rules: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

#include "config/config.h"

namespace flakebisect::engine {

std::string test_identity(const config::Config& config, std::string_view reproducer_digest = {});

// SHA-256 over the contents of the reproducer files that live outside the repository (see above)
// and, with [kernel], of what the kernel is built from (a base .config file, every fragment file or
// bundled fragment); "" when there are none; a file that cannot be read is an error naming it.
base::Result<std::string> reproducer_digest(const config::Config& config);
std::string build_key(const config::Config& config);

}  // namespace flakebisect::engine
