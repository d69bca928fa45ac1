// Hand-written cases for each retention rule, with the exact expected verdicts and reasons (docs/RETENTION.md).
#include "platform/retention/planner.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace strata::retention {
namespace {

// 2026-11-30T12:00:00Z, a Monday.
constexpr int64_t kMon = 1796040000;
constexpr int64_t kH = 3600, kD = 86400;

BackupInfo full(const std::string& id, int64_t start, int64_t dur = 600) {
  BackupInfo b;
  b.id = id;
  b.kind = BackupKind::kFull;
  b.start = start;
  b.end = start + dur;
  return b;
}

BackupInfo incr(const std::string& id, const std::string& parent, int64_t start) {
  BackupInfo b = full(id, start);
  b.kind = BackupKind::kIncremental;
  b.parent = parent;
  return b;
}

// "id=keep[reason|reason]" per verdict, newest first: one string to compare, so a failure shows the whole plan.
std::string show(const Plan& p) {
  std::string out;
  for (const auto& v : p.verdicts) {
    out += v.id + "=" + decision_name(v.decision) + "[";
    for (size_t i = 0; i < v.reasons.size(); ++i) out += (i ? "|" : "") + v.reasons[i];
    out += "]\n";
  }
  return out;
}

TEST(RetentionPlanner, KeepLastCountsOnlyGoodBackups) {
  std::vector<BackupInfo> in = {full("a", kMon - 4 * kH), full("b", kMon - 3 * kH), full("c", kMon - 2 * kH),
                                full("d", kMon - kH)};
  in[3].state = BackupState::kFailed;  // the newest failed: it must not use up one of the 2
  Policy p;
  p.keep_last = 2;
  p.max_share = 1;
  Plan plan = retention::plan(in, p, kMon);
  EXPECT_EQ(show(plan),
            "d=expire[not good (failed): does not count]\n"
            "c=keep[last 2|newest good backup]\n"
            "b=keep[last 2]\n"
            "a=expire[no rule keeps it]\n");
  EXPECT_EQ(plan.kept, 2u);
  EXPECT_EQ(plan.expired, 2u);
  EXPECT_FALSE(plan.exceeds_max_share);
}

TEST(RetentionPlanner, DailyWeeklyMonthlyYearlyBucketsNameTheirPeriod) {
  // One backup a day at 12:00 UTC for 10 days up to Monday 2026-11-30, plus one on 2025-12-31.
  std::vector<BackupInfo> in;
  for (int i = 0; i < 10; ++i) in.push_back(full("d" + std::to_string(i), kMon - i * kD));
  in.push_back(full("old", kMon - 334 * kD));  // 2025-12-31
  Policy p;
  p.keep_daily = 2;
  p.keep_weekly = 2;
  p.keep_monthly = 2;
  p.keep_yearly = 2;
  p.max_share = 1;
  Plan plan = retention::plan(in, p, kMon);
  EXPECT_EQ(show(plan),
            "d0=keep[daily 2026-11-30|weekly 2026-W49|monthly 2026-11|yearly 2026|newest good backup]\n"
            "d1=keep[daily 2026-11-29|weekly 2026-W48]\n"
            "d2=expire[no rule keeps it]\n"
            "d3=expire[no rule keeps it]\n"
            "d4=expire[no rule keeps it]\n"
            "d5=expire[no rule keeps it]\n"
            "d6=expire[no rule keeps it]\n"
            "d7=expire[no rule keeps it]\n"
            "d8=expire[no rule keeps it]\n"
            "d9=expire[no rule keeps it]\n"
            "old=keep[monthly 2025-12|yearly 2025]\n");
}

TEST(RetentionPlanner, BucketsFollowTheTimeZone) {
  // 2026-11-30T23:30Z is already December 1st in Berlin: two daily buckets there, one in UTC.
  std::vector<BackupInfo> in = {full("late", kMon + 11 * kH + 1800), full("noon", kMon)};
  Policy p;
  p.keep_daily = 5;
  p.max_share = 1;
  EXPECT_EQ(show(retention::plan(in, p, kMon + kD)),
            "late=keep[daily 2026-11-30|newest good backup]\n"
            "noon=expire[no rule keeps it]\n");
  p.time_zone = "Europe/Berlin";
  EXPECT_EQ(show(retention::plan(in, p, kMon + kD)),
            "late=keep[daily 2026-12-01|newest good backup]\n"
            "noon=keep[daily 2026-11-30]\n");
  p.time_zone = "Mars/Olympus";
  try {
    (void)retention::plan(in, p, kMon);
    FAIL() << "unknown zone accepted";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    // The message is common/time_zone's (one place for zone errors), with its closest-name hint.
    EXPECT_EQ(std::string(e.what()).rfind("unknown time zone 'Mars/Olympus'", 0), 0u) << e.what();
  }
}

TEST(RetentionPlanner, HourlyAndUnlimitedCounts) {
  std::vector<BackupInfo> in = {full("a", kMon), full("b", kMon + 1800), full("c", kMon + kH), full("d", kMon + 2 * kH)};
  Policy p;
  p.keep_hourly = -1;
  p.max_share = 1;
  EXPECT_EQ(show(retention::plan(in, p, kMon + 3 * kH)),
            "d=keep[hourly 2026-11-30T14|newest good backup]\n"
            "c=keep[hourly 2026-11-30T13]\n"
            "b=keep[hourly 2026-11-30T12]\n"
            "a=expire[no rule keeps it]\n");
}

TEST(RetentionPlanner, KeepWithinIsRelativeToTheNewestGoodBackup) {
  // The source stopped backing up 30 days ago: --keep-within 36h still keeps the last 36 hours it has.
  int64_t last = kMon - 30 * kD;
  std::vector<BackupInfo> in = {full("a", last - 48 * kH), full("b", last - 30 * kH), full("c", last)};
  Policy p;
  p.keep_within = 36 * kH;
  p.max_share = 1;
  EXPECT_EQ(show(retention::plan(in, p, kMon)),
            "c=keep[within 1d12h|newest good backup]\n"
            "b=keep[within 1d12h]\n"
            "a=expire[no rule keeps it]\n");
}

TEST(RetentionPlanner, IncrementalKeepsItsParentChain) {
  std::vector<BackupInfo> in = {full("f1", kMon - 10 * kD), incr("i1", "f1", kMon - 9 * kD), incr("i2", "i1", kMon - 8 * kD),
                                full("f2", kMon - 2 * kD), incr("i3", "f2", kMon - kD)};
  Policy p;
  p.keep_last = 1;
  p.max_share = 1;
  EXPECT_EQ(show(retention::plan(in, p, kMon)),
            "i3=keep[last 1|newest good backup]\n"
            "f2=keep[parent of kept incremental i3]\n"
            "i2=expire[no rule keeps it]\n"
            "i1=expire[no rule keeps it]\n"
            "f1=expire[no rule keeps it]\n");
  // A hold on the middle of the old chain keeps its parents, not its dependants.
  in[1].holds = {"case 4711"};
  EXPECT_EQ(show(retention::plan(in, p, kMon)),
            "i3=keep[last 1|newest good backup]\n"
            "f2=keep[parent of kept incremental i3]\n"
            "i2=expire[no rule keeps it]\n"
            "i1=keep[held: case 4711]\n"
            "f1=keep[parent of kept incremental i1]\n");
}

TEST(RetentionPlanner, BrokenChainsDoNotCount) {
  std::vector<BackupInfo> in = {full("f1", kMon - 3 * kD), incr("i1", "f1", kMon - 2 * kD), incr("i2", "gone", kMon - kD)};
  in[0].state = BackupState::kSuspect;
  Policy p;
  p.keep_last = 3;
  p.max_share = 1;
  EXPECT_EQ(show(retention::plan(in, p, kMon)),
            "i2=expire[not good (parent gone missing): does not count]\n"
            "i1=expire[not good (parent f1 is not good): does not count]\n"
            "f1=expire[not good (suspect): does not count]\n");
}

TEST(RetentionPlanner, NewestGoodBackupSurvivesWhileBackupsKeepFailing) {
  // pgbackweb #121: a week of failures must not take the last good backups with them.
  std::vector<BackupInfo> in = {full("good1", kMon - 25 * kD), full("good2", kMon - 19 * kD)};
  for (int i = 0; i < 7; ++i) {
    in.push_back(full("bad" + std::to_string(i), kMon - (7 - i) * kD));
    in.back().state = BackupState::kFailed;
  }
  Policy p;
  p.keep_within = 3 * kD;
  p.recovery_window = 7 * kD;
  p.min_good = 2;
  Plan plan = retention::plan(in, p, kMon);
  EXPECT_EQ(plan.verdicts[7].id, "good2");
  EXPECT_EQ(show(plan).substr(show(plan).find("good2")),
            "good2=keep[within 3d|base of recovery window 7d|newest good backup]\n"
            "good1=keep[minimum 2 good backups]\n");
  EXPECT_EQ(plan.expired, 7u);
  EXPECT_TRUE(plan.exceeds_max_share);  // 7 of 9 > 50%
}

TEST(RetentionPlanner, RecoveryWindowKeepsTheBaseBeforeItItsIncrementalsAndTheLogFromItsStart) {
  auto pg = [](BackupInfo b, uint64_t lsn, const std::string& tl = "1") {
    b.log_start = LogPosition{tl, lsn};
    return b;
  };
  std::vector<BackupInfo> in = {pg(full("f0", kMon - 30 * kD), 100), pg(full("f1", kMon - 20 * kD), 200),
                                pg(incr("i1", "f1", kMon - 16 * kD), 250), pg(full("f2", kMon - 10 * kD), 300),
                                pg(full("f3", kMon - 2 * kD), 400, "2")};
  Policy p;
  p.recovery_window = 14 * kD;
  p.max_share = 1;
  Plan plan = retention::plan(in, p, kMon);
  EXPECT_EQ(show(plan),
            "f3=keep[inside recovery window 14d|newest good backup]\n"
            "f2=keep[inside recovery window 14d]\n"
            "i1=keep[incremental of recovery window base f1]\n"
            "f1=keep[base of recovery window 14d|parent of kept incremental i1]\n"
            "f0=expire[no rule keeps it]\n");
  std::map<std::string, uint64_t> want = {{"1", 200}, {"2", 400}};
  EXPECT_EQ(plan.log_needed_from, want);
}

TEST(RetentionPlanner, MaxShareStopsAPlanThatExpiresMoreThanHalf) {
  std::vector<BackupInfo> in = {full("a", kMon - 3 * kH), full("b", kMon - 2 * kH), full("c", kMon - kH)};
  Policy p;
  p.keep_last = 1;
  EXPECT_TRUE(retention::plan(in, p, kMon).exceeds_max_share);  // 2 of 3
  p.keep_last = 2;
  EXPECT_FALSE(retention::plan(in, p, kMon).exceeds_max_share);  // 1 of 3
  p.keep_last = 1;
  p.max_share = 0.7;
  EXPECT_FALSE(retention::plan(in, p, kMon).exceeds_max_share);
}

TEST(RetentionPlanner, HeldFailedBackupIsKeptAndSaysItDoesNotCount) {
  std::vector<BackupInfo> in = {full("a", kMon - kH), full("b", kMon)};
  in[0].state = BackupState::kFailed;
  in[0].holds = {"case 4711", "audit 2026"};
  Policy p;
  p.keep_last = 1;
  EXPECT_EQ(show(retention::plan(in, p, kMon)),
            "b=keep[last 1|newest good backup]\n"
            "a=keep[not good (failed): does not count|held: case 4711|held: audit 2026]\n");
}

TEST(RetentionPlanner, Durations) {
  EXPECT_EQ(parse_duration("36h", "--keep-within"), 36 * kH);
  EXPECT_EQ(parse_duration("14d", "x"), 14 * kD);
  EXPECT_EQ(parse_duration("1d12h30m", "x"), kD + 12 * kH + 1800);
  EXPECT_EQ(parse_duration("2w", "x"), 14 * kD);
  EXPECT_EQ(format_duration(36 * kH), "1d12h");
  EXPECT_EQ(format_duration(14 * kD), "14d");
  for (const char* bad : {"", "14", "d", "3x", "-1d", "1d 2h"}) {
    try {
      (void)parse_duration(bad, "--keep-within", BareNumber::kRefused);
      ADD_FAILURE() << bad;
    } catch (const StrataError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUsage);
      EXPECT_EQ(std::string(e.what()), std::string("--keep-within '") + bad +
                                           "' is not a duration; write it like \"90s\", \"30m\", \"26h\", \"7d\", \"2w\" or \"1h30m\"");
    }
  }
}

}  // namespace
}  // namespace strata::retention
