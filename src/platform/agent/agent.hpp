#pragma once
// The agent loop (issue 15 part 5): claim a job through an AgentLink, run it through a JobRunner while heartbeating
// its lease, report the outcome with the claim's epoch. Self-fencing: when no heartbeat has been accepted for
// `fence_after` (30 s of the default 60 s lease) the agent stops the job itself, before the server can give the
// lease to someone else — a lease timed by the catalog's clock, with the agent's own steady clock only ever making
// it stop *earlier*. A heartbeat the server refuses (re-claimed, cancelled) stops the job at once.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/cancel.hpp"
#include "platform/agent/agent_link.hpp"
#include "platform/agent/job_runner.hpp"

namespace strata {

struct AgentOptions {
  AgentHello hello;
  std::chrono::milliseconds claim_wait{30000};  // one long poll
  // 0 = paced by the claim's lease: a heartbeat every lease/4, fencing after lease/2 without an accepted one.
  std::chrono::milliseconds heartbeat_every{0};
  std::chrono::milliseconds fence_after{0};
  std::chrono::milliseconds retry_pause{2000};  // after the server could not be reached
};

enum class AgentRunEnd {
  kIdle,        // nothing to claim within claim_wait
  kReported,    // the outcome (success or failure) was accepted as the job's
  kStale,       // the report was refused: the lease had ended or the job was re-claimed
  kCancelled,   // the operator cancelled the job while it ran; it was stopped
  kFenced,      // no heartbeat was accepted for fence_after: the agent stopped the job itself
  kUnreported,  // the server could not be reached to report before the lease ended
};

struct AgentRunResult {
  AgentRunEnd end = AgentRunEnd::kIdle;
  int64_t job_id = 0, epoch = 0;
  JobOutcome outcome;
};

const char* agent_run_end_name(AgentRunEnd end);

class Agent {
 public:
  Agent(AgentLink& link, JobRunner& runner, AgentOptions options);

  // Registers on the first call (and after the server forgot us); the id every call is made as.
  std::string id();
  // Claims one job (waiting up to claim_wait) and runs it to its report. `stop` (may be null) ends a running job
  // (reported as a failure "stopped: ...").
  AgentRunResult run_once(const CancelToken* stop = nullptr);
  // run_once until `stop`, with max_jobs of them at a time; a server that cannot be reached is retried.
  void run(const CancelToken& stop);

 private:
  AgentRunResult execute(const AgentClaim& claim, std::chrono::steady_clock::time_point claimed_at,
                         const CancelToken* stop);
  AgentLink& link_;
  JobRunner& runner_;
  AgentOptions opt_;
  std::mutex id_mu_;
  std::string id_;
};

}  // namespace strata
