#include "common/time_zone.hpp"

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common/error.hpp"
#include "common/suggest.hpp"

namespace strata {
namespace {

using Seconds = std::chrono::seconds;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

ZonePeriod period_of(const date::sys_info& info) {
  ZonePeriod p;
  p.begin = info.begin.time_since_epoch().count();
  p.end = info.end.time_since_epoch().count();
  p.offset = static_cast<int32_t>(info.offset.count());
  p.dst = info.save != std::chrono::minutes(0);
  p.abbrev = info.abbrev;
  return p;
}

}  // namespace

// Howard Hinnant's days_from_civil / civil_from_days (http://howardhinnant.github.io/date_algorithms.html).
int64_t days_from_civil(int year, unsigned month, unsigned day) {
  int64_t y = static_cast<int64_t>(year) - (month <= 2);
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

unsigned days_in_month(int year, unsigned month) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[(month - 1) % 12];
}

int64_t local_seconds_from_civil(int year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                                 unsigned second) {
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

namespace {
struct Ymd {
  int year;
  unsigned month;
  unsigned day;
};
Ymd ymd_from_days(int64_t days) {
  int64_t z = days + 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  Ymd r;
  r.day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  r.month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  r.year = static_cast<int>(yoe + era * 400 + (r.month <= 2));
  return r;
}
}  // namespace

CivilDate civil_date_from_days(int64_t days) {
  Ymd d = ymd_from_days(days);
  return CivilDate{d.year, d.month, d.day, static_cast<unsigned>(((days + 4) % 7 + 7) % 7)};
}

CivilTime civil_from_local_seconds(int64_t local) {
  CivilTime c;
  int64_t days = floor_div(local, 86400);
  int64_t secs = local - days * 86400;
  c.hour = static_cast<unsigned>(secs / 3600);
  c.minute = static_cast<unsigned>(secs / 60 % 60);
  c.second = static_cast<unsigned>(secs % 60);
  Ymd d = ymd_from_days(days);
  c.year = d.year;
  c.month = d.month;
  c.day = d.day;
  c.weekday = static_cast<unsigned>(((days + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  c.yearday = static_cast<unsigned>(days - days_from_civil(c.year, 1, 1) + 1);
  c.iso_weekday = c.weekday == 0 ? 7 : c.weekday;
  // ISO 8601: a week belongs to the year that holds its Thursday.
  int64_t thursday = days - (c.iso_weekday - 1) + 3;
  c.iso_year = ymd_from_days(thursday).year;
  c.iso_week = static_cast<unsigned>((thursday - days_from_civil(c.iso_year, 1, 1)) / 7 + 1);
  return c;
}

std::string format_civil(const CivilTime& c) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02u:%02u:%02u", c.year, c.month, c.day, c.hour, c.minute, c.second);
  return buf;
}

TimeZone TimeZone::locate(std::string_view name) {
  if (name.empty()) {
    fail(ErrorCode::kUsage, "the time zone is empty; use an IANA zone name such as Europe/Berlin or UTC");
  }
  try {
    const date::time_zone* zone = date::locate_zone(name);
    return TimeZone(zone, std::string(name));
  } catch (const std::runtime_error&) {
  }
  std::vector<std::string> known;
  try {
    known = names();
  } catch (const std::exception&) {
  }
  std::string hint = known.empty() ? " (no time zone database found in /usr/share/zoneinfo: install tzdata)"
                                   : did_you_mean(name, known);
  fail(ErrorCode::kUsage, "unknown time zone '" + std::string(name) + "'" + hint +
                              "; use an IANA zone name such as Europe/Berlin, America/New_York or UTC "
                              "(timedatectl list-timezones lists them)");
}

TimeZone TimeZone::utc() { return locate("UTC"); }

std::vector<std::string> TimeZone::names() {
  std::vector<std::string> out;
  for (const auto& z : date::get_tzdb().zones) out.push_back(z.name());
  std::sort(out.begin(), out.end());
  return out;
}

int32_t TimeZone::offset_at(int64_t utc) const {
  return static_cast<int32_t>(zone_->get_info(date::sys_seconds{Seconds{utc}}).offset.count());
}

ZonePeriod TimeZone::period_at(int64_t utc) const { return period_of(zone_->get_info(date::sys_seconds{Seconds{utc}})); }

LocalResolution TimeZone::resolve(int64_t local_seconds) const {
  date::local_info info = zone_->get_info(date::local_seconds{Seconds{local_seconds}});
  LocalResolution r;
  switch (info.result) {
    case date::local_info::unique:
      r.kind = LocalResolution::Kind::kUnique;
      r.first = local_seconds - info.first.offset.count();
      break;
    case date::local_info::nonexistent:
      r.kind = LocalResolution::Kind::kNonexistent;
      r.first = info.second.begin.time_since_epoch().count();
      break;
    case date::local_info::ambiguous:
      r.kind = LocalResolution::Kind::kAmbiguous;
      r.first = local_seconds - info.first.offset.count();
      r.second = local_seconds - info.second.offset.count();
      break;
  }
  return r;
}

std::string TimeZone::format(int64_t utc) const {
  int32_t off = offset_at(utc);
  CivilTime c = civil_from_local_seconds(utc + off);
  int32_t a = off < 0 ? -off : off;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02u:%02u:%02u%c%02d:%02d", c.year, c.month, c.day, c.hour, c.minute,
                c.second, off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  return buf;
}

}  // namespace strata
