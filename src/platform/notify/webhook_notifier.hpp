#pragma once
// Delivers the outbox (platform/catalog/outbox.hpp) to webhooks (issue 15 part 6; docs/CATALOG.md "Webhooks").
// Each event goes to each endpoint that wants its kind as one POST:
//
//   POST <url>   Content-Type: application/json
//   Idempotency-Key: <event id>            the same on every retry: a receiver drops what it has seen
//   Strata-Event: <kind>
//   Strata-Signature: t=<unix seconds>,sha256=<hex HMAC-SHA256(secret, "<t>.<body>")>
//   {"id":42,"kind":"job.dead","created_at":"2027-01-15T08:00:00Z","data":{...the event's payload...}}
//
// A 2xx answer delivers it; anything else (or no answer within the timeout) is retried with exponential backoff
// (30 s doubling, at most 1 h between tries) until 24 h after the event, then given up (logged as an error, kept in
// outbox_deliveries with its last error). Delivery is at least once: an answer lost after the receiver acted means
// one more POST with the same key. State is in the catalog, so a restarted or second server continues where the
// last stopped; a delivery being sent is leased for the timeout so two servers do not send it at once.
#include <cstdint>
#include <string>
#include <vector>

#include "platform/catalog/catalog.hpp"
#include "platform/notify/outbox_notifier.hpp"

namespace strata {

struct WebhookEndpoint {
  std::string name;                // [webhook.NAME]
  std::string url;                 // http:// or https://
  std::string secret;              // read from secret_file; "" = unsigned (refused by the config unless loopback)
  std::vector<std::string> kinds;  // event kinds or prefixes ("job."); empty = every event
  int64_t timeout_ms = 10000;
};

// "t=<t>,sha256=<hex>" over "<t>.<body>".
std::string webhook_signature(const std::string& secret, int64_t t, const std::string& body);

// The endpoints as outbox channels (each POST signed at the moment it is sent).
std::vector<NotifyChannel> webhook_channels(std::vector<WebhookEndpoint> endpoints);

class WebhookNotifier {
 public:
  WebhookNotifier(Catalog& catalog, std::vector<WebhookEndpoint> endpoints, NotifyOptions options = {});
  // Fans new outbox events out to the endpoints, then sends every delivery that is due. The server calls it on its
  // tick; it never sleeps.
  NotifyStats pass();

 private:
  OutboxNotifier notifier_;
};

}  // namespace strata
