// Outbox events to a real RabbitMQ 3.10 (issue 16 part 5, issue 15 part 6's outbox): each wanted event is one
// persistent message with the event id as message_id; a broker that is down loses nothing — the delivery stays
// pending and goes out, once, after it is back; a routing key no queue is bound to is not "delivered".
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "platform/catalog/outbox.hpp"
#include "platform/notify/amqp_notifier.hpp"
#include "platform/queue/catalog_fixture.hpp"
#include "support/rabbitmq_fixture.hpp"

namespace strata::test {
namespace {

struct Message {
  std::string body, message_id, type;
  uint8_t delivery_mode = 0;
};

// The test's own consumer: a durable queue and basic.get, through the same librabbitmq the product links.
class Consumer {
 public:
  Consumer(int port, const std::string& queue) : conn_(amqp_new_connection()), queue_(queue) {
    amqp_socket_t* sock = amqp_tcp_socket_new(conn_);
    if (amqp_socket_open(sock, "127.0.0.1", port) != AMQP_STATUS_OK) throw std::runtime_error("consumer cannot connect");
    auto r = amqp_login(conn_, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
    if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error("consumer login failed");
    amqp_channel_open(conn_, 1);
    amqp_queue_declare(conn_, 1, amqp_cstring_bytes(queue.c_str()), 0, /*durable=*/1, 0, 0, amqp_empty_table);
    if (amqp_get_rpc_reply(conn_).reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error("queue.declare failed");
  }
  ~Consumer() {
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
  }
  // Every message in the queue now, acknowledged.
  std::vector<Message> drain() {
    std::vector<Message> out;
    for (;;) {
      auto r = amqp_basic_get(conn_, 1, amqp_cstring_bytes(queue_.c_str()), /*no_ack=*/1);
      if (r.reply_type != AMQP_RESPONSE_NORMAL || r.reply.id != AMQP_BASIC_GET_OK_METHOD) break;
      amqp_message_t m;
      if (amqp_read_message(conn_, 1, &m, 0).reply_type != AMQP_RESPONSE_NORMAL) break;
      Message msg;
      msg.body.assign(static_cast<char*>(m.body.bytes), m.body.len);
      if (m.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
        msg.message_id.assign(static_cast<char*>(m.properties.message_id.bytes), m.properties.message_id.len);
      }
      if (m.properties._flags & AMQP_BASIC_TYPE_FLAG) {
        msg.type.assign(static_cast<char*>(m.properties.type.bytes), m.properties.type.len);
      }
      msg.delivery_mode = m.properties.delivery_mode;
      amqp_destroy_message(&m);
      out.push_back(std::move(msg));
    }
    return out;
  }

 private:
  amqp_connection_state_t conn_;
  std::string queue_;
};

class AmqpNotifierTest : public CatalogTest {
 protected:
  static void SetUpTestSuite() {
    CatalogTest::SetUpTestSuite();
    broker_ = new RabbitMqServer();
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
    CatalogTest::TearDownTestSuite();
  }

  AmqpEndpoint endpoint(const std::string& routing_key) {
    AmqpEndpoint e;
    e.name = "ops";
    e.port = broker_->port();
    e.password = "guest";
    e.routing_key = routing_key;
    e.kinds = {"backup."};
    e.timeout_ms = 10000;
    return e;
  }

  static inline RabbitMqServer* broker_ = nullptr;
};

TEST_P(AmqpNotifierTest, WantedEventsArePublishedOnceAndABrokerThatIsDownLosesNothing) {
  const std::string queue = "strata-ops-" + GetParam();
  Consumer consumer(broker_->port(), queue);
  int64_t expired = 0;
  catalog_->write([&] {
    expired = outbox_append(*catalog_, "backup.expired", R"({"source":"orders","backup":"B1"})");
    outbox_append(*catalog_, "job.dead", R"({"job":7})");  // not wanted by this endpoint
  });
  OutboxNotifier notifier(*catalog_, amqp_channels({endpoint(queue)}));
  auto s1 = notifier.pass();
  EXPECT_EQ(s1.delivered, 1u);
  EXPECT_EQ(s1.failed, 0u);
  auto got = consumer.drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id, std::to_string(expired));
  EXPECT_EQ(got[0].type, "backup.expired");
  EXPECT_EQ(got[0].delivery_mode, 2) << "persistent";
  auto body = nlohmann::json::parse(got[0].body);
  EXPECT_EQ(body["id"], expired);
  EXPECT_EQ(body["data"]["backup"], "B1");
  EXPECT_EQ(notifier.pass().delivered, 0u) << "delivered once";

  // Down: the attempt fails and the delivery stays pending with its error.
  broker_->stop();
  int64_t second = 0;
  catalog_->write([&] { second = outbox_append(*catalog_, "backup.deleted", R"({"source":"orders","backup":"B1"})"); });
  auto s2 = notifier.pass();
  EXPECT_EQ(s2.delivered, 0u);
  EXPECT_EQ(s2.failed, 1u);
  EXPECT_NE(scalar("SELECT last_error FROM outbox_deliveries WHERE event_id = " + std::to_string(second)).find("cannot connect"),
            std::string::npos);
  broker_->start();
  EXPECT_EQ(notifier.pass().delivered, 0u) << "not before its backoff";
  clock_.advance(31);
  EXPECT_EQ(notifier.pass().delivered, 1u);
  Consumer after(broker_->port(), queue);
  auto late = after.drain();
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].message_id, std::to_string(second));
}

TEST_P(AmqpNotifierTest, ARoutingKeyNoQueueIsBoundToIsNotDelivered) {
  catalog_->write([&] { outbox_append(*catalog_, "backup.expired", R"({"backup":"B2"})"); });
  OutboxNotifier notifier(*catalog_, amqp_channels({endpoint("nobody-listens-" + GetParam())}));
  auto s = notifier.pass();
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_NE(scalar("SELECT last_error FROM outbox_deliveries").find("no queue is bound"), std::string::npos)
      << scalar("SELECT last_error FROM outbox_deliveries");
}

inline std::string backend_name(const ::testing::TestParamInfo<std::string>& p) { return p.param; }
INSTANTIATE_TEST_SUITE_P(Catalogs, AmqpNotifierTest, ::testing::Values("sqlite", "postgres"), backend_name);

}  // namespace
}  // namespace strata::test
