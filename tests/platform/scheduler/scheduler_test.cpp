// Windows, jitter, missed fires after downtime and the scheduler pass, all on a ManualClock: no test sleeps.
#include "platform/scheduler/scheduler.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <set>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/time_zone.hpp"

namespace strata {
namespace {

int64_t utc(int y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s = 0) {
  return local_seconds_from_civil(y, mo, d, h, mi, s);
}

ScheduleSpec spec(std::string cron, std::string zone = "UTC", std::string window = "", int64_t jitter = 0) {
  ScheduleSpec s;
  s.source = "db1";
  s.cron = std::move(cron);
  s.zone = std::move(zone);
  s.window = std::move(window);
  s.jitter = jitter;
  return s;
}

std::string error_of(const ScheduleSpec& s) {
  try {
    Schedule::compile(s);
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    return e.what();
  }
  return "(accepted)";
}

TEST(Schedule, UnknownZoneAndMalformedWindowAreRefused) {
  EXPECT_EQ(error_of(spec("0 2 * * *", "America/New_Yrok")),
            "unknown time zone 'America/New_Yrok'; did you mean 'America/New_York'?; use an IANA zone name such as "
            "Europe/Berlin, America/New_York or UTC (timedatectl list-timezones lists them)");
  const std::string how = "; write the start and end on the source's wall clock as HH:MM-HH:MM, e.g. \"01:00-05:00\" "
                          "(it may wrap midnight: \"22:00-04:00\")";
  EXPECT_EQ(error_of(spec("0 2 * * *", "UTC", "1-5")), "window '1-5' is not HH:MM-HH:MM" + how);
  EXPECT_EQ(error_of(spec("0 2 * * *", "UTC", "01:00-05:00x")), "window '01:00-05:00x' is not HH:MM-HH:MM" + how);
  EXPECT_EQ(error_of(spec("0 2 * * *", "UTC", "01:00-25:00")),
            "window '01:00-25:00' has a time that does not exist (hours 00-23, minutes 00-59; the end may be 24:00)" + how);
  EXPECT_EQ(error_of(spec("0 2 * * *", "UTC", "03:00-03:00")),
            "window '03:00-03:00' starts where it ends (to allow any time of day, leave the window out)" + how);
  EXPECT_EQ(error_of(spec("0 2 * * *", "UTC", "00:00-24:00")),
            "window '00:00-24:00' starts where it ends (to allow any time of day, leave the window out)" + how);
  EXPECT_EQ(error_of(spec("0 23 * * *", "UTC", "22:00-24:00")), "(accepted)");
  ScheduleSpec neg = spec("0 2 * * *");
  neg.jitter = -1;
  EXPECT_EQ(error_of(neg), "jitter must not be negative; use 0 for none or a duration like \"10m\"");
}

TEST(Schedule, AWindowTheCronNeverFiresInIsAConfigError) {
  EXPECT_EQ(error_of(spec("0 12 * * *", "Europe/Berlin", "01:00-05:00")),
            "window '01:00-05:00' never opens for cron '0 12 * * *': it fires at 12:00, all outside the window; move "
            "the window or the cron so that they meet (both are on the source's wall clock, Europe/Berlin)");
  EXPECT_EQ(error_of(spec("0 5 * * *", "UTC", "01:00-05:00")),
            "window '01:00-05:00' never opens for cron '0 5 * * *': it fires at 05:00, all outside the window; move "
            "the window or the cron so that they meet (both are on the source's wall clock, UTC)")
      << "the end is exclusive";
  EXPECT_EQ(error_of(spec("0 6-20 * * *", "UTC", "22:00-04:00")),
            "window '22:00-04:00' never opens for cron '0 6-20 * * *': it fires 15 times a day from 06:00 to 20:00, "
            "all outside the window; move the window or the cron so that they meet (both are on the source's wall "
            "clock, UTC)");
  EXPECT_EQ(error_of(spec("0 23 * * *", "UTC", "22:00-04:00")), "(accepted)") << "wraps midnight";
  EXPECT_EQ(error_of(spec("30 3 * * *", "UTC", "22:00-04:00")), "(accepted)");
  EXPECT_EQ(error_of(spec("*/15 * * * *", "UTC", "01:00-01:10")), "(accepted)");
}

TEST(Schedule, FiresOutsideTheWindowAreNotTheSchedulesAndTheDeadlineIsTheWindowsEnd) {
  Schedule s = Schedule::compile(spec("0 */2 * * *", "Europe/Berlin", "22:00-03:00"));
  TimeZone z = s.zone();
  std::vector<std::string> fires;
  int64_t t = utc(2027, 6, 1, 12, 0);
  for (int i = 0; i < 4; ++i) {
    Fire f = s.next_fire(t);
    Occurrence o = s.occurrence(f);
    fires.push_back(z.format(o.fire) + " until " + z.format(o.deadline));
    t = f.at;
  }
  EXPECT_EQ(fires, (std::vector<std::string>{
                       "2027-06-01T22:00:00+02:00 until 2027-06-02T03:00:00+02:00",
                       "2027-06-02T00:00:00+02:00 until 2027-06-02T03:00:00+02:00",
                       "2027-06-02T02:00:00+02:00 until 2027-06-02T03:00:00+02:00",
                       "2027-06-02T22:00:00+02:00 until 2027-06-03T03:00:00+02:00",
                   }));
  Occurrence o = s.occurrence(s.next_fire(t));
  EXPECT_FALSE(o.expired(o.deadline - 1));
  EXPECT_TRUE(o.expired(o.deadline)) << "a job not started by the window's end is missed";
}

TEST(Schedule, WindowEndInAnOverlapIsItsOccurrenceAfterTheFire) {
  // New York 2027-11-07: 01:00-01:59 happens twice. A window ending at 01:30 ends at its first 01:30 for a fire
  // before it, at its second for a fire in the repeated hour.
  Schedule s = Schedule::compile(spec("*/20 * * * *", "America/New_York", "00:00-01:30"));
  TimeZone z = s.zone();
  Fire early = s.next_fire(utc(2027, 11, 7, 4, 0));  // 00:00 EDT
  EXPECT_EQ(z.format(s.occurrence(early).deadline), "2027-11-07T01:30:00-04:00");
  Fire late = s.next_fire(utc(2027, 11, 7, 6, 10));  // 01:20 EST, the second 01:20
  EXPECT_EQ(z.format(late.at), "2027-11-07T01:20:00-05:00");
  EXPECT_EQ(z.format(s.occurrence(late).deadline), "2027-11-07T01:30:00-05:00");
}

// The window only filters: a windowed schedule's fires are exactly the cron's fires whose wall time is in the
// window — the jump to the window's next opening skips nothing, also across gaps, overlaps and midnight.
TEST(Schedule, AWindowFiltersTheCronsFiresAndSkipsNone) {
  const char* zones[] = {"America/New_York", "Australia/Lord_Howe", "America/Santiago", "Europe/London",
                         "Antarctica/Troll", "Asia/Kolkata"};
  const char* crons[] = {"*/10 * * * *", "30 2 * * *", "0 */2 * * *", "15 0-3 * * *", "* 1 * * *", "0 0 * * sun"};
  const char* windows[] = {"01:00-05:00", "22:00-03:00", "00:00-01:30", "02:00-03:00", "23:59-00:01"};
  const int64_t from = utc(2027, 3, 1, 0, 0);
  const int64_t to = utc(2027, 12, 1, 0, 0);
  size_t compared = 0;
  size_t never_open = 0;
  for (const char* zone : zones) {
    for (const char* cron : crons) {
      for (const char* window : windows) {
        SCOPED_TRACE(std::string(zone) + " '" + cron + "' " + window);
        std::optional<Schedule> maybe;
        try {
          maybe = Schedule::compile(spec(cron, zone, window, 5400));
        } catch (const StrataError&) {
          ++never_open;  // the pair does not meet (checked by the test above)
          continue;
        }
        const Schedule& windowed = *maybe;
        Schedule bare = Schedule::compile(spec(cron, zone));
        const Window& w = *windowed.window();
        std::vector<int64_t> expected;
        for (Fire f = bare.next_fire(from); f.at < to; f = bare.next_fire(f.at)) {
          if (w.contains_wall(f.wall)) expected.push_back(f.at);
        }
        std::vector<int64_t> got;
        for (Fire f = windowed.next_fire(from); f.at < to; f = windowed.next_fire(f.at)) {
          got.push_back(f.at);
          // Every occurrence can start: fire <= start < deadline, and the deadline is the window's end on the wall
          // clock (or, for a time DST moved, the time the window gave it), at most the window plus a shift away.
          Occurrence o = windowed.occurrence(f);
          ASSERT_LE(o.fire, o.not_before) << windowed.zone().format(f.at);
          ASSERT_LT(o.not_before, o.deadline) << windowed.zone().format(f.at);
          ASSERT_LE(o.deadline - o.fire, 7 * 3600) << windowed.zone().format(f.at);  // 5 h + Troll's 2 h
          int64_t end_wall = w.end_reading(f.wall);
          bool moved = windowed.zone().to_local_seconds(f.at) != f.wall;
          bool at_end = windowed.zone().to_local_seconds(o.deadline) == end_wall ||
                        windowed.zone().resolve(end_wall).kind == LocalResolution::Kind::kNonexistent;
          ASSERT_TRUE(at_end || (moved && o.deadline == o.fire + (end_wall - f.wall)))
              << windowed.zone().format(f.at) << " until " << windowed.zone().format(o.deadline);
        }
        size_t d = 0;
        while (d < got.size() && d < expected.size() && got[d] == expected[d]) ++d;
        ASSERT_EQ(got, expected) << "first difference #" << d << ": got "
                                 << (d < got.size() ? windowed.zone().format(got[d]) : "(none)") << ", expected "
                                 << (d < expected.size() ? windowed.zone().format(expected[d]) : "(none)");
        compared += got.size();
      }
    }
  }
  EXPECT_GT(compared, 100000u);
  // Per zone: '30 2' misses 2 windows, '15 0-3' 1, '* 1' 2, '0 0 * * sun' 2.
  EXPECT_EQ(never_open, 6u * 7u);
}

TEST(Schedule, AFireTheGapMovedKeepsItsTimeToStart) {
  // New York 2027-03-14: 02:00-02:59 does not exist. 02:30 fires at 03:00 EDT — the end of the window
  // 02:00-03:00 on the wall clock; it keeps the 30 minutes the window gave it.
  Schedule s = Schedule::compile(spec("30 2 * * *", "America/New_York", "02:00-03:00", 3600));
  Occurrence o = s.occurrence(s.next_fire(utc(2027, 3, 14, 0, 0)));
  EXPECT_EQ(s.zone().format(o.fire), "2027-03-14T03:00:00-04:00");
  EXPECT_EQ(s.zone().format(o.deadline), "2027-03-14T03:30:00-04:00");
  EXPECT_GE(o.not_before, o.fire);
  EXPECT_LT(o.not_before, o.deadline) << "the jitter is capped by what is left";
  Occurrence next = s.occurrence(s.next_fire(o.fire));
  EXPECT_EQ(s.zone().format(next.deadline), "2027-03-15T03:00:00-04:00") << "an ordinary day: the window's end";
}

TEST(Schedule, JitterIsDeterministicPerSourceAndStaysInsideTheWindow) {
  std::set<int64_t> offsets;
  for (int i = 0; i < 2000; ++i) {
    ScheduleSpec sp = spec("0 2 * * *", "UTC", "", 1800);
    sp.source = "region-cn/idc-sh1/db" + std::to_string(i);
    Schedule a = Schedule::compile(sp);
    Schedule b = Schedule::compile(sp);
    ASSERT_EQ(a.jitter_offset(), b.jitter_offset());
    ASSERT_GE(a.jitter_offset(), 0);
    ASSERT_LT(a.jitter_offset(), 1800);
    Occurrence o = a.occurrence(a.next_fire(utc(2027, 1, 1, 0, 0)));
    ASSERT_EQ(o.not_before - o.fire, a.jitter_offset());
    offsets.insert(a.jitter_offset());
  }
  EXPECT_GT(offsets.size(), 1000u) << "2,000 sources with '0 2 * * *' do not all start at 02:00:00";
  // Fixed by definition (FNV-1a), the same on every host and build: these numbers must never change.
  EXPECT_EQ(stable_hash(""), 14695981039346656037ull);
  EXPECT_EQ(stable_hash("db1") % 1800, Schedule::compile(spec("0 2 * * *", "UTC", "", 1800)).jitter_offset());
  EXPECT_EQ(stable_hash("db1"), 0xca896918f453f7d6ull);  // computed independently (Python)
  EXPECT_EQ(Schedule::compile(spec("0 2 * * *", "UTC", "", 1800)).jitter_offset(), 1166);
  // Capped by the window: a fire at 04:50 in a window ending at 05:00 starts before 05:00.
  for (int i = 0; i < 500; ++i) {
    ScheduleSpec sp = spec("50 4 * * *", "Asia/Kolkata", "01:00-05:00", 3600);
    sp.source = "db" + std::to_string(i);
    Schedule s = Schedule::compile(sp);
    Occurrence o = s.occurrence(s.next_fire(utc(2027, 1, 1, 0, 0)));
    ASSERT_GE(o.not_before, o.fire);
    ASSERT_LT(o.not_before, o.deadline);
    ASSERT_EQ(o.deadline - o.fire, 600);
  }
}

TEST(Schedule, MissedPolicyNames) {
  EXPECT_EQ(parse_missed_policy("skip"), MissedPolicy::kSkip);
  EXPECT_EQ(parse_missed_policy("once"), MissedPolicy::kOnce);
  try {
    parse_missed_policy("all");
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_STREQ(e.what(), "missed = \"all\" is not a policy; use \"once\" (run the newest missed fire after "
                           "downtime, the default) or \"skip\" (run none)");
  }
}

// The pass over a simulated week of hourly passes on the manual clock: every fire is due exactly once, on time.
TEST(SchedulerPass, ASimulatedWeekFiresEachOccurrenceOnceOnTime) {
  ManualClock clock(utc(2027, 3, 8, 0, 0));
  std::vector<Schedule> schedules;
  std::vector<ScheduleSpec> specs = {spec("*/15 * * * *", "America/New_York"),
                                     spec("30 2 * * *", "America/New_York"),  // 2027-03-14 02:30 is in the gap
                                     spec("0 3 * * 0", "Europe/London")};
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].source = "db" + std::to_string(i);  // one source's schedules at one instant would be one job
    schedules.push_back(Schedule::compile(specs[i]));
  }
  std::vector<ScheduleRow> rows;
  for (const auto& s : schedules) rows.push_back(ScheduleRow{&s, std::nullopt});
  Scheduler scheduler(clock);
  std::vector<std::vector<int64_t>> seen(rows.size());
  for (int step = 0; step < 7 * 24 * 60 * 2 + 10; ++step) {  // every 30 s for a week
    PassResult r = scheduler.pass(rows);
    for (const auto& d : r.due) {
      ASSERT_LE(d.occurrence.fire, clock.now());
      ASSERT_LT(clock.now() - d.occurrence.fire, 30) << "found at the first pass after its time";
      ASSERT_FALSE(d.late);
      seen[d.row].push_back(d.occurrence.fire);
    }
    ASSERT_TRUE(r.missed.empty());
    for (auto [row, next] : r.next_fires) {
      ASSERT_GT(next, clock.now());
      rows[row].next_fire = next;
    }
    clock.advance(30);
  }
  // The same fires as asking the schedule directly.
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<int64_t> expected;
    for (Fire f = schedules[i].next_fire(utc(2027, 3, 8, 0, 0)); f.at <= clock.now() - 30;
         f = schedules[i].next_fire(f.at)) {
      expected.push_back(f.at);
    }
    EXPECT_EQ(seen[i], expected) << i;
  }
  EXPECT_EQ(seen[1].size(), 7u);
  EXPECT_EQ(TimeZone::locate("America/New_York").format(seen[1][6]), "2027-03-14T03:00:00-04:00");
  EXPECT_EQ(seen[2].size(), 1u);
}

TEST(SchedulerPass, NewScheduleStartsFromNowAndIsNotDue) {
  Schedule s = Schedule::compile(spec("0 2 * * *"));
  ScheduleRow row{&s, std::nullopt};
  PassResult r = scheduler_pass(std::span<const ScheduleRow>(&row, 1), utc(2027, 5, 5, 2, 0));
  EXPECT_TRUE(r.due.empty());
  ASSERT_EQ(r.next_fires.size(), 1u);
  EXPECT_EQ(r.next_fires[0].second, utc(2027, 5, 6, 2, 0));
}

// The server was down from Monday 01:00 to Thursday `back` (UTC): daily 02:00 fires on Mon, Tue, Wed, Thu missed.
PassResult after_downtime(MissedPolicy policy, int64_t back, std::string window = "", int64_t catch_up = 86400) {
  static std::vector<std::unique_ptr<Schedule>> keep;
  ScheduleSpec sp = spec("0 2 * * *", "UTC", window);
  sp.missed = policy;
  sp.catch_up = catch_up;
  keep.push_back(std::make_unique<Schedule>(Schedule::compile(sp)));
  ScheduleRow row{keep.back().get(), utc(2027, 5, 3, 2, 0)};
  ManualClock clock(back);
  return Scheduler(clock).pass(std::span<const ScheduleRow>(&row, 1));
}

TEST(SchedulerPass, AfterDowntimeOnceRunsTheNewestMissedFire) {
  PassResult r = after_downtime(MissedPolicy::kOnce, utc(2027, 5, 6, 9, 0));
  ASSERT_EQ(r.due.size(), 1u);
  EXPECT_EQ(r.due[0].occurrence.fire, utc(2027, 5, 6, 2, 0));
  EXPECT_TRUE(r.due[0].late);
  ASSERT_EQ(r.missed.size(), 1u);
  EXPECT_EQ(r.missed[0].reason, MissReason::kCoalesced);
  EXPECT_EQ(r.missed[0].count, 3u);
  EXPECT_EQ(r.missed[0].first, utc(2027, 5, 3, 2, 0));
  EXPECT_EQ(r.missed[0].last, utc(2027, 5, 5, 2, 0));
  ASSERT_EQ(r.next_fires.size(), 1u);
  EXPECT_EQ(r.next_fires[0].second, utc(2027, 5, 7, 2, 0));
}

TEST(SchedulerPass, AfterDowntimeSkipRunsNone) {
  PassResult r = after_downtime(MissedPolicy::kSkip, utc(2027, 5, 6, 9, 0));
  EXPECT_TRUE(r.due.empty());
  ASSERT_EQ(r.missed.size(), 1u);
  EXPECT_EQ(r.missed[0].reason, MissReason::kSkipped);
  EXPECT_EQ(r.missed[0].count, 4u);
  EXPECT_EQ(r.next_fires[0].second, utc(2027, 5, 7, 2, 0));
  // A fire found within kOnTime of its time is on time under skip too.
  PassResult on_time = after_downtime(MissedPolicy::kSkip, utc(2027, 5, 3, 2, 4, 59));
  ASSERT_EQ(on_time.due.size(), 1u);
  EXPECT_FALSE(on_time.due[0].late);
  EXPECT_TRUE(on_time.missed.empty());
}

TEST(SchedulerPass, OnceGivesUpBeyondTheCatchUpWindowAndWhenTheWindowClosed) {
  PassResult old = after_downtime(MissedPolicy::kOnce, utc(2027, 5, 6, 9, 0), "", 6 * 3600);
  EXPECT_TRUE(old.due.empty()) << "the newest missed fire is 7 h old, catch_up 6 h";
  ASSERT_EQ(old.missed.size(), 1u);
  EXPECT_EQ(old.missed[0].reason, MissReason::kTooOld);
  EXPECT_EQ(old.missed[0].count, 4u);
  PassResult closed = after_downtime(MissedPolicy::kOnce, utc(2027, 5, 6, 9, 0), "01:00-05:00");
  EXPECT_TRUE(closed.due.empty()) << "the window of Thursday's 02:00 closed at 05:00";
  ASSERT_EQ(closed.missed.size(), 1u);
  EXPECT_EQ(closed.missed[0].reason, MissReason::kWindowClosed);
  EXPECT_EQ(closed.missed[0].count, 4u);
  PassResult open = after_downtime(MissedPolicy::kOnce, utc(2027, 5, 6, 4, 0), "01:00-05:00");
  ASSERT_EQ(open.due.size(), 1u) << "back at 04:00: Thursday's window is still open";
  EXPECT_EQ(open.due[0].occurrence.deadline, utc(2027, 5, 6, 5, 0));
  EXPECT_TRUE(open.due[0].late);
}

TEST(SchedulerPass, AWeekOfEveryMinuteDowntimeIsOneMissedRecord) {
  ScheduleSpec sp = spec("* * * * *");
  Schedule s = Schedule::compile(sp);
  ScheduleRow row{&s, utc(2027, 5, 1, 0, 0)};
  PassResult r = scheduler_pass(std::span<const ScheduleRow>(&row, 1), utc(2027, 5, 8, 0, 0));
  EXPECT_EQ(r.due.size(), 5u) << "the fires of the last kOnTime seconds are on time";
  ASSERT_EQ(r.missed.size(), 1u);
  EXPECT_EQ(r.missed[0].reason, MissReason::kCoalesced);
  EXPECT_EQ(r.missed[0].count, 7u * 1440 - 5 + 1);
  EXPECT_EQ(r.next_fires[0].second, utc(2027, 5, 8, 0, 1));
}

TEST(SchedulerPass, AFullSupersedesAnIncrementalOfTheSameSourceAtTheSameInstant) {
  ScheduleSpec full = spec("0 3 * * 0");
  full.type = "full";
  ScheduleSpec incr = spec("0 3 * * *");
  incr.type = "incremental";
  ScheduleSpec other = spec("0 3 * * *");
  other.source = "db2";
  other.type = "incremental";
  Schedule a = Schedule::compile(incr);
  Schedule b = Schedule::compile(full);
  Schedule c = Schedule::compile(other);
  std::vector<ScheduleRow> rows = {{&a, utc(2027, 5, 2, 3, 0)}, {&b, utc(2027, 5, 2, 3, 0)}, {&c, utc(2027, 5, 2, 3, 0)}};
  PassResult r = scheduler_pass(rows, utc(2027, 5, 2, 3, 0, 10));  // a Sunday
  ASSERT_EQ(r.due.size(), 2u);
  EXPECT_EQ(r.due[0].row, 1u) << "db1's full";
  EXPECT_EQ(r.due[1].row, 2u) << "db2's incremental";
  ASSERT_EQ(r.missed.size(), 1u);
  EXPECT_EQ(r.missed[0].row, 0u);
  EXPECT_EQ(r.missed[0].reason, MissReason::kSuperseded);
  EXPECT_EQ(r.next_fires.size(), 3u);
}

TEST(SchedulerStore, StoredNextFiresAreKeptUntilTheScheduleChanges) {
  ScheduleSpec daily = spec("0 2 * * *", "Europe/Berlin");
  daily.type = "incremental";
  ScheduleSpec weekly = spec("0 3 * * 0", "Europe/Berlin");
  std::vector<Schedule> v1 = {Schedule::compile(daily), Schedule::compile(weekly)};
  EXPECT_EQ(v1[0].key(), "db1|incremental|0 2 * * *");
  EXPECT_EQ(v1[1].key(), "db1|full|0 3 * * 0");
  EXPECT_EQ(v1[0].fingerprint(), Schedule::compile(daily).fingerprint());
  EXPECT_EQ(v1[0].fingerprint().size(), 16u);
  ScheduleSpec reprioritised = daily;
  reprioritised.priority = 5;
  EXPECT_EQ(Schedule::compile(reprioritised).fingerprint(), v1[0].fingerprint()) << "priority does not move fires";
  std::vector<StoredSchedule> stored = {{v1[0].key(), v1[0].fingerprint(), 111},
                                        {v1[1].key(), v1[1].fingerprint(), 222},
                                        {"db9|full|@daily", "0000000000000000", 333}};
  std::vector<std::string> removed;
  std::vector<ScheduleRow> rows = rows_from_store(v1, stored, &removed);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].next_fire, 111);
  EXPECT_EQ(rows[1].next_fire, 222);
  EXPECT_EQ(removed, (std::vector<std::string>{"db9|full|@daily"}));
  // The zone changed: the stored instant was computed for another wall clock and is dropped.
  ScheduleSpec moved = daily;
  moved.zone = "Asia/Shanghai";
  ScheduleSpec windowed = weekly;
  windowed.window = "01:00-05:00";
  std::vector<Schedule> v2 = {Schedule::compile(moved), Schedule::compile(windowed)};
  rows = rows_from_store(v2, stored);
  EXPECT_EQ(rows[0].next_fire, std::nullopt);
  EXPECT_EQ(rows[1].next_fire, std::nullopt);
}

// Passes at irregular times (mostly every 30 s, sometimes outages of minutes to days): every fire of every
// schedule is accounted for exactly once — queued once or reported missed once — and none runs twice.
TEST(SchedulerPass, EveryFireIsQueuedOrReportedOnceAcrossOutages) {
  std::vector<ScheduleSpec> specs = {spec("*/15 * * * *", "America/New_York"),
                                     spec("30 2 * * *", "Europe/London", "01:00-05:00", 1800),
                                     spec("0 */2 * * *", "Australia/Lord_Howe", "22:00-04:00"),
                                     spec("0 3 * * 0", "America/Santiago"),
                                     spec("*/5 1 * * *", "Asia/Kolkata")};
  specs[1].missed = MissedPolicy::kSkip;
  specs[3].catch_up = 3600;
  std::vector<Schedule> schedules;
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].source = "db" + std::to_string(i);
    schedules.push_back(Schedule::compile(specs[i]));
  }
  const int64_t start = utc(2027, 3, 1, 0, 0);
  const int64_t end = utc(2027, 5, 1, 0, 0);  // the March/April DST changes of both hemispheres
  std::vector<ScheduleRow> rows;
  for (const auto& s : schedules) rows.push_back(ScheduleRow{&s, std::nullopt});
  ManualClock clock(start);
  Scheduler scheduler(clock);
  std::vector<std::set<int64_t>> queued(rows.size());
  std::vector<uint64_t> missed(rows.size(), 0);
  uint64_t x = 88172645463325252ull;  // xorshift64: the same outages every run
  auto next_random = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  size_t late = 0;
  while (clock.now() < end) {
    PassResult r = scheduler.pass(rows);
    std::vector<int> late_in_pass(rows.size(), 0);
    for (const auto& d : r.due) {
      ASSERT_TRUE(queued[d.row].insert(d.occurrence.fire).second) << "queued twice: " << iso_utc(d.occurrence.fire);
      ASSERT_LE(d.occurrence.fire, clock.now());
      ASSERT_FALSE(d.occurrence.expired(clock.now()));
      if (d.late) {
        ASSERT_EQ(specs[d.row].missed, MissedPolicy::kOnce);
        ASSERT_LE(clock.now() - d.occurrence.fire, specs[d.row].catch_up);
        ASSERT_EQ(++late_in_pass[d.row], 1) << "once: at most one late run per schedule and pass";
        ++late;
      } else {
        ASSERT_LT(clock.now() - d.occurrence.fire, kOnTime);
      }
    }
    for (const auto& m : r.missed) {
      ASSERT_TRUE(m.count_exact);
      missed[m.row] += m.count;
    }
    for (auto [row, next] : r.next_fires) rows[row].next_fire = next;
    uint64_t roll = next_random() % 1000;
    int64_t step = roll < 990 ? 30 : roll < 996 ? 60 * static_cast<int64_t>(1 + next_random() % 240)
                                                : 3600 * static_cast<int64_t>(1 + next_random() % 72);
    clock.advance(step);
  }
  // Every fire before each row's stored next fire has been seen by a pass: queued or reported.
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(specs[i].cron);
    uint64_t fires = 0;
    int64_t horizon = *rows[i].next_fire;  // the first fire not yet seen by a pass
    for (Fire f = schedules[i].next_fire(start); f.at < horizon; f = schedules[i].next_fire(f.at)) ++fires;
    EXPECT_EQ(queued[i].size() + missed[i], fires);
    EXPECT_GT(queued[i].size(), 0u);
  }
  EXPECT_GT(late, 0u) << "the outages must have produced late runs";
  EXPECT_GT(std::accumulate(missed.begin(), missed.end(), uint64_t{0}), 0u) << "and missed fires";
}

}  // namespace
}  // namespace strata
