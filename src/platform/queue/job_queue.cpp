#include "platform/queue/job_queue.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/json_text.hpp"
#include "common/log.hpp"
#include "platform/catalog/outbox.hpp"

namespace strata {
namespace {

const char* const kActive = "('queued', 'failed', 'running')";

std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start) out.push_back(s.substr(start, nl - start));
  }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

std::string quoted(const std::string& s) { return "\"" + json_escape(s) + "\""; }

// Every limit that may hold a job of `group` on `agent`, in one fixed order (the order slots are locked in, so two
// claims never wait for each other's rows in opposite orders).
std::vector<std::string> scopes_for(const std::string& group, const std::string& agent) {
  std::vector<std::string> out{"agent:" + agent, "global"};
  for (size_t at = 0; !group.empty();) {
    size_t slash = group.find('/', at);
    out.push_back("group:" + group.substr(0, slash));
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string scope_of_group(const std::string& group) { return group.empty() ? "global" : "group:" + group; }

bool tags_allow(const std::vector<std::string>& need, const std::vector<std::string>& have) {
  for (const auto& t : need) {
    if (std::find(have.begin(), have.end(), t) == have.end()) return false;
  }
  return true;
}

// One JSON log line per state change, for Loki (docs/CATALOG.md "Logs").
void log_state(int64_t job, const std::string& source, const std::string& to, int64_t epoch, const std::string& why = "") {
  if (why.empty()) {
    log::info("job_state", {{"job", job}, {"source", source}, {"state", to}, {"epoch", epoch}});
  } else {
    log::info("job_state", {{"job", job}, {"source", source}, {"state", to}, {"epoch", epoch}, {"reason", why}});
  }
}

const char* const kJobColumns =
    "id, source, type, state, origin, priority, grp, tags, created_at, run_after, deadline, scheduled_for, attempt, "
    "max_attempts, epoch, agent, lease_until, started_at, finished_at, last_error, manifest";

std::optional<int64_t> opt_int(const SqlValue& v) {
  if (!v || v->empty()) return std::nullopt;
  return std::stoll(*v);
}

JobRecord job_from_row(const SqlRow& r) {
  JobRecord j;
  j.id = sql_int(r[0]);
  j.source = sql_text(r[1]);
  j.type = sql_text(r[2]);
  j.state = sql_text(r[3]);
  j.origin = sql_text(r[4]);
  j.priority = static_cast<int>(sql_int(r[5]));
  j.group = sql_text(r[6]);
  j.tags = split_lines(sql_text(r[7]));
  j.created_at = sql_int(r[8]);
  j.run_after = sql_int(r[9]);
  j.deadline = opt_int(r[10]);
  j.scheduled_for = opt_int(r[11]);
  j.attempt = sql_int(r[12]);
  j.max_attempts = sql_int(r[13]);
  j.epoch = sql_int(r[14]);
  j.agent = sql_text(r[15]);
  j.lease_until = opt_int(r[16]);
  j.started_at = opt_int(r[17]);
  j.finished_at = opt_int(r[18]);
  j.last_error = sql_text(r[19]);
  j.manifest = sql_text(r[20]);
  return j;
}

uint64_t mix(uint64_t x) {  // splitmix64: a stable jitter, the same on every host and build
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

const std::vector<std::string>& job_states() {
  static const std::vector<std::string> s = {"queued", "running", "failed", "succeeded", "dead", "cancelled", "missed"};
  return s;
}

bool job_state_final(const std::string& s) {
  return s == "succeeded" || s == "dead" || s == "cancelled" || s == "missed";
}

int64_t JobQueue::backoff(int64_t job_id, int64_t failures) const {
  int64_t d = opt_.backoff_base;
  for (int64_t i = 1; i < failures && d < opt_.backoff_max; ++i) d *= 2;
  d = std::min(d, opt_.backoff_max);
  // +-25%: retries of many jobs failing together (a repository outage) do not all come back at one instant.
  int64_t spread = d / 2;
  if (spread > 0) d = d - d / 4 + static_cast<int64_t>(mix(static_cast<uint64_t>(job_id) * 131 + failures) % spread);
  return std::max<int64_t>(d, 1);
}

void JobQueue::event(int64_t job_id, int64_t now, const std::string& kind, int64_t epoch, const std::string& detail) {
  cat_.sql().exec("INSERT INTO job_events (job_id, at, kind, epoch, detail) VALUES ($1, $2, $3, $4, $5)",
                  {sql_param(job_id), sql_param(now), kind, sql_param(epoch), detail});
}

void JobQueue::release(const std::string& slots) {
  for (const auto& scope : split_lines(slots)) {  // stored sorted: the same lock order as the claim
    cat_.sql().exec("UPDATE limit_slots SET used = used - 1 WHERE scope = $1 AND used > 0", {scope});
  }
}

// ---- producers ----

EnqueueResult JobQueue::enqueue_in_tx(const JobSpec& spec, int64_t now) {
  if (spec.source.empty()) fail(ErrorCode::kUsage, "a job needs a source");
  if (spec.type != "full" && spec.type != "incremental") {
    fail(ErrorCode::kUsage, "job type '" + spec.type + "' is not full or incremental");
  }
  std::vector<std::string> tags = spec.tags;
  std::sort(tags.begin(), tags.end());
  auto r = cat_.sql().exec(
      std::string("INSERT INTO jobs (source, type, state, origin, priority, grp, tags, created_at, run_after, deadline, "
                  "scheduled_for, attempt, max_attempts, epoch, slots, lease_losses) VALUES ($1, $2, 'queued', $3, $4, "
                  "$5, $6, $7, $8, $9, $10, 0, $11, 0, '', 0) ON CONFLICT (source) WHERE state IN ") +
          kActive + " DO NOTHING RETURNING id",
      {spec.source, spec.type, spec.origin, sql_param(spec.priority), spec.group, join_lines(tags), sql_param(now),
       sql_param(spec.run_after.value_or(now)),
       spec.deadline ? sql_param(*spec.deadline) : SqlValue(), spec.scheduled_for ? sql_param(*spec.scheduled_for) : SqlValue(),
       sql_param(spec.max_attempts.value_or(opt_.max_attempts))});
  EnqueueResult out;
  if (!r.rows.empty()) {
    out.job_id = sql_int(r.rows[0][0]);
    out.created = true;
    out.state = "queued";
    event(out.job_id, now, "queued", 0, spec.origin + " " + spec.type);
    return out;
  }
  auto a = cat_.sql().exec(std::string("SELECT id, state FROM jobs WHERE source = $1 AND state IN ") + kActive +
                               cat_.for_update(), {spec.source});
  if (a.rows.empty()) fail(ErrorCode::kGeneric, "catalog: job of source '" + spec.source + "' vanished while enqueuing; retry");
  out.job_id = sql_int(a.rows[0][0]);
  out.state = sql_text(a.rows[0][1]);
  event(out.job_id, now, "coalesced", 0, spec.origin + " " + spec.type + " joined this job");
  return out;
}

EnqueueResult JobQueue::enqueue(const JobSpec& spec) {
  EnqueueResult out;
  cat_.write([&] { out = enqueue_in_tx(spec, cat_.now()); });
  if (out.created) log_state(out.job_id, spec.source, "queued", 0);
  return out;
}

EnqueueResult JobQueue::run_now(const JobSpec& spec) {
  EnqueueResult out;
  cat_.write([&] {
    int64_t now = cat_.now();
    out = enqueue_in_tx(spec, now);
    if (!out.created && out.state != "running") {
      // A waiting job of the source runs now instead; asked for a full, it becomes one (a full covers an incremental).
      cat_.sql().exec("UPDATE jobs SET run_after = CASE WHEN run_after > $2 THEN $2 ELSE run_after END, "
                      "type = CASE WHEN $3 = 'full' THEN 'full' ELSE type END WHERE id = $1",
                      {sql_param(out.job_id), sql_param(now), spec.type});
    }
  });
  if (out.created) log_state(out.job_id, spec.source, "queued", 0);
  return out;
}

EnqueueResult JobQueue::retry(int64_t job_id) {
  EnqueueResult out;
  cat_.write([&] {
    int64_t now = cat_.now();
    auto r = cat_.sql().exec(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1" + cat_.for_update(),
                             {sql_param(job_id)});
    if (r.rows.empty()) fail(ErrorCode::kNotFound, "job " + std::to_string(job_id) + " does not exist; strata jobs list shows the jobs");
    JobRecord j = job_from_row(r.rows[0]);
    if (j.state == "failed") {  // waiting for its backoff: now
      cat_.sql().exec("UPDATE jobs SET run_after = $2 WHERE id = $1", {sql_param(job_id), sql_param(now)});
      event(job_id, now, "retry_now", j.epoch, "retry asked by the operator");
      out = {job_id, false, "failed"};
      return;
    }
    if (j.state == "queued" || j.state == "running" || j.state == "succeeded") {
      fail(ErrorCode::kGeneric, "job " + std::to_string(job_id) + " is " + j.state +
                                    "; only a failed, dead, cancelled or missed job can be retried");
    }
    JobSpec spec;
    spec.source = j.source;
    spec.type = j.type;
    spec.origin = "retry";
    spec.priority = j.priority;
    spec.group = j.group;
    spec.tags = j.tags;
    out = enqueue_in_tx(spec, now);
    event(job_id, now, "retried", j.epoch, "as job " + std::to_string(out.job_id));
  });
  return out;
}

void JobQueue::cancel(int64_t job_id, const std::string& reason) {
  std::string source;
  int64_t epoch = 0;
  cat_.write([&] {
    int64_t now = cat_.now();
    auto r = cat_.sql().exec(std::string("SELECT state, slots, epoch, source FROM jobs WHERE id = $1") + cat_.for_update(),
                             {sql_param(job_id)});
    if (r.rows.empty()) fail(ErrorCode::kNotFound, "job " + std::to_string(job_id) + " does not exist; strata jobs list shows the jobs");
    std::string state = sql_text(r.rows[0][0]);
    epoch = sql_int(r.rows[0][2]);
    source = sql_text(r.rows[0][3]);
    if (job_state_final(state)) {
      fail(ErrorCode::kGeneric, "job " + std::to_string(job_id) + " is already " + state + "; there is nothing to cancel");
    }
    if (state == "running") {
      release(sql_text(r.rows[0][1]));
      cat_.sql().exec("UPDATE job_attempts SET finished_at = $3, outcome = 'cancelled', error = $4 WHERE job_id = $1 AND "
                      "epoch = $2", {sql_param(job_id), sql_param(epoch), sql_param(now), reason});
    }
    cat_.sql().exec("UPDATE jobs SET state = 'cancelled', slots = '', lease_until = NULL, finished_at = $2, "
                    "last_error = $3 WHERE id = $1", {sql_param(job_id), sql_param(now), reason});
    event(job_id, now, "cancelled", epoch, reason);
  });
  log_state(job_id, source, "cancelled", epoch, reason);
}

// ---- limits and agents ----

void JobQueue::set_limit(const std::string& group, std::optional<int64_t> max_jobs, std::optional<int64_t> upload) {
  std::string scope = scope_of_group(group);
  cat_.write([&] {
    if (!max_jobs && !upload) {
      cat_.sql().exec("DELETE FROM limit_slots WHERE scope = $1", {scope});
      return;
    }
    auto have = cat_.sql().exec("SELECT used FROM limit_slots WHERE scope = $1", {scope});
    if (!have.rows.empty()) {
      cat_.sql().exec("UPDATE limit_slots SET max_jobs = $2, upload = $3 WHERE scope = $1",
                      {scope, max_jobs ? sql_param(*max_jobs) : SqlValue(), upload ? sql_param(*upload) : SqlValue()});
      return;
    }
    // A new limit counts the jobs already running in its scope. No claim may be between reading the limits and
    // committing meanwhile: EXCLUSIVE conflicts with the ROW SHARE lock every claim takes first (SQLite: one writer).
    if (cat_.postgres()) cat_.sql().exec("LOCK TABLE jobs IN EXCLUSIVE MODE");
    SqlResult n = group.empty()
                      ? cat_.sql().exec("SELECT count(*) FROM jobs WHERE state = 'running'")
                      : cat_.sql().exec("SELECT count(*) FROM jobs WHERE state = 'running' AND (grp = $1 OR "
                                        "substr(grp, 1, length($1) + 1) = $1 || '/')", {group});
    int64_t used = sql_int(n.rows.at(0).at(0));
    cat_.sql().exec("INSERT INTO limit_slots (scope, max_jobs, used, upload) VALUES ($1, $2, $3, $4)",
                    {scope, max_jobs ? sql_param(*max_jobs) : SqlValue(), sql_param(used),
                     upload ? sql_param(*upload) : SqlValue()});
    // The running jobs hold the new slot from now on, so their end releases it.
    auto running = group.empty() ? cat_.sql().exec("SELECT id, slots FROM jobs WHERE state = 'running'")
                                 : cat_.sql().exec("SELECT id, slots FROM jobs WHERE state = 'running' AND (grp = $1 OR "
                                                   "substr(grp, 1, length($1) + 1) = $1 || '/')", {group});
    for (auto& row : running.rows) {
      auto slots = split_lines(sql_text(row[1]));
      slots.push_back(scope);
      std::sort(slots.begin(), slots.end());
      cat_.sql().exec("UPDATE jobs SET slots = $2 WHERE id = $1", {row[0], join_lines(slots)});
    }
  });
}

void JobQueue::register_agent(const std::string& agent, const std::vector<std::string>& tags, int max_jobs) {
  if (agent.empty()) fail(ErrorCode::kUsage, "an agent needs a name");
  if (max_jobs < 1) fail(ErrorCode::kUsage, "agent '" + agent + "': max jobs must be at least 1");
  std::vector<std::string> sorted = tags;
  std::sort(sorted.begin(), sorted.end());
  cat_.write([&] {
    int64_t now = cat_.now();
    cat_.sql().exec("INSERT INTO agents (id, tags, max_jobs, registered_at, last_seen) VALUES ($1, $2, $3, $4, $4) "
                    "ON CONFLICT (id) DO UPDATE SET tags = excluded.tags, max_jobs = excluded.max_jobs, last_seen = $4",
                    {agent, join_lines(sorted), sql_param(max_jobs), sql_param(now)});
    // An agent's slot row lives as long as the agent: its running jobs keep counting across re-registrations.
    cat_.sql().exec("INSERT INTO limit_slots (scope, max_jobs, used) VALUES ($1, $2, 0) ON CONFLICT (scope) DO UPDATE "
                    "SET max_jobs = excluded.max_jobs", {"agent:" + agent, sql_param(max_jobs)});
  });
}

std::vector<LimitSlot> JobQueue::limits() {
  auto r = cat_.sql().exec("SELECT scope, max_jobs, used, upload FROM limit_slots ORDER BY scope");
  std::vector<LimitSlot> out;
  for (auto& row : r.rows) out.push_back({sql_text(row[0]), opt_int(row[1]), sql_int(row[2]), opt_int(row[3])});
  return out;
}

std::vector<AgentRecord> JobQueue::agents() {
  auto r = cat_.sql().exec("SELECT a.id, a.tags, a.max_jobs, a.registered_at, a.last_seen, (SELECT count(*) FROM jobs j "
                           "WHERE j.state = 'running' AND j.agent = a.id) FROM agents a ORDER BY a.id");
  std::vector<AgentRecord> out;
  for (auto& row : r.rows) {
    out.push_back({sql_text(row[0]), split_lines(sql_text(row[1])), sql_int(row[2]), sql_int(row[3]), sql_int(row[4]),
                   sql_int(row[5])});
  }
  return out;
}

// ---- agents ----

void JobQueue::expire(int64_t job_id, int64_t now) {
  auto r = cat_.sql().exec("SELECT slots, epoch, lease_losses, lease_loss_since, deadline, source FROM jobs WHERE id = $1",
                           {sql_param(job_id)});
  if (r.rows.empty()) return;
  const SqlRow& j = r.rows[0];
  int64_t epoch = sql_int(j[1]);
  release(sql_text(j[0]));
  int64_t losses = sql_int(j[2]);
  std::optional<int64_t> since = opt_int(j[3]);
  if (!since || now - *since >= opt_.poison_period) {
    since = now;
    losses = 0;
  }
  ++losses;
  cat_.sql().exec("UPDATE job_attempts SET finished_at = $3, outcome = 'lease_lost', error = 'no heartbeat before the "
                  "lease ended' WHERE job_id = $1 AND epoch = $2", {sql_param(job_id), sql_param(epoch), sql_param(now)});
  std::string source = sql_text(j[5]);
  std::string state = "queued";
  std::string why;
  if (losses >= opt_.poison_losses) {
    state = "dead";
    why = "lost its lease " + std::to_string(losses) + " times within " + std::to_string(opt_.poison_period / 3600) +
          "h (poison job)";
  } else if (auto dl = opt_int(j[4]); dl && *dl <= now) {
    state = "missed";
    why = "lease lost and its window closed";
  }
  cat_.sql().exec("UPDATE jobs SET state = $2, slots = '', agent = NULL, lease_until = NULL, lease_losses = $3, "
                  "lease_loss_since = $4, run_after = $5, last_error = $6, finished_at = $7 WHERE id = $1",
                  {sql_param(job_id), state, sql_param(losses), sql_param(*since), sql_param(now),
                   why.empty() ? SqlValue("lease lost: the agent stopped heartbeating") : SqlValue(why),
                   job_state_final(state) ? sql_param(now) : SqlValue()});
  event(job_id, now, "lease_lost", epoch, state);
  if (state == "dead" || state == "missed") {
    outbox_append(cat_, "job." + state,
                  "{\"job\":" + std::to_string(job_id) + ",\"source\":" + quoted(source) + ",\"error\":" + quoted(why) + "}");
  }
  log_state(job_id, source, state, epoch, "lease lost");
}

void JobQueue::mark_missed(int64_t id, const std::string& source, int64_t now) {
  cat_.sql().exec("UPDATE jobs SET state = 'missed', finished_at = $2, last_error = 'not started before its window "
                  "closed' WHERE id = $1", {sql_param(id), sql_param(now)});
  event(id, now, "missed", 0, "window closed");
  outbox_append(cat_, "job.missed", "{\"job\":" + std::to_string(id) + ",\"source\":" + quoted(source) +
                                        ",\"error\":\"not started before its window closed\"}");
  log_state(id, source, "missed", 0, "window closed");
}

int JobQueue::reap_in_tx(int64_t now) {
  int changed = 0;
  auto expired = cat_.sql().exec(std::string("SELECT id FROM jobs WHERE state = 'running' AND lease_until <= $1 "
                                             "ORDER BY id LIMIT 100") + cat_.skip_locked(), {sql_param(now)});
  for (auto& row : expired.rows) {
    expire(sql_int(row[0]), now);
    ++changed;
  }
  auto missed = cat_.sql().exec(std::string("SELECT id, source FROM jobs WHERE state IN ('queued', 'failed') AND "
                                            "deadline <= $1 ORDER BY id LIMIT 100") + cat_.skip_locked(), {sql_param(now)});
  for (auto& row : missed.rows) {
    mark_missed(sql_int(row[0]), sql_text(row[1]), now);
    ++changed;
  }
  return changed;
}

int JobQueue::reap() {
  int n = 0;
  cat_.write([&] { n = reap_in_tx(cat_.now()); });
  return n;
}

std::optional<ClaimedJob> JobQueue::claim(const std::string& agent) {
  std::optional<ClaimedJob> out;
  cat_.write([&] {
    int64_t now = cat_.now();
    auto a = cat_.sql().exec("UPDATE agents SET last_seen = $2 WHERE id = $1 RETURNING tags", {agent, sql_param(now)});
    if (a.rows.empty()) fail(ErrorCode::kNotFound, "agent '" + agent + "' is not registered; it registers when it starts");
    std::vector<std::string> agent_tags = split_lines(sql_text(a.rows[0][0]));
    // Claimable jobs and jobs whose lease ended (re-queued here, so they are claimable at once). This first statement
    // on jobs takes the ROW SHARE lock a new limit waits for (set_limit), before any limit is read.
    auto cand = cat_.sql().exec(
        std::string("SELECT id, source, type, grp, tags, attempt, epoch, deadline, state FROM jobs WHERE (state IN "
                    "('queued', 'failed') AND run_after <= $1) OR (state = 'running' AND lease_until <= $1) ORDER BY "
                    "priority DESC, run_after, id LIMIT $2") + cat_.skip_locked(),
        {sql_param(now), sql_param(opt_.candidates)});
    for (auto& c : cand.rows) {
      int64_t id = sql_int(c[0]);
      if (sql_text(c[8]) == "running") {
        expire(id, now);  // frees its slots whoever claims next
        auto st = cat_.sql().exec("SELECT state FROM jobs WHERE id = $1", {sql_param(id)});
        if (st.rows.empty() || sql_text(st.rows[0][0]) != "queued") continue;
      } else if (auto dl = opt_int(c[7]); dl && *dl <= now) {
        mark_missed(id, sql_text(c[1]), now);
        continue;
      }
      if (!tags_allow(split_lines(sql_text(c[4])), agent_tags)) continue;
      // The limits that exist for this job; one slot of each, all or none. The slot rows are the contended ones
      // (the fleet's is in every claim), so they are updated last: their locks are held only until the commit.
      std::vector<std::string> scopes = scopes_for(sql_text(c[3]), agent);
      std::string in;
      std::vector<SqlValue> params;
      for (size_t i = 0; i < scopes.size(); ++i) {
        in += (i ? ", $" : "$") + std::to_string(i + 1);
        params.emplace_back(scopes[i]);
      }
      auto limited = cat_.sql().exec("SELECT scope FROM limit_slots WHERE scope IN (" + in + ") ORDER BY scope", params);
      std::vector<std::string> taken;
      for (auto& l : limited.rows) taken.push_back(sql_text(l[0]));
      ClaimedJob j;
      j.job_id = id;
      j.source = sql_text(c[1]);
      j.type = sql_text(c[2]);
      j.attempt = sql_int(c[5]) + 1;
      j.epoch = sql_int(c[6]) + 1;
      j.lease_until = now + opt_.lease;
      j.deadline = opt_int(c[7]);
      cat_.sql().exec("SAVEPOINT claim_slots");
      cat_.sql().exec("UPDATE jobs SET state = 'running', agent = $2, epoch = $3, attempt = $4, lease_until = $5, "
                      "slots = $6, started_at = $7 WHERE id = $1",
                      {sql_param(id), agent, sql_param(j.epoch), sql_param(j.attempt), sql_param(j.lease_until),
                       join_lines(taken), sql_param(now)});
      cat_.sql().exec("INSERT INTO job_attempts (job_id, epoch, attempt, agent, started_at) VALUES ($1, $2, $3, $4, $5)",
                      {sql_param(id), sql_param(j.epoch), sql_param(j.attempt), agent, sql_param(now)});
      event(id, now, "claimed", j.epoch, agent);
      bool ok = true;
      for (const auto& scope : taken) {
        auto u = cat_.sql().exec("UPDATE limit_slots SET used = used + 1 WHERE scope = $1 AND (max_jobs IS NULL OR "
                                 "used < max_jobs)", {scope});
        if (u.affected != 1) {
          ok = false;
          break;
        }
      }
      if (!ok) {
        cat_.sql().exec("ROLLBACK TO SAVEPOINT claim_slots");
        cat_.sql().exec("RELEASE SAVEPOINT claim_slots");
        continue;
      }
      cat_.sql().exec("RELEASE SAVEPOINT claim_slots");
      out = j;
      return;
    }
  });
  if (out) log_state(out->job_id, out->source, "running", out->epoch, "claimed by " + agent);
  return out;
}

HeartbeatResult JobQueue::heartbeat(int64_t job_id, int64_t epoch) {
  HeartbeatResult out;
  cat_.write([&] {
    int64_t now = cat_.now();
    auto r = cat_.sql().exec("UPDATE jobs SET lease_until = $3 WHERE id = $1 AND epoch = $2 AND state = 'running' AND "
                             "lease_until > $4", {sql_param(job_id), sql_param(epoch), sql_param(now + opt_.lease), sql_param(now)});
    if (r.affected == 1) {
      out.ok = true;
      out.lease_until = now + opt_.lease;
      return;
    }
    auto s = cat_.sql().exec("SELECT state, epoch FROM jobs WHERE id = $1", {sql_param(job_id)});
    out.cancelled = !s.rows.empty() && sql_text(s.rows[0][0]) == "cancelled" && sql_int(s.rows[0][1]) == epoch;
  });
  return out;
}

ReportResult JobQueue::complete(int64_t job_id, int64_t epoch, const JobOutcome& outcome) {
  ReportResult result = ReportResult::kAccepted;
  std::string source, state;
  cat_.write([&] {
    int64_t now = cat_.now();
    auto r = cat_.sql().exec(std::string("SELECT state, epoch, lease_until, slots, source, max_attempts FROM jobs WHERE "
                                         "id = $1") + cat_.for_update(), {sql_param(job_id)});
    if (r.rows.empty()) fail(ErrorCode::kNotFound, "job " + std::to_string(job_id) + " does not exist");
    const SqlRow& j = r.rows[0];
    source = sql_text(j[4]);
    bool current = sql_text(j[0]) == "running" && sql_int(j[1]) == epoch && sql_int(j[2]) > now;
    if (!current) {
      result = ReportResult::kStale;
      if (sql_text(j[0]) == "running" && sql_int(j[1]) == epoch) expire(job_id, now);  // its lease ended unnoticed
      // The fenced attempt may still have committed a backup: the repository has it, so the index must too — as an
      // orphan, found and reported, never the job's success.
      if (outcome.success && !outcome.manifest.empty()) {
        cat_.sql().exec("INSERT INTO backups (repo, manifest, source, job_id, epoch, created_at, orphan) VALUES ($1, $2, "
                        "$3, $4, $5, $6, 1) ON CONFLICT (repo, manifest) DO NOTHING",
                        {outcome.repo, outcome.manifest, source, sql_param(job_id), sql_param(epoch), sql_param(now)});
        outbox_append(cat_, "backup.orphan", "{\"job\":" + std::to_string(job_id) + ",\"epoch\":" + std::to_string(epoch) +
                                                 ",\"source\":" + quoted(source) + ",\"repo\":" + quoted(outcome.repo) +
                                                 ",\"manifest\":" + quoted(outcome.manifest) + "}");
      }
      cat_.sql().exec("UPDATE job_attempts SET outcome = 'fenced', finished_at = COALESCE(finished_at, $3) WHERE "
                      "job_id = $1 AND epoch = $2", {sql_param(job_id), sql_param(epoch), sql_param(now)});
      event(job_id, now, "stale_report", epoch, outcome.success ? "success refused" : "failure refused");
      return;
    }
    if (outcome.success) {
      state = "succeeded";
      cat_.sql().exec("UPDATE jobs SET state = 'succeeded', slots = '', lease_until = NULL, finished_at = $2, manifest = "
                      "$3, last_error = NULL WHERE id = $1", {sql_param(job_id), sql_param(now), outcome.manifest});
      if (!outcome.manifest.empty()) {
        cat_.sql().exec("INSERT INTO backups (repo, manifest, source, job_id, epoch, created_at, orphan) VALUES ($1, $2, "
                        "$3, $4, $5, $6, 0) ON CONFLICT (repo, manifest) DO UPDATE SET orphan = 0, job_id = $4, epoch = $5",
                        {outcome.repo, outcome.manifest, source, sql_param(job_id), sql_param(epoch), sql_param(now)});
      }
    } else {
      int64_t failures = sql_int(cat_.sql().exec("SELECT count(*) FROM job_attempts WHERE job_id = $1 AND outcome = "
                                                 "'failed'", {sql_param(job_id)}).rows.at(0).at(0)) + 1;
      bool dead = failures >= sql_int(j[5]);
      state = dead ? "dead" : "failed";
      int64_t run_after = dead ? now : now + backoff(job_id, failures);
      cat_.sql().exec("UPDATE jobs SET state = $2, slots = '', agent = NULL, lease_until = NULL, run_after = $3, "
                      "last_error = $4, finished_at = $5 WHERE id = $1",
                      {sql_param(job_id), state, sql_param(run_after), outcome.error,
                       dead ? sql_param(now) : SqlValue()});
      std::string payload = "{\"job\":" + std::to_string(job_id) + ",\"source\":" + quoted(source) + ",\"attempt\":" +
                            std::to_string(failures) + ",\"error\":" + quoted(outcome.error) + "}";
      outbox_append(cat_, "job.failed", payload);
      if (dead) outbox_append(cat_, "job.dead", payload);
    }
    cat_.sql().exec("UPDATE job_attempts SET finished_at = $3, outcome = $4, error = $5 WHERE job_id = $1 AND epoch = $2",
                    {sql_param(job_id), sql_param(epoch), sql_param(now), outcome.success ? "succeeded" : "failed",
                     outcome.success ? SqlValue() : SqlValue(outcome.error)});
    event(job_id, now, state, epoch, outcome.success ? outcome.manifest : outcome.error);
    release(sql_text(j[3]));  // last: the contended slot rows stay locked only until the commit
  });
  if (result == ReportResult::kAccepted) log_state(job_id, source, state, epoch, outcome.error);
  else log::warn("job_stale_report", {{"job", job_id}, {"source", source}, {"epoch", epoch}});
  return result;
}

// ---- reading ----

std::vector<JobRecord> JobQueue::list(const std::string& state, int limit) {
  SqlResult r = state.empty()
                    ? cat_.sql().exec(std::string("SELECT ") + kJobColumns + " FROM jobs ORDER BY id DESC LIMIT $1",
                                      {sql_param(limit)})
                    : cat_.sql().exec(std::string("SELECT ") + kJobColumns +
                                          " FROM jobs WHERE state = $1 ORDER BY id DESC LIMIT $2", {state, sql_param(limit)});
  std::vector<JobRecord> out;
  for (auto& row : r.rows) out.push_back(job_from_row(row));
  return out;
}

std::optional<JobRecord> JobQueue::get(int64_t job_id) {
  auto r = cat_.sql().exec(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1", {sql_param(job_id)});
  if (r.rows.empty()) return std::nullopt;
  JobRecord j = job_from_row(r.rows[0]);
  auto a = cat_.sql().exec("SELECT epoch, attempt, agent, started_at, finished_at, outcome, error FROM job_attempts "
                           "WHERE job_id = $1 ORDER BY epoch", {sql_param(job_id)});
  for (auto& row : a.rows) {
    j.attempts.push_back({sql_int(row[0]), sql_int(row[1]), sql_text(row[2]), sql_int(row[3]), opt_int(row[4]),
                          sql_text(row[5]), sql_text(row[6])});
  }
  auto e = cat_.sql().exec("SELECT at, kind, epoch, detail FROM job_events WHERE job_id = $1 ORDER BY id",
                           {sql_param(job_id)});
  for (auto& row : e.rows) j.events.push_back({sql_int(row[0]), sql_text(row[1]), sql_int(row[2]), sql_text(row[3])});
  return j;
}

}  // namespace strata
