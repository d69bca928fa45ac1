#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "cli/context.hpp"
#include "common/error.hpp"
#include "engines/engine.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

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
    auto configured = ctx.settings.sources.find(o->source);
    bool via_engine = o->from_command.empty() && o->from_file.empty();
    if (via_engine && configured == ctx.settings.sources.end()) {
      fail(ErrorCode::kUsage, "give --from-command or --from-file, or configure [source." + o->source + "] with an engine");
    }
    BackupOptions bo;
    bo.source = o->source;
    for (const auto& l : o->labels) {
      auto eq = l.find('=');
      if (eq == std::string::npos || eq == 0) fail(ErrorCode::kUsage, "invalid label '" + l + "': use key=value");
      bo.labels[l.substr(0, eq)] = l.substr(eq + 1);
    }
    bo.pipeline = ctx.pipeline(o->compression, o->frame_size, o->object_size, o->threads);
    std::optional<bool> empty_policy = ctx.settings.fail_on_empty;
    if (o->fail_on_empty) empty_policy = true;
    if (o->allow_empty) empty_policy = false;
    bool write_only = o->write_only || ctx.settings.write_only;
    // Engines read earlier manifests (incremental parents) before they start, so they need the key first; a plain
    // stream overlaps the passphrase check with its start (Repository::unlock_async).
    auto repo = ctx.open_repo(!write_only && via_engine);
    repo->set_fail_on_empty(empty_policy);
    if (write_only && repo->config().encrypted) repo->use_public_key_only(ctx.settings.public_key);
    if (!write_only && !via_engine && repo->config().encrypted) repo->unlock_async(ctx.passphrase());
    if (via_engine) {
      SourceConfig sc{o->source, configured->second};
      auto engine = make_engine(sc.require("engine"));
      EngineBackupRequest req{o->type, bo.labels, bo.pipeline};
      std::vector<Manifest> made;
      {
        Progress progress("backup", 0, !ctx.quiet);
        made = engine->backup(*repo, sc, req, progress.fn());
      }
      for (const auto& m : made) {
        if (o->json) std::printf("%s\n", manifest_to_json(m, false, 2).c_str());
        else if (ctx.quiet) std::printf("%s\n", m.id.c_str());
        else std::printf("backup %s of %s (%s): %s -> %s stored\n", m.id.c_str(), m.source.c_str(), m.type.c_str(),
                         format_size(m.stream.plain_bytes).c_str(), format_size(m.stream.stored_bytes).c_str());
      }
      return;
    }
    uint64_t total = 0;
    std::unique_ptr<ByteSource> src;
    if (!o->from_command.empty()) {
      src = open_command_source(o->from_command);
    } else {
      struct stat st;
      if (o->from_file != "-" && ::stat(o->from_file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) total = st.st_size;
      src = open_file_source(o->from_file);
    }
    auto t0 = std::chrono::steady_clock::now();
    Manifest m;
    {
      Progress progress("backup", total, !ctx.quiet);
      m = repo->backup(*src, bo, progress.fn());
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (o->json) {
      std::printf("%s\n", manifest_to_json(m, false, 2).c_str());
    } else if (!ctx.quiet) {
      std::printf("backup %s of %s: %s -> %s stored (%s, %s) in %.1fs, %s\n", m.id.c_str(), m.source.c_str(),
                  format_size(m.stream.plain_bytes).c_str(), format_size(m.stream.stored_bytes).c_str(),
                  m.compression.c_str(), m.cipher.c_str(), secs, format_rate(m.stream.plain_bytes, secs).c_str());
    } else {
      std::printf("%s\n", m.id.c_str());
    }
  });
}

}  // namespace strata
