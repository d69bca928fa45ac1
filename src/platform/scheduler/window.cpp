#include "platform/scheduler/window.hpp"

#include <cctype>

#include "common/error.hpp"

namespace strata {
namespace {

int64_t day_start(int64_t wall) {
  int64_t day = wall >= 0 ? wall / 86400 : -((-wall + 86399) / 86400);
  return day * 86400;
}

// The earliest instant at which the zone's clock shows `reading` or, if it never does (a gap), the gap's end.
int64_t earliest(const TimeZone& zone, int64_t reading) { return zone.resolve(reading).first; }

}  // namespace

Window Window::parse(std::string_view input) {
  std::string text(input);
  auto bad = [&](const std::string& why) -> void {
    fail(ErrorCode::kUsage, "window '" + text + "' " + why +
                                "; write the start and end on the source's wall clock as HH:MM-HH:MM, e.g. "
                                "\"01:00-05:00\" (it may wrap midnight: \"22:00-04:00\")");
  };
  unsigned parts[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (int k = 0; k < 4; ++k) {
    size_t digits = 0;
    unsigned v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 2) {
      v = v * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || (k % 2 == 1 && digits != 2)) bad("is not HH:MM-HH:MM");
    parts[k] = v;
    char sep = k == 0 || k == 2 ? ':' : (k == 1 ? '-' : '\0');
    if (k < 3) {
      if (i >= text.size() || text[i] != sep) bad("is not HH:MM-HH:MM");
      ++i;
    }
  }
  if (i != text.size()) bad("is not HH:MM-HH:MM");
  if (parts[1] > 59 || parts[3] > 59 || parts[0] > 23 || parts[2] > 24 || (parts[2] == 24 && parts[3] != 0)) {
    bad("has a time that does not exist (hours 00-23, minutes 00-59; the end may be 24:00)");
  }
  Window w;
  w.start_ = parts[0] * 60 + parts[1];
  w.end_ = parts[2] * 60 + parts[3];
  if (w.end_ % 1440 == w.start_) bad("starts where it ends (to allow any time of day, leave the window out)");
  w.text_ = text;
  return w;
}

int64_t Window::end_reading(int64_t wall) const {
  int64_t reading = day_start(wall) + int64_t{end_} * 60;
  if (wraps() && minute_of_day(wall) >= start_) reading += 86400;
  return reading;
}

int64_t Window::end_after(const TimeZone& zone, int64_t wall, int64_t at) const {
  LocalResolution r = zone.resolve(end_reading(wall));
  if (r.kind == LocalResolution::Kind::kAmbiguous && r.first <= at) return r.second;
  return r.first;
}

int64_t Window::next_start_after(const TimeZone& zone, int64_t wall) const {
  int64_t day = day_start(wall);
  int64_t reading = day + int64_t{start_} * 60;
  if (reading <= wall) reading += 86400;
  return earliest(zone, reading);
}

}  // namespace strata
