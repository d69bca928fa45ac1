// Retention on a real MariaDB source (issue 16 parts 3 and the end-to-end test): `forget` expires an old full
// backup and, with it, the archived binlogs no kept backup needs any more — every file numbered before the one the
// oldest kept backup starts in — while the kept backup still restores exactly to the oldest point the policy
// promises (its own end) and to the latest archived point, and `binlog list` still reports a complete range.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/engine_fixture.hpp"
#include "support/mariadb_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;
const std::vector<std::string> kTables = {"orders", "events"};

std::string admin(const MariaDbServer& s) { return "--no-defaults -uroot --socket=" + shq(s.socket); }

std::vector<std::string> listed_binlogs(const StrataCli& cli) {
  auto r = cli.run({"binlog", "list", "--source", "db", "--json"});
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& b : j["binlogs"]) out.push_back(b["name"].get<std::string>());
  return out;
}

// The binlog file a backup's replay starts in, from `strata show ID` ("engine: {...}").
std::string binlog_file_of(const StrataCli& cli, const std::string& id) {
  auto r = cli.run({"show", id});
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("engine:", 0) != 0) continue;
    auto j = nlohmann::json::parse(line.substr(line.find('{')), nullptr, false);
    if (j.is_object()) return j.value("binlog_file", "");
  }
  return "";
}

std::string newest_id(const StrataCli& cli) {
  auto j = nlohmann::json::parse(cli.run({"list", "--source", "db", "--json"}).out, nullptr, false);
  return j.is_array() && !j.empty() ? j.back()["id"].get<std::string>() : "";
}

TableState restore_at(const StrataCli& cli, const MariaDbServer& origin, const std::string& dir, const std::string& time,
                      CmdResult* result) {
  int port = free_loopback_port();
  *result = cli.run({"restore", "--source", "db", "--target-time", time, "--target-dir", dir, "--start", "--port",
                     std::to_string(port)});
  TableState st;
  if (result->rc == 0) {
    st = table_state(tcp_client_opts(origin, port), "app", kTables);
    stop_pidfile(dir + "/strata-mariadbd.pid");
  }
  return st;
}

TEST(MysqlRetention, ForgetDeletesBinlogsNoKeptBackupNeedsAndKeepsEveryPromisedPoint) {
  TempDir tmp("strata-myret");
  MariaDbServer server(tmp / "origin");
  create_app_schema(server);
  write_file(tmp / "strata.toml", server.source_toml("db"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  Writer writer(server);
  writer.start();

  // Full A, binlogs archived across it, then full B in a later binlog file.
  ASSERT_TRUE(writer.wait_batches(5)) << writer.last_error();
  auto a = cli.run({"backup", "--source", "db", "--type", "full"});
  ASSERT_EQ(a.rc, 0) << a.err;
  const std::string id_a = newest_id(cli);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(writer.wait_batches(5)) << writer.last_error();
    auto arch = cli.run({"binlog", "archive", "--source", "db"});  // flushes: one more closed file each time
    ASSERT_EQ(arch.rc, 0) << arch.err;
  }
  auto b = cli.run({"backup", "--source", "db", "--type", "full"});
  ASSERT_EQ(b.rc, 0) << b.err;
  const std::string id_b = newest_id(cli);
  ASSERT_NE(id_a, id_b);
  const std::string start_b = binlog_file_of(cli, id_b);
  ASSERT_FALSE(start_b.empty()) << cli.run({"show", id_b}).out;

  // T1: the oldest point the policy below promises (right after B); T2: the newest archived point.
  ASSERT_TRUE(writer.wait_batches(5)) << writer.last_error();
  writer.pause();
  TableState at_t1 = table_state(admin(server), "app", kTables);
  std::string t1 = next_server_second(server);
  writer.resume();
  ASSERT_TRUE(writer.wait_batches(10)) << writer.last_error();
  ASSERT_EQ(cli.run({"binlog", "archive", "--source", "db"}).rc, 0);
  ASSERT_TRUE(writer.wait_batches(5)) << writer.last_error();
  writer.stop();
  ASSERT_TRUE(writer.last_error().empty()) << writer.last_error();
  TableState at_t2 = table_state(admin(server), "app", kTables);
  std::string t2 = next_server_second(server);
  ASSERT_EQ(cli.run({"binlog", "archive", "--source", "db"}).rc, 0);
  ASSERT_NE(at_t1, at_t2);

  const auto before = listed_binlogs(cli);
  std::vector<std::string> needed, not_needed;
  for (const auto& f : before) (f < start_b ? not_needed : needed).push_back(f);
  ASSERT_GE(not_needed.size(), 3u) << "A's files should precede B's: " << start_b;

  auto forget = cli.run({"forget", "--source", "db", "--keep-last", "1", "--now", "--json"});
  ASSERT_EQ(forget.rc, 0) << forget.err;
  auto j = nlohmann::json::parse(forget.out, nullptr, false)["sources"];
  ASSERT_TRUE(j.is_array() && j.size() == 1) << forget.out;
  EXPECT_EQ(j[0]["deleted"], nlohmann::json::array({id_a})) << forget.out;
  EXPECT_EQ(j[0]["binlog_needed_from"], start_b) << forget.out;
  EXPECT_EQ(j[0]["binlog_deleted"].get<std::vector<std::string>>(), not_needed) << forget.out;

  // Exactly the files from B's on are left, with no gap; the repository holds nothing of A or the older files.
  EXPECT_EQ(listed_binlogs(cli), needed);
  auto list = cli.run({"binlog", "list", "--source", "db"});
  EXPECT_EQ(list.rc, 0) << list.out << list.err;
  auto check = cli.run({"check"});
  EXPECT_EQ(check.rc, 0) << check.out << check.err;
  auto again = cli.run({"forget", "--source", "db", "--keep-last", "1", "--now", "--json"});
  ASSERT_EQ(again.rc, 0) << again.err;
  auto j2 = nlohmann::json::parse(again.out, nullptr, false)["sources"];
  EXPECT_TRUE(j2.is_array() && j2[0]["binlog_deleted"].empty() && j2[0]["deleted"].empty()) << again.out;

  CmdResult r1, r2;
  TableState got1 = restore_at(cli, server, tmp / "t1", t1, &r1);
  ASSERT_EQ(r1.rc, 0) << r1.err;
  EXPECT_EQ(got1, at_t1) << describe(got1) << " vs " << describe(at_t1);
  TableState got2 = restore_at(cli, server, tmp / "t2", t2, &r2);
  ASSERT_EQ(r2.rc, 0) << r2.err;
  EXPECT_EQ(got2, at_t2) << describe(got2) << " vs " << describe(at_t2);
}

}  // namespace
}  // namespace strata::test
