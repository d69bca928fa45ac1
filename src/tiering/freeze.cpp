// Freeze: runs and batches, the snapshot, the documents and storing them (docs/TIERING.md "Freeze: the safety
// argument"). The deleting transaction is freeze_commit.cpp.
#include "tiering/tierer_impl.hpp"

#include <algorithm>
#include <exception>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/json_text.hpp"
#include "common/log.hpp"
#include "tiering/failpoint.hpp"

namespace strata::tiering {

void Tierer::Impl::check_before_freeze() {
  // Schemas change: a freeze that would touch rows outside the entity refuses to start instead of guessing. The
  // refusal is recorded, so `tier status` counts it as a failure.
  load_schema();
  try {
    check_schema_contract(*conn, cfg);
  } catch (const StrataError& e) {
    record_event("", "freeze_failed", e.what());
    throw;
  }
}

FreezeStats Tierer::freeze(size_t limit, const FreezeHooks& hooks) {
  auto& m = *impl_;
  m.check_before_freeze();
  m.archive();
  auto t0 = std::chrono::steady_clock::now();
  // One freeze run per entity type at a time; inside it, workers take consecutive batches from one KeyFeed.
  if (!try_session_lock(*m.conn, freeze_lock_name(m.cfg.name))) fail(ErrorCode::kLocked, "entity " + m.cfg.name + ": another freeze is running; wait for it or stop it");
  m.reap_released();
  FreezeStats total;
  size_t parts = std::max<size_t>(1, m.cfg.workers);
  KeyFeed feed;
  feed.remaining = limit;
  std::exception_ptr error;
  try {
    for (const FreezeStats& mine : m.run_parts(parts, [&](Impl& w, size_t) { return w.freeze_loop(feed, hooks); })) {
      total.frozen += mine.frozen;
      total.skipped += mine.skipped;
      total.failed += mine.failed;
      total.packs += mine.packs;
      total.stored_bytes += mine.stored_bytes;
    }
  } catch (...) {
    error = std::current_exception();
  }
  session_unlock(*m.conn, freeze_lock_name(m.cfg.name));
  if (error) std::rethrow_exception(error);
  total.seconds = since(t0);
  log::info("tier_freeze", {{"entity", m.cfg.name}, {"frozen", uint64_t{total.frozen}}, {"skipped", uint64_t{total.skipped}},
                            {"failed", uint64_t{total.failed}},
                            {"packs", uint64_t{total.packs}}, {"seconds", total.seconds},
                            {"per_second", total.seconds > 0 ? total.frozen / total.seconds : 0.0}});
  return total;
}

FreezeStats Tierer::freeze_keys(const std::vector<std::string>& keys, const FreezeHooks& hooks) {
  impl_->check_before_freeze();
  impl_->archive();
  auto t0 = std::chrono::steady_clock::now();
  FreezeStats total;
  for (size_t i = 0; i < keys.size() && !impl_->stop_requested(); i += impl_->cfg.batch) {
    std::vector<std::string> part(keys.begin() + i, keys.begin() + std::min(keys.size(), i + impl_->cfg.batch));
    FreezeStats b;
    try {
      b = impl_->freeze_batch(part, hooks);
    } catch (const StrataError& e) {
      std::string who = part.size() == 1 ? "entity " + impl_->ent(part[0]) : "entity " + impl_->cfg.name + " (keys " + part.front() + " .. " + part.back() + ")";
      impl_->record_event(part.size() == 1 ? part[0] : "", "freeze_failed", e.what());
      throw StrataError(e.code(), who + ": freeze failed: " + e.what());
    }
    total.frozen += b.frozen;
    total.skipped += b.skipped;
    total.failed += b.failed;
    total.packs += b.packs;
    total.stored_bytes += b.stored_bytes;
    impl_->report_batch(BatchDone{b.frozen, b.skipped + b.failed, b.packs, b.stored_bytes});
  }
  total.seconds = since(t0);
  return total;
}

// True when the entity has been inactive for freeze_after ($2 is freeze_after in seconds), by the database's clock.
std::string Tierer::Impl::inactive_expr(const std::string& alias) const {
  return "coalesce(" + alias + "." + q(cfg.activity) + " < now() - make_interval(secs => $2::bigint), false)";
}

[[noreturn]] void Tierer::Impl::not_utf8(std::string_view key) {
  fail(ErrorCode::kSourceFailed, "entity " + ent(std::string(key)) + " has text that is not valid UTF-8; the database encoding must be UTF8");
}

std::unordered_map<std::string, Snap> Tierer::Impl::snapshot(const std::vector<std::string>& keys) {
  std::unordered_map<std::string, Snap> snaps;
  std::string arr = text_array(keys);
  PgTx tx(*conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const Table& root = tables[0];
  // The tier is checked here, not in SQL: with it in the WHERE clause the planner walks the (tier, activity)
  // index over every warm row instead of the primary key.
  // Activity is checked again here, in the snapshot: a login that committed after the batch was chosen (it bumps
  // the activity but may leave the tier 'warm') must keep the entity out.
  auto rr = conn->query("SELECT " + root.key_expr + "::text, t0." + q(cfg.tier_column) + ", t0.ctid, t0.xmin, " +
                            inactive_expr("t0") + ", " + root.col_list + " " + root.from_where,
                        {arr, std::to_string(cfg.freeze_after)});
  for (size_t i = 0; i < rr.size(); ++i) {
    if (rr.null(i, 1) || rr.get(i, 1) != "warm" || rr.get(i, 4) != "t") continue;
    Snap& s = snaps[std::string(rr.get(i, 0))];
    s.t.resize(tables.size());
    s.t[0].versions.push_back(parse_version(rr.get(i, 2), rr.get(i, 3)));
    if (!add_row(s.t[0], rr, i, 5)) not_utf8(rr.get(i, 0));
  }
  std::string key;
  for (size_t t = 1; t < tables.size(); ++t) {
    auto r = conn->query("SELECT " + tables[t].key_expr + "::text, t0.ctid, t0.xmin, " + tables[t].col_list + " " +
                             tables[t].from_where,
                         {arr});
    for (size_t i = 0; i < r.size(); ++i) {
      key.assign(r.get(i, 0));
      auto it = snaps.find(key);
      if (it == snaps.end()) continue;
      TableRows& tr = it->second.t[t];
      tr.versions.push_back(parse_version(r.get(i, 1), r.get(i, 2)));
      if (!add_row(tr, r, i, 3)) not_utf8(key);
    }
  }
  tx.commit();
  auto names = table_names();
  for (auto& [k, s] : snaps) s.digest = spans_digest(names, s.t);
  return snaps;
}

std::string Tierer::Impl::document(const std::string& key, const Snap& s, const std::string& now) {
  // Written directly rather than through a JSON tree: the rows are already JSON (TableRows::json). The keys are
  // in the order nlohmann::json writes them, so documents look the same as before.
  size_t size = 256 + key.size();
  for (size_t t = 0; t < tables.size(); ++t) size += tables[t].json_head.size() + s.t[t].json.size() + tables[t].json_tail.size();
  std::string out;
  out.reserve(size);
  out += "{\"digest\":\"" + digest_hex(s.digest) + "\",\"entity\":";
  append_json_string(out, cfg.name);
  out += ",\"format\":\"strata-tier-entity\",\"frozen_at\":";
  append_json_string(out, now);
  out += ",\"key\":";
  if (!append_json_string(out, key)) not_utf8(key);
  out += ",\"tables\":[";
  for (size_t t = 0; t < tables.size(); ++t) {
    if (t) out += ',';
    out += tables[t].json_head;
    out += s.t[t].json;
    out += tables[t].json_tail;
  }
  out += "],\"version\":" + std::to_string(kDocVersion) + "}";
  return out;
}

std::vector<std::string> Tierer::Impl::next_keys(KeyFeed& feed) {
  std::lock_guard<std::mutex> g(feed.mu);
  if (feed.done || feed.remaining == 0) return {};
  size_t n = std::min(cfg.batch, feed.remaining);
  std::string sql = "SELECT r." + q(cfg.key) + "::text AS k, r." + q(cfg.activity) + "::text AS a FROM " + root_q() +
                    " r WHERE r." + q(cfg.tier_column) + " = 'warm' AND r." + q(cfg.activity) +
                    " < now() - make_interval(secs => $1::bigint)";
  std::vector<PgValue> params{std::to_string(cfg.freeze_after)};
  if (feed.last_key) {
    sql += " AND (r." + q(cfg.activity) + ", r." + q(cfg.key) + ") > ($2::" + activity_type + ", $3::" + key_type + ")";
    params.push_back(feed.last_activity);
    params.push_back(feed.last_key);
  }
  sql += " ORDER BY r." + q(cfg.activity) + ", r." + q(cfg.key) + " LIMIT " + std::to_string(n);
  PgTx tx(*conn);
  // With statistics from before the cooldown (every row 'hot'), the planner expects a handful of warm rows and
  // would read and sort all of them for every batch (a bitmap scan or a full Sort), which grows with the run; the
  // ordered index scan under an incremental sort stops after n.
  conn->exec("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off");
  auto r = conn->exec(sql, params);
  tx.commit();
  std::vector<std::string> keys;
  for (auto& row : r.rows) keys.push_back(*row[0]);
  if (keys.empty()) {
    feed.done = true;
    return keys;
  }
  feed.last_key = r.rows.back()[0];
  feed.last_activity = r.rows.back()[1];
  feed.remaining -= keys.size();
  return keys;
}

// A pack that holds an entry a committed thaw released: `reap` will destroy that entry, so a freeze must not
// reuse the pack (ArchiveStore::write_pack takes the next pack id instead).
bool Tierer::Impl::has_released(const std::string& pack_id) {
  return conn->scalar("SELECT EXISTS (SELECT 1 FROM strata_tier_released WHERE entity = $1 AND starts_with(location, $2))",
                      {cfg.name, pack_id + "/"}) == "t";
}

// freeze_batch, and when the batch fails in the database, once more entity by entity: only the entity that
// cannot be frozen stays behind, recorded (freeze_failed in strata_tier_events, counted by `tier status`) and
// named in the log with its key. A storage error is not an entity's fault and ends the run.
FreezeStats Tierer::Impl::freeze_batch_or_each(const std::vector<std::string>& keys, const FreezeHooks& hooks) {
  try {
    return freeze_batch(keys, hooks);
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kStorage || e.code() == ErrorCode::kWrongKey) {
      record_event("", "freeze_failed", "batch of " + std::to_string(keys.size()) + " from " + keys.front() + ": " + e.what());
      throw;
    }
    if (keys.size() > 1) {
      log::warn("tier_freeze_batch_fallback", {{"entity", cfg.name}, {"keys", uint64_t{keys.size()}}, {"first_key", keys.front()},
                                               {"reason", e.what()}});
    }
    FreezeStats st;
    auto failed = [&](const std::string& k, const StrataError& why) {
      ++st.failed;
      std::string msg = "entity " + ent(k) + ": freeze failed: " + why.what();
      log::warn("tier_freeze_failed", {{"entity", cfg.name}, {"key", k}, {"reason", msg}});
      record_event(k, "freeze_failed", msg);
    };
    if (keys.size() == 1) {
      failed(keys[0], e);
      return st;
    }
    for (const auto& k : keys) {
      try {
        FreezeStats one = freeze_batch({k}, hooks);
        st.frozen += one.frozen;
        st.skipped += one.skipped;
        st.packs += one.packs;
        st.stored_bytes += one.stored_bytes;
      } catch (const StrataError& e1) {
        if (e1.code() == ErrorCode::kStorage || e1.code() == ErrorCode::kWrongKey) throw;
        failed(k, e1);
      }
    }
    return st;
  }
}

FreezeStats Tierer::Impl::freeze_loop(KeyFeed& feed, const FreezeHooks& hooks) {
  FreezeStats total;
  while (!stop_requested()) {
    std::vector<std::string> keys = next_keys(feed);
    if (keys.empty()) break;
    auto tb = std::chrono::steady_clock::now();
    FreezeStats b = freeze_batch_or_each(keys, hooks);
    total.frozen += b.frozen;
    total.skipped += b.skipped;
    total.failed += b.failed;
    total.packs += b.packs;
    total.stored_bytes += b.stored_bytes;
    report_batch(BatchDone{b.frozen, b.skipped + b.failed, b.packs, b.stored_bytes});
    double secs = since(tb);
    log::info("tier_freeze_batch", {{"entity", cfg.name}, {"frozen", uint64_t{b.frozen}}, {"skipped", uint64_t{b.skipped}},
                                    {"seconds", secs}, {"per_second", secs > 0 ? b.frozen / secs : 0.0}});
  }
  return total;
}

FreezeStats Tierer::Impl::freeze_batch(const std::vector<std::string>& keys, const FreezeHooks& hooks) {
  FreezeStats st;
  load_schema();
  if (hooks.before_snapshot) hooks.before_snapshot(keys);
  auto t0 = std::chrono::steady_clock::now();
  auto snaps = snapshot(keys);
  double snap_s = since(t0);
  st.skipped += keys.size() - snaps.size();
  if (snaps.empty()) return st;
  failpoint("freeze.after_snapshot");
  // From here until the commit, the packs stored are referenced by nothing in the database: keep gc out.
  AdvisoryLock in_flight(*conn, gc_lock(), AdvisoryLock::kShared);
  std::string now = iso_utc(now_epoch());
  std::vector<std::string> order;
  for (auto& [k, s] : snaps) order.push_back(k);
  std::sort(order.begin(), order.end());
  for (size_t i = 0; i < order.size(); i += cfg.pack_size) {
    std::vector<ArchiveEntry> entries;
    for (size_t j = i; j < std::min(order.size(), i + cfg.pack_size); ++j) {
      const Snap& s = snaps[order[j]];
      entries.push_back({order[j], document(order[j], s, now), s.digest});
    }
    auto locs = archive().write_pack(entries, [&](const std::string& pack_id) { return !has_released(pack_id); });
    ++st.packs;
    for (size_t j = 0; j < locs.size(); ++j) snaps[entries[j].key].location = locs[j];
    for (const auto& e : entries) st.stored_bytes += e.document.size();
  }
  failpoint("freeze.after_store");
  double store_s = since(t0) - snap_s;
  if (hooks.before_commit) hooks.before_commit(order);
  auto done = commit_batch(snaps, st, hooks);
  st.frozen += done.size();
  log::debug("tier_freeze_phases", {{"entity", cfg.name}, {"snapshot_ms", snap_s * 1000}, {"store_ms", store_s * 1000},
                                    {"commit_ms", (since(t0) - snap_s - store_s) * 1000}});
  return st;
}

}  // namespace strata::tiering
