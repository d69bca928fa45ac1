#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/context.hpp"
#include "repo/repository.hpp"

namespace strata {

void register_list(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("list", "List committed backups (oldest first)");
  struct Opts {
    std::string source;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--source", o->source, "Only backups of this source");
  cmd->add_flag("--json", o->json, "JSON array instead of a table");
  cmd->footer("Examples:\n  strata list --repo /backups/main\n  strata list --repo /backups/main --source orders-db --json");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    // Listing reads only the public part of each manifest: it needs no passphrase.
    auto repo = ctx.open_repo(false);
    auto all = repo->list(o->source);
    if (o->json) {
      std::string out = "[";
      for (size_t i = 0; i < all.size(); ++i) out += (i ? ",\n " : "\n ") + manifest_to_json(all[i], false, -1);
      out += all.empty() ? "]" : "\n]";
      std::printf("%s\n", out.c_str());
      return;
    }
    // Engine backups that build on another (incrementals) name their parent, so chains read top to bottom.
    std::printf("%-26s %-20s %-20s %10s %10s  %-26s %s\n", "ID", "SOURCE", "FINISHED", "SIZE", "STORED", "PARENT", "LABELS");
    for (const auto& m : all) {
      std::string labels;
      for (const auto& [k, v] : m.labels) labels += (labels.empty() ? "" : ",") + k + "=" + v;
      std::string source = m.source + (m.type == "stream" ? "" : " (" + m.type + ")");
      std::printf("%-26s %-20s %-20s %10s %10s  %-26s %s\n", m.id.c_str(), source.c_str(), m.finished.c_str(),
                  format_size(m.stream.plain_bytes).c_str(), format_size(m.stream.stored_bytes).c_str(),
                  m.parent.empty() ? "-" : m.parent.c_str(), labels.c_str());
    }
    if (!ctx.quiet) std::printf("%zu backup%s\n", all.size(), all.size() == 1 ? "" : "s");
  });
}

}  // namespace strata
