// Hermetic tests of the timeline arithmetic the restore's pre-checks use (issue 11, items 2 and 3): history files,
// which timeline's copy of a segment recovery reads, gaps along a timeline path, and --target-timeline / target time
// parsing.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "engines/postgres/recovery.hpp"
#include "engines/postgres/timeline.hpp"
#include "engines/postgres/wal.hpp"

namespace strata::pg {
namespace {

constexpr uint64_t k16 = 16u << 20;

TEST(PgTimeline, HistoryFileGivesThePathToItsTimeline) {
  EXPECT_EQ(history_file_name(2), "00000002.history");
  EXPECT_EQ(history_file_name(0x1A), "0000001A.history");
  auto path = parse_history(3, "1\t0/5000060\tno recovery target specified\n\n2\t0/9000000\tat restore point \"x\"\n");
  ASSERT_EQ(path.size(), 3u);
  EXPECT_EQ(path[0].tli, 1u);
  EXPECT_EQ(path[0].begin, 0u);
  EXPECT_EQ(path[0].end, 0x5000060u);
  EXPECT_EQ(path[1].tli, 2u);
  EXPECT_EQ(path[1].begin, 0x5000060u);
  EXPECT_EQ(path[2].tli, 3u);
  EXPECT_EQ(path[2].end, kNoEnd);
  EXPECT_EQ(timeline_of_point(path, 0x4000000), 1u);
  EXPECT_EQ(timeline_of_point(path, 0x5000060), 2u);
  EXPECT_EQ(timeline_of_point(path, 0xA000000), 3u);
  EXPECT_EQ(describe_path(path), "1 -> 2 (forked at 0/5000060) -> 3 (forked at 0/9000000)");
  EXPECT_THROW(parse_history(2, "x\t0/1\tjunk\n"), StrataError);
  EXPECT_THROW(parse_history(2, "3\t0/1\tchild listed as parent\n"), StrataError);
}

TEST(PgTimeline, SegmentsAreReadFromTheNewestTimelineThatHadBegun) {
  auto path = parse_history(2, "1\t0/5000060\treason\n");
  EXPECT_EQ(timeline_for_segment(path, 4, k16), 1u);
  EXPECT_EQ(timeline_for_segment(path, 5, k16), 2u);  // the switch segment comes from the new timeline
  EXPECT_EQ(timeline_for_segment(path, 9, k16), 2u);
}

TEST(PgTimeline, PlanFollowsThePathAndIgnoresTheOldTimelineAfterTheFork) {
  auto path = parse_history(2, "1\t0/5000060\treason\n");
  WalInventory inv;
  inv.segment_size = k16;
  inv.segments[1] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11};  // the old primary kept going on timeline 1
  inv.segments[2] = {5, 6, 7};
  auto plan = plan_wal(inv, path, 3);
  ASSERT_TRUE(plan.last);
  EXPECT_EQ(*plan.last, 7u);
  EXPECT_EQ(plan.last_tli, 2u);
  EXPECT_EQ(plan.reach, 7u);
  EXPECT_FALSE(plan.missing);

  // A gap on timeline 2 is a gap, even though timeline 1 has a segment with that number.
  inv.segments[2] = {5, 7};
  plan = plan_wal(inv, path, 3);
  EXPECT_EQ(plan.reach, 5u);
  ASSERT_TRUE(plan.missing);
  EXPECT_EQ(*plan.missing, 6u);
  EXPECT_EQ(plan.missing_tli, 2u);

  // So is a missing switch segment: timeline 1's copy holds timeline 1's WAL after the fork.
  inv.segments[2] = {6, 7};
  plan = plan_wal(inv, path, 3);
  EXPECT_EQ(plan.reach, 4u);
  ASSERT_TRUE(plan.missing);
  EXPECT_EQ(*plan.missing, 5u);

  // On timeline 1 alone the same archive is complete up to 11.
  plan = plan_wal(inv, single_timeline(1), 3);
  EXPECT_EQ(*plan.last, 11u);
  EXPECT_EQ(plan.reach, 11u);
  EXPECT_FALSE(plan.missing);

  // Nothing archived after the backup.
  WalInventory empty;
  plan = plan_wal(empty, single_timeline(1), 3);
  EXPECT_FALSE(plan.last);
  EXPECT_EQ(plan.reach, 2u);
}

TEST(PgTimeline, TargetTimelineResolvesLikePostgres) {
  EXPECT_EQ(parse_timeline_target("").conf_value(), "latest");
  EXPECT_EQ(parse_timeline_target("current").conf_value(), "current");
  EXPECT_EQ(parse_timeline_target("12").conf_value(), "12");
  for (const char* bad : {"0", "-1", "2x", "0x2", "newest"}) EXPECT_THROW(parse_timeline_target(bad), StrataError) << bad;

  std::map<uint32_t, std::string> histories = {{2, "1\t0/5000060\tr\n"}, {3, "1\t0/7000000\tr\n"}};
  auto has = [&](uint32_t t) { return histories.count(t) > 0; };
  auto read = [&](uint32_t t) { return histories.at(t); };
  // latest probes 2, 3, 4...: timeline 3 forked from 1 too, later.
  auto latest = resolve_timeline_path(1, parse_timeline_target("latest"), has, read);
  EXPECT_EQ(latest.back().tli, 3u);
  EXPECT_EQ(latest.size(), 2u);
  EXPECT_EQ(resolve_timeline_path(1, parse_timeline_target("current"), has, read).back().tli, 1u);
  EXPECT_EQ(resolve_timeline_path(1, parse_timeline_target("2"), has, read).back().tli, 2u);
  EXPECT_THROW(resolve_timeline_path(1, parse_timeline_target("4"), has, read), StrataError);

  // A backup that ended on timeline 1 after timeline 3 left it is not in 3's history.
  EXPECT_TRUE(backup_on_path(latest, 1, 0x2000028, 1, 0x2000100));
  EXPECT_FALSE(backup_on_path(latest, 1, 0x7100028, 1, 0x7200000));
  EXPECT_FALSE(backup_on_path(latest, 1, 0x6FFFF00, 1, 0x7000100));  // ends after the fork
}

TEST(PgTimeline, TargetTimeKeepsItsFractionOfASecond) {
  EXPECT_EQ(parse_target_time_us("2026-11-21 05:43:00+00"), 1795239780LL * 1000000);
  EXPECT_EQ(parse_target_time_us("2026-11-21 05:43:00.25+00"), 1795239780LL * 1000000 + 250000);
  EXPECT_EQ(parse_target_time_us("2026-11-21 07:43:00.123456789+02"), 1795239780LL * 1000000 + 123456);
  EXPECT_THROW(parse_target_time_us("2026-11-21 05:43:00"), StrataError);  // no zone: the server's TimeZone decides
  EXPECT_EQ(restore_log_path("/srv/pg-restore/"), "/srv/pg-restore.strata-restore.log");
}

}  // namespace
}  // namespace strata::pg
