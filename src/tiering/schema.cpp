#include "tiering/schema.hpp"

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
  auto r = c.exec(
      "SELECT c.conname, c.conrelid::oid::text, s.relname, a.attname, c.confrelid::oid::text, t.relname, b.attname, "
      "c.confdeltype::text, array_length(c.conkey, 1) "
      "FROM pg_constraint c JOIN pg_class s ON s.oid = c.conrelid JOIN pg_class t ON t.oid = c.confrelid "
      "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
      "JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = c.confkey[1] "
      "WHERE c.contype = 'f' ORDER BY s.relname, c.conname");
  std::vector<Fk> out;
  for (auto& row : r.rows) {
    Fk f;
    f.name = *row[0];
    f.table_oid = *row[1];
    f.table = *row[2];
    f.column = *row[3];
    f.ref_oid = *row[4];
    f.ref_table = *row[5];
    f.ref_column = *row[6];
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
        if (f.ref_oid != parent || f.columns != 1 || name_of.count(f.table_oid)) continue;
        ChildTable t;
        t.table = f.table;
        t.fk = f.column;
        if (parent != root_oid) {
          t.parent = name_of[parent];
          t.parent_key = f.ref_column;
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

void check_schema_contract(PgClient& c, const EntityConfig& cfg) {
  auto oids = entity_oids(c, cfg);
  std::map<std::string, std::string> name_of;  // oid -> config name
  for (const auto& [n, o] : oids) name_of[o] = n;
  const std::string& root_oid = oids.at(cfg.root);
  std::string w = "entity " + cfg.name + ": ";
  auto fks = all_foreign_keys(c);
  // The configured edges, each backed by a real single-column foreign key.
  std::map<std::string, const Fk*> edge_of;  // child oid -> its configured foreign key
  for (const auto& ch : cfg.children) {
    std::string parent = ch.parent.empty() ? cfg.root : ch.parent;
    std::string pkey = ch.parent.empty() || ch.parent == cfg.root ? cfg.key : ch.parent_key;
    const Fk* found = nullptr;
    for (const auto& f : fks) {
      if (f.table_oid == oids.at(ch.table) && f.ref_oid == oids.at(parent) && f.column == ch.fk && f.ref_column == pkey) found = &f;
    }
    if (!found) {
      fail(ErrorCode::kUsage, w + "child table " + ch.table + ": column " + ch.fk + " has no foreign key to " + parent + " (" + pkey +
                                  ") in " + c.describe() + "; a freeze relies on it (the parent's row lock keeps new child rows out while it "
                                  "deletes): add it (ALTER TABLE " + ch.table + " ADD FOREIGN KEY (" + ch.fk + ") REFERENCES " + parent +
                                  " (" + pkey + ")) or fix [[entity." + cfg.name + ".child]]");
    }
    if (found->columns > 1) {
      fail(ErrorCode::kUsage, w + "child table " + ch.table + " references " + parent + " through the composite foreign key " + found->name +
                                  ", which strata does not follow yet; reference a single-column key of " + parent + " instead");
    }
    edge_of[found->table_oid] = found;
  }
  for (const auto& f : fks) {
    bool ref_child = name_of.count(f.ref_oid) && f.ref_oid != root_oid;
    if (!ref_child) continue;  // the root row never leaves the database; foreign keys out of the entity are harmless
    const std::string& ref = name_of.at(f.ref_oid);
    if (!name_of.count(f.table_oid)) {
      ChildTable add{f.table, f.column, ref, f.ref_column, {}};
      fail(ErrorCode::kUsage, w + "table " + f.table + " (not part of the entity) references its child table " + ref + " through constraint " +
                                  f.name + " (" + action_name(f.on_delete) + "); a freeze deletes " + ref + " rows, which " + effect(f) +
                                  "; add " + f.table + " to the entity (" + child_toml(cfg, add) + ") or drop the constraint");
    }
    auto it = edge_of.find(f.table_oid);
    if (it != edge_of.end() && it->second->name == f.name) continue;  // the configured path
    const std::string& me = name_of.at(f.table_oid);
    std::string path = it == edge_of.end() ? std::string("the root") : it->second->ref_table + " (" + me + "." + it->second->column + ")";
    fail(ErrorCode::kUsage, w + "child table " + me + " is reached through more than one path: its configured parent " + path +
                                " and constraint " + f.name + " (" + me + "." + f.column + " -> " + ref + "." + f.ref_column +
                                "); a row could belong to two entities, and freezing one would break the other's rows; drop the constraint, "
                                "or reference the root's key instead");
  }
}

}  // namespace strata::tiering
