// Transactions, locking and faults: what other connections see, when a write gives up, and what a
// full disk leaves behind.
#include "store/transaction.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "store/store.h"
#include "store/store_test_support.h"

namespace flakebisect::store {
namespace {

using base::ErrorCode;
using testing::create_mode;
using testing::sample_run;
using testing::sample_spec;
using testing::TempDir;

class TwoConnections : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("s.db");
    auto writer = Store::open(path_, create_mode(/*busy_timeout_ms=*/100));
    ASSERT_TRUE(writer.has_value()) << writer.error().message();
    writer_.emplace(std::move(writer).value());
    auto reader = Store::open(path_, create_mode(/*busy_timeout_ms=*/100));
    ASSERT_TRUE(reader.has_value()) << reader.error().message();
    reader_.emplace(std::move(reader).value());
    auto id = writer_->create_bisection(sample_spec(), 1);
    ASSERT_TRUE(id.has_value()) << id.error().message();
    bisection_ = *id;
  }

  size_t runs_seen_by(Store& store) {
    auto runs = store.runs_for("identity-1");
    EXPECT_TRUE(runs.has_value()) << runs.error().message();
    return runs ? runs->size() : 0;
  }

  TempDir dir_;
  std::string path_;
  std::optional<Store> writer_;
  std::optional<Store> reader_;
  int64_t bisection_ = 0;
};

TEST_F(TwoConnections, RecordedRunIsVisibleToOthersAtOnce) {
  ASSERT_OK(writer_->record_run(sample_run(bisection_, "identity-1", "abc")));
  EXPECT_EQ(runs_seen_by(*reader_), 1U);
}

TEST_F(TwoConnections, RunIsVisibleOnlyAfterCommitAndRollbackLeavesNothing) {
  {
    ASSERT_OK_AND_ASSIGN(Transaction txn, writer_->begin_write());
    ASSERT_OK(writer_->record_run(sample_run(bisection_, "identity-1", "abc")));
    EXPECT_EQ(runs_seen_by(*writer_), 1U);  // its own transaction sees it
    EXPECT_EQ(runs_seen_by(*reader_), 0U);
  }  // destroyed uncommitted: rolled back
  EXPECT_EQ(runs_seen_by(*writer_), 0U);
  EXPECT_EQ(runs_seen_by(*reader_), 0U);

  ASSERT_OK_AND_ASSIGN(Transaction txn, writer_->begin_write());
  ASSERT_OK(writer_->record_run(sample_run(bisection_, "identity-1", "abc")));
  ASSERT_OK(writer_->append_event({0, bisection_, 2, "run", "1 of 1", std::nullopt}));
  EXPECT_EQ(runs_seen_by(*reader_), 0U);
  ASSERT_OK(txn.commit());
  EXPECT_EQ(runs_seen_by(*reader_), 1U);
  ASSERT_OK_AND_ASSIGN(auto log, reader_->events(bisection_));
  EXPECT_EQ(log.size(), 1U);
}

TEST_F(TwoConnections, NestedTransactionRollsBackAloneInsideItsParent) {
  ASSERT_OK_AND_ASSIGN(Transaction outer, writer_->begin_write());
  ASSERT_OK(writer_->record_run(sample_run(bisection_, "identity-1", "kept")));
  {
    ASSERT_OK_AND_ASSIGN(Transaction inner, writer_->begin_write());
    EXPECT_TRUE(inner.nested());
    ASSERT_OK(writer_->record_run(sample_run(bisection_, "identity-1", "dropped")));
  }
  ASSERT_OK(outer.commit());
  ASSERT_OK_AND_ASSIGN(auto runs, reader_->runs_for("identity-1"));
  ASSERT_EQ(runs.size(), 1U);
  EXPECT_EQ(runs[0].sha, "kept");
}

TEST_F(TwoConnections, ReadTransactionSeesOneSnapshot) {
  ASSERT_OK_AND_ASSIGN(Transaction snapshot, reader_->begin_read());
  EXPECT_EQ(runs_seen_by(*reader_), 0U);
  ASSERT_OK(writer_->record_run(sample_run(bisection_, "identity-1", "abc")));
  EXPECT_EQ(runs_seen_by(*reader_), 0U);
  ASSERT_OK(snapshot.commit());
  EXPECT_EQ(runs_seen_by(*reader_), 1U);
}

TEST_F(TwoConnections, WriteInsideAReadTransactionIsRefused) {
  ASSERT_OK_AND_ASSIGN(Transaction snapshot, reader_->begin_read());
  EXPECT_EQ(runs_seen_by(*reader_), 0U);
  auto id = reader_->record_run(sample_run(bisection_, "identity-1", "abc"));
  EXPECT_FALSE(id.has_value());
}

TEST_F(TwoConnections, WriteGivesUpWithBusyWhenAnotherProcessHoldsTheLock) {
  auto other = Database::open(path_, SQLITE_OPEN_READWRITE);
  ASSERT_TRUE(other.has_value());
  ASSERT_OK(other->exec("BEGIN IMMEDIATE"));

  auto start = std::chrono::steady_clock::now();
  auto id = writer_->record_run(sample_run(bisection_, "identity-1", "abc"));
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code(), ErrorCode::kBusy);
  EXPECT_EQ(id.error().message(), "store " + path_ + " is locked by another process");
  EXPECT_GE(waited, std::chrono::milliseconds(80));  // it waited about busy_timeout_ms first
  auto claim = writer_->claim_next_queued(1, 2);
  ASSERT_FALSE(claim.has_value());
  EXPECT_EQ(claim.error().code(), ErrorCode::kBusy);

  // Readers are not blocked by the writer, and a store can still be opened.
  EXPECT_EQ(runs_seen_by(*reader_), 0U);
  ASSERT_OK(Store::open(path_));

  ASSERT_OK(other->exec("ROLLBACK"));
  ASSERT_OK(writer_->record_run(sample_run(bisection_, "identity-1", "abc")));
  EXPECT_EQ(runs_seen_by(*reader_), 1U);
}

TEST_F(TwoConnections, DiskFullIsAnIoErrorAndKeepsCommittedRows) {
  ASSERT_OK_AND_ASSIGN(int64_t kept,
                       writer_->record_run(sample_run(bisection_, "identity-1", "abc")));
  const Database& db = writer_->database_for_testing();
  // Cap the file at its current size plus two pages: SQLite then reports SQLITE_FULL, as on a full
  // disk.
  auto stmt = db.prepare("PRAGMA page_count");
  ASSERT_TRUE(stmt.has_value());
  ASSERT_TRUE(stmt->step().value_or(false));
  int64_t pages = stmt->column_int64(0);
  ASSERT_OK(db.exec(("PRAGMA max_page_count = " + std::to_string(pages + 2)).c_str()));

  RunRecord big = sample_run(bisection_, "identity-1", "abc");
  big.detail = std::string(1 << 20, 'x');
  auto id = writer_->record_run(big);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code(), ErrorCode::kIo);
  EXPECT_NE(id.error().message().find("disk full"), std::string::npos) << id.error().message();

  ASSERT_OK_AND_ASSIGN(auto runs, reader_->runs_for("identity-1"));
  ASSERT_EQ(runs.size(), 1U);
  EXPECT_EQ(runs[0].id, kept);

  // Once there is space again, writing continues.
  ASSERT_OK(db.exec("PRAGMA max_page_count = 1073741823"));
  ASSERT_OK(writer_->record_run(big));
  EXPECT_EQ(runs_seen_by(*reader_), 2U);
}

TEST(Transaction, CommitTwiceIsAnError) {
  auto store = Store::open(":memory:");
  ASSERT_TRUE(store.has_value());
  ASSERT_OK_AND_ASSIGN(Transaction txn, store->begin_write());
  ASSERT_OK(txn.commit());
  // A stale commit() while a later transaction is open must not commit that one's work.
  int64_t id = 0;
  {
    ASSERT_OK_AND_ASSIGN(Transaction later, store->begin_write());
    ASSERT_OK_AND_ASSIGN(id, store->create_bisection(sample_spec(), 1));
    const auto again = txn.commit();
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().message(), "store :memory:: commit of a finished transaction");
    later.rollback();
  }
  EXPECT_FALSE(store->get_bisection(id).has_value()) << "the stale commit committed it";
}

}  // namespace
}  // namespace flakebisect::store
