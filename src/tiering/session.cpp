#include "tiering/tierer_impl.hpp"

#include "common/error.hpp"
#include "common/log.hpp"
#include "repo/repository.hpp"

namespace strata::tiering {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Tierer::Impl::Impl(EntityConfig c, Repository* r) : cfg(std::move(c)), repo(r), who("entity " + cfg.name) {
  conn = std::make_unique<PgConn>(cfg.database);
  // Every statement here is driven by keys through indexes (setup creates one on every foreign-key column).
  // The planner underestimates `= ANY(array of 500 keys)` and would hash-join whole child tables, which grows
  // with the table instead of the batch; forbid that for this session only. No parallel workers either: for a
  // batch-sized statement, starting and stopping two worker processes costs more than the scan itself (the
  // snapshot of a two-level child table took ~30 ms with a Gather, ~10 ms without).
  conn->exec("SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off; "
             "SET max_parallel_workers_per_gather = 0");
  if (repo) store = std::make_unique<ArchiveStore>(*repo, cfg.name, parse_compression(cfg.compression));
}

ArchiveStore& Tierer::Impl::archive() {
  if (!store) fail(ErrorCode::kUsage, who + ": this operation needs the repository (--repo)");
  return *store;
}

void Tierer::Impl::record_event(const std::string& key, const std::string& event, const std::string& detail) {
  try {
    conn->exec("INSERT INTO strata_tier_events (entity, key, event, detail) VALUES ($1, $2, $3, $4)",
               {cfg.name, key, event, detail});
  } catch (const StrataError& e) {
    log::warn("tier_event_not_recorded", {{"entity", cfg.name}, {"event", event}, {"reason", e.what()}});
  }
}

Tierer::Tierer(EntityConfig config, Repository* repo) : impl_(std::make_unique<Impl>(std::move(config), repo)) {}
Tierer::~Tierer() = default;
const EntityConfig& Tierer::config() const { return impl_->cfg; }
void Tierer::set_control(RunControl control) { impl_->control = std::move(control); }

void Tierer::prepare() {
  impl_->load_schema();
  impl_->archive();
}

ThawOutcome Tierer::thaw(const std::string& key) { return impl_->thaw_one(key); }

size_t Tierer::reap_released() { return impl_->reap_released(); }

size_t Tierer::erase(const std::string& key) {
  try {
    return impl_->erase(key);
  } catch (const StrataError& e) {
    std::string msg = e.what();
    if (msg.find(impl_->ent(key)) != std::string::npos) throw;
    throw StrataError(e.code(), "entity " + impl_->ent(key) + ": erase failed: " + msg);
  }
}

}  // namespace strata::tiering
