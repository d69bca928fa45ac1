#include "repo/lock.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "../common/test_helpers.hpp"
#include "common/clock.hpp"
#include "storage/fault/fault_storage.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

// A pid that certainly belonged to a process of this host that is gone: fork a child and reap it.
int64_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

// A lock as this strata writes it, refreshed now; a lock of another host names another kernel (boot id).
void put_lock(Storage& s, const std::string& key, const std::string& kind, const std::string& host, int64_t pid,
              const std::string& command) {
  LockHolder me = LockHolder::self();
  nlohmann::json j = {{"kind", kind}, {"host", host}, {"pid", pid}, {"command", command},
                      {"boot_id", host == hostname() ? me.boot_id : "other-boot"}, {"pid_ns", me.pid_ns},
                      {"backup_id", "b1"}, {"started", iso_utc(now_epoch())}, {"refreshed_epoch", now_epoch()}};
  s.put(key, testing::bytes_of(j.dump()), PutMode::kCreateOnly);
}

TEST(RepoLock, SharedLocksCoexist) {
  MemoryStorage s;
  RepoLock a(s, LockKind::kShared, "backup one", "id1");
  RepoLock b(s, LockKind::kShared, "backup two", "id2");
  auto locks = RepoLock::list(s);
  ASSERT_EQ(locks.size(), 2u);
  for (const auto& l : locks) {
    EXPECT_EQ(l.kind, LockKind::kShared);
    EXPECT_EQ(l.holder.host, hostname());
    EXPECT_EQ(l.holder.pid, ::getpid());
    EXPECT_FALSE(l.stale);
    EXPECT_EQ(l.key.rfind("locks/", 0), 0u);
  }
  std::set<std::string> ids = {locks[0].backup_id, locks[1].backup_id};
  EXPECT_EQ(ids, (std::set<std::string>{"id1", "id2"}));
}

TEST(RepoLock, ExclusiveConflictsWithSharedAndNamesTheHolder) {
  MemoryStorage s;
  RepoLock shared(s, LockKind::kShared, "backup orders-db", "id1");
  const std::string holder = "'backup orders-db' (pid " + std::to_string(::getpid()) + " on " + hostname();
  EXPECT_STRATA_ERROR(RepoLock(s, LockKind::kExclusive, "delete x"), ErrorCode::kLocked, holder);
  EXPECT_STRATA_ERROR(RepoLock(s, LockKind::kExclusive, "delete x"), ErrorCode::kLocked, "strata unlock");
  EXPECT_EQ(RepoLock::list(s).size(), 1u) << "the refused lock withdrew its own file";
}

TEST(RepoLock, SharedConflictsWithExclusive) {
  MemoryStorage s;
  RepoLock excl(s, LockKind::kExclusive, "cleanup");
  EXPECT_STRATA_ERROR(RepoLock(s, LockKind::kShared, "backup a"), ErrorCode::kLocked, "locked by 'cleanup'");
  EXPECT_STRATA_ERROR(RepoLock(s, LockKind::kExclusive, "delete"), ErrorCode::kLocked, "locked by 'cleanup'");
  EXPECT_EQ(RepoLock::list(s).size(), 1u);
}

TEST(RepoLock, ReleasedOnDestruction) {
  MemoryStorage s;
  {
    RepoLock a(s, LockKind::kExclusive, "delete x");
    EXPECT_EQ(s.list("locks/").size(), 1u);
  }
  EXPECT_TRUE(s.list("locks/").empty());
  RepoLock again(s, LockKind::kExclusive, "delete y");  // free again
  EXPECT_EQ(s.list("locks/").size(), 1u);
}

TEST(RepoLock, StaleLockOfADeadProcessOnThisHostIsRemoved) {
  MemoryStorage s;
  int64_t pid = dead_pid();
  put_lock(s, "locks/20260101T000000Z-dead", "exclusive", hostname(), pid, "backup crashed");
  auto before = RepoLock::list(s);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_TRUE(before[0].stale);
  EXPECT_EQ(before[0].holder.pid, pid);
  {
    RepoLock lock(s, LockKind::kExclusive, "cleanup");
    EXPECT_FALSE(s.stat("locks/20260101T000000Z-dead")) << "stale lock removed";
    EXPECT_EQ(RepoLock::list(s).size(), 1u);
  }
  EXPECT_TRUE(s.list("locks/").empty());
}

TEST(RepoLock, LockOfALiveProcessOrAnotherHostIsNotStale) {
  MemoryStorage s;
  put_lock(s, "locks/a", "shared", hostname(), ::getppid(), "backup live");
  put_lock(s, "locks/b", "shared", "some-other-host.example", dead_pid(), "backup elsewhere");
  for (const auto& l : RepoLock::list(s)) EXPECT_FALSE(l.stale) << l.key;
  EXPECT_STRATA_ERROR(RepoLock(s, LockKind::kExclusive, "delete"), ErrorCode::kLocked, "backup ");
  EXPECT_EQ(s.list("locks/").size(), 2u) << "live locks are never removed";
}

TEST(RepoLock, FailureWhileLookingForOtherLocksWithdrawsOurs) {
  // The lock file is published before the others are listed; if listing fails the constructor throws, no
  // destructor runs, and the published lock would block every later command.
  FaultPlan plan;
  plan.ops = {StorageOp::kList};
  plan.fail_nth = 1;
  auto mem = std::make_unique<MemoryStorage>();
  MemoryStorage* inner = mem.get();
  FaultStorage s(std::move(mem), plan);
  EXPECT_STRATA_ERROR(RepoLock(s, LockKind::kShared, "backup db"), ErrorCode::kStorage, "injected fault");
  EXPECT_TRUE(inner->list("locks/").empty());
  RepoLock later(s, LockKind::kExclusive, "delete x");  // nothing left behind to conflict with
  EXPECT_EQ(inner->list("locks/").size(), 1u);
}

TEST(RepoLock, UnreadableLockCountsAsExclusive) {
  MemoryStorage s;
  s.put("locks/garbage", testing::bytes_of("{not json"));
  auto locks = RepoLock::list(s);
  ASSERT_EQ(locks.size(), 1u);
  EXPECT_EQ(locks[0].kind, LockKind::kExclusive);
  EXPECT_STRATA_ERROR(RepoLock(s, LockKind::kShared, "backup"), ErrorCode::kLocked, "unreadable lock file");
}

}  // namespace
}  // namespace strata
