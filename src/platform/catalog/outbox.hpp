#pragma once
// The transactional outbox (issue 15 part 6; docs/CATALOG.md "Outbox"): an event is a row written in the same
// transaction as the state change it reports, so a committed failure always has its event and a rolled-back one never
// does — no dual write to a broker. platform/notify delivers the rows to the configured webhooks (at least once, the
// event id as idempotency key). The queue, retention, drills and audit all report through this one API.
//
//   catalog.write([&] {
//     ... the state change ...
//     outbox_append(catalog, "drill.failed", R"({"source":"orders","backup":"..."})");
//   });
//
// Kinds are "<area>.<what>" (job.failed, job.dead, job.missed, schedule.missed, backup.orphan, drill.failed, ...);
// the payload is a JSON object, delivered as the event's "data" unchanged.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/catalog/catalog.hpp"

namespace strata {

struct OutboxEvent {
  int64_t id = 0;
  std::string kind;
  std::string payload;  // a JSON object
  int64_t created_at = 0;
};

// Appends an event and returns its id. Call it inside catalog.write(...): outside a transaction the row commits on
// its own, which loses the atomicity the outbox is for.
int64_t outbox_append(Catalog& catalog, const std::string& kind, const std::string& payload_json);

// outbox_append, once per `key` (e.g. "backup.expired:<repo id>:<backup id>"): a fact that lives outside the catalog
// (a tombstone in a repository) is reported again by every run until it is recorded, and this keeps the receivers
// from seeing it twice. Returns the new event's id, or nullopt when `key` was reported before.
std::optional<int64_t> outbox_append_once(Catalog& catalog, const std::string& kind, const std::string& key,
                                          const std::string& payload_json);

// Events with id > after_id, oldest first (at most `limit`).
std::vector<OutboxEvent> outbox_read(Catalog& catalog, int64_t after_id, int limit = 1000);

}  // namespace strata
