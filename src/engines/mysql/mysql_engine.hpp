#pragma once
#include "engines/engine.hpp"

namespace strata {

// engine = "mysql": MariaDB / MySQL.
//   --type full | incremental  physical, mariadb-backup (or xtrabackup) --stream=xbstream straight into the pipeline;
//                              an incremental starts at its parent's to_lsn, read from the parent's manifest.
//   --type dump                logical, mariadb-dump --single-transaction; restored through the client.
// Restore fetches and checks the whole chain first, extracts and prepares it in a scratch directory next to
// --target-dir, and only then moves the result into place. --target-time replays archived binlogs (see
// binlog_archive.hpp) up to that time. docs/MYSQL_REDIS.md lists the config keys.
class MysqlEngine final : public Engine {
 public:
  std::vector<Manifest> backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                               const ProgressFn& progress) override;
  EngineRestoreResult restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                      const ProgressFn& progress) override;
};

}  // namespace strata
