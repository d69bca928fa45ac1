// `strata wal push|fetch|check`: PostgreSQL's archive_command / restore_command, and the archive's health report.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "app/sources.hpp"
#include "app/wal.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"

namespace strata {
namespace {

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "strata";
}

// Starts `strata wal push --drain` fully detached (double fork) so postgres's archiver never waits for it.
void spawn_drainer(const CliContext& ctx, const std::string& source, const std::string& spool_dir) {
  std::vector<std::string> args = {self_exe()};
  if (!ctx.settings.config_path.empty()) args.insert(args.end(), {"--config", ctx.settings.config_path});
  if (!ctx.settings.repo.empty()) args.insert(args.end(), {"--repo", ctx.settings.repo});
  args.insert(args.end(), {"wal", "push", "--source", source, "--drain"});
  std::string log_path = spool_dir + "/.drain.log";  // dot files are not WAL: the drainer skips them
  pid_t pid = ::fork();
  if (pid < 0) fail_errno("cannot start the WAL spool drainer", errno);
  if (pid == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    int nul = ::open("/dev/null", O_RDONLY);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (nul >= 0) ::dup2(nul, STDIN_FILENO);
    if (log >= 0) {
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
}


// restore_command's contract (PostgreSQL's RestoreArchivedFile): exit 1..125 means "not in the archive" and ends
// archive recovery normally; above 125 (or a signal) recovery stops with FATAL. So only a file that is really
// absent may answer 1 — a damaged, unreadable or undecryptable one must stop the server, not promote it early.
constexpr int kFetchNotInArchive = 1;
constexpr int kFetchFatalBase = 200;

struct FetchArgs {
  std::string source, path, file, dest;
  bool async = false, drain = false;
  bool read_data = false;
};

// Returns false when the file is not in the archive. Throws for every other failure.
bool run_fetch(CliContext& ctx, const FetchArgs& o) {
  ctx.finalize();
  app::WalFetchRequest req{app::postgres_source(ctx.settings, o.source), o.file, o.dest, ctx.pipeline("", "", "", 0)};
  return app::wal_fetch(ctx.services(), req) != app::WalFetchOutcome::kNotInArchive;
}

}  // namespace

void register_wal(CLI::App& app, CliContext& ctx) {
  auto* wal = app.add_subcommand("wal", "PostgreSQL WAL archive: archive_command, restore_command and gap report");
  wal->require_subcommand(1);
  wal->footer(
      "In postgresql.conf:\n"
      "  archive_mode = on\n"
      "  archive_command = 'strata --config /etc/strata.toml wal push --source pg1 %p'\n"
      "Restores write restore_command = 'strata ... wal fetch --source pg1 %f %p' themselves.");

  auto o = std::make_shared<FetchArgs>();

  auto* push = wal->add_subcommand("push", "Archive one WAL file (use as archive_command, with %p)");
  push->add_option("PATH", o->path, "The WAL file postgres hands over (%p)");
  push->add_option("--source", o->source, "Postgres source in the config (default: the only one)");
  push->add_flag("--async", o->async, "Copy into the local spool (spool_dir) and archive in the background");
  push->add_flag("--drain", o->drain, "Archive everything waiting in the spool, then exit");
  push->footer(
      "Examples:\n"
      "  archive_command = 'strata --config /etc/strata.toml wal push --source pg1 %p'\n"
      "  archive_command = 'strata --config /etc/strata.toml wal push --source pg1 --async %p'\n"
      "Uses only the repository's public key (no passphrase, no Argon2) unless the file is already archived and its\n"
      "content must be compared. Different content under the same name fails and is never overwritten.");
  push->callback([&ctx, o] {
    ctx.finalize();
    app::WalPushRequest req;
    req.source = app::postgres_source(ctx.settings, o->source);
    req.path = o->path;
    req.async = o->async;
    req.drain = o->drain;
    req.public_key = ctx.settings.public_key;
    req.pipeline = ctx.pipeline(app::wal_compression(req.source), "", "", 0);
    req.start_drainer = [&ctx, name = req.source.name](const std::string& spool) { spawn_drainer(ctx, name, spool); };
    app::wal_push(ctx.services(), req);
  });

  auto* fetch = wal->add_subcommand("fetch", "Restore one archived WAL file (use as restore_command, with %f %p)");
  fetch->add_option("FILE", o->file, "WAL file name (%f)")->required();
  fetch->add_option("DEST", o->dest, "Where postgres wants it (%p)")->required();
  fetch->add_option("--source", o->source, "Postgres source in the config (default: the only one)");
  fetch->footer(
      "Example:\n  restore_command = 'strata --config /etc/strata.toml wal fetch --source pg1 %f %p'\n"
      "Exit status, as PostgreSQL reads it: 0 fetched; 1 the file is not in the archive (the normal end of archive\n"
      "recovery; PostgreSQL asks for absent history files and segments all the time, so nothing is printed);\n"
      "200 + the strata exit code for every other failure (205 corrupt, 204 wrong key, 208 storage, ...): PostgreSQL\n"
      "treats an exit status above 125 as fatal and stops recovery with FATAL instead of promoting at a damaged file.");
  fetch->callback([&ctx, o] {
    int status = 0;
    try {
      status = run_fetch(ctx, *o) ? 0 : kFetchNotInArchive;
    } catch (const StrataError& e) {
      std::fprintf(stderr, "strata: error: %s\n", e.what());
      status = kFetchFatalBase + e.exit_code();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "strata: error: %s\n", e.what());
      status = kFetchFatalBase + static_cast<int>(ErrorCode::kGeneric);
    }
    // Every object of the fetch is gone by now: leave with the status PostgreSQL understands.
    if (status != 0) {
      std::fflush(nullptr);
      std::exit(status);
    }
  });

  auto* check = wal->add_subcommand("check", "Report gaps in the WAL archive and which base backups are restorable");
  check->add_option("--source", o->source, "Postgres source in the config (default: the only one)");
  check->add_flag("--read-data", o->read_data,
                  "Also read every archived file and verify each frame and its SHA-256 (needs the passphrase)");
  check->footer(
      "Examples:\n  strata --config /etc/strata.toml wal check --source pg1\n"
      "  strata --config /etc/strata.toml wal check --source pg1 --read-data\n"
      "Exits 13 (problems found) when WAL is missing, a file is damaged (--read-data) or a backup is not restorable.");
  check->callback([&ctx, o] {
    ctx.finalize();
    app::WalCheckRequest req{app::postgres_source(ctx.settings, o->source), o->read_data, ctx.pipeline("", "", "", 0)};
    app::WalCheckResult r = app::wal_check(ctx.services(), req);
    std::fputs(r.report.c_str(), stdout);
    std::fflush(stdout);
    app::raise(r.problem);
  });
}

}  // namespace strata
