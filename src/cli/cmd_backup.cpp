#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/backup.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"
#include "repo/manifest.hpp"

namespace strata {

void register_backup(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("backup", "Stream a backup into the repository");
  struct Opts {
    std::string source, from_command, from_file, compression, frame_size, object_size, type;
    std::vector<std::string> labels;
    unsigned threads = 0;
    bool write_only = false, json = false, fail_on_empty = false, allow_empty = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--source", o->source, "Name of what is backed up (e.g. orders-db)")->required();
  auto* fc = cmd->add_option("--from-command", o->from_command, "Run this shell command and back up its stdout");
  auto* ff = cmd->add_option("--from-file", o->from_file, "Back up this file ('-' for stdin)");
  fc->excludes(ff);
  cmd->add_option("--type", o->type, "Engine backup type, e.g. full or incremental (sources with an engine)");
  cmd->add_option("--label", o->labels, "Attach a label k=v (repeatable)");
  cmd->add_option("--compression", o->compression, "zstd[:LEVEL] (default zstd:3), lz4 or none");
  cmd->add_option("--frame-size", o->frame_size, "Plaintext bytes per frame (default 1MiB)");
  cmd->add_option("--object-size", o->object_size, "Plaintext bytes per data object (default 64MiB; 8MiB on s3://)");
  cmd->add_option("--threads", o->threads, "Compression/encryption threads (default: one per core)");
  cmd->add_flag("--write-only", o->write_only, "Use only the repository's public key: this host can write but never read");
  cmd->add_flag("--json", o->json, "Print the new backup's manifest as JSON");
  auto* foe = cmd->add_flag("--fail-on-empty", o->fail_on_empty,
                            "Refuse a source that writes nothing (exit 7, nothing stored); default for engine sources");
  auto* ae = cmd->add_flag("--allow-empty", o->allow_empty, "Store an empty stream (with a warning and the label strata.empty=true)");
  foe->excludes(ae);
  cmd->footer(
      "Examples:\n"
      "  strata backup --repo /backups/main --source orders-db --from-command 'pg_dump -Fc orders'\n"
      "  strata backup --repo /backups/main --source app --from-file big.tar --label env=prod\n"
      "  tar c /etc | strata backup --repo /backups/main --source etc --from-file -\n"
      "  strata backup --config strata.toml --source pg1 --type full   # [source.pg1] engine = \"postgres\"");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    app::BackupRequest req;
    req.source = o->source;
    for (const auto& l : o->labels) {
      auto eq = l.find('=');
      if (eq == std::string::npos || eq == 0) fail(ErrorCode::kUsage, "invalid label '" + l + "': use key=value");
      req.labels[l.substr(0, eq)] = l.substr(eq + 1);
    }
    req.from_command = o->from_command;
    req.from_file = o->from_file;
    req.type = o->type;
    if (auto c = ctx.settings.sources.find(o->source); c != ctx.settings.sources.end()) {
      req.engine_source = SourceConfig{o->source, c->second};
    }
    req.pipeline = ctx.pipeline(o->compression, o->frame_size, o->object_size, o->threads);
    req.fail_on_empty = ctx.settings.fail_on_empty;
    if (o->fail_on_empty) req.fail_on_empty = true;
    if (o->allow_empty) req.fail_on_empty = false;
    req.write_only = o->write_only || ctx.settings.write_only;
    req.public_key = ctx.settings.public_key;
    app::Services services = ctx.services();
    ProgressObserver progress(!ctx.quiet);
    services.observer = &progress;
    app::BackupResult r = app::backup(services, req);
    for (const auto& m : r.manifests) {
      if (o->json) {
        std::printf("%s\n", manifest_to_json(m, false, 2).c_str());
      } else if (ctx.quiet) {
        std::printf("%s\n", m.id.c_str());
      } else if (r.engine) {
        std::printf("backup %s of %s (%s): %s -> %s stored\n", m.id.c_str(), m.source.c_str(), m.type.c_str(),
                    format_size(m.stream.plain_bytes).c_str(), format_size(m.stream.stored_bytes).c_str());
      } else {
        std::printf("backup %s of %s: %s -> %s stored (%s, %s) in %.1fs, %s\n", m.id.c_str(), m.source.c_str(),
                    format_size(m.stream.plain_bytes).c_str(), format_size(m.stream.stored_bytes).c_str(),
                    m.compression.c_str(), m.cipher.c_str(), r.seconds, format_rate(m.stream.plain_bytes, r.seconds).c_str());
      }
    }
  });
}

}  // namespace strata
