// MariaDB 10.11 end to end: physical full + incrementals under concurrent writes, binlog archiving, restores to a
// recorded point in time and to the end of the archive, broken chains, gaps, and the logical method.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>

#include "support/engine_fixture.hpp"
#include "support/mariadb_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;
const std::vector<std::string> kTables = {"orders", "events"};

void create_schema(const MariaDbServer& s) {
  s.query(
      "CREATE DATABASE app;"
      "CREATE TABLE app.orders (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, v VARCHAR(255) NOT NULL,"
      " amount DECIMAL(12,2) NOT NULL, KEY (k)) ENGINE=InnoDB;"
      "CREATE TABLE app.events (id BIGINT AUTO_INCREMENT PRIMARY KEY, batch BIGINT NOT NULL, note TEXT) ENGINE=InnoDB;"
      "USE app; INSERT INTO app.orders (k, v, amount) SELECT seq % 1000, MD5(seq), seq / 7 FROM seq_1_to_20000;");
}

// The server's clock decides which binlog events fall before a --target-time: wait (on that clock) until a whole
// second has passed, so everything recorded so far is strictly before the returned time and all later writes after.
std::string next_second(const MariaDbServer& s) {
  long t = std::stol(s.query("SELECT UNIX_TIMESTAMP()")) + 1;
  bool passed = wait_for([&] { return std::stol(s.query("SELECT UNIX_TIMESTAMP()")) >= t; }, std::chrono::seconds(10));
  EXPECT_TRUE(passed);
  return "@" + std::to_string(t);
}

std::string backup_id(const CmdResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  return j.is_object() ? j.value("id", "") : "";
}

struct Restored {
  CmdResult result;
  int port = 0;
  std::string datadir;
};

Restored restore_and_start(const StrataCli& cli, const TempDir& tmp, const std::string& name,
                           std::vector<std::string> extra) {
  Restored r;
  r.port = free_loopback_port();
  r.datadir = tmp / name;
  std::vector<std::string> args = {"restore", "--source", "db", "--target-dir", r.datadir, "--start", "--port",
                                   std::to_string(r.port)};
  args.insert(args.end(), extra.begin(), extra.end());
  r.result = cli.run(args);
  return r;
}

TEST(MysqlEngine, FullIncrementalsBinlogsAndPointInTimeUnderWrites) {
  TempDir tmp("strata-my");
  MariaDbServer server(tmp / "origin");
  create_schema(server);
  write_file(tmp / "strata.toml", server.source_toml("db"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);

  Writer writer(server);
  writer.start();
  ASSERT_TRUE(writer.wait_batches(5)) << writer.last_error();
  auto full = cli.run({"backup", "--source", "db", "--type", "full", "--json"});
  ASSERT_EQ(full.rc, 0) << full.err;
  ASSERT_TRUE(writer.wait_batches(10)) << writer.last_error();
  auto inc1 = cli.run({"backup", "--source", "db", "--type", "incremental", "--json"});
  ASSERT_EQ(inc1.rc, 0) << inc1.err;
  ASSERT_TRUE(writer.wait_batches(10)) << writer.last_error();
  auto inc2 = cli.run({"backup", "--source", "db", "--type", "incremental", "--json"});
  ASSERT_EQ(inc2.rc, 0) << inc2.err;
  std::string full_id = backup_id(full), inc1_id = backup_id(inc1), inc2_id = backup_id(inc2);
  ASSERT_FALSE(inc1_id.empty());

  // The manifests carry the chain and what a restore needs.
  auto m1 = nlohmann::json::parse(inc1.out), m2 = nlohmann::json::parse(inc2.out), m0 = nlohmann::json::parse(full.out);
  EXPECT_EQ(m1["parent"], full_id);
  EXPECT_EQ(m2["parent"], inc1_id);
  EXPECT_EQ(m1["engine"]["from_lsn"], m0["engine"]["to_lsn"]);
  EXPECT_EQ(m2["engine"]["from_lsn"], m1["engine"]["to_lsn"]);
  EXPECT_TRUE(m2["engine"].contains("binlog_file"));
  EXPECT_FALSE(m2["engine"].value("gtid", "").empty());
  EXPECT_NE(m0["engine"].value("server_version", "").find("10.11"), std::string::npos);

  // Point T: the writer is still, T is a whole second after the last write, and writes go on after it.
  ASSERT_TRUE(writer.wait_batches(10)) << writer.last_error();
  writer.pause();
  TableState at_t = table_state("--no-defaults -uroot --socket=" + shq(server.socket), "app", kTables);
  std::string t = next_second(server);
  writer.resume();
  ASSERT_TRUE(writer.wait_batches(15)) << writer.last_error();
  writer.stop();
  ASSERT_TRUE(writer.last_error().empty()) << writer.last_error();
  TableState at_end = table_state("--no-defaults -uroot --socket=" + shq(server.socket), "app", kTables);
  std::string t_end = next_second(server);
  ASSERT_NE(at_t, at_end);

  auto arch = cli.run({"binlog", "archive", "--source", "db"});
  ASSERT_EQ(arch.rc, 0) << arch.err;
  EXPECT_NE(arch.out.find("shipped"), std::string::npos);
  auto blist = cli.run({"binlog", "list", "--source", "db"});
  EXPECT_NE(blist.out.find("0 gaps"), std::string::npos) << blist.out;

  // `strata list` shows the chain: each incremental names its parent.
  auto list = cli.run({"list"});
  ASSERT_EQ(list.rc, 0);
  auto line_of = [&](const std::string& id) {
    auto p = list.out.find(id + " ");
    return p == std::string::npos ? std::string() : list.out.substr(p, list.out.find('\n', p) - p);
  };
  EXPECT_NE(line_of(inc2_id).find(inc1_id), std::string::npos) << list.out;
  EXPECT_NE(line_of(inc1_id).find(full_id), std::string::npos) << list.out;
  EXPECT_NE(line_of(inc2_id).find("incremental"), std::string::npos) << list.out;

  {
    // Newest chain ending before T (full + both incrementals), then binlogs up to T.
    Restored r = restore_and_start(cli, tmp, "at-t", {"--target-time", t});
    ASSERT_EQ(r.result.rc, 0) << r.result.err;
    EXPECT_NE(r.result.err.find(inc2_id), std::string::npos) << r.result.err;
    EXPECT_NE(r.result.err.find("reached binlog"), std::string::npos) << r.result.err;
    std::string opts = tcp_client_opts(server, r.port);
    EXPECT_EQ(table_state(opts, "app", kTables), at_t) << "restored: " << describe(table_state(opts, "app", kTables))
                                                       << "\nrecorded: " << describe(at_t);
    std::string report;
    EXPECT_TRUE(check_tables_clean(opts, "app", kTables, &report)) << report;
    stop_pidfile(r.datadir + "/strata-mariadbd.pid");
  }
  {
    // Latest: the newest chain plus every archived binlog.
    Restored r = restore_and_start(cli, tmp, "latest", {"--target-time", t_end});
    ASSERT_EQ(r.result.rc, 0) << r.result.err;
    std::string opts = tcp_client_opts(server, r.port);
    EXPECT_EQ(table_state(opts, "app", kTables), at_end) << "restored: " << describe(table_state(opts, "app", kTables))
                                                         << "\nrecorded: " << describe(at_end);
    std::string report;
    EXPECT_TRUE(check_tables_clean(opts, "app", kTables, &report)) << report;
    stop_pidfile(r.datadir + "/strata-mariadbd.pid");
  }

  // A corrupt incremental: refused, the target stays untouched.
  std::string obj_dir = tmp / ("repo/data/" + inc1_id);
  std::string victim;
  for (const auto& e : fs::recursive_directory_iterator(obj_dir)) {
    if (e.is_regular_file()) victim = e.path();
  }
  ASSERT_FALSE(victim.empty());
  std::string original = read_file(victim);
  std::string damaged = original;
  damaged[damaged.size() / 2] ^= 0x5a;
  write_file(victim, damaged);
  auto corrupt = cli.run({"restore", "--source", "db", "--latest", "--target-dir", tmp / "corrupt"});
  EXPECT_NE(corrupt.rc, 0);
  EXPECT_NE(corrupt.err.find("broken"), std::string::npos) << corrupt.err;
  EXPECT_NE(corrupt.err.find(inc1_id), std::string::npos) << corrupt.err;
  EXPECT_TRUE(!fs::exists(tmp / "corrupt") || fs::is_empty(tmp / "corrupt"));
  write_file(victim, original);

  // `delete` refuses a backup that another one builds on (issue 11 item 11), naming the dependant.
  auto refused = cli.run({"delete", inc1_id});
  EXPECT_EQ(refused.rc, 2) << refused.err;
  EXPECT_NE(refused.err.find("backup " + inc1_id + " is the parent of "), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("nothing was deleted"), std::string::npos) << refused.err;

  // A missing incremental (its manifest lost): refused before anything is fetched.
  fs::remove(tmp / "repo/backups" + ("/" + inc1_id));
  auto missing = cli.run({"restore", "--source", "db", "--latest", "--target-dir", tmp / "missing"});
  EXPECT_EQ(missing.rc, 9) << missing.err;
  EXPECT_NE(missing.err.find("missing from the repository"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find(inc1_id), std::string::npos) << missing.err;
  EXPECT_TRUE(!fs::exists(tmp / "missing") || fs::is_empty(tmp / "missing"));
}

TEST(MysqlEngine, BinlogGapIsReportedAndPointInTimeAcrossItRefused) {
  TempDir tmp("strata-my");
  MariaDbServer server(tmp / "origin");
  create_schema(server);
  write_file(tmp / "strata.toml", server.source_toml("db"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);

  // An incremental needs a full to build on.
  auto lonely = cli.run({"backup", "--source", "db", "--type", "incremental"});
  EXPECT_EQ(lonely.rc, 9);
  EXPECT_NE(lonely.err.find("no full backup"), std::string::npos) << lonely.err;

  ASSERT_EQ(cli.run({"backup", "--source", "db", "--type", "full"}).rc, 0);
  server.query("INSERT INTO app.events(batch, note) VALUES (1, 'a')");
  ASSERT_EQ(cli.run({"binlog", "archive", "--source", "db"}).rc, 0);
  // Binlogs the archiver never saw: rotate twice and purge them.
  server.query("INSERT INTO app.events(batch, note) VALUES (2, 'b'); FLUSH BINARY LOGS;");
  server.query("INSERT INTO app.events(batch, note) VALUES (3, 'c'); FLUSH BINARY LOGS;");
  std::string current = server.query("SHOW MASTER STATUS");
  current = current.substr(0, current.find('\t'));
  server.query("PURGE BINARY LOGS TO '" + current + "'");
  server.query("INSERT INTO app.events(batch, note) VALUES (4, 'd')");
  std::string t = next_second(server);

  // Exit 13 (problems found), documented in docs/CLI.md, for the archiver and for the listing alike.
  auto arch = cli.run({"binlog", "archive", "--source", "db"});
  EXPECT_EQ(arch.rc, 13) << arch.err;
  EXPECT_NE(arch.err.find("gap"), std::string::npos) << arch.err;
  auto list = cli.run({"binlog", "list", "--source", "db"});
  EXPECT_NE(list.out.find("GAP:"), std::string::npos) << list.out;
  EXPECT_EQ(list.rc, 13) << list.err;
  auto json = cli.run({"binlog", "list", "--source", "db", "--json"});
  EXPECT_EQ(json.rc, 13) << json.err;
  EXPECT_FALSE(nlohmann::json::parse(json.out, nullptr, false)["gaps"].empty()) << json.out;

  // Refused before anything is written: the target stays as it was.
  auto pitr = cli.run({"restore", "--source", "db", "--target-time", t, "--target-dir", tmp / "pitr"});
  EXPECT_EQ(pitr.rc, 9) << pitr.err;
  EXPECT_NE(pitr.err.find("missing from the archive"), std::string::npos) << pitr.err;
  EXPECT_NE(pitr.err.find("nothing was written"), std::string::npos) << pitr.err;
  EXPECT_TRUE(!fs::exists(tmp / "pitr") || fs::is_empty(tmp / "pitr"));
}

TEST(MysqlEngine, RemoteBinlogArchiveOverTcpShipsWholeFiles) {
  TempDir tmp("strata-my");
  MariaDbServer server(tmp / "origin");
  create_schema(server);
  // No socket and no binlog_dir: everything goes over TCP, as from an archiver on another host.
  write_file(tmp / "strata.toml", "[source.db]\nengine = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
                                      std::to_string(server.port) + "\nuser = \"strata\"\npassword_file = \"" +
                                      server.password_file + "\"\nbinlog_fetch = \"remote\"\n");
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  server.query("INSERT INTO app.events(batch, note) VALUES (1, REPEAT('r', 5000)); FLUSH BINARY LOGS;"
               "INSERT INTO app.events(batch, note) VALUES (2, 'x')");
  auto arch = cli.run({"binlog", "archive", "--source", "db"});
  ASSERT_EQ(arch.rc, 0) << arch.err;
  auto listed = nlohmann::json::parse(cli.run({"binlog", "list", "--source", "db", "--json"}).out);
  // Every closed file, byte for byte the size the server reports.
  std::map<std::string, uint64_t> on_server;
  std::string logs = server.query("SHOW BINARY LOGS");
  std::stringstream ss(logs);
  std::string line;
  while (std::getline(ss, line)) {
    auto tab = line.find('\t');
    on_server[line.substr(0, tab)] = std::stoull(line.substr(tab + 1));
  }
  ASSERT_EQ(listed["binlogs"].size() + 1, on_server.size()) << logs;
  for (const auto& b : listed["binlogs"]) {
    EXPECT_EQ(b["size"].get<uint64_t>(), on_server.at(b["name"].get<std::string>())) << b.dump();
    EXPECT_GT(b["created_epoch"].get<int64_t>(), 0);
  }
  EXPECT_TRUE(listed["gaps"].empty());
  // A second run ships nothing new but the file the flush just closed.
  auto again = cli.run({"binlog", "archive", "--source", "db"});
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_NE(again.out.find("1 shipped"), std::string::npos) << again.out;
}

TEST(MysqlEngine, LogicalDumpRoundTripIntoAnotherDatabase) {
  TempDir tmp("strata-my");
  MariaDbServer server(tmp / "origin");
  create_schema(server);
  write_file(tmp / "strata.toml", server.source_toml("db", "databases = \"app\"\n"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  server.query("INSERT INTO app.events(batch, note) VALUES (1, CONCAT('bin', CHAR(0), 'ary', CHAR(10), 'line'))");
  std::string admin = "--no-defaults -uroot --socket=" + shq(server.socket);
  TableState before = table_state(admin, "app", kTables);

  auto dump = cli.run({"backup", "--source", "db", "--type", "dump", "--json"});
  ASSERT_EQ(dump.rc, 0) << dump.err;
  EXPECT_EQ(nlohmann::json::parse(dump.out)["type"], "dump");
  // The password never reaches a command line or a log.
  EXPECT_EQ(dump.err.find("s3cret"), std::string::npos);

  auto restore = cli.run({"restore", "--source", "db", "--latest", "--database", "app_copy"});
  ASSERT_EQ(restore.rc, 0) << restore.err;
  TableState copy = table_state(admin, "app_copy", kTables);
  EXPECT_EQ(copy, before) << describe(copy) << " vs " << describe(before);
  std::string report;
  EXPECT_TRUE(check_tables_clean(admin, "app_copy", kTables, &report)) << report;
}

}  // namespace
}  // namespace strata::test
