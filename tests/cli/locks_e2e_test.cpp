// Locks as leases through the CLI (issue 13 items 4, 15, 21): a cleanup in another PID namespace with the same
// hostname does not take a running backup's lock; a backup whose lock was taken re-checks its objects and commits
// nothing when they are gone; lock errors name the command that removes the lock; empty lock files are removable.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "support/cli_harness.hpp"
#include "support/fifo_gate.hpp"

namespace strata::test {
namespace {

constexpr int kExitLocked = 6;

std::string utc_compact(int64_t t) {
  char buf[32];
  time_t tt = static_cast<time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

class Locks : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = {{"STRATA_REPO", tmp_ / "repo"}, {"STRATA_PASSPHRASE", "locks-pass"}, {"HOME", tmp_.path()}};
    ASSERT_EQ(run_strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}, env_).code, 0);
  }
  std::vector<std::string> repo_files(const std::string& dir) { return list_files(tmp_ / ("repo/" + dir)); }
  size_t committed_objects() {
    size_t n = 0;
    for (const auto& f : repo_files("data")) n += f.find(".strata-tmp-") == std::string::npos;
    return n;
  }

  // A backup whose source writes 2 MiB (8 objects of 256 KiB) and then blocks on GATE; returns once at least two
  // of its objects are committed.
  pid_t start_blocked_backup(int* gate_fd) {
    head_ = make_data(2 << 20, 11);
    write_file(tmp_ / "head", head_);
    make_fifo(tmp_ / "gate");
    std::string cmd = "cat '" + tmp_ / "head" + "'; cat '" + tmp_ / "gate" + "'";
    pid_t pid = spawn_strata({"-q", "backup", "--source", "s", "--frame-size", "64KiB", "--object-size", "256KiB",
                              "--from-command", cmd},
                             env_, tmp_ / "backup.log");
    *gate_fd = open_when_read(tmp_ / "gate", pid);
    // Objects commit in the background; wait (bounded) until some exist, so a wrong cleanup has something to take.
    for (int i = 0; i < 5000 && committed_objects() < 2; ++i) ::usleep(2000);
    EXPECT_GE(committed_objects(), 2u);
    return pid;
  }

  TempDir tmp_;
  Env env_;
  std::string head_;
};

// Item 15: `unshare --pid --fork --mount-proc strata cleanup` — same hostname, the backup's pid does not exist in
// the new namespace. Before leases it judged the live backup's lock stale and deleted its objects.
TEST_F(Locks, CleanupInAnotherPidNamespaceDoesNotTouchARunningBackup) {
  RunResult probe = run_process({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "/bin/true"}, {});
  if (probe.code != 0) GTEST_SKIP() << "cannot create a PID namespace here: " << probe.err;
  int gate = -1;
  pid_t pid = start_blocked_backup(&gate);
  size_t before = committed_objects();
  RunResult c = run_process({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", strata_binary(), "cleanup",
                             "--min-age", "0"},
                            env_);
  EXPECT_EQ(c.code, kExitLocked) << c.out << c.err;
  EXPECT_NE(c.err.find("is locked by 'backup s'"), std::string::npos) << c.err;
  EXPECT_GE(committed_objects(), before) << "cleanup removed objects of a running backup";
  EXPECT_EQ(repo_files("locks").size(), 1u) << "the live lock stays";
  std::string tail = make_data(100000, 12);
  ASSERT_EQ(::write(gate, tail.data(), tail.size()), static_cast<ssize_t>(tail.size()));
  ::close(gate);
  ASSERT_EQ(wait_pid(pid), 0) << read_file(tmp_ / "backup.log.err");
  std::string id = read_file(tmp_ / "backup.log");
  id = id.substr(0, id.find('\n'));
  auto r = run_strata({"restore", id, "--to", "-"}, env_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out == head_ + tail) << "restored " << r.out.size() << " bytes";
}

// Item 15, second line of defence: the lock was taken anyway (`unlock --all`) and objects were removed (as a
// cleanup on another host would; here the first object directly, since a local cleanup would also take the
// backup's open temp file and fail it earlier). The backup notices before committing and lists nothing.
TEST_F(Locks, BackupWhoseLockWasTakenChecksItsObjectsBeforeCommitting) {
  int gate = -1;
  pid_t pid = start_blocked_backup(&gate);
  auto u = run_strata({"unlock", "--all"}, env_);
  ASSERT_EQ(u.code, 0) << u.err;
  EXPECT_NE(u.out.find("removed 1 lock\n"), std::string::npos) << u.out;
  std::string first;
  for (const auto& f : repo_files("data")) {
    if (first.empty() && f.find(".strata-tmp-") == std::string::npos) first = f;
  }
  ASSERT_FALSE(first.empty());
  ASSERT_EQ(::unlink((tmp_ / ("repo/data/" + first)).c_str()), 0) << first;
  ::close(gate);
  EXPECT_EQ(wait_pid(pid), kExitLocked);
  std::string err = read_file(tmp_ / "backup.log.err");
  EXPECT_NE(err.find("lost its lock while it ran"), std::string::npos) << err;
  EXPECT_NE(err.find("nothing was committed"), std::string::npos) << err;
  EXPECT_TRUE(repo_files("backups").empty()) << "a backup with missing objects was committed";
}

// Item 4: the message names the exact command that removes the lock, and that command does.
TEST_F(Locks, LockErrorNamesTheCommandThatRemovesIt) {
  ASSERT_EQ(run_strata({"-q", "backup", "--source", "s", "--from-file", "-"}, env_, "abc").code, 0);
  int64_t now = static_cast<int64_t>(::time(nullptr));
  std::string id = utc_compact(now) + "-00000000000000aa";
  nlohmann::json lock = {{"kind", "shared"}, {"host", "db-9"}, {"boot_id", "db-9-boot"}, {"pid_ns", "pid:[1]"},
                         {"pid", 77}, {"command", "backup other"}, {"started", "x"}, {"started_epoch", now},
                         {"refreshed_epoch", now}};
  write_file(tmp_ / ("repo/locks/" + id), lock.dump());
  auto list = run_strata({"list", "--json"}, env_);
  std::string backup = nlohmann::json::parse(list.out)[0]["id"];
  auto d = run_strata({"delete", backup}, env_);
  EXPECT_EQ(d.code, kExitLocked);
  EXPECT_NE(d.err.find("'strata unlock " + id + "'"), std::string::npos) << d.err;
  auto plain = run_strata({"unlock"}, env_);
  EXPECT_EQ(plain.out, "removed 0 locks\n");
  EXPECT_NE(plain.err.find("kept lock " + id), std::string::npos) << plain.err;
  auto u = run_strata({"unlock", id}, env_);
  EXPECT_EQ(u.code, 0) << u.err;
  EXPECT_NE(u.out.find("removed 1 lock\n"), std::string::npos) << u.out;
  EXPECT_EQ(run_strata({"delete", backup}, env_).code, 0);
}

// Item 4: a lease that ran out is stale wherever it came from; the lease length is configurable.
TEST_F(Locks, ExpiredLeaseOfAnotherHostIsRemovedAutomatically) {
  ASSERT_EQ(run_strata({"-q", "backup", "--source", "s", "--from-file", "-"}, env_, "abc").code, 0);
  int64_t now = static_cast<int64_t>(::time(nullptr));
  nlohmann::json lock = {{"kind", "exclusive"}, {"host", "db-9"}, {"boot_id", "db-9-boot"}, {"pid_ns", "pid:[1]"},
                         {"pid", 77}, {"command", "cleanup"}, {"started", "x"}, {"started_epoch", now - 600},
                         {"refreshed_epoch", now - 120}};
  write_file(tmp_ / ("repo/locks/" + utc_compact(now - 600) + "-00000000000000bb"), lock.dump());
  auto blocked = run_strata({"-q", "backup", "--source", "s", "--from-file", "-"}, env_, "def");
  EXPECT_EQ(blocked.code, kExitLocked) << "refreshed 2 min ago: live under the default 30 min lease";
  Env shorter = env_;
  shorter["STRATA_LOCK_STALE_AFTER"] = "60";
  shorter["STRATA_LOCK_REFRESH_EVERY"] = "20";
  auto ok = run_strata({"-q", "backup", "--source", "s", "--from-file", "-"}, shorter, "def");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(repo_files("locks").empty());
}

// Item 21: an empty lock file (a crash between create and write) blocks until plain 'strata unlock' removes it.
TEST_F(Locks, EmptyLockFileIsRemovedByUnlock) {
  std::filesystem::create_directories(tmp_ / "repo/locks");
  write_file(tmp_ / ("repo/locks/" + utc_compact(::time(nullptr)) + "-0000000000000000"), "");
  auto b = run_strata({"-q", "backup", "--source", "s", "--from-file", "-"}, env_, "abc");
  EXPECT_EQ(b.code, kExitLocked);
  EXPECT_NE(b.err.find("unreadable lock file"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("'strata unlock'"), std::string::npos) << b.err;
  auto u = run_strata({"unlock"}, env_);
  EXPECT_EQ(u.code, 0);
  EXPECT_NE(u.out.find("removed 1 lock\n"), std::string::npos) << u.out;
  EXPECT_EQ(run_strata({"-q", "backup", "--source", "s", "--from-file", "-"}, env_, "abc").code, 0);
}

}  // namespace
}  // namespace strata::test
