#pragma once
// engine = "postgres": physical base backups (pg_basebackup's tar stream, never staged on disk) plus the WAL
// archive for point-in-time restore, or logical dumps (method = "dump", pg_dump -Fc per database).
// docs/POSTGRES.md describes the config keys and the restore procedure.
#include <string>

#include "engines/engine.hpp"

namespace strata {

class PostgresEngine final : public Engine {
 public:
  std::vector<Manifest> backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                               const ProgressFn& progress) override;
  EngineRestoreResult restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                      const ProgressFn& progress) override;
};

namespace pg {

struct WalCheckOptions {
  bool read_data = false;  // read and verify every archived file (the repository must be unlocked)
  PipelineSettings pipeline;
};
// `strata wal check`: one line per finding. Sets *ok = false when WAL is missing or damaged or a backup is not
// restorable.
std::string wal_check_report(Repository& repo, const SourceConfig& source, const WalCheckOptions& options, bool* ok);

}  // namespace pg
}  // namespace strata
