// The rows of the store as plain values: Bisection, Candidate, BuildRecord, RunRecord, Event, and
// the closed vocabularies they use (BisectionState, BuildStatus, RunOutcome).
//
// Timestamps are unix milliseconds supplied by the caller (the store has no clock); ids are SQLite
// rowids assigned on insert (an `id` set by the caller before insert is ignored). Strings are byte
// strings: whatever goes in comes back, NULs and invalid UTF-8 included.
//
// Thread rules: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace flakebisect::store {

// Lifecycle of a bisection. queued -> running -> one of the final states, with paused in between
// when a run is interrupted (signal, disk full, owner died) and can be resumed.
enum class BisectionState {
  kQueued,
  kRunning,
  kPaused,
  kFound,
  kInconclusive,
  kNotReproduced,  // the bad commit never failed within budget
  kCancelled,
  kFailed,  // the tool failed (see Bisection::error)
};

// What building one tree produced. kFailed and kSkip both make the commit a skip for the model;
// kSkip is for a tree that was not built on purpose (for example a configuration it cannot
// satisfy).
enum class BuildStatus { kOk, kFailed, kSkip };

// The outcome of one reproducer run (design.md, "Outcomes of one run"). kInterrupted marks a run
// the tool abandoned (signal, shutdown); it never counts as pass or fail.
enum class RunOutcome { kPass, kFail, kCrash, kHang, kInfra, kSkip, kInterrupted };

// The spellings stored in the database (and used in reports): "queued", "not_reproduced", "ok",
// "crash", ... Parsing anything else is a kInvalidInput error.
std::string_view to_string(BisectionState state);
std::string_view to_string(BuildStatus status);
std::string_view to_string(RunOutcome outcome);
base::Result<BisectionState> parse_bisection_state(std::string_view text);
base::Result<BuildStatus> parse_build_status(std::string_view text);
base::Result<RunOutcome> parse_run_outcome(std::string_view text);

// What a user asked to bisect. All SHAs are full SHAs, resolved before the bisection is created.
struct BisectionSpec {
  std::string repo;  // path of the git repository
  std::string bad_sha;
  std::vector<std::string> good_shas;
  std::string config_toml;  // the configuration text as given, kept for resume and reports
  std::string config_hash;
  // Key of the runs this bisection can share with others: hash of (build config, reproducer,
  // scratch fs config). Runs are reused by (test_identity, sha).
  std::string test_identity;
  // Key of the builds this bisection finds and records (BuildRecord::config_hash), fixed at its
  // start; "" (NULL) in a bisection created before schema 2, which recomputes the v1 key.
  std::string build_key;
  // The files outside the repository that test_identity covers, with their SHA-256 at the start,
  // as a JSON array (engine::inputs_to_json); "" (NULL) before schema 2.
  std::string inputs_json;
  // The revisions as typed: `bad_ref` resolved to bad_sha, good_refs[i] to good_shas[i]. Empty
  // (NULL) in a bisection created before schema 3, and where it was made without them.
  std::string bad_ref;
  std::vector<std::string> good_refs;
};

struct Bisection {
  int64_t id = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  BisectionSpec spec;
  BisectionState state = BisectionState::kQueued;
  std::optional<std::string> result_json;  // the report's JSON once found/inconclusive
  std::optional<int64_t> owner_pid;        // the process working on it while running
  std::optional<std::string> error;        // why it failed or paused, for the user
};

// One commit of a bisection's candidate DAG; idx is its model::CommitIndex (topological order).
struct Candidate {
  uint32_t idx = 0;
  std::string sha;
  std::vector<uint32_t> parents;  // indices of parents inside the candidate set, first parent first
  std::string subject;
};

// One build of a tree, keyed by (tree_id, config_hash) so that commits with the same tree share it.
struct BuildRecord {
  int64_t id = 0;
  std::string sha;  // the commit most recently built for this tree
  std::string tree_id;
  std::string config_hash;
  BuildStatus status = BuildStatus::kOk;
  std::optional<std::string> artifact_path;  // absent unless status is kOk
  std::string log_tail;
  int64_t duration_ms = 0;
  int64_t created_at_ms = 0;
};

// One reproducer run. Counts only once committed (Store::record_run commits it).
struct RunRecord {
  int64_t id = 0;
  std::string test_identity;
  std::string sha;
  std::optional<int64_t> build_id;
  int64_t bisection_id = 0;            // the bisection that produced it
  std::optional<std::string> boot_id;  // runs in one boot share it
  int64_t run_index = 0;               // position within its boot or batch
  RunOutcome outcome = RunOutcome::kPass;
  std::optional<std::string> signature;  // crash title or failure signature
  // Every crash title of the run, in console order (signature is the first), as the runner told
  // them (run::RunResult). Empty (NULL) when it told none, and in every run recorded before
  // schema 6: such a run is matched against test.signature by its signature alone, as it was.
  // Stored as JSON, so each must be valid UTF-8 (crash titles are); record_run refuses others.
  std::vector<std::string> crash_titles;
  // For a crash: the reproducer's own verdict by its exit status (kPass, kFail or kSkip) when it
  // got to its end; nullopt otherwise and before schema 7 (run::RunResult, engine/evidence.h).
  std::optional<RunOutcome> test_outcome;
  int64_t duration_ms = 0;
  std::optional<std::string> console_path;
  std::optional<std::string> console_sha256;
  std::optional<std::string> detail;  // free text: exit status, timeout that fired, ...
  int64_t created_at_ms = 0;
};

// One entry of a bisection's append-only log: state changes, planner decisions, warnings.
struct Event {
  int64_t id = 0;
  int64_t bisection_id = 0;
  int64_t at_ms = 0;
  std::string kind;  // short machine-readable tag, e.g. "plan", "state", "recovered"
  std::string message;
  std::optional<std::string> data_json;  // must be valid JSON when present
};

}  // namespace flakebisect::store
