#pragma once
// Which user backups exist, by source, time, type and parent, without reading every manifest of the repository
// (docs/FORMAT.md "Source index"). Two implementations behind one interface:
//   - ScanIndex: today's way, every manifest of backups/ read once — what a repository without the index marker
//     (written by a strata before the index, and not yet reindexed) must use;
//   - ObjectIndex: the entries under index/src/<source>/, one small object per backup, named so that listing one
//     source's prefix yields its backups in order: a query by source costs in proportion to that source's backups.
// The platform's catalog will be a third: a rebuildable cache behind the same interface.
//
// An index only says where to look. The manifest stays the authority: a caller that prints or restores a backup
// reads (and verifies) its manifest, and an entry whose manifest is gone is skipped.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "repo/manifest.hpp"

namespace strata {

class Storage;

struct IndexEntry {
  std::string id, source;
  int64_t started_us = 0;  // Manifest::order_key(): the order of backups within a source
  // From the entry's body (or the manifest), when the query needed it (by_type, children): empty otherwise.
  std::string type, parent;
  bool body_loaded = false;
  // The manifest's public part, when the index had to read it anyway (ScanIndex): saves reading it twice.
  std::shared_ptr<const Manifest> manifest;
};

class BackupIndex {
 public:
  virtual ~BackupIndex() = default;
  // The backups of `source`, oldest first (start time, then id).
  virtual std::vector<IndexEntry> by_source(const std::string& source) = 0;
  // Those started in [from_us, to_us).
  std::vector<IndexEntry> by_time(const std::string& source, int64_t from_us, int64_t to_us);
  // Those of one type ("full", "incremental", ...), with type and parent known.
  std::vector<IndexEntry> by_type(const std::string& source, const std::string& type);
  // The backups of `source` that name `parent_id` as their parent.
  std::vector<IndexEntry> children(const std::string& source, const std::string& parent_id);

 protected:
  // Fills type and parent of an entry by_source() returned without them.
  virtual void load_body(IndexEntry& e) = 0;
};

// Reads the public part of one manifest of the user catalog by id; nullopt when it is gone or damaged (the reader
// reports damage itself, so each caller decides where a damaged manifest is listed).
using ManifestReader = std::function<std::optional<Manifest>(const std::string& id)>;

class ScanIndex final : public BackupIndex {
 public:
  // `ids`: every id under backups/ (Repository::list_ids); each is read once, on the first query.
  ScanIndex(std::vector<std::string> ids, ManifestReader read);
  std::vector<IndexEntry> by_source(const std::string& source) override;

 protected:
  void load_body(IndexEntry&) override {}  // a scan has read the manifest already

 private:
  void scan();
  std::vector<std::string> ids_;
  ManifestReader read_;
  std::optional<std::vector<IndexEntry>> all_;
};

class ObjectIndex final : public BackupIndex {
 public:
  explicit ObjectIndex(Storage& storage) : storage_(storage) {}
  std::vector<IndexEntry> by_source(const std::string& source) override;

 protected:
  void load_body(IndexEntry& e) override;

 private:
  Storage& storage_;
};

// index/src/<source>/<20 digits>.<id> -> id, source, started_us; nullopt for any other key.
std::optional<IndexEntry> parse_index_entry_key(const std::string& key);
// The entry of a committed manifest: its key (repo/layout.hpp) and its body (JSON, docs/FORMAT.md).
std::string index_entry_key(const Manifest& m);
std::string encode_index_entry(const Manifest& m);
// Parses a body; throws kCorrupt naming `where`.
IndexEntry decode_index_entry(std::string_view text, const std::string& where);

// The marker index/v1: present = every committed user backup has its entry (it was written by an index-aware
// strata, or `repo reindex` filled in the rest).
bool index_marker_present(Storage& storage);
void write_index_marker(Storage& storage);

}  // namespace strata
