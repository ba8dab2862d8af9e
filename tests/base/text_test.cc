#include "base/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flakebisect::base {
namespace {

TEST(Text, EditDistanceCountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("status", "status"), 0u);
  EXPECT_EQ(edit_distance("statuss", "status"), 1u);
  EXPECT_EQ(edit_distance("stauts", "status"), 2u);  // a swap is two substitutions
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "run"), 3u);
}

TEST(Text, NearestWordIsTheClosestWithinTheDistanceElseNothing) {
  const std::vector<std::string> commands = {"run", "start", "resume", "status", "report"};
  EXPECT_EQ(nearest_word("statuss", commands), "status");
  EXPECT_EQ(nearest_word("reprot", commands), "report");
  EXPECT_EQ(nearest_word("frobnicate", commands), "");
  EXPECT_EQ(nearest_word("rn", commands), "run");
  EXPECT_EQ(nearest_word("xyz", commands, 3), "run");  // the first of the nearest
  EXPECT_EQ(nearest_word(std::string(100000, 'x'), commands), "");
}

}  // namespace
}  // namespace flakebisect::base
