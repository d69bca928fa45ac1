#pragma once
// A failed drill invalidates its backup (docs/DRILLS.md): `status` stops counting it as good from its record on,
// and the fleet hears of it through the catalog's outbox (platform/catalog/outbox.hpp), which platform/notify
// delivers to the webhooks that want "drill.failed".
#include <optional>
#include <string>

#include "app/problem.hpp"
#include "io/pipeline.hpp"
#include "platform/drill/record.hpp"

namespace strata {

// Appends a "drill.failed" event to the outbox of the catalog at `catalog_url` (none configured: only the log
// event). The record in the repository is already written, so a catalog that cannot be reached loses nothing the
// repository does not keep: it is a warning, never a change of the drill's result. Returns whether an event was
// appended.
bool announce_invalidation(const DrillRecord& rec, const std::string& catalog_url);

struct DrillRequest;
class Repository;

// One drill as `strata drill run` and a scheduled drill job run it: run_drill, its record stored in the repository
// (the repository's auth recorded on it), and a failed drill announced. The problem, raised by the caller after it
// showed the record: kInterrupted for a drill the time limit stopped, kProblemsFound for a failed one.
struct DrillOutcome {
  DrillRecord record;
  std::optional<app::Problem> problem;
};
DrillOutcome drill_and_record(Repository& repo, const DrillRequest& req, const ProgressFn& progress,
                              const std::string& catalog_url);

}  // namespace strata
