// Issue 17, PostgreSQL level 2 drills: the base backup is restored into scratch space, recovered to its consistent
// point, started unprivileged on a private socket, checked with pg_amcheck --heapallindexed, compared with the row
// counts taken at backup time, stopped cleanly and (checksums on) checked with pg_checksums; then everything is
// removed. A flipped byte, and a backup whose data file lost its rows, both fail the drill and stop counting as good.
#include <filesystem>

#include "postgres/pg_e2e_support.hpp"

namespace strata::test::pg {
namespace {

namespace fs = std::filesystem;

class PgDrillE2E : public PostgresE2E {
 protected:
  // A cluster with data checksums, a table of 500 rows with an index, one of 40 rows, no archiving. `extra` goes
  // under [source.pg1].
  void start_server(const std::string& extra = "") {
    server_ = std::make_unique<PostgresServer>(*root_, "primary");
    auto k = run_as_owner({bin("pg_checksums"), "--enable", "-D", server_->data_dir()});
    ASSERT_EQ(k.code, 0) << k.err;
    server_->start(env_);
    scratch_ = *root_ / "scratch";
    write_config(server_->port(), extra);
    std::string conf = read_file(config_);
    root_->write("strata.toml", conf + "\n[drill]\nscratch_dir = \"" + scratch_ + "\"\n");
    server_->psql({"CREATE TABLE orders (id int PRIMARY KEY, note text)",
                   "INSERT INTO orders SELECT g, repeat('x', g % 50) FROM generate_series(1, 500) g",
                   "CREATE TABLE small (v int)", "INSERT INTO small SELECT generate_series(1, 40)",
                   "VACUUM FREEZE", "CHECKPOINT"});
  }
  std::string backup() {
    auto b = strata({"--config", config_, "-q", "backup", "--source", "pg1"});
    EXPECT_EQ(b.code, 0) << b.err;
    return b.out.substr(0, b.out.find('\n'));
  }
  size_t scratch_entries() {
    if (!fs::exists(scratch_)) return 0;
    return static_cast<size_t>(std::distance(fs::directory_iterator(scratch_), fs::directory_iterator()));
  }
  nlohmann::json check(const nlohmann::json& rec, const std::string& name) {
    for (const auto& c : rec["checks"]) {
      if (c["name"] == name) return c;
    }
    ADD_FAILURE() << "no check " << name << " in " << rec.dump();
    return nlohmann::json::object();
  }

  std::unique_ptr<PostgresServer> server_;
  std::string scratch_;
};

TEST_F(PgDrillE2E, Level2RestoresStartsChecksAndMatchesTheFingerprint) {
  start_server();
  std::string id = backup();
  auto show = strata({"--config", config_, "show", id, "--json"});
  ASSERT_EQ(show.code, 0) << show.err;
  auto fp = nlohmann::json::parse(show.out)["engine"]["fingerprint"];
  EXPECT_EQ(fp["start"]["databases"]["postgres"]["tables"]["public.orders"][0], 500) << fp.dump();
  EXPECT_EQ(fp["end"]["databases"]["postgres"]["tables"]["public.small"][0], 40) << fp.dump();

  auto r = strata({"--config", config_, "drill", "run", "--source", "pg1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  auto rec = nlohmann::json::parse(r.out);
  EXPECT_EQ(rec["result"], "passed") << rec.dump(1);
  EXPECT_TRUE(check(rec, "pg_amcheck")["ok"].get<bool>());
  EXPECT_EQ(check(rec, "fingerprint")["detail"], "2 tables match the row counts at backup time (0 written during the backup, compared with a range)");
  EXPECT_TRUE(check(rec, "stop")["ok"].get<bool>());
  EXPECT_EQ(check(rec, "pg_checksums")["detail"], "every data page's checksum is right");
  EXPECT_EQ(rec["recovery_point"].get<std::string>().rfind("LSN ", 0), 0u) << rec.dump(1);
  EXPECT_GE(rec["rto_seconds"].get<double>(), rec["restore_seconds"].get<double>());
  EXPECT_GT(rec["start_seconds"].get<double>(), 0.0);
  // The copy was stopped and removed; the production server was not touched.
  EXPECT_EQ(scratch_entries(), 0u);
  EXPECT_EQ(server_->psql("SELECT count(*) FROM orders"), "500");
  auto st = strata({"--config", config_, "status", "--json"});
  ASSERT_EQ(st.code, 0) << st.out << st.err;
  EXPECT_EQ(nlohmann::json::parse(st.out)[0]["newest_verified"], id);
}

TEST_F(PgDrillE2E, AFlippedByteFailsTheDrillNamingTheObject) {
  start_server();
  std::string id = backup();
  fs::path obj = *fs::directory_iterator(fs::path(repo_) / "data" / id);
  std::string bytes = read_file(obj.string());
  bytes[bytes.size() / 2] ^= 0x01;
  root_->write(fs::relative(obj, root_->path()).string(), bytes);
  auto r = strata({"--config", config_, "drill", "run", "--source", "pg1"});
  EXPECT_EQ(r.code, kExitProblems) << r.err;
  EXPECT_NE(r.err.find("strata: error: backup " + id + " of pg1 failed its drill: restore: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(obj.filename().string()), std::string::npos) << r.err;
  EXPECT_EQ(scratch_entries(), 0u);
  auto st = strata({"--config", config_, "status", "--nagios"});
  EXPECT_EQ(st.code, 2) << st.out;
  EXPECT_NE(st.out.find("STRATA CRITICAL - pg1: no good backup"), std::string::npos) << st.out;
}

// A logically wrong backup: pg_basebackup (through a bin_dir wrapper standing in for a faulty tool) delivers the
// data file of table `orders` as zeroes. Every byte strata stored is authentic, and PostgreSQL reads zeroed pages
// as empty ones — only the fingerprint sees that 500 rows are gone.
TEST_F(PgDrillE2E, ABackupThatLostATablesRowsFailsTheFingerprint) {
  std::string bin_dir = *root_ / "bin";
  fs::create_directories(bin_dir);
  start_server("bin_dir = \"" + bin_dir + "\"\n");
  std::string file = server_->psql("SELECT pg_relation_filepath('orders')");
  root_->write("zero.py",
               "import sys, tarfile, io\n"
               "src = tarfile.open(fileobj=sys.stdin.buffer, mode='r|')\n"
               "dst = tarfile.open(fileobj=sys.stdout.buffer, mode='w|', format=tarfile.USTAR_FORMAT)\n"
               "for m in src:\n"
               "    data = src.extractfile(m).read() if m.isfile() else None\n"
               "    if m.name == sys.argv[1]:\n"
               "        data = bytes(len(data))\n"
               "    dst.addfile(m, io.BytesIO(data) if data is not None else None)\n"
               "dst.close()\n");
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql/15/bin")) {
    if (e.path().filename() != "pg_basebackup") fs::create_symlink(e.path(), fs::path(bin_dir) / e.path().filename());
  }
  root_->write("bin/pg_basebackup", "#!/bin/bash\nset -o pipefail\n" + bin("pg_basebackup") + " \"$@\" | /usr/bin/python3 " +
                                        *root_ / "zero.py" + " " + file + "\n");
  fs::permissions(fs::path(bin_dir) / "pg_basebackup", fs::perms::owner_all);
  std::string id = backup();

  auto r = strata({"--config", config_, "drill", "run", "--source", "pg1", "--json"});
  EXPECT_EQ(r.code, kExitProblems) << r.err;
  auto rec = nlohmann::json::parse(r.out);
  EXPECT_EQ(rec["result"], "failed");
  EXPECT_EQ(check(rec, "fingerprint")["detail"],
            "1 of 2 tables differ from the fingerprint: postgres.public.orders: 0 rows, fingerprint 500");
  EXPECT_NE(r.err.find("failed its drill: fingerprint: 1 of 2 tables differ"), std::string::npos) << r.err;
  EXPECT_EQ(scratch_entries(), 0u);
  auto list = strata({"--config", config_, "drill", "list", "--failed", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out)[0]["backup"], id);
}

// strata as root (a drill host's service account may be root): the copy runs as the source's run_as user, because
// postgres refuses root.
TEST_F(PgDrillE2E, AsRootTheCopyRunsAsTheRunAsUser) {
  if (!running_as_root()) GTEST_SKIP() << "needs root";
  start_server("run_as = \"strata-test\"\n");
  backup();
  Env e = env_;
  auto r = run({strata_binary(), "--config", config_, "drill", "run", "--source", "pg1", "--json"}, e);
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["result"], "passed");
  EXPECT_EQ(scratch_entries(), 0u);
}

// Level 3: a point-in-time restore through the archive to a random LSN after the backup; the engine refuses to
// report a copy that stopped before it.
TEST_F(PgDrillE2E, Level3RecoversToARandomPointOfTheArchive) {
  auto s = archiving_server();
  root_->write("strata.toml", read_file(config_) + "\n[drill]\nscratch_dir = \"" + *root_ / "scratch" + "\"\n");
  scratch_ = *root_ / "scratch";
  s->psql(std::vector<std::string>{"CREATE TABLE t (v int)", "INSERT INTO t SELECT generate_series(1, 100)"});
  std::string id = backup();
  auto before = strata({"--config", config_, "drill", "run", "--source", "pg1", "--pitr-random"});
  EXPECT_EQ(before.code, kExitUsage) << before.err;
  EXPECT_NE(before.err.find("level 3 needs archived WAL after backup " + id), std::string::npos) << before.err;
  for (int i = 0; i < 3; ++i) {
    s->psql("INSERT INTO t SELECT generate_series(1, 1000)");
    ASSERT_TRUE(switch_and_wait_archived(s->port()));
  }
  auto r = strata({"--config", config_, "drill", "run", "--source", "pg1", "--pitr-random", "--json"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  auto rec = nlohmann::json::parse(r.out);
  EXPECT_EQ(rec["level"], 3);
  EXPECT_EQ(rec["result"], "passed") << rec.dump(1);
  auto p = check(rec, "point-in-time");
  EXPECT_TRUE(p["ok"].get<bool>());
  std::string rp = rec["recovery_point"];
  EXPECT_EQ(rp.rfind("LSN ", 0), 0u) << rp;
  auto at = rp.find(" (target ");
  ASSERT_NE(at, std::string::npos) << rp;
  auto lsn = [](const std::string& t) {
    auto sl = t.find('/');
    return (std::stoull(t.substr(0, sl), nullptr, 16) << 32) | std::stoull(t.substr(sl + 1), nullptr, 16);
  };
  EXPECT_GE(lsn(rp.substr(4, at - 4)), lsn(rp.substr(at + 9, rp.size() - at - 10))) << rp;
  EXPECT_TRUE(check(rec, "pg_amcheck")["ok"].get<bool>());
  EXPECT_EQ(scratch_entries(), 0u);
}

}  // namespace
}  // namespace strata::test::pg
