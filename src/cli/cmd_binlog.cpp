#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "app/binlog.hpp"
#include "app/sources.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"
#include "common/bytes.hpp"
#include "common/clock.hpp"
#include "common/json_text.hpp"
#include "common/log.hpp"

namespace strata {


void register_binlog(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("binlog", "Archive MySQL/MariaDB binary logs for point-in-time recovery");
  cmd->require_subcommand(1);
  struct Opts {
    std::string source;
    unsigned interval = 0;
    bool no_flush = false, json = false;
  };
  auto o = std::make_shared<Opts>();

  auto* archive = cmd->add_subcommand("archive", "Ship every closed binlog not yet in the repository");
  archive->add_option("--source", o->source, "The mysql source (from the config)")->required();
  archive->add_option("--interval", o->interval, "Keep running: flush and ship every SECONDS (default: once)");
  archive->add_flag("--no-flush", o->no_flush, "Do not FLUSH BINARY LOGS first: ship only files the server closed itself");
  archive->footer(
      "Examples:\n"
      "  strata binlog archive --config strata.toml --source db1\n"
      "  strata binlog archive --config strata.toml --source db1 --interval 60   # continuous, e.g. under systemd\n"
      "Each closed file is committed (manifest written) before it is reported as shipped. A run that was killed\n"
      "half-way leaves only unreferenced objects ('strata check' lists them, 'strata cleanup' removes them): the\n"
      "next run ships the file again under a new name.\n"
      "Exit status 13 when the archive has a gap (binlogs purged before they were shipped); 2 when the server's\n"
      "binlogs are not the archived history (another server, or RESET MASTER): use a new source name.\n"
      "MariaDB only: MySQL 8 is not supported yet.");
  archive->callback([&ctx, o] {
    ctx.finalize();
    app::BinlogArchiveRequest req;
    req.source = app::engine_source(ctx.settings, o->source, "mysql");
    req.flush = !o->no_flush;
    req.write_only = ctx.settings.write_only;
    req.public_key = ctx.settings.public_key;
    req.pipeline = ctx.pipeline("", "", "", 0);
    const SourceConfig& sc = req.source;
    app::Services services = ctx.services();
    for (;;) {
      auto [res, problem] = app::binlog_archive(services, req);
      if (!ctx.quiet) {
        std::printf("binlogs of %s: %zu shipped", sc.name.c_str(), res.archived.size());
        for (const auto& n : res.archived) std::printf(" %s", n.c_str());
        std::printf(", %zu already archived, %s still open\n", res.already, res.open_file.c_str());
      }
      for (const auto& n : res.notes) std::fprintf(stderr, "strata: note: binlogs of %s: %s\n", sc.name.c_str(), n.c_str());
      for (const auto& g : res.gaps) log::report_warning("binlog_gap", "binlog gap in " + sc.name + ": " + g, {{"source", sc.name}});
      if (o->interval == 0) {
        app::raise(problem);
        return;
      }
      std::fflush(stdout);
      // A schedule, not synchronisation: the next round ships whatever closed meanwhile.
      std::this_thread::sleep_for(std::chrono::seconds(o->interval));
    }
  });

  auto* list = cmd->add_subcommand("list", "List archived binlogs and report gaps");
  list->add_option("--source", o->source, "The mysql source")->required();
  list->add_flag("--json", o->json, "JSON instead of a table");
  list->footer("Example:\n  strata binlog list --config strata.toml --source db1\n"
               "Exit status 13 when the archive has gaps (GAP: lines); the listing is printed in full either way.");
  list->callback([&ctx, o] {
    ctx.finalize();
    auto [files, gaps, problem] = app::binlog_list(ctx.services(), o->source);
    if (o->json) {
      std::string out = "{\"binlogs\":[";
      for (size_t i = 0; i < files.size(); ++i) {
        out += (i ? "," : "") + std::string("{\"name\":\"") + json_escape(files[i].name) +
               "\",\"size\":" + std::to_string(files[i].size) + ",\"created_epoch\":" + std::to_string(files[i].created_epoch) +
               ",\"closed_epoch\":" + std::to_string(files[i].closed_epoch) + ",\"server_id\":\"" + json_escape(files[i].server_id) +
               "\",\"id\":\"" + json_escape(files[i].id) + "\"}";
      }
      out += "],\"gaps\":[";
      for (size_t i = 0; i < gaps.size(); ++i) out += (i ? ",\"" : "\"") + json_escape(gaps[i]) + "\"";
      std::printf("%s]}\n", out.c_str());
    } else {
      std::printf("%-24s %12s  %-20s  %-20s  %s\n", "BINLOG", "SIZE", "OPENED (UTC)", "CLOSED (UTC)", "SERVER_ID");
      for (const auto& f : files) {
        std::printf("%-24s %12s  %-20s  %-20s  %s\n", f.name.c_str(), format_size(f.size).c_str(), iso_utc(f.created_epoch).c_str(),
                    f.closed_epoch ? iso_utc(f.closed_epoch).c_str() : "-", f.server_id.empty() ? "-" : f.server_id.c_str());
      }
      for (const auto& g : gaps) std::printf("GAP: %s\n", g.c_str());
      if (!ctx.quiet) std::printf("%zu binlog%s, %zu gap%s\n", files.size(), files.size() == 1 ? "" : "s", gaps.size(), gaps.size() == 1 ? "" : "s");
    }
    std::fflush(stdout);
    app::raise(problem);
  });
}

}  // namespace strata
