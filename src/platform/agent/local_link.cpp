#include "platform/agent/local_link.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace strata {

uint64_t upload_share(Catalog& catalog, int64_t job_id) {
  // The job's row names the slots it holds (one scope a line, written by the claim): exactly the limits enclosing it.
  auto j = catalog.sql().exec("SELECT slots FROM jobs WHERE id = $1 AND state = 'running'", {sql_param(job_id)});
  if (j.rows.empty()) return 0;
  std::string slots = sql_text(j.rows[0][0]);
  uint64_t share = 0;
  size_t start = 0;
  while (start < slots.size()) {
    size_t nl = slots.find('\n', start);
    std::string scope = slots.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? slots.size() : nl + 1;
    if (scope.empty()) continue;
    auto r = catalog.sql().exec("SELECT upload, used FROM limit_slots WHERE scope = $1", {scope});
    if (r.rows.empty() || !r.rows[0][0] || r.rows[0][0]->empty()) continue;
    auto cap = static_cast<uint64_t>(sql_int(r.rows[0][0]));
    auto used = static_cast<uint64_t>(std::max<int64_t>(sql_int(r.rows[0][1]), 1));
    uint64_t mine = std::max<uint64_t>(cap / used, 1);
    share = share == 0 ? mine : std::min(share, mine);
  }
  return share;
}

LocalAgentLink::LocalAgentLink(Catalog& catalog, QueueOptions options, std::chrono::milliseconds poll)
    : cat_(catalog), queue_(catalog, options), poll_(poll) {}

std::string LocalAgentLink::register_agent(const AgentHello& hello) {
  std::lock_guard lock(mu_);
  queue_.register_agent(hello.name, hello.tags, hello.max_jobs);
  agent_ = hello.name;
  return agent_;
}

std::optional<AgentClaim> LocalAgentLink::claim(std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  uint64_t seen;
  {
    std::lock_guard w(wake_mu_);
    seen = wakes_;
  }
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (auto c = queue_.claim(agent_)) {
        AgentClaim out{*c, queue_.options().lease, upload_share(cat_, c->job_id)};
        return out;
      }
    }
    // Nothing claimable: look again after `poll` (a job queued or a slot freed by another process is seen within
    // it), or at once after wake().
    std::unique_lock w(wake_mu_);
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    auto until = std::min(deadline, now + poll_);
    wake_cv_.wait_until(w, until, [&] { return wakes_ != seen; });
    seen = wakes_;
  }
}

AgentBeat LocalAgentLink::heartbeat(int64_t job_id, int64_t epoch) {
  std::lock_guard lock(mu_);
  HeartbeatResult h = queue_.heartbeat(job_id, epoch);
  AgentBeat out;
  out.ok = h.ok;
  out.cancelled = h.cancelled;
  if (h.ok) out.upload = upload_share(cat_, job_id);
  return out;
}

ReportResult LocalAgentLink::report(int64_t job_id, int64_t epoch, const JobOutcome& outcome) {
  std::lock_guard lock(mu_);
  return queue_.complete(job_id, epoch, outcome);
}

void LocalAgentLink::wake() {
  std::lock_guard w(wake_mu_);
  ++wakes_;
  wake_cv_.notify_all();
}

}  // namespace strata
