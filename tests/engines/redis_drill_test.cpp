// Issue 17, Redis: a level 2 drill restores the RDB into scratch space, checks it with redis-check-rdb, starts
// redis-server on a free loopback port with persistence off, compares DBSIZE with the fingerprint taken at backup
// time, stops it and removes everything; a damaged RDB fails the drill and the backup stops counting as good.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/engine_fixture.hpp"
#include "support/redis_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

struct RedisDrill : ::testing::Test {
  void SetUp() override {
    RespClient c(server.port);
    for (int i = 0; i < 2500; ++i) c.call({"SET", "k:" + std::to_string(i), std::string(static_cast<size_t>(i % 200), 'v')});
    write_file(tmp / "strata.toml", "[drill]\nscratch_dir = \"" + tmp / "scratch" + "\"\n[source.cache]\nengine = \"redis\"\n"
                                    "host = \"127.0.0.1\"\nport = " + std::to_string(server.port) + "\nrpo = \"1h\"\n");
    ASSERT_EQ(cli.init().rc, 0);
    auto b = cli.run({"-q", "backup", "--source", "cache"});
    ASSERT_EQ(b.rc, 0) << b.err;
    id = b.out.substr(0, b.out.find('\n'));
  }
  size_t scratch_entries() {
    if (!fs::exists(tmp / "scratch")) return 0;
    return static_cast<size_t>(std::distance(fs::directory_iterator(tmp / "scratch"), fs::directory_iterator()));
  }

  TempDir tmp{"strata-rdd"};
  RedisServer server{tmp / "origin"};
  StrataCli cli{tmp / "repo", tmp / "strata.toml"};
  std::string id;
};

TEST_F(RedisDrill, Level2RestoresStartsAndMatchesTheFingerprint) {
  auto show = cli.run({"show", id, "--json"});
  ASSERT_EQ(show.rc, 0) << show.err;
  auto engine = nlohmann::json::parse(show.out)["engine"];
  EXPECT_EQ(engine["keys_at_start"], "2500");
  EXPECT_EQ(engine["keys_at_end"], "2500");

  auto r = cli.run({"drill", "run", "--source", "cache", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  auto rec = nlohmann::json::parse(r.out);
  EXPECT_EQ(rec["result"], "passed");
  ASSERT_EQ(rec["checks"].size(), 3u);
  EXPECT_EQ(rec["checks"][1]["name"], "redis-check-rdb");
  EXPECT_TRUE(rec["checks"][1]["ok"].get<bool>());
  EXPECT_EQ(rec["checks"][2]["detail"], "2500 keys, fingerprint at backup time 2500");
  EXPECT_EQ(rec["recovery_point"], "2500 keys");
  EXPECT_GT(rec["rto_seconds"].get<double>(), 0.0);
  EXPECT_GE(rec["rto_seconds"].get<double>(), rec["restore_seconds"].get<double>());
  // The drill's server is stopped and its scratch removed.
  EXPECT_EQ(scratch_entries(), 0u);
  auto st = cli.run({"status", "--json"});
  EXPECT_EQ(st.rc, 0) << st.out << st.err;
  EXPECT_EQ(nlohmann::json::parse(st.out)[0]["newest_verified"], id);
}

TEST_F(RedisDrill, ADamagedBackupFailsAndIsNoLongerGood) {
  fs::path data = fs::path(tmp / "repo") / "data" / id;
  fs::path obj = *fs::directory_iterator(data);
  std::string bytes = read_file(obj.string());
  bytes[bytes.size() / 3] ^= 0x01;
  write_file(obj.string(), bytes);
  auto r = cli.run({"drill", "run", "--source", "cache"});
  EXPECT_EQ(r.rc, 13) << r.err;
  EXPECT_NE(r.err.find("failed its drill"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(obj.filename().string()), std::string::npos) << r.err;
  EXPECT_EQ(scratch_entries(), 0u);
  auto st = cli.run({"status", "--nagios"});
  EXPECT_EQ(st.rc, 2) << st.out;
  EXPECT_NE(st.out.find("STRATA CRITICAL - cache: no good backup"), std::string::npos) << st.out;
}

}  // namespace
}  // namespace strata::test
