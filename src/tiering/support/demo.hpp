#pragma once
// The demo schema (a game backend: players with stats, equipment and its mods, bank storage, friends) and a data
// generator, used by the tests, the benchmark and `strata tier demo`.
#include <cstddef>
#include <string>

namespace strata::tiering {

class PgConn;

// CREATE TABLE statements (no tiering columns: `strata tier setup` adds those).
std::string demo_schema_sql();
// The [entity.players] config for the demo schema.
std::string demo_entity_toml(const std::string& conninfo);
// Adds players [first, first+count) with ~22 child rows each. `inactive_percent` of them were last active 20-40
// days ago (candidates for freezing), the rest within the last day. Deterministic in the player number.
void generate_demo(PgConn& conn, size_t first, size_t count, int inactive_percent);

}  // namespace strata::tiering
