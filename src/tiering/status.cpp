// `tier status`.
#include "tiering/tierer_impl.hpp"

#include <nlohmann/json.hpp>

#include "common/json_text.hpp"
#include "repo/layout.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"

namespace strata::tiering {

using json = nlohmann::json;

TierStatus Tierer::status() {
  auto& m = *impl_;
  m.load_schema();
    const auto& c = m.cfg;
  TierStatus s;
  s.entity = c.name;
  auto r = m.conn->exec("SELECT " + quote_ident(c.tier_column) + ", count(*) FROM " + quote_ident(c.root) + " GROUP BY 1 ORDER BY 1");
  for (auto& row : r.rows) s.tiers.emplace_back(row[0].value_or("null"), std::stoull(*row[1]));
  s.oldest_warm = m.conn->exec("SELECT to_char(min(" + quote_ident(c.activity) + ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM " +
                               quote_ident(c.root) + " WHERE " + quote_ident(c.tier_column) + " = 'warm'")
                      .rows[0][0]
                      .value_or("");
  s.freeze_backlog = std::stoull(*m.conn->exec("SELECT count(*) FROM " + quote_ident(c.root) + " WHERE " + quote_ident(c.tier_column) + " = 'warm' AND " +
                                                   quote_ident(c.activity) + " < now() - make_interval(secs => $1::bigint)",
                                               {std::to_string(c.freeze_after)})
                                      .rows[0][0]);
  for (auto& [t, n] : s.tiers) {
    if (t == "restoring") s.restoring = n;
  }
  auto ev = m.conn->exec(
      "SELECT count(*) FILTER (WHERE event LIKE '%failed' AND at > now() - interval '1 day'), count(*) FILTER (WHERE event = 'erased') "
      "FROM strata_tier_events WHERE entity = $1",
      {c.name});
  s.failures_24h = std::stoull(*ev.rows[0][0]);
  s.erased_total = std::stoull(*ev.rows[0][1]);
  if (m.repo) {
    for (const auto& o : m.repo->storage().list(layout::tier_packs_prefix(c.name))) {
      ++s.packs;
      s.pack_bytes += o.size;
    }
  }
  return s;
}

std::string TierStatus::to_json() const {
  json j;
  j["entity"] = entity;
  json t = json::object();
  for (const auto& [k, v] : tiers) t[k] = v;
  j["tiers"] = t;
  j["oldest_warm"] = oldest_warm.empty() ? json(nullptr) : json(oldest_warm);
  j["freeze_backlog"] = freeze_backlog;
  j["restoring"] = restoring;
  j["failures_24h"] = failures_24h;
  j["erased_total"] = erased_total;
  j["packs"] = packs;
  j["pack_bytes"] = pack_bytes;
  return j.dump();
}

std::string TierStatus::to_text() const {
  std::string s = "entity " + entity + "\n";
  for (const auto& [k, v] : tiers) s += "  " + k + ": " + std::to_string(v) + "\n";
  s += "  oldest warm: " + (oldest_warm.empty() ? std::string("-") : oldest_warm) + "\n";
  s += "  freeze backlog: " + std::to_string(freeze_backlog) + "\n";
  s += "  restoring: " + std::to_string(restoring) + "\n";
  s += "  failures (24h): " + std::to_string(failures_24h) + "\n";
  s += "  erased (total): " + std::to_string(erased_total) + "\n";
  s += "  packs: " + std::to_string(packs) + " (" + format_size(pack_bytes) + ")\n";
  return s;
}

}  // namespace strata::tiering
