#include "common/error.hpp"
#include "engines/command/command_engine.hpp"
#include "engines/engine.hpp"
#include "engines/mysql/mysql_engine.hpp"
#include "engines/redis/redis_engine.hpp"
#include "engines/postgres/postgres_engine.hpp"

namespace strata {

std::string SourceConfig::get(const std::string& key, const std::string& def) const {
  auto it = values.find(key);
  return it == values.end() ? def : it->second;
}

std::string SourceConfig::require(const std::string& key) const {
  auto it = values.find(key);
  if (it == values.end() || it->second.empty()) {
    fail(ErrorCode::kUsage, "source '" + name + "' has no '" + key + "' in the config; add it under [source." + name + "]");
  }
  return it->second;
}

std::unique_ptr<Engine> make_engine(const std::string& name) {
  if (name == "command") return std::make_unique<CommandEngine>();
  if (name == "mysql") return std::make_unique<MysqlEngine>();
  if (name == "redis") return std::make_unique<RedisEngine>();
  if (name == "postgres") return std::make_unique<PostgresEngine>();
  fail(ErrorCode::kUsage, "unknown engine '" + name + "': known engines are command, mysql, postgres, redis");
}

}  // namespace strata
