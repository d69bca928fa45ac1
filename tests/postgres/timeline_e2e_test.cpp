// Issue 11, PostgreSQL items 2 and 3, against a real PostgreSQL 15 with pgbench writing: a restored copy promoted
// to timeline 2 that archives into the same source (switched on later, or with --archive-mode on) archives its
// history file too, so restores to a point T3 on timeline 2 and to the latest point follow timeline 2 exactly, while
// the old primary keeps writing timeline 1; --target-timeline picks timeline 1 instead; a pushed history file that
// differs from the archived one is refused; a gap on timeline 2 is found before anything is restored.
#include "postgres/pg_e2e_support.hpp"

namespace strata::test::pg {
namespace {

namespace fs = std::filesystem;

class PgTimelineE2E : public PostgresE2E {
 protected:
  // Archived segments of one timeline, oldest first.
  std::vector<std::string> archived_segments(const std::string& tli_hex) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(repo_ + "/streams/wal/pg1")) {
      std::string n = e.path().filename().string();
      if (n.rfind("pg1.", 0) == 0 && n.size() == 4 + 24 && n.compare(4, 8, tli_hex) == 0) out.push_back(n.substr(4));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  ProcResult restore(const std::string& dir, std::vector<std::string> extra, int port) {
    std::vector<std::string> args = {"--config", config_, "restore", "--source", "pg1", "--target-dir", dir};
    args.insert(args.end(), extra.begin(), extra.end());
    if (port) args.insert(args.end(), {"--start", "--port", std::to_string(port)});
    root_->track(dir);
    return strata(args);
  }
};

TEST_F(PgTimelineE2E, RestoreToT1PromoteArchiveOnTimeline2ThenRestoreToT3AndLatest) {
  auto primary = archiving_server();
  ASSERT_EQ(pgbench_init(primary->port()).code, 0);
  pid_t load1 = pgbench_load(primary->port(), *root_ / "pgbench1.log");
  auto backup = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(backup.code, 0) << backup.err;
  ASSERT_TRUE(progress_at(primary->port()));
  auto [state1, time1] = consistent_point_at(primary->port());
  ASSERT_TRUE(progress_at(primary->port()));
  ASSERT_TRUE(switch_and_wait_archived(primary->port()));

  // Restore to T1 (the default: the copy does not archive) and promote: timeline 2.
  std::string copy_dir = *root_ / "copy";
  int copy_port = free_loopback_port();
  auto r1 = restore(copy_dir, {"--latest", "--target-time", time1}, copy_port);
  ASSERT_EQ(r1.code, 0) << r1.err;
  EXPECT_NE(r1.err.find("new timeline 2"), std::string::npos) << r1.err;
  EXPECT_EQ(psql_at(copy_port, {kChecksumSql}), state1);
  EXPECT_FALSE(fs::exists(wal_path("00000002.history"))) << "a copy restored with archive_mode off archived its timeline";

  // The copy becomes a primary: archiving switched on later, as an operator would. Its first timeline-2 segment
  // must bring 00000002.history along, although PostgreSQL never marked that file for archiving.
  psql_at(copy_port, {"ALTER SYSTEM SET archive_mode = on"});
  auto restart = run_as_owner({bin("pg_ctl"), "-D", copy_dir, "-l", copy_dir + ".strata-restore.log", "-m", "fast", "-w", "restart"}, env_);
  ASSERT_EQ(restart.code, 0) << restart.out << restart.err;
  pid_t load2 = pgbench_load(copy_port, *root_ / "pgbench2.log");
  ASSERT_TRUE(progress_at(copy_port));
  ASSERT_TRUE(switch_and_wait_archived(copy_port));
  EXPECT_TRUE(fs::exists(wal_path("00000002.history"))) << "timeline 2 archived without its history file";
  ASSERT_TRUE(progress_at(copy_port));
  auto [state3, time3] = consistent_point_at(copy_port);
  ASSERT_TRUE(progress_at(copy_port));
  ASSERT_TRUE(switch_and_wait_archived(copy_port));
  ASSERT_TRUE(progress_at(copy_port));
  ASSERT_TRUE(stop_load(load2, copy_port));
  std::string state_latest2 = psql_at(copy_port, {kChecksumSql});
  ASSERT_TRUE(switch_and_wait_archived(copy_port));
  ASSERT_NE(state3, state_latest2);

  // A different timeline 2 (another copy that did not see ours) is refused, never mixed in.
  fs::create_directory(*root_ / "other");
  root_->write("other/00000002.history", "1\t0/3000000\tanother copy\n");
  auto clash = strata({"--config", config_, "wal", "push", "--source", "pg1", *root_ / "other/00000002.history"});
  EXPECT_EQ(clash.code, kExitExists) << clash.err;
  EXPECT_NE(clash.err.find("DIFFERENT content"), std::string::npos) << clash.err;

  // T3 on timeline 2, from the timeline-1 backup, while the old primary keeps writing timeline 1.
  ASSERT_TRUE(progress_at(primary->port()));
  ASSERT_TRUE(switch_and_wait_archived(primary->port()));
  int port3 = free_loopback_port();
  auto r3 = restore(*root_ / "t3", {"--latest", "--target-time", time3}, port3);
  ASSERT_EQ(r3.code, 0) << r3.err;
  EXPECT_NE(r3.err.find("1 -> 2 (forked at"), std::string::npos) << r3.err;
  EXPECT_EQ(psql_at(port3, {kChecksumSql}), state3);
  stop_cluster(*root_ / "t3");

  // Latest follows timeline 2 (PostgreSQL's default target timeline) to its end.
  int port4 = free_loopback_port();
  auto r4 = restore(*root_ / "latest2", {"--latest"}, port4);
  ASSERT_EQ(r4.code, 0) << r4.err;
  EXPECT_EQ(psql_at(port4, {kChecksumSql}), state_latest2);
  stop_cluster(*root_ / "latest2");

  // --target-timeline current stays on timeline 1 and reaches the old primary's end.
  ASSERT_TRUE(stop_load(load1, primary->port()));
  std::string state_latest1 = primary->psql(kChecksumSql);
  ASSERT_TRUE(switch_and_wait_archived(primary->port()));
  int port5 = free_loopback_port();
  auto r5 = restore(*root_ / "latest1", {"--latest", "--target-timeline", "current"}, port5);
  ASSERT_EQ(r5.code, 0) << r5.err;
  EXPECT_EQ(psql_at(port5, {kChecksumSql}), state_latest1);
  stop_cluster(*root_ / "latest1");

  // A segment lost on timeline 2: found before anything is written, although timeline 1 has a file of that number.
  auto tl2 = archived_segments("00000002");
  ASSERT_GE(tl2.size(), 3u) << "timeline 2 should have archived several segments";
  std::string lost = tl2[1];
  ASSERT_TRUE(fs::remove(wal_path(lost)));
  auto gap = restore(*root_ / "gap", {"--latest"}, 0);
  EXPECT_EQ(gap.code, kExitNotFound) << gap.err;
  EXPECT_NE(gap.err.find("WAL segment " + lost + " is missing from the archive of pg1"), std::string::npos) << gap.err;
  EXPECT_FALSE(fs::exists(*root_ / "gap/PG_VERSION"));
  auto check = strata({"--config", config_, "wal", "check", "--source", "pg1"});
  EXPECT_EQ(check.code, kExitProblems) << check.out;
  stop_cluster(copy_dir);
  primary->stop();
}

TEST_F(PgTimelineE2E, ArchiveModeOnArchivesTheNewTimelineSoTheNextCopyTakesAnother) {
  auto primary = archiving_server();
  ASSERT_EQ(pgbench_init(primary->port()).code, 0);
  auto backup = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(backup.code, 0) << backup.err;
  std::string state = primary->psql(kChecksumSql);
  ASSERT_TRUE(switch_and_wait_archived(primary->port()));

  auto bad = restore(*root_ / "bad", {"--latest", "--archive-mode", "sometimes"}, 0);
  EXPECT_EQ(bad.code, kExitUsage) << bad.err;
  auto bad_tl = restore(*root_ / "bad", {"--latest", "--target-timeline", "newest"}, 0);
  EXPECT_EQ(bad_tl.code, kExitUsage) << bad_tl.err;
  EXPECT_NE(bad_tl.err.find("invalid --target-timeline 'newest'"), std::string::npos) << bad_tl.err;

  int port1 = free_loopback_port();
  auto r1 = restore(*root_ / "new-primary", {"--latest", "--archive-mode", "on"}, port1);
  ASSERT_EQ(r1.code, 0) << r1.err;
  EXPECT_NE(r1.err.find("00000002.history archived"), std::string::npos) << r1.err;
  EXPECT_TRUE(fs::exists(wal_path("00000002.history")));
  std::string auto_conf = read_file(*root_ / "new-primary/postgresql.auto.conf");
  EXPECT_EQ(auto_conf.find("archive_mode = 'off'"), std::string::npos) << auto_conf;
  EXPECT_EQ(auto_conf.find("archiving waits until the restore is verified"), std::string::npos)
      << "the hold on archiving must be lifted once the restore is verified: " << auto_conf;
  EXPECT_EQ(psql_at(port1, {kChecksumSql}), state);

  // The next copy sees timeline 2 in the archive and takes 3; it does not archive (the default).
  int port2 = free_loopback_port();
  auto r2 = restore(*root_ / "second", {"--latest", "--target-timeline", "current"}, port2);
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_NE(r2.err.find("new timeline 3"), std::string::npos) << r2.err;
  EXPECT_NE(read_file(*root_ / "second/postgresql.auto.conf").find("archive_mode = 'off'"), std::string::npos);
  EXPECT_EQ(psql_at(port2, {kChecksumSql}), state);
  stop_cluster(*root_ / "second");
  stop_cluster(*root_ / "new-primary");
  primary->stop();
}

// Item 3 on its own, with a timeline 2 that PostgreSQL archived itself (restore_archive_mode = "on" in the config):
// the pre-check follows the timeline path recovery will follow, so the lost segment is named before anything is
// restored instead of recovery stopping silently at the gap.
TEST_F(PgTimelineE2E, GapOnALaterTimelineIsFoundBeforeRestoring) {
  auto primary = archiving_server();
  ASSERT_EQ(pgbench_init(primary->port()).code, 0);
  auto backup = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(backup.code, 0) << backup.err;
  ASSERT_TRUE(switch_and_wait_archived(primary->port()));
  write_config(primary->port(), "restore_archive_mode = \"on\"\n");

  int copy_port = free_loopback_port();
  auto r1 = restore(*root_ / "copy", {"--latest"}, copy_port);
  ASSERT_EQ(r1.code, 0) << r1.err;
  pid_t load = pgbench_load(copy_port, *root_ / "pgbench.log");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(progress_at(copy_port));
    ASSERT_TRUE(switch_and_wait_archived(copy_port));
  }
  ASSERT_TRUE(stop_load(load, copy_port));
  ASSERT_TRUE(switch_and_wait_archived(copy_port));
  ASSERT_TRUE(fs::exists(wal_path("00000002.history")));
  auto tl2 = archived_segments("00000002");
  ASSERT_GE(tl2.size(), 3u);
  std::string lost = tl2[1];
  ASSERT_TRUE(fs::remove(wal_path(lost)));

  auto gap = restore(*root_ / "gap", {"--latest"}, 0);
  EXPECT_EQ(gap.code, kExitNotFound) << gap.err;
  EXPECT_NE(gap.err.find("WAL segment " + lost + " is missing from the archive of pg1"), std::string::npos) << gap.err;
  EXPECT_NE(gap.err.find("timeline path 1 -> 2"), std::string::npos) << gap.err;
  EXPECT_FALSE(fs::exists(*root_ / "gap/PG_VERSION"));
  auto check = strata({"--config", config_, "wal", "check", "--source", "pg1"});
  EXPECT_NE(check.out.find("MISSING: " + lost), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("run with --read-data"), std::string::npos) << check.out;
  auto deep = strata({"--config", config_, "wal", "check", "--source", "pg1", "--read-data"});
  EXPECT_EQ(deep.code, kExitProblems) << deep.out << deep.err;
  EXPECT_NE(deep.out.find("MISSING on the timeline path 1 -> 2 (forked at"), std::string::npos) << deep.out;
  EXPECT_NE(deep.out.find(": " + lost + " (later WAL exists"), std::string::npos) << deep.out;
  stop_cluster(*root_ / "copy");
  primary->stop();
}

}  // namespace
}  // namespace strata::test::pg
