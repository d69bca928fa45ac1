// Binlog archiving against real MariaDB 10.11 servers: two servers archiving into one repository (each restored to
// its own recorded point exactly, with load running), a source that is pointed at another server, and an archiver
// killed in the middle of an upload.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/child_process.hpp"
#include "support/engine_fixture.hpp"
#include "support/mariadb_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;
const std::vector<std::string> kTables = {"orders", "events"};

std::string admin(const MariaDbServer& s) { return "--no-defaults -uroot --socket=" + shq(s.socket); }

// Closed binlogs on the server: name -> size (the last, open file excluded).
std::map<std::string, uint64_t> closed_binlogs(const MariaDbServer& s) {
  std::map<std::string, uint64_t> out;
  std::stringstream ss(s.query("SHOW BINARY LOGS"));
  std::string line, last;
  while (std::getline(ss, line)) {
    auto tab = line.find('\t');
    out[line.substr(0, tab)] = std::stoull(line.substr(tab + 1));
    last = line.substr(0, tab);
  }
  out.erase(last);
  return out;
}

std::map<std::string, uint64_t> listed_binlogs(const StrataCli& cli, const std::string& source) {
  auto r = cli.run({"binlog", "list", "--source", source, "--json"});
  std::map<std::string, uint64_t> out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& b : j["binlogs"]) out[b["name"].get<std::string>()] = b["size"].get<uint64_t>();
  return out;
}

struct Pitr {
  CmdResult result;
  TableState state;
};

Pitr restore_at(const StrataCli& cli, const MariaDbServer& origin, const TempDir& tmp, const std::string& source,
                const std::string& time, const std::string& dir) {
  Pitr p;
  int port = free_loopback_port();
  p.result = cli.run({"restore", "--source", source, "--target-time", time, "--target-dir", tmp / dir, "--start", "--port",
                      std::to_string(port)});
  if (p.result.rc == 0) {
    p.state = table_state(tcp_client_opts(origin, port), "app", kTables);
    stop_pidfile(tmp / (dir + "/strata-mariadbd.pid"));
  }
  return p;
}

TEST(MysqlArchive, TwoServersInOneRepositoryEachRestoreToItsPointExactly) {
  TempDir tmp("strata-my");
  MariaDbServer a(tmp / "a");
  MariaDbOptions ob;
  ob.server_id = 2;
  MariaDbServer b(tmp / "b", ob);
  create_app_schema(a);
  create_app_schema(b);
  // Different data on each, so a restore of one from the other's binlogs cannot pass.
  b.query("DELETE FROM app.orders WHERE id % 3 = 0");
  write_file(tmp / "strata.toml", a.source_toml("db1") + b.source_toml("db2"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);

  Writer wa(a), wb(b);
  wa.start();
  wb.start();
  ASSERT_TRUE(wa.wait_batches(5)) << wa.last_error();
  ASSERT_TRUE(wb.wait_batches(5)) << wb.last_error();
  auto f1 = cli.run({"backup", "--source", "db1", "--type", "full"});
  ASSERT_EQ(f1.rc, 0) << f1.err;
  auto f2 = cli.run({"backup", "--source", "db2", "--type", "full"});
  ASSERT_EQ(f2.rc, 0) << f2.err;
  ASSERT_TRUE(wa.wait_batches(10)) << wa.last_error();
  ASSERT_TRUE(wb.wait_batches(10)) << wb.last_error();
  // Both servers' binlogs are named binlog.000001, binlog.000002, ...: archived while the writers run.
  auto a1 = cli.run({"binlog", "archive", "--source", "db1"});
  ASSERT_EQ(a1.rc, 0) << a1.err;
  auto b1 = cli.run({"binlog", "archive", "--source", "db2"});
  ASSERT_EQ(b1.rc, 0) << b1.err;
  EXPECT_NE(b1.out.find("shipped binlog.000001"), std::string::npos) << b1.out;

  // Point T of each: writers still, a whole second after the last commit; writes go on after it.
  ASSERT_TRUE(wa.wait_batches(10)) << wa.last_error();
  ASSERT_TRUE(wb.wait_batches(10)) << wb.last_error();
  wa.pause();
  wb.pause();
  TableState at_a = table_state(admin(a), "app", kTables), at_b = table_state(admin(b), "app", kTables);
  std::string ta = next_server_second(a), tb = next_server_second(b);
  wa.resume();
  wb.resume();
  ASSERT_TRUE(wa.wait_batches(10)) << wa.last_error();
  ASSERT_TRUE(wb.wait_batches(10)) << wb.last_error();
  auto a2 = cli.run({"binlog", "archive", "--source", "db1"});
  ASSERT_EQ(a2.rc, 0) << a2.err;
  auto b2 = cli.run({"binlog", "archive", "--source", "db2"});
  ASSERT_EQ(b2.rc, 0) << b2.err;
  ASSERT_TRUE(wa.wait_batches(5)) << wa.last_error();
  ASSERT_TRUE(wb.wait_batches(5)) << wb.last_error();
  wa.stop();
  wb.stop();
  ASSERT_TRUE(wa.last_error().empty() && wb.last_error().empty()) << wa.last_error() << wb.last_error();
  ASSERT_NE(at_a, at_b);

  // Each source lists every file its server closed, with the server's size: nothing "shipped" is missing.
  for (auto [server, source] : {std::pair{&a, "db1"}, std::pair{&b, "db2"}}) {
    auto on_server = closed_binlogs(*server);
    EXPECT_EQ(listed_binlogs(cli, source), on_server) << source;
    auto list = cli.run({"binlog", "list", "--source", source});
    EXPECT_EQ(list.rc, 0) << list.out << list.err;
  }
  auto check = cli.run({"check"});
  EXPECT_EQ(check.rc, 0) << check.out << check.err;

  Pitr pa = restore_at(cli, a, tmp, "db1", ta, "pitr-a");
  ASSERT_EQ(pa.result.rc, 0) << pa.result.err;
  EXPECT_EQ(pa.state, at_a) << "restored: " << describe(pa.state) << "\nrecorded: " << describe(at_a);
  Pitr pb = restore_at(cli, b, tmp, "db2", tb, "pitr-b");
  ASSERT_EQ(pb.result.rc, 0) << pb.result.err;
  EXPECT_EQ(pb.state, at_b) << "restored: " << describe(pb.state) << "\nrecorded: " << describe(at_b);
}

TEST(MysqlArchive, SourcePointedAtAnotherServerIsRefused) {
  TempDir tmp("strata-my");
  MariaDbServer a(tmp / "a");
  MariaDbServer b(tmp / "b");  // the same server_id 1 and the same file names: only the history tells them apart
  create_app_schema(a);
  create_app_schema(b);
  write_file(tmp / "strata.toml", a.source_toml("db"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  a.query("INSERT INTO app.events(batch, note) VALUES (1, 'a')");
  ASSERT_EQ(cli.run({"binlog", "archive", "--source", "db"}).rc, 0);
  auto before = listed_binlogs(cli, "db");
  ASSERT_FALSE(before.empty());

  // The config now names server b under the same source.
  b.query("INSERT INTO app.events(batch, note) VALUES (2, 'b'); FLUSH BINARY LOGS;");
  write_file(tmp / "strata.toml", b.source_toml("db"));
  auto mixed = cli.run({"binlog", "archive", "--source", "db"});
  EXPECT_EQ(mixed.rc, 2) << mixed.out << mixed.err;
  EXPECT_NE(mixed.err.find("another server"), std::string::npos) << mixed.err;
  EXPECT_NE(mixed.err.find("new source name"), std::string::npos) << mixed.err;
  EXPECT_EQ(mixed.out.find("shipped binlog"), std::string::npos) << mixed.out;
  EXPECT_EQ(listed_binlogs(cli, "db"), before);

  // Under a source name of its own, server b archives normally.
  write_file(tmp / "strata.toml", a.source_toml("db") + b.source_toml("db-b"));
  auto own = cli.run({"binlog", "archive", "--source", "db-b"});
  EXPECT_EQ(own.rc, 0) << own.err;
  EXPECT_EQ(listed_binlogs(cli, "db-b"), closed_binlogs(b));

  // A server with another server_id whose files share no name with the archive (its early ones purged): nothing
  // proves the history continues, so the server_id change is refused.
  MariaDbOptions oc;
  oc.server_id = 2;
  MariaDbServer c(tmp / "c", oc);
  c.query("FLUSH BINARY LOGS; FLUSH BINARY LOGS; FLUSH BINARY LOGS; FLUSH BINARY LOGS;");
  std::string cur = c.query("SHOW MASTER STATUS");
  cur = cur.substr(0, cur.find('\t'));
  // MariaDB keeps a binlog until its binlog checkpoint has moved past it (asynchronously, after the flushes): PURGE
  // can be a no-op for binlog.000001 for a moment, so purge until only the current file is left.
  ASSERT_TRUE(wait_for(
      [&] {
        c.query("PURGE BINARY LOGS TO '" + cur + "'");
        std::string logs = c.query("SHOW BINARY LOGS");
        return logs.rfind(cur, 0) == 0 && logs.find('\n') == logs.rfind('\n');
      },
      std::chrono::seconds(60)))
      << "server c kept its early binlogs: " << c.query("SHOW BINARY LOGS");
  write_file(tmp / "strata.toml", c.source_toml("db"));
  auto other_id = cli.run({"binlog", "archive", "--source", "db"});
  EXPECT_EQ(other_id.rc, 2) << other_id.out << other_id.err;
  EXPECT_NE(other_id.err.find("now reports server_id 2"), std::string::npos) << other_id.err;
  EXPECT_NE(other_id.err.find("new source name"), std::string::npos) << other_id.err;
  EXPECT_EQ(listed_binlogs(cli, "db"), before);
}

// Interrupts `binlog archive` once the first data object of `file` is stored (the upload is throttled, so the
// file is still being uploaded), with `sig`.
void kill_mid_upload(const TempDir& tmp, const std::string& file, int sig, const std::string& tag) {
  pid_t pid = spawn_strata(tmp / "repo", tmp / "strata.toml",
                           {"--limit-upload", "1MiB/s", "binlog", "archive", "--source", "db", "--no-flush"},
                           tmp / ("killed-" + tag + ".log"));
  // Objects appear under their final name only once whole (the local driver links a finished temp file).
  auto object_stored = [&] {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(tmp / "repo/data", ec)) {
      std::string p = e.path().string();
      if (e.is_regular_file() && p.find(file) != std::string::npos && p.find(".strata-tmp-") == std::string::npos) return true;
    }
    return false;
  };
  bool stored = wait_for(object_stored, std::chrono::seconds(120));
  int status = stop_child(pid, sig, std::chrono::seconds(30));
  ASSERT_TRUE(stored) << read_file(tmp / ("killed-" + tag + ".log"));
  EXPECT_NE(status, 0) << "the archiver finished before it was interrupted; make the binlog larger";
}

TEST(MysqlArchive, ArchiverKilledMidUploadConvergesOnTheNextRun) {
  TempDir tmp("strata-my");
  MariaDbServer server(tmp / "origin");
  create_app_schema(server);
  server.query("CREATE TABLE app.blobs (id INT PRIMARY KEY, b BLOB NOT NULL) ENGINE=InnoDB");
  // No compression and 1 MiB objects: a binlog of several MiB is several objects, uploaded at 1 MiB/s.
  write_file(tmp / "strata.toml", "[backup]\ncompression = \"none\"\nframe_size = \"256KiB\"\nobject_size = \"1MiB\"\n\n" +
                                      server.source_toml("db"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  ASSERT_EQ(cli.run({"backup", "--source", "db", "--type", "full"}).rc, 0);

  TableState at_t;
  std::string t;
  for (int round = 0; round < 2; ++round) {
    // ~6 MiB of incompressible rows in one binlog file, then close it.
    int base = round * 10000;
    server.query("USE app; INSERT INTO app.blobs SELECT seq + " + std::to_string(base) + ", CONCAT(RANDOM_BYTES(1024), RANDOM_BYTES(1024), "
                 "RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024)) FROM seq_1_to_1000");
    server.query("INSERT INTO app.events(batch, note) VALUES (" + std::to_string(round) + ", 'round')");
    std::string file = server.query("SHOW MASTER STATUS");
    file = file.substr(0, file.find('\t'));
    server.query("FLUSH BINARY LOGS");
    if (round == 1) {
      at_t = table_state(admin(server), "app", {"orders", "events", "blobs"});
      t = next_server_second(server);
      server.query("INSERT INTO app.events(batch, note) VALUES (99, 'after t'); FLUSH BINARY LOGS");
    }
    // Round 0: SIGTERM; round 1: SIGKILL (no chance to clean up at all).
    kill_mid_upload(tmp, file, round == 0 ? SIGTERM : SIGKILL, std::to_string(round));
    // Nothing of the interrupted upload is listed as archived...
    EXPECT_EQ(listed_binlogs(cli, "db").count(file), 0u) << file;
    // ...and the next run ships it for real.
    auto again = cli.run({"binlog", "archive", "--source", "db", "--no-flush"});
    ASSERT_EQ(again.rc, 0) << again.err;
    EXPECT_NE(again.out.find(file), std::string::npos) << again.out;
    EXPECT_EQ(listed_binlogs(cli, "db"), closed_binlogs(server)) << again.out;
    auto list = cli.run({"binlog", "list", "--source", "db"});
    EXPECT_EQ(list.rc, 0) << list.out;
  }

  // The interrupted uploads left unreferenced objects: check names them, cleanup removes only them.
  auto check = cli.run({"check"});
  std::string said = check.out + check.err;
  for (auto& c : said) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_NE(said.find("leftover"), std::string::npos) << check.out << check.err;
  // --min-age 0: the interrupted uploads are moments old, younger than cleanup's default safety age (1h).
  auto cleanup = cli.run({"cleanup", "--min-age", "0"});
  EXPECT_EQ(cleanup.rc, 0) << cleanup.err;
  auto clean = cli.run({"check", "--read-data"});
  EXPECT_EQ(clean.rc, 0) << clean.out << clean.err;
  EXPECT_EQ(listed_binlogs(cli, "db"), closed_binlogs(server));

  // Point-in-time recovery across both files that were once interrupted is exact.
  int port = free_loopback_port();
  auto r = cli.run({"restore", "--source", "db", "--target-time", t, "--target-dir", tmp / "pitr", "--start", "--port",
                    std::to_string(port)});
  ASSERT_EQ(r.rc, 0) << r.err;
  TableState restored = table_state(tcp_client_opts(server, port), "app", {"orders", "events", "blobs"});
  stop_pidfile(tmp / "pitr/strata-mariadbd.pid");
  EXPECT_EQ(restored, at_t) << "restored: " << describe(restored) << "\nrecorded: " << describe(at_t);
}

}  // namespace
}  // namespace strata::test
