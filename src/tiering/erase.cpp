// GDPR erase: crypto-shredding every archive of one entity (docs/TIERING.md "Erase").
#include "tiering/tierer_impl.hpp"

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "repo/layout.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"
#include "tiering/failpoint.hpp"

namespace strata::tiering {

using json = nlohmann::json;

size_t Tierer::Impl::erase(const std::string& key) {
  auto& m = *this;
  m.load_schema();
    // No freeze is between storing and committing a pack, and (below) no index rewrite is in flight: every incomplete
  // write under tier/<entity>/ is a crashed writer's, and may hold this key — it goes too.
  AdvisoryLock exclusive(*m.conn, m.gc_lock(), AdvisoryLock::kExclusive);
  PgTx tx(*m.conn);
  auto r = m.conn->exec("SELECT " + q(m.cfg.tier_column) + ", " + q(m.cfg.location_column) + " FROM " + q(m.cfg.root) +
                            " WHERE " + q(m.cfg.key) + " = $1::" + m.key_type + " FOR UPDATE",
                        {key});
  if (!r.rows.empty()) {
    std::string tier = r.rows[0][0].value_or("");
    if (tier == "hot" || tier == "warm") {
      fail(ErrorCode::kUsage, "entity " + m.ent(key) + " is " + tier + " in the database; delete its rows in the application first, then run erase to destroy its old archives");
    }
  }
  // The rows go first, inside the transaction: if the database refuses (a foreign key from outside the entity to
  // the root row, see "Schema contract"), nothing has been destroyed yet.
  if (!r.rows.empty()) {
    for (size_t t = m.tables.size() - 1; t >= 1; --t) {
      m.conn->exec("DELETE FROM " + q(m.tables[t].name) + " t0 " + m.tables[t].using_where, {text_array({key})});
    }
    m.conn->exec("DELETE FROM " + q(m.cfg.root) + " WHERE " + q(m.cfg.key) + " = $1::" + m.key_type, {key});
  }
  m.sweep_incomplete_writes();  // takes the rewrite lock exclusively for the rest of this transaction
  // Every archive of the key, not just the current one: with keep_after_thaw older copies may exist.
  std::set<std::string> locs;
  for (const auto& l : m.archive().find_all(key)) locs.insert(l);
  size_t destroyed = 0;
  for (const auto& l : locs) {
    m.lock_pack_rewrite(m.archive().pack_of(l));
    if (m.archive().shred(l, key)) ++destroyed;
  }
  failpoint("erase.after_shred");
  Digest32 kh = m.archive().key_hash(key);
  std::string kh_hex = digest_hex(kh);
  json rec;
  rec["entity"] = m.cfg.name;
  rec["key_sha256"] = kh_hex;
  rec["erased_at"] = iso_utc(now_epoch());
  rec["archives_destroyed"] = destroyed;
  m.repo->storage().put(layout::tier_erased_key(m.cfg.name, kh_hex), as_bytes(rec.dump()), PutMode::kOverwrite);
  // Nothing in the database keeps the key either: releases waiting for reap (their entries were just destroyed),
  // and earlier events, whose key and text now carry the key's hash instead.
  m.conn->exec("DELETE FROM strata_tier_released WHERE entity = $1 AND key = $2", {m.cfg.name, key});
  m.conn->exec("UPDATE strata_tier_events SET key = CASE WHEN key = $2 THEN $3 ELSE key END, detail = replace(detail, $2, $3) "
               "WHERE entity = $1 AND (key = $2 OR strpos(detail, $2) > 0)",
               {m.cfg.name, key, kh_hex});
  m.conn->exec("INSERT INTO strata_tier_events (entity, key, event, detail) VALUES ($1, $2, 'erased', $3)",
               {m.cfg.name, kh_hex, std::to_string(destroyed) + " archive(s) destroyed; key is the SHA-256 of strata/tier/v1/<entity>/<key>"});
  tx.commit();
  log::info("tier_erase", {{"entity", m.cfg.name}, {"archives_destroyed", uint64_t{destroyed}}});
  return destroyed;
}

}  // namespace strata::tiering
