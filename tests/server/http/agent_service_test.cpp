// The agent protocol end to end inside one process (issue 15 part 5), on SQLite and a real PostgreSQL 15: the Beast
// server with the AgentService on 127.0.0.1, agents through HttpAgentLink (libcurl). A waiting claim is answered
// when work is queued; an agent cannot heartbeat or report another agent's claim; a wrong token is refused; a hundred
// idle long polls are held by two I/O threads and two catalog connections, and all answered when the service stops.
#include <sys/stat.h>

#include <future>
#include <thread>

#include "common/error.hpp"
#include "platform/queue/catalog_fixture.hpp"
#include "server/http/agent_client.hpp"
#include "server/http/agent_service.hpp"
#include "server/http/http_server.hpp"
#include "support/net_util.hpp"

namespace strata::test {
namespace {

using namespace std::chrono_literals;

class AgentServiceTest : public CatalogTest {
 protected:
  void SetUp() override {
    CatalogTest::SetUp();
    if (IsSkipped()) return;
    queue_ = std::make_unique<JobQueue>(*catalog_);
    std::string dir = dir_ / "tokens";
    ::mkdir(dir.c_str(), 0700);
    write_file(dir + "/agent-a", std::string(40, 'a') + "\n");
    write_file(dir + "/agent-b", std::string(40, 'b') + "\n");
    tokens_ = std::make_unique<TokenStore>(dir);
    AgentServiceOptions so;
    so.catalog_url = url_;
    so.clock = &clock_;
    service_ = std::make_unique<AgentService>(so, *tokens_);
    HttpServerOptions ho;
    ho.listen = "127.0.0.1:0";
    AgentService* svc = service_.get();
    http_ = std::make_unique<HttpServer>(ho, [svc](HttpRequest r, HttpRespond respond) { svc->handle(std::move(r), std::move(respond)); });
  }
  void TearDown() override {
    if (service_) service_->stop();
    if (http_) http_->stop();
  }
  std::unique_ptr<HttpAgentLink> link(char token) {
    HttpAgentLinkOptions o;
    o.server = "http://127.0.0.1:" + std::to_string(http_->port());
    o.token = std::string(40, token);
    o.token_file = "test";
    return std::make_unique<HttpAgentLink>(o);
  }
  int64_t add(const std::string& source) {
    JobSpec s;
    s.source = source;
    return queue_->enqueue(s).job_id;
  }
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<AgentService> service_;
  std::unique_ptr<HttpServer> http_;
};

TEST_P(AgentServiceTest, AWaitingClaimIsAnsweredWhenWorkIsQueued) {
  auto a = link('a');
  EXPECT_EQ(a->register_agent({"whatever-it-says", {"idc=sh1"}, {}, 1}), "agent-a");  // the token decides the id
  auto waiting = std::async(std::launch::async, [&] { return a->claim(30s); });
  ASSERT_TRUE(wait_until([&] { return service_->waiting() == 1; }, deadline_in(30s)));
  int64_t job = add("orders");
  service_->wake();
  ASSERT_EQ(waiting.wait_for(30s), std::future_status::ready);
  auto c = waiting.get();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->job.job_id, job);
  EXPECT_EQ(c->job.source, "orders");
  EXPECT_EQ(c->lease_seconds, 60);
  EXPECT_EQ(queue_->get(job)->agent, "agent-a");

  // Nothing more: a short wait ends empty, after its wait.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(a->claim(300ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
}

TEST_P(AgentServiceTest, AnAgentCannotHeartbeatOrReportAnotherAgentsClaim) {
  auto a = link('a');
  auto b = link('b');
  a->register_agent({"", {}, {}, 1});
  b->register_agent({"", {}, {}, 1});
  int64_t job = add("orders");
  auto c = a->claim(0ms);
  ASSERT_TRUE(c);
  EXPECT_FALSE(b->heartbeat(job, c->job.epoch).ok);
  EXPECT_EQ(b->report(job, c->job.epoch, {true, "", "r", "forged"}), ReportResult::kStale);
  EXPECT_EQ(queue_->get(job)->state, "running");
  EXPECT_TRUE(a->heartbeat(job, c->job.epoch).ok);
  EXPECT_EQ(a->report(job, c->job.epoch, {true, "", "r", "m1"}), ReportResult::kAccepted);
  auto j = queue_->get(job);
  EXPECT_EQ(j->state, "succeeded");
  EXPECT_EQ(j->manifest, "m1");
  EXPECT_EQ(scalar("SELECT count(*) FROM backups WHERE manifest = 'forged'"), "0");
}

TEST_P(AgentServiceTest, AWrongTokenIsRefused) {
  auto x = link('x');
  try {
    x->register_agent({"agent-a", {}, {}, 1});
    FAIL() << "registered with a wrong token";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWrongKey);
    EXPECT_NE(std::string(e.what()).find("refused this agent's token"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(queue_->agents().empty());
}

TEST_P(AgentServiceTest, AHundredIdleLongPollsAreHeldByTwoThreadsAndAllAnsweredOnStop) {
  auto a = link('a');
  a->register_agent({"", {}, {}, 1});
  constexpr int kPolls = 100;
  std::vector<std::future<std::optional<AgentClaim>>> polls;
  for (int i = 0; i < kPolls; ++i) polls.push_back(std::async(std::launch::async, [&] { return a->claim(60s); }));
  ASSERT_TRUE(wait_until([&] { return service_->waiting() == kPolls; }, deadline_in(60s))) << service_->waiting();
  EXPECT_GE(http_->connections(), static_cast<size_t>(kPolls));
  service_->stop();  // every waiting claim is answered "nothing", now
  for (auto& p : polls) {
    ASSERT_EQ(p.wait_for(30s), std::future_status::ready);
    EXPECT_FALSE(p.get());
  }
}

INSTANTIATE_TEST_SUITE_P(Catalogs, AgentServiceTest, ::testing::Values("sqlite", "postgres"), backend_name);

}  // namespace
}  // namespace strata::test
