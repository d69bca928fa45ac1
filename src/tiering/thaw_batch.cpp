// Batch thaw (`tier thaw --restoring | --all-archived`): workers, the keyset cursor, and the entity-by-entity fallback.
#include "tiering/tierer_impl.hpp"

#include "common/log.hpp"
#include "tiering/failpoint.hpp"

namespace strata::tiering {

ThawStats Tierer::thaw_batch(bool all_archived, size_t limit) {
  auto& m = *impl_;
  m.load_schema();
  m.archive();
  auto t0 = std::chrono::steady_clock::now();
  ThawStats total;
  size_t parts = std::max<size_t>(1, m.cfg.workers);
  // Workers take disjoint batches through FOR UPDATE SKIP LOCKED, each on its own connection.
  auto results = m.run_parts(parts, [&](Impl& w, size_t part) {
    size_t share = limit == SIZE_MAX ? SIZE_MAX : limit / parts + (part < limit % parts ? 1 : 0);
    return w.thaw_loop(all_archived, share);
  });
  for (const ThawStats& mine : results) {
    total.thawed += mine.thawed;
    total.failed += mine.failed;
  }
  m.reap_released();
  total.seconds = since(t0);
  log::info("tier_thaw", {{"entity", m.cfg.name}, {"thawed", uint64_t{total.thawed}}, {"failed", uint64_t{total.failed}},
                          {"seconds", total.seconds}, {"per_second", total.seconds > 0 ? total.thawed / total.seconds : 0.0}});
  return total;
}

ThawStats Tierer::Impl::thaw_loop(bool all_archived, size_t limit) {
  Impl& m = *this;
  auto t0 = std::chrono::steady_clock::now();
    ThawStats st;
  std::set<std::string> failed;
  // Rows the application is waiting for first. Per tier, a keyset cursor over (activity, key) through the
  // (tier, activity) index, then the rows without an activity by key: each worker walks the range once, instead of
  // re-walking from the start the index entries of every row already thawed (dead until vacuum), which grew with the
  // run. A row skipped (locked by an on-demand thaw, or failed) is not retried in this run.
  std::vector<std::string> tiers = {"restoring"};
  if (all_archived) tiers.push_back("archived");
  size_t phase = 0;
  bool null_phase = false;
  PgValue last_activity, last_key;
  std::string k = "r." + q(m.cfg.key), a = "r." + q(m.cfg.activity);
  auto fetch = [&](size_t n) -> PgResult {
    while (phase < tiers.size()) {
      std::string sql = "SELECT " + k + "::text, r." + q(m.cfg.location_column) + ", " + a + "::text FROM " + q(m.cfg.root) +
                        " r WHERE r." + q(m.cfg.tier_column) + " = $1";
      std::vector<PgValue> params{tiers[phase]};
      if (null_phase) {
        sql += " AND " + a + " IS NULL";
        if (last_key) {
          sql += " AND " + k + " > $2::" + m.key_type;
          params.push_back(last_key);
        }
        sql += " ORDER BY " + k;
      } else {
        if (last_key) {
          sql += " AND (" + a + ", " + k + ") > ($2::" + m.activity_type + ", $3::" + m.key_type + ")";
          params.push_back(last_activity);
          params.push_back(last_key);
        }
        sql += " ORDER BY " + a + ", " + k;
      }
      auto r = m.conn->exec(sql + " LIMIT " + std::to_string(n) + " FOR UPDATE OF r SKIP LOCKED", params);
      if (!r.rows.empty()) {
        last_key = r.rows.back()[0];
        last_activity = r.rows.back()[2];
        if (!last_activity) null_phase = true;  // NULLs sort last: the rest of this tier has none
        return r;
      }
      last_key.reset();
      last_activity.reset();
      if (!null_phase) {
        null_phase = true;
      } else {
        null_phase = false;
        ++phase;
      }
    }
    return {};
  };
  while (st.thawed < limit && !m.stop_requested()) {
    size_t n = std::min(m.cfg.batch, limit - st.thawed);
    const size_t thawed_before = st.thawed, failed_before = st.failed;
    std::vector<std::pair<std::string, std::string>> done;
    bool fallback = false;
    std::vector<std::string> batch_keys;
    std::vector<std::pair<std::string, std::string>> reap_now;
    {
      PgTx tx(*m.conn);
      // As in next_keys: keep the cursor on the ordered index scan whatever the statistics say about the tiers.
      m.conn->exec("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off");
      auto r = fetch(n);
      if (r.rows.empty()) break;
      std::vector<std::pair<std::string, std::string>> lks;
      for (auto& row : r.rows) {
        batch_keys.push_back(*row[0]);
        if (!row[1]) {
          failed.insert(*row[0]);
          ++st.failed;
          m.record_event(*row[0], "thaw_failed", "no archive location");
          continue;
        }
        lks.emplace_back(*row[1], *row[0]);
      }
      double select_ms = since(t0) * 1000;
      std::vector<ReadEntry> entries;
      try {
        entries = m.archive().read_many(lks);
      } catch (const StrataError& e) {
        log::warn("tier_thaw_batch_fallback", {{"entity", m.cfg.name}, {"reason", e.what()}});
        fallback = true;  // find the bad one entity by entity below
      }
      std::map<std::string, Insert> staged;
      std::vector<std::string> ok;
      if (!fallback) {
        for (size_t i = 0; i < lks.size(); ++i) {
          try {
            m.stage_document(lks[i].second, entries[i], staged);
            ok.push_back(lks[i].second);
            done.push_back(lks[i]);
          } catch (const StrataError& e) {
            failed.insert(lks[i].second);
            ++st.failed;
            log::warn("tier_thaw_failed", {{"entity", m.cfg.name}, {"key", lks[i].second}, {"reason", e.what()}});
          }
        }
        double staged_ms = since(t0) * 1000;
        try {
          m.run_inserts(staged);
          log::debug("tier_thaw_phases", {{"entity", m.cfg.name}, {"select_ms", select_ms}, {"staged_ms", staged_ms},
                                          {"copied_ms", since(t0) * 1000}});
          m.conn->exec("UPDATE " + q(m.cfg.root) + " SET " + q(m.cfg.tier_column) + " = 'hot', " + q(m.cfg.location_column) +
                           " = NULL WHERE " + q(m.cfg.key) + " = ANY($1::" + m.key_type + "[])",
                       {text_array(ok)});
          m.release_in_tx(done);
          failpoint("thaw.before_commit");
          tx.commit();
          failpoint("thaw.after_commit");
          log::debug("tier_thaw_committed", {{"entity", m.cfg.name}, {"at_ms", since(t0) * 1000}});
          st.thawed += ok.size();
          reap_now = done;
        } catch (const StrataError& e) {
          log::warn("tier_thaw_batch_fallback", {{"entity", m.cfg.name}, {"reason", e.what()}});
          fallback = true;
          done.clear();
        }
      }
    }
    if (fallback) {
      // Something in this batch is wrong (a damaged archive, rows in the way): thaw one by one, so only that entity
      // stays behind and is reported.
      for (const auto& k : batch_keys) {
        if (failed.count(k)) continue;
        try {
          if (thaw_one(k) == ThawOutcome::kThawed) ++st.thawed;
        } catch (const StrataError& e) {
          failed.insert(k);
          ++st.failed;
          log::warn("tier_thaw_failed", {{"entity", m.cfg.name}, {"key", k}, {"reason", e.what()}});
        }
      }
      m.report_batch(BatchDone{st.thawed - thawed_before, st.failed - failed_before, 0, 0});
      continue;
    }
    m.report_batch(BatchDone{st.thawed - thawed_before, st.failed - failed_before, 0, 0});
    // This batch's entries while their pack's index is still warm in the cache; reap_released catches the rest.
    std::set<std::string> failed_packs;
    m.reap_entries(reap_now, failed_packs);
  }
  for (const auto& k : failed) m.record_event(k, "thaw_failed", "see the log");
  st.seconds = since(t0);
  return st;
}

}  // namespace strata::tiering
