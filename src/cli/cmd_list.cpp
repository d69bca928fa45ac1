#include <CLI/CLI.hpp>
#include <cstdio>
#include <set>

#include "cli/context.hpp"
#include "common/error.hpp"
#include "repo/expiry.hpp"
#include "repo/repository.hpp"

namespace strata {

void register_list(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("list", "List committed backups (oldest first)");
  struct Opts {
    std::string source;
    bool json = false;
    bool all = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--source", o->source, "Only backups of this source");
  cmd->add_flag("--json", o->json, "JSON array instead of a table");
  cmd->add_flag("--all", o->all, "Also backups expired by a retention policy and waiting for deletion (docs/RETENTION.md)");
  cmd->footer("Examples:\n  strata list --repo /backups/main\n  strata list --repo /backups/main --source orders-db --json");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    // Listing reads only the public part of each manifest: it needs no passphrase.
    auto repo = ctx.open_repo(false);
    repo->set_include_expired(o->all);
    std::set<std::string> expired;
    if (o->all) expired = expired_ids(*repo);
    std::vector<DamagedManifest> damaged;
    auto all = repo->list(o->source, "", &damaged);
    // One damaged manifest must not hide the others: they are listed, the damaged ones reported, exit 13.
    auto report_damaged = [&] {
      if (damaged.empty()) return;
      for (const auto& d : damaged) std::fprintf(stderr, "DAMAGED %s: %s\n", d.key.c_str(), d.error.c_str());
      fail(ErrorCode::kProblemsFound, std::to_string(damaged.size()) + " manifest" + (damaged.size() == 1 ? " is" : "s are") +
                                          " damaged in " + repo->location() + " (DAMAGED lines above); the others are listed; "
                                          "run 'strata check' for details, 'strata delete ID' removes one");
    };
    if (o->json) {
      std::string out = "[";
      for (size_t i = 0; i < all.size(); ++i) out += (i ? ",\n " : "\n ") + manifest_to_json(all[i], false, -1);
      out += all.empty() ? "]" : "\n]";
      std::printf("%s\n", out.c_str());
      report_damaged();
      return;
    }
    // Engine backups that build on another (incrementals) name their parent, so chains read top to bottom.
    std::printf("%-26s %-20s %-20s %10s %10s  %-26s %-16s %s\n", "ID", "SOURCE", "FINISHED", "SIZE", "STORED", "PARENT",
                "WRITER", "LABELS");
    for (const auto& m : all) {
      std::string labels = expired.count(m.id) ? "EXPIRED" : "";
      for (const auto& [k, v] : m.labels) labels += (labels.empty() ? "" : ",") + k + "=" + v;
      std::string source = m.source + (m.type == "stream" ? "" : " (" + m.type + ")");
      // The signing writer's registered name; "unsigned" for backups without a writer signature.
      std::string writer = m.writer_id.empty() ? "unsigned" : m.writer_name;
      std::printf("%-26s %-20s %-20s %10s %10s  %-26s %-16s %s\n", m.id.c_str(), source.c_str(), m.finished.c_str(),
                  format_size(m.stream.plain_bytes).c_str(), format_size(m.stream.stored_bytes).c_str(),
                  m.parent.empty() ? "-" : m.parent.c_str(), writer.c_str(), labels.c_str());
    }
    if (!ctx.quiet) std::printf("%zu backup%s\n", all.size(), all.size() == 1 ? "" : "s");
    std::fflush(stdout);
    report_damaged();
  });
}

}  // namespace strata
