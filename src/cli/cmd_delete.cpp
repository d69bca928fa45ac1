#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/context.hpp"
#include "repo/repository.hpp"

namespace strata {

void register_delete(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("delete", "Delete backups (manifest first, then their objects)");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("ID", *ids, "Backup ids (or unique prefixes)")->required();
  cmd->footer("Example:\n  strata delete --repo /backups/main 20261121T053300Z-1a2b3c4d");
  cmd->callback([&ctx, ids] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    for (const auto& raw : *ids) {
      std::string id = repo->resolve_id(raw);
      repo->remove_backup(id);
      if (!ctx.quiet) std::printf("deleted backup %s\n", id.c_str());
    }
  });
}

}  // namespace strata
