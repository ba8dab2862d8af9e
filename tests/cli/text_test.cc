#include "cli/text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>

namespace flakebisect::cli {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(Printable, ReplacesControlCharactersSoSubjectsCannotDriveTheTerminal) {
  EXPECT_EQ(printable("fix \x1b[2Jboom\r\nnext\x7f"), "fix ?[2Jboom??next?");
  EXPECT_EQ(printable(std::string("nul\0byte", 8)), "nul?byte");
}

TEST(Printable, KeepsUtf8AndCutsWholeCharacters) {
  EXPECT_EQ(printable("ünïcödé ✓"), "ünïcödé ✓");
  EXPECT_EQ(printable("ééééééé", 5), "éé...");
  EXPECT_EQ(printable("short", 5), "short");
  EXPECT_EQ(printable("toolong", 2), "..");
}

// UTF-8 characters (code points) in valid UTF-8 `text`.
size_t characters(const std::string& text) {
  size_t count = 0;
  for (char c : text) {
    count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  }
  return count;
}

TEST(Printable, CountsTheColumnsAWideOrCombiningCharacterTakes) {
  // A CJK subject takes two columns a character: cut at 8 columns it keeps two of them (4
  // columns) and the "...", never more than the terminal's width.
  const std::string han = "\xE6\xBC\xA2";  // U+6F22, two columns
  std::string subject;
  for (int i = 0; i < 10; ++i) subject += han;
  EXPECT_EQ(printable(subject, 8), han + han + "...");
  EXPECT_EQ(printable(han + han + han + han, 8), han + han + han + han);  // exactly 8 columns
  // A combining acute accent takes none: "e\u0301" is one column.
  const std::string accented = "e\xCC\x81";
  EXPECT_EQ(printable(accented + accented + accented, 3), accented + accented + accented);
  // An emoji takes two.
  EXPECT_EQ(printable("ab\xF0\x9F\x98\x80", 3), "...");
}

TEST(Printable, CountsEveryByteOfInvalidUtf8TowardTheWidth) {
  // Latin-1 "é" and friends: continuation bytes with no lead byte.
  const std::string latin1(100, '\xE9');
  const std::string continuation(100, '\xA9');
  for (const std::string& text : {latin1, continuation}) {
    const std::string out = printable(text, 20);
    EXPECT_LE(characters(out), 20U) << out;
    EXPECT_THAT(out, EndsWith("..."));
  }
  EXPECT_LE(characters(printable("ok " + continuation + " ok", 20)), 20U);
}

TEST(Printable, ReplacesInvalidUtf8WithTheReplacementCharacter) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(printable("caf\xE9"), "caf" + fffd);
  EXPECT_EQ(printable("\xC3"), fffd);                        // cut before its continuation
  EXPECT_EQ(printable("\xC0\xAF"), fffd + fffd);             // overlong '/'
  EXPECT_EQ(printable("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate
  EXPECT_EQ(printable("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // beyond U+10FFFF
  EXPECT_EQ(printable("\xF0\x9F\x90\xA7"), "\xF0\x9F\x90\xA7");         // U+1F427 is fine
}

// A right-to-left override in a subject would make the rest of the terminal's line read backwards
// ("Trojan Source"); the report formats drop them too (report::one_line).
TEST(Printable, ReplacesBidirectionalOverridesAndLineSeparators) {
  EXPECT_EQ(printable("fix \u202Egnp.exe\u202C, \u2066x\u2069 a\u2028b\u2029"),
            "fix ?gnp.exe?, ?x? a?b?");
  EXPECT_EQ(printable("\u200F\u05D0"), "\u200F\u05D0");  // a right-to-left mark alone is kept
}

TEST(Printable, ReplacesC1ControlsLikeC0Ones) {
  // U+009B is CSI on terminals that take C1 controls: "\x9B" "2J" would clear the screen.
  EXPECT_EQ(printable("a\xC2\x9B"
                      "2Jb\xC2\x85\xC2\x80"),
            "a?2Jb??");
  const std::string raw = printable(
      "a\x9B"
      "2J\x1B[H");
  EXPECT_THAT(raw, Not(HasSubstr("\x9B")));
  EXPECT_THAT(raw, Not(HasSubstr("\x1B")));
  // Just above the C1 range: printable.
  EXPECT_EQ(printable("\xC2\xA0"), "\xC2\xA0");
}

TEST(IsoTime, FormatsUnixMillisecondsAsUtc) {
  EXPECT_EQ(iso_time(1704067200123), "2024-01-01T00:00:00Z");
}

TEST(ToJsonText, StaysValidWhateverTheBytes) {
  const nlohmann::json value{{"subject", std::string("bad \xff\xfe utf8")}};
  const std::string text = to_json_text(value);
  EXPECT_FALSE(nlohmann::json::parse(text, nullptr, false).is_discarded());
}

TEST(ResultSummary, NamesTheCulpritWhenFound) {
  const auto result = nlohmann::json::parse(R"json({
    "status": "found", "culprit": {"sha": "abc123", "subject": "ext4: \u001b[31m oops"},
    "confidence": 0.995, "runs": 87, "builds": 9,
    "theta": {"mean": 0.3, "low": 0.2, "high": 0.41}})json");
  const std::string text = result_summary(result);
  EXPECT_THAT(text, HasSubstr("found: abc123 ext4: ?[31m oops\n"));
  EXPECT_THAT(text, HasSubstr("confidence 0.9950 after 87 runs and 9 builds"));
  EXPECT_THAT(text, HasSubstr("0.300 (90% interval 0.200 to 0.410)"));
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
  EXPECT_THAT(text, Not(HasSubstr("in all")));
}

// Every run it counted was an earlier bisection's: "after 0 runs" says where the others came from.
TEST(ResultSummary, CountsTheRunsOfEarlierBisectionsItUsed) {
  const auto result = nlohmann::json::parse(R"json({
    "status": "found", "culprit": {"sha": "abc123", "subject": "ext4: x"},
    "confidence": 0.996, "runs": 0, "evidence_runs": 19, "builds": 0})json");
  EXPECT_THAT(
      result_summary(result),
      HasSubstr("confidence 0.9960 after 0 runs and 0 builds\n"
                "counting 19 runs in all, with those of other bisections of this test\n"));
}

TEST(ResultSummary, EndsWithTheRevertCheckAndCountsItsRuns) {
  const auto result = nlohmann::json::parse(R"json({
    "status": "found", "culprit": {"sha": "abc123", "subject": "ext4: oops"},
    "confidence": 0.995, "runs": 105, "builds": 10,
    "checks": {"revert": {"status": "build_failed", "runs": 25, "own_runs": 18,
                          "detail": "1a2b with abc1 reverted does not build: \u001b[1m error"}}})json");
  const std::string text = result_summary(result);
  EXPECT_THAT(text, HasSubstr("confidence 0.9950 after 105 runs (18 of them the revert check's) "
                              "and 10 builds\n"));
  EXPECT_THAT(text, HasSubstr("\nrevert check: BUILD FAILED (1a2b with abc1 reverted does not "
                              "build: ?[1m error)\n"));
  // Garbage in the check's members is left out, never a crash.
  const auto odd = nlohmann::json::parse(R"json({"status": "found", "culprit": {"sha": "a"},
    "checks": {"revert": {"status": 7, "runs": "x"}}})json");
  EXPECT_THAT(result_summary(odd), Not(HasSubstr("revert check")));
}

TEST(ResultSummary, ListsTheCredibleSetWhenInconclusive) {
  const auto result = nlohmann::json::parse(R"json({
    "status": "inconclusive", "reason": "run budget spent (10 runs)", "culprit": null,
    "credible_set": [{"sha": "aaa", "subject": "a", "probability": 0.6},
                     {"sha": "bbb", "subject": "b", "probability": 0.39}],
    "credible_set_size": 5, "credible_mass": 0.99, "runs": 10, "builds": 2})json");
  const std::string text = result_summary(result);
  EXPECT_THAT(text, HasSubstr("inconclusive: run budget spent (10 runs)"));
  EXPECT_THAT(text, HasSubstr("  aaa 0.6000 a\n"));
  EXPECT_THAT(text, HasSubstr("... and 3 more"));
}

// No failure was seen: the set and the rate would only restate the prior (the bad commit at
// p = 1, a rate estimated from no failure), so the summary says what happened and stops.
TEST(ResultSummary, NotReproducedListsNoCredibleSetAndNoFailureRate) {
  const auto result = nlohmann::json::parse(R"json({
    "status": "not_reproduced",
    "reason": "could not reproduce on bad: 200 runs at 7cdf3571a3a1 without a failure",
    "culprit": null, "credible_set": [{"sha": "7cdf", "subject": "c6", "probability": 1.0}],
    "credible_set_size": 1, "credible_mass": 0.99, "runs": 200, "builds": 1,
    "theta": {"mean": 0.008, "low": 0.005, "high": 0.017}})json");
  const std::string text = result_summary(result);
  EXPECT_THAT(text, HasSubstr("not_reproduced: could not reproduce on bad: 200 runs"));
  EXPECT_THAT(text, HasSubstr("200 runs and 1 build\n"));
  EXPECT_THAT(text, Not(HasSubstr("is one of")));
  EXPECT_THAT(text, Not(HasSubstr("failure rate")));
}

// Stopped before any run failed (a run budget of 3, all passes): the set would be the prior's
// and the rate a guess, so neither is printed; a result stored before the count is read as
// having seen a failure.
TEST(ResultSummary, NoCredibleSetOrFailureRateBeforeAnyRunFailed) {
  auto result = nlohmann::json::parse(R"json({
    "status": "inconclusive", "reason": "run budget spent (3 runs)", "culprit": null,
    "credible_set": [{"sha": "aaa", "subject": "a", "probability": 0.3333}],
    "credible_set_size": 3, "credible_mass": 0.99, "runs": 3, "builds": 0,
    "evidence_runs": 3, "evidence_failures": 0,
    "theta": {"mean": 0.077, "low": 0.006, "high": 0.302}})json");
  std::string text = result_summary(result);
  EXPECT_THAT(text, HasSubstr("no run has failed yet, so the culprit and the failure rate are "
                              "still unknown\n"));
  EXPECT_THAT(text, Not(HasSubstr("is one of")));
  EXPECT_THAT(text, Not(HasSubstr("failure rate on")));
  result["evidence_failures"] = 1;
  text = result_summary(result);
  EXPECT_THAT(text, HasSubstr("is one of"));
  EXPECT_THAT(text, HasSubstr("failure rate on bad commits: 0.077"));
  result.erase("evidence_failures");
  EXPECT_THAT(result_summary(result), HasSubstr("is one of"));
}

TEST(ResultSummary, AFixBisectionNamesTheFixAndTheLastBrokenCommit) {
  const auto result = nlohmann::json::parse(R"json({
    "status": "found", "mode": "fix", "culprit": {"sha": "abc123", "subject": "ext4: fix it"},
    "last_broken": {"sha": "fff000", "subject": "ext4: still broken"},
    "confidence": 0.995, "runs": 87, "builds": 9,
    "theta": {"mean": 0.3, "low": 0.2, "high": 0.41}})json");
  const std::string text = result_summary(result);
  EXPECT_THAT(text, ::testing::StartsWith("found the fix: abc123 ext4: fix it\n"
                                          "last broken: fff000 ext4: still broken\n"
                                          "confidence 0.9950 after 87 runs and 9 builds\n"));
  EXPECT_THAT(text, HasSubstr("failure rate on broken commits: 0.300"));
  EXPECT_THAT(text, Not(HasSubstr("bad commit")));

  const auto inconclusive = nlohmann::json::parse(R"json({
    "status": "inconclusive", "mode": "fix", "reason": "run budget spent", "culprit": null,
    "last_broken": null, "credible_set": [{"sha": "aaa", "subject": "a", "probability": 0.6}],
    "credible_set_size": 1, "credible_mass": 0.99, "runs": 10, "builds": 2})json");
  EXPECT_THAT(result_summary(inconclusive),
              HasSubstr("the first fixed commit is one of (holding 0.99 of the probability):\n"));
}

TEST(ResultSummary, AFixBisectionEndsWithTheBackportCheckAndCountsItsRuns) {
  const auto result = nlohmann::json::parse(R"json({
    "status": "found", "mode": "fix", "culprit": {"sha": "abc123", "subject": "ext4: fix it"},
    "confidence": 0.995, "runs": 111, "builds": 10,
    "checks": {"backport": {"status": "pass", "picked": "abc123", "runs": 24, "own_runs": 24,
                            "detail": "0 of 24 runs of 1a2b with abc1 cherry-picked failed"}}})json");
  const std::string text = result_summary(result);
  EXPECT_THAT(text, HasSubstr("confidence 0.9950 after 111 runs (24 of them the backport "
                              "check's) and 10 builds\n"));
  EXPECT_THAT(text, ::testing::EndsWith("\nbackport check: PASS (0 of 24 runs of 1a2b with abc1 "
                                        "cherry-picked failed)\n"));

  // With the verify check too: the checks' runs together, each check on its line.
  auto both = result;
  both["checks"]["verify"] = {{"status", "pass"}, {"own_runs", 21}, {"detail", "at the good end"}};
  const std::string two = result_summary(both);
  EXPECT_THAT(two, HasSubstr("after 111 runs (45 of them the checks') and 10 builds\n"));
  EXPECT_THAT(two, HasSubstr("\nverify check: PASS (at the good end)\nbackport check: PASS ("));
}

}  // namespace
// `watch` asks this after each poll: a pipe whose reader went away says so even when nothing was
// left to write (a quiet stretch between events), and a live one does not.
TEST(FlushToReader, SaysWhenAPipesReaderIsGoneEvenWithNothingToWrite) {
  struct sigaction ignore {};
  struct sigaction before {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &before), 0);  // as main() does
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::FILE* out = ::fdopen(fds[1], "w");
  ASSERT_NE(out, nullptr);
  std::fputs("line\n", out);
  EXPECT_TRUE(flush_to_reader(out));
  EXPECT_TRUE(flush_to_reader(out));  // nothing to write, reader there
  ::close(fds[0]);
  EXPECT_FALSE(flush_to_reader(out));  // nothing to write, reader gone
  std::fputs("more\n", out);
  EXPECT_FALSE(flush_to_reader(out));  // EPIPE
  std::fclose(out);
  ::sigaction(SIGPIPE, &before, nullptr);
}

}  // namespace flakebisect::cli
