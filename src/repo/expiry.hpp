#pragma once
// Retention records in the repository (docs/FORMAT.md "Expiry tombstones and holds", docs/RETENTION.md):
//   expired/<backup-id>  a tombstone: the backup was expired by a policy and is hidden from list and restore latest
//                        until its grace period ends and it is deleted; create-only, removed by `expired restore`
//                        (undo) or after the backup's objects are gone
//   holds/<backup-id>    a hold: the backup is never expired, whatever the policy; create-only, removed only by
//                        `hold --release`
// Both are small JSON objects. A tombstone carries a MAC keyed from the repository secret key (like writer records),
// so only a passphrase holder can make one that leads to a physical delete; a hold needs none, because a forged
// hold can only keep data.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include "repo/layout.hpp"

namespace strata {

class Repository;

inline constexpr const char* kExpiredPrefix = layout::kExpired;
inline constexpr const char* kHoldsPrefix = layout::kHolds;
inline constexpr size_t kMaxRetentionRecordBytes = 64u << 10;

struct Tombstone {
  std::string backup_id, source, host;
  std::string expired;                // ISO-8601 UTC
  int64_t expired_epoch = 0;
  int64_t delete_after_epoch = 0;     // physical deletion not before this (the grace period's end)
  std::vector<std::string> reasons;   // the planner's reasons for expiring it
  std::string policy;                 // the policy that expired it, as the command line or config section said it
  // Set when read: the MAC verified with the repository key. False without the key, for unencrypted repositories
  // (nothing to authenticate with) and for forged records; `damaged` says why a record could not be read at all.
  bool authentic = false;
  std::string damaged;
};

struct Hold {
  std::string backup_id, reason, host, created;
  int64_t created_epoch = 0;
  std::string damaged;
};

// Writes the tombstone create-only. Returns false if the backup already has one (a re-run: nothing changes).
bool write_tombstone(Repository& repo, Tombstone t);
std::optional<Tombstone> read_tombstone(Repository& repo, const std::string& backup_id);
// Every tombstone, sorted by backup id; unreadable ones with `damaged` set.
std::vector<Tombstone> list_tombstones(Repository& repo);
// Ids with a tombstone, from one listing (no reads): what list and restore latest hide.
std::set<std::string> expired_ids(Repository& repo);
void remove_tombstone(Repository& repo, const std::string& backup_id);
// The same for many, in as few requests as the storage allows.
void remove_tombstones(Repository& repo, const std::vector<std::string>& backup_ids);

// Create-only; throws StrataError(kAlreadyExists) naming the existing hold's reason.
void add_hold(Repository& repo, const std::string& backup_id, const std::string& reason);
std::vector<Hold> list_holds(Repository& repo);
// Throws StrataError(kNotFound) if the backup has no hold.
void release_hold(Repository& repo, const std::string& backup_id);

}  // namespace strata
