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

  auto* reindex = repo->add_subcommand("reindex", "Rebuild the source index from the manifests");
  reindex->footer(
      "Queries by source (list --source, restore latest --source) read only that source's index entries once the\n"
      "repository is indexed: new repositories are; one made by an older strata is scanned until reindexed.\n"
      "Reindex also repairs entries lost or left by a crash. Takes an exclusive lock; needs no passphrase.\n"
      "Example:\n  strata repo reindex --repo /backups/main");
  reindex->callback([&ctx] {
    ctx.finalize();
    auto r = ctx.open_repo(false);
    ReindexReport rep = r->reindex();
    for (const auto& d : rep.damaged) std::fprintf(stderr, "DAMAGED %s: %s\n", d.key.c_str(), d.error.c_str());
    if (!ctx.quiet) {
      std::printf("indexed %zu backup%s in %s: %zu entr%s written, %zu removed\n", rep.manifests,
                  rep.manifests == 1 ? "" : "s", r->location().c_str(), rep.written, rep.written == 1 ? "y" : "ies",
                  rep.removed);
    }
    if (!rep.damaged.empty()) {
      fail(ErrorCode::kProblemsFound, std::to_string(rep.damaged.size()) + " manifest" +
                                          (rep.damaged.size() == 1 ? " is" : "s are") +
                                          " damaged and not indexed (DAMAGED lines above); run 'strata check'");
    }
  });
}

}  // namespace strata
