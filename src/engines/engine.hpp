#pragma once
// Database engines plug in here. A source in the config ([source.NAME] engine = "...") names its engine; the
// backup and restore commands hand the work to it. Adding an engine = one folder + one line in registry.cpp.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/pipeline.hpp"
#include "repo/manifest.hpp"

namespace strata {

class Repository;

struct SourceConfig {
  std::string name;
  std::map<std::string, std::string> values;
  std::string get(const std::string& key, const std::string& def = "") const;
  // Throws StrataError(kUsage) naming the source and key.
  std::string require(const std::string& key) const;
};

struct EngineBackupRequest {
  std::string type;  // engine-specific ("full", "incremental", "dump", ...); empty = the engine's default
  std::map<std::string, std::string> labels;
  PipelineSettings pipeline;
};

struct EngineRestoreRequest {
  std::string id;  // backup id, or empty for the newest usable one
  std::string target_time, target_lsn, target_xid;
  std::string target_timeline;  // PostgreSQL: latest (default), current or a number
  std::string archive_mode;     // PostgreSQL: whether the restored copy archives ("on"/"off"; empty = source default)
  std::string target_dir;  // data directory / folder to restore into
  std::string database;    // logical restores: database to restore into
  std::string to, to_command;  // stream engines: like the plain restore command
  bool start = false;
  int port = 0;
  bool force = false;
  // Point-in-time restores: accept ending before the target (the archive ends earlier) instead of failing with
  // kTargetNotReached; the summary then says how far the restore got.
  bool allow_partial = false;
  std::string config_path, passphrase_file;  // so a restored server's restore_command reaches the same repository
  // Restore drills (docs/DRILLS.md). PostgreSQL: stop recovery as soon as the copy is consistent (recovery_target =
  // 'immediate': the end of the base backup) instead of the end of the archive.
  bool target_immediate = false;
  // PostgreSQL: do not read the WAL archive (restore_command fails every fetch): the backup carries its own WAL.
  bool no_archive_fetch = false;
  // PostgreSQL: more lines for the copy's postgresql.auto.conf (a drill's private socket, no TCP, no replication).
  std::vector<std::string> server_settings;
  // OS user a --start'ed server runs as when strata runs as root (PostgreSQL refuses root); owns the restored files.
  std::string run_as;
  PipelineSettings pipeline;
};

// What an engine restore did, for the caller to show and to record (a drill's recovery point, a job's result).
struct EngineRestoreResult {
  std::string summary;    // for the user: what was restored, where, the point reached (a second line: the started server)
  std::string backup_id;  // the backup restored (chosen by id, by latest or by a target time)
  std::vector<std::string> chain;  // every backup applied, oldest first, when it is more than the one (incrementals)
  // Where recovery ended, in the engine's terms ("LSN 0/5000028", "binlog.000004:1234"); empty when the restore did
  // not recover to a point of its own (a copy not started, a dump, an RDB file).
  std::string point_reached;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Returns the manifests committed (usually one).
  virtual std::vector<Manifest> backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                                       const ProgressFn& progress) = 0;
  virtual EngineRestoreResult restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                              const ProgressFn& progress) = 0;
};

// Throws StrataError(kUsage) for an unknown engine name.
std::unique_ptr<Engine> make_engine(const std::string& name);

}  // namespace strata
