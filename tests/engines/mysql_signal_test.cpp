// SIGTERM during an engine backup (issue 13 item 3): the engine's child tool (mariadb-backup --stream) is stopped
// with its whole process group, the lock is released, nothing is listed or left behind, and strata exits 11. The
// backup is parked at an exact point (STRATA_TEST_PAUSE after its first frame is stored) while mariadb-backup still
// has most of the datadir to send, so the tool is alive when the signal comes.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "support/engine_fixture.hpp"
#include "support/fifo_gate.hpp"
#include "support/process_groups.hpp"
#include "support/mariadb_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

TEST(MysqlSignals, SigtermStopsMariadbBackupReleasesTheLockAndLeavesNothing) {
  TempDir tmp("strata-ms");
  MariaDbServer server(tmp / "origin");
  create_app_schema(server);
  write_file(tmp / "strata.toml", "[backup]\nframe_size = \"64KiB\"\nobject_size = \"256KiB\"\n\n" + server.source_toml("db"));
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  make_fifo(tmp / "pause");
  pid_t pid = spawn_with_pause({engine_test_binary(), "--repo", tmp / "repo", "--config", tmp / "strata.toml", "backup",
                                "--source", "db", "--type", "full"},
                               "backup_first_frame:" + tmp / "pause", tmp / "backup.out", tmp / "backup.err");
  ASSERT_GT(pid, 0);
  sigterm_at_pause_stops_tool(pid, tmp / "pause", tmp / "backup.err", "mariadb-backup");
  if (HasFatalFailure()) return;
  EXPECT_TRUE(fs::is_empty(tmp / "repo/locks")) << "lock released";
  size_t data = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "repo/data")) data += e.is_regular_file();
  EXPECT_EQ(data, 0u) << "objects of the interrupted backup were left";
  auto list = cli.run({"list", "--source", "db", "--json"});
  EXPECT_EQ(list.rc, 0) << list.err;
  EXPECT_EQ(list.out, "[]\n");
}

}  // namespace
}  // namespace strata::test
