#pragma once
// The in-process transport: an agent inside `strata server` (single host, SQLite catalog) calls the job queue
// directly, on its own catalog connection. Thread-safe (the agent heartbeats from a second thread): one mutex around
// the connection, which SQLite and libpq connections need.
#include <condition_variable>
#include <memory>
#include <mutex>

#include "platform/agent/agent_link.hpp"
#include "platform/catalog/catalog.hpp"
#include "platform/queue/job_queue.hpp"

namespace strata {

// The upload share of a running job: for every limit that encloses it (the agent's, each group of its path, the
// fleet's) with an upload cap, that cap divided by the jobs running in its scope; the smallest wins. 0 = no cap.
// The HTTP server answers heartbeats with the same function.
uint64_t upload_share(Catalog& catalog, int64_t job_id);

class LocalAgentLink final : public AgentLink {
 public:
  // `catalog` is this link's own connection (not shared with other threads); `poll` paces a waiting claim.
  LocalAgentLink(Catalog& catalog, QueueOptions options = {},
                 std::chrono::milliseconds poll = std::chrono::milliseconds(1000));

  std::string register_agent(const AgentHello& hello) override;
  std::optional<AgentClaim> claim(std::chrono::milliseconds wait) override;
  AgentBeat heartbeat(int64_t job_id, int64_t epoch) override;
  ReportResult report(int64_t job_id, int64_t epoch, const JobOutcome& outcome) override;

  // A waiting claim looks again now (something was queued or freed in this process).
  void wake();

 private:
  std::mutex mu_;  // the connection
  Catalog& cat_;
  JobQueue queue_;
  std::chrono::milliseconds poll_;
  std::string agent_;
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  uint64_t wakes_ = 0;
};

}  // namespace strata
