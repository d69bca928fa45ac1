// The entity's tables as this session sees them: columns, archived columns, and the SQL that reaches every row of a
// batch of entities through its path of foreign keys up to the root.
#include "tiering/tierer_impl.hpp"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace strata::tiering {

using json = nlohmann::json;

std::vector<Column> Tierer::Impl::columns_of(const std::string& table) {
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

bool Tierer::Impl::has_col(const std::vector<Column>& cs, const std::string& n) {
  return std::any_of(cs.begin(), cs.end(), [&](const Column& c) { return c.name == n; });
}

void Tierer::Impl::load_schema() {
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

std::vector<std::string> Tierer::Impl::table_names() const {
  std::vector<std::string> out;
  for (const auto& t : tables) out.push_back(t.name);
  return out;
}

// The root key owning a row `alias` of table `t`, as SQL: its key column, or a scalar subquery up its path
// (aliases `prefix`1, 2, ...).
std::string Tierer::Impl::owner_sql(const Table& t, const std::string& alias, const std::string& prefix) const {
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

const Table& Tierer::Impl::table_named(const std::string& n) const {
  for (const auto& t : tables) {
    if (t.name == n) return t;
  }
  fail(ErrorCode::kUsage, who + ": table " + n + " is not part of the entity");
}

}  // namespace strata::tiering
