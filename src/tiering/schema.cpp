#include "tiering/schema.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "common/error.hpp"
#include "common/pg_client.hpp"

namespace strata::tiering {
namespace {

struct Fk : ForeignKey {
  std::string table_oid, ref_oid;
};

// Every single- or multi-column foreign key of the database, named by relation (pg_class.relname) and first column.
std::vector<Fk> all_foreign_keys(PgClient& c) {
  auto cols = [](const char* rel, const char* keys) {
    return std::string("(SELECT string_agg(a.attname, E'\\n' ORDER BY k.i) FROM unnest(c.") + keys +
           ") WITH ORDINALITY AS k(n, i) JOIN pg_attribute a ON a.attrelid = c." + rel + " AND a.attnum = k.n)";
  };
  auto r = c.exec(
      "SELECT c.conname, c.conrelid::oid::text, s.relname, " + cols("conrelid", "conkey") + ", c.confrelid::oid::text, t.relname, " +
      cols("confrelid", "confkey") + ", c.confdeltype::text, array_length(c.conkey, 1) "
      "FROM pg_constraint c JOIN pg_class s ON s.oid = c.conrelid JOIN pg_class t ON t.oid = c.confrelid "
      "WHERE c.contype = 'f' ORDER BY s.relname, c.conname");
  std::vector<Fk> out;
  for (auto& row : r.rows) {
    Fk f;
    f.name = *row[0];
    f.table_oid = *row[1];
    f.table = *row[2];
    auto split = [](const std::string& v) {
      std::vector<std::string> out;
      size_t start = 0;
      for (size_t i = 0; i <= v.size(); ++i) {
        if (i == v.size() || v[i] == '\n') {
          out.push_back(v.substr(start, i - start));
          start = i + 1;
        }
      }
      return out;
    };
    f.cols = split(*row[3]);
    f.column = f.cols[0];
    f.ref_oid = *row[4];
    f.ref_table = *row[5];
    f.ref_cols = split(*row[6]);
    f.ref_column = f.ref_cols[0];
    f.on_delete = row[7]->empty() ? 'a' : (*row[7])[0];
    f.columns = std::stoi(*row[8]);
    out.push_back(std::move(f));
  }
  return out;
}

// Config table name -> oid (as text), resolved the way every tiering statement names it (quote_ident).
std::map<std::string, std::string> entity_oids(PgClient& c, const EntityConfig& cfg) {
  std::vector<std::string> names{cfg.root};
  for (const auto& ch : cfg.children) names.push_back(ch.table);
  std::vector<std::string> quoted;
  for (const auto& n : names) quoted.push_back(quote_ident(n));
  auto r = c.exec("SELECT n, to_regclass(q)::oid::text FROM unnest($1::text[], $2::text[]) AS v(n, q)",
                  {text_array(names), text_array(quoted)});
  std::map<std::string, std::string> out;
  for (auto& row : r.rows) {
    if (!row[1]) {
      fail(ErrorCode::kUsage, "entity " + cfg.name + ": table " + *row[0] + " does not exist in " + c.describe() +
                                  "; create it or fix [entity." + cfg.name + "]");
    }
    out[*row[0]] = *row[1];
  }
  return out;
}

const char* action_name(char a) {
  switch (a) {
    case 'c': return "ON DELETE CASCADE";
    case 'n': return "ON DELETE SET NULL";
    case 'd': return "ON DELETE SET DEFAULT";
    case 'r': return "ON DELETE RESTRICT";
    default: return "ON DELETE NO ACTION";
  }
}

std::string joined(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

// The configured edge `fk -> pk` is `f` when they pair the same columns (in any order).
bool same_edge(const ForeignKey& f, const std::vector<std::string>& fk, const std::vector<std::string>& pk) {
  if (f.cols.size() != fk.size()) return false;
  std::set<std::pair<std::string, std::string>> a, b;
  for (size_t i = 0; i < fk.size(); ++i) a.insert({fk[i], pk[i]});
  for (size_t i = 0; i < f.cols.size(); ++i) b.insert({f.cols[i], f.ref_cols[i]});
  return a == b;
}

std::string effect(const ForeignKey& f) {
  switch (f.on_delete) {
    case 'c': return "would delete " + f.table + " rows that were never archived";
    case 'n': return "would set " + f.table + "." + f.column + " to NULL in rows outside the entity";
    case 'd': return "would set " + f.table + "." + f.column + " to its default in rows outside the entity";
    default: return "would fail whenever such a row exists, so those entities could never be frozen";
  }
}

}  // namespace

std::string child_toml(const EntityConfig& cfg, const ChildTable& t) {
  std::string s = "[[entity." + cfg.name + ".child]] table = \"" + t.table + "\", fk = \"" + t.fk + "\"";
  if (!t.parent.empty() && t.parent != cfg.root) s += ", parent = \"" + t.parent + "\", parent_key = \"" + t.parent_key + "\"";
  return s;
}

std::vector<ForeignKey> entity_foreign_keys(PgClient& c, const EntityConfig& cfg) {
  auto oids = entity_oids(c, cfg);
  std::set<std::string> mine;
  for (const auto& [n, o] : oids) mine.insert(o);
  std::vector<ForeignKey> out;
  for (const auto& f : all_foreign_keys(c)) {
    if (mine.count(f.ref_oid) || mine.count(f.table_oid)) out.push_back(f);
  }
  return out;
}

std::vector<ChildTable> derive_children(PgClient& c, const EntityConfig& cfg) {
  auto oids = entity_oids(c, cfg);
  auto fks = all_foreign_keys(c);
  std::map<std::string, std::string> name_of;  // oid -> name, for tables reached
  std::string root_oid = oids[cfg.root];
  name_of[root_oid] = cfg.root;
  std::vector<ChildTable> out;
  std::vector<std::string> frontier{root_oid};
  while (!frontier.empty()) {
    std::vector<std::string> next;
    for (const auto& parent : frontier) {
      for (const auto& f : fks) {
        if (f.ref_oid != parent || name_of.count(f.table_oid)) continue;
        ChildTable t;
        t.table = f.table;
        t.fk = joined(f.cols, ",");
        if (parent != root_oid) {
          t.parent = name_of[parent];
          t.parent_key = joined(f.ref_cols, ",");
        } else if (f.columns > 1) {
          if (std::find(f.ref_cols.begin(), f.ref_cols.end(), cfg.key) == f.ref_cols.end()) continue;  // not the entity key
          t.parent_key = joined(f.ref_cols, ",");
        }
        name_of[f.table_oid] = f.table;
        out.push_back(t);
        next.push_back(f.table_oid);
      }
    }
    frontier = std::move(next);
  }
  return out;
}

namespace {

struct Contract {
  std::map<std::string, std::string> oids, name_of;  // config name -> oid, oid -> config name
  std::vector<Fk> fks;
  std::map<std::string, const Fk*> edge_of;  // child oid -> its configured foreign key
};

// Reads the entity's tables and the database's foreign keys; `edge_of` gets every configured edge that exists.
void collect(PgClient& c, const EntityConfig& cfg, Contract& k) {
  k.oids = entity_oids(c, cfg);
  for (const auto& [n, o] : k.oids) k.name_of[o] = n;
  k.fks = all_foreign_keys(c);
  for (const auto& ch : cfg.children) {
    std::string parent = ch.parent.empty() ? cfg.root : ch.parent;
    auto fk = column_list(ch.fk), pk = parent_columns(cfg, ch);
    for (const auto& f : k.fks) {
      if (f.table_oid == k.oids.at(ch.table) && f.ref_oid == k.oids.at(parent) && same_edge(f, fk, pk)) k.edge_of[f.table_oid] = &f;
    }
  }
}

// The second paths of a collected contract: foreign keys between two child tables that are not configured edges
// (self-references left out: check_edges refuses them).
std::vector<ForeignKey> seconds_of(const EntityConfig& cfg, const Contract& k) {
  const std::string& root_oid = k.oids.at(cfg.root);
  std::vector<ForeignKey> out;
  for (const auto& f : k.fks) {
    if (!k.name_of.count(f.ref_oid) || f.ref_oid == root_oid || !k.name_of.count(f.table_oid) || f.table_oid == f.ref_oid) continue;
    auto it = k.edge_of.find(f.table_oid);
    if (it != k.edge_of.end() && it->second->name == f.name) continue;  // the configured path
    ForeignKey g = f;
    g.table = k.name_of.at(f.table_oid);  // config spelling
    g.ref_table = k.name_of.at(f.ref_oid);
    out.push_back(g);
  }
  return out;
}

// Checks the configured edges and outside references of a collected contract.
void check_edges(PgClient& c, const EntityConfig& cfg, Contract& k) {
  const std::string& root_oid = k.oids.at(cfg.root);
  std::string w = "entity " + cfg.name + ": ";
  // The configured edges, each backed by a real foreign key on exactly those columns.
  for (const auto& ch : cfg.children) {
    std::string parent = ch.parent.empty() ? cfg.root : ch.parent;
    auto fk = column_list(ch.fk), pk = parent_columns(cfg, ch);
    if (!k.edge_of.count(k.oids.at(ch.table))) {
      fail(ErrorCode::kUsage, w + "child table " + ch.table + ": column " + joined(fk) + " has no foreign key to " + parent + " (" + joined(pk) +
                                  ") in " + c.describe() + "; a freeze relies on it (the parent's row lock keeps new child rows out while it "
                                  "deletes): add it (ALTER TABLE " + ch.table + " ADD FOREIGN KEY (" + joined(fk) + ") REFERENCES " + parent +
                                  " (" + joined(pk) + ")) or fix [[entity." + cfg.name + ".child]]");
    }
  }
  for (const auto& f : k.fks) {
    bool ref_child = k.name_of.count(f.ref_oid) && f.ref_oid != root_oid;
    if (!ref_child) continue;  // the root row never leaves the database; foreign keys out of the entity are harmless
    const std::string& ref = k.name_of.at(f.ref_oid);
    if (!k.name_of.count(f.table_oid)) {
      ChildTable add{f.table, joined(f.cols, ","), ref, joined(f.ref_cols, ","), {}};
      fail(ErrorCode::kUsage, w + "table " + f.table + " (not part of the entity) references its child table " + ref + " through constraint " +
                                  f.name + " (" + action_name(f.on_delete) + "); a freeze deletes " + ref + " rows, which " + effect(f) +
                                  "; add " + f.table + " to the entity (" + child_toml(cfg, add) + ") or drop the constraint");
    }
    if (f.table_oid == f.ref_oid && k.edge_of.at(f.table_oid)->name != f.name) {
      fail(ErrorCode::kUsage, w + "child table " + ref + " references itself through constraint " + f.name + " (" + f.table + "." +
                                  joined(f.cols) + " -> " + ref + "." + joined(f.ref_cols) + "), which strata does not support (rows of one "
                                  "table could not be restored in a safe order); drop the constraint, or move the referenced rows to a table of their own");
    }
  }
}

}  // namespace

std::vector<ForeignKey> second_paths(PgClient& c, const EntityConfig& cfg) {
  Contract k;
  collect(c, cfg, k);
  return seconds_of(cfg, k);
}

void check_schema_contract(PgClient& c, const EntityConfig& cfg) {
  Contract k;
  collect(c, cfg, k);
  check_edges(c, cfg, k);
  auto out = seconds_of(cfg, k);
  // Thaw inserts (and freeze deletes, in reverse) follow every edge, configured or not: they must form no cycle.
  std::map<std::string, std::set<std::string>> refs;  // table -> tables it references inside the entity
  for (const auto& ch : cfg.children) refs[ch.table].insert(ch.parent.empty() ? cfg.root : ch.parent);
  for (const auto& f : out) refs[f.table].insert(f.ref_table);
  std::map<std::string, int> state;  // 1 visiting, 2 done
  std::function<void(const std::string&)> visit = [&](const std::string& t) {
    if (state[t] == 2) return;
    if (state[t] == 1) {
      fail(ErrorCode::kUsage, "entity " + cfg.name + ": the foreign keys between its child tables form a cycle through " + t +
                                  ", so no insert order restores them; drop one of the constraints on that cycle");
    }
    state[t] = 1;
    for (const auto& r : refs[t]) visit(r);
    state[t] = 2;
  };
  for (const auto& ch : cfg.children) visit(ch.table);
}

}  // namespace strata::tiering
