// LiveView: what `status` and `watch` show on a terminal. A snapshot of one bisection is gathered
// from the store (LiveSnapshot, gather_snapshot) and rendered by a pure function into a "frame":
// lines of text, none wider than the terminal, that say
//
//   bisection 3: running (pid 4242), repo linux, bad 1a2b3c4d5e6f, good 0f9e8d7c6b5a +1
//   now:        step 7: testing 5e6f7a8b9c0d x8, run 4 of 8: ext4: fix the dio race
//   runs:       87 of 5000, 9 builds, 12 boots
//   candidates: 146; 9 commits hold 0.99 of the probability
//     0.4123  5e6f7a8b9c0d  ext4: fix the dio race
//     ...     (the five most likely culprits)
//   confidence: ▁▁▁▂▃▄▄ 0.4123 (stop at 0.995)
//   eta:        ~10.0 min (rough: ~4 steps left from log2 of the credible set, 2.5 min per step)
//   timings:    mean run 2.1 s (87 runs), mean build 1.6 min (9 builds)
//
// The probabilities are the model's own: the posterior is rebuilt from the stored runs with the
// engine's evidence rules (engine/evidence.h) and the model options bisector.cc derives from the
// bisection's stored configuration, so the view agrees with what the engine will decide next.
// When that cannot be done (a configuration this version cannot parse, no candidates yet) the
// view falls back to what the last "plan" event logged (its best commit and probability).
//
// The ETA is deliberately rough and says so: the measured mean cost of a step (run and build
// durations from the store, over the steps taken) times an estimate of the steps left, capped by
// the run budget. Steps left: the entropy still to lose (from now down to the entropy of a
// posterior that just reaches the stopping confidence) divided by the entropy lost per step so
// far, which is what makes flaky bisections (little information per step) estimate long; without
// entropies, log2 of the size of the credible set (at least one). It is "unknown" before two
// steps have been taken or before any run was timed.
//
// Text from commits and the store goes through printable() (text.h): it cannot move the cursor.
// Widths count UTF-8 characters (code points), not terminal cells.
//
// Thread rules: pure functions, except gather_snapshot (reads the store: the calling thread's
// Store) and the terminal_ helpers (read the environment and ioctl a file descriptor).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/records.h"
#include "store/store.h"

namespace flakebisect::cli {

// The number of candidates a frame lists.
inline constexpr size_t kTopCandidates = 5;

struct LiveCandidate {
  std::string sha;  // empty for the "no regression in this range" hypothesis
  std::string subject;
  double probability = 0;
};

// The last decision the engine logged ("plan" event) and how far its batch has got.
struct LiveStep {
  uint64_t number = 0;  // 1-based: the how-many-th decision of this bisection
  std::string sha;
  std::string subject;
  bool reproducing = false;   // the step reproduces the bug on the bad commit
  uint64_t planned_runs = 0;  // runs the step asked for
  uint64_t done_runs = 0;     // runs recorded since it, at most planned_runs
};

struct LiveSnapshot {
  int64_t id = 0;
  store::BisectionState state = store::BisectionState::kQueued;
  std::optional<int64_t> owner_pid;
  // Running under a process that no longer exists; set by the caller (gather_snapshot does not
  // look at processes).
  bool owner_gone = false;
  std::string repo;
  std::string bad_sha;
  std::vector<std::string> good_shas;
  std::optional<std::string> note;  // why it paused or failed (Bisection::error)
  std::string result;               // one line once a result is stored: "found <sha> <subject> ..."

  uint64_t runs = 0;      // runs this bisection recorded
  uint64_t max_runs = 0;  // decision.max_runs
  uint64_t builds = 0;    // builds this bisection recorded ("build" events)
  uint64_t boots = 0;     // distinct boot ids among its runs (0 for runs on the host)
  std::optional<LiveStep> step;
  // Once the search has found its culprit: the last "check" event's message while the revert check
  // (decision.revert_check) runs; empty before it.
  std::string checking;

  size_t candidates = 0;           // size of the candidate set; 0 = not listed yet
  // range.first_parent: the candidates are bad's first-parent chain ("146 first-parent; ...").
  bool first_parent = false;
  // range.find_fix: the candidates are good's first-parent chain read backwards ("146 first-parent,
  // fix; ..."), `top` lists fixes (each candidate's newer neighbour, the good end for the newest),
  // and the header says "broken" and "fixed" for bad and good.
  bool find_fix = false;
  // range.find_fix: the good end's subject, read from the repository (it is no candidate); empty
  // when the repository cannot be read, and `top` then says "(the fixed end)".
  std::string fixed_subject;
  bool posterior_rebuilt = false;  // `top` and `credible_set_size` come from the model
  std::vector<LiveCandidate> top;  // most likely first, at most kTopCandidates
  double confidence = 0;           // probability of the most likely culprit now
  double target = 0.99;            // decision.confidence, the credible set's level
  // The mass at which the engine stops: model::stop_threshold of `target` (0.995 at 0.99; the
  // margin keeps the delivered accuracy at least `target`, docs/model.md).
  double stop_at = 0.995;
  size_t credible_set_size = 0;    // commits holding `target` of the mass; 0 = unknown
  // Entropy of the posterior over the culprit, in bits, now and under the prior (before any run);
  // both 0 = unknown. Their difference over the steps taken is the measured progress per step.
  double entropy_bits = 0;
  double prior_entropy_bits = 0;
  // The most likely culprit's probability at each decision, oldest first, then `confidence` now.
  std::vector<double> confidence_history;

  uint64_t steps = 0;  // decisions taken ("plan" events)
  int64_t run_ms = 0;  // summed durations of the bisection's runs
  uint64_t timed_runs = 0;
  int64_t build_ms = 0;  // summed durations of its builds
  uint64_t timed_builds = 0;
  std::optional<int64_t> elapsed_ms;  // engine time spent, as last logged
};

// Reads bisection `id` (one read transaction) and rebuilds its posterior. Errors are the store's.
base::Result<LiveSnapshot> gather_snapshot(store::Store& store, int64_t id);

// The remaining time, when it can be estimated (see the header comment).
struct Estimate {
  int64_t remaining_ms = 0;
  double steps_left = 0;
  double step_ms = 0;             // measured mean cost of one step
  bool capped_by_budget = false;  // the run budget ends it before the steps estimated
  bool from_entropy = false;      // steps_left came from the measured entropy loss per step
};
std::optional<Estimate> estimate_remaining(const LiveSnapshot& snapshot);

struct FrameOptions {
  size_t width = 80;  // no line is longer (in UTF-8 characters); at least 20
  bool utf8 = true;   // block characters in the sparkline, else ASCII
};

// The frame, each line ending in '\n'. Deterministic: the same snapshot and options give the same
// text.
std::string render_frame(const LiveSnapshot& snapshot, const FrameOptions& options);

// `values` (probabilities in [0, 1]) as one character each, ▁ (< 1/8) to █ (>= 7/8), or
// "_.-:=+*#" in ASCII; at most `max_chars`, keeping the most recent values (then the first
// character is "…" or "<" to say that older ones were left out).
std::string sparkline(const std::vector<double>& values, size_t max_chars, bool utf8);

// "450 ms", "12 s", "4.2 min", "3.1 h", "2.5 days".
std::string human_duration(int64_t ms);

// Whether the locale the environment selects is UTF-8: the first non-empty of LC_ALL, LC_CTYPE
// and LANG (the POSIX order) names UTF-8 ("en_US.UTF-8", "C.utf8"). Null pointers are unset.
bool utf8_locale(const char* lc_all, const char* lc_ctype, const char* lang);

// `frame` drawn over the previous one, from the top left of the screen: cursor home, each line
// followed by erase-to-end-of-line, then erase below. At most `max_lines` lines (0: all) so a
// frame taller than the screen cannot scroll its own top away. Nothing else is changed (no hidden
// cursor, no alternate screen), so a watch killed at any moment leaves a usable terminal.
std::string redraw_in_place(std::string_view frame, size_t max_lines = 0);

// Frame options for the terminal on `fd`, or nullopt when `fd` is not a terminal. The width is the
// terminal's columns minus one (a full line would wrap on some terminals), 80 when unknown.
std::optional<FrameOptions> terminal_frame_options(int fd);
// The terminal's rows, 0 when unknown.
size_t terminal_rows(int fd);
// False for TERM=dumb (and unset TERM): such a terminal cannot redraw in place.
bool terminal_can_redraw();

}  // namespace flakebisect::cli
