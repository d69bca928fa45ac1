#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/maintenance.hpp"
#include "cli/context.hpp"

namespace strata {

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

}  // namespace strata
