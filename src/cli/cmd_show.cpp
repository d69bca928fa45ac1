#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/context.hpp"
#include "common/error.hpp"
#include "repo/repository.hpp"

namespace strata {

void register_show(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("show", "Show one backup's manifest (verified when the passphrase is available)");
  struct Opts {
    std::string id, source;
    bool json = false, no_key = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ID", o->id, "Backup id, a unique prefix of it, or 'latest' (with --source)")->required();
  cmd->add_option("--source", o->source, "With 'latest': the newest backup of this source");
  cmd->add_flag("--no-key", o->no_key, "Show the public part only, without asking for the passphrase");
  cmd->add_flag("--json", o->json, "JSON output");
  cmd->footer(
      "With the passphrase the sealed part (frame layout, SHA-256) is opened and verified; without one (write-only\n"
      "hosts, --no-key, no STRATA_PASSPHRASE / passphrase file / terminal) the public part is shown, unverified.\n"
      "Examples:\n  strata show --repo /backups/main 20261121T053300Z-1a2b3c4d\n"
      "  strata show --repo /backups/main latest --source orders-db --json");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    bool with_key = !o->no_key && !ctx.settings.write_only && ctx.passphrase_available();
    auto repo = ctx.open_repo(with_key);
    std::string id;
    if (o->id == "latest") {
      if (o->source.empty()) fail(ErrorCode::kUsage, "'latest' needs --source");
      id = repo->latest_id(o->source);
    } else {
      id = repo->resolve_id(o->id);
    }
    Manifest m = repo->load(id, repo->unlocked());
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
    std::printf("verified:     %s\n", m.sealed_loaded ? "yes (sealed part authenticated)"
                                                      : "no: public part only (give the passphrase to verify)");
  });
}

}  // namespace strata
