#include "store/transaction.h"

#include <utility>

namespace flakebisect::store {

using base::ErrorCode;
using base::Result;
using base::Status;

Result<Transaction> Transaction::begin(const Database& db, Kind kind) {
  if (kind == Kind::kWrite && db.read_only()) {
    // SQLite would take BEGIN IMMEDIATE as a read and fail only at the first change; say at once
    // why nothing can be written.
    return db.error(SQLITE_READONLY);
  }
  if (db.in_transaction()) {
    if (kind == Kind::kWrite && sqlite3_txn_state(db.handle(), "main") != SQLITE_TXN_WRITE) {
      return base::make_error(ErrorCode::kFailed,
                              "store {}: a write cannot start inside a read transaction",
                              db.path());
    }
    // One name for every level: ROLLBACK TO and RELEASE act on the innermost savepoint of that
    // name, which is this one as long as transactions end in reverse order.
    FB_TRY(db.exec("SAVEPOINT fb_nested"));
    return Transaction(&db, /*nested=*/true);
  }
  FB_TRY(db.exec(kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(&db, /*nested=*/false);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(other.db_), nested_(other.nested_), active_(std::exchange(other.active_, false)) {}

Transaction::~Transaction() { rollback(); }

Status Transaction::commit() {
  if (!active_) {
    return base::make_error(ErrorCode::kFailed, "store {}: commit of a finished transaction",
                            db_->path());
  }
  if (!db_->in_transaction()) {
    // SQLite rolled the whole transaction back on its own (disk full, I/O error); an earlier call
    // already reported why.
    active_ = false;
    return base::make_error(ErrorCode::kFailed, "store {}: transaction was rolled back",
                            db_->path());
  }
  FB_TRY(db_->exec(nested_ ? "RELEASE fb_nested" : "COMMIT"));
  active_ = false;
  return {};
}

void Transaction::rollback() {
  if (!active_) {
    return;
  }
  active_ = false;
  if (!db_->in_transaction()) {
    return;
  }
  if (nested_) {
    (void)db_->exec("ROLLBACK TO fb_nested");
    (void)db_->exec("RELEASE fb_nested");
  } else {
    (void)db_->exec("ROLLBACK");
  }
}

}  // namespace flakebisect::store
