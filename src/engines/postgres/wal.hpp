#pragma once
// The WAL archive of a PostgreSQL source: each file postgres hands to archive_command (segments, .history, .backup,
// .partial) is one stream in the catalog "wal/<source>" with id "<source>.<file name>", so two clusters never share
// object keys. Shared by `strata wal` and the engine's restore.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/pipeline.hpp"

namespace strata {
class Repository;
}

namespace strata::pg {

inline constexpr uint64_t kDefaultSegmentSize = 16u << 20;

// "0/3000028" <-> 0x3000028. parse_lsn throws StrataError(kUsage) naming the text.
uint64_t parse_lsn(const std::string& text);
std::string format_lsn(uint64_t lsn);

struct SegmentId {
  uint32_t timeline = 0;
  uint64_t segno = 0;
};
// A 24-hex-digit segment file name, or nullopt for anything else (.history, .backup, .partial).
std::optional<SegmentId> parse_segment_name(const std::string& name, uint64_t segment_size);
std::string segment_name(uint32_t timeline, uint64_t segno, uint64_t segment_size);

std::string wal_catalog(const std::string& source);
std::string wal_id(const std::string& source, const std::string& file_name);

enum class PushOutcome { kStored, kAlreadyArchived };

// Archives one file. Encrypts with whatever key state `repo` has (write-only is enough); when the name is already
// archived, calls `unlock` (which must make `repo` able to read) and compares SHA-256: equal content is success,
// different content throws StrataError(kAlreadyExists) and never overwrites. Objects an interrupted earlier push of
// the same file left are removed first, unless another live push of it holds a lock: then kLocked.
PushOutcome wal_push(Repository& repo, const std::string& source, const std::string& path, const PipelineSettings& ps,
                     const std::function<void(Repository&)>& unlock, uint64_t* stored_bytes = nullptr);

// Restores one archived file to `dest` (atomically, via a partial file). Returns false if it is not archived.
bool wal_fetch(Repository& repo, const std::string& source, const std::string& file_name, const std::string& dest,
               const PipelineSettings& ps);
// Reads a small archived file (a timeline history) into memory, verified; nullopt if it is not archived.
std::optional<std::string> wal_read_small(Repository& repo, const std::string& source, const std::string& file_name,
                                          const PipelineSettings& ps);
// Reads one archived file completely and verifies every frame and its SHA-256 (`wal check --read-data`); throws
// the StrataError that a restore of it would throw.
void wal_verify(Repository& repo, const std::string& source, const std::string& file_name, const PipelineSettings& ps);

// Before a segment of timeline N > 1 is archived, N's history file must be: recovery can only follow timeline N
// with it, and without it a later copy would pick N again for a timeline of its own. PostgreSQL archives a history
// file only if archiving was on when it was created (a copy restored with archive_mode off and switched on later
// never archives it), so a missing one is pushed from beside the segment (pg_wal); if it is not there either, this
// throws StrataError(kNotFound) saying how to push it. A no-op for timeline 1 and for other files.
void ensure_history_archived(Repository& repo, const std::string& source, const std::string& segment_path,
                             const PipelineSettings& ps, const std::function<void(Repository&)>& unlock);

struct WalRange {
  uint32_t timeline;
  uint64_t first, last;  // segment numbers, inclusive
};

struct WalInventory {
  uint64_t segment_size = kDefaultSegmentSize;
  std::map<uint32_t, std::set<uint64_t>> segments;  // timeline -> segment numbers
  std::vector<std::string> other_files;              // .history, .backup, .partial
  size_t count() const;
  bool has(uint32_t timeline, uint64_t segno) const;
  // Missing runs between the first and last archived segment of each timeline.
  std::vector<WalRange> gaps() const;
  // The last segment reachable from `segno` on `timeline` without a gap (segno - 1 if segno itself is missing).
  uint64_t contiguous_end(uint32_t timeline, uint64_t segno) const;
};

WalInventory wal_inventory(Repository& repo, const std::string& source, uint64_t segment_size);

// Async archiving: the file is copied durably into the spool and pushed later by `drain`.
void spool_put(const std::string& spool_dir, const std::string& path);
// Pushes every spooled file in name order; files that fail are kept and their error written next to them
// ("<name>.error"). Returns the number pushed. Only one drainer runs per spool (flock).
size_t spool_drain(const std::string& spool_dir, const std::function<void(const std::string& path)>& push_one);
// Errors left by a drainer, oldest first ("<file>: <message>").
std::vector<std::string> spool_errors(const std::string& spool_dir);
std::vector<std::string> spool_pending(const std::string& spool_dir);

}  // namespace strata::pg
