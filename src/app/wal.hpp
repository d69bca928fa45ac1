#pragma once
// app::wal_push / wal_fetch / wal_check — PostgreSQL's archive_command and restore_command, and the archive's
// health report. The CLI's `strata wal` maps them onto the exit statuses PostgreSQL reads; an agent can call the
// same functions (e.g. a drill's restore_command, a scheduled wal check).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "app/problem.hpp"
#include "app/services.hpp"
#include "engines/engine.hpp"
#include "io/pipeline.hpp"

namespace strata::app {

struct WalPushRequest {
  SourceConfig source;  // engine = "postgres"
  std::string path;     // %p; empty with drain
  bool async = false;   // copy into spool_dir and let a drainer archive it (also [source] archive_async = true)
  bool drain = false;   // archive everything waiting in the spool, then return
  std::string public_key;  // pinned repository public key (hex), optional
  // Pipeline settings; the CLI sets its compression to wal_compression(source).
  PipelineSettings pipeline;
  // Starts a drainer for the spool, detached (the CLI re-executes itself); required for async pushes.
  std::function<void(const std::string& spool_dir)> start_drainer;
};

struct WalPushResult {
  enum class Kind { kSpooled, kDrained, kStored, kAlreadyArchived };
  Kind kind = Kind::kStored;
  size_t drained = 0;         // files archived from the spool (kDrained)
  uint64_t stored_bytes = 0;  // kStored
  double ms = 0;
};

// Throws kUsage for an async push without spool_dir, kStorage when an earlier drain of the spool failed, and what
// the repository throws (kAlreadyExists for different content under an archived name).
WalPushResult wal_push(const Services& services, WalPushRequest request);

// The latency-first compression of WAL unless the source sets wal_compression (archive_command runs once per
// segment and postgres waits for it; measured in docs/BENCHMARKS.md).
std::string wal_compression(const SourceConfig& source);

struct WalFetchRequest {
  SourceConfig source;
  std::string file, dest;  // %f %p
  PipelineSettings pipeline;
};

enum class WalFetchOutcome { kFetched, kFromSpool, kFromPrefetch, kNotInArchive };

// kNotInArchive only for a file that is really absent (answered from the listing, before any key is derived);
// every other failure throws (restore_command must then stop recovery, not end it).
WalFetchOutcome wal_fetch(const Services& services, const WalFetchRequest& request);

struct WalCheckRequest {
  SourceConfig source;
  bool read_data = false;  // read and verify every archived file (needs the passphrase)
  PipelineSettings pipeline;
};

struct WalCheckResult {
  std::string report;  // the gap and restorability report, as printed
  std::optional<Problem> problem;  // gaps, damaged files or unrestorable backups (kProblemsFound)
};

WalCheckResult wal_check(const Services& services, const WalCheckRequest& request);

}  // namespace strata::app
