#pragma once
// The calendar buckets of the hourly..yearly rules, in a time zone. The one place that turns an instant into
// civil time for retention, so the zone library can change without touching the planner.
#include <cstdint>
#include <string>

namespace strata::retention {

struct Buckets {
  std::string hour;   // "2026-11-30T14"
  std::string day;    // "2026-11-30"
  std::string week;   // "2026-W47" (ISO 8601 week-numbering year and week)
  std::string month;  // "2026-11"
  std::string year;   // "2026"
};

// Throws StrataError(kUsage) for a zone the tz database does not know.
Buckets buckets_of(int64_t epoch, const std::string& zone);
// Checks a zone name (for config and flags); same error as buckets_of.
void require_time_zone(const std::string& zone);

}  // namespace strata::retention
