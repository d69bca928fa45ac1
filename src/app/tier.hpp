#pragma once
// app::tier_* — data tiering of one entity type (docs/TIERING.md) as `strata tier ...` and a scheduled job run it:
// setup, cooldown, freeze, thaw (one key, in batches, or a latency run), reap, gc, erase, status and the thaw
// service. Each takes the entity's definition in its request (tier_entity picks it from a config file) and returns
// counts, bytes and durations; a run that did its work but left entities behind returns an app::Problem.
//
// The observer sees one phase per call ("tier_freeze", ...): begin with the limit (0 = none), progress after every
// batch with `objects` = entities done so far and `bytes_out` = archive bytes stored, end with the totals (objects
// = entities, bytes_out = archive bytes). Long runs (cooldown, freeze, batch thaw, a latency run) ask the cancel
// token before each batch: a cancelled run finishes the batches in flight — each is committed on its own, the rest
// stays where it was — and throws StrataError(kInterrupted) naming what was done. The demo generator
// (tiering/support/demo.hpp) is not a use case: `strata tier demo` calls it directly.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/problem.hpp"
#include "app/services.hpp"
#include "tiering/entity.hpp"
#include "tiering/tiering.hpp"

namespace strata::app {

// The named [entity.NAME] of the config file at `config_path`, or the only one there (kUsage when there is none or
// several and no name was given).
tiering::EntityConfig tier_entity(const std::string& config_path, const std::string& name);

// ---- setup: the DDL tiering needs
struct TierSetupRequest {
  tiering::EntityConfig entity;
  bool apply = false;  // run the DDL (and check the schema) instead of returning it
};
struct TierSetupResult {
  std::string ddl;                    // not applied: the statements
  std::vector<std::string> children;  // not applied: child tables reached through foreign keys, as TOML lines
  // Not applied: the definition against the database's foreign keys (what a freeze would refuse), kUsage.
  std::optional<Problem> problem;
};
// Needs no repository.
TierSetupResult tier_setup(const Services& services, const TierSetupRequest& request);

// ---- cooldown: hot -> warm
struct TierCooldownRequest {
  tiering::EntityConfig entity;
  size_t limit = SIZE_MAX;
};
// Needs no repository.
tiering::CooldownStats tier_cooldown(const Services& services, const TierCooldownRequest& request);

// ---- freeze: warm -> archived
struct TierFreezeRequest {
  tiering::EntityConfig entity;
  size_t limit = SIZE_MAX;
  std::vector<std::string> keys;  // only these (they must be warm); empty: every warm entity past freeze_after
};
struct TierFreezeResult {
  tiering::FreezeStats stats;
  std::optional<Problem> problem;  // entities that could not be frozen (kProblemsFound)
};
TierFreezeResult tier_freeze(const Services& services, const TierFreezeRequest& request);

// ---- thaw
struct TierThawRequest {
  tiering::EntityConfig entity;
  std::string key;
};
struct TierThawResult {
  bool thawed = false;  // false: it was already in the database
  double seconds = 0;
};
// On demand: returns once the entity is hot.
TierThawResult tier_thaw(const Services& services, const TierThawRequest& request);

struct TierThawBatchRequest {
  tiering::EntityConfig entity;
  bool all_archived = false;  // every archived entity, not only those marked 'restoring'
  size_t limit = SIZE_MAX;
};
struct TierThawBatchResult {
  tiering::ThawStats stats;
  std::optional<Problem> problem;  // entities that could not be thawed (kProblemsFound)
};
TierThawBatchResult tier_thaw_batch(const Services& services, const TierThawBatchRequest& request);

// Logins as a game server makes them, timed from request to answer (`tier thaw --keys-from`). The callers split
// the keys; each thaws in-process with a Tierer of its own (its own connection) or asks the thaw service on `via`.
struct TierThawLatencyRequest {
  tiering::EntityConfig entity;
  std::string keys_from;  // a file with one key a line
  size_t callers = 1;
  std::string via;   // the thaw service's Unix socket; empty: in-process
  double rate = 0;   // logins per second in total; 0: each caller sends the next as soon as it has an answer
};
struct LatencySummary {
  size_t count = 0;  // answered
  double p50 = 0, p95 = 0, p99 = 0, max = 0;  // milliseconds
};
// The percentiles of `ms` as the latency run reports them (the sample at floor(p * n), clamped).
LatencySummary summarize_latencies(std::vector<double> ms);
struct TierThawLatencyResult {
  LatencySummary latency;
  size_t thawed = 0;   // answered "thawed" (the others were already in the database)
  size_t callers = 1;
  size_t errors = 0;
  double seconds = 0;  // wall time of the run
  std::optional<Problem> problem;  // some thaws failed (kProblemsFound), naming the first error
};
TierThawLatencyResult tier_thaw_latency(const Services& services, const TierThawLatencyRequest& request);

// ---- archive upkeep and GDPR erase; each returns the archive entries destroyed
struct TierEntityRequest {
  tiering::EntityConfig entity;
};
size_t tier_reap(const Services& services, const TierEntityRequest& request);
size_t tier_gc(const Services& services, const TierEntityRequest& request);
struct TierEraseRequest {
  tiering::EntityConfig entity;
  std::string key;
};
size_t tier_erase(const Services& services, const TierEraseRequest& request);

// ---- status: uses the repository only when Services has one (pack counts)
tiering::TierStatus tier_status(const Services& services, const TierEntityRequest& request);

// ---- the on-demand thaw service (tiering/serve.hpp)
struct TierServeRequest {
  tiering::EntityConfig entity;
  std::string socket;  // Unix socket path; empty: none
  int port = -1;       // TCP port on 127.0.0.1; 0: any free one; -1: none
  size_t workers = 8;
  // Set (by anyone, e.g. a signal handler) to stop serving; the cancel token sets it too. Null: only the token.
  std::atomic<bool>* stop = nullptr;
};
// Serves until stopped; `ready(port, workers)` is called once listening (port -1 without TCP). Returns normally
// when stopped.
void tier_serve(const Services& services, const TierServeRequest& request,
                const std::function<void(int port, size_t workers)>& ready = {});

}  // namespace strata::app
