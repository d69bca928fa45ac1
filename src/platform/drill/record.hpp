#pragma once
// A restore drill's result, kept in the repository beside the backup it proved (drills/<backup>/<drill>.json), so
// the repository stays self-describing without a catalog: `drill list`, `status` and retention read these.
// Records are plain JSON, not authenticated: anyone who can write to the storage can forge one (docs/DRILLS.md).
#include <cstdint>
#include <string>
#include <vector>

namespace strata {

class Storage;

struct DrillCheck {
  std::string name;    // "read-data", "restore", "redis-check-rdb", "dbsize", "verify_command", ...
  bool ok = false;
  std::string detail;  // a one-line result, or the tail of the tool's output when it failed
};

struct DrillRecord {
  std::string id;          // <compact UTC>-<8 hex>, sortable
  std::string backup_id, source, backup_type, host;
  int level = 1;           // 1: every byte read and verified; 2: restored, started and checked
  std::string started;     // ISO-8601 UTC
  int64_t started_us = 0;
  double restore_seconds = 0, start_seconds = 0, checks_seconds = 0;
  double rto_seconds = 0;  // restore + start until usable: the recovery time this backup really needs
  uint64_t plain_bytes = 0;
  // "passed"; "failed": the backup did not restore or a check failed (the backup is invalid); "stopped": the drill
  // hit its time limit or was interrupted, which says nothing about the backup.
  std::string result = "failed";
  bool passed() const { return result == "passed"; }
  std::string error;       // why it failed or stopped (the first failed check, or the error that ended it)
  std::string recovery_point;  // what the restored copy reached (backup end, LSN, key count...)
  std::vector<DrillCheck> checks;
};

std::string drill_record_key(const DrillRecord& r);
std::string encode_drill_record(const DrillRecord& r);
// Throws StrataError(kCorrupt) naming `where` for a damaged or oversized record.
DrillRecord decode_drill_record(const std::string& text, const std::string& where);

// Writes the record create-only.
void store_drill_record(Storage& storage, const DrillRecord& r);
// Every readable record (of `backup_id` only, if given), oldest first; unreadable ones are appended to `damaged`
// as "key: reason".
std::vector<DrillRecord> list_drill_records(Storage& storage, const std::string& backup_id,
                                            std::vector<std::string>* damaged);

}  // namespace strata
