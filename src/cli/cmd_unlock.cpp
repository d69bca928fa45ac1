#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/context.hpp"
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

}  // namespace strata
