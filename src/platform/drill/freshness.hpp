#pragma once
// `strata status`: is every source inside its RPO? Per source: the newest good backup (committed, and not failed by
// its latest drill), the newest verified one (passed a drill), the last failed drill, the WAL/binlog archive's end,
// all judged against the source's rpo at one instant. assess() is pure (tests feed it facts and a time);
// gather_freshness() reads the facts from a repository.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/problem.hpp"
#include "platform/drill/record.hpp"

namespace strata {

class Repository;

struct SourceFacts {
  std::string source;
  int64_t rpo_s = 0;  // 0: none configured — only "no good backup at all" is a problem then
  std::string newest_good_id;
  int64_t newest_good_end = 0;  // epoch seconds; 0 = none
  std::string newest_verified_id;
  int64_t newest_verified_end = 0;
  std::string failed_drill_backup;  // the newest backup whose latest drill failed, if it is newer than newest good
  std::string failed_drill_error;
  std::string archive;  // "wal" or "binlog" when the source has a continuous archive
  int64_t archive_end = 0;
  size_t backups = 0;
};

enum class Freshness { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };  // Nagios' order
const char* freshness_name(Freshness f);  // OK, WARNING, CRITICAL, UNKNOWN

struct SourceStatus {
  SourceFacts facts;
  Freshness state = Freshness::kOk;
  std::string summary;  // "newest good backup 27h 3m ago, rpo 26h", ...
};

SourceStatus assess(const SourceFacts& facts, int64_t now);

// The latest drill (passed or failed; "stopped" drills say nothing about a backup) of each backup that had one,
// among the drills started at or before `as_of`: a later pass supersedes an earlier failure. Status and retention
// both decide "good" from this. A pass counts only when its record is authentic (DrillRecord::counts_as_pass), so
// without the repository's key no pass counts; forged records never count.
std::map<std::string, DrillRecord> latest_drills(Repository& repo, int64_t as_of);

// Facts for every source configured (`rpo_by_source`: name -> rpo in seconds, 0 = none) or present in the
// repository; only `source_filter` if given. Backups that finished after `as_of` are ignored, so a report can be
// made for a past instant. Needs no passphrase.
std::vector<SourceFacts> gather_freshness(Repository& repo, const std::map<std::string, int64_t>& rpo_by_source,
                                          const std::string& source_filter, int64_t as_of);

// `strata status` as one use case: each source's rpo (`override_rpo_s` for all when > 0, else its config `rpo`),
// every source gathered and assessed at `as_of`, and the worst state. Throws kNotFound for a `source_filter` that
// neither has backups nor is configured, kUsage for a malformed rpo. The problem (kProblemsFound: sources that need
// attention) is raised by the caller after it printed the report.
struct StatusReport {
  std::vector<SourceStatus> sources;
  Freshness worst = Freshness::kOk;
  std::optional<app::Problem> problem;
};
StatusReport fleet_status(Repository& repo, const std::map<std::string, std::map<std::string, std::string>>& configured,
                          int64_t override_rpo_s, const std::string& source_filter, int64_t as_of);

}  // namespace strata
