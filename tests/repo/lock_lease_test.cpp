// Locks as leases (issue 13 items 4, 15, 21): stale by age wherever they came from, refreshed by their holders,
// judged by pid only within this kernel's own PID namespace, never removed while being refreshed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>

#include "../common/test_helpers.hpp"
#include "common/clock.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

struct FakeClock {
  int64_t now = 1800000000;
  LockTiming timing(int64_t refresh = 0) {
    LockTiming t;
    t.refresh_seconds = refresh;  // 0: no background thread; tests call refresh()
    t.stale_seconds = 1800;
    t.now = [this] { return now; };
    return t;
  }
};

int64_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

nlohmann::json lock_of(const LockHolder& h, int64_t refreshed, const std::string& command = "backup db") {
  return {{"kind", "shared"},        {"host", h.host},           {"machine_id", h.machine_id},
          {"boot_id", h.boot_id},    {"pid_ns", h.pid_ns},       {"pid", h.pid},
          {"process_start", h.process_start}, {"command", command}, {"backup_id", "b1"},
          {"started", iso_utc(refreshed)},    {"started_epoch", refreshed}, {"refreshed_epoch", refreshed}};
}

void put(Storage& s, const std::string& key, const nlohmann::json& j) { s.put(key, testing::bytes_of(j.dump())); }

TEST(LockLease, OtherHostsLockIsStaleOnlyAfterTheLeaseRanOut) {
  MemoryStorage s;
  FakeClock clock;
  LockHolder other = LockHolder::self();
  other.host = "db-2";
  other.boot_id = "another-kernel";
  put(s, "locks/a", lock_of(other, clock.now - 1799));
  EXPECT_FALSE(RepoLock::list(s, clock.timing())[0].stale) << "refreshed 29:59 ago";
  EXPECT_STRATA_ERROR(RepoLock(s, LockKind::kExclusive, "cleanup", "", clock.timing()), ErrorCode::kLocked,
                      "remove its lock with 'strata unlock a'");
  clock.now += 2;
  auto l = RepoLock::list(s, clock.timing());
  ASSERT_EQ(l.size(), 1u);
  EXPECT_TRUE(l[0].stale);
  EXPECT_EQ(l[0].stale_reason, "not refreshed for 30 min");
  RepoLock taken(s, LockKind::kExclusive, "cleanup", "", clock.timing());
  EXPECT_FALSE(s.stat("locks/a")) << "an expired lease is removed";
}

// Item 15: same hostname, other PID namespace (a container, pod or `unshare --pid`): its pid means nothing here.
TEST(LockLease, SameHostnameInAnotherPidNamespaceIsNotJudgedByPid) {
  MemoryStorage s;
  FakeClock clock;
  LockHolder other = LockHolder::self();
  other.pid_ns = "pid:[1]";
  other.pid = dead_pid();
  put(s, "locks/ns", lock_of(other, clock.now));
  auto l = RepoLock::list(s, clock.timing());
  ASSERT_EQ(l.size(), 1u);
  EXPECT_FALSE(l[0].stale) << "the holder's pid is dead here but not there";
  EXPECT_STRATA_ERROR(RepoLock(s, LockKind::kExclusive, "cleanup", "", clock.timing()), ErrorCode::kLocked, "'backup db'");
  EXPECT_TRUE(s.stat("locks/ns"));
}

TEST(LockLease, DeadProcessInOurOwnPidSpaceIsStaleAtOnce) {
  MemoryStorage s;
  FakeClock clock;
  LockHolder gone = LockHolder::self();
  gone.pid = dead_pid();
  put(s, "locks/gone", lock_of(gone, clock.now));
  auto l = RepoLock::list(s, clock.timing());
  ASSERT_EQ(l.size(), 1u);
  EXPECT_TRUE(l[0].stale);
  EXPECT_NE(l[0].stale_reason.find("is gone"), std::string::npos);
}

TEST(LockLease, ReusedPidIsToldApartByItsStartTime) {
  MemoryStorage s;
  FakeClock clock;
  LockHolder reused = LockHolder::self();  // our pid is alive, but the lock names a process that started earlier
  ASSERT_GT(reused.process_start, 0u);
  reused.process_start -= 1;
  put(s, "locks/reused", lock_of(reused, clock.now));
  auto l = RepoLock::list(s, clock.timing());
  ASSERT_EQ(l.size(), 1u);
  EXPECT_TRUE(l[0].stale);
  EXPECT_NE(l[0].stale_reason.find("another process"), std::string::npos);
  put(s, "locks/reused", lock_of(LockHolder::self(), clock.now));
  EXPECT_FALSE(RepoLock::list(s, clock.timing())[0].stale) << "the real holder";
}

TEST(LockLease, HolderRefreshesAndAStaleJudgementOfARefreshedLockIsDropped) {
  MemoryStorage s;
  FakeClock clock;
  RepoLock held(s, LockKind::kShared, "backup db", "b1", clock.timing());
  auto before = RepoLock::list(s, clock.timing());
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].refreshed_epoch, clock.now);
  clock.now += 3000;  // a judge sees it 50 min old ...
  auto old = RepoLock::list(s, clock.timing());
  EXPECT_TRUE(old[0].stale);
  held.refresh();  // ... but the holder refreshes before the judge removes it
  EXPECT_FALSE(RepoLock::remove_if_unchanged(s, old[0]));
  auto after = RepoLock::list(s, clock.timing());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].refreshed_epoch, clock.now);
  EXPECT_FALSE(after[0].stale);
  EXPECT_FALSE(held.lost());
}

TEST(LockLease, BackgroundRefresh) {
  MemoryStorage s;
  LockTiming t;
  t.refresh_seconds = 1;
  t.stale_seconds = 30;
  std::atomic<int64_t> now{1800000000};
  t.now = [&] { return now.load(); };
  std::mutex mu;
  std::condition_variable cv;
  int refreshes = 0;
  t.after_refresh = [&] {
    std::lock_guard<std::mutex> lock(mu);
    ++refreshes;
    cv.notify_all();
  };
  RepoLock held(s, LockKind::kShared, "backup db", "b1", t);
  now += 10;
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return refreshes > 0; }));
  EXPECT_EQ(RepoLock::list(s, t)[0].refreshed_epoch, now.load());
}

TEST(LockLease, LostLockIsNoticedAndNotRecreated) {
  MemoryStorage s;
  FakeClock clock;
  RepoLock held(s, LockKind::kShared, "backup db", "b1", clock.timing());
  s.remove(held.key());  // strata unlock --all
  EXPECT_TRUE(held.lost());
  held.refresh();
  EXPECT_FALSE(s.stat(held.key())) << "a removed lock is not silently recreated";
}

// Item 21: an empty lock file blocks (it counts as exclusive) until 'strata unlock' removes it.
TEST(LockLease, EmptyLockFileIsRemovedByPlainUnlock) {
  auto mem = std::make_unique<MemoryStorage>();
  MemoryStorage* raw = mem.get();
  InitOptions init;
  init.encrypted = false;
  Repository::init(*raw, init);
  Repository repo(std::move(mem));
  raw->put("locks/" + compact_utc(now_epoch()) + "-0000000000000000", Bytes{});
  EXPECT_STRATA_ERROR(RepoLock(*raw, LockKind::kShared, "backup db"), ErrorCode::kLocked, "remove it with 'strata unlock'");
  auto removed = repo.unlock({}, false);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_FALSE(removed[0].readable);
  EXPECT_TRUE(raw->list("locks/").empty());
  EXPECT_NO_THROW(RepoLock(*raw, LockKind::kShared, "backup db"));
}

TEST(LockLease, UnlockByIdRemovesExactlyThatLock) {
  auto mem = std::make_unique<MemoryStorage>();
  MemoryStorage* raw = mem.get();
  InitOptions init;
  init.encrypted = false;
  Repository::init(*raw, init);
  Repository repo(std::move(mem));
  LockHolder other = LockHolder::self();
  other.boot_id = "elsewhere";
  put(*raw, "locks/one", lock_of(other, now_epoch()));
  put(*raw, "locks/two", lock_of(other, now_epoch()));
  EXPECT_TRUE(repo.unlock({}, false).empty()) << "live-looking locks stay without a name or --all";
  auto removed = repo.unlock({"one"}, false);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].id, "one");
  EXPECT_FALSE(raw->stat("locks/one"));
  EXPECT_TRUE(raw->stat("locks/two"));
  EXPECT_STRATA_ERROR(repo.unlock({"nosuch"}, false), ErrorCode::kNotFound, "lock nosuch not found");
}

}  // namespace
}  // namespace strata
