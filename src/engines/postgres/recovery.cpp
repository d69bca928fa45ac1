#include "engines/postgres/recovery.hpp"

#include <cctype>
#include <fstream>
#include <regex>
#include <vector>

#include "common/error.hpp"
#include "engines/tool_util.hpp"

namespace strata::pg {

std::string TimelineTarget::conf_value() const {
  switch (kind) {
    case Kind::kLatest: return "latest";
    case Kind::kCurrent: return "current";
    case Kind::kNumber: break;
  }
  return std::to_string(number);
}

TimelineTarget parse_timeline_target(const std::string& text) {
  TimelineTarget t;
  if (text.empty() || text == "latest") return t;
  if (text == "current") {
    t.kind = TimelineTarget::Kind::kCurrent;
    return t;
  }
  size_t used = 0;
  unsigned long v = 0;
  try {
    v = std::stoul(text, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || v == 0 || v > 0xFFFFFFFFul || !std::isdigit(static_cast<unsigned char>(text[0]))) {
    fail(ErrorCode::kUsage, "invalid --target-timeline '" + text + "': use latest, current or a timeline number such as 2");
  }
  t.kind = TimelineTarget::Kind::kNumber;
  t.number = static_cast<uint32_t>(v);
  return t;
}

TimelinePath resolve_timeline_path(uint32_t backup_tli, const TimelineTarget& target,
                                   const std::function<bool(uint32_t)>& has_history,
                                   const std::function<std::string(uint32_t)>& read_history) {
  uint32_t tli = backup_tli;
  if (target.kind == TimelineTarget::Kind::kLatest) {
    while (has_history(tli + 1)) ++tli;
  } else if (target.kind == TimelineTarget::Kind::kNumber) {
    tli = target.number;
  }
  if (tli == 1) return single_timeline(1);
  if (!has_history(tli)) {
    if (tli == backup_tli) return single_timeline(tli);  // PostgreSQL too accepts a missing history of its own timeline
    fail(ErrorCode::kTargetNotReached, "--target-timeline " + std::to_string(tli) + ": its history file " +
                                           history_file_name(tli) + " is not in the archive, so recovery cannot follow "
                                           "it; run 'strata wal check' and choose an archived timeline");
  }
  return parse_history(tli, read_history(tli));
}

bool backup_on_path(const TimelinePath& path, uint32_t start_tli, uint64_t start_lsn, uint32_t stop_tli, uint64_t stop_lsn) {
  return timeline_of_point(path, start_lsn) == start_tli && timeline_of_point(path, stop_lsn ? stop_lsn - 1 : 0) == stop_tli;
}

int64_t parse_target_time_us(const std::string& text) {
  int64_t us = parse_target_time(text, true) * 1000000;
  static const std::regex frac(R"(\d{2}:\d{2}:\d{2}\.(\d+))");
  std::smatch m;
  if (std::regex_search(text, m, frac)) {
    std::string digits = m[1].str().substr(0, 6);
    while (digits.size() < 6) digits += '0';
    us += std::stoll(digits);
  }
  return us;
}

std::string restore_log_path(const std::string& data_dir) {
  std::string d = data_dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d + ".strata-restore.log";
}

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(trim(l));
  return lines;
}

}  // namespace

std::string recovery_log_summary(const std::string& log_path, size_t lines_wanted) {
  auto lines = read_lines(log_path);
  std::string fatal, strata_error;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (fatal.empty() && (it->find("FATAL:") != std::string::npos || it->find("PANIC:") != std::string::npos)) fatal = *it;
    if (strata_error.empty() && it->find("strata: error:") != std::string::npos) strata_error = *it;
  }
  if (!fatal.empty()) return strata_error.empty() ? fatal : fatal + " — " + strata_error;
  std::string out;
  for (size_t i = lines.size() > lines_wanted ? lines.size() - lines_wanted : 0; i < lines.size(); ++i) {
    out += (out.empty() ? "" : " | ") + lines[i];
  }
  return out;
}

bool log_says_target_not_reached(const std::string& log_path) {
  static const char* kNotReached[] = {
      "could not restore file",  // wal fetch failed fatally (exit > 125)
      "recovery ended before configured recovery target was reached",
      "requested recovery stop point is before consistent recovery point",
      "is not a child of this server's history",
      "does not contain minimum recovery point",
      "recovery target timeline",
      "WAL ends before end of online backup",
      "WAL ends before consistent recovery point",
  };
  for (const auto& l : read_lines(log_path)) {
    if (l.find("FATAL:") == std::string::npos && l.find("PANIC:") == std::string::npos) continue;
    for (const char* k : kNotReached) {
      if (l.find(k) != std::string::npos) return true;
    }
  }
  return false;
}

}  // namespace strata::pg
