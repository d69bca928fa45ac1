#include "platform/agent/agent.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"

namespace strata {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

int64_t ms_of(Steady::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

}  // namespace

const char* agent_run_end_name(AgentRunEnd end) {
  switch (end) {
    case AgentRunEnd::kIdle: return "idle";
    case AgentRunEnd::kReported: return "reported";
    case AgentRunEnd::kStale: return "stale";
    case AgentRunEnd::kCancelled: return "cancelled";
    case AgentRunEnd::kFenced: return "fenced";
    case AgentRunEnd::kUnreported: return "unreported";
  }
  return "?";
}

Agent::Agent(AgentLink& link, JobRunner& runner, AgentOptions options)
    : link_(link), runner_(runner), opt_(std::move(options)) {}

std::string Agent::id() {
  std::lock_guard lock(id_mu_);
  if (id_.empty()) {
    id_ = link_.register_agent(opt_.hello);
    log::info("agent_registered", {{"agent", id_}});
  }
  return id_;
}

AgentRunResult Agent::run_once(const CancelToken* stop) {
  id();
  std::optional<AgentClaim> claim = link_.claim(opt_.claim_wait);
  if (!claim) return {};
  // The lease started when the server claimed, inside the (long) poll, a moment before its answer arrived: counted
  // from the answer, not from the request, or a claim that waited would leave no time before fencing.
  return execute(*claim, Steady::now(), stop);
}

AgentRunResult Agent::execute(const AgentClaim& c, Steady::time_point claimed_at, const CancelToken* stop) {
  const ClaimedJob& job = c.job;
  const std::string me = id();  // for the log lines
  milliseconds lease(c.lease_seconds * 1000);
  milliseconds every = opt_.heartbeat_every.count() > 0 ? opt_.heartbeat_every : lease / 4;
  milliseconds fence = opt_.fence_after.count() > 0 ? opt_.fence_after : lease / 2;
  log::info("agent_job_started", {{"agent", me}, {"job", job.job_id}, {"epoch", job.epoch}, {"source", job.source},
                                  {"type", job.type}, {"upload", c.upload}});

  CancelToken job_stop;
  CancelHook outer(stop, [&job_stop] { job_stop.cancel("the agent is stopping"); });
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::atomic<AgentRunEnd> why{AgentRunEnd::kReported};
  // When the last accepted heartbeat (or the claim) was *sent*: the server's lease runs from a moment after it, so
  // counting from here errs on the side of stopping early.
  std::atomic<int64_t> last_ok_ms{ms_of(claimed_at.time_since_epoch())};

  std::thread beat([&] {
    std::unique_lock lock(mu);
    while (!done) {
      auto last_ok = Steady::time_point(milliseconds(last_ok_ms.load()));
      auto next = std::min(Steady::now() + every, last_ok + fence);
      cv.wait_until(lock, next, [&] { return done; });
      if (done) break;
      if (Steady::now() >= last_ok + fence) {
        why = AgentRunEnd::kFenced;
        log::warn("agent_fenced", {{"agent", me}, {"job", job.job_id}, {"epoch", job.epoch},
                                   {"after_ms", static_cast<int64_t>(fence.count())}});
        lock.unlock();
        job_stop.cancel("fenced: no heartbeat accepted for " + std::to_string(fence.count()) +
                        " ms, the lease may be given to another agent");
        return;
      }
      lock.unlock();
      auto sent = Steady::now();
      try {
        AgentBeat b = link_.heartbeat(job.job_id, job.epoch);
        if (b.ok) {
          last_ok_ms = ms_of(sent.time_since_epoch());
        } else {
          why = b.cancelled ? AgentRunEnd::kCancelled : AgentRunEnd::kStale;
          log::warn("agent_lease_lost", {{"agent", me}, {"job", job.job_id}, {"epoch", job.epoch},
                                         {"cancelled", b.cancelled ? "yes" : "no"}});
          job_stop.cancel(b.cancelled ? "the job was cancelled" : "the lease was lost (the job was given to another agent)");
          return;
        }
      } catch (const std::exception& e) {  // unreachable server, catalog down: keep trying until fencing
        log::warn("agent_heartbeat_failed", {{"agent", me}, {"job", job.job_id}, {"error", e.what()}});
      }
      lock.lock();
    }
  });

  AgentRunResult res;
  res.job_id = job.job_id;
  res.epoch = job.epoch;
  try {
    res.outcome = runner_.run({job, c.upload}, job_stop);
  } catch (const std::exception& e) {
    res.outcome = JobOutcome{};
    res.outcome.error = std::string("the job could not be run: ") + e.what();
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  beat.join();

  // Report with the claim's epoch. A transport error is retried while the lease may still hold; a refused report is
  // final (the queue indexed a committed backup as an orphan).
  for (;;) {
    try {
      ReportResult r = link_.report(job.job_id, job.epoch, res.outcome);
      // Stopped early (lease lost, cancelled, fenced): that is what happened, whether or not the report was still
      // taken (a fenced agent's failure report may arrive while its lease holds).
      AgentRunEnd w = why.load();
      if (w != AgentRunEnd::kReported) res.end = w;
      else res.end = r == ReportResult::kAccepted ? AgentRunEnd::kReported : AgentRunEnd::kStale;
      break;
    } catch (const std::exception& e) {
      auto last_ok = Steady::time_point(milliseconds(last_ok_ms.load()));
      if (Steady::now() >= last_ok + lease) {
        res.end = AgentRunEnd::kUnreported;
        log::error("agent_report_failed", {{"agent", me}, {"job", job.job_id}, {"error", e.what()}});
        break;
      }
      log::warn("agent_report_retry", {{"agent", me}, {"job", job.job_id}, {"error", e.what()}});
      std::this_thread::sleep_for(std::min(opt_.retry_pause, milliseconds(1000)));  // a pause between retries
    }
  }
  log::info("agent_job_done", {{"agent", me}, {"job", job.job_id}, {"epoch", job.epoch},
                               {"end", agent_run_end_name(res.end)}, {"success", res.outcome.success ? "yes" : "no"},
                               {"manifest", res.outcome.manifest}, {"error", res.outcome.error}});
  return res;
}

void Agent::run(const CancelToken& outer) {
  CancelToken stop;  // the caller's stop, or a worker that met an error retrying cannot fix
  CancelHook forward(&outer, [&stop] { stop.cancel("the agent is stopping"); });
  std::mutex failed_mu;
  std::exception_ptr failed;
  auto loop = [&] {
    try {
      while (!stop.cancelled()) {
        try {
          run_once(&stop);
        } catch (const StrataError& e) {
          if (e.code() == ErrorCode::kWrongKey || e.code() == ErrorCode::kUsage) throw;  // retrying cannot help
          if (e.code() == ErrorCode::kNotFound) {  // the server forgot us: register again
            std::lock_guard lock(id_mu_);
            id_.clear();
          }
          if (stop.cancelled()) break;  // the request was cut short by the stop itself
          log::warn("agent_claim_failed", {{"error", e.what()}});
          std::mutex m;
          std::condition_variable cv;
          CancelHook wake(&stop, [&] {
            std::lock_guard l(m);
            cv.notify_all();
          });
          std::unique_lock l(m);
          cv.wait_for(l, opt_.retry_pause, [&] { return stop.cancelled(); });
        }
      }
    } catch (...) {
      {
        std::lock_guard lock(failed_mu);
        if (!failed) failed = std::current_exception();
      }
      stop.cancel("another job slot of this agent failed");
    }
  };
  std::vector<std::thread> workers;  // each registers first (once for all): a server not up yet is waited for
  for (int i = 1; i < opt_.hello.max_jobs; ++i) workers.emplace_back(loop);
  loop();
  for (auto& t : workers) t.join();
  if (failed) std::rethrow_exception(failed);
}

}  // namespace strata
