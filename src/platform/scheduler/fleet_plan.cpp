#include "platform/scheduler/fleet_plan.hpp"

#include <algorithm>

namespace strata {

std::vector<SourcePlan> plan_fleet(const FleetConfig& fleet, const std::vector<Schedule>& schedules, int64_t from,
                                   int64_t to) {
  std::vector<SourcePlan> out;
  for (const auto& source : fleet.sources) {
    SourcePlan plan;
    plan.source = &source;
    for (const auto& s : schedules) {
      if (s.spec().source != source.name) continue;
      for (Fire f = s.next_fire(from - 1); f.at < to; f = s.next_fire(f.at)) {
        plan.fires.push_back(PlannedFire{&s, s.occurrence(f), s.zone().to_local_seconds(f.at) != f.wall});
      }
    }
    // By instant, a full first; then the others at the same instant go.
    std::stable_sort(plan.fires.begin(), plan.fires.end(), [](const PlannedFire& a, const PlannedFire& b) {
      bool af = a.schedule->spec().type == "full";
      bool bf = b.schedule->spec().type == "full";
      return a.occurrence.fire != b.occurrence.fire ? a.occurrence.fire < b.occurrence.fire : (af && !bf);
    });
    std::vector<PlannedFire> kept;
    for (const auto& f : plan.fires) {
      if (!kept.empty() && kept.back().occurrence.fire == f.occurrence.fire) {
        ++plan.superseded;
        continue;
      }
      kept.push_back(f);
    }
    plan.fires = std::move(kept);
    out.push_back(std::move(plan));
  }
  return out;
}

}  // namespace strata
