#pragma once
// How an agent talks to the control plane (issue 15 part 5; docs/CATALOG.md "Queue"): four calls that map one to
// one onto the job queue's — register, claim (waiting up to a bound for work: a long poll over HTTP), heartbeat and
// report, the last two carrying the claim's epoch so a fenced agent's late word is refused. Two transports implement
// it: LocalAgentLink (in process, over a JobQueue: the embedded agent of a single-host server on SQLite) and the
// HTTP client of `strata agent` (server/http). A transport that cannot reach the server throws StrataError; the
// agent loop decides what that means (retry, or fence once the lease can no longer be kept).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/queue/job_queue.hpp"

namespace strata {

struct AgentHello {
  std::string name;                        // the agent's id (over HTTP the server takes it from the token instead)
  std::vector<std::string> tags;           // "idc=sh1": a job runs only on an agent with all of its tags
  std::vector<std::string> capabilities;   // engines installed, repositories reachable (reported, not yet matched)
  int max_jobs = 1;                        // the agent's own limit slot
};

struct AgentClaim {
  ClaimedJob job;
  int64_t lease_seconds = 60;  // the lease the claim holds (catalog time); heartbeats and fencing are paced by it
  uint64_t upload = 0;         // the bandwidth share of this job, bytes/s; 0 = unlimited
};

struct AgentBeat {
  bool ok = false;          // the lease was extended
  bool cancelled = false;   // the operator cancelled the job: stop it
  uint64_t upload = 0;      // the job's share now (the limits' upload divided among the jobs running in them)
};

class AgentLink {
 public:
  virtual ~AgentLink() = default;
  // Registers (or re-registers, updating tags) and returns the agent id every later call is made as.
  virtual std::string register_agent(const AgentHello& hello) = 0;
  // The next job this agent may run, waiting at most `wait` for one to become claimable; none when none did.
  virtual std::optional<AgentClaim> claim(std::chrono::milliseconds wait) = 0;
  virtual AgentBeat heartbeat(int64_t job_id, int64_t epoch) = 0;
  // kStale: the epoch is no longer the job's (lease ended and re-claimed, or cancelled); the outcome was not taken
  // as the job's (a committed backup is indexed as an orphan).
  virtual ReportResult report(int64_t job_id, int64_t epoch, const JobOutcome& outcome) = 0;
};

}  // namespace strata
