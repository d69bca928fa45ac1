// End-to-end tests of the postgres engine and `strata wal` against a real PostgreSQL 15: base backup under pgbench
// load, continuous archiving, point-in-time restore to exact recorded states, pg_amcheck on the restored clusters,
// and the failures an operator must see (missing WAL, non-empty target, a target before the backup's end).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "postgres/pg_e2e_support.hpp"

namespace strata::test::pg {
namespace {


TEST_F(PostgresE2E, PointInTimeRestoreUnderLoadReachesExactStates) {
  auto server = archiving_server();
  auto init = run({bin("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(server->port()), "-U", "postgres", "-i", "-s", "1", "-q", "postgres"});
  ASSERT_EQ(init.code, 0) << init.err;
  pid_t load = spawn({bin("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(server->port()), "-U", "postgres", "-n", "-c", "2",
                      "-j", "1", "-T", "600", "postgres"},
                     *root_ / "pgbench.log");

  auto backup = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(backup.code, 0) << backup.err;
  auto list = strata({"--config", config_, "list", "--source", "pg1", "--json"});
  auto backups = nlohmann::json::parse(list.out);
  ASSERT_EQ(backups.size(), 1u);
  auto meta = backups[0]["engine"];
  EXPECT_EQ(meta["method"], "physical");
  EXPECT_FALSE(meta["start_lsn"].get<std::string>().empty());
  EXPECT_FALSE(meta["stop_lsn"].get<std::string>().empty());
  EXPECT_EQ(meta["system_identifier"], server->psql("SELECT system_identifier FROM pg_control_system()"));
  EXPECT_NE(meta["backup_label"].get<std::string>().find("START WAL LOCATION"), std::string::npos);

  long rows = history_rows(*server);
  ASSERT_TRUE(wait_for([&] { return history_rows(*server) > rows + 300; })) << "pgbench made no progress";
  auto [state1, time1] = consistent_point(*server);
  server->psql("SELECT pg_switch_wal()");
  rows = history_rows(*server);
  ASSERT_TRUE(wait_for([&] { return history_rows(*server) > rows + 300; })) << "pgbench made no progress";

  terminate(load);
  // A COMMIT pgbench sent just before it died may still be running: wait for its sessions to end.
  ASSERT_TRUE(wait_for([&] { return server->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'") == "0"; }));
  std::string state2 = server->psql(kChecksumSql);
  ASSERT_NE(state1, state2);
  wait_archived(*server);

  auto check = strata({"--config", config_, "wal", "check", "--source", "pg1"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("restorable"), std::string::npos) << check.out;

  // Restore to T1.
  int port1 = free_loopback_port();
  std::string dir1 = *root_ / "restore-t1";
  root_->track(dir1);
  auto r1 = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-time", time1, "--target-dir", dir1,
                    "--start", "--port", std::to_string(port1)});
  ASSERT_EQ(r1.code, 0) << r1.err;
  EXPECT_NE(r1.err.find("recovery finished at LSN"), std::string::npos) << r1.err;
  EXPECT_EQ(psql_at(port1, {kChecksumSql}), state1);
  EXPECT_FALSE(std::filesystem::exists(dir1 + "/pg_wal/.strata-prefetch")) << "fetched-ahead WAL left behind";
  auto amcheck1 = run({bin("pg_amcheck"), "-h", "127.0.0.1", "-p", std::to_string(port1), "-U", "postgres", "--all",
                       "--install-missing", "--heapallindexed"});
  EXPECT_EQ(amcheck1.code, 0) << amcheck1.out << amcheck1.err;
  stop_cluster(dir1);

  // Restore to the end of the archive.
  int port2 = free_loopback_port();
  std::string dir2 = *root_ / "restore-latest";
  root_->track(dir2);
  auto r2 = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-dir", dir2, "--start", "--port",
                    std::to_string(port2)});
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(psql_at(port2, {kChecksumSql}), state2);
  auto amcheck2 = run({bin("pg_amcheck"), "-h", "127.0.0.1", "-p", std::to_string(port2), "-U", "postgres", "--all",
                       "--install-missing", "--heapallindexed"});
  EXPECT_EQ(amcheck2.code, 0) << amcheck2.out << amcheck2.err;
  stop_cluster(dir2);

  // Lose the first archived segment after the backup: the restore must refuse, naming it, and wal check must
  // report the gap.
  std::string stop_file = meta["wal_stop"];
  char next[32];
  unsigned long long log = std::stoull(stop_file.substr(8, 8), nullptr, 16), seg = std::stoull(stop_file.substr(16, 8), nullptr, 16);
  std::snprintf(next, sizeof next, "%s%08llX%08llX", stop_file.substr(0, 8).c_str(), seg == 0xFF ? log + 1 : log, (seg + 1) & 0xFF);
  ASSERT_TRUE(std::filesystem::remove(wal_path(next))) << "expected archived segment " << next;
  auto r3 = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-dir", *root_ / "restore-gap"});
  EXPECT_EQ(r3.code, kExitNotFound) << r3.err;
  EXPECT_NE(r3.err.find(std::string("WAL segment ") + next + " is missing from the archive of pg1"), std::string::npos) << r3.err;
  EXPECT_FALSE(std::filesystem::exists(*root_ / "restore-gap/PG_VERSION"));
  auto check2 = strata({"--config", config_, "wal", "check", "--source", "pg1"});
  EXPECT_EQ(check2.code, kExitProblems) << check2.out;
  EXPECT_NE(check2.out.find(std::string("MISSING: ") + next), std::string::npos) << check2.out;
  server->stop();
}

TEST_F(PostgresE2E, RestoreRefusesNonEmptyTargetAndTargetBeforeBackupEnd) {
  auto server = archiving_server();
  auto backup = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(backup.code, 0) << backup.err;

  std::string dir = *root_ / "busy";
  ASSERT_EQ(run_as_owner({"mkdir", dir}).code, 0);
  root_->write("busy/keep.txt", "precious");
  auto r = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-dir", dir});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/keep.txt"));

  auto early = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-time", "2001-01-01 00:00:00+00",
                       "--target-dir", *root_ / "early"});
  EXPECT_EQ(early.code, kExitUsage);
  EXPECT_NE(early.err.find("is before the end of"), std::string::npos) << early.err;

  auto bad_time = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-time", "yesterday",
                          "--target-dir", *root_ / "early"});
  EXPECT_EQ(bad_time.code, kExitUsage);
  EXPECT_NE(bad_time.err.find("invalid --target-time"), std::string::npos) << bad_time.err;

  // --force replaces the contents; without --start the settings are written for a later start.
  auto forced = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-dir", dir, "--force"});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/keep.txt"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/recovery.signal"));
  std::ifstream conf(dir + "/postgresql.auto.conf");
  std::string text((std::istreambuf_iterator<char>(conf)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("restore_command = '"), std::string::npos);
  EXPECT_NE(text.find("wal fetch --source"), std::string::npos);

  // A tablespace outside the data directory cannot travel in the one tar stream: refused, naming it.
  ASSERT_EQ(run_as_owner({"mkdir", *root_ / "ts"}).code, 0);
  server->psql("CREATE TABLESPACE far_away LOCATION '" + *root_ / "ts" + "'");
  auto refused = strata({"--config", config_, "backup", "--source", "pg1"});
  EXPECT_EQ(refused.code, 7) << refused.err;
  EXPECT_NE(refused.err.find("has tablespaces outside the data directory (far_away)"), std::string::npos) << refused.err;
}

TEST_F(PostgresE2E, BackupRelyingOnTheArchiveIsNotRestorableWithoutItsWal) {
  auto server = archiving_server();
  write_config(server->port(), "wal_method = \"none\"\n");
  auto backup = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(backup.code, 0) << backup.err;
  auto meta = nlohmann::json::parse(strata({"--config", config_, "list", "--source", "pg1", "--json"}).out)[0]["engine"];
  EXPECT_EQ(meta["wal_included"], false);
  wait_archived(*server);
  auto ok = strata({"--config", config_, "wal", "check", "--source", "pg1"});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;

  std::string first = meta["wal_start"];
  ASSERT_TRUE(std::filesystem::remove(wal_path(first))) << "expected archived segment " << first;
  auto check = strata({"--config", config_, "wal", "check", "--source", "pg1"});
  EXPECT_EQ(check.code, kExitProblems);
  EXPECT_NE(check.out.find("NOT RESTORABLE"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find(first + " is missing"), std::string::npos) << check.out;
  auto restore = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-dir", *root_ / "r"});
  EXPECT_EQ(restore.code, kExitNotFound);
  EXPECT_NE(restore.err.find("is not restorable: WAL segment " + first), std::string::npos) << restore.err;
}

TEST_F(PostgresE2E, WalPushIsWriteOnlyIdempotentAndNeverOverwrites) {
  write_config(1);
  std::string seg = "000000010000000000000007";
  std::string a(16u << 20, '\0'), b = a;
  for (size_t i = 0; i < a.size(); i += 4096) a[i] = static_cast<char>(i / 4096), b[i] = static_cast<char>(i / 4096 + 1);
  std::filesystem::create_directory(*root_ / "x");
  root_->write("x/" + seg, a);

  // No passphrase at all: the first push needs only the repository's public key.
  auto first = strata_no_pass({"--config", config_, "wal", "push", "--source", "pg1", *root_ / ("x/" + seg)});
  ASSERT_EQ(first.code, 0) << first.err;
  // Same content again (archive_command retried): success.
  auto again = strata({"--config", config_, "wal", "push", "--source", "pg1", *root_ / ("x/" + seg)});
  EXPECT_EQ(again.code, 0) << again.err;
  // Different content under the same name: loud failure, archive unchanged.
  root_->write("x/" + seg, b);
  auto clash = strata({"--config", config_, "wal", "push", "--source", "pg1", *root_ / ("x/" + seg)});
  EXPECT_EQ(clash.code, kExitExists);
  EXPECT_NE(clash.err.find("DIFFERENT content"), std::string::npos) << clash.err;

  auto fetched = strata({"--config", config_, "wal", "fetch", "--source", "pg1", seg, *root_ / "fetched"});
  ASSERT_EQ(fetched.code, 0) << fetched.err;
  std::ifstream f(*root_ / "fetched", std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(got == a) << "fetched segment differs from the first pushed content";

  auto missing = strata({"--config", config_, "wal", "fetch", "--source", "pg1", "000000010000000000000099", *root_ / "nope"});
  // Not in the archive: PostgreSQL's "end of archive" status, not an error.
  EXPECT_EQ(missing.code, kFetchNotInArchive) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(*root_ / "nope"));
}

TEST_F(PostgresE2E, AsyncPushSpoolsThenDrainsIntoTheArchive) {
  std::string spool = *root_ / "spool";
  write_config(1, "spool_dir = \"" + spool + "\"\n");
  std::filesystem::create_directory(*root_ / "x");
  std::vector<std::string> names = {"000000010000000000000001", "000000010000000000000002", "000000010000000000000003"};
  for (size_t i = 0; i < names.size(); ++i) root_->write("x/" + names[i], std::string(1u << 20, static_cast<char>('a' + i)));
  for (const auto& n : names) {
    auto r = strata_no_pass({"--config", config_, "wal", "push", "--source", "pg1", "--async", *root_ / ("x/" + n)});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // The detached drainer empties the spool; a synchronous drain covers the case where it has not started yet.
  auto drain = strata_no_pass({"--config", config_, "wal", "push", "--source", "pg1", "--drain"});
  ASSERT_EQ(drain.code, 0) << drain.err;
  ASSERT_TRUE(wait_for([&] {
    for (const auto& n : names) {
      if (std::filesystem::exists(spool + "/" + n) || !std::filesystem::exists(wal_path(n))) return false;
    }
    return true;
  }, std::chrono::seconds(60)));
  auto check = strata({"--config", config_, "wal", "check", "--source", "pg1"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("3 segments"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("0 file(s) waiting"), std::string::npos) << check.out;
}

TEST_F(PostgresE2E, PasswordComesFromPasswordFileNeverFromTheConfig) {
  auto server = std::make_unique<PostgresServer>(*root_, "auth");
  server->start();
  server->psql("ALTER USER postgres PASSWORD 'pw-secret-1'");
  root_->write("auth/pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n");
  server->psql("SELECT pg_reload_conf()");

  write_config(server->port(), "method = \"dump\"\n");
  auto no_pw = strata({"--config", config_, "backup", "--source", "pg1"});
  EXPECT_EQ(no_pw.code, 7) << no_pw.err;
  EXPECT_NE(no_pw.err.find("cannot connect to PostgreSQL at 127.0.0.1:" + std::to_string(server->port())), std::string::npos) << no_pw.err;

  root_->write("pg.password", "pw-secret-1\n");
  write_config(server->port(), "method = \"dump\"\npassword_file = \"" + *root_ / "pg.password" + "\"\n");
  auto ok = strata({"--config", config_, "backup", "--source", "pg1"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.err.find("pw-secret-1"), std::string::npos);

  write_config(server->port(), "method = \"dump\"\npassword = \"pw-secret-1\"\n");
  auto inline_pw = strata({"--config", config_, "backup", "--source", "pg1"});
  EXPECT_EQ(inline_pw.code, kExitUsage);
  EXPECT_NE(inline_pw.err.find("has a password in the config"), std::string::npos) << inline_pw.err;
  EXPECT_EQ(inline_pw.err.find("pw-secret-1"), std::string::npos);
}

TEST_F(PostgresE2E, LogicalDumpRestoresIntoANamedDatabase) {
  auto server = std::make_unique<PostgresServer>(*root_, "logical");
  server->start();
  server->psql("CREATE DATABASE app");
  auto init = run({bin("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(server->port()), "-U", "postgres", "-i", "-s", "1", "-q", "app"});
  ASSERT_EQ(init.code, 0) << init.err;
  server->psql("UPDATE pgbench_accounts SET abalance = aid % 97 WHERE aid % 3 = 0", "app");
  std::string expected = server->psql(kChecksumSql, "app");
  write_config(server->port(), "method = \"dump\"\ndatabases = \"app\"\n");

  auto backup = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(backup.code, 0) << backup.err;
  auto list = nlohmann::json::parse(strata({"--config", config_, "list", "--source", "pg1", "--json"}).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["type"], "dump");
  EXPECT_EQ(list[0]["engine"]["database"], "app");

  auto restore = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--database", "app_copy"});
  ASSERT_EQ(restore.code, 0) << restore.err;
  EXPECT_EQ(server->psql(kChecksumSql, "app_copy"), expected);
}

}  // namespace
}  // namespace strata::test::pg
