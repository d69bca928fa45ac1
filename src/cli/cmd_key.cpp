#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "common/bytes.hpp"
#include "common/error.hpp"
#include "repo/repository.hpp"

namespace strata {

namespace {

// Writer identities (docs/CLI.md): the secret key stays in a 0600 file on the writer host, referenced by path
// (writer_key_file / STRATA_WRITER_KEY_FILE / --key-file); only its public half travels.
void register_writer_commands(CLI::App& key, CliContext& ctx) {
  struct Opts {
    std::string name, key_file, public_key, id;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto key_file = [&ctx, o] {
    std::string path = o->key_file.empty() ? ctx.settings.writer_key_file : o->key_file;
    if (path.empty()) fail(ErrorCode::kUsage, "give --key-file PATH or set writer_key_file (STRATA_WRITER_KEY_FILE)");
    return path;
  };

  auto* gen = key.add_subcommand("gen-writer", "Create this host's writer signing key (a 0600 file; needs no passphrase)");
  gen->add_option("--name", o->name, "Writer name shown by list/show, e.g. the host name")->required();
  gen->add_option("--key-file", o->key_file, "Where to create the key file (default: writer_key_file)");
  gen->callback([&ctx, o, key_file] {
    ctx.finalize();
    WriterKey k = generate_writer_key(o->name);
    std::string path = key_file();
    save_writer_key_file(path, k);
    std::string pk = hex_encode(ByteView(k.public_key.data(), 32));
    std::printf("created writer key %s (%s) in %s\npublic key %s\nregister it where the passphrase is: strata key add-writer --name %s --public-key %s\n",
                k.id.c_str(), k.name.c_str(), path.c_str(), pk.c_str(), k.name.c_str(), pk.c_str());
  });

  auto* add = key.add_subcommand("add-writer", "Register a writer's public key; its signed backups are then trusted");
  add->add_option("--name", o->name, "Writer name")->required();
  auto* pko = add->add_option("--public-key", o->public_key, "The writer's public key (hex, from 'strata key gen-writer')");
  auto* kfo = add->add_option("--key-file", o->key_file, "Read the public key from this writer key file instead");
  pko->excludes(kfo);
  add->callback([&ctx, o] {
    ctx.finalize();
    SignPublicKey pk;
    if (!o->public_key.empty()) pk = parse_writer_public_key(o->public_key);
    else if (!o->key_file.empty()) pk = load_writer_key_file(o->key_file).public_key;
    else fail(ErrorCode::kUsage, "give --public-key HEX or --key-file PATH");
    auto repo = ctx.open_repo(true);
    std::string id = repo->add_writer(o->name, pk);
    std::printf("added writer %s (%s)\n", id.c_str(), o->name.c_str());
  });

  auto* list = key.add_subcommand("writers", "List registered writers");
  list->add_flag("--json", o->json, "JSON output");
  list->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    auto all = repo->writers();
    if (o->json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& w : all) {
        j.push_back({{"id", w.id}, {"name", w.name}, {"created", w.created}, {"host", w.host}, {"authentic", w.authentic},
                     {"damaged", w.damaged}});
      }
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("%-18s %-20s %-22s %-20s %s\n", "ID", "NAME", "CREATED", "ADDED ON", "STATUS");
    for (const auto& w : all) {
      std::printf("%-18s %-20s %-22s %-20s %s\n", w.id.c_str(), w.name.c_str(), w.created.c_str(), w.host.c_str(),
                  !w.damaged.empty() ? ("DAMAGED: " + w.damaged).c_str()
                                     : w.authentic ? "ok" : "NOT AUTHENTIC (forged or from another repository)");
    }
  });

  auto* rm = key.add_subcommand("remove-writer", "Unregister a writer: its backups are then refused as unknown-writer");
  rm->add_option("ID", o->id, "Writer id from 'strata key writers'")->required();
  rm->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    repo->remove_writer(o->id);
    std::printf("removed writer %s\n", o->id.c_str());
  });
}

}  // namespace

void register_key(CLI::App& app, CliContext& ctx) {
  auto* key = app.add_subcommand("key", "Manage the passphrases that open the repository key");
  key->require_subcommand(1);
  key->footer(
      "Examples:\n"
      "  STRATA_NEW_PASSPHRASE=... strata key add --repo /backups/main --label ops-2027\n"
      "  strata key list --repo /backups/main\n"
      "  strata key remove --repo /backups/main 3f2a9c1d0b7e6a54\n"
      "  strata key public --repo /backups/main   # pin this on write-only hosts (STRATA_PUBLIC_KEY)\n"
      "  strata key gen-writer --name db-1 --key-file /etc/strata/writer.key   # on the writer host\n"
      "  strata key add-writer --repo /backups/main --name db-1 --public-key 3b6a...   # where the passphrase is");

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
      for (const auto& k : keys) j.push_back({{"id", k.id}, {"created", k.created}, {"host", k.host}, {"label", k.label}, {"current", k.current}, {"damaged", k.damaged}});
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("  %-18s %-22s %-20s %s\n", "ID", "CREATED", "HOST", "LABEL");
    for (const auto& k : keys) {
      if (!k.damaged.empty()) {
        std::printf("! %-18s DAMAGED: %s\n", k.id.c_str(), k.damaged.c_str());
        continue;
      }
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

  register_writer_commands(*key, ctx);

  auto* pub = key->add_subcommand("public", "Print the repository public key (for write-only hosts)");
  pub->callback([&ctx] {
    ctx.finalize();
    auto repo = ctx.open_repo(false);
    if (!repo->config().encrypted) fail(ErrorCode::kUsage, "repository " + repo->location() + " is not encrypted");
    std::printf("%s\n", hex_encode(ByteView(repo->config().public_key.data(), 32)).c_str());
  });
}

}  // namespace strata
