// strata jobs list|show|retry|cancel|run|tick: the fleet's job queue in the catalog (docs/CATALOG.md). The catalog is
// the one named by `catalog` in the config file (or STRATA_CATALOG, or --catalog).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "cli/context.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/json_text.hpp"
#include "platform/catalog/catalog.hpp"
#include "platform/notify/amqp_notifier.hpp"
#include "platform/notify/webhook_config.hpp"
#include "platform/notify/webhook_notifier.hpp"
#include "platform/queue/fleet_sync.hpp"
#include "platform/queue/job_queue.hpp"
#include "platform/scheduler/fleet_config.hpp"

namespace strata {
namespace {

struct JobsOpts {
  std::string catalog;
  std::string state;
  bool json = false;
  int limit = 100;
  int64_t job = 0;
  std::string source;
  std::string type = "full";
};

std::string q(const std::string& s) { return "\"" + json_escape(s) + "\""; }
std::string t_or_null(const std::optional<int64_t>& t) { return t ? q(iso_utc(*t)) : "null"; }
std::string t_or_dash(const std::optional<int64_t>& t) { return t ? iso_utc(*t) : "-"; }

std::unique_ptr<Catalog> open_catalog(CliContext& ctx, const JobsOpts& o) {
  ctx.finalize();
  std::string url = !o.catalog.empty() ? o.catalog : ctx.settings.catalog;
  if (url.empty()) {
    fail(ErrorCode::kUsage, "no catalog configured; set catalog = \"sqlite:///var/lib/strata/catalog.db\" in the config "
                            "file (or STRATA_CATALOG, or --catalog)");
  }
  return Catalog::open(url);
}

std::string job_json(const JobRecord& j, bool detail) {
  std::string tags;
  for (size_t i = 0; i < j.tags.size(); ++i) tags += (i ? "," : "") + q(j.tags[i]);
  std::string out = "{\"id\":" + std::to_string(j.id) + ",\"source\":" + q(j.source) + ",\"type\":" + q(j.type) +
                    ",\"state\":" + q(j.state) + ",\"origin\":" + q(j.origin) + ",\"group\":" + q(j.group) +
                    ",\"tags\":[" + tags + "],\"priority\":" + std::to_string(j.priority) + ",\"attempt\":" +
                    std::to_string(j.attempt) + ",\"max_attempts\":" + std::to_string(j.max_attempts) + ",\"epoch\":" +
                    std::to_string(j.epoch) + ",\"agent\":" + (j.agent.empty() ? "null" : q(j.agent)) +
                    ",\"created_at\":" + q(iso_utc(j.created_at)) + ",\"run_after\":" + q(iso_utc(j.run_after)) +
                    ",\"scheduled_for\":" + t_or_null(j.scheduled_for) + ",\"deadline\":" + t_or_null(j.deadline) +
                    ",\"lease_until\":" + t_or_null(j.lease_until) + ",\"started_at\":" + t_or_null(j.started_at) +
                    ",\"finished_at\":" + t_or_null(j.finished_at) + ",\"last_error\":" +
                    (j.last_error.empty() ? "null" : q(j.last_error)) + ",\"manifest\":" +
                    (j.manifest.empty() ? "null" : q(j.manifest));
  if (detail) {
    out += ",\"attempts\":[";
    for (size_t i = 0; i < j.attempts.size(); ++i) {
      const JobAttempt& a = j.attempts[i];
      out += (i ? "," : "") + std::string("{\"attempt\":") + std::to_string(a.attempt) + ",\"epoch\":" +
             std::to_string(a.epoch) + ",\"agent\":" + q(a.agent) + ",\"started_at\":" + q(iso_utc(a.started_at)) +
             ",\"finished_at\":" + t_or_null(a.finished_at) + ",\"duration_seconds\":" +
             (a.finished_at ? std::to_string(*a.finished_at - a.started_at) : "null") + ",\"outcome\":" +
             (a.outcome.empty() ? "null" : q(a.outcome)) + ",\"error\":" + (a.error.empty() ? "null" : q(a.error)) + "}";
    }
    out += "],\"events\":[";
    for (size_t i = 0; i < j.events.size(); ++i) {
      const JobEvent& e = j.events[i];
      out += (i ? "," : "") + std::string("{\"at\":") + q(iso_utc(e.at)) + ",\"kind\":" + q(e.kind) + ",\"epoch\":" +
             std::to_string(e.epoch) + ",\"detail\":" + q(e.detail) + "}";
    }
    out += "]";
  }
  return out + "}";
}

void check_state(const std::string& s) {
  if (s.empty()) return;
  for (const auto& known : job_states()) {
    if (known == s) return;
  }
  fail(ErrorCode::kUsage, "--state '" + s + "' is not a job state; use queued, running, failed, succeeded, dead, "
                          "cancelled or missed");
}

void print_list(const std::vector<JobRecord>& jobs) {
  if (jobs.empty()) {
    std::printf("no jobs\n");
    return;
  }
  std::printf("%-8s %-10s %-20s %-12s %-8s %-21s %-12s %s\n", "ID", "STATE", "SOURCE", "TYPE", "ATTEMPT", "RUN AFTER",
              "AGENT", "LAST ERROR");
  for (const auto& j : jobs) {
    std::string attempt = std::to_string(j.attempt) + "/" + std::to_string(j.max_attempts);
    std::printf("%-8lld %-10s %-20s %-12s %-8s %-21s %-12s %s\n", static_cast<long long>(j.id), j.state.c_str(),
                j.source.c_str(), j.type.c_str(), attempt.c_str(), iso_utc(j.run_after).c_str(),
                j.agent.empty() ? "-" : j.agent.c_str(), j.last_error.c_str());
  }
}

void print_show(const JobRecord& j) {
  std::printf("job %lld  %s  %s %s (%s)\n", static_cast<long long>(j.id), j.state.c_str(), j.source.c_str(),
              j.type.c_str(), j.origin.c_str());
  if (!j.group.empty()) std::printf("  group        %s\n", j.group.c_str());
  std::printf("  created      %s\n  run after    %s\n", iso_utc(j.created_at).c_str(), iso_utc(j.run_after).c_str());
  if (j.scheduled_for) std::printf("  scheduled    %s\n", iso_utc(*j.scheduled_for).c_str());
  if (j.deadline) std::printf("  deadline     %s\n", iso_utc(*j.deadline).c_str());
  std::printf("  attempts     %lld of %lld (epoch %lld)\n", static_cast<long long>(j.attempt),
              static_cast<long long>(j.max_attempts), static_cast<long long>(j.epoch));
  if (!j.agent.empty()) std::printf("  agent        %s, lease until %s\n", j.agent.c_str(), t_or_dash(j.lease_until).c_str());
  if (!j.manifest.empty()) std::printf("  backup       %s\n", j.manifest.c_str());
  if (!j.last_error.empty()) std::printf("  last error   %s\n", j.last_error.c_str());
  for (const auto& a : j.attempts) {
    std::string dur = a.finished_at ? std::to_string(*a.finished_at - a.started_at) + " s" : "running";
    std::printf("  attempt %lld  epoch %lld  %s  %s  %s  %s%s\n", static_cast<long long>(a.attempt),
                static_cast<long long>(a.epoch), a.agent.c_str(), iso_utc(a.started_at).c_str(), dur.c_str(),
                a.outcome.empty() ? "running" : a.outcome.c_str(), a.error.empty() ? "" : (": " + a.error).c_str());
  }
}

}  // namespace

void register_jobs(CLI::App& app, CliContext& ctx) {
  auto* jobs = app.add_subcommand("jobs", "The fleet's job queue in the catalog (docs/CATALOG.md)");
  jobs->require_subcommand(1);
  auto o = std::make_shared<JobsOpts>();
  jobs->add_option("--catalog", o->catalog, "Catalog URL (default: `catalog` in the config file, or STRATA_CATALOG)");

  auto* list = jobs->add_subcommand("list", "Jobs, newest first");
  list->add_option("--state", o->state, "Only jobs in this state: queued, running, failed, succeeded, dead, cancelled, missed");
  list->add_option("--limit", o->limit, "At most this many (default 100)");
  list->add_flag("--json", o->json, "One JSON document");
  list->callback([&ctx, o] {
    check_state(o->state);
    auto cat = open_catalog(ctx, *o);
    JobQueue queue(*cat);
    auto all = queue.list(o->state, o->limit);
    if (!o->json) return print_list(all);
    std::string out = "{\"jobs\":[";
    for (size_t i = 0; i < all.size(); ++i) out += (i ? ",\n " : "\n ") + job_json(all[i], false);
    std::printf("%s\n]}\n", out.c_str());
  });

  auto* show = jobs->add_subcommand("show", "One job with its attempts (agent, duration, error) and events");
  show->add_option("JOB", o->job, "Job id")->required();
  show->add_flag("--json", o->json, "One JSON document");
  show->callback([&ctx, o] {
    auto cat = open_catalog(ctx, *o);
    JobQueue queue(*cat);
    auto j = queue.get(o->job);
    if (!j) fail(ErrorCode::kNotFound, "job " + std::to_string(o->job) + " does not exist; strata jobs list shows the jobs");
    if (o->json) std::printf("%s\n", job_json(*j, true).c_str());
    else print_show(*j);
  });

  auto* retry = jobs->add_subcommand("retry", "Run a failed, dead, cancelled or missed job again (a waiting retry: now)");
  retry->add_option("JOB", o->job, "Job id")->required();
  retry->callback([&ctx, o] {
    auto cat = open_catalog(ctx, *o);
    JobQueue queue(*cat);
    EnqueueResult r = queue.retry(o->job);
    if (r.job_id == o->job) std::printf("job %lld will be retried now\n", static_cast<long long>(r.job_id));
    else if (r.created) std::printf("queued job %lld (retry of %lld)\n", static_cast<long long>(r.job_id), static_cast<long long>(o->job));
    else std::printf("job %lld of the same source is already %s\n", static_cast<long long>(r.job_id), r.state.c_str());
  });

  auto* cancel = jobs->add_subcommand("cancel", "Cancel a queued, waiting or running job");
  cancel->add_option("JOB", o->job, "Job id")->required();
  cancel->callback([&ctx, o] {
    auto cat = open_catalog(ctx, *o);
    JobQueue queue(*cat);
    queue.cancel(o->job);
    std::printf("job %lld cancelled\n", static_cast<long long>(o->job));
  });

  auto* run = jobs->add_subcommand("run", "Back up a source now (deduplicated against its queued job)");
  run->add_option("SOURCE", o->source, "A source of the fleet config")->required();
  run->add_option("--type", o->type, "full (default) or incremental");
  run->add_flag("--json", o->json, "One JSON object");
  run->callback([&ctx, o] {
    if (o->type != "full" && o->type != "incremental") {
      fail(ErrorCode::kUsage, "--type '" + o->type + "' is not full or incremental");
    }
    auto cat = open_catalog(ctx, *o);
    FleetConfig fleet = load_fleet_config(ctx.settings.config_path);
    const FleetSource* src = fleet.find(o->source);
    if (!src) {
      fail(ErrorCode::kNotFound, "source '" + o->source + "' is not in " + ctx.settings.config_path +
                                     "; strata fleet schedule lists the sources");
    }
    JobSpec spec;
    spec.source = src->name;
    spec.type = o->type;
    spec.origin = "manual";
    spec.priority = src->priority;
    spec.group = src->group;
    spec.tags = src->tags;
    JobQueue queue(*cat);
    EnqueueResult r = queue.run_now(spec);
    if (o->json) {
      std::printf("{\"job\":%lld,\"created\":%s,\"state\":%s}\n", static_cast<long long>(r.job_id),
                  r.created ? "true" : "false", q(r.state).c_str());
    } else if (r.created) {
      std::printf("queued job %lld (%s %s)\n", static_cast<long long>(r.job_id), o->source.c_str(), o->type.c_str());
    } else {
      std::printf("source %s already has job %lld (%s); not queued twice\n", o->source.c_str(),
                  static_cast<long long>(r.job_id), r.state.c_str());
    }
  });

  auto* tick = jobs->add_subcommand(
      "tick", "One pass of what the server does: copy the fleet config into the catalog, queue due schedules, expire "
              "leases, deliver due webhooks");
  tick->callback([&ctx, o] {
    auto cat = open_catalog(ctx, *o);
    FleetConfig fleet = load_fleet_config(ctx.settings.config_path);
    std::vector<Schedule> schedules = fleet.compile_schedules();
    JobQueue queue(*cat);
    sync_fleet(*cat, queue, fleet);
    TickResult t = schedule_tick(*cat, queue, fleet, schedules);
    int reaped = queue.reap();
    std::vector<NotifyChannel> channels = webhook_channels(webhook_endpoints(ctx.settings));
    for (auto& c : amqp_channels(amqp_endpoints(ctx.settings))) channels.push_back(std::move(c));
    NotifyStats n = OutboxNotifier(*cat, std::move(channels)).pass();
    std::printf("queued %zu, joined %zu, missed %zu, expired %d, webhooks delivered %zu, retrying %zu, given up %zu\n",
                t.enqueued, t.coalesced, t.missed, reaped, n.delivered, n.failed, n.given_up);
  });
}

void register_agents(CLI::App& app, CliContext& ctx) {
  auto* agents = app.add_subcommand("agents", "The agents registered in the catalog (docs/CATALOG.md)");
  agents->require_subcommand(1);
  auto o = std::make_shared<JobsOpts>();
  agents->add_option("--catalog", o->catalog, "Catalog URL (default: `catalog` in the config file, or STRATA_CATALOG)");
  auto* list = agents->add_subcommand("list", "Each agent: tags, max jobs, running jobs, last seen");
  list->add_flag("--json", o->json, "One JSON document");
  list->callback([&ctx, o] {
    auto cat = open_catalog(ctx, *o);
    JobQueue queue(*cat);
    auto all = queue.agents();
    if (o->json) {
      std::string out = "{\"agents\":[";
      for (size_t i = 0; i < all.size(); ++i) {
        const AgentRecord& a = all[i];
        std::string tags;
        for (size_t k = 0; k < a.tags.size(); ++k) tags += (k ? "," : "") + q(a.tags[k]);
        out += (i ? ",\n " : "\n ") + std::string("{\"id\":") + q(a.id) + ",\"tags\":[" + tags + "],\"max_jobs\":" +
               std::to_string(a.max_jobs) + ",\"running\":" + std::to_string(a.running) + ",\"registered_at\":" +
               q(iso_utc(a.registered_at)) + ",\"last_seen\":" + q(iso_utc(a.last_seen)) + "}";
      }
      std::printf("%s\n]}\n", out.c_str());
      return;
    }
    if (all.empty()) {
      std::printf("no agents\n");
      return;
    }
    std::printf("%-20s %-8s %-22s %s\n", "AGENT", "RUNNING", "LAST SEEN", "TAGS");
    for (const auto& a : all) {
      std::string tags;
      for (size_t k = 0; k < a.tags.size(); ++k) tags += (k ? "," : "") + a.tags[k];
      std::string running = std::to_string(a.running) + "/" + std::to_string(a.max_jobs);
      std::printf("%-20s %-8s %-22s %s\n", a.id.c_str(), running.c_str(), iso_utc(a.last_seen).c_str(), tags.c_str());
    }
  });
}

}  // namespace strata
