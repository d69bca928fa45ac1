#pragma once
// Point-in-time recovery from archived binlogs, ordered so that a refused restore writes nothing:
//   plan_replay()      from the manifests alone: the files from the backup's binlog position on, and whether they
//                      reach the target time (a gap, or an archive that ends before it, is known here);
//   prepare_replay()   fetches and verifies those files and decodes them into SQL in the scratch directory;
// both run before the restore touches --target-dir. apply_replay() then starts a private server on the restored
// datadir, checks the restore user's privileges there and replays the SQL.
//
// Stopping rule (mariadb-binlog --stop-datetime): events are replayed in binlog order up to the first one at or
// after the target second. The archive reaches the target when that first event is archived: the last needed
// file was closed (its rotate/stop event) at or after the target, or the next archived file was opened after it.
#include <cstdint>
#include <string>
#include <vector>

#include "engines/engine.hpp"
#include "engines/mysql/binlog_archive.hpp"

namespace strata {

class MysqlConn;

struct ReplayPlan {
  std::string source;
  std::string start_file;  // the backup's binlog coordinates
  uint64_t start_pos = 0;
  int64_t backup_end = 0;
  int64_t target_epoch = 0;
  std::vector<ArchivedBinlog> files;  // contiguous from start_file; each opened at or before the target
  bool reaches_target = false;
  // Not reaching: the first file missing after `files` ("" if the archive simply ends), and until when the
  // archive is complete (the last file's closed time; the backup's end without files).
  std::string missing;
  int64_t covered_until = 0;
  bool coverage_known = true;  // false: the last file was archived before strata recorded closing times
};

ReplayPlan plan_replay(Repository& repo, const SourceConfig& source, const Manifest& tip, int64_t target_epoch);

// Throws unless the plan reaches its target or `allow_partial`: kNotFound for a missing file inside the range,
// kTargetNotReached for an archive that ends before the target. `nothing` ends each message ("; nothing was
// written to DIR").
void require_target_reachable(const ReplayPlan& plan, bool allow_partial, const std::string& nothing);

struct ReplayPoint {
  std::string file;
  uint64_t end_pos = 0;
  std::string gtid;
  std::string time;
  bool any = false;
};

struct PreparedReplay {
  ReplayPlan plan;
  std::string sql_path;  // empty: no file to replay
  ReplayPoint reached;   // the last transaction the SQL holds
};

// Fetches every planned file (each verified byte for byte) into `work`, completes the plan's coverage for old
// archives, and decodes the files into SQL up to the target. Nothing outside `work` is written.
PreparedReplay prepare_replay(Repository& repo, const SourceConfig& source, ReplayPlan plan, const std::string& work,
                              const PipelineSettings& pipeline);

// Global privileges a replay of arbitrary binlogs needs that the user behind `conn` lacks (empty: none missing).
std::vector<std::string> missing_replay_privileges(const MysqlConn& conn);
// Before anything is written: checks the restore user on the source server when it can be reached (the restored
// copy's grant tables are the backup's, which the source's normally match). Throws kUsage when privileges are
// missing; returns without a finding when the source cannot be reached (apply_replay checks again).
void check_restore_user_on_source(const SourceConfig& source, const std::string& nothing);

// Replays into the restored datadir `target` (after the move-back); returns the summary of the point reached.
std::string apply_replay(const SourceConfig& source, const PreparedReplay& replay, const std::string& target,
                         const std::string& run_as);

}  // namespace strata
