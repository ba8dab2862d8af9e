// Store: the SQLite database that is flakebisect's only source of truth, behind a typed API.
//
// What it guarantees:
// - Durability: WAL with synchronous=FULL; every write method is one BEGIN IMMEDIATE transaction
// (or
//   a savepoint inside the caller's Transaction), so a row either is committed whole or is absent.
//   A run counts only once record_run() has returned.
// - Identity: open() refuses, and never rewrites, a file that is not a SQLite database, a SQLite
//   database of another application (application_id), a store that fails PRAGMA quick_check, or a
//   store from a newer flakebisect (user_version). See schema.h for migrations.
// - Privacy: a created store file is 0600 (its -wal/-shm follow the file's mode) and a created
//   parent directory 0700, whatever the umask. Opening gives the owner read and write on a
//   -wal/-shm of this user that lacks them (SQLite copies a read-only store's 0444 to them), so
//   that reading a read-only store never breaks later writes.
// - Read-only stores: a store this user cannot write (the file, or a -wal/-shm it would need to
//   create) is opened read-only, so reading works; a write then fails (kIo) naming the file and its
//   mode. Such an open does not migrate: an outdated store is refused until a writable open.
// - Errors: a lock held past busy_timeout_ms is kBusy ("store <path> is locked by another
// process");
//   disk full and I/O errors are kIo, leaving committed rows intact; a violated constraint (unknown
//   bisection, invalid JSON) is kInvalidInput; a missing row is kNotFound.
//
// It holds no business rules: callers decide what state comes next and what counts as evidence. It
// keeps two invariants: owner_pid is set exactly while a bisection is running, and committed runs
// and events are never changed.
//
// Thread rules: one Store per thread (the connection is not shared; open one Store per thread).
// Several processes may open the same store; they coordinate through SQLite's file locks: writers
// serialise, readers never block and see only committed transactions. Only one daemon may serve a
// store (see daemon_lock.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/records.h"
#include "store/sqlite.h"
#include "store/transaction.h"

namespace flakebisect::store {

struct OpenMode {
  // Create the file (0600) and missing parent directories (0700) when absent; otherwise a missing
  // or empty file is kNotFound. ":memory:" is always created.
  bool create_if_missing = false;
  // How long a write waits for another process's write lock before failing with kBusy.
  int busy_timeout_ms = 5000;
};

// The process a running bisection belongs to. The methods that take an owner_pid (create_bisection,
// the claim_ methods) record with it the start stamp of the process that has that pid then (the
// caller, in every real use), so that a later process given the same pid is not taken for it.
struct OwnerProcess {
  int64_t pid = 0;
  // base::process_start_stamp(pid) at the claim; empty where /proc could not tell, and in a
  // bisection claimed before schema 5.
  std::string start_stamp;
};

class Store {
 public:
  // Opens (and with mode.create_if_missing creates) the store at `path`; ":memory:" gives a private
  // in-memory store for tests. Applies pending migrations. When this user cannot write the store
  // file, or cannot create the -wal/-shm SQLite needs (a directory it cannot write), the store is
  // opened read-only (read_only()): reads work, writes fail with
  //   "store s.db: cannot write: this user cannot write s.db (mode 0444; chmod u+w s.db to ...)"
  // and a store at an older schema version is refused ("... needs a writable open: ..."). When the
  // -wal or -shm is missing and cannot be created, the store is refused, naming them and why.
  static base::Result<Store> open(const std::string& path, const OpenMode& mode = {});

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  const std::string& path() const { return db_->path(); }
  // True when the store was opened read-only (see open()).
  bool read_only() const { return db_->read_only(); }

  // Groups several calls into one atomic unit: the typed methods below join it as savepoints, and
  // nothing is visible to others until commit(). Destroying it uncommitted rolls everything back.
  base::Result<Transaction> begin_write();
  // A consistent snapshot for several reads (a report, `status`). No writes inside it.
  base::Result<Transaction> begin_read();

  // --- bisections ---
  // Inserts a bisection. Without owner_pid it is queued for a daemon; with one it starts running,
  // owned by that process (a foreground `run`), so no daemon can claim it first (see OwnerProcess).
  base::Result<int64_t> create_bisection(const BisectionSpec& spec, int64_t now_ms,
                                         std::optional<int64_t> owner_pid = std::nullopt);
  base::Result<Bisection> get_bisection(int64_t id);
  // All bisections, oldest first.
  base::Result<std::vector<Bisection>> list_bisections();
  // Moves a bisection to any state but kRunning (use the claim_ methods for that), clearing its
  // owner and replacing its error message (nullopt clears it).
  base::Status set_state(int64_t id, BisectionState state, int64_t now_ms,
                         const std::optional<std::string>& error = std::nullopt);
  // set_state for the process that owns a running bisection: it changes the state only while the
  // bisection is still running under owner_pid, in the same statement. false, with nothing
  // changed, when someone else changed it first (a user's cancel, another process's claim), whose
  // state then stands: a read then a write could undo a cancel made between them.
  base::Result<bool> set_state_if_owner(int64_t id, int64_t owner_pid, BisectionState state,
                                        int64_t now_ms,
                                        const std::optional<std::string>& error = std::nullopt);
  // Stores the bisection's result (a JSON document); the state is left to set_state.
  base::Status set_result(int64_t id, const std::string& result_json, int64_t now_ms);
  // For the daemon: atomically takes the oldest queued bisection and marks it running, owned by
  // owner_pid. nullopt when nothing is queued. Two daemons (or workers) never claim the same one.
  base::Result<std::optional<Bisection>> claim_next_queued(int64_t owner_pid, int64_t now_ms);
  // Atomically marks bisection `id` running, owned by owner_pid, if it is queued or paused (a
  // `resume`). kBusy if it is already running, kInvalidInput if it has finished, kNotFound if
  // absent.
  base::Result<Bisection> claim_bisection(int64_t id, int64_t owner_pid, int64_t now_ms);
  // Pauses every running bisection whose owner is no longer alive, so it can be resumed; logs a
  // "recovered" event for each. owner_alive gets the owner's pid and start stamp (see OwnerProcess;
  // base::process_still_alive fits) and is called inside the write transaction, so it must be
  // quick. Returns the ids paused, in id order.
  base::Result<std::vector<int64_t>> recover_running(
      const std::function<bool(int64_t pid, const std::string& start_stamp)>& owner_alive,
      int64_t now_ms);
  // The process that bisection `id` is running under; nullopt when it is not running. kNotFound
  // if absent.
  base::Result<std::optional<OwnerProcess>> owner(int64_t id);

  // --- candidates ---
  // Replaces the bisection's candidate set.
  base::Status put_candidates(int64_t bisection_id, const std::vector<Candidate>& candidates);
  // The candidate set in idx order.
  base::Result<std::vector<Candidate>> get_candidates(int64_t bisection_id);

  // --- builds ---
  base::Result<std::optional<BuildRecord>> find_build(const std::string& tree_id,
                                                      const std::string& config_hash);
  // Records a build; a build with the same (tree_id, config_hash) is replaced in place (a rebuild),
  // keeping its id so runs that refer to it stay valid. Returns the id.
  base::Result<int64_t> record_build(const BuildRecord& build);

  // --- runs ---
  // Records one run in its own committed transaction (or as a savepoint of the caller's). Returns
  // its id. The run counts from the moment this returns.
  base::Result<int64_t> record_run(const RunRecord& run);
  // Every run with this test identity, from any bisection, in id (recording) order.
  base::Result<std::vector<RunRecord>> runs_for(const std::string& test_identity);
  // The same, restricted to one commit.
  base::Result<std::vector<RunRecord>> runs_for(const std::string& test_identity,
                                                const std::string& sha);
  // One past the highest run_index stored with this test identity at this commit (0 when none):
  // the FLAKEBISECT_RUN a new run there takes. One indexed query, not a read of every run.
  base::Result<int64_t> next_run_index(const std::string& test_identity, const std::string& sha);
  // Takes `count` FLAKEBISECT_RUN indexes at this commit for a batch of process `owner_pid` (with
  // its base::process_start_stamp), in one write transaction: from `floor` on, after every run
  // stored there (next_run_index) and every range still taken by a live process
  // (`alive(pid, start_stamp)`, as recover_running's); ranges of dead processes are dropped.
  // Returns the range's id, for release_run_indexes, and its first index.
  base::Result<std::pair<int64_t, int64_t>> reserve_run_indexes(
      const std::string& test_identity, const std::string& sha, int64_t floor, int64_t count,
      int64_t owner_pid, const std::string& owner_start, int64_t now_ms,
      const std::function<bool(int64_t pid, const std::string& start_stamp)>& alive);
  // Gives back a range reserve_run_indexes took, once its batch has ended.
  base::Status release_run_indexes(int64_t reservation_id);
  // The runs a bisection produced, in id order.
  base::Result<std::vector<RunRecord>> runs_for_bisection(int64_t bisection_id);

  // --- events ---
  base::Result<int64_t> append_event(const Event& event);
  // The bisection's events with id > after_id, in order (after_id lets `watch` follow the log).
  base::Result<std::vector<Event>> events(int64_t bisection_id, int64_t after_id = 0);

  // The underlying connection, for tests that inject faults (PRAGMA max_page_count) or inspect the
  // schema. Writing through it bypasses the store's invariants.
  const Database& database_for_testing() const { return *db_; }

 private:
  explicit Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  // Heap-allocated so Statements and Transactions keep a stable pointer while the Store moves.
  std::unique_ptr<Database> db_;
};

}  // namespace flakebisect::store
