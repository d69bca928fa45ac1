#pragma once
// What a physical restore decides before and after PostgreSQL's recovery runs: which timeline path recovery will
// follow (--target-timeline), what the archive must hold along it, the exact instant a target time names, where
// the restore's server log goes, and how a failed recovery is reported. A restore never reports a point it did not
// reach: after --start, the point reached is compared with the point asked for.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "engines/postgres/timeline.hpp"

namespace strata::pg {

// --target-timeline: "latest" (PostgreSQL's default), "current" (the backup's own timeline) or a number.
struct TimelineTarget {
  enum class Kind { kLatest, kCurrent, kNumber } kind = Kind::kLatest;
  uint32_t number = 0;
  std::string conf_value() const;  // recovery_target_timeline = '...'
};
// Throws StrataError(kUsage) naming the text.
TimelineTarget parse_timeline_target(const std::string& text);

// The path recovery follows from a backup on `backup_tli` to `target`, the way PostgreSQL resolves it: "latest"
// probes history files backup_tli+1, +2, ... until one is missing (findNewestTimeLine). `has_history(tli)` says
// whether N.history is archived, `read_history(tli)` returns its text. Throws StrataError(kTargetNotReached) when
// the target timeline's history is not archived.
TimelinePath resolve_timeline_path(uint32_t backup_tli, const TimelineTarget& target,
                                   const std::function<bool(uint32_t)>& has_history,
                                   const std::function<std::string(uint32_t)>& read_history);

// Whether a backup (start LSN on `start_tli`, stop LSN on `stop_tli`) lies on the path before it leaves those
// timelines — PostgreSQL's "requested timeline N is not a child of this server's history" otherwise.
bool backup_on_path(const TimelinePath& path, uint32_t start_tli, uint64_t start_lsn, uint32_t stop_tli, uint64_t stop_lsn);

// A --target-time with its fraction of a second, as microseconds since the epoch. Throws StrataError(kUsage).
int64_t parse_target_time_us(const std::string& text);

// The log of the server that `restore --start` starts: beside the data directory, never inside it (a base backup
// taken of the restored copy would carry it along): /srv/pg-restore -> /srv/pg-restore.strata-restore.log.
std::string restore_log_path(const std::string& data_dir);

// The last line of `log_path` that matters for an operator: the last FATAL/PANIC, plus the last "strata: error:"
// line (from `wal fetch`, which PostgreSQL logs) when there is one; otherwise the last `lines` lines.
std::string recovery_log_summary(const std::string& log_path, size_t lines);
// True when the log says recovery stopped short of its target (a fetch failure, a target past the archive, a
// timeline that does not contain the backup) rather than the server failing for another reason.
bool log_says_target_not_reached(const std::string& log_path);

}  // namespace strata::pg
