#include "cli/live_view.h"

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "engine/fakes.h"
#include "support/dead_pid.h"

namespace flakebisect::cli {
namespace {

using store::BisectionState;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// UTF-8 characters (code points) in `text`.
size_t characters(const std::string& text) {
  size_t count = 0;
  for (char c : text) {
    count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  }
  return count;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return lines;
}

// A bisection seven steps in, by hand.
LiveSnapshot running_snapshot() {
  LiveSnapshot s;
  s.id = 3;
  s.state = BisectionState::kRunning;
  s.owner_pid = 4242;
  s.repo = "/home/me/linux";
  s.bad_sha = "1a2b3c4d5e6f00000000000000000000000000aa";
  s.good_shas = {"0f9e8d7c6b5a00000000000000000000000000bb",
                 "9999999999990000000000000000000000000000"};
  s.runs = 87;
  s.max_runs = 5000;
  s.builds = 9;
  s.boots = 12;
  s.step = LiveStep{
      7, "5e6f7a8b9c0d00000000000000000000000000cc", "ext4: fix the dio race", false, 8, 3};
  s.candidates = 146;
  s.posterior_rebuilt = true;
  s.top = {{"5e6f7a8b9c0d00000000000000000000000000cc", "ext4: fix the dio race", 0.4123},
           {"77777777777700000000000000000000000000dd", "ext4: add a mount option", 0.2051},
           {"", "", 0.0125}};
  s.confidence = 0.4123;
  s.target = 0.99;
  s.credible_set_size = 9;
  s.confidence_history = {0.01, 0.05, 0.12, 0.2, 0.3, 0.41, 0.4123};
  s.steps = 7;
  s.run_ms = 87 * int64_t{2100};
  s.timed_runs = 87;
  s.build_ms = 9 * int64_t{96000};
  s.timed_builds = 9;
  return s;
}

TEST(RenderFrame, ShowsStepTotalsCandidatesConfidenceAndEta) {
  EXPECT_EQ(render_frame(running_snapshot(), {100, true}),
            "bisection 3: running (pid 4242), repo linux, bad 1a2b3c4d5e6f, good 0f9e8d7c6b5a +1\n"
            "now:        step 7: testing 5e6f7a8b9c0d x8, run 4 of 8: ext4: fix the dio race\n"
            "runs:       87 of 5000, 9 builds, 12 boots\n"
            "candidates: 146; 9 commits hold 0.99 of the probability\n"
            "  0.4123  5e6f7a8b9c0d  ext4: fix the dio race\n"
            "  0.2051  777777777777  ext4: add a mount option\n"
            "  0.0125  (no regression in this range)\n"
            "confidence: ▁▁▁▂▃▄▄ 0.4123 (stop at 0.995)\n"
            "eta:        ~10.0 min (rough: ~4 steps left from log2 of the credible set, 2.5 min "
            "per step)\n"
            "timings:    mean run 2.1 s (87 runs), mean build 1.6 min (9 builds)\n");
}

TEST(RenderFrame, AFirstParentBisectionSaysItsCandidatesAreTheFirstParentChain) {
  LiveSnapshot s = running_snapshot();
  s.first_parent = true;
  EXPECT_THAT(
      render_frame(s, {100, true}),
      HasSubstr("\ncandidates: 146 first-parent; 9 commits hold 0.99 of the probability\n"));
  s.posterior_rebuilt = false;
  EXPECT_THAT(
      render_frame(s, {100, true}),
      HasSubstr("\ncandidates: 146 first-parent; the most likely as of the last decision:"));
}

TEST(RenderFrame, AFixBisectionSaysBrokenAndFixedAndThatItLooksForTheFix) {
  LiveSnapshot s = running_snapshot();
  s.first_parent = true;
  s.find_fix = true;
  s.good_shas.resize(1);
  const std::string frame = render_frame(s, {100, true});
  EXPECT_THAT(frame, StartsWith("bisection 3: running (pid 4242), repo linux, broken 1a2b3c4d5e6f, "
                                "fixed 0f9e8d7c6b5a\n"));
  EXPECT_THAT(frame, HasSubstr("\ncandidates: 146 first-parent, fix; 9 commits hold 0.99 of the "
                               "probability\n"));
  EXPECT_THAT(frame, HasSubstr("\n  0.0125  (no fix in this range)\n"));
}

TEST(RenderFrame, DuringTheRevertCheckNowSaysWhatTheCheckIsDoing) {
  LiveSnapshot s = running_snapshot();
  s.checking =
      "revert check: 12 more runs of 1a2b3c4d5e6f with 5e6f7a8b9c0d reverted; 0 of 12 failed so "
      "far";
  EXPECT_THAT(
      render_frame(s, {120, true}),
      HasSubstr("\nnow:        revert check: 12 more runs of 1a2b3c4d5e6f with 5e6f7a8b9c0d "
                "reverted; 0 of 12 failed so far\n"));
  EXPECT_THAT(render_frame(s, {120, true}),
              HasSubstr("\neta:        unknown (the revert check ends when its runs decide"));
  // A fix bisection's backport check names its own cap, and so does the verify check.
  s.checking = "backport check: 12 more runs of 1a2b3c4d5e6f with 5e6f7a8b9c0d cherry-picked";
  EXPECT_THAT(render_frame(s, {120, true}),
              HasSubstr("\neta:        unknown (the backport check ends when its runs decide, at "
                        "most decision.backport_check_max_runs)"));
  s.checking = "verify check: testing 1a2b3c4d5e6f";
  EXPECT_THAT(render_frame(s, {120, true}), HasSubstr("decision.verify_check_max_runs)"));
  s.checking =
      "revert check: 12 more runs of 1a2b3c4d5e6f with 5e6f7a8b9c0d reverted; 0 of 12 failed so "
      "far";
  s.step.reset();  // the search reused every run: no plan of its own
  EXPECT_THAT(render_frame(s, {120, true}), HasSubstr("\nnow:        revert check: 12 more runs"));
  s.step = running_snapshot().step;
  s.state = BisectionState::kFound;  // once finished, the last search step as before
  s.owner_pid.reset();
  EXPECT_THAT(render_frame(s, {120, true}), HasSubstr("\nlast:       step 7: tested"));
}

TEST(RenderFrame, AFinishedBisectionShowsItsResultAndTimeTakenInsteadOfAnEta) {
  LiveSnapshot s = running_snapshot();
  s.state = BisectionState::kFound;
  s.owner_pid.reset();
  s.step->done_runs = 8;
  s.result = "found 5e6f7a8b9c0d ext4: fix the dio race (p = 0.9951)";
  s.elapsed_ms = int64_t{95} * 60 * 1000;
  const std::string frame = render_frame(s, {100, true});
  EXPECT_THAT(frame, HasSubstr("\nlast:       step 7: tested 5e6f7a8b9c0d x8, 8 of 8 runs done: "));
  EXPECT_THAT(frame, HasSubstr("\ntook:       1.6 h\n"));
  EXPECT_THAT(frame, HasSubstr("\nresult:     found 5e6f7a8b9c0d ext4: fix the dio race"));
  EXPECT_THAT(frame, Not(HasSubstr("eta:")));
}

TEST(RenderFrame, NoLineIsWiderThanTheTerminal) {
  LiveSnapshot s = running_snapshot();
  s.top[0].subject = "ext4: " + std::string(300, 'x') + " ✓ ünïcödé";
  s.note = std::string(500, 'n');
  s.confidence_history.assign(400, 0.5);
  for (size_t width : {20U, 40U, 79U}) {
    const std::string frame = render_frame(s, {width, true});
    for (const std::string& line : lines_of(frame)) {
      EXPECT_LE(characters(line), width) << line;
    }
    EXPECT_THAT(frame, HasSubstr("..."));
  }
}

TEST(RenderFrame, CommitTextCannotDriveTheTerminal) {
  LiveSnapshot s = running_snapshot();
  s.top[0].subject = "fix \x1b[2J\x1b[Hboom\r";
  s.step->subject = s.top[0].subject;
  const std::string frame = render_frame(s, {200, true});
  EXPECT_THAT(frame, Not(HasSubstr("\x1b")));
  EXPECT_THAT(frame, Not(HasSubstr("\r")));
  EXPECT_THAT(frame, HasSubstr("fix ?[2J?[Hboom?"));
}

TEST(RenderFrame, AQueuedBisectionSaysItWaitsForADaemon) {
  LiveSnapshot s;
  s.id = 2;
  s.repo = "/r/";
  s.bad_sha = "abc";
  const std::string frame = render_frame(s, {80, false});
  EXPECT_THAT(frame, StartsWith("bisection 2: queued, repo r, bad abc\n"));
  EXPECT_THAT(frame, HasSubstr("now:        queued, waiting for a daemon\n"));
  EXPECT_THAT(frame, HasSubstr("candidates: not listed yet\n"));
  EXPECT_THAT(frame, HasSubstr("confidence: none yet (stop at 0.995)\n"));
  s.stop_at = 1 - (1 - 0.93) * 0.5;  // 0.9650000000000001 in a double
  EXPECT_THAT(render_frame(s, {80, false}), HasSubstr("confidence: none yet (stop at 0.965)\n"));
  EXPECT_THAT(frame, HasSubstr("eta:        unknown (fewer than 2 steps so far)\n"));
}

TEST(Sparkline, UsesBlockCharactersInUtf8AndAsciiOtherwise) {
  const std::vector<double> values = {0, 0.13, 0.26, 0.38, 0.5, 0.63, 0.76, 0.88, 1.0};
  EXPECT_EQ(sparkline(values, 20, true), "▁▂▃▄▅▆▇██");
  EXPECT_EQ(sparkline(values, 20, false), "_.-:=+*##");
}

TEST(Sparkline, KeepsTheMostRecentValuesAndMarksTheCut) {
  const std::vector<double> values = {0, 0, 0, 0.5, 1.0};
  EXPECT_EQ(sparkline(values, 3, true), "…▅█");
  EXPECT_EQ(sparkline(values, 3, false), "<=#");
  EXPECT_EQ(sparkline(values, 0, false), "");
}

TEST(Utf8Locale, FollowsThePosixOrderOfTheVariables) {
  EXPECT_TRUE(utf8_locale(nullptr, nullptr, "en_US.UTF-8"));
  EXPECT_TRUE(utf8_locale("", "C.utf8", "C"));
  EXPECT_FALSE(utf8_locale("C", "en_US.UTF-8", "en_US.UTF-8"));
  EXPECT_FALSE(utf8_locale(nullptr, nullptr, nullptr));
  EXPECT_FALSE(utf8_locale(nullptr, nullptr, "POSIX"));
}

TEST(EstimateRemaining, IsUnknownBeforeTwoStepsOrAnyTimedRun) {
  LiveSnapshot s = running_snapshot();
  s.steps = 1;
  EXPECT_FALSE(estimate_remaining(s).has_value());
  EXPECT_THAT(render_frame(s, {100, true}),
              HasSubstr("eta:        unknown (fewer than 2 steps so far)\n"));
  s = running_snapshot();
  s.timed_runs = 0;
  s.run_ms = 0;
  EXPECT_FALSE(estimate_remaining(s).has_value());
}

TEST(EstimateRemaining, IsTheMeanStepCostTimesLog2OfTheCredibleSet) {
  LiveSnapshot s = running_snapshot();
  s.runs = 20;
  s.steps = 4;
  s.run_ms = 20 * int64_t{1000};  // 5 runs of 1 s per step
  s.timed_runs = 20;
  s.build_ms = 4 * int64_t{60000};  // one build of 1 min per step
  s.timed_builds = 4;
  s.credible_set_size = 16;
  const auto estimate = estimate_remaining(s);
  ASSERT_TRUE(estimate.has_value());
  EXPECT_DOUBLE_EQ(estimate->steps_left, 4);
  EXPECT_DOUBLE_EQ(estimate->step_ms, 65000);
  EXPECT_EQ(estimate->remaining_ms, 260000);
  EXPECT_FALSE(estimate->capped_by_budget);

  s.credible_set_size = 1;  // sure of the commit, not yet of the confidence: one more step
  EXPECT_DOUBLE_EQ(estimate_remaining(s)->steps_left, 1);

  s.credible_set_size = 16;
  s.max_runs = 30;  // 10 runs left: two steps of 5
  const auto capped = estimate_remaining(s);
  EXPECT_TRUE(capped->capped_by_budget);
  EXPECT_DOUBLE_EQ(capped->steps_left, 2);
  EXPECT_THAT(render_frame(s, {200, true}),
              HasSubstr("eta:        ~2.2 min (rough: the run budget ends it after ~2 steps"));
}

TEST(EstimateRemaining, FollowsTheEntropyLostPerStepWhenItIsKnown) {
  LiveSnapshot s = running_snapshot();
  s.runs = 20;
  s.steps = 4;
  s.run_ms = 20 * int64_t{1000};
  s.timed_runs = 20;
  s.build_ms = 0;
  s.timed_builds = 0;
  s.candidates = 1024;
  s.target = 0.99;
  s.credible_set_size = 16;
  // 10 bits under the prior, 8 now: 0.5 bits per step, as a flaky bisection gains. At the stop
  // the entropy is h(0.99) + 0.01 log2(1023) = 0.0808 + 0.0999 = 0.18 bits: (8 - 0.18) / 0.5.
  s.prior_entropy_bits = 10;
  s.entropy_bits = 8;
  const auto slow = estimate_remaining(s);
  ASSERT_TRUE(slow.has_value());
  EXPECT_TRUE(slow->from_entropy);
  EXPECT_DOUBLE_EQ(slow->steps_left, 16);
  EXPECT_THAT(render_frame(s, {200, true}),
              HasSubstr("steps left from the information gained per step so far"));
  // A deterministic bug loses about a bit per step: half as many steps left for the same entropy.
  s.entropy_bits = 6;
  EXPECT_DOUBLE_EQ(estimate_remaining(s)->steps_left, 6);
}

TEST(HumanDuration, PicksAUnitThatReadsWell) {
  EXPECT_EQ(human_duration(450), "450 ms");
  EXPECT_EQ(human_duration(2100), "2.1 s");
  EXPECT_EQ(human_duration(42000), "42 s");
  EXPECT_EQ(human_duration(252000), "4.2 min");
  EXPECT_EQ(human_duration(3 * int64_t{3600000}), "3.0 h");
  EXPECT_EQ(human_duration(60 * 3600000LL), "2.5 days");
}

TEST(RedrawInPlace, StartsHomeErasesEachLineAndWhatIsBelow) {
  EXPECT_EQ(redraw_in_place("a\nbb\n"), "\033[Ha\033[K\nbb\033[K\n\033[J");
  EXPECT_EQ(redraw_in_place("a\nbb\nccc\n", 2), "\033[Ha\033[K\nbb\033[K\n\033[J");
}

// ---- a real bisection in a real store
// ------------------------------------------------------------

class LiveViewOfARealBisection : public ::testing::Test {
 protected:
  void SetUp() override {
    history_ = testing::make_history(dir_ / "repo", testing::sized(60, 5));
    db_ = dir_ / "state" / "flakebisect.db";
    store::OpenMode mode;
    mode.create_if_missing = true;
    auto opened = store::Store::open(db_.native(), mode);
    ASSERT_TRUE(opened.has_value()) << opened.error().message();
    store_.emplace(std::move(opened).value());
  }

  // Runs a bisection of the history to its end: a 30% bug, builds of 2 s and runs of 5 ms.
  // Runs bisection `id` with the fakes until it ends or pauses.
  void run_to_end(int64_t id) {
    engine::BisectorOptions options;
    options.worktree_root = (dir_ / "worktrees").native();
    engine::Bisector bisector(*store_, clock_, testing::fake_executors(builder_, runner_), options);
    auto state = bisector.run(id);
    EXPECT_TRUE(state.has_value()) << state.error().message();
  }

  int64_t bisect(const config::Config& config = testing::test_config()) {
    const int64_t id = testing::create_running(*store_, history_, config);
    runner_.fn = testing::FakeRunner::flaky(testing::bad_commits(history_), 30);
    builder_.fn = [](const build::CommitCheckout&) -> base::Result<build::BuildOutcome> {
      build::BuildOutcome outcome;
      outcome.duration = std::chrono::seconds(2);
      return outcome;
    };
    run_to_end(id);
    return id;
  }

  // A fix bisection (range.find_fix) from the root, broken, to the tip, fixed, where the commits
  // in `broken` fail `percent` of their runs; run to its end. Returns its id.
  int64_t bisect_fix(const std::set<std::string>& broken, int percent) {
    config::Config config = testing::test_config();
    config.range.find_fix = true;
    engine::BisectRequest request{history_.repo.native(), {history_.tip}, history_.root, config};
    auto spec = engine::prepare_bisection(request);
    EXPECT_TRUE(spec.has_value()) << spec.error().message();
    if (!spec) return 0;
    const int64_t id = store_->create_bisection(*spec, 1000, ::getpid()).value_or(0);
    runner_.fn = testing::FakeRunner::flaky(broken, percent);
    run_to_end(id);
    return id;
  }

  testing::TempDir dir_;
  testing::History history_;
  std::filesystem::path db_;
  std::optional<store::Store> store_;
  base::FakeClock clock_;
  testing::FakeBuilder builder_;
  testing::FakeRunner runner_;
};

TEST_F(LiveViewOfARealBisection, NamesTheCulpritAsTheTopCandidateWithTheEnginesConfidence) {
  const int64_t id = bisect();
  auto snapshot = gather_snapshot(*store_, id);
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().message();
  EXPECT_EQ(snapshot->state, BisectionState::kFound);
  EXPECT_TRUE(snapshot->posterior_rebuilt);
  ASSERT_FALSE(snapshot->top.empty());
  EXPECT_EQ(snapshot->top.front().sha, history_.planted_sha());
  EXPECT_EQ(snapshot->top.front().subject, "fs: planted regression");
  // The rebuilt posterior is the one the engine stopped on.
  const auto result = testing::result_of(*store_, id);
  EXPECT_DOUBLE_EQ(snapshot->top.front().probability, result["confidence"].get<double>());
  EXPECT_EQ(snapshot->credible_set_size, result["credible_set_size"].get<size_t>());
  EXPECT_EQ(snapshot->runs, result["runs"].get<uint64_t>());
  EXPECT_EQ(snapshot->builds, result["builds"].get<uint64_t>());
  EXPECT_EQ(snapshot->candidates, result["candidates"].get<size_t>());
  EXPECT_EQ(snapshot->timed_builds, snapshot->builds);
  EXPECT_EQ(snapshot->build_ms, static_cast<int64_t>(snapshot->builds) * 2000);
  EXPECT_GE(snapshot->steps, 2U);
  EXPECT_EQ(snapshot->confidence_history.size(), snapshot->steps + 1);
  ASSERT_TRUE(snapshot->step.has_value());
  // The last batch ends when the stop rule is met, possibly before all its planned runs.
  EXPECT_GE(snapshot->step->done_runs, 1U);
  EXPECT_LE(snapshot->step->done_runs, snapshot->step->planned_runs);

  const std::string frame = render_frame(*snapshot, {100, true});
  const std::vector<std::string> lines = lines_of(frame);
  ASSERT_GE(lines.size(), 5U);
  EXPECT_THAT(lines[0],
              StartsWith("bisection 1: found, repo repo, bad " + history_.tip.substr(0, 12)));
  EXPECT_EQ(lines[4],
            fmt::format("  {:.4f}  {}  fs: planted regression", result["confidence"].get<double>(),
                        history_.planted_sha().substr(0, 12)));
  EXPECT_THAT(frame, HasSubstr("result:     found " + history_.planted_sha().substr(0, 12)));
}

TEST_F(LiveViewOfARealBisection, AFirstParentBisectionShowsTheMergeOfItsStoredCandidates) {
  config::Config config = testing::test_config();
  config.range.first_parent = true;
  const int64_t id = bisect(config);
  auto snapshot = gather_snapshot(*store_, id);
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().message();
  EXPECT_EQ(snapshot->state, BisectionState::kFound);
  EXPECT_TRUE(snapshot->first_parent);
  // The chain without the root (the good commit); the top candidate is the merge, as the engine
  // found it, with the engine's probability.
  EXPECT_EQ(snapshot->candidates, testing::first_parent_chain(history_).size() - 1);
  const auto result = testing::result_of(*store_, id);
  const std::string merge = history_.shas[testing::first_parent_culprit(history_)];
  EXPECT_EQ(result["culprit"]["sha"], merge);
  ASSERT_FALSE(snapshot->top.empty());
  EXPECT_EQ(snapshot->top.front().sha, merge);
  EXPECT_DOUBLE_EQ(snapshot->top.front().probability, result["confidence"].get<double>());
  EXPECT_THAT(render_frame(*snapshot, {100, true}),
              HasSubstr(fmt::format("\ncandidates: {} first-parent; ", snapshot->candidates)));

  // A bisection without it says nothing of the kind.
  auto full = gather_snapshot(*store_, bisect());
  ASSERT_TRUE(full.has_value());
  EXPECT_FALSE(full->first_parent);
  EXPECT_THAT(render_frame(*full, {100, true}), Not(HasSubstr("first-parent")));
}

TEST_F(LiveViewOfARealBisection, AFixBisectionListsFixesAndSaysFoundTheFix) {
  // The chain's commits before the planted one's merge fail: it is the fix.
  const std::vector<size_t> chain = testing::first_parent_chain(history_);
  const size_t fix = testing::first_parent_culprit(history_);
  std::set<std::string> broken;
  for (size_t i : chain) {
    if (i == fix) break;
    broken.insert(history_.shas[i]);
  }
  const int64_t id = bisect_fix(broken, 30);
  ASSERT_EQ(testing::result_of(*store_, id)["status"], "found");

  auto snapshot = gather_snapshot(*store_, id);
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().message();
  EXPECT_TRUE(snapshot->find_fix);
  const auto result = testing::result_of(*store_, id);
  ASSERT_EQ(result["culprit"]["sha"], history_.shas[fix]);
  // The top candidate is the fix, with the engine's probability.
  ASSERT_FALSE(snapshot->top.empty());
  EXPECT_EQ(snapshot->top.front().sha, history_.shas[fix]);
  EXPECT_DOUBLE_EQ(snapshot->top.front().probability, result["confidence"].get<double>());
  const std::string frame = render_frame(*snapshot, {100, true});
  EXPECT_THAT(frame,
              StartsWith("bisection 1: found, repo repo, broken " + history_.root.substr(0, 12) +
                         ", fixed " + history_.tip.substr(0, 12) + "\n"));
  EXPECT_THAT(frame, HasSubstr("result:     found the fix " + history_.shas[fix].substr(0, 12)));
}

// When every commit of the chain fails, the last broken is the newest candidate and the fix it
// implies is the fixed end: no candidate, so the listing takes its subject from the repository.
TEST_F(LiveViewOfARealBisection, AFixAtTheFixedEndIsListedWithItsSubjectFromTheRepository) {
  const int64_t id = bisect_fix({history_.shas.begin(), history_.shas.end()}, 100);

  auto snapshot = gather_snapshot(*store_, id);
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().message();
  ASSERT_FALSE(snapshot->top.empty());
  const std::string subject =
      testing::git(history_.repo, {"log", "-1", "--format=%s", history_.tip});
  EXPECT_EQ(snapshot->top.front().sha, history_.tip);
  EXPECT_EQ(snapshot->top.front().subject + "\n", subject);
  EXPECT_THAT(render_frame(*snapshot, {100, true}), HasSubstr(subject.substr(0, 20)));

  // Without the repository it says what the commit is instead.
  std::filesystem::remove_all(history_.repo);
  auto unreadable = gather_snapshot(*store_, id);
  ASSERT_TRUE(unreadable.has_value()) << unreadable.error().message();
  ASSERT_FALSE(unreadable->top.empty());
  EXPECT_EQ(unreadable->top.front().subject, "(the fixed end)");
}

// The snapshot takes the revert check's line from its last "check" event, and drops it once a plan
// event says the search goes on (another bisection's runs changed the verdict on a resume).
TEST_F(LiveViewOfARealBisection, TheRevertChecksLastEventIsWhatItIsDoingUntilTheSearchPlansAgain) {
  config::Config config = testing::test_config();
  config.decision.revert_check = true;
  const int64_t id = bisect(config);
  auto snapshot = gather_snapshot(*store_, id);
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().message();
  EXPECT_EQ(testing::result_of(*store_, id)["checks"]["revert"]["status"], "pass");
  EXPECT_THAT(snapshot->checking, StartsWith("revert check: 0 of "));
  store::Event plan;
  plan.bisection_id = id;
  plan.at_ms = 99999;
  plan.kind = std::string(engine::kEventPlan);
  plan.message = "test 0123456789ab x4";
  plan.data_json = "{}";
  ASSERT_TRUE(store_->append_event(plan).has_value());
  snapshot = gather_snapshot(*store_, id);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->checking, "");
}

TEST_F(LiveViewOfARealBisection, AnUnknownBisectionIsAStoreError) {
  EXPECT_FALSE(gather_snapshot(*store_, 42).has_value());
}

// ---- the real binary on a pseudo-terminal
// --------------------------------------------------------

struct PtyRun {
  int exit_code = -1;
  bool timed_out = false;
  std::string out;  // with the terminal's "\r\n" turned into "\n"
};

// Runs `flakebisect args...` with its stdin, stdout and stderr on a new pseudo-terminal of
// 100 x 40, TERM=`term` and LANG=C.UTF-8. `on_output` sees the output so far after every read.
// Killed after 30 s.
PtyRun run_on_terminal(const std::vector<std::string>& args,
                       const std::function<void(const std::string&)>& on_output = {},
                       const std::string& term = "xterm") {
  PtyRun result;
  const std::string binary = FLAKEBISECT_BINARY_DIR "/bin/flakebisect";
  if (::access(binary.c_str(), X_OK) != 0) {
    ADD_FAILURE() << binary << " is missing: build the flakebisect target first";
    return result;
  }
  // Everything the child needs is built before fork: it only calls execve.
  std::vector<std::string> argv_text = {binary};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_text.size() + 1);
  for (std::string& arg : argv_text) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_text = {"TERM=" + term, "LANG=C.UTF-8", "PATH=/usr/bin:/bin"};
  std::vector<char*> envp;
  envp.reserve(env_text.size() + 1);
  for (std::string& entry : env_text) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);

  winsize size{};
  size.ws_row = 40;
  size.ws_col = 100;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) {
    ADD_FAILURE() << "forkpty: " << std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    ::execve(binary.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string raw;
  while (true) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd fd{master, POLLIN, 0};
    const int ready = ::poll(&fd, 1, 100);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (ready <= 0) {
      continue;
    }
    char buffer[4096];
    const ssize_t got = ::read(master, buffer, sizeof buffer);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) {
        continue;
      }
      break;  // EIO: the child closed its side (exited)
    }
    raw.append(buffer, static_cast<size_t>(got));
    if (on_output) {
      on_output(raw);
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  for (char c : raw) {
    if (c != '\r') {
      result.out += c;
    }
  }
  return result;
}

TEST_F(LiveViewOfARealBisection, StatusOnATerminalPrintsTheFrame) {
  bisect();
  const PtyRun run = run_on_terminal({"--db", db_.native(), "status", "1"});
  ASSERT_FALSE(run.timed_out) << run.out;
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, StartsWith("bisection 1: found, repo repo"));
  EXPECT_THAT(run.out,
              HasSubstr(history_.planted_sha().substr(0, 12) + "  fs: planted regression"));
  EXPECT_THAT(run.out, HasSubstr("confidence: "));
  // The engine's threshold for the default decision.confidence 0.99, not 0.99 itself.
  EXPECT_THAT(run.out, HasSubstr(" (stop at 0.995)\n"));
  EXPECT_THAT(run.out, HasSubstr("█"));           // LANG=C.UTF-8
  EXPECT_THAT(run.out, Not(HasSubstr("\033[")));  // one frame, nothing to redraw

  const PtyRun plain = run_on_terminal({"--db", db_.native(), "status", "1", "--plain"});
  EXPECT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_THAT(plain.out, StartsWith("bisection 1: found\n  repo:    "));
}

TEST_F(LiveViewOfARealBisection, WatchOnATerminalRedrawsTheFrameAndEndsWithTheResult) {
  bisect();
  const PtyRun run = run_on_terminal({"--db", db_.native(), "watch", "1", "--interval", "0.05"});
  ASSERT_FALSE(run.timed_out) << run.out;
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, StartsWith("\033[Hbisection 1: found, repo repo"));
  EXPECT_THAT(run.out, HasSubstr("\033[K\n"));
  EXPECT_THAT(run.out, HasSubstr("\033[Jbisection 1: found\nfound: " + history_.planted_sha()));

  // --plain keeps the event lines.
  const PtyRun plain = run_on_terminal({"--db", db_.native(), "watch", "1", "--plain"});
  EXPECT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_THAT(plain.out, Not(HasSubstr("\033[")));
  EXPECT_THAT(plain.out, HasSubstr(" plan "));
  EXPECT_THAT(plain.out, HasSubstr("bisection 1: found\n"));

  // So does a terminal that cannot move its cursor.
  const PtyRun dumb = run_on_terminal({"--db", db_.native(), "watch", "1"}, {}, "dumb");
  EXPECT_EQ(dumb.exit_code, 0) << dumb.out;
  EXPECT_THAT(dumb.out, Not(HasSubstr("\033[")));
  EXPECT_THAT(dumb.out, HasSubstr(" plan "));
}

TEST_F(LiveViewOfARealBisection, WatchOnATerminalKeepsRedrawingUntilTheBisectionEnds) {
  engine::BisectRequest request{
      history_.repo.native(), {history_.root}, history_.tip, testing::test_config()};
  auto spec = engine::prepare_bisection(request);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  const int64_t id = store_->create_bisection(*spec, 1000).value();  // queued: nobody runs it
  bool cancelled = false;
  const PtyRun run = run_on_terminal(
      {"--db", db_.native(), "watch", std::to_string(id), "--interval", "0.05"},
      [&](const std::string& out) {
        // Two frames drawn: end it the way `flakebisect cancel` would.
        size_t frames = 0;
        for (size_t at = out.find("\033[H"); at != std::string::npos;
             at = out.find("\033[H", at + 1)) {
          ++frames;
        }
        if (!cancelled && frames >= 2) {
          cancelled = true;
          EXPECT_TRUE(store_->set_state(id, BisectionState::kCancelled, 2000, "cancelled by test")
                          .has_value());
        }
      });
  ASSERT_FALSE(run.timed_out) << run.out;
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("now:        queued, waiting for a daemon"));
  EXPECT_THAT(run.out, HasSubstr("note:       cancelled by test"));
  EXPECT_THAT(run.out, HasSubstr(fmt::format("bisection {}: cancelled\n", id)));
}

TEST_F(LiveViewOfARealBisection, WatchOnATerminalEndsWhenTheBisectionsProcessIsGone) {
  // Left running by a `run` that was killed with SIGKILL.
  const int64_t pid = test_support::dead_pid();
  engine::BisectRequest request{
      history_.repo.native(), {history_.root}, history_.tip, testing::test_config()};
  auto spec = engine::prepare_bisection(request);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  const int64_t id = store_->create_bisection(*spec, 1000, pid).value();
  const PtyRun run =
      run_on_terminal({"--db", db_.native(), "watch", std::to_string(id), "--interval", "0.05"});
  ASSERT_FALSE(run.timed_out) << run.out;
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_THAT(run.out, HasSubstr(fmt::format("running (pid {}, not alive: resume it)", pid)));
  EXPECT_THAT(run.out, HasSubstr(fmt::format("flakebisect resume {}", id)));
}

TEST_F(LiveViewOfARealBisection, RunRedrawsItsProgressLineOnlyOnATerminalThatCanDoIt) {
  // Three runs of a test that always fails: enough for progress lines, over in a moment.
  const auto run_with = [&](const std::string& term, const std::string& db) {
    return run_on_terminal(
        {"--db", (dir_ / db).native(), "run", "--repo", history_.repo.native(), "--good",
         history_.root, "--bad", history_.tip, "--max-runs", "3", "--", "false"},
        {}, term);
  };
  const PtyRun xterm = run_with("xterm", "xterm.db");
  ASSERT_FALSE(xterm.timed_out) << xterm.out;
  EXPECT_EQ(xterm.exit_code, 0) << xterm.out;
  EXPECT_THAT(xterm.out, HasSubstr("\033[K"));

  // An Emacs shell: a terminal that cannot go back along a line.
  const PtyRun dumb = run_with("dumb", "dumb.db");
  ASSERT_FALSE(dumb.timed_out) << dumb.out;
  EXPECT_EQ(dumb.exit_code, 0) << dumb.out;
  EXPECT_THAT(dumb.out, Not(HasSubstr("\033[")));
  EXPECT_THAT(dumb.out, HasSubstr("flakebisect: bisection 1: "));
}

}  // namespace
}  // namespace flakebisect::cli
