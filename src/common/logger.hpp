#pragma once
// A logger as a value: it carries fields of its own (the job's id, the source, the agent) and writes them on every
// line, so two jobs in one agent process write lines that say whose they are. The format and level stay the
// process's (log::configure); the CLI uses a Logger without fields, which writes exactly what log::write does.
// Code below the CLI that runs on behalf of a job takes one (EngineBackupRequest::log, BackupOptions::log, ...)
// instead of calling the log:: functions.
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.hpp"

namespace strata {

class Logger {
 public:
  // Where the finished lines go (each ends with '\n'); stderr when none is given.
  using Sink = std::function<void(std::string_view line)>;

  Logger() = default;
  explicit Logger(Sink sink);

  // A copy that also writes `key`=`value` (a field of the same key given to a call wins on that line).
  Logger with(std::string_view key, std::string_view value) const;
  Logger with(log::Field field) const;

  void write(log::Level level, std::string_view event, std::initializer_list<log::Field> fields = {}) const;
  void debug(std::string_view e, std::initializer_list<log::Field> f = {}) const { write(log::Level::kDebug, e, f); }
  void info(std::string_view e, std::initializer_list<log::Field> f = {}) const { write(log::Level::kInfo, e, f); }
  void warn(std::string_view e, std::initializer_list<log::Field> f = {}) const { write(log::Level::kWarn, e, f); }
  void error(std::string_view e, std::initializer_list<log::Field> f = {}) const { write(log::Level::kError, e, f); }

  const std::vector<log::Field>& fields() const { return fields_; }

 private:
  std::vector<log::Field> fields_;
  std::shared_ptr<const Sink> sink_;  // shared by the copies with() makes; null: stderr
};

// `given`, or the process's logger without fields when it is null (a caller that passed none: the CLI, a test).
const Logger& logger_or_default(const Logger* given);

}  // namespace strata
