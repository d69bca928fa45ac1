#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "common/bytes.hpp"
#include "common/error.hpp"
#include "repo/repository.hpp"

namespace strata {

void register_key(CLI::App& app, CliContext& ctx) {
  auto* key = app.add_subcommand("key", "Manage the passphrases that open the repository key");
  key->require_subcommand(1);
  key->footer(
      "Examples:\n"
      "  STRATA_NEW_PASSPHRASE=... strata key add --repo /backups/main --label ops-2027\n"
      "  strata key list --repo /backups/main\n"
      "  strata key remove --repo /backups/main 3f2a9c1d0b7e6a54\n"
      "  strata key public --repo /backups/main   # pin this on write-only hosts (STRATA_PUBLIC_KEY)");

  auto* add = key->add_subcommand("add", "Add a passphrase (data is not re-encrypted)");
  struct AddOpts {
    std::string label, file;
  };
  auto ao = std::make_shared<AddOpts>();
  add->add_option("--label", ao->label, "A note to recognise this key");
  add->add_option("--new-passphrase-file", ao->file, "Read the new passphrase from this file (or STRATA_NEW_PASSPHRASE)");
  add->callback([&ctx, ao] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    std::string id = repo->add_key(ctx.new_passphrase(ao->file, false), ao->label, KdfParams{});
    std::printf("added key %s\n", id.c_str());
  });

  auto* list = key->add_subcommand("list", "List keys");
  auto json = std::make_shared<bool>(false);
  list->add_flag("--json", *json, "JSON output");
  list->callback([&ctx, json] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    auto keys = repo->keys();
    if (*json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& k : keys) j.push_back({{"id", k.id}, {"created", k.created}, {"host", k.host}, {"label", k.label}, {"current", k.current}});
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("  %-18s %-22s %-20s %s\n", "ID", "CREATED", "HOST", "LABEL");
    for (const auto& k : keys) {
      std::printf("%s %-18s %-22s %-20s %s\n", k.current ? "*" : " ", k.id.c_str(), k.created.c_str(), k.host.c_str(), k.label.c_str());
    }
  });

  auto* remove = key->add_subcommand("remove", "Remove a key (never the last one, nor the one in use)");
  auto rid = std::make_shared<std::string>();
  remove->add_option("ID", *rid, "Key id from 'strata key list'")->required();
  remove->callback([&ctx, rid] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    repo->remove_key(*rid);
    std::printf("removed key %s\n", rid->c_str());
  });

  auto* pub = key->add_subcommand("public", "Print the repository public key (for write-only hosts)");
  pub->callback([&ctx] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    if (!repo->config().encrypted) fail(ErrorCode::kUsage, "repository " + repo->location() + " is not encrypted");
    std::printf("%s\n", hex_encode(ByteView(repo->config().public_key.data(), 32)).c_str());
  });
}

}  // namespace strata
