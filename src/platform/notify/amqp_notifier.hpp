#pragma once
// Outbox events to RabbitMQ (AMQP 0-9-1, Debian's librabbitmq; docs/CATALOG.md "RabbitMQ"): each event is one
// persistent message (delivery_mode 2, content_type application/json, message_id = the event id, type = its kind)
// published to `exchange` with `routing_key`, mandatory, under publisher confirms: a message counts as delivered
// only when the broker acked it, so a broker that is down, refuses the login, or has no queue bound for the key
// leaves the delivery pending for the outbox's retries (outbox_notifier.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "platform/notify/outbox_notifier.hpp"

namespace strata {

struct AmqpEndpoint {
  std::string name;  // [amqp.NAME]
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string vhost = "/", user = "guest", password;  // password read from password_file
  std::string exchange, routing_key;                 // "" exchange: the default one, routing_key = a queue's name
  std::vector<std::string> kinds;
  int64_t timeout_ms = 10000;
};

// [amqp.NAME] tables of the config (url = "amqp://user@host:port/vhost", password_file, exchange, routing_key,
// events, timeout). Throws StrataError(kUsage) naming the table for a malformed url or unreadable password_file.
std::vector<AmqpEndpoint> amqp_endpoints(const Settings& settings);

// The endpoints as outbox channels named "amqp.NAME". Each send opens a connection, publishes, waits for the
// confirm and closes (events are rare; a connection held across passes would need heartbeats).
std::vector<NotifyChannel> amqp_channels(const std::vector<AmqpEndpoint>& endpoints);

// One publish as a channel sends it; "" when the broker confirmed it, else why not.
std::string amqp_publish(const AmqpEndpoint& e, const NotifyEvent& event);

}  // namespace strata
