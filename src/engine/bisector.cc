#include "engine/bisector.h"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/failpoint.h"
#include "base/paths.h"
#include "base/process.h"
#include "build/kernel_builder.h"
#include "engine/cost_learner.h"
#include "engine/evidence.h"
#include "engine/identity.h"
#include "git/candidates.h"
#include "git/repository.h"
#include "git/worktree.h"
#include "model/candidate_dag.h"
#include "model/planner.h"
#include "model/posterior.h"
#include "model/revert_check.h"
#include "model/stop_rule.h"
#include "run/qemu_runner.h"

namespace flakebisect::engine {
namespace {

using base::ErrorCode;
using model::CommitIndex;
using nlohmann::json;
using store::BisectionState;

// Infra outcomes in a row after which the bisection pauses: the test environment is broken, and
// spending the run budget on it would only hide that.
constexpr uint32_t kMaxInfraStreak = 5;
// How often a finished run tries a store another process keeps locked (store_while_busy).
constexpr std::chrono::milliseconds kStoreBusyRetry{1000};
// Entries of the credible set written into a result (the full set can be the whole range).
constexpr size_t kMaxCredibleSetEntries = 50;
// Conflicting paths of the revert check written into a result (the report shows as many).
constexpr size_t kMaxConflictPaths = 50;

std::string short_sha(const std::string& sha) { return sha.substr(0, 12); }

// FLAKEBISECT_RUN indexes taken by a batch in progress, held in the store
// (Store::reserve_run_indexes) until the batch ends. Batches that run one commit of one test at
// once, in the workers of one daemon (`daemon --jobs`) or in different processes (a foreground
// `run` beside the daemon), take distinct indexes; a batch that started after every run stored at
// the commit would otherwise repeat the index of a run another batch has not stored yet. A batch
// alone at its commit starts, as before, right after the runs stored there, so a bisection alone
// at its commits takes the same indexes after a resume (the range a killed process held is
// dropped, since it is no longer alive); beside another batch at one commit, a batch that ends
// early leaves a gap.
class RunIndexReservation {
 public:
  // `count` indexes at `sha` for the test `identity`, from `floor` on, after every run stored
  // there and every range another live batch holds.
  static base::Result<std::unique_ptr<RunIndexReservation>> take(store::Store& store,
                                                                 const std::string& identity,
                                                                 const std::string& sha,
                                                                 uint32_t floor, uint32_t count,
                                                                 int64_t now_ms) {
    FB_ASSIGN_OR_RETURN(
        const auto taken,
        store.reserve_run_indexes(identity, sha, floor, count, ::getpid(), own_start_stamp(),
                                  now_ms, [](int64_t pid, const std::string& stamp) {
                                    return base::process_still_alive(pid, stamp);
                                  }));
    if (taken.second > std::numeric_limits<uint32_t>::max() - count) {
      return base::make_error(base::ErrorCode::kFailed,
                              "store {}: FLAKEBISECT_RUN at {} would pass {}", store.path(), sha,
                              std::numeric_limits<uint32_t>::max());
    }
    return std::unique_ptr<RunIndexReservation>(
        new RunIndexReservation(store, taken.first, static_cast<uint32_t>(taken.second)));
  }
  // Gives the range back. A failure leaves the row until the next batch at the commit after this
  // process has ended: indexes are skipped, none repeated.
  ~RunIndexReservation() {
    if (auto released = store_.release_run_indexes(id_); !released) {
      spdlog::debug("{}", released.error().message());
    }
  }
  RunIndexReservation(const RunIndexReservation&) = delete;
  RunIndexReservation& operator=(const RunIndexReservation&) = delete;

  uint32_t first() const { return first_; }

 private:
  static const std::string& own_start_stamp() {
    static const std::string stamp = base::process_start_stamp(::getpid());
    return stamp;
  }

  RunIndexReservation(store::Store& store, int64_t id, uint32_t first)
      : store_(store), id_(id), first_(first) {}

  store::Store& store_;
  int64_t id_ = 0;
  uint32_t first_ = 0;
};

// JSON text that is valid whatever bytes the strings hold (commit subjects need not be UTF-8).
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json rate_json(const model::RateSummary& rate) {
  return json{{"mean", rate.mean}, {"low", rate.low}, {"high", rate.high}};
}

// One pass of planned runs at one commit.
struct Batch {
  CommitIndex commit = 0;
  uint32_t runs = 0;  // planned
  uint32_t done = 0;  // already recorded (non-zero when a resumed session continues it)
};

enum class RunStep { kContinue, kEndBatch };

// Everything one session of a bisection knows. Built from the store and git in setup(), then kept
// in step with what the session records, so it always equals what setup() would rebuild.
class Session {
 public:
  Session(store::Store& store, base::Clock& clock, const BisectorOptions& options, int64_t id)
      : store_(store), clock_(clock), options_(options), id_(id), started_(clock.now()) {}

  // True when the error run() returned means the bisection can never continue.
  bool fatal() const { return fatal_; }

  // After the session failed with `error`: when a stop was asked for, the failure may be the
  // stop's own doing (the signal watcher kills every child, one just forked and not yet exec'd
  // among them, which then "failed before exec"), so the bisection is paused as the stop asks,
  // resumable like any other, with the error in the reason, and not failed. An error that can
  // never go away (fatal(): the stored configuration no longer parses) stands. True when paused.
  base::Result<bool> pause_for_stop(const base::Error& error) {
    if (!stopped() || fatal_ || bisection_.id == 0) {
      return false;
    }
    return pause(fmt::format("{} (it ended with: {})", options_.stop_reason, error.message()));
  }

  base::Result<BisectionState> run(const ExecutorFactory& executors) {
    FB_TRY(setup(executors));
    return loop();
  }

 private:
  // ---- setup -----------------------------------------------------------------------------------

  base::Status setup(const ExecutorFactory& executors) {
    FB_ASSIGN_OR_RETURN(bisection_, store_.get_bisection(id_));
    if (bisection_.state != BisectionState::kRunning || bisection_.owner_pid != owner_pid()) {
      return base::make_error(ErrorCode::kInvalidInput,
                              "bisection {} is {}, not claimed by this process (pid {})", id_,
                              store::to_string(bisection_.state), owner_pid());
    }
    const store::BisectionSpec& spec = bisection_.spec;
    auto parsed =
        config::parse_config(spec.config_toml, fmt::format("bisection {} configuration", id_),
                             config::ConfigOrigin::kStored);
    if (!parsed) {
      fatal_ = true;
      return std::move(parsed).error();
    }
    config_ = std::move(parsed).value();
    // A newer flakebisect may hash configurations differently (config.h); the stored text is what
    // the user asked for, and the stored test identity still keys the runs, so carry on.
    if (config_.hash() != spec.config_hash) {
      spdlog::warn("bisection {}: the stored configuration hashes differently now ({} != {})", id_,
                   config_.hash().substr(0, 12), spec.config_hash.substr(0, 12));
    }
    auto policy = OutcomePolicy::from(config_.test);
    if (!policy) {
      fatal_ = true;
      return std::move(policy).error();
    }
    policy_ = std::move(policy).value();
    FB_ASSIGN_OR_RETURN(Executors made, executors(run_config()));
    builder_ = std::move(made.builder);
    runner_ = std::move(made.runner);

    FB_ASSIGN_OR_RETURN(git::Repository repo, git::Repository::open(spec.repo));
    FB_TRY(load_candidates(repo));

    const CommitIndex n = static_cast<CommitIndex>(candidates_.size());
    for (CommitIndex x = 0; x < n; ++x) {
      index_of_.emplace(candidates_[x].sha, x);
    }
    FB_TRY(use_recorded_inputs());
    built_.assign(n, !builder_->needs_build());
    build_failed_.assign(n, false);
    build_ids_.assign(n, std::nullopt);
    artifacts_.assign(n, std::string());
    tree_ids_.assign(n, std::string());
    if (builder_->needs_build()) {
      for (CommitIndex x = 0; x < n; ++x) {
        FB_ASSIGN_OR_RETURN(tree_ids_[x], repo.tree_id(candidates_[x].sha));
        commits_of_tree_[tree_ids_[x]].push_back(x);
        FB_ASSIGN_OR_RETURN(auto build, store_.find_build(tree_ids_[x], build_key_));
        if (build) {
          note_build(x, *build);
        }
      }
    }

    FB_ASSIGN_OR_RETURN(auto runs, store_.runs_for(spec.test_identity));
    evidence_ = gather_evidence(runs, index_of_, build_failed_, policy_, dag_->bad());
    FB_ASSIGN_OR_RETURN(auto own_runs, store_.runs_for_bisection(id_));
    bisection_runs_ = own_runs.size();

    model_ = model_options(config_.decision);
    model::PlannerOptions planner = planner_options(config_.decision);
    costs_.emplace(planner.cost);
    if (config_.test.runs_per_batch > 0) {
      planner.run_counts = {config_.test.runs_per_batch};
      planner.reproduce_runs = config_.test.runs_per_batch;
    } else if (config_.qemu) {
      // A batch is one boot: more runs than a boot holds would cost more boots than the planner
      // counts. Reproducing takes a whole boot too, since its runs come almost free.
      const uint32_t per_boot =
          config_.xfstests ? std::min(config_.qemu->runs_per_boot, run::kXfstestsRunsPerBoot)
                           : config_.qemu->runs_per_boot;
      std::vector<uint32_t>& counts = planner.run_counts;
      counts.erase(std::remove_if(counts.begin(), counts.end(),
                                  [&](uint32_t r) { return r >= per_boot; }),
                   counts.end());
      counts.push_back(per_boot);
      planner.reproduce_runs = per_boot;
    }
    planner.builds_kept = !builder_->needs_build() || builder_->keeps_builds();
    planner_.emplace(std::move(planner));
    stop_options_.confidence = config_.decision.confidence;
    stop_options_.max_reproduce_runs = config_.decision.max_reproduce_runs;

    FB_TRY(read_events());
    return log_event(kEventSession,
                     fmt::format("{} session started by pid {}{}", options_.session_mode,
                                 owner_pid(), resumed_ ? " (resumed)" : ""),
                     json{{"mode", options_.session_mode},
                          {"pid", owner_pid()},
                          {"resumed", resumed_},
                          {"candidates", candidates_.size()},
                          {"reused_runs", evidence_.used_runs}});
  }

  // Builds are per tree: what is stored for x's tree holds for every candidate with that tree.
  // The build key stored at the start; and the files outside the repository must still be what
  // they were then, or the runs and builds of this session would be recorded under an identity and
  // key that describe other ones. Bisections stored before schema 2 recompute the v1 key.
  base::Status use_recorded_inputs() {
    const store::BisectionSpec& spec = bisection_.spec;
    if (spec.build_key.empty()) {
      build_key_ = build_key(config_);
      return {};
    }
    const std::string where = fmt::format("bisection {}", id_);
    FB_ASSIGN_OR_RETURN(const std::vector<InputFile> recorded,
                        inputs_from_json(spec.inputs_json, where));
    const bool recorded_kernel =
        std::any_of(recorded.begin(), recorded.end(),
                    [](const InputFile& input) { return input.key == "qemu.kernel"; });
    auto now = input_files(config_, recorded_kernel);
    if (!now) {
      return std::move(now).error().context(where);
    }
    if (auto unchanged = check_inputs_unchanged(recorded, *now); !unchanged) {
      return std::move(unchanged).error().context(where);
    }
    build_key_ = spec.build_key;
    recorded_inputs_ = recorded;
    recorded_kernel_ = recorded_kernel;
    input_stamps_ = input_stamps();
    return {};
  }

  // Size and modification time of each recorded input that is a file (bundled ones change only
  // with flakebisect itself): while none moves, the files are not hashed again.
  std::vector<std::pair<int64_t, int64_t>> input_stamps() const {
    std::vector<std::pair<int64_t, int64_t>> stamps;
    for (const InputFile& input : recorded_inputs_) {
      struct stat st {};
      if (input.is_bundled() || ::stat(input.name.c_str(), &st) != 0) {
        stamps.emplace_back(-1, -1);
        continue;
      }
      stamps.emplace_back(
          static_cast<int64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
    }
    return stamps;
  }

  // The same check before each build and each batch of runs: a reproducer edited, or /boot's
  // kernel replaced by a package upgrade, while a long session (a daemon's) goes on would
  // otherwise give runs and builds recorded under an identity and key that describe other files.
  // Hashes them again only when a file's size or modification time has moved since the last
  // check (input_stamps).
  base::Status check_inputs_still_recorded() {
    if (recorded_inputs_.empty()) {
      return {};
    }
    auto stamps = input_stamps();
    if (stamps == input_stamps_) {
      return {};
    }
    const std::string where = fmt::format("bisection {}", id_);
    auto now = input_files(config_, recorded_kernel_);
    if (!now) {
      return std::move(now).error().context(where);
    }
    if (auto unchanged = check_inputs_unchanged(recorded_inputs_, *now); !unchanged) {
      return std::move(unchanged).error().context(where);
    }
    input_stamps_ = std::move(stamps);  // touched, not changed
    return {};
  }

  void note_build(CommitIndex x, const store::BuildRecord& build) {
    const bool ok = build.status == store::BuildStatus::kOk;
    built_[x] = ok;
    build_failed_[x] = !ok;
    build_ids_[x] = ok ? std::optional<int64_t>(build.id) : std::nullopt;
    artifacts_[x] = ok ? build.artifact_path.value_or(std::string()) : std::string();
  }

  base::Status load_candidates(const git::Repository& repo) {
    const store::BisectionSpec& spec = bisection_.spec;
    if (config_.range.find_fix) {
      FB_TRY(read_fixed_end(repo));
    } else if (config_.decision.backport_check) {
      fatal_ = true;
      return base::make_error(ErrorCode::kInvalidInput,
                              "bisection {}: decision.backport_check needs range.find_fix", id_);
    }
    FB_ASSIGN_OR_RETURN(candidates_, store_.get_candidates(id_));
    if (candidates_.empty() && config_.range.find_fix) {
      FB_ASSIGN_OR_RETURN(candidates_, fix_candidates(repo));
      FB_TRY(store_.put_candidates(id_, candidates_));
    } else if (candidates_.empty()) {
      // Built once, with the stored configuration's [range], and stored: a resume, the daemon,
      // status and report all read these rows rather than walking git again.
      git::CandidateOptions options;
      options.first_parent_only = config_.range.first_parent;
      FB_ASSIGN_OR_RETURN(git::CandidateGraph graph,
                          git::build_candidates(repo, spec.bad_sha, spec.good_shas, options));
      for (uint32_t i = 0; i < graph.size(); ++i) {
        store::Candidate candidate;
        candidate.idx = i;
        candidate.sha = std::move(graph.commits[i].sha);
        candidate.parents = std::move(graph.commits[i].parents);
        candidate.subject = std::move(graph.commits[i].subject);
        candidates_.push_back(std::move(candidate));
      }
      FB_TRY(store_.put_candidates(id_, candidates_));
    }
    std::vector<std::vector<CommitIndex>> parents;
    parents.reserve(candidates_.size());
    for (const store::Candidate& candidate : candidates_) {
      parents.push_back(candidate.parents);
    }
    auto dag = model::CandidateDag::create(std::move(parents));
    if (!dag || candidates_.back().sha != spec.bad_sha) {
      fatal_ = true;
      return base::make_error(
          ErrorCode::kCorrupt, "bisection {}: stored candidates are unusable{}", id_,
          dag ? " (the last is not the bad commit)" : ": " + dag.error().message());
    }
    dag_.emplace(std::move(dag).value());
    return {};
  }

  // ---- range.find_fix: the search for a fix as a search for a regression ------------------------
  //
  // Looking for the commit that fixed a failure, the range is the fixed (good) commit's
  // first-parent chain down to the broken (bad) one. Read backwards, newest first, it is a
  // regression range: the fixed end is its good end, the broken end its bad tip, and "the
  // regression" is the last commit that still fails, whose child on the chain (its parent in the
  // reversed range) is the fix. So the candidates are stored in that order, each one's only
  // parent the next newer commit, and the model, the planner, the stop rule and the verify check
  // run unchanged; what is named (named()) is the fix. A chain with merges is tested as
  // `--first-parent` tests it: a merge is one commit.

  base::Status read_fixed_end(const git::Repository& repo) {
    const store::BisectionSpec& spec = bisection_.spec;
    if (spec.good_shas.size() != 1 || config_.decision.revert_check) {
      fatal_ = true;
      return base::make_error(ErrorCode::kInvalidInput,
                              "bisection {}: range.find_fix needs one good commit and no "
                              "decision.revert_check (it has {} and {})",
                              id_, spec.good_shas.size(), config_.decision.revert_check);
    }
    FB_ASSIGN_OR_RETURN(const git::CommitInfo fixed, repo.commit_info(spec.good_shas.front()));
    fixed_end_.sha = fixed.sha;
    fixed_end_.subject = fixed.subject;
    return {};
  }

  base::Result<std::vector<store::Candidate>> fix_candidates(const git::Repository& repo) const {
    const store::BisectionSpec& spec = bisection_.spec;
    git::CandidateOptions options;
    options.first_parent_only = true;
    // The fixed commit's first-parent chain, oldest first, down to the first ancestor of broken.
    FB_ASSIGN_OR_RETURN(git::CandidateGraph chain,
                        git::build_candidates(repo, fixed_end_.sha, {spec.bad_sha}, options));
    FB_ASSIGN_OR_RETURN(const git::CommitInfo broken, repo.commit_info(spec.bad_sha));
    FB_ASSIGN_OR_RETURN(const git::CommitInfo oldest, repo.commit_info(chain.commits[0].sha));
    if (oldest.parents.empty() || oldest.parents.front() != broken.sha) {
      // prepare_bisection refuses this; a bisection stored otherwise would name a wrong fix.
      return base::make_error(ErrorCode::kInvalidInput,
                              "bisection {}: bad {} is not on good {}'s first-parent chain", id_,
                              short_sha(broken.sha), short_sha(fixed_end_.sha));
    }
    std::vector<store::Candidate> reversed;
    reversed.reserve(chain.size());
    // The fixed commit itself is the good end, not a candidate: newest first from its parent.
    for (uint32_t i = chain.size() - 1; i-- > 0;) {
      store::Candidate candidate;
      candidate.sha = std::move(chain.commits[i].sha);
      candidate.subject = std::move(chain.commits[i].subject);
      reversed.push_back(std::move(candidate));
    }
    store::Candidate tip;
    tip.sha = broken.sha;
    tip.subject = broken.subject;
    reversed.push_back(std::move(tip));
    for (uint32_t i = 0; i < reversed.size(); ++i) {
      reversed[i].idx = i;
      if (i > 0) {
        reversed[i].parents = {i - 1};
      }
    }
    return reversed;
  }

  // The commit a bisection names when x holds the posterior's "first bad" mass: x itself, or with
  // range.find_fix the fix, x's newer neighbour on the chain (the fixed end for the newest).
  const store::Candidate& named(CommitIndex x) const {
    if (!config_.range.find_fix) {
      return candidates_[x];
    }
    return candidates_[x].parents.empty() ? fixed_end_
                                          : candidates_[candidates_[x].parents.front()];
  }

  // Counts builds, restores the time already spent, and finds an unfinished batch.
  base::Status read_events() {
    FB_ASSIGN_OR_RETURN(auto events, store_.events(id_));
    std::optional<json> last_plan;
    // A batch event after the last plan: that batch ended (a crash that ended the boot, a commit
    // that became a skip) and the session that ran it planned again; one stopped part way logs
    // none, and a resume finishes it.
    bool plan_ended = false;
    for (const store::Event& event : events) {
      if (event.kind == kEventSession) {
        resumed_ = true;
      }
      if (event.kind == kEventBuild) {
        ++builds_;
      }
      if (!event.data_json) {
        continue;
      }
      json data = json::parse(*event.data_json, nullptr, /*allow_exceptions=*/false);
      if (!data.is_object()) {
        continue;
      }
      if (data.contains("elapsed_ms") && data["elapsed_ms"].is_number_integer()) {
        elapsed_before_ms_ = std::max(elapsed_before_ms_, data["elapsed_ms"].get<int64_t>());
      }
      if (event.kind == kEventPlan) {
        last_plan = std::move(data);
        plan_ended = false;
      } else {
        plan_ended = plan_ended || event.kind == kEventBatch;
        learn_from(event.kind, data);
      }
    }
    update_costs();
    if (!last_plan || plan_ended) {
      return {};
    }
    const json& plan = *last_plan;
    if (!plan.contains("sha") || !plan["sha"].is_string() || !plan.contains("runs") ||
        !plan["runs"].is_number_unsigned() || !plan.contains("runs_before") ||
        !plan["runs_before"].is_number_unsigned()) {
      return {};
    }
    const auto it = index_of_.find(plan["sha"].get<std::string>());
    const auto planned = plan["runs"].get<uint64_t>();
    const auto before = plan["runs_before"].get<uint64_t>();
    if (it == index_of_.end() || before > bisection_runs_ || bisection_runs_ - before >= planned) {
      return {};
    }
    pending_ = Batch{it->second, static_cast<uint32_t>(planned),
                     static_cast<uint32_t>(bisection_runs_ - before)};
    return {};
  }

  // ---- the loop --------------------------------------------------------------------------------

  base::Result<BisectionState> loop() {
    while (true) {
      FB_ASSIGN_OR_RETURN(auto interrupted, check_interrupted());
      if (interrupted) {
        return *interrupted;
      }

      const model::Posterior posterior = make_posterior();
      note(posterior);
      const model::Verdict verdict = model::evaluate_stop(posterior, stop_options_);
      if (verdict == model::Verdict::kFound) {
        json checks;
        if (config_.decision.verify_check) {
          FB_ASSIGN_OR_RETURN(std::optional<Checked> verified, verify_check(posterior));
          if (verified && verified->ended) {
            return *verified->ended;
          }
          if (verified) {
            const bool failed = verified->result.value("status", "") == "fail";
            const std::string reason = verified->result.value("detail", "");
            checks["verify"] = std::move(verified->result);
            if (failed) {
              // The good side of the range is not good: no commit inside it is the first bad one.
              return finish(BisectionState::kInconclusive, posterior, reason, std::move(checks));
            }
          }
        }
        if (config_.decision.revert_check) {
          FB_ASSIGN_OR_RETURN(Checked checked, revert_check(posterior));
          if (checked.ended) {
            return *checked.ended;
          }
          checks["revert"] = std::move(checked.result);
        }
        if (config_.decision.backport_check) {
          FB_ASSIGN_OR_RETURN(Checked checked, backport_check(posterior));
          if (checked.ended) {
            return *checked.ended;
          }
          checks["backport"] = std::move(checked.result);
        }
        return finish(BisectionState::kFound, posterior, "", std::move(checks));
      }
      if (verdict == model::Verdict::kNotReproduced) {
        return finish(BisectionState::kNotReproduced, posterior, not_reproduced_reason(posterior));
      }
      if (verdict == model::Verdict::kFoundSet) {
        // git bisect's "the first bad commit could be any of": the set holds the confidence, and
        // all of it but at most one commit cannot be built or tested.
        return finish(BisectionState::kInconclusive, posterior,
                      fmt::format("the first {} commit could be any of the credible set; the "
                                  "others in it cannot be tested",
                                  config_.range.find_fix ? "fixed" : "bad"));
      }
      if (bisection_runs_ >= config_.decision.max_runs) {
        return finish(BisectionState::kInconclusive, posterior,
                      fmt::format("run budget spent ({} run{})", bisection_runs_,
                                  bisection_runs_ == 1 ? "" : "s"));
      }
      if (config_.decision.max_wall_time.count() > 0 &&
          elapsed_ms() >= std::chrono::milliseconds(config_.decision.max_wall_time).count()) {
        return finish(
            BisectionState::kInconclusive, posterior,
            fmt::format("time budget spent ({} s)", config_.decision.max_wall_time.count()));
      }

      update_costs();
      Batch batch;
      if (pending_ && !evidence_.commits[pending_->commit].skipped) {
        batch = *pending_;
      } else {
        const model::Step step = planner_->plan(posterior, built_, prepared_);
        if (step.exhausted) {
          return finish(BisectionState::kInconclusive, posterior,
                        "nothing testable is left: the remaining candidates are skipped");
        }
        const uint64_t left = config_.decision.max_runs - bisection_runs_;
        batch = Batch{step.commit, static_cast<uint32_t>(std::min<uint64_t>(step.runs, left)), 0};
        FB_TRY(log_plan(step, batch, posterior));
      }
      pending_.reset();

      if (evidence_.commits[batch.commit].skipped) {
        if (batch.commit == dag_->bad()) {
          // Say which it was when the runs tell: a commit made a skip by its unjudged runs.
          const model::CommitEvidence& bad = evidence_.commits[batch.commit];
          const uint32_t unjudged = evidence_.unjudged_runs[batch.commit];
          if (unjudged > 0 && unjudged_make_a_skip(unjudged, bad.passes + bad.fails, true)) {
            return finish(
                BisectionState::kNotReproduced, posterior,
                fmt::format("the bad commit cannot be tested: {} of its {} run{} neither passed "
                            "nor failed (hangs, or crashes that test.failure_outcomes leaves out)",
                            unjudged, evidence_.recorded_runs[batch.commit],
                            evidence_.recorded_runs[batch.commit] == 1 ? "" : "s"));
          }
          return finish(
              BisectionState::kNotReproduced, posterior,
              "the bad commit cannot be tested (its build failed, the test skipped it, or its runs "
              "neither passed nor failed: it hangs, or crashes otherwise)");
        }
        return base::make_error(ErrorCode::kFailed, "the planner chose skipped commit {}",
                                candidates_[batch.commit].sha);
      }
      FB_TRY(check_inputs_still_recorded());
      FB_ASSIGN_OR_RETURN(bool testable, prepare(batch.commit));
      if (!testable) {
        continue;
      }
      FB_TRY(check_inputs_still_recorded());  // a build may have taken minutes

      FB_ASSIGN_OR_RETURN(auto stopped_now, check_interrupted());
      if (stopped_now) {
        return *stopped_now;
      }
      std::optional<BisectionState> ended;
      uint32_t k = batch.done;
      report(Progress::Phase::kRunning, batch.commit, k + 1, batch.runs, "");
      const auto batch_started = clock_.now();
      uint32_t batch_runs = 0;
      uint32_t batch_fails = 0;
      int64_t batch_run_ms = 0;
      // Whether the sink's last answer was "go on": the runner then ended the batch itself (a
      // crash ended the boot), and the session plans again, stopped or not.
      bool went_on = false;
      const run::RunSink sink = [&](const run::RunResult& result) -> base::Result<bool> {
        went_on = false;
        if (stopped()) {
          return false;  // the watcher may have killed it: never record
        }
        FB_ASSIGN_OR_RETURN(RunStep step, record_run(batch.commit, k, batch.runs, result));
        ++k;
        ++batch_runs;
        if (policy_.classify(result.outcome, result.signature, result.crash_titles,
                             result.test_outcome) == Observation::kFail) {
          ++batch_fails;
        }
        batch_run_ms += result.duration.count();
        if (step != RunStep::kContinue || k >= batch.runs) {
          return false;
        }
        if (model::evaluate_stop(make_posterior(), stop_options_) != model::Verdict::kContinue) {
          return false;
        }
        FB_ASSIGN_OR_RETURN(auto changed, check_interrupted());
        if (changed) {
          ended = *changed;
          return false;
        }
        report(Progress::Phase::kRunning, batch.commit, k + 1, batch.runs, "");
        went_on = true;
        return true;
      };
      FB_ASSIGN_OR_RETURN(const auto indexes,
                          RunIndexReservation::take(store_, bisection_.spec.test_identity,
                                                    candidates_[batch.commit].sha,
                                                    evidence_.recorded_runs[batch.commit],
                                                    batch.runs - batch.done, now_ms()));
      next_index_ = indexes->first();
      FB_TRY(runner_->run_batch(checkout_of(batch.commit), next_index_, batch.runs - batch.done,
                                sink));
      // Logged also when a stop came after the runner ended the batch itself: the event closes
      // the plan, so a resume plans again as this session would have (read_events).
      if (batch_runs > 0 && (!stopped() || went_on)) {
        // What the batch cost, for the planner's learned costs (cost_learner.h).
        const int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    clock_.now() - batch_started)
                                    .count();
        const json data{{"sha", candidates_[batch.commit].sha},
                        {"runs", batch_runs},
                        {"run_ms", batch_run_ms},
                        {"wall_ms", wall_ms}};
        std::string message = fmt::format(
            "{} run{} of {} in {} ms ({} ms in the runs){}", batch_runs, batch_runs == 1 ? "" : "s",
            short_sha(candidates_[batch.commit].sha), wall_ms, batch_run_ms,
            batch_runs < batch.runs ? fmt::format("; {} planned", batch.runs) : "");
        if (config_.xfstests) {
          // kvm-xfstests' summary line, for readers who know it.
          message = fmt::format("{}: {} tests, {} failures, {} seconds; {}",
                                xfstests_config_name(*config_.xfstests, config_.scratch),
                                batch_runs, batch_fails, batch_run_ms / 1000, message);
        }
        FB_TRY(log_event(kEventBatch, message, data));
        learn_from(kEventBatch, data);
      }
      if (auto accel = runner_->accel(); accel && !accel_logged_) {
        // Once per session: reports say how the guests ran.
        FB_TRY(log_event(kEventEnvironment, "guests run with " + *accel, json{{"accel", *accel}}));
        accel_logged_ = true;
      }
      if (ended) {
        return *ended;
      }
    }
  }

  model::Posterior make_posterior() const {
    model::Posterior posterior(*dag_, model_);
    apply_evidence(evidence_, posterior);
    return posterior;
  }

  // Remembers the posterior's headline for progress reports.
  void note(const model::Posterior& posterior) {
    max_probability_ = posterior.max_probability();
    best_sha_ = named(posterior.most_likely()).sha;
  }

  std::string not_reproduced_reason(const model::Posterior& posterior) const {
    if (posterior.total_fails() == 0) {
      return fmt::format("could not reproduce on {}: {} runs at {} without a failure",
                         config_.range.find_fix ? "the broken commit" : "bad",
                         evidence_.commits[dag_->bad()].passes, short_sha(bisection_.spec.bad_sha));
    }
    return fmt::format("no {} in this range is the most likely explanation (p = {:.4f})",
                       config_.range.find_fix ? "fix" : "regression",
                       posterior.no_regression_probability());
  }

  // A set *stop pauses the bisection; a state changed by someone else ends the session.
  base::Result<std::optional<BisectionState>> check_interrupted() {
    if (stopped()) {
      FB_ASSIGN_OR_RETURN(const bool paused, pause(options_.stop_reason));
      if (paused) {
        return std::optional<BisectionState>(BisectionState::kPaused);
      }
      // Someone changed it first (a user's cancel): their state stands, read below.
    }
    FB_ASSIGN_OR_RETURN(store::Bisection now, store_.get_bisection(id_));
    if (now.state != BisectionState::kRunning || now.owner_pid != owner_pid()) {
      if (now.state == BisectionState::kCancelled) {
        remove_worktree();
      }
      return std::optional<BisectionState>(now.state);
    }
    return std::optional<BisectionState>();
  }

  bool stopped() const {
    return (options_.stop != nullptr && options_.stop->load()) ||
           (options_.also_stop != nullptr && options_.also_stop->load());
  }

  // A finished run is worth more than the store's busy timeout (5 s): another process may hold
  // the write lock for longer (sqlite3 at a prompt, a backup, a report of a large store). Tries
  // again every kStoreBusyRetry while the store is busy, saying so once, until it frees, this
  // process is asked to stop, or options_.store_busy_patience has passed; then the error names
  // what was not stored.
  template <typename Attempt>
  auto store_while_busy(const std::string& what, Attempt attempt) -> decltype(attempt()) {
    const auto started = std::chrono::steady_clock::now();
    bool warned = false;
    while (true) {
      auto result = attempt();
      if (result || result.error().code() != ErrorCode::kBusy) {
        return result;
      }
      const auto waited = std::chrono::steady_clock::now() - started;
      if (stopped() || waited >= options_.store_busy_patience) {
        return std::move(result).error().context(
            fmt::format("{} not stored after waiting {} s", what,
                        std::chrono::duration_cast<std::chrono::seconds>(waited).count()));
      }
      store_waited_ = true;
      if (!warned) {
        spdlog::warn(
            "bisection {}: {}; waiting for it (up to {} s) to store {}", id_,
            result.error().message(),
            std::chrono::duration_cast<std::chrono::seconds>(options_.store_busy_patience).count(),
            what);
        warned = true;
      }
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          kStoreBusyRetry, options_.store_busy_patience - waited));
    }
  }

  // Pauses the bisection if it is still ours; false, with nothing written, if it is not.
  base::Result<bool> pause(const std::string& reason) {
    FB_ASSIGN_OR_RETURN(store::Transaction txn, store_.begin_write());
    FB_ASSIGN_OR_RETURN(
        const bool ours,
        store_.set_state_if_owner(id_, owner_pid(), BisectionState::kPaused, now_ms(), reason));
    if (!ours) {
      return false;
    }
    FB_TRY(log_event(
        kEventPaused, "paused: " + reason,
        json{{"reason", reason}, {"by", options_.session_mode}, {"elapsed_ms", elapsed_ms()}}));
    FB_TRY(txn.commit());
    report(Progress::Phase::kPaused, std::nullopt, 0, 0, "paused: " + reason);
    return true;
  }

  base::Status log_plan(const model::Step& step, const Batch& batch,
                        const model::Posterior& posterior) {
    const std::string& sha = candidates_[batch.commit].sha;
    std::string message = fmt::format(
        "{} {} x{}: {:.3f} bits for cost {:.1f}; best so far {} at p = {:.4f}",
        step.reproducing ? "reproduce on" : "test", short_sha(sha), batch.runs,
        step.information_bits, step.cost, short_sha(best_sha_), posterior.max_probability());
    json data{{"sha", sha},
              {"idx", batch.commit},
              {"runs", batch.runs},
              {"information_bits", step.information_bits},
              {"cost", step.cost},
              {"reproducing", step.reproducing},
              {"max_probability", posterior.max_probability()},
              {"best_sha", best_sha_},
              {"runs_before", bisection_runs_},
              // build: the cost model's (configured or learned); build_charged: what the step
              // charged a new build, raised by decision.noise_build_weight in a rare, noisy search
              // and by decision.rare_build_weight in a rare one.
              {"costs",
               {{"build", planner_->options().cost.build},
                {"build_charged", planner_->costs_now(posterior, built_).build},
                {"boot", planner_->options().cost.boot},
                {"run", planner_->options().cost.run},
                {"learned", config_.decision.learn_costs && costs_->learned()}}},
              {"elapsed_ms", elapsed_ms()}};
    FB_TRY(log_event(kEventPlan, message, data));
    spdlog::debug("bisection {}: {}", id_, message);
    report(Progress::Phase::kPlanning, batch.commit, 0, batch.runs, message);
    return {};
  }

  // Feeds a stored "build" or "batch" event to the cost learner. A build the builder found in
  // its cache cost nothing and says nothing about the next build.
  void learn_from(std::string_view kind, const json& data) {
    const auto integer = [&](const char* key) -> std::optional<int64_t> {
      const auto it = data.find(key);
      return it != data.end() && it->is_number_integer() ? std::optional(it->get<int64_t>())
                                                         : std::nullopt;
    };
    if (kind == kEventBuild) {
      const auto detail = data.find("detail");
      const bool cached = detail != data.end() && detail->is_string() && *detail == "cached";
      if (auto ms = integer("duration_ms"); ms && !cached) {
        costs_->add_build(*ms);
      }
    } else if (kind == kEventBatch) {
      const auto runs = integer("runs");
      const auto run_ms = integer("run_ms");
      const auto wall_ms = integer("wall_ms");
      if (runs && run_ms && wall_ms && *runs > 0 && *runs < (int64_t{1} << 31)) {
        costs_->add_batch(static_cast<uint32_t>(*runs), *run_ms, *wall_ms);
      }
    }
  }

  // Plans with the costs learned so far. Exactly those: a resumed session, which learns them
  // again from the stored events, then plans as an uninterrupted one would.
  void update_costs() {
    if (!config_.decision.learn_costs || !costs_->learned()) {
      return;
    }
    const model::CostModel now = costs_->costs();
    const model::CostModel& used = planner_->options().cost;
    if (now.build == used.build && now.boot == used.boot && now.run == used.run) {
      return;
    }
    planner_->set_cost(now);
    spdlog::debug("bisection {}: planning with measured costs build {:.3g}, boot {:.3g}, run {:.3g}",
                  id_, now.build, now.boot, now.run);
  }

  build::CommitCheckout checkout_of(CommitIndex x) const {
    build::CommitCheckout checkout{candidates_[x].sha, bisection_.spec.repo,
                                   worktree_ ? worktree_->path().native() : std::string(),
                                   std::string()};
    if (artifacts_[x] != checkout.worktree) {
      checkout.artifact = artifacts_[x];
    }
    checkout.tree_id = tree_ids_[x];
    return checkout;
  }

  std::filesystem::path worktree_dir() const { return worktree_path(options_.worktree_root, id_); }

  base::Status ensure_worktree() {
    if (worktree_) {
      return {};
    }
    FB_TRY(base::make_private_dir(options_.worktree_root));
    auto worktree = git::Worktree::open_or_create(bisection_.spec.repo, worktree_dir());
    if (!worktree) {
      return std::move(worktree).error().context("worktree");
    }
    worktree_.emplace(std::move(worktree).value());
    return {};
  }

  // Checks x out and builds it unless this session already did. False: x cannot be tested (its
  // build failed, now a skip) or *stop abandoned the build.
  base::Result<bool> prepare(CommitIndex x) {
    if (prepared_ == x) {
      return true;
    }
    prepared_.reset();
    const std::string& sha = candidates_[x].sha;
    FB_TRY(ensure_worktree());
    report(Progress::Phase::kCheckout, x, 0, 0, "");
    auto checked_out = worktree_->checkout(sha);
    if (!checked_out) {
      return std::move(checked_out).error().context(fmt::format("checkout {}", short_sha(sha)));
    }
    base::failpoint(base::kFailpointAfterCheckout);
    if (!builder_->needs_build()) {
      prepared_ = x;
      return true;
    }

    report(Progress::Phase::kBuilding, x, 0, 0, "");
    FB_ASSIGN_OR_RETURN(std::optional<Built> built, build_and_record(checkout_of(x)));
    if (!built) {
      return false;  // abandoned: the watcher may have killed it
    }
    for (CommitIndex same_tree : commits_of_tree_[built->record.tree_id]) {
      note_build(same_tree, built->record);
      if (built->record.status != store::BuildStatus::kOk) {
        evidence_.commits[same_tree].skipped = true;
      }
    }
    report(Progress::Phase::kBuilding, x, 0, 0, built->message);
    if (built->record.status != store::BuildStatus::kOk) {
      return false;
    }
    prepared_ = x;
    return true;
  }

  struct Built {
    store::BuildRecord record;  // as stored, id included
    std::string message;        // the build event's
  };

  // Builds what `checkout` names (checked out already) and records the build and its event in one
  // transaction; the event's message names the commit after `what` and a failed build's ends
  // with `consequence`. Nullopt: *stop abandoned it, nothing recorded.
  base::Result<std::optional<Built>> build_and_record(
      const build::CommitCheckout& checkout, std::string_view consequence = "commit skipped",
      std::string_view what = "") {
    auto built_or_error = builder_->build(checkout);
    if (stopped()) {
      // The watcher may have killed it, or it gave up waiting for another build: either way
      // nothing of it is recorded, and the caller pauses.
      return std::optional<Built>();
    }
    FB_ASSIGN_OR_RETURN(build::BuildOutcome outcome, std::move(built_or_error));
    const std::string& sha = checkout.sha;
    Built built;
    store::BuildRecord& record = built.record;
    record.sha = sha;
    record.tree_id = checkout.tree_id;
    record.config_hash = build_key_;
    record.status = outcome.ok ? store::BuildStatus::kOk : store::BuildStatus::kFailed;
    if (outcome.ok) {
      record.artifact_path =
          outcome.artifact.empty() ? worktree_->path().native() : outcome.artifact;
    }
    record.log_tail = outcome.log_tail;
    record.duration_ms = outcome.duration.count();
    record.created_at_ms = now_ms();
    // A kernel image found in the artifact cache was configured, not compiled: say so.
    built.message =
        outcome.ok ? fmt::format(
                         "built {}{} in {} ms{}", what, short_sha(sha), outcome.duration.count(),
                         outcome.detail == "cached" ? " (its image was in the artifact cache)" : "")
                   : fmt::format("build of {}{} failed ({}): {}", what, short_sha(sha),
                                 outcome.detail, consequence);
    FB_ASSIGN_OR_RETURN(store::Transaction txn, store_.begin_write());
    FB_ASSIGN_OR_RETURN(int64_t build_id, store_.record_build(record));
    FB_TRY(log_event(kEventBuild, built.message,
                     json{{"sha", sha},
                          {"status", store::to_string(record.status)},
                          {"build_id", build_id},
                          {"duration_ms", record.duration_ms},
                          {"detail", outcome.detail}}));
    FB_TRY(txn.commit());
    ++builds_;
    learn_from(kEventBuild, json{{"duration_ms", record.duration_ms}, {"detail", outcome.detail}});
    spdlog::debug("bisection {}: {}", id_, built.message);
    record.id = build_id;
    return std::optional<Built>(std::move(built));
  }

  // runner_config (bisector.h), saying when it leaves out the guest's watch.
  config::Config run_config() const {
    config::Config config = runner_config(config_, bisection_.spec);
    if (config.test.no_output_timeout != config_.test.no_output_timeout) {
      spdlog::info(
          "bisection {}: started before guests watched test.no_output_timeout; its runs "
          "go on without it",
          id_);
    }
    if (config.qemu && config_.qemu &&
        config.qemu->console_loglevel != config_.qemu->console_loglevel) {
      spdlog::info(
          "bisection {}: started before the guest's console showed KERN_INFO; its runs go on "
          "at loglevel={}",
          id_, config.qemu->console_loglevel);
    }
    return config;
  }

  // Records one finished run (its own committed transaction), then counts it.
  base::Result<RunStep> record_run(CommitIndex x, uint32_t k, uint32_t batch_runs,
                                   const run::RunResult& outcome) {
    FB_TRY(store_run(candidates_[x].sha, build_ids_[x], outcome));
    ++evidence_.recorded_runs[x];
    const Observation observation = policy_.classify(outcome.outcome, outcome.signature,
                                                     outcome.crash_titles, outcome.test_outcome);
    model::CommitEvidence& evidence = evidence_.commits[x];
    switch (observation) {
      case Observation::kPass:
        ++evidence.passes;
        ++evidence_.used_runs;
        break;
      case Observation::kFail:
        ++evidence.fails;
        ++evidence_.used_runs;
        break;
      case Observation::kSkip:
        evidence.skipped = true;
        break;
      case Observation::kNone:
        if (counts_as_unjudged(outcome.outcome, outcome.crash_titles, x == dag_->bad()) &&
            unjudged_make_a_skip(++evidence_.unjudged_runs[x], evidence.passes + evidence.fails,
                                 x == dag_->bad())) {
          // Always hanging (a kernel that never reaches the test), or always another crash: the
          // planner learns nothing there and would run it for ever. gather_evidence() makes the
          // same call from the same rows (a resume agrees; runs another bisection of the test adds
          // later count there too).
          evidence.skipped = true;
          spdlog::info("bisection {}: {} skipped: {} runs there neither passed nor failed the test",
                       id_, short_sha(candidates_[x].sha), evidence_.unjudged_runs[x]);
          report(Progress::Phase::kRunning, x, k + 1, batch_runs, "");
          return RunStep::kEndBatch;
        }
        break;
    }
    report(Progress::Phase::kRunning, x, k + 1, batch_runs, "");
    // A run that had to wait for a locked store ends the batch: while the engine waited, nothing
    // read the guest's console, whose full pipe may have stalled it (a false soft lockup in the
    // next run's window).
    const bool waited = std::exchange(store_waited_, false);
    return observation == Observation::kSkip || waited ? RunStep::kEndBatch : RunStep::kContinue;
  }

  // Stores one finished run at `sha` with the next FLAKEBISECT_RUN index and counts it as this
  // bisection's; an error after kMaxInfraStreak infra outcomes in a row.
  base::Status store_run(const std::string& sha, std::optional<int64_t> build_id,
                         const run::RunResult& outcome) {
    const uint32_t index = next_index_++;
    store::RunRecord record;
    record.test_identity = bisection_.spec.test_identity;
    record.sha = sha;
    record.build_id = build_id;
    record.bisection_id = id_;
    record.run_index = index;
    record.outcome = outcome.outcome;
    record.signature = outcome.signature;
    record.crash_titles = outcome.crash_titles;
    record.test_outcome = outcome.test_outcome;
    record.duration_ms = outcome.duration.count();
    record.detail = outcome.detail;
    record.boot_id = outcome.boot_id;
    record.console_path = outcome.console_path;
    record.console_sha256 = outcome.console_sha256;
    record.created_at_ms = now_ms();
    FB_TRY(store_while_busy(fmt::format("run {} at {}", index, short_sha(record.sha)),
                            [&] { return store_.record_run(record); }));
    base::failpoint(base::kFailpointAfterRunCommit);

    ++bisection_runs_;
    spdlog::debug("bisection {}: run {} at {}: {}", id_, index, short_sha(record.sha),
                  store::to_string(outcome.outcome));
    // An infra run with crash titles is the commit's own kernel not booting (evidence.h): it
    // counts toward skipping the commit, and says nothing either way about the host, so it
    // neither adds to nor ends a streak; at the bad commit it is infra like any other.
    const bool commits_own = outcome.outcome == store::RunOutcome::kInfra &&
                             !outcome.crash_titles.empty() && sha != candidates_[dag_->bad()].sha;
    if (outcome.outcome == store::RunOutcome::kInfra && !commits_own) {
      if (++infra_streak_ >= kMaxInfraStreak) {
        return base::make_error(ErrorCode::kFailed,
                                "{} runs in a row failed for reasons outside the test (infra); "
                                "last at {}: {}",
                                infra_streak_, short_sha(record.sha), outcome.detail);
      }
    } else if (!commits_own) {
      infra_streak_ = 0;
    }
    return {};
  }

  // ---- KernelCI's revert check (model/revert_check.h) ------------------------------------------

  struct Checked {
    json result;                          // checks.revert of the result
    std::optional<BisectionState> ended;  // set when the bisection stopped during the check
  };

  // Tests the bad commit with the culprit reverted (a commit written into the private worktree's
  // own objects) until model::evaluate_revert decides or decision.revert_check_max_runs runs are
  // counted. Like the search, it is a function of the stored rows: a resumed bisection finds the
  // posterior at the stop again, makes the same revert commit (same SHA) and counts the runs
  // stored at it, whichever bisection of this test made them.
  base::Result<Checked> revert_check(const model::Posterior& posterior) {
    const store::Candidate& culprit = candidates_[posterior.most_likely()];
    const std::string& onto = bisection_.spec.bad_sha;
    json out{{"status", "inconclusive"},
             {"reverted", culprit.sha},
             {"onto", onto},
             {"commit", nullptr},
             {"runs", 0},
             {"fails", 0},
             {"probability_fixed", nullptr}};
    const auto done = [&](std::string status, std::string detail) -> base::Result<Checked> {
      return end_check("revert check", "Revert \"" + culprit.subject + "\"", out, std::move(status),
                       std::move(detail));
    };

    FB_TRY(ensure_worktree());
    auto reverted = worktree_->make_revert(culprit.sha, onto);
    if (!reverted && reverted.error().code() == ErrorCode::kInvalidInput) {
      // A culprit with no parent (the root of a history merged into the range) has nothing to
      // revert to; pausing would only hit the same wall at every resume.
      // The error names the worktree, which is gone once the bisection ends: say it plainly.
      return done("inconclusive",
                  fmt::format("no revert: {} has no parent, and flakebisect does not revert a "
                              "root commit (git would, deleting its files)",
                              short_sha(culprit.sha)));
    }
    FB_ASSIGN_OR_RETURN(git::RevertCommit revert, std::move(reverted));
    if (!revert.conflicts.empty()) {
      return done("conflict", conflict_detail(fmt::format("reverting {} on {}",
                                                          short_sha(culprit.sha), short_sha(onto)),
                                              revert.conflicts, out));
    }
    out["commit"] = revert.sha;
    CheckTarget target;
    target.label = "revert check";
    target.sha = revert.sha;
    target.tree_id = revert.tree_id;
    target.what = fmt::format("{} with {} reverted", short_sha(onto), short_sha(culprit.sha));
    target.testing = fmt::format("testing {} (commit {})", target.what, short_sha(revert.sha));
    target.subject = "Revert \"" + culprit.subject + "\"";
    target.probability_key = "probability_fixed";
    target.probability_name = "P(fixed)";
    target.cap = config_.decision.revert_check_max_runs;
    target.cap_key = "decision.revert_check_max_runs";
    target.build_what = "the revert ";
    // A right culprit's revert fixes the bug: a FAIL contradicts the search, and must outweigh
    // its confidence too (docs/model.md, "Revert check").
    target.fail_prior = posterior.max_probability();
    return run_check(posterior, target, out, done);
  }

  // The paths a revert or cherry-pick stopped at, into `out`, and the sentence that names them. A
  // tree-wide change can conflict in thousands of files: the result keeps the first
  // kMaxConflictPaths, the sentence the first few.
  static std::string conflict_detail(const std::string& doing,
                                     const std::vector<std::string>& paths, json& out) {
    const size_t shown = std::min<size_t>(paths.size(), 5);
    out["conflict_count"] = paths.size();
    out["conflicts"] = std::vector<std::string>(
        paths.begin(),
        paths.begin() + static_cast<ptrdiff_t>(std::min(paths.size(), kMaxConflictPaths)));
    std::string detail =
        fmt::format("{} conflicts in {}", doing,
                    fmt::join(paths.begin(), paths.begin() + static_cast<ptrdiff_t>(shown), ", "));
    if (paths.size() > shown) {
      detail += fmt::format(" and {} more", paths.size() - shown);
    }
    return detail;
  }

  // The backport check (decision.backport_check, range.find_fix only): the broken (bad) commit
  // with the fix cherry-picked onto it (`git cherry-pick -x`, a commit written into the private
  // worktree's own objects), run until model::evaluate_revert decides whether the pick fixes it,
  // as the revert check runs a revert. What a stable maintainer asks next: does the fix alone,
  // applied to the old kernel, make the failure go away?
  base::Result<Checked> backport_check(const model::Posterior& posterior) {
    const store::Candidate& fix = named(posterior.most_likely());
    // The broken commit, or the commit decision.backport_onto named (a stable branch's tip).
    const std::string& onto = config_.decision.backport_onto.empty()
                                  ? bisection_.spec.bad_sha
                                  : config_.decision.backport_onto;
    json out{{"status", "inconclusive"},    {"picked", fix.sha}, {"onto", onto},
             {"commit", nullptr},           {"runs", 0},         {"fails", 0},
             {"probability_fixed", nullptr}};
    bool same = false;  // the pick is the fix's own tree: the check runs the fix
    const auto done = [&](std::string status, std::string detail) -> base::Result<Checked> {
      if (same) {
        // This bisection's runs at the fix are the search's (and a verify check's at the good
        // end) as much as the check's: none is claimed as the check's alone.
        out["own_runs"] = nullptr;
      }
      return end_check("backport check", fix.subject, out, std::move(status), std::move(detail));
    };
    FB_TRY(ensure_worktree());
    // What cannot change at a resume ends the check, undecided, saying why; pausing would hit
    // the same wall every time: a decision.backport_onto commit that is gone (its branch deleted
    // and pruned while the bisection waited), or one that has the fix already, where the pick
    // is empty and a PASS would say nothing about a backport.
    FB_ASSIGN_OR_RETURN(git::Repository repo, git::Repository::open(bisection_.spec.repo));
    if (auto read = repo.commit_info(onto); !read) {
      return done("inconclusive", fmt::format("no backport: {} cannot be read: {}", short_sha(onto),
                                              read.error().message()));
    }
    FB_ASSIGN_OR_RETURN(const bool below, repo.is_ancestor(fix.sha, onto));
    if (below || fix.sha == onto) {
      return done("inconclusive", fmt::format("no backport: {} already has the fix {}",
                                              short_sha(onto), short_sha(fix.sha)));
    }
    auto picked = worktree_->make_cherry_pick(fix.sha, onto);
    if (!picked && picked.error().code() == ErrorCode::kInvalidInput) {
      return done("inconclusive", "no backport: " + picked.error().message());
    }
    FB_ASSIGN_OR_RETURN(git::RevertCommit pick, std::move(picked));
    if (!pick.conflicts.empty()) {
      return done("conflict", conflict_detail(fmt::format("cherry-picking {} onto {}",
                                                          short_sha(fix.sha), short_sha(onto)),
                                              pick.conflicts, out));
    }
    FB_ASSIGN_OR_RETURN(const std::string fix_tree, worktree_->tree_id(fix.sha));
    // The fix's parent is the broken commit (a one-commit chain): the pick is the fix's own tree,
    // and the runs the search made at the fix are its runs. The check runs the fix itself, so
    // they count, rather than repeat them on a commit that differs only in its message.
    same = pick.tree_id == fix_tree;
    out["commit"] = same ? fix.sha : pick.sha;
    CheckTarget target;
    target.label = "backport check";
    target.sha = same ? fix.sha : pick.sha;
    target.tree_id = pick.tree_id;
    target.what =
        same ? fmt::format("{} (cherry-picked onto {} it is the same tree)", short_sha(fix.sha),
                           short_sha(onto))
             : fmt::format("{} with {} cherry-picked", short_sha(onto), short_sha(fix.sha));
    target.testing = same ? "testing " + target.what
                          : fmt::format("testing {} (commit {})", target.what, short_sha(pick.sha));
    target.subject = fix.subject;
    target.probability_key = "probability_fixed";
    target.probability_name = "P(fixed)";
    target.cap = config_.decision.backport_check_max_runs;
    target.cap_key = "decision.backport_check_max_runs";
    target.build_what = "the backport ";
    // A right fix, picked onto the broken commit, fixes it unless it needs earlier commits of the
    // range too: a FAIL must outweigh the search's confidence, as for the revert check.
    target.fail_prior = posterior.max_probability();
    return run_check(posterior, target, out, done);
  }

  // The verify check (decision.verify_check): when the culprit's first parent is outside the
  // candidates, the search never ran it and the verdict rests on the user's word that it is good.
  // Runs it like the revert check runs the revert. nullopt when the culprit's first parent is a
  // candidate (the search weighed it) or the culprit has none.
  base::Result<std::optional<Checked>> verify_check(const model::Posterior& posterior) {
    const store::Candidate& culprit = candidates_[posterior.most_likely()];
    if (config_.range.find_fix) {
      return fix_verify_check(posterior, culprit);
    }
    FB_ASSIGN_OR_RETURN(git::Repository repo, git::Repository::open(bisection_.spec.repo));
    FB_ASSIGN_OR_RETURN(const git::CommitInfo info, repo.commit_info(culprit.sha));
    if (info.parents.empty() || index_of_.count(info.parents.front()) > 0) {
      return std::optional<Checked>();
    }
    auto read_parent = repo.commit_info(info.parents.front());
    if (!read_parent) {
      // Its object is missing (a clone cut short): pausing would hit the same wall at every
      // resume, so the check ends, undecided, saying why.
      json out = verify_out(culprit.sha, info.parents.front());
      FB_ASSIGN_OR_RETURN(
          Checked ended,
          end_check("verify check", std::string(), out, "inconclusive",
                    fmt::format("the culprit's parent {} cannot be read: {}",
                                short_sha(info.parents.front()), read_parent.error().message())));
      return std::optional<Checked>(std::move(ended));
    }
    const git::CommitInfo parent = std::move(read_parent).value();
    VerifyTarget target;
    target.what =
        fmt::format("{} (the culprit's parent, outside the range)", short_sha(parent.sha));
    target.assumes = "good";
    target.build_what = "the culprit's parent ";
    target.refuted = fmt::format(
        "the culprit's parent {} is not good: {{}}; the regression is at or before it, older than "
        "the range: bisect again with an older good commit",
        short_sha(parent.sha));
    return run_verify(posterior, culprit.sha, parent, target);
  }

  // range.find_fix's verify check: when the fix named is the good end itself (the newest candidate
  // is the last failing one), the search never ran it and the verdict rests on the user's word
  // that the test passes there. nullopt for any other fix, which the search ran.
  base::Result<std::optional<Checked>> fix_verify_check(const model::Posterior& posterior,
                                                        const store::Candidate& last_broken) {
    if (!last_broken.parents.empty()) {
      return std::optional<Checked>();
    }
    FB_ASSIGN_OR_RETURN(git::Repository repo, git::Repository::open(bisection_.spec.repo));
    FB_ASSIGN_OR_RETURN(const git::CommitInfo fixed, repo.commit_info(fixed_end_.sha));
    VerifyTarget target;
    target.what = fmt::format("{} (the good end, named the fix)", short_sha(fixed.sha));
    target.assumes = "passes";
    target.build_what = "the good end ";
    target.refuted = fmt::format(
        "the good end {} fails too: {{}}; the fix, if there is one, is newer than the range: "
        "bisect again with a newer good commit",
        short_sha(fixed.sha));
    return run_verify(posterior, fixed.sha, fixed, target);
  }

  static json verify_out(const std::string& culprit, const std::string& commit) {
    return json{{"status", "inconclusive"},
                {"culprit", culprit},
                {"commit", commit},
                {"runs", 0},
                {"fails", 0},
                {"probability_good", nullptr}};
  }

  // How a verify check names what it runs.
  struct VerifyTarget {
    std::string what;        // the commit in sentences
    std::string assumes;     // what the verdict takes for granted there: "good"
    std::string build_what;  // "the culprit's parent ": in the build's event
    std::string refuted;     // a FAIL's detail, "{}" standing for the counts
  };

  // Runs `commit`, which the verdict assumes good, as run_check() runs a revert, and names it
  // in the result as checked for `culprit`.
  base::Result<std::optional<Checked>> run_verify(const model::Posterior& posterior,
                                                  const std::string& culprit,
                                                  const git::CommitInfo& commit,
                                                  const VerifyTarget& verify) {
    json out = verify_out(culprit, commit.sha);
    const auto done = [&](std::string status, std::string detail) -> base::Result<Checked> {
      if (status == "fail") {
        detail = fmt::format(fmt::runtime(verify.refuted), detail);
      }
      return end_check("verify check", commit.subject, out, status, detail);
    };
    FB_TRY(ensure_worktree());
    CheckTarget target;
    target.label = "verify check";
    target.sha = commit.sha;
    target.tree_id = commit.tree;
    target.what = verify.what;
    target.testing =
        fmt::format("testing {}, which the verdict assumes {}", verify.what, verify.assumes);
    target.subject = commit.subject;
    target.probability_key = "probability_good";
    target.probability_name = "P(good)";
    target.cap = config_.decision.verify_check_max_runs;
    target.cap_key = "decision.verify_check_max_runs";
    target.build_what = verify.build_what;
    // Not the search's confidence: runs inside the range cannot tell the first candidate from
    // "older than the range", so that confidence says nothing of the commit. The user's word
    // that it is good counts for nine in ten (docs/model.md, "Verify check").
    target.fail_prior = model::kGoodEndPrior;
    FB_ASSIGN_OR_RETURN(Checked checked, run_check(posterior, target, out, done));
    return std::optional<Checked>(std::move(checked));
  }

  // Ends a check with `status`: the result's status and detail, its "check" event, and the line
  // progress shows ("<label>: <detail>").
  base::Result<Checked> end_check(const std::string& label, const std::string& subject, json& out,
                                  const std::string& status, const std::string& detail) {
    out["status"] = status;
    out["detail"] = detail;
    FB_TRY(log_event(kEventCheck, label + ": " + detail, out));
    report_check(label, Progress::Phase::kRunning,
                 out["commit"].is_string() ? out["commit"].get<std::string>() : std::string(),
                 subject, 0, 0, label + ": " + detail);
    return Checked{out, std::nullopt};
  }

  // What a check runs: one commit outside the candidates, its runs weighed by the revert check's
  // model (model::evaluate_revert: like a good commit, "fixed", or like a bad one, "still bad").
  struct CheckTarget {
    std::string label;             // "revert check": the prefix of its events and lines
    std::string sha;               // the commit run
    std::string tree_id;           // its tree, the build cache's key
    std::string what;              // how its runs are named in sentences
    std::string testing;           // the first event's sentence
    std::string subject;           // what progress shows as the commit's subject
    std::string probability_key;   // the result's member for P(like a good commit)
    std::string probability_name;  // its name in sentences: "P(fixed)"
    uint32_t cap = 0;              // the most runs, every outcome counted
    std::string cap_key;           // the configuration key of the cap
    std::string build_what;        // "the revert ": in the build's event
    // The prior P(like a good commit) a FAIL must overcome (model::evaluate_revert); a PASS
    // starts from 1/2 whatever it is.
    double fail_prior = 0.5;
  };
  using CheckDone = std::function<base::Result<Checked>(std::string status, std::string detail)>;

  // Runs `target` until the posterior decides (done("pass") or done("fail")), the cap is reached
  // or a run is a skip (done("inconclusive")), or it does not build (done("build_failed")). Like
  // the search, a function of the stored rows: runs stored at the commit for this test, whichever
  // bisection made them, count first, and a check they decide builds and runs nothing.
  base::Result<Checked> run_check(const model::Posterior& posterior, const CheckTarget& target,
                                  json& out, const CheckDone& done) {
    const std::string& what = target.what;
    const std::string testing = target.label + ": " + target.testing;
    FB_TRY(log_event(kEventCheck, testing, json{{"sha", target.sha}, {"runs", 0}}));

    report_check(target.label, Progress::Phase::kCheckout, target.sha, target.subject, 0, 0,
                 testing);
    auto checked_out = worktree_->checkout(target.sha);
    if (!checked_out) {
      return std::move(checked_out)
          .error()
          .context(fmt::format("checkout of {}{}", target.build_what, short_sha(target.sha)));
    }
    prepared_.reset();  // the worktree no longer holds a candidate
    build::CommitCheckout checkout{target.sha, bisection_.spec.repo, worktree_->path().native(),
                                   std::string()};
    checkout.tree_id = target.tree_id;
    const double threshold = model::stop_threshold(stop_options_);
    const uint32_t cap = target.cap;
    std::optional<int64_t> build_id;
    bool built = false;  // in this session
    // The stored runs first: a session that finds the check decided (killed after its last run,
    // or another bisection's runs at the same commit) neither builds nor runs anything.
    while (true) {
      FB_ASSIGN_OR_RETURN(const std::vector<store::RunRecord> stored,
                          store_.runs_for(bisection_.spec.test_identity, target.sha));
      uint32_t fails = 0, passes = 0, next = 0;
      // Every run at the commit counts toward the cap, also those that are neither a pass nor a
      // failure (a hang that test.failure_outcomes leaves out, a crash of another signature):
      // otherwise a commit that always hangs would be run for ever.
      const auto made = static_cast<uint32_t>(std::min<size_t>(stored.size(), UINT32_MAX));
      bool skipped = false;
      uint64_t own = 0;  // made by this bisection, whatever their outcome
      for (const store::RunRecord& run : stored) {
        own += run.bisection_id == id_ ? 1 : 0;
        next = std::max(next, static_cast<uint32_t>(run.run_index + 1));
        switch (policy_.classify(run.outcome, run.signature, run.crash_titles, run.test_outcome)) {
          case Observation::kPass:
            ++passes;
            break;
          case Observation::kFail:
            ++fails;
            break;
          case Observation::kSkip:
            skipped = true;
            break;
          case Observation::kNone:
            break;
        }
      }
      const double fixed = model::revert_fixed_probability(posterior, fails, passes);
      out["runs"] = fails + passes;
      out["fails"] = fails;
      out["own_runs"] = own;
      out[target.probability_key] = fixed;
      // Rounded down, as the reports do: 0.99996 is not "1.0000", and a tiny P is not "0".
      const std::string p_fixed =
          fixed > 0 && fixed < 1e-4 ? std::string("< 0.0001")
                                    : fmt::format("= {:.4f}", std::floor(fixed * 1e4 + 1e-9) / 1e4);
      std::string counts = fmt::format("{} of {} runs of {} failed ({} {})", fails, fails + passes,
                                       what, target.probability_name, p_fixed);
      if (made > fails + passes) {
        counts += fmt::format("; {} more neither passed nor failed", made - fails - passes);
      }
      if (skipped) {
        return done(
            "inconclusive",
            fmt::format("a run of {} was a skip (the test cannot test it, e.g. exit 125)", what));
      }
      switch (model::evaluate_revert(posterior, fails, passes, threshold, target.fail_prior)) {
        case model::RevertVerdict::kFixed:
          return done("pass", counts);
        case model::RevertVerdict::kStillBad:
          return done("fail", counts);
        case model::RevertVerdict::kContinue:
          break;
      }
      if (made >= cap) {
        return done("inconclusive", counts + fmt::format(": {} ({}) reached", target.cap_key, cap));
      }

      FB_ASSIGN_OR_RETURN(auto interrupted, check_interrupted());
      if (interrupted) {
        return Checked{json(), interrupted};
      }
      FB_TRY(check_inputs_still_recorded());
      if (!built && builder_->needs_build()) {
        // Built once in every session that needs more runs, as prepare() builds a candidate: the
        // products of an earlier session's build need not be there any more (the checkout removes
        // untracked files); the kernel builder's artifact cache makes a repeat cheap. A stored
        // failed build is final, as it is for a candidate. Runs already made stay in the result.
        FB_ASSIGN_OR_RETURN(auto stored_build, store_.find_build(target.tree_id, build_key_));
        if (!stored_build || stored_build->status == store::BuildStatus::kOk) {
          report_check(target.label, Progress::Phase::kBuilding, target.sha, target.subject, 0, 0,
                       "");
          FB_ASSIGN_OR_RETURN(std::optional<Built> fresh,
                              build_and_record(checkout, "no " + target.label, target.build_what));
          if (!fresh) {
            FB_ASSIGN_OR_RETURN(auto ended, check_interrupted());
            return Checked{json(), ended.value_or(BisectionState::kPaused)};
          }
          stored_build = fresh->record;
          report_check(target.label, Progress::Phase::kBuilding, target.sha, target.subject, 0, 0,
                       fresh->message);
        }
        if (stored_build->status != store::BuildStatus::kOk) {
          std::string detail =
              fmt::format("{} does not build: {}", what, last_line(stored_build->log_tail));
          if (made > 0) {
            detail += fmt::format(" (after {} runs with an earlier build: {})", made, counts);
          }
          // No verdict: the runs made are in `detail`, and the reports null the probability of
          // a revert that does not build (docs/reports.md); so does the result, and `run --json`.
          out[target.probability_key] = nullptr;
          return done("build_failed", detail);
        }
        build_id = stored_build->id;
        if (stored_build->artifact_path &&
            *stored_build->artifact_path != worktree_->path().native()) {
          checkout.artifact = *stored_build->artifact_path;
        }
        built = true;
      }
      uint32_t batch =
          model::revert_runs_to_decide(posterior, fails, passes, threshold, cap - made);
      if (config_.test.runs_per_batch > 0) {
        batch = std::min(config_.test.runs_per_batch, cap - made);
      } else if (config_.qemu) {
        batch = std::min(batch, config_.xfstests ? std::min(config_.qemu->runs_per_boot,
                                                            run::kXfstestsRunsPerBoot)
                                                 : config_.qemu->runs_per_boot);
      }
      std::optional<BisectionState> ended;
      uint32_t k = 0;
      report_check(target.label, Progress::Phase::kRunning, target.sha, target.subject, 1, batch,
                   "");
      const run::RunSink sink = [&](const run::RunResult& result) -> base::Result<bool> {
        if (stopped()) {
          return false;  // the watcher may have killed it: never record
        }
        FB_TRY(store_run(target.sha, build_id, result));
        ++k;
        switch (policy_.classify(result.outcome, result.signature, result.crash_titles,
                                 result.test_outcome)) {
          case Observation::kPass:
            ++passes;
            break;
          case Observation::kFail:
            ++fails;
            break;
          case Observation::kSkip:
            return false;
          case Observation::kNone:
            break;
        }
        if (k >= batch || made + k >= cap ||
            model::evaluate_revert(posterior, fails, passes, threshold, target.fail_prior) !=
                model::RevertVerdict::kContinue) {
          return false;
        }
        FB_ASSIGN_OR_RETURN(auto changed, check_interrupted());
        if (changed) {
          ended = *changed;
          return false;
        }
        report_check(target.label, Progress::Phase::kRunning, target.sha, target.subject, k + 1,
                     batch, "");
        return true;
      };
      // Read again: the build above can have taken minutes, while another bisection of this
      // test stored runs here (two daemon workers checking the same commit).
      FB_ASSIGN_OR_RETURN(const auto indexes,
                          RunIndexReservation::take(store_, bisection_.spec.test_identity,
                                                    target.sha, next, batch, now_ms()));
      next_index_ = indexes->first();
      FB_TRY(runner_->run_batch(checkout, next_index_, batch, sink));
      if (ended) {
        return Checked{json(), ended};
      }
      const std::string progress = fmt::format("{}: {} more runs of {}; {} of {} failed so far",
                                               target.label, k, what, fails, fails + passes);
      FB_TRY(log_event(kEventCheck, progress, json{{"sha", target.sha}, {"runs", k}}));
      report_check(target.label, Progress::Phase::kRunning, target.sha, target.subject, 0, 0,
                   progress);
    }
  }

  static std::string last_line(const std::string& text) {
    std::string_view view = text;
    while (!view.empty() && (view.back() == '\n' || view.back() == '\r')) view.remove_suffix(1);
    const size_t newline = view.rfind('\n');
    return std::string(newline == std::string_view::npos ? view : view.substr(newline + 1));
  }

  // ---- the end ---------------------------------------------------------------------------------

  base::Result<BisectionState> finish(BisectionState state, const model::Posterior& posterior,
                                      const std::string& reason, json checks = nullptr) {
    const std::string status(store::to_string(state));
    json result{{"version", 1}, {"status", status}};
    const CommitIndex best = posterior.most_likely();
    const store::Candidate& best_named = named(best);
    const json best_json{{"sha", best_named.sha},
                         {"subject", best_named.subject},
                         {"probability", posterior.max_probability()}};
    if (config_.range.find_fix) {
      // culprit, most_likely and credible_set name fixes; last_broken is the newest commit the
      // verdict has failing (the bisect-log's last "broken").
      result["mode"] = "fix";
      result["last_broken"] =
          state == BisectionState::kFound
              ? json{{"sha", candidates_[best].sha}, {"subject", candidates_[best].subject}}
              : json(nullptr);
    }
    result["culprit"] = state == BisectionState::kFound
                            ? json{{"sha", best_named.sha}, {"subject", best_named.subject}}
                            : json(nullptr);
    result["confidence"] = posterior.max_probability();
    if (!reason.empty()) {
      result["reason"] = reason;
    }
    result["most_likely"] = best_json;
    const std::vector<CommitIndex> set = posterior.credible_set(config_.decision.confidence);
    json credible = json::array();
    const auto& probability = posterior.culprit_probabilities();
    for (size_t i = 0; i < set.size() && i < kMaxCredibleSetEntries; ++i) {
      const store::Candidate& entry = named(set[i]);
      credible.push_back(json{
          {"sha", entry.sha}, {"subject", entry.subject}, {"probability", probability[set[i]]}});
    }
    // A verify check that failed refuted the assumption every probability here rests on (the
    // good end is good): no commit of the range is offered as the first bad one.
    const bool refuted = checks.is_object() && checks.contains("verify") &&
                         checks["verify"].value("status", json()) == "fail";
    result["credible_set"] = refuted ? json::array() : std::move(credible);
    result["credible_set_size"] = refuted ? 0 : set.size();
    result["credible_mass"] = config_.decision.confidence;
    result["theta"] = rate_json(posterior.theta_summary());
    result["eps"] = rate_json(posterior.eps_summary());
    if (model_.no_regression_prior > 0) {
      result["no_regression_probability"] = posterior.no_regression_probability();
    }
    result["runs"] = bisection_runs_;
    result["evidence_runs"] = evidence_.used_runs;
    result["evidence_failures"] = evidence_.failures();
    result["builds"] = builds_;
    result["candidates"] = candidates_.size();
    result["bad"] = bisection_.spec.bad_sha;
    result["good"] = bisection_.spec.good_shas;
    if (checks.is_object()) {
      result["checks"] = std::move(checks);
    }

    std::string message =
        state == BisectionState::kFound
            ? fmt::format("found {}{} {} (p = {:.4f})", config_.range.find_fix ? "the fix " : "",
                          short_sha(best_named.sha), best_named.subject,
                          posterior.max_probability())
            : fmt::format("{}: {}", status, reason);
    if (result.contains("checks")) {
      for (const char* name : {"verify", "revert", "backport"}) {
        const json& check = result["checks"].value(name, json());
        if (check.is_object() && check.value("status", json()).is_string()) {
          message += fmt::format("; {} check: {}", name, check["status"].get<std::string>());
        }
      }
    }
    FB_ASSIGN_OR_RETURN(store::Transaction txn, store_.begin_write());
    FB_TRY(store_.set_result(id_, dump(result), now_ms()));
    FB_ASSIGN_OR_RETURN(const bool ours,
                        store_.set_state_if_owner(id_, owner_pid(), state, now_ms()));
    if (!ours) {
      // Someone changed it first (a user's cancel): nothing of this result is kept, their state
      // stands. The transaction rolls back as it goes out of scope.
      FB_ASSIGN_OR_RETURN(const std::optional<BisectionState> now, check_interrupted());
      return now.value_or(BisectionState::kRunning);
    }
    FB_TRY(
        log_event(kEventFinished, message, json{{"status", status}, {"elapsed_ms", elapsed_ms()}}));
    FB_TRY(txn.commit());
    spdlog::debug("bisection {}: {}", id_, message);

    remove_worktree();
    report(Progress::Phase::kFinished, best, 0, 0, message);
    return state;
  }

  // ---- helpers ---------------------------------------------------------------------------------

  // Also when this session never opened it: a resumed bisection that ends on runs another
  // bisection of the test recorded meanwhile, or right after a crash that followed its last run,
  // checks nothing out, and its checkout (a kernel tree and its build directory) would stay with
  // nothing left to remove it. Worktree::remove() leaves one another process holds.
  void remove_worktree() {
    if (options_.keep_worktree) {
      return;
    }
    worktree_.reset();  // drops its lock before the directory goes
    // Best effort: a worktree left behind costs disk space, not correctness.
    (void)git::Worktree::remove(worktree_dir());
  }

  base::Status log_event(std::string_view kind, const std::string& message, const json& data) {
    store::Event event;
    event.bisection_id = id_;
    event.at_ms = now_ms();
    event.kind = std::string(kind);
    event.message = message;
    event.data_json = dump(data);
    FB_TRY(store_.append_event(event));
    return {};
  }

  void report(Progress::Phase phase, std::optional<CommitIndex> x, uint32_t batch_run,
              uint32_t batch_runs, const std::string& milestone) const {
    if (!options_.progress) {
      return;
    }
    Progress progress = progress_of(phase, batch_run, batch_runs, milestone);
    if (x) {
      // The end names what the result names (the fix, with range.find_fix); every other phase
      // the commit being worked on.
      const store::Candidate& commit =
          phase == Progress::Phase::kFinished ? named(*x) : candidates_[*x];
      progress.sha = commit.sha;
      progress.subject = commit.subject;
    }
    options_.progress(progress);
  }

  // report() for the revert check's commit, which is not a candidate.
  void report_check(const std::string& check, Progress::Phase phase, const std::string& sha,
                    const std::string& subject, uint32_t batch_run, uint32_t batch_runs,
                    const std::string& milestone) const {
    if (!options_.progress) {
      return;
    }
    Progress progress = progress_of(phase, batch_run, batch_runs, milestone);
    progress.sha = sha;
    progress.check = check;
    progress.subject = subject;
    options_.progress(progress);
  }

  // What every progress report says of the bisection as a whole.
  Progress progress_of(Progress::Phase phase, uint32_t batch_run, uint32_t batch_runs,
                       const std::string& milestone) const {
    Progress progress;
    progress.bisection_id = id_;
    progress.phase = phase;
    progress.batch_run = batch_run;
    progress.batch_runs = batch_runs;
    progress.runs = bisection_runs_;
    progress.max_runs = config_.decision.max_runs;
    progress.builds = builds_;
    progress.max_probability = max_probability_;
    progress.best_sha = best_sha_;
    progress.milestone = milestone;
    return progress;
  }

  int64_t owner_pid() const { return options_.owner_pid != 0 ? options_.owner_pid : ::getpid(); }

  int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock_.wall_now().time_since_epoch())
        .count();
  }

  // Time spent running this bisection, over all sessions (a crashed session counts up to its last
  // logged decision).
  int64_t elapsed_ms() const {
    return elapsed_before_ms_ +
           std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - started_).count();
  }

  store::Store& store_;
  base::Clock& clock_;
  const BisectorOptions& options_;
  const int64_t id_;
  const std::chrono::steady_clock::time_point started_;
  bool fatal_ = false;

  store::Bisection bisection_;
  config::Config config_;
  OutcomePolicy policy_;
  std::unique_ptr<build::Builder> builder_;
  std::unique_ptr<run::Runner> runner_;
  std::vector<store::Candidate> candidates_;
  std::unordered_map<std::string, CommitIndex> index_of_;
  std::optional<model::CandidateDag> dag_;
  model::ModelOptions model_;
  std::optional<model::Planner> planner_;
  std::optional<CostLearner> costs_;
  model::StopOptions stop_options_;

  std::string build_key_;
  // The input files recorded at the start (use_recorded_inputs), checked again before each step.
  std::vector<InputFile> recorded_inputs_;
  bool recorded_kernel_ = false;
  std::vector<std::pair<int64_t, int64_t>> input_stamps_;  // input_stamps() when last checked
  bool store_waited_ = false;  // the last run stored had to wait for a locked store
  std::vector<std::string> tree_ids_;              // per candidate; only when there is a build
  std::vector<bool> built_;                        // an ok build is stored (or none is needed)
  std::vector<bool> build_failed_;                 // a failed or skipped build is stored
  std::vector<std::optional<int64_t>> build_ids_;  // the ok build's row
  std::vector<std::string> artifacts_;             // the ok build's artifact directory
  std::unordered_map<std::string, std::vector<CommitIndex>> commits_of_tree_;
  Evidence evidence_;
  uint32_t next_index_ = 0;      // FLAKEBISECT_RUN of the batch's next run (RunIndexReservation)
  uint64_t bisection_runs_ = 0;  // runs this bisection recorded, all outcomes
  uint64_t builds_ = 0;          // builds this bisection recorded
  int64_t elapsed_before_ms_ = 0;
  bool resumed_ = false;
  std::optional<Batch> pending_;  // an unfinished batch found in the event log

  std::optional<git::Worktree> worktree_;
  std::optional<CommitIndex> prepared_;  // checked out and built in this session
  uint32_t infra_streak_ = 0;
  bool accel_logged_ = false;
  double max_probability_ = 0;
  std::string best_sha_;
  store::Candidate
      fixed_end_;  // range.find_fix: the good commit, named when the newest is last bad
};

}  // namespace

config::Config runner_config(const config::Config& config, const store::BisectionSpec& spec) {
  config::Config out = config;
  if (!config.qemu) {
    return out;
  }
  // Which guest the stored identity describes: this one's, the one before the console showed
  // KERN_INFO, or an earlier one still (before the watch of silence too, or before schema 2).
  bool current = false;
  bool before_loglevel7 = false;
  if (!spec.inputs_json.empty()) {
    if (auto inputs = inputs_from_json(spec.inputs_json, "bisection")) {
      const std::string digest = reproducer_digest(config, *inputs);
      current = spec.test_identity == test_identity(config, digest);
      before_loglevel7 =
          !current &&
          spec.test_identity == test_identity(config, digest, GuestEra::kBeforeConsoleLoglevel7);
    }
  }
  if (!current) {
    // Before qemu.append's words (the runner's own come first), so a loglevel of the user's own
    // still wins; not in qemu.append itself, which the KVM probe shares, and whose banner a
    // console at loglevel 5 does not show.
    out.qemu->console_loglevel = 5;
  }
  if (!current && !before_loglevel7 && guest_watches_output(config)) {
    out.test.no_output_timeout = std::chrono::seconds(0);
  }
  return out;
}

std::string xfstests_config_name(const config::XfstestsConfig& xfstests,
                                 const config::ScratchConfig& scratch) {
  std::vector<std::string> words;
  std::istringstream split(xfstests.mkfs_options);
  for (std::string word; split >> word;) words.push_back(word);
  return config::filesystem_config_name(scratch.fstype, words);
}

std::string worktree_path(const std::string& worktree_root, int64_t id) {
  return (std::filesystem::path(worktree_root) / fmt::format("bisection-{}", id)).native();
}

ExecutorFactory standard_executors(base::ProcessRunner& processes, std::string state_dir,
                                   const std::atomic<bool>* stop,
                                   const std::atomic<bool>* also_stop) {
  return [&processes, state_dir, stop,
          also_stop](const config::Config& config) -> base::Result<Executors> {
    namespace fs = std::filesystem;
    const fs::path state(state_dir.empty() ? std::string(".") : state_dir);
    Executors executors;
    const auto build_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.build.timeout);
    if (config.kernel) {
      build::KernelBuilderOptions kernel;
      kernel.build_root = (state / "kernel" / ("obj-" + build_key(config).substr(0, 16))).native();
      kernel.cache_root = (state / "kernel" / "artifacts").native();
      kernel.log_dir = (state / "logs" / "build").native();
      kernel.stop = stop;
      kernel.also_stop = also_stop;
      executors.builder = std::make_unique<build::KernelBuilder>(processes, *config.kernel,
                                                                 build_timeout, kernel);
    } else {
      executors.builder =
          std::make_unique<build::CommandBuilder>(processes, config.build.command, build_timeout);
    }
    if (config.qemu) {
      run::QemuRunnerOptions qemu;
      qemu.qemu = *config.qemu;
      qemu.scratch = config.scratch;
      qemu.reproducer = config.reproducer.value_or(config::ReproducerConfig{});
      qemu.xfstests = config.xfstests;
      qemu.run_timeout = config.test.timeout;
      qemu.no_output_timeout = config.test.no_output_timeout;
      qemu.work_dir = (state / "qemu").native();
      qemu.cache_dir = (state / "cache" / "initramfs").native();
      qemu.kernel_cache_dir = (state / "cache" / "kernels").native();
      qemu.log_dir = (state / "logs" / "console").native();
      if (config.kernel) {
        qemu.artifact_image = config.kernel->target;
      }
      executors.runner = std::make_unique<run::QemuRunner>(processes, std::move(qemu));
    } else {
      run::CommandRunnerOptions run;
      run.argv = config.test.command;
      run.timeout = config.test.timeout;
      run.no_output_timeout = config.test.no_output_timeout;
      executors.runner = std::make_unique<run::CommandRunner>(processes, std::move(run));
    }
    return executors;
  };
}

Bisector::Bisector(store::Store& store, base::Clock& clock, ExecutorFactory executors,
                   BisectorOptions options)
    : store_(store),
      clock_(clock),
      executors_(std::move(executors)),
      options_(std::move(options)) {}

base::Result<BisectionState> Bisector::run(int64_t id) {
  Session session(store_, clock_, options_, id);
  auto result = session.run(executors_);
  if (result) {
    return result;
  }
  if (auto paused = session.pause_for_stop(result.error()); paused && *paused) {
    return BisectionState::kPaused;
  }

  // Leave the bisection resumable (or failed, when it can never continue) with the error, unless
  // it is no longer ours: then whoever changed it owns its state.
  const int64_t pid = options_.owner_pid != 0 ? options_.owner_pid : ::getpid();
  {
    const auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch())
            .count();
    const std::string& message = result.error().message();
    // The state and its error event in one transaction: a kill between two would leave a pause
    // without its error, which the daemon takes for one of its own and resumes.
    const auto changed = [&]() -> base::Result<bool> {
      FB_ASSIGN_OR_RETURN(store::Transaction txn, store_.begin_write());
      FB_ASSIGN_OR_RETURN(
          const bool ours,
          store_.set_state_if_owner(
              id, pid, session.fatal() ? BisectionState::kFailed : BisectionState::kPaused, now,
              message));
      if (!ours) return false;
      store::Event event;
      event.bisection_id = id;
      event.at_ms = now;
      event.kind = std::string(kEventError);
      event.message = message;
      FB_TRY(store_.append_event(event));
      FB_TRY(txn.commit());
      return true;
    }();
    if (!changed) {
      // A full disk fails this write too: the bisection stays running under this process, until
      // `resume` takes it over (once this process has ended) or the daemon pauses it. The caller
      // gets the error that ended the session; this one only says why its end is not stored.
      spdlog::warn("bisection {}: cannot store its pause after the error: {}", id,
                   changed.error().message());
    }
  }
  return result;
}


}  // namespace flakebisect::engine
