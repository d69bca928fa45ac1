#include "platform/queue/fleet_sync.hpp"

#include <map>
#include <set>

#include "common/clock.hpp"
#include "common/json_text.hpp"
#include "platform/catalog/outbox.hpp"
#include "platform/scheduler/scheduler.hpp"

namespace strata {
namespace {

std::string quoted(const std::string& s) { return "\"" + json_escape(s) + "\""; }

std::string lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

}  // namespace

void sync_fleet(Catalog& catalog, JobQueue& queue, const FleetConfig& fleet) {
  catalog.write([&] {
    int64_t now = catalog.now();
    for (const auto& s : fleet.sources) {
      catalog.sql().exec("INSERT INTO sources (name, engine, grp, timezone, priority, rpo, tags, updated_at) VALUES ($1, "
                         "$2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO UPDATE SET engine = excluded.engine, grp = "
                         "excluded.grp, timezone = excluded.timezone, priority = excluded.priority, rpo = excluded.rpo, "
                         "tags = excluded.tags, updated_at = excluded.updated_at",
                         {s.name, s.engine, s.group, s.timezone, sql_param(s.priority), sql_param(s.rpo), lines(s.tags),
                          sql_param(now)});
    }
  });
  std::set<std::string> wanted;
  for (const auto& l : fleet.limits) {
    wanted.insert(l.group.empty() ? "global" : "group:" + l.group);
    queue.set_limit(l.group, l.jobs ? std::optional<int64_t>(*l.jobs) : std::nullopt,
                    l.upload ? std::optional<int64_t>(static_cast<int64_t>(*l.upload)) : std::nullopt);
  }
  for (const auto& slot : queue.limits()) {
    if (slot.scope.rfind("agent:", 0) == 0 || wanted.count(slot.scope)) continue;
    queue.set_limit(slot.scope == "global" ? "" : slot.scope.substr(6), std::nullopt, std::nullopt);
  }
}

TickResult schedule_tick(Catalog& catalog, JobQueue& queue, const FleetConfig& fleet,
                         const std::vector<Schedule>& schedules) {
  TickResult out;
  catalog.write([&] {
    out = {};
    int64_t now = catalog.now();
    std::vector<StoredSchedule> stored;
    for (auto& row : catalog.sql().exec("SELECT key, fingerprint, next_fire FROM schedules").rows) {
      stored.push_back({sql_text(row[0]), sql_text(row[1]), sql_int(row[2])});
    }
    std::vector<std::string> removed;
    std::vector<ScheduleRow> rows = rows_from_store(schedules, stored, &removed);
    PassResult pass = scheduler_pass(rows, now);
    for (const auto& due : pass.due) {
      const ScheduleSpec& spec = rows[due.row].schedule->spec();
      const FleetSource* src = fleet.find(spec.source);
      JobSpec job;
      job.source = spec.source;
      job.type = spec.type;
      job.origin = "schedule";
      job.priority = spec.priority;
      if (src) {
        job.group = src->group;
        job.tags = src->tags;
      }
      job.run_after = due.occurrence.not_before;
      if (due.occurrence.deadline != kNoDeadline) job.deadline = due.occurrence.deadline;
      job.scheduled_for = due.occurrence.fire;
      EnqueueResult r = queue.enqueue_in_tx(job, now);
      (r.created ? out.enqueued : out.coalesced)++;
    }
    for (const auto& m : pass.missed) {
      const ScheduleSpec& spec = rows[m.row].schedule->spec();
      outbox_append(catalog, "schedule.missed",
                    "{\"source\":" + quoted(spec.source) + ",\"type\":" + quoted(spec.type) + ",\"cron\":" +
                        quoted(spec.cron) + ",\"reason\":" + quoted(miss_reason_name(m.reason)) + ",\"first\":" +
                        quoted(iso_utc(m.first)) + ",\"last\":" + quoted(iso_utc(m.last)) + ",\"count\":" +
                        std::to_string(m.count) + ",\"count_exact\":" + (m.count_exact ? "true" : "false") + "}");
      ++out.missed;
    }
    for (const auto& [row, next] : pass.next_fires) {
      const Schedule& s = *rows[row].schedule;
      catalog.sql().exec("INSERT INTO schedules (key, source, fingerprint, next_fire, updated_at) VALUES ($1, $2, $3, $4, "
                         "$5) ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, next_fire = "
                         "excluded.next_fire, updated_at = excluded.updated_at",
                         {s.key(), s.spec().source, s.fingerprint(), sql_param(next), sql_param(now)});
    }
    for (const auto& key : removed) catalog.sql().exec("DELETE FROM schedules WHERE key = $1", {key});
  });
  return out;
}

}  // namespace strata
