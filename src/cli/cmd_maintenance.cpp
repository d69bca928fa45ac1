// Repository upkeep commands: `unlock`, `delete`, `cleanup` — one file, so CLI11 is compiled once for them; the
// work is in app/maintenance.hpp and repo/.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/maintenance.hpp"
#include "cli/context.hpp"
#include "common/duration.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"

namespace strata {

void register_unlock(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("unlock", "Remove stale locks, or the locks named by id");
  struct Opts {
    std::vector<std::string> ids;
    bool all = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("LOCK-ID", o->ids, "Remove these locks (ids as 'strata unlock' and lock errors print them)");
  cmd->add_flag("--all", o->all, "Remove every lock, also live-looking ones (make sure their holders are gone)");
  cmd->footer(
      "Without ids, removes locks nobody can still hold: of a process on this machine (same boot and PID namespace)\n"
      "that is gone, not refreshed for 30 minutes (lock_stale_after), or unreadable; and lists the others.\n"
      "Examples:\n"
      "  strata unlock --repo /backups/main\n"
      "  strata unlock --repo /backups/main 20261201T213000Z-0123456789abcdef");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    auto removed = repo->unlock(o->ids, o->all);
    for (const auto& l : removed) {
      std::printf("removed lock %s: %s%s\n", l.id.c_str(), l.describe().c_str(),
                  l.stale ? (" (" + l.stale_reason + ")").c_str() : "");
    }
    if (o->ids.empty() && !o->all) {
      for (const auto& l : RepoLock::list(repo->storage())) {
        std::fprintf(stderr, "kept lock %s: %s is live; if that process is gone, run 'strata unlock %s'\n",
                     l.id.c_str(), l.describe().c_str(), l.id.c_str());
      }
    }
    std::printf("removed %zu lock%s\n", removed.size(), removed.size() == 1 ? "" : "s");
  });
}

void register_delete(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("delete", "Delete backups (manifest first, then their objects)");
  struct Opts {
    std::vector<std::string> ids;
    bool dry_run = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ID", o->ids, "Backup ids (or unique prefixes)")->required();
  cmd->add_flag("-n,--dry-run", o->dry_run, "Only print what would be deleted");
  cmd->footer(
      "Every id is resolved before anything is deleted: one unknown id deletes nothing. A backup that others build\n"
      "on (an incremental's parent) is refused unless its dependants are deleted with it.\n"
      "Examples:\n"
      "  strata delete --repo /backups/main 20261121T053300Z-1a2b3c4d\n"
      "  strata delete --repo /backups/main --dry-run 20261121T0533 20261122T0533");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    auto order = app::delete_backups(ctx.services(), {o->ids, o->dry_run});
    if (ctx.quiet) return;
    for (const auto& id : order) std::printf("%s backup %s\n", o->dry_run ? "would delete" : "deleted", id.c_str());
  });
}

void register_cleanup(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("cleanup", "Remove leftovers of backups that failed or were interrupted");
  auto dry = std::make_shared<bool>(false);
  auto min_age = std::make_shared<std::string>("1h");
  cmd->add_flag("--dry-run", *dry, "Only list what would be removed");
  cmd->add_option("--min-age", *min_age, "Leave leftovers of backups started less than this long ago (default 1h)");
  cmd->footer("Takes an exclusive lock, so it never touches a backup that is still running; leftovers younger than\n"
              "--min-age are kept in case their writer's lock was not visible.\n"
              "Example:\n  strata cleanup --repo /backups/main --dry-run");
  cmd->callback([&ctx, dry, min_age] {
    ctx.finalize();
    int64_t age = parse_duration(*min_age, "--min-age");
    auto [removed, kept] = app::cleanup(ctx.services(), {*dry, age});
    for (const auto& k : removed) std::printf("%s %s\n", *dry ? "would remove" : "removed", k.c_str());
    if (!ctx.quiet) {
      std::printf("%zu leftover objects %s\n", removed.size(), *dry ? "found" : "removed");
      if (!kept.empty()) {
        std::printf("kept %zu leftover objects of backups started less than %s ago; once no backup is running, "
                    "'strata cleanup --min-age 0' removes them\n", kept.size(), min_age->c_str());
      }
    }
  });
}

}  // namespace strata
