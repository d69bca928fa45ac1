#include "server/http/agent_service.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/log.hpp"
#include "platform/agent/local_link.hpp"
#include "platform/catalog/catalog.hpp"
#include "server/http/agent_protocol.hpp"

namespace strata {
namespace ap = agent_protocol;

struct AgentService::Worker {
  std::unique_ptr<Catalog> cat;
  std::unique_ptr<JobQueue> queue;
};

namespace {

HttpResponse error_response(int status, const std::string& message) { return {status, ap::error_json(message)}; }

int status_of(const StrataError& e) {
  switch (e.code()) {
    case ErrorCode::kUsage: return 400;
    case ErrorCode::kNotFound: return 404;
    default: return 503;
  }
}

// Whether the agent held this epoch of the job: an agent may only heartbeat and report its own claims.
bool held_by(Catalog& cat, const std::string& agent, int64_t job, int64_t epoch) {
  auto r = cat.sql().exec("SELECT agent FROM job_attempts WHERE job_id = $1 AND epoch = $2",
                          {sql_param(job), sql_param(epoch)});
  return !r.rows.empty() && sql_text(r.rows[0][0]) == agent;
}

}  // namespace

AgentService::AgentService(AgentServiceOptions options, TokenStore& tokens) : opt_(std::move(options)), tokens_(tokens) {
  for (unsigned i = 0; i < std::max(1u, opt_.catalog_connections); ++i) workers_.emplace_back([this, i] { work(i); });
  dispatcher_ = std::thread([this] { dispatch(); });
}

AgentService::~AgentService() { stop(); }

void AgentService::stop() {
  std::list<Waiter> left;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    left.swap(waiters_);
  }
  cv_.notify_all();
  for (auto& w : left) w.respond({204, ""});
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

size_t AgentService::waiting() {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

void AgentService::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void AgentService::submit(std::function<void(Worker&)> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void AgentService::work(unsigned index) {
  Worker w;
  for (;;) {
    std::function<void(Worker&)> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left to answer
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    try {
      if (!w.cat) {
        w.cat = Catalog::open(opt_.catalog_url, opt_.clock);
        w.queue = std::make_unique<JobQueue>(*w.cat, opt_.queue);
      }
      task(w);
    } catch (const std::exception& e) {
      // The task answered what it could; a broken connection is opened again for the next one (catalog restarts).
      log::warn("agent_service_catalog_error", {{"worker", static_cast<int64_t>(index)}, {"error", e.what()}});
      w.queue.reset();
      w.cat.reset();
    }
  }
}

void AgentService::dispatch() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, opt_.poll, [&] { return stopping_ || woken_; });
    if (stopping_) break;
    woken_ = false;
    if (waiters_.empty() || pass_running_) continue;
    pass_running_ = true;
    tasks_.push_back([this](Worker& w) { claim_pass(w); });
    cv_.notify_all();
  }
}

void AgentService::claim_pass(Worker& w) {
  std::list<Waiter> mine;
  {
    std::lock_guard lock(mu_);
    mine.swap(waiters_);
  }
  std::list<Waiter> keep;
  auto finish = [&] {
    std::lock_guard lock(mu_);
    waiters_.splice(waiters_.begin(), keep);  // those that waited longest stay first
    pass_running_ = false;
  };
  try {
    auto now = std::chrono::steady_clock::now();
    int64_t t = w.cat->now();
    // One cheap look before walking the waiters: with nothing claimable (the common idle case) no claim is tried.
    auto any = w.cat->sql().exec(
        "SELECT 1 FROM jobs WHERE (state IN ('queued', 'failed') AND run_after <= $1) OR (state = 'running' AND "
        "lease_until <= $1) LIMIT 1", {sql_param(t)});
    bool claimable = !any.rows.empty();
    while (!mine.empty()) {
      Waiter wt = std::move(mine.front());
      mine.pop_front();
      std::optional<ClaimedJob> c;
      if (claimable) {
        try {
          c = w.queue->claim(wt.agent);
        } catch (const StrataError& e) {
          if (e.code() != ErrorCode::kNotFound) throw;
          wt.respond(error_response(404, e.what()));
          continue;
        }
      }
      if (c) {
        wt.respond({200, ap::claim_json({*c, opt_.queue.lease, upload_share(*w.cat, c->job_id)})});
      } else if (now >= wt.deadline) {
        wt.respond({204, ""});
      } else {
        keep.push_back(std::move(wt));
      }
    }
  } catch (...) {
    keep.splice(keep.end(), mine);  // not answered: they wait for the next pass (the connection is reopened)
    finish();
    throw;
  }
  finish();
}

void AgentService::handle(HttpRequest req, HttpRespond respond) {
  const std::string bearer = "Bearer ";
  std::optional<std::string> agent;
  if (req.authorization.rfind(bearer, 0) == 0) agent = tokens_.agent_of(req.authorization.substr(bearer.size()));
  if (!agent) {
    log::warn("agent_token_refused", {{"remote", req.remote}, {"path", req.path}});
    return respond(error_response(401, "unknown agent token; the server's --token-dir must hold this agent's token"));
  }
  if (req.method != "POST") return respond(error_response(405, "use POST"));
  {
    std::lock_guard lock(mu_);
    if (stopping_) return respond(error_response(503, "the server is stopping"));
  }
  submit([this, a = *agent, req = std::move(req), respond](Worker& w) { serve(w, a, req, respond); });
}

void AgentService::serve(Worker& w, const std::string& agent, const HttpRequest& req, const HttpRespond& respond) {
  try {
    if (req.path == ap::kRegister) {
      AgentHello h = ap::parse_hello(req.body);
      // The id is the token's, whatever the agent calls itself: a token speaks for exactly one agent.
      w.queue->register_agent(agent, h.tags, h.max_jobs);
      log::info("agent_registered", {{"agent", agent}, {"remote", req.remote}, {"max_jobs", h.max_jobs}});
      return respond({200, ap::agent_json(agent)});
    }
    if (req.path == ap::kClaim) {
      int64_t wait = std::clamp<int64_t>(ap::parse_wait_ms(req.body), 0, opt_.max_wait.count());
      if (auto c = w.queue->claim(agent)) {
        return respond({200, ap::claim_json({*c, opt_.queue.lease, upload_share(*w.cat, c->job_id)})});
      }
      if (wait == 0) return respond({204, ""});
      {
        std::lock_guard lock(mu_);
        if (!stopping_) {
          waiters_.push_back({agent, std::chrono::steady_clock::now() + std::chrono::milliseconds(wait), respond});
          return;
        }
      }
      return respond({204, ""});
    }
    if (req.path == ap::kHeartbeat) {
      ap::JobRef ref = ap::parse_job_ref(req.body);
      AgentBeat b;
      if (held_by(*w.cat, agent, ref.job, ref.epoch)) {
        HeartbeatResult h = w.queue->heartbeat(ref.job, ref.epoch);
        b.ok = h.ok;
        b.cancelled = h.cancelled;
        if (h.ok) b.upload = upload_share(*w.cat, ref.job);
      }
      return respond({200, ap::beat_json(b)});
    }
    if (req.path == ap::kReport) {
      ap::JobRef ref;
      JobOutcome o = ap::parse_report(req.body, &ref);
      ReportResult r = ReportResult::kStale;
      if (held_by(*w.cat, agent, ref.job, ref.epoch)) r = w.queue->complete(ref.job, ref.epoch, o);
      else log::warn("agent_report_refused", {{"agent", agent}, {"job", ref.job}, {"epoch", ref.epoch}});
      if (r == ReportResult::kAccepted) wake();  // its slots are free: a waiting agent may claim now
      return respond({200, ap::result_json(r)});
    }
    respond(error_response(404, "no such endpoint: " + req.path));
  } catch (const StrataError& e) {
    respond(error_response(status_of(e), e.what()));
    if (status_of(e) == 503) throw;  // the connection may be broken: the worker opens a new one
  } catch (const std::exception& e) {
    respond(error_response(503, e.what()));
    throw;
  }
}

}  // namespace strata
