#include "platform/drill/invalidation.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/log.hpp"
#include "platform/catalog/outbox.hpp"
#include "platform/drill/drill.hpp"
#include "repo/repository.hpp"

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

DrillOutcome drill_and_record(Repository& repo, const DrillRequest& req, const ProgressFn& progress,
                              const std::string& catalog_url) {
  DrillOutcome out;
  DrillRecord& rec = out.record;
  rec = run_drill(repo, req, progress);
  store_drill_record(repo, rec);
  rec.auth = repo.config().encrypted ? "authentic" : "none";
  if (rec.result == "stopped") {
    out.problem = app::Problem{ErrorCode::kInterrupted,
                               "drill " + rec.id + " of backup " + rec.backup_id + " stopped: " + rec.error};
  } else if (!rec.passed()) {
    announce_invalidation(rec, catalog_url);
    out.problem = app::Problem{ErrorCode::kProblemsFound,
                               "backup " + rec.backup_id + " of " + rec.source + " failed its drill: " + rec.error +
                                   "; restore an older backup if you need one now, and find out why (strata check --read-data)"};
  }
  return out;
}

}  // namespace strata
