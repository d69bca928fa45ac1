// The agent loop over the in-process link (issue 15 part 5), on SQLite and on a real PostgreSQL 15: a claimed job
// runs a real command-engine backup (a child `strata backup`) into a local repository and is completed with the
// manifest id; a report with a stale epoch is refused; an agent whose heartbeat is refused stops its running backup
// and nothing is committed. The catalog's clock is the tests' ManualClock; waits are for conditions, with deadlines.
#include <fcntl.h>
#include <unistd.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "platform/agent/agent.hpp"
#include "platform/agent/local_link.hpp"
#include "platform/queue/catalog_fixture.hpp"
#include "support/fifo_gate.hpp"

namespace strata::test {
namespace {

class AgentTest : public CatalogTest {
 protected:
  void SetUp() override {
    CatalogTest::SetUp();
    if (IsSkipped()) return;
    repo_ = dir_ / "repo";
    write_file(dir_ / "pass", "agent test passphrase\n");
    gate_ = dir_ / "gate";
    make_fifo(gate_);
    cfg_ = dir_ / "strata.toml";
    write_file(cfg_, "repo = \"" + repo_ + "\"\npassphrase_file = \"" + (dir_ / "pass") + "\"\n" +
                         "[source.orders]\nengine = \"command\"\nbackup_command = \"printf orders-dump\"\n"
                         "[source.slow]\nengine = \"command\"\nbackup_command = \"cat " + gate_ + "\"\n");
    auto r = strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"});
    ASSERT_EQ(r.code, 0) << r.err;
    queue_ = std::make_unique<JobQueue>(*catalog_);
    runner_ = std::make_unique<ProcessJobRunner>(
        ProcessRunnerOptions{strata_binary(), {"--config", cfg_}, repo_, {}, std::chrono::milliseconds(5000)});
  }
  RunResult strata(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", cfg_});
    return run_strata(args, {{"HOME", dir_.path()}});
  }
  int64_t add(const std::string& source) {
    JobSpec s;
    s.source = source;
    return queue_->enqueue(s).job_id;
  }
  AgentOptions options(const std::string& name) {
    AgentOptions o;
    o.hello.name = name;
    o.claim_wait = std::chrono::milliseconds(0);
    o.heartbeat_every = std::chrono::milliseconds(50);
    return o;
  }
  std::string repo_, cfg_, gate_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<ProcessJobRunner> runner_;
};

TEST_P(AgentTest, AClaimedJobRunsARealBackupAndIsCompletedWithItsManifest) {
  int64_t job = add("orders");
  auto cat = connect();  // the agent's own connection, as in the server
  LocalAgentLink link(*cat);
  Agent agent(link, *runner_, options("a1"));
  AgentRunResult res = agent.run_once();
  ASSERT_EQ(res.end, AgentRunEnd::kReported) << res.outcome.error;
  EXPECT_EQ(res.job_id, job);
  EXPECT_EQ(res.epoch, 1);
  ASSERT_TRUE(res.outcome.success) << res.outcome.error;

  auto j = queue_->get(job);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->state, "succeeded");
  EXPECT_EQ(j->agent, "a1");
  EXPECT_EQ(j->manifest, res.outcome.manifest);
  EXPECT_EQ(scalar("SELECT count(*) FROM backups WHERE manifest = '" + res.outcome.manifest + "' AND orphan = 0"), "1");
  // The repository has exactly that backup, of that source, with the command's bytes.
  auto r = strata({"list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto list = nlohmann::json::parse(r.out);
  ASSERT_EQ(list.size(), 1u) << r.out;
  EXPECT_EQ(list[0]["id"], res.outcome.manifest);
  EXPECT_EQ(list[0]["source"], "orders");
  r = strata({"restore", res.outcome.manifest, "--to", "-"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "orders-dump");

  EXPECT_EQ(agent.run_once().end, AgentRunEnd::kIdle);  // nothing left
}

TEST_P(AgentTest, AReportWithAStaleEpochIsRefusedAndTheCurrentOneAccepted) {
  int64_t job = add("orders");
  auto cat1 = connect();
  auto cat2 = connect();
  LocalAgentLink first(*cat1), second(*cat2);
  first.register_agent({"a1", {}, {}, 1});
  second.register_agent({"a2", {}, {}, 1});
  auto c1 = first.claim(std::chrono::milliseconds(0));
  ASSERT_TRUE(c1);
  EXPECT_EQ(c1->job.job_id, job);
  EXPECT_EQ(c1->lease_seconds, 60);
  EXPECT_FALSE(second.claim(std::chrono::milliseconds(0)));  // leased to a1
  clock_.advance(61);                                      // a1's lease ends on the catalog's clock
  auto c2 = second.claim(std::chrono::milliseconds(0));
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->job.epoch, c1->job.epoch + 1);
  EXPECT_FALSE(first.heartbeat(job, c1->job.epoch).ok);
  EXPECT_EQ(first.report(job, c1->job.epoch, {true, "", repo_, "20270115T080000Z-aaaa"}), ReportResult::kStale);
  EXPECT_EQ(queue_->get(job)->state, "running");
  EXPECT_EQ(second.report(job, c2->job.epoch, {true, "", repo_, "20270115T080100Z-bbbb"}), ReportResult::kAccepted);
  auto j = queue_->get(job);
  EXPECT_EQ(j->state, "succeeded");
  EXPECT_EQ(j->manifest, "20270115T080100Z-bbbb");
  // The fenced attempt's committed backup is known, as an orphan, never as the job's.
  EXPECT_EQ(scalar("SELECT orphan FROM backups WHERE manifest = '20270115T080000Z-aaaa'"), "1");
  EXPECT_EQ(scalar("SELECT orphan FROM backups WHERE manifest = '20270115T080100Z-bbbb'"), "0");
}

TEST_P(AgentTest, TheUploadShareIsTheTightestEnclosingCapDividedAmongItsRunningJobs) {
  queue_->set_limit("", std::nullopt, 1200);          // the fleet: 1200 B/s
  queue_->set_limit("region-a", std::nullopt, 300);   // a group: 300 B/s
  JobSpec a;
  a.source = "a1";
  a.group = "region-a/idc-1";
  JobSpec b;
  b.source = "b1";
  b.group = "region-b";
  queue_->enqueue(a);
  queue_->enqueue(b);
  auto cat = connect();
  LocalAgentLink link(*cat);
  link.register_agent({"x", {}, {}, 4});
  auto c1 = link.claim(std::chrono::milliseconds(0));
  ASSERT_TRUE(c1);
  EXPECT_EQ(c1->job.source, "a1");
  EXPECT_EQ(c1->upload, 300u);  // region-a's cap is tighter than the fleet's 1200 alone
  auto c2 = link.claim(std::chrono::milliseconds(0));
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->upload, 600u);  // the fleet's 1200 shared by the two running jobs
  EXPECT_EQ(link.heartbeat(c1->job.job_id, c1->job.epoch).upload, 300u);
  ASSERT_EQ(link.report(c1->job.job_id, c1->job.epoch, {true, "", repo_, "m1"}), ReportResult::kAccepted);
  EXPECT_EQ(link.heartbeat(c2->job.job_id, c2->job.epoch).upload, 1200u);  // alone now
}

// Opens the gate FIFO once the source command reads it: the backup is then running. Fails after a minute.
int open_gate(const std::string& fifo) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) return fd;
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // waiting for a condition, not for time to pass
  }
}

TEST_P(AgentTest, AnAgentWhoseLeaseWasTakenStopsItsBackupAndCommitsNothing) {
  int64_t job = add("slow");
  auto cat1 = connect();
  LocalAgentLink link(*cat1);
  Agent agent(link, *runner_, options("a1"));
  auto running = std::async(std::launch::async, [&] { return agent.run_once(); });
  int gate = open_gate(gate_);
  ASSERT_GE(gate, 0) << "the backup command never started";

  clock_.advance(61);  // the lease ends; another agent takes the job (epoch 2)
  auto cat2 = connect();
  LocalAgentLink other(*cat2);
  other.register_agent({"a2", {}, {}, 1});
  auto c2 = other.claim(std::chrono::milliseconds(0));
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->job.epoch, 2);

  // a1's next heartbeat is refused: it stops the child (SIGTERM to its process group) well within the kill grace.
  ASSERT_EQ(running.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  AgentRunResult res = running.get();
  ::close(gate);
  EXPECT_EQ(res.end, AgentRunEnd::kStale);
  EXPECT_FALSE(res.outcome.success);
  EXPECT_NE(res.outcome.error.find("stopped: the lease was lost"), std::string::npos) << res.outcome.error;
  auto j = queue_->get(job);
  EXPECT_EQ(j->state, "running");
  EXPECT_EQ(j->agent, "a2");
  EXPECT_EQ(j->epoch, 2);
  auto r = strata({"list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 0u) << r.out;
}

TEST_P(AgentTest, ACancelledJobIsStoppedOnTheNextHeartbeat) {
  int64_t job = add("slow");
  auto cat1 = connect();
  LocalAgentLink link(*cat1);
  Agent agent(link, *runner_, options("a1"));
  auto running = std::async(std::launch::async, [&] { return agent.run_once(); });
  int gate = open_gate(gate_);
  ASSERT_GE(gate, 0) << "the backup command never started";
  queue_->cancel(job);
  ASSERT_EQ(running.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  AgentRunResult res = running.get();
  ::close(gate);
  EXPECT_EQ(res.end, AgentRunEnd::kCancelled);
  EXPECT_EQ(queue_->get(job)->state, "cancelled");
}

INSTANTIATE_TEST_SUITE_P(Catalogs, AgentTest, ::testing::Values("sqlite", "postgres"), backend_name);

}  // namespace
}  // namespace strata::test
