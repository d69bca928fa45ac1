#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/maintenance.hpp"
#include "cli/context.hpp"
#include "common/duration.hpp"

namespace strata {

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
