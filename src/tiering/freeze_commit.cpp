// A freeze batch's deleting transaction: lock, re-check, second-path checks, delete, compare row versions, archive.
#include "tiering/tierer_impl.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/log.hpp"
#include "tiering/failpoint.hpp"

namespace strata::tiering {

// One deleting transaction for the entities in `snaps` that still match; returns the keys archived.
//
// "Unchanged since the snapshot" is decided by row versions, not by reading the values again: the snapshot noted
// each row's (ctid, xmin), and this transaction deletes the rows of the entity that exist *now* and compares their
// (ctid, xmin) multiset, per table, with the snapshot's. That is as strong as comparing values. PostgreSQL never
// changes a user table's tuple in place: an UPDATE (HOT or not) writes a new tuple at a new ctid whose xmin is the
// updating transaction, which committed after the snapshot and so differs from every xmin the snapshot saw; an
// INSERT adds a version the snapshot never saw; a DELETE removes one. Row locks (a concurrent child insert's KEY
// SHARE, our FOR UPDATE) touch only xmax. A slot is reused only after its tuple died and was pruned, and the new
// tuple carries a newer xmin. VACUUM FULL / CLUSTER keep xmin but move tuples, which can turn a match into a
// mismatch (skip; a later run takes the entity), never the reverse: a version whose xmin predates the snapshot is
// a tuple the snapshot saw, with the same contents. So an equal multiset proves the rows deleted are the rows
// archived, without converting every value to text a second time and digesting it again (that was a third of
// the deleting transaction's time, and most of strata's CPU in it).
std::vector<std::string> Tierer::Impl::commit_batch(std::unordered_map<std::string, Snap>& snaps, FreezeStats& stats, const FreezeHooks& hooks) {
  std::set<std::string> candidates;
  for (auto& [k, s] : snaps) candidates.insert(k);
  for (int attempt = 0; attempt < 4 && !candidates.empty(); ++attempt) {
    std::vector<std::string> keys(candidates.begin(), candidates.end());
    std::string arr = text_array(keys);
    PgTx tx(*conn);
    const Table& root = tables[0];
    // The row lock also blocks new child rows: inserting one takes a KEY SHARE lock on this row. Tier and activity
    // are checked again under it (the row version check below would see a login too; this says why).
    auto locked = conn->exec("SELECT " + root.key_expr + "::text, t0." + q(cfg.tier_column) + ", t0.ctid, t0.xmin, " +
                                 inactive_expr("t0") + " " + root.from_where + " ORDER BY 1 FOR UPDATE OF t0",
                             {arr, std::to_string(cfg.freeze_after)});
    std::set<std::string> changed(candidates);
    for (auto& row : locked.rows) {
      const Snap& s = snaps[*row[0]];
      if (row[1] == PgValue("warm") && row[4] == PgValue("t") && s.t[0].versions.size() == 1 &&
          s.t[0].versions[0] == parse_version(*row[2], *row[3])) {
        changed.erase(*row[0]);
      }
    }
    if (!changed.empty()) {
      tx.commit();  // nothing done yet; release the locks before retrying
      for (const auto& k : changed) {
        candidates.erase(k);
        ++stats.skipped;
        log::info("tier_freeze_skipped", {{"entity", cfg.name}, {"key", k}, {"reason", "changed or active since the snapshot"}});
      }
      continue;
    }
    // The root's lock keeps out new rows of the first level only. A row of a deeper level needs a KEY SHARE lock
    // on its parent row, which nothing above holds: lock every parent table's rows of the batch, top down, before
    // deleting anything, so no writer can add, change or remove a row of the entity between the deletes (whatever
    // the foreign keys' ON DELETE actions: with CASCADE such a row would vanish silently, with NO ACTION the
    // freeze would fail). A row that changed before its parent was locked shows up in the comparison below.
    for (size_t t = 1; t < tables.size(); ++t) {
      if (tables[t].parent) conn->exec("SELECT 1 " + tables[t].from_where + " FOR UPDATE OF t0", {arr});
    }
    // Second paths: with every referenced row locked, no writer can add or move a link; an entity linked to rows
    // of another entity (or of none) is not self-contained — its thaw, or the other's freeze, could not restore
    // or delete one without the other — so it stays in the database, recorded as freeze_failed.
    auto foreign = entangled(arr);
    if (!foreign.empty()) {
      tx.commit();  // nothing deleted yet; release the locks before retrying without them
      for (const auto& [k, why] : foreign) {
        candidates.erase(k);
        ++stats.failed;
        std::string msg = "entity " + ent(k) + ": freeze refused: " + why;
        log::warn("tier_freeze_failed", {{"entity", cfg.name}, {"key", k}, {"reason", msg}});
        record_event(k, "freeze_failed", msg);
      }
      continue;
    }
    // Deepest tables first, so no foreign key is ever left dangling inside the transaction.
    std::unordered_map<std::string, std::vector<std::vector<RowVersion>>> now;
    std::string key;
    for (size_t t = tables.size() - 1; t >= 1; --t) {
      auto del = conn->query("DELETE FROM " + q(tables[t].name) + " t0 " + tables[t].using_where + " RETURNING " +
                                 tables[t].key_expr + "::text, t0.ctid, t0.xmin",
                             {arr});
      if (hooks.after_delete) hooks.after_delete(tables[t].name);
      for (size_t i = 0; i < del.size(); ++i) {
        key.assign(del.get(i, 0));
        auto& v = now[key];
        v.resize(tables.size());
        v[t].push_back(parse_version(del.get(i, 1), del.get(i, 2)));
      }
    }
    for (const auto& k : keys) {
      auto& v = now[k];
      v.resize(tables.size());
      Snap& s = snaps[k];
      for (size_t t = 1; t < tables.size(); ++t) {
        auto& want = s.t[t].versions;
        std::sort(want.begin(), want.end());
        std::sort(v[t].begin(), v[t].end());
        if (want != v[t]) {
          changed.insert(k);
          break;
        }
      }
    }
    if (!changed.empty()) {
      // A child row changed after the snapshot: undo every delete of this batch and try again without them.
      tx.rollback();
      for (const auto& k : changed) {
        candidates.erase(k);
        ++stats.skipped;
        log::info("tier_freeze_skipped", {{"entity", cfg.name}, {"key", k}, {"reason", "rows changed since the snapshot"}});
      }
      continue;
    }
    std::vector<std::string> locs;
    for (const auto& k : keys) locs.push_back(snaps[k].location);
    conn->exec("UPDATE " + root_q() + " r SET " + q(cfg.tier_column) + " = 'archived', " + q(cfg.location_column) +
                   " = v.loc FROM unnest($1::text[], $2::text[]) AS v(k, loc) WHERE r." + q(cfg.key) + " = v.k::" + key_type,
               {arr, text_array(locs)});
    failpoint("freeze.before_commit");
    tx.commit();
    failpoint("freeze.after_commit");
    return keys;
  }
  return {};
}

// Keys of the batch `arr` whose rows are linked through a second path to rows another entity (or none) owns,
// both ways: one of its rows references such a row, or such a row references one of its rows. key -> why.
std::map<std::string, std::string> Tierer::Impl::entangled(const std::string& arr) {
  std::map<std::string, std::string> out;
  for (const auto& f : seconds) {
    const Table& x = table_named(f.table);
    const Table& p = table_named(f.ref_table);
    std::string link = f.table + " -> " + f.ref_table + " through constraint " + f.name;
    auto on = [&](const std::string& xa, const std::string& pa) {
      std::string s;
      for (size_t i = 0; i < f.cols.size(); ++i) s += " AND " + xa + "." + q(f.cols[i]) + " = " + pa + "." + q(f.ref_cols[i]);
      return s;
    };
    auto out_of = conn->exec("SELECT DISTINCT " + x.key_expr + "::text " + x.from_where + " AND EXISTS (SELECT 1 FROM " +
                                 q(p.name) + " px WHERE true" + on("t0", "px") + " AND " + owner_sql(p, "px", "pa") +
                                 " IS DISTINCT FROM " + x.key_expr + ")",
                             {arr});
    for (auto& row : out_of.rows) {
      out.emplace(*row[0], "a row of " + f.table + " references a " + f.ref_table + " row of another entity (" + link +
                               "); an entity must be self-contained to be archived: point the row at this entity's own " + f.ref_table + " row or clear the link");
    }
    auto into = conn->exec("SELECT DISTINCT " + p.key_expr + "::text " + p.from_where + " AND EXISTS (SELECT 1 FROM " +
                               q(x.name) + " xr WHERE true" + on("xr", "t0") + " AND " + owner_sql(x, "xr", "xa") +
                               " IS DISTINCT FROM " + p.key_expr + ")",
                           {arr});
    for (auto& row : into.rows) {
      out.emplace(*row[0], "a " + f.table + " row of another entity (or of none) references one of its " + f.ref_table + " rows (" + link +
                               "); an entity must be self-contained to be archived: point that row elsewhere or clear the link");
    }
  }
  return out;
}

}  // namespace strata::tiering
