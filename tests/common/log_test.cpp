#include "common/log.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

// Captures what one log call writes to stderr, restoring the default configuration afterwards.
std::string capture(log::Level min, log::Format format, const std::function<void()>& fn) {
  log::configure(min, format);
  ::testing::internal::CaptureStderr();
  fn();
  std::string out = ::testing::internal::GetCapturedStderr();
  log::configure(log::Level::kWarn, log::Format::kText);
  return out;
}

TEST(Log, JsonLinesParseAndCarryTypedFields) {
  std::string out = capture(log::Level::kInfo, log::Format::kJson, [] {
    log::info("backup_done", {{"backup", "b\"1\n"}, {"bytes", uint64_t{42}}, {"ratio", 0.5}, {"n", -3}});
  });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "exactly one line";
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["event"], "backup_done");
  EXPECT_EQ(j["backup"], "b\"1\n");
  EXPECT_EQ(j["bytes"], 42);
  EXPECT_EQ(j["ratio"], 0.5);
  EXPECT_EQ(j["n"], -3);
  EXPECT_TRUE(j["ts"].get<std::string>().ends_with("Z"));
}

TEST(Log, LevelsBelowTheMinimumAreDropped) {
  EXPECT_EQ(capture(log::Level::kWarn, log::Format::kText, [] { log::info("x"); }), "");
  EXPECT_NE(capture(log::Level::kWarn, log::Format::kText, [] { log::error("boom"); }).find(" error boom"),
            std::string::npos);
  log::configure(log::Level::kError, log::Format::kText);
  EXPECT_FALSE(log::enabled(log::Level::kWarn));
  EXPECT_TRUE(log::enabled(log::Level::kError));
  log::configure(log::Level::kWarn, log::Format::kText);
}

TEST(Log, TextLinesQuoteOnlyWhatNeedsIt) {
  std::string out = capture(log::Level::kDebug, log::Format::kText, [] {
    log::warn("lock_stale_removed", {{"lock", "locks/a"}, {"error", "no such file"}, {"empty", ""}, {"pid", 7}});
  });
  EXPECT_NE(out.find(" warn lock_stale_removed lock=locks/a error=\"no such file\" empty=\"\" pid=7\n"),
            std::string::npos)
      << out;
}

TEST(Log, TextValuesNeverBreakTheLine) {
  // A value with a newline (a command's stderr, an object key) must not start a forged second log line.
  std::string out = capture(log::Level::kDebug, log::Format::kText,
                            [] { log::warn("event", {{"key", "a\n2026-01-01T00:00:00Z error forged"}}); });
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  out = capture(log::Level::kDebug, log::Format::kText, [] { log::warn("event", {{"key", "a\nb"}}); });
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_NE(out.find("key=\"a\\nb\""), std::string::npos) << out;
}

TEST(Log, ParseLevelAndFormat) {
  EXPECT_EQ(log::parse_level("debug"), log::Level::kDebug);
  EXPECT_EQ(log::parse_level("warning"), log::Level::kWarn);
  EXPECT_EQ(log::parse_format("json"), log::Format::kJson);
  EXPECT_STRATA_ERROR(log::parse_level("verbose"), ErrorCode::kUsage, "unknown log level 'verbose'");
  EXPECT_STRATA_ERROR(log::parse_format("xml"), ErrorCode::kUsage, "use text or json");
}

}  // namespace
}  // namespace strata
