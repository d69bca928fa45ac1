#include "platform/scheduler/schedule.hpp"

#include <algorithm>
#include <cstdio>

#include "common/error.hpp"

namespace strata {

MissedPolicy parse_missed_policy(std::string_view text) {
  if (text == "skip") return MissedPolicy::kSkip;
  if (text == "once") return MissedPolicy::kOnce;
  fail(ErrorCode::kUsage, "missed = \"" + std::string(text) + "\" is not a policy; use \"once\" (run the newest "
                          "missed fire after downtime, the default) or \"skip\" (run none)");
}

const char* missed_policy_name(MissedPolicy p) { return p == MissedPolicy::kSkip ? "skip" : "once"; }

uint64_t stable_hash(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Schedule Schedule::compile(const ScheduleSpec& spec) {
  CronSpec cron = CronSpec::parse(spec.cron);
  TimeZone zone = TimeZone::locate(spec.zone);
  Schedule s(spec, std::move(cron), zone);
  if (spec.jitter < 0) fail(ErrorCode::kUsage, "jitter must not be negative; use 0 for none or a duration like \"10m\"");
  if (spec.jitter > 7 * 86400) {
    fail(ErrorCode::kUsage, "jitter of " + std::to_string(spec.jitter) + " s is more than a week; use a few minutes");
  }
  if (spec.catch_up < 0) fail(ErrorCode::kUsage, "catch_up must not be negative; use 0 to run only fires on time");
  if (!spec.window.empty()) {
    Window w = Window::parse(spec.window);
    bool opens = w.wraps() ? (s.cron_.any_minute_of_day(w.start(), 1440) || s.cron_.any_minute_of_day(0, w.end()))
                           : s.cron_.any_minute_of_day(w.start(), w.end());
    if (!opens) {
      fail(ErrorCode::kUsage, "window '" + w.text() + "' never opens for cron '" + s.cron_.text() + "': it fires " +
                                  s.cron_.describe_times() + ", all outside the window; move the window or the cron "
                                  "so that they meet (both are on the source's wall clock, " + zone.name() + ")");
    }
    s.window_ = w;
  }
  s.jitter_hash_ = stable_hash(spec.source);
  s.jitter_offset_ = spec.jitter > 0 ? static_cast<int64_t>(s.jitter_hash_ % static_cast<uint64_t>(spec.jitter)) : 0;
  return s;
}

std::string Schedule::key() const { return spec_.source + "|" + spec_.type + "|" + cron_.text(); }

std::string Schedule::fingerprint() const {
  std::string all = cron_.text() + "\n" + zone_.name() + "\n" + spec_.window + "\n" + std::to_string(spec_.jitter) +
                    "\n" + missed_policy_name(spec_.missed) + "\n" + std::to_string(spec_.catch_up);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(stable_hash(all)));
  return buf;
}

Fire Schedule::next_fire(int64_t after) const {
  Fire f = strata::next_fire(cron_, zone_, after);
  if (!window_) return f;
  // Outside the window: look again from the window's next opening — or from the zone's next transition if that
  // comes first, because after a fall-back the wall clock returns into the window (a wildcard job fires in both
  // occurrences). Terminates because compile() saw the cron fire at some minute of the window, and every day the
  // cron's day fields allow has that minute (or, in a gap, its first instant after).
  for (int guard = 0; !window_->contains_wall(f.wall); ++guard) {
    if (guard > 100000) fail(ErrorCode::kGeneric, "cron '" + cron_.text() + "' finds no fire in its window; report this as a bug");
    int64_t open = std::min(window_->next_start_after(zone_, f.wall), zone_.period_at(f.at).end);
    f = strata::next_fire(cron_, zone_, std::max(f.at, open - 1));
  }
  return f;
}

Occurrence Schedule::occurrence(const Fire& fire) const {
  Occurrence o;
  o.fire = fire.at;
  o.wall = fire.wall;
  if (window_) {
    o.deadline = window_->end_after(zone_, fire.wall, fire.at);
    // A fixed time that a spring-forward gap moved (02:30 -> 03:00) may land at or past the window's end when the
    // gap swallowed the rest of the window: it keeps the time to start that the window gave it on the wall clock.
    int64_t remaining = window_->end_reading(fire.wall) - fire.wall;
    if (zone_.to_local_seconds(fire.at) != fire.wall) o.deadline = std::max(o.deadline, fire.at + remaining);
  }
  int64_t offset = jitter_offset_;
  // Capped by the window: the job must be able to start before the window closes.
  if (o.deadline != kNoDeadline && spec_.jitter > 0) {
    int64_t span = o.deadline - fire.at;
    if (span <= 0) offset = 0;
    else if (span < spec_.jitter) offset = static_cast<int64_t>(jitter_hash_ % static_cast<uint64_t>(span));
  }
  o.not_before = fire.at + offset;
  return o;
}

}  // namespace strata
