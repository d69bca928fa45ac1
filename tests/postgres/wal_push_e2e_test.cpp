// `strata wal push` interrupted after its first data object was stored (object_size below the segment size, so a
// segment is several objects): the retry PostgreSQL makes of archive_command must converge by itself, without
// `strata cleanup`, and must never remove what another live push of the same file is writing. No PostgreSQL is
// needed: the segment is fed through a FIFO, so the push is stuck mid-segment for as long as the test wants.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

constexpr int kExitLocked = 6, kExitExists = 12, kFetchNotInArchive = 1;
constexpr size_t kSegment = 16u << 20;

class WalPushE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = {{"STRATA_REPO", tmp_ / "repo"}, {"STRATA_PASSPHRASE", "wal push test passphrase"}, {"HOME", tmp_.path()}};
    // Incompressible data, 256 KiB frames and 1 MiB objects: a 16 MiB segment is 16 data objects.
    write_file(tmp_ / "strata.toml", "[backup]\nframe_size = \"256KiB\"\nobject_size = \"1MiB\"\n\n"
                                     "[source.pg1]\nengine = \"postgres\"\nwal_compression = \"none\"\n");
    fs::create_directories(tmp_ / "pg_wal");
    auto r = strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"});
    ASSERT_EQ(r.code, 0) << r.err;
  }

  RunResult strata(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", tmp_ / "strata.toml"});
    return run_strata(args, env_);
  }
  std::string wal(const std::string& name) { return tmp_ / ("pg_wal/" + name); }
  std::string data_dir(const std::string& name) { return tmp_ / ("repo/data/pg1." + name); }
  // Committed data objects of the segment (not the storage's temporary files).
  size_t objects(const std::string& name) {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(data_dir(name), ec)) {
      if (e.is_regular_file() && e.path().filename().string().find(".strata-tmp-") == std::string::npos) ++n;
    }
    return n;
  }

  // Starts `wal push` on a FIFO, feeds it 6 MiB of `data` and kills it with `sig` once its first data object is
  // stored: the push is blocked on the FIFO then, so it cannot have finished.
  void push_killed_mid_segment(const std::string& name, const std::string& data, int sig) {
    ASSERT_EQ(::mkfifo(wal(name).c_str(), 0600), 0);
    std::string log = tmp_ / ("killed-" + name + ".log");
    pid_t pid = spawn_strata({"--config", tmp_ / "strata.toml", "wal", "push", "--source", "pg1", wal(name)}, env_, log);
    struct Reap {
      pid_t pid;
      int fd = -1;
      ~Reap() {
        if (fd >= 0) ::close(fd);
        if (pid > 0) {
          kill_group(pid, SIGKILL);
          wait_pid(pid);
        }
      }
    } reap{pid};
    // The writer end opens once the push opened the file for reading (bounded: the push may fail first).
    for (int i = 0; i < 3000 && reap.fd < 0; ++i) {
      reap.fd = ::open(wal(name).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (reap.fd < 0) {
        ASSERT_EQ(::waitpid(pid, nullptr, WNOHANG), 0) << "the push ended early: " << read_file(log + ".err");
        usleep(10000);
      }
    }
    ASSERT_GE(reap.fd, 0) << read_file(log + ".err");
    ASSERT_EQ(::fcntl(reap.fd, F_SETFL, 0), 0);
    for (size_t off = 0; off < (6u << 20);) {
      ssize_t w = ::write(reap.fd, data.data() + off, (6u << 20) - off);
      ASSERT_GT(w, 0) << read_file(log + ".err");
      off += static_cast<size_t>(w);
    }
    bool stored = false;
    for (int i = 0; i < 3000 && !(stored = objects(name) > 0); ++i) usleep(10000);
    ASSERT_TRUE(stored) << read_file(log + ".err");
    kill_group(pid, sig);
    int status = wait_pid(pid);
    reap.pid = -1;
    EXPECT_NE(status, 0) << "the push finished although its input never ended";
    // The FIFO goes; postgres's retry hands over the real segment under the same name.
    ::close(reap.fd);
    reap.fd = -1;
    fs::remove(wal(name));
    write_file(wal(name), data);
  }

  void expect_archived_exactly(const std::string& name, const std::string& data) {
    auto f = strata({"wal", "fetch", "--source", "pg1", name, tmp_ / "fetched"});
    ASSERT_EQ(f.code, 0) << f.err;
    EXPECT_TRUE(read_file(tmp_ / "fetched") == data) << name << " came back different";
  }

  TempDir tmp_;
  Env env_;
};

TEST_F(WalPushE2E, PushKilledAfterItsFirstObjectConvergesOnTheRetry) {
  const std::string a = "000000010000000000000003", b = "000000010000000000000004";
  const std::string seg_a = make_data(kSegment, 3), seg_b = make_data(kSegment, 4);
  // SIGKILL: no chance to remove anything. SIGTERM: whatever the push does on the way out.
  for (auto [name, data, sig] : {std::tuple{a, seg_a, SIGKILL}, std::tuple{b, seg_b, SIGTERM}}) {
    SCOPED_TRACE(name);
    push_killed_mid_segment(name, data, sig);
    // Nothing of the interrupted push is archived...
    auto absent = strata({"wal", "fetch", "--source", "pg1", name, tmp_ / "absent"});
    EXPECT_EQ(absent.code, kFetchNotInArchive) << absent.err;
    // ...and the retry archives it, without anyone running cleanup.
    auto retry = strata({"wal", "push", "--source", "pg1", wal(name)});
    ASSERT_EQ(retry.code, 0) << retry.err;
    EXPECT_EQ(objects(name), 16u);
    expect_archived_exactly(name, data);
  }

  // Still idempotent: the same segment again is success, a different one under the same name is refused.
  auto again = strata({"wal", "push", "--source", "pg1", wal(a)});
  EXPECT_EQ(again.code, 0) << again.err;
  write_file(wal(a), make_data(kSegment, 99));
  auto other = strata({"wal", "push", "--source", "pg1", wal(a)});
  EXPECT_EQ(other.code, kExitExists) << other.err;
  expect_archived_exactly(a, seg_a);
  expect_archived_exactly(b, seg_b);

  auto check = strata({"wal", "check", "--source", "pg1", "--read-data"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("read and verified 2 archived file(s)\n"), std::string::npos) << check.out;
  // The retries removed what the killed pushes had left: the repository has no leftovers at all.
  auto repo_check = strata({"check"});
  EXPECT_EQ(repo_check.code, 0) << repo_check.out << repo_check.err;
  EXPECT_EQ(repo_check.out.find("leftover"), std::string::npos) << repo_check.out;
}

TEST_F(WalPushE2E, RetryNeverRemovesObjectsOfAnotherLivePushOfTheSameFile) {
  const std::string name = "000000010000000000000005";
  const std::string data = make_data(kSegment, 5);
  push_killed_mid_segment(name, data, SIGKILL);
  size_t left = objects(name);
  ASSERT_GT(left, 0u);
  // Another push of the same file, alive on this host (this test process), announced as its writer.
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  // Locks are leases: a live push refreshed its lock moments ago.
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  nlohmann::json lock = {{"kind", "shared"}, {"host", host}, {"pid", static_cast<int64_t>(::getpid())},
                         {"command", "wal push " + name}, {"backup_id", "pg1." + name}, {"started", "2026-01-01T00:00:00Z"},
                         {"started_epoch", now}, {"refreshed_epoch", now}};
  fs::create_directories(tmp_ / "repo/locks");
  write_file(tmp_ / "repo/locks/20260101T000000Z-0000000000000000", lock.dump());
  auto busy = strata({"wal", "push", "--source", "pg1", wal(name)});
  EXPECT_EQ(busy.code, kExitLocked) << busy.err;
  EXPECT_NE(busy.err.find("is being archived by another strata process (pid " + std::to_string(::getpid())), std::string::npos)
      << busy.err;
  EXPECT_EQ(objects(name), left);
  // Once that push is gone, the retry converges.
  fs::remove(tmp_ / "repo/locks/20260101T000000Z-0000000000000000");
  auto retry = strata({"wal", "push", "--source", "pg1", wal(name)});
  ASSERT_EQ(retry.code, 0) << retry.err;
  expect_archived_exactly(name, data);
}

}  // namespace
}  // namespace strata::test
