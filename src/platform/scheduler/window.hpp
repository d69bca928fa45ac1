#pragma once
// An off-peak window ("01:00-05:00") on the source's wall clock: the hours in which its scheduled jobs may start.
// It may wrap midnight ("22:00-04:00"). A cron fire outside the window is not a fire of that schedule; a job not
// started by the window's end is missed and waits for the next fire (docs/SCHEDULING.md).
#include <cstdint>
#include <string>
#include <string_view>

#include "common/time_zone.hpp"

namespace strata {

class Window {
 public:
  // Throws StrataError(kUsage) for anything but HH:MM-HH:MM with a start that differs from the end.
  static Window parse(std::string_view text);

  unsigned start() const { return start_; }  // minute of the day, 0-1439
  unsigned end() const { return end_; }      // minute of the day, 1-1440; <= start: the window wraps midnight
  bool wraps() const { return end_ <= start_; }
  bool contains(unsigned minute_of_day) const {
    return wraps() ? (minute_of_day >= start_ || minute_of_day < end_) : (minute_of_day >= start_ && minute_of_day < end_);
  }
  bool contains_wall(int64_t wall) const { return contains(minute_of_day(wall)); }
  // The window's end after the wall-clock reading `wall` (inside the window) as an instant after `at`: if the end
  // reading falls in a gap, the instant the gap ends; in an overlap, its first occurrence after `at`.
  int64_t end_after(const TimeZone& zone, int64_t wall, int64_t at) const;
  // The wall-clock reading (local seconds) at which the window that holds `wall` ends.
  int64_t end_reading(int64_t wall) const;
  // The next opening of the window after the reading `wall` (outside it), as the earliest instant showing it.
  int64_t next_start_after(const TimeZone& zone, int64_t wall) const;
  const std::string& text() const { return text_; }

  static unsigned minute_of_day(int64_t wall) { return static_cast<unsigned>((((wall / 60) % 1440) + 1440) % 1440); }

 private:
  unsigned start_ = 0;
  unsigned end_ = 0;
  std::string text_;
};

}  // namespace strata
