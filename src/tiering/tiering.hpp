#pragma once
// Data tiering for one entity type (docs/TIERING.md): hot -> warm (cooldown), warm -> archived (freeze: rows into
// a pack in the repository, then deleted), archived/restoring -> hot (thaw), and GDPR erase. Every state change
// in the database is one short transaction that re-checks what it acts on, so a crash or a concurrent writer can
// delay an entity but never lose or duplicate one.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tiering/entity.hpp"

namespace strata {
class Repository;
}

namespace strata::tiering {

enum class ThawOutcome { kThawed, kAlreadyHot };

struct CooldownStats {
  size_t warmed = 0;
  size_t rewarmed = 0;  // warm entities that were active again
  double seconds = 0;
};

struct FreezeStats {
  size_t frozen = 0;
  size_t skipped = 0;  // changed or became active after the snapshot: left in the database
  size_t failed = 0;   // could not be frozen (an error in the database); recorded as freeze_failed, left in place
  size_t packs = 0;
  uint64_t stored_bytes = 0;
  double seconds = 0;
};

struct ThawStats {
  size_t thawed = 0;
  size_t failed = 0;
  double seconds = 0;
};

struct TierStatus {
  std::string entity;
  std::vector<std::pair<std::string, uint64_t>> tiers;  // tier -> entities
  std::string oldest_warm;                              // activity of the oldest warm entity, ISO; "" if none
  uint64_t freeze_backlog = 0;                          // warm and past freeze_after
  uint64_t restoring = 0;
  uint64_t failures_24h = 0;
  uint64_t erased_total = 0;
  uint64_t packs = 0;
  uint64_t pack_bytes = 0;
  std::string to_json() const;
  std::string to_text() const;
};

// Test hooks: run at the instant named, with the keys of the batch in flight.
struct FreezeHooks {
  std::function<void(const std::vector<std::string>& keys)> before_snapshot;  // batch chosen, nothing read yet
  std::function<void(const std::vector<std::string>& keys)> before_commit;    // archive stored, rows not yet deleted
  std::function<void(const std::string& table)> after_delete;                 // inside the commit: this table's rows deleted
};

// How a long run (cooldown, freeze, batch thaw) is watched and stopped by its caller (app::tier_*: the observer and
// the cancel token). `stop` is asked before each batch: true ends the run after the batches in flight, which are
// committed on their own, so a stopped run leaves nothing half-done (the rest stays where it was). `batch_done`
// hears each finished batch; both are called from worker threads, concurrently when there are several workers.
struct BatchDone {
  size_t entities = 0;  // frozen / thawed / cooled in this batch
  size_t skipped = 0;   // left in place (changed meanwhile) or failed
  size_t packs = 0;
  uint64_t bytes = 0;   // archive bytes stored (freeze)
};
struct RunControl {
  std::function<bool()> stop;
  std::function<void(const BatchDone&)> batch_done;
};

class Tierer {
 public:
  // `repo` may be null for setup, cooldown and status, which never touch archives.
  Tierer(EntityConfig config, Repository* repo);
  ~Tierer();
  Tierer(const Tierer&) = delete;
  Tierer& operator=(const Tierer&) = delete;

  const EntityConfig& config() const;
  // Applies to every later run of this Tierer (and the workers it starts).
  void set_control(RunControl control);
  // Reads the entity's tables now instead of at the first operation, so a long-running caller (the thaw service)
  // fails at start on a bad configuration and its first logins do not pay for it. Throws like any operation.
  void prepare();
  // The DDL that tiering needs (tier/location columns, indexes, the events table); idempotent.
  std::string setup_ddl();
  // Runs the DDL, then checks the schema contract (check_schema).
  void apply_setup();
  // The entity definition against the database's foreign keys (tiering/schema.hpp); throws kUsage naming the table,
  // the constraint and what to change. Every freeze runs it first.
  void check_schema();

  CooldownStats cooldown(size_t limit = SIZE_MAX);
  FreezeStats freeze(size_t limit = SIZE_MAX, const FreezeHooks& hooks = {});
  // Freezes exactly these keys if they are warm (tests, operators).
  FreezeStats freeze_keys(const std::vector<std::string>& keys, const FreezeHooks& hooks = {});
  // On demand (a login): returns once the entity is hot. Concurrent calls for one key coalesce on its row lock:
  // the second waits for the first and then finds it hot. A warm entity is made hot (its row changes, so a freeze
  // in flight leaves it alone). Errors name the entity and key.
  ThawOutcome thaw(const std::string& key);
  // Entities marked 'restoring' (or, with all_archived, every archived one) in batches.
  ThawStats thaw_batch(bool all_archived, size_t limit = SIZE_MAX);
  // Destroys the archive entries that committed thaws released (keep_after_thaw = false). Batch thaw and freeze
  // do this themselves; a process that only thaws on demand calls it now and then. Returns entries destroyed.
  size_t reap_released();
  // Destroys archive entries that no root row refers to: entities skipped because they changed during their freeze,
  // packs a crashed freeze stored but never committed. Excludes freezes for its duration (a stored but not yet
  // committed pack is referenced by nothing), so in-flight packs are never touched. Refused with
  // keep_after_thaw = true, which keeps unreferenced archives on purpose. Also removes data objects without an index
  // (a crash between a pack's two writes). Returns the number of entries destroyed.
  size_t collect_garbage();
  // GDPR: destroys every archive of the entity, deletes its root row, and records the erasure.
  // Returns the number of archive entries destroyed.
  size_t erase(const std::string& key);
  TierStatus status();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::tiering
