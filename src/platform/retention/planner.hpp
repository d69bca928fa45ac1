#pragma once
// The retention planner (docs/RETENTION.md): a pure function from a source's backups, a policy and the time to a
// keep-or-expire verdict per backup, each with every reason that decided it — restic's ApplyPolicy, extended with
// backup chains, verification state, holds, a recovery window over WAL/binlog and the safety rules of issue 16.
// No I/O here: the same plan is the dry-run table, the JSON, the log line per expiry and the tombstone's reason.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/duration.hpp"

namespace strata::retention {

enum class BackupKind {
  kFull,         // self-contained physical backup: WAL/binlog replay can start from it
  kIncremental,  // needs its parent (and the parent's chain) to restore
  kStream,       // self-contained stream (a dump, an RDB, a file): a restore point of its own
};

enum class BackupState {
  kGood,      // committed and intact as far as anyone knows
  kVerified,  // restored or read back completely (a drill, check --read-data)
  kFailed,    // known not restorable
  kSuspect,   // damage reported and not cleared
};

// Where recovery from a backup starts reading the WAL/binlog archive: a timeline (PostgreSQL timeline, MariaDB
// server history) and a position that grows along it (LSN, binlog file index).
struct LogPosition {
  std::string timeline;
  uint64_t position = 0;
};

struct BackupInfo {
  std::string id;
  BackupKind kind = BackupKind::kStream;
  std::string parent;  // incrementals: the backup this one builds on
  int64_t start = 0, end = 0;  // UTC epoch seconds
  // Order among backups, in microseconds (the manifest's started_us): two backups started in the same second must
  // still be told apart, or "keep the last one" keeps whichever has the larger random id. 0: start * 10^6.
  int64_t order_us = 0;
  int64_t order_key() const { return order_us > 0 ? order_us : start * 1000000; }
  BackupState state = BackupState::kGood;
  std::vector<std::string> holds;  // reasons of the holds on this backup ("case 4711"); held backups never expire
  std::optional<LogPosition> log_start;
};

// Counts: 0 = the rule is off, -1 = unlimited (every bucket), as in restic.
struct Policy {
  int keep_last = 0;
  int keep_hourly = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0, keep_yearly = 0;
  int64_t keep_within = 0;      // seconds before the newest good backup's start; 0 = off
  int64_t recovery_window = 0;  // seconds before `now`; 0 = off
  int min_good = 1;             // good backups kept whatever the rules say (the newest good one always is)
  double max_share = 0.5;       // a plan that expires more than this share of a source's backups needs confirming
  std::string time_zone = "UTC";  // IANA zone of the hourly..yearly buckets
  // True if any keep-/window rule is set: a policy without one would expire everything but the safety minimum.
  bool has_rule() const;
};

enum class Decision { kKeep, kExpire };

struct Verdict {
  std::string id;
  Decision decision = Decision::kExpire;
  std::vector<std::string> reasons;  // every reason that decided it, in a fixed order (docs/RETENTION.md)
  bool good = false;                 // counted toward the rules (good or verified, whole chain present and good)
};

struct Plan {
  std::vector<Verdict> verdicts;  // newest first (by start, then id)
  size_t kept = 0, expired = 0;
  // The expired share is above policy.max_share: the plan must not be applied without confirmation.
  bool exceeds_max_share = false;
  // Per timeline: the oldest WAL/binlog position a kept backup still needs (the minimum log_start of the kept
  // backups on it). The archive of a timeline not named here must be kept whole.
  std::map<std::string, uint64_t> log_needed_from;
};

// Throws StrataError(kUsage) for an unknown time zone or a negative count below -1.
Plan plan(const std::vector<BackupInfo>& backups, const Policy& policy, int64_t now);

const char* decision_name(Decision d);
const char* state_name(BackupState s);
const char* kind_name(BackupKind k);

// "36h", "14d", "1d12h" -> seconds: strata::parse_duration (common/duration.hpp); rules refuse a bare number
// (BareNumber::kRefused: "--keep-within 14" might mean days). Reasons print durations with format_duration.

}  // namespace strata::retention
