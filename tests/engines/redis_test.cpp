// Redis 7 end to end: an RDB over the replication protocol, restored into a new directory and brought up; every
// key and value must come back.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/engine_fixture.hpp"
#include "support/redis_fixture.hpp"

namespace strata::test {
namespace {

void fill(int port) {
  RespClient c(port);
  for (int i = 0; i < 3000; ++i) {
    std::string n = std::to_string(i);
    switch (i % 6) {
      case 0:
        c.call({"SET", "str:" + n, std::string("v\0\r\n", 4) + std::string(static_cast<size_t>(i % 300), 'x') + n});
        break;
      case 1:
        c.call({"HSET", "hash:" + n, "a", n, "b", std::string(static_cast<size_t>(i % 100), 'y'), "c", "\xff\xfe"});
        break;
      case 2:
        c.call({"RPUSH", "list:" + n, "1", "2", n, "tail"});
        break;
      case 3:
        c.call({"SADD", "set:" + n, "m1", "m2", n});
        break;
      case 4:
        c.call({"ZADD", "zset:" + n, "1.5", "a", "-3", "b", n, "c"});
        break;
      default:
        c.call({"SET", "ttl:" + n, n, "EX", "86400"});
    }
  }
  // Values past the listpack limits switch encodings; they must survive too.
  std::vector<std::string> big = {"HSET", "hash:big"};
  for (int i = 0; i < 600; ++i) {
    big.push_back("f" + std::to_string(i));
    big.push_back(std::string(70, 'z'));
  }
  c.call(big);
  c.call({"SET", "blob", std::string(1 << 20, '\x01')});
  c.call({"XADD", "stream:1", "*", "field", "value"});
}

TEST(RedisEngine, RdbRoundTripRestoresEveryKeyAndValue) {
  TempDir tmp("strata-rd");
  RedisServer server(tmp / "origin");
  fill(server.port);
  auto before = snapshot_keys(server.port);
  ASSERT_GT(before.size(), 3000u);
  write_file(tmp / "strata.toml", "[source.cache]\nengine = \"redis\"\nhost = \"127.0.0.1\"\nport = " +
                                      std::to_string(server.port) + "\n");
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);

  auto b = cli.run({"backup", "--source", "cache"});
  ASSERT_EQ(b.rc, 0) << b.err;
  EXPECT_NE(b.out.find("(rdb)"), std::string::npos) << b.out;

  int port = free_loopback_port();
  auto r = cli.run({"restore", "--source", "cache", "--latest", "--target-dir", tmp / "restored", "--start", "--port",
                    std::to_string(port)});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(tmp / "restored/dump.rdb"));
  EXPECT_NE(r.err.find(std::to_string(before.size()) + " keys"), std::string::npos) << r.err;
  auto after = snapshot_keys(port);
  EXPECT_EQ(after.size(), before.size());
  EXPECT_TRUE(after == before);
  stop_pidfile(tmp / "restored/redis.pid");

  // Restoring over an existing dump.rdb needs --force.
  auto again = cli.run({"restore", "--source", "cache", "--latest", "--target-dir", tmp / "restored"});
  EXPECT_EQ(again.rc, 12) << again.err;
}

TEST(RedisEngine, UnreachableServerIsOneClearError) {
  TempDir tmp("strata-rd");
  int port = free_loopback_port();
  write_file(tmp / "strata.toml", "[source.cache]\nengine = \"redis\"\nport = " + std::to_string(port) + "\n");
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  auto b = cli.run({"backup", "--source", "cache"});
  EXPECT_EQ(b.rc, 7);
  EXPECT_NE(b.err.find("source cache"), std::string::npos) << b.err;
  EXPECT_EQ(cli.run({"list"}).out.find("cache"), std::string::npos);
}

}  // namespace
}  // namespace strata::test
