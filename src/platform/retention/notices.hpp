#pragma once
// Invalidation notices to the OPS platform (issue 16 part 5; docs/RETENTION.md "Notices"): every version retention
// expires or deletes becomes an event of the catalog's outbox, which platform/notify delivers to the webhooks at
// least once with the event id as idempotency key. The tombstone in the repository is the fact; the outbox row is
// written once per (kind, repository, backup) however often a run reports it.
#include <cstddef>
#include <string>
#include <vector>

#include "platform/retention/rotation.hpp"

namespace strata {
class Catalog;
struct DamagedBackup;
}

namespace strata::retention {

// Appends the events not reported before, in one catalog transaction; returns how many were new. Throws the
// catalog's StrataError when it cannot be written (the caller's run then stops before deleting anything).
size_t publish_invalidations(Catalog& catalog, const std::string& repo_id, const std::string& repo_location,
                             const std::vector<Invalidation>& items);

// What `check` found damaged, as notices: one "backup.corrupt" event per (repository, backup) in the outbox of the
// catalog at `catalog_url` however often check finds it again, and a "backup_corrupt" warn line for each in any
// case (the notice without a catalog). A catalog that cannot be written costs the notice — a warn line — never
// check's verdict. Returns how many events were new.
size_t announce_damage(const std::string& catalog_url, const std::string& repo_id, const std::string& repo_location,
                       const std::vector<DamagedBackup>& damaged);

}  // namespace strata::retention
