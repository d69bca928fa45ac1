#include "platform/retention/buckets.hpp"

#include <cstdio>

#include "common/time_zone.hpp"

namespace strata::retention {

void require_time_zone(const std::string& zone) { (void)TimeZone::locate(zone); }

Buckets buckets_of(int64_t epoch, const std::string& zone) {
  // The source's wall clock decides the bucket: 23:30 UTC is already tomorrow in Berlin.
  CivilTime c = TimeZone::locate(zone).to_local(epoch);
  char buf[32];
  Buckets b;
  std::snprintf(buf, sizeof buf, "%04d", c.year);
  b.year = buf;
  std::snprintf(buf, sizeof buf, "%04d-%02u", c.year, c.month);
  b.month = buf;
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", c.year, c.month, c.day);
  b.day = buf;
  std::snprintf(buf, sizeof buf, "%sT%02u", b.day.c_str(), c.hour);
  b.hour = buf;
  std::snprintf(buf, sizeof buf, "%04d-W%02u", c.iso_year, c.iso_week);
  b.week = buf;
  return b;
}

}  // namespace strata::retention
