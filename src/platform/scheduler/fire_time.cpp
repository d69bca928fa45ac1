#include "platform/scheduler/fire_time.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace strata {
namespace {

constexpr int64_t kHorizon = 12 * 366 * 86400LL;

int64_t ceil_minute(int64_t t) {
  int64_t r = ((t % 60) + 60) % 60;
  return r == 0 ? t : t + (60 - r);
}

}  // namespace

// The zone's timeline is a run of periods with a constant UTC offset; inside one, wall time is UTC + offset and
// moves in step with it. So: walk the periods from `after` on, and in each look for the first matching wall minute
// of its wall-clock range. What DST changes happens at a period's start: the wall times between the previous
// period's end reading and this one's start reading either never happen (a gap, the clock jumped forward) or
// happen a second time (an overlap, the clock went back).
Fire next_fire(const CronSpec& cron, const TimeZone& zone, int64_t after) {
  int64_t cursor = after + 1;  // the earliest instant that may fire
  const int64_t stop = after + kHorizon;
  ZonePeriod p = zone.period_at(cursor);
  const bool fixed = !cron.wildcard();
  while (cursor < stop) {
    int64_t lower = cursor + p.offset;  // wall-clock range of the rest of this period: [lower, upper)
    int64_t upper = std::min(p.end, stop) + p.offset;
    // Only near the period's start can the previous one matter: a gap fires at the start itself, and the readings
    // an overlap repeats end within the offset change (less than two days in every zone) after it.
    if (fixed && p.begin > INT64_MIN / 2 && cursor - p.begin < 2 * 86400) {
      ZonePeriod q = zone.period_at(p.begin - 1);
      int64_t before = p.begin + q.offset;  // what the clock read just before the transition
      int64_t now_reads = p.begin + p.offset;
      if (now_reads > before && p.begin >= cursor) {
        // A gap: a fixed job whose time was skipped fires once, at the first instant after the gap.
        if (auto m = cron.next_match(before, now_reads)) return Fire{p.begin, *m};
      } else if (now_reads < before) {
        // An overlap: the readings [now_reads, before) already happened in the previous period.
        lower = std::max(lower, before);
      }
    }
    if (lower < upper) {
      if (auto m = cron.next_match(ceil_minute(lower), upper)) return Fire{*m - p.offset, *m};
    }
    if (p.end >= stop) break;
    cursor = p.end;
    p = zone.period_at(cursor);
  }
  fail(ErrorCode::kGeneric, "cron '" + cron.text() + "' does not fire in " + zone.name() +
                                " within 12 years; report this as a bug");
}

}  // namespace strata
