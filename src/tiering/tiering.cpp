#include "tiering/tiering.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/json_text.hpp"
#include "common/log.hpp"
#include "io/crypto.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"
#include "tiering/archive.hpp"
#include "tiering/failpoint.hpp"
#include "tiering/pg.hpp"
#include "tiering/schema.hpp"

namespace strata::tiering {
namespace {

using json = nlohmann::json;
constexpr int kDocVersion = 1;

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Column {
  std::string name, type;
  bool notnull = false, hasdef = false;
};

struct Table {
  std::string name;
  int depth = 0;  // 0 = root
  bool parent = false;  // another entity table references this one: a freeze locks its rows before deleting any
  std::vector<Column> current;  // the table as it is now (generated columns left out)
  std::vector<std::string> cols, types;  // archived columns
  std::string key_expr, from_where;  // "t1.player_id", "FROM a t0, b t1 WHERE ... AND t1.player_id = ANY($1::uuid[])"
  std::string using_where;           // for DELETE: "USING b t1 WHERE ..." or "WHERE ..."
  std::string col_list;              // t0."a", t0."b"
  std::string json_head, json_tail;  // this table in a document, around its rows
  // The path up to the root: per hop the parent table and the (fk, parent column) pairs; the last hop's `key_col`
  // is the column holding the root key. Used to name the owner of any row of this table (owner_sql).
  struct Hop {
    std::string parent;
    std::vector<std::pair<std::string, std::string>> on;
  };
  std::vector<Hop> hops;
  std::string key_col;
};

void encode_row(std::string& out, const PgRow& row, size_t from) {
  for (size_t i = from; i < row.size(); ++i) {
    if (!row[i]) {
      out += '\xff';
      continue;
    }
    out += '\0';
    uint32_t n = static_cast<uint32_t>(row[i]->size());
    out.append(reinterpret_cast<const char*>(&n), 4);
    out += *row[i];
  }
}

// Order-independent digest of an entity's rows: the same rows give the same digest however they were read.
// rows[t] are the archived columns of table t (no key column).
Digest32 rows_digest(const std::vector<const Table*>& tables, const std::vector<std::vector<PgRow>>& rows) {
  Sha256 h;
  std::vector<std::string> enc;
  for (size_t t = 0; t < tables.size(); ++t) {
    std::string head = "T" + tables[t]->name;
    head += '\0';
    h.update(as_bytes(head));
    enc.clear();
    for (const auto& r : rows[t]) {
      enc.emplace_back();
      encode_row(enc.back(), r, 0);
    }
    std::sort(enc.begin(), enc.end());
    for (const auto& e : enc) {
      uint32_t n = static_cast<uint32_t>(e.size());
      h.update(ByteView(reinterpret_cast<const uint8_t*>(&n), 4));
      h.update(as_bytes(e));
    }
  }
  return h.finish();
}

// The physical version of a row: (ctid, xmin). See commit_batch for why it stands for the row's contents.
struct RowVersion {
  uint64_t tid = 0;  // block << 16 | line pointer
  uint32_t xmin = 0;
  bool operator<(const RowVersion& o) const { return tid != o.tid ? tid < o.tid : xmin < o.xmin; }
  bool operator==(const RowVersion& o) const { return tid == o.tid && xmin == o.xmin; }
};

RowVersion parse_version(std::string_view ctid, std::string_view xmin) {
  // ctid's text form is "(block,offset)".
  RowVersion v;
  uint64_t block = 0, off = 0;
  size_t i = 1;
  for (; i < ctid.size() && ctid[i] != ','; ++i) block = block * 10 + static_cast<uint64_t>(ctid[i] - '0');
  for (++i; i < ctid.size() && ctid[i] != ')'; ++i) off = off * 10 + static_cast<uint64_t>(ctid[i] - '0');
  v.tid = block << 16 | off;
  for (char ch : xmin) v.xmin = v.xmin * 10 + static_cast<uint32_t>(ch - '0');
  return v;
}

// One table's rows of one entity as the snapshot read them: already as JSON (for the document) and in the digest's
// encoding (one buffer, a span per row), so no value is copied into a string of its own.
struct TableRows {
  std::string json;  // "[..],[..]"
  std::string enc;
  std::vector<std::pair<uint32_t, uint32_t>> spans;  // offset, length in enc
  std::vector<RowVersion> versions;
};

// Appends row `r` of `res` (columns from `from` on) to `tr`. Returns false on text that is not valid UTF-8.
bool add_row(TableRows& tr, const PgRows& res, size_t r, int from) {
  if (!tr.spans.empty()) tr.json += ',';
  tr.json += '[';
  auto start = static_cast<uint32_t>(tr.enc.size());
  for (int c = from; c < res.width(); ++c) {
    if (c > from) tr.json += ',';
    if (res.null(r, c)) {
      tr.json += "null";
      tr.enc += '\xff';
      continue;
    }
    std::string_view v = res.get(r, c);
    if (!append_json_string(tr.json, v)) return false;
    tr.enc += '\0';
    auto n = static_cast<uint32_t>(v.size());
    tr.enc.append(reinterpret_cast<const char*>(&n), 4);
    tr.enc.append(v);
  }
  tr.json += ']';
  tr.spans.emplace_back(start, static_cast<uint32_t>(tr.enc.size()) - start);
  return true;
}

// rows_digest over rows held as TableRows: the same bytes hashed in the same order.
Digest32 spans_digest(const std::vector<const Table*>& tables, std::vector<TableRows>& rows) {
  Sha256 h;
  for (size_t t = 0; t < tables.size(); ++t) {
    std::string head = "T" + tables[t]->name;
    head += '\0';
    h.update(as_bytes(head));
    TableRows& tr = rows[t];
    auto view = [&](const std::pair<uint32_t, uint32_t>& s) { return std::string_view(tr.enc.data() + s.first, s.second); };
    // Byte order, as std::string compares: the same order rows_digest sorts in.
    std::sort(tr.spans.begin(), tr.spans.end(), [&](const auto& a, const auto& b) { return view(a) < view(b); });
    for (const auto& s : tr.spans) {
      uint32_t n = s.second;
      h.update(ByteView(reinterpret_cast<const uint8_t*>(&n), 4));
      h.update(ByteView(reinterpret_cast<const uint8_t*>(tr.enc.data() + s.first), s.second));
    }
  }
  return h.finish();
}

// A transaction whose BEGIN travels with its first statement (one round trip): rolls back unless committed() was
// called, including when that first text fails after its BEGIN ran.
class OpenTx {
 public:
  explicit OpenTx(PgConn& c) : c_(c) {}
  ~OpenTx() { rollback(); }
  void committed() { done_ = true; }
  void rollback() noexcept {
    if (!done_) c_.rollback();
    done_ = true;
  }
  OpenTx(const OpenTx&) = delete;
  OpenTx& operator=(const OpenTx&) = delete;

 private:
  PgConn& c_;
  bool done_ = false;
};

// Holds a session-level advisory lock in shared mode for a scope (see Impl::gc_lock).
class SharedAdvisoryLock {
 public:
  SharedAdvisoryLock(PgConn& c, std::string name) : c_(c), name_(std::move(name)) {
    c_.exec("SELECT pg_advisory_lock_shared(hashtextextended($1, 0))", {name_});
  }
  ~SharedAdvisoryLock() {
    try {
      c_.exec("SELECT pg_advisory_unlock_shared(hashtextextended($1, 0))", {name_});
    } catch (const StrataError&) {
      // The connection is gone, and the lock with it.
    }
  }
  SharedAdvisoryLock(const SharedAdvisoryLock&) = delete;
  SharedAdvisoryLock& operator=(const SharedAdvisoryLock&) = delete;

 private:
  PgConn& c_;
  std::string name_;
};

}  // namespace

struct Tierer::Impl {
  EntityConfig cfg;
  Repository* repo;
  std::unique_ptr<PgConn> conn;
  std::unique_ptr<ArchiveStore> store;
  std::vector<Table> tables;  // [0] = root, then children sorted by depth (parents first)
  std::vector<ForeignKey> seconds;  // foreign keys between child tables that are not configured edges
  std::string key_type, activity_type;
  bool schema_loaded = false;
  std::string who;  // "entity players"

  Impl(EntityConfig c, Repository* r) : cfg(std::move(c)), repo(r), who("entity " + cfg.name) {
    conn = std::make_unique<PgConn>(cfg.database);
    // Every statement here is driven by keys through indexes (setup creates one on every foreign-key column).
    // The planner underestimates `= ANY(array of 500 keys)` and would hash-join whole child tables, which grows
    // with the table instead of the batch; forbid that for this session only. No parallel workers either: for a
    // batch-sized statement, starting and stopping two worker processes costs more than the scan itself (the
    // snapshot of a two-level child table took ~30 ms with a Gather, ~10 ms without).
    conn->exec("SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off; "
               "SET max_parallel_workers_per_gather = 0");
    if (repo) store = std::make_unique<ArchiveStore>(*repo, cfg.name, parse_compression(cfg.compression));
  }

  std::string q(const std::string& s) const { return quote_ident(s); }

  // Runs fn(worker, part) for every part in [0, parts): a single part on this Impl, more each on a thread with an
  // Impl (own connection, schema loaded) of its own. Returns every part's result once all have stopped, or rethrows
  // the first part's error.
  template <class Fn>
  auto run_parts(size_t parts, Fn fn) -> std::vector<decltype(fn(*this, size_t{}))> {
    std::vector<decltype(fn(*this, size_t{}))> results(parts);
    std::vector<std::exception_ptr> errors(parts);
    auto work = [&](size_t part) {
      try {
        if (parts == 1) {
          results[part] = fn(*this, part);
          return;
        }
        Impl own(cfg, repo);
        own.load_schema();
        results[part] = fn(own, part);
      } catch (...) {
        errors[part] = std::current_exception();
      }
    };
    if (parts == 1) {
      work(0);
    } else {
      std::vector<std::thread> threads;
      for (size_t i = 0; i < parts; ++i) threads.emplace_back(work, i);
      for (auto& t : threads) t.join();
    }
    for (auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
    return results;
  }

  // A freeze holds this lock shared from before it stores a pack until its deleting transaction has committed (or
  // given up); `tier gc` holds it exclusively. Session-level, so a killed freeze releases it with its connection.
  std::string gc_lock() const { return "strata-tier-gc:" + cfg.name; }
  std::string root_q() const { return q(cfg.root); }

  // Index rewrites (reap, gc, erase) of one pack must not interleave: a lost update would resurrect a destroyed key.
  // Each holds, for its transaction, the pack's lock and the entity's rewrite lock shared; sweeping the incomplete
  // writes a crashed rewrite left takes the rewrite lock exclusively, so no rewrite is in flight while it runs.
  std::string rewrite_lock() const { return "strata-tier-rewrite:" + cfg.name; }
  void lock_pack_rewrite(const std::string& pack) {
    conn->exec("SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))", {rewrite_lock()});
    conn->exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {"strata-tier-pack:" + cfg.name + ":" + pack});
  }

  // Holds `tier gc`'s lock exclusively for a scope: no freeze batch is between storing a pack and committing it.
  struct GcExclusive {
    Impl& m;
    explicit GcExclusive(Impl& i) : m(i) { m.conn->exec("SELECT pg_advisory_lock(hashtextextended($1, 0))", {m.gc_lock()}); }
    ~GcExclusive() {
      try {
        m.conn->exec("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {m.gc_lock()});
      } catch (const StrataError&) {
      }
    }
  };

  // Inside a transaction, with GcExclusive held: removes every incomplete write under tier/<entity>/. With no freeze
  // storing (gc lock) and no index rewrite in flight (rewrite lock), each one is a crashed writer's leftover — and a
  // rewritten index copy still holds the wrapped keys of every entry that was live in it, erased ones included.
  size_t sweep_incomplete_writes() {
    conn->exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {rewrite_lock()});
    size_t n = archive().remove_incomplete_writes();
    if (n) log::info("tier_incomplete_writes_removed", {{"entity", cfg.name}, {"objects", uint64_t{n}}});
    return n;
  }
  std::string ent(const std::string& key) const { return cfg.name + "/" + key; }

  ArchiveStore& archive() {
    if (!store) fail(ErrorCode::kUsage, who + ": this operation needs the repository (--repo)");
    return *store;
  }

  std::vector<Column> columns_of(const std::string& table) {
    auto r = conn->exec(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef OR a.attidentity <> '' "
        "FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
        "AND a.attgenerated = '' ORDER BY a.attnum",
        {q(table)});
    if (r.rows.empty()) fail(ErrorCode::kUsage, who + ": table " + table + " does not exist in " + conn->describe() + "; check the config or run `strata tier setup`");
    std::vector<Column> out;
    for (auto& row : r.rows) out.push_back({*row[0], *row[1], *row[2] == "t", *row[3] == "t"});
    return out;
  }

  static bool has_col(const std::vector<Column>& cs, const std::string& n) {
    return std::any_of(cs.begin(), cs.end(), [&](const Column& c) { return c.name == n; });
  }

  void load_schema() {
    if (schema_loaded) return;
    tables.clear();
    Table root;
    root.name = cfg.root;
    root.current = columns_of(cfg.root);
    for (const auto& need : {cfg.key, cfg.activity, cfg.tier_column, cfg.location_column}) {
      if (!has_col(root.current, need)) {
        fail(ErrorCode::kUsage, who + ": table " + cfg.root + " has no column " + need + "; run `strata tier setup --entity " + cfg.name + " --apply` or fix the config");
      }
    }
    for (const auto& c : root.current) {
      if (c.name == cfg.key) key_type = c.type;
      if (c.name == cfg.activity) activity_type = c.type;
    }
    auto bookkeeping = conn->exec("SELECT to_regclass('strata_tier_events') IS NOT NULL AND to_regclass('strata_tier_released') IS NOT NULL");
    if (bookkeeping.rows[0][0] != PgValue("t")) {
      fail(ErrorCode::kUsage, who + ": the tables strata_tier_events / strata_tier_released are missing in " + conn->describe() +
                                  "; run `strata tier setup --entity " + cfg.name + " --apply`");
    }
    std::set<std::string> skip(cfg.exclude.begin(), cfg.exclude.end());
    skip.insert(cfg.tier_column);
    skip.insert(cfg.location_column);
    for (const auto& c : root.current) {
      if (!skip.count(c.name)) {
        root.cols.push_back(c.name);
        root.types.push_back(c.type);
      }
    }
    root.key_expr = "t0." + q(cfg.key);
    std::string any = " = ANY($1::" + key_type + "[])";
    root.from_where = "FROM " + root_q() + " t0 WHERE " + root.key_expr + any;
    tables.push_back(std::move(root));

    std::vector<const ChildTable*> kids;
    for (const auto& c : cfg.children) kids.push_back(&c);
    for (const ChildTable* c : kids) {
      Table t;
      t.name = c->table;
      t.current = columns_of(c->table);
      for (const auto& col : column_list(c->fk)) {
        if (!has_col(t.current, col)) fail(ErrorCode::kUsage, who + ": table " + c->table + " has no column " + col);
      }
      std::set<std::string> ex(c->exclude.begin(), c->exclude.end());
      for (const auto& col : t.current) {
        if (!ex.count(col.name)) {
          t.cols.push_back(col.name);
          t.types.push_back(col.type);
        }
      }
      // Walk up to the table that references the root; every hop is one join (on every column of its foreign key).
      std::vector<std::string> joins, conds;
      const ChildTable* cur = c;
      int i = 0;
      for (;;) {
        auto fk = column_list(cur->fk), pk = parent_columns(cfg, *cur);
        bool to_root = cur->parent.empty() || cur->parent == cfg.root;
        Table::Hop hop{to_root ? cfg.root : cur->parent, {}};
        for (size_t k = 0; k < fk.size(); ++k) hop.on.push_back({fk[k], pk[k]});
        t.hops.push_back(hop);
        if (to_root) {
          // The root is not joined: the foreign key guarantees the row exists, and its key column identifies it.
          for (size_t k = 0; k < fk.size(); ++k) {
            if (pk[k] == cfg.key) t.key_col = fk[k];
          }
          break;
        }
        const ChildTable* up = nullptr;
        for (const auto& p : cfg.children) {
          if (p.table == cur->parent) up = &p;
        }
        std::string next = "t" + std::to_string(i + 1);
        joins.push_back(q(up->table) + " " + next);
        for (size_t k = 0; k < fk.size(); ++k) conds.push_back("t" + std::to_string(i) + "." + q(fk[k]) + " = " + next + "." + q(pk[k]));
        cur = up;
        ++i;
      }
      t.key_expr = "t" + std::to_string(i) + "." + q(t.key_col);
      conds.push_back(t.key_expr + any);
      std::string where;
      for (size_t k = 0; k < conds.size(); ++k) where += (k ? " AND " : "") + conds[k];
      std::string from = q(c->table) + " t0";
      for (const auto& j : joins) from += ", " + j;
      t.from_where = "FROM " + from + " WHERE " + where;
      std::string using_list;
      for (size_t k = 0; k < joins.size(); ++k) using_list += (k ? ", " : "") + joins[k];
      t.using_where = (using_list.empty() ? "" : "USING " + using_list + " ") + "WHERE " + where;
      tables.push_back(std::move(t));
    }
    // Order: a table after every table it references inside the entity, configured edge or second path (thaw
    // inserts in this order, freeze deletes in reverse). depth = the longest such chain; without second paths it
    // is the configured depth, so documents keep their table order.
    seconds = second_paths(*conn, cfg);
    std::map<std::string, std::set<std::string>> refs;
    for (const auto& c : cfg.children) refs[c.table].insert(c.parent.empty() ? cfg.root : c.parent);
    for (const auto& f : seconds) refs[f.table].insert(f.ref_table);
    std::map<std::string, int> rank{{cfg.root, 0}};
    std::set<std::string> visiting;
    std::function<int(const std::string&)> rank_of = [&](const std::string& n) {
      auto it = rank.find(n);
      if (it != rank.end()) return it->second;
      if (!visiting.insert(n).second) {
        fail(ErrorCode::kUsage, who + ": the foreign keys between its child tables form a cycle through " + n +
                                    ", so no insert order restores them; drop one of the constraints on that cycle");
      }
      int r = 0;
      for (const auto& p : refs[n]) r = std::max(r, rank_of(p) + 1);
      return rank[n] = r;
    };
    for (auto& t : tables) t.depth = rank_of(t.name);
    std::stable_sort(tables.begin() + 1, tables.end(), [](const Table& a, const Table& b) { return a.depth < b.depth; });
    for (auto& t : tables) {
      for (const auto& c : cfg.children) {
        if (!c.parent.empty() && c.parent != cfg.root && c.parent == t.name) t.parent = true;
      }
      for (const auto& f : seconds) {
        if (f.ref_table == t.name) t.parent = true;  // a second path's referencing rows need its rows locked too
      }
      for (size_t k = 0; k < t.cols.size(); ++k) t.col_list += (k ? ", t0." : "t0.") + q(t.cols[k]);
      t.json_head = "{\"columns\":" + json(t.cols).dump() + ",\"name\":" + json(t.name).dump() + ",\"rows\":[";
      t.json_tail = "],\"types\":" + json(t.types).dump() + "}";
    }
    schema_loaded = true;
  }

  std::vector<const Table*> table_ptrs() const {
    std::vector<const Table*> out;
    for (const auto& t : tables) out.push_back(&t);
    return out;
  }

  void record_event(const std::string& key, const std::string& event, const std::string& detail) {
    try {
      conn->exec("INSERT INTO strata_tier_events (entity, key, event, detail) VALUES ($1, $2, $3, $4)",
                 {cfg.name, key, event, detail});
    } catch (const StrataError& e) {
      log::warn("tier_event_not_recorded", {{"entity", cfg.name}, {"event", event}, {"reason", e.what()}});
    }
  }

  // ---------------------------------------------------------------- freeze

  struct Snap {
    std::vector<TableRows> t;  // per table, archived columns only
    Digest32 digest{};
    std::string location;
  };

  // True when the entity has been inactive for freeze_after ($2 is freeze_after in seconds), by the database's clock.
  std::string inactive_expr(const std::string& alias) const {
    return "coalesce(" + alias + "." + q(cfg.activity) + " < now() - make_interval(secs => $2::bigint), false)";
  }

  [[noreturn]] void not_utf8(std::string_view key) {
    fail(ErrorCode::kSourceFailed, "entity " + ent(std::string(key)) + " has text that is not valid UTF-8; the database encoding must be UTF8");
  }

  std::unordered_map<std::string, Snap> snapshot(const std::vector<std::string>& keys) {
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
    auto ptrs = table_ptrs();
    for (auto& [k, s] : snaps) s.digest = spans_digest(ptrs, s.t);
    return snaps;
  }

  std::string document(const std::string& key, const Snap& s, const std::string& now) {
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
  std::vector<std::string> commit_batch(std::unordered_map<std::string, Snap>& snaps, FreezeStats& stats, const FreezeHooks& hooks) {
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

  // Batches of warm keys in this worker's share (hash of the key modulo parts) until none is left or `limit`.
  // The freeze workers' shared position in the warm keys. Keyset pagination over (activity, key): each batch starts
  // where the last one ended, so a run never walks the index entries of rows it already froze (dead until vacuum:
  // restarting from the oldest every time cost ~15 ms per batch and grew with the run), an entity skipped because it
  // changed is not retried in this run, and workers never get overlapping batches (so never wait on each other's
  // row locks). One ordered query without a per-worker filter keeps the plan an index range scan: a hash filter
  // made the planner expect a few hundred matches and sort the whole remaining range instead.
  struct KeyFeed {
    std::mutex mu;
    PgValue last_activity, last_key;
    size_t remaining = SIZE_MAX;
    bool done = false;
  };

  std::vector<std::string> next_keys(KeyFeed& feed) {
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
  bool has_released(const std::string& pack_id) {
    return conn->scalar("SELECT EXISTS (SELECT 1 FROM strata_tier_released WHERE entity = $1 AND starts_with(location, $2))",
                        {cfg.name, pack_id + "/"}) == "t";
  }

  // freeze_batch, and when the batch fails in the database, once more entity by entity: only the entity that
  // cannot be frozen stays behind, recorded (freeze_failed in strata_tier_events, counted by `tier status`) and
  // named in the log with its key. A storage error is not an entity's fault and ends the run.
  FreezeStats freeze_batch_or_each(const std::vector<std::string>& keys, const FreezeHooks& hooks) {
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

  FreezeStats freeze_loop(KeyFeed& feed, const FreezeHooks& hooks) {
    FreezeStats total;
    for (;;) {
      std::vector<std::string> keys = next_keys(feed);
      if (keys.empty()) break;
      auto tb = std::chrono::steady_clock::now();
      FreezeStats b = freeze_batch_or_each(keys, hooks);
      total.frozen += b.frozen;
      total.skipped += b.skipped;
      total.failed += b.failed;
      total.packs += b.packs;
      total.stored_bytes += b.stored_bytes;
      double secs = since(tb);
      log::info("tier_freeze_batch", {{"entity", cfg.name}, {"frozen", uint64_t{b.frozen}}, {"skipped", uint64_t{b.skipped}},
                                      {"seconds", secs}, {"per_second", secs > 0 ? b.frozen / secs : 0.0}});
    }
    return total;
  }

  FreezeStats freeze_batch(const std::vector<std::string>& keys, const FreezeHooks& hooks,
                           std::vector<std::string>* done_out = nullptr) {
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
    SharedAdvisoryLock in_flight(*conn, gc_lock());
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
    if (done_out) *done_out = done;
    log::debug("tier_freeze_phases", {{"entity", cfg.name}, {"snapshot_ms", snap_s * 1000}, {"store_ms", store_s * 1000},
                                      {"commit_ms", (since(t0) - snap_s - store_s) * 1000}});
    return st;
  }

  // The root key owning a row `alias` of table `t`, as SQL: its key column, or a scalar subquery up its path
  // (aliases `prefix`1, 2, ...).
  std::string owner_sql(const Table& t, const std::string& alias, const std::string& prefix) const {
    if (t.hops.size() == 1) return alias + "." + q(t.key_col);
    std::string from, where, prev = alias;
    for (size_t i = 0; i + 1 < t.hops.size(); ++i) {
      std::string a = prefix + std::to_string(i + 1);
      from += (i ? ", " : "") + q(t.hops[i].parent) + " " + a;
      for (const auto& [fk, pk] : t.hops[i].on) where += (where.empty() ? "" : " AND ") + prev + "." + q(fk) + " = " + a + "." + q(pk);
      prev = a;
    }
    return "(SELECT " + prev + "." + q(t.key_col) + " FROM " + from + " WHERE " + where + ")";
  }

  const Table& table_named(const std::string& n) const {
    for (const auto& t : tables) {
      if (t.name == n) return t;
    }
    fail(ErrorCode::kUsage, who + ": table " + n + " is not part of the entity");
  }

  // Keys of the batch `arr` whose rows are linked through a second path to rows another entity (or none) owns,
  // both ways: one of its rows references such a row, or such a row references one of its rows. key -> why.
  std::map<std::string, std::string> entangled(const std::string& arr) {
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

  // ---------------------------------------------------------------- thaw

  struct Insert {
    std::string table;
    int depth = 0;
    std::string columns;  // quoted column list
    std::string data;     // COPY text (batch thaw)
    std::string values;   // "(lit, lit), (...)" for one INSERT (on-demand thaw: one round trip for every table)
  };

  // The cached schema may predate an ALTER TABLE: on an incompatibility, look again once before failing.
  void stage_document(const std::string& key, const ReadEntry& entry, std::map<std::string, Insert>& out, bool literals = false) {
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
  void stage_one(const std::string& key, const ReadEntry& entry, std::map<std::string, Insert>& out, bool literals) {
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
    std::vector<const Table*> ptrs;
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
      ptrs.push_back(t);
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
    Digest32 d = rows_digest(ptrs, rows);
    if (digest_hex(d) != doc.value("digest", "") || d != entry.digest) {
      fail(ErrorCode::kCorrupt, what + ": rows do not match the recorded digest; the archive is damaged");
    }
  }

  // Appends 'text' (standard_conforming_strings is pinned on, so only quotes are doubled) or NULL.
  static void sql_literal(std::string& out, const PgValue& v) {
    if (!v) {
      out += "NULL";
      return;
    }
    out += '\'';
    for (char ch : *v) {
      if (ch == '\'') out += '\'';
      out += ch;
    }
    out += '\'';
  }

  // The INSERTs of literal-staged rows as one multi-statement text, parents first.
  static std::string insert_statements(std::map<std::string, Insert>& staged) {
    std::vector<Insert*> order;
    for (auto& [k, ins] : staged) order.push_back(&ins);
    std::stable_sort(order.begin(), order.end(), [](Insert* a, Insert* b) { return a->depth < b->depth; });
    std::string sql;
    for (Insert* ins : order) {
      if (!ins->values.empty()) sql += "INSERT INTO " + quote_ident(ins->table) + " (" + ins->columns + ") VALUES " + ins->values + ";\n";
    }
    return sql;
  }

  void run_inserts(std::map<std::string, Insert>& staged) {
    std::vector<Insert*> order;
    for (auto& [k, ins] : staged) order.push_back(&ins);
    std::stable_sort(order.begin(), order.end(), [](Insert* a, Insert* b) { return a->depth < b->depth; });
    for (Insert* ins : order) {
      if (ins->data.empty()) continue;
      conn->copy_in("COPY " + q(ins->table) + " (" + ins->columns + ") FROM STDIN", ins->data);
    }
  }

  ThawOutcome thaw_one(const std::string& key);
  ThawOutcome thaw_one_locked(const std::string& key);
  void check_before_freeze();
  size_t erase(const std::string& key);
  ThawStats thaw_loop(bool all_archived, size_t limit);

  // Inside the thawing transaction: remember which archive entries the thaw made obsolete. The entries are
  // destroyed later in bulk (reap_released), so an on-demand thaw does not wait for an index rewrite, and a crash
  // right after the commit cannot leave an archive nobody knows about.
  void release_in_tx(const std::vector<std::pair<std::string, std::string>>& loc_keys) {
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

  // Destroys released entries (rows of strata_tier_released): one index rewrite per pack, under a per-pack lock.
  size_t reap_entries(const std::vector<std::pair<std::string, std::string>>& loc_keys, std::set<std::string>& failed_packs) {
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

  size_t reap_released() {
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
};

Tierer::Tierer(EntityConfig config, Repository* repo) : impl_(std::make_unique<Impl>(std::move(config), repo)) {}
Tierer::~Tierer() = default;
const EntityConfig& Tierer::config() const { return impl_->cfg; }

std::string Tierer::setup_ddl() {
  const auto& c = impl_->cfg;
  auto q = [](const std::string& s) { return quote_ident(s); };
  auto idx = [&](const std::string& t, const std::string& col) { return q((t + "_" + col + "_strata_idx").substr(0, 63)); };
  std::string s;
  s += "ALTER TABLE " + q(c.root) + " ADD COLUMN IF NOT EXISTS " + q(c.tier_column) +
       " text NOT NULL DEFAULT 'hot' CHECK (" + q(c.tier_column) + " IN ('hot', 'warm', 'archived', 'restoring'));\n";
  s += "ALTER TABLE " + q(c.root) + " ADD COLUMN IF NOT EXISTS " + q(c.location_column) + " text;\n";
  s += "CREATE INDEX IF NOT EXISTS " + idx(c.root, c.tier_column) + " ON " + q(c.root) + " (" + q(c.tier_column) + ", " +
       q(c.activity) + ");\n";
  // For `tier gc`: which archive entries are still referenced, one index probe per entry.
  s += "CREATE INDEX IF NOT EXISTS " + idx(c.root, c.location_column) + " ON " + q(c.root) + " (" + q(c.location_column) +
       ") WHERE " + q(c.location_column) + " IS NOT NULL;\n";
  for (const auto& ch : c.children) {
    std::string cols, name;
    for (const auto& col : column_list(ch.fk)) {
      cols += (cols.empty() ? "" : ", ") + q(col);
      name += (name.empty() ? "" : "_") + col;
    }
    s += "CREATE INDEX IF NOT EXISTS " + idx(ch.table, name) + " ON " + q(ch.table) + " (" + cols + ");\n";
  }
  // A second path's referencing columns: a freeze looks up, under its locks, which rows point at the entity's.
  try {
    for (const auto& f : second_paths(*impl_->conn, c)) {
      std::string cols, name;
      for (const auto& col : f.cols) {
        cols += (cols.empty() ? "" : ", ") + q(col);
        name += (name.empty() ? "" : "_") + col;
      }
      s += "CREATE INDEX IF NOT EXISTS " + idx(f.table, name) + " ON " + q(f.table) + " (" + cols + ");\n";
    }
  } catch (const StrataError&) {
    // The contract check after the DDL names the problem.
  }
  s += "CREATE TABLE IF NOT EXISTS strata_tier_events (at timestamptz NOT NULL DEFAULT now(), entity text NOT NULL, "
       "key text, event text NOT NULL, detail text);\n";
  s += "CREATE INDEX IF NOT EXISTS strata_tier_events_at_idx ON strata_tier_events (entity, at);\n";
  s += "CREATE TABLE IF NOT EXISTS strata_tier_released (entity text NOT NULL, key text NOT NULL, location text NOT NULL, "
       "released_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (entity, location));\n";
  return s;
}

void Tierer::apply_setup() {
  impl_->conn->exec(setup_ddl());
  impl_->schema_loaded = false;
  check_schema();
  log::info("tier_setup", {{"entity", impl_->cfg.name}});
}

void Tierer::check_schema() { check_schema_contract(*impl_->conn, impl_->cfg); }

CooldownStats Tierer::cooldown(size_t limit) {
  auto& m = *impl_;
  m.load_schema();
  auto t0 = std::chrono::steady_clock::now();
  CooldownStats st;
  auto q = [](const std::string& s) { return quote_ident(s); };
  const auto& c = m.cfg;
  // Each batch is its own short transaction found through the (tier, activity) index; rows a live session holds
  // are skipped and picked up next time instead of waited for.
  auto run = [&](const std::string& from, const std::string& to, const std::string& cond, size_t& counter) {
    while (counter < limit) {
      size_t n = std::min(c.cooldown_batch, limit - counter);
      auto r = m.conn->exec("UPDATE " + q(c.root) + " r SET " + q(c.tier_column) + " = '" + to + "' FROM (SELECT " +
                                q(c.key) + " FROM " + q(c.root) + " WHERE " + q(c.tier_column) + " = '" + from + "' AND " +
                                q(c.activity) + cond + " now() - make_interval(secs => $1::bigint) LIMIT " +
                                std::to_string(n) + " FOR UPDATE SKIP LOCKED) s WHERE r." + q(c.key) + " = s." + q(c.key),
                            {std::to_string(c.warm_after)});
      counter += r.affected;
      if (r.affected < n) break;
    }
  };
  run("hot", "warm", " <", st.warmed);
  size_t limit_rewarm = 0;
  run("warm", "hot", " >=", limit_rewarm);
  st.rewarmed = limit_rewarm;
  st.seconds = since(t0);
  log::info("tier_cooldown", {{"entity", c.name}, {"warmed", uint64_t{st.warmed}}, {"rewarmed", uint64_t{st.rewarmed}},
                              {"seconds", st.seconds}});
  return st;
}

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
  auto got = m.conn->exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {"strata-tier-freeze:" + m.cfg.name});
  if (*got.rows[0][0] != "t") fail(ErrorCode::kLocked, "entity " + m.cfg.name + ": another freeze is running; wait for it or stop it");
  m.reap_released();
  FreezeStats total;
  size_t parts = std::max<size_t>(1, m.cfg.workers);
  Impl::KeyFeed feed;
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
  m.conn->exec("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {"strata-tier-freeze:" + m.cfg.name});
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
  for (size_t i = 0; i < keys.size(); i += impl_->cfg.batch) {
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
  }
  total.seconds = since(t0);
  return total;
}

ThawOutcome Tierer::thaw(const std::string& key) { return impl_->thaw_one(key); }

ThawOutcome Tierer::Impl::thaw_one(const std::string& key) {
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
  if (key.find('\0') != std::string::npos) fail(ErrorCode::kUsage, "entity key contains a NUL byte; no entity has such a key");
  auto t0 = std::chrono::steady_clock::now();
  double t_lock = 0, t_read = 0, t_stage = 0, t_exec = 0;
  auto q = [](const std::string& s) { return quote_ident(s); };
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
      std::map<std::string, Impl::Insert> staged;
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
  auto q = [](const std::string& s) { return quote_ident(s); };
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
  while (st.thawed < limit) {
    size_t n = std::min(m.cfg.batch, limit - st.thawed);
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
      std::map<std::string, Impl::Insert> staged;
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
      continue;
    }
    // This batch's entries while their pack's index is still warm in the cache; reap_released catches the rest.
    std::set<std::string> failed_packs;
    m.reap_entries(reap_now, failed_packs);
  }
  for (const auto& k : failed) m.record_event(k, "thaw_failed", "see the log");
  st.seconds = since(t0);
  return st;
}

size_t Tierer::reap_released() { return impl_->reap_released(); }

size_t Tierer::collect_garbage() {
  auto& m = *impl_;
  m.load_schema();
  auto& a = m.archive();
  auto q = [](const std::string& s) { return quote_ident(s); };
  const auto& c = m.cfg;
  if (c.keep_after_thaw) {
    fail(ErrorCode::kUsage, "entity " + c.name + " keeps archives after thaw (keep_after_thaw = true), so unreferenced entries are kept on purpose; gc does nothing for it");
  }
  std::string index = (c.root + "_" + c.location_column + "_strata_idx").substr(0, 63);
  if (m.conn->exec("SELECT to_regclass($1) IS NOT NULL", {q(index)}).rows[0][0] != PgValue("t")) {
    fail(ErrorCode::kUsage, "entity " + c.name + ": gc needs the index on " + c.root + "." + c.location_column + "; run `strata tier setup --entity " + c.name + " --apply`");
  }
  auto t0 = std::chrono::steady_clock::now();
  // Exclusive: waits for freezes that have stored a pack but not committed it, and holds new ones before they
  // store anything. Without it, such a pack's entries look unreferenced and would be destroyed under the freeze,
  // which would then commit locations pointing at nothing. (A grace period by age would rely on clocks and on
  // freezes being fast; the lock relies on neither.)
  Impl::GcExclusive exclusive(m);
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
    auto r = m.conn->exec("SELECT " + q(c.location_column) + " FROM " + q(c.root) + " WHERE " + q(c.location_column) +
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

size_t Tierer::erase(const std::string& key) {
  try {
    return impl_->erase(key);
  } catch (const StrataError& e) {
    std::string msg = e.what();
    if (msg.find(impl_->ent(key)) != std::string::npos) throw;
    throw StrataError(e.code(), "entity " + impl_->ent(key) + ": erase failed: " + msg);
  }
}

size_t Tierer::Impl::erase(const std::string& key) {
  auto& m = *this;
  m.load_schema();
  auto q = [](const std::string& s) { return quote_ident(s); };
  // No freeze is between storing and committing a pack, and (below) no index rewrite is in flight: every incomplete
  // write under tier/<entity>/ is a crashed writer's, and may hold this key — it goes too.
  Impl::GcExclusive exclusive(m);
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
  m.repo->storage().put("tier/" + m.cfg.name + "/erased/" + kh_hex, as_bytes(rec.dump()), PutMode::kOverwrite);
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

TierStatus Tierer::status() {
  auto& m = *impl_;
  m.load_schema();
  auto q = [](const std::string& s) { return quote_ident(s); };
  const auto& c = m.cfg;
  TierStatus s;
  s.entity = c.name;
  auto r = m.conn->exec("SELECT " + q(c.tier_column) + ", count(*) FROM " + q(c.root) + " GROUP BY 1 ORDER BY 1");
  for (auto& row : r.rows) s.tiers.emplace_back(row[0].value_or("null"), std::stoull(*row[1]));
  s.oldest_warm = m.conn->exec("SELECT to_char(min(" + q(c.activity) + ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM " +
                               q(c.root) + " WHERE " + q(c.tier_column) + " = 'warm'")
                      .rows[0][0]
                      .value_or("");
  s.freeze_backlog = std::stoull(*m.conn->exec("SELECT count(*) FROM " + q(c.root) + " WHERE " + q(c.tier_column) + " = 'warm' AND " +
                                                   q(c.activity) + " < now() - make_interval(secs => $1::bigint)",
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
    for (const auto& o : m.repo->storage().list("tier/" + c.name + "/packs/")) {
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
