#pragma once
#include "engines/engine.hpp"

namespace strata {

// engine = "redis": an RDB snapshot taken over the replication protocol (`redis-cli --rdb -`), so the server's
// own dump.rdb and disk are never touched. Restore writes dump.rdb into --target-dir and, with --start --port P,
// brings up redis-server on it and checks it loaded.
class RedisEngine final : public Engine {
 public:
  std::vector<Manifest> backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                               const ProgressFn& progress) override;
  EngineRestoreResult restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                      const ProgressFn& progress) override;
};

}  // namespace strata
