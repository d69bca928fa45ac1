#pragma once
// The fleet config meets the queue: sources and limits copied into the catalog, and the scheduler's tick — one
// catalog transaction that reads the stored next fires, runs the scheduler pass, enqueues the due occurrences (each
// deduplicated against its source's active job), stores the new next fires and writes every missed fire to the outbox
// (docs/SCHEDULING.md "The scheduler pass", docs/CATALOG.md). A crash before the commit repeats the pass; after it,
// nothing fires twice.
#include <cstddef>
#include <vector>

#include "platform/queue/job_queue.hpp"
#include "platform/scheduler/fleet_config.hpp"

namespace strata {

// Upserts every source (group, zone, tags, priority, rpo) and sets every limit of the config; limits the config no
// longer has are removed (unlimited).
void sync_fleet(Catalog& catalog, JobQueue& queue, const FleetConfig& fleet);

struct TickResult {
  size_t enqueued = 0;   // new jobs
  size_t coalesced = 0;  // due occurrences that joined their source's active job
  size_t missed = 0;     // missed-fire records written to the outbox
};

// One scheduler pass at the catalog's time. `schedules` = fleet.compile_schedules().
TickResult schedule_tick(Catalog& catalog, JobQueue& queue, const FleetConfig& fleet,
                         const std::vector<Schedule>& schedules);

}  // namespace strata
