// BisectRequest: what a user asks to bisect, checked and turned into a store::BisectionSpec before
// anything is stored, checked out or built.
//
// prepare_bisection() opens the repository, resolves every revision to a full commit SHA (so a
// branch that moves later does not change the bisection), checks the range (at least one good, no
// good equal to bad, every good an ancestor of bad) and fixes the configuration text, its hash and
// the test identity. It also checks that the test and build programs exist when that can be known
// now (a bare name on PATH, an absolute path); a relative path is resolved in each commit's
// worktree at run time. Errors name the flag and the revision as the user wrote it, for example
//   --good 'v6.1': unknown revision 'v6.1'
//   --good 1234...: good 1234... is not an ancestor of bad 89ab...
// and come back before the store is touched.
//
// Thread rules: pure apart from reading the repository.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "store/records.h"

namespace flakebisect::engine {

struct BisectRequest {
  std::string repo;                    // a path inside the repository (as `git -C` takes it)
  std::vector<std::string> good_revs;  // at least one
  std::string bad_rev;
  config::Config config;  // the effective configuration; test.command must be set
};

base::Result<store::BisectionSpec> prepare_bisection(const BisectRequest& request);

// Settings that contradict each other whatever the range: the revert check in a fix bisection,
// a backport check without one. Each is named where it was set (a flag or file:line).
// prepare_bisection() checks them too; the command line calls this first to call them usage
// errors.
base::Status check_setting_conflicts(const config::Config& config);

}  // namespace flakebisect::engine
