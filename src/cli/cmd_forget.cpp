// Retention commands (docs/RETENTION.md): forget (plan and apply a policy), hold (legal holds), expired (what
// waits for its grace period, and undo).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "cli/optional_unlock.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "platform/catalog/catalog.hpp"
#include "platform/drill/freshness.hpp"
#include "platform/retention/forget.hpp"
#include "platform/retention/notices.hpp"
#include "platform/retention/rotation.hpp"
#include "repo/expiry.hpp"
#include "repo/repository.hpp"

namespace strata {
namespace {

using nlohmann::json;
namespace rt = retention;

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

json result_json(const rt::RotationResult& r) {
  json backups = json::array();
  for (const auto& b : r.backups) {
    backups.push_back({{"id", b.info.id},
                       {"decision", rt::decision_name(b.verdict.decision)},
                       {"type", b.type},
                       {"parent", b.info.parent},
                       {"started", b.started},
                       {"good", b.verdict.good},
                       {"reasons", b.verdict.reasons}});
  }
  json log = json::object();
  for (const auto& [tl, pos] : r.plan.log_needed_from) log[tl] = pos;
  return {{"source", r.source},
          {"policy", r.policy_text},
          {"kept", r.plan.kept},
          {"expired", r.plan.expired},
          {"exceeds_max_share", r.plan.exceeds_max_share},
          {"stopped", r.stopped},
          {"log_needed_from", log},
          {"backups", backups},
          {"expired_now", r.expired_now},
          {"revived", r.revived},
          {"deleted", r.deleted},
          {"waiting", r.waiting},
          {"left_alone", r.left_alone},
          {"wal_needed_from", r.wal_needed_from},
          {"wal_deleted", r.wal_deleted},
          {"binlog_needed_from", r.binlog_needed_from},
          {"binlog_deleted", r.binlog_deleted}};
}

void print_result(const rt::RotationResult& r, bool dry_run) {
  std::printf("source %s (%s): keep %zu, expire %zu\n", r.source.c_str(), r.policy_text.c_str(), r.plan.kept, r.plan.expired);
  std::printf("  %-7s %-26s %-21s %-12s %s\n", "ACTION", "ID", "STARTED", "TYPE", "REASONS");
  for (const auto& b : r.backups) {
    std::printf("  %-7s %-26s %-21s %-12s %s\n", rt::decision_name(b.verdict.decision), b.info.id.c_str(), b.started.c_str(),
                b.type.c_str(), join(b.verdict.reasons, "; ").c_str());
  }
  const char* would = dry_run ? "would be " : "";
  for (const auto& id : r.revived) std::printf("  %sbrought back: %s\n", would, id.c_str());
  if (!r.stopped) {
    for (const auto& id : r.expired_now) std::printf("  %sexpired: %s\n", would, id.c_str());
  }
  for (const auto& id : r.deleted) std::printf("  %sdeleted: %s\n", would, id.c_str());
  for (const auto& id : r.waiting) std::printf("  waiting for its grace period: %s\n", id.c_str());
  for (const auto& id : r.left_alone) std::printf("  left alone: %s\n", id.c_str());
  if (!r.wal_deleted.empty()) {
    std::printf("  %sdeleted %zu WAL segment%s before %s (%s .. %s)\n", would, r.wal_deleted.size(),
                r.wal_deleted.size() == 1 ? "" : "s", r.wal_needed_from.c_str(), r.wal_deleted.front().c_str(),
                r.wal_deleted.back().c_str());
  }
  if (!r.binlog_deleted.empty()) {
    std::printf("  %sdeleted %zu binlog%s before %s (%s .. %s)\n", would, r.binlog_deleted.size(),
                r.binlog_deleted.size() == 1 ? "" : "s", r.binlog_needed_from.c_str(), r.binlog_deleted.front().c_str(),
                r.binlog_deleted.back().c_str());
  }
}

struct ForgetOpts {
  std::string source;
  int keep_last = 0, keep_hourly = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0, keep_yearly = 0;
  std::string keep_within, recovery_window, time_zone, grace, max_share;
  int min_good = -1;
  bool policy = false, dry_run = false, json = false, confirm = false, now = false;
  bool any_keep() const {
    return keep_last || keep_hourly || keep_daily || keep_weekly || keep_monthly || keep_yearly || !keep_within.empty() ||
           !recovery_window.empty();
  }
};

// The flags as a config table, so one parser checks both.
std::map<std::string, std::string> flag_table(const ForgetOpts& o) {
  std::map<std::string, std::string> t;
  auto count = [&](const char* key, int v) {
    if (v) t[key] = std::to_string(v);
  };
  count("keep_last", o.keep_last);
  count("keep_hourly", o.keep_hourly);
  count("keep_daily", o.keep_daily);
  count("keep_weekly", o.keep_weekly);
  count("keep_monthly", o.keep_monthly);
  count("keep_yearly", o.keep_yearly);
  if (!o.keep_within.empty()) t["keep_within"] = o.keep_within;
  if (!o.recovery_window.empty()) t["recovery_window"] = o.recovery_window;
  if (!o.time_zone.empty()) t["time_zone"] = o.time_zone;
  if (!o.grace.empty()) t["grace"] = o.grace;
  if (!o.max_share.empty()) t["max_share"] = o.max_share;
  if (o.min_good >= 0) t["min_good"] = std::to_string(o.min_good);
  return t;
}

void run_forget(CliContext& ctx, const ForgetOpts& o) {
  ctx.finalize();
  if (o.policy && o.any_keep()) {
    fail(ErrorCode::kUsage, "--policy applies the config's retention tables; give either --policy or --keep-* flags, not both");
  }
  if (!o.policy && o.source.empty()) {
    fail(ErrorCode::kUsage, "forget needs --source NAME with --keep-* flags, or --policy to apply the config to every source");
  }
  if (!o.policy && !o.any_keep()) {
    fail(ErrorCode::kUsage, "no retention rule given for source " + o.source + ": add --keep-last/--keep-daily/... or "
                            "--recovery-window, or use --policy to apply the config's [retention] tables");
  }
  // Expiring writes authenticated tombstones: it needs the passphrase. A dry run reads public parts only.
  auto repo = ctx.open_repo(!o.dry_run);
  // A dry run needs no passphrase, but drill passes count only when their records can be authenticated.
  if (o.dry_run) unlock_if_given(ctx, *repo);
  const int64_t now = now_epoch();
  rt::ForgetRequest req;
  req.from_config = o.policy;
  req.source = o.source;
  req.flags = flag_table(o);
  req.settings = &ctx.settings;
  req.dry_run = o.dry_run;
  req.confirm = o.confirm;
  req.delete_now = o.now;
  req.now = now;
  // Drill results decide which backups are good: a backup whose latest drill failed counts toward no rule.
  for (const auto& [id, d] : latest_drills(*repo, now)) {
    req.states[id] = d.passed() ? rt::BackupState::kVerified : rt::BackupState::kFailed;
  }
  // With a catalog configured, every expired or deleted version is an outbox event for the webhooks (recorded before
  // anything is deleted); without one the notice is the backup_expired warn line.
  std::unique_ptr<Catalog> catalog;
  if (!o.dry_run && !ctx.settings.catalog.empty()) catalog = Catalog::open(ctx.settings.catalog);
  if (catalog) {
    req.publish = [&](const std::vector<rt::Invalidation>& items) {
      size_t added = rt::publish_invalidations(*catalog, repo->config().id, repo->location(), items);
      if (added) log::info("invalidations_recorded", {{"events", uint64_t(added)}, {"catalog", catalog->describe()}});
    };
  }
  rt::ForgetResult r = rt::forget(*repo, req);
  if (o.json) {
    json all = json::array();
    for (const auto& x : r.results) all.push_back(result_json(x));
    std::printf("%s\n", json{{"dry_run", o.dry_run}, {"sources", all}}.dump(2).c_str());
  } else if (!ctx.quiet || o.dry_run) {
    for (const auto& x : r.results) print_result(x, o.dry_run || r.stopped);
  }
  std::fflush(stdout);
  if (!r.warning.empty()) log::report_warning("retention_max_share", r.warning);
  app::raise(r.problem);
}

void register_forget(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("forget", "Expire backups by a retention policy (two phases: tombstone, then delete after a grace period)");
  auto o = std::make_shared<ForgetOpts>();
  cmd->add_option("--source", o->source, "The source whose backups the policy applies to");
  cmd->add_option("--keep-last", o->keep_last, "Keep the newest N good backups (-1: all)");
  cmd->add_option("--keep-hourly", o->keep_hourly, "Keep the newest good backup of each of the last N hours that have one");
  cmd->add_option("--keep-daily", o->keep_daily, "... of the last N days");
  cmd->add_option("--keep-weekly", o->keep_weekly, "... of the last N ISO weeks");
  cmd->add_option("--keep-monthly", o->keep_monthly, "... of the last N months");
  cmd->add_option("--keep-yearly", o->keep_yearly, "... of the last N years");
  cmd->add_option("--keep-within", o->keep_within, "Keep good backups started within this long before the newest one (36h, 14d)");
  cmd->add_option("--recovery-window", o->recovery_window, "Keep what restores any point of the last DURATION (the newest full before it, its incrementals, WAL/binlog from its start)");
  cmd->add_option("--min-good", o->min_good, "Keep at least N good backups whatever the rules say (default 1)");
  cmd->add_option("--max-share", o->max_share, "Stop when a source would lose more than this share of its backups (default 0.5)");
  cmd->add_option("--time-zone", o->time_zone, "IANA time zone of the hourly..yearly buckets (default: the source's timezone, else UTC)");
  cmd->add_option("--grace", o->grace, "Time between expiry and physical deletion (default 24h)");
  cmd->add_flag("--policy", o->policy, "Apply [retention.default] and [source.NAME.retention] of the config to every source (or --source)");
  cmd->add_flag("-n,--dry-run", o->dry_run, "Print the plan with every reason; change nothing");
  cmd->add_flag("--json", o->json, "The plan and what was done as JSON");
  cmd->add_flag("--confirm", o->confirm, "Apply a plan that expires more than the max share of a source's backups");
  cmd->add_flag("--now", o->now, "Delete expired backups of the source now instead of after their grace period");
  cmd->footer(
      "Only good backups count toward a rule; the newest good backup, held backups and the parents of kept\n"
      "incrementals are never expired. Expired backups are hidden from list and restore latest at once and deleted\n"
      "by a later forget after the grace period; 'strata expired restore ID' undoes an expiry until then.\n"
      "Examples:\n"
      "  strata forget --source orders-db --keep-last 3 --keep-daily 7 --keep-weekly 5 --recovery-window 14d --dry-run\n"
      "  strata forget --policy --json\n"
      "  strata forget --source orders-db --keep-last 1 --confirm --now");
  cmd->callback([&ctx, o] { run_forget(ctx, *o); });
}

void register_hold(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("hold", "Put a legal hold on a backup (never expired), release one, or list them");
  struct Opts {
    std::string id, reason;
    bool release = false, list = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ID", o->id, "Backup id (or unique prefix)");
  cmd->add_option("--reason", o->reason, "Why it is held, e.g. \"case 4711\"");
  cmd->add_flag("--release", o->release, "Remove the hold on ID");
  cmd->add_flag("--list", o->list, "List every hold");
  cmd->add_flag("--json", o->json, "JSON output for --list");
  cmd->footer(
      "A held backup is never expired by any policy and its parents stay with it; the hold survives policy changes\n"
      "and ends only with --release. Holding an expired backup brings it back.\n"
      "Examples:\n"
      "  strata hold 20261121T053300Z-1a2b3c4d --reason \"case 4711\"\n"
      "  strata hold --release 20261121T053300Z-1a2b3c4d\n"
      "  strata hold --list");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    if (o->list) {
      auto holds = list_holds(*repo);
      if (o->json) {
        json a = json::array();
        for (const auto& h : holds) a.push_back({{"backup", h.backup_id}, {"reason", h.reason}, {"created", h.created}, {"host", h.host}});
        std::printf("%s\n", a.dump(2).c_str());
        return;
      }
      std::printf("%-26s %-21s %-16s %s\n", "BACKUP", "CREATED", "HOST", "REASON");
      for (const auto& h : holds) {
        std::printf("%-26s %-21s %-16s %s\n", h.backup_id.c_str(), h.created.c_str(), h.host.c_str(), h.reason.c_str());
      }
      if (!ctx.quiet) std::printf("%zu hold%s\n", holds.size(), holds.size() == 1 ? "" : "s");
      return;
    }
    if (o->id.empty()) fail(ErrorCode::kUsage, "hold needs a backup ID (or --list)");
    if (o->release) {
      if (!o->reason.empty()) fail(ErrorCode::kUsage, "--release takes no --reason");
      // The record is named by the full id: resolve a prefix among held backups too (the backup may be gone).
      std::string id = o->id;
      if (!repo->exists(id)) {
        std::vector<std::string> matches;
        for (const auto& h : list_holds(*repo)) {
          if (h.backup_id.rfind(id, 0) == 0) matches.push_back(h.backup_id);
        }
        if (matches.size() == 1) id = matches[0];
        else if (matches.size() > 1) fail(ErrorCode::kUsage, "backup id prefix '" + id + "' is ambiguous among holds; give more characters");
      }
      release_hold(*repo, id);
      log::info("hold_released", {{"backup", id}});
      if (!ctx.quiet) std::printf("released the hold on backup %s\n", id.c_str());
      return;
    }
    if (o->reason.empty()) fail(ErrorCode::kUsage, "a hold needs --reason TEXT (e.g. --reason \"case 4711\")");
    std::string id = repo->resolve_id(o->id);
    add_hold(*repo, id, o->reason);
    log::info("hold_added", {{"backup", id}, {"reason", o->reason}});
    bool was_expired = read_tombstone(*repo, id).has_value();
    if (was_expired) remove_tombstone(*repo, id);
    if (!ctx.quiet) {
      std::printf("held backup %s: %s%s\n", id.c_str(), o->reason.c_str(), was_expired ? " (it was expired: brought back)" : "");
    }
  });
}

void register_expired(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("expired", "Backups expired by a retention policy and waiting for their grace period");
  cmd->require_subcommand(1);
  struct Opts {
    std::string source, id;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* list = cmd->add_subcommand("list", "List expired backups (hidden from list and restore latest) with why and when they go");
  list->add_option("--source", o->source, "Only this source");
  list->add_flag("--json", o->json, "JSON output");
  list->footer("Example:\n  strata expired list --source orders-db");
  list->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    auto all = list_tombstones(*repo);
    std::vector<Tombstone> shown;
    for (auto& t : all) {
      if (o->source.empty() || t.source == o->source) shown.push_back(std::move(t));
    }
    if (o->json) {
      json a = json::array();
      for (const auto& t : shown) {
        json e = {{"backup", t.backup_id}, {"source", t.source}, {"expired", t.expired},
                  {"delete_after", t.damaged.empty() ? iso_utc(t.delete_after_epoch) : ""},
                  {"policy", t.policy}, {"reasons", t.reasons}, {"present", repo->exists(t.backup_id)}};
        if (!t.damaged.empty()) e["damaged"] = t.damaged;
        a.push_back(e);
      }
      std::printf("%s\n", a.dump(2).c_str());
      return;
    }
    std::printf("%-26s %-20s %-21s %-21s %s\n", "BACKUP", "SOURCE", "EXPIRED", "DELETE AFTER", "REASONS");
    for (const auto& t : shown) {
      if (!t.damaged.empty()) {
        std::printf("%-26s DAMAGED: %s\n", t.backup_id.c_str(), t.damaged.c_str());
        continue;
      }
      std::printf("%-26s %-20s %-21s %-21s %s\n", t.backup_id.c_str(), t.source.c_str(), t.expired.c_str(),
                  iso_utc(t.delete_after_epoch).c_str(), join(t.reasons, "; ").c_str());
    }
    if (!ctx.quiet) std::printf("%zu expired backup%s\n", shown.size(), shown.size() == 1 ? "" : "s");
  });
  auto* restore = cmd->add_subcommand("restore", "Undo an expiry: the backup is listed and restorable as before");
  restore->add_option("ID", o->id, "Backup id (or unique prefix)")->required();
  restore->footer("Works until the grace period is over and a forget run deleted the backup.\n"
                  "Example:\n  strata expired restore 20261121T053300Z-1a2b3c4d");
  restore->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    std::string id = o->id;
    std::vector<std::string> matches;
    for (const auto& e : expired_ids(*repo)) {
      if (e == id) {
        matches = {e};
        break;
      }
      if (e.rfind(id, 0) == 0) matches.push_back(e);
    }
    if (matches.size() > 1) fail(ErrorCode::kUsage, "backup id prefix '" + id + "' is ambiguous among expired backups; give more characters");
    if (matches.empty()) {
      if (repo->exists(id)) fail(ErrorCode::kNotFound, "backup " + id + " is not expired; nothing to restore");
      fail(ErrorCode::kNotFound, "backup " + id + " is not an expired backup in " + repo->location() + "; 'strata expired list' shows them");
    }
    id = matches[0];
    if (!repo->exists(id)) {
      fail(ErrorCode::kNotFound, "expired backup " + id + " was already deleted (its manifest is gone); a forget run "
                                 "that was cut short finishes its delete");
    }
    remove_tombstone(*repo, id);
    log::info("expiry_undone", {{"backup", id}});
    if (!ctx.quiet) std::printf("restored expired backup %s: it is listed and restorable again\n", id.c_str());
  });
}

}  // namespace

void register_retention_commands(CLI::App& app, CliContext& ctx) {
  register_forget(app, ctx);
  register_hold(app, ctx);
  register_expired(app, ctx);
}

}  // namespace strata
