#include "engine/bisector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <regex>
#include <thread>
#include <tuple>

#include "base/clock.h"
#include "base/fake_process_runner.h"
#include "base/paths.h"
#include "config/config.h"
#include "config/sha256.h"
#include "engine/evidence.h"
#include "engine/fakes.h"
#include "engine/identity.h"
#include "run/qemu_runner.h"

namespace flakebisect::engine {
namespace {

using ::testing::Contains;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using namespace flakebisect::testing;
using store::BisectionState;

// Who ran what: the rows a bisection recorded, as comparable tuples.
using Row = std::tuple<std::string, int64_t, std::string>;  // sha, run_index, outcome
std::vector<Row> rows_of(store::Store& store, int64_t id) {
  std::vector<Row> rows;
  auto runs = store.runs_for_bisection(id);
  EXPECT_TRUE(runs.has_value());
  for (const auto& run : runs.value_or(std::vector<store::RunRecord>{})) {
    rows.emplace_back(run.sha, run.run_index, std::string(store::to_string(run.outcome)));
  }
  return rows;
}

// The costs of the plan events and the batch events, in order.
std::vector<nlohmann::json> events_of(store::Store& store, int64_t id, std::string_view kind) {
  std::vector<nlohmann::json> out;
  for (const store::Event& event : store.events(id).value_or(std::vector<store::Event>{})) {
    if (event.kind == kind && event.data_json) {
      out.push_back(nlohmann::json::parse(*event.data_json));
    }
  }
  return out;
}

class BisectorTest : public ::testing::Test {
 protected:
  // Another bisection of the same test on the store records runs 0, 1 and 2 at `sha`, as one
  // running beside this one (a second daemon worker, a foreground run) would.
  void store_runs_of_another_bisection(const config::Config& config, const std::string& identity,
                                       const std::string& sha, store::RunOutcome outcome) {
    const int64_t other = create_running(store_, history_, config);
    for (int64_t index = 0; index < 3; ++index) {
      store::RunRecord run;
      run.test_identity = identity;
      run.sha = sha;
      run.bisection_id = other;
      run.run_index = index;
      run.outcome = outcome;
      EXPECT_TRUE(store_.record_run(run).has_value());
    }
  }

  BisectorTest() : store_(memory_store()) {}

  void make(HistoryOptions options = {}) {
    history_ = make_history(dir_ / "repo", options);
    bad_ = bad_commits(history_);
    runner_.fn = FakeRunner::flaky(bad_, 30);
  }

  BisectorOptions options() {
    BisectorOptions options;
    options.worktree_root = (dir_ / "worktrees").native();
    options.stop = &stop_;
    return options;
  }

  base::Result<BisectionState> run(int64_t id, store::Store* store = nullptr) {
    Bisector bisector(store ? *store : store_, clock_, fake_executors(builder_, runner_),
                      options());
    return bisector.run(id);
  }

  // The first two commits tested after the bad one give `outcome` at every run (a hang, a boot
  // that panics): each becomes a skip after kMinUnjudged runs, and the bisection still finds the
  // planted commit.
  void expect_two_commits_giving_this_become_skips(const run::RunResult& outcome) {
    make(sized(60, 3));
    std::set<std::string> stuck;
    const FakeRunner::Fn flaky = FakeRunner::flaky(bad_, 50);
    runner_.fn = [&](const build::CommitCheckout& checkout,
                     uint32_t index) -> base::Result<run::RunResult> {
      if (stuck.size() < 2 && checkout.sha != history_.tip &&
          checkout.sha != history_.planted_sha()) {
        stuck.insert(checkout.sha);
      }
      return stuck.count(checkout.sha) > 0 ? base::Result<run::RunResult>(outcome)
                                           : flaky(checkout, index);
    };
    const int64_t id = create_running(store_, history_, test_config());
    ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
    EXPECT_EQ(result_of(store_, id)["culprit"]["sha"], history_.planted_sha());
    ASSERT_EQ(stuck.size(), 2U);
    for (const std::string& sha : stuck) {
      EXPECT_EQ(std::count_if(runner_.calls.begin(), runner_.calls.end(),
                              [&](const RunCall& call) { return call.sha == sha; }),
                static_cast<long>(engine::kMinUnjudged))
          << sha;
    }
  }

  // The third run commits a user's cancel of bisection `id` before it runs (as `flakebisect
  // cancel` from another terminal would) and, with `then_stop`, then asks this process to stop.
  void cancel_at_third_run(int64_t id, bool then_stop) {
    runner_.fn = [this, id, then_stop, inner = FakeRunner::flaky(bad_, 30)](
                     const build::CommitCheckout& checkout, uint32_t index) {
      if (runner_.calls.size() == 3) {
        EXPECT_TRUE(
            store_.set_state(id, BisectionState::kCancelled, 2000, "cancelled").has_value());
        stop_ = then_stop || stop_;
      }
      return inner(checkout, index);
    };
  }

  // Runs bisection `id` with `inner` until the third run at `commit` is under way, which the stop
  // abandons: the bisection is paused with two runs there. Clears stop_ afterwards.
  void pause_at_third_run_of(int64_t id, const std::string& commit, FakeRunner::Fn inner) {
    int calls = 0;
    runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
      if (checkout.sha == commit && ++calls == 3) stop_ = true;  // mid-run
      return inner(checkout, index);
    };
    ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kPaused);
    stop_ = false;
    runner_.fn = inner;
  }

  TempDir dir_;
  History history_;
  std::set<std::string> bad_;
  store::Store store_;
  base::FakeClock clock_;
  FakeBuilder builder_;
  FakeRunner runner_;
  std::atomic<bool> stop_{false};
};

TEST_F(BisectorTest, FindsThePlantedCommitOfAFlakyBugInAMergeHeavyHistory) {
  make(sized(150));
  const int64_t id = create_running(store_, history_, test_config());
  auto state = run(id);
  ASSERT_TRUE(state.has_value()) << state.error().message();
  EXPECT_EQ(*state, BisectionState::kFound);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["status"], "found");
  EXPECT_EQ(result["culprit"]["sha"], history_.planted_sha());
  EXPECT_EQ(result["culprit"]["subject"], "fs: planted regression");
  EXPECT_GE(result["confidence"].get<double>(), 0.99);
  EXPECT_EQ(result["runs"].get<size_t>(), runner_.calls.size());
  EXPECT_EQ(rows_of(store_, id).size(), runner_.calls.size());
  // The bug reproduces on bad first (design.md: reproduce before trusting the range).
  ASSERT_FALSE(runner_.calls.empty());
  EXPECT_EQ(runner_.calls.front().sha, history_.tip);
  // The worktree is private, and removed once the bisection is over.
  EXPECT_THAT(runner_.calls.front().worktree, HasSubstr("worktrees/bisection-"));
  EXPECT_FALSE(std::filesystem::exists(runner_.calls.front().worktree));
}

TEST_F(BisectorTest, ADeterministicBugNamesTheFirstBadCommit) {
  make(sized(60, 7));
  runner_.fn = FakeRunner::flaky(bad_, 100);
  const int64_t id = create_running(store_, history_, test_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(result_of(store_, id)["culprit"]["sha"], history_.planted_sha());
}

TEST_F(BisectorTest, RunIndexCountsTheRunsRecordedAtEachCommit) {
  make(sized(40));
  const int64_t id = create_running(store_, history_, test_config());
  ASSERT_TRUE(run(id).has_value());
  std::map<std::string, uint32_t> next;
  for (const RunCall& call : runner_.calls) {
    EXPECT_EQ(call.index, next[call.sha]++) << call.sha;
  }
}

TEST_F(BisectorTest, EachRunIsCommittedBeforeTheNextOneStarts) {
  make(sized(40));
  const std::string path = (dir_ / "store.db").native();
  store::OpenMode create;
  create.create_if_missing = true;
  auto writer = store::Store::open(path, create);
  ASSERT_TRUE(writer.has_value());
  auto reader = store::Store::open(path);
  ASSERT_TRUE(reader.has_value());
  const int64_t id = create_running(*writer, history_, test_config());
  auto inner = FakeRunner::flaky(bad_, 30);
  size_t checked = 0;
  runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
    // Another connection sees every earlier run: each was committed on its own.
    auto committed = reader->runs_for_bisection(id);
    EXPECT_TRUE(committed.has_value());
    EXPECT_EQ(committed->size(), runner_.calls.size() - 1);
    ++checked;
    return inner(checkout, index);
  };
  ASSERT_EQ(run(id, &*writer).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_GT(checked, 10U);
}

TEST_F(BisectorTest, ABuildFailureIsASkipNotAnError) {
  make(sized(60, 3));
  // The second and third commits the engine builds do not compile (unless one is the culprit).
  std::set<std::string> broken;
  builder_.fn = [&](const build::CommitCheckout& checkout) -> base::Result<build::BuildOutcome> {
    if (builder_.built.size() >= 2 && builder_.built.size() <= 3 &&
        checkout.sha != history_.planted_sha()) {
      broken.insert(checkout.sha);
    }
    build::BuildOutcome outcome;
    outcome.ok = broken.count(checkout.sha) == 0;
    outcome.detail = outcome.ok ? "" : "exit 2";
    outcome.log_tail = outcome.ok ? "ok\n" : "error: it does not compile\n";
    return outcome;
  };
  config::Config config = test_config();
  config.build.command = {"./build.sh", "-j8"};
  const int64_t id = create_running(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(result_of(store_, id)["culprit"]["sha"], history_.planted_sha());
  ASSERT_EQ(broken.size(), 2U);
  for (const RunCall& call : runner_.calls) {
    EXPECT_EQ(broken.count(call.sha), 0U) << "ran on a commit that did not build";
  }
  // Failed builds are stored with their log under the bisection's build key, and never retried.
  for (const std::string& sha : broken) {
    const std::string tree = trim(git(history_.repo, {"rev-parse", sha + "^{tree}"}));
    auto build = store_.find_build(tree, build_key(config));
    ASSERT_TRUE(build.has_value() && build->has_value());
    EXPECT_EQ((*build)->status, store::BuildStatus::kFailed);
    EXPECT_EQ((*build)->log_tail, "error: it does not compile\n");
    EXPECT_EQ(std::count(builder_.built.begin(), builder_.built.end(), sha), 1);
  }
}

// A commit whose kernel never reaches the test hangs at every run; hang is not a failure by
// default, so each run teaches nothing. The commit becomes a skip after five (evidence.h), and the
// bisection goes on; it used to run that commit until the run budget.
TEST_F(BisectorTest, ACommitThatAlwaysHangsBecomesASkip) {
  run::RunResult hang;
  hang.outcome = store::RunOutcome::kHang;
  hang.detail = "no output for 3m";
  expect_two_commits_giving_this_become_skips(hang);
}

// A kernel built from the commit that panics while booting: the runner records infra with the
// kernel's titles (run/qemu_runner.cc). That is the commit's, so it becomes a skip as a hang
// would; before, five such runs in a row paused the bisection as the host's fault, and every resume
// chose the same commit and paused again.
TEST_F(BisectorTest, ACommitWhoseKernelDoesNotBootBecomesASkipNotAPause) {
  run::RunResult panicked;
  panicked.outcome = store::RunOutcome::kInfra;
  panicked.crash_titles = {"Kernel panic - not syncing: Attempted to kill init!"};
  panicked.detail = "QEMU ended (exit 0) before the guest was ready";
  expect_two_commits_giving_this_become_skips(panicked);
}

// At the bad commit, tested first, a kernel that panics at every boot may be the host's doing (a
// broken initramfs): that pauses the bisection as other infra does, which a resume takes up once
// it is mended, rather than ending it as not reproduced.
TEST_F(BisectorTest, ABadCommitWhoseKernelPanicsAtBootPausesAsInfra) {
  make(sized(30, 3));
  runner_.fn = [](const build::CommitCheckout&, uint32_t) -> base::Result<run::RunResult> {
    run::RunResult outcome;
    outcome.outcome = store::RunOutcome::kInfra;
    outcome.crash_titles = {"Kernel panic - not syncing: Attempted to kill init!"};
    outcome.detail = "QEMU ended (exit 0) before the guest was ready";
    return outcome;
  };
  const int64_t id = create_running(store_, history_, test_config());
  auto state = run(id);
  ASSERT_FALSE(state.has_value());
  EXPECT_THAT(state.error().message(), HasSubstr("5 runs in a row failed for reasons outside"));
  EXPECT_EQ(store_.get_bisection(id)->state, BisectionState::kPaused);
}

TEST_F(BisectorTest, ABadCommitThatAlwaysHangsIsNotReproducedSayingSo) {
  make(sized(30, 3));
  runner_.fn = [](const build::CommitCheckout&, uint32_t) -> base::Result<run::RunResult> {
    run::RunResult outcome;
    outcome.outcome = store::RunOutcome::kHang;
    return outcome;
  };
  const int64_t id = create_running(store_, history_, test_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kNotReproduced);
  EXPECT_EQ(runner_.calls.size(), engine::kMinUnjudgedAtBad);
  EXPECT_EQ(result_of(store_, id)["reason"].get<std::string>(),
            fmt::format("the bad commit cannot be tested: {0} of its {0} runs neither passed nor "
                        "failed (hangs, or crashes that test.failure_outcomes leaves out)",
                        engine::kMinUnjudgedAtBad));
}

// A kernel that warns in the allocator before the bug's own report: test.signature finds the bug
// in each run's second report, and the rows keep both titles for bisections looking for others.
TEST_F(BisectorTest, ACrashWhoseSecondReportMatchesTheSignatureIsAFailure) {
  make(sized(60, 7));
  const FakeRunner::Fn always = FakeRunner::flaky(bad_, 100);
  runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
    base::Result<run::RunResult> outcome = always(checkout, index);
    if (outcome && outcome->outcome == store::RunOutcome::kFail) {
      outcome->outcome = store::RunOutcome::kCrash;
      outcome->crash_titles = {"WARNING in __alloc_pages",
                               "BUG: unable to handle page fault in ext4_dio_write_iter"};
      outcome->signature = outcome->crash_titles.front();
    }
    return outcome;
  };
  config::Config config = test_config();
  config.test.failure_outcomes = {"crash"};
  config.test.signature = "^BUG: .* in ext4_";
  const int64_t id = create_running(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(result_of(store_, id)["culprit"]["sha"], history_.planted_sha());
  auto runs = store_.runs_for_bisection(id);
  ASSERT_TRUE(runs.has_value());
  const auto crash = std::find_if(runs->begin(), runs->end(), [](const store::RunRecord& run) {
    return run.outcome == store::RunOutcome::kCrash;
  });
  ASSERT_NE(crash, runs->end());
  EXPECT_THAT(crash->crash_titles,
              ElementsAreArray({"WARNING in __alloc_pages",
                                "BUG: unable to handle page fault in ext4_dio_write_iter"}));
}

TEST_F(BisectorTest, AnUntestableCulpritMakesTheAnswerASet) {
  make(sized(60, 3));
  runner_.fn = FakeRunner::flaky(bad_, 100);
  builder_.fn = [&](const build::CommitCheckout& checkout) -> base::Result<build::BuildOutcome> {
    build::BuildOutcome outcome;
    outcome.ok = checkout.sha != history_.planted_sha();
    return outcome;
  };
  config::Config config = test_config();
  config.build.command = {"./build.sh"};
  const int64_t id = create_running(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kInconclusive);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["status"], "inconclusive");
  EXPECT_TRUE(result["culprit"].is_null());
  std::vector<std::string> set;
  for (const auto& entry : result["credible_set"]) set.push_back(entry["sha"]);
  EXPECT_THAT(set, Contains(history_.planted_sha()));
  EXPECT_GE(set.size(), 2U);
}

TEST_F(BisectorTest, TheRunBudgetEndsInconclusiveWithACredibleSet) {
  make(sized(100));
  config::Config config = test_config();
  config.decision.max_runs = 12;
  const int64_t id = create_running(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kInconclusive);
  EXPECT_EQ(runner_.calls.size(), 12U);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["status"], "inconclusive");
  EXPECT_THAT(result["reason"].get<std::string>(), HasSubstr("run budget"));
  EXPECT_FALSE(result["credible_set"].empty());
  EXPECT_EQ(result["runs"], 12);
}

TEST_F(BisectorTest, TheTimeBudgetEndsInconclusive) {
  make(sized(100));
  auto inner = FakeRunner::flaky(bad_, 30);
  runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
    clock_.advance(std::chrono::seconds(20));
    return inner(checkout, index);
  };
  config::Config config = test_config();
  config.decision.max_wall_time = std::chrono::seconds(60);
  const int64_t id = create_running(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kInconclusive);
  EXPECT_GE(runner_.calls.size(), 3U);
  EXPECT_LE(runner_.calls.size(), 8U);  // the batch in progress may finish
  EXPECT_THAT(result_of(store_, id)["reason"].get<std::string>(), HasSubstr("time budget"));
}

TEST_F(BisectorTest, ABadCommitThatNeverFailsIsNotReproduced) {
  make(sized(40));
  runner_.fn = FakeRunner::flaky({}, 0);
  config::Config config = test_config();
  config.decision.max_reproduce_runs = 8;
  const int64_t id = create_running(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kNotReproduced);
  EXPECT_EQ(runner_.calls.size(), 8U);
  for (const RunCall& call : runner_.calls) EXPECT_EQ(call.sha, history_.tip);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["status"], "not_reproduced");
  EXPECT_THAT(result["reason"].get<std::string>(), HasSubstr("could not reproduce on bad"));
}

TEST_F(BisectorTest, EarlierRunsWithTheSameTestIdentityAreReused) {
  make(sized(40));
  const int64_t first = create_running(store_, history_, test_config());
  ASSERT_EQ(run(first).value_or(BisectionState::kFailed), BisectionState::kFound);
  const size_t runs = runner_.calls.size();
  // Same test, other decision settings (a run budget, the build cost, a lower confidence): the
  // test identity is the same, so the stored runs count and nothing is rerun.
  config::Config config = test_config();
  config.decision.max_runs = 4000;
  config.decision.build_cost = 25;
  config.decision.confidence = 0.98;
  ASSERT_NE(config.hash(), test_config().hash());
  const int64_t second = create_running(store_, history_, config);
  ASSERT_EQ(run(second).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(runner_.calls.size(), runs);
  EXPECT_EQ(result_of(store_, second)["runs"], 0);
  EXPECT_EQ(result_of(store_, second)["evidence_runs"], result_of(store_, first)["evidence_runs"]);
}

// ---- range.first_parent (git bisect --first-parent) -------------------------------------------

config::Config first_parent_config() {
  config::Config config = test_config();
  config.range.first_parent = true;
  return config;
}

std::vector<std::string> stored_candidates(store::Store& store, int64_t id) {
  std::vector<std::string> shas;
  for (const store::Candidate& c :
       store.get_candidates(id).value_or(std::vector<store::Candidate>{})) {
    shas.push_back(c.sha);
  }
  return shas;
}

// The candidates of a first-parent bisection of `history` against its root: the chain, oldest
// first, without the root.
std::vector<std::string> first_parent_candidates(const History& history) {
  std::vector<std::string> shas;
  for (size_t i : first_parent_chain(history)) shas.push_back(history.shas[i]);
  shas.erase(shas.begin());
  return shas;
}

TEST_F(BisectorTest, WithFirstParentTheMergeThatBroughtTheRegressionInIsTheAnswer) {
  make(sized(150));
  const size_t merge = first_parent_culprit(history_);
  // The planted commit is on a topic branch; the chain reaches it only through a merge.
  ASSERT_NE(merge, history_.planted);
  ASSERT_EQ(history_.parents[merge].size(), 2U);
  const int64_t id = create_running(store_, history_, first_parent_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["culprit"]["sha"], history_.shas[merge]);
  EXPECT_GE(result["confidence"].get<double>(), 0.99);
  // Only the chain is a candidate, and only candidates were tested.
  const std::vector<std::string> chain = first_parent_candidates(history_);
  EXPECT_THAT(stored_candidates(store_, id), ElementsAreArray(chain));
  EXPECT_EQ(result["candidates"].get<size_t>(), chain.size());
  const std::set<std::string> on_chain(chain.begin(), chain.end());
  for (const RunCall& call : runner_.calls) {
    EXPECT_TRUE(on_chain.count(call.sha) > 0) << call.sha << " is not on the first-parent chain";
  }
}

// ---- range.find_fix (git bisect --term-old broken --term-new fixed) ----------------------------

config::Config find_fix_config() {
  config::Config config = test_config();
  config.range.find_fix = true;
  return config;
}

config::Config backport_config() {
  config::Config config = find_fix_config();
  config.decision.backport_check = true;
  return config;
}

// A fix bisection of `history` from its root (broken) to its tip (fixed).
int64_t create_fix(store::Store& store, const History& history, const config::Config& config) {
  engine::BisectRequest request{history.repo.native(), {history.tip}, history.root, config};
  auto spec = engine::prepare_bisection(request);
  EXPECT_TRUE(spec.has_value()) << (spec ? "" : spec.error().message());
  return store.create_bisection(*spec, 1000, ::getpid()).value_or(0);
}

// The shas of the tip's first-parent chain before position `fix`: the commits that still fail.
std::set<std::string> broken_before(const History& history, size_t fix) {
  const std::vector<size_t> chain = first_parent_chain(history);
  std::set<std::string> broken;
  for (size_t i = 0; i < fix; ++i) broken.insert(history.shas[chain[i]]);
  return broken;
}

TEST_F(BisectorTest, WithFindFixTheFirstCommitOnTheChainThatPassesIsNamed) {
  make(sized(150));
  const std::vector<size_t> chain = first_parent_chain(history_);
  const size_t fix = chain.size() * 2 / 3;
  runner_.fn = FakeRunner::flaky(broken_before(history_, fix), 30);
  const int64_t id = create_fix(store_, history_, find_fix_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["mode"], "fix");
  EXPECT_EQ(result["culprit"]["sha"], history_.shas[chain[fix]]) << result.dump();
  EXPECT_EQ(result["most_likely"]["sha"], history_.shas[chain[fix]]);
  EXPECT_EQ(result["last_broken"]["sha"], history_.shas[chain[fix - 1]]);
  EXPECT_EQ(result["credible_set"][0]["sha"], history_.shas[chain[fix]]);
  EXPECT_GE(result["confidence"].get<double>(), 0.99);
  EXPECT_EQ(result["bad"], history_.root);
  EXPECT_EQ(result["good"][0], history_.tip);
  EXPECT_FALSE(result.contains("checks")) << "the fix was run by the search";
  // The candidates are the chain read backwards, from the tip's parent down to the broken root,
  // each one's parent the next newer commit.
  std::vector<std::string> reversed;
  for (size_t i = chain.size() - 1; i-- > 0;) reversed.push_back(history_.shas[chain[i]]);
  EXPECT_THAT(stored_candidates(store_, id), ElementsAreArray(reversed));
  const auto candidates = store_.get_candidates(id).value();
  EXPECT_TRUE(candidates.front().parents.empty());
  EXPECT_EQ(candidates.back().parents, std::vector<uint32_t>{candidates.back().idx - 1});
  const std::set<std::string> on_chain(reversed.begin(), reversed.end());
  for (const RunCall& call : runner_.calls) {
    EXPECT_TRUE(on_chain.count(call.sha) > 0) << call.sha << " is not on the first-parent chain";
  }
}

TEST_F(BisectorTest, AFixAtTheGoodEndItselfIsCheckedByRunningIt) {
  // Everything up to the tip fails: the fix named is the tip, which the search never runs, so
  // the verify check runs it (the user said it passes) before naming it.
  make(sized(40, 3));
  const std::vector<size_t> chain = first_parent_chain(history_);
  runner_.fn = FakeRunner::flaky(broken_before(history_, chain.size() - 1), 30);
  const int64_t id = create_fix(store_, history_, find_fix_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["culprit"]["sha"], history_.tip) << result.dump();
  EXPECT_EQ(result["last_broken"]["sha"], history_.shas[chain[chain.size() - 2]]);
  const auto& verify = result["checks"]["verify"];
  EXPECT_EQ(verify["status"], "pass") << verify.dump();
  EXPECT_EQ(verify["commit"], history_.tip);
  EXPECT_EQ(verify["fails"], 0);
  size_t at_tip = 0;
  for (const auto& call : runner_.calls) at_tip += call.sha == history_.tip;
  EXPECT_EQ(at_tip, verify["runs"].get<size_t>());
  EXPECT_GE(at_tip, 3U);
}

TEST_F(BisectorTest, AGoodEndThatStillFailsNamesNoFix) {
  // The "fixed" commit the user gave still has the bug: without the verify check it would be
  // named the fix with full confidence.
  make(sized(40, 3));
  std::set<std::string> all(history_.shas.begin(), history_.shas.end());
  runner_.fn = FakeRunner::flaky(all, 30);
  const int64_t id = create_fix(store_, history_, find_fix_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kInconclusive);
  const auto result = result_of(store_, id);
  EXPECT_TRUE(result["culprit"].is_null()) << result.dump();
  EXPECT_TRUE(result["last_broken"].is_null());
  EXPECT_EQ(result["checks"]["verify"]["status"], "fail");
  EXPECT_EQ(result["checks"]["verify"]["commit"], history_.tip);
  EXPECT_THAT(result["reason"].get<std::string>(), HasSubstr("newer than the range"));
  EXPECT_TRUE(result["credible_set"].empty());
}

TEST_F(BisectorTest, ASecondFixBisectionOfTheSameTestFindsTheFixInTheStoredRuns) {
  // A run at a commit says whether the test failed there, whatever was being looked for.
  make(sized(40, 3));
  const std::vector<size_t> chain = first_parent_chain(history_);
  runner_.fn = FakeRunner::flaky(broken_before(history_, chain.size() / 2), 30);
  const int64_t first = create_fix(store_, history_, find_fix_config());
  ASSERT_EQ(run(first).value_or(BisectionState::kFailed), BisectionState::kFound);
  const size_t calls = runner_.calls.size();
  const int64_t again = create_fix(store_, history_, find_fix_config());
  ASSERT_EQ(run(again).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(runner_.calls.size(), calls) << "the second found the fix in the stored runs";
  EXPECT_EQ(result_of(store_, again)["culprit"], result_of(store_, first)["culprit"]);
}

// Whether the checkout has bug/marker, which the planted commit adds.
bool has_marker(const build::CommitCheckout& checkout) {
  return std::filesystem::exists(std::filesystem::path(checkout.worktree) / "bug" / "marker");
}

// Fails in `percent` of runs wherever `passes(checkout)` is false.
FakeRunner::Fn fails_unless(std::function<bool(const build::CommitCheckout&)> passes,
                            uint32_t percent) {
  return [passes = std::move(passes), percent](const build::CommitCheckout& checkout,
                                               uint32_t index) -> base::Result<run::RunResult> {
    run::RunResult outcome;
    const bool fails = !passes(checkout) && draw(checkout.sha, index) % 100 < percent;
    outcome.outcome = fails ? store::RunOutcome::kFail : store::RunOutcome::kPass;
    outcome.duration = std::chrono::milliseconds(5);
    return outcome;
  };
}

TEST_F(BisectorTest, TheBackportCheckRunsTheBrokenCommitWithTheFixCherryPicked) {
  // The test passes once bug/marker exists: the fix is the merge that brought it in, and
  // cherry-picked onto the root (`-m 1`), it brings the marker there too.
  make(sized(60, 3));
  runner_.fn = fails_unless(has_marker, 30);
  const int64_t id = create_fix(store_, history_, backport_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  const std::string fix = history_.shas[first_parent_culprit(history_)];
  EXPECT_EQ(result["culprit"]["sha"], fix) << result.dump();
  const auto& backport = result["checks"]["backport"];
  EXPECT_EQ(backport["status"], "pass") << backport.dump();
  EXPECT_EQ(backport["picked"], fix);
  EXPECT_EQ(backport["onto"], history_.root);
  EXPECT_GE(backport["probability_fixed"].get<double>(), 0.995);
  const std::string commit = backport["commit"];
  EXPECT_EQ(std::count(history_.shas.begin(), history_.shas.end(), commit), 0);
  size_t at_pick = 0;
  for (const auto& call : runner_.calls) at_pick += call.sha == commit;
  EXPECT_EQ(at_pick, backport["runs"].get<size_t>());
  EXPECT_GE(at_pick, 3U);
  EXPECT_THAT(builder_.built, Contains(commit)) << "the pick is built before it runs";
}

TEST_F(BisectorTest, ABackportThatDoesNotFixTheBrokenCommitFails) {
  // Only commits of the history that have the marker pass: the fix needs something else of the
  // chain, and the pick onto the root keeps failing.
  make(sized(60, 3));
  const std::set<std::string> real(history_.shas.begin(), history_.shas.end());
  runner_.fn = fails_unless(
      [real](const build::CommitCheckout& checkout) {
        return real.count(checkout.sha) > 0 && has_marker(checkout);
      },
      30);
  const int64_t id = create_fix(store_, history_, backport_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  ASSERT_TRUE(result.contains("checks")) << result.dump();
  const auto& backport = result["checks"]["backport"];
  EXPECT_EQ(backport["status"], "fail") << backport.dump();
  EXPECT_GE(backport["fails"].get<int>(), 2);
  EXPECT_LE(backport["probability_fixed"].get<double>(), 0.005);
}

TEST_F(BisectorTest, ABackportOfAFixWhoseParentIsTheBrokenCommitCountsTheFixesOwnRuns) {
  // A one-commit chain: the fix is the good end, its parent the broken end, and the pick onto
  // that parent is the fix's own tree. The check counts the verify check's runs at the fix
  // instead of running a commit that differs only in its message.
  make(sized(30, 3));
  const std::vector<size_t> chain = first_parent_chain(history_);
  const std::string broken = history_.shas[chain[chain.size() - 2]];
  const std::string tip = history_.tip;
  runner_.fn = fails_unless([tip](const build::CommitCheckout& c) { return c.sha == tip; }, 30);
  engine::BisectRequest request{history_.repo.native(), {tip}, broken, backport_config()};
  auto spec = engine::prepare_bisection(request);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  const int64_t id = store_.create_bisection(*spec, 1000, ::getpid()).value();
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["culprit"]["sha"], tip) << result.dump();
  EXPECT_EQ(result["checks"]["verify"]["status"], "pass");
  const auto& backport = result["checks"]["backport"];
  EXPECT_EQ(backport["status"], "pass") << backport.dump();
  EXPECT_EQ(backport["commit"], tip);
  EXPECT_EQ(backport["runs"], result["checks"]["verify"]["runs"]) << "no run of its own";
  EXPECT_TRUE(backport["own_runs"].is_null()) << "the verify check's runs are not claimed twice";
  EXPECT_EQ(result["checks"]["verify"]["own_runs"], result["checks"]["verify"]["runs"]);
  const std::set<std::string> real(history_.shas.begin(), history_.shas.end());
  for (const RunCall& call : runner_.calls) {
    EXPECT_TRUE(real.count(call.sha) > 0) << call.sha << " is not a commit of the history";
  }
}

TEST_F(BisectorTest, BackportOntoCherryPicksTheFixOntoAnotherBranch) {
  // A "stable" branch off the root, one commit of its own: the fix (a merge) picked onto it brings
  // the marker there, and the failure goes.
  make(sized(60, 3));
  const std::string stable =
      trim(git(history_.repo, {"commit-tree", history_.root + "^{tree}", "-p", history_.root, "-m",
                               "stable: a commit of its own"}));
  git(history_.repo, {"branch", "linux-stable", stable});
  const std::set<std::string> real(history_.shas.begin(), history_.shas.end());
  std::string pick_parent;  // read while the worktree exists: it goes with the bisection
  runner_.fn = [&, inner = fails_unless(has_marker, 30)](const build::CommitCheckout& checkout,
                                                         uint32_t index) {
    if (real.count(checkout.sha) == 0) {
      pick_parent = trim(git(checkout.worktree, {"log", "-1", "--format=%P", checkout.sha}));
    }
    return inner(checkout, index);
  };
  config::Config config = find_fix_config();
  config.decision.backport_onto = "linux-stable";
  const int64_t id = create_fix(store_, history_, config);
  const auto stored = config::parse_config(store_.get_bisection(id)->spec.config_toml, "stored");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->decision.backport_onto, stable) << "resolved when the bisection was made";
  EXPECT_TRUE(stored->decision.backport_check);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  const auto& backport = result["checks"]["backport"];
  EXPECT_EQ(backport["status"], "pass") << backport.dump();
  EXPECT_EQ(backport["onto"], stable);
  EXPECT_EQ(backport["picked"], history_.shas[first_parent_culprit(history_)]);
  EXPECT_EQ(real.count(backport["commit"].get<std::string>()), 0U);
  EXPECT_EQ(pick_parent, stable) << "the pick's parent is the stable branch";
}

TEST_F(BisectorTest, ABackportOntoACommitThatHasTheFixOrIsGoneIsInconclusiveNotAPass) {
  make(sized(40, 3));
  runner_.fn = fails_unless(has_marker, 30);
  // Onto the good end: the pick would be empty, and its PASS would say nothing of a backport.
  config::Config config = find_fix_config();
  config.decision.backport_onto = "main";
  const int64_t id = create_fix(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  auto result = result_of(store_, id);
  EXPECT_EQ(result["checks"]["backport"]["status"], "inconclusive") << result.dump();
  EXPECT_THAT(result["checks"]["backport"]["detail"].get<std::string>(),
              HasSubstr("no backport: " + history_.tip.substr(0, 12) + " already has the fix"));

  // Onto a commit that is gone by the time the check runs (its branch deleted and pruned): the
  // check ends, saying so, rather than pause the bisection at every resume.
  config.decision.backport_onto = history_.root;
  engine::BisectRequest request{history_.repo.native(), {history_.tip}, history_.root, config};
  auto spec = engine::prepare_bisection(request);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  const std::string gone(40, 'f');
  const size_t at = spec->config_toml.find(history_.root);
  ASSERT_NE(at, std::string::npos) << spec->config_toml;
  spec->config_toml.replace(at, gone.size(), gone);
  const int64_t other = store_.create_bisection(*spec, 1000, ::getpid()).value();
  ASSERT_EQ(run(other).value_or(BisectionState::kFailed), BisectionState::kFound);
  result = result_of(store_, other);
  EXPECT_EQ(result["checks"]["backport"]["status"], "inconclusive") << result.dump();
  EXPECT_THAT(result["checks"]["backport"]["detail"].get<std::string>(),
              HasSubstr("no backport: ffffffffffff cannot be read"));
}

TEST_F(BisectorTest, TheBackportCheckIsOnlyForAFixBisection) {
  make(sized(30, 3));
  config::Config config = test_config();
  config.decision.backport_check = true;
  engine::BisectRequest request{history_.repo.native(), {history_.root}, history_.tip, config};
  auto refused = engine::prepare_bisection(request);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(), HasSubstr("needs --find-fix"));
  request.config.decision.backport_check = false;
  request.config.decision.backport_onto = "main";
  refused = engine::prepare_bisection(request);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(), HasSubstr("--backport-onto needs --find-fix"));

  // Set in a file, the key is named with the file and line.
  auto parsed = config::parse_config("[decision]\nbackport_check = true\n", "fix.toml");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  request.config = *parsed;
  request.config.test = config.test;
  refused = engine::prepare_bisection(request);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(),
              HasSubstr("decision.backport_check (fix.toml:2) needs --find-fix (range.find_fix)"));
}

// The signal watcher kills every child of the process once stopping, one just forked among them:
// its spawn then fails ("child failed before exec"). That failure is the stop's doing, so the
// bisection pauses as the stop asks, resumable by whoever paused it, and records no error (a
// daemon's second worker did, and the next daemon did not resume it).
TEST_F(BisectorTest, AFailureCausedByTheStopPausesTheBisectionInsteadOfRecordingAnError) {
  make(sized(60, 7));
  auto inner = FakeRunner::flaky(bad_, 30);
  runner_.fn = [&](const build::CommitCheckout& checkout,
                   uint32_t index) -> base::Result<run::RunResult> {
    if (runner_.calls.size() == 6) {
      stop_ = true;
      return base::make_error(base::ErrorCode::kFailed, "flaky-test.sh: child failed before exec");
    }
    return inner(checkout, index);
  };
  const int64_t id = create_running(store_, history_, test_config());
  auto state = run(id);
  ASSERT_TRUE(state.has_value()) << state.error().message();
  EXPECT_EQ(*state, BisectionState::kPaused);
  EXPECT_EQ(store_.get_bisection(id)->state, BisectionState::kPaused);
  const auto errors = [&] {
    const std::vector<store::Event> events =
        store_.events(id).value_or(std::vector<store::Event>{});
    return static_cast<size_t>(std::count_if(events.begin(), events.end(),
                                             [](const auto& e) { return e.kind == kEventError; }));
  };
  EXPECT_EQ(errors(), 0U);
  const auto paused = events_of(store_, id, kEventPaused);
  ASSERT_EQ(paused.size(), 1U);
  EXPECT_EQ(paused[0]["by"], options().session_mode);
  EXPECT_THAT(paused[0]["reason"].get<std::string>(),
              HasSubstr("(it ended with: flaky-test.sh: child failed before exec)"));
  EXPECT_EQ(rows_of(store_, id).size(), 5U) << "the failed run is not recorded";

  // Without a stop the same failure is an error, as before.
  stop_ = false;
  ASSERT_TRUE(store_.claim_bisection(id, ::getpid(), 3000).has_value());
  runner_.fn = [](const build::CommitCheckout&, uint32_t) -> base::Result<run::RunResult> {
    return base::make_error(base::ErrorCode::kFailed, "flaky-test.sh: child failed before exec");
  };
  EXPECT_FALSE(run(id).has_value());
  EXPECT_EQ(errors(), 1U);

  runner_.fn = inner;
  ASSERT_TRUE(store_.claim_bisection(id, ::getpid(), 4000).has_value());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
}

// An error that can never go away is not hidden by a stop: a bisection whose stored configuration
// no longer parses fails with that error, stop or not.
TEST_F(BisectorTest, AFatalErrorStandsEvenWhenAStopWasAskedFor) {
  make(sized(20, 5));
  const int64_t id = create_running(store_, history_, test_config());
  ASSERT_TRUE(store_.database_for_testing()
                  .exec("UPDATE bisections SET config_toml = '[decision' WHERE id = 1")
                  .has_value());
  stop_ = true;
  auto state = run(id);
  stop_ = false;
  ASSERT_FALSE(state.has_value());
  EXPECT_EQ(store_.get_bisection(id)->state, BisectionState::kFailed);
}

TEST_F(BisectorTest, AResumedFirstParentBisectionKeepsItsCandidatesAndEndsAtTheMerge) {
  make(sized(150));
  auto inner = FakeRunner::flaky(bad_, 30);
  runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
    if (runner_.calls.size() == 25) stop_ = true;
    return inner(checkout, index);
  };
  const int64_t id = create_running(store_, history_, first_parent_config());
  // What resume reads back is the stored configuration, not this process's.
  auto bisection = store_.get_bisection(id);
  ASSERT_TRUE(bisection.has_value());
  auto stored = config::parse_config(bisection->spec.config_toml, "stored");
  ASSERT_TRUE(stored.has_value()) << stored.error().message();
  EXPECT_TRUE(stored->range.first_parent);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kPaused);
  const std::vector<std::string> chain = first_parent_candidates(history_);
  EXPECT_THAT(stored_candidates(store_, id), ElementsAreArray(chain));

  stop_ = false;
  runner_.fn = inner;
  ASSERT_TRUE(store_.claim_bisection(id, ::getpid(), 3000).has_value());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(result_of(store_, id)["culprit"]["sha"], history_.shas[first_parent_culprit(history_)]);
  EXPECT_THAT(stored_candidates(store_, id), ElementsAreArray(chain));
  const std::set<std::string> on_chain(chain.begin(), chain.end());
  for (const RunCall& call : runner_.calls) {
    EXPECT_TRUE(on_chain.count(call.sha) > 0) << call.sha << " is not on the first-parent chain";
  }
}

TEST_F(BisectorTest, FirstParentAndFullBisectionsOfOneTestShareTheirRuns) {
  make(sized(150));
  const int64_t first = create_running(store_, history_, first_parent_config());
  ASSERT_EQ(run(first).value_or(BisectionState::kFailed), BisectionState::kFound);
  const size_t runs = runner_.calls.size();
  // Without first_parent: another configuration hash, the same test identity.
  const int64_t second = create_running(store_, history_, test_config());
  auto a = store_.get_bisection(first);
  auto b = store_.get_bisection(second);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(a->spec.config_hash, b->spec.config_hash);
  EXPECT_EQ(a->spec.test_identity, b->spec.test_identity);
  ASSERT_EQ(run(second).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(result_of(store_, second)["culprit"]["sha"], history_.planted_sha());
  // The runs at the chain's commits count for the full bisection too.
  auto events = store_.events(second);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->front().kind, kEventSession);
  ASSERT_TRUE(events->front().data_json.has_value());
  EXPECT_EQ(nlohmann::json::parse(*events->front().data_json)["reused_runs"].get<size_t>(), runs);
}

// A guest test whose kernel is built with the fragment file `fragment`.
config::Config kernel_config(const std::string& fragment) {
  config::Config config;
  config.kernel.emplace();
  config.kernel->fragments = {"qemu-guest", fragment};
  config.qemu.emplace();
  config.reproducer.emplace();
  // A host file (the fakes never run it): a relative path would have to be in the range's tree.
  config.reproducer->program = "/bin/true";
  return config;
}

TEST_F(BisectorTest, AFixedKernelFragmentRetriesTheCommitsWhoseBuildFailedWithTheOldOne) {
  make(sized(60, 3));
  runner_.fn = FakeRunner::flaky(bad_, 100);
  // The culprit does not build with the fragment as it first is (as when olddefconfig drops one of
  // its symbols there), so the answer is a set; fixed, the fragment builds it.
  const std::string fragment = (dir_ / "debug.config").native();
  std::ofstream(fragment) << "CONFIG_EXT4_FS=y\n";
  builder_.keeps = true;  // as the kernel builder, with its artifact cache
  builder_.fn = [&](const build::CommitCheckout& checkout) -> base::Result<build::BuildOutcome> {
    build::BuildOutcome outcome;
    outcome.ok = checkout.sha != history_.planted_sha() ||
                 read_text(fragment).find("CONFIG_KASAN") != std::string::npos;
    outcome.detail = outcome.ok ? "" : "olddefconfig dropped CONFIG_EXT4_FS (wanted y)";
    return outcome;
  };
  const int64_t first = create_running(store_, history_, kernel_config(fragment));
  ASSERT_EQ(run(first).value_or(BisectionState::kFailed), BisectionState::kInconclusive);
  // The same contents again: the same build key, so the same skips.
  EXPECT_EQ(prepare_bisection(
                {history_.repo.native(), {history_.root}, history_.tip, kernel_config(fragment)})
                ->build_key,
            store_.get_bisection(first)->spec.build_key);

  // Fixed at the same path: another build key, so the culprit's failed build is not a skip for
  // it; the culprit is built and named.
  std::ofstream(fragment, std::ios::trunc) << "CONFIG_EXT4_FS=y\nCONFIG_KASAN=y\n";
  const int64_t fixed = create_running(store_, history_, kernel_config(fragment));
  ASSERT_NE(store_.get_bisection(fixed)->spec.build_key,
            store_.get_bisection(first)->spec.build_key);
  ASSERT_EQ(run(fixed).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(result_of(store_, fixed)["culprit"]["sha"], history_.planted_sha());
  EXPECT_GE(std::count(builder_.built.begin(), builder_.built.end(), history_.planted_sha()), 2);
}

TEST_F(BisectorTest, AResumeAfterAnEditedFragmentPausesNamingItUntilItIsRestored) {
  make(sized(40));
  const std::string fragment = (dir_ / "debug.config").native();
  std::ofstream(fragment) << "CONFIG_EXT4_FS=y\n";
  const int64_t id = create_running(store_, history_, kernel_config(fragment));
  std::ofstream(fragment, std::ios::trunc) << "CONFIG_EXT4_FS=y\nCONFIG_KASAN=y\n";
  EXPECT_FALSE(run(id).has_value());
  auto paused = store_.get_bisection(id);
  EXPECT_EQ(paused->state, BisectionState::kPaused);
  EXPECT_THAT(paused->error.value_or(""), HasSubstr("kernel.fragments '" + fragment +
                                                    "' has changed since the bisection "
                                                    "started"));
  EXPECT_TRUE(builder_.built.empty());
  EXPECT_TRUE(runner_.calls.empty());

  // Restored: it goes on as if nothing had happened.
  std::ofstream(fragment, std::ios::trunc) << "CONFIG_EXT4_FS=y\n";
  ASSERT_TRUE(store_.claim_bisection(id, ::getpid(), 2000).has_value());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(result_of(store_, id)["culprit"]["sha"], history_.planted_sha());
}

// The same file edited while the session goes on (a daemon's runs for hours): the next build or
// batch pauses naming it, instead of recording runs and builds under a key that describes the old
// file.
TEST_F(BisectorTest, AFragmentEditedDuringTheSessionPausesItBeforeTheNextStep) {
  make(sized(40));
  const std::string fragment = (dir_ / "debug.config").native();
  std::ofstream(fragment) << "CONFIG_EXT4_FS=y\n";
  const int64_t id = create_running(store_, history_, kernel_config(fragment));
  const FakeRunner::Fn inner = FakeRunner::flaky(bad_, 30);
  size_t calls_when_edited = 0;
  runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
    if (calls_when_edited == 0 && runner_.calls.size() == 3) {
      std::ofstream(fragment, std::ios::trunc) << "CONFIG_EXT4_FS=y\nCONFIG_KASAN=y\n";
      calls_when_edited = runner_.calls.size();
    }
    return inner(checkout, index);
  };
  EXPECT_FALSE(run(id).has_value());
  auto paused = store_.get_bisection(id);
  EXPECT_EQ(paused->state, BisectionState::kPaused);
  EXPECT_THAT(paused->error.value_or(""), HasSubstr("kernel.fragments '" + fragment +
                                                    "' has changed since the bisection "
                                                    "started"));
  ASSERT_GT(calls_when_edited, 0U);
  // The batch in progress ends; no build or batch starts after it.
  const std::string edited_at = runner_.calls[calls_when_edited - 1].sha;
  for (size_t i = calls_when_edited; i < runner_.calls.size(); ++i) {
    EXPECT_EQ(runner_.calls[i].sha, edited_at) << i;
  }
}

TEST_F(BisectorTest, ACancelInTheStoreEndsTheSessionWithoutTouchingTheState) {
  make(sized(40));
  const int64_t id = create_running(store_, history_, test_config());
  cancel_at_third_run(id, /*then_stop=*/false);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kCancelled);
  EXPECT_EQ(runner_.calls.size(), 3U);
  EXPECT_EQ(store_.get_bisection(id)->state, BisectionState::kCancelled);
  EXPECT_FALSE(std::filesystem::exists(runner_.calls.front().worktree));
}

TEST_F(BisectorTest, ACancelIsNotUndoneByAStopThatComesAfterIt) {
  // `flakebisect cancel` commits while a run is in progress, then the process is told to stop
  // (SIGTERM to a daemon, Ctrl-C) before that run ends: the pause must not overwrite the cancel,
  // or a daemon would take the bisection back up.
  make(sized(40));
  const int64_t id = create_running(store_, history_, test_config());
  cancel_at_third_run(id, /*then_stop=*/true);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kCancelled);
  const auto bisection = store_.get_bisection(id);
  EXPECT_EQ(bisection->state, BisectionState::kCancelled);
  EXPECT_EQ(bisection->error, "cancelled");
  const auto events = store_.events(id);
  ASSERT_TRUE(events.has_value());
  for (const auto& event : *events) {
    EXPECT_NE(event.kind, kEventPaused) << event.message;
  }
}

TEST_F(BisectorTest, RunIndicesFollowRunsAnotherBisectionStoredSinceThisOneStarted) {
  // Another bisection of the same test on the store records three runs at the tip while this one
  // builds it: the first run here must not repeat their FLAKEBISECT_RUN indices.
  make(sized(30, 4));
  config::Config config = test_config();
  config.build.command = {"./build.sh"};
  const int64_t id = create_running(store_, history_, config);
  const std::string identity = store_.get_bisection(id)->spec.test_identity;
  builder_.fn = [&](const build::CommitCheckout& checkout) -> base::Result<build::BuildOutcome> {
    if (builder_.built.size() == 1) {
      store_runs_of_another_bisection(config, identity, checkout.sha, store::RunOutcome::kFail);
    }
    return build::BuildOutcome{};
  };
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  ASSERT_FALSE(runner_.calls.empty());
  EXPECT_EQ(runner_.calls.front().sha, history_.tip);
  EXPECT_EQ(runner_.calls.front().index, 3U);
  std::set<std::pair<std::string, int64_t>> seen;
  auto all = store_.runs_for(identity);
  ASSERT_TRUE(all.has_value());
  for (const store::RunRecord& r : *all) {
    EXPECT_TRUE(seen.emplace(r.sha, r.run_index).second) << r.sha << " index " << r.run_index;
  }
}

TEST_F(BisectorTest, InfraOutcomesInARowPauseWithAnError) {
  make(sized(40));
  runner_.fn = [](const build::CommitCheckout&, uint32_t) -> base::Result<run::RunResult> {
    run::RunResult outcome;
    outcome.outcome = store::RunOutcome::kInfra;
    outcome.detail = "exit 255";
    return outcome;
  };
  const int64_t id = create_running(store_, history_, test_config());
  auto state = run(id);
  ASSERT_FALSE(state.has_value());
  EXPECT_THAT(state.error().message(), HasSubstr("infra"));
  auto bisection = store_.get_bisection(id);
  EXPECT_EQ(bisection->state, BisectionState::kPaused);
  EXPECT_THAT(bisection->error.value_or(""), HasSubstr("exit 255"));
  EXPECT_EQ(rows_of(store_, id).size(), 5U);  // infra runs are recorded, never counted
}

// The pause after an error and its error event are one write: a bisection is never left paused
// without the error that the daemon reads to tell a pause of its own (which it resumes) from one
// after an error (which it leaves to the user). Here the event cannot be written (as if the
// process died between the two), and the pause is not stored either.
TEST_F(BisectorTest, APauseAfterAnErrorIsStoredWithItsErrorEventOrNotAtAll) {
  make(sized(40));
  runner_.fn = [](const build::CommitCheckout&, uint32_t) -> base::Result<run::RunResult> {
    return base::Error("test run 0: ./reproduce: not found", base::ErrorCode::kNotFound);
  };
  const int64_t id = create_running(store_, history_, test_config());
  ASSERT_TRUE(store_.database_for_testing().execute(
      "CREATE TRIGGER no_error_events BEFORE INSERT ON events WHEN NEW.kind = 'error' "
      "BEGIN SELECT RAISE(ABORT, 'no error events'); END"));
  ASSERT_FALSE(run(id).has_value());
  EXPECT_EQ(store_.get_bisection(id)->state, BisectionState::kRunning);
  ASSERT_TRUE(store_.database_for_testing().execute("DROP TRIGGER no_error_events"));
}

TEST_F(BisectorTest, AToolErrorPausesTheBisectionWithTheMessage) {
  make(sized(40));
  runner_.fn = [](const build::CommitCheckout&, uint32_t) -> base::Result<run::RunResult> {
    return base::Error("test run 0: ./reproduce: not found", base::ErrorCode::kNotFound);
  };
  const int64_t id = create_running(store_, history_, test_config());
  ASSERT_FALSE(run(id).has_value());
  auto bisection = store_.get_bisection(id);
  EXPECT_EQ(bisection->state, BisectionState::kPaused);
  EXPECT_EQ(bisection->error, "test run 0: ./reproduce: not found");
  EXPECT_TRUE(rows_of(store_, id).empty());
}

// ---- guests ----------------------------------------------------------------------------------

// The real QemuRunner, whose QEMU is a shell script playing a guest in which every run passes
// (the fake of tests/run/qemu_runner_test.cc); builds come from the fake builder.
class GuestBisectorTest : public BisectorTest {
 protected:
  // `before_end`: shell run in each run before its end line.
  ExecutorFactory guest_executors(const std::string& before_end = "") {
    write_text(dir_ / "bzImage", "not really a kernel");
    write_text(dir_ / "busybox", "not really busybox");
    write_text(dir_ / "repro", "#!/bin/sh\n");
    write_text(dir_ / "qemu",
               "#!/bin/sh\n"
               "for arg in \"$@\"; do\n"
               "  case \"$arg\" in file,id=results,path=*) R=${arg#file,id=results,path=} ;; esac\n"
               "done\n"
               "echo \"FB1 ready\" >>\"$R\"\n"
               "for k in $(seq 0 15); do\n"
               "  echo \"flakebisect: begin run $k\"; echo \"FB1 begin $k\" >>\"$R\"\n" +
                   before_end +
                   "\n"
                   "  echo \"flakebisect: end run $k\"; echo \"FB1 end $k 0 5 0 -\" >>\"$R\"\n"
                   "done\n"
                   "echo \"FB1 done\" >>\"$R\"; sleep 30\n",
               true);
    processes_.on({"/sbin/mkfs.ext4"}, base::FakeProcessRunner::exited(0));
    run::QemuRunnerOptions qemu;
    qemu.qemu.binary = (dir_ / "qemu").native();
    qemu.qemu.kernel = (dir_ / "bzImage").native();
    qemu.qemu.accel = "tcg";
    qemu.qemu.boot_timeout = std::chrono::seconds(5);
    qemu.scratch.mkfs = {"/sbin/mkfs.ext4"};
    qemu.reproducer.program = (dir_ / "repro").native();
    qemu.work_dir = (dir_ / "qemu-work").native();
    qemu.cache_dir = (dir_ / "cache").native();
    qemu.log_dir = (dir_ / "logs").native();
    qemu.busybox = (dir_ / "busybox").native();
    return [this, qemu](const config::Config&) -> base::Result<Executors> {
      Executors executors;
      executors.builder = std::make_unique<ForwardingBuilder>(&builder_);
      executors.runner = std::make_unique<run::QemuRunner>(processes_, qemu);
      return executors;
    };
  }

  base::FakeProcessRunner processes_;
};

TEST_F(GuestBisectorTest, EachGuestRunsRowKeepsThePathAndHashOfItsConsoleLog) {
  make(sized(20));
  config::Config config = test_config();
  config.decision.max_reproduce_runs = 20;
  const int64_t id = create_running(store_, history_, config);
  Bisector bisector(store_, clock_, guest_executors(), options());
  auto state = bisector.run(id);
  ASSERT_TRUE(state.has_value()) << state.error().message();
  EXPECT_EQ(*state, BisectionState::kNotReproduced);
  auto runs = store_.runs_for_bisection(id);
  ASSERT_TRUE(runs.has_value());
  ASSERT_EQ(runs->size(), 20U);
  std::set<std::string> paths;
  for (const store::RunRecord& run : *runs) {
    ASSERT_TRUE(run.console_path.has_value()) << run.run_index;
    ASSERT_TRUE(run.console_sha256.has_value()) << run.run_index;
    auto text = base::read_file(*run.console_path);
    ASSERT_TRUE(text.has_value()) << text.error().message();
    EXPECT_EQ(*run.console_sha256, config::sha256_hex(*text)) << *run.console_path;
    paths.insert(*run.console_path);
  }
  EXPECT_EQ(paths.size(), runs->size()) << "one log per run, never rewritten";
}

TEST_F(GuestBisectorTest, AConsoleLogThatCannotBeWrittenPausesTheBisectionNamingIt) {
  // As on a full disk (and for root too): the log directory turns into a file during run 0,
  // once. Doing it in every run raced the host's write of run 0's log against run 1's `rm`,
  // which fails with "No such file or directory" instead (seen once in CI).
  make(sized(20));
  const std::string logs = (dir_ / "logs").native();
  const int64_t id = create_running(store_, history_, test_config());
  Bisector bisector(store_, clock_,
                    guest_executors("if [ $k = 0 ]; then rm -rf '" + logs +
                                    "' && echo 'not a directory' >'" + logs + "'; fi"),
                    options());
  ASSERT_FALSE(bisector.run(id).has_value());
  auto bisection = store_.get_bisection(id);
  ASSERT_TRUE(bisection.has_value());
  EXPECT_EQ(bisection->state, BisectionState::kPaused);
  EXPECT_THAT(bisection->error.value_or(""), HasSubstr("cannot keep the console log"));
  EXPECT_THAT(bisection->error.value_or(""), HasSubstr(logs + "/console-"));
  EXPECT_THAT(bisection->error.value_or(""), HasSubstr("Not a directory"));
  EXPECT_TRUE(rows_of(store_, id).empty()) << "no row may point at a log that is not there";
}

TEST_F(BisectorTest, RefusesABisectionItDidNotClaim) {
  make(sized(20));
  engine::BisectRequest request{
      history_.repo.native(), {history_.root}, history_.tip, test_config()};
  auto spec = prepare_bisection(request);
  ASSERT_TRUE(spec.has_value());
  const int64_t queued = store_.create_bisection(*spec, 1000).value();
  EXPECT_FALSE(run(queued).has_value());
  EXPECT_EQ(store_.get_bisection(queued)->state, BisectionState::kQueued);
  // Running, but claimed by another process: two processes must never drive one bisection.
  const int64_t theirs = store_.create_bisection(*spec, 1000, ::getpid() + 1).value();
  EXPECT_EQ(store_.get_bisection(theirs)->state, BisectionState::kRunning);
  EXPECT_FALSE(run(theirs).has_value());
  EXPECT_EQ(store_.get_bisection(theirs)->state, BisectionState::kRunning);
  EXPECT_EQ(store_.get_bisection(theirs)->owner_pid, ::getpid() + 1);
  EXPECT_TRUE(runner_.calls.empty());
}

TEST_F(BisectorTest, CommandExecutorsRunTheConfiguredArgvInTheWorktreeWithItsEnvironment) {
  make(sized(30));
  base::FakeProcessRunner processes;
  std::vector<base::ProcessOptions> tests;
  processes.on({"./build.sh"}, base::FakeProcessRunner::exited(0, "built\n"));
  processes.on({"./reproduce"},
               [&](const base::ProcessOptions& options) -> base::Result<base::ProcessResult> {
                 tests.push_back(options);
                 std::map<std::string, std::string> env(options.env_set.begin(),
                                                        options.env_set.end());
                 const bool fails = bad_.count(env["FLAKEBISECT_COMMIT"]) > 0;
                 return base::FakeProcessRunner::exited(fails ? 1 : 0);
               });
  config::Config config = test_config();
  config.test.command = {"./reproduce", "--iterations", "1"};  // made by the build, as far as we know
  config.build.command = {"./build.sh", "-C", "a dir; rm -rf /"};
  const int64_t id = create_running(store_, history_, config);
  Bisector bisector(store_, clock_, standard_executors(processes, dir_.path().native()), options());
  ASSERT_EQ(bisector.run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(result_of(store_, id)["culprit"]["sha"], history_.planted_sha());
  ASSERT_FALSE(tests.empty());
  for (const base::ProcessOptions& call : tests) {
    EXPECT_THAT(call.argv, ElementsAreArray({"./reproduce", "--iterations", "1"}));
    std::map<std::string, std::string> env(call.env_set.begin(), call.env_set.end());
    EXPECT_EQ(env["FLAKEBISECT_REPO"], history_.repo.native());
    EXPECT_EQ(env["FLAKEBISECT_WORKTREE"], call.cwd.value_or(""));
    EXPECT_EQ(env["FLAKEBISECT_COMMIT"].size(), 40U);
    EXPECT_TRUE(env.count("FLAKEBISECT_RUN"));
    EXPECT_EQ(call.timeout, std::chrono::milliseconds(config.test.timeout));
  }
  bool built = false;
  for (const auto& argv : processes.argvs()) {
    if (argv.front() == "./build.sh") {
      EXPECT_THAT(argv, ElementsAreArray({"./build.sh", "-C", "a dir; rm -rf /"}));
      built = true;
    }
  }
  EXPECT_TRUE(built);
}

// Another process holding the store's write lock past its busy timeout (sqlite3 at a prompt, a
// backup) while a run finishes: the run waits for the store instead of being dropped with an error
// that paused the bisection.
TEST_F(BisectorTest, AFinishedRunWaitsForAStoreAnotherProcessKeepsLocked) {
  make(sized(30, 7));
  const std::string path = (dir_ / "locked.db").native();
  store::OpenMode mode;
  mode.create_if_missing = true;
  mode.busy_timeout_ms = 50;
  auto opened = store::Store::open(path, mode);
  ASSERT_TRUE(opened.has_value()) << opened.error().message();
  store::Store& store = *opened;
  const int64_t id = create_running(store, history_, test_config());
  std::thread holder;
  const FakeRunner::Fn inner = FakeRunner::flaky(bad_, 30);
  runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
    if (runner_.calls.size() == 3) {
      std::promise<void> locked;
      holder = std::thread([&path, &locked] {
        auto other = store::Store::open(path);
        auto txn = other ? other->begin_write() : base::Result<store::Transaction>(other.error());
        locked.set_value();
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        if (txn) (void)txn->commit();
      });
      locked.get_future().wait();
    }
    return inner(checkout, index);
  };
  ASSERT_EQ(run(id, &store).value_or(BisectionState::kFailed), BisectionState::kFound);
  holder.join();
  EXPECT_EQ(rows_of(store, id).size(), runner_.calls.size()) << "no finished run was dropped";
  EXPECT_EQ(result_of(store, id)["culprit"]["sha"], history_.planted_sha());
}

// ---- resume ----------------------------------------------------------------------------------

// Stops the first session after `stop_after` runs (the run in progress is abandoned), resumes it,
// and compares everything with an uninterrupted bisection of the same history.
class ResumeTest : public BisectorTest,
                   public ::testing::WithParamInterface<std::tuple<int, int>> {};

TEST_P(ResumeTest, AResumedBisectionRecordsTheSameRowsAndReachesTheSameResult) {
  const auto [stop_after, batch] = GetParam();
  make(sized(80, 11));
  config::Config config = test_config();
  config.test.runs_per_batch = static_cast<uint32_t>(batch);
  config.build.command = {"./build.sh"};

  store::Store reference = memory_store();
  const int64_t reference_id = create_running(reference, history_, config);
  ASSERT_EQ(run(reference_id, &reference).value_or(BisectionState::kFailed),
            BisectionState::kFound);
  const std::vector<Row> expected = rows_of(reference, reference_id);
  ASSERT_GT(expected.size(), static_cast<size_t>(stop_after));

  const int64_t id = create_running(store_, history_, config);
  auto inner = FakeRunner::flaky(bad_, 30);
  runner_.calls.clear();
  runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
    if (runner_.calls.size() == static_cast<size_t>(stop_after) + 1) stop_ = true;  // mid-run
    return inner(checkout, index);
  };
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kPaused);
  EXPECT_EQ(rows_of(store_, id).size(), static_cast<size_t>(stop_after));  // abandoned: absent
  EXPECT_EQ(store_.get_bisection(id)->state, BisectionState::kPaused);

  stop_ = false;
  runner_.fn = inner;
  ASSERT_TRUE(store_.claim_bisection(id, ::getpid(), 3000).has_value());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(rows_of(store_, id), expected);
  const auto result = result_of(store_, id);
  const auto reference_result = result_of(reference, reference_id);
  EXPECT_EQ(result["culprit"], reference_result["culprit"]);
  EXPECT_EQ(result["confidence"], reference_result["confidence"]);
  EXPECT_EQ(result["credible_set"], reference_result["credible_set"]);
}

// A paused bisection that another bisection of the same test then decides: its resume ends on the
// stored runs without checking anything out, and the checkout the first session made (a kernel
// tree and its build directory, for a kernel) must still go. It used to stay, with nothing able
// to remove it (cancel refuses an ended bisection).
TEST_F(BisectorTest, AResumedBisectionThatEndsWithoutACheckoutStillRemovesTheOldOne) {
  make(sized(40, 11));
  const int64_t first = create_running(store_, history_, test_config());
  const FakeRunner::Fn inner = FakeRunner::flaky(bad_, 30);
  runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
    if (runner_.calls.size() == 3) stop_ = true;
    return inner(checkout, index);
  };
  ASSERT_EQ(run(first).value_or(BisectionState::kFailed), BisectionState::kPaused);
  const std::filesystem::path checkout = worktree_path(options().worktree_root, first);
  ASSERT_TRUE(std::filesystem::exists(checkout));
  stop_ = false;
  runner_.fn = inner;
  const int64_t second = create_running(store_, history_, test_config());
  ASSERT_EQ(run(second).value_or(BisectionState::kFailed), BisectionState::kFound);
  const size_t calls = runner_.calls.size();
  ASSERT_TRUE(store_.claim_bisection(first, ::getpid(), 3000).has_value());
  ASSERT_EQ(run(first).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(runner_.calls.size(), calls) << "decided by the other bisection's runs";
  EXPECT_FALSE(std::filesystem::exists(checkout));
}

// A guest runner ends a batch at a crash (the boot is over); the session logs the batch and plans
// again. A session that ends right there (here: paused by another process after the batch) must
// resume into that new plan, not into the rest of the old batch, or the resumed bisection records
// other rows than an uninterrupted one.
class EndsBatchAtACrashRunner final : public run::Runner {
 public:
  EndsBatchAtACrashRunner(FakeRunner* target, std::function<void()> after_crash)
      : target_(target), after_crash_(std::move(after_crash)) {}
  base::Result<run::RunResult> run(const build::CommitCheckout& c, uint32_t i) override {
    return target_->run(c, i);
  }
  base::Status run_batch(const build::CommitCheckout& checkout, uint32_t first_index,
                         uint32_t count, const run::RunSink& sink) override {
    for (uint32_t k = 0; k < count; ++k) {
      FB_ASSIGN_OR_RETURN(run::RunResult result, target_->run(checkout, first_index + k));
      const bool crashed = result.outcome == store::RunOutcome::kCrash;
      FB_ASSIGN_OR_RETURN(const bool go_on, sink(result));
      if (crashed) {
        if (after_crash_) after_crash_();
        return {};
      }
      if (!go_on) return {};
    }
    return {};
  }

 private:
  FakeRunner* target_;
  std::function<void()> after_crash_;
};

TEST_F(BisectorTest, AResumeAfterABatchACrashEndedPlansAgainAsTheUninterruptedSessionDid) {
  make(sized(60, 11));
  config::Config config = test_config();
  config.test.runs_per_batch = 8;
  const FakeRunner::Fn crashes = [flaky = FakeRunner::flaky(bad_, 30)](
                                     const build::CommitCheckout& checkout, uint32_t index) {
    base::Result<run::RunResult> result = flaky(checkout, index);
    if (result && result->outcome == store::RunOutcome::kFail) {
      result->outcome = store::RunOutcome::kCrash;
      result->signature = "BUG: kernel NULL pointer dereference in ext4_dio_write_iter";
      result->crash_titles = {*result->signature};
    }
    return result;
  };
  runner_.fn = crashes;
  const auto executors = [this](std::function<void()> after_crash) {
    return [this, after_crash](const config::Config&) -> base::Result<engine::Executors> {
      engine::Executors made;
      made.builder = std::make_unique<ForwardingBuilder>(&builder_);
      made.runner = std::make_unique<EndsBatchAtACrashRunner>(&runner_, after_crash);
      return made;
    };
  };
  store::Store reference = memory_store();
  const int64_t reference_id = create_running(reference, history_, config);
  {
    Bisector bisector(reference, clock_, executors(nullptr), options());
    ASSERT_EQ(bisector.run(reference_id).value_or(BisectionState::kFailed), BisectionState::kFound);
  }
  const std::vector<Row> expected = rows_of(reference, reference_id);

  // After the first crash the session is stopped (Ctrl-C, a daemon's SIGTERM: the flag), or
  // another process pauses the bisection; either way after the runner ended the batch and before
  // the session planned again.
  for (const bool by_flag : {true, false}) {
    SCOPED_TRACE(by_flag ? "stopped" : "paused by another process");
    store::Store store = memory_store();
    const int64_t id = create_running(store, history_, config);
    bool stopped = false;
    {
      Bisector bisector(
          store, clock_, executors([&] {
            if (stopped) return;
            stopped = true;
            if (by_flag) {
              stop_ = true;
            } else {
              ASSERT_TRUE(store.set_state(id, BisectionState::kPaused, 2000, "paused"));
            }
          }),
          options());
      ASSERT_EQ(bisector.run(id).value_or(BisectionState::kFailed), BisectionState::kPaused);
    }
    ASSERT_TRUE(stopped);
    stop_ = false;
    ASSERT_TRUE(store.claim_bisection(id, ::getpid(), 3000).has_value());
    {
      Bisector bisector(store, clock_, executors(nullptr), options());
      ASSERT_EQ(bisector.run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
    }
    EXPECT_EQ(rows_of(store, id), expected);
  }
}

INSTANTIATE_TEST_SUITE_P(StopPoints, ResumeTest,
                         ::testing::Combine(::testing::Values(1, 3, 6, 13),
                                            ::testing::Values(0, 4)));

// ---- the revert check (decision.revert_check) ---------------------------------------------------

// Fails in `percent` of runs where the checkout holds the planted commit's bug/marker, as a real
// reproducer judges the tree in front of it; `also` fails that often too.
FakeRunner::Fn marker_runner(uint32_t percent, std::set<std::string> also = {}) {
  return [percent, also = std::move(also)](const build::CommitCheckout& checkout,
                                           uint32_t index) -> base::Result<run::RunResult> {
    run::RunResult outcome;
    const bool bad =
        std::filesystem::exists(std::filesystem::path(checkout.worktree) / "bug" / "marker") ||
        also.count(checkout.sha) > 0;
    const bool fails = bad && draw(checkout.sha, index) % 100 < percent;
    outcome.outcome = fails ? store::RunOutcome::kFail : store::RunOutcome::kPass;
    outcome.duration = std::chrono::milliseconds(5);
    return outcome;
  };
}

config::Config revert_check_config() {
  config::Config config = test_config();
  config.build.command = {"./build.sh"};
  config.decision.revert_check = true;
  return config;
}

TEST_F(BisectorTest, TheRevertCheckPassesWhenTheBadCommitWithTheCulpritRevertedStopsFailing) {
  make(sized(60, 3));
  runner_.fn = marker_runner(30);
  const int64_t id = create_running(store_, history_, revert_check_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["culprit"]["sha"], history_.planted_sha());
  const auto& revert = result["checks"]["revert"];
  EXPECT_EQ(revert["status"], "pass") << revert.dump();
  EXPECT_EQ(revert["reverted"], history_.planted_sha());
  EXPECT_EQ(revert["onto"], history_.tip);
  const std::string commit = revert["commit"].get<std::string>();
  EXPECT_EQ(commit.size(), 40u);
  // Not a commit of the user's repository, which gains no object.
  EXPECT_EQ(std::count(history_.shas.begin(), history_.shas.end(), commit), 0);
  EXPECT_EQ(git(history_.repo, {"cat-file", "--batch-check"}, commit + "\n"),
            commit + " missing\n");
  EXPECT_EQ(revert["fails"], 0);
  EXPECT_GE(revert["probability_fixed"].get<double>(), 0.995);
  // Its runs are this bisection's last, at the revert commit, numbered from 0, on its own build.
  const std::vector<Row> rows = rows_of(store_, id);
  const size_t check_runs = revert["runs"].get<size_t>();
  ASSERT_GE(check_runs, 5u);
  ASSERT_GT(rows.size(), check_runs);
  for (size_t k = 0; k < check_runs; ++k) {
    EXPECT_EQ(rows[rows.size() - check_runs + k], Row(commit, k, "pass"));
  }
  EXPECT_NE(std::get<0>(rows[rows.size() - check_runs - 1]), commit);
  EXPECT_EQ(builder_.built.back(), commit);
  EXPECT_EQ(result["runs"].get<size_t>(), rows.size());
  EXPECT_EQ(revert["own_runs"].get<size_t>(), check_runs);
  // The search's answer and runs are those of the same bisection without the check.
  config::Config plain = revert_check_config();
  plain.decision.revert_check = false;
  store::Store reference = memory_store();
  const int64_t reference_id = create_running(reference, history_, plain);
  ASSERT_EQ(run(reference_id, &reference).value_or(BisectionState::kFailed),
            BisectionState::kFound);
  EXPECT_EQ(rows_of(reference, reference_id),
            std::vector<Row>(rows.begin(), rows.end() - static_cast<ptrdiff_t>(check_runs)));
  EXPECT_FALSE(result_of(reference, reference_id).contains("checks"));
}

TEST_F(BisectorTest, TheRevertChecksRunIndicesFollowRunsStoredWhileItsRevertWasBuilt) {
  // Two daemon workers checking the same revert: while this one builds it, the other stores
  // three runs there. Its first run must not repeat their FLAKEBISECT_RUN indices (it did when
  // the index was read before the build, seen under `daemon --jobs 2` on a real kernel).
  make(sized(60, 3));
  runner_.fn = marker_runner(30);
  const config::Config config = revert_check_config();
  const int64_t id = create_running(store_, history_, config);
  const std::string identity = store_.get_bisection(id)->spec.test_identity;
  std::string revert_sha;
  builder_.fn = [&](const build::CommitCheckout& checkout) -> base::Result<build::BuildOutcome> {
    const bool candidate = std::count(history_.shas.begin(), history_.shas.end(), checkout.sha) > 0;
    if (!candidate && revert_sha.empty()) {
      revert_sha = checkout.sha;
      store_runs_of_another_bisection(config, identity, checkout.sha, store::RunOutcome::kPass);
    }
    return build::BuildOutcome{};
  };
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  ASSERT_FALSE(revert_sha.empty()) << "the revert was never built";
  std::set<std::pair<std::string, int64_t>> seen;
  auto all = store_.runs_for(identity);
  ASSERT_TRUE(all.has_value());
  size_t at_revert = 0;
  for (const store::RunRecord& r : *all) {
    EXPECT_TRUE(seen.emplace(r.sha, r.run_index).second) << r.sha << " index " << r.run_index;
    at_revert += r.sha == revert_sha;
  }
  EXPECT_GT(at_revert, 3U) << "the check made no runs of its own";
}

// ---- the verify check ---------------------------------------------------------------------

// A bisection like create_running's, with `good` as its good end.
int64_t create_with_good(store::Store& store, const History& history, const std::string& good,
                         const config::Config& config) {
  engine::BisectRequest request{history.repo.native(), {good}, history.tip, config};
  auto spec = engine::prepare_bisection(request);
  EXPECT_TRUE(spec.has_value()) << (spec ? "" : spec.error().message());
  return store.create_bisection(*spec, 1000, ::getpid()).value_or(0);
}

TEST_F(BisectorTest, TheVerifyCheckRunsTheUntestedParentOfAFirstCommitCulprit) {
  // The culprit is the first commit after the good one: the search never runs its parent, so
  // the verdict rests on the good end being good. The verify check runs it, and it passes.
  make(sized(60, 3));
  runner_.fn = marker_runner(30);
  const std::string parent = history_.shas[history_.parents[history_.planted].front()];
  const int64_t id = create_with_good(store_, history_, parent, test_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["culprit"]["sha"], history_.planted_sha());
  const auto& verify = result["checks"]["verify"];
  EXPECT_EQ(verify["status"], "pass") << verify.dump();
  EXPECT_EQ(verify["culprit"], history_.planted_sha());
  EXPECT_EQ(verify["commit"], parent);
  EXPECT_EQ(verify["fails"], 0);
  EXPECT_GE(verify["runs"].get<int>(), 3);
  EXPECT_GE(verify["probability_good"].get<double>(), 0.995);
  EXPECT_EQ(verify["own_runs"], verify["runs"]);
  size_t at_parent = 0;
  for (const auto& call : runner_.calls) at_parent += call.sha == parent;
  EXPECT_EQ(at_parent, verify["runs"].get<size_t>());
  EXPECT_FALSE(result["checks"].contains("revert"));
}

TEST_F(BisectorTest, AGoodEndThatFailsLikeABadCommitMakesTheBisectionInconclusive) {
  // The "good" commit the user gave already has the bug (it passed a few times by hand): every
  // candidate is bad, and without the check the first one would be named with full confidence.
  make(sized(60, 3));
  runner_.fn = marker_runner(30);
  config::Config config = revert_check_config();
  // FAIL is weighed against a prior of 0.9 that the user's good commit is good: here it comes
  // after 10 runs (3 failures). Against the search's confidence (0.995 and more, which says
  // nothing of the parent) it took 15, past this cap.
  config.decision.verify_check_max_runs = 12;
  const int64_t id = create_with_good(store_, history_, history_.planted_sha(), config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kInconclusive);
  const auto result = result_of(store_, id);
  EXPECT_TRUE(result["culprit"].is_null()) << result.dump();
  const auto& verify = result["checks"]["verify"];
  EXPECT_EQ(verify["status"], "fail") << verify.dump();
  EXPECT_EQ(verify["commit"], history_.planted_sha());
  EXPECT_GE(verify["fails"].get<int>(), 1);
  EXPECT_LE(verify["probability_good"].get<double>(), 0.005);
  EXPECT_THAT(result["reason"].get<std::string>(), HasSubstr("older than the range"));
  EXPECT_THAT(result["reason"].get<std::string>(),
              HasSubstr("the culprit's parent " + history_.planted_sha().substr(0, 12)));
  EXPECT_FALSE(result["checks"].contains("revert")) << "no revert check of a wrong range";
  EXPECT_TRUE(result["credible_set"].empty()) << "no commit of a refuted range is offered";
  EXPECT_EQ(result["credible_set_size"], 0);
}

TEST_F(BisectorTest, TheVerifyCheckRunsOnlyWhereTheSearchDidNotWeighTheParent) {
  make(sized(60, 3));
  runner_.fn = marker_runner(30);
  // The planted commit sits inside the range: its parent is a candidate.
  const int64_t inside = create_running(store_, history_, test_config());
  ASSERT_EQ(run(inside).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_FALSE(result_of(store_, inside).contains("checks"));
  // Switched off, a first-commit culprit is named as before, on the user's word.
  config::Config off = test_config();
  off.decision.verify_check = false;
  const std::string parent = history_.shas[history_.parents[history_.planted].front()];
  store::Store other = memory_store();
  const int64_t id = create_with_good(other, history_, parent, off);
  ASSERT_EQ(run(id, &other).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_FALSE(result_of(other, id).contains("checks"));
}

TEST_F(BisectorTest, TheRevertCheckFailsWhenTheRevertStillFailsLikeABadCommit) {
  make(sized(60, 3));
  // The bug needs the culprit and something else: with the culprit reverted it still fails.
  runner_.fn = [this, inner = marker_runner(30)](const build::CommitCheckout& checkout,
                                                 uint32_t index) -> base::Result<run::RunResult> {
    if (std::count(history_.shas.begin(), history_.shas.end(), checkout.sha) == 0) {
      return marker_runner(30, {checkout.sha})(checkout, index);
    }
    return inner(checkout, index);
  };
  const int64_t id = create_running(store_, history_, revert_check_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto revert = result_of(store_, id)["checks"]["revert"];
  EXPECT_EQ(revert["status"], "fail") << revert.dump();
  EXPECT_GE(revert["fails"].get<int>(), 1);
  EXPECT_LE(revert["probability_fixed"].get<double>(), 0.005);
  const auto events = store_.events(id).value();
  EXPECT_THAT(events.back().message, HasSubstr("revert check: fail"));
}

TEST_F(BisectorTest, ARevertThatDoesNotBuildIsReportedWithTheEndOfItsLog) {
  make(sized(60, 3));
  runner_.fn = marker_runner(30);
  builder_.fn = [this](const build::CommitCheckout& checkout) -> base::Result<build::BuildOutcome> {
    build::BuildOutcome outcome;
    if (std::count(history_.shas.begin(), history_.shas.end(), checkout.sha) == 0) {
      outcome.ok = false;
      outcome.detail = "exit 2";
      outcome.log_tail = "make: *** [vmlinux] Error 2\n";
    }
    return outcome;
  };
  const int64_t id = create_running(store_, history_, revert_check_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto revert = result_of(store_, id)["checks"]["revert"];
  EXPECT_EQ(revert["status"], "build_failed") << revert.dump();
  EXPECT_THAT(revert["detail"].get<std::string>(), HasSubstr("make: *** [vmlinux] Error 2"));
  EXPECT_EQ(revert["runs"], 0);
}

TEST_F(BisectorTest, ARevertThatConflictsNamesThePaths) {
  make(sized(60, 3));
  // A commit on top of the bad one edits the file the culprit added: git revert conflicts.
  git(history_.repo, {"checkout", "-q", history_.tip});
  write_text(history_.repo / "bug" / "marker", "planted, then changed\n");
  git(history_.repo, {"commit", "-qam", "fs: change the marker"});
  history_.tip = trim(git(history_.repo, {"rev-parse", "HEAD"}));
  runner_.fn = marker_runner(30);
  const int64_t id = create_running(store_, history_, revert_check_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto revert = result_of(store_, id)["checks"]["revert"];
  EXPECT_EQ(revert["status"], "conflict") << revert.dump();
  EXPECT_EQ(revert["conflicts"], nlohmann::json::array({"bug/marker"}));
  EXPECT_EQ(revert["conflict_count"], 1);
  EXPECT_TRUE(revert["commit"].is_null());
}

// The culprit is the root of an unrelated history merged into the range: it has no parent to
// revert to, so the check ends inconclusive instead of pausing the bisection at every resume.
TEST_F(BisectorTest, ACulpritWithNoParentMakesTheRevertCheckInconclusive) {
  const fs::path repo = dir_ / "roots";
  fs::create_directories(repo);
  git(repo, {"init", "-q", "-b", "main"});
  const auto commit = [&](const std::string& file, const std::string& message) {
    write_text(repo / file, message + "\n");
    git(repo, {"add", "-A"});
    git(repo, {"commit", "-q", "-m", message});
    return trim(git(repo, {"rev-parse", "HEAD"}));
  };
  history_.repo = repo;
  history_.root = commit("a", "base");
  commit("b", "main work");
  git(repo, {"checkout", "-q", "--orphan", "other"});
  git(repo, {"rm", "-q", "-rf", "."});
  const std::string orphan = commit("bug/marker", "other: import with the bug");
  git(repo, {"checkout", "-q", "main"});
  git(repo, {"merge", "-q", "--allow-unrelated-histories", "-m", "merge other", "other"});
  history_.tip = commit("c", "more work");
  runner_.fn = marker_runner(100);
  config::Config config = revert_check_config();
  const int64_t id = create_running(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["culprit"]["sha"], orphan);
  const auto& revert = result["checks"]["revert"];
  EXPECT_EQ(revert["status"], "inconclusive") << revert.dump();
  EXPECT_THAT(revert["detail"].get<std::string>(), HasSubstr("root commit"));
}

// A build's product in the worktree (untracked, so the next checkout removes it), and a runner
// that tests the product, not the sources: a run without a build of its commit in front of it
// fails, as a missing binary would.
void build_products(FakeBuilder& builder) {
  builder.fn = [](const build::CommitCheckout& checkout) -> base::Result<build::BuildOutcome> {
    const fs::path worktree(checkout.worktree);
    write_text(worktree / "product", fs::exists(worktree / "bug" / "marker") ? "bad" : "good");
    return build::BuildOutcome{};
  };
}

FakeRunner::Fn product_runner(uint32_t percent) {
  return [percent](const build::CommitCheckout& checkout,
                   uint32_t index) -> base::Result<run::RunResult> {
    run::RunResult outcome;
    outcome.duration = std::chrono::milliseconds(5);
    const fs::path product = fs::path(checkout.worktree) / "product";
    const bool fails = !fs::exists(product) ||
                       (read_text(product) == "bad" && draw(checkout.sha, index) % 100 < percent);
    outcome.outcome = fails ? store::RunOutcome::kFail : store::RunOutcome::kPass;
    return outcome;
  };
}

TEST_F(BisectorTest, AStopDuringTheRevertCheckResumesItWithTheSameCommitAndRuns) {
  make(sized(60, 3));
  build_products(builder_);
  store::Store reference = memory_store();
  runner_.fn = product_runner(30);
  const int64_t reference_id = create_running(reference, history_, revert_check_config());
  ASSERT_EQ(run(reference_id, &reference).value_or(BisectionState::kFailed),
            BisectionState::kFound);
  const std::vector<Row> expected = rows_of(reference, reference_id);
  const auto reference_result = result_of(reference, reference_id);
  ASSERT_EQ(reference_result["checks"]["revert"]["status"], "pass");
  const std::string commit = reference_result["checks"]["revert"]["commit"];

  const int64_t id = create_running(store_, history_, revert_check_config());
  runner_.calls.clear();
  pause_at_third_run_of(id, commit, product_runner(30));
  size_t at_commit = 0;
  for (const Row& row : rows_of(store_, id)) at_commit += std::get<0>(row) == commit ? 1 : 0;
  EXPECT_EQ(at_commit, 2u);  // the third was abandoned

  const size_t builds_before = builder_.built.size();
  ASSERT_TRUE(store_.claim_bisection(id, ::getpid(), 3000).has_value());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  EXPECT_EQ(rows_of(store_, id), expected);
  EXPECT_EQ(result_of(store_, id)["checks"], reference_result["checks"]);
  // The resumed session builds the revert again before running it, as it would a candidate:
  // the first session's product is gone with the checkout.
  EXPECT_EQ(std::count(builder_.built.begin() + static_cast<ptrdiff_t>(builds_before),
                       builder_.built.end(), commit),
            1);
}

// A second bisection of the same test finds the check decided by the first one's runs at the same
// revert commit: it neither builds nor runs anything, and says the same.
TEST_F(BisectorTest, ARevertCheckDecidedByStoredRunsNeitherBuildsNorRuns) {
  make(sized(60, 3));
  build_products(builder_);
  runner_.fn = product_runner(30);
  const int64_t first = create_running(store_, history_, revert_check_config());
  ASSERT_EQ(run(first).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto checks = result_of(store_, first)["checks"];
  ASSERT_EQ(checks["revert"]["status"], "pass");
  builder_.built.clear();
  runner_.calls.clear();
  const int64_t second = create_running(store_, history_, revert_check_config());
  ASSERT_EQ(run(second).value_or(BisectionState::kFailed), BisectionState::kFound);
  nlohmann::json second_checks = result_of(store_, second)["checks"];
  EXPECT_EQ(second_checks["revert"]["own_runs"], 0);  // its runs were all the first one's
  second_checks["revert"]["own_runs"] = checks["revert"]["own_runs"];
  EXPECT_EQ(second_checks, checks);
  EXPECT_TRUE(builder_.built.empty());
  EXPECT_TRUE(runner_.calls.empty());
}

// A resumed check whose rebuild fails keeps the runs the earlier build made in its result.
TEST_F(BisectorTest, ARevertRebuildThatFailsAfterRunsKeepsThemInTheResult) {
  make(sized(60, 3));
  build_products(builder_);
  store::Store reference = memory_store();
  runner_.fn = product_runner(30);
  const int64_t reference_id = create_running(reference, history_, revert_check_config());
  ASSERT_EQ(run(reference_id, &reference).value_or(BisectionState::kFailed),
            BisectionState::kFound);
  const std::string commit = result_of(reference, reference_id)["checks"]["revert"]["commit"];

  const int64_t id = create_running(store_, history_, revert_check_config());
  pause_at_third_run_of(id, commit, product_runner(30));
  builder_.fn = [&](const build::CommitCheckout& checkout) -> base::Result<build::BuildOutcome> {
    build::BuildOutcome outcome;
    outcome.ok = checkout.sha != commit;
    outcome.log_tail = "cc1: out of memory allocating 65536 bytes\n";
    return outcome;
  };
  ASSERT_TRUE(store_.claim_bisection(id, ::getpid(), 3000).has_value());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto revert = result_of(store_, id)["checks"]["revert"];
  EXPECT_EQ(revert["status"], "build_failed") << revert.dump();
  EXPECT_EQ(revert["runs"], 2);
  EXPECT_TRUE(revert["probability_fixed"].is_null()) << "no verdict, as the reports say";
  EXPECT_THAT(revert["detail"].get<std::string>(),
              HasSubstr("out of memory allocating 65536 bytes (after 2 runs with an earlier "
                        "build: 0 of 2 runs of"));
}

// The culprit is the bad commit itself: its revert has the tree of a commit the search built, and
// is still built before its runs (the worktree holds another commit's products by then).
TEST_F(BisectorTest, TheRevertOfTheBadCommitItselfIsBuiltBeforeItRuns) {
  HistoryOptions options = sized(40, 5);
  options.planted_at = 1.0;
  make(options);
  ASSERT_EQ(history_.planted_sha(), history_.tip);
  build_products(builder_);
  runner_.fn = product_runner(40);
  const int64_t id = create_running(store_, history_, revert_check_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto result = result_of(store_, id);
  EXPECT_EQ(result["culprit"]["sha"], history_.tip);
  EXPECT_EQ(result["checks"]["revert"]["status"], "pass") << result["checks"].dump();
  EXPECT_EQ(builder_.built.back(), result["checks"]["revert"]["commit"]);
}

// Runs that neither pass nor fail (here hangs, which test.failure_outcomes leaves out) count
// toward decision.revert_check_max_runs, so a revert that always hangs ends the check.
TEST_F(BisectorTest, TheRevertCheckCapCountsRunsThatNeitherPassNorFail) {
  make(sized(60, 3));
  runner_.fn = [this, inner = marker_runner(30)](const build::CommitCheckout& checkout,
                                                 uint32_t index) -> base::Result<run::RunResult> {
    if (std::count(history_.shas.begin(), history_.shas.end(), checkout.sha) == 0) {
      run::RunResult hang;
      hang.outcome = store::RunOutcome::kHang;
      hang.detail = "timed out after 1 s";
      return hang;
    }
    return inner(checkout, index);
  };
  config::Config config = revert_check_config();
  config.decision.revert_check_max_runs = 7;
  const int64_t id = create_running(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto revert = result_of(store_, id)["checks"]["revert"];
  EXPECT_EQ(revert["status"], "inconclusive") << revert.dump();
  EXPECT_EQ(revert["runs"], 0);
  EXPECT_THAT(revert["detail"].get<std::string>(), HasSubstr("7 more neither passed nor failed"));
  size_t at_revert = 0;
  for (const RunCall& call : runner_.calls) {
    at_revert += std::count(history_.shas.begin(), history_.shas.end(), call.sha) == 0 ? 1 : 0;
  }
  EXPECT_EQ(at_revert, 7u);
}

TEST_F(BisectorTest, ThePlannerLearnsItsCostsFromMeasuredBuildsAndRuns) {
  make(sized(60, 7));
  builder_.fn = [](const build::CommitCheckout&) -> base::Result<build::BuildOutcome> {
    build::BuildOutcome outcome;
    outcome.duration = std::chrono::milliseconds(600);
    return outcome;
  };
  runner_.fn = FakeRunner::flaky(bad_, 100);  // 5 ms per run
  const int64_t id = create_running(store_, history_, test_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto batches = events_of(store_, id, kEventBatch);
  ASSERT_FALSE(batches.empty());
  EXPECT_GE(batches[0]["runs"].get<int64_t>(), 1);
  EXPECT_EQ(batches[0]["run_ms"].get<int64_t>(), 5 * batches[0]["runs"].get<int64_t>());
  const auto plans = events_of(store_, id, kEventPlan);
  ASSERT_GE(plans.size(), 2U);
  // The first plan has only the config (build 10, boot 0, run 1); after the first batch a run
  // (5 ms, counted as the 10 ms floor) is the unit and a build costs 600 ms = 60 runs.
  EXPECT_FALSE(plans[0]["costs"]["learned"].get<bool>());
  EXPECT_EQ(plans[0]["costs"]["build"].get<double>(), 10);
  EXPECT_TRUE(plans[1]["costs"]["learned"].get<bool>());
  EXPECT_DOUBLE_EQ(plans[1]["costs"]["build"].get<double>(), 60);
  EXPECT_DOUBLE_EQ(plans[1]["costs"]["boot"].get<double>(), 0);  // the fake clock stands still
  EXPECT_DOUBLE_EQ(plans[1]["costs"]["run"].get<double>(), 1);
  // The log's words: "1 run of", a batch the stop rule cut short with what was planned, and a
  // cost as a plain number (not 2.59e+03).
  const std::regex batch_line(
      R"(^(1 run|([02-9]|[1-9][0-9]+) runs) of [0-9a-f]{12} in [0-9]+ ms \([0-9]+ ms in the runs\)(; [0-9]+ planned)?$)");
  const std::regex plan_line(R"(.* bits for cost [0-9]+\.[0-9]; best so far .*)");
  for (const store::Event& event : store_.events(id).value_or(std::vector<store::Event>{})) {
    if (event.kind == kEventBatch) {
      EXPECT_TRUE(std::regex_match(event.message, batch_line)) << event.message;
    } else if (event.kind == kEventPlan) {
      EXPECT_TRUE(std::regex_match(event.message, plan_line)) << event.message;
    }
  }
}

TEST_F(BisectorTest, AResumedBisectionPlansWithTheCostsLearnedBeforeTheStop) {
  make(sized(60, 7));
  builder_.fn = [](const build::CommitCheckout&) -> base::Result<build::BuildOutcome> {
    build::BuildOutcome outcome;
    outcome.duration = std::chrono::milliseconds(900);
    return outcome;
  };
  auto inner = FakeRunner::flaky(bad_, 100);
  runner_.fn = [&](const build::CommitCheckout& checkout, uint32_t index) {
    if (runner_.calls.size() == 9) stop_ = true;  // in a later batch
    return inner(checkout, index);
  };
  const int64_t id = create_running(store_, history_, test_config());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kPaused);
  const size_t plans_before = events_of(store_, id, kEventPlan).size();
  ASSERT_FALSE(events_of(store_, id, kEventBatch).empty());

  stop_ = false;
  runner_.fn = inner;
  ASSERT_TRUE(store_.claim_bisection(id, ::getpid(), 3000).has_value());
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  const auto plans = events_of(store_, id, kEventPlan);
  ASSERT_GT(plans.size(), plans_before);
  // The new session's first plan already knows a build costs 900 ms / 10 ms = 90 runs.
  EXPECT_TRUE(plans[plans_before]["costs"]["learned"].get<bool>());
  EXPECT_DOUBLE_EQ(plans[plans_before]["costs"]["build"].get<double>(), 90);
}

TEST_F(BisectorTest, WithoutCostLearningThePlannerKeepsTheConfiguredCosts) {
  make(sized(60, 7));
  runner_.fn = FakeRunner::flaky(bad_, 100);
  config::Config config = test_config();
  config.decision.learn_costs = false;
  config.decision.build_cost = 7;
  const int64_t id = create_running(store_, history_, config);
  ASSERT_EQ(run(id).value_or(BisectionState::kFailed), BisectionState::kFound);
  for (const nlohmann::json& plan : events_of(store_, id, kEventPlan)) {
    EXPECT_EQ(plan["costs"]["build"].get<double>(), 7);
    EXPECT_GE(plan["costs"]["build_charged"].get<double>(), 7);
  }
}

TEST(XfstestsConfigName, IsTheFilesystemAndTheBlockSizeAsKvmXfstestsNamesThem) {
  config::XfstestsConfig xfstests;
  config::ScratchConfig scratch;
  EXPECT_EQ(xfstests_config_name(xfstests, scratch), "ext4");
  xfstests.mkfs_options = "-b 1024";
  EXPECT_EQ(xfstests_config_name(xfstests, scratch), "ext4/1k");
  xfstests.mkfs_options = "-O ^has_journal -b4096";
  EXPECT_EQ(xfstests_config_name(xfstests, scratch), "ext4/4k");
  xfstests.mkfs_options = "-b 1000";
  scratch.fstype = "xfs";
  EXPECT_EQ(xfstests_config_name(xfstests, scratch), "xfs/1000");
  xfstests.mkfs_options = "-m crc=1 -b size=1024";
  EXPECT_EQ(xfstests_config_name(xfstests, scratch), "xfs/1k");
}

TEST(RunnerConfig, AGuestBisectionFromBeforeTheConsoleShowedKernInfoGoesOnAtLoglevel5) {
  config::Config config;
  config.qemu.emplace();
  config.qemu->kernel = "/boot/vmlinuz";
  config.qemu->append = {"loglevel=3"};  // the user's own still wins: it comes after
  config.reproducer.emplace();
  const std::vector<InputFile> inputs = {{"reproducer", "/r", "aaaa"}};
  store::BisectionSpec spec;
  spec.inputs_json = inputs_to_json(inputs);
  spec.test_identity = test_identity(config, reproducer_digest(config, inputs));
  EXPECT_EQ(runner_config(config, spec).qemu->console_loglevel, 7u);
  spec.test_identity =
      test_identity(config, reproducer_digest(config, inputs), GuestEra::kBeforeConsoleLoglevel7);
  EXPECT_EQ(runner_config(config, spec).qemu->console_loglevel, 5u);
  // Not in qemu.append, which the KVM probe shares (its banner needs loglevel 7).
  EXPECT_THAT(runner_config(config, spec).qemu->append, ::testing::ElementsAre("loglevel=3"));
  spec.inputs_json.clear();
  EXPECT_EQ(runner_config(config, spec).qemu->console_loglevel, 5u);
}

TEST(RunnerConfig, ABisectionFromBeforeTheGuestWatchedSilenceGoesOnUnwatched) {
  config::Config config;
  config.qemu.emplace();
  config.qemu->kernel = "/boot/vmlinuz";
  config.reproducer.emplace();
  config.test.no_output_timeout = std::chrono::seconds(60);
  const std::vector<InputFile> inputs = {{"reproducer", "/r", "aaaa"}};
  store::BisectionSpec spec;
  spec.inputs_json = inputs_to_json(inputs);
  spec.test_identity = test_identity(config, reproducer_digest(config, inputs));
  EXPECT_EQ(runner_config(config, spec).test.no_output_timeout, std::chrono::seconds(60));
  spec.test_identity = "an identity of an earlier flakebisect";
  EXPECT_EQ(runner_config(config, spec).test.no_output_timeout, std::chrono::seconds(0));
  spec.inputs_json.clear();  // stored before schema 2: certainly earlier
  EXPECT_EQ(runner_config(config, spec).test.no_output_timeout, std::chrono::seconds(0));
  // Stored after the watch but before the console showed KERN_INFO: watched, at loglevel 5.
  spec.inputs_json = inputs_to_json(inputs);
  spec.test_identity =
      test_identity(config, reproducer_digest(config, inputs), GuestEra::kBeforeConsoleLoglevel7);
  EXPECT_EQ(runner_config(config, spec).test.no_output_timeout, std::chrono::seconds(60));
  // Nothing to decide for a host test.
  config::Config host;
  host.test.no_output_timeout = std::chrono::seconds(60);
  EXPECT_EQ(runner_config(host, spec).test.no_output_timeout, std::chrono::seconds(60));
}

}  // namespace
}  // namespace flakebisect::engine
