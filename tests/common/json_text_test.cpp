// The hand-written JSON strings behind log lines and tiering's documents: escapes as nlohmann::json writes them,
// and what happens to text that is not UTF-8.
#include "common/json_text.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace strata {
namespace {

TEST(JsonText, EscapesLikeNlohmannAndReadsBack) {
  std::string all;
  for (int c = 1; c < 0x80; ++c) all += static_cast<char>(c);
  all += "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";  // 2-, 3- and 4-byte sequences pass through
  std::string out;
  ASSERT_TRUE(append_json_string(out, all));
  EXPECT_EQ(out, nlohmann::json(all).dump());
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), all);
  EXPECT_EQ(json_escape("a\"b\\c\n\r\t"), "a\\\"b\\\\c\\n\\r\\t");
  EXPECT_EQ(json_escape(std::string("\x01", 1)), "\\u0001");
}

TEST(JsonText, InvalidUtf8FailsOrIsEscapedBytewise) {
  for (std::string bad : {std::string("\xc3"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                          std::string("\xf4\x90\x80\x80"), std::string("\xe2\x28\xa1"), std::string("\xff")}) {
    std::string out;
    EXPECT_FALSE(append_json_string(out, "ok " + bad)) << "accepted invalid UTF-8";
    std::string escaped = json_escape("ok " + bad);
    EXPECT_EQ(escaped.find('\x80'), std::string::npos);
    std::string lenient;
    ASSERT_TRUE(append_json_string(lenient, "ok " + bad, BadUtf8::kEscapeBytes));
    EXPECT_TRUE(nlohmann::json::accept(lenient)) << lenient << " is not valid JSON";
  }
  EXPECT_EQ(json_escape("\xff"), "\\u00ff");
}

}  // namespace
}  // namespace strata
