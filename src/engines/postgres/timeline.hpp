#pragma once
// PostgreSQL timelines as recovery follows them: a timeline's history file ("00000002.history") lists every
// ancestor and the LSN where it was left; recovery to a target timeline reads each WAL segment from the newest
// timeline on that path that had begun by then. The restore's pre-checks and its "was the end reached" check
// both walk the same path, so what strata checks is what PostgreSQL will replay.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace strata::pg {

struct WalInventory;

inline constexpr uint64_t kNoEnd = std::numeric_limits<uint64_t>::max();

struct TimelineEntry {
  uint32_t tli = 0;
  uint64_t begin = 0;     // first LSN on this timeline (0 for the first entry)
  uint64_t end = kNoEnd;  // the switch point to the next entry; kNoEnd for the target timeline
};
// Oldest first; the last entry is the target timeline.
using TimelinePath = std::vector<TimelineEntry>;

std::string history_file_name(uint32_t tli);  // 2 -> "00000002.history"
// The path to timeline `tli` from its history file's text ("parentTLI <tab> X/Y <tab> reason" per line; '#' comments).
// Throws StrataError(kCorrupt) naming the file when a line cannot be read.
TimelinePath parse_history(uint32_t tli, const std::string& text);
// The path of a timeline without a history file (timeline 1, or `current` of a backup).
TimelinePath single_timeline(uint32_t tli);
// The timeline `lsn` belongs to on the path (the last entry whose begin <= lsn); 0 if none.
uint32_t timeline_of_point(const TimelinePath& path, uint64_t lsn);
std::string describe_path(const TimelinePath& path);  // "1 -> 2 (forked at 0/5000060)"

// What recovery along `path` needs from the archive, starting at segment `from` (the first segment after the base
// backup's own WAL).
struct WalPlan {
  // The last segment recovery can read from the archive on the path (the end of "latest"); nullopt when the archive
  // holds nothing on the path at or after `from`.
  std::optional<uint64_t> last;
  uint32_t last_tli = 0;
  // The last segment reachable from `from` without a gap (from - 1 when `from` itself is missing).
  uint64_t reach = 0;
  uint32_t reach_tli = 0;
  // The first expected segment that is missing although later ones on the path exist.
  std::optional<uint64_t> missing;
  uint32_t missing_tli = 0;
};
// The timeline whose file recovery reads for segment `segno` on `path`.
uint32_t timeline_for_segment(const TimelinePath& path, uint64_t segno, uint64_t segment_size);
WalPlan plan_wal(const WalInventory& inv, const TimelinePath& path, uint64_t from);

}  // namespace strata::pg
