#pragma once
#include "engines/engine.hpp"

namespace strata {

// engine = "command": any tool that writes a backup to stdout (backup_command) and reads it back on stdin
// (restore_command). Covers stores without a dedicated engine (TTServer, etcd snapshots, ...).
class CommandEngine final : public Engine {
 public:
  std::vector<Manifest> backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                               const ProgressFn& progress) override;
  EngineRestoreResult restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                      const ProgressFn& progress) override;
};

}  // namespace strata
