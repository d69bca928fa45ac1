#pragma once
// app::binlog_archive / binlog_list — MySQL/MariaDB binary logs for point-in-time recovery. One round of archiving
// per call: `strata binlog archive --interval N` repeats it, an agent schedules it.
#include <optional>
#include <string>
#include <vector>

#include "app/problem.hpp"
#include "app/services.hpp"
#include "engines/mysql/binlog_archive.hpp"

namespace strata::app {

struct BinlogArchiveRequest {
  SourceConfig source;  // engine = "mysql"
  bool flush = true;    // FLUSH BINARY LOGS first, so the current file closes and ships now
  bool write_only = false;  // back up with the repository's public key only (public_key pins it)
  std::string public_key;
  PipelineSettings pipeline;
};

struct BinlogArchiveOutcome {
  BinlogArchiveResult shipped;
  // Binlogs purged before they were shipped: every file still on the server was shipped by this round, so what is
  // missing is gone for good (kProblemsFound).
  std::optional<Problem> problem;
};

BinlogArchiveOutcome binlog_archive(const Services& services, const BinlogArchiveRequest& request);

struct BinlogListResult {
  std::vector<ArchivedBinlog> files;
  std::vector<std::string> gaps;
  std::optional<Problem> problem;  // gaps (kProblemsFound)
};

BinlogListResult binlog_list(const Services& services, const std::string& source);

}  // namespace strata::app
