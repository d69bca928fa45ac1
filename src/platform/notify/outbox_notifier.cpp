#include "platform/notify/outbox_notifier.hpp"

#include <algorithm>
#include <map>

#include "common/clock.hpp"
#include "common/json_text.hpp"
#include "common/log.hpp"

namespace strata {
namespace {

struct Delivery {
  int64_t event_id = 0;
  std::string endpoint, kind, payload;
  int64_t created_at = 0, attempts = 0;
};

bool wants(const NotifyChannel& c, const std::string& kind) {
  if (c.kinds.empty()) return true;
  for (const auto& k : c.kinds) {
    if (k == kind || (!k.empty() && k.back() == '.' && kind.rfind(k, 0) == 0)) return true;
  }
  return false;
}

std::string quoted(const std::string& s) { return "\"" + json_escape(s) + "\""; }

}  // namespace

std::string notify_event_json(const NotifyEvent& e) {
  return "{\"id\":" + std::to_string(e.id) + ",\"kind\":" + quoted(e.kind) + ",\"created_at\":" +
         quoted(iso_utc(e.created_at)) + ",\"data\":" + e.payload + "}";
}

OutboxNotifier::OutboxNotifier(Catalog& catalog, std::vector<NotifyChannel> channels, NotifyOptions options)
    : cat_(catalog), channels_(std::move(channels)), opt_(options) {}

NotifyStats OutboxNotifier::pass() {
  NotifyStats stats;
  std::vector<Delivery> due;
  std::map<std::string, const NotifyChannel*> by_name;
  for (const auto& e : channels_) by_name[e.name] = &e;
  cat_.write([&] {
    int64_t now = cat_.now();
    // New events become one delivery per endpoint that wants them; the cursor remembers how far each has looked.
    for (const auto& e : channels_) {
      auto cur = cat_.sql().exec(std::string("SELECT last_id FROM outbox_cursors WHERE endpoint = $1") + cat_.for_update(),
                                 {e.name});
      int64_t last = 0;
      if (cur.rows.empty()) {
        cat_.sql().exec("INSERT INTO outbox_cursors (endpoint, last_id) VALUES ($1, 0) ON CONFLICT (endpoint) DO NOTHING",
                        {e.name});
      } else {
        last = sql_int(cur.rows[0][0]);
      }
      auto fresh = cat_.sql().exec("SELECT id, kind, created_at FROM outbox WHERE id > $1 ORDER BY id LIMIT 1000",
                                   {sql_param(last)});
      for (auto& row : fresh.rows) {
        last = sql_int(row[0]);
        if (!wants(e, sql_text(row[1]))) continue;
        cat_.sql().exec("INSERT INTO outbox_deliveries (event_id, endpoint, state, attempts, next_at) VALUES ($1, $2, "
                        "'pending', 0, $3) ON CONFLICT (event_id, endpoint) DO NOTHING", {row[0], e.name, row[2]});
      }
      cat_.sql().exec("UPDATE outbox_cursors SET last_id = $2 WHERE endpoint = $1", {e.name, sql_param(last)});
    }
    auto rows = cat_.sql().exec(std::string("SELECT d.event_id, d.endpoint, o.kind, o.payload, o.created_at, d.attempts "
                                            "FROM outbox_deliveries d JOIN outbox o ON o.id = d.event_id WHERE d.state = "
                                            "'pending' AND d.next_at <= $1 ORDER BY d.next_at, d.event_id LIMIT $2") +
                                    (cat_.postgres() ? " FOR UPDATE OF d SKIP LOCKED" : ""),
                                {sql_param(now), sql_param(opt_.batch)});
    for (auto& row : rows.rows) {
      Delivery d{sql_int(row[0]), sql_text(row[1]), sql_text(row[2]), sql_text(row[3]), sql_int(row[4]), sql_int(row[5])};
      auto it = by_name.find(d.endpoint);
      if (it == by_name.end()) continue;  // an endpoint no longer configured keeps its rows, unsent
      // Leased while it is sent: another server's pass does not send it too.
      int64_t lease = now + it->second->timeout_ms / 1000 + 60;
      cat_.sql().exec("UPDATE outbox_deliveries SET next_at = $3 WHERE event_id = $1 AND endpoint = $2",
                      {sql_param(d.event_id), d.endpoint, sql_param(lease)});
      due.push_back(std::move(d));
    }
  });
  for (const auto& d : due) {
    const NotifyChannel& c = *by_name[d.endpoint];
    std::string err;
    try {
      err = c.send(NotifyEvent{d.event_id, d.kind, d.payload, d.created_at, cat_.now()});
    } catch (const std::exception& ex) {
      err = ex.what();
    }
    cat_.write([&] {
      int64_t now = cat_.now();
      int64_t attempts = d.attempts + 1;
      if (err.empty()) {
        cat_.sql().exec("UPDATE outbox_deliveries SET state = 'delivered', attempts = $3, delivered_at = $4, last_error "
                        "= NULL WHERE event_id = $1 AND endpoint = $2",
                        {sql_param(d.event_id), d.endpoint, sql_param(attempts), sql_param(now)});
        ++stats.delivered;
        return;
      }
      int64_t wait = opt_.backoff_base;
      for (int64_t i = 1; i < attempts && wait < opt_.backoff_max; ++i) wait *= 2;
      wait = std::min(wait, opt_.backoff_max);
      bool give_up = now + wait - d.created_at > opt_.give_up_after;
      cat_.sql().exec("UPDATE outbox_deliveries SET state = $3, attempts = $4, next_at = $5, last_error = $6 WHERE "
                      "event_id = $1 AND endpoint = $2",
                      {sql_param(d.event_id), d.endpoint, give_up ? "failed" : "pending", sql_param(attempts),
                       sql_param(now + wait), err});
      if (give_up) {
        ++stats.given_up;
        log::error("webhook_given_up", {{"endpoint", d.endpoint}, {"event", d.event_id}, {"kind", d.kind},
                                        {"attempts", attempts}, {"error", err}});
      } else {
        ++stats.failed;
        log::warn("webhook_retry", {{"endpoint", d.endpoint}, {"event", d.event_id}, {"attempts", attempts},
                                    {"error", err}});
      }
    });
  }
  return stats;
}

}  // namespace strata
