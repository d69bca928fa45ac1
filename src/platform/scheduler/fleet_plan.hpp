#pragma once
// What the fleet's schedules will do in a stretch of time: each source's fires, merged across its schedules, with a
// full superseding another type at the same instant (as the scheduler pass does). For `strata fleet schedule` and,
// later, `strata fleet sources` (next run per source).
#include <cstdint>
#include <vector>

#include "platform/scheduler/fleet_config.hpp"
#include "platform/scheduler/schedule.hpp"

namespace strata {

struct PlannedFire {
  const Schedule* schedule = nullptr;
  Occurrence occurrence;
  bool shifted = false;  // DST moved it: the wall time it was written for did not exist (fires after the gap)
};

struct SourcePlan {
  const FleetSource* source = nullptr;
  std::vector<PlannedFire> fires;  // by instant
  size_t superseded = 0;           // fires dropped for a full at the same instant
};

// Fires with from <= instant < to. `schedules` is what fleet.compile_schedules() returned.
std::vector<SourcePlan> plan_fleet(const FleetConfig& fleet, const std::vector<Schedule>& schedules, int64_t from,
                                   int64_t to);

}  // namespace strata
