// Transaction: an RAII SQLite transaction that rolls back unless commit() succeeds.
//
// A write transaction is BEGIN IMMEDIATE: it takes the database's write lock up front (waiting up
// to the connection's busy timeout, then failing with kBusy), so it can never fail halfway with a
// lock upgrade error. A read transaction is BEGIN DEFERRED: every query inside it sees one
// snapshot, so a reader never sees half of a writer's work even across several queries.
//
// Transactions nest: one begun while another is open on the same connection is a SAVEPOINT,
// released into the outer transaction on commit() and undone on rollback. Nothing is durable until
// the outermost commit(). A write may not nest inside a read transaction (it could not upgrade its
// snapshot safely); that is reported as an error. A write on a connection opened read-only fails
// at begin, naming the file that is not writable (see sqlite_error).
//
// Thread rules: belongs to the thread using its Database. Transactions on one connection must end
// in the reverse order of their start (scoped RAII objects do this).
#pragma once

#include "base/result.h"
#include "store/sqlite.h"

namespace flakebisect::store {

class Transaction {
 public:
  enum class Kind { kRead, kWrite };

  static base::Result<Transaction> begin(const Database& db, Kind kind);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Commits (outermost) or releases the savepoint (nested). On failure the transaction is still
  // open and is rolled back by the destructor. Commit at most once.
  base::Status commit();
  // Undoes everything since begin(); errors are ignored (SQLite may already have rolled back after
  // a disk-full or I/O error).
  void rollback();

  bool nested() const { return nested_; }

 private:
  Transaction(const Database* db, bool nested) : db_(db), nested_(nested) {}

  const Database* db_;
  bool nested_;
  bool active_ = true;
};

}  // namespace flakebisect::store
