// Destroying archive entries: released by committed thaws (reap), referenced by nothing (gc), and the incomplete
// writes crashes left.
#include "tiering/tierer_impl.hpp"

#include "common/error.hpp"
#include "common/log.hpp"

namespace strata::tiering {

// Inside a transaction, with the gc lock held exclusively: removes every incomplete write under tier/<entity>/. With no freeze
// storing (gc lock) and no index rewrite in flight (rewrite lock), each one is a crashed writer's leftover — and a
// rewritten index copy still holds the wrapped keys of every entry that was live in it, erased ones included.
size_t Tierer::Impl::sweep_incomplete_writes() {
  lock_all_rewrites(*conn, cfg.name);
  size_t n = archive().remove_incomplete_writes();
  if (n) log::info("tier_incomplete_writes_removed", {{"entity", cfg.name}, {"objects", uint64_t{n}}});
  return n;
}

// Destroys released entries (rows of strata_tier_released): one index rewrite per pack, under a per-pack lock.
size_t Tierer::Impl::reap_entries(const std::vector<std::pair<std::string, std::string>>& loc_keys, std::set<std::string>& failed_packs) {
  if (cfg.keep_after_thaw) return 0;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_pack;
  for (const auto& lk : loc_keys) {
    std::string pack = archive().pack_of(lk.first);
    if (!failed_packs.count(pack)) by_pack[pack].push_back(lk);
  }
  size_t total = 0;
  for (auto& [pack, lks] : by_pack) {
    try {
      PgTx tx(*conn);
      // Index rewrites of one pack must not interleave (a lost update would resurrect a destroyed key).
      lock_pack_rewrite(pack);
      archive().shred_many(lks);
      std::vector<std::string> locs;
      for (const auto& lk : lks) locs.push_back(lk.first);
      // One primary-key probe per location. With `location = ANY(...)` the planner (on a table whose statistics
      // see only dead rows) used the index for `entity` alone and filtered every row ever released: ~6 ms per
      // pack, 15% of a batch thaw's database time.
      conn->exec("DELETE FROM strata_tier_released r USING unnest($2::text[]) AS v(l) WHERE r.entity = $1 AND r.location = v.l",
                 {cfg.name, text_array(locs)});
      tx.commit();
      total += lks.size();
    } catch (const StrataError& e) {
      // The entities are hot and correct; the entries stay listed and a later reap tries again.
      failed_packs.insert(pack);
      log::warn("tier_archive_not_removed", {{"entity", cfg.name}, {"pack", pack}, {"reason", e.what()}});
    }
  }
  return total;
}

size_t Tierer::Impl::reap_released() {
  size_t total = 0;
  std::set<std::string> failed_packs;
  // Keyset pagination: rows already reaped (dead until vacuum) are never scanned again.
  std::string last;
  for (;;) {
    auto r = conn->exec("SELECT location, key FROM strata_tier_released WHERE entity = $1 AND location > $2 "
                        "ORDER BY location LIMIT 5000",
                        {cfg.name, last});
    if (r.rows.empty()) break;
    std::vector<std::pair<std::string, std::string>> lks;
    for (auto& row : r.rows) lks.emplace_back(*row[0], *row[1]);
    last = lks.back().first;
    total += reap_entries(lks, failed_packs);
    if (r.rows.size() < 5000) break;
  }
  if (total) log::info("tier_reaped", {{"entity", cfg.name}, {"archives_destroyed", uint64_t{total}}});
  return total;
}

size_t Tierer::collect_garbage() {
  auto& m = *impl_;
  m.load_schema();
  auto& a = m.archive();
    const auto& c = m.cfg;
  if (c.keep_after_thaw) {
    fail(ErrorCode::kUsage, "entity " + c.name + " keeps archives after thaw (keep_after_thaw = true), so unreferenced entries are kept on purpose; gc does nothing for it");
  }
  std::string index = (c.root + "_" + c.location_column + "_strata_idx").substr(0, 63);
  if (m.conn->exec("SELECT to_regclass($1) IS NOT NULL", {quote_ident(index)}).rows[0][0] != PgValue("t")) {
    fail(ErrorCode::kUsage, "entity " + c.name + ": gc needs the index on " + c.root + "." + c.location_column + "; run `strata tier setup --entity " + c.name + " --apply`");
  }
  auto t0 = std::chrono::steady_clock::now();
  // Exclusive: waits for freezes that have stored a pack but not committed it, and holds new ones before they
  // store anything. Without it, such a pack's entries look unreferenced and would be destroyed under the freeze,
  // which would then commit locations pointing at nothing. (A grace period by age would rely on clocks and on
  // freezes being fast; the lock relies on neither.)
  AdvisoryLock exclusive(*m.conn, m.gc_lock(), AdvisoryLock::kExclusive);
  size_t destroyed = 0, packs_removed = 0, incomplete = 0;
  {
    // First the incomplete writes crashes left: a half-written data object, or a rewritten index that never
    // replaced the real one (it would otherwise keep every wrapped key it held, forever).
    PgTx tx(*m.conn);
    incomplete = m.sweep_incomplete_writes();
    tx.commit();
  }
  for (const auto& id : a.orphan_data_objects()) {
    // A crash between a pack's data and index writes: no location can name an entry without an index.
    a.remove_pack(id);
    ++packs_removed;
  }
  for (const auto& pack : a.pack_ids()) {
    std::vector<uint32_t> live = a.live_slots(pack);
    PgTx tx(*m.conn);
    // Index rewrites of one pack never interleave with reap's or erase's.
    m.lock_pack_rewrite(pack);
    if (live.empty()) {
      a.remove_pack(pack);  // every key destroyed; a crash between removing the data and the index left this
      ++packs_removed;
      tx.commit();
      continue;
    }
    std::vector<std::string> locs;
    for (uint32_t s : live) locs.push_back(pack + "/" + std::to_string(s));
    auto r = m.conn->exec("SELECT " + quote_ident(c.location_column) + " FROM " + quote_ident(c.root) + " WHERE " + quote_ident(c.location_column) +
                              " = ANY($1::text[])",
                          {text_array(locs)});
    std::set<std::string> referenced;
    for (auto& row : r.rows) referenced.insert(*row[0]);
    std::vector<uint32_t> garbage;
    for (size_t i = 0; i < live.size(); ++i) {
      if (!referenced.count(locs[i])) garbage.push_back(live[i]);
    }
    if (!garbage.empty()) destroyed += a.shred_slots(pack, garbage);
    tx.commit();
  }
  log::info("tier_gc", {{"entity", c.name}, {"archives_destroyed", uint64_t{destroyed}}, {"packs_removed", uint64_t{packs_removed}},
                        {"incomplete_writes_removed", uint64_t{incomplete}},
                        {"seconds", since(t0)}});
  return destroyed;
}

}  // namespace strata::tiering
