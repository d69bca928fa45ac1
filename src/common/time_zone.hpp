#pragma once
// Civil time in an IANA time zone, for the scheduler (cron in a source's zone) and retention (daily, weekly and
// monthly buckets in a source's zone). A thin wrapper over Howard Hinnant's date/tz (Debian's libdate-tz3 reads the
// system's /usr/share/zoneinfo); date/tz.h stays out of this header because it is heavy to compile.
//
// Instants are UTC seconds since the epoch (as now_epoch()); "local seconds" count the same way on the zone's wall
// clock (local seconds = UTC seconds + the UTC offset in force), so civil arithmetic on them needs no zone.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace date {
class time_zone;
}

namespace strata {

// A wall-clock reading: what a clock on the wall in the zone shows.
struct CivilTime {
  int year = 1970;
  unsigned month = 1;   // 1-12
  unsigned day = 1;     // 1-31
  unsigned hour = 0;    // 0-23
  unsigned minute = 0;  // 0-59
  unsigned second = 0;  // 0-59
  unsigned weekday = 4;  // 0 = Sunday ... 6 = Saturday (cron's numbering)
  unsigned yearday = 1;  // 1-366
  int iso_year = 1970;   // ISO 8601 week-numbering year (differs from `year` around New Year)
  unsigned iso_week = 1;  // 1-53; weeks start on Monday
  unsigned iso_weekday = 4;  // 1 = Monday ... 7 = Sunday
};

// Pure calendar arithmetic (proleptic Gregorian), no zone involved.
int64_t days_from_civil(int year, unsigned month, unsigned day);  // 1970-01-01 = 0
struct CivilDate {
  int year;
  unsigned month;
  unsigned day;
  unsigned weekday;  // 0 = Sunday
};
CivilDate civil_date_from_days(int64_t days);  // the cheap part of civil_from_local_seconds, for day-by-day walks
CivilTime civil_from_local_seconds(int64_t local_seconds);
int64_t local_seconds_from_civil(int year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                                 unsigned second = 0);
unsigned days_in_month(int year, unsigned month);
std::string format_civil(const CivilTime& c);  // 2026-11-21 05:33:00

// How a wall-clock reading maps back to instants. DST makes it a question with three answers.
struct LocalResolution {
  enum class Kind {
    kUnique,       // the reading happens once: `first`
    kNonexistent,  // in a spring-forward gap: never shown; `first` = the first valid instant after it (the transition)
    kAmbiguous,    // in a fall-back overlap: shown twice; `first` the earlier instant, `second` the later
  };
  Kind kind = Kind::kUnique;
  int64_t first = 0;
  int64_t second = 0;  // kAmbiguous only
};

// A stretch of time over which the zone's UTC offset is constant: [begin, end) in UTC seconds.
struct ZonePeriod {
  int64_t begin = 0;
  int64_t end = 0;
  int32_t offset = 0;  // seconds east of UTC
  bool dst = false;
  std::string abbrev;  // EST, CEST, +0530 ...
};

class TimeZone {
 public:
  // Throws StrataError(kUsage) naming the zone, the closest known zone and where the names come from.
  static TimeZone locate(std::string_view name);
  static TimeZone utc();
  // Every zone name the database knows (sorted), for messages and listings.
  static std::vector<std::string> names();

  const std::string& name() const { return name_; }

  int32_t offset_at(int64_t utc) const;
  int64_t to_local_seconds(int64_t utc) const { return utc + offset_at(utc); }
  CivilTime to_local(int64_t utc) const { return civil_from_local_seconds(to_local_seconds(utc)); }
  ZonePeriod period_at(int64_t utc) const;
  LocalResolution resolve(int64_t local_seconds) const;
  LocalResolution resolve(int year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                          unsigned second = 0) const {
    return resolve(local_seconds_from_civil(year, month, day, hour, minute, second));
  }
  // 2026-11-21T05:33:00-05:00 (RFC 3339 with the offset in force)
  std::string format(int64_t utc) const;

  bool operator==(const TimeZone& other) const { return zone_ == other.zone_; }

 private:
  TimeZone(const date::time_zone* zone, std::string name) : zone_(zone), name_(std::move(name)) {}
  const date::time_zone* zone_;  // owned by date's process-wide database, never freed
  std::string name_;
};

}  // namespace strata
