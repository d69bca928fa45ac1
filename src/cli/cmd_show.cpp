#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/context.hpp"
#include "repo/repository.hpp"

namespace strata {

void register_show(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("show", "Show one backup's manifest (verified when the passphrase is available)");
  struct Opts {
    std::string id;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ID", o->id, "Backup id or a unique prefix of it")->required();
  cmd->add_flag("--json", o->json, "JSON output");
  cmd->footer("Examples:\n  strata show --repo /backups/main 20261121T053300Z-1a2b3c4d\n  strata show --repo /backups/main 20261121 --json");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    Manifest m = repo->load(repo->resolve_id(o->id), true);
    if (o->json) {
      std::printf("%s\n", manifest_to_json(m, true, 2).c_str());
      return;
    }
    std::printf("id:           %s\n", m.id.c_str());
    std::printf("source:       %s\n", m.source.c_str());
    std::printf("type:         %s\n", m.type.c_str());
    if (!m.parent.empty()) std::printf("parent:       %s\n", m.parent.c_str());
    std::printf("started:      %s\n", m.started.c_str());
    std::printf("finished:     %s\n", m.finished.c_str());
    std::printf("host:         %s (strata %s, writer %s)\n", m.host.c_str(), m.tool_version.c_str(), m.writer.c_str());
    // Who wrote it: the registered writer whose signature verified (repo/writer.hpp), or "unsigned".
    std::printf("signed by:    %s\n", m.writer_id.empty() ? "unsigned (no writer signature)"
                                    : (m.writer_name + " (writer " + m.writer_id + ", " + m.writer_status + ")").c_str());
    std::printf("size:         %s (%llu bytes)\n", format_size(m.stream.plain_bytes).c_str(), static_cast<unsigned long long>(m.stream.plain_bytes));
    std::printf("stored:       %s in %zu objects, %llu frames\n", format_size(m.stream.stored_bytes).c_str(),
                m.stream.objects.size(), static_cast<unsigned long long>(m.stream.frames));
    std::printf("compression:  %s\n", m.compression.c_str());
    std::printf("cipher:       %s\n", m.cipher.c_str());
    std::printf("sha256:       %s\n", m.sealed_loaded ? digest_hex(m.stream.plain_sha256).c_str() : "(needs the passphrase)");
    for (const auto& [k, v] : m.labels) std::printf("label:        %s=%s\n", k.c_str(), v.c_str());
    if (m.engine_json != "{}") std::printf("engine:       %s\n", m.engine_json.c_str());
  });
}

}  // namespace strata
