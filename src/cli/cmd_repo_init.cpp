#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/context.hpp"
#include "common/error.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"

namespace strata {

void register_repo_init(CLI::App& app, CliContext& ctx) {
  auto* repo = app.add_subcommand("repo", "Repository administration");
  repo->require_subcommand(1);
  auto* init = repo->add_subcommand("init", "Create a new repository");
  struct Opts {
    bool no_encryption = false;
    std::string kdf_memory = "64MiB";
    uint64_t kdf_ops = 3;
  };
  auto opts = std::make_shared<Opts>();
  init->add_flag("--no-encryption", opts->no_encryption, "Store data unencrypted (integrity tags only). Must be asked for.");
  init->add_option("--kdf-memory", opts->kdf_memory, "Argon2id memory for the passphrase (default 64MiB)");
  init->add_option("--kdf-ops", opts->kdf_ops, "Argon2id passes (default 3)");
  init->footer(
      "The passphrase comes from STRATA_PASSPHRASE, --passphrase-file or a prompt.\n"
      "Examples:\n"
      "  STRATA_PASSPHRASE=... strata repo init --repo /backups/main\n"
      "  strata repo init --repo /backups/main --passphrase-file /etc/strata/pass");
  init->callback([&ctx, opts] {
    ctx.finalize();
    auto storage = ctx.open_repo_storage();
    InitOptions o;
    o.encrypted = !opts->no_encryption;
    o.kdf.memlimit = parse_size(opts->kdf_memory);
    o.kdf.opslimit = opts->kdf_ops;
    if (o.kdf.memlimit < (8u << 20) || o.kdf.opslimit < 1) fail(ErrorCode::kUsage, "--kdf-memory must be at least 8MiB and --kdf-ops at least 1");
    if (o.encrypted) o.passphrase = ctx.new_passphrase("", true);
    Repository::init(*storage, o);
    if (!ctx.quiet) {
      std::printf("created %s repository at %s\n", o.encrypted ? "encrypted" : "UNENCRYPTED", storage->describe().c_str());
      if (o.encrypted) std::printf("keep the passphrase safe: without it no backup can be restored\n");
    }
  });
}

}  // namespace strata
