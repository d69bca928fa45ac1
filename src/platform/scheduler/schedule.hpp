#pragma once
// One compiled schedule of one source: cron + the source's zone + its window + its jitter + what to do with fires
// missed while no scheduler ran. Built once from the fleet config; the scheduler pass asks it for fires.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "common/time_zone.hpp"
#include "platform/scheduler/cron.hpp"
#include "platform/scheduler/fire_time.hpp"
#include "platform/scheduler/window.hpp"

namespace strata {

// Fires missed while no scheduler ran (downtime): `skip` runs none of them; `once` runs the newest one if it is at
// most `catch_up` old and its window is still open. Either way the rest are reported as missed.
enum class MissedPolicy { kSkip, kOnce };
MissedPolicy parse_missed_policy(std::string_view text);  // "skip" | "once"; throws StrataError(kUsage)
const char* missed_policy_name(MissedPolicy p);

struct ScheduleSpec {
  std::string source;          // the source's name: seeds its jitter
  std::string type = "full";   // what the job backs up ("full", "incremental"); a full supersedes a same-time other
  std::string cron;
  std::string zone = "UTC";    // IANA zone of the source's wall clock
  std::string window;          // "" = any time of day
  int64_t jitter = 0;          // seconds: the source starts at a fixed offset in [0, jitter) after each fire
  MissedPolicy missed = MissedPolicy::kOnce;
  int64_t catch_up = 24 * 3600;  // policy once: how late a missed fire may still run
  int priority = 0;            // passed through to the queue (higher first)
};

constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

// One fire of a schedule, as the queue receives it.
struct Occurrence {
  int64_t fire = 0;        // the cron's instant (UTC)
  int64_t wall = 0;        // the wall-clock minute the cron matched (local seconds in the source's zone)
  int64_t not_before = 0;  // fire + the source's jitter: when the job may start
  int64_t deadline = kNoDeadline;  // the window's end: a job not started by then is missed
  bool expired(int64_t now) const { return now >= deadline; }
};

class Schedule {
 public:
  // Throws StrataError(kUsage): a malformed cron (naming the field), an unknown zone, a malformed window, a window
  // that the cron never fires in, a negative jitter or catch-up.
  static Schedule compile(const ScheduleSpec& spec);

  // The first fire strictly after `after` that lies in the window (fires outside it are not this schedule's).
  Fire next_fire(int64_t after) const;
  Occurrence occurrence(const Fire& fire) const;
  // The source's fixed offset in [0, jitter): the same on every host, every run and every build (FNV-1a of the name).
  int64_t jitter_offset() const { return jitter_offset_; }

  // The catalog's key of this schedule, stable when the file is reordered: "orders|full|0 3 * * 0" (a source may
  // not list one cron and type twice).
  std::string key() const;
  // A hash (16 hex digits) of everything that decides the fires: cron, zone, window, jitter, missed, catch_up.
  // Stored with the next fire; when it changes, the stored next fire no longer means anything and is dropped.
  std::string fingerprint() const;

  const ScheduleSpec& spec() const { return spec_; }
  const CronSpec& cron() const { return cron_; }
  const TimeZone& zone() const { return zone_; }
  const std::optional<Window>& window() const { return window_; }

 private:
  Schedule(ScheduleSpec spec, CronSpec cron, TimeZone zone) : spec_(std::move(spec)), cron_(std::move(cron)), zone_(zone) {}
  ScheduleSpec spec_;
  CronSpec cron_;
  TimeZone zone_;
  std::optional<Window> window_;
  uint64_t jitter_hash_ = 0;
  int64_t jitter_offset_ = 0;
};

uint64_t stable_hash(std::string_view text);  // FNV-1a 64: fixed by this definition, never by the platform

}  // namespace strata
