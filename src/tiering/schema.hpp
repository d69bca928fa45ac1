#pragma once
// The schema contract of an entity, checked against the database's own foreign keys (pg_constraint) instead of
// assumed (docs/TIERING.md "Schema contract"). A freeze deletes the child rows of an entity; that is only safe when
//   - every configured parent -> child edge is a real foreign key (the parent's row lock is what keeps new child rows
//     out while a freeze commits), and
//   - no row outside the entity can point at a row the freeze deletes: a CASCADE / SET NULL / SET DEFAULT from an
//     outside table would change rows nobody archived, and a NO ACTION / RESTRICT one would block the freeze forever.
// Outside references to the root table are fine: the root row never leaves the database.
#include <string>
#include <vector>

#include "tiering/entity.hpp"

namespace strata {
class PgClient;
}

namespace strata::tiering {

struct ForeignKey {
  std::string name;              // constraint name
  std::string table, column;     // referencing side (first column)
  std::string ref_table, ref_column;
  char on_delete = 'a';          // pg_constraint.confdeltype: a no action, r restrict, c cascade, n set null, d set default
  int columns = 1;               // > 1: a composite key
  std::vector<std::string> cols, ref_cols;  // every column, paired in order
};

// A foreign key between two child tables of the entity that is not a configured edge: the referencing table is
// reached through more than one path (e.g. trades -> players and trades -> inventory -> players). Supported: a
// freeze keeps an entity whose rows are linked this way to rows of another entity (or of none), so every entity's
// rows stay self-contained. A self-reference, and second paths that form a cycle, are refused (by
// check_schema_contract; this only reads them, so status and thaw work whatever the schema).
std::vector<ForeignKey> second_paths(PgClient& c, const EntityConfig& cfg);

// Every foreign key that references one of the entity's tables, or that leaves one of its child tables.
std::vector<ForeignKey> entity_foreign_keys(PgClient& c, const EntityConfig& cfg);

// The child tables reachable from the root through foreign keys (composite ones too), parents first, as the config would
// list them (what `tier setup` suggests). A table reached twice keeps its first (shallowest) path.
std::vector<ChildTable> derive_children(PgClient& c, const EntityConfig& cfg);

// Throws StrataError(kUsage) with one line naming the table, the constraint and what to change, at the first
// configuration that is not safe to freeze. Runs at `tier setup` and at the start of every freeze.
void check_schema_contract(PgClient& c, const EntityConfig& cfg);

// "[[entity.E.child]] table = ... fk = ... parent = ... parent_key = ..." for one table (used in messages).
std::string child_toml(const EntityConfig& cfg, const ChildTable& t);

}  // namespace strata::tiering
