// `strata drill run|list` and `strata status`: restore drills and freshness monitoring (docs/DRILLS.md). One file
// for both, so CLI11 is compiled once for them.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "cli/optional_unlock.hpp"
#include "common/clock.hpp"
#include "common/duration.hpp"
#include "common/error.hpp"
#include "engines/tool_util.hpp"
#include "platform/drill/drill.hpp"
#include "platform/drill/freshness.hpp"
#include "platform/drill/invalidation.hpp"
#include "platform/drill/record.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"

namespace strata {
namespace {

nlohmann::json record_json(const DrillRecord& r) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) checks.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
  return {{"id", r.id},           {"backup", r.backup_id},
          {"source", r.source},   {"level", r.level},
          {"started", r.started}, {"result", r.result},
          {"error", r.error},     {"rto_seconds", r.rto_seconds},
          {"restore_seconds", r.restore_seconds}, {"start_seconds", r.start_seconds},
          {"checks_seconds", r.checks_seconds},   {"plain_bytes", r.plain_bytes},
          {"recovery_point", r.recovery_point},   {"host", r.host},
          {"auth", r.auth},                       {"checks", checks}};
}


std::string seconds_text(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2fs", s);
  return b;
}

void print_record(const DrillRecord& r) {
  std::printf("drill %s of backup %s (%s, level %d): %s\n", r.id.c_str(), r.backup_id.c_str(), r.source.c_str(), r.level,
              r.result.c_str());
  for (const auto& c : r.checks) std::printf("  %-22s %s  %s\n", c.name.c_str(), c.ok ? "ok    " : "FAILED", c.detail.c_str());
  if (r.level == 1) {
    std::printf("  read and verified %s in %s\n", format_size(r.plain_bytes).c_str(), seconds_text(r.restore_seconds).c_str());
    return;
  }
  std::printf("  restore %s, start %s, checks %s; RTO %s for %s%s\n", seconds_text(r.restore_seconds).c_str(),
              seconds_text(r.start_seconds).c_str(), seconds_text(r.checks_seconds).c_str(),
              seconds_text(r.rto_seconds).c_str(), format_size(r.plain_bytes).c_str(),
              r.recovery_point.empty() ? "" : ("; reached " + r.recovery_point).c_str());
}

void register_drill_run(CLI::App& drill, CliContext& ctx) {
  auto* cmd = drill.add_subcommand("run", "Prove a backup restores: verify it (level 1) or restore, start and check it (level 2)");
  struct Opts {
    std::string id, source, random_within, scratch;
    int level = 2;
    bool latest = false, json = false, pitr_random = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ID", o->id, "Backup id or unique prefix (default: the newest of --source)");
  cmd->add_option("--source", o->source, "Source whose backup to drill")->required();
  cmd->add_flag("--latest", o->latest, "The newest backup of --source (the default)");
  cmd->add_option("--random-within", o->random_within, "A random backup that finished within this long (e.g. 7d)");
  cmd->add_option("--level", o->level,
                  "1: read and verify every byte; 2 (default): restore, start and check; 3: the same at a random point "
                  "after the backup (postgres)")
      ->check(CLI::Range(1, 3));
  cmd->add_flag("--pitr-random", o->pitr_random, "Level 3: point-in-time restore to a random LSN of the archive after the backup");
  cmd->add_option("--scratch-dir", o->scratch, "Where level 2 restores to ([drill] scratch_dir; default $TMPDIR or /tmp)");
  cmd->add_flag("--json", o->json, "The drill record as JSON");
  cmd->footer(
      "The result is recorded in the repository (drills/BACKUP/DRILL.json): 'strata drill list' and 'strata status'\n"
      "read it. Exit status: 0 passed, 13 the backup failed the drill, 11 the time limit ([drill] time_limit) ended it.\n"
      "Examples:\n  strata drill run --source orders-db --latest\n"
      "  strata drill run --source cache --random-within 7d --level 2 --json");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    if (!o->id.empty() && (o->latest || !o->random_within.empty())) {
      fail(ErrorCode::kUsage, "give a backup ID, --latest or --random-within, not several");
    }
    auto repo = ctx.open_repo(true);
    int64_t within = o->random_within.empty() ? 0 : parse_duration(o->random_within, "--random-within", BareNumber::kRefused);
    DrillRequest req;
    req.backup_id = pick_drill_backup(*repo, o->source, o->id, within);
    req.level = o->pitr_random ? 3 : o->level;
    auto configured = ctx.settings.sources.find(o->source);
    req.source = {o->source, configured == ctx.settings.sources.end() ? std::map<std::string, std::string>{} : configured->second};
    req.settings = {o->scratch.empty() ? ctx.settings.drill_scratch_dir : o->scratch, ctx.settings.drill_disk_budget,
                    ctx.settings.drill_time_limit_s};
    req.pipeline = ctx.pipeline("", "", "", 0);
    req.config_path = ctx.settings.config_path;
    req.passphrase_file = ctx.settings.passphrase_file;
    DrillOutcome out;
    {
      Progress progress("drill", 0, !ctx.quiet && !o->json);
      out = drill_and_record(*repo, req, progress.fn(), ctx.settings.catalog);
    }
    if (o->json) std::printf("%s\n", record_json(out.record).dump(2).c_str());
    else if (!ctx.quiet) print_record(out.record);
    std::fflush(stdout);
    app::raise(out.problem);
  });
}

void register_drill_list(CLI::App& drill, CliContext& ctx) {
  auto* cmd = drill.add_subcommand("list", "Drill history: backup, when, level, RTO, result");
  struct Opts {
    std::string source;
    bool failed = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--source", o->source, "Only drills of this source");
  cmd->add_flag("--failed", o->failed, "Only failed drills");
  cmd->add_flag("--json", o->json, "JSON array");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    unlock_if_given(ctx, *repo);
    std::vector<std::string> damaged;
    nlohmann::json arr = nlohmann::json::array();
    if (!o->json) {
      std::printf("%-26s %-26s %-16s %5s %-8s %-10s %9s  %s\n", "DRILL", "BACKUP", "SOURCE", "LEVEL", "RESULT", "AUTH", "RTO", "DETAIL");
    }
    size_t n = 0;
    for (const auto& r : list_drill_records(*repo, "", &damaged)) {
      if (!o->source.empty() && r.source != o->source) continue;
      if (o->failed && r.result != "failed") continue;
      ++n;
      if (o->json) {
        arr.push_back(record_json(r));
        continue;
      }
      std::printf("%-26s %-26s %-16s %5d %-8s %-10s %9s  %s\n", r.id.c_str(), r.backup_id.c_str(), r.source.c_str(), r.level,
                  r.result.c_str(), r.auth.c_str(), seconds_text(r.rto_seconds).c_str(), r.error.c_str());
    }
    if (o->json) std::printf("%s\n", arr.dump(2).c_str());
    else if (!ctx.quiet) std::printf("%zu drill%s\n", n, n == 1 ? "" : "s");
    std::fflush(stdout);
    for (const auto& d : damaged) std::fprintf(stderr, "DAMAGED %s\n", d.c_str());
    if (!damaged.empty()) {
      fail(ErrorCode::kProblemsFound, std::to_string(damaged.size()) + " drill records are damaged (DAMAGED lines above); the others are listed");
    }
  });
}

void register_status_cmd(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("status", "Is every source inside its RPO? Newest good and verified backup, archive end");
  struct Opts {
    std::string source, max_age, at;
    bool json = false, nagios = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--source", o->source, "Only this source");
  cmd->add_option("--max-age", o->max_age, "RPO for every source, overriding [source.X] rpo (e.g. 26h)");
  cmd->add_option("--at", o->at, "Judge as of this time instead of now ('YYYY-MM-DD HH:MM:SS+TZ' or @epoch); later backups are ignored");
  auto* j = cmd->add_flag("--json", o->json, "JSON report");
  cmd->add_flag("--nagios", o->nagios, "One Nagios/Icinga line; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN")->excludes(j);
  cmd->footer(
      "A backup counts as good once committed, unless its latest drill failed; 'verified' = passed a drill.\n"
      "Exit status: 0 every source OK, 13 a source is out of its RPO, has no good backup or a failed drill\n"
      "(with --nagios: the Nagios plugin codes). Needs no passphrase.\n"
      "Examples:\n  strata status --config strata.toml\n  strata status --config strata.toml --nagios --max-age 26h");
  cmd->callback([&ctx, o] {
    try {
      ctx.finalize();
      int64_t now = now_epoch();
      if (!o->at.empty()) {
        try {
          now = parse_target_time(o->at, o->at[0] != '@');
        } catch (const StrataError&) {
          fail(ErrorCode::kUsage, "invalid --at '" + o->at + "': use 'YYYY-MM-DD HH:MM:SS+TZ' or @EPOCH");
        }
      }
      int64_t override_rpo = o->max_age.empty() ? 0 : parse_duration(o->max_age, "--max-age", BareNumber::kRefused);
      auto repo = ctx.open_repo(false);
      unlock_if_given(ctx, *repo);
      StatusReport report = fleet_status(*repo, ctx.settings.sources, override_rpo, o->source, now);
      const std::vector<SourceStatus>& all = report.sources;
      const Freshness worst = report.worst;
      if (o->nagios) {
        std::string text;
        for (const auto& s : all) {
          if (s.state != Freshness::kOk) text += (text.empty() ? "" : "; ") + s.facts.source + ": " + s.summary;
        }
        if (text.empty()) text = std::to_string(all.size()) + " sources inside their rpo";
        std::string perf;
        for (const auto& s : all) {
          if (s.facts.newest_good_end) perf += " '" + s.facts.source + "_age'=" + std::to_string(now - s.facts.newest_good_end) + "s";
        }
        std::printf("STRATA %s - %s |%s\n", freshness_name(worst), text.c_str(), perf.c_str());
        std::fflush(stdout);
        std::exit(static_cast<int>(worst));
      }
      if (o->json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& s : all) {
          const auto& f = s.facts;
          arr.push_back({{"source", f.source}, {"state", freshness_name(s.state)}, {"summary", s.summary},
                         {"rpo_seconds", f.rpo_s}, {"backups", f.backups}, {"newest_good", f.newest_good_id},
                         {"newest_good_age_seconds", f.newest_good_end ? nlohmann::json(now - f.newest_good_end) : nlohmann::json()},
                         {"newest_verified", f.newest_verified_id},
                         {"newest_verified_age_seconds", f.newest_verified_end ? nlohmann::json(now - f.newest_verified_end) : nlohmann::json()},
                         {"failed_drill_backup", f.failed_drill_backup}, {"archive", f.archive},
                         {"archive_age_seconds", f.archive_end ? nlohmann::json(now - f.archive_end) : nlohmann::json()}});
        }
        std::printf("%s\n", arr.dump(2).c_str());
      } else {
        std::printf("%-20s %-9s %s\n", "SOURCE", "STATE", "DETAIL");
        for (const auto& s : all) std::printf("%-20s %-9s %s\n", s.facts.source.c_str(), freshness_name(s.state), s.summary.c_str());
      }
      std::fflush(stdout);
      app::raise(report.problem);
    } catch (const StrataError& e) {
      if (!o->nagios) throw;
      // A monitoring check that cannot look is UNKNOWN, never OK.
      std::printf("STRATA UNKNOWN - %s\n", e.what());
      std::fflush(stdout);
      std::exit(3);
    }
  });
}

}  // namespace

void register_drill(CLI::App& app, CliContext& ctx) {
  auto* drill = app.add_subcommand("drill", "Restore drills: prove backups restore, measure the RTO");
  drill->require_subcommand(1);
  register_drill_run(*drill, ctx);
  register_drill_list(*drill, ctx);
  register_status_cmd(app, ctx);
}

}  // namespace strata
