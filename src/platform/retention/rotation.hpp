#pragma once
// Rotation: the planner applied to a repository, in two phases (docs/RETENTION.md).
//   1. expire: every backup the plan expires gets a tombstone (expired/<id>, create-only) and a warn line
//      `backup_expired` — from then on list and restore latest no longer offer it;
//   2. delete: a tombstoned backup whose grace period is over (or all of them with `now_delete`) loses its
//      manifest, then its objects, then its tombstone — children before the backups they build on.
// Runs under a shared lock: backups of every source go on meanwhile; a per-backup delete touches only
// data/<id>/ and that backup's records. A kill at any point leaves whole chains and converges on the next run.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "platform/retention/planner.hpp"

namespace strata {
class Repository;
struct Manifest;
}

namespace strata::retention {

// A version that became invalid (issue 16 part 5), as the OPS platform is told: "backup.expired" (tombstoned,
// hidden from list and restore latest, deleted after the grace period; `expired restore` undoes it) or
// "backup.deleted" (its objects are gone).
struct Invalidation {
  std::string kind;
  std::string source, backup_id, type, started, finished;  // the manifest's
  std::vector<std::string> reasons;                        // the planner's, from the tombstone
  std::string policy, expired, delete_after;               // ISO-8601 UTC
};

struct RotationRequest {
  std::string source;
  Policy policy;
  std::string policy_text;   // how the policy was given ("--keep-last 3 --keep-daily 7", "[retention.default]")
  bool dry_run = false;
  bool confirm = false;      // apply a plan above policy.max_share
  int64_t grace = 86400;     // seconds between expiry and physical deletion
  bool delete_now = false;   // --now: delete due tombstones of this source regardless of the grace period
  int64_t now = 0;
  // What drills (and later check) found, by backup id: kVerified (its latest drill passed) or kFailed (it failed).
  // A backup not named here is kGood. The caller reads them (platform/drill's latest_drills); the planner never
  // counts a failed backup toward a rule, so a policy cannot keep a broken newest backup and expire the good ones.
  std::map<std::string, BackupState> states;
  // Records invalidation notices durably (the catalog's outbox: retention/notices.hpp). Called, unless dry_run, with
  // every expired backup of the source whose tombstone is still there — on every run, so a notice a crash lost
  // after its tombstone is sent by the next one (the outbox keeps one per key) — before anything is deleted; then
  // with the backups this run deleted. A throw stops the run before any deletion. Empty: notices are the
  // `backup_expired` warn lines only.
  std::function<void(const std::vector<Invalidation>&)> publish;
};

struct PlannedBackup {
  BackupInfo info;
  std::string type, started;  // as the manifest says
  Verdict verdict;
};

struct RotationResult {
  std::string source;
  std::string policy_text;
  Plan plan;
  std::vector<PlannedBackup> backups;     // newest first, in plan order
  std::vector<std::string> expired_now;   // tombstones written by this run
  std::vector<std::string> revived;       // tombstones removed: a live backup builds on it, or it is held
  std::vector<std::string> deleted;       // backups physically deleted by this run
  std::vector<std::string> waiting;       // tombstoned, in the grace period: "ID (until ISO)"
  std::vector<std::string> left_alone;    // tombstones not acted on, with why
  bool stopped = false;                   // above max_share without confirm: nothing was changed
  // PostgreSQL sources: archived WAL segments that end before the oldest start LSN of the backups still in the
  // repository (kept or waiting for their grace period) are deleted with them; names, oldest first.
  std::vector<std::string> wal_deleted;
  std::string wal_needed_from;            // "0/5000028" (empty: the source has no base backup with a start LSN)
  // MariaDB/MySQL sources: archived binlog files numbered before the oldest binlog file a backup still in the
  // repository starts in; names, oldest first (every committed copy of a file goes, a racing archiver's too).
  std::vector<std::string> binlog_deleted;
  std::string binlog_needed_from;         // "binlog.000012" (empty: no backup of the source records a binlog file)
};

// Plans (and, unless dry_run, applies) `req.policy` to one source.
RotationResult rotate_source(Repository& repo, const RotationRequest& req);

// Plans only: what rotate_source would decide (no lock, no writes).
RotationResult plan_source(Repository& repo, const RotationRequest& req);

// The planner's view of one manifest: kind from type/parent, holds, WAL/binlog start from the engine metadata.
BackupInfo backup_info_of(const Manifest& m, const std::vector<std::string>& holds);

}  // namespace strata::retention
