#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/context.hpp"
#include "repo/repository.hpp"

namespace strata {

void register_cleanup(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("cleanup", "Remove leftovers of backups that failed or were interrupted");
  auto dry = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry, "Only list what would be removed");
  cmd->footer("Takes an exclusive lock, so it never touches a backup that is still running.\n"
              "Example:\n  strata cleanup --repo /backups/main --dry-run");
  cmd->callback([&ctx, dry] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    auto removed = repo->cleanup(*dry);
    for (const auto& k : removed) std::printf("%s %s\n", *dry ? "would remove" : "removed", k.c_str());
    if (!ctx.quiet) std::printf("%zu leftover objects %s\n", removed.size(), *dry ? "found" : "removed");
  });
}

}  // namespace strata
