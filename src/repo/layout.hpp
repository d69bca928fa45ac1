#pragma once
// The repository's key layout, in one place (docs/FORMAT.md "Key hierarchy"). Every key prefix of a repository is
// spelled here and nowhere else: cmake/check_layers.cmake refuses a prefix literal in any other file of src/, so a
// new kind of object is a conscious change to this header and to the format document.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata::layout {

inline constexpr const char* kConfig = "config";      // the repository's config (id, version, public key)
inline constexpr const char* kKeys = "keys/";         // keys/<id>: the secret key wrapped by one passphrase
inline constexpr const char* kWriters = "writers/";   // writers/<id>: a registered writer's signing key
inline constexpr const char* kLocks = "locks/";       // locks/<id>: shared and exclusive repository locks
inline constexpr const char* kBackups = "backups/";   // backups/<id>: a user backup's manifest (the commit)
inline constexpr const char* kStreams = "streams/";   // streams/<series>/<id>: an engine side stream's manifest
inline constexpr const char* kData = "data/";         // data/<id>/<seq>: a backup's data objects
inline constexpr const char* kExpired = "expired/";   // expired/<id>: a retention tombstone
inline constexpr const char* kHolds = "holds/";       // holds/<id>: a legal hold (repo/expiry.hpp)
inline constexpr const char* kDrills = "drills/";     // drills/<backup id>/<id>.json: a restore drill's record
inline constexpr const char* kTier = "tier/";         // tier/<entity>/...: tiering archives (docs/TIERING.md)
inline constexpr const char* kIndex = "index/";       // index/...: the source index (repo/index.hpp)

// A backup id or source name: 1-128 letters, digits, '-', '_' or '.', so always one whole key segment.
inline bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

inline bool has_prefix(std::string_view key, std::string_view prefix) { return key.substr(0, prefix.size()) == prefix; }

// A manifest's key: backups/<id> for a user backup (series empty), streams/<series>/<id> for a side stream.
inline std::string manifest_key(const std::string& series, const std::string& id) {
  return series.empty() ? kBackups + id : kStreams + series + "/" + id;
}
// The side-stream series of the engines: a PostgreSQL cluster's archived WAL, a MySQL server's archived binlogs.
inline std::string wal_series(const std::string& source) { return "wal/" + source; }
inline std::string binlog_series(const std::string& source) { return "binlog/" + source; }

// Where a backup's objects live; nothing else is ever written there.
inline std::string data_prefix(const std::string& backup_id) { return kData + backup_id + "/"; }
inline std::string lock_key(const std::string& lock_id) { return kLocks + lock_id; }

// The source index (repo/index.hpp, docs/FORMAT.md "Source index"): index/v1 marks a repository whose every
// committed user backup has its entry; index/src/<source>/<start in microseconds, 20 digits>.<backup id> is one
// entry, so that listing a source's prefix yields its backups oldest first.
inline constexpr const char* kIndexMarker = "index/v1";
inline constexpr const char* kIndexSources = "index/src/";
inline constexpr size_t kIndexTimeDigits = 20;
inline std::string index_source_prefix(const std::string& source) { return kIndexSources + source + "/"; }
inline std::string index_entry_key(const std::string& source, int64_t started_us, const std::string& id) {
  std::string us = std::to_string(started_us < 0 ? 0 : started_us);
  return index_source_prefix(source) + std::string(kIndexTimeDigits - us.size(), '0') + us + "." + id;
}

// Tiering: tier/<entity>/packs/<pack id> (a pack's data), tier/<entity>/index/<pack id> (its slot table),
// tier/<entity>/erased/<key hash> (the record of an erasure).
inline std::string tier_prefix(const std::string& entity) { return kTier + entity + "/"; }
inline std::string tier_packs_prefix(const std::string& entity) { return tier_prefix(entity) + "packs/"; }
inline std::string tier_index_prefix(const std::string& entity) { return tier_prefix(entity) + "index/"; }
inline std::string tier_erased_key(const std::string& entity, const std::string& key_hash_hex) {
  return tier_prefix(entity) + "erased/" + key_hash_hex;
}

}  // namespace strata::layout
