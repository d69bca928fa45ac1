#pragma once
// Binary log archiving for point-in-time recovery. Each closed binlog file of a source becomes one side stream in
// the catalog "binlog/<source>". Its id is "<source>.<file>.<attempt>" (attempt = archive time + random), so the
// data objects (data/<id>/...) of two sources never collide, and an upload that was killed half-way leaves
// objects under a name no later attempt uses: the next run ships the file again under a new id instead of running
// into the create-only leftovers. Repositories written before this layout have id = the file name; both are read.
// The manifest records the file name, the server_id, and the times of the file's first and last events.
#include <cstdint>
#include <string>
#include <vector>

#include "engines/engine.hpp"

namespace strata {

struct ArchivedBinlog {
  std::string name;   // "binlog.000042"
  uint64_t index = 0;
  int64_t created_epoch = 0;  // from the file's format description event: every event in it is at or after this
  uint64_t size = 0;
  // Timestamp of the file's last event (the rotate or stop event: when the server closed it), so the archive is
  // complete up to this second. 0 for files archived before strata recorded it.
  int64_t closed_epoch = 0;
  std::string server_id;
  std::string id;     // manifest id in the catalog
};

struct BinlogArchiveResult {
  std::vector<std::string> archived;  // newly shipped and committed
  size_t already = 0;                 // closed files that were in the repository before
  std::string open_file;              // the server's current binlog, shipped once it is closed
  std::vector<std::string> gaps;      // "binlog.000004 to binlog.000006 missing (purged before archiving)"
  std::vector<std::string> notes;     // e.g. a server_id change on a continuing binlog history
};

std::string binlog_catalog(const std::string& source);
// Numeric suffix of "name.000123"; throws StrataError(kCorrupt) for another shape.
uint64_t binlog_index(const std::string& name);
// "binlog.000007" with index 9 -> "binlog.000009" (same base and width).
std::string binlog_with_index(const std::string& like, uint64_t index);
// Sorted by index, one entry per file (two archivers racing may both have committed a file: the first is used);
// reads only the public parts of the manifests.
std::vector<ArchivedBinlog> list_archived_binlogs(Repository& repo, const std::string& source);
// Holes in the numbering of an archive, one line each.
std::vector<std::string> find_binlog_gaps(const std::vector<ArchivedBinlog>& archived);

// Closes the current binlog (FLUSH BINARY LOGS, when `flush`), then ships every closed binlog not yet archived.
// Refuses (kUsage) a server whose binlog history differs from the archive's (another server, or RESET MASTER):
// the source would mix two histories.
BinlogArchiveResult archive_binlogs(Repository& repo, const SourceConfig& source, const PipelineSettings& pipeline,
                                    bool flush, const ProgressFn& progress);

}  // namespace strata
