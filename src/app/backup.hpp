#pragma once
// app::backup — one backup, of a plain stream or through a source's engine. The CLI's `strata backup` and an agent's
// backup job both call this; neither decides anything of its own.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/services.hpp"
#include "engines/engine.hpp"
#include "io/pipeline.hpp"
#include "repo/manifest.hpp"

namespace strata {
class ByteSource;
}

namespace strata::app {

struct BackupRequest {
  std::string source;  // the backup's source name
  std::map<std::string, std::string> labels;
  PipelineSettings pipeline;  // its cancel is set from Services
  // A stream backup reads exactly one of these (first non-empty wins): an open source (tests, an agent's pipe), a
  // shell command's stdout, or a file ("-" = stdin). All empty: an engine backup of `engine_source`.
  ByteSource* stream = nullptr;
  std::string from_command;
  std::string from_file;
  // Engine backups: the configured source ([source.NAME]); required when no stream is given.
  std::optional<SourceConfig> engine_source;
  std::string type;  // engine backup type ("full", "incremental", ...); empty = the engine's default
  // Refuse an empty stream (true) / store it with a warning (false) / the repository's default (unset).
  std::optional<bool> fail_on_empty;
  // Write with the repository's public key only (this host never reads); public_key pins it (hex, optional).
  bool write_only = false;
  std::string public_key;
};

struct BackupResult {
  bool engine = false;             // made by the source's engine
  std::vector<Manifest> manifests;  // committed, in order (usually one)
  uint64_t plain_bytes = 0, stored_bytes = 0, objects = 0, frames = 0;
  double seconds = 0;       // wall time of the stream (steady clock)
  int64_t started = 0;      // Services' clock, epoch seconds
  std::vector<std::string> warnings;
};

// Throws StrataError: kUsage for a request that names neither a stream nor an engine source, kInterrupted when the
// token is cancelled (nothing committed, lock released), and whatever the repository or engine throws.
BackupResult backup(const Services& services, BackupRequest request);

}  // namespace strata::app
