#pragma once
// When a cron spec fires in a time zone: the one place that decides what DST does to a schedule (docs/SCHEDULING.md).
// Vixie cron's rules:
//  - a fixed job ("30 2 * * *") fires once per wall-clock match; a match that falls in a spring-forward gap fires
//    once at the first valid instant after it (the transition); a match in a fall-back overlap fires once, at its
//    first occurrence;
//  - a wildcard job (minute or hour field starting with '*': "*/15 * * * *", "0 */2 * * *") runs on absolute time:
//    in an overlap it fires at both occurrences, in a gap the missing wall times are skipped.
#include <cstdint>

#include "common/time_zone.hpp"
#include "platform/scheduler/cron.hpp"

namespace strata {

struct Fire {
  int64_t at = 0;    // the instant (UTC seconds)
  int64_t wall = 0;  // the wall-clock minute that matched (local seconds): differs from `at`'s reading in a gap
};

// The first fire strictly after `after` (UTC seconds). A spec that CronSpec::parse accepted always fires within
// 8 years (February 29 on a year that has one); beyond 12 it throws.
Fire next_fire(const CronSpec& cron, const TimeZone& zone, int64_t after);

}  // namespace strata
