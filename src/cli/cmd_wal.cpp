// `strata wal push|fetch|check`: PostgreSQL's archive_command / restore_command, and the archive's health report.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/context.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "engines/engine.hpp"
#include "engines/postgres/postgres_engine.hpp"
#include "engines/postgres/wal.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata {
namespace {

SourceConfig postgres_source(const CliContext& ctx, const std::string& name) {
  if (!name.empty()) {
    auto it = ctx.settings.sources.find(name);
    if (it == ctx.settings.sources.end()) {
      fail(ErrorCode::kUsage, "no [source." + name + "] in the config" +
                                  (ctx.settings.config_path.empty() ? "" : " (" + ctx.settings.config_path + ")") +
                                  "; add it with engine = \"postgres\"");
    }
    SourceConfig sc{name, it->second};
    if (sc.get("engine") != "postgres") fail(ErrorCode::kUsage, "source '" + name + "' is not engine = \"postgres\"");
    return sc;
  }
  std::vector<std::string> found;
  for (const auto& [n, values] : ctx.settings.sources) {
    auto e = values.find("engine");
    if (e != values.end() && e->second == "postgres") found.push_back(n);
  }
  if (found.size() != 1) {
    fail(ErrorCode::kUsage, found.empty() ? "no source with engine = \"postgres\" in the config; give --config and --source"
                                          : "several postgres sources in the config; give --source NAME");
  }
  return SourceConfig{found[0], ctx.settings.sources.at(found[0])};
}

// archive_command runs once per 16 MiB segment and postgres waits for it, so WAL gets a latency-first default
// instead of the backups' zstd:3 (measured in docs/BENCHMARKS.md); the source can choose otherwise.
std::string wal_compression(const SourceConfig& src) { return src.get("wal_compression", "zstd:1"); }

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

// Test hook: STRATA_PG_FAILPOINT=fetch-missing:<file> makes `wal fetch` answer "not in the archive" for that file,
// so the tests can make PostgreSQL end recovery early the way a lost segment once did.
bool failpoint_pretends_missing(const std::string& file) {
  const char* fp = std::getenv("STRATA_PG_FAILPOINT");
  return fp && std::string(fp) == "fetch-missing:" + file;
}

// Returns false when the file is not in the archive (checked before any key is derived: PostgreSQL asks for absent
// files on every start and at every timeline probe). Throws for every other failure.
bool run_fetch(CliContext& ctx, const FetchArgs& o) {
  ctx.finalize();
  SourceConfig src = postgres_source(ctx, o.source);
  // A file still waiting in the local spool is not in the repository yet but is the newest copy.
  if (auto spool = src.get("spool_dir"); !spool.empty()) {
    std::string spooled = spool + "/" + o.file;
    struct stat st;
    if (::stat(spooled.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      auto in = open_file_source(spooled);
      auto out = open_file_sink(o.dest, true);
      std::vector<uint8_t> buf(1u << 20);
      for (size_t n; (n = in->read(buf.data(), buf.size())) > 0;) out->write(ByteView(buf.data(), n));
      out->finish();
      return true;
    }
  }
  // Unlocking costs an Argon2id derivation per process, so each call that must unlock also fetches the next
  // segments into a prefetch directory beside %p; postgres's next calls are then plain renames.
  std::string dest_dir = o.dest.find('/') == std::string::npos ? "." : o.dest.substr(0, o.dest.rfind('/'));
  std::string prefetch = dest_dir + "/.strata-prefetch";
  if (::rename((prefetch + "/" + o.file).c_str(), o.dest.c_str()) == 0) return true;
  uint64_t seg_size = pg::kDefaultSegmentSize;
  if (auto v = src.get("wal_segment_size"); !v.empty()) seg_size = parse_size(v);
  auto seg = pg::parse_segment_name(o.file, seg_size);
  auto repo = ctx.open_repo(false);
  if (failpoint_pretends_missing(o.file) || !repo->exists(pg::wal_id(src.name, o.file), pg::wal_catalog(src.name))) {
    // The end of the archive: recovery is about to finish, so drop what was fetched ahead.
    if (seg) std::filesystem::remove_all(prefetch);
    log::info("wal_not_in_archive", {{"file", o.file}, {"source", src.name}});
    return false;
  }
  if (repo->config().encrypted) repo->unlock(ctx.passphrase());
  PipelineSettings ps = ctx.pipeline("", "", "", 0);
  if (!pg::wal_fetch(*repo, src.name, o.file, o.dest, ps)) {
    fail(ErrorCode::kNotFound, "WAL file " + o.file + " disappeared from the archive of " + src.name + " (" +
                                   repo->location() + ") while it was being fetched; is a cleanup or delete running?");
  }
  unsigned ahead = static_cast<unsigned>(std::stoul(src.get("wal_prefetch", "8")));
  if (!seg || ahead == 0) return true;
  std::error_code ec;
  std::filesystem::create_directories(prefetch, ec);
  for (unsigned i = 1; i <= ahead && !ec; ++i) {
    std::string next = pg::segment_name(seg->timeline, seg->segno + i, seg_size);
    if (std::filesystem::exists(prefetch + "/" + next)) continue;
    if (failpoint_pretends_missing(next)) break;
    try {
      if (!pg::wal_fetch(*repo, src.name, next, prefetch + "/" + next, ps)) break;
    } catch (const StrataError& e) {
      // Only an optimisation: postgres asks for the file itself later and gets the real error then.
      log::warn("wal_prefetch_failed", {{"file", next}, {"error", e.what()}});
      break;
    }
  }
  return true;
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
    auto t0 = std::chrono::steady_clock::now();
    SourceConfig src = postgres_source(ctx, o->source);
    std::string spool = src.get("spool_dir");
    bool async = o->async || src.get("archive_async") == "true";
    if ((async || o->drain) && spool.empty()) {
      fail(ErrorCode::kUsage, "async WAL archiving needs spool_dir under [source." + src.name + "] (a local directory)");
    }
    if (!o->drain && o->path.empty()) fail(ErrorCode::kUsage, "give the WAL file to push (archive_command '... wal push %p')");
    if (async && !o->drain) {
      pg::spool_put(spool, o->path);
      spawn_drainer(ctx, src.name, spool);
      auto errors = pg::spool_errors(spool);
      if (!errors.empty()) {
        fail(ErrorCode::kStorage, "async WAL archiving of " + src.name + " is failing: " + errors.front() +
                                      " (spooled files are kept in " + spool + "; run 'strata wal check --source " + src.name + "')");
      }
      return;
    }
    auto repo = ctx.open_repo(false);
    if (repo->config().encrypted) repo->use_public_key_only(ctx.settings.public_key);
    PipelineSettings ps = ctx.pipeline(wal_compression(src), "", "", 0);
    bool unlocked = false;
    auto unlock = [&](Repository& r) {
      if (!unlocked && r.config().encrypted) r.unlock(ctx.passphrase());
      unlocked = true;
    };
    if (o->drain) {
      size_t n = pg::spool_drain(spool, [&](const std::string& p) {
        pg::ensure_history_archived(*repo, src.name, p, ps, unlock);
        pg::wal_push(*repo, src.name, p, ps, unlock);
      });
      log::info("wal_spool_drained", {{"source", src.name}, {"files", uint64_t(n)}});
      return;
    }
    uint64_t stored = 0;
    pg::ensure_history_archived(*repo, src.name, o->path, ps, unlock);
    auto outcome = pg::wal_push(*repo, src.name, o->path, ps, unlock, &stored);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    log::info("wal_pushed", {{"source", src.name}, {"file", o->path}, {"stored_bytes", stored}, {"ms", ms},
                             {"outcome", outcome == pg::PushOutcome::kStored ? "stored" : "already-archived"}});
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
    SourceConfig src = postgres_source(ctx, o->source);
    auto repo = ctx.open_repo(o->read_data);
    bool ok = true;
    pg::WalCheckOptions opts;
    opts.read_data = o->read_data;
    opts.pipeline = ctx.pipeline("", "", "", 0);
    std::string report = pg::wal_check_report(*repo, src, opts, &ok);
    std::fputs(report.c_str(), stdout);
    std::fflush(stdout);
    if (!ok) {
      fail(ErrorCode::kProblemsFound, "the WAL archive of " + src.name + " has gaps, damaged files or unrestorable backups "
                                      "(listed above); fix archive_command and take a new base backup");
    }
  });
}

}  // namespace strata
