#include "common/suggest.hpp"

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(Suggest, EditDistanceCountsSwapsAsOneEdit) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("backup", "backup"), 0u);
  EXPECT_EQ(edit_distance("bakup", "backup"), 1u);
  EXPECT_EQ(edit_distance("lsit", "list"), 1u);
  EXPECT_EQ(edit_distance("compresion", "compression"), 1u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
}

TEST(Suggest, ClosestMatchOnlyWhenCloseEnough) {
  std::vector<std::string> commands = {"repo", "backup", "list", "show", "restore", "check", "delete", "cleanup"};
  EXPECT_EQ(closest_match("bakup", commands), "backup");
  EXPECT_EQ(closest_match("restroe", commands), "restore");
  EXPECT_EQ(closest_match("lsit", commands), "list");
  EXPECT_EQ(closest_match("xyz", commands), "") << "nothing near: no suggestion";
  EXPECT_EQ(closest_match("wal", commands), "");
  EXPECT_EQ(did_you_mean("chek", commands), "; did you mean 'check'?");
  EXPECT_EQ(did_you_mean("frobnicate", commands), "");
}

}  // namespace
}  // namespace strata
