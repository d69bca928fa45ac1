// SIGTERM during an engine backup (issue 13 item 3): the engine's child tool (redis-cli --rdb) is stopped with its
// whole process group, the lock is released, nothing is listed or left behind, and strata exits 11. The backup is
// parked at an exact point (STRATA_TEST_PAUSE after its first frame is stored) while redis-cli still has most of
// the RDB to send, so the tool is alive when the signal comes.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <random>

#include "support/engine_fixture.hpp"
#include "support/fifo_gate.hpp"
#include "support/process_groups.hpp"
#include "support/redis_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

TEST(RedisSignals, SigtermStopsRedisCliReleasesTheLockAndLeavesNothing) {
  TempDir tmp("strata-rs");
  RedisServer server(tmp / "origin");
  {
    // 24 MiB of incompressible values: far more than the pipe, the socket buffers and strata's queues hold.
    RespClient c(server.port);
    std::mt19937_64 rng(13);
    for (int i = 0; i < 24; ++i) {
      std::string v(1 << 20, '\0');
      for (auto& ch : v) ch = static_cast<char>(rng());
      c.call({"SET", "big:" + std::to_string(i), v});
    }
  }
  write_file(tmp / "strata.toml", "[backup]\nframe_size = \"64KiB\"\nobject_size = \"256KiB\"\n\n"
                                  "[source.cache]\nengine = \"redis\"\nhost = \"127.0.0.1\"\nport = " +
                                      std::to_string(server.port) + "\n");
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  make_fifo(tmp / "pause");
  pid_t pid = spawn_with_pause({engine_test_binary(), "--repo", tmp / "repo", "--config", tmp / "strata.toml", "backup",
                                "--source", "cache"},
                               "backup_first_frame:" + tmp / "pause", tmp / "backup.out", tmp / "backup.err");
  ASSERT_GT(pid, 0);
  sigterm_at_pause_stops_tool(pid, tmp / "pause", tmp / "backup.err", "redis-cli");
  if (HasFatalFailure()) return;
  EXPECT_TRUE(fs::is_empty(tmp / "repo/locks")) << "lock released";
  size_t data = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "repo/data")) data += e.is_regular_file();
  EXPECT_EQ(data, 0u) << "objects of the interrupted backup were left";
  auto list = cli.run({"list", "--source", "cache", "--json"});
  EXPECT_EQ(list.rc, 0) << list.err;
  EXPECT_EQ(list.out, "[]\n");
}

}  // namespace
}  // namespace strata::test
