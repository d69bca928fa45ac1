#pragma once
// A restore drill's result, kept in the repository beside the backup it proved (drills/<backup>/<drill>.json), so
// the repository stays self-describing without a catalog: `drill list`, `status` and retention read these.
// Records are JSON with a MAC under the repository's key (repo/record_mac.hpp), so whoever can merely write to the
// storage cannot forge a "passed": a pass counts only when authentic (docs/DRILLS.md).
#include <cstdint>
#include <string>
#include <vector>

namespace strata {

class Repository;

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
  // Set when read. "authentic": the MAC verified; "forged": it did not (never counted); "unverified": no MAC
  // (written before records were authenticated) or no key to check it with; "none": an unencrypted repository
  // has no key to authenticate anything with.
  std::string auth;
  // Whether this record may say the backup is verified: a pass, authenticated (or in an unencrypted repository).
  bool counts_as_pass() const { return passed() && (auth == "authentic" || auth == "none"); }
};

std::string drill_record_key(const DrillRecord& r);
// The record as stored, with its MAC (empty for an unencrypted repository). Throws StrataError(kWrongKey) for an
// encrypted repository opened without its key.
std::string encode_drill_record(const Repository& repo, const DrillRecord& r);
// Throws StrataError(kCorrupt) naming `where` for a damaged or oversized record; sets `auth`.
DrillRecord decode_drill_record(const Repository& repo, const std::string& text, const std::string& where);

// Writes the record create-only.
void store_drill_record(Repository& repo, const DrillRecord& r);
// Every readable record (of `backup_id` only, if given), oldest first, forged ones included (auth "forged");
// unreadable ones are appended to `damaged` as "key: reason".
std::vector<DrillRecord> list_drill_records(Repository& repo, const std::string& backup_id,
                                            std::vector<std::string>* damaged);

}  // namespace strata
