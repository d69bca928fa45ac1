#pragma once
// The fleet's part of the config file (issue 15 part 1; docs/SCHEDULING.md, docs/CONFIG.md): per [source.X] its
// group, time zone, schedules ([[source.X.schedule]]: cron + type), window, jitter, missed policy, priority, RPO and
// the agent tags that may run it; [limits] and [limits."group/path"] (concurrent jobs, upload bandwidth).
// Validated strictly: the keys by load_settings (unknown keys name file, line and the closest key), the values here
// (every error names file, line and source). The server, scheduler, queue and agents read this one structure.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "platform/scheduler/schedule.hpp"

#include "common/duration.hpp"

namespace strata {

struct FleetSchedule {
  std::string cron;
  std::string type = "full";  // "full" | "incremental"
  unsigned line = 0;          // where it is in the file, for messages
};

struct FleetSource {
  std::string name;
  std::string engine;
  std::string group;  // "region-cn/idc-sh1/cluster-a"; "" = no group
  std::string timezone = "UTC";
  std::string window;  // "" = any time
  int priority = 0;    // higher runs first when limits make jobs wait
  int64_t rpo = 0;     // seconds: the newest good backup may be at most this old; 0 = not watched
  std::vector<std::string> tags;  // an agent must have all of them to run this source ("idc=sh1", "role=db")
  int64_t jitter = 0;             // seconds
  MissedPolicy missed = MissedPolicy::kOnce;
  int64_t catch_up = 24 * 3600;
  std::vector<FleetSchedule> schedules;
  unsigned line = 0;
};

struct FleetLimit {
  std::string group;  // "" = the whole fleet; else a group and every group below it
  std::optional<unsigned> jobs;     // concurrent jobs
  std::optional<uint64_t> upload;   // bytes per second
  unsigned line = 0;
};

struct FleetConfig {
  std::string path;
  Settings settings;                 // the rest of the file, as every command reads it
  std::vector<FleetSource> sources;  // sorted by name
  std::vector<FleetLimit> limits;    // the fleet's first (if any), then groups by path

  // Every schedule of every source, compiled (cron, zone, window checked). Throws what Schedule::compile throws,
  // prefixed with the file, line and source.
  std::vector<Schedule> compile_schedules() const;
  const FleetSource* find(std::string_view source) const;
};

// Reads and validates the file (load_settings first: the same keys, types and secret rules as every command).
// Throws StrataError(kUsage) "config file F line N: source 'db1': ...; <what to do>".
FleetConfig load_fleet_config(const std::string& path);

// What a reload changes, one line each, for the log (names of engine settings, never their values):
//   source 'db2' added | source 'db1' removed | source 'db1': timezone 'UTC' -> 'Asia/Shanghai'
//   source 'db1': schedule '0 2 * * *' (incremental) added | source 'db1': engine settings changed: host, port
//   [limits."region-cn"]: jobs 4 -> 2 | [limits."region-eu"] added
std::vector<std::string> diff_fleet(const FleetConfig& before, const FleetConfig& after);

// Durations ("26h", "1h30m", whole seconds): common/duration.hpp.

}  // namespace strata
