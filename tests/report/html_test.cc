#include "report/html.h"

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace flakebisect::report {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

size_t occurrences(std::string_view haystack, std::string_view needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// The text between the first `begin` and the next `end` after it ("" if either is missing).
std::string_view between(std::string_view text, std::string_view begin, std::string_view end) {
  const size_t from = text.find(begin);
  if (from == std::string_view::npos) {
    return {};
  }
  const size_t to = text.find(end, from + begin.size());
  if (to == std::string_view::npos) {
    return {};
  }
  return text.substr(from, to - from);
}

// 40 hex digits whose first 12 differ between commits.
std::string sha_of(size_t i) {
  const auto h = static_cast<uint32_t>((i + 1) * 2654435761U);
  return fmt::format("{0:08x}{0:08x}{0:08x}{0:08x}{0:08x}", h);
}

json commit_row(size_t i, double probability, int passes, int fails) {
  return {{"idx", i},
          {"sha", sha_of(i)},
          {"subject", fmt::format("subsys: change number {}", i)},
          {"probability", probability},
          {"runs", passes + fails},
          {"passes", passes},
          {"fails", fails},
          {"crashes", 0},
          {"hangs", 0},
          {"infra", 0},
          {"skips", 0},
          {"build", passes + fails > 0 ? json("ok") : json(nullptr)}};
}

// A finished bisection over `count` candidates whose culprit is commit `culprit` (97% of the
// mass, 2% on its parent, the rest spread); every fourth commit, the culprit and its parent ran.
json sample_report(size_t count = 20, size_t culprit = 12) {
  json report = {{"schema", "flakebisect-report"},
                 {"version", 1},
                 {"tool", {{"name", "flakebisect"}, {"version", "0.1.0"}}}};
  report["bisection"] = {
      {"id", 7},
      {"state", "found"},
      {"repo", "/src/linux"},
      {"bad", {{"sha", sha_of(count - 1)}, {"subject", "Merge tag 'for-linus'"}}},
      {"good", json::array({{{"sha", "c0ffee0000000000000000000000000000000000"},
                             {"subject", "Linux 6.1"}}})},
      {"created_at", "2024-05-01T10:00:00Z"},
      {"updated_at", "2024-05-01T14:30:00Z"},
      {"config_hash", "9f86d081"},
      {"test_identity", "generic/418"},
      {"config_text", "[test]\ncommand = [\"./repro\"]\n"}};
  report["parameters"] = {{"confidence", 0.99}, {"prior", nullptr}};
  json commits = json::array();
  for (size_t i = 0; i < count; ++i) {
    double probability = 0.01 / static_cast<double>(count - 2);
    if (i == culprit) {
      probability = 0.97;
    }
    if (i + 1 == culprit) {
      probability = 0.02;
    }
    const bool ran = i % 4 == 0 || i == culprit || i + 1 == culprit;
    const bool bad = i >= culprit;
    commits.push_back(commit_row(i, probability, ran ? (bad ? 7 : 10) : 0, ran && bad ? 3 : 0));
  }
  report["commits"] = commits;
  report["result"] = {
      {"status", "found"},
      {"reason", nullptr},
      {"culprit",
       {{"sha", sha_of(culprit)},
        {"subject", fmt::format("subsys: change number {}", culprit)},
        {"author", {{"name", "Ann Author"}, {"email", "ann@example.org"}}},
        {"date", "2024-04-30T09:00:00+02:00"},
        {"trailers",
         json::array({{{"key", "Signed-off-by"}, {"value", "Ann <ann@example.org>"}}})}}},
      {"confidence", 0.97},
      {"credible_set",
       json::array(
           {{{"sha", sha_of(culprit)}, {"subject", "subsys: culprit"}, {"probability", 0.97}},
            {{"sha", sha_of(culprit - 1)}, {"subject", "subsys: parent"}, {"probability", 0.02}}})},
      {"theta", {{"mean", 0.31}, {"low", 0.18}, {"high", 0.46}}},
      {"eps", {{"mean", 0.001}, {"low", 0.0}, {"high", 0.005}}}};
  json decisions = json::array();
  const double max_probability[] = {0.05, 0.2, 0.45, 0.7, 0.9, 0.97};
  for (size_t d = 0; d < 6; ++d) {
    decisions.push_back({{"at", fmt::format("2024-05-01T1{}:00:00Z", d)},
                         {"sha", sha_of(d * 3 % count)},
                         {"runs", 4},
                         {"information_bits", 0.8},
                         {"cost", 1.5},
                         {"max_probability", max_probability[d]},
                         {"best_sha", sha_of(culprit)}});
  }
  report["decisions"] = decisions;
  report["totals"] = {{"runs", 90},         {"builds", 8},         {"boots", 90},
                      {"wall_ms", 5400000}, {"build_ms", 3000000}, {"run_ms", 2400000}};
  report["crashes"] =
      json::array({{{"title", "BUG: kernel NULL pointer dereference, address: 0000000000000008"},
                    {"count", 3},
                    {"first_sha", sha_of(culprit)},
                    {"console_excerpt",
                     "[   12.5] BUG: kernel NULL pointer dereference\n[   12.5] <IRQ>\n"
                     "[   12.5] Call Trace:\n"}}});
  return report;
}

TEST(RenderHtml, IsOneSelfContainedDocument) {
  const std::string html = render_html(sample_report());
  EXPECT_THAT(html, StartsWith("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("<meta charset=\"utf-8\">"));
  EXPECT_THAT(html, HasSubstr("</html>\n"));
  // Nothing to load and nothing to run: no scripts, no external references (the SVG namespace
  // is a name, not a load), a CSP that forbids them anyway.
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr(" src=")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_THAT(html, Not(HasSubstr("@import")));
  EXPECT_EQ(occurrences(html, "http://") + occurrences(html, "https://"),
            occurrences(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_EQ(occurrences(html, "<link"), 1U);
  EXPECT_THAT(html, HasSubstr("<link rel=\"icon\" href=\"data:,\">"));
  EXPECT_THAT(html, HasSubstr("content=\"default-src 'none'; style-src 'unsafe-inline'"));
}

// The report's crashes are every failure seen, a test's "fail: exit 1" too, as in the text report.
TEST(RenderHtml, FailuresSeenAreHeadedAsFailuresNotCrashes) {
  json report = sample_report();
  report["crashes"][0]["title"] = "fail: exit 1";
  const std::string html = render_html(report);
  EXPECT_THAT(html, HasSubstr("<h2>Failures seen</h2>"));
  EXPECT_THAT(html, Not(HasSubstr("<h2>Crashes</h2>")));
  report["crashes"] = json::array();
  EXPECT_THAT(render_html(report), HasSubstr("No failures recorded."));
}

TEST(RenderHtml, TheKernelConfigIsABlockOfItsOwnNotAParameterString) {
  json report = sample_report();
  report["parameters"]["kernel_config"] = "CONFIG_EXT4_FS=y\nCONFIG_EXT4_DEBUG=y\n";
  const std::string html = render_html(report);
  EXPECT_THAT(html, HasSubstr("<summary>Kernel .config</summary><pre>CONFIG_EXT4_FS=y\n"));
  EXPECT_THAT(html, Not(HasSubstr("kernel_config\"")));
}

TEST(RenderHtml, TheMaintainersGetMaintainerPlNamesAreListedEscaped) {
  json report = sample_report();
  EXPECT_THAT(render_html(report), Not(HasSubstr("<dt>Maintainers</dt>")));
  report["result"]["culprit"]["maintainers"] = json::array(
      {{{"name", "A <b>Maintainer"}, {"email", "m@example.org"}, {"role", "maintainer:X & Y"}},
       {{"name", ""}, {"email", "list@example.org"}, {"role", "open list:X & Y"}}});
  EXPECT_THAT(render_html(report),
              HasSubstr("<dt>Maintainers</dt><dd id=\"maintainers\">A &lt;b&gt;Maintainer "
                        "&lt;m@example.org&gt; (maintainer:X &amp; Y)<br>list@example.org (open "
                        "list:X &amp; Y)<br></dd>"));
}

TEST(RenderHtml, HeaderShowsStatusCulpritConfidenceAndEstimates) {
  const std::string html = render_html(sample_report());
  EXPECT_THAT(html, HasSubstr("<header class=\"found\"><h1>flakebisect: regression found</h1>"));
  EXPECT_THAT(html, HasSubstr("<code id=\"culprit-sha\">" + sha_of(12) + "</code>"));
  EXPECT_THAT(html, HasSubstr("subsys: change number 12"));
  EXPECT_THAT(html, HasSubstr("Ann Author &lt;ann@example.org&gt;"));
  EXPECT_THAT(html, HasSubstr("Signed-off-by: Ann &lt;ann@example.org&gt;"));
  EXPECT_THAT(html, HasSubstr("<dt>Confidence</dt><dd>97.00%</dd>"));
  EXPECT_THAT(html,
              HasSubstr("<dt>theta</dt><dd>0.31 <span class=\"muted\">(interval 0.18 to 0.46"));
  EXPECT_THAT(html, HasSubstr("<dt>eps</dt><dd>0.001 "));
  EXPECT_THAT(html, HasSubstr("<dt>Wall time</dt><dd>1h 30m 00s</dd>"));
}

TEST(RenderHtml, StatusesOtherThanFoundGetTheirOwnHeadline) {
  json report = sample_report();
  report["result"]["status"] = "not_reproduced";
  report["result"]["culprit"] = nullptr;
  report["result"]["reason"] = "the bad commit passed 200 runs";
  std::string html = render_html(report);
  EXPECT_THAT(html, HasSubstr("<header class=\"not-reproduced\"><h1>flakebisect: regression not "
                              "reproduced</h1>"));
  EXPECT_THAT(html, HasSubstr("<dt>Reason</dt><dd>the bad commit passed 200 runs</dd>"));
  EXPECT_THAT(html, HasSubstr("<dt>Culprit</dt><dd>n/a</dd>"));
  report["bisection"]["mode"] = "fix";  // no regression was looked for
  EXPECT_THAT(render_html(report), HasSubstr("<h1>flakebisect: failure not reproduced</h1>"));
  report["bisection"]["mode"] = "regression";
  // An unknown status is shown as text, but never reaches the class attribute.
  report["result"]["status"] = "\"><b>odd";
  html = render_html(report);
  EXPECT_THAT(html,
              HasSubstr("<header class=\"other\"><h1>flakebisect: &quot;&gt;&lt;b&gt;odd</h1>"));
}

TEST(RenderHtml, ACredibleSetLargerThanTheDocumentListsSaysHowManyAreNotShown) {
  json report = sample_report();
  json set = json::array();
  for (size_t i = 0; i < 50; ++i) {
    set.push_back({{"sha", sha_of(i)}, {"subject", "subsys: member"}, {"probability", 0.01}});
  }
  report["result"]["credible_set"] = set;  // report.cc lists at most 50 members
  report["result"]["credible_set_size"] = 120;
  std::string html = render_html(report);
  EXPECT_EQ(occurrences(between(html, "<table id=\"credible-set\">", "</table>"), "<tr><td>"), 50U);
  EXPECT_THAT(html, HasSubstr("<p class=\"muted\">70 more members not shown.</p>"));

  report["result"]["credible_set_size"] = 50;
  html = render_html(report);
  EXPECT_THAT(html, Not(HasSubstr("more members not shown")));
}

TEST(RenderHtml, SubjectsAreEscapedEverywhere) {
  json report = sample_report();
  const std::string hostile = "<script>alert(\"x\")</script> & 'q' </title></svg>";
  report["commits"][12]["subject"] = hostile;
  report["result"]["culprit"]["subject"] = hostile;
  report["result"]["culprit"]["author"]["name"] = "<b>Mallory</b>";
  report["crashes"][0]["title"] = "<img src=x>";
  report["bisection"]["repo"] = "</title><script>";
  const std::string html = render_html(report);
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<b>Mallory")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; "
                              "&lt;/title&gt;&lt;/svg&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;Mallory&lt;/b&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;img src=x&gt;"));
  // The escaped subject is in the table, the header and the culprit's tooltip, and the markup
  // around it is intact.
  EXPECT_EQ(occurrences(html, "<svg"), occurrences(html, "</svg>"));
  EXPECT_EQ(occurrences(html, "<title>"), occurrences(html, "</title>"));
}

TEST(RenderHtml, UnicodeIsKeptWhileInvalidUtf8EscapesAndControlCharactersAreCleaned) {
  json report = sample_report();
  // json::parse would reject invalid UTF-8, but a report built in memory can carry it.
  report["commits"][12]["subject"] =
      "ext4: na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC fix\x01\x1B[31m \xFF\xC0\xAF end";
  report["result"]["culprit"]["subject"] = "line one\nline two";
  report["crashes"][0]["console_excerpt"] = "\x1B[0;32m  OK  \x1B[0m line\r\nnext\x07 line\xFF";
  const std::string html = render_html(report);
  // Text from one_line(): the escape sequence dropped, controls as one space, bad bytes U+FFFD.
  EXPECT_THAT(html, HasSubstr("ext4: na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC fix "
                              "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end"));
  EXPECT_THAT(html,
              HasSubstr("<code id=\"culprit-sha\">" + sha_of(12) + "</code> line one line two"));
  // A console block keeps its lines but loses colours and bells.
  EXPECT_THAT(html, HasSubstr("<pre>  OK   line\nnext? line\xEF\xBF\xBD</pre>"));
  EXPECT_THAT(html, Not(HasSubstr("[31m")));
  for (const char bad : {'\x01', '\x07', '\x1B', '\r', '\xFF'}) {
    EXPECT_EQ(html.find(bad), std::string::npos) << static_cast<int>(bad);
  }
}

TEST(RenderHtml, HugeStringsAreTruncated) {
  json report = sample_report();
  const std::string huge(1 << 20, 'a');
  report["commits"][12]["subject"] = huge;
  report["result"]["culprit"]["subject"] = huge;
  report["result"]["reason"] = huge;
  report["crashes"][0]["console_excerpt"] = huge;
  report["bisection"]["config_text"] = std::string(1 << 20, '\n') + huge;
  const std::string html = render_html(report);
  EXPECT_LT(html.size(), 300U * 1024);
  EXPECT_THAT(html, HasSubstr("<td>" + std::string(197, 'a') + "...</td>"));
  // A console line is cut at 500 columns, a reason at 2000, and of the config only what fits in
  // its 50000 bytes (here: blank lines) is kept.
  EXPECT_THAT(html, HasSubstr("<pre>" + std::string(497, 'a') + "...</pre>"));
  EXPECT_THAT(html, HasSubstr("<dt>Reason</dt><dd>" + std::string(1997, 'a') + "...</dd>"));
  EXPECT_THAT(html, HasSubstr("<summary>Configuration</summary><pre>...</pre>"));
}

TEST(RenderHtml, TruncationNeverSplitsACharacter) {
  json report = sample_report();
  std::string subject;
  for (int i = 0; i < 300; ++i) {
    subject += "\xE2\x82\xAC";  // euro signs
  }
  report["commits"][12]["subject"] = subject;
  const std::string html = render_html(report);
  std::string expected;
  for (int i = 0; i < 197; ++i) {
    expected += "\xE2\x82\xAC";
  }
  EXPECT_THAT(html, HasSubstr("<td>" + expected + "...</td>"));
}

TEST(RenderHtml, MissingNullAndMistypedFieldsRenderAsNa) {
  for (const json& report :
       {json::object(), json(nullptr), json::array({1, 2}), json("report"),
        json{{"result", nullptr}, {"commits", nullptr}, {"decisions", nullptr}},
        json{{"result", "found"}, {"commits", "many"}, {"bisection", 3}, {"totals", "x"}},
        json{{"commits", json::array({nullptr, 1, "x", json::object(), json::array()})},
             {"decisions", json::array({nullptr, json::object()})},
             {"crashes", json::array({nullptr, json::object()})},
             {"result",
              {{"status", 3},
               {"culprit", {{"sha", 5}, {"author", "nobody"}, {"trailers", "none"}}},
               {"confidence", "high"},
               {"credible_set", json::array({nullptr})},
               {"theta", {{"mean", "x"}}},
               {"eps", nullptr}}}}}) {
    std::string html;
    ASSERT_NO_THROW(html = render_html(report)) << report.dump();
    EXPECT_THAT(html, StartsWith("<!DOCTYPE html>"));
    EXPECT_THAT(html, HasSubstr("</html>\n"));
    EXPECT_THAT(html, HasSubstr("n/a"));
  }
  const std::string empty = render_html(json::object());
  EXPECT_THAT(empty, HasSubstr("<dt>Confidence</dt><dd>n/a</dd>"));
  EXPECT_THAT(empty, HasSubstr("<dt>theta</dt><dd>n/a"));
  EXPECT_THAT(empty, HasSubstr("<dt>Culprit</dt><dd>n/a</dd>"));
  EXPECT_THAT(empty, HasSubstr("<dt>Runs</dt><dd>n/a</dd>"));
  EXPECT_THAT(empty, HasSubstr("plot n/a"));
  EXPECT_THAT(empty, HasSubstr("class=\"warn\""));  // no schema, no version
}

TEST(RenderHtml, NullCountsInACommitRowRenderAsNa) {
  json report = sample_report();
  report["commits"][12]["passes"] = nullptr;
  report["commits"][12]["hangs"] = "two";
  report["commits"][12]["probability"] = nullptr;
  report["commits"][12].erase("build");
  const std::string html = render_html(report);
  const std::string_view row = between(html, "<code title=\"" + sha_of(12) + "\">", "</tr>");
  ASSERT_FALSE(row.empty());
  EXPECT_EQ(occurrences(row, "<td class=\"n\">n/a</td>"), 3U);  // posterior, pass, hang
  EXPECT_THAT(row, HasSubstr("<td>n/a</td>"));                  // build
}

TEST(RenderHtml, WrongSchemaVersionShowsAWarningButStillRenders) {
  json report = sample_report();
  report["version"] = 2;
  const std::string html = render_html(report);
  EXPECT_THAT(html, HasSubstr("class=\"warn\""));
  EXPECT_THAT(html, HasSubstr("version 2"));
  EXPECT_THAT(html, HasSubstr("id=\"commit-plot\""));
  EXPECT_THAT(render_html(sample_report()), Not(HasSubstr("class=\"warn\"")));
}

TEST(RenderHtml, PlotHasOneColumnPerCommitWithTheCulpritHighlighted) {
  const std::string html = render_html(sample_report(20, 12));
  const std::string_view plot = between(html, "<svg class=\"plot\" id=\"commit-plot\"", "</svg>");
  ASSERT_FALSE(plot.empty());
  EXPECT_EQ(occurrences(plot, "<rect class=\"hit\""), 20U);
  EXPECT_EQ(occurrences(plot, "<title>"), 20U);
  EXPECT_EQ(occurrences(plot, "</rect>"), 20U);
  // Posterior bars: one per commit with mass; the culprit red, the rest of the credible set
  // orange.
  EXPECT_EQ(occurrences(plot, "<rect class=\"pk\""), 1U);
  EXPECT_EQ(occurrences(plot, "<rect class=\"pc\""), 1U);
  EXPECT_EQ(occurrences(plot, "<rect class=\"p\""), 18U);
  // Runs: passes on the 6 commits that ran (0, 4, 8, 11, 12, 16), fails on 12 and 16.
  EXPECT_EQ(occurrences(plot, "<rect class=\"rp\""), 6U);
  EXPECT_EQ(occurrences(plot, "<rect class=\"rf\""), 2U);
  EXPECT_THAT(plot, HasSubstr("culprit " + sha_of(12).substr(0, 12) + "</text>"));
  EXPECT_THAT(plot, HasSubstr("<title>#12 " + sha_of(12).substr(0, 12) +
                              " subsys: change number 12\nposterior 97.00%\nruns 10: 7 pass, 3 "
                              "fail, 0 crash, 0 hang, 0 other\nbuild ok\nculprit</title>"));
  EXPECT_THAT(plot, HasSubstr("candidate commits, oldest to newest (20)"));
}

TEST(RenderHtml, ThousandsOfCommitsShareBarsAndStayUnderTwoMegabytes) {
  const std::string html = render_html(sample_report(5000, 4321));
  EXPECT_LT(html.size(), 2U << 20);
  const std::string_view plot = between(html, "<svg class=\"plot\" id=\"commit-plot\"", "</svg>");
  // 5000 commits at 13 per bar (the fewest that fit kMaxPlotBars): 385 bars.
  EXPECT_EQ(occurrences(plot, "<rect class=\"hit\""), 385U);
  EXPECT_LE(385U, kMaxPlotBars);
  EXPECT_THAT(plot, HasSubstr("mass per bar of 13 commits"));
  EXPECT_EQ(occurrences(plot, "<rect class=\"pk\""), 1U);
  EXPECT_THAT(plot, HasSubstr("(13 commits)"));
  EXPECT_THAT(plot, HasSubstr("culprit " + sha_of(4321).substr(0, 12)));
  // Commits that ran (every fourth) are in the table; the others hold < 0.1% each and are not.
  // 1251 commits qualify (every fourth ran, and the culprit): the 1000 most probable are listed.
  const std::string_view table = between(html, "<table id=\"commit-table\">", "</table>");
  EXPECT_EQ(occurrences(table, "<tr"), 1U + 1000);
  EXPECT_THAT(table, HasSubstr("<tr class=\"culprit\"><td class=\"n\">4321</td>"));
  EXPECT_THAT(html, HasSubstr("251 less probable commits not shown"));
}

TEST(RenderHtml, CommitTableListsCommitsWithRunsOrMassAndTheCulprit) {
  json report = sample_report(20, 12);
  report["commits"][5]["probability"] = 0.002;   // no runs, but mass: listed
  report["commits"][6]["probability"] = 0.0005;  // neither: not listed
  report["commits"][12]["runs"] = 0;             // the culprit is listed anyway
  report["commits"][12]["probability"] = 0.0;
  report["commits"][4]["probability"] = 0.00001;  // ran: listed, with a tiny but non-zero mass
  const std::string html = render_html(report);
  const std::string_view table = between(html, "<table id=\"commit-table\">", "</table>");
  EXPECT_THAT(table, HasSubstr("title=\"" + sha_of(5) + "\""));
  EXPECT_THAT(table, Not(HasSubstr("title=\"" + sha_of(6) + "\"")));
  EXPECT_THAT(table, HasSubstr("<tr class=\"culprit\"><td class=\"n\">12</td>"));
  EXPECT_THAT(table, HasSubstr("<td class=\"n\">&lt;0.01%</td>"));
}

TEST(RenderHtml, DecisionLogHasALineChartAndATable) {
  const std::string html = render_html(sample_report());
  const std::string_view chart = between(html, "id=\"decision-chart\"", "</svg>");
  ASSERT_FALSE(chart.empty());
  const std::string_view points = between(chart, "<polyline class=\"line\" points=\"", "/>");
  EXPECT_EQ(occurrences(points, ","), 6U);
  EXPECT_EQ(occurrences(chart, "<circle"), 6U);
  EXPECT_THAT(chart, HasSubstr("<title>decision 6: tested "));
  const std::string_view table = between(html, "<table id=\"decision-table\">", "</table>");
  EXPECT_EQ(occurrences(table, "<tr>"), 7U);
  EXPECT_THAT(table, HasSubstr("<td class=\"n\">97.00%</td>"));
}

TEST(RenderHtml, LongDecisionLogsAreThinned) {
  json report = sample_report();
  json decisions = json::array();
  for (int d = 0; d < 3000; ++d) {
    decisions.push_back({{"sha", sha_of(d % 20)}, {"max_probability", d / 3000.0}});
  }
  report["decisions"] = decisions;
  const std::string html = render_html(report);
  const std::string_view chart = between(html, "id=\"decision-chart\"", "</svg>");
  EXPECT_EQ(occurrences(chart, "<circle"), 0U);
  EXPECT_LE(occurrences(between(chart, "points=\"", "/>"), ","), 501U);
  const std::string_view table = between(html, "<table id=\"decision-table\">", "</table>");
  EXPECT_EQ(occurrences(table, "<tr>"), 501U);
  EXPECT_THAT(html, HasSubstr("The first 2500 decisions are left out"));
}

TEST(RenderHtml, CrashesShowTheirConsoleExcerptsInPre) {
  const std::string html = render_html(sample_report());
  EXPECT_THAT(html, HasSubstr("<h3>BUG: kernel NULL pointer dereference, address: "
                              "0000000000000008</h3>"));
  EXPECT_THAT(html, HasSubstr("3 times, first at <code>" + sha_of(12).substr(0, 12)));
  EXPECT_THAT(html, HasSubstr("<pre>[   12.5] BUG: kernel NULL pointer dereference\n"
                              "[   12.5] &lt;IRQ&gt;\n"));
}

// result.checks.revert as build_report writes it: the culprit reverted on the bad commit.
json revert_check(const std::string& status) {
  return {{"status", status},
          {"reverted", sha_of(12)},
          {"onto", sha_of(19)},
          {"commit", status == "conflict" ? json(nullptr) : json(sha_of(40))},
          {"runs", status == "pass" ? 24 : 0},
          {"fails", 0},
          {"probability_fixed", status == "pass" ? json(0.9961) : json(nullptr)},
          {"conflicts", status == "conflict" ? json{"fs/iomap/direct-io.c"} : json::array()},
          {"conflict_count", status == "conflict" ? 1 : 0},
          {"detail", "the engine's own sentence"}};
}

TEST(RenderHtml, TheRevertCheckIsARowOfTheResult) {
  json report = sample_report();
  report["result"]["checks"] = {{"revert", revert_check("pass")}};
  std::string html = render_html(report);
  const std::string_view result = between(html, "<section id=\"result\">", "</section>");
  EXPECT_THAT(std::string(result),
              HasSubstr("<dt>Confidence</dt><dd>97.00%</dd>\n"
                        "<dt>Revert check</dt><dd id=\"revert-check\"><strong>PASS</strong> 0 of "
                        "24 runs failed with " +
                        sha_of(12).substr(0, 12) + " reverted on " + sha_of(19).substr(0, 12) +
                        "; P(fixed) = 0.9961 &middot; revert commit <code title=\"" + sha_of(40) +
                        "\">" + sha_of(40).substr(0, 12) + "</code></dd>\n"));
  // The words above are the engine's sentence for a verdict: it is not repeated.
  EXPECT_THAT(html, Not(HasSubstr("the engine&#39;s own sentence")));
  // Unless it notes runs that neither passed nor failed, which the words do not count.
  json noted = revert_check("pass");
  noted["detail"] = "0 of 24 runs failed; 3 more neither passed nor failed";
  report["result"]["checks"] = {{"revert", noted}};
  EXPECT_THAT(render_html(report),
              HasSubstr("<span class=\"muted\">0 of 24 runs failed; 3 more neither passed nor "
                        "failed</span>"));

  report["result"]["checks"] = {{"revert", revert_check("conflict")}};
  html = render_html(report);
  EXPECT_THAT(html, HasSubstr("<dd id=\"revert-check\"><strong>CONFLICT</strong> " +
                              sha_of(12).substr(0, 12) + " does not revert cleanly on " +
                              sha_of(19).substr(0, 12) +
                              ": conflicts in fs/iomap/direct-io.c<br><span class=\"muted\">"));
  EXPECT_THAT(html, Not(HasSubstr("revert commit")));
}

TEST(RenderHtml, WithoutACheckThePageIsAsBefore) {
  const std::string plain = render_html(sample_report());
  EXPECT_THAT(plain, Not(HasSubstr("Revert check")));
  json report = sample_report();
  for (const json& checks : {json(nullptr), json{{"revert", nullptr}},
                             json{{"revert", {{"status", "unknown"}}}}, json("x")}) {
    report["result"]["checks"] = checks;
    EXPECT_EQ(render_html(report), plain) << checks;
  }
}

TEST(RenderHtml, ARevertCheckIsEscapedAndBounded) {
  json report = sample_report();
  json check = revert_check("conflict");
  check["conflicts"] = {"<script>alert(1)</script>", std::string(100000, 'p'), 5};
  check["detail"] = "<img src=x onerror=alert(1)> \x1b[2J" + std::string(100000, 'd');
  check["commit"] = "\"><script>";
  check["reverted"] = "<b>";
  report["result"]["checks"] = {{"revert", check}};
  std::string html;
  ASSERT_NO_THROW(html = render_html(report));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_THAT(html, Not(HasSubstr("\x1b")));
  EXPECT_THAT(html, HasSubstr("<strong>CONFLICT</strong> the first bad commit does not revert "
                              "cleanly on"));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;img src=x onerror=alert(1)&gt;"));
  const std::string_view row = between(html, "<dt>Revert check</dt>", "</dd>");
  EXPECT_LT(row.size(), 2000U);
  for (const json& garbage : {json{{"revert", {{"status", "pass"}, {"commit", 5}, {"detail", 3}}}},
                              json{{"revert", {1}}}, json(7)}) {
    report["result"]["checks"] = garbage;
    EXPECT_NO_THROW((void)render_html(report)) << garbage;
  }
}

// result.checks.verify as build_report writes it: the culprit's parent (sha_of(41)), outside the
// range.
json verify_check(const std::string& status) {
  return {{"status", status},
          {"culprit", sha_of(12)},
          {"commit", sha_of(41)},
          {"runs", status == "build_failed" ? 0 : 21},
          {"fails", status == "fail" ? 3 : 0},
          {"own_runs", status == "build_failed" ? 0 : 21},
          {"probability_good", status == "pass"           ? json(0.9961)
                               : status == "fail"         ? json(0.00002)
                               : status == "inconclusive" ? json(0.5)
                                                          : json(nullptr)},
          {"detail", "the engine's own sentence"},
          {"outcomes", nullptr}};
}

TEST(RenderHtml, TheVerifyCheckIsARowAfterTheRevertCheck) {
  json report = sample_report();
  report["result"]["checks"] = {{"revert", revert_check("pass")}, {"verify", verify_check("pass")}};
  std::string html = render_html(report);
  const std::string parent12 = sha_of(41).substr(0, 12);
  const std::string_view result = between(html, "<section id=\"result\">", "</section>");
  EXPECT_THAT(std::string(result),
              HasSubstr("</code></dd>\n"
                        "<dt>Verify check</dt><dd id=\"verify-check\"><strong>PASS</strong> 0 of "
                        "21 runs failed at " +
                        parent12 +
                        ", the culprit&#39;s parent, outside the range; P(good) = 0.9961 &middot; "
                        "parent <code title=\"" +
                        sha_of(41) + "\">" + parent12 + "</code></dd>\n<dt>theta</dt>"));
  EXPECT_LT(html.find("id=\"revert-check\""), html.find("id=\"verify-check\""));
  EXPECT_THAT(html, Not(HasSubstr("the engine&#39;s own sentence")));

  // A fail: the words say what it means; the detail is not repeated.
  report["result"]["checks"] = {{"revert", nullptr}, {"verify", verify_check("fail")}};
  html = render_html(report);
  EXPECT_THAT(html, HasSubstr("<dt>Confidence</dt><dd>97.00%</dd>\n<dt>Verify check</dt>"
                              "<dd id=\"verify-check\"><strong>FAIL</strong> 3 of 21 runs failed "
                              "at " +
                              parent12 +
                              ", the culprit&#39;s parent, outside the range: the regression is "
                              "at or before it; P(good) &lt; 0.0001 &middot; parent <code"));
  EXPECT_THAT(html, Not(HasSubstr("the engine&#39;s own sentence")));
  EXPECT_THAT(html, Not(HasSubstr("Revert check")));

  // Inconclusive and a failed build: the engine's sentence says why.
  report["result"]["checks"] = {{"revert", nullptr}, {"verify", verify_check("inconclusive")}};
  html = render_html(report);
  EXPECT_THAT(html, HasSubstr("<strong>INCONCLUSIVE</strong> 0 of 21 runs failed at " + parent12 +
                              ", the culprit&#39;s parent, outside the range; P(good) = 0.5000 "
                              "&middot; parent <code title=\"" +
                              sha_of(41) + "\">" + parent12 +
                              "</code><br><span class=\"muted\">the engine&#39;s own "
                              "sentence</span></dd>\n"));
  report["result"]["checks"] = {{"revert", nullptr}, {"verify", verify_check("build_failed")}};
  html = render_html(report);
  EXPECT_THAT(html, HasSubstr("<strong>BUILD FAILED</strong> " + parent12 +
                              ", the culprit&#39;s parent, does not build &middot; parent <code "
                              "title=\"" +
                              sha_of(41) + "\">" + parent12 +
                              "</code><br><span class=\"muted\">the engine&#39;s own "
                              "sentence</span></dd>\n"));
}

TEST(RenderHtml, WithoutAVerifyCheckThePageIsAsBefore) {
  json report = sample_report();
  report["result"]["checks"] = {{"revert", revert_check("pass")}};
  const std::string with_revert = render_html(report);
  EXPECT_THAT(with_revert, Not(HasSubstr("Verify check")));
  for (const json& verify :
       {json(nullptr), json{{"status", "conflict"}}, json{{"status", "unknown"}}, json("x")}) {
    report["result"]["checks"]["verify"] = verify;
    EXPECT_EQ(render_html(report), with_revert) << verify;
  }
}

TEST(RenderHtml, AVerifyCheckIsEscapedAndBounded) {
  json report = sample_report();
  json check = verify_check("inconclusive");
  check["detail"] = "<img src=x onerror=alert(1)> \x1b[2J" + std::string(100000, 'd');
  check["commit"] = "\"><script>";
  report["result"]["checks"] = {{"verify", check}};
  std::string html;
  ASSERT_NO_THROW(html = render_html(report));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("\x1b")));
  EXPECT_THAT(html, HasSubstr("<strong>INCONCLUSIVE</strong> 0 of 21 runs failed at the "
                              "culprit&#39;s parent, outside the range"));
  EXPECT_THAT(html, HasSubstr("&lt;img src=x onerror=alert(1)&gt;"));
  const std::string_view row = between(html, "<dt>Verify check</dt>", "</dd>");
  EXPECT_LT(row.size(), 2000U);
  // Damaged counts: the engine's sentence is shown even for a pass.
  check = verify_check("pass");
  check["runs"] = "21";
  report["result"]["checks"] = {{"verify", check}};
  html = render_html(report);
  EXPECT_THAT(html, HasSubstr("run counts not known; P(good) = 0.9961 &middot; parent <code"));
  EXPECT_THAT(html, HasSubstr("<br><span class=\"muted\">the engine&#39;s own sentence</span>"));
  for (const json& garbage : {json{{"verify", {{"status", "pass"}, {"commit", 5}, {"detail", 3}}}},
                              json{{"verify", {1}}}, json(7)}) {
    report["result"]["checks"] = garbage;
    EXPECT_NO_THROW((void)render_html(report)) << garbage;
  }
}

TEST(RenderHtml, ProbabilitiesNeverRoundToCertainty) {
  json report = sample_report();
  report["result"]["confidence"] = 0.999999;
  EXPECT_THAT(render_html(report), HasSubstr("<dt>Confidence</dt><dd>&gt;99.99%</dd>"));
  report["result"]["confidence"] = 1.0;
  EXPECT_THAT(render_html(report), HasSubstr("<dt>Confidence</dt><dd>100.00%</dd>"));
}

}  // namespace
}  // namespace flakebisect::report
