// Outbox -> webhook delivery (docs/CATALOG.md "Webhooks") to the test's own HTTP receiver on 127.0.0.1: the body,
// the signature checked with the secret, and a failing receiver retried with the same idempotency key, on SQLite and
// PostgreSQL, the catalog's clock injected (retries come when the test moves the clock, not by sleeping).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "platform/catalog/outbox.hpp"
#include "platform/notify/webhook_notifier.hpp"
#include "platform/queue/catalog_fixture.hpp"
#include "platform/queue/job_queue.hpp"

namespace strata::test {
namespace {

struct Request {
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// A minimal HTTP/1.1 receiver: one request per connection, answers with the next status of `statuses` (then 200).
class Receiver {
 public:
  Receiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  void answer(std::vector<int> statuses) {
    std::lock_guard<std::mutex> l(mu_);
    statuses_ = std::move(statuses);
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      size_t head_end = std::string::npos, need = 0;
      for (;;) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
          std::string lower;
          for (char ch : in.substr(0, head_end)) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          auto at = lower.find("content-length:");
          need = at == std::string::npos ? 0 : std::stoul(lower.substr(at + 15));
        }
        if (head_end != std::string::npos && in.size() >= head_end + 4 + need) break;
      }
      Request r;
      size_t line_start = in.find("\r\n") + 2;
      while (line_start < head_end) {
        size_t eol = in.find("\r\n", line_start);
        std::string line = in.substr(line_start, eol - line_start);
        size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
        line_start = eol + 2;
      }
      r.body = in.substr(head_end + 4, need);
      int status = 200;
      {
        std::lock_guard<std::mutex> l(mu_);
        requests_.push_back(r);
        if (!statuses_.empty()) {
          status = statuses_.front();
          statuses_.erase(statuses_.begin());
        }
      }
      std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(c, out.data(), out.size());
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<int> statuses_;
  std::vector<Request> requests_;
};

class WebhookTest : public CatalogTest {};

TEST_P(WebhookTest, AFailedJobIsPostedSignedAndAFailingReceiverIsRetriedWithTheSameKey) {
  Receiver rx;
  rx.answer({500, 503});
  JobQueue queue(*catalog_);
  queue.register_agent("a", {}, 1);
  JobSpec spec;
  spec.source = "orders";
  spec.max_attempts = 1;
  int64_t job = queue.enqueue(spec).job_id;
  auto c = queue.claim("a");
  ASSERT_TRUE(c);
  queue.complete(job, c->epoch, {false, "pg_dump: connection refused", "", ""});  // job.failed + job.dead

  WebhookNotifier n(*catalog_, {{"ops", rx.url(), "s3cret", {"job.dead"}, 5000}});
  auto s1 = n.pass();
  EXPECT_EQ(s1.failed, 1u);
  EXPECT_EQ(rx.requests().size(), 1u);
  EXPECT_EQ(n.pass().failed + n.pass().delivered, 0u);  // not due again before its backoff
  clock_.advance(30);
  EXPECT_EQ(n.pass().failed, 1u);  // 503
  clock_.advance(59);
  EXPECT_EQ(n.pass().delivered, 0u);  // second wait is 60 s
  clock_.advance(1);
  EXPECT_EQ(n.pass().delivered, 1u);
  EXPECT_EQ(n.pass().delivered, 0u);  // delivered once

  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto& r : reqs) {
    EXPECT_EQ(r.headers.at("idempotency-key"), reqs[0].headers.at("idempotency-key"));
    EXPECT_EQ(r.headers.at("strata-event"), "job.dead");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    // The receiver's check: recompute the HMAC over "<t>.<body>" with the shared secret.
    std::string sig = r.headers.at("strata-signature");
    int64_t t = std::stoll(sig.substr(2, sig.find(',') - 2));
    EXPECT_EQ(sig, webhook_signature("s3cret", t, r.body));
    EXPECT_NE(sig, webhook_signature("wrong", t, r.body));
    EXPECT_EQ(r.body, reqs[0].body);
  }
  auto body = nlohmann::json::parse(reqs[0].body);
  EXPECT_EQ(body["kind"], "job.dead");
  EXPECT_EQ(std::to_string(body["id"].get<int64_t>()), reqs[0].headers.at("idempotency-key"));
  EXPECT_EQ(body["data"]["job"], job);
  EXPECT_EQ(body["data"]["source"], "orders");
  EXPECT_EQ(body["data"]["error"], "pg_dump: connection refused");
  EXPECT_EQ(scalar("SELECT attempts FROM outbox_deliveries WHERE state = 'delivered'"), "3");
}

TEST_P(WebhookTest, AnEventIsRetriedForADayThenGivenUpAndKeptWithItsLastError) {
  Receiver rx;
  rx.answer(std::vector<int>(100, 500));
  catalog_->write([&] { outbox_append(*catalog_, "drill.failed", R"({"source":"orders"})"); });
  WebhookNotifier n(*catalog_, {{"ops", rx.url(), "k", {}, 5000}});
  NotifyStats total;
  for (int i = 0; i < 60 && total.given_up == 0; ++i) {
    auto s = n.pass();
    total.failed += s.failed;
    total.given_up += s.given_up;
    clock_.advance(3600);
  }
  EXPECT_EQ(total.given_up, 1u);
  size_t sent = rx.requests().size();
  // 30 s, 1, 2, 4 ... 32 min, then hourly: every try within 24 h of the event, none after.
  EXPECT_GE(sent, 20u);
  EXPECT_LE(sent, 26u);
  EXPECT_EQ(scalar("SELECT state FROM outbox_deliveries"), "failed");
  EXPECT_EQ(scalar("SELECT last_error FROM outbox_deliveries"), "HTTP 500");
  clock_.advance(86400);
  n.pass();
  EXPECT_EQ(rx.requests().size(), sent);
}

TEST_P(WebhookTest, TheOutboxCommitsWithTheStateChangeOrNotAtAll) {
  try {
    catalog_->write([&] {
      outbox_append(*catalog_, "job.failed", "{}");
      throw std::runtime_error("the state change failed");
    });
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(outbox_read(*catalog_, 0).empty());
  catalog_->write([&] { outbox_append(*catalog_, "job.failed", R"({"a":1})"); });
  auto ev = outbox_read(*catalog_, 0);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].payload, R"({"a":1})");
  EXPECT_EQ(ev[0].created_at, kStart);
}

INSTANTIATE_TEST_SUITE_P(Catalogs, WebhookTest, ::testing::Values("sqlite", "postgres"), backend_name);

}  // namespace
}  // namespace strata::test
