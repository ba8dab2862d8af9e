#include "report/checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace flakebisect::report {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kCulprit = "4576a2190ffa" + std::string(28, '1');
const std::string kBad = "1a2b3c4d5e6f" + std::string(28, '2');
const std::string kRevert = "9f8e7d6c5b4a" + std::string(28, '3');

// A report document holding only result.checks.revert.
json with_revert(const json& revert) {
  return json{{"result", {{"status", "found"}, {"checks", {{"revert", revert}}}}}};
}

json ran(const std::string& status, int runs, int fails, double p) {
  return json{{"status", status},       {"reverted", kCulprit},
              {"onto", kBad},           {"commit", kRevert},
              {"runs", runs},           {"fails", fails},
              {"probability_fixed", p}, {"conflicts", json::array()}};
}

TEST(DescribeRevertCheck, PassFailAndInconclusiveCountTheRunsAndGiveTheProbability) {
  auto words = describe_revert_check(with_revert(ran("pass", 24, 0, 0.9961)));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->status, "pass");
  EXPECT_EQ(words->verdict, "PASS");
  EXPECT_EQ(words->explanation,
            "0 of 24 runs failed with 4576a2190ffa reverted on 1a2b3c4d5e6f; P(fixed) = 0.9961");

  words = describe_revert_check(with_revert(ran("fail", 16, 5, 0.0012)));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->verdict, "FAIL");
  EXPECT_EQ(words->explanation,
            "5 of 16 runs failed with 4576a2190ffa reverted on 1a2b3c4d5e6f; P(fixed) = 0.0012");

  words = describe_revert_check(with_revert(ran("inconclusive", 200, 3, 0.74)));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->verdict, "INCONCLUSIVE");
  EXPECT_EQ(words->explanation,
            "3 of 200 runs failed with 4576a2190ffa reverted on 1a2b3c4d5e6f; P(fixed) = 0.7400");
}

TEST(DescribeRevertCheck, AnInconclusiveCheckSaysWhyFromItsFields) {
  json skipped = ran("inconclusive", 4, 0, 0.8);
  skipped["outcomes"] = json{{"runs", 5}, {"skips", 1}};
  EXPECT_THAT(describe_revert_check(with_revert(skipped))->explanation,
              HasSubstr("; a run there was a skip"));
  json capped = ran("inconclusive", 0, 0, 0.5);
  capped["outcomes"] = json{{"runs", 1000}, {"skips", 0}, {"hangs", 1000}};
  EXPECT_THAT(describe_revert_check(with_revert(capped))->explanation,
              HasSubstr("; undecided after 1000 runs there"));
  // No revert commit (a culprit without a parent): no runs to count.
  json root = ran("inconclusive", 0, 0, 0.5);
  root["commit"] = nullptr;
  EXPECT_EQ(describe_revert_check(with_revert(root))->explanation,
            "4576a2190ffa could not be reverted on 1a2b3c4d5e6f");
}

TEST(DescribeRevertCheck, AConflictCountsThePathsTheEngineCountedNotOnlyTheOnesKept) {
  json conflict{{"status", "conflict"},
                {"reverted", kCulprit},
                {"onto", kBad},
                {"commit", nullptr},
                {"conflicts", {"a.c", "b.c", "c.c", "d.c"}},
                {"conflict_count", 60}};
  EXPECT_THAT(describe_revert_check(with_revert(conflict))->explanation, HasSubstr(" and 57 more"));
}

TEST(DescribeRevertCheck, TheProbabilityIsRoundedDownSoItNeverReadsCertain) {
  const auto p_of = [](double p) {
    return describe_revert_check(with_revert(ran("pass", 24, 0, p)))->explanation;
  };
  EXPECT_THAT(p_of(0.99996), HasSubstr("; P(fixed) = 0.9999"));
  EXPECT_THAT(p_of(1.0), HasSubstr("; P(fixed) = 1.0000"));
  EXPECT_THAT(p_of(0.57), HasSubstr("; P(fixed) = 0.5700"));  // 5699.99... in binary
  EXPECT_THAT(p_of(0.00004), HasSubstr("; P(fixed) < 0.0001"));
  EXPECT_THAT(p_of(0.0), HasSubstr("; P(fixed) = 0.0000"));
  EXPECT_THAT(p_of(7.5), HasSubstr("; P(fixed) = 1.0000"));  // a hand-edited document
}

TEST(DescribeRevertCheck, AConflictNamesAFewPathsAndCountsTheRest) {
  json check = {{"status", "conflict"},
                {"reverted", kCulprit},
                {"onto", kBad},
                {"commit", nullptr},
                {"runs", 0},
                {"fails", 0},
                {"probability_fixed", nullptr},
                {"conflicts", {"fs/iomap/direct-io.c"}},
                {"conflict_count", 1}};
  auto words = describe_revert_check(with_revert(check));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->verdict, "CONFLICT");
  EXPECT_EQ(words->explanation,
            "4576a2190ffa does not revert cleanly on 1a2b3c4d5e6f: conflicts in "
            "fs/iomap/direct-io.c");

  check["conflicts"] = {"fs/iomap/direct-io.c", "fs/ext4/file.c"};
  check["conflict_count"] = 2;
  EXPECT_THAT(describe_revert_check(with_revert(check))->explanation,
              ::testing::EndsWith(": conflicts in fs/iomap/direct-io.c and fs/ext4/file.c"));

  check["conflicts"] = {"a.c", "b.c", "c.c", "d.c", "e.c"};
  check["conflict_count"] = 5;
  EXPECT_THAT(describe_revert_check(with_revert(check))->explanation,
              ::testing::EndsWith(": conflicts in a.c, b.c, c.c and 2 more"));

  // The document keeps the first 50 paths; conflict_count has the rest.
  check["conflict_count"] = 70;
  EXPECT_THAT(describe_revert_check(with_revert(check))->explanation,
              ::testing::EndsWith(": conflicts in a.c, b.c, c.c and 67 more"));

  check["conflicts"] = json::array();
  check["conflict_count"] = 0;
  EXPECT_EQ(describe_revert_check(with_revert(check))->explanation,
            "4576a2190ffa does not revert cleanly on 1a2b3c4d5e6f");
}

TEST(DescribeRevertCheck, ABuildFailureSaysWhatDidNotBuild) {
  json check = ran("build_failed", 0, 0, 0);
  check["probability_fixed"] = nullptr;
  const auto words = describe_revert_check(with_revert(check));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->verdict, "BUILD FAILED");
  EXPECT_EQ(words->explanation, "1a2b3c4d5e6f with 4576a2190ffa reverted does not build");
}

TEST(DescribeRevertCheck, NoCheckOrAnUnknownStatusDescribesNothing) {
  EXPECT_EQ(describe_revert_check(json{{"result", {{"status", "found"}}}}), std::nullopt);
  EXPECT_EQ(describe_revert_check(json{{"result", {{"checks", nullptr}}}}), std::nullopt);
  EXPECT_EQ(describe_revert_check(json{{"result", {{"checks", {{"revert", nullptr}}}}}}),
            std::nullopt);
  for (const json& status : {json("PASS"), json("passed"), json(1), json(nullptr), json("")}) {
    json check = ran("pass", 24, 0, 0.99);
    check["status"] = status;
    EXPECT_EQ(describe_revert_check(with_revert(check)), std::nullopt) << status;
  }
  for (const json& garbage : {json(nullptr), json::array(), json("text"), json(3),
                              json{{"result", 3}}, json{{"result", {{"checks", "revert"}}}},
                              json{{"result", {{"checks", {{"revert", {1, 2}}}}}}}}) {
    EXPECT_EQ(describe_revert_check(garbage), std::nullopt) << garbage.dump();
  }
}

TEST(DescribeRevertCheck, FieldsOfTheWrongShapeAreWordedGenericallyNotShown) {
  json check = {{"status", "pass"},
                {"reverted", "not a sha\nBcc: evil@example.com"},
                {"onto", std::string(40, 'A')},  // upper case: not how git writes a name
                {"commit", 5},
                {"runs", "24"},
                {"fails", 0},
                {"probability_fixed", "high"}};
  auto words = describe_revert_check(with_revert(check));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->explanation,
            "the first bad commit reverted on the bad commit, run counts not known");

  // More failures than runs is no count either.
  check = ran("fail", 3, 5, 0.01);
  EXPECT_THAT(describe_revert_check(with_revert(check))->explanation,
              ::testing::StartsWith("4576a2190ffa reverted on 1a2b3c4d5e6f, run counts not known"));

  // Conflicting paths are made one line and cut.
  check = {{"status", "conflict"},
           {"reverted", kCulprit},
           {"onto", kBad},
           {"conflicts", {"fs/a\nb.c\x1b[31m", std::string(1000, 'p'), 7}},
           {"conflict_count", "many"}};
  words = describe_revert_check(with_revert(check));
  ASSERT_TRUE(words.has_value());
  EXPECT_THAT(words->explanation, HasSubstr(": conflicts in fs/a b.c and "));
  EXPECT_THAT(words->explanation, HasSubstr(std::string(97, 'p') + "..."));
  EXPECT_THAT(words->explanation, Not(HasSubstr(std::string(98, 'p'))));
  EXPECT_THAT(words->explanation, Not(HasSubstr("\x1b")));
  EXPECT_THAT(words->explanation, Not(HasSubstr("\n")));
}

// The verify check: runs at the culprit's first parent, outside the range.
const std::string kParent = "ddd417a89b93" + std::string(28, '4');

json with_verify(const json& verify) {
  return json{
      {"result", {{"status", "found"}, {"checks", {{"revert", nullptr}, {"verify", verify}}}}}};
}

json verified(const std::string& status, int runs, int fails, const json& p) {
  return json{{"status", status},      {"culprit", kCulprit},
              {"commit", kParent},     {"runs", runs},
              {"fails", fails},        {"own_runs", runs},
              {"probability_good", p}, {"detail", "the engine's own sentence"}};
}

TEST(DescribeVerifyCheck, PassAndFailCountTheRunsAtTheParentAndGiveTheProbability) {
  auto words = describe_verify_check(with_verify(verified("pass", 21, 0, 0.9961)));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->status, "pass");
  EXPECT_EQ(words->verdict, "PASS");
  EXPECT_EQ(words->explanation,
            "0 of 21 runs failed at ddd417a89b93, the culprit's parent, outside the range; "
            "P(good) = 0.9961");

  words = describe_verify_check(with_verify(verified("fail", 12, 3, 0.00004)));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->status, "fail");
  EXPECT_EQ(words->verdict, "FAIL");
  EXPECT_EQ(words->explanation,
            "3 of 12 runs failed at ddd417a89b93, the culprit's parent, outside the range: the "
            "regression is at or before it; P(good) < 0.0001");

  // Rounded down, as P(fixed) is: never certain.
  words = describe_verify_check(with_verify(verified("pass", 40, 0, 0.99999)));
  EXPECT_THAT(words->explanation, ::testing::EndsWith("; P(good) = 0.9999"));
  words = describe_verify_check(with_verify(verified("pass", 40, 0, 1.0)));
  EXPECT_THAT(words->explanation, ::testing::EndsWith("; P(good) = 1.0000"));
}

TEST(DescribeVerifyCheck, AnInconclusiveCheckSaysWhyFromItsFields) {
  json skipped = verified("inconclusive", 4, 1, 0.62);
  skipped["outcomes"] = json{{"runs", 5}, {"skips", 1}};
  auto words = describe_verify_check(with_verify(skipped));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->verdict, "INCONCLUSIVE");
  EXPECT_EQ(words->explanation,
            "1 of 4 runs failed at ddd417a89b93, the culprit's parent, outside the range; "
            "P(good) = 0.6200; a run there was a skip");
  json capped = verified("inconclusive", 40, 6, 0.5);
  capped["outcomes"] = json{{"runs", 40}, {"skips", 0}};
  EXPECT_EQ(describe_verify_check(with_verify(capped))->explanation,
            "6 of 40 runs failed at ddd417a89b93, the culprit's parent, outside the range; "
            "P(good) = 0.5000; undecided after 40 runs there");
  // Without the runs at the parent it cannot say why; the engine's detail is never shown.
  const json bare = verified("inconclusive", 40, 6, 0.5);
  EXPECT_EQ(describe_verify_check(with_verify(bare))->explanation,
            "6 of 40 runs failed at ddd417a89b93, the culprit's parent, outside the range; "
            "P(good) = 0.5000");
}

TEST(DescribeVerifyCheck, ABuildFailureSaysThatTheParentDoesNotBuild) {
  auto words = describe_verify_check(with_verify(verified("build_failed", 0, 0, nullptr)));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->status, "build_failed");
  EXPECT_EQ(words->verdict, "BUILD FAILED");
  EXPECT_EQ(words->explanation, "ddd417a89b93, the culprit's parent, does not build");
  json unnamed = verified("build_failed", 0, 0, nullptr);
  unnamed.erase("commit");
  EXPECT_EQ(describe_verify_check(with_verify(unnamed))->explanation,
            "the culprit's parent does not build");
}

TEST(DescribeVerifyCheck, NoCheckOrAnUnknownStatusDescribesNothing) {
  EXPECT_EQ(describe_verify_check(json{{"result", {{"status", "found"}}}}), std::nullopt);
  EXPECT_EQ(describe_verify_check(json{{"result", {{"checks", nullptr}}}}), std::nullopt);
  EXPECT_EQ(describe_verify_check(with_verify(nullptr)), std::nullopt);
  // A revert check alone is no verify check, and the other way round.
  EXPECT_EQ(describe_verify_check(with_revert(ran("pass", 24, 0, 0.99))), std::nullopt);
  EXPECT_EQ(describe_revert_check(with_verify(verified("pass", 21, 0, 0.99))), std::nullopt);
  // "conflict" is a revert status only.
  for (const json& status :
       {json("PASS"), json("conflict"), json("passed"), json(1), json(nullptr), json("")}) {
    json check = verified("pass", 21, 0, 0.99);
    check["status"] = status;
    EXPECT_EQ(describe_verify_check(with_verify(check)), std::nullopt) << status;
  }
  for (const json& garbage : {json(nullptr), json::array(), json("text"), json(3),
                              json{{"result", 3}}, json{{"result", {{"checks", "verify"}}}},
                              json{{"result", {{"checks", {{"verify", {1, 2}}}}}}}}) {
    EXPECT_EQ(describe_verify_check(garbage), std::nullopt) << garbage.dump();
  }
}

TEST(DescribeVerifyCheck, FieldsOfTheWrongShapeAreWordedGenericallyNotShown) {
  json check = {{"status", "pass"},
                {"culprit", "HEAD"},
                {"commit", "not a sha\nBcc: evil@example.com"},
                {"runs", "21"},
                {"fails", 0},
                {"probability_good", "high"},
                {"detail", "21 runs passed at the parent"}};
  auto words = describe_verify_check(with_verify(check));
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(words->explanation, "the culprit's parent, outside the range, run counts not known");

  // More failures than runs is no count either; a fail still says what it means.
  check = verified("fail", 3, 5, 0.01);
  EXPECT_EQ(describe_verify_check(with_verify(check))->explanation,
            "ddd417a89b93, the culprit's parent, outside the range, run counts not known: the "
            "regression is at or before it; P(good) = 0.0100");
  check["commit"] = std::string(40, 'D');  // upper case: not how git writes a name
  EXPECT_THAT(describe_verify_check(with_verify(check))->explanation,
              ::testing::StartsWith("the culprit's parent, outside the range"));
  EXPECT_THAT(describe_verify_check(with_verify(check))->explanation, Not(HasSubstr("DDDD")));
}

// The backport check (a fix bisection's): the fix cherry-picked onto the broken (bad) commit.
const std::string kFix = kCulprit;
const std::string kBroken = kBad;
const std::string kPick = "7c6b5a493827" + std::string(28, '5');

json with_backport(const json& backport) {
  return json{
      {"bisection", {{"mode", "fix"}}},
      {"result", {{"status", "found"}, {"checks", {{"revert", nullptr}, {"backport", backport}}}}}};
}

json picked(const std::string& status, int runs, int fails, const json& p) {
  return json{{"status", status},
              {"picked", kFix},
              {"onto", kBroken},
              {"commit", kPick},
              {"runs", runs},
              {"fails", fails},
              {"own_runs", runs},
              {"probability_fixed", p},
              {"conflicts", json::array()},
              {"detail", "the engine's own sentence"}};
}

TEST(DescribeBackportCheck, EveryStatusIsWordedWithTheFixCherryPickedOntoTheBrokenCommit) {
  json capped = picked("inconclusive", 200, 3, 0.74);
  capped["outcomes"] = json{{"runs", 200}, {"skips", 0}};
  json root = picked("inconclusive", 0, 0, nullptr);  // a root fix: no pick was made
  root["commit"] = nullptr;
  json conflict = picked("conflict", 0, 0, nullptr);
  conflict["commit"] = nullptr;
  conflict["conflicts"] = {"fs/iomap/direct-io.c", "fs/ext4/file.c", "a.c", "b.c"};
  conflict["conflict_count"] = 9;
  const struct {
    json check;
    const char* verdict;
    std::string explanation;
  } cases[] = {
      {picked("pass", 24, 0, 0.9961), "PASS",
       "0 of 24 runs failed with 4576a2190ffa cherry-picked onto 1a2b3c4d5e6f; P(fixed) = 0.9961"},
      // A fail: the fix alone does not fix the broken commit.
      {picked("fail", 16, 5, 0.0012), "FAIL",
       "5 of 16 runs failed with 4576a2190ffa cherry-picked onto 1a2b3c4d5e6f: the fix alone does "
       "not fix it there (it needs other commits too); P(fixed) = 0.0012"},
      {capped, "INCONCLUSIVE",
       "3 of 200 runs failed with 4576a2190ffa cherry-picked onto 1a2b3c4d5e6f; P(fixed) = "
       "0.7400; undecided after 200 runs there"},
      {root, "INCONCLUSIVE", "4576a2190ffa could not be cherry-picked onto 1a2b3c4d5e6f"},
      {conflict, "CONFLICT",
       "4576a2190ffa does not cherry-pick cleanly onto 1a2b3c4d5e6f: conflicts in "
       "fs/iomap/direct-io.c, fs/ext4/file.c, a.c and 6 more"},
      {picked("build_failed", 0, 0, nullptr), "BUILD FAILED",
       "1a2b3c4d5e6f with 4576a2190ffa cherry-picked does not build"},
  };
  for (const auto& [check, verdict, explanation] : cases) {
    const auto words = describe_backport_check(with_backport(check));
    ASSERT_TRUE(words.has_value()) << check;
    EXPECT_EQ(words->status, check["status"]);
    EXPECT_EQ(words->verdict, verdict);
    EXPECT_EQ(words->explanation, explanation);
  }
}

TEST(DescribeBackportCheck, OnlyTheBackportCheckIsDescribedAndDamagedFieldsAreWordedGenerically) {
  EXPECT_EQ(describe_backport_check(json{{"result", {{"status", "found"}}}}), std::nullopt);
  EXPECT_EQ(describe_backport_check(with_backport(nullptr)), std::nullopt);
  // A revert check is no backport check, and the other way round.
  EXPECT_EQ(describe_backport_check(with_revert(ran("pass", 24, 0, 0.99))), std::nullopt);
  EXPECT_EQ(describe_revert_check(with_backport(picked("pass", 24, 0, 0.99))), std::nullopt);
  EXPECT_EQ(describe_verify_check(with_backport(picked("pass", 24, 0, 0.99))), std::nullopt);
  for (const json& status : {json("PASS"), json("picked"), json(1), json(nullptr), json("")}) {
    json check = picked("pass", 24, 0, 0.99);
    check["status"] = status;
    EXPECT_EQ(describe_backport_check(with_backport(check)), std::nullopt) << status;
  }

  // Never the stored text: a name that is no object name reads "the fix", "the broken commit".
  json check = {{"status", "pass"},
                {"picked", "not a sha\nBcc: evil@example.com"},
                {"onto", std::string(40, 'A')},
                {"runs", "24"},
                {"fails", 0},
                {"probability_fixed", "high"}};
  EXPECT_EQ(describe_backport_check(with_backport(check))->explanation,
            "the fix cherry-picked onto the broken commit, run counts not known");
  // The picked commit is named by its own key only: `reverted` is not read.
  check = picked("pass", 24, 0, 0.99);
  check.erase("picked");
  check["reverted"] = kFix;
  EXPECT_THAT(describe_backport_check(with_backport(check))->explanation,
              HasSubstr("with the fix cherry-picked onto 1a2b3c4d5e6f;"));
}

}  // namespace
}  // namespace flakebisect::report
