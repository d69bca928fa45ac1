#include "engines/postgres/timeline.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "common/error.hpp"
#include "engines/postgres/wal.hpp"

namespace strata::pg {

std::string history_file_name(uint32_t tli) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X.history", tli);
  return buf;
}

TimelinePath single_timeline(uint32_t tli) { return {TimelineEntry{tli, 0, kNoEnd}}; }

TimelinePath parse_history(uint32_t tli, const std::string& text) {
  TimelinePath path;
  std::istringstream in(text);
  uint64_t begin = 0;
  for (std::string line; std::getline(in, line);) {
    size_t i = line.find_first_not_of(" \t");
    if (i == std::string::npos || line[i] == '#') continue;
    std::istringstream fields(line.substr(i));
    std::string parent, lsn;
    fields >> parent >> lsn;
    uint32_t parent_tli = 0;
    uint64_t switch_lsn = 0;
    try {
      size_t used = 0;
      unsigned long v = std::stoul(parent, &used, 10);
      if (used != parent.size() || v == 0 || v >= tli) throw std::invalid_argument("timeline");
      parent_tli = static_cast<uint32_t>(v);
      switch_lsn = parse_lsn(lsn);
    } catch (const std::exception&) {
      fail(ErrorCode::kCorrupt, "timeline history file " + history_file_name(tli) + " has an unreadable line '" + line +
                                    "'; it is not a PostgreSQL history file: check the archive with 'strata wal check'");
    }
    if ((!path.empty() && parent_tli <= path.back().tli) || switch_lsn < begin) {
      fail(ErrorCode::kCorrupt, "timeline history file " + history_file_name(tli) + " lists timelines or switch points out of "
                                    "order (line '" + line + "')");
    }
    path.push_back(TimelineEntry{parent_tli, begin, switch_lsn});
    begin = switch_lsn;
  }
  path.push_back(TimelineEntry{tli, begin, kNoEnd});
  return path;
}

uint32_t timeline_of_point(const TimelinePath& path, uint64_t lsn) {
  uint32_t out = 0;
  for (const auto& e : path) {
    if (e.begin <= lsn && lsn < e.end) out = e.tli;
  }
  return out;
}

std::string describe_path(const TimelinePath& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (i) out += " -> ";
    out += std::to_string(path[i].tli);
    if (i) out += " (forked at " + format_lsn(path[i].begin) + ")";
  }
  return out;
}

uint32_t timeline_for_segment(const TimelinePath& path, uint64_t segno, uint64_t segment_size) {
  // PostgreSQL tries the newest timeline that had begun by this segment (XLogFileReadAnyTLI); the switch segment
  // itself is read from the new timeline, whose copy holds the old timeline's WAL up to the switch point.
  uint32_t tli = path.front().tli;
  for (const auto& e : path) {
    if (e.begin / segment_size <= segno) tli = e.tli;
  }
  return tli;
}

WalPlan plan_wal(const WalInventory& inv, const TimelinePath& path, uint64_t from) {
  WalPlan plan;
  uint64_t seg_size = inv.segment_size;
  for (size_t i = 0; i < path.size(); ++i) {
    uint64_t lo = std::max<uint64_t>(path[i].begin / seg_size, from);
    uint64_t hi = i + 1 < path.size() ? path[i + 1].begin / seg_size : kNoEnd;
    if (i + 1 < path.size() && hi == 0) continue;
    if (i + 1 < path.size()) --hi;  // the next timeline's copy of its first segment is the one read
    auto it = inv.segments.find(path[i].tli);
    if (it == inv.segments.end() || lo > hi) continue;
    auto last = it->second.upper_bound(hi);
    if (last == it->second.begin()) continue;
    --last;
    if (*last < lo) continue;
    if (!plan.last || *last > *plan.last) {
      plan.last = *last;
      plan.last_tli = path[i].tli;
    }
  }
  uint64_t s = from;
  uint64_t end = plan.last ? *plan.last : (from == 0 ? 0 : from - 1);
  while (s <= end && inv.has(timeline_for_segment(path, s, seg_size), s)) ++s;
  plan.reach = s == 0 ? 0 : s - 1;
  plan.reach_tli = timeline_for_segment(path, plan.reach, seg_size);
  if (plan.last && s <= *plan.last) {
    plan.missing = s;
    plan.missing_tli = timeline_for_segment(path, s, seg_size);
  }
  return plan;
}

}  // namespace strata::pg
