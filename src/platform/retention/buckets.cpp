#include "platform/retention/buckets.hpp"

#include <date/iso_week.h>
#include <date/tz.h>

#include <chrono>
#include <cstdio>

#include "common/error.hpp"

namespace strata::retention {
namespace {

const date::time_zone* zone_of(const std::string& zone) {
  if (zone.empty() || zone == "UTC") return nullptr;
  try {
    return date::locate_zone(zone);
  } catch (const std::exception&) {
    fail(ErrorCode::kUsage, "unknown time zone '" + zone + "'; use an IANA name such as Europe/Berlin or UTC");
  }
}

}  // namespace

void require_time_zone(const std::string& zone) { (void)zone_of(zone); }

Buckets buckets_of(int64_t epoch, const std::string& zone) {
  using namespace std::chrono;
  const date::time_zone* tz = zone_of(zone);
  date::sys_seconds t{seconds{epoch}};
  // Local civil time as if it were UTC: only its fields are read.
  date::local_seconds local = tz ? tz->to_local(t) : date::local_seconds{seconds{epoch}};
  auto day = date::floor<date::days>(local);
  date::year_month_day ymd{day};
  auto hour = duration_cast<hours>(local - day).count();
  iso_week::year_weeknum_weekday iw{day};
  char buf[32];
  Buckets b;
  std::snprintf(buf, sizeof buf, "%04d", static_cast<int>(ymd.year()));
  b.year = buf;
  std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()));
  b.month = buf;
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  b.day = buf;
  std::snprintf(buf, sizeof buf, "%sT%02lld", b.day.c_str(), static_cast<long long>(hour));
  b.hour = buf;
  std::snprintf(buf, sizeof buf, "%04d-W%02u", static_cast<int>(iw.year()), static_cast<unsigned>(iw.weeknum()));
  b.week = buf;
  return b;
}

}  // namespace strata::retention
