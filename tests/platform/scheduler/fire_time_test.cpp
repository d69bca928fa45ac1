// The fire times of a set of cron specs over a simulated year in 26 zones, against an independent brute-force
// reference: walk every UTC minute, read the wall clock with the C library (TZ=zone, glibc's own reading of
// /usr/share/zoneinfo), and apply Vixie cron's rules directly — a fixed job fires at the first occurrence of each
// matching wall minute, and at the end of a gap for a matching minute the gap skipped; a wildcard job fires at
// every instant whose wall minute matches. Each spec's matching is a hand-written predicate, not the parser.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <cctype>
#include <string>
#include <vector>

#include "common/time_zone.hpp"
#include "platform/scheduler/cron.hpp"
#include "platform/scheduler/fire_time.hpp"

namespace strata {
namespace {

struct Wall {
  int year, month, mday, hour, min, wday;
};

struct Case {
  const char* cron;
  bool wildcard;  // Vixie: minute or hour field starts with '*'
  bool (*match)(const Wall&);  // a plain function: the reference calls it ~10M times per zone
};

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"30 2 * * *", false, [](const Wall& w) { return w.hour == 2 && w.min == 30; }},
      {"0 1 * * *", false, [](const Wall& w) { return w.hour == 1 && w.min == 0; }},
      {"*/15 * * * *", true, [](const Wall& w) { return w.min % 15 == 0; }},
      {"0 */2 * * *", true, [](const Wall& w) { return w.min == 0 && w.hour % 2 == 0; }},
      {"0 3 * * 0", false, [](const Wall& w) { return w.hour == 3 && w.min == 0 && w.wday == 0; }},
      {"0 0 31 * *", false, [](const Wall& w) { return w.hour == 0 && w.min == 0 && w.mday == 31; }},
      {"0 0 29 2 *", false, [](const Wall& w) { return w.hour == 0 && w.min == 0 && w.mday == 29 && w.month == 2; }},
      // Both day fields restricted: either may match (Vixie).
      {"15 2 1,15 * mon", false,
       [](const Wall& w) { return w.hour == 2 && w.min == 15 && (w.mday == 1 || w.mday == 15 || w.wday == 1); }},
      // A day field starting with '*' makes both required.
      {"0 0 */10 * 5", false,
       [](const Wall& w) { return w.hour == 0 && w.min == 0 && (w.mday - 1) % 10 == 0 && w.wday == 5; }},
      {"0 0 * * sun", false, [](const Wall& w) { return w.hour == 0 && w.min == 0 && w.wday == 0; }},
      {"45 23 * * *", false, [](const Wall& w) { return w.hour == 23 && w.min == 45; }},
      {"*/30 1-3 * * *", true, [](const Wall& w) { return w.min % 30 == 0 && w.hour >= 1 && w.hour <= 3; }},
      {"0 2-3 * * *", false, [](const Wall& w) { return w.min == 0 && (w.hour == 2 || w.hour == 3); }},
      {"5,35 0-4 * * *", false, [](const Wall& w) { return (w.min == 5 || w.min == 35) && w.hour <= 4; }},
      {"30 3 * * *", false, [](const Wall& w) { return w.hour == 3 && w.min == 30; }},
      {"@hourly", true, [](const Wall& w) { return w.min == 0; }},
      {"0 12 * jan-mar,oct-dec 1-5", false,
       [](const Wall& w) { return w.hour == 12 && w.min == 0 && (w.month <= 3 || w.month >= 10) && w.wday >= 1 && w.wday <= 5; }},
      {"59 23 28-31 * *", false,
       [](const Wall& w) { return w.hour == 23 && w.min == 59 && w.mday >= 28; }},
      {"*/7 22-23 * * *", true, [](const Wall& w) { return w.min % 7 == 0 && w.hour >= 22; }},
      {"0 0 1 */3 *", false, [](const Wall& w) { return w.hour == 0 && w.min == 0 && w.mday == 1 && (w.month - 1) % 3 == 0; }},
  };
  (void)leap;
  return c;
}

const char* const kZones[] = {
    "America/New_York", "Europe/London",     "Australia/Lord_Howe", "America/Santiago",   "Asia/Shanghai",
    "Asia/Kolkata",     "Pacific/Chatham",   "America/St_Johns",    "Europe/Moscow",      "Africa/Casablanca",
    "Asia/Tehran",      "Pacific/Apia",      "UTC",                 "Europe/Berlin",      "America/Los_Angeles",
    "Australia/Sydney", "America/Havana",    "Asia/Gaza",           "Pacific/Auckland",   "Africa/Cairo",
    "Asia/Jerusalem",   "Europe/Dublin",     "America/Nuuk",        "Antarctica/Troll",   "America/Asuncion",
    "Asia/Kathmandu",
};

// One UTC minute as the C library reads it in the zone.
struct Minute {
  int64_t utc;
  int64_t wall;  // local seconds: utc + the offset in force
  Wall fields;
};

Wall fields_of_wall(int64_t wall) {
  time_t t = static_cast<time_t>(wall);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return Wall{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_wday};
}

class ScopedTz {
 public:
  explicit ScopedTz(const char* zone) {
    if (const char* old = getenv("TZ")) old_ = old, had_ = true;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~ScopedTz() {
    if (had_) setenv("TZ", old_.c_str(), 1);
    else unsetenv("TZ");
    tzset();
  }

 private:
  std::string old_;
  bool had_ = false;
};

std::vector<Minute> walk(const char* zone, int64_t from, int64_t to) {
  ScopedTz tz(zone);
  std::vector<Minute> out;
  out.reserve(static_cast<size_t>((to - from) / 60));
  for (int64_t t = from; t < to; t += 60) {
    time_t tt = static_cast<time_t>(t);
    std::tm tm{};
    localtime_r(&tt, &tm);
    out.push_back(Minute{t, t + tm.tm_gmtoff,
                         Wall{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_wday}});
  }
  return out;
}

// Vixie's rules, applied to the minute walk.
std::vector<int64_t> reference(const Case& c, const std::vector<Minute>& minutes, int64_t from, int64_t to) {
  std::vector<int64_t> fires;
  int64_t highest = INT64_MIN;  // the latest wall minute seen: a fixed job fires only at a first occurrence
  for (size_t i = 0; i < minutes.size(); ++i) {
    const Minute& m = minutes[i];
    bool fire = false;
    if (c.wildcard) {
      fire = c.match(m.fields);
    } else {
      if (m.wall > highest && c.match(m.fields)) fire = true;
      if (i > 0 && m.wall - minutes[i - 1].wall > 60) {  // the clock jumped forward: minutes it skipped
        for (int64_t w = minutes[i - 1].wall + 60; w < m.wall && !fire; w += 60) {
          if (w > highest && c.match(fields_of_wall(w))) fire = true;
        }
      }
      highest = std::max(highest, m.wall);
    }
    if (fire && m.utc >= from && m.utc < to) fires.push_back(m.utc);
  }
  return fires;
}

std::string show(const TimeZone& zone, const std::vector<int64_t>& v, size_t i) {
  return i < v.size() ? zone.format(v[i]) : std::string("(none)");
}

const int64_t kFrom = local_seconds_from_civil(2027, 6, 1, 0, 0);  // 2027-06-01 .. 2028-06-01: both hemispheres'
const int64_t kTo = local_seconds_from_civil(2028, 6, 1, 0, 0);    // DST changes and February 29

// One test per zone (26), so that each stays short under the sanitizers and they run in parallel under ctest.
class FireTimesInZone : public ::testing::TestWithParam<const char*> {};

TEST_P(FireTimesInZone, SimulatedYearMatchesTheBruteForceReference) {
  const char* zone_name = GetParam();
  const int64_t margin = 3 * 86400;  // the reference needs history before `from` (first occurrences, gaps)
  TimeZone zone = TimeZone::locate(zone_name);
  std::vector<Minute> minutes = walk(zone_name, kFrom - margin, kTo + margin);
  // Our reading of the zone agrees with the C library's.
  for (size_t i = 0; i < minutes.size(); i += 7) {
    ASSERT_EQ(zone.to_local_seconds(minutes[i].utc), minutes[i].wall) << zone.format(minutes[i].utc);
  }
  size_t checked = 0;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.cron);
    CronSpec cron = CronSpec::parse(c.cron);
    ASSERT_EQ(cron.wildcard(), c.wildcard);
    std::vector<int64_t> expected = reference(c, minutes, kFrom, kTo);
    std::vector<int64_t> got;
    for (Fire f = next_fire(cron, zone, kFrom - 1); f.at < kTo; f = next_fire(cron, zone, f.at)) {
      ASSERT_TRUE(cron.matches(civil_from_local_seconds(f.wall))) << zone.format(f.at);
      got.push_back(f.at);
    }
    size_t first_diff = 0;
    while (first_diff < got.size() && first_diff < expected.size() && got[first_diff] == expected[first_diff]) {
      ++first_diff;
    }
    ASSERT_EQ(got.size(), expected.size()) << "first difference at #" << first_diff << ": got "
                                           << show(zone, got, first_diff) << ", expected "
                                           << show(zone, expected, first_diff);
    ASSERT_EQ(got, expected) << "first difference at #" << first_diff << ": got " << show(zone, got, first_diff)
                             << ", expected " << show(zone, expected, first_diff);
    checked += got.size();
  }
  EXPECT_GT(checked, 40000u);
}

std::string zone_test_name(const ::testing::TestParamInfo<const char*>& info) {
  std::string name = info.param;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(FireTimes, FireTimesInZone, ::testing::ValuesIn(kZones), zone_test_name);

// The zones are the ones that matter: 26 of them, most with a gap and an overlap in the simulated year.
TEST(FireTimes, TheZonesHoldGapsAndOverlapsInTheYear) {
  size_t zones = 0;
  size_t gaps = 0;
  size_t overlaps = 0;
  for (const char* name : kZones) {
    TimeZone z = TimeZone::locate(name);
    ++zones;
    for (ZonePeriod p = z.period_at(kFrom); p.end < kTo; p = z.period_at(p.end)) {
      int32_t next = z.offset_at(p.end);
      gaps += next > p.offset;
      overlaps += next < p.offset;
    }
  }
  EXPECT_EQ(zones, 26u);
  EXPECT_GE(gaps, 15u) << "the year must hold spring-forward gaps";
  EXPECT_GE(overlaps, 15u) << "and fall-back overlaps";
}

int64_t utc(int y, unsigned mo, unsigned d, unsigned h, unsigned mi) { return local_seconds_from_civil(y, mo, d, h, mi); }

// The rules on the days that matter, spelled out (the year test finds them; these say what they are).
TEST(FireTimes, FixedTimeInAGapFiresOnceAtTheFirstInstantAfterIt) {
  TimeZone ny = TimeZone::locate("America/New_York");
  CronSpec c = CronSpec::parse("30 2 * * *");
  Fire f = next_fire(c, ny, utc(2028, 3, 12, 0, 0));  // 2028-03-12: 02:00 EST -> 03:00 EDT (07:00Z)
  EXPECT_EQ(ny.format(f.at), "2028-03-12T03:00:00-04:00");
  EXPECT_EQ(format_civil(civil_from_local_seconds(f.wall)), "2028-03-12 02:30:00");
  EXPECT_EQ(ny.format(next_fire(c, ny, f.at).at), "2028-03-13T02:30:00-04:00");
  TimeZone lh = TimeZone::locate("Australia/Lord_Howe");  // 2027-10-03 02:00 -> 02:30
  EXPECT_EQ(lh.format(next_fire(CronSpec::parse("15 2 * * *"), lh, utc(2027, 10, 2, 10, 0)).at),
            "2027-10-03T02:30:00+11:00");
  EXPECT_EQ(lh.format(next_fire(CronSpec::parse("30 2 * * *"), lh, utc(2027, 10, 2, 10, 0)).at),
            "2027-10-03T02:30:00+11:00");
}

TEST(FireTimes, FixedTimeInAnOverlapFiresOnceWildcardFiresInBoth) {
  TimeZone ny = TimeZone::locate("America/New_York");  // 2027-11-07: 02:00 EDT -> 01:00 EST (06:00Z)
  CronSpec fixed = CronSpec::parse("30 1 * * *");
  Fire f = next_fire(fixed, ny, utc(2027, 11, 7, 0, 0));
  EXPECT_EQ(ny.format(f.at), "2027-11-07T01:30:00-04:00");
  EXPECT_EQ(ny.format(next_fire(fixed, ny, f.at).at), "2027-11-08T01:30:00-05:00");
  CronSpec wild = CronSpec::parse("30 * * * *");
  Fire a = next_fire(wild, ny, utc(2027, 11, 7, 5, 0));
  Fire b = next_fire(wild, ny, a.at);
  EXPECT_EQ(ny.format(a.at), "2027-11-07T01:30:00-04:00");
  EXPECT_EQ(ny.format(b.at), "2027-11-07T01:30:00-05:00");
  // In the gap a wildcard skips the missing wall times: 01:30 EST, then 03:30 EDT.
  Fire g = next_fire(wild, ny, utc(2028, 3, 12, 6, 30));
  EXPECT_EQ(ny.format(g.at), "2028-03-12T03:30:00-04:00");
}

TEST(FireTimes, SantiagoMidnightGapMovesSundayMidnightToOneOClock) {
  // America/Santiago springs forward at 24:00 on the first Saturday of September: Sunday 00:00-00:59 never happens.
  TimeZone scl = TimeZone::locate("America/Santiago");
  Fire f = next_fire(CronSpec::parse("0 0 * * sun"), scl, utc(2027, 9, 4, 12, 0));
  EXPECT_EQ(scl.format(f.at), "2027-09-05T01:00:00-03:00");
  EXPECT_EQ(civil_from_local_seconds(f.wall).weekday, 0u);
}

TEST(FireTimes, TrollsTwoHourShift) {
  // Antarctica/Troll moves between +00 and +02: a two-hour gap at 01:00 UTC on the last Sunday of March.
  TimeZone troll = TimeZone::locate("Antarctica/Troll");
  CronSpec c = CronSpec::parse("30 1 * * *");
  Fire f = next_fire(c, troll, utc(2028, 3, 26, 0, 0));
  EXPECT_EQ(troll.format(f.at), "2028-03-26T03:00:00+02:00");
}

}  // namespace
}  // namespace strata
