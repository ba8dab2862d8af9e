#include "report/text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace flakebisect::report {
namespace {

using ::testing::ElementsAre;

TEST(ValidUtf8, KeepsWellFormedTextAsItIs) {
  const std::string text = "fs: ✓ ünïcödé 修正 \U0001F600 \x1b[31m\t";
  EXPECT_EQ(valid_utf8(text), text);
}

TEST(ValidUtf8, ReplacesEachBadByteWithTheReplacementCharacter) {
  EXPECT_EQ(valid_utf8("a\xff"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(valid_utf8("\xc3"), "\xEF\xBF\xBD");                  // truncated sequence
  EXPECT_EQ(valid_utf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");                       // a surrogate
  EXPECT_EQ(valid_utf8("\xf4\x90\x80\x80").substr(0, 3), "\xEF\xBF\xBD");  // above U+10FFFF
}

TEST(ValidUtf8, ResultAlwaysDumpsAsJson) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  const nlohmann::json value = valid_utf8(bytes + bytes);
  EXPECT_NO_THROW((void)value.dump());
}

TEST(ValidUtf8, CutsLongTextAtACharacterBoundaryWithAnEllipsis) {
  const std::string text = std::string(10, 'a') + "ü" + std::string(10, 'b');
  const std::string cut = valid_utf8(text, 14);
  EXPECT_EQ(cut, std::string(10, 'a') + "...");
  EXPECT_EQ(valid_utf8(std::string(1 << 20, 'z'), 1000).size(), 1000U);
}

TEST(OneLine, TurnsLineBreaksControlsAndEscapesIntoSingleSpaces) {
  EXPECT_EQ(one_line("a\nBcc: evil@x"), "a Bcc: evil@x");
  EXPECT_EQ(one_line("  a\r\n\tb  "), "a b");
  EXPECT_EQ(one_line("\x1b[31mred\x1b[0m text"), "red text");
  EXPECT_EQ(one_line("title\x1b]0;owned\x07 rest"), "title rest");
  EXPECT_EQ(one_line("left\u202eright\u2028next"), "left right next");
  EXPECT_EQ(one_line(std::string("nul\0byte", 8)), "nul byte");
}

TEST(OneLine, CutsToColumnsCountingCharactersNotBytes) {
  EXPECT_EQ(one_line("ünïcödé text", 7), "ünïc...");
  EXPECT_EQ(one_line("short", 7), "short");
}

TEST(CleanBlock, KeepsLinesExpandsTabsAndNeutralisesControls) {
  EXPECT_EQ(clean_block("\r\n[  1.0] BUG: x\r\n\tat f+0x1\x07\x1b[0m\r\n\r\n"),
            "[  1.0] BUG: x\n        at f+0x1?");
  EXPECT_EQ(clean_block("progress 1\rprogress 2\n"), "progress 1\nprogress 2");
  EXPECT_EQ(clean_block(std::string(300, 'x'), 10), "xxxxxxx...");
}

TEST(Wrap, BreaksAtSpacesAndSplitsWordsThatCanNeverFit) {
  EXPECT_THAT(wrap("the quick brown fox jumps", 10),
              ElementsAre("the quick", "brown fox", "jumps"));
  EXPECT_THAT(wrap(std::string(25, 'x'), 10),
              ElementsAre(std::string(10, 'x'), std::string(10, 'x'), std::string(5, 'x')));
  EXPECT_THAT(wrap("", 10), ElementsAre(""));
  EXPECT_THAT(wrap("ünïcödé ünïcödé", 8), ElementsAre("ünïcödé", "ünïcödé"));
}

TEST(TailLines, KeepsTheLastLinesWithinTheByteLimit) {
  EXPECT_EQ(tail_lines("1\n2\n3\n4\n", 2, 100), "3\n4");
  EXPECT_EQ(tail_lines("aaaa\nbbbb\ncccc", 10, 7), "cccc");
  EXPECT_EQ(tail_lines("üüüü", 5, 3), "ü");  // the cut fell mid-character: on to a boundary
}

TEST(Columns, CountsCodePoints) {
  EXPECT_EQ(columns("修正 ü"), 4U);
  EXPECT_EQ(truncate_columns("abcdef", 5), "ab...");
  EXPECT_EQ(truncate_columns("abcdef", 6), "abcdef");
}

}  // namespace
}  // namespace flakebisect::report
