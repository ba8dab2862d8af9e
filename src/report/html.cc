#include "report/html.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "report/checks.h"
#include "report/json_access.h"
#include "report/text.h"

namespace flakebisect::report {
namespace {

using nlohmann::json;

// Truncation limits: a subject is one line in a table (code points), a console excerpt a screen or
// two (bytes). Anything longer is cut and ends in "...".
constexpr size_t kSubjectChars = 200;
constexpr size_t kFieldChars = 400;
constexpr size_t kBlockLineChars = 500;
constexpr size_t kExcerptBytes = 20000;
constexpr size_t kConfigBytes = 50000;
// A kernel .config block: a distribution's is about 250 KB (the mail attaches all of it).
constexpr size_t kMaxKernelConfigBytes = 300000;
// Row caps, so that the page stays a few hundred KB whatever the report holds.
constexpr size_t kMaxTableCommits = 1000;
constexpr size_t kMaxDecisionRows = 500;
constexpr size_t kMaxCrashes = 50;
constexpr size_t kMaxCredibleRows = 50;
constexpr size_t kMaxListItems = 20;  // good commits, trailers
constexpr size_t kMaxChartPoints = 500;
constexpr size_t kMaxChartDots = 100;  // decisions drawn as dots with tooltips below this
// A commit gets a table row if it has runs or at least this much posterior mass (or is the
// culprit).
constexpr double kTableMinProbability = 0.001;
constexpr size_t kShortSha = 12;
constexpr const char* kNa = "n/a";

// ---- Text ----------------------------------------------------------------------------------

// `text` escaped for HTML element content and quoted attribute values alike. The text must already
// be clean (one_line or clean_block from text.h: valid UTF-8, no control characters but newlines).
std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Untrusted one-line text (a subject, a name, a title) as HTML, cut to max_columns code points.
std::string line_html(std::string_view text, size_t max_columns = kFieldChars) {
  return escape(one_line(text, max_columns));
}

// Untrusted multi-line text (a console excerpt, a config) as HTML for a <pre>, cut to max_bytes.
std::string block_html(std::string_view text, size_t max_bytes) {
  return escape(clean_block(valid_utf8(text, max_bytes), kBlockLineChars));
}

// ---- Defensive JSON access ------------------------------------------------------------------

// The member `key` of `object`, or nullptr if `object` is not an object, lacks it, or holds null.
const json* member(const json* object, const char* key) {
  if (object == nullptr || !object->is_object()) {
    return nullptr;
  }
  const auto it = object->find(key);
  if (it == object->end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

// The elements of `value` if it is an array (else none).
std::vector<const json*> elements(const json* value) {
  std::vector<const json*> result;
  if (value == nullptr || !value->is_array()) {
    return result;
  }
  result.reserve(value->size());
  for (const json& element : *value) {
    result.push_back(&element);
  }
  return result;
}

std::string_view string_of(const json* value) {
  if (value == nullptr || !value->is_string()) {
    return {};
  }
  return value->get_ref<const std::string&>();
}

std::optional<double> number_of(const json* value) {
  if (value == nullptr || !value->is_number()) {
    return std::nullopt;
  }
  const double number = value->get<double>();
  if (!std::isfinite(number)) {
    return std::nullopt;
  }
  return number;
}

// A probability in [0, 1]; out-of-range values are clamped, non-numbers are absent.
std::optional<double> probability_of(const json* value) {
  const auto number = number_of(value);
  if (!number) {
    return std::nullopt;
  }
  return std::clamp(*number, 0.0, 1.0);
}

// A non-negative count; negative or non-numeric values are absent.
std::optional<int64_t> count_of(const json* value) {
  const auto number = number_of(value);
  if (!number || *number < 0) {
    return std::nullopt;
  }
  return static_cast<int64_t>(std::min(*number, 1e15));
}

// Any JSON value as escaped HTML text: strings verbatim, numbers and booleans printed, objects
// and arrays as compact JSON, absent or empty as "n/a".
std::string display(const json* value, size_t max_chars = kFieldChars) {
  if (value == nullptr) {
    return kNa;
  }
  if (value->is_string()) {
    const std::string text = line_html(string_of(value), max_chars);
    return text.empty() ? std::string(kNa) : text;
  }
  if (value->is_boolean()) {
    return value->get<bool>() ? "true" : "false";
  }
  if (value->is_number_unsigned()) {
    return fmt::format("{}", value->get<uint64_t>());
  }
  if (value->is_number_integer()) {
    return fmt::format("{}", value->get<int64_t>());
  }
  if (value->is_number_float()) {
    const auto number = number_of(value);
    return number ? fmt::format("{:.6g}", *number) : std::string(kNa);
  }
  return line_html(value->dump(-1, ' ', false, json::error_handler_t::replace), max_chars);
}

std::string display_count(std::optional<int64_t> count) {
  return count ? fmt::format("{}", *count) : std::string(kNa);
}

// A probability as a percentage; never rounds a non-zero value to 0% or a non-certain one to 100%.
std::string percent(std::optional<double> probability) {
  if (!probability) {
    return kNa;
  }
  const double value = *probability * 100;
  if (value > 0 && value < 0.005) {
    return "&lt;0.01%";
  }
  if (value < 100 && value >= 99.995) {
    return "&gt;99.99%";
  }
  return fmt::format("{:.2f}%", value);
}

std::string duration(std::optional<double> ms) {
  if (!ms || *ms < 0) {
    return kNa;
  }
  if (*ms < 1000) {
    return fmt::format("{:.0f} ms", *ms);
  }
  const double seconds = *ms / 1000;
  if (seconds < 60) {
    return fmt::format("{:.1f} s", seconds);
  }
  const auto total = static_cast<int64_t>(std::llround(std::min(seconds, 1e12)));
  const int64_t hours = total / 3600;
  if (hours > 0) {
    return fmt::format("{}h {:02}m {:02}s", hours, total % 3600 / 60, total % 60);
  }
  return fmt::format("{}m {:02}s", total / 60, total % 60);
}

std::string subject_html(std::string_view subject) {
  const std::string text = line_html(subject, kSubjectChars);
  return text.empty() ? std::string(kNa) : text;
}

std::string short_sha(std::string_view sha) {
  const std::string text = line_html(sha.substr(0, kShortSha));
  return text.empty() ? std::string(kNa) : text;
}

// ---- The report's pieces --------------------------------------------------------------------

struct Commit {
  std::string idx;  // as displayed: the report's idx, else the position
  std::string_view sha;
  std::string_view subject;
  std::optional<double> probability;
  std::optional<int64_t> runs, passes, fails, crashes, hangs, infra, skips;
  std::string_view build;  // "ok", "failed", or empty when unknown
  bool culprit = false;
  bool credible = false;

  int64_t other() const {
    // Runs neither passing, failing, crashing nor hanging: infrastructure failures, skips, and
    // whatever `runs` counts beyond the named outcomes.
    const int64_t named = passes.value_or(0) + fails.value_or(0) + crashes.value_or(0) +
                          hangs.value_or(0) + infra.value_or(0) + skips.value_or(0);
    return infra.value_or(0) + skips.value_or(0) + std::max<int64_t>(0, runs.value_or(0) - named);
  }
};

bool same_commit(std::string_view sha, std::string_view wanted) {
  if (sha.empty() || wanted.empty()) {
    return false;
  }
  // An abbreviated sha (at least 7 digits) matches the full one.
  if (wanted.size() >= 7 && wanted.size() < sha.size()) {
    return sha.substr(0, wanted.size()) == wanted;
  }
  return sha == wanted;
}

std::vector<Commit> read_commits(const json& report, std::string_view culprit_sha,
                                 const std::unordered_set<std::string>& credible) {
  std::vector<Commit> commits;
  const auto rows = elements(member(&report, "commits"));
  commits.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const json* row = rows[i];
    Commit commit;
    const json* idx = member(row, "idx");
    commit.idx = idx != nullptr && idx->is_number() ? display(idx) : fmt::format("{}", i);
    commit.sha = string_of(member(row, "sha"));
    commit.subject = string_of(member(row, "subject"));
    commit.probability = probability_of(member(row, "probability"));
    commit.runs = count_of(member(row, "runs"));
    commit.passes = count_of(member(row, "passes"));
    commit.fails = count_of(member(row, "fails"));
    commit.crashes = count_of(member(row, "crashes"));
    commit.hangs = count_of(member(row, "hangs"));
    commit.infra = count_of(member(row, "infra"));
    commit.skips = count_of(member(row, "skips"));
    commit.build = string_of(member(row, "build"));
    commit.culprit = same_commit(commit.sha, culprit_sha);
    commit.credible = !commit.sha.empty() && credible.count(std::string(commit.sha)) > 0;
    commits.push_back(commit);
  }
  return commits;
}

std::string build_text(std::string_view build) {
  const std::string text = line_html(build, 20);
  return text.empty() ? std::string(kNa) : text;
}

// Fixed CSS class names for the header, so that no report text ever reaches an attribute unescaped.
const char* status_class(std::string_view status) {
  if (status == "found") {
    return "found";
  }
  if (status == "inconclusive") {
    return "inconclusive";
  }
  if (status == "not_reproduced") {
    return "not-reproduced";
  }
  if (status == "running") {
    return "running";
  }
  return "other";
}

std::string status_headline(std::string_view status, bool fix = false) {
  if (status == "found") {
    return fix ? "fix found" : "regression found";
  }
  if (status == "inconclusive") {
    return "inconclusive";
  }
  if (status == "not_reproduced") {
    return fix ? "failure not reproduced" : "regression not reproduced";
  }
  if (status == "running") {
    return "running";
  }
  const std::string text = line_html(status, 60);
  return text.empty() ? std::string("status n/a") : text;
}

// ---- SVG: posterior and runs ----------------------------------------------------------------

// One bar: a run of consecutive candidate commits (a single one unless there are more than
// kMaxPlotBars candidates).
struct Bucket {
  size_t first = 0;
  size_t last = 0;  // inclusive
  double probability = 0;
  int64_t passes = 0, fails = 0, crashes = 0, hangs = 0, other = 0;
  size_t build_failed = 0;
  bool culprit = false;
  bool credible = false;

  int64_t runs() const { return passes + fails + crashes + hangs + other; }
};

std::vector<Bucket> make_buckets(const std::vector<Commit>& commits) {
  const size_t per_bucket = (commits.size() + kMaxPlotBars - 1) / kMaxPlotBars;
  std::vector<Bucket> buckets;
  for (size_t first = 0; first < commits.size(); first += per_bucket) {
    Bucket bucket;
    bucket.first = first;
    bucket.last = std::min(commits.size(), first + per_bucket) - 1;
    for (size_t i = bucket.first; i <= bucket.last; ++i) {
      const Commit& commit = commits[i];
      bucket.probability += commit.probability.value_or(0);
      bucket.passes += commit.passes.value_or(0);
      bucket.fails += commit.fails.value_or(0);
      bucket.crashes += commit.crashes.value_or(0);
      bucket.hangs += commit.hangs.value_or(0);
      bucket.other += commit.other();
      bucket.build_failed += commit.build == "failed" ? 1 : 0;
      bucket.culprit = bucket.culprit || commit.culprit;
      bucket.credible = bucket.credible || commit.credible;
    }
    bucket.probability = std::min(bucket.probability, 1.0);
    buckets.push_back(bucket);
  }
  return buckets;
}

// The smallest of 1, 2, 5 times a power of ten that is >= value (value > 0).
double nice_ceiling(double value) {
  double scale = std::pow(10.0, std::floor(std::log10(value)));
  for (;;) {
    for (const double step : {1.0, 2.0, 5.0}) {
      if (step * scale >= value * (1 - 1e-9)) {
        return step * scale;
      }
    }
    scale *= 10;
  }
}

// `culprit`: what the named commit is called, "culprit" or a fix bisection's "fix".
std::string bucket_tooltip(const Bucket& bucket, const std::vector<Commit>& commits,
                           std::string_view culprit) {
  const Commit& first = commits[bucket.first];
  const Commit& last = commits[bucket.last];
  std::string text;
  if (bucket.first == bucket.last) {
    text = fmt::format("#{} {} {}\nposterior {}", first.idx, short_sha(first.sha),
                       line_html(first.subject, kSubjectChars), percent(first.probability));
  } else {
    text = fmt::format("#{}\xE2\x80\x93#{} ({} commits) {}..{}\nposterior mass {}", first.idx,
                       last.idx, bucket.last - bucket.first + 1, short_sha(first.sha),
                       short_sha(last.sha), percent(bucket.probability));
  }
  text += fmt::format("\nruns {}: {} pass, {} fail, {} crash, {} hang, {} other", bucket.runs(),
                      bucket.passes, bucket.fails, bucket.crashes, bucket.hangs, bucket.other);
  if (bucket.first == bucket.last) {
    text += fmt::format("\nbuild {}", build_text(first.build));
  } else if (bucket.build_failed > 0) {
    text += fmt::format("\nbuild failed for {}", bucket.build_failed);
  }
  if (bucket.culprit) {
    text += "\n";
    text += culprit;
  }
  return text;
}

// Geometry of the commit plot (SVG user units; the SVG scales to the page width).
constexpr double kPlotWidth = 1000;
constexpr double kPlotLeft = 64;
constexpr double kPlotRight = 16;
constexpr double kPostTop = 28;
constexpr double kPostHeight = 200;
constexpr double kRunsTop = kPostTop + kPostHeight + 34;
constexpr double kRunsHeight = 110;
constexpr double kRunsBottom = kRunsTop + kRunsHeight;
constexpr double kPlotHeight = kRunsBottom + 54;

void append_y_grid(std::string& out, double top, double height, double max_value, int ticks,
                   bool as_percent) {
  for (int t = 0; t <= ticks; ++t) {
    const double value = max_value * t / ticks;
    const double y = top + height - height * t / ticks;
    const std::string label =
        as_percent ? fmt::format("{:g}%", value * 100) : fmt::format("{:g}", value);
    fmt::format_to(std::back_inserter(out),
                   "<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
                   "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
                   kPlotLeft, y, kPlotWidth - kPlotRight, y, kPlotLeft - 6, y + 4, label);
  }
}

void append_rect(std::string& out, const char* css_class, double x, double y, double width,
                 double height) {
  fmt::format_to(
      std::back_inserter(out),
      "<rect class=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"/>",
      css_class, x, y, width, height);
}

void append_commit_plot(std::string& out, const std::vector<Commit>& commits,
                        std::string_view culprit_word) {
  if (commits.empty()) {
    out += "<p class=\"muted\">No candidate commits in the report: plot n/a.</p>\n";
    return;
  }
  const std::vector<Bucket> buckets = make_buckets(commits);
  double max_probability = 0;
  int64_t max_runs = 0;
  for (const Bucket& bucket : buckets) {
    max_probability = std::max(max_probability, bucket.probability);
    max_runs = std::max(max_runs, bucket.runs());
  }
  const double post_max = max_probability > 0 ? nice_ceiling(max_probability) : 1.0;
  const double runs_max = max_runs > 0 ? nice_ceiling(static_cast<double>(max_runs)) : 1.0;
  const double inner = kPlotWidth - kPlotLeft - kPlotRight;
  const double step = inner / static_cast<double>(buckets.size());
  const double gap = step >= 4 ? 1 : 0;
  const size_t per_bucket = buckets.front().last - buckets.front().first + 1;

  fmt::format_to(std::back_inserter(out),
                 "<svg class=\"plot\" id=\"commit-plot\" viewBox=\"0 0 {:.0f} {:.0f}\" "
                 "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" "
                 "aria-label=\"posterior probability and runs per candidate commit\">\n",
                 kPlotWidth, kPlotHeight);
  fmt::format_to(std::back_inserter(out),
                 "<text class=\"title\" x=\"{:.1f}\" y=\"{:.1f}\">posterior probability{}</text>\n"
                 "<text class=\"title\" x=\"{:.1f}\" y=\"{:.1f}\">runs per commit{}</text>\n",
                 kPlotLeft, kPostTop - 10,
                 per_bucket > 1 ? fmt::format(" (mass per bar of {} commits)", per_bucket) : "",
                 kPlotLeft, kRunsTop - 10,
                 per_bucket > 1 ? fmt::format(" (per bar of {} commits)", per_bucket) : "");
  append_y_grid(out, kPostTop, kPostHeight, post_max, 4, true);
  append_y_grid(out, kRunsTop, kRunsHeight, runs_max, 2, false);

  std::optional<double> culprit_x;
  for (size_t b = 0; b < buckets.size(); ++b) {
    const Bucket& bucket = buckets[b];
    const double x = kPlotLeft + step * static_cast<double>(b);
    const double width = std::max(step - gap, 0.2);
    if (bucket.culprit) {
      culprit_x = x + step / 2;
    }
    if (bucket.probability > 0) {
      const double height = kPostHeight * bucket.probability / post_max;
      append_rect(out,
                  bucket.culprit    ? "pk"
                  : bucket.credible ? "pc"
                                    : "p",
                  x, kPostTop + kPostHeight - height, width, height);
    }
    // Runs stacked from the axis up: pass, fail, crash, hang, other.
    double y = kRunsBottom;
    const std::pair<const char*, int64_t> parts[] = {{"rp", bucket.passes},
                                                     {"rf", bucket.fails},
                                                     {"rc", bucket.crashes},
                                                     {"rh", bucket.hangs},
                                                     {"ro", bucket.other}};
    for (const auto& [css_class, count] : parts) {
      if (count <= 0) {
        continue;
      }
      const double height = kRunsHeight * static_cast<double>(count) / runs_max;
      y -= height;
      append_rect(out, css_class, x, y, width, height);
    }
    if (bucket.build_failed > 0) {
      append_rect(out, "bf", x, kRunsBottom + 3, width, 5);
    }
    out += '\n';
  }
  fmt::format_to(
      std::back_inserter(out),
      "<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>"
      "<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{3:.1f}\" x2=\"{2:.1f}\" y2=\"{3:.1f}\"/>\n",
      kPlotLeft, kPostTop + kPostHeight, kPlotWidth - kPlotRight, kRunsBottom);
  if (culprit_x) {
    const auto culprit = std::find_if(commits.begin(), commits.end(),
                                      [](const Commit& commit) { return commit.culprit; });
    const bool right_half = *culprit_x > kPlotLeft + inner / 2;
    fmt::format_to(std::back_inserter(out),
                   "<line class=\"mark\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" "
                   "y2=\"{2:.1f}\"/><text class=\"mark-label\" x=\"{3:.1f}\" y=\"{4:.1f}\" "
                   "text-anchor=\"{5}\">{7} {6}</text>\n",
                   *culprit_x, kPostTop, kRunsBottom, *culprit_x + (right_half ? -5 : 5),
                   kPostTop + 14, right_half ? "end" : "start", short_sha(culprit->sha),
                   culprit_word);
  }
  // x axis: first and last commit, a few positions between, and what the axis means.
  const double label_y = kRunsBottom + 22;
  fmt::format_to(std::back_inserter(out),
                 "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"start\">#{} {}</text>"
                 "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">#{} {}</text>\n",
                 kPlotLeft, label_y, commits.front().idx, short_sha(commits.front().sha),
                 kPlotWidth - kPlotRight, label_y, commits.back().idx,
                 short_sha(commits.back().sha));
  if (buckets.size() >= 8) {
    for (const size_t quarter : {1, 2, 3}) {
      const size_t b = buckets.size() * quarter / 4;
      fmt::format_to(std::back_inserter(out),
                     "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">#{}</text>",
                     kPlotLeft + step * (static_cast<double>(b) + 0.5), label_y,
                     commits[buckets[b].first].idx);
    }
  }
  fmt::format_to(std::back_inserter(out),
                 "\n<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">candidate commits, "
                 "oldest to newest ({})</text>\n",
                 kPlotLeft + inner / 2, label_y + 20, commits.size());
  // Transparent columns over both panels carry the tooltips, so a commit without mass or runs
  // still has one.
  for (size_t b = 0; b < buckets.size(); ++b) {
    fmt::format_to(std::back_inserter(out),
                   "<rect class=\"hit\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                   "height=\"{:.1f}\"><title>{}</title></rect>\n",
                   kPlotLeft + step * static_cast<double>(b), kPostTop, step,
                   kRunsBottom + 8 - kPostTop, bucket_tooltip(buckets[b], commits, culprit_word));
  }
  out += "</svg>\n";
  fmt::format_to(
      std::back_inserter(out),
      "<p class=\"legend\"><span><i class=\"p\"></i>posterior</span><span><i class=\"pc\"></i>"
      "credible set</span><span><i class=\"pk\"></i>{}</span><span><i class=\"rp\"></i>pass"
      "</span><span><i class=\"rf\"></i>fail</span><span><i class=\"rc\"></i>crash</span><span>"
      "<i class=\"rh\"></i>hang</span><span><i class=\"ro\"></i>other (infra, skip)</span><span>"
      "<i class=\"bf\"></i>build failed</span></p>\n",
      culprit_word);
}

// ---- SVG: decision log ----------------------------------------------------------------------

struct Decision {
  const json* row = nullptr;
  std::string_view sha;
  std::string_view best_sha;
  std::optional<double> max_probability;
};

constexpr double kChartHeight = 190;
constexpr double kChartTop = 24;
constexpr double kChartPlotHeight = 120;

void append_decision_chart(std::string& out, const std::vector<Decision>& decisions) {
  const double inner = kPlotWidth - kPlotLeft - kPlotRight;
  const size_t count = decisions.size();
  const auto x_of = [&](size_t i) {
    return count == 1 ? kPlotLeft + inner / 2
                      : kPlotLeft + inner * static_cast<double>(i) / static_cast<double>(count - 1);
  };
  const auto y_of = [&](double p) { return kChartTop + kChartPlotHeight * (1 - p); };
  fmt::format_to(std::back_inserter(out),
                 "<svg class=\"plot\" id=\"decision-chart\" viewBox=\"0 0 {:.0f} {:.0f}\" "
                 "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" "
                 "aria-label=\"most probable commit's probability after each decision\">\n"
                 "<text class=\"title\" x=\"{:.1f}\" y=\"{:.1f}\">probability of the most "
                 "probable commit, by decision</text>\n",
                 kPlotWidth, kChartHeight, kPlotLeft, kChartTop - 10);
  append_y_grid(out, kChartTop, kChartPlotHeight, 1.0, 2, true);
  // Thinned to at most kMaxChartPoints points; the last decision is always drawn.
  const size_t stride = (count + kMaxChartPoints - 1) / kMaxChartPoints;
  out += "<polyline class=\"line\" points=\"";
  for (size_t i = 0; i < count; ++i) {
    if ((i % stride != 0 && i + 1 != count) || !decisions[i].max_probability) {
      continue;
    }
    fmt::format_to(std::back_inserter(out), "{:.1f},{:.1f} ", x_of(i),
                   y_of(*decisions[i].max_probability));
  }
  out += "\"/>\n";
  if (count <= kMaxChartDots) {
    for (size_t i = 0; i < count; ++i) {
      const Decision& decision = decisions[i];
      if (!decision.max_probability) {
        continue;
      }
      fmt::format_to(std::back_inserter(out),
                     "<circle class=\"dot\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\"><title>decision "
                     "{}: tested {} ({} runs)\nmost probable {} at {}</title></circle>\n",
                     x_of(i), y_of(*decision.max_probability), i + 1, short_sha(decision.sha),
                     display(member(decision.row, "runs")), short_sha(decision.best_sha),
                     percent(decision.max_probability));
    }
  }
  const double label_y = kChartTop + kChartPlotHeight + 20;
  fmt::format_to(
      std::back_inserter(out),
      "<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>"
      "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"start\">1</text>"
      "<text x=\"{2:.1f}\" y=\"{3:.1f}\" text-anchor=\"end\">{4}</text>"
      "<text x=\"{5:.1f}\" y=\"{6:.1f}\" text-anchor=\"middle\">decision</text>\n"
      "</svg>\n",
      kPlotLeft, kChartTop + kChartPlotHeight, kPlotWidth - kPlotRight, label_y, count,
      kPlotLeft + inner / 2, label_y + 18);
}

// ---- Page sections --------------------------------------------------------------------------

constexpr const char* kStyle = R"css(
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif;margin:0 auto;
max-width:1080px;padding:16px 24px;color:#1d1d1f;background:#fff}
header{border-left:8px solid #888;padding:8px 16px;background:#f2f2f2;margin-bottom:16px}
header.found{border-color:#2e7d32;background:#e8f5e9}
header.inconclusive{border-color:#f9a825;background:#fff8e1}
header.not-reproduced{border-color:#607d8b;background:#eceff1}
header.running{border-color:#1565c0;background:#e3f2fd}
h1{font-size:22px;margin:4px 0}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:2px}
h3{font-size:15px;margin:16px 0 4px}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12.5px}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:8px;overflow:auto;max-height:480px;
white-space:pre-wrap;overflow-wrap:anywhere}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
dl.kv dt{font-weight:600;color:#555}
dl.kv dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e5e5e5;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#fafafa}
td{overflow-wrap:anywhere}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.culprit td{background:#fdecea;font-weight:600}
.muted{color:#666}
.warn{background:#fff3cd;border:1px solid #ffe08a;padding:8px}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
svg.plot{width:100%;height:auto;display:block;margin:8px 0}
svg text{font-size:11px;fill:#444}
svg text.title{font-size:12px;font-weight:600;fill:#222}
.grid{stroke:#e6e6e6}
.axis{stroke:#888}
.p{fill:#4e79a7;background:#4e79a7}.pc{fill:#f28e2b;background:#f28e2b}
.pk{fill:#d62728;background:#d62728}
.rp{fill:#59a14f;background:#59a14f}.rf{fill:#e15759;background:#e15759}
.rc{fill:#7b1e3f;background:#7b1e3f}.rh{fill:#edc948;background:#edc948}
.ro{fill:#bab0ac;background:#bab0ac}.bf{fill:#333;background:#333}
.mark{stroke:#d62728;stroke-width:1.5;stroke-dasharray:5 3}
svg text.mark-label{fill:#d62728;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}
.hit{fill:#000;fill-opacity:0}
.hit:hover{fill-opacity:.07}
.line{fill:none;stroke:#4e79a7;stroke-width:2}
.dot{fill:#4e79a7}
footer{margin-top:32px;color:#777;font-size:12px}
)css";

void append_estimate(std::string& out, const char* name, const char* meaning,
                     const json* estimate) {
  const auto mean = number_of(member(estimate, "mean"));
  const auto low = number_of(member(estimate, "low"));
  const auto high = number_of(member(estimate, "high"));
  const auto show = [](std::optional<double> value) {
    return value ? fmt::format("{:.4g}", *value) : std::string(kNa);
  };
  fmt::format_to(std::back_inserter(out),
                 "<dt>{}</dt><dd>{} <span class=\"muted\">(interval {} to {}; {})</span></dd>\n",
                 name, show(mean), show(low), show(high), meaning);
}

// A check as a row of the result: the verdict, the same words as the text report, the commit it
// ran at (labelled `commit_label`) and, when there is no verdict, the engine's own sentence
// (`detail`). `key` is the check's name in result.checks, `title` the row's, `id` the row's id.
void append_check(std::string& out, const json& report, const std::optional<CheckWords>& words,
                  const char* key, std::string_view title, std::string_view id,
                  std::string_view commit_label) {
  if (!words) {
    return;
  }
  const json* check = member(member(member(&report, "result"), "checks"), key);
  fmt::format_to(std::back_inserter(out), "<dt>{}</dt><dd id=\"{}\"><strong>{}</strong> {}", title,
                 id, escape(words->verdict), escape(words->explanation));
  const std::string_view commit = string_of(member(check, "commit"));
  if (is_object_name(commit)) {
    fmt::format_to(std::back_inserter(out), " &middot; {} <code title=\"{}\">{}</code>",
                   commit_label, commit, short_sha(commit));
  }
  // The engine's sentence, unless the words above already say it: a pass or a fail is its counts
  // and probability, which the words give (unless the stored counts were damaged); the other
  // statuses' sentence says why (the cap, a skip, the build log's last line).
  const std::string detail = one_line(string_of(member(check, "detail")), kFieldChars);
  const json* runs = member(check, "runs");
  const bool counted = (words->status == "pass" || words->status == "fail") && runs != nullptr &&
                       runs->is_number_integer() && runs->get<int64_t>() >= 0 &&
                       // The engine's sentence adds runs that neither passed nor failed, which
                       // the words do not count.
                       detail.find("neither passed nor failed") == std::string::npos;
  if (!counted && !detail.empty() && words->explanation.find(detail) == std::string::npos) {
    fmt::format_to(std::back_inserter(out), "<br><span class=\"muted\">{}</span>", escape(detail));
  }
  out += "</dd>\n";
}

// KernelCI's revert check, then the verify check (a fix bisection's ran its good end, not the
// culprit's parent), then a fix bisection's backport check (the fix cherry-picked onto the broken
// end), each as a row of the result.
void append_checks(std::string& out, const json& report) {
  append_check(out, report, describe_revert_check(report), "revert", "Revert check", "revert-check",
               "revert commit");
  append_check(out, report, describe_verify_check(report), "verify", "Verify check", "verify-check",
               fix_mode(report) ? "fixed end" : "parent");
  append_check(out, report, describe_backport_check(report), "backport", "Backport check",
               "backport-check", "backport commit");
}

void append_summary(std::string& out, const json& report, const json* result) {
  const json* culprit = member(result, "culprit");
  // A fix bisection names the first commit that passes, and the last that fails before it.
  const bool fix = fix_mode(report);
  const char* culprit_label = fix ? "Fix" : "Culprit";
  out += "<section id=\"result\"><h2>Result</h2><dl class=\"kv\">\n";
  fmt::format_to(std::back_inserter(out), "<dt>Status</dt><dd>{}</dd>\n",
                 display(member(result, "status")));
  fmt::format_to(std::back_inserter(out), "<dt>Reason</dt><dd>{}</dd>\n",
                 display(member(result, "reason"), 2000));
  if (culprit == nullptr) {
    fmt::format_to(std::back_inserter(out), "<dt>{}</dt><dd>n/a</dd>\n", culprit_label);
  } else {
    const json* author = member(culprit, "author");
    const std::string_view email = string_of(member(author, "email"));
    fmt::format_to(std::back_inserter(out),
                   "<dt>{}</dt><dd><code id=\"culprit-sha\">{}</code> {}</dd>\n"
                   "<dt>Author</dt><dd>{}{}</dd>\n<dt>Date</dt><dd>{}</dd>\n",
                   culprit_label, display(member(culprit, "sha")),
                   display(member(culprit, "subject"), kSubjectChars),
                   display(member(author, "name")),
                   email.empty() ? std::string() : " &lt;" + line_html(email) + "&gt;",
                   display(member(culprit, "date")));
    const auto trailers = elements(member(culprit, "trailers"));
    if (!trailers.empty()) {
      out += "<dt>Trailers</dt><dd>";
      for (size_t i = 0; i < trailers.size() && i < kMaxListItems; ++i) {
        fmt::format_to(std::back_inserter(out), "{}: {}<br>", display(member(trailers[i], "key")),
                       display(member(trailers[i], "value")));
      }
      if (trailers.size() > kMaxListItems) {
        fmt::format_to(std::back_inserter(out), "{} more", trailers.size() - kMaxListItems);
      }
      out += "</dd>\n";
    }
    // What the tree's scripts/get_maintainer.pl names for it (kernel trees).
    const auto maintainers = elements(member(culprit, "maintainers"));
    if (!maintainers.empty()) {
      out += "<dt>Maintainers</dt><dd id=\"maintainers\">";
      for (size_t i = 0; i < maintainers.size() && i < kMaxListItems; ++i) {
        const json* person = maintainers[i];
        const std::string_view name = string_of(member(person, "name"));
        const std::string_view role = string_of(member(person, "role"));
        fmt::format_to(std::back_inserter(out), "{}{}{}{}<br>",
                       name.empty() ? std::string() : line_html(name) + " &lt;",
                       display(member(person, "email")), name.empty() ? "" : "&gt;",
                       role.empty() ? std::string() : " (" + line_html(role) + ")");
      }
      if (maintainers.size() > kMaxListItems) {
        fmt::format_to(std::back_inserter(out), "{} more", maintainers.size() - kMaxListItems);
      }
      out += "</dd>\n";
    }
  }
  if (const json* broken = member(result, "last_broken"); fix && broken != nullptr) {
    fmt::format_to(std::back_inserter(out),
                   "<dt>Last broken</dt><dd><code id=\"last-broken-sha\">{}</code> {}</dd>\n",
                   display(member(broken, "sha")),
                   display(member(broken, "subject"), kSubjectChars));
  }
  fmt::format_to(std::back_inserter(out), "<dt>Confidence</dt><dd>{}</dd>\n",
                 percent(probability_of(member(result, "confidence"))));
  append_checks(out, report);
  append_estimate(
      out, "theta",
      fix ? "failure rate of a run on a broken commit" : "failure rate of a run on a bad commit",
      member(result, "theta"));
  append_estimate(
      out, "eps",
      fix ? "failure rate of a run on a fixed commit" : "failure rate of a run on a good commit",
      member(result, "eps"));
  out += "</dl>\n";

  const auto credible = elements(member(result, "credible_set"));
  if (!credible.empty()) {
    out +=
        "<h3>Credible set</h3><table id=\"credible-set\"><tr><th>commit</th><th>subject</th>"
        "<th class=\"n\">probability</th></tr>\n";
    for (size_t i = 0; i < credible.size() && i < kMaxCredibleRows; ++i) {
      fmt::format_to(std::back_inserter(out),
                     "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td></tr>\n",
                     short_sha(string_of(member(credible[i], "sha"))),
                     display(member(credible[i], "subject"), kSubjectChars),
                     percent(probability_of(member(credible[i], "probability"))));
    }
    out += "</table>\n";
    // The document lists at most 50 members (report.cc); credible_set_size counts all of them.
    const int64_t shown = static_cast<int64_t>(std::min(credible.size(), kMaxCredibleRows));
    const int64_t size = std::max(count_of(member(result, "credible_set_size")).value_or(0),
                                  static_cast<int64_t>(credible.size()));
    if (size > shown) {
      fmt::format_to(std::back_inserter(out), "<p class=\"muted\">{} more members not shown.</p>\n",
                     size - shown);
    }
  }
  out += "</section>\n";
}

void append_totals(std::string& out, const json* totals) {
  const auto ms = [&](const char* key) { return number_of(member(totals, key)); };
  const auto cached_builds = count_of(member(totals, "cached_builds"));
  const std::string cached =
      cached_builds.value_or(0) > 0
          ? fmt::format(" ({} from the artifact cache)", display_count(cached_builds))
          : "";
  // Booting guests and making scratch filesystems; absent from reports made before it was kept.
  const std::string setup =
      ms("setup_ms") ? "<dt>Boot and setup time</dt><dd>" + duration(ms("setup_ms")) + "</dd>" : "";
  fmt::format_to(std::back_inserter(out),
                 "<section id=\"totals\"><h2>Totals</h2><dl class=\"kv\">\n"
                 "<dt>Runs</dt><dd>{}</dd><dt>Builds</dt><dd>{}</dd><dt>Boots</dt><dd>{}</dd>\n"
                 "<dt>Wall time</dt><dd>{}</dd><dt>Build time</dt><dd>{}</dd>"
                 "{}<dt>Run time</dt><dd>{}</dd>\n</dl></section>\n",
                 display_count(count_of(member(totals, "runs"))),
                 display_count(count_of(member(totals, "builds"))) + cached,
                 display_count(count_of(member(totals, "boots"))), duration(ms("wall_ms")),
                 duration(ms("build_ms")), setup, duration(ms("run_ms")));
}

void append_commit_table(std::string& out, const std::vector<Commit>& commits) {
  std::vector<size_t> shown;
  for (size_t i = 0; i < commits.size(); ++i) {
    const Commit& commit = commits[i];
    if (commit.culprit || commit.runs.value_or(0) > 0 ||
        commit.probability.value_or(0) >= kTableMinProbability) {
      shown.push_back(i);
    }
  }
  size_t left_out = 0;
  if (shown.size() > kMaxTableCommits) {
    // Keep the culprit, then the most probable, then the most run; show them in candidate order.
    const auto rank = [&](size_t a, size_t b) {
      const Commit& x = commits[a];
      const Commit& y = commits[b];
      if (x.culprit != y.culprit) {
        return x.culprit;
      }
      if (x.probability.value_or(0) != y.probability.value_or(0)) {
        return x.probability.value_or(0) > y.probability.value_or(0);
      }
      return x.runs.value_or(0) > y.runs.value_or(0);
    };
    std::partial_sort(shown.begin(), shown.begin() + kMaxTableCommits, shown.end(), rank);
    left_out = shown.size() - kMaxTableCommits;
    shown.resize(kMaxTableCommits);
    std::sort(shown.begin(), shown.end());
  }
  out +=
      "<section id=\"commits\"><h2>Commits</h2>\n<p class=\"muted\">Candidates with runs or a "
      "posterior of at least 0.1%, in candidate order.</p>\n<table id=\"commit-table\"><tr>"
      "<th class=\"n\">#</th><th>commit</th><th>subject</th><th class=\"n\">posterior</th>"
      "<th class=\"n\">runs</th><th class=\"n\">pass</th><th class=\"n\">fail</th>"
      "<th class=\"n\">crash</th><th class=\"n\">hang</th><th class=\"n\">infra</th>"
      "<th class=\"n\">skip</th><th>build</th></tr>\n";
  for (const size_t i : shown) {
    const Commit& commit = commits[i];
    fmt::format_to(std::back_inserter(out),
                   "<tr{}><td class=\"n\">{}</td><td><code title=\"{}\">{}</code></td><td>{}</td>"
                   "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                   "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                   "<td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
                   commit.culprit ? " class=\"culprit\"" : "", commit.idx, line_html(commit.sha),
                   short_sha(commit.sha), subject_html(commit.subject), percent(commit.probability),
                   display_count(commit.runs), display_count(commit.passes),
                   display_count(commit.fails), display_count(commit.crashes),
                   display_count(commit.hangs), display_count(commit.infra),
                   display_count(commit.skips), build_text(commit.build));
  }
  out += "</table>\n";
  if (shown.empty()) {
    out += "<p class=\"muted\">No commit has runs or posterior mass: n/a.</p>\n";
  }
  if (left_out > 0) {
    fmt::format_to(std::back_inserter(out),
                   "<p class=\"muted\">{} less probable commits not shown.</p>\n", left_out);
  }
  out += "</section>\n";
}

void append_decisions(std::string& out, const json& report, const std::vector<Commit>& commits) {
  std::vector<Decision> decisions;
  for (const json* row : elements(member(&report, "decisions"))) {
    decisions.push_back({row, string_of(member(row, "sha")), string_of(member(row, "best_sha")),
                         probability_of(member(row, "max_probability"))});
  }
  out += "<section id=\"decisions\"><h2>Decision log</h2>\n";
  if (decisions.empty()) {
    out += "<p class=\"muted\">No decisions recorded: n/a.</p>\n</section>\n";
    return;
  }
  append_decision_chart(out, decisions);
  const auto subject_of = [&](std::string_view sha) -> std::string {
    for (const Commit& commit : commits) {
      if (!sha.empty() && commit.sha == sha) {
        return line_html(commit.subject, 80);
      }
    }
    return {};
  };
  const size_t first =
      decisions.size() > kMaxDecisionRows ? decisions.size() - kMaxDecisionRows : 0;
  if (first > 0) {
    fmt::format_to(std::back_inserter(out),
                   "<p class=\"muted\">The first {} decisions are left out of the table.</p>\n",
                   first);
  }
  out +=
      "<table id=\"decision-table\"><tr><th class=\"n\">#</th><th>at</th><th>tested commit</th>"
      "<th class=\"n\">runs</th><th class=\"n\">information (bits)</th><th class=\"n\">cost</th>"
      "<th class=\"n\">max posterior</th><th>most probable</th></tr>\n";
  for (size_t i = first; i < decisions.size(); ++i) {
    const Decision& decision = decisions[i];
    fmt::format_to(std::back_inserter(out),
                   "<tr><td class=\"n\">{}</td><td>{}</td><td><code>{}</code> {}</td>"
                   "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                   "<td class=\"n\">{}</td><td><code>{}</code></td></tr>\n",
                   i + 1, display(member(decision.row, "at")), short_sha(decision.sha),
                   subject_of(decision.sha), display(member(decision.row, "runs")),
                   display(member(decision.row, "information_bits")),
                   display(member(decision.row, "cost")), percent(decision.max_probability),
                   short_sha(decision.best_sha));
  }
  out += "</table>\n</section>\n";
}

void append_crashes(std::string& out, const json& report) {
  const auto crashes = elements(member(&report, "crashes"));
  // The report's "crashes" are every failure seen, a test's plain failure included, as the text
  // report's "Failures seen" are.
  out += "<section id=\"crashes\"><h2>Failures seen</h2>\n";
  if (crashes.empty()) {
    out += "<p class=\"muted\">No failures recorded.</p>\n";
  }
  for (size_t i = 0; i < crashes.size() && i < kMaxCrashes; ++i) {
    const json* crash = crashes[i];
    const std::string_view excerpt = string_of(member(crash, "console_excerpt"));
    fmt::format_to(std::back_inserter(out),
                   "<h3>{}</h3>\n<p class=\"muted\">{} times, first at <code>{}</code></p>\n"
                   "<pre>{}</pre>\n",
                   display(member(crash, "title")), display_count(count_of(member(crash, "count"))),
                   short_sha(string_of(member(crash, "first_sha"))),
                   excerpt.empty() ? std::string(kNa) : block_html(excerpt, kExcerptBytes));
  }
  if (crashes.size() > kMaxCrashes) {
    fmt::format_to(std::back_inserter(out), "<p class=\"muted\">{} more failures not shown.</p>\n",
                   crashes.size() - kMaxCrashes);
  }
  out += "</section>\n";
}

void append_bisection(std::string& out, const json& report) {
  const json* bisection = member(&report, "bisection");
  out += "<section id=\"bisection\"><h2>Bisection</h2><dl class=\"kv\">\n";
  for (const auto& [key, label] : {std::pair{"id", "Id"},
                                   {"state", "State"},
                                   {"repo", "Repository"},
                                   {"test_identity", "Test identity"},
                                   {"config_hash", "Config hash"},
                                   {"created_at", "Created"},
                                   {"updated_at", "Updated"}}) {
    fmt::format_to(std::back_inserter(out), "<dt>{}</dt><dd>{}</dd>\n", label,
                   display(member(bisection, key)));
  }
  // "<code>44a2e5043026</code> (linux-6.1.y) subject": the revision as typed, where it was kept.
  const auto commit_html = [](const json* commit) {
    std::string ref;
    if (commit != nullptr) {
      if (const json name = revision_name(*commit); !name.get<std::string>().empty()) {
        ref = "(" + display(&name, kSubjectChars) + ") ";
      }
    }
    return fmt::format("<code>{}</code> {}{}", short_sha(string_of(member(commit, "sha"))), ref,
                       display(member(commit, "subject"), kSubjectChars));
  };
  // A fix bisection's bad end is the older, broken one; its good end the newer, fixed one.
  const bool fix = fix_mode(report);
  fmt::format_to(std::back_inserter(out), "<dt>{}</dt><dd>{}</dd>\n", fix ? "Broken" : "Bad",
                 commit_html(member(bisection, "bad")));
  const auto good = elements(member(bisection, "good"));
  out += fix ? "<dt>Fixed</dt><dd>" : "<dt>Good</dt><dd>";
  if (good.empty()) {
    out += kNa;
  }
  for (size_t i = 0; i < good.size() && i < kMaxListItems; ++i) {
    fmt::format_to(std::back_inserter(out), "{}<br>", commit_html(good[i]));
  }
  if (good.size() > kMaxListItems) {
    fmt::format_to(std::back_inserter(out), "{} more", good.size() - kMaxListItems);
  }
  out += "</dd>\n</dl>\n";
  const std::string_view config = string_of(member(bisection, "config_text"));
  fmt::format_to(std::back_inserter(out),
                 "<details><summary>Configuration</summary><pre>{}</pre>"
                 "</details>\n",
                 config.empty() ? std::string(kNa) : block_html(config, kConfigBytes));
  const json* parameters = member(&report, "parameters");
  // The kernel's .config is its own block, not one long JSON string among the parameters.
  json shown = parameters == nullptr ? json() : *parameters;
  std::string kernel_config;
  if (shown.is_object() && shown.contains("kernel_config")) {
    if (shown["kernel_config"].is_string()) kernel_config = shown["kernel_config"];
    shown.erase("kernel_config");
  }
  fmt::format_to(
      std::back_inserter(out), "<details><summary>Parameters</summary><pre>{}</pre></details>\n",
      parameters == nullptr
          ? std::string(kNa)
          : block_html(shown.dump(2, ' ', false, json::error_handler_t::replace), kConfigBytes));
  if (!kernel_config.empty()) {
    fmt::format_to(std::back_inserter(out),
                   "<details><summary>Kernel .config</summary><pre>{}</pre></details>\n",
                   block_html(kernel_config, kMaxKernelConfigBytes));
  }
  out += "</section>\n";
}

}  // namespace

std::string render_html(const nlohmann::json& report) {
  const json* result = member(&report, "result");
  const json* bisection = member(&report, "bisection");
  const std::string_view status = string_of(member(result, "status"));
  const std::string_view culprit_sha = string_of(member(member(result, "culprit"), "sha"));
  std::unordered_set<std::string> credible;
  for (const json* row : elements(member(result, "credible_set"))) {
    const std::string_view sha = string_of(member(row, "sha"));
    if (!sha.empty()) {
      credible.emplace(sha);
    }
  }
  const std::vector<Commit> commits = read_commits(report, culprit_sha, credible);

  std::string out;
  out.reserve(size_t{64} << 10);
  // The CSP forbids scripts and every load (a favicon request included): the page is inert even if
  // something slipped through escaping.
  fmt::format_to(std::back_inserter(out),
                 "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                 "style-src 'unsafe-inline'; img-src data:\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<link rel=\"icon\" href=\"data:,\">\n"
                 "<title>flakebisect: {} ({})</title>\n<style>{}</style>\n</head>\n<body>\n",
                 status_headline(status, fix_mode(report)), display(member(bisection, "repo"), 100),
                 kStyle);

  const json* schema = member(&report, "schema");
  const auto version = number_of(member(&report, "version"));
  if (string_of(schema) != "flakebisect-report" || !version || *version != 1) {
    fmt::format_to(std::back_inserter(out),
                   "<p class=\"warn\">This page renders schema flakebisect-report version 1; the "
                   "report says schema {} version {}. Parts may be missing.</p>\n",
                   display(schema), display(member(&report, "version")));
  }

  const json* culprit = member(result, "culprit");
  const bool fix = fix_mode(report);
  fmt::format_to(std::back_inserter(out),
                 "<header class=\"{}\"><h1>flakebisect: {}</h1>\n<p>{} <code>{}</code> {}"
                 " &middot; confidence {}</p>\n<p class=\"muted\">{} &middot; {} <code>{}</code>"
                 " &middot; bisection {}</p></header>\n",
                 status_class(status), status_headline(status, fix), fix ? "Fix" : "Culprit",
                 short_sha(string_of(member(culprit, "sha"))),
                 display(member(culprit, "subject"), kSubjectChars),
                 percent(probability_of(member(result, "confidence"))),
                 display(member(bisection, "repo")), fix ? "broken" : "bad",
                 short_sha(string_of(member(member(bisection, "bad"), "sha"))),
                 display(member(bisection, "id")));

  append_summary(out, report, result);
  out += "<section id=\"plot\"><h2>Posterior and runs</h2>\n";
  append_commit_plot(out, commits, fix_mode(report) ? "fix" : "culprit");
  out += "</section>\n";
  append_totals(out, member(&report, "totals"));
  append_commit_table(out, commits);
  append_decisions(out, report, commits);
  append_crashes(out, report);
  append_bisection(out, report);

  const json* tool = member(&report, "tool");
  fmt::format_to(std::back_inserter(out),
                 "<footer>Generated by {} {}.</footer>\n</body>\n</html>\n",
                 display(member(tool, "name")), display(member(tool, "version")));
  return out;
}

}  // namespace flakebisect::report
