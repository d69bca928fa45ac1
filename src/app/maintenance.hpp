#pragma once
// app::check_repository / delete_backups / cleanup — the repository's upkeep, as `strata check|delete|cleanup` and
// a scheduled job run it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/problem.hpp"
#include "app/services.hpp"
#include "repo/repository.hpp"

namespace strata::app {

struct CheckRequest {
  bool use_key = true;  // authenticate manifests and frames with the secret key (false: stored digests only)
  double read_fraction = 0;  // share of objects to read: 0 none, 1 all, else a random share (at least one)
  uint32_t subset_n = 0, subset_t = 0;  // or restic's n/t: the objects whose key hashes to group n of t
};

struct CheckResult {
  CheckReport report;
  bool encrypted = false;
  bool read_any = false;        // some data was read (not only manifests and sizes)
  std::string location;         // of the repository checked
  std::string repository_id;    // its config's id (what notices name it by)
  // Damage (kCorrupt) comes before leftovers (kProblemsFound): a damaged backup is what an operator must see.
  std::optional<Problem> problem;
};

// The observer sees one phase "check" whose progress is the bytes read of the total to read.
CheckResult check_repository(const Services& services, const CheckRequest& request);

struct DeleteRequest {
  std::vector<std::string> ids;  // backup ids or unique prefixes
  bool dry_run = false;
};
// The ids in deletion order (dependants before what they build on); nothing is deleted when one id is unknown or
// a backup others build on would be left without them (kUsage / kNotFound, from Repository::delete_backups).
std::vector<std::string> delete_backups(const Services& services, const DeleteRequest& request);

struct CleanupRequest {
  bool dry_run = false;
  int64_t min_age_seconds = Repository::kCleanupMinAge;
};
struct CleanupResult {
  std::vector<std::string> removed;  // or that would be removed (dry_run)
  std::vector<std::string> kept;     // leftovers younger than min_age
};
CleanupResult cleanup(const Services& services, const CleanupRequest& request);

}  // namespace strata::app
