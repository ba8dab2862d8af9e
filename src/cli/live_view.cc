#include "cli/live_view.h"

#include <fmt/core.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <unordered_map>
#include <utility>

#include "cli/text.h"
#include "config/config.h"
#include "engine/bisector.h"
#include "engine/evidence.h"
#include "git/repository.h"
#include "model/candidate_dag.h"
#include "model/posterior.h"
#include "model/stop_rule.h"

namespace flakebisect::cli {
namespace {

using nlohmann::json;
using store::BisectionState;

// Every line after the header starts with a label padded to this many characters.
constexpr size_t kLabelWidth = 12;

std::string short_sha(const std::string& sha) { return sha.substr(0, 12); }

bool final_state(BisectionState state) {
  return state == BisectionState::kFound || state == BisectionState::kInconclusive ||
         state == BisectionState::kNotReproduced || state == BisectionState::kCancelled ||
         state == BisectionState::kFailed;
}

json parse_object(const std::optional<std::string>& text) {
  if (!text) {
    return json::object();
  }
  json value = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  return value.is_object() ? value : json::object();
}

std::string string_at(const json& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

std::optional<double> number_at(const json& object, const char* key) {
  if (object.contains(key) && object[key].is_number()) {
    return object[key].get<double>();
  }
  return std::nullopt;
}

std::optional<uint64_t> count_at(const json& object, const char* key) {
  if (object.contains(key) && object[key].is_number_unsigned()) {
    return object[key].get<uint64_t>();
  }
  return std::nullopt;
}

std::string result_line(const std::optional<std::string>& result_json) {
  const json result = parse_object(result_json);
  const std::string status = string_at(result, "status");
  if (status.empty()) {
    return "";
  }
  if (status == "found" && result.contains("culprit") && result["culprit"].is_object()) {
    // A fix bisection's culprit is the fix (engine/bisector.cc finish() says "found the fix").
    return fmt::format(
        "found {}{} {} (p = {:.4f})", string_at(result, "mode") == "fix" ? "the fix " : "",
        short_sha(string_at(result["culprit"], "sha")), string_at(result["culprit"], "subject"),
        number_at(result, "confidence").value_or(0));
  }
  return fmt::format("{}: {}", status, string_at(result, "reason"));
}

// Fills the posterior part of `snapshot` the way the engine computes it (bisector.cc: setup() and
// make_posterior()). Returns false, leaving `snapshot` alone, when the stored data cannot give one.
bool rebuild_posterior(const config::Config& config,
                       const std::vector<store::Candidate>& candidates,
                       const std::vector<store::RunRecord>& runs,
                       const std::set<std::string>& failed_builds, LiveSnapshot& snapshot) {
  auto policy = engine::OutcomePolicy::from(config.test);
  if (!policy || candidates.empty()) {
    return false;
  }
  std::vector<std::vector<model::CommitIndex>> parents;
  parents.reserve(candidates.size());
  std::unordered_map<std::string, model::CommitIndex> index_of;
  for (const store::Candidate& candidate : candidates) {
    parents.push_back(candidate.parents);
    index_of.emplace(candidate.sha, static_cast<model::CommitIndex>(index_of.size()));
  }
  auto dag = model::CandidateDag::create(std::move(parents));
  if (!dag) {
    return false;
  }
  // The engine also marks commits whose tree failed to build under another bisection; a skip
  // changes what the planner may pick, not the probabilities shown here.
  std::vector<bool> build_failed(candidates.size(), false);
  for (size_t x = 0; x < candidates.size(); ++x) {
    build_failed[x] = failed_builds.count(candidates[x].sha) > 0;
  }
  const engine::Evidence evidence =
      engine::gather_evidence(runs, index_of, build_failed, *policy, dag->bad());
  const model::ModelOptions options = engine::model_options(config.decision);
  model::Posterior posterior(*dag, options);
  engine::apply_evidence(evidence, posterior);

  const std::vector<double>& probability = posterior.culprit_probabilities();
  std::vector<model::CommitIndex> order(probability.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t shown = std::min(kTopCandidates, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(),
                    [&](model::CommitIndex a, model::CommitIndex b) {
                      return probability[a] != probability[b] ? probability[a] > probability[b]
                                                              : a < b;
                    });
  snapshot.top.clear();
  for (size_t i = 0; i < shown; ++i) {
    const store::Candidate& candidate = candidates[order[i]];
    if (!config.range.find_fix) {
      snapshot.top.push_back({candidate.sha, candidate.subject, probability[order[i]]});
      continue;
    }
    // range.find_fix: the mass at x says x is the last failing commit, so the fix is its newer
    // neighbour (its parent in the stored, reversed chain), or the good end for the newest.
    if (!candidate.parents.empty() && candidate.parents.front() < candidates.size()) {
      const store::Candidate& fix = candidates[candidate.parents.front()];
      snapshot.top.push_back({fix.sha, fix.subject, probability[order[i]]});
    } else {
      snapshot.top.push_back(
          {snapshot.good_shas.empty() ? "?" : snapshot.good_shas.front(),
           snapshot.fixed_subject.empty() ? "(the fixed end)" : snapshot.fixed_subject,
           probability[order[i]]});
    }
  }
  if (options.no_regression_prior > 0) {
    const double none = posterior.no_regression_probability();
    const auto at = std::find_if(snapshot.top.begin(), snapshot.top.end(),
                                 [&](const LiveCandidate& c) { return c.probability < none; });
    if (at != snapshot.top.end() || snapshot.top.size() < kTopCandidates) {
      snapshot.top.insert(at, LiveCandidate{"", "", none});
      if (snapshot.top.size() > kTopCandidates) {
        snapshot.top.pop_back();
      }
    }
  }
  snapshot.posterior_rebuilt = true;
  snapshot.confidence = posterior.max_probability();
  snapshot.credible_set_size = posterior.credible_set(config.decision.confidence).size();
  const auto entropy = [](const std::vector<double>& p) {
    double bits = 0;
    for (double x : p) {
      if (x > 0) bits -= x * std::log2(x);
    }
    return bits;
  };
  snapshot.entropy_bits = entropy(probability);
  const model::Posterior prior(*dag, options);
  snapshot.prior_entropy_bits = entropy(prior.culprit_probabilities());
  return true;
}

std::string repo_name(const std::string& repo) {
  std::filesystem::path path(repo);
  if (path.filename().empty()) {
    path = path.parent_path();
  }
  const std::string name = path.filename().native();
  return name.empty() ? repo : name;
}

std::string labelled(std::string_view label, const std::string& text) {
  std::string line(label);
  line.resize(std::max(kLabelWidth, line.size() + 1), ' ');
  return line + text;
}

std::string step_text(const LiveSnapshot& s) {
  if (s.state == BisectionState::kRunning && !s.checking.empty()) {
    return s.checking;  // also when the search reused every run and made no plan of its own
  }
  if (!s.step) {
    if (s.state == BisectionState::kQueued) {
      return "queued, waiting for a daemon";
    }
    return s.state == BisectionState::kRunning ? "setting up" : "no step taken";
  }
  const LiveStep& step = *s.step;
  const bool running = s.state == BisectionState::kRunning;
  const std::string doing = step.reproducing ? (running ? "reproducing on" : "reproduced on")
                                             : (running ? "testing" : "tested");
  std::string progress;
  if (running && step.done_runs < step.planned_runs) {
    progress = fmt::format("run {} of {}", step.done_runs + 1, step.planned_runs);
  } else {
    progress = fmt::format("{} of {} runs done", step.done_runs, step.planned_runs);
  }
  return fmt::format("step {}: {} {} x{}, {}: {}", step.number, doing, short_sha(step.sha),
                     step.planned_runs, progress, step.subject);
}

std::string candidates_text(const LiveSnapshot& s) {
  if (s.candidates == 0) {
    return "not listed yet";
  }
  const std::string count = s.find_fix       ? fmt::format("{} first-parent, fix", s.candidates)
                            : s.first_parent ? fmt::format("{} first-parent", s.candidates)
                                             : std::to_string(s.candidates);
  if (!s.posterior_rebuilt) {
    return fmt::format("{}; the most likely as of the last decision:", count);
  }
  return fmt::format("{}; {} commit{} hold{} {} of the probability", count, s.credible_set_size,
                     s.credible_set_size == 1 ? "" : "s", s.credible_set_size == 1 ? "s" : "",
                     s.target);
}

std::string eta_unknown_reason(const LiveSnapshot& s) {
  if (s.steps < 2) {
    return "fewer than 2 steps so far";
  }
  if (s.timed_runs == 0) {
    return "no run timed yet";
  }
  return "the posterior could not be rebuilt";
}

std::string eta_text(const LiveSnapshot& s) {
  if (s.state == BisectionState::kRunning && !s.checking.empty()) {
    // The search is over; the check ends when its runs decide, which the search's steps do not
    // predict.
    for (const char* check : {"verify", "backport"}) {
      if (s.checking.rfind(std::string(check) + " check", 0) == 0) {
        return fmt::format(
            "unknown (the {0} check ends when its runs decide, at most "
            "decision.{0}_check_max_runs)",
            check);
      }
    }
    return "unknown (the revert check ends when its runs decide, at most "
           "decision.revert_check_max_runs)";
  }
  const std::optional<Estimate> estimate = estimate_remaining(s);
  if (!estimate) {
    return fmt::format("unknown ({})", eta_unknown_reason(s));
  }
  const std::string per_step = human_duration(static_cast<int64_t>(estimate->step_ms));
  const std::string how =
      estimate->capped_by_budget
          ? fmt::format("rough: the run budget ends it after ~{:.0f} steps of {}",
                        estimate->steps_left, per_step)
          : fmt::format("rough: ~{:.0f} steps left from {}, {} per step", estimate->steps_left,
                        estimate->from_entropy ? "the information gained per step so far"
                                               : "log2 of the credible set",
                        per_step);
  return fmt::format("{}~{} ({})",
                     s.state == BisectionState::kPaused ? "paused; once resumed " : "",
                     human_duration(estimate->remaining_ms), how);
}

std::string mean_of(int64_t total_ms, uint64_t count, std::string_view what) {
  return fmt::format("mean {} {} ({} {}{})", what,
                     human_duration(total_ms / static_cast<int64_t>(count)), count, what,
                     count == 1 ? "" : "s");
}

}  // namespace

base::Result<LiveSnapshot> gather_snapshot(store::Store& store, int64_t id) {
  std::vector<store::Candidate> candidates;
  std::vector<store::RunRecord> own_runs;
  std::vector<store::RunRecord> shared_runs;
  std::vector<store::Event> events;
  store::Bisection bisection;
  {
    FB_ASSIGN_OR_RETURN(store::Transaction snapshot, store.begin_read());
    FB_ASSIGN_OR_RETURN(bisection, store.get_bisection(id));
    FB_ASSIGN_OR_RETURN(candidates, store.get_candidates(id));
    FB_ASSIGN_OR_RETURN(own_runs, store.runs_for_bisection(id));
    FB_ASSIGN_OR_RETURN(events, store.events(id));
    if (!candidates.empty()) {
      FB_ASSIGN_OR_RETURN(shared_runs, store.runs_for(bisection.spec.test_identity));
    }
    FB_TRY(snapshot.commit());
  }

  LiveSnapshot s;
  s.id = bisection.id;
  s.state = bisection.state;
  s.owner_pid = bisection.owner_pid;
  s.repo = bisection.spec.repo;
  s.bad_sha = bisection.spec.bad_sha;
  s.good_shas = bisection.spec.good_shas;
  s.note = bisection.error;
  s.result = result_line(bisection.result_json);
  s.runs = own_runs.size();
  s.candidates = candidates.size();

  std::set<std::string> boots;
  for (const store::RunRecord& run : own_runs) {
    if (run.boot_id && !run.boot_id->empty()) {
      boots.insert(*run.boot_id);
    }
    s.run_ms += run.duration_ms;
    ++s.timed_runs;
  }
  s.boots = boots.size();

  std::unordered_map<std::string, const store::Candidate*> by_sha;
  for (const store::Candidate& candidate : candidates) {
    by_sha.emplace(candidate.sha, &candidate);
  }
  const auto subject_of = [&](const std::string& sha) {
    const auto it = by_sha.find(sha);
    return it == by_sha.end() ? std::string() : it->second->subject;
  };

  std::set<std::string> failed_builds;
  std::string last_best;
  for (const store::Event& event : events) {
    const json data = parse_object(event.data_json);
    if (const auto elapsed = number_at(data, "elapsed_ms")) {
      s.elapsed_ms = std::max(s.elapsed_ms.value_or(0), static_cast<int64_t>(*elapsed));
    }
    if (event.kind == engine::kEventBuild) {
      ++s.builds;
      if (const auto duration = number_at(data, "duration_ms")) {
        s.build_ms += static_cast<int64_t>(*duration);
        ++s.timed_builds;
      }
      if (data.contains("status") && string_at(data, "status") != "ok") {
        failed_builds.insert(string_at(data, "sha"));
      }
    }
    if (event.kind == engine::kEventCheck) {
      s.checking = event.message;
    } else if (event.kind == engine::kEventPlan || event.kind == engine::kEventSession) {
      s.checking.clear();  // searching again (another bisection's runs changed the verdict)
    }
    if (event.kind != engine::kEventPlan) {
      continue;
    }
    ++s.steps;
    LiveStep step;
    step.number = s.steps;
    step.sha = string_at(data, "sha");
    step.subject = subject_of(step.sha);
    step.reproducing = data.contains("reproducing") && data["reproducing"].is_boolean() &&
                       data["reproducing"].get<bool>();
    step.planned_runs = count_at(data, "runs").value_or(0);
    const uint64_t before = count_at(data, "runs_before").value_or(s.runs);
    step.done_runs = std::min(step.planned_runs, s.runs > before ? s.runs - before : 0);
    s.step = std::move(step);
    if (const auto p = number_at(data, "max_probability")) {
      s.confidence_history.push_back(*p);
      s.confidence = *p;
    }
    last_best = string_at(data, "best_sha");
  }

  auto config = config::parse_config(bisection.spec.config_toml,
                                     fmt::format("bisection {} configuration", id),
                                     config::ConfigOrigin::kStored);
  if (config) {
    s.max_runs = config->decision.max_runs;
    s.target = config->decision.confidence;
    s.stop_at = model::stop_threshold(model::StopOptions{.confidence = s.target});
    s.first_parent = config->range.first_parent;
    s.find_fix = config->range.find_fix;
  }
  if (s.find_fix && !s.good_shas.empty()) {
    // The fixed end is no candidate, so the store has no subject for it: the repository has.
    if (auto repo = git::Repository::open(s.repo)) {
      if (auto info = repo->commit_info(s.good_shas.front())) s.fixed_subject = info->subject;
    }
  }
  if (config && rebuild_posterior(*config, candidates, shared_runs, failed_builds, s)) {
    // Decisions are logged before their runs; the posterior now also counts the runs since.
    s.confidence_history.push_back(s.confidence);
  } else if (!last_best.empty()) {
    s.top.push_back({last_best, subject_of(last_best), s.confidence});
  }
  return s;
}

std::optional<Estimate> estimate_remaining(const LiveSnapshot& s) {
  if (s.steps < 2 || s.timed_runs == 0 || !s.posterior_rebuilt || s.credible_set_size == 0) {
    return std::nullopt;
  }
  const auto steps = static_cast<double>(s.steps);
  const double runs_per_step = static_cast<double>(s.runs) / steps;
  const double builds_per_step = static_cast<double>(s.timed_builds) / steps;
  const double mean_run_ms = static_cast<double>(s.run_ms) / static_cast<double>(s.timed_runs);
  const double mean_build_ms =
      s.timed_builds == 0 ? 0
                          : static_cast<double>(s.build_ms) / static_cast<double>(s.timed_builds);
  Estimate estimate;
  // Each step roughly halves the commits that still hold the mass; the last one or two only add
  // confidence, which is what the minimum of one step stands for.
  estimate.steps_left =
      std::max(1.0, std::ceil(std::log2(static_cast<double>(s.credible_set_size))));
  const double lost = s.prior_entropy_bits - s.entropy_bits;
  if (s.prior_entropy_bits > 0 && lost > 0) {
    // A posterior that just stops: `stop_at` on one commit, the rest spread over the others.
    const double q = 1 - s.stop_at;
    const double others = std::max(1.0, static_cast<double>(s.candidates) - 1);
    const double at_stop =
        -s.stop_at * std::log2(s.stop_at) - q * std::log2(q) + q * std::log2(others);
    estimate.steps_left = std::max(1.0, std::ceil((s.entropy_bits - at_stop) / (lost / steps)));
    estimate.from_entropy = true;
  }
  estimate.step_ms = runs_per_step * mean_run_ms + builds_per_step * mean_build_ms;
  const double budget_left = s.max_runs > s.runs ? static_cast<double>(s.max_runs - s.runs) : 0;
  if (s.max_runs > 0 && runs_per_step > 0 && estimate.steps_left * runs_per_step > budget_left) {
    estimate.steps_left = budget_left / runs_per_step;
    estimate.capped_by_budget = true;
  }
  estimate.remaining_ms =
      static_cast<int64_t>(std::llround(estimate.steps_left * estimate.step_ms));
  return estimate;
}

std::string render_frame(const LiveSnapshot& s, const FrameOptions& options) {
  const size_t width = std::max<size_t>(options.width, 20);
  std::vector<std::string> lines;

  std::string header = fmt::format("bisection {}: {}", s.id, store::to_string(s.state));
  if (s.owner_pid) {
    header += s.owner_gone ? fmt::format(" (pid {}, not alive: resume it)", *s.owner_pid)
                           : fmt::format(" (pid {})", *s.owner_pid);
  }
  // A fix bisection's bad end is the older, broken one; its good end the newer, fixed one.
  header += fmt::format(", repo {}, {} {}", repo_name(s.repo), s.find_fix ? "broken" : "bad",
                        short_sha(s.bad_sha));
  if (!s.good_shas.empty()) {
    header += (s.find_fix ? ", fixed " : ", good ") + short_sha(s.good_shas.front());
    if (s.good_shas.size() > 1) {
      header += fmt::format(" +{}", s.good_shas.size() - 1);
    }
  }
  lines.push_back(header);

  const bool done = final_state(s.state);
  const bool active = s.state == BisectionState::kRunning || s.state == BisectionState::kQueued;
  lines.push_back(labelled(active ? "now:" : "last:", step_text(s)));

  std::string totals =
      s.max_runs > 0 ? fmt::format("{} of {}", s.runs, s.max_runs) : fmt::format("{}", s.runs);
  totals += fmt::format(", {} build{}", s.builds, s.builds == 1 ? "" : "s");
  if (s.boots > 0) {
    totals += fmt::format(", {} boot{}", s.boots, s.boots == 1 ? "" : "s");
  }
  lines.push_back(labelled("runs:", totals));

  lines.push_back(labelled("candidates:", candidates_text(s)));
  for (const LiveCandidate& candidate : s.top) {
    lines.push_back(candidate.sha.empty()
                        ? fmt::format("  {:.4f}  (no {} in this range)", candidate.probability,
                                      s.find_fix ? "fix" : "regression")
                        : fmt::format("  {:.4f}  {}  {}", candidate.probability,
                                      short_sha(candidate.sha), candidate.subject));
  }

  if (s.confidence_history.empty()) {
    lines.push_back(labelled("confidence:", fmt::format("none yet (stop at {:.6g})", s.stop_at)));
  } else {
    const std::string tail = fmt::format(" {:.4f} (stop at {:.6g})", s.confidence, s.stop_at);
    const size_t room = width > kLabelWidth + tail.size() ? width - kLabelWidth - tail.size() : 1;
    lines.push_back(
        labelled("confidence:", sparkline(s.confidence_history, room, options.utf8) + tail));
  }

  if (!done) {
    lines.push_back(labelled("eta:", eta_text(s)));
  } else if (s.elapsed_ms) {
    lines.push_back(labelled("took:", human_duration(*s.elapsed_ms)));
  }
  if (s.timed_runs > 0 || s.timed_builds > 0) {
    std::string timings = s.timed_runs > 0 ? mean_of(s.run_ms, s.timed_runs, "run") : "";
    if (s.timed_builds > 0) {
      timings += (timings.empty() ? "" : ", ") + mean_of(s.build_ms, s.timed_builds, "build");
    }
    lines.push_back(labelled("timings:", timings));
  }
  if (!s.result.empty()) {
    lines.push_back(labelled("result:", s.result));
  }
  if (s.note) {
    lines.push_back(labelled("note:", *s.note));
  }

  std::string frame;
  for (const std::string& line : lines) {
    // printable() makes commit text harmless and cuts at the width (UTF-8 characters).
    frame += printable(line, width) + "\n";
  }
  return frame;
}

std::string sparkline(const std::vector<double>& values, size_t max_chars, bool utf8) {
  static constexpr std::array<std::string_view, 8> kBlocks = {"▁", "▂", "▃", "▄",
                                                              "▅", "▆", "▇", "█"};
  static constexpr std::string_view kAscii = "_.-:=+*#";
  if (max_chars == 0) {
    return "";
  }
  size_t first = 0;
  std::string out;
  if (values.size() > max_chars) {
    first = values.size() - (max_chars - 1);
    out += utf8 ? "…" : "<";
  }
  for (size_t i = first; i < values.size(); ++i) {
    const double p = std::isfinite(values[i]) ? values[i] : 0;
    const auto level = static_cast<size_t>(std::clamp(std::floor(p * 8), 0.0, 7.0));
    if (utf8) {
      out += kBlocks[level];
    } else {
      out += kAscii[level];
    }
  }
  return out;
}

std::string human_duration(int64_t ms) {
  ms = std::max<int64_t>(ms, 0);
  const double seconds = static_cast<double>(ms) / 1000;
  if (ms < 1000) {
    return fmt::format("{} ms", ms);
  }
  if (seconds < 10) {
    return fmt::format("{:.1f} s", seconds);
  }
  if (seconds < 60) {
    return fmt::format("{:.0f} s", seconds);
  }
  if (seconds < 3600) {
    return fmt::format("{:.1f} min", seconds / 60);
  }
  if (seconds < 48 * 3600) {
    return fmt::format("{:.1f} h", seconds / 3600);
  }
  return fmt::format("{:.1f} days", seconds / 86400);
}

bool utf8_locale(const char* lc_all, const char* lc_ctype, const char* lang) {
  for (const char* value : {lc_all, lc_ctype, lang}) {
    if (value == nullptr || value[0] == '\0') {
      continue;
    }
    std::string lower(value);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower.find("utf-8") != std::string::npos || lower.find("utf8") != std::string::npos;
  }
  return false;
}

std::string redraw_in_place(std::string_view frame, size_t max_lines) {
  std::string out = "\033[H";
  size_t start = 0;
  size_t lines = 0;
  while (start < frame.size() && (max_lines == 0 || lines < max_lines)) {
    size_t end = frame.find('\n', start);
    if (end == std::string_view::npos) {
      end = frame.size();
    }
    out += frame.substr(start, end - start);
    out += "\033[K\n";
    start = end + 1;
    ++lines;
  }
  out += "\033[J";
  return out;
}

std::optional<FrameOptions> terminal_frame_options(int fd) {
  if (::isatty(fd) != 1) {
    return std::nullopt;
  }
  FrameOptions options;
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    options.width = std::max<size_t>(20, size.ws_col - 1U);
  }
  options.utf8 = utf8_locale(std::getenv("LC_ALL"), std::getenv("LC_CTYPE"), std::getenv("LANG"));
  return options;
}

size_t terminal_rows(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) == 0) {
    return size.ws_row;
  }
  return 0;
}

bool terminal_can_redraw() {
  const char* term = std::getenv("TERM");
  return term != nullptr && term[0] != '\0' && std::string_view(term) != "dumb";
}

}  // namespace flakebisect::cli
