// Issue 17, MariaDB level 2 drills: the physical backup is restored and prepared in scratch space, started with no
// networking on a private socket and --tmpdir, checked with mariadb-check, compared with the row counts taken at
// backup time and stopped; nothing is left behind. A damaged backup fails and stops counting as good.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/engine_fixture.hpp"
#include "support/mariadb_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

struct MysqlDrill : ::testing::Test {
  void SetUp() override {
    create_app_schema(server);
    server.query("CREATE TABLE app.small (v INT) ENGINE=InnoDB; USE app; INSERT INTO app.small SELECT seq FROM seq_1_to_40;");
    write_file(tmp / "strata.toml", "[drill]\nscratch_dir = \"" + tmp / "scratch" + "\"\n" + server.source_toml("db") +
                                        "rpo = \"1h\"\n");
    ASSERT_EQ(cli.init().rc, 0);
    auto b = cli.run({"-q", "backup", "--source", "db", "--type", "full"});
    ASSERT_EQ(b.rc, 0) << b.err;
    id = b.out.substr(0, b.out.find('\n'));
  }
  size_t scratch_entries() {
    if (!fs::exists(tmp / "scratch")) return 0;
    return static_cast<size_t>(std::distance(fs::directory_iterator(tmp / "scratch"), fs::directory_iterator()));
  }
  nlohmann::json check(const nlohmann::json& rec, const std::string& name) {
    for (const auto& c : rec["checks"]) {
      if (c["name"] == name) return c;
    }
    ADD_FAILURE() << "no check " << name << " in " << rec.dump();
    return nlohmann::json::object();
  }

  TempDir tmp{"strata-myd"};
  MariaDbServer server{tmp / "origin"};
  StrataCli cli{tmp / "repo", tmp / "strata.toml"};
  std::string id;
};

TEST_F(MysqlDrill, Level2PreparesStartsChecksAndMatchesTheFingerprint) {
  auto show = cli.run({"show", id, "--json"});
  ASSERT_EQ(show.rc, 0) << show.err;
  auto fp = nlohmann::json::parse(show.out)["engine"]["fingerprint"];
  EXPECT_EQ(fp["start"]["tables"]["app.orders"], 20000) << fp.dump();
  EXPECT_EQ(fp["end"]["tables"]["app.small"], 40) << fp.dump();

  auto r = cli.run({"drill", "run", "--source", "db", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  auto rec = nlohmann::json::parse(r.out);
  EXPECT_EQ(rec["result"], "passed") << rec.dump(1);
  EXPECT_EQ(check(rec, "mariadb-check")["detail"], "every table of every database checked (CHECK TABLE)");
  EXPECT_EQ(check(rec, "fingerprint")["detail"],
            "3 tables match the row counts at backup time (0 written during the backup, compared with a range)");
  EXPECT_EQ(rec["recovery_point"].get<std::string>().rfind("binlog ", 0), 0u) << rec.dump(1);
  EXPECT_GE(rec["rto_seconds"].get<double>(), rec["restore_seconds"].get<double>());
  EXPECT_GT(rec["start_seconds"].get<double>(), 0.0);
  EXPECT_EQ(scratch_entries(), 0u);
  EXPECT_EQ(server.query("SELECT COUNT(*) FROM app.small"), "40\n");
  auto st = cli.run({"status", "--json"});
  EXPECT_EQ(st.rc, 0) << st.out << st.err;
  EXPECT_EQ(nlohmann::json::parse(st.out)[0]["newest_verified"], id);
}

TEST_F(MysqlDrill, ADamagedBackupFailsAndIsNoLongerGood) {
  fs::path obj = *fs::directory_iterator(fs::path(tmp / "repo") / "data" / id);
  std::string bytes = read_file(obj.string());
  bytes[bytes.size() / 3] ^= 0x01;
  write_file(obj.string(), bytes);
  auto r = cli.run({"drill", "run", "--source", "db"});
  EXPECT_EQ(r.rc, 13) << r.err;
  EXPECT_NE(r.err.find("failed its drill"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(obj.filename().string()), std::string::npos) << r.err;
  EXPECT_EQ(scratch_entries(), 0u);
  auto st = cli.run({"status", "--nagios"});
  EXPECT_EQ(st.rc, 2) << st.out;
  EXPECT_NE(st.out.find("STRATA CRITICAL - db: no good backup"), std::string::npos) << st.out;
}

}  // namespace
}  // namespace strata::test
