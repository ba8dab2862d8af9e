// `flakebisect demo`: a real flaky bisection in a few minutes, on a history made on the spot.
//
// It generates a git repository of a small C project (qemu/demo/applog.c, an append-only record
// log written by several threads) with a few hundred commits and merged topic branches, in one
// of which a commit "simplifies" the log's slot reservation and introduces a real race: two
// writers occasionally get the same slot and a record is lost. The bisection builds the program
// at each commit (cc -static), boots Debian's packaged kernel under QEMU, and runs it in the guest
// on a freshly made 1k-block ext4 filesystem per run, in the foreground with the live progress
// line, then prints the report (or, when it was interrupted, how to resume it). Everything
// (repository, config, store, logs) stays in one directory so the user can look at it, re-run
// `report` on it, or delete it.
//
// Thread rules: called from main only.
#pragma once

#include <cstdint>
#include <string>

#include "cli/commands.h"

namespace flakebisect::cli {

struct DemoOptions {
  std::string dir;        // where to put it; empty = <data home>/demo-<UTC time>
  uint32_t commits = 300;  // on the main line, topic branch commits included
};

// The demo project's history, as a `git fast-import` stream: `commits` commits on main with topic
// branches merged back, the race introduced by the commit whose subject starts with "applog:
// reserve". Deterministic: same arguments, same commit ids. Exposed for tests.
struct DemoHistory {
  std::string stream;
  uint32_t commits = 0;     // all commits, merges included
  uint32_t merges = 0;      // merge commits among them
  uint32_t planted = 0;     // fast-import mark of the culprit
};
DemoHistory demo_history(uint32_t main_commits);

int demo_command(const GlobalOptions& global, const DemoOptions& options);

}  // namespace flakebisect::cli
