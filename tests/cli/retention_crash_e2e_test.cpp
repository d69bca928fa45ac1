// A rotation killed at each of its steps (STRATA_RETENTION_FAILPOINT exits the process there as kill -9 would: no
// destructors, its lock left behind) never breaks a kept backup, and the next run converges: the expired chain is
// gone, nothing is left over, everything kept restores byte for byte (docs/RETENTION.md "Crashes").
#include "support/retention_fixture.hpp"

namespace strata::test {
namespace {

class RetentionCrashE2E : public RetentionFixture {
 protected:
  struct Chain {
    std::string f1, i1, i2, f2, i3, f3;
  };
  // Old chain f1 <- i1 <- i2 (to expire, children first), kept: f2 <- i3 (i3 is "last 2") and f3.
  Chain make_history() {
    Chain c;
    c.f1 = engine_backup_at(kNoon - 6 * kDay, "full", "", "full one");
    c.i1 = engine_backup_at(kNoon - 5 * kDay, "incremental", c.f1, "incr one");
    c.i2 = engine_backup_at(kNoon - 4 * kDay, "incremental", c.i1, "incr two");
    c.f2 = engine_backup_at(kNoon - 3 * kDay, "full", "", "full two");
    c.i3 = engine_backup_at(kNoon - 2 * kDay, "incremental", c.f2, "incr three");
    c.f3 = engine_backup_at(kNoon - kDay, "full", "", "full three");
    return c;
  }

  RunResult forget_with(const std::string& failpoint) {
    Env e = env_;
    e["STRATA_TEST_NOW"] = std::to_string(kNoon);
    if (!failpoint.empty()) e["STRATA_RETENTION_FAILPOINT"] = failpoint;
    return run_strata({"forget", "--source", "db", "--keep-last", "2", "--now"}, e);
  }

  void expect_kept_intact(const Chain& c) {
    for (const auto& id : {c.f2, c.i3, c.f3}) expect_restores(id);
  }
};

TEST_F(RetentionCrashE2E, KilledAtEveryStepNeverBreaksAKeptBackupAndConverges) {
  for (const char* point : {"expire.after_tombstone:1", "expire.after_tombstone:2", "expire.after_tombstone:3",
                            "purge.after_backup:1", "purge.after_backup:2", "purge.after_backup:3"}) {
    SCOPED_TRACE(point);
    TearDown();
    std::filesystem::remove_all(repo_);
    SetUp();
    Chain c = make_history();
    auto r = forget_with(point);
    ASSERT_EQ(r.code, 86) << "the failpoint did not fire: " << r.out << r.err;
    expect_kept_intact(c);
    // What is still listed is restorable: a kill never leaves a listed incremental without its parent.
    for (const auto& id : listed()) expect_restores(id);
    r = forget_with("");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(listed(true), (std::vector<std::string>{c.f2, c.i3, c.f3}));
    for (const auto& id : {c.f1, c.i1, c.i2}) {
      EXPECT_FALSE(present("backups/" + id)) << id;
      EXPECT_FALSE(present("expired/" + id)) << id;
      EXPECT_FALSE(present("data/" + id + "/000000")) << id;
    }
    expect_kept_intact(c);
    r = strata({"check", "--read-data"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    // A third run has nothing left to do.
    r = forget_with("");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.find("deleted:"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("expired:"), std::string::npos) << r.out;
  }
}

TEST_F(RetentionCrashE2E, TombstonesAreWrittenChildrenFirst) {
  Chain c = make_history();
  auto r = forget_with("expire.after_tombstone:1");
  ASSERT_EQ(r.code, 86) << r.out << r.err;
  // Only the newest of the old chain is hidden; its parents are still listed and restorable.
  EXPECT_TRUE(present("expired/" + c.i2));
  EXPECT_FALSE(present("expired/" + c.i1));
  EXPECT_EQ(listed(), (std::vector<std::string>{c.f1, c.i1, c.f2, c.i3, c.f3}));
}

}  // namespace
}  // namespace strata::test
