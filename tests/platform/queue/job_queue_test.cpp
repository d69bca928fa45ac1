// The queue's claim, limit, lease and epoch rules (docs/CATALOG.md "Queue"), each on SQLite and PostgreSQL with the
// catalog's clock injected: no test sleeps.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/error.hpp"
#include "platform/catalog/outbox.hpp"
#include "platform/queue/catalog_fixture.hpp"
#include "platform/queue/job_queue.hpp"

namespace strata::test {
namespace {

class QueueTest : public CatalogTest {
 protected:
  void SetUp() override {
    CatalogTest::SetUp();
    if (IsSkipped()) return;
    queue_ = std::make_unique<JobQueue>(*catalog_);
  }
  int64_t add(const std::string& source, const std::string& group = "", std::vector<std::string> tags = {}) {
    JobSpec s;
    s.source = source;
    s.group = group;
    s.tags = std::move(tags);
    auto r = queue_->enqueue(s);
    EXPECT_TRUE(r.created);
    return r.job_id;
  }
  std::string state(int64_t id) { return queue_->get(id)->state; }
  std::vector<std::string> kinds() {
    std::vector<std::string> out;
    for (const auto& e : outbox_read(*catalog_, 0)) out.push_back(e.kind);
    return out;
  }
  std::unique_ptr<JobQueue> queue_;
};

TEST_P(QueueTest, AClaimTakesEveryEnclosingLimitSlotAndNoLimitIsExceeded) {
  queue_->set_limit("region-cn/idc-sh1", 2, std::nullopt);
  queue_->set_limit("", 3, std::nullopt);
  queue_->register_agent("a1", {}, 10);
  int64_t sh_a = add("sh-a", "region-cn/idc-sh1/pg-a");
  int64_t sh_b = add("sh-b", "region-cn/idc-sh1/pg-b");
  int64_t sh_c = add("sh-c", "region-cn/idc-sh1");
  int64_t bj_a = add("bj-a", "region-cn/idc-bj1");
  int64_t bj_b = add("bj-b", "region-cn/idc-bj1");

  auto c1 = queue_->claim("a1");
  auto c2 = queue_->claim("a1");
  ASSERT_TRUE(c1 && c2);
  EXPECT_EQ(c1->job_id, sh_a);
  EXPECT_EQ(c2->job_id, sh_b);
  auto c3 = queue_->claim("a1");  // sh-c waits for idc-sh1's limit; bj-a takes the fleet's third slot
  ASSERT_TRUE(c3);
  EXPECT_EQ(c3->job_id, bj_a);
  EXPECT_FALSE(queue_->claim("a1"));  // the fleet's limit of 3 is reached
  EXPECT_EQ(state(sh_c), "queued");
  EXPECT_EQ(state(bj_b), "queued");
  std::map<std::string, int64_t> used;
  for (const auto& l : queue_->limits()) used[l.scope] = l.used;
  EXPECT_EQ(used["global"], 3);
  EXPECT_EQ(used["group:region-cn/idc-sh1"], 2);
  EXPECT_EQ(used["agent:a1"], 3);

  ASSERT_EQ(queue_->complete(c1->job_id, c1->epoch, {true, "", "file:///r", "m1"}), ReportResult::kAccepted);
  auto c4 = queue_->claim("a1");  // the freed idc-sh1 and global slots go to sh-c
  ASSERT_TRUE(c4);
  EXPECT_EQ(c4->job_id, sh_c);
  EXPECT_FALSE(queue_->claim("a1"));
}

TEST_P(QueueTest, AnAgentRunsOnlyWhatItsTagsAndItsOwnLimitAllow) {
  queue_->register_agent("dbhost", {"idc=sh1", "role=db"}, 1);
  queue_->register_agent("anywhere", {"idc=sh1"}, 5);
  int64_t physical = add("orders", "", {"role=db", "idc=sh1"});
  int64_t dump1 = add("dump1");
  int64_t dump2 = add("dump2");
  auto a = queue_->claim("anywhere");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->job_id, dump1);  // not the physical backup: its tags are not all the agent's
  auto b = queue_->claim("dbhost");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->job_id, physical);
  EXPECT_FALSE(queue_->claim("dbhost"));  // its own limit: 1 job
  auto c = queue_->claim("anywhere");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->job_id, dump2);
  EXPECT_THROW(queue_->claim("stranger"), StrataError);
}

TEST_P(QueueTest, AnExpiredLeaseRequeuesWithANewEpochAndFencesTheOldHolder) {
  queue_->set_limit("g", 1, std::nullopt);
  queue_->register_agent("a", {}, 1);
  queue_->register_agent("b", {}, 1);
  int64_t id = add("orders", "g");
  auto first = queue_->claim("a");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->epoch, 1);
  EXPECT_EQ(first->lease_until, kStart + 60);

  clock_.advance(59);
  EXPECT_FALSE(queue_->claim("b"));  // the lease still holds
  clock_.advance(1);                 // the catalog's clock reaches the lease's end
  EXPECT_FALSE(queue_->heartbeat(id, first->epoch).ok);
  auto second = queue_->claim("b");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->job_id, id);
  EXPECT_EQ(second->epoch, 2);
  std::map<std::string, int64_t> used;
  for (const auto& l : queue_->limits()) used[l.scope] = l.used;
  EXPECT_EQ(used["group:g"], 1);  // the slot passed from a to b, it was not taken twice
  EXPECT_EQ(used["agent:a"], 0);
  EXPECT_EQ(used["agent:b"], 1);

  // The fenced agent's late success is refused; its backup is indexed as an orphan, not the job's success.
  EXPECT_EQ(queue_->complete(id, first->epoch, {true, "", "file:///r", "late"}), ReportResult::kStale);
  EXPECT_EQ(state(id), "running");
  EXPECT_EQ(scalar("SELECT orphan FROM backups WHERE manifest = 'late'"), "1");
  EXPECT_EQ(queue_->complete(id, second->epoch, {true, "", "file:///r", "good"}), ReportResult::kAccepted);
  EXPECT_EQ(state(id), "succeeded");
  EXPECT_EQ(scalar("SELECT orphan FROM backups WHERE manifest = 'good'"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM backups WHERE orphan = 0"), "1");
  EXPECT_EQ(kinds(), std::vector<std::string>{"backup.orphan"});
  auto rec = queue_->get(id);
  ASSERT_EQ(rec->attempts.size(), 2u);
  EXPECT_EQ(rec->attempts[0].outcome, "fenced");
  EXPECT_EQ(rec->attempts[1].outcome, "succeeded");
  for (const auto& l : queue_->limits()) EXPECT_EQ(l.used, 0) << l.scope;
}

TEST_P(QueueTest, HeartbeatsExtendTheLeaseOnTheCatalogsClock) {
  queue_->register_agent("a", {}, 1);
  queue_->register_agent("b", {}, 1);
  int64_t id = add("orders");
  auto c = queue_->claim("a");
  ASSERT_TRUE(c);
  for (int i = 0; i < 5; ++i) {
    clock_.advance(45);
    auto hb = queue_->heartbeat(id, c->epoch);
    ASSERT_TRUE(hb.ok) << i;
    EXPECT_EQ(hb.lease_until, clock_.now() + 60);
    EXPECT_FALSE(queue_->claim("b"));
  }
  EXPECT_FALSE(queue_->heartbeat(id, c->epoch + 1).ok);  // a wrong epoch extends nothing
  EXPECT_EQ(queue_->complete(id, c->epoch, {true, "", "r", "m"}), ReportResult::kAccepted);
  EXPECT_FALSE(queue_->heartbeat(id, c->epoch).ok);
}

TEST_P(QueueTest, AFailedAttemptIsRetriedAfterBackoffThenTheJobIsDead) {
  queue_->register_agent("a", {}, 1);
  int64_t id = add("orders");
  for (int n = 1; n <= 3; ++n) {
    auto c = queue_->claim("a");
    ASSERT_TRUE(c) << n;
    EXPECT_EQ(c->epoch, n);
    EXPECT_EQ(queue_->complete(id, c->epoch, {false, "pg_dump: connection refused (" + std::to_string(n) + ")", "", ""}),
              ReportResult::kAccepted);
    if (n == 3) break;
    auto rec = queue_->get(id);
    EXPECT_EQ(rec->state, "failed");
    int64_t wait = rec->run_after - clock_.now();
    int64_t base = 30LL << (n - 1);
    EXPECT_GE(wait, base - base / 4);  // 30 s, 60 s: +-25% jitter
    EXPECT_LT(wait, base + base / 4);
    EXPECT_EQ(wait, queue_->backoff(id, n));
    clock_.advance(wait - 1);
    EXPECT_FALSE(queue_->claim("a")) << "claimed before its backoff ended";
    clock_.advance(1);
  }
  auto rec = queue_->get(id);
  EXPECT_EQ(rec->state, "dead");
  EXPECT_EQ(rec->last_error, "pg_dump: connection refused (3)");
  EXPECT_EQ(kinds(), (std::vector<std::string>{"job.failed", "job.failed", "job.failed", "job.dead"}));
  EXPECT_FALSE(queue_->claim("a"));
  auto again = queue_->retry(id);  // the operator's retry is a new job of the same source
  EXPECT_TRUE(again.created);
  EXPECT_NE(again.job_id, id);
  EXPECT_EQ(state(again.job_id), "queued");
}

TEST_P(QueueTest, RunNowIsDeduplicatedAgainstTheSourcesQueuedJob) {
  JobSpec s;
  s.source = "orders";
  s.type = "incremental";
  s.run_after = kStart + 3600;
  auto scheduled = queue_->enqueue(s);
  ASSERT_TRUE(scheduled.created);
  JobSpec now;
  now.source = "orders";
  now.type = "full";
  auto r = queue_->run_now(now);
  EXPECT_FALSE(r.created);
  EXPECT_EQ(r.job_id, scheduled.job_id);
  auto rec = queue_->get(r.job_id);
  EXPECT_EQ(rec->type, "full");  // a full covers the incremental
  EXPECT_EQ(rec->run_after, kStart);
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "1");
  queue_->register_agent("a", {}, 1);
  auto c = queue_->claim("a");
  ASSERT_TRUE(c);
  auto again = queue_->run_now(now);  // while it runs: the running job is the answer
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.state, "running");
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "1");
}

TEST_P(QueueTest, CancellingARunningJobFreesItsSlotsAndRefusesItsReport) {
  queue_->set_limit("", 1, std::nullopt);
  queue_->register_agent("a", {}, 2);
  int64_t one = add("one");
  int64_t two = add("two");
  auto c = queue_->claim("a");
  ASSERT_TRUE(c);
  EXPECT_FALSE(queue_->claim("a"));
  queue_->cancel(one);
  auto hb = queue_->heartbeat(one, c->epoch);
  EXPECT_FALSE(hb.ok);
  EXPECT_TRUE(hb.cancelled);
  EXPECT_EQ(queue_->complete(one, c->epoch, {true, "", "r", "m"}), ReportResult::kStale);
  EXPECT_EQ(state(one), "cancelled");
  auto next = queue_->claim("a");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->job_id, two);
  EXPECT_THROW(queue_->cancel(one), StrataError);
  EXPECT_THROW(queue_->cancel(9999), StrataError);
}

TEST_P(QueueTest, AJobThatLosesItsLeaseThreeTimesInADayIsDead) {
  queue_->register_agent("a", {}, 1);
  int64_t id = add("poison");
  for (int i = 0; i < 3; ++i) {
    auto c = queue_->claim("a");
    ASSERT_TRUE(c) << i;
    clock_.advance(61);
  }
  EXPECT_EQ(queue_->reap(), 1);
  auto rec = queue_->get(id);
  EXPECT_EQ(rec->state, "dead");
  EXPECT_NE(rec->last_error.find("lost its lease 3 times"), std::string::npos) << rec->last_error;
  EXPECT_EQ(kinds(), std::vector<std::string>{"job.dead"});
  for (const auto& l : queue_->limits()) EXPECT_EQ(l.used, 0) << l.scope;
}

TEST_P(QueueTest, AJobNotStartedBeforeItsWindowClosesIsMissed) {
  queue_->set_limit("", 1, std::nullopt);
  queue_->register_agent("a", {}, 1);
  int64_t blocker = add("blocker");
  JobSpec s;
  s.source = "windowed";
  s.deadline = kStart + 600;
  int64_t id = queue_->enqueue(s).job_id;
  auto c = queue_->claim("a");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->job_id, blocker);
  for (int i = 0; i < 12; ++i) {  // the blocker runs on, heartbeating, while the window closes
    clock_.advance(50);
    ASSERT_TRUE(queue_->heartbeat(blocker, c->epoch).ok);
  }
  EXPECT_EQ(queue_->reap(), 1);
  EXPECT_EQ(state(id), "missed");
  EXPECT_EQ(kinds(), std::vector<std::string>{"job.missed"});
}

// Real threads, each with its own connection, claim and complete 120 jobs under a group limit of 3 and a fleet limit
// of 4. While it holds a job, each thread counts the running jobs the catalog has committed, and the jobs the
// threads hold (raised after a claim commits, lowered before the completion commits, so never more than the catalog
// holds): either above its limit means the limit was exceeded. (With the slot check as a SELECT before an
// unconditional UPDATE, PostgreSQL claimers exceed it.)
TEST_P(QueueTest, RacingClaimersWithSeparateConnectionsNeverExceedALimit) {
  queue_->set_limit("r/idc", 3, std::nullopt);
  queue_->set_limit("", 4, std::nullopt);
  constexpr int kJobs = 120, kThreads = 6;
  for (int i = 0; i < kJobs; ++i) add("s" + std::to_string(i), i % 2 ? "r/idc/c" + std::to_string(i % 3) : "other");
  for (int t = 0; t < kThreads; ++t) queue_->register_agent("t" + std::to_string(t), {}, 2);
  std::atomic<int> idc_held{0}, all_held{0}, idc_max{0}, all_max{0}, done{0};
  std::mutex mu;
  std::multiset<int64_t> completed;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        auto cat = connect();
        JobQueue q(*cat);
        std::string agent = "t" + std::to_string(t);
        while (done.load() < kJobs) {
          auto c = q.claim(agent);
          if (!c) continue;
          bool idc = std::stoi(c->source.substr(1)) % 2 == 1;
          int a = ++all_held;
          all_max = std::max(all_max.load(), a);
          if (idc) {
            int i = ++idc_held;
            idc_max = std::max(idc_max.load(), i);
          }
          // What the catalog itself holds while this job runs (committed rows, read on this connection).
          auto n = cat->sql().exec("SELECT count(*), coalesce(sum(CASE WHEN grp LIKE 'r/idc/%' THEN 1 ELSE 0 END), 0) "
                                   "FROM jobs WHERE state = 'running'");
          int all_db = static_cast<int>(sql_int(n.rows[0][0])), idc_db = static_cast<int>(sql_int(n.rows[0][1]));
          all_max = std::max(all_max.load(), all_db);
          idc_max = std::max(idc_max.load(), idc_db);
          if (idc) --idc_held;
          --all_held;
          ASSERT_EQ(q.complete(c->job_id, c->epoch, {true, "", "r", "m" + std::to_string(c->job_id)}), ReportResult::kAccepted);
          std::lock_guard<std::mutex> lock(mu);
          completed.insert(c->job_id);
          ++done;
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
        done = kJobs;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_LE(idc_max.load(), 3);
  EXPECT_LE(all_max.load(), 4);
  EXPECT_EQ(completed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<int64_t>(completed.begin(), completed.end()).size(), static_cast<size_t>(kJobs));  // once each
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs WHERE state = 'succeeded'"), std::to_string(kJobs));
  for (const auto& l : queue_->limits()) EXPECT_EQ(l.used, 0) << l.scope;
}

// A claiming process killed with SIGKILL: once with its claim committed (the job stays running until its lease ends,
// then another agent gets it with the next epoch), once in the middle of its claim transaction (the database undoes
// it: the writer lock and the row locks die with the connection).
TEST_P(QueueTest, AClaimerKilledWithSigkillLeavesTheJobReclaimableAfterTheLease) {
  queue_->register_agent("victim", {}, 1);
  queue_->register_agent("rescuer", {}, 1);
  int64_t id = add("orders");
  for (int phase = 0; phase < 2; ++phase) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(ready[0]);
      try {
        ManualClock clock(clock_.now());
        auto cat = Catalog::open(url_, &clock);
        if (phase == 0) {
          JobQueue q(*cat);
          auto c = q.claim("victim");
          char ok = c ? '1' : '0';
          (void)!::write(ready[1], &ok, 1);
        } else {
          cat->sql().begin();
          cat->sql().exec("UPDATE jobs SET state = 'running', epoch = epoch + 100, agent = 'victim'");
          char ok = '1';
          (void)!::write(ready[1], &ok, 1);
        }
      } catch (...) {
        char bad = 'x';
        (void)!::write(ready[1], &bad, 1);
      }
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char got = 0;
    ASSERT_EQ(::read(ready[0], &got, 1), 1);
    ::close(ready[0]);
    ASSERT_EQ(got, '1') << "phase " << phase;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (phase == 1 && catalog_->sql().dialect() == SqlDialect::kPostgres) {
      // The killed client's backend aborts its transaction only once it reads the closed socket, a moment after the
      // process is gone (SQLite's file lock is gone with the process): a second session waiting for the row lock
      // returns exactly when that abort is done, where a SKIP LOCKED claim would race it.
      catalog_->sql().begin();
      catalog_->sql().exec("SELECT id FROM jobs WHERE id = $1 FOR UPDATE", {std::to_string(id)});
      catalog_->sql().rollback();
    }
    if (phase == 0) {
      auto rec = queue_->get(id);
      EXPECT_EQ(rec->state, "running");
      EXPECT_EQ(rec->agent, "victim");
      EXPECT_FALSE(queue_->claim("rescuer"));
      clock_.advance(60);
    }
  }
  // The killed transaction left nothing: the job is as the first victim's lease left it, and claimable.
  auto c = queue_->claim("rescuer");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->job_id, id);
  EXPECT_EQ(c->epoch, 2);
  EXPECT_EQ(queue_->complete(id, 2, {true, "", "r", "m"}), ReportResult::kAccepted);
  EXPECT_EQ(queue_->complete(id, 1, {true, "", "r", "m-victim"}), ReportResult::kStale);
}

INSTANTIATE_TEST_SUITE_P(Catalogs, QueueTest, ::testing::Values("sqlite", "postgres"), backend_name);

}  // namespace
}  // namespace strata::test
