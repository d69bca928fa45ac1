#pragma once
// app::restore — one restore, of a plain stream into a file/command/sink, or through a source's engine.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/services.hpp"
#include "engines/engine.hpp"
#include "io/pipeline.hpp"

namespace strata {
class ByteSink;
}

namespace strata::app {

struct RestoreRequest {
  std::string id;       // backup id, unique prefix, or "latest"; empty with latest or an engine's target time
  bool latest = false;  // the newest backup of `source`
  std::string source;
  // The configured source, when it has one: its engine restores unless a plain target is given (and the engine is
  // not "command", whose restores are plain streams).
  std::optional<SourceConfig> engine_source;
  // Plain targets: an open sink (tests, an agent), a file ("-" = stdout) or a shell command.
  ByteSink* sink = nullptr;
  std::string to, to_command;
  bool force = false;  // overwrite --to / a non-empty target dir
  EngineRestoreRequest engine;  // target dir, point in time, ... (id/to/force/pipeline are filled from above)
  PipelineSettings pipeline;    // its cancel is set from Services
};

struct RestoreResult {
  bool engine = false;
  std::string id;       // the backup restored
  std::vector<std::string> chain;  // engine restores of incrementals: every backup applied, oldest first
  std::string point_reached;       // engine restores that recovered to a point: where they ended
  std::string target;   // where it went (the sink's description)
  uint64_t plain_bytes = 0;
  double seconds = 0;
  int64_t started = 0;  // Services' clock
  // Engine restores: the engine's one-line summary (what was restored, the point reached).
  std::string summary;
  std::vector<std::string> warnings;
};

RestoreResult restore(const Services& services, RestoreRequest request);

}  // namespace strata::app
