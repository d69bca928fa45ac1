#pragma once
// What a tiered entity is: a root table row (one player) plus every row that hangs off it through foreign keys, to
// any depth. Defined in the config file under [entity.NAME] (docs/TIERING.md).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace strata::tiering {

struct ChildTable {
  std::string table;
  std::string fk;          // column(s) of this table that reference the parent; composite: "a,b" (TOML: a list)
  std::string parent;      // parent table; empty = the root
  std::string parent_key;  // referenced column(s) of the parent, paired with fk; empty = the root's key column
  std::vector<std::string> exclude;
};

struct EntityConfig {
  std::string name;
  std::string database;  // libpq conninfo, without a password
  std::string root;
  std::string key;
  std::string activity;
  std::string tier_column = "tier";
  std::string location_column = "archive_location";
  std::vector<std::string> exclude;  // root columns left out of the archive
  std::vector<ChildTable> children;  // parents before their children
  int64_t warm_after = 3 * 86400;    // seconds
  int64_t freeze_after = 14 * 86400;
  size_t cooldown_batch = 5000;
  size_t batch = 500;      // entities per freeze / thaw transaction
  size_t pack_size = 500;  // entities per stored object; 1 = one object per entity
  size_t workers = 2;       // freeze / batch-thaw workers, each with its own database connection
  bool keep_after_thaw = false;
  std::string compression = "zstd:3";

  // Depth of a child table (1 = references the root). Throws on a cycle or an unknown parent.
  int depth(const ChildTable& t) const;
  // Throws StrataError(kUsage) with the first problem.
  void validate() const;
};

// The column names of a comma-separated list ("equipment_id, player_id"), trimmed.
std::vector<std::string> column_list(const std::string& text);
// The referenced columns of t's edge: parent_key's, or the root's key column when parent_key is empty.
std::vector<std::string> parent_columns(const EntityConfig& cfg, const ChildTable& t);

// Every [entity.NAME] of the TOML file at `path`.
std::map<std::string, EntityConfig> load_entities(const std::string& path);
// The named one, with a clear error naming the file when it is missing.
EntityConfig load_entity(const std::string& path, const std::string& name);

}  // namespace strata::tiering
