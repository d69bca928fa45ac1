#include "common/time_zone.hpp"

#include <gtest/gtest.h>

#include <ctime>

#include "common/clock.hpp"
#include "common/error.hpp"

namespace strata {
namespace {

int64_t utc(int y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s = 0) {
  return local_seconds_from_civil(y, mo, d, h, mi, s);  // UTC is the zone whose local seconds are UTC seconds
}

std::string error_of(std::string_view zone) {
  try {
    TimeZone::locate(zone);
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    return e.what();
  }
  return "";
}

TEST(TimeZone, UnknownZoneIsOneLineNamingItTheClosestZoneAndWhatToDo) {
  EXPECT_EQ(error_of("Europe/Berln"),
            "unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'?; use an IANA zone name such as "
            "Europe/Berlin, America/New_York or UTC (timedatectl list-timezones lists them)");
  EXPECT_EQ(error_of("Mars/Olympus_Mons"),
            "unknown time zone 'Mars/Olympus_Mons'; use an IANA zone name such as Europe/Berlin, America/New_York or "
            "UTC (timedatectl list-timezones lists them)");
  EXPECT_EQ(error_of(""), "the time zone is empty; use an IANA zone name such as Europe/Berlin or UTC");
  EXPECT_EQ(TimeZone::locate("Asia/Kolkata").name(), "Asia/Kolkata");
}

// Civil arithmetic against the C library's, for every day of 1900-2100 (weekday, day of year, ISO week and year).
TEST(TimeZone, CivilArithmeticAgreesWithTheCLibrary) {
  for (int64_t day = days_from_civil(1900, 1, 1); day <= days_from_civil(2100, 12, 31); ++day) {
    int64_t t = day * 86400 + 13 * 3600 + 7 * 60 + 9;
    time_t tt = static_cast<time_t>(t);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&tt, &tm), nullptr);
    CivilTime c = civil_from_local_seconds(t);
    char iso[32];
    std::strftime(iso, sizeof iso, "%G %V %u", &tm);
    ASSERT_EQ(c.year, tm.tm_year + 1900) << t;
    ASSERT_EQ(c.month, static_cast<unsigned>(tm.tm_mon + 1)) << t;
    ASSERT_EQ(c.day, static_cast<unsigned>(tm.tm_mday)) << t;
    ASSERT_EQ(c.hour, 13u);
    ASSERT_EQ(c.minute, 7u);
    ASSERT_EQ(c.second, 9u);
    ASSERT_EQ(c.weekday, static_cast<unsigned>(tm.tm_wday)) << t;
    ASSERT_EQ(c.yearday, static_cast<unsigned>(tm.tm_yday + 1)) << t;
    ASSERT_EQ(std::to_string(c.iso_year) + " " + (c.iso_week < 10 ? "0" : "") + std::to_string(c.iso_week) + " " +
                  std::to_string(c.iso_weekday),
              iso)
        << t;
    ASSERT_EQ(local_seconds_from_civil(c.year, c.month, c.day, c.hour, c.minute, c.second), t);
    CivilDate d = civil_date_from_days(day);
    ASSERT_EQ(d.year, c.year);
    ASSERT_EQ(d.month, c.month);
    ASSERT_EQ(d.day, c.day);
    ASSERT_EQ(d.weekday, c.weekday);
    ASSERT_EQ(days_in_month(c.year, c.month) >= c.day, true);
  }
  EXPECT_EQ(days_in_month(2028, 2), 29u);
  EXPECT_EQ(days_in_month(2100, 2), 28u);
  EXPECT_EQ(days_in_month(2000, 2), 29u);
  CivilTime new_year = civil_from_local_seconds(utc(2027, 1, 1, 0, 0));
  EXPECT_EQ(new_year.iso_year, 2026);  // 2027-01-01 is a Friday: it belongs to 2026's week 53
  EXPECT_EQ(new_year.iso_week, 53u);
  EXPECT_EQ(format_civil(new_year), "2027-01-01 00:00:00");
}

TEST(TimeZone, NewYorkGapAndOverlapAreExplicit) {
  TimeZone ny = TimeZone::locate("America/New_York");
  // 2027-03-14: 02:00 EST becomes 03:00 EDT at 07:00Z.
  LocalResolution gap = ny.resolve(2027, 3, 14, 2, 30);
  EXPECT_EQ(gap.kind, LocalResolution::Kind::kNonexistent);
  EXPECT_EQ(gap.first, utc(2027, 3, 14, 7, 0)) << "the first valid instant after the gap: 03:00 EDT";
  LocalResolution before = ny.resolve(2027, 3, 14, 1, 59);
  EXPECT_EQ(before.kind, LocalResolution::Kind::kUnique);
  EXPECT_EQ(before.first, utc(2027, 3, 14, 6, 59));
  EXPECT_EQ(ny.resolve(2027, 3, 14, 3, 0).first, utc(2027, 3, 14, 7, 0));
  // 2027-11-07: 02:00 EDT becomes 01:00 EST at 06:00Z; 01:30 happens twice.
  LocalResolution overlap = ny.resolve(2027, 11, 7, 1, 30);
  EXPECT_EQ(overlap.kind, LocalResolution::Kind::kAmbiguous);
  EXPECT_EQ(overlap.first, utc(2027, 11, 7, 5, 30));
  EXPECT_EQ(overlap.second, utc(2027, 11, 7, 6, 30));
  EXPECT_EQ(ny.format(utc(2027, 11, 7, 5, 30)), "2027-11-07T01:30:00-04:00");
  EXPECT_EQ(ny.format(utc(2027, 11, 7, 6, 30)), "2027-11-07T01:30:00-05:00");
  ZonePeriod summer = ny.period_at(utc(2027, 7, 1, 0, 0));
  EXPECT_EQ(summer.begin, utc(2027, 3, 14, 7, 0));
  EXPECT_EQ(summer.end, utc(2027, 11, 7, 6, 0));
  EXPECT_EQ(summer.offset, -4 * 3600);
  EXPECT_TRUE(summer.dst);
  EXPECT_EQ(summer.abbrev, "EDT");
}

TEST(TimeZone, LordHoweShiftsByHalfAnHour) {
  TimeZone lh = TimeZone::locate("Australia/Lord_Howe");
  // 2026-10-04 02:00 +10:30 becomes 02:30 +11 (15:30Z the day before).
  LocalResolution gap = lh.resolve(2026, 10, 4, 2, 15);
  EXPECT_EQ(gap.kind, LocalResolution::Kind::kNonexistent);
  EXPECT_EQ(gap.first, utc(2026, 10, 3, 15, 30));
  EXPECT_EQ(lh.resolve(2026, 10, 4, 2, 30).kind, LocalResolution::Kind::kUnique);
  // 2027-04-04 02:00 +11 becomes 01:30 +10:30 (15:00Z the day before): 01:45 happens twice.
  LocalResolution overlap = lh.resolve(2027, 4, 4, 1, 45);
  EXPECT_EQ(overlap.kind, LocalResolution::Kind::kAmbiguous);
  EXPECT_EQ(overlap.first, utc(2027, 4, 3, 14, 45));
  EXPECT_EQ(overlap.second, utc(2027, 4, 3, 15, 15));
  EXPECT_EQ(lh.format(utc(2027, 4, 3, 15, 15)), "2027-04-04T01:45:00+10:30");
}

TEST(TimeZone, ZonesWithoutDstAndOddOffsets) {
  TimeZone sh = TimeZone::locate("Asia/Shanghai");
  for (int64_t t = utc(2027, 1, 1, 0, 0); t < utc(2028, 1, 1, 0, 0); t += 3600) {
    ASSERT_EQ(sh.offset_at(t), 8 * 3600);
    ASSERT_EQ(sh.resolve(t + 8 * 3600).kind, LocalResolution::Kind::kUnique);
  }
  EXPECT_EQ(TimeZone::locate("Asia/Kolkata").format(utc(2027, 6, 1, 0, 0)), "2027-06-01T05:30:00+05:30");
  EXPECT_EQ(TimeZone::locate("Asia/Kathmandu").format(utc(2027, 6, 1, 0, 0)), "2027-06-01T05:45:00+05:45");
  EXPECT_EQ(TimeZone::locate("Pacific/Chatham").format(utc(2027, 1, 1, 0, 0)), "2027-01-01T13:45:00+13:45");
  EXPECT_EQ(TimeZone::locate("America/St_Johns").format(utc(2027, 1, 1, 12, 0)), "2027-01-01T08:30:00-03:30");
  TimeZone u = TimeZone::utc();
  EXPECT_EQ(u.offset_at(utc(2027, 6, 1, 0, 0)), 0);
  EXPECT_EQ(u.to_local(utc(2027, 6, 1, 4, 5, 6)).hour, 4u);
  EXPECT_EQ(u.format(utc(2027, 6, 1, 4, 5, 6)), "2027-06-01T04:05:06+00:00");
}

TEST(TimeZone, LocalFieldsForRetentionBuckets) {
  TimeZone tokyo = TimeZone::locate("Asia/Tokyo");
  // 2027-01-03 20:00Z is Monday 2027-01-04 05:00 in Tokyo: the first day of ISO week 2027-W01 there, still
  // Sunday (2026-W53) in UTC.
  CivilTime c = tokyo.to_local(utc(2027, 1, 3, 20, 0));
  EXPECT_EQ(format_civil(c), "2027-01-04 05:00:00");
  EXPECT_EQ(c.iso_year, 2027);
  EXPECT_EQ(c.iso_week, 1u);
  EXPECT_EQ(c.iso_weekday, 1u);
  EXPECT_EQ(c.weekday, 1u);
  CivilTime u = TimeZone::utc().to_local(utc(2027, 1, 3, 20, 0));
  EXPECT_EQ(u.iso_year, 2026);
  EXPECT_EQ(u.iso_week, 53u);
  EXPECT_EQ(u.weekday, 0u);
}

TEST(Clock, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(1000);
  const Clock& c = clock;
  EXPECT_EQ(c.now(), 1000);
  clock.advance(59);
  EXPECT_EQ(c.now(), 1059);
  clock.set(5);
  EXPECT_EQ(c.now(), 5);
  int64_t before = now_epoch();
  EXPECT_GE(SystemClock::instance().now(), before);
}

}  // namespace
}  // namespace strata
