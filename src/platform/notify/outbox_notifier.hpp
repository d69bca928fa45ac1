#pragma once
// Delivery of the outbox (platform/catalog/outbox.hpp) to channels — webhooks (webhook_notifier.hpp) and AMQP
// exchanges (amqp_notifier.hpp) — with one set of rules (docs/CATALOG.md "Webhooks", "RabbitMQ"): each new event
// becomes one delivery per channel that wants its kind; a delivery is sent until the channel takes it, retried
// with exponential backoff (30 s doubling, at most 1 h apart) until 24 h after the event, then given up (an error
// log line, the row keeps its last error). At least once: a channel identifies a repeat by the event id. State is
// in the catalog, so a restarted or second server continues where the last stopped; a delivery being sent is
// leased for the channel's timeout so two servers do not send it at once.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "platform/catalog/catalog.hpp"

namespace strata {

struct NotifyEvent {
  int64_t id = 0;
  std::string kind, payload;  // payload: the event's JSON object
  int64_t created_at = 0;
  int64_t sent_at = 0;  // the catalog's time as this attempt starts (a webhook signs it)
};

// {"id":42,"kind":"job.dead","created_at":"2027-01-15T08:00:00Z","data":{...payload...}}: what every channel sends.
std::string notify_event_json(const NotifyEvent& e);

struct NotifyChannel {
  std::string name;                // the delivery rows' endpoint column: unique over all channels
  std::vector<std::string> kinds;  // event kinds or prefixes ("job."); empty = every event
  int64_t timeout_ms = 10000;
  // Sends one event: "" when the channel took it, else why not (never a secret).
  std::function<std::string(const NotifyEvent&)> send;
};

struct NotifyOptions {
  int64_t backoff_base = 30;
  int64_t backoff_max = 3600;
  int64_t give_up_after = 86400;
  int batch = 100;
};

struct NotifyStats {
  size_t delivered = 0;
  size_t failed = 0;     // attempts that will be retried
  size_t given_up = 0;
};

class OutboxNotifier {
 public:
  OutboxNotifier(Catalog& catalog, std::vector<NotifyChannel> channels, NotifyOptions options = {});
  // Fans new outbox events out to the channels, then sends every delivery that is due. Never sleeps.
  NotifyStats pass();

 private:
  Catalog& cat_;
  std::vector<NotifyChannel> channels_;
  NotifyOptions opt_;
};

}  // namespace strata
