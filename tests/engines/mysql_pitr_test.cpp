// MariaDB point-in-time recovery that must not pretend: a target past the end of the binlog archive (or with no
// archive) is refused with exit 14 unless --allow-partial; a refused or failed restore leaves the target as it was
// (or empty when it failed after writing); the restore user's privileges are checked before replaying; archives
// written in the first binlog layout stay restorable; a server that reports MySQL 8 is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/bytes.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"
#include "support/engine_fixture.hpp"
#include "support/mariadb_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;
const std::vector<std::string> kTables = {"orders", "events"};
// What docs/MYSQL_REDIS.md documents, exactly.
const char* kBackupGrants = "RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.*";
const char* kRestoreGrants =
    "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES, LOCK TABLES, "
    "EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, BINLOG REPLAY ON *.*";

std::string admin(const MariaDbServer& s) { return "--no-defaults -uroot --socket=" + shq(s.socket); }
bool untouched(const std::string& dir) { return !fs::exists(dir) || fs::is_empty(dir); }

struct Pitr {
  CmdResult result;
  TableState state;
};

Pitr restore_at(const StrataCli& cli, const MariaDbServer& origin, const std::string& dir, const std::string& time,
                std::vector<std::string> extra = {}) {
  Pitr p;
  int port = free_loopback_port();
  std::vector<std::string> args = {"restore", "--source", "db", "--target-time", time, "--target-dir", dir, "--start",
                                   "--port", std::to_string(port)};
  args.insert(args.end(), extra.begin(), extra.end());
  p.result = cli.run(args);
  if (p.result.rc == 0) {
    p.state = table_state(tcp_client_opts(origin, port), "app", kTables);
    stop_pidfile(dir + "/strata-mariadbd.pid");
  }
  return p;
}

TEST(MysqlPitr, TargetPastTheArchiveIsRefusedUnlessAllowPartial) {
  TempDir tmp("strata-my");
  MariaDbServer server(tmp / "origin");
  create_app_schema(server);
  write_file(tmp / "strata.toml", server.source_toml("db"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  ASSERT_EQ(cli.run({"backup", "--source", "db", "--type", "full"}).rc, 0);

  // Without any binlog archive a point after the backup cannot be reached.
  std::string t0 = next_server_second(server);
  auto none = cli.run({"restore", "--source", "db", "--target-time", t0, "--target-dir", tmp / "none"});
  EXPECT_EQ(none.rc, 14) << none.err;
  EXPECT_NE(none.err.find("no binlogs of source db are archived"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("--allow-partial"), std::string::npos) << none.err;
  EXPECT_TRUE(untouched(tmp / "none"));

  server.query("INSERT INTO app.events(batch, note) VALUES (1, 'archived')");
  ASSERT_EQ(cli.run({"binlog", "archive", "--source", "db"}).rc, 0);
  TableState archived = table_state(admin(server), "app", kTables);
  // A commit after the archive's end, then a target after it.
  next_server_second(server);
  server.query("INSERT INTO app.events(batch, note) VALUES (2, 'not archived')");
  std::string t = next_server_second(server);

  auto past = cli.run({"restore", "--source", "db", "--target-time", t, "--target-dir", tmp / "past"});
  EXPECT_EQ(past.rc, 14) << past.err;
  EXPECT_NE(past.err.find("ends before --target-time"), std::string::npos) << past.err;
  EXPECT_NE(past.err.find("nothing was written"), std::string::npos) << past.err;
  EXPECT_TRUE(untouched(tmp / "past"));
  auto future = cli.run({"restore", "--source", "db", "--target-time", "2030-01-01 00:00:00", "--target-dir", tmp / "future"});
  EXPECT_EQ(future.rc, 14) << future.err;
  EXPECT_TRUE(untouched(tmp / "future"));

  // --allow-partial restores up to the end of the archive and says that the target was not reached.
  Pitr partial = restore_at(cli, server, tmp / "partial", t, {"--allow-partial"});
  ASSERT_EQ(partial.result.rc, 0) << partial.result.err;
  EXPECT_NE(partial.result.err.find("target NOT reached"), std::string::npos) << partial.result.err;
  EXPECT_EQ(partial.state, archived) << describe(partial.state) << " vs " << describe(archived);

  // Once the rest is archived the same target is reached exactly.
  TableState at_t = table_state(admin(server), "app", kTables);
  ASSERT_EQ(cli.run({"binlog", "archive", "--source", "db"}).rc, 0);
  Pitr exact = restore_at(cli, server, tmp / "exact", t);
  ASSERT_EQ(exact.result.rc, 0) << exact.result.err;
  EXPECT_EQ(exact.result.err.find("NOT reached"), std::string::npos) << exact.result.err;
  EXPECT_EQ(exact.state, at_t) << describe(exact.state) << " vs " << describe(at_t);
}

TEST(MysqlPitr, RestoreUserIsCheckedAndFailuresLeaveNoHalfRestoredDatadir) {
  TempDir tmp("strata-my");
  MariaDbServer server(tmp / "origin");
  create_app_schema(server);
  server.create_user("bk", kBackupGrants);
  server.create_user("rs", kRestoreGrants);
  server.create_user("weak", "SELECT, INSERT, UPDATE, DELETE ON *.*");
  // Backups and archiving with exactly the documented backup grants.
  std::string base = server.source_toml("db", "", "bk");
  write_file(tmp / "strata.toml", base);
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  Writer writer(server);
  writer.start();
  ASSERT_TRUE(writer.wait_batches(5)) << writer.last_error();
  auto full = cli.run({"backup", "--source", "db", "--type", "full"});
  ASSERT_EQ(full.rc, 0) << full.err;
  ASSERT_TRUE(writer.wait_batches(10)) << writer.last_error();
  writer.pause();
  TableState at_t = table_state(admin(server), "app", kTables);
  std::string t = next_server_second(server);
  writer.resume();
  ASSERT_TRUE(writer.wait_batches(5)) << writer.last_error();
  writer.stop();
  auto arch = cli.run({"binlog", "archive", "--source", "db"});
  ASSERT_EQ(arch.rc, 0) << arch.err;

  // The backup user cannot replay: refused before anything is written, naming what is missing.
  auto weak_user = cli.run({"restore", "--source", "db", "--target-time", t, "--target-dir", tmp / "t1"});
  EXPECT_EQ(weak_user.rc, 2) << weak_user.err;
  EXPECT_NE(weak_user.err.find("BINLOG REPLAY"), std::string::npos) << weak_user.err;
  EXPECT_NE(weak_user.err.find("restore_user"), std::string::npos) << weak_user.err;
  EXPECT_NE(weak_user.err.find("nothing was written"), std::string::npos) << weak_user.err;
  EXPECT_TRUE(untouched(tmp / "t1"));

  // A restore user that got its privileges on the source only after the backup: the restored copy (the backup's
  // grant tables) refuses it after the datadir was written, and what was written is removed again.
  server.query("GRANT ALL PRIVILEGES ON *.* TO 'weak'@'localhost'");
  write_file(tmp / "strata.toml", server.source_toml("db", "restore_user = \"weak\"\nrestore_password_file = \"" +
                                                               server.password_file + "\"\n", "bk"));
  fs::create_directories(tmp / "t2");  // an existing, empty target stays, emptied again
  auto late = cli.run({"restore", "--source", "db", "--target-time", t, "--target-dir", tmp / "t2"});
  EXPECT_EQ(late.rc, 2) << late.err;
  EXPECT_NE(late.err.find("restored copy"), std::string::npos) << late.err;
  EXPECT_NE(late.err.find("removed from"), std::string::npos) << late.err;
  EXPECT_TRUE(fs::exists(tmp / "t2") && fs::is_empty(tmp / "t2"));

  // A damaged archived binlog: exit 5 before the target is touched.
  std::string victim;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "repo/data")) {
    if (e.is_regular_file() && e.path().string().find("binlog.") != std::string::npos) victim = e.path();
  }
  ASSERT_FALSE(victim.empty());
  std::string original = read_file(victim);
  std::string damaged = original;
  damaged[damaged.size() / 2] ^= 0x5a;
  write_file(victim, damaged);
  write_file(tmp / "strata.toml", server.source_toml("db", "restore_user = \"rs\"\nrestore_password_file = \"" +
                                                               server.password_file + "\"\n", "bk"));
  auto corrupt = cli.run({"restore", "--source", "db", "--target-time", t, "--target-dir", tmp / "t3"});
  EXPECT_EQ(corrupt.rc, 5) << corrupt.err;
  EXPECT_NE(corrupt.err.find("nothing was written"), std::string::npos) << corrupt.err;
  EXPECT_TRUE(untouched(tmp / "t3"));
  write_file(victim, original);

  // The documented restore grants replay exactly.
  Pitr ok = restore_at(cli, server, tmp / "t4", t);
  ASSERT_EQ(ok.result.rc, 0) << ok.result.err;
  EXPECT_EQ(ok.state, at_t) << describe(ok.state) << " vs " << describe(at_t);
}

// Binlogs archived by strata before per-source ids: manifest id = file name, objects under data/<file>/.
void archive_in_first_layout(const std::string& repo_path, const MariaDbServer& server, const std::string& file) {
  Repository repo(open_storage(repo_path, {}));
  repo.unlock("engine-test-passphrase");
  std::string path = server.datadir + "/" + file;
  std::string head = read_file(path).substr(0, 8);
  int64_t created = int64_t(uint8_t(head[4])) | int64_t(uint8_t(head[5])) << 8 | int64_t(uint8_t(head[6])) << 16 |
                    int64_t(uint8_t(head[7])) << 24;
  BackupOptions o;
  o.source = "db";
  o.type = "binlog";
  o.id = file;
  o.catalog = "binlog/db";
  nlohmann::json j = {{"engine", "mysql"}, {"method", "binlog"}, {"file", file},
                      {"index", std::stoull(file.substr(file.rfind('.') + 1))}, {"created_epoch", created}, {"server_id", "1"}};
  o.engine_json = j.dump();
  auto src = open_file_source(path);
  repo.backup(*src, o, {});
}

TEST(MysqlPitr, FirstLayoutArchivesStayRestorableAndMixWithNewOnes) {
  TempDir tmp("strata-my");
  MariaDbServer server(tmp / "origin");
  create_app_schema(server);
  write_file(tmp / "strata.toml", server.source_toml("db"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  ASSERT_EQ(cli.run({"backup", "--source", "db", "--type", "full"}).rc, 0);
  auto current = [&] {
    std::string f = server.query("SHOW MASTER STATUS");
    return f.substr(0, f.find('\t'));
  };
  server.query("INSERT INTO app.events(batch, note) VALUES (0, 'old layout')");
  std::string file0 = current();
  server.query("FLUSH BINARY LOGS");
  archive_in_first_layout(tmp / "repo", server, file0);
  server.query("INSERT INTO app.events(batch, note) VALUES (1, 'old layout')");
  TableState at_t1 = table_state(admin(server), "app", kTables);
  std::string t1 = next_server_second(server);
  std::string file1 = current();
  server.query("FLUSH BINARY LOGS");
  archive_in_first_layout(tmp / "repo", server, file1);
  ASSERT_TRUE(fs::exists(tmp / ("repo/data/" + file0)));

  // Old manifests do not record when a file was closed: restore reads it from the file itself.
  std::string t2 = next_server_second(server);
  auto past = cli.run({"restore", "--source", "db", "--target-time", t2, "--target-dir", tmp / "past"});
  EXPECT_EQ(past.rc, 14) << past.err;
  EXPECT_NE(past.err.find(file1), std::string::npos) << past.err;
  EXPECT_TRUE(untouched(tmp / "past"));
  Pitr old_only = restore_at(cli, server, tmp / "old", t1);
  ASSERT_EQ(old_only.result.rc, 0) << old_only.result.err;
  EXPECT_EQ(old_only.state, at_t1) << describe(old_only.state) << " vs " << describe(at_t1);

  // The new archiver continues the old archive: it ships only what is not there yet.
  server.query("INSERT INTO app.events(batch, note) VALUES (7, 'new layout')");
  auto arch = cli.run({"binlog", "archive", "--source", "db"});
  ASSERT_EQ(arch.rc, 0) << arch.err;
  EXPECT_NE(arch.out.find("2 already archived"), std::string::npos) << arch.out;
  auto list = cli.run({"binlog", "list", "--source", "db", "--json"});
  ASSERT_EQ(list.rc, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out)["binlogs"].size(), 3u) << list.out;

  TableState at_t = table_state(admin(server), "app", kTables);
  std::string t = next_server_second(server);
  server.query("INSERT INTO app.events(batch, note) VALUES (8, 'after t')");
  ASSERT_EQ(cli.run({"binlog", "archive", "--source", "db"}).rc, 0);
  Pitr mixed = restore_at(cli, server, tmp / "mixed", t);
  ASSERT_EQ(mixed.result.rc, 0) << mixed.result.err;
  EXPECT_EQ(mixed.state, at_t) << describe(mixed.state) << " vs " << describe(at_t);
}

TEST(MysqlPitr, ServerReportingMysql8IsRefused) {
  TempDir tmp("strata-my");
  MariaDbOptions o;
  o.extra_args = {"--version=8.0.36"};  // a real server whose VERSION() says MySQL 8
  MariaDbServer server(tmp / "origin", o);
  ASSERT_EQ(server.query("SELECT VERSION()").substr(0, 6), "8.0.36");
  write_file(tmp / "strata.toml", server.source_toml("db"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  for (std::vector<std::string> args : {std::vector<std::string>{"backup", "--source", "db", "--type", "full"},
                                        std::vector<std::string>{"backup", "--source", "db", "--type", "dump"},
                                        std::vector<std::string>{"binlog", "archive", "--source", "db"}}) {
    auto r = cli.run(args);
    EXPECT_EQ(r.rc, 2) << args[0] << " " << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find("runs MySQL 8.0.36, which strata does not support yet"), std::string::npos) << r.err;
  }
  auto list = cli.run({"list", "--json"});
  EXPECT_EQ(list.out.find("\"id\""), std::string::npos) << list.out;
}

}  // namespace
}  // namespace strata::test
