#include "engines/postgres/fingerprint.hpp"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace strata::pg {

using nlohmann::json;

namespace {

// Permanent plain tables only: unlogged and temporary tables are not in a backup by design, and a partitioned
// table's rows are counted in its leaf partitions (ONLY below), never twice.
constexpr const char* kTablesSql =
    "SELECT n.nspname, c.relname, c.relfilenode::text, greatest(c.reltuples, 0)::bigint::text, "
    "coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)::text "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
    "WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1, 2";

std::vector<std::string> databases(const PgTarget& base) {
  PgTarget t = base;
  PgClient c(t);
  auto rows = c.query("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1");
  std::vector<std::string> out;
  for (size_t i = 0; i < rows.size(); ++i) out.emplace_back(rows.get(i, 0));
  return out;
}

std::string count_sql(const std::string& schema, const std::string& table) {
  return "SELECT count(*)::text FROM ONLY " + quote_ident(schema) + "." + quote_ident(table);
}

}  // namespace

json take_fingerprint(const PgTarget& base, const FingerprintLimits& limits) {
  json out = {{"taken_us", std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count()},
              {"databases", json::object()},
              {"skipped", json::array()}};
  size_t counted = 0;
  for (const auto& db : databases(base)) {
    PgTarget t = base;
    t.dbname = db;
    PgClient c(t);
    // One snapshot per database: the counts of its tables belong to one instant.
    PgTx tx(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    json tables = json::object();
    auto rows = c.query(kTablesSql);
    for (size_t i = 0; i < rows.size(); ++i) {
      std::string schema(rows.get(i, 0)), name(rows.get(i, 1));
      std::string key = schema + "." + name;
      long long estimate = std::stoll(std::string(rows.get(i, 3)));
      if (estimate > limits.max_rows || counted >= limits.max_tables) {
        out["skipped"].push_back(db + "." + key);
        continue;
      }
      long long n = std::stoll(c.scalar(count_sql(schema, name)));
      tables[key] = json::array({n, std::stoll(std::string(rows.get(i, 4))), std::string(rows.get(i, 2))});
      ++counted;
    }
    out["databases"][db] = {{"size", std::stoll(c.scalar("SELECT pg_database_size(current_database())::text"))},
                            {"tables", tables}};
    if (db == base.dbname || out.value("lsn", "").empty()) {
      out["lsn"] = c.scalar("SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text");
    }
    tx.commit();
  }
  return out;
}

FingerprintCheck check_fingerprint(const PgTarget& restored, const json& at_start, const json& at_end) {
  FingerprintCheck r;
  if (!at_start.contains("databases") || !at_end.contains("databases")) return r;
  for (const auto& [db, end_db] : at_end["databases"].items()) {
    if (!at_start["databases"].contains(db)) continue;  // created during the backup: nothing to hold it to
    const json& start_tables = at_start["databases"][db]["tables"];
    const json& end_tables = end_db["tables"];
    std::vector<std::string> names;
    for (const auto& [name, v] : end_tables.items()) {
      if (start_tables.contains(name)) names.push_back(name);
    }
    if (names.empty()) continue;
    PgTarget t = restored;
    t.dbname = db;
    std::unique_ptr<PgClient> c;
    try {
      c = std::make_unique<PgClient>(t);
    } catch (const StrataError& e) {
      r.mismatches.push_back("database " + db + " does not accept connections in the restored copy: " + e.what());
      continue;
    }
    PgTx tx(*c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    for (const auto& name : names) {
      const json& a = start_tables[name];
      const json& b = end_tables[name];
      long long lo = std::min(a[0].get<long long>(), b[0].get<long long>());
      long long hi = std::max(a[0].get<long long>(), b[0].get<long long>());
      bool written = a != b;  // the count, the write counter or the file (TRUNCATE, VACUUM FULL) changed
      auto dot = name.find('.');
      long long got = -1;
      std::string why;
      try {
        c->exec("SAVEPOINT fp");
        got = std::stoll(c->scalar(count_sql(name.substr(0, dot), name.substr(dot + 1))));
        c->exec("RELEASE SAVEPOINT fp");
      } catch (const StrataError& e) {
        why = e.what();
        try {
          c->exec("ROLLBACK TO SAVEPOINT fp");
        } catch (const StrataError&) {
        }
      }
      ++r.tables;
      r.written += written;
      std::string want = lo == hi ? std::to_string(lo) : std::to_string(lo) + ".." + std::to_string(hi) + " (written during the backup)";
      if (got < 0) {
        r.mismatches.push_back(db + "." + name + ": cannot be read (" + why + "), fingerprint " + want + " rows");
      } else if (got < lo || got > hi) {
        r.mismatches.push_back(db + "." + name + ": " + std::to_string(got) + " rows, fingerprint " + want);
      }
    }
    tx.rollback();
  }
  return r;
}

}  // namespace strata::pg
