#include "store/schema.h"

#include <array>

namespace flakebisect::store {

namespace {

// Version 1. Notes on choices that the SQL cannot say:
// - STRICT tables (SQLite >= 3.37) so a wrongly typed value is an error, not a silent conversion.
// - Timestamps are INTEGER unix milliseconds from the caller.
// - JSON columns are checked with json_valid so a report never reads back something unparsable.
// - runs and events are immutable once committed (triggers): a committed run is evidence, and the
//   event log is an audit trail. Nothing in the store deletes bisections, so foreign keys need no
//   cascade except for candidates, which belong to their bisection alone.
// - runs are reused across bisections by (test_identity, sha); bisection_id only records which
//   bisection paid for the run.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE bisections (
  id            INTEGER PRIMARY KEY,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  repo          TEXT NOT NULL,
  bad_sha       TEXT NOT NULL,
  good_shas     TEXT NOT NULL CHECK (json_valid(good_shas) AND json_type(good_shas) = 'array'),
  config_toml   TEXT NOT NULL,
  config_hash   TEXT NOT NULL,
  test_identity TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'paused', 'found',
                                               'inconclusive', 'not_reproduced', 'cancelled',
                                               'failed')),
  result_json   TEXT CHECK (result_json IS NULL OR json_valid(result_json)),
  owner_pid     INTEGER,
  error         TEXT,
  -- exactly the running bisections have an owner process
  CHECK ((state = 'running') = (owner_pid IS NOT NULL))
) STRICT;
CREATE INDEX bisections_by_state ON bisections (state, id);

CREATE TABLE candidates (
  bisection_id INTEGER NOT NULL REFERENCES bisections (id) ON DELETE CASCADE,
  idx          INTEGER NOT NULL CHECK (idx >= 0),
  sha          TEXT NOT NULL,
  parents      TEXT NOT NULL CHECK (json_valid(parents) AND json_type(parents) = 'array'),
  subject      TEXT NOT NULL,
  PRIMARY KEY (bisection_id, idx),
  UNIQUE (bisection_id, sha)
) STRICT, WITHOUT ROWID;

CREATE TABLE builds (
  id            INTEGER PRIMARY KEY,
  sha           TEXT NOT NULL,
  tree_id       TEXT NOT NULL,
  config_hash   TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'skip')),
  artifact_path TEXT,
  log_tail      TEXT NOT NULL,
  duration_ms   INTEGER NOT NULL CHECK (duration_ms >= 0),
  created_at    INTEGER NOT NULL,
  UNIQUE (tree_id, config_hash)
) STRICT;

CREATE TABLE runs (
  id             INTEGER PRIMARY KEY,
  test_identity  TEXT NOT NULL,
  sha            TEXT NOT NULL,
  build_id       INTEGER REFERENCES builds (id),
  bisection_id   INTEGER NOT NULL REFERENCES bisections (id),
  boot_id        TEXT,
  run_index      INTEGER NOT NULL,
  outcome        TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'crash', 'hang', 'infra', 'skip',
                                                  'interrupted')),
  signature      TEXT,
  duration_ms    INTEGER NOT NULL CHECK (duration_ms >= 0),
  console_path   TEXT,
  console_sha256 TEXT,
  detail         TEXT,
  created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX runs_by_identity_sha ON runs (test_identity, sha);
CREATE INDEX runs_by_bisection ON runs (bisection_id, id);
CREATE TRIGGER runs_are_immutable BEFORE UPDATE ON runs
BEGIN
  SELECT RAISE(ABORT, 'runs are immutable once recorded');
END;

CREATE TABLE events (
  id           INTEGER PRIMARY KEY,
  bisection_id INTEGER NOT NULL REFERENCES bisections (id),
  at           INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  message      TEXT NOT NULL,
  data_json    TEXT CHECK (data_json IS NULL OR json_valid(data_json))
) STRICT;
CREATE INDEX events_by_bisection ON events (bisection_id, id);
CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'the event log is append-only');
END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
  SELECT RAISE(ABORT, 'the event log is append-only');
END;
)sql";

// Version 2: a bisection keeps the build key it uses and the contents (SHA-256) of the files
// outside the repository that its test identity covers, both fixed at its start, so that a resume
// after an edited fragment neither finds the old kernels nor records runs under the old identity
// (engine/identity.h). NULL in bisections created before: they use the v1 key, recomputed.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE bisections ADD COLUMN build_key TEXT;
ALTER TABLE bisections ADD COLUMN inputs_json TEXT
  CHECK (inputs_json IS NULL OR (json_valid(inputs_json) AND json_type(inputs_json) = 'array'));
)sql";

// Version 3: the revisions as the user typed them (`--bad linux-6.1.y --good v6.1`), beside the
// SHAs they resolved to, for reports that name the tree and branch (KernelCI's subject line).
// good_refs is parallel to good_shas. NULL in bisections created before: reports name the SHAs.
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE bisections ADD COLUMN bad_ref TEXT;
ALTER TABLE bisections ADD COLUMN good_refs TEXT
  CHECK (good_refs IS NULL OR (json_valid(good_refs) AND json_type(good_refs) = 'array'));
)sql";

// Version 4: the FLAKEBISECT_RUN indexes that batches in progress have taken at a commit, so that
// two processes running one test at one commit at once (a foreground `run` beside the daemon) take
// distinct indexes. A row lives while its batch runs; one whose process died (its pid and start
// stamp, as a bisection's owner in v5) is dropped by the next batch at that commit. Nothing else
// reads it.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE run_index_reservations (
  id            INTEGER PRIMARY KEY,
  test_identity TEXT NOT NULL,
  sha           TEXT NOT NULL,
  first_index   INTEGER NOT NULL CHECK (first_index >= 0),
  end_index     INTEGER NOT NULL CHECK (end_index >= first_index),
  owner_pid     INTEGER NOT NULL,
  owner_start   TEXT,
  taken_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX run_index_reservations_by_commit ON run_index_reservations (test_identity, sha);
)sql";

// Version 5: with a running bisection's owner_pid, what tells that process apart from a later one
// given the same pid (base::process_start_stamp: boot id and start time), so that an owner that
// died is not taken for alive when its pid is reused: in a container whose entry point is pid 1
// each time, or after a reboot. NULL where /proc could not tell, and in rows written before: there
// the pid alone decides, as it did. No CHECK tying it to owner_pid: a flakebisect of version 4
// still connected when another migrates the store clears owner_pid alone, and must not fail.
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE bisections ADD COLUMN owner_start TEXT;
)sql";

// Version 6: the titles of every kernel report of a run, as a JSON array of strings in console
// order, beside `signature` (the first one). test.signature is not part of the test identity, so a
// run is shared by bisections that look for different crashes, and each must be able to match its
// own against every report of the run, not only the first. NULL where the runner told no titles,
// and in rows written before: those are matched by their signature alone, as they were, so a
// resumed bisection computes the same posterior.
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE runs ADD COLUMN crash_titles TEXT
  CHECK (crash_titles IS NULL OR (json_valid(crash_titles) AND json_type(crash_titles) = 'array'));
)sql";

// Version 7: for a crash, what the reproducer itself said when it got to its end (pass, fail or
// skip, by its exit status), which the kernel's report otherwise replaces. With test.signature
// set, or crash left out of test.failure_outcomes, a crash that is not the bug then counts as the
// test's own verdict: a cmpbuf mismatch beside an unrelated WARNING is still a failure, and a
// passing run beside one still a pass. NULL for other outcomes, for a crash that ended the run (a
// panic), and in rows written before: those count as they did.
constexpr const char* kSchemaV7 = R"sql(
ALTER TABLE runs ADD COLUMN test_outcome TEXT
  CHECK (test_outcome IS NULL OR test_outcome IN ('pass', 'fail', 'skip'));
)sql";

constexpr std::array<Migration, 7> kMigrations = {{
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
    {4, kSchemaV4},
    {5, kSchemaV5},
    {6, kSchemaV6},
    {7, kSchemaV7},
}};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int schema_version() { return kMigrations.back().version; }

}  // namespace flakebisect::store
