// Maintainers: who a kernel commit's report should reach, as the tree itself says it.
//
// A kernel tree names the people and lists responsible for each file in MAINTAINERS, and its
// scripts/get_maintainer.pl turns a patch into the addresses to Cc. KernelCI and syzbot Cc those on
// their bisection reports, and kernel developers expect the same. kernel_maintainers() runs the
// script and MAINTAINERS *as the culprit commit has them* (written out of git, not read from
// whatever the worktree holds) on the commit's own patch, with git history off (--no-git
// --no-git-fallback, so the answer does not depend on the clone), and parses what it prints.
//
// The script is the tree's own code, run with perl from PATH under an argv (no shell), with a time
// limit, in a private temporary directory that holds an empty copy of the commit's directories
// (the script tells "F: drivers/foo" a directory by looking) and HOME set to it (no user
// ~/.get_maintainer.conf). A commit without the script or MAINTAINERS (not a kernel tree, or a
// very old one) and a merge (its first-parent diff is a whole branch) have no maintainers:
// nullopt, not an error.
//
// Thread rules: free functions; kernel_maintainers blocks on the child process.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/process.h"
#include "base/result.h"
#include "git/repository.h"

namespace flakebisect::report {

struct Maintainer {
  std::string name;     // may be empty (a list has none)
  std::string address;  // a plain addr-spec, "linux-ext4@vger.kernel.org"
  std::string role;     // get_maintainer.pl's role, "maintainer:EXT4 FILE SYSTEM"; may be empty
};

// The most addresses kept from one run of the script.
inline constexpr size_t kMaxMaintainers = 40;

struct MaintainersOptions {
  // The directory under which a private temporary directory is made (and removed).
  std::string temp_parent;
  std::chrono::milliseconds timeout{60000};
};

// get_maintainer.pl's output with --rolestats, one address per line:
//   Theodore Ts'o <tytso@mit.edu> (maintainer:EXT4 FILE SYSTEM)
//   linux-ext4@vger.kernel.org (open list:EXT4 FILE SYSTEM)
// Lines that hold no valid address are skipped; repeated addresses are kept once; at most
// kMaxMaintainers.
std::vector<Maintainer> parse_get_maintainer_output(std::string_view output);

// Runs commit `sha`'s scripts/get_maintainer.pl with its MAINTAINERS on its patch. nullopt when the
// commit has neither. Errors: git cannot read the commit, the temporary files cannot be written,
// or the script fails (its exit status and the end of what it printed to stderr).
base::Result<std::optional<std::vector<Maintainer>>> kernel_maintainers(
    const git::Repository& repo, std::string_view sha, base::ProcessRunner& runner,
    const MaintainersOptions& options);

}  // namespace flakebisect::report
