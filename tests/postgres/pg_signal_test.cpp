// SIGTERM during a PostgreSQL base backup (issue 13 item 3): pg_basebackup is stopped with its whole process group,
// the lock is released, no object of the backup is left, nothing is listed, and strata exits 11. The backup is
// parked at an exact point (STRATA_TEST_PAUSE after its first frame is stored) while pg_basebackup still has most
// of the cluster to send, so the tool is alive when the signal comes.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>

#include "postgres/pg_e2e_support.hpp"
#include "support/fifo_gate.hpp"
#include "support/process_groups.hpp"

namespace strata::test::pg {
namespace {

namespace fs = std::filesystem;

TEST_F(PostgresE2E, SigtermStopsPgBasebackupReleasesTheLockAndLeavesNothing) {
  auto server = archiving_server();
  // ~75 MiB of tables: far more than the pipes and strata's queues hold at the first frame.
  auto init = run({bin("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(server->port()), "-U", "postgres", "-i", "-s",
                   "5", "-q", "postgres"});
  ASSERT_EQ(init.code, 0) << init.err;
  make_fifo(*root_ / "pause");
  ::setenv("STRATA_PASSPHRASE", kPass, 1);  // this test process only: the spawned strata inherits it
  pid_t pid = spawn_with_pause({strata_binary(), "--config", config_, "backup", "--source", "pg1", "--frame-size", "64KiB",
                                "--object-size", "256KiB"},
                               "backup_first_frame:" + *root_ / "pause", *root_ / "backup.out", *root_ / "backup.err");
  ::unsetenv("STRATA_PASSPHRASE");
  ASSERT_GT(pid, 0);
  sigterm_at_pause_stops_tool(pid, *root_ / "pause", *root_ / "backup.err", "pg_basebackup");
  if (HasFatalFailure()) return;
  // The server's own archiver may hold a lock of its `wal push` for a moment; the backup's lock must be gone.
  for (const auto& e : fs::directory_iterator(repo_ + "/locks")) {
    EXPECT_EQ(read_file(e.path().string()).find("\"backup\""), std::string::npos) << "backup lock left: " << e.path();
  }
  std::string left;
  for (const auto& e : fs::recursive_directory_iterator(repo_ + "/data")) {
    std::string rel = fs::relative(e.path(), repo_ + "/data").string();
    // Objects, as the redis and mysql signal tests count them.
    if (rel.rfind("pg1.", 0) != 0 && e.is_regular_file()) left += " " + rel;
  }
  EXPECT_EQ(left, "") << "objects of the interrupted base backup were left (WAL segments pg1.* aside)";
  auto list = strata({"--config", config_, "list", "--source", "pg1", "--json"});
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(list.out, "[]\n");
}

}  // namespace
}  // namespace strata::test::pg
