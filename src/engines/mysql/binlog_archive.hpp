#pragma once
// Binary log archiving for point-in-time recovery. Each closed binlog file of a source becomes one side stream in
// the catalog "binlog/<source>" with the file name as its id, so re-running the archiver is idempotent and a
// missing file shows up as a hole in the numbering.
#include <cstdint>
#include <string>
#include <vector>

#include "engines/engine.hpp"

namespace strata {

struct ArchivedBinlog {
  std::string name;  // "binlog.000042"
  uint64_t index = 0;
  int64_t created_epoch = 0;  // from the file's format description event: every event in it is at or after this
  uint64_t size = 0;
};

struct BinlogArchiveResult {
  std::vector<std::string> archived;  // newly shipped
  size_t already = 0;                 // closed files that were in the repository before
  std::string open_file;              // the server's current binlog, shipped once it is closed
  std::vector<std::string> gaps;      // "binlog.000004 to binlog.000006 missing (purged before archiving)"
};

std::string binlog_catalog(const std::string& source);
// Numeric suffix of "name.000123"; throws StrataError(kCorrupt) for another shape.
uint64_t binlog_index(const std::string& name);
// Sorted by index; reads only the public parts of the manifests.
std::vector<ArchivedBinlog> list_archived_binlogs(Repository& repo, const std::string& source);
// Holes in the numbering of an archive, one line each.
std::vector<std::string> find_binlog_gaps(const std::vector<ArchivedBinlog>& archived);

// Closes the current binlog (FLUSH BINARY LOGS, when `flush`), then ships every closed binlog not yet archived.
// Needs the binlog files on local disk: strata runs on the database host, like mariadb-backup.
BinlogArchiveResult archive_binlogs(Repository& repo, const SourceConfig& source, const PipelineSettings& pipeline,
                                    bool flush, const ProgressFn& progress);

}  // namespace strata
