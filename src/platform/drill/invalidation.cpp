#include "platform/drill/invalidation.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/log.hpp"
#include "platform/catalog/outbox.hpp"

namespace strata {

bool announce_invalidation(const DrillRecord& rec, const std::string& catalog_url) {
  log::warn("backup_invalidated", {{"backup", rec.backup_id}, {"source", rec.source}, {"drill", rec.id},
                                   {"level", std::to_string(rec.level)}, {"error", rec.error}});
  if (catalog_url.empty()) return false;
  nlohmann::json payload = {{"source", rec.source}, {"backup", rec.backup_id},   {"drill", rec.id},
                            {"level", rec.level},   {"started", rec.started},    {"host", rec.host},
                            {"error", rec.error},   {"backup_state", "invalid"}};
  try {
    auto catalog = Catalog::open(catalog_url);
    catalog->write([&] { outbox_append(*catalog, "drill.failed", payload.dump()); });
    return true;
  } catch (const StrataError& e) {
    log::warn("drill_notice_not_queued", {{"backup", rec.backup_id}, {"error", e.what()}});
    return false;
  }
}

}  // namespace strata
