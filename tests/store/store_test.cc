// The typed API: bisections and their states, candidates, builds, runs, events.
#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "base/process.h"
#include "store/store_test_support.h"
#include "support/dead_pid.h"

namespace flakebisect::store {
namespace {

using base::ErrorCode;
using ::testing::ElementsAre;
using testing::sample_run;
using testing::sample_spec;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::open(":memory:");
    ASSERT_TRUE(store.has_value()) << store.error().message();
    store_.emplace(std::move(store).value());
  }
  Store& store() { return *store_; }

  std::optional<Store> store_;
};

std::vector<int64_t> ids_of(const std::vector<RunRecord>& runs) {
  std::vector<int64_t> ids;
  ids.reserve(runs.size());
  for (const RunRecord& r : runs) {
    ids.push_back(r.id);
  }
  return ids;
}

TEST_F(StoreTest, CreatedBisectionIsQueuedWithItsSpec) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1000));
  ASSERT_OK_AND_ASSIGN(Bisection b, store().get_bisection(id));
  EXPECT_EQ(b.id, id);
  EXPECT_EQ(b.created_at_ms, 1000);
  EXPECT_EQ(b.updated_at_ms, 1000);
  EXPECT_EQ(b.state, BisectionState::kQueued);
  EXPECT_EQ(b.spec.repo, "/src/linux");
  EXPECT_EQ(b.spec.good_shas, sample_spec().good_shas);
  EXPECT_EQ(b.spec.config_toml, sample_spec().config_toml);
  EXPECT_EQ(b.spec.test_identity, "identity-1");
  EXPECT_FALSE(b.owner_pid.has_value());
  EXPECT_FALSE(b.result_json.has_value());
  EXPECT_FALSE(b.error.has_value());
}

TEST_F(StoreTest, BisectionCreatedWithAnOwnerStartsRunning) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1, 4242));
  ASSERT_OK_AND_ASSIGN(Bisection b, store().get_bisection(id));
  EXPECT_EQ(b.state, BisectionState::kRunning);
  EXPECT_EQ(b.owner_pid, 4242);
  ASSERT_OK_AND_ASSIGN(auto claimed, store().claim_next_queued(1, 2));
  EXPECT_FALSE(claimed.has_value());
}

TEST_F(StoreTest, MissingBisectionIsNotFound) {
  auto b = store().get_bisection(99);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code(), ErrorCode::kNotFound);
  auto set = store().set_state(99, BisectionState::kCancelled, 1);
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().code(), ErrorCode::kNotFound);
}

TEST_F(StoreTest, ListBisectionsIsOldestFirst) {
  ASSERT_OK_AND_ASSIGN(int64_t a, store().create_bisection(sample_spec("x"), 1));
  ASSERT_OK_AND_ASSIGN(int64_t b, store().create_bisection(sample_spec("y"), 2));
  ASSERT_OK_AND_ASSIGN(auto all, store().list_bisections());
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(all[0].id, a);
  EXPECT_EQ(all[1].id, b);
  EXPECT_EQ(all[1].spec.test_identity, "y");
}

TEST_F(StoreTest, SetStateRecordsErrorAndClearsOwner) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1, 77));
  ASSERT_OK(store().set_state(id, BisectionState::kPaused, 5, std::string("disk full")));
  ASSERT_OK_AND_ASSIGN(Bisection b, store().get_bisection(id));
  EXPECT_EQ(b.state, BisectionState::kPaused);
  EXPECT_EQ(b.error, "disk full");
  EXPECT_FALSE(b.owner_pid.has_value());
  EXPECT_EQ(b.updated_at_ms, 5);
  EXPECT_EQ(b.created_at_ms, 1);
}

TEST_F(StoreTest, SetStateRefusesRunningWithoutAnOwner) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1));
  auto set = store().set_state(id, BisectionState::kRunning, 2);
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().code(), ErrorCode::kInvalidInput);
  // Refused by the API, with the way out, before the schema's CHECK would refuse it too.
  EXPECT_THAT(set.error().message(), ::testing::HasSubstr("without an owner; claim it instead"));
}

TEST_F(StoreTest, SetStateIfOwnerChangesOnlyARunningBisectionItsOwnerStillHolds) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1, 4242));
  // Another process is not the owner: nothing changes.
  ASSERT_OK_AND_ASSIGN(bool changed,
                       store().set_state_if_owner(id, 4243, BisectionState::kPaused, 2));
  EXPECT_FALSE(changed);
  ASSERT_OK_AND_ASSIGN(Bisection b, store().get_bisection(id));
  EXPECT_EQ(b.state, BisectionState::kRunning);
  EXPECT_EQ(b.owner_pid, 4242);
  // A cancel commits first; the owner's pause then changes nothing.
  ASSERT_OK(store().set_state(id, BisectionState::kCancelled, 3, "cancelled by the user"));
  ASSERT_OK_AND_ASSIGN(changed,
                       store().set_state_if_owner(id, 4242, BisectionState::kPaused, 4, "stopped"));
  EXPECT_FALSE(changed);
  ASSERT_OK_AND_ASSIGN(b, store().get_bisection(id));
  EXPECT_EQ(b.state, BisectionState::kCancelled);
  EXPECT_EQ(b.error, "cancelled by the user");
  // The owner of a running bisection moves it on.
  ASSERT_OK_AND_ASSIGN(int64_t other, store().create_bisection(sample_spec(), 5, 4242));
  ASSERT_OK_AND_ASSIGN(changed, store().set_state_if_owner(other, 4242, BisectionState::kFound, 6));
  EXPECT_TRUE(changed);
  ASSERT_OK_AND_ASSIGN(b, store().get_bisection(other));
  EXPECT_EQ(b.state, BisectionState::kFound);
  EXPECT_FALSE(b.owner_pid);
  // No such bisection is an error, not "someone else's".
  EXPECT_FALSE(store().set_state_if_owner(other + 100, 4242, BisectionState::kPaused, 7));
}

TEST_F(StoreTest, SetResultStoresJsonAndRejectsInvalidJson) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1));
  ASSERT_OK(store().set_result(id, R"({"culprit":"abc","confidence":0.99})", 3));
  ASSERT_OK_AND_ASSIGN(Bisection b, store().get_bisection(id));
  EXPECT_EQ(b.result_json, R"({"culprit":"abc","confidence":0.99})");
  auto bad = store().set_result(id, "{not json", 4);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidInput);
}

TEST_F(StoreTest, ClaimNextQueuedTakesTheOldestQueuedBisection) {
  ASSERT_OK_AND_ASSIGN(int64_t first, store().create_bisection(sample_spec(), 30));
  ASSERT_OK_AND_ASSIGN(int64_t running, store().create_bisection(sample_spec(), 10, 5));
  ASSERT_OK_AND_ASSIGN(int64_t second, store().create_bisection(sample_spec(), 20));
  ASSERT_OK_AND_ASSIGN(int64_t cancelled, store().create_bisection(sample_spec(), 5));
  ASSERT_OK(store().set_state(cancelled, BisectionState::kCancelled, 6));

  ASSERT_OK_AND_ASSIGN(auto a, store().claim_next_queued(100, 50));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->id, first);  // queue order is insertion order, not the caller's timestamps
  EXPECT_EQ(a->state, BisectionState::kRunning);
  EXPECT_EQ(a->owner_pid, 100);
  EXPECT_EQ(a->updated_at_ms, 50);
  ASSERT_OK_AND_ASSIGN(auto b, store().claim_next_queued(101, 51));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->id, second);
  ASSERT_OK_AND_ASSIGN(auto none, store().claim_next_queued(102, 52));
  EXPECT_FALSE(none.has_value());
  ASSERT_OK_AND_ASSIGN(Bisection r, store().get_bisection(running));
  EXPECT_EQ(r.owner_pid, 5);
}

TEST_F(StoreTest, ClaimBisectionResumesPausedButNotRunningOrFinished) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1, 10));
  auto busy = store().claim_bisection(id, 11, 2);
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code(), ErrorCode::kBusy);

  ASSERT_OK(store().set_state(id, BisectionState::kPaused, 3, std::string("interrupted")));
  ASSERT_OK_AND_ASSIGN(Bisection resumed, store().claim_bisection(id, 11, 4));
  EXPECT_EQ(resumed.state, BisectionState::kRunning);
  EXPECT_EQ(resumed.owner_pid, 11);
  EXPECT_FALSE(resumed.error.has_value());

  ASSERT_OK(store().set_state(id, BisectionState::kFound, 5));
  auto finished = store().claim_bisection(id, 12, 6);
  ASSERT_FALSE(finished.has_value());
  EXPECT_EQ(finished.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(store().claim_bisection(999, 12, 6).error().code(), ErrorCode::kNotFound);
}

// The owner's start stamp as stored, or "NULL".
std::string stored_start(Store& store, int64_t id) {
  auto stmt =
      store.database_for_testing().prepare("SELECT owner_start FROM bisections WHERE id = ?1");
  EXPECT_TRUE(stmt.has_value());
  if (!stmt || !stmt->bind_all(id) || !stmt->step().value_or(false)) return "no row";
  return stmt->column_optional_text(0).value_or("NULL");
}

TEST_F(StoreTest, AnOwnerIsRecordedWithItsStartStampWhileTheBisectionRuns) {
  const int64_t self = ::getpid();
  const std::string stamp = base::process_start_stamp(self);
  ASSERT_FALSE(stamp.empty());
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1, self));
  ASSERT_OK_AND_ASSIGN(auto owner, store().owner(id));
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, self);
  EXPECT_EQ(owner->start_stamp, stamp);

  ASSERT_OK(store().set_state(id, BisectionState::kPaused, 2));
  ASSERT_OK_AND_ASSIGN(owner, store().owner(id));
  EXPECT_FALSE(owner.has_value());
  EXPECT_EQ(stored_start(store(), id), "NULL");

  ASSERT_OK(store().claim_bisection(id, self, 3));
  ASSERT_OK_AND_ASSIGN(owner, store().owner(id));
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->start_stamp, stamp);
  ASSERT_OK_AND_ASSIGN(bool ours, store().set_state_if_owner(id, self, BisectionState::kPaused, 4));
  EXPECT_TRUE(ours);
  EXPECT_EQ(stored_start(store(), id), "NULL");

  ASSERT_OK_AND_ASSIGN(int64_t queued, store().create_bisection(sample_spec(), 5));
  ASSERT_OK_AND_ASSIGN(auto claimed, store().claim_next_queued(self, 6));
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->id, queued);
  EXPECT_EQ(stored_start(store(), queued), stamp);

  // A pid without a process has no stamp: the pid alone, as in a row from before stamps.
  const int64_t gone = test_support::dead_pid();
  ASSERT_OK_AND_ASSIGN(int64_t unstamped, store().create_bisection(sample_spec(), 7, gone));
  ASSERT_OK_AND_ASSIGN(owner, store().owner(unstamped));
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, gone);
  EXPECT_EQ(owner->start_stamp, "");
  EXPECT_EQ(store().owner(999).error().code(), ErrorCode::kNotFound);
}

// A container whose flakebisect is pid 1 each time: the owner that died had pid 1, and so has the
// process asking. Its liveness check gets the stamp recorded with the pid, which tells them apart.
TEST_F(StoreTest, RecoverRunningPausesABisectionWhoseOwnersPidWasGivenToAnotherProcess) {
  const int64_t self = ::getpid();
  ASSERT_OK_AND_ASSIGN(int64_t reused, store().create_bisection(sample_spec(), 1, self));
  ASSERT_OK_AND_ASSIGN(int64_t legacy, store().create_bisection(sample_spec(), 1, self));
  ASSERT_OK(store().database_for_testing().execute(
      "UPDATE bisections SET owner_start = NULL WHERE id = ?1", legacy));
  const std::string recorded = base::process_start_stamp(self);
  // The process that has the pid now started later than the one that claimed `reused`.
  const std::string now = recorded + "0";
  std::vector<std::pair<int64_t, std::string>> asked;
  ASSERT_OK_AND_ASSIGN(auto recovered, store().recover_running(
                                           [&](int64_t pid, const std::string& start_stamp) {
                                             asked.emplace_back(pid, start_stamp);
                                             return start_stamp.empty() || start_stamp == now;
                                           },
                                           9));
  EXPECT_THAT(recovered, ElementsAre(reused));
  EXPECT_THAT(asked, ElementsAre(std::make_pair(self, recorded), std::make_pair(self, "")));
  ASSERT_OK_AND_ASSIGN(Bisection r, store().get_bisection(reused));
  EXPECT_EQ(r.state, BisectionState::kPaused);
  EXPECT_EQ(stored_start(store(), reused), "NULL");
  ASSERT_OK_AND_ASSIGN(Bisection l, store().get_bisection(legacy));
  EXPECT_EQ(l.state, BisectionState::kRunning) << "without a stamp, a live pid is a live owner";
  // Recovered, it is claimed by the process that has the pid now.
  ASSERT_OK(store().claim_bisection(reused, self, 10));
}

TEST_F(StoreTest, RecoverRunningPausesBisectionsWhoseOwnerIsGone) {
  ASSERT_OK_AND_ASSIGN(int64_t dead, store().create_bisection(sample_spec(), 1, 100));
  ASSERT_OK_AND_ASSIGN(int64_t alive, store().create_bisection(sample_spec(), 1, 200));
  ASSERT_OK_AND_ASSIGN(int64_t queued, store().create_bisection(sample_spec(), 1));
  std::vector<int64_t> asked;
  ASSERT_OK_AND_ASSIGN(auto recovered, store().recover_running(
                                           [&](int64_t pid, const std::string&) {
                                             asked.push_back(pid);
                                             return pid == 200;
                                           },
                                           9));
  EXPECT_THAT(recovered, ElementsAre(dead));
  EXPECT_THAT(asked, ElementsAre(100, 200));

  ASSERT_OK_AND_ASSIGN(Bisection d, store().get_bisection(dead));
  EXPECT_EQ(d.state, BisectionState::kPaused);
  EXPECT_FALSE(d.owner_pid.has_value());
  EXPECT_THAT(d.error.value_or(""), ::testing::HasSubstr("100"));
  ASSERT_OK_AND_ASSIGN(Bisection a, store().get_bisection(alive));
  EXPECT_EQ(a.state, BisectionState::kRunning);
  ASSERT_OK_AND_ASSIGN(Bisection q, store().get_bisection(queued));
  EXPECT_EQ(q.state, BisectionState::kQueued);

  ASSERT_OK_AND_ASSIGN(auto log, store().events(dead));
  ASSERT_EQ(log.size(), 1U);
  EXPECT_EQ(log[0].kind, "recovered");
  EXPECT_EQ(log[0].data_json, R"({"owner_pid":100})");
  // A recovered bisection can be resumed.
  ASSERT_OK(store().claim_bisection(dead, 300, 10));
}

TEST_F(StoreTest, CandidatesRoundTripInIndexOrderAndPutReplaces) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1));
  std::vector<Candidate> dag = {
      {0, "s0", {}, "first"},
      {2, "s2", {0, 1}, "merge"},
      {1, "s1", {0}, "second"},
  };
  ASSERT_OK(store().put_candidates(id, dag));
  ASSERT_OK_AND_ASSIGN(auto got, store().get_candidates(id));
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[0].sha, "s0");
  EXPECT_TRUE(got[0].parents.empty());
  EXPECT_EQ(got[1].sha, "s1");
  EXPECT_THAT(got[2].parents, ElementsAre(0U, 1U));
  EXPECT_EQ(got[2].subject, "merge");

  ASSERT_OK(store().put_candidates(id, {{0, "only", {}, "x"}}));
  ASSERT_OK_AND_ASSIGN(got, store().get_candidates(id));
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].sha, "only");
}

TEST_F(StoreTest, CandidatesOfAnUnknownBisectionAreRejected) {
  auto put = store().put_candidates(42, {{0, "s0", {}, "x"}});
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code(), ErrorCode::kInvalidInput);
}

TEST_F(StoreTest, BuildIsFoundByTreeAndConfigAndReplacedInPlace) {
  ASSERT_OK_AND_ASSIGN(auto none, store().find_build("tree", "cfg"));
  EXPECT_FALSE(none.has_value());

  BuildRecord build;
  build.sha = "sha1";
  build.tree_id = "tree";
  build.config_hash = "cfg";
  build.status = BuildStatus::kFailed;
  build.log_tail = "error: foo";
  build.duration_ms = 60000;
  build.created_at_ms = 7;
  ASSERT_OK_AND_ASSIGN(int64_t id, store().record_build(build));
  ASSERT_OK_AND_ASSIGN(auto found, store().find_build("tree", "cfg"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, id);
  EXPECT_EQ(found->status, BuildStatus::kFailed);
  EXPECT_EQ(found->log_tail, "error: foo");
  EXPECT_FALSE(found->artifact_path.has_value());

  ASSERT_OK_AND_ASSIGN(auto other_config, store().find_build("tree", "cfg2"));
  EXPECT_FALSE(other_config.has_value());

  build.status = BuildStatus::kOk;
  build.artifact_path = "/cache/bzImage";
  ASSERT_OK_AND_ASSIGN(int64_t again, store().record_build(build));
  EXPECT_EQ(again, id);
  ASSERT_OK_AND_ASSIGN(found, store().find_build("tree", "cfg"));
  EXPECT_EQ(found->status, BuildStatus::kOk);
  EXPECT_EQ(found->artifact_path, "/cache/bzImage");
}

TEST_F(StoreTest, RunRoundTripsEveryField) {
  ASSERT_OK_AND_ASSIGN(int64_t bisection, store().create_bisection(sample_spec(), 1));
  BuildRecord build;
  build.tree_id = "t";
  build.config_hash = "c";
  ASSERT_OK_AND_ASSIGN(int64_t build_id, store().record_build(build));
  RunRecord run = sample_run(bisection, "identity-1", "abc", RunOutcome::kCrash);
  run.build_id = build_id;
  run.run_index = 3;
  run.signature = "BUG: unable to handle page fault in ext4_dio_write_iter";
  run.console_path = "/logs/1.console";
  run.console_sha256 = std::string(64, 'e');
  run.detail = "exit 1";
  run.crash_titles = {"WARNING in __alloc_pages", *run.signature, "quotes \" and \\ and \t"};
  run.test_outcome = RunOutcome::kFail;
  ASSERT_OK_AND_ASSIGN(int64_t id, store().record_run(run));
  ASSERT_OK_AND_ASSIGN(auto runs, store().runs_for_bisection(bisection));
  ASSERT_EQ(runs.size(), 1U);
  const RunRecord& got = runs[0];
  EXPECT_EQ(got.id, id);
  EXPECT_EQ(got.test_identity, run.test_identity);
  EXPECT_EQ(got.sha, run.sha);
  EXPECT_EQ(got.build_id, build_id);
  EXPECT_EQ(got.bisection_id, bisection);
  EXPECT_EQ(got.boot_id, run.boot_id);
  EXPECT_EQ(got.run_index, 3);
  EXPECT_EQ(got.outcome, RunOutcome::kCrash);
  EXPECT_EQ(got.signature, run.signature);
  EXPECT_EQ(got.crash_titles, run.crash_titles);
  EXPECT_EQ(got.test_outcome, RunOutcome::kFail);
  EXPECT_EQ(got.duration_ms, run.duration_ms);
  EXPECT_EQ(got.console_path, run.console_path);
  EXPECT_EQ(got.console_sha256, run.console_sha256);
  EXPECT_EQ(got.detail, run.detail);
  EXPECT_EQ(got.created_at_ms, run.created_at_ms);
}

// The crash titles column, as stored: NULL or the JSON text.
std::string stored_titles(Store& store, int64_t run_id) {
  auto stmt = store.database_for_testing().prepare("SELECT crash_titles FROM runs WHERE id = ?1");
  EXPECT_TRUE(stmt.has_value());
  if (!stmt || !stmt->bind_all(run_id) || !stmt->step().value_or(false)) return "no row";
  return stmt->column_optional_text(0).value_or("NULL");
}

TEST_F(StoreTest, CrashTitlesAreAJsonArrayInConsoleOrderOrNullWhenThereAreNone) {
  ASSERT_OK_AND_ASSIGN(int64_t bisection, store().create_bisection(sample_spec(), 1));
  RunRecord crash = sample_run(bisection, "identity-1", "abc", RunOutcome::kCrash);
  crash.signature = "WARNING in __alloc_pages";
  crash.crash_titles = {"WARNING in __alloc_pages",
                        "BUG: unable to handle page fault in ext4_dio_write_iter"};
  ASSERT_OK_AND_ASSIGN(int64_t crashed, store().record_run(crash));
  ASSERT_OK_AND_ASSIGN(int64_t passed,
                       store().record_run(sample_run(bisection, "identity-1", "abc")));
  EXPECT_EQ(
      stored_titles(store(), crashed),
      R"(["WARNING in __alloc_pages","BUG: unable to handle page fault in ext4_dio_write_iter"])");
  EXPECT_EQ(stored_titles(store(), passed), "NULL");
  ASSERT_OK_AND_ASSIGN(auto runs, store().runs_for("identity-1", "abc"));
  ASSERT_EQ(runs.size(), 2U);
  EXPECT_EQ(runs[0].crash_titles, crash.crash_titles);
  EXPECT_TRUE(runs[1].crash_titles.empty());
}

// The reproducer's own verdict beside a crash: NULL when there is none (every row before schema
// 7), and only a pass, a failure or a skip.
TEST_F(StoreTest, ATestOutcomeIsNullWhenUntoldAndOnlyAVerdictOfTheReproducer) {
  ASSERT_OK_AND_ASSIGN(int64_t bisection, store().create_bisection(sample_spec(), 1));
  ASSERT_OK_AND_ASSIGN(int64_t untold, store().record_run(sample_run(bisection, "identity-1", "abc",
                                                                     RunOutcome::kCrash)));
  ASSERT_OK_AND_ASSIGN(auto runs, store().runs_for_bisection(bisection));
  ASSERT_EQ(runs.size(), 1U);
  EXPECT_EQ(runs[0].test_outcome, std::nullopt);
  auto stmt =
      store().database_for_testing().prepare("SELECT test_outcome IS NULL FROM runs WHERE id = ?1");
  ASSERT_TRUE(stmt.has_value());
  ASSERT_TRUE(stmt->bind_all(untold));
  ASSERT_TRUE(stmt->step().value_or(false));
  EXPECT_EQ(stmt->column_int64(0), 1);
  EXPECT_FALSE(store().database_for_testing().execute(
      "UPDATE runs SET test_outcome = 'crash' WHERE id = ?1", untold))
      << "the reproducer says pass, fail or skip";
}

// A row written by hand (or by a broken build) cannot hold titles that the readers cannot parse.
TEST_F(StoreTest, TheSchemaRefusesCrashTitlesThatAreNotAJsonArray) {
  ASSERT_OK_AND_ASSIGN(int64_t bisection, store().create_bisection(sample_spec(), 1));
  const auto insert = [&](const char* titles) {
    return store().database_for_testing().execute(
        "INSERT INTO runs (test_identity, sha, bisection_id, run_index, outcome, duration_ms, "
        "created_at, crash_titles) VALUES ('i', 's', ?1, 0, 'crash', 0, 0, ?2)",
        bisection, titles);
  };
  for (const char* refused : {"\"WARNING in foo\"", "{\"title\": \"x\"}", "[\"unclosed\"", "42"}) {
    EXPECT_FALSE(insert(refused).has_value()) << refused;
  }
  ASSERT_OK(insert("[\"WARNING in foo\"]"));
}

TEST_F(StoreTest, CrashTitlesThatAreNotValidUtf8AreRejectedNotMangled) {
  ASSERT_OK_AND_ASSIGN(int64_t bisection, store().create_bisection(sample_spec(), 1));
  RunRecord run = sample_run(bisection, "identity-1", "abc", RunOutcome::kCrash);
  run.crash_titles = {"WARNING in \xff"};
  auto id = store().record_run(run);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code(), ErrorCode::kInvalidInput);
  ASSERT_OK_AND_ASSIGN(auto runs, store().runs_for_bisection(bisection));
  EXPECT_TRUE(runs.empty());
}

TEST_F(StoreTest, RunsForIdentityAreSharedAcrossBisectionsInRecordingOrder) {
  ASSERT_OK_AND_ASSIGN(int64_t first, store().create_bisection(sample_spec("same"), 1));
  ASSERT_OK_AND_ASSIGN(int64_t second, store().create_bisection(sample_spec("same"), 2));
  ASSERT_OK_AND_ASSIGN(int64_t other, store().create_bisection(sample_spec("other"), 3));
  ASSERT_OK_AND_ASSIGN(int64_t r1, store().record_run(sample_run(first, "same", "aaa")));
  ASSERT_OK_AND_ASSIGN(int64_t r2, store().record_run(sample_run(other, "other", "aaa")));
  ASSERT_OK_AND_ASSIGN(int64_t r3,
                       store().record_run(sample_run(second, "same", "bbb", RunOutcome::kFail)));
  ASSERT_OK_AND_ASSIGN(int64_t r4, store().record_run(sample_run(first, "same", "bbb")));

  ASSERT_OK_AND_ASSIGN(auto same, store().runs_for("same"));
  EXPECT_THAT(ids_of(same), ElementsAre(r1, r3, r4));
  ASSERT_OK_AND_ASSIGN(auto at_bbb, store().runs_for("same", "bbb"));
  EXPECT_THAT(ids_of(at_bbb), ElementsAre(r3, r4));
  ASSERT_OK_AND_ASSIGN(auto of_other, store().runs_for("other"));
  EXPECT_THAT(ids_of(of_other), ElementsAre(r2));
  ASSERT_OK_AND_ASSIGN(auto of_first, store().runs_for_bisection(first));
  EXPECT_THAT(ids_of(of_first), ElementsAre(r1, r4));
}

TEST_F(StoreTest, TheNextRunIndexIsOnePastTheHighestOfTheTestAtTheCommit) {
  ASSERT_OK_AND_ASSIGN(int64_t first, store().create_bisection(sample_spec("same"), 1));
  ASSERT_OK_AND_ASSIGN(int64_t other, store().create_bisection(sample_spec("other"), 2));
  EXPECT_EQ(store().next_run_index("same", "aaa").value_or(-1), 0);
  for (int64_t index : {0, 7, 3}) {  // out of order and with a gap, as two bisections leave them
    RunRecord run = sample_run(first, "same", "aaa");
    run.run_index = index;
    ASSERT_OK(store().record_run(run));
  }
  RunRecord elsewhere = sample_run(other, "other", "aaa");
  elsewhere.run_index = 40;
  ASSERT_OK(store().record_run(elsewhere));
  EXPECT_EQ(store().next_run_index("same", "aaa").value_or(-1), 8);
  EXPECT_EQ(store().next_run_index("same", "bbb").value_or(-1), 0);
  EXPECT_EQ(store().next_run_index("other", "aaa").value_or(-1), 41);
}

TEST_F(StoreTest, ReservedRunIndexesAreDistinctAcrossLiveOwnersAndADeadOnesAreDropped) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec("same"), 1));
  for (int64_t index : {0, 1, 2}) {
    RunRecord run = sample_run(id, "same", "aaa");
    run.run_index = index;
    ASSERT_OK(store().record_run(run));
  }
  std::set<int64_t> alive = {100, 200};
  // Pid 300 is alive again, but as a later process than the one that took a range (its stamp).
  const auto is_alive = [&](int64_t pid, const std::string& stamp) {
    return alive.count(pid) > 0 && stamp != "old";
  };
  // After the stored runs, then after each range still held, whoever holds it.
  ASSERT_OK_AND_ASSIGN(auto a,
                       store().reserve_run_indexes("same", "aaa", 0, 5, 100, "", 10, is_alive));
  EXPECT_EQ(a.second, 3);
  ASSERT_OK_AND_ASSIGN(auto b,
                       store().reserve_run_indexes("same", "aaa", 0, 4, 200, "", 11, is_alive));
  EXPECT_EQ(b.second, 8);
  ASSERT_OK_AND_ASSIGN(auto c,
                       store().reserve_run_indexes("same", "aaa", 0, 1, 100, "", 12, is_alive));
  EXPECT_EQ(c.second, 12);
  // Another commit, or another test, is not held back; a floor is.
  ASSERT_OK_AND_ASSIGN(auto d,
                       store().reserve_run_indexes("same", "bbb", 0, 2, 100, "", 13, is_alive));
  EXPECT_EQ(d.second, 0);
  ASSERT_OK_AND_ASSIGN(auto e,
                       store().reserve_run_indexes("other", "aaa", 6, 2, 100, "", 14, is_alive));
  EXPECT_EQ(e.second, 6);
  // Given back, a range holds nothing back.
  ASSERT_OK(store().release_run_indexes(c.first));
  ASSERT_OK(store().release_run_indexes(b.first));
  ASSERT_OK_AND_ASSIGN(auto f,
                       store().reserve_run_indexes("same", "aaa", 0, 1, 200, "", 15, is_alive));
  EXPECT_EQ(f.second, 8);
  // The range of a process that died (kill -9 mid-batch) is dropped: a resume starts right after
  // the stored runs again.
  alive = {200};
  ASSERT_OK(store().release_run_indexes(f.first));
  ASSERT_OK_AND_ASSIGN(auto g,
                       store().reserve_run_indexes("same", "aaa", 0, 3, 200, "", 16, is_alive));
  EXPECT_EQ(g.second, 3);
  // A range whose pid went to a later process is dropped too.
  ASSERT_OK_AND_ASSIGN(auto h,
                       store().reserve_run_indexes("same", "ccc", 0, 4, 200, "old", 17, is_alive));
  EXPECT_EQ(h.second, 0);
  ASSERT_OK_AND_ASSIGN(auto i,
                       store().reserve_run_indexes("same", "ccc", 0, 1, 200, "new", 18, is_alive));
  EXPECT_EQ(i.second, 0);
  ASSERT_OK_AND_ASSIGN(auto rows, store().database_for_testing().prepare(
                                      "SELECT count(*) FROM run_index_reservations"));
  ASSERT_OK_AND_ASSIGN(bool row, rows.step());
  ASSERT_TRUE(row);
  EXPECT_EQ(rows.column_int64(0), 4);  // d, e (their owner is dead but at other commits), g, i
}

TEST_F(StoreTest, RunOfAnUnknownBisectionIsRejected) {
  auto id = store().record_run(sample_run(12345, "x", "y"));
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code(), ErrorCode::kInvalidInput);
  ASSERT_OK_AND_ASSIGN(auto runs, store().runs_for("x"));
  EXPECT_TRUE(runs.empty());
}

TEST_F(StoreTest, RecordedRunsCannotBeChanged) {
  ASSERT_OK_AND_ASSIGN(int64_t bisection, store().create_bisection(sample_spec(), 1));
  ASSERT_OK(store().record_run(sample_run(bisection, "i", "s", RunOutcome::kFail)));
  EXPECT_FALSE(store().database_for_testing().exec("UPDATE runs SET outcome = 'pass'").has_value());
  ASSERT_OK_AND_ASSIGN(auto runs, store().runs_for("i"));
  EXPECT_EQ(runs[0].outcome, RunOutcome::kFail);
}

TEST_F(StoreTest, EventsAreAnAppendOnlyLogReadInOrder) {
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(sample_spec(), 1));
  ASSERT_OK_AND_ASSIGN(int64_t other, store().create_bisection(sample_spec(), 1));
  Event plan{0, id, 10, "plan", "test abc123 x8", std::string(R"({"commit":3,"runs":8})")};
  ASSERT_OK_AND_ASSIGN(int64_t e1, store().append_event(plan));
  ASSERT_OK(store().append_event({0, other, 11, "state", "elsewhere", std::nullopt}));
  ASSERT_OK_AND_ASSIGN(int64_t e2,
                       store().append_event({0, id, 12, "state", "found", std::nullopt}));

  ASSERT_OK_AND_ASSIGN(auto log, store().events(id));
  ASSERT_EQ(log.size(), 2U);
  EXPECT_EQ(log[0].id, e1);
  EXPECT_EQ(log[0].at_ms, 10);
  EXPECT_EQ(log[0].kind, "plan");
  EXPECT_EQ(log[0].message, "test abc123 x8");
  EXPECT_EQ(log[0].data_json, plan.data_json);
  EXPECT_EQ(log[1].id, e2);
  EXPECT_FALSE(log[1].data_json.has_value());

  ASSERT_OK_AND_ASSIGN(auto tail, store().events(id, e1));
  ASSERT_EQ(tail.size(), 1U);
  EXPECT_EQ(tail[0].id, e2);

  const Database& db = store().database_for_testing();
  EXPECT_FALSE(db.exec("DELETE FROM events").has_value());
  EXPECT_FALSE(db.exec("UPDATE events SET message = 'rewritten'").has_value());
  auto bad_json = store().append_event({0, id, 13, "plan", "x", std::string("{oops")});
  ASSERT_FALSE(bad_json.has_value());
  EXPECT_EQ(bad_json.error().code(), ErrorCode::kInvalidInput);
}

// Text from commits, consoles and configs is untrusted: NULs, invalid UTF-8, quotes that would
// break a concatenated query, and megabytes must come back byte for byte.
TEST_F(StoreTest, HostileTextRoundTripsByteForByte) {
  std::string nul("a\0b\0", 4);
  std::string invalid_utf8 = "\xff\xfe\xc3\x28 \xed\xa0\x80";
  std::string injection = "x'); DROP TABLE runs; --";
  std::string unicode = "\xe2\x9c\x93 \xf0\x9f\x90\x9b \u00e9\n\r\t";
  std::string huge(1 << 20, 'q');
  for (size_t i = 0; i < huge.size(); i += 4099) {
    huge[i] = static_cast<char>(i % 256);
  }

  BisectionSpec spec = sample_spec(nul + injection);
  spec.repo = unicode;
  spec.config_toml = huge;
  spec.bad_sha = invalid_utf8;
  ASSERT_OK_AND_ASSIGN(int64_t id, store().create_bisection(spec, 1));
  ASSERT_OK_AND_ASSIGN(Bisection b, store().get_bisection(id));
  EXPECT_EQ(b.spec.test_identity, nul + injection);
  EXPECT_EQ(b.spec.repo, unicode);
  EXPECT_EQ(b.spec.config_toml, huge);
  EXPECT_EQ(b.spec.bad_sha, invalid_utf8);

  RunRecord run = sample_run(id, nul + injection, nul);
  run.signature = invalid_utf8;
  run.detail = huge;
  ASSERT_OK(store().record_run(run));
  ASSERT_OK_AND_ASSIGN(auto runs, store().runs_for(nul + injection, nul));
  ASSERT_EQ(runs.size(), 1U);
  EXPECT_EQ(runs[0].sha, nul);
  EXPECT_EQ(runs[0].signature, invalid_utf8);
  EXPECT_EQ(runs[0].detail, huge);
  // "a" is a prefix of the NUL-containing text; it must not match it.
  ASSERT_OK_AND_ASSIGN(auto prefix, store().runs_for("a"));
  EXPECT_TRUE(prefix.empty());

  ASSERT_OK(store().put_candidates(id, {{0, nul, {}, huge + invalid_utf8}}));
  ASSERT_OK_AND_ASSIGN(auto candidates, store().get_candidates(id));
  ASSERT_EQ(candidates.size(), 1U);
  EXPECT_EQ(candidates[0].sha, nul);
  EXPECT_EQ(candidates[0].subject, huge + invalid_utf8);

  ASSERT_OK(store().append_event({0, id, 1, injection, nul + unicode, std::nullopt}));
  ASSERT_OK_AND_ASSIGN(auto log, store().events(id));
  EXPECT_EQ(log.back().kind, injection);
  EXPECT_EQ(log.back().message, nul + unicode);

  ASSERT_OK_AND_ASSIGN(auto all, store().list_bisections());
  EXPECT_EQ(all.size(), 1U);  // the injection text did not run
}

TEST_F(StoreTest, GoodShasThatAreNotValidUtf8AreRejectedNotMangled) {
  BisectionSpec spec = sample_spec();
  spec.good_shas = {"\xff"};
  auto id = store().create_bisection(spec, 1);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code(), ErrorCode::kInvalidInput);
}

TEST(RecordNames, StatesOutcomesAndStatusesRoundTripThroughTheirNames) {
  for (auto s :
       {BisectionState::kQueued, BisectionState::kRunning, BisectionState::kPaused,
        BisectionState::kFound, BisectionState::kInconclusive, BisectionState::kNotReproduced,
        BisectionState::kCancelled, BisectionState::kFailed}) {
    EXPECT_EQ(parse_bisection_state(to_string(s)).value(), s);
  }
  for (auto o : {RunOutcome::kPass, RunOutcome::kFail, RunOutcome::kCrash, RunOutcome::kHang,
                 RunOutcome::kInfra, RunOutcome::kSkip, RunOutcome::kInterrupted}) {
    EXPECT_EQ(parse_run_outcome(to_string(o)).value(), o);
  }
  for (auto b : {BuildStatus::kOk, BuildStatus::kFailed, BuildStatus::kSkip}) {
    EXPECT_EQ(parse_build_status(to_string(b)).value(), b);
  }
  EXPECT_EQ(to_string(BisectionState::kNotReproduced), "not_reproduced");
  EXPECT_EQ(parse_run_outcome("PASS").error().code(), ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace flakebisect::store
