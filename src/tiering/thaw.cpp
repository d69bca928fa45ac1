// Thaw: checking a document against the tables as they are now and staging its rows, and the on-demand thaw of one
// entity (a login). Batch thaw is thaw_batch.cpp.
#include "tiering/tierer_impl.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/log.hpp"
#include "tiering/failpoint.hpp"

namespace strata::tiering {

using json = nlohmann::json;

// The cached schema may predate an ALTER TABLE: on an incompatibility, look again once before failing.
void Tierer::Impl::stage_document(const std::string& key, const ReadEntry& entry, std::map<std::string, Insert>& out, bool literals) {
  std::map<std::string, Insert> one;
  try {
    stage_one(key, entry, one, literals);
  } catch (const StrataError& e) {
    if (e.code() != ErrorCode::kUnsupportedVersion) throw;
    schema_loaded = false;
    load_schema();
    one.clear();
    stage_one(key, entry, one, literals);
  }
  for (auto& [k, ins] : one) {
    auto& dst = out[k];
    dst.table = ins.table;
    dst.depth = ins.depth;
    dst.columns = ins.columns;
    dst.data += ins.data;
    if (!dst.values.empty() && !ins.values.empty()) dst.values += ", ";
    dst.values += ins.values;
  }
}

// Checks a document against the tables as they are now and appends its child rows to `out`.
void Tierer::Impl::stage_one(const std::string& key, const ReadEntry& entry, std::map<std::string, Insert>& out, bool literals) {
  std::string what = "archive of " + ent(key);
  json doc;
  try {
    doc = json::parse(entry.document);
  } catch (const json::exception&) {
    fail(ErrorCode::kCorrupt, what + " is not a valid document");
  }
  if (doc.value("format", "") != "strata-tier-entity") fail(ErrorCode::kCorrupt, what + " is not a tiering document");
  if (doc.value("version", 0) > kDocVersion) fail(ErrorCode::kUnsupportedVersion, what + " was written by a newer strata; upgrade strata");
  if (doc.value("entity", "") != cfg.name || doc.value("key", "") != key) fail(ErrorCode::kCorrupt, what + " holds another entity");
  std::vector<std::string> names;
  std::vector<std::vector<PgRow>> rows;
  for (const auto& jt : doc.at("tables")) {
    std::string name = jt.at("name").get<std::string>();
    const Table* t = nullptr;
    for (const auto& x : tables) {
      if (x.name == name) t = &x;
    }
    if (!t) fail(ErrorCode::kUnsupportedVersion, what + " has rows of table " + name + ", which is no longer part of the entity; add it back to [entity." + cfg.name + "] to thaw");
    auto cols = jt.at("columns").get<std::vector<std::string>>();
    std::vector<PgRow> trows;
    for (const auto& jr : jt.at("rows")) {
      PgRow r;
      for (const auto& v : jr) r.push_back(v.is_null() ? PgValue() : PgValue(v.get<std::string>()));
      if (r.size() != cols.size()) fail(ErrorCode::kCorrupt, what + ": a row of " + name + " has the wrong number of values");
      trows.push_back(std::move(r));
    }
    names.push_back(t->name);
    rows.push_back(trows);
    if (t->depth == 0) continue;  // the root row never left the database
    for (const auto& c : cols) {
      if (!has_col(t->current, c)) {
        fail(ErrorCode::kUnsupportedVersion, what + " has column " + name + "." + c + ", which the table no longer has; add the column back to thaw it");
      }
    }
    for (const auto& c : t->current) {
      if (std::find(cols.begin(), cols.end(), c.name) == cols.end() && c.notnull && !c.hasdef) {
        fail(ErrorCode::kUnsupportedVersion, what + ": column " + name + "." + c.name + " was added NOT NULL without a default; give it a default to thaw archives older than it");
      }
    }
    std::string col_list;
    for (size_t k = 0; k < cols.size(); ++k) col_list += (k ? ", " : "") + q(cols[k]);
    auto& ins = out[name + "\n" + col_list];
    ins.table = t->name;
    ins.depth = t->depth;
    ins.columns = col_list;
    for (const auto& r : trows) {
      if (literals) {
        // Untyped literals take the column's input function, exactly as COPY's text does.
        if (!ins.values.empty()) ins.values += ", ";
        ins.values += '(';
        for (size_t k = 0; k < r.size(); ++k) {
          if (k) ins.values += ", ";
          sql_literal(ins.values, r[k]);
        }
        ins.values += ')';
        continue;
      }
      for (size_t k = 0; k < r.size(); ++k) {
        if (k) ins.data += '\t';
        copy_escape(ins.data, r[k]);
      }
      ins.data += '\n';
    }
  }
  // The digest covers the rows as they were when frozen, in the writer's table order.
  Digest32 d = rows_digest(names, rows);
  if (digest_hex(d) != doc.value("digest", "") || d != entry.digest) {
    fail(ErrorCode::kCorrupt, what + ": rows do not match the recorded digest; the archive is damaged");
  }
}

// The INSERTs of literal-staged rows as one multi-statement text, parents first.
std::string Tierer::Impl::insert_statements(std::map<std::string, Insert>& staged) {
  std::vector<Insert*> order;
  for (auto& [k, ins] : staged) order.push_back(&ins);
  std::stable_sort(order.begin(), order.end(), [](Insert* a, Insert* b) { return a->depth < b->depth; });
  std::string sql;
  for (Insert* ins : order) {
    if (!ins->values.empty()) sql += "INSERT INTO " + quote_ident(ins->table) + " (" + ins->columns + ") VALUES " + ins->values + ";\n";
  }
  return sql;
}

void Tierer::Impl::run_inserts(std::map<std::string, Insert>& staged) {
  std::vector<Insert*> order;
  for (auto& [k, ins] : staged) order.push_back(&ins);
  std::stable_sort(order.begin(), order.end(), [](Insert* a, Insert* b) { return a->depth < b->depth; });
  for (Insert* ins : order) {
    if (ins->data.empty()) continue;
    conn->copy_in("COPY " + q(ins->table) + " (" + ins->columns + ") FROM STDIN", ins->data);
  }
}

// Inside the thawing transaction: remember which archive entries the thaw made obsolete. The entries are
// destroyed later in bulk (reap_released), so an on-demand thaw does not wait for an index rewrite, and a crash
// right after the commit cannot leave an archive nobody knows about.
void Tierer::Impl::release_in_tx(const std::vector<std::pair<std::string, std::string>>& loc_keys) {
  if (cfg.keep_after_thaw || loc_keys.empty()) return;
  std::vector<std::string> locs, keys;
  for (const auto& [l, k] : loc_keys) {
    locs.push_back(l);
    keys.push_back(k);
  }
  conn->exec("INSERT INTO strata_tier_released (entity, key, location) SELECT $1, k, l FROM unnest($2::text[], $3::text[]) "
             "AS v(k, l) ON CONFLICT DO NOTHING",
             {cfg.name, text_array(keys), text_array(locs)});
}

ThawOutcome Tierer::Impl::thaw_one(const std::string& key) {
  // Refused before anything names the key: messages are C strings, and a NUL would cut them short.
  if (key.find('\0') != std::string::npos) fail(ErrorCode::kUsage, who + ": a key contains a NUL byte; no entity has such a key");
  try {
    return thaw_one_locked(key);
  } catch (const StrataError& e) {
    // Every error names the entity and key (a COPY rejected by PostgreSQL does not).
    std::string msg = e.what();
    if (msg.find(ent(key)) != std::string::npos) throw;
    throw StrataError(e.code(), "entity " + ent(key) + ": thaw failed: " + msg);
  }
}

// Two round trips, because a login waits for each one and on a busy machine each costs a scheduling delay of the
// backend and of this thread (profiled: at 20 concurrent callers they were most of the time that was not the commit's
// WAL flush): "BEGIN; SELECT ... FOR UPDATE" (the row lock), then one multi-statement text with every row, the tier
// change, the release and the COMMIT. The first statement that fails stops the text, the transaction is left
// aborted and rolled back. The key is sent as a literal (standard_conforming_strings and UTF8 are pinned on every
// session, so doubling quotes is complete quoting).
ThawOutcome Tierer::Impl::thaw_one_locked(const std::string& key) {
  Impl& m = *this;
  m.load_schema();
  auto t0 = std::chrono::steady_clock::now();
  double t_lock = 0, t_read = 0, t_stage = 0, t_exec = 0;
    std::string k;
  sql_literal(k, key);
  std::string where = " WHERE " + q(m.cfg.key) + " = " + k + "::" + m.key_type;
  std::string loc;
  {
    OpenTx tx(*m.conn);  // rolls back unless committed, also when the first text fails after its BEGIN
    auto r = m.conn->exec("BEGIN; SELECT " + q(m.cfg.tier_column) + ", " + q(m.cfg.location_column) + " FROM " + q(m.cfg.root) +
                          where + " FOR UPDATE");
    if (r.rows.empty()) fail(ErrorCode::kNotFound, "entity " + m.ent(key) + " does not exist in " + m.conn->describe());
    const std::string tier = r.rows[0][0].value_or("");
    if (tier == "hot" || tier == "warm") {
      // A login of a warm entity: make it hot under the row lock. The new row version keeps any freeze in flight
      // from taking it (its commit compares row versions). The application bumps the activity (login protocol).
      m.conn->exec(tier == "warm" ? "UPDATE " + q(m.cfg.root) + " SET " + q(m.cfg.tier_column) + " = 'hot'" + where + "; COMMIT"
                                  : std::string("COMMIT"));
      tx.committed();
      return ThawOutcome::kAlreadyHot;
    }
    if (!r.rows[0][1]) {
      fail(ErrorCode::kCorrupt, "entity " + m.ent(key) + " is " + tier + " but has no archive location; set its tier by hand after checking its rows");
    }
    loc = *r.rows[0][1];
    t_lock = since(t0);
    std::string sql;
    try {
      ReadEntry e = m.archive().read(loc, key);
      t_read = since(t0);
      std::map<std::string, Insert> staged;
      m.stage_document(key, e, staged, true);
      t_stage = since(t0);
      sql = insert_statements(staged);
      std::string l, name;
      sql_literal(l, loc);
      sql_literal(name, m.cfg.name);
      sql += "UPDATE " + q(m.cfg.root) + " SET " + q(m.cfg.tier_column) + " = 'hot', " + q(m.cfg.location_column) + " = NULL" + where + ";\n";
      if (!m.cfg.keep_after_thaw) {
        sql += "INSERT INTO strata_tier_released (entity, key, location) VALUES (" + name + ", " + k + ", " + l + ") ON CONFLICT DO NOTHING;\n";
      }
      sql += "COMMIT";
      // The row lock is held and nothing is written yet: a crash here leaves the entity as it was.
      failpoint("thaw.before_commit");
      m.conn->exec(sql);
      tx.committed();
      t_exec = since(t0);
    } catch (const StrataError& e) {
      tx.rollback();
      m.record_event(key, "thaw_failed", e.what());
      throw;
    }
    failpoint("thaw.after_commit");
  }
  log::debug("tier_thaw", {{"entity", m.cfg.name}, {"key", key}, {"lock_ms", t_lock * 1000}, {"read_ms", (t_read - t_lock) * 1000},
                           {"stage_ms", (t_stage - t_read) * 1000}, {"commit_ms", (t_exec - t_stage) * 1000},
                           {"ms", since(t0) * 1000}});
  return ThawOutcome::kThawed;
}

}  // namespace strata::tiering
