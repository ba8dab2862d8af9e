#include "cli/progress_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace flakebisect::cli {
namespace {

using Phase = engine::Progress::Phase;

engine::Progress running() {
  engine::Progress p;
  p.bisection_id = 1;
  p.phase = Phase::kRunning;
  p.sha = std::string(40, 'a');
  p.subject = "fs: commit 29";
  p.batch_run = 5;
  p.batch_runs = 12;
  p.runs = 60;
  p.max_runs = 800;
  p.builds = 3;
  p.max_probability = 0.476;
  p.best_sha = std::string(40, 'b');
  return p;
}

// The subject belongs to the commit being tested: it stands next to it, not after the best one.
TEST(ProgressText, TheSubjectFollowsTheCommitItBelongsTo) {
  EXPECT_EQ(progress_text(running()),
            "[1] 60/800 runs, 3 builds | testing aaaaaaaaaaaa (5/12) fs: commit 29 | best "
            "bbbbbbbbbbbb p=0.476");
  engine::Progress planning = running();
  planning.phase = Phase::kPlanning;
  EXPECT_EQ(progress_text(planning),
            "[1] 60/800 runs, 3 builds | planning | best bbbbbbbbbbbb p=0.476");
}

}  // namespace
}  // namespace flakebisect::cli
