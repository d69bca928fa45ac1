// `tier setup` (the DDL tiering needs, then the schema contract) and cooldown.
#include "tiering/tierer_impl.hpp"

#include "common/error.hpp"
#include "common/log.hpp"

namespace strata::tiering {

std::string Tierer::setup_ddl() {
  const auto& c = impl_->cfg;
    auto idx = [&](const std::string& t, const std::string& col) { return quote_ident((t + "_" + col + "_strata_idx").substr(0, 63)); };
  std::string s;
  s += "ALTER TABLE " + quote_ident(c.root) + " ADD COLUMN IF NOT EXISTS " + quote_ident(c.tier_column) +
       " text NOT NULL DEFAULT 'hot' CHECK (" + quote_ident(c.tier_column) + " IN ('hot', 'warm', 'archived', 'restoring'));\n";
  s += "ALTER TABLE " + quote_ident(c.root) + " ADD COLUMN IF NOT EXISTS " + quote_ident(c.location_column) + " text;\n";
  s += "CREATE INDEX IF NOT EXISTS " + idx(c.root, c.tier_column) + " ON " + quote_ident(c.root) + " (" + quote_ident(c.tier_column) + ", " +
       quote_ident(c.activity) + ");\n";
  // For `tier gc`: which archive entries are still referenced, one index probe per entry.
  s += "CREATE INDEX IF NOT EXISTS " + idx(c.root, c.location_column) + " ON " + quote_ident(c.root) + " (" + quote_ident(c.location_column) +
       ") WHERE " + quote_ident(c.location_column) + " IS NOT NULL;\n";
  for (const auto& ch : c.children) {
    std::string cols, name;
    for (const auto& col : column_list(ch.fk)) {
      cols += (cols.empty() ? "" : ", ") + quote_ident(col);
      name += (name.empty() ? "" : "_") + col;
    }
    s += "CREATE INDEX IF NOT EXISTS " + idx(ch.table, name) + " ON " + quote_ident(ch.table) + " (" + cols + ");\n";
  }
  // A second path's referencing columns: a freeze looks up, under its locks, which rows point at the entity's.
  try {
    for (const auto& f : second_paths(*impl_->conn, c)) {
      std::string cols, name;
      for (const auto& col : f.cols) {
        cols += (cols.empty() ? "" : ", ") + quote_ident(col);
        name += (name.empty() ? "" : "_") + col;
      }
      s += "CREATE INDEX IF NOT EXISTS " + idx(f.table, name) + " ON " + quote_ident(f.table) + " (" + cols + ");\n";
    }
  } catch (const StrataError&) {
    // The contract check after the DDL names the problem.
  }
  s += "CREATE TABLE IF NOT EXISTS strata_tier_events (at timestamptz NOT NULL DEFAULT now(), entity text NOT NULL, "
       "key text, event text NOT NULL, detail text);\n";
  s += "CREATE INDEX IF NOT EXISTS strata_tier_events_at_idx ON strata_tier_events (entity, at);\n";
  s += "CREATE TABLE IF NOT EXISTS strata_tier_released (entity text NOT NULL, key text NOT NULL, location text NOT NULL, "
       "released_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (entity, location));\n";
  return s;
}

void Tierer::apply_setup() {
  impl_->conn->exec(setup_ddl());
  impl_->schema_loaded = false;
  check_schema();
  log::info("tier_setup", {{"entity", impl_->cfg.name}});
}

void Tierer::check_schema() { check_schema_contract(*impl_->conn, impl_->cfg); }

CooldownStats Tierer::cooldown(size_t limit) {
  auto& m = *impl_;
  m.load_schema();
  auto t0 = std::chrono::steady_clock::now();
  CooldownStats st;
    const auto& c = m.cfg;
  // Each batch is its own short transaction found through the (tier, activity) index; rows a live session holds
  // are skipped and picked up next time instead of waited for.
  auto run = [&](const std::string& from, const std::string& to, const std::string& cond, size_t& counter) {
    while (counter < limit && !m.stop_requested()) {
      size_t n = std::min(c.cooldown_batch, limit - counter);
      auto r = m.conn->exec("UPDATE " + quote_ident(c.root) + " r SET " + quote_ident(c.tier_column) + " = '" + to + "' FROM (SELECT " +
                                quote_ident(c.key) + " FROM " + quote_ident(c.root) + " WHERE " + quote_ident(c.tier_column) + " = '" + from + "' AND " +
                                quote_ident(c.activity) + cond + " now() - make_interval(secs => $1::bigint) LIMIT " +
                                std::to_string(n) + " FOR UPDATE SKIP LOCKED) s WHERE r." + quote_ident(c.key) + " = s." + quote_ident(c.key),
                            {std::to_string(c.warm_after)});
      counter += r.affected;
      m.report_batch(BatchDone{static_cast<size_t>(r.affected), 0, 0, 0});
      if (r.affected < n) break;
    }
  };
  run("hot", "warm", " <", st.warmed);
  size_t limit_rewarm = 0;
  run("warm", "hot", " >=", limit_rewarm);
  st.rewarmed = limit_rewarm;
  st.seconds = since(t0);
  log::info("tier_cooldown", {{"entity", c.name}, {"warmed", uint64_t{st.warmed}}, {"rewarmed", uint64_t{st.rewarmed}},
                              {"seconds", st.seconds}});
  return st;
}

}  // namespace strata::tiering
