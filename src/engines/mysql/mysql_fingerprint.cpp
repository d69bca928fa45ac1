#include "engines/mysql/mysql_fingerprint.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace strata::mysql {

using nlohmann::json;

namespace {

std::string quote_name(const std::string& s) {
  std::string out = "`";
  for (char c : s) out += c == '`' ? std::string("``") : std::string(1, c);
  return out + "`";
}

// Persistent base tables outside the system schemas (MEMORY tables are empty after any restart by design).
constexpr const char* kTablesSql =
    "SELECT table_schema, table_name, coalesce(table_rows, 0) FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
    "AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') AND engine <> 'MEMORY' "
    "ORDER BY 1, 2";

// One client session: counts of all `names` ("db\ttable") in one consistent snapshot. Returns db.table -> rows.
std::map<std::string, long long> count_all(const MysqlConn& conn, const std::vector<std::pair<std::string, std::string>>& names) {
  std::map<std::string, long long> out;
  if (names.empty()) return out;
  std::string sql = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY;";
  for (const auto& [db, t] : names) {
    std::string label = db + "." + t;
    std::string lit = "'";
    for (char c : label) lit += c == '\'' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    lit += "'";
    sql += " SELECT " + lit + ", COUNT(*) FROM " + quote_name(db) + "." + quote_name(t) + ";";
  }
  sql += " COMMIT;";
  for (const auto& row : conn.query(sql)) {
    if (row.size() == 2) out[row[0]] = std::stoll(row[1]);
  }
  return out;
}

}  // namespace

json take_fingerprint(const MysqlConn& conn, long long max_rows, size_t max_tables) {
  json out = {{"tables", json::object()}, {"estimated", json::object()}};
  std::vector<std::pair<std::string, std::string>> exact;
  for (const auto& row : conn.query(kTablesSql)) {
    if (row.size() < 3) continue;
    long long estimate = std::stoll(row[2]);
    if (estimate > max_rows || exact.size() >= max_tables) {
      out["estimated"][row[0] + "." + row[1]] = estimate;
      continue;
    }
    exact.emplace_back(row[0], row[1]);
  }
  for (const auto& [name, n] : count_all(conn, exact)) out["tables"][name] = n;
  out["gtid"] = conn.query_value("SELECT @@gtid_current_pos");
  return out;
}

FingerprintCheck check_fingerprint(const MysqlConn& restored, const json& at_start, const json& at_end) {
  FingerprintCheck r;
  if (!at_start.contains("tables") || !at_end.contains("tables")) return r;
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& [name, v] : at_end["tables"].items()) {
    if (!at_start["tables"].contains(name)) continue;
    auto dot = name.find('.');
    names.emplace_back(name.substr(0, dot), name.substr(dot + 1));
  }
  std::map<std::string, long long> got;
  std::string why;
  try {
    got = count_all(restored, names);
  } catch (const StrataError& e) {
    why = e.what();
  }
  for (const auto& [db, t] : names) {
    std::string name = db + "." + t;
    long long a = at_start["tables"][name].get<long long>(), b = at_end["tables"][name].get<long long>();
    long long lo = std::min(a, b), hi = std::max(a, b);
    ++r.tables;
    r.written += a != b;
    std::string want = lo == hi ? std::to_string(lo) : std::to_string(lo) + ".." + std::to_string(hi) + " (written during the backup)";
    auto it = got.find(name);
    if (it == got.end()) {
      r.mismatches.push_back(name + ": cannot be counted" + (why.empty() ? "" : " (" + why + ")") + ", fingerprint " + want + " rows");
    } else if (it->second < lo || it->second > hi) {
      r.mismatches.push_back(name + ": " + std::to_string(it->second) + " rows, fingerprint " + want);
    }
  }
  return r;
}

}  // namespace strata::mysql
