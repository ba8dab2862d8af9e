#include "report/report.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "config/sha256.h"
#include "engine/bisector.h"
#include "engine/evidence.h"
#include "engine/identity.h"
#include "git/repository.h"
#include "model/candidate_dag.h"
#include "model/posterior.h"
#include "report/checks.h"
#include "report/json_access.h"
#include "report/maintainers.h"
#include "report/text.h"

#ifndef FLAKEBISECT_VERSION
#define FLAKEBISECT_VERSION "unknown"
#endif

namespace flakebisect::report {
namespace {

using nlohmann::json;
using store::RunOutcome;

// Caps on untrusted text (docs/reports.md, "Limits").
constexpr size_t kMaxSubjectBytes = 1000;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxRefBytes = 256;  // a revision as typed
constexpr size_t kMaxTrailers = 64;
constexpr size_t kMaxTrailerBytes = 1000;
constexpr size_t kMaxTextBytes = 4096;
constexpr size_t kMaxTitleColumns = 200;
constexpr size_t kMaxConfigTextBytes = size_t{1} << 20;
constexpr size_t kMaxCredibleSetEntries = 50;
constexpr size_t kMaxCrashTitles = 50;
// Console excerpts: read at most this much of the end of a console log, keep at most
// kExcerptBytes, lines cut at kExcerptColumns.
constexpr size_t kConsoleReadBytes = size_t{256} << 10;
constexpr size_t kExcerptBytes = 4096;
constexpr size_t kExcerptColumns = 200;
// Lines of context kept before a crash title found in a console.
constexpr size_t kLinesBeforeTitle = 5;
constexpr size_t kMaxArtifactConfigBytes = size_t{16} << 20;
// The largest .config the report carries (a distribution's is about 250 KB, tinyconfig's 30 KB).
constexpr size_t kMaxMailedConfigBytes = size_t{1} << 20;
// A revert check's conflicting paths: at most this many, each cut at kMaxPathBytes.
constexpr size_t kMaxConflictPaths = 50;
constexpr size_t kMaxPathBytes = 4096;

json text(std::string_view value, size_t max_bytes = kMaxTextBytes) {
  return valid_utf8(value, max_bytes);
}

json optional_text(const std::optional<std::string>& value, size_t max_bytes = kMaxTextBytes) {
  return value ? text(*value, max_bytes) : json(nullptr);
}

json strings(const std::vector<std::string>& values) {
  json out = json::array();
  for (const std::string& value : values) {
    out.push_back(text(value));
  }
  return out;
}

// Probabilities as the schema promises them, in [0, 1] despite rounding.
double probability(double p) { return p > 0 ? std::min(p, 1.0) : 0.0; }

json rate_json(const model::RateSummary& rate) {
  return json{{"mean", probability(rate.mean)},
              {"low", probability(rate.low)},
              {"high", probability(rate.high)}};
}

// "2023-11-14T22:13:20+01:00": the signer's local time and offset, as `git log --date=iso-strict`.
std::string iso_local(const git::Signature& signature) {
  const std::time_t local =
      static_cast<std::time_t>(signature.time + signature.offset_minutes * 60);
  std::tm tm{};
  ::gmtime_r(&local, &tm);
  const int offset = signature.offset_minutes;
  const int magnitude = offset < 0 ? -offset : offset;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     offset < 0 ? '-' : '+', magnitude / 60, magnitude % 60);
}

// The last `max_bytes` of a file; empty when it cannot be read.
std::string read_tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return "";
  }
  const std::streamoff size = in.tellg();
  if (size <= 0) {
    return "";
  }
  const std::streamoff start =
      std::max<std::streamoff>(0, size - static_cast<std::streamoff>(max_bytes));
  in.seekg(start);
  std::string data(static_cast<size_t>(size - start), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  return data;
}

// The whole file if it is at most max_bytes, else nullopt.
std::optional<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return std::nullopt;
  }
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<size_t>(size) > max_bytes) {
    return std::nullopt;
  }
  in.seekg(0);
  std::string data(static_cast<size_t>(size), '\0');
  in.read(data.data(), size);
  if (in.gcount() != size) {
    return std::nullopt;
  }
  return data;
}

std::string first_line(std::string_view value) {
  const size_t end = value.find('\n');
  return std::string(value.substr(0, end));
}

// The crash title to show for a run: the one test.signature matches, where it is set and one
// does (the report the run counted for, which need not be its first), else its first title.
std::optional<std::string> shown_signature(const store::RunRecord& run,
                                           const engine::OutcomePolicy& policy) {
  if (std::optional<std::string> matching =
          policy.matching_title(run.signature, run.crash_titles)) {
    return matching;
  }
  return run.signature;
}

// What a failing run found, for grouping: `signature` (shown_signature()), else the outcome and
// how it ended.
std::string failure_title(const store::RunRecord& run,
                          const std::optional<std::string>& signature) {
  if (signature && !one_line(*signature).empty()) {
    return one_line(*signature, kMaxTitleColumns);
  }
  std::string how = one_line(first_line(run.detail.value_or("")), kMaxTitleColumns);
  // The QEMU runner's "exit 1 (385 bytes of output)": the size differs from run to run and
  // would make every run a group of its own.
  if (const size_t paren = how.find(" (");
      paren != std::string::npos && how.size() > 17 &&
      how.compare(how.size() - 17, 17, " bytes of output)") == 0) {
    how.erase(paren);
  }
  const std::string outcome(store::to_string(run.outcome));
  return how.empty() ? outcome : truncate_columns(outcome + ": " + how, kMaxTitleColumns);
}

// Console lines around what a run found: for a crash or a hang the console log (from a few lines
// before the crash title, or its tail), for a plain failure the run's own output (its detail),
// each falling back to the other. Empty when there is neither.
std::string console_excerpt(const store::RunRecord& run,
                            const std::optional<std::string>& signature, size_t max_lines) {
  std::string console;
  if (run.console_path && !run.console_path->empty()) {
    console = read_tail(*run.console_path, kConsoleReadBytes);
  }
  const auto from_console = [&]() -> std::string {
    if (console.empty()) {
      return "";
    }
    if (signature && !signature->empty()) {
      const size_t at = console.find(*signature);
      if (at != std::string::npos) {
        size_t start = console.rfind('\n', at);
        start = start == std::string::npos ? 0 : start + 1;
        for (size_t k = 0; k < kLinesBeforeTitle && start > 0; ++k) {
          const size_t previous = start >= 2 ? console.rfind('\n', start - 2) : std::string::npos;
          start = previous == std::string::npos ? 0 : previous + 1;
        }
        size_t end = start;
        for (size_t k = 0; k < max_lines && end != std::string::npos && end < console.size(); ++k) {
          end = console.find('\n', end);
          end = end == std::string::npos ? console.size() : end + 1;
        }
        return clean_block(std::string_view(console).substr(start, end - start), kExcerptColumns);
      }
    }
    return clean_block(tail_lines(console, max_lines, kExcerptBytes * 4), kExcerptColumns);
  };
  const auto from_detail = [&]() -> std::string {
    return run.detail
               ? clean_block(tail_lines(*run.detail, max_lines, kExcerptBytes * 4), kExcerptColumns)
               : std::string();
  };
  std::string excerpt;
  if (run.outcome == RunOutcome::kFail) {
    excerpt = from_detail();
    if (excerpt.empty()) excerpt = from_console();
  } else {
    excerpt = from_console();
    if (excerpt.empty()) excerpt = from_detail();
  }
  return valid_utf8(excerpt, kExcerptBytes);
}

json parse_or_null(const std::optional<std::string>& text) {
  if (!text) {
    return nullptr;
  }
  json value = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  return value.is_discarded() ? json(nullptr) : value;
}

double number_or(const json& object, const char* key, double fallback) {
  if (object.is_object() && object.contains(key) && object[key].is_number()) {
    return object[key].get<double>();
  }
  return fallback;
}

bool bool_or(const json& object, const char* key, bool fallback) {
  if (object.is_object() && object.contains(key) && object[key].is_boolean()) {
    return object[key].get<bool>();
  }
  return fallback;
}

std::string string_or(const json& object, const char* key, const std::string& fallback = "") {
  if (object.is_object() && object.contains(key) && object[key].is_string()) {
    return object[key].get<std::string>();
  }
  return fallback;
}

// Raw outcome counts at one commit.
struct Counts {
  uint64_t runs = 0, passes = 0, fails = 0, crashes = 0, hangs = 0, infra = 0, skips = 0,
           interrupted = 0;
  void add(RunOutcome outcome) {
    ++runs;
    switch (outcome) {
      case RunOutcome::kPass:
        ++passes;
        break;
      case RunOutcome::kFail:
        ++fails;
        break;
      case RunOutcome::kCrash:
        ++crashes;
        break;
      case RunOutcome::kHang:
        ++hangs;
        break;
      case RunOutcome::kInfra:
        ++infra;
        break;
      case RunOutcome::kSkip:
        ++skips;
        break;
      case RunOutcome::kInterrupted:
        ++interrupted;
        break;
    }
  }
};

json counts_json(const Counts& n) {
  return json{
      {"runs", n.runs},   {"passes", n.passes}, {"fails", n.fails}, {"crashes", n.crashes},
      {"hangs", n.hangs}, {"infra", n.infra},   {"skips", n.skips}, {"interrupted", n.interrupted}};
}

// A stored check's members as the report copies them (result.checks): one of the wrong type or
// value becomes null, and `invalid` names it for the warning.
struct StoredCheck {
  const json& stored;
  std::vector<std::string> invalid;

  // A member that is there and not null but not what this version writes.
  bool present(const char* key) const { return stored.contains(key) && !stored[key].is_null(); }

  json commit_name(const char* key) {
    if (!present(key)) return nullptr;
    if (stored[key].is_string() && is_object_name(stored[key].get<std::string>())) {
      return stored[key];
    }
    invalid.emplace_back(key);
    return nullptr;
  }

  // A count as a JSON integer, or null. (Not std::optional: g++ 12 sees it as maybe
  // uninitialised when it becomes JSON.)
  json count(const char* key) {
    if (!present(key)) return nullptr;
    const json& value = stored[key];
    if (value.is_number_unsigned()) return value;
    if (value.is_number_integer() && value.get<int64_t>() >= 0) {
      return static_cast<uint64_t>(value.get<int64_t>());
    }
    // 24.0 is 24; 24.5, -1 and 1e300 are not counts.
    if (value.is_number_float()) {
      const double number = value.get<double>();
      if (number >= 0 && number <= 9007199254740992.0 && number == std::floor(number)) {
        return static_cast<uint64_t>(number);
      }
    }
    invalid.emplace_back(key);
    return nullptr;
  }

  // `runs` and `fails`, with fails above runs made null.
  void counts(json& out) {
    out["runs"] = count("runs");
    out["fails"] = count("fails");
    if (out["runs"].is_number() && out["fails"].is_number() &&
        out["fails"].get<uint64_t>() > out["runs"].get<uint64_t>()) {
      invalid.emplace_back("fails");
      out["fails"] = nullptr;
    }
  }

  // A probability in [0, 1], or null; always null when the check made no runs (`ran` false).
  json probability(const char* key, bool ran) {
    if (!ran || !present(key)) return nullptr;
    const json& p = stored[key];
    if (p.is_number() && p.get<double>() >= 0 && p.get<double>() <= 1) return p.get<double>();
    invalid.emplace_back(key);
    return nullptr;
  }

  json detail() {
    if (!present("detail")) return nullptr;
    if (stored["detail"].is_string()) return text(stored["detail"].get<std::string>());
    invalid.emplace_back("detail");
    return nullptr;
  }

  std::string invalid_names() const {
    std::string names;
    for (const std::string& name : invalid) names += (names.empty() ? "" : ", ") + name;
    return names;
  }
};

// How the reader names a check that applies one commit onto the bad one (the revert and the
// backport check), in the report and its warnings.
struct AppliedCheck {
  const char* name;         // "revert": "the stored revert check ..."
  const char* applied_key;  // the commit applied: "reverted" or "picked"
  const char* verb;         // "reverted": "the revert check reverted X, which is not ..."
  const char* applied_is;   // what it should be: "first bad commit" or "fix"
  const char* onto_is;      // what `onto` should be: "bad commit" or "broken (bad) commit"
  bool own_runs;            // whether the report has own_runs (the backport check's only)
};
constexpr AppliedCheck kRevertCheck{"revert",           "reverted",   "reverted",
                                    "first bad commit", "bad commit", false};
constexpr AppliedCheck kBackportCheck{
    "backport", "picked", "cherry-picked", "fix", "broken (bad) commit", true};

// Everything read from the store and git for one report.
class Collector {
 public:
  Collector(store::Store& store, int64_t id, const ReportOptions& options)
      : store_(store), id_(id), options_(options) {}

  base::Result<json> collect() {
    FB_ASSIGN_OR_RETURN(store::Transaction snapshot, store_.begin_read());
    FB_ASSIGN_OR_RETURN(bisection_, store_.get_bisection(id_));
    FB_ASSIGN_OR_RETURN(candidates_, store_.get_candidates(id_));
    FB_ASSIGN_OR_RETURN(identity_runs_, store_.runs_for(bisection_.spec.test_identity));
    FB_ASSIGN_OR_RETURN(own_runs_, store_.runs_for_bisection(id_));
    FB_ASSIGN_OR_RETURN(events_, store_.events(id_));
    for (size_t x = 0; x < candidates_.size(); ++x) sha_index_.emplace(candidates_[x].sha, x);
    stored_result_ = parse_or_null(bisection_.result_json);
    if (bisection_.result_json && stored_result_.is_null()) {
      warn("the stored result is not valid JSON");
    }
    read_config();
    fix_ = (config_ && config_->range.find_fix) || string_or(stored_result_, "mode") == "fix";
    if (fix_ && !bisection_.spec.good_shas.empty()) fixed_sha_ = bisection_.spec.good_shas.front();
    open_repository();
    FB_TRY(read_builds());
    FB_TRY(snapshot.commit());
    rebuild_posterior();

    json report{{"schema", kSchemaName},
                {"version", kSchemaVersion},
                {"tool", {{"name", "flakebisect"}, {"version", tool_version()}}}};
    report["generated_at"] =
        options_.generated_at_ms != 0 ? json(iso_utc(options_.generated_at_ms)) : json(nullptr);
    report["bisection"] = bisection_json();
    report["parameters"] = parameters_json();
    report["result"] = result_json();
    report["result"]["checks"] = checks_json(report["result"]);
    report["commits"] = commits_json();
    report["decisions"] = decisions_json();
    report["totals"] = totals_json();
    report["crashes"] = crashes_json();
    report["warnings"] = warnings_;
    return report;
  }

 private:
  void warn(std::string message) const { warnings_.push_back(valid_utf8(message, kMaxTextBytes)); }

  void read_config() {
    auto parsed = config::parse_config(bisection_.spec.config_toml,
                                       fmt::format("bisection {} configuration", id_),
                                       config::ConfigOrigin::kStored);
    if (!parsed) {
      warn("the stored configuration does not parse: " + parsed.error().message());
      return;
    }
    config_ = std::move(parsed).value();
    auto policy = engine::OutcomePolicy::from(config_->test);
    if (!policy) {
      warn("the stored configuration's test settings are unusable: " + policy.error().message());
      return;
    }
    policy_ = std::move(policy).value();
  }

  void open_repository() {
    auto repo = git::Repository::open(bisection_.spec.repo);
    if (!repo) {
      warn("commit details are missing: " + repo.error().message());
      return;
    }
    repo_.emplace(std::move(repo).value());
  }

  bool needs_build() const {
    return config_ && (config_->kernel || !config_->build.command.empty());
  }

  // Builds are stored per (tree, build key), so a commit's build may come from another bisection
  // of the same tree; that needs the commit's tree from git. Without the repository, the build
  // events this bisection logged still say which of its commits built.
  base::Status read_builds() {
    builds_.assign(candidates_.size(), std::nullopt);
    if (!needs_build()) {
      return {};
    }
    // The key the bisection stored at its start; one stored before schema 2 uses the v1 key.
    const std::string& stored = bisection_.spec.build_key;
    const std::string key = stored.empty() ? engine::build_key(*config_) : stored;
    if (repo_) {
      for (size_t x = 0; x < candidates_.size(); ++x) {
        auto tree = repo_->tree_id(candidates_[x].sha);
        if (!tree) {
          continue;
        }
        FB_ASSIGN_OR_RETURN(builds_[x], store_.find_build(*tree, key));
      }
      return {};
    }
    for (const store::Event& event : events_) {
      if (event.kind != engine::kEventBuild) continue;
      const json data = parse_or_null(event.data_json);
      const auto x = index_of(string_or(data, "sha"));
      auto status = store::parse_build_status(string_or(data, "status"));
      if (!x || !status) continue;
      store::BuildRecord record;
      record.sha = candidates_[*x].sha;
      record.status = *status;
      record.duration_ms = static_cast<int64_t>(number_or(data, "duration_ms", 0));
      builds_[*x] = record;
    }
    return {};
  }

  void rebuild_posterior() {
    counts_.assign(candidates_.size(), Counts{});
    if (candidates_.empty()) {
      if (bisection_.state != store::BisectionState::kQueued) {
        warn("the bisection has no stored candidate commits");
      }
      return;
    }
    std::vector<std::vector<model::CommitIndex>> parents;
    std::unordered_map<std::string, model::CommitIndex> model_index;
    for (const store::Candidate& candidate : candidates_) {
      parents.push_back(candidate.parents);
      model_index.emplace(candidate.sha, static_cast<model::CommitIndex>(model_index.size()));
    }
    auto dag = model::CandidateDag::create(std::move(parents));
    if (!dag) {
      warn("the stored candidate commits do not form a DAG: " + dag.error().message());
      return;
    }
    dag_.emplace(std::move(dag).value());
    std::vector<bool> build_failed(candidates_.size(), false);
    for (size_t x = 0; x < candidates_.size(); ++x) {
      build_failed[x] = builds_[x] && builds_[x]->status != store::BuildStatus::kOk;
    }
    evidence_ =
        engine::gather_evidence(identity_runs_, model_index, build_failed, policy_, dag_->bad());
    for (const store::RunRecord& run : identity_runs_) {
      if (const auto x = index_of(run.sha)) counts_[*x].add(run.outcome);
    }
    const config::DecisionConfig decision = config_ ? config_->decision : config::DecisionConfig{};
    posterior_.emplace(*dag_, engine::model_options(decision));
    engine::apply_evidence(evidence_, *posterior_);
    probability_ = posterior_->culprit_probabilities();
    bad_probability_ = posterior_->bad_probabilities();
  }

  std::optional<size_t> index_of(const std::string& sha) const {
    const auto it = sha_index_.find(sha);
    return it == sha_index_.end() ? std::nullopt : std::optional<size_t>(it->second);
  }

  // ---- fix bisections (range.find_fix)
  // -----------------------------------------------------------
  //
  // A fix bisection stores its candidates as the fixed (good) end's first-parent chain read
  // backwards, each one's parent its newer neighbour (engine/bisector.cc), and the model's "first
  // bad commit" x is the last one that still fails: the fix it names is x's newer neighbour, or
  // the good end for the newest. The document shows the real history instead: `commits` oldest
  // first with their real parents, and culprit, most_likely and the credible set name fixes.

  // The stored candidate at position k of `commits`, and the other way round.
  size_t stored_at(size_t k) const { return fix_ ? candidates_.size() - 1 - k : k; }

  struct Named {
    std::string sha;
    json subject;
    json idx;  // its position in `commits`; null for a fix bisection's good end
  };

  // The commit named when model index x holds the posterior's first-bad mass.
  Named named(size_t x) const {
    if (!fix_) {
      return {candidates_[x].sha, text(candidates_[x].subject, kMaxSubjectBytes), x};
    }
    const std::vector<uint32_t>& newer = candidates_[x].parents;
    if (newer.empty() || newer.front() >= candidates_.size()) {
      json subject = subject_of(fixed_sha_);
      return {fixed_sha_, subject.is_null() ? json("") : std::move(subject), nullptr};
    }
    const size_t y = newer.front();
    return {candidates_[y].sha, text(candidates_[y].subject, kMaxSubjectBytes),
            candidates_.size() - 1 - y};
  }

  // The model index whose named commit is `sha`.
  std::optional<size_t> model_index_naming(const std::string& sha) const {
    if (!fix_) return index_of(sha);
    for (size_t x = 0; x < candidates_.size(); ++x) {
      if (!sha.empty() && named(x).sha == sha) return x;
    }
    return std::nullopt;
  }

  json subject_of(const std::string& sha) const {
    if (const auto x = index_of(sha)) {
      return text(candidates_[*x].subject, kMaxSubjectBytes);
    }
    if (repo_) {
      if (auto info = repo_->commit_info(sha)) {
        return text(info->subject, kMaxSubjectBytes);
      }
    }
    return nullptr;
  }

  json bisection_json() const {
    const store::Bisection& b = bisection_;
    // The revision as typed, null where the bisection did not keep it (made before schema 3).
    const auto ref = [](const std::string& typed) {
      return typed.empty() ? json(nullptr) : json(text(typed, kMaxRefBytes));
    };
    json goods = json::array();
    for (size_t i = 0; i < b.spec.good_shas.size(); ++i) {
      const std::string& good = b.spec.good_shas[i];
      goods.push_back(json{{"sha", text(good)},
                           {"subject", subject_of(good)},
                           {"ref", ref(i < b.spec.good_refs.size() ? b.spec.good_refs[i] : "")}});
    }
    json out{{"id", b.id},
             {"state", store::to_string(b.state)},
             {"repo", text(b.spec.repo)},
             {"bad",
              {{"sha", text(b.spec.bad_sha)},
               {"subject", subject_of(b.spec.bad_sha)},
               {"ref", ref(b.spec.bad_ref)}}},
             {"good", std::move(goods)},
             {"created_at", iso_utc(b.created_at_ms)},
             {"updated_at", iso_utc(b.updated_at_ms)},
             {"config_hash", text(b.spec.config_hash)},
             {"test_identity", text(b.spec.test_identity)},
             {"config_text", text(b.spec.config_toml, kMaxConfigTextBytes)},
             {"candidates", candidates_.size()},
             // A fix bisection always walks the first-parent chain.
             {"first_parent", fix_ || (config_ && config_->range.first_parent)},
             {"mode", fix_ ? "fix" : "regression"}};
    out["error"] = optional_text(b.error);
    out["owner_pid"] = b.owner_pid ? json(*b.owner_pid) : json(nullptr);
    return out;
  }

  // The accelerator the runs used, when an event recorded it ({"accel": "kvm"} in its data).
  std::optional<std::string> recorded_accel() const {
    std::optional<std::string> accel;
    for (const store::Event& event : events_) {
      const json data = parse_or_null(event.data_json);
      const std::string value = string_or(data, "accel");
      if (!value.empty()) accel = value;
    }
    return accel;
  }

  // The artifact of a kernel build: the bad commit's if it built, else the first that did.
  std::optional<std::string> kernel_artifact() const {
    std::optional<std::string> found;
    for (size_t x = candidates_.size(); x-- > 0;) {
      const auto& build = builds_[x];
      if (build && build->status == store::BuildStatus::kOk && build->artifact_path) {
        if (x + 1 == candidates_.size()) return build->artifact_path;
        found = build->artifact_path;
      }
    }
    return found;
  }

  json parameters_json() const {
    json out{{"test", nullptr},          {"build", nullptr},
             {"kernel", nullptr},        {"qemu", nullptr},
             {"scratch", nullptr},       {"reproducer", nullptr},
             {"xfstests", nullptr},      {"kernel_config_hash", nullptr},
             {"kernel_config", nullptr}, {"compiler", nullptr},
             {"decision", nullptr}};
    if (!config_) {
      return out;
    }
    const config::Config& c = *config_;
    json test{{"command", strings(c.test.command)},
              {"timeout_s", c.test.timeout.count()},
              {"no_output_timeout_s", c.test.no_output_timeout.count()},
              {"failure_outcomes", strings(c.test.failure_outcomes)},
              {"runs_per_batch", c.test.runs_per_batch}};
    test["signature"] = optional_text(c.test.signature);
    out["test"] = std::move(test);
    out["build"] =
        json{{"command", strings(c.build.command)}, {"timeout_s", c.build.timeout.count()}};
    if (c.kernel) {
      out["kernel"] =
          json{{"base", text(c.kernel->base)},    {"fragments", strings(c.kernel->fragments)},
               {"make", strings(c.kernel->make)}, {"jobs", c.kernel->jobs},
               {"ccache", c.kernel->ccache},      {"target", text(c.kernel->target)}};
      if (const auto artifact = kernel_artifact()) {
        const std::string dir = *artifact;
        if (auto config_file = read_small_file(dir + "/config", kMaxArtifactConfigBytes)) {
          out["kernel_config_hash"] = config::sha256_hex(*config_file);
          // The mail attaches it, as kernel test robots and syzbot give theirs. A .config is
          // ASCII; a larger one than a mail should carry is left out.
          if (config_file->size() <= kMaxMailedConfigBytes) {
            out["kernel_config"] = valid_utf8(*config_file, kMaxMailedConfigBytes);
          }
        }
        // The kernel builder writes "# compiler: <first line of cc --version>" into build.log.
        const std::string log = read_tail(dir + "/build.log", kConsoleReadBytes);
        const size_t at = log.find("# compiler: ");
        if (at != std::string::npos) {
          out["compiler"] = one_line(first_line(log.substr(at + 12)), kMaxTitleColumns);
        }
      }
    }
    if (c.qemu) {
      const auto recorded = recorded_accel();
      out["qemu"] = json{{"binary", text(c.qemu->binary)},
                         {"kernel", text(c.qemu->kernel)},
                         {"accel", text(recorded.value_or(c.qemu->accel))},
                         {"accel_configured", text(c.qemu->accel)},
                         {"memory_mb", c.qemu->memory_mb},
                         {"cpus", c.qemu->cpus},
                         {"append", strings(c.qemu->append)},
                         {"boot_timeout_s", c.qemu->boot_timeout.count()},
                         {"runs_per_boot", c.qemu->runs_per_boot},
                         {"direct_boot", c.qemu->direct_boot}};
      out["scratch"] = json{{"mkfs", strings(c.scratch.mkfs)},
                            {"fstype", text(c.scratch.fstype)},
                            {"size_mb", c.scratch.size_mb},
                            {"mount_options", text(c.scratch.mount_options)}};
    }
    if (c.reproducer) {
      out["reproducer"] = json{{"program", text(c.reproducer->program)},
                               {"args", strings(c.reproducer->args)},
                               {"files", strings(c.reproducer->files)}};
    }
    if (c.xfstests) {
      out["xfstests"] = json{{"root", text(c.xfstests->root)},
                             {"dir", text(c.xfstests->dir)},
                             {"tests", strings(c.xfstests->tests)},
                             {"mkfs_options", text(c.xfstests->mkfs_options)},
                             {"mount_options", text(c.xfstests->mount_options)},
                             {"environment", strings(c.xfstests->environment)}};
    }
    const config::DecisionConfig& d = c.decision;
    out["decision"] = json{{"confidence", d.confidence},
                           {"max_runs", d.max_runs},
                           {"max_wall_time_s", d.max_wall_time.count()},
                           {"no_regression_prior", d.no_regression_prior},
                           {"theta_min", d.theta_min},
                           {"rate_spread", d.rate_spread},
                           {"min_rate_ratio", d.min_rate_ratio},
                           {"noise_build_weight", d.noise_build_weight},
                           {"rare_build_weight", d.rare_build_weight},
                           {"max_reproduce_runs", d.max_reproduce_runs},
                           {"build_cost", d.build_cost},
                           {"boot_cost", d.boot_cost},
                           {"run_cost", d.run_cost}};
    return out;
  }

  double confidence_level() const {
    return config_ ? config_->decision.confidence : config::DecisionConfig{}.confidence;
  }

  // The commit named at model index x (named()) with x's probability.
  json commit_ref(size_t x) const {
    const Named commit = named(x);
    return json{{"sha", commit.sha},
                {"subject", commit.subject},
                {"probability", posterior_ ? probability(probability_[x]) : 0.0}};
  }

  json culprit_json(size_t x) const {
    const Named commit = named(x);
    json culprit{
        {"sha", commit.sha},     {"subject", commit.subject},
        {"author", nullptr},     {"committer", nullptr},
        {"date", nullptr},       {"trailers", json::array()},
        {"idx", commit.idx},     {"probability", posterior_ ? probability(probability_[x]) : 0.0},
        {"maintainers", nullptr}};
    if (!repo_) {
      return culprit;
    }
    auto info = repo_->commit_info(commit.sha);
    if (!info) {
      return culprit;
    }
    culprit["author"] = json{{"name", text(info->author.name, kMaxNameBytes)},
                             {"email", text(info->author.email, kMaxNameBytes)}};
    culprit["committer"] = json{{"name", text(info->committer.name, kMaxNameBytes)},
                                {"email", text(info->committer.email, kMaxNameBytes)}};
    culprit["date"] = iso_local(info->author);
    for (size_t k = 0; k < info->trailers.size() && k < kMaxTrailers; ++k) {
      culprit["trailers"].push_back(
          json{{"key", text(info->trailers[k].key, kMaxNameBytes)},
               {"value", text(info->trailers[k].value, kMaxTrailerBytes)}});
    }
    culprit["maintainers"] = maintainers_json(commit.sha);
    return culprit;
  }

  // What the commit's own scripts/get_maintainer.pl says of it; null without a runner, outside a
  // kernel tree, or when the script fails (a warning says why).
  json maintainers_json(const std::string& sha) const {
    if (!options_.process_runner || !repo_) {
      return nullptr;
    }
    MaintainersOptions how;
    how.temp_parent = options_.temp_dir;
    if (how.temp_parent.empty()) {
      std::error_code error;
      how.temp_parent = std::filesystem::temp_directory_path(error).native();  // TMPDIR, /tmp
      if (error) how.temp_parent = "/tmp";
    }
    auto found = kernel_maintainers(*repo_, sha, *options_.process_runner, how);
    if (!found) {
      warn("no maintainers: " + found.error().message());
      return nullptr;
    }
    if (!*found) {
      return nullptr;
    }
    json out = json::array();
    for (const Maintainer& m : **found) {
      out.push_back(json{{"name", text(m.name, kMaxNameBytes)},
                         {"email", text(m.address, kMaxNameBytes)},
                         {"role", text(m.role, kMaxNameBytes)}});
    }
    return out;
  }

  json result_json() const {
    const json& stored = stored_result_;
    json out{{"status", store::to_string(bisection_.state)}};
    std::string reason = string_or(stored, "reason");
    if (reason.empty() && bisection_.error) reason = *bisection_.error;
    out["reason"] = reason.empty() ? json(nullptr) : text(reason);
    out["culprit"] = nullptr;
    if (fix_) {
      // The newest commit the verdict has failing: the fix's parent on the chain.
      out["last_broken"] = nullptr;
    }
    out["confidence"] = 0.0;
    out["credible_set"] = json::array();
    out["credible_set_size"] = 0;
    out["credible_mass"] = confidence_level();
    out["most_likely"] = nullptr;
    out["theta"] = nullptr;
    out["eps"] = nullptr;
    out["no_regression_probability"] = nullptr;
    if (!posterior_) {
      return out;
    }
    const size_t best = posterior_->most_likely();
    out["most_likely"] = commit_ref(best);
    out["confidence"] = probability(posterior_->max_probability());
    if (bisection_.state == store::BisectionState::kFound) {
      size_t culprit = best;
      if (stored.is_object() && stored.contains("culprit")) {
        if (const auto x = model_index_naming(string_or(stored["culprit"], "sha"))) culprit = *x;
      }
      out["culprit"] = culprit_json(culprit);
      if (fix_) {
        out["last_broken"] = json{{"sha", candidates_[culprit].sha},
                                  {"subject", text(candidates_[culprit].subject, kMaxSubjectBytes)},
                                  {"probability", probability(probability_[culprit])}};
      }
      out["confidence"] = probability(probability_[culprit]);
    }
    // A verify check that failed refuted the assumption the posterior rests on (the good end is
    // good): the engine offers no commit of the range as the first bad one, and neither does the
    // report.
    const json* checks =
        stored.is_object() && stored.contains("checks") ? &stored["checks"] : nullptr;
    const bool refuted = checks != nullptr && checks->is_object() && checks->contains("verify") &&
                         (*checks)["verify"].is_object() &&
                         (*checks)["verify"].value("status", json()) == "fail";
    if (!refuted) {
      const std::vector<model::CommitIndex> set = posterior_->credible_set(confidence_level());
      for (size_t k = 0; k < set.size() && k < kMaxCredibleSetEntries; ++k) {
        out["credible_set"].push_back(commit_ref(set[k]));
      }
      out["credible_set_size"] = set.size();
    }
    out["theta"] = rate_json(posterior_->theta_summary());
    out["eps"] = rate_json(posterior_->eps_summary());
    if (posterior_->options().no_regression_prior > 0) {
      out["no_regression_probability"] = probability(posterior_->no_regression_probability());
    }
    return out;
  }

  // result.checks from the stored result's "checks" (engine/bisector.cc writes it when a check
  // ran): null when there is none. The store may have been written by another version or edited
  // by hand, so every member is checked: one of the wrong type or value becomes null (or the
  // check is left out when its status is unknown) and `warnings` says which.
  json checks_json(const json& result) {
    const json& stored = stored_result_;
    const auto it = stored.is_object() ? stored.find("checks") : stored.end();
    if (!stored.is_object() || it == stored.end() || it->is_null()) {
      return nullptr;
    }
    if (!it->is_object()) {
      warn("the stored result's checks are not an object; they are left out");
      return nullptr;
    }
    json out{{"revert", nullptr}};
    const auto revert = it->find("revert");
    if (revert != it->end() && !revert->is_null()) {
      out["revert"] = applied_check_json(*revert, result, kRevertCheck);
    }
    // Only when stored, so that a result without it reads as before the verify check existed.
    const auto verify = it->find("verify");
    if (verify != it->end() && !verify->is_null()) {
      out["verify"] = verify_json(*verify, result);
    }
    // A fix bisection's, when it ran: absent otherwise, as the verify check.
    const auto backport = it->find("backport");
    if (backport != it->end() && !backport->is_null()) {
      out["backport"] = applied_check_json(*backport, result, kBackportCheck);
    }
    return out;
  }

  // The raw outcome counts of the stored runs at `commit` (a check's commit: no candidate, so the
  // commit table leaves its runs out).
  json outcomes_at(const std::string& commit) const {
    Counts n;
    for (const store::RunRecord& run : identity_runs_) {
      if (run.sha == commit) n.add(run.outcome);
    }
    return counts_json(n);
  }

  // The revert check, or a fix bisection's backport check (its fix cherry-picked onto the broken
  // end), which is read as the revert check is, with the runs this bisection made there
  // (own_runs) as the verify check has.
  json applied_check_json(const json& stored, const json& result, const AppliedCheck& kind) {
    if (!stored.is_object()) {
      warn(fmt::format("the stored {} check is not an object; it is left out", kind.name));
      return nullptr;
    }
    const std::string status = string_or(stored, "status");
    if (!known_revert_status(status)) {
      warn(fmt::format(
          "the stored {} check's status is not one of pass, fail, inconclusive, conflict, "
          "build_failed; it is left out",
          kind.name));
      return nullptr;
    }
    StoredCheck read{stored, {}};
    const bool ran = status != "conflict" && status != "build_failed";

    json out{{"status", status}};
    out[kind.applied_key] = read.commit_name(kind.applied_key);
    out["onto"] = read.commit_name("onto");
    // A revert (or pick) that does not apply has no commit.
    out["commit"] = status == "conflict" ? json(nullptr) : read.commit_name("commit");
    read.counts(out);
    if (kind.own_runs) out["own_runs"] = read.count("own_runs");
    out["probability_fixed"] = read.probability("probability_fixed", ran);
    json conflicts = json::array();
    uint64_t conflict_count = 0;
    if (status == "conflict" && read.present("conflicts")) {
      const json& paths = stored["conflicts"];
      bool all_paths = paths.is_array();
      for (const json& path : paths.is_array() ? paths : json::array()) {
        if (!path.is_string()) {
          all_paths = false;
          continue;
        }
        ++conflict_count;
        if (conflicts.size() < kMaxConflictPaths) {
          conflicts.push_back(text(path.get<std::string>(), kMaxPathBytes));
        }
      }
      if (!all_paths) read.invalid.emplace_back("conflicts");
      // The engine keeps the first 50 paths and counts all of them.
      if (read.present("conflict_count")) {
        const json& total = stored["conflict_count"];
        if (total.is_number_unsigned() && total.get<uint64_t>() >= conflict_count) {
          conflict_count = total.get<uint64_t>();
        } else {
          read.invalid.emplace_back("conflict_count");
        }
      }
    }
    out["conflicts"] = std::move(conflicts);
    out["conflict_count"] = conflict_count;
    out["detail"] = read.detail();
    // The runs the store holds at the revert (or pick) commit.
    out["outcomes"] = ran && out["commit"].is_string()
                          ? outcomes_at(out["commit"].get<std::string>())
                          : json(nullptr);

    if (!read.invalid.empty()) {
      warn(
          fmt::format("the stored {} check has members of the wrong type or value, left null or "
                      "empty: {}",
                      kind.name, read.invalid_names()));
    }
    const std::string culprit = string_or(member(result, "culprit"), "sha");
    const json& applied = out[kind.applied_key];
    if (applied.is_string() && !culprit.empty() && applied != culprit) {
      warn(fmt::format("the {} check {} {}, which is not the {} {}", kind.name, kind.verb,
                       applied.get<std::string>().substr(0, 12), kind.applied_is,
                       culprit.substr(0, 12)));
    }
    // A backport check goes onto decision.backport_onto when that is set.
    const bool elsewhere =
        &kind == &kBackportCheck && config_ && !config_->decision.backport_onto.empty();
    const std::string& bad = elsewhere ? config_->decision.backport_onto : bisection_.spec.bad_sha;
    if (out["onto"].is_string() && out["onto"] != bad) {
      warn(fmt::format("the {} check was made on {}, which is not the {} {}", kind.name,
                       out["onto"].get<std::string>().substr(0, 12),
                       elsewhere ? "commit decision.backport_onto names," : kind.onto_is,
                       is_object_name(bad) ? bad.substr(0, 12) : one_line(bad, 40)));
    }
    return out;
  }

  // The verify check, read as the revert check is. Its runs are at the culprit's first parent,
  // outside the range: no candidate either.
  json verify_json(const json& stored, const json& result) {
    if (!stored.is_object()) {
      warn("the stored verify check is not an object; it is left out");
      return nullptr;
    }
    const std::string status = string_or(stored, "status");
    if (!known_verify_status(status)) {
      warn(
          "the stored verify check's status is not one of pass, fail, inconclusive, "
          "build_failed; it is left out");
      return nullptr;
    }
    StoredCheck read{stored, {}};
    const bool ran = status != "build_failed";

    json out{{"status", status}};
    out["culprit"] = read.commit_name("culprit");
    out["commit"] = read.commit_name("commit");
    read.counts(out);
    out["own_runs"] = read.count("own_runs");
    out["probability_good"] = read.probability("probability_good", ran);
    out["detail"] = read.detail();
    // The runs the store holds at the parent.
    out["outcomes"] = ran && out["commit"].is_string()
                          ? outcomes_at(out["commit"].get<std::string>())
                          : json(nullptr);

    if (!read.invalid.empty()) {
      warn("the stored verify check has members of the wrong type or value, left null: " +
           read.invalid_names());
    }
    // A fail leaves the result without a culprit: `culprit` is the one it would have named.
    const std::string culprit = string_or(member(result, "culprit"), "sha");
    if (out["culprit"].is_string() && !culprit.empty() && out["culprit"] != culprit) {
      warn(fmt::format("the verify check ran for {}, which is not the {} {}",
                       out["culprit"].get<std::string>().substr(0, 12),
                       fix_ ? "fix" : "first bad commit", culprit.substr(0, 12)));
    }
    return out;
  }

  // P(x is the first bad commit), or in a fix bisection P(x is the fix): that of the model index
  // whose newer neighbour x is (the next older stored candidate).
  double first_probability(size_t x) const {
    if (!posterior_) return 0.0;
    if (!fix_) return probability(probability_[x]);
    const size_t older = x + 1;
    const bool chained = older < candidates_.size() && !candidates_[older].parents.empty() &&
                         candidates_[older].parents.front() == x;
    return chained ? probability(probability_[older]) : 0.0;
  }

  json commits_json() const {
    json out = json::array();
    for (size_t k = 0; k < candidates_.size(); ++k) {
      const size_t x = stored_at(k);
      const Counts& n = counts_[x];
      // A fix bisection's chain, oldest first: each commit's parent is the one before it.
      const std::vector<uint32_t> parents =
          !fix_ ? candidates_[x].parents
                : (k == 0 ? std::vector<uint32_t>{} : std::vector<uint32_t>{uint32_t(k - 1)});
      json entry{{"idx", k},
                 {"sha", candidates_[x].sha},
                 {"subject", text(candidates_[x].subject, kMaxSubjectBytes)},
                 {"parents", parents},
                 {"probability", first_probability(x)},
                 {"bad_probability", posterior_ ? probability(bad_probability_[x]) : 0.0},
                 {"runs", n.runs},
                 {"passes", n.passes},
                 {"fails", n.fails},
                 {"crashes", n.crashes},
                 {"hangs", n.hangs},
                 {"infra", n.infra},
                 {"skips", n.skips},
                 {"interrupted", n.interrupted}};
      if (needs_build() && builds_[x]) {
        entry["build"] = store::to_string(builds_[x]->status);
      } else {
        entry["build"] = nullptr;
      }
      const bool with_evidence = posterior_ && x < evidence_.commits.size();
      entry["evidence"] = json{{"passes", with_evidence ? evidence_.commits[x].passes : 0},
                               {"fails", with_evidence ? evidence_.commits[x].fails : 0},
                               {"skipped", with_evidence && evidence_.commits[x].skipped}};
      out.push_back(std::move(entry));
    }
    return out;
  }

  json decisions_json() const {
    json out = json::array();
    for (const store::Event& event : events_) {
      if (event.kind != engine::kEventPlan) continue;
      const json data = parse_or_null(event.data_json);
      json decision{{"at", iso_utc(event.at_ms)},
                    {"sha", text(string_or(data, "sha"))},
                    {"runs", static_cast<int64_t>(number_or(data, "runs", 0))},
                    {"information_bits", number_or(data, "information_bits", 0)},
                    {"cost", number_or(data, "cost", 0)},
                    {"max_probability", probability(number_or(data, "max_probability", 0))},
                    {"best_sha", text(string_or(data, "best_sha"))},
                    {"reproducing", bool_or(data, "reproducing", false)},
                    {"elapsed_ms", static_cast<int64_t>(number_or(data, "elapsed_ms", 0))}};
      const auto x = index_of(string_or(data, "sha"));
      decision["subject"] = x ? text(candidates_[*x].subject, kMaxSubjectBytes) : json(nullptr);
      out.push_back(std::move(decision));
    }
    return out;
  }

  json totals_json() const {
    std::set<std::string> boots;
    int64_t run_ms = 0;
    for (const store::RunRecord& run : own_runs_) {
      if (run.boot_id) boots.insert(*run.boot_id);
      run_ms += run.duration_ms;
    }
    uint64_t builds = 0, failed_builds = 0, cached_builds = 0;
    int64_t build_ms = 0, wall_ms = 0, setup_ms = 0;
    double cost = 0;
    for (const store::Event& event : events_) {
      const json data = parse_or_null(event.data_json);
      wall_ms = std::max(wall_ms, static_cast<int64_t>(number_or(data, "elapsed_ms", 0)));
      if (event.kind == engine::kEventBuild) {
        ++builds;
        failed_builds += string_or(data, "status") != "ok" ? 1 : 0;
        // A kernel image found in the artifact cache was configured, not compiled.
        cached_builds += string_or(data, "status") == "ok" && string_or(data, "detail") == "cached";
        build_ms += static_cast<int64_t>(number_or(data, "duration_ms", 0));
      } else if (event.kind == engine::kEventBatch) {
        // A batch's time outside its runs: booting guests, making scratch filesystems.
        setup_ms += std::max<int64_t>(0, static_cast<int64_t>(number_or(data, "wall_ms", 0)) -
                                             static_cast<int64_t>(number_or(data, "run_ms", 0)));
      } else if (event.kind == engine::kEventPlan) {
        cost += number_or(data, "cost", 0);
      }
    }
    uint64_t reused = 0;
    std::set<std::string> candidate_shas;
    for (const store::Candidate& candidate : candidates_) candidate_shas.insert(candidate.sha);
    for (const store::RunRecord& run : identity_runs_) {
      if (run.bisection_id != id_ && candidate_shas.count(run.sha) > 0) ++reused;
    }
    return json{{"runs", own_runs_.size()},
                {"reused_runs", reused},
                {"evidence_runs", posterior_ ? evidence_.used_runs : 0},
                {"evidence_failures", posterior_ ? evidence_.failures() : 0},
                {"builds", builds},
                {"failed_builds", failed_builds},
                {"cached_builds", cached_builds},
                {"boots", boots.size()},
                {"wall_ms", wall_ms},
                {"build_ms", build_ms},
                {"run_ms", run_ms},
                {"setup_ms", setup_ms},
                {"cost", cost}};
  }

  json crashes_json() const {
    std::set<std::string> candidate_shas;
    for (const store::Candidate& candidate : candidates_) candidate_shas.insert(candidate.sha);
    struct Group {
      const store::RunRecord* first = nullptr;
      uint64_t count = 0;
      std::set<std::string> commits;
    };
    std::map<std::string, Group> groups;
    std::vector<std::string> order;
    for (const store::RunRecord& run : identity_runs_) {
      if (run.outcome != RunOutcome::kFail && run.outcome != RunOutcome::kCrash &&
          run.outcome != RunOutcome::kHang) {
        continue;
      }
      if (candidate_shas.count(run.sha) == 0) continue;
      const std::string title = failure_title(run, shown_signature(run, policy_));
      auto [it, inserted] = groups.try_emplace(title);
      if (inserted) {
        if (order.size() >= kMaxCrashTitles) {
          groups.erase(it);
          continue;
        }
        order.push_back(title);
        it->second.first = &run;
      }
      ++it->second.count;
      it->second.commits.insert(run.sha);
    }
    json out = json::array();
    for (const std::string& title : order) {
      const Group& group = groups.at(title);
      const store::RunRecord& run = *group.first;
      out.push_back(json{
          {"title", title},
          {"outcome", store::to_string(run.outcome)},
          // Whether the crash itself is the bug: not the reproducer's verdict beside it.
          {"counted", policy_.classify(run.outcome, run.signature, run.crash_titles) ==
                          engine::Observation::kFail},
          {"count", group.count},
          {"commits", group.commits.size()},
          {"first_sha", run.sha},
          {"first_run_id", run.id},
          {"console_excerpt",
           console_excerpt(run, shown_signature(run, policy_), options_.console_excerpt_lines)}});
    }
    return out;
  }

  store::Store& store_;
  const int64_t id_;
  const ReportOptions& options_;

  store::Bisection bisection_;
  std::vector<store::Candidate> candidates_;
  std::vector<store::RunRecord> identity_runs_;
  std::vector<store::RunRecord> own_runs_;
  std::vector<store::Event> events_;
  std::unordered_map<std::string, size_t> sha_index_;
  json stored_result_;
  std::optional<config::Config> config_;
  bool fix_ = false;       // range.find_fix: the document names fixes (named())
  std::string fixed_sha_;  // a fix bisection's good end
  engine::OutcomePolicy policy_;
  std::optional<git::Repository> repo_;
  std::vector<std::optional<store::BuildRecord>> builds_;

  std::optional<model::CandidateDag> dag_;
  std::optional<model::Posterior> posterior_;
  engine::Evidence evidence_;
  std::vector<Counts> counts_;
  std::vector<double> probability_;
  std::vector<double> bad_probability_;
  mutable std::vector<std::string> warnings_;  // const members warn too
};

}  // namespace

std::string_view tool_version() { return FLAKEBISECT_VERSION; }

base::Result<json> build_report(store::Store& store, int64_t id, const ReportOptions& options) {
  Collector collector(store, id, options);
  return collector.collect();
}

std::string json_text(const json& document, int indent) {
  return document.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string iso_utc(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace flakebisect::report
