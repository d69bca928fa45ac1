#pragma once
// Restore drills (docs/DRILLS.md): prove that a backup restores, by doing it. Level 1 reads and verifies every byte
// of the backup (every frame authenticated, the plaintext SHA-256 recomputed) without writing anything. Level 2
// restores it into scratch space, starts the database where the engine can (Redis), runs the engine's checks and
// the source's own verify command, compares with the fingerprint taken at backup time, and measures the RTO.
// The result is a DrillRecord, stored in the repository by the caller (store_drill_record).
#include <cstdint>
#include <functional>
#include <string>

#include "engines/engine.hpp"
#include "io/pipeline.hpp"
#include "platform/drill/record.hpp"

namespace strata {

class Repository;

struct DrillSettings {
  std::string scratch_dir;    // [drill] scratch_dir; empty: $TMPDIR or /tmp
  uint64_t disk_budget = 0;   // [drill] disk_budget: most bytes a level 2 drill may restore; 0 = free space only
  int64_t time_limit_s = 3600;  // [drill] time_limit
};

struct DrillRequest {
  std::string backup_id;  // resolved
  int level = 2;
  SourceConfig source;    // the configured source (no values for a plain stream source)
  // So a restored server that must read the WAL archive (strata wal fetch) reaches the same repository.
  std::string config_path, passphrase_file;
  DrillSettings settings;
  PipelineSettings pipeline;
};

// Which backup a drill proves: `id` (or a unique prefix) if given; else, with random_within_s > 0, a random one of
// `source` that finished within that many seconds before now (each is proved sooner or later); else the newest of
// `source`. Throws kNotFound naming the source.
std::string pick_drill_backup(Repository& repo, const std::string& source, const std::string& id, int64_t random_within_s);

// Runs one drill. A backup that does not restore or fails a check gives result "failed"; reaching the time limit
// gives "stopped". Throws StrataError before touching anything when the drill cannot run here: kUsage (level not
// supported for the engine, disk budget too small), kStorage (not enough free space in the scratch directory).
DrillRecord run_drill(Repository& repo, const DrillRequest& req, const ProgressFn& progress);

}  // namespace strata
