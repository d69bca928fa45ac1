// The strata binary: parses the command line, runs one command, and turns any error into one line on stderr
// and a documented exit code (docs/CLI.md).
#include <malloc.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "cli/context.hpp"
#include "cli/usage.hpp"
#include "common/cancel.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "strata_version.hpp"

int main(int argc, char** argv) {
  // A reader that goes away (restore into 'head', a dying --to-command) must be an error we report, not a signal.
  ::signal(SIGPIPE, SIG_IGN);
  // SIGINT/SIGTERM/SIGHUP cancel the command (common/cancel.hpp): children are stopped, the error unwinds, locks are
  // released and partial files removed, and the exit code is 11.
  strata::install_signal_handlers();
  // Frames and blocks are 1-8 MiB buffers allocated and freed at a high rate. Above glibc's default mmap
  // threshold every one of them would be a fresh mapping, zero-filled page by page by the kernel; keeping them in
  // the heap lets freed buffers be reused. Peak memory is still bounded by the pipeline's in-flight limits.
  ::mallopt(M_MMAP_THRESHOLD, 64 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 128 << 20);
  strata::CliContext ctx;
  CLI::App app{"strata — streaming, encrypted backups for databases and anything that writes a stream"};
  app.set_version_flag("--version", std::string("strata ") + strata::kVersion);
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--repo", ctx.repo, "Repository location: a path, file:///path or s3://bucket/prefix (env STRATA_REPO)");
  app.add_option("--config", ctx.config_path, "TOML config file (env STRATA_CONFIG; default ~/.config/strata/strata.toml)");
  app.add_option("--passphrase-file", ctx.passphrase_file, "Read the repository passphrase from this file (or STRATA_PASSPHRASE)");
  app.add_option("--log-level", ctx.log_level, "debug, info, warn (default) or error");
  app.add_option("--log-format", ctx.log_format, "text (default) or json: one JSON object per line, for Loki/Promtail");
  app.add_flag("-q,--quiet", ctx.quiet, "No progress line and no summary");
  app.add_option("--limit-upload", ctx.limit_upload, "Cap on storage upload bandwidth for the whole process, e.g. 50MiB/s");
  app.add_option("--limit-download", ctx.limit_download, "Cap on storage download bandwidth for the whole process, e.g. 100MiB/s");
  app.add_option("--max-requests", ctx.max_requests, "Cap on storage requests in flight for the whole process");
  app.footer(
      "Examples:\n"
      "  strata repo init --repo /backups/main\n"
      "  strata backup --repo /backups/main --source orders-db --from-command 'pg_dump -Fc orders'\n"
      "  strata list --repo /backups/main\n"
      "  strata restore --repo /backups/main latest --source orders-db --to orders.dump\n"
      "  strata help backup\n"
      "Exit codes: 0 ok, 1 error, 2 usage, 3 not a repository, 4 wrong key, 5 corrupt, 6 locked,\n"
      "  7 source failed, 8 storage, 9 not found, 10 newer format, 11 interrupted, 12 already exists,\n"
      "  13 problems found, 14 target not reached (docs/CLI.md)");

  strata::register_repo_init(app, ctx);
  strata::register_backup(app, ctx);
  strata::register_list(app, ctx);
  strata::register_show(app, ctx);
  strata::register_restore(app, ctx);
  strata::register_check(app, ctx);
  strata::register_delete(app, ctx);
  strata::register_cleanup(app, ctx);
  strata::register_key(app, ctx);
  strata::register_unlock(app, ctx);
  strata::register_binlog(app, ctx);
  strata::register_wal(app, ctx);
  strata::register_tier(app, ctx);
  strata::register_fleet(app, ctx);
  strata::register_retention_commands(app, ctx);  // forget, hold, expired (cmd_forget.cpp)
  strata::register_drill(app, ctx);
  strata::register_jobs(app, ctx);
  strata::register_agents(app, ctx);
  strata::register_server(app, ctx);
  strata::register_agent_command(app, ctx);

  // The format of the one error line: the flag, else the environment, else (once loaded) the config file.
  auto configure_errors = [&ctx] {
    if (ctx.finalized) return;
    std::string fmt = !ctx.log_format.empty() ? ctx.log_format : (std::getenv("STRATA_LOG_FORMAT") ? std::getenv("STRATA_LOG_FORMAT") : "");
    if (fmt == "json") strata::log::configure(strata::log::Level::kWarn, strata::log::Format::kJson);
  };
  std::vector<std::string> args = strata::rewrite_help(std::vector<std::string>(argv, argv + argc));
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);  // CLI11 takes them last-first
    app.parse(reversed);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    configure_errors();
    strata::log::report_error(strata::error_code_name(strata::ErrorCode::kUsage), static_cast<int>(strata::ErrorCode::kUsage),
                              strata::usage_message(app, e, args));
    return static_cast<int>(strata::ErrorCode::kUsage);
  } catch (const strata::StrataError& e) {
    // Whatever failed after a signal (a killed tool's exit status, a cancelled read) is the signal's doing.
    configure_errors();
    if (auto& token = strata::CancelToken::process(); token.cancelled() && e.code() != strata::ErrorCode::kInterrupted) {
      strata::log::report_error(strata::error_code_name(strata::ErrorCode::kInterrupted), static_cast<int>(strata::ErrorCode::kInterrupted),
                                strata::interrupted_message(token.reason()));
      return static_cast<int>(strata::ErrorCode::kInterrupted);
    }
    strata::log::report_error(strata::error_code_name(e.code()), e.exit_code(), e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    configure_errors();
    strata::log::report_error("error", 1, "out of memory; lower --threads or --frame-size");
    return 1;
  } catch (const std::exception& e) {
    configure_errors();
    strata::log::report_error("error", 1, e.what());
    return 1;
  }
  return 0;
}
