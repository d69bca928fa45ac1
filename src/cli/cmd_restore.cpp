#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/restore.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/bytes.hpp"

namespace strata {

void register_restore(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("restore", "Restore a backup, verifying every byte before reporting success");
  struct Opts {
    std::string id, source, to, to_command;
    unsigned threads = 0;
    bool force = false, latest = false;
    EngineRestoreRequest engine;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ID", o->id, "Backup id, unique prefix, or 'latest' (default: the newest of --source)");
  cmd->add_flag("--latest", o->latest, "The newest backup of --source");
  cmd->add_option("--source", o->source, "Source name (needed for 'latest' and for engine restores)");
  auto* to = cmd->add_option("--to", o->to, "Write to this file ('-' for stdout). Appears only once verified.");
  auto* tc = cmd->add_option("--to-command", o->to_command, "Pipe into this shell command");
  to->excludes(tc);
  cmd->add_option("--target-dir", o->engine.target_dir, "Engine restores: the directory to restore into (must be empty)");
  cmd->add_option("--target-time", o->engine.target_time, "Point-in-time: 'YYYY-MM-DD HH:MM:SS+TZ'");
  cmd->add_option("--target-lsn", o->engine.target_lsn, "PostgreSQL: recover to this LSN");
  cmd->add_option("--target-xid", o->engine.target_xid, "PostgreSQL: recover to this transaction id");
  cmd->add_option("--target-timeline", o->engine.target_timeline,
                  "PostgreSQL: the timeline to follow: latest (default, as PostgreSQL), current (the backup's) or N");
  cmd->add_option("--archive-mode", o->engine.archive_mode,
                  "PostgreSQL: off (default; restore_archive_mode) = the copy does not archive; on = it archives into "
                  "the source, for a copy that becomes the new primary")
      ->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("--database", o->engine.database, "Logical restores: the database to restore into");
  cmd->add_flag("--allow-partial", o->engine.allow_partial,
               "Point-in-time: accept a restore that ends before --target-time (the archive ends earlier) instead of "
               "failing with exit 14; the summary names the point reached");
  cmd->add_flag("--start", o->engine.start, "Start a server on the restored data and check it answers");
  cmd->add_option("--port", o->engine.port, "Port for --start");
  cmd->add_option("--threads", o->threads, "Decryption/decompression threads (default: one per core)");
  cmd->add_flag("--force", o->force, "Overwrite an existing --to file / non-empty --target-dir");
  cmd->footer(
      "Examples:\n"
      "  strata restore --repo /backups/main 20261121T053300Z-1a2b3c4d --to orders.dump\n"
      "  strata restore --repo /backups/main latest --source orders-db --to-command 'pg_restore -d orders'\n"
      "  strata restore --repo /backups/main --latest --source etc --to - | tar x\n"
      "  strata restore --config strata.toml --source pg1 --latest --target-dir /srv/pg --start --port 5433\n"
      "  strata restore --config strata.toml --source db1 --target-time '2026-11-21 06:00:00+00:00' --target-dir /srv/pitr\n"
      "MariaDB: a --target-time past the end of the binlog archive exits 14 unless --allow-partial; a refused or\n"
      "failed restore leaves --target-dir empty. MySQL 8 / Percona XtraBackup is not supported yet (MariaDB only).");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    app::RestoreRequest req;
    req.id = o->id;
    req.latest = o->latest;
    req.source = o->source;
    if (auto c = ctx.settings.sources.find(o->source); c != ctx.settings.sources.end()) {
      req.engine_source = SourceConfig{o->source, c->second};
    }
    req.to = o->to;
    req.to_command = o->to_command;
    req.force = o->force;
    req.engine = o->engine;
    req.engine.config_path = ctx.settings.config_path;
    req.engine.passphrase_file = ctx.settings.passphrase_file;
    req.pipeline = ctx.pipeline("", "", "", o->threads);
    app::Services services = ctx.services();
    ProgressObserver progress(!ctx.quiet && o->to != "-");
    services.observer = &progress;
    app::RestoreResult r = app::restore(services, req);
    if (ctx.quiet) return;
    if (r.engine) {
      log::report_summary("restore_summary", r.summary, {{"backup", r.id}, {"point_reached", r.point_reached}});
      return;
    }
    // On stderr: stdout may be the restored data (--to -).
    char took[32];
    std::snprintf(took, sizeof took, "%.1fs", r.seconds);
    std::string line = "restored backup " + r.id + " (" + format_size(r.plain_bytes) + ", sha256 verified) to " +
                       r.target + " in " + took + ", " + format_rate(r.plain_bytes, r.seconds);
    log::report_summary("restore_summary", line, {{"backup", r.id}, {"plain_bytes", r.plain_bytes}, {"seconds", r.seconds}});
  });
}

}  // namespace strata
