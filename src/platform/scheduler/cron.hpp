#pragma once
// Our own 5-field cron (minute hour day-of-month month day-of-week), read the way Vixie cron reads it: lists,
// ranges, steps, month and weekday names, 0 or 7 for Sunday, the @daily-style macros, and the day rule — when both
// day fields are restricted a day matches if EITHER matches; when one starts with '*', both must (docs/SCHEDULING.md).
// A spec is pure civil time: which wall-clock minutes match. Zones and DST are fire_time.hpp's business.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata {

struct CivilTime;

class CronSpec {
 public:
  // Throws StrataError(kUsage): "cron '0 25 * * *': hour '25' is out of range 0-23; ..." (the field, the token,
  // the rule), also for a spec that can never fire ("0 0 30 2 *").
  static CronSpec parse(std::string_view text);

  const std::string& text() const { return text_; }
  // Vixie's "wildcard" job: the minute or hour field starts with '*' ("*/15 * * * *", "0 */2 * * *", @hourly). It
  // runs on absolute time: in a fall-back overlap at both occurrences, in a spring-forward gap not at all. Any
  // other job is "fixed": once per wall-clock match, a match inside a gap fires at the first instant after it.
  bool wildcard() const { return minute_star_ || hour_star_; }

  bool matches_minute(unsigned hour, unsigned minute) const { return (hours_ >> hour & 1) && (minutes_ >> minute & 1); }
  bool matches_day(int year, unsigned month, unsigned day, unsigned weekday) const;
  bool matches(const CivilTime& c) const;
  // The first matching minute at or after `from` (local seconds, rounded up to a minute) and before `limit`.
  std::optional<int64_t> next_match(int64_t from, int64_t limit) const;
  // Any minute of the day, as minute-of-day 0-1439, that the minute and hour fields allow (for window checks).
  bool any_minute_of_day(unsigned from_minute, unsigned to_minute) const;  // [from, to), to <= 1440
  // The hours and minutes that match, for messages: "at 02:30", "at 00:00, 12:00", "96 times a day from 00:00 to
  // 23:45".
  std::string describe_times() const;

 private:
  std::string text_;
  uint64_t minutes_ = 0;   // bit m: minute m (0-59)
  uint32_t hours_ = 0;     // bit h: hour h (0-23)
  uint32_t days_ = 0;      // bit d: day of month d (1-31)
  uint16_t months_ = 0;    // bit m: month m (1-12)
  uint8_t weekdays_ = 0;   // bit w: weekday w (0 = Sunday - 6)
  bool minute_star_ = false;
  bool hour_star_ = false;
  bool dom_star_ = false;
  bool dow_star_ = false;
};

}  // namespace strata
