#include "platform/catalog/outbox.hpp"

namespace strata {

int64_t outbox_append(Catalog& catalog, const std::string& kind, const std::string& payload_json) {
  auto r = catalog.sql().exec("INSERT INTO outbox (kind, payload, created_at) VALUES ($1, $2, $3) RETURNING id",
                              {kind, payload_json, sql_param(catalog.now())});
  return sql_int(r.rows.at(0).at(0));
}

std::optional<int64_t> outbox_append_once(Catalog& catalog, const std::string& kind, const std::string& key,
                                          const std::string& payload_json) {
  // Inside the caller's write transaction: SQLite's one writer, or on PostgreSQL the key's primary key makes a
  // concurrent second report fail its transaction instead of doubling the event.
  if (!catalog.sql().exec("SELECT event_id FROM outbox_keys WHERE key = $1", {key}).rows.empty()) return std::nullopt;
  int64_t id = outbox_append(catalog, kind, payload_json);
  catalog.sql().exec("INSERT INTO outbox_keys (key, event_id) VALUES ($1, $2)", {key, sql_param(id)});
  return id;
}

std::vector<OutboxEvent> outbox_read(Catalog& catalog, int64_t after_id, int limit) {
  auto r = catalog.sql().exec("SELECT id, kind, payload, created_at FROM outbox WHERE id > $1 ORDER BY id LIMIT $2",
                              {sql_param(after_id), sql_param(limit)});
  std::vector<OutboxEvent> out;
  for (auto& row : r.rows) {
    out.push_back({sql_int(row[0]), sql_text(row[1]), sql_text(row[2]), sql_int(row[3])});
  }
  return out;
}

}  // namespace strata
