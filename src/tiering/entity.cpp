#include "tiering/entity.hpp"

#include <algorithm>
#include <set>
#include <toml++/toml.h>

#include "common/duration.hpp"
#include "common/error.hpp"

namespace strata::tiering {
namespace {

std::vector<std::string> string_list(const toml::node_view<const toml::node>& n, const std::string& where) {
  std::vector<std::string> out;
  if (!n) return out;
  auto* arr = n.as_array();
  if (!arr) fail(ErrorCode::kUsage, where + " must be a list of column names");
  for (const auto& v : *arr) {
    auto s = v.value<std::string>();
    if (!s) fail(ErrorCode::kUsage, where + " must be a list of column names");
    out.push_back(*s);
  }
  return out;
}

// A column name, or a list of them (a composite foreign key), as "a,b".
std::string column_text(const toml::node_view<const toml::node>& n, const std::string& where) {
  if (auto s = n.value<std::string>()) return *s;
  std::string out;
  for (const auto& c : string_list(n, where)) out += (out.empty() ? "" : ",") + c;
  return out;
}

int64_t duration_value(const toml::node_view<const toml::node>& n, int64_t def) {
  if (!n) return def;
  if (auto i = n.value<int64_t>()) return *i;
  if (auto s = n.value<std::string>()) return parse_duration(*s, "an entity's duration");
  fail(ErrorCode::kUsage, "durations must look like \"3d\", \"12h\" or a number of seconds");
}

size_t count_value(const toml::node_view<const toml::node>& n, size_t def, const std::string& where) {
  if (!n) return def;
  auto i = n.value<int64_t>();
  if (!i || *i < 1) fail(ErrorCode::kUsage, where + " must be a positive integer");
  return static_cast<size_t>(*i);
}

EntityConfig parse_entity(const std::string& name, const toml::table& t, const std::string& path) {
  EntityConfig e;
  e.name = name;
  std::string where = "config " + path + " [entity." + name + "]";
  auto str = [&](const char* k, std::string def) { return t[k].value_or(def); };
  e.database = str("database", "");
  e.root = str("root", "");
  // The key names one entity everywhere (--key, the archive index, the thaw service): a single column.
  if (t["key"].is_array() || t["key"].value_or(std::string()).find(',') != std::string::npos) {
    fail(ErrorCode::kUsage, where + ": key names more than one column; a multi-column entity key is not supported: add a "
                                    "single-column unique key to the root table (e.g. a uuid or bigint identity column) and name it as key");
  }
  e.key = str("key", "");
  e.activity = str("activity", "");
  e.tier_column = str("tier_column", e.tier_column);
  e.location_column = str("location_column", e.location_column);
  e.compression = str("compression", e.compression);
  e.exclude = string_list(t["exclude"], where + " exclude");
  e.warm_after = duration_value(t["warm_after"], e.warm_after);
  e.freeze_after = duration_value(t["freeze_after"], e.freeze_after);
  e.cooldown_batch = count_value(t["cooldown_batch"], e.cooldown_batch, where + " cooldown_batch");
  e.batch = count_value(t["batch"], e.batch, where + " batch");
  e.pack_size = count_value(t["pack_size"], e.pack_size, where + " pack_size");
  e.workers = count_value(t["workers"], e.workers, where + " workers");
  e.keep_after_thaw = t["keep_after_thaw"].value_or(false);
  if (t.contains("password")) fail(ErrorCode::kUsage, where + " contains a password; use PGPASSWORD or ~/.pgpass instead");
  if (auto* kids = t["child"].as_array()) {
    for (const auto& k : *kids) {
      auto* kt = k.as_table();
      if (!kt) fail(ErrorCode::kUsage, where + ": every [[entity." + name + ".child]] must be a table");
      ChildTable c;
      c.table = (*kt)["table"].value_or(std::string());
      c.fk = column_text((*kt)["fk"], where + " child fk");
      c.parent = (*kt)["parent"].value_or(std::string());
      c.parent_key = column_text((*kt)["parent_key"], where + " child parent_key");
      c.exclude = string_list((*kt)["exclude"], where + " child exclude");
      e.children.push_back(std::move(c));
    }
  }
  return e;
}

}  // namespace

std::vector<std::string> column_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string c = text.substr(start, end - start);
    size_t b = c.find_first_not_of(" \t"), e = c.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? std::string() : c.substr(b, e - b + 1));
    start = end + 1;
  }
  return out;
}

std::vector<std::string> parent_columns(const EntityConfig& cfg, const ChildTable& t) {
  if (t.parent_key.empty()) return {cfg.key};
  return column_list(t.parent_key);
}

int EntityConfig::depth(const ChildTable& t) const {
  int d = 1;
  const ChildTable* cur = &t;
  while (!cur->parent.empty() && cur->parent != root) {
    const ChildTable* up = nullptr;
    for (const auto& c : children) {
      if (c.table == cur->parent) up = &c;
    }
    if (!up) fail(ErrorCode::kUsage, "entity " + name + ": child table " + cur->table + " names unknown parent " + cur->parent);
    cur = up;
    if (++d > static_cast<int>(children.size()) + 1) fail(ErrorCode::kUsage, "entity " + name + ": child tables form a cycle");
  }
  return d;
}

void EntityConfig::validate() const {
  std::string w = "entity " + name + ": ";
  if (database.empty()) fail(ErrorCode::kUsage, w + "set database (a libpq conninfo such as \"host=127.0.0.1 dbname=game\")");
  if (database.find("password") != std::string::npos) {
    fail(ErrorCode::kUsage, w + "database must not contain a password; use PGPASSWORD or ~/.pgpass");
  }
  if (root.empty() || key.empty() || activity.empty()) fail(ErrorCode::kUsage, w + "set root, key and activity");
  if (warm_after <= 0 || freeze_after < warm_after) fail(ErrorCode::kUsage, w + "need 0 < warm_after <= freeze_after");
  std::set<std::string> seen{root};
  for (const auto& c : children) {
    if (c.table.empty() || c.fk.empty()) fail(ErrorCode::kUsage, w + "every child needs table and fk");
    if (!seen.insert(c.table).second) fail(ErrorCode::kUsage, w + "table " + c.table + " is listed twice");
    if (!c.parent.empty() && c.parent != root && c.parent_key.empty()) {
      fail(ErrorCode::kUsage, w + "child " + c.table + " needs parent_key (the column of " + c.parent + " that fk references)");
    }
    auto fks = column_list(c.fk), pks = parent_columns(*this, c);
    for (const auto& x : fks) {
      if (x.empty()) fail(ErrorCode::kUsage, w + "child " + c.table + ": fk has an empty column name");
    }
    if (fks.size() != pks.size()) {
      fail(ErrorCode::kUsage, w + "child " + c.table + ": fk names " + std::to_string(fks.size()) + " column(s) but parent_key " +
                                  std::to_string(pks.size()) + "; list the referenced columns in the same order as fk");
    }
    if ((c.parent.empty() || c.parent == root) && std::find(pks.begin(), pks.end(), key) == pks.end()) {
      fail(ErrorCode::kUsage, w + "child " + c.table + ": a foreign key to the root must include its key column " + key +
                                  " in parent_key");
    }
    depth(c);
  }
  for (const auto& x : exclude) {
    if (x == key || x == activity) fail(ErrorCode::kUsage, w + "the key and activity columns cannot be excluded");
  }
}

std::map<std::string, EntityConfig> load_entities(const std::string& path) {
  std::map<std::string, EntityConfig> out;
  if (path.empty()) return out;
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    fail(ErrorCode::kUsage, "config file " + path + " line " + std::to_string(e.source().begin.line) + ": " +
                                std::string(e.description()));
  }
  if (auto* ents = t["entity"].as_table()) {
    for (const auto& [name, node] : *ents) {
      if (auto* tbl = node.as_table()) out[std::string(name.str())] = parse_entity(std::string(name.str()), *tbl, path);
    }
  }
  return out;
}

EntityConfig load_entity(const std::string& path, const std::string& name) {
  if (path.empty()) fail(ErrorCode::kUsage, "no config file: entity " + name + " must be defined under [entity." + name + "] (pass --config)");
  auto all = load_entities(path);
  auto it = all.find(name);
  if (it == all.end()) fail(ErrorCode::kUsage, "config file " + path + " has no [entity." + name + "]; see docs/TIERING.md");
  it->second.validate();
  return it->second;
}

}  // namespace strata::tiering
