#pragma once
// Internal to the tiering library: the state of one Tierer (a connection, the entity's tables as SQL, the archive
// store) and the operations its rooms share. Each room is one file: session.cpp (connection, events), tables.cpp (the
// entity's tables and their SQL), setup.cpp (DDL, contract, cooldown), freeze.cpp and freeze_commit.cpp, thaw.cpp and
// thaw_batch.cpp, reap.cpp (reap and gc), erase.cpp, status.cpp; rows.hpp (row encodings and digests) and locks.hpp
// (advisory locks) are shared by them. The public interface is tiering.hpp.
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/error.hpp"
#include "tiering/archive.hpp"
#include "tiering/pg.hpp"
#include "tiering/locks.hpp"
#include "tiering/rows.hpp"
#include "tiering/schema.hpp"
#include "tiering/tiering.hpp"

namespace strata::tiering {

constexpr int kDocVersion = 1;

// Seconds since t0.
double since(std::chrono::steady_clock::time_point t0);

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

// One entity's rows as a freeze's snapshot read them.
struct Snap {
  std::vector<TableRows> t;  // per table, archived columns only
  Digest32 digest{};
  std::string location;
};

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

// One table's rows of the entities a thaw stages, as COPY text or as INSERT values.
struct Insert {
  std::string table;
  int depth = 0;
  std::string columns;  // quoted column list
  std::string data;     // COPY text (batch thaw)
  std::string values;   // "(lit, lit), (...)" for one INSERT (on-demand thaw: one round trip for every table)
};

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
  RunControl control;  // Tierer::set_control; copied to workers

  bool stop_requested() const { return control.stop && control.stop(); }
  void report_batch(const BatchDone& b) const {
    if (control.batch_done) control.batch_done(b);
  }

  Impl(EntityConfig c, Repository* r);

  std::string q(const std::string& s) const { return quote_ident(s); }
  std::string root_q() const { return q(cfg.root); }
  std::string ent(const std::string& key) const { return cfg.name + "/" + key; }
  ArchiveStore& archive();
  void record_event(const std::string& key, const std::string& event, const std::string& detail);

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
        own.control = control;
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

  // ---- locks (names in locks.hpp)
  std::string gc_lock() const { return gc_lock_name(cfg.name); }
  // Index rewrites (reap, gc, erase) of one pack: see lock_pack_rewrite in locks.hpp.
  void lock_pack_rewrite(const std::string& pack) { tiering::lock_pack_rewrite(*conn, cfg.name, pack); }
  size_t sweep_incomplete_writes();

  // ---- tables.cpp
  std::vector<Column> columns_of(const std::string& table);
  static bool has_col(const std::vector<Column>& cs, const std::string& n);
  void load_schema();
  std::vector<std::string> table_names() const;
  std::string owner_sql(const Table& t, const std::string& alias, const std::string& prefix) const;
  const Table& table_named(const std::string& n) const;

  // ---- freeze.cpp, freeze_commit.cpp
  void check_before_freeze();
  std::string inactive_expr(const std::string& alias) const;
  [[noreturn]] void not_utf8(std::string_view key);
  std::unordered_map<std::string, Snap> snapshot(const std::vector<std::string>& keys);
  std::string document(const std::string& key, const Snap& s, const std::string& now);
  std::vector<std::string> next_keys(KeyFeed& feed);
  bool has_released(const std::string& pack_id);
  FreezeStats freeze_batch_or_each(const std::vector<std::string>& keys, const FreezeHooks& hooks);
  FreezeStats freeze_loop(KeyFeed& feed, const FreezeHooks& hooks);
  FreezeStats freeze_batch(const std::vector<std::string>& keys, const FreezeHooks& hooks);
  std::vector<std::string> commit_batch(std::unordered_map<std::string, Snap>& snaps, FreezeStats& stats, const FreezeHooks& hooks);
  std::map<std::string, std::string> entangled(const std::string& arr);

  // ---- thaw.cpp, thaw_batch.cpp
  void stage_document(const std::string& key, const ReadEntry& entry, std::map<std::string, Insert>& out, bool literals = false);
  void stage_one(const std::string& key, const ReadEntry& entry, std::map<std::string, Insert>& out, bool literals);
  static std::string insert_statements(std::map<std::string, Insert>& staged);
  void run_inserts(std::map<std::string, Insert>& staged);
  ThawOutcome thaw_one(const std::string& key);
  ThawOutcome thaw_one_locked(const std::string& key);
  ThawStats thaw_loop(bool all_archived, size_t limit);
  void release_in_tx(const std::vector<std::pair<std::string, std::string>>& loc_keys);

  // ---- reap.cpp, erase.cpp
  size_t reap_entries(const std::vector<std::pair<std::string, std::string>>& loc_keys, std::set<std::string>& failed_packs);
  size_t reap_released();
  size_t erase(const std::string& key);
};

}  // namespace strata::tiering
