#pragma once
// The job queue in the catalog (issue 15 part 3; docs/CATALOG.md "Queue"), after River, pg-boss and graphile-worker:
// no broker, every state change is one catalog transaction with its events and outbox rows.
//
// A job is claimed by an agent with its tags; the claim takes, in the same transaction, one slot of every limit that
// encloses the job — the agent's, each group of the source's group path ("a", "a/b", "a/b/c") and the fleet's — so a
// limit can never be exceeded, whatever the number of claimers. On PostgreSQL candidates are read FOR UPDATE SKIP
// LOCKED and each slot is an UPDATE ... WHERE used < max (re-checked after a lock wait); on SQLite the claim is one
// BEGIN IMMEDIATE writer transaction. Every claim increments the job's epoch and gives a lease timed by the
// catalog's clock; heartbeats (with the epoch) extend it; a report with an older epoch, or after the lease ended, is
// refused (the holder was fenced) — a backup it committed is indexed as an orphan, never as the job's success.
// An expired lease re-queues the job (a job that lost its lease `poison_losses` times within `poison_period` is dead);
// a failed attempt is retried after exponential backoff with jitter until max_attempts, then the job is dead.
// At most one active (queued, failed-awaiting-retry, running) job per source: "run now" returns the one there is.
//
// The API takes plain values and returns plain values, so the agent protocol (HTTP, later) maps one call to one
// request. Nothing here sleeps or reads the wall clock: the catalog's clock decides.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/catalog/catalog.hpp"

namespace strata {

// queued: waits for run_after and a free slot; running: claimed, leased; failed: an attempt failed, retried at
// run_after; succeeded, dead (attempts exhausted or poison), cancelled, missed (its window closed first): final.
const std::vector<std::string>& job_states();
bool job_state_final(const std::string& state);

struct QueueOptions {
  int64_t lease = 60;           // seconds a claim or heartbeat holds the job
  int64_t backoff_base = 30;    // retry n waits base * 2^(n-1), +-25% jitter, at most backoff_max
  int64_t backoff_max = 3600;
  int poison_losses = 3;        // lost leases within poison_period that make the job dead
  int64_t poison_period = 86400;
  int max_attempts = 3;         // default for new jobs
  int candidates = 16;          // rows a claim looks at per transaction
};

struct JobSpec {
  std::string source;
  std::string type = "full";       // full | incremental
  std::string origin = "manual";   // manual | schedule | retry
  int priority = 0;                // higher first
  std::string group;               // "region/idc/cluster"; "" = none
  std::vector<std::string> tags;   // an agent must have every one
  std::optional<int64_t> run_after;  // default: now
  std::optional<int64_t> deadline;   // the window's end: not started by then -> missed
  std::optional<int64_t> scheduled_for;
  std::optional<int> max_attempts;
};

struct EnqueueResult {
  int64_t job_id = 0;
  bool created = false;   // false: deduplicated against the source's active job
  std::string state;      // of job_id
};

struct ClaimedJob {
  int64_t job_id = 0;
  int64_t epoch = 0;
  int64_t attempt = 0;
  std::string source, type;
  int64_t lease_until = 0;
  std::optional<int64_t> deadline;
};

struct HeartbeatResult {
  bool ok = false;          // lease extended to lease_until
  bool cancelled = false;   // the job was cancelled: stop it (the lease is gone)
  int64_t lease_until = 0;
};

struct JobOutcome {
  bool success = false;
  std::string error;        // on failure: the one-line reason
  std::string repo, manifest;  // on success: the committed backup
};

enum class ReportResult { kAccepted, kStale };

struct JobAttempt {
  int64_t epoch = 0, attempt = 0;
  std::string agent;
  int64_t started_at = 0;
  std::optional<int64_t> finished_at;
  std::string outcome, error;  // outcome: "" (running), succeeded, failed, lease_lost, cancelled, fenced
};

struct JobEvent {
  int64_t at = 0;
  std::string kind;
  int64_t epoch = 0;
  std::string detail;
};

struct JobRecord {
  int64_t id = 0;
  std::string source, type, state, origin, group, agent, last_error, manifest;
  std::vector<std::string> tags;
  int priority = 0;
  int64_t created_at = 0, run_after = 0, attempt = 0, max_attempts = 0, epoch = 0;
  std::optional<int64_t> deadline, scheduled_for, lease_until, started_at, finished_at;
  std::vector<JobAttempt> attempts;  // filled by get()
  std::vector<JobEvent> events;      // filled by get()
};

struct AgentRecord {
  std::string id;
  std::vector<std::string> tags;
  int64_t max_jobs = 0, registered_at = 0, last_seen = 0;
  int64_t running = 0;  // jobs it holds now
};

struct LimitSlot {
  std::string scope;  // "global", "group:a/b", "agent:ID"
  std::optional<int64_t> max_jobs;
  int64_t used = 0;
  std::optional<int64_t> upload;
};

class JobQueue {
 public:
  explicit JobQueue(Catalog& catalog, QueueOptions options = {}) : cat_(catalog), opt_(options) {}

  // ---- producers (scheduler, CLI) ----
  EnqueueResult enqueue(const JobSpec& spec);
  // Inside the caller's catalog.write (the scheduler tick stores next fires in the same transaction).
  EnqueueResult enqueue_in_tx(const JobSpec& spec, int64_t now);
  // "back up now": a new job, or the source's active one (a queued one is moved to now; type full wins).
  EnqueueResult run_now(const JobSpec& spec);
  // Re-queue a failed/dead/cancelled/missed job as a new job of the same source (a failed one waiting for its retry:
  // now). Throws kNotFound, kGeneric for a queued/running/succeeded job.
  EnqueueResult retry(int64_t job_id);
  // Cancels a queued/failed/running job (a running one's slots are freed now; its agent learns it on the next
  // heartbeat and its report is refused). Throws kNotFound, kGeneric for a final job.
  void cancel(int64_t job_id, const std::string& reason = "cancelled by the operator");

  // ---- limits and agents ----
  // scope: "" = the fleet, else a group path. max_jobs none = unlimited.
  void set_limit(const std::string& group, std::optional<int64_t> max_jobs, std::optional<int64_t> upload);
  void register_agent(const std::string& agent, const std::vector<std::string>& tags, int max_jobs);
  std::vector<LimitSlot> limits();
  std::vector<AgentRecord> agents();

  // ---- agents ----
  // The next claimable job this agent may run (tags, limits), or none. The agent must be registered.
  std::optional<ClaimedJob> claim(const std::string& agent);
  HeartbeatResult heartbeat(int64_t job_id, int64_t epoch);
  // kStale: the epoch is not the job's (it was re-claimed), the lease ended, or the job was cancelled.
  ReportResult complete(int64_t job_id, int64_t epoch, const JobOutcome& outcome);

  // Expires ended leases (re-queue, or dead as poison) and marks queued jobs past their deadline missed. Claims do
  // this too; the server calls it on its tick so limits are freed even when nobody claims. Returns jobs changed.
  int reap();

  // ---- reading ----
  std::vector<JobRecord> list(const std::string& state = "", int limit = 1000);
  std::optional<JobRecord> get(int64_t job_id);

  const QueueOptions& options() const { return opt_; }
  // Retry n's delay for a job (deterministic: the jitter is a hash of job id and n), for tests and docs.
  int64_t backoff(int64_t job_id, int64_t failures) const;

 private:
  int reap_in_tx(int64_t now);
  void expire(int64_t job_id, int64_t now);
  void mark_missed(int64_t job_id, const std::string& source, int64_t now);
  void release(const std::string& slots);
  void event(int64_t job_id, int64_t now, const std::string& kind, int64_t epoch, const std::string& detail);
  Catalog& cat_;
  QueueOptions opt_;
};

}  // namespace strata
