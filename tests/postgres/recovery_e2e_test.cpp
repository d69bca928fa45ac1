// Issue 11, PostgreSQL items 1 and 4, against a real PostgreSQL 15 under pgbench load: a damaged archived segment
// must stop recovery with FATAL (never promote early), a restore that ends before the point asked for must fail
// loudly, `wal check --read-data` must find the damage first; `wal fetch` of an absent file answers "not in the
// archive" without any key; a target time a fraction of a second before the backup's end is refused; the restored
// server's log stays outside its data directory.
#include <fcntl.h>
#include <unistd.h>

#include "postgres/pg_e2e_support.hpp"

namespace strata::test::pg {
namespace {

namespace fs = std::filesystem;

// Flips one byte in the middle of the largest data object of archived file `name`; returns the object's path.
std::string flip_byte_in_archived(const std::string& repo, const std::string& name) {
  std::string best;
  uintmax_t best_size = 0;
  for (const auto& e : fs::recursive_directory_iterator(repo + "/data/pg1." + name)) {
    if (e.is_regular_file() && e.file_size() > best_size) best = e.path().string(), best_size = e.file_size();
  }
  if (best.empty()) return best;
  int fd = ::open(best.c_str(), O_RDWR);
  if (fd < 0) return "";
  off_t at = static_cast<off_t>(best_size / 2);
  unsigned char c = 0;
  if (::pread(fd, &c, 1, at) != 1) return "";
  c ^= 0x20;
  if (::pwrite(fd, &c, 1, at) != 1) return "";
  ::close(fd);
  return best;
}

class PgRecoveryE2E : public PostgresE2E {};

TEST_F(PgRecoveryE2E, DamagedOrSkippedSegmentNeverEndsInAReportedRestore) {
  auto server = archiving_server();
  ASSERT_EQ(pgbench_init(server->port()).code, 0);
  pid_t load = pgbench_load(server->port(), *root_ / "pgbench.log");
  auto backup = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(backup.code, 0) << backup.err;
  auto meta = nlohmann::json::parse(strata({"--config", config_, "list", "--source", "pg1", "--json"}).out)[0]["engine"];
  // Three more segments full of pgbench's work after the backup.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(progress_at(server->port())) << "pgbench made no progress";
    ASSERT_TRUE(switch_and_wait_archived(server->port()));
  }
  ASSERT_TRUE(stop_load(load, server->port()));
  std::string latest = server->psql(kChecksumSql);
  ASSERT_TRUE(switch_and_wait_archived(server->port()));

  std::string damaged = next_segment(meta["wal_stop"].get<std::string>(), 1);
  ASSERT_TRUE(fs::exists(wal_path(next_segment(damaged, 2)))) << "later segments must exist for this test";
  std::string object = flip_byte_in_archived(repo_, damaged);
  ASSERT_FALSE(object.empty()) << "no data object for " << damaged;

  // wal fetch: a damaged file is a fatal failure for postgres (exit > 125), never "not in the archive".
  auto fetch = strata({"--config", config_, "wal", "fetch", "--source", "pg1", damaged, *root_ / "fetched"});
  EXPECT_EQ(fetch.code, kFetchFatalBase + kExitCorrupt) << fetch.err;
  EXPECT_NE(fetch.err.find("strata: error:"), std::string::npos) << fetch.err;
  EXPECT_FALSE(fs::exists(*root_ / "fetched"));

  // wal check --read-data finds it before anyone restores; the quick check cannot (the object is there).
  auto quick = strata({"--config", config_, "wal", "check", "--source", "pg1"});
  EXPECT_EQ(quick.code, 0) << quick.out << quick.err;
  auto deep = strata({"--config", config_, "wal", "check", "--source", "pg1", "--read-data"});
  EXPECT_EQ(deep.code, kExitProblems) << deep.out << deep.err;
  EXPECT_NE(deep.out.find("DAMAGED: " + damaged + ": "), std::string::npos) << deep.out;
  EXPECT_NE(deep.out.find("1 DAMAGED"), std::string::npos) << deep.out;

  // restore --start: PostgreSQL stops with FATAL at the damaged segment and strata says the target was not reached.
  std::string dir1 = *root_ / "restore-damaged";
  root_->track(dir1);
  auto r1 = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-dir", dir1, "--start", "--port",
                    std::to_string(free_loopback_port())});
  EXPECT_EQ(r1.code, kExitTargetNotReached) << r1.err;
  EXPECT_EQ(r1.err.find("recovery finished at"), std::string::npos) << r1.err;
  EXPECT_NE(r1.err.find("could not restore file \"" + damaged + "\""), std::string::npos) << r1.err;
  EXPECT_NE(r1.err.find("strata: error:"), std::string::npos) << "the fetch's own error must be quoted: " << r1.err;
  EXPECT_FALSE(fs::exists(dir1 + "/postmaster.pid")) << "the server must have stopped";
  stop_cluster(dir1);

  // Undo the damage; now make `wal fetch` answer "not in the archive" for a segment that is there (what a lost
  // segment did before): PostgreSQL promotes early, and strata must not report that as the restore asked for — nor
  // let the copy (asked to archive: --archive-mode on) put its timeline into the source's archive.
  ASSERT_EQ(flip_byte_in_archived(repo_, damaged), object);
  std::string skipped = next_segment(damaged, 1);
  std::string dir2 = *root_ / "restore-skipped";
  root_->track(dir2);
  auto r2 = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--archive-mode", "on", "--target-dir", dir2,
                    "--start", "--port", std::to_string(free_loopback_port())},
                   {{"STRATA_PG_FAILPOINT", "fetch-missing:" + skipped}});
  EXPECT_EQ(r2.code, kExitTargetNotReached) << r2.err;
  EXPECT_EQ(r2.err.find("recovery finished at"), std::string::npos) << r2.err;
  EXPECT_NE(r2.err.find("before the end of the archived WAL"), std::string::npos) << r2.err;
  EXPECT_FALSE(fs::exists(dir2 + "/postmaster.pid")) << "a copy promoted too early must not keep running";
  EXPECT_FALSE(fs::exists(wal_path("00000002.history"))) << "the early copy's timeline reached the source's archive";
  stop_cluster(dir2);

  // The intact archive restores exactly, and the server's log is beside the data directory, not in it.
  std::string dir3 = *root_ / "restore-latest";
  root_->track(dir3);
  int port3 = free_loopback_port();
  auto r3 = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-dir", dir3, "--start", "--port",
                    std::to_string(port3)});
  ASSERT_EQ(r3.code, 0) << r3.err;
  EXPECT_NE(r3.err.find("recovery finished at LSN"), std::string::npos) << r3.err;
  EXPECT_EQ(psql_at(port3, {kChecksumSql}), latest);
  EXPECT_FALSE(fs::exists(dir3 + "/strata-restore.log")) << "later base backups of the copy would carry the log";
  EXPECT_TRUE(fs::exists(dir3 + ".strata-restore.log"));
  stop_cluster(dir3);
  server->stop();
}

TEST_F(PgRecoveryE2E, FetchOfAnAbsentFileIsTheNormalEndAndNeedsNoKey) {
  write_config(1);
  // No passphrase anywhere: deciding "not in the archive" must not unlock (Argon2id) anything.
  auto absent = strata_no_pass({"--config", config_, "wal", "fetch", "--source", "pg1", "00000002.history", *root_ / "h"});
  EXPECT_EQ(absent.code, kFetchNotInArchive) << absent.err;
  EXPECT_EQ(absent.err, "") << "the normal end of the archive is not an error";
  EXPECT_FALSE(fs::exists(*root_ / "h"));

  // A file that is there but cannot be decrypted (wrong passphrase) is fatal for postgres, not "the end".
  std::string seg = "000000010000000000000003";
  fs::create_directory(*root_ / "x");
  root_->write("x/" + seg, std::string(1u << 20, 'w'));
  ASSERT_EQ(strata_no_pass({"--config", config_, "wal", "push", "--source", "pg1", *root_ / ("x/" + seg)}).code, 0);
  auto wrong = strata({"--config", config_, "wal", "fetch", "--source", "pg1", seg, *root_ / "s"}, {{"STRATA_PASSPHRASE", "not it"}});
  EXPECT_EQ(wrong.code, kFetchFatalBase + 4) << wrong.err;
  EXPECT_NE(wrong.err.find("strata: error:"), std::string::npos) << wrong.err;
  auto right = strata({"--config", config_, "wal", "fetch", "--source", "pg1", seg, *root_ / "s"});
  EXPECT_EQ(right.code, 0) << right.err;
  EXPECT_EQ(read_file(*root_ / "s"), std::string(1u << 20, 'w'));
}

TEST_F(PgRecoveryE2E, TargetTimeAFractionOfASecondBeforeTheBackupEndIsRefused) {
  auto server = archiving_server();
  auto backup = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(backup.code, 0) << backup.err;
  auto meta = nlohmann::json::parse(strata({"--config", config_, "list", "--source", "pg1", "--json"}).out)[0]["engine"];
  // stop_time is whole seconds ("2026-12-01 21:05:07+00"): its second began before the backup ended (unless it
  // ended exactly on the second, one chance in a million).
  std::string stop_second = meta["stop_time"];
  auto early = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-time", stop_second,
                       "--target-dir", *root_ / "early"});
  EXPECT_EQ(early.code, kExitUsage) << early.err;
  EXPECT_NE(early.err.find("is before the end of"), std::string::npos) << early.err;
  EXPECT_FALSE(fs::exists(*root_ / "early/PG_VERSION"));

  // One second later is after the end: accepted and written for PostgreSQL as given.
  std::string later = stop_second;
  later.replace(later.size() - 3, 3, ".999999+00");
  auto ok = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-time", later, "--target-dir",
                    *root_ / "later"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(read_file(*root_ / "later/postgresql.auto.conf").find("recovery_target_time = '" + later + "'"), std::string::npos);

  // A target past the end of the archive: PostgreSQL refuses to promote, and that is "target not reached" (14), not
  // a server that failed to start.
  std::string dir = *root_ / "future";
  root_->track(dir);
  auto future = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-time", "2030-01-01 00:00:00+00",
                        "--target-dir", dir, "--start", "--port", std::to_string(free_loopback_port())});
  EXPECT_EQ(future.code, kExitTargetNotReached) << future.err;
  EXPECT_NE(future.err.find("stopped before --target-time 2030-01-01 00:00:00+00"), std::string::npos) << future.err;
  EXPECT_NE(future.err.find("recovery ended before configured recovery target was reached"), std::string::npos) << future.err;
  server->stop();
}

// PostgreSQL's own use of restore_command, as its recovery TAP test 002_archiving does: a standby that follows the
// primary through the archive asks for absent segments and history files over and over. Each of those answers is
// the normal "not yet" (exit 1, nothing logged), the standby keeps up exactly, and its log has no error in it.
TEST_F(PgRecoveryE2E, StandbyFollowsTheArchiveThroughWalFetch) {
  auto primary = archiving_server();
  ASSERT_EQ(pgbench_init(primary->port()).code, 0);
  ASSERT_EQ(strata({"--config", config_, "backup", "--source", "pg1"}).code, 0);
  std::string dir = *root_ / "standby";
  root_->track(dir);
  auto r = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-dir", dir});
  ASSERT_EQ(r.code, 0) << r.err;
  fs::remove(dir + "/recovery.signal");
  root_->write("standby/standby.signal", "");
  std::string conf = read_file(dir + "/postgresql.auto.conf");
  root_->write("standby/postgresql.auto.conf", conf + "wal_retrieve_retry_interval = '100ms'\n");
  int port = free_loopback_port();
  std::string log = dir + ".log";
  auto start = run_as_owner({bin("pg_ctl"), "-D", dir, "-l", log, "-w", "-o", "-p " + std::to_string(port), "start"}, env_);
  ASSERT_EQ(start.code, 0) << start.out << start.err << read_file(log);

  pid_t load = pgbench_load(primary->port(), *root_ / "pgbench.log");
  ASSERT_TRUE(progress_at(primary->port()));
  ASSERT_TRUE(switch_and_wait_archived(primary->port()));
  ASSERT_TRUE(progress_at(primary->port()));
  ASSERT_TRUE(stop_load(load, primary->port()));
  std::string state = primary->psql(kChecksumSql);
  ASSERT_TRUE(switch_and_wait_archived(primary->port()));
  EXPECT_TRUE(wait_for([&] { return psql_at(port, {kChecksumSql}) == state; })) << "the standby did not catch up: " << read_file(log);
  EXPECT_EQ(psql_at(port, {"SELECT pg_is_in_recovery()"}), "t");
  std::string text = read_file(log);
  EXPECT_EQ(text.find("strata: error"), std::string::npos) << text;
  EXPECT_EQ(text.find("FATAL"), std::string::npos) << text;
  stop_cluster(dir);
  primary->stop();
}

}  // namespace
}  // namespace strata::test::pg
