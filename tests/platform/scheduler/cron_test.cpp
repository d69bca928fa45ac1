#include "platform/scheduler/cron.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "common/time_zone.hpp"

namespace strata {
namespace {

std::string error_of(const std::string& spec) {
  try {
    CronSpec::parse(spec);
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage) << spec;
    return e.what();
  }
  return "(accepted)";
}

int64_t at(int y, unsigned mo, unsigned d, unsigned h, unsigned mi) { return local_seconds_from_civil(y, mo, d, h, mi); }

bool matches(const CronSpec& c, int y, unsigned mo, unsigned d, unsigned h, unsigned mi) {
  return c.matches(civil_from_local_seconds(at(y, mo, d, h, mi)));
}

TEST(Cron, ListsRangesStepsAndNames) {
  CronSpec c = CronSpec::parse("5,10-12,20-40/10 */6 1 jan-mar,DEC mon-wed");
  for (unsigned m : {5u, 10u, 11u, 12u, 20u, 30u, 40u}) EXPECT_TRUE(c.matches_minute(0, m)) << m;
  for (unsigned m : {0u, 6u, 13u, 25u, 50u}) EXPECT_FALSE(c.matches_minute(0, m)) << m;
  for (unsigned h : {0u, 6u, 12u, 18u}) EXPECT_TRUE(c.matches_minute(h, 5)) << h;
  EXPECT_FALSE(c.matches_minute(5, 5));
  EXPECT_TRUE(c.wildcard()) << "the hour field starts with '*'";
  // 2027-01-01 is a Friday: day 1 matches (both day fields restricted: either one).
  EXPECT_TRUE(matches(c, 2027, 1, 1, 6, 10));
  EXPECT_TRUE(matches(c, 2027, 1, 4, 6, 10)) << "a Monday";
  EXPECT_FALSE(matches(c, 2027, 1, 7, 6, 10)) << "a Thursday, not the 1st";
  EXPECT_FALSE(matches(c, 2027, 4, 1, 6, 10)) << "April is not listed";
  EXPECT_TRUE(matches(c, 2027, 12, 1, 6, 10));
}

TEST(Cron, SundayIsZeroAndSeven) {
  CronSpec a = CronSpec::parse("0 3 * * 0");
  CronSpec b = CronSpec::parse("0 3 * * 7");
  CronSpec c = CronSpec::parse("0 3 * * 5-7");
  EXPECT_TRUE(matches(a, 2027, 1, 3, 3, 0));  // a Sunday
  EXPECT_TRUE(matches(b, 2027, 1, 3, 3, 0));
  EXPECT_TRUE(matches(c, 2027, 1, 3, 3, 0));
  EXPECT_TRUE(matches(c, 2027, 1, 1, 3, 0));   // Friday
  EXPECT_FALSE(matches(c, 2027, 1, 4, 3, 0));  // Monday
  EXPECT_FALSE(a.wildcard());
}

TEST(Cron, DayFieldsFollowVixie) {
  // Both restricted: either. One starting with '*' (even "*/2"): both.
  CronSpec either = CronSpec::parse("0 0 13 * fri");
  EXPECT_TRUE(matches(either, 2027, 1, 13, 0, 0));  // a Wednesday the 13th
  EXPECT_TRUE(matches(either, 2027, 1, 15, 0, 0));  // a Friday the 15th
  CronSpec both = CronSpec::parse("0 0 */2 * fri");
  EXPECT_TRUE(matches(both, 2027, 1, 1, 0, 0));    // Friday the 1st (odd day)
  EXPECT_FALSE(matches(both, 2027, 1, 8, 0, 0));   // Friday the 8th
  EXPECT_FALSE(matches(both, 2027, 1, 3, 0, 0));   // Sunday the 3rd
  CronSpec dom_only = CronSpec::parse("0 0 13 * *");
  EXPECT_FALSE(matches(dom_only, 2027, 1, 15, 0, 0));
}

TEST(Cron, MacrosExpandLikeVixie) {
  EXPECT_TRUE(CronSpec::parse("@hourly").wildcard());
  EXPECT_FALSE(CronSpec::parse("@daily").wildcard());
  EXPECT_TRUE(matches(CronSpec::parse("@weekly"), 2027, 1, 3, 0, 0));
  EXPECT_TRUE(matches(CronSpec::parse("@monthly"), 2027, 5, 1, 0, 0));
  EXPECT_TRUE(matches(CronSpec::parse("@yearly"), 2028, 1, 1, 0, 0));
  EXPECT_TRUE(matches(CronSpec::parse("@annually"), 2028, 1, 1, 0, 0));
  EXPECT_TRUE(matches(CronSpec::parse("@midnight"), 2028, 7, 9, 0, 0));
  EXPECT_EQ(CronSpec::parse("  @Daily ").text(), "@Daily");
}

TEST(Cron, NextMatchFindsTheFirstMinuteAtOrAfter) {
  CronSpec c = CronSpec::parse("30 2 * * *");
  EXPECT_EQ(c.next_match(at(2027, 1, 1, 2, 30), at(2028, 1, 1, 0, 0)), at(2027, 1, 1, 2, 30));
  EXPECT_EQ(c.next_match(at(2027, 1, 1, 2, 30) + 1, at(2028, 1, 1, 0, 0)), at(2027, 1, 2, 2, 30));
  EXPECT_EQ(c.next_match(at(2027, 1, 1, 0, 0), at(2027, 1, 1, 2, 30)), std::nullopt) << "the limit is exclusive";
  CronSpec leap = CronSpec::parse("0 0 29 2 *");
  EXPECT_EQ(leap.next_match(at(2028, 3, 1, 0, 0), at(2040, 1, 1, 0, 0)), at(2032, 2, 29, 0, 0));
  EXPECT_EQ(leap.next_match(at(2096, 3, 1, 0, 0), at(2110, 1, 1, 0, 0)), at(2104, 2, 29, 0, 0))
      << "2100 is not a leap year";
}

TEST(Cron, MalformedSpecsNameTheFieldAndTheRule) {
  EXPECT_EQ(error_of("0 2 * *"),
            "cron '0 2 * *' has 4 fields; a cron has 5 fields: minute hour day-of-month month day-of-week (or "
            "@hourly, @daily, @weekly, @monthly, @yearly)");
  EXPECT_EQ(error_of("0 0 2 * * *"),
            "cron '0 0 2 * * *' has 6 fields; a cron has 5 fields: minute hour day-of-month month day-of-week (or "
            "@hourly, @daily, @weekly, @monthly, @yearly)");
  EXPECT_EQ(error_of(""), "the cron is empty; a cron has 5 fields: minute hour day-of-month month day-of-week (or "
                          "@hourly, @daily, @weekly, @monthly, @yearly)");
  EXPECT_EQ(error_of("0 25 * * *"),
            "cron '0 25 * * *': hour '25' is out of range; hour takes 0-23, lists (1,15), ranges (1-5) and steps "
            "(*/10, 8-18/2)");
  EXPECT_EQ(error_of("60 2 * * *"),
            "cron '60 2 * * *': minute '60' is out of range; minute takes 0-59, lists (1,15), ranges (1-5) and steps "
            "(*/10, 8-18/2)");
  EXPECT_EQ(error_of("0 2 0 * *"),
            "cron '0 2 0 * *': day-of-month '0' is out of range; day-of-month takes 1-31, lists (1,15), ranges (1-5) "
            "and steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of("0 2 * 13 *"),
            "cron '0 2 * 13 *': month '13' is out of range; month takes 1-12 or jan-dec, lists (1,15), ranges (1-5) "
            "and steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of("0 2 * * 8"),
            "cron '0 2 * * 8': day-of-week '8' is out of range; day-of-week takes 0-7 (0 and 7 are Sunday) or "
            "sun-sat, lists (1,15), ranges (1-5) and steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of("0 2 * * fir"),
            "cron '0 2 * * fir': day-of-week 'fir' is not a number or a name; did you mean 'fri'?; day-of-week takes "
            "0-7 (0 and 7 are Sunday) or sun-sat");
  EXPECT_EQ(error_of("0 2 * jna *"),
            "cron '0 2 * jna *': month 'jna' is not a number or a name; did you mean 'jan'?; month takes 1-12 or "
            "jan-dec");
  EXPECT_EQ(error_of("x 2 * * *"),
            "cron 'x 2 * * *': minute 'x' is not a number; minute takes 0-59, lists (1,15), ranges (1-5) and steps "
            "(*/10, 8-18/2)");
  EXPECT_EQ(error_of("*/0 * * * *"),
            "cron '*/0 * * * *': minute '*/0' has a step of 0 (a step is 1 or more); minute takes 0-59, lists (1,15), "
            "ranges (1-5) and steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of("5/15 * * * *"),
            "cron '5/15 * * * *': minute '5/15' steps from a single value (write a range: 5-59/15, or */15); minute "
            "takes 0-59, lists (1,15), ranges (1-5) and steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of("0 22-2 * * *"),
            "cron '0 22-2 * * *': hour '22-2' runs backwards (a range goes from low to high; split it, e.g. "
            "22-23,0-2); hour takes 0-23, lists (1,15), ranges (1-5) and steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of("0 1,,2 * * *"),
            "cron '0 1,,2 * * *': hour '1,,2' has an empty list element; hour takes 0-23, lists (1,15), ranges (1-5) "
            "and steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of("0 1-/2 * * *"),
            "cron '0 1-/2 * * *': hour '1-/2' has an empty value; hour takes 0-23, lists (1,15), ranges (1-5) and "
            "steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of("0 */x * * *"),
            "cron '0 */x * * *': hour '*/x' has a step that is not a whole number; hour takes 0-23, lists (1,15), "
            "ranges (1-5) and steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of("@dialy"), "cron '@dialy' is not a known macro; did you mean '@daily'?; macros are @hourly, "
                                "@daily (@midnight), @weekly, @monthly, @yearly (@annually)");
  EXPECT_EQ(error_of("@reboot"),
            "cron '@reboot' is not a known macro (a backup schedule needs times, not a boot event); macros are "
            "@hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually)");
  EXPECT_EQ(error_of("99999999999 * * * *"),
            "cron '99999999999 * * * *': minute '99999999999' is out of range; minute takes 0-59, lists (1,15), "
            "ranges (1-5) and steps (*/10, 8-18/2)");
}

TEST(Cron, ASpecThatCanNeverFireIsRefused) {
  const std::string tail =
      " never fires: no month it names has the day of month it names; check the day-of-month and month fields "
      "(February has 29 days at most, April, June, September and November 30)";
  EXPECT_EQ(error_of("0 0 30 2 *"), "cron '0 0 30 2 *'" + tail);
  EXPECT_EQ(error_of("0 0 31 4,6,9,11 *"), "cron '0 0 31 4,6,9,11 *'" + tail);
  EXPECT_EQ(error_of("0 0 31 apr *"), "cron '0 0 31 apr *'" + tail);
  EXPECT_EQ(error_of("0 0 29 2 *"), "(accepted)") << "February 29 comes every four years";
  EXPECT_EQ(error_of("0 0 30 2 mon"), "(accepted)") << "both day fields restricted: every Monday of February";
}

TEST(Cron, DescribesItsTimesForMessages) {
  EXPECT_EQ(CronSpec::parse("30 2 * * *").describe_times(), "at 02:30");
  EXPECT_EQ(CronSpec::parse("0 0,12 * * *").describe_times(), "at 00:00, 12:00");
  EXPECT_EQ(CronSpec::parse("*/15 * * * *").describe_times(), "96 times a day from 00:00 to 23:45");
  EXPECT_TRUE(CronSpec::parse("0 9-17 * * *").any_minute_of_day(17 * 60, 18 * 60));
  EXPECT_FALSE(CronSpec::parse("0 9-17 * * *").any_minute_of_day(17 * 60 + 1, 18 * 60));
}

}  // namespace
}  // namespace strata
