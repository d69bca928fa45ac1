#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/context.hpp"
#include "repo/repository.hpp"

namespace strata {

void register_unlock(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("unlock", "Remove stale locks left by crashed strata processes");
  auto all = std::make_shared<bool>(false);
  cmd->add_flag("--all", *all, "Remove every lock, also live ones on other hosts (make sure they are gone)");
  cmd->footer("Example:\n  strata unlock --repo /backups/main");
  cmd->callback([&ctx, all] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    size_t n = repo->unlock_all(!*all);
    std::printf("removed %zu lock%s\n", n, n == 1 ? "" : "s");
  });
}

}  // namespace strata
