#include "repo/repository.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "common/cancel.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/logger.hpp"
#include "io/stream.hpp"
#include "repo/bounded_json.hpp"
#include "repo/expiry.hpp"
#include "repo/index.hpp"
#include "repo/layout.hpp"
#include "repo/lock.hpp"
#include "storage/storage.hpp"
#include "strata_version.hpp"

namespace strata {
namespace {

using nlohmann::json;
using layout::kConfig;
using layout::kBackups;
using layout::kStreams;
using layout::kData;
using layout::kKeys;
// Tiering archives (docs/TIERING.md) live beside the backup format; check and cleanup leave them alone.
bool is_tier_key(const std::string& key) { return layout::has_prefix(key, layout::kTier); }

class BackupKeying final : public ObjectKeying {
 public:
  BackupKeying(std::string backup_id, Cipher cipher, const Key32& data_key)
      : id_(std::move(backup_id)), cipher_(cipher), data_key_(data_key) {}
  std::string object_name(uint64_t seq) const override {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%06llu", static_cast<unsigned long long>(seq));
    return id_ + "/" + buf;
  }
  std::string storage_key(const std::string& name) const override { return kData + name; }
  FrameContext frame_context(const std::string& name) const override {
    FrameContext ctx;
    ctx.cipher = cipher_;
    ctx.key = cipher_ == Cipher::kNone ? Key32{} : derive_key(data_key_, "strata/object/v1/" + name);
    ctx.object_name = name;
    return ctx;
  }

 private:
  std::string id_;
  Cipher cipher_;
  Key32 data_key_;
};

std::string manifest_path(const std::string& catalog, const std::string& id) { return layout::manifest_key(catalog, id); }

Key32 manifest_key(const Key32& data_key) { return derive_key(data_key, "strata/manifest/v1"); }

bool valid_id(const std::string& id) { return layout::valid_name(id); }

std::string new_backup_id() {
  uint8_t rnd[4];
  random_bytes(rnd, sizeof rnd);
  return compact_utc(now_epoch()) + "-" + hex_encode(ByteView(rnd, 4));
}

}  // namespace

void Repository::init(Storage& storage, const InitOptions& options) {
  if (storage.stat(kConfig)) {
    fail(ErrorCode::kAlreadyExists, "a strata repository already exists at " + storage.describe());
  }
  uint8_t rnd[16];
  random_bytes(rnd, sizeof rnd);
  RepoConfig cfg;
  cfg.id = hex_encode(ByteView(rnd, 16));
  cfg.created = iso_utc(now_epoch());
  cfg.encrypted = options.encrypted;
  if (cfg.encrypted) {
    if (options.passphrase.empty()) fail(ErrorCode::kUsage, "an empty passphrase is not allowed");
    SecretKey sk = SecretKey::generate();
    cfg.public_key = sk.public_key();
    WrappedKey w = wrap_secret_key(sk, options.passphrase, cfg.id, options.kdf);
    w.created = cfg.created;
    w.host = hostname();
    w.label = options.key_label;
    storage.put(kKeys + w.id, as_bytes(wrapped_key_to_json(w)), PutMode::kCreateOnly);
  }
  json j = {{"format", "strata-repository"},
            {"version", kRepoVersion},
            {"id", cfg.id},
            {"created", cfg.created},
            {"encryption", cfg.encrypted ? "x25519-sealed-data-keys" : "none"},
            {"public_key", cfg.encrypted ? hex_encode(ByteView(cfg.public_key.data(), 32)) : ""}};
  std::string text = j.dump(2) + "\n";
  // A new repository is indexed from its first backup on (docs/FORMAT.md "Source index").
  write_index_marker(storage);
  // The config is written last and create-only: it is the commit point of init, and two inits cannot both win.
  storage.put(kConfig, as_bytes(text), PutMode::kCreateOnly);
}

Repository::Repository(std::unique_ptr<Storage> storage) : storage_(std::move(storage)) {
  Bytes raw;
  try {
    raw = storage_->get(kConfig);
  } catch (const StrataError& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    fail(ErrorCode::kNotARepository, storage_->describe() + " is not a strata repository (no config object); create one with 'strata repo init --repo " + storage_->describe() + "'");
  }
  try {
    json j = json::parse(raw.begin(), raw.end());
    if (j.at("format") != "strata-repository") throw std::runtime_error("wrong format tag");
    config_.version = j.at("version").get<uint32_t>();
    if (config_.version > kRepoVersion) {
      fail(ErrorCode::kUnsupportedVersion, "repository " + storage_->describe() + " has format version " +
                                               std::to_string(config_.version) + " but this strata " + kVersion +
                                               " reads up to version " + std::to_string(kRepoVersion) + "; upgrade strata");
    }
    config_.id = j.at("id").get<std::string>();
    config_.created = j.value("created", "");
    std::string enc = j.at("encryption").get<std::string>();
    config_.encrypted = enc != "none";
    if (config_.encrypted) {
      if (enc != "x25519-sealed-data-keys") {
        fail(ErrorCode::kUnsupportedVersion, "repository " + storage_->describe() + " uses encryption '" + enc + "' which this strata does not know; upgrade strata");
      }
      Bytes pk = hex_decode(j.at("public_key").get<std::string>());
      if (pk.size() != 32) throw std::runtime_error("bad public key");
      std::copy(pk.begin(), pk.end(), config_.public_key.begin());
    }
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kUnsupportedVersion) throw;
    fail(ErrorCode::kNotARepository, "the config of " + storage_->describe() + " is damaged: " + e.what());
  } catch (const std::exception& e) {
    fail(ErrorCode::kNotARepository, storage_->describe() + " is not a strata repository (config unreadable: " + json_error_text(e) + ")");
  }
}

Repository::~Repository() = default;

std::string Repository::location() const { return storage_->describe(); }

Repository::OpenedKey Repository::open_secret(const std::string& passphrase) const {
  auto list = storage_->list(kKeys);
  if (list.empty()) fail(ErrorCode::kWrongKey, "repository " + location() + " has no keys left; it cannot be opened");
  std::vector<std::string> damaged;
  for (const auto& o : list) {
    WrappedKey w;
    std::optional<SecretKey> sk;
    try {
      w = wrapped_key_from_json(to_string(storage_->get(o.key)), o.key);
      sk = unwrap_secret_key(w, passphrase, config_.id);
    } catch (const StrataError& e) {
      // One damaged key file must not lock out the holders of the other keys.
      if (e.code() != ErrorCode::kCorrupt) throw;
      log::warn("key_unreadable", {{"key", o.key}, {"error", e.what()}});
      damaged.push_back("key " + o.key + " is damaged: " + e.what());
      continue;
    }
    if (sk) {
      if (sk->public_key() != config_.public_key) {
        fail(ErrorCode::kCorrupt, "key " + o.key + " does not match the repository's public key; the config may have been replaced");
      }
      log::debug("key_opened", {{"key", w.id}});
      return OpenedKey{*sk, w.id};
    }
  }
  // Every key file damaged: no passphrase can open the repository, so this is damage, not a wrong passphrase.
  if (damaged.size() == list.size()) {
    fail(ErrorCode::kCorrupt, "repository " + location() + " has no intact key: " + damaged.front() +
                                  (damaged.size() > 1 ? " (and " + std::to_string(damaged.size() - 1) + " more)" : "") +
                                  "; restore the key files from a copy");
  }
  // The passphrase may still belong to a damaged key file: say so, or the operator only hunts for a typo.
  std::string note;
  if (!damaged.empty()) {
    note = "; note: " + damaged.front() + (damaged.size() > 1 ? " (and " + std::to_string(damaged.size() - 1) + " more)" : "") +
           " — if the passphrase belongs to it, restore that file from a copy ('strata check' lists damaged keys)";
  }
  fail(ErrorCode::kWrongKey, "wrong passphrase: none of the " + std::to_string(list.size()) + " keys of repository " +
                                 location() + " opens with it; check STRATA_PASSPHRASE or --passphrase-file" + note);
}

void Repository::unlock(const std::string& passphrase) {
  if (!config_.encrypted) return;
  OpenedKey k = open_secret(passphrase);
  secret_ = k.secret;
  current_key_id_ = k.key_id;
}

void Repository::unlock_async(const std::string& passphrase) {
  if (!config_.encrypted) return;
  pending_unlock_ = std::async(std::launch::async, [this, passphrase] { return open_secret(passphrase); }).share();
}

void Repository::finish_unlock() {
  if (!pending_unlock_.valid()) return;
  auto pending = std::move(pending_unlock_);
  pending_unlock_ = {};
  const OpenedKey& k = pending.get();  // rethrows the unlock's error
  secret_ = k.secret;
  current_key_id_ = k.key_id;
}

void Repository::use_public_key_only(const std::string& pinned_hex) {
  if (!pinned_hex.empty()) {
    Bytes pin = hex_decode(pinned_hex);
    if (pin.size() != 32 || !std::equal(pin.begin(), pin.end(), config_.public_key.begin())) {
      fail(ErrorCode::kWrongKey, "the public key of repository " + location() + " differs from the pinned key; "
                                 "refusing to encrypt backups to an unknown key");
    }
  }
  public_only_ = true;
}

std::unique_ptr<ObjectKeying> Repository::keying_for(const Manifest& m, const Key32& data_key) const {
  return std::make_unique<BackupKeying>(m.id, parse_cipher(m.cipher), data_key);
}

Key32 Repository::data_key_of(const Manifest& m) const {
  // The repository decides whether there is a key, never the manifest: an encrypted repository's backups all are.
  check_manifest_cipher(m, config_.encrypted, manifest_path("", m.id));
  if (!config_.encrypted) return Key32{};
  if (!secret_) {
    fail(ErrorCode::kWrongKey, "backup " + m.id + " is encrypted and this host has no key for it (write-only mode); "
                               "restore from a host that has the repository passphrase");
  }
  auto dk = open_data_key(m.wrapped_data_key, *secret_);
  if (!dk) fail(ErrorCode::kCorrupt, "backup " + m.id + ": its data key does not open with the repository key (manifest damaged or from another repository)");
  return *dk;
}

Bytes Repository::seal_key(const Key32& key) const {
  if (!config_.encrypted) return {};
  return seal_data_key(key, config_.public_key);
}

std::optional<Key32> Repository::metadata_key(const std::string& info) const {
  if (!config_.encrypted || !secret_) return std::nullopt;
  return derive_key(secret_->bytes(), info);
}

Key32 Repository::open_sealed_key(ByteView sealed, const std::string& what) const {
  if (!config_.encrypted) return Key32{};
  if (!secret_) {
    fail(ErrorCode::kWrongKey, what + " is encrypted and this host has no key for it; give the repository passphrase");
  }
  auto dk = open_data_key(sealed, *secret_);
  if (!dk) fail(ErrorCode::kCorrupt, what + ": its key does not open with the repository key (damaged or from another repository)");
  return *dk;
}

void Repository::verify_own_objects_if_unguarded(RepoLock& lock, const Manifest& m) {
  // While our lock is in place no strata command removes our objects. If it is gone ('strata unlock --all', or a
  // cleanup elsewhere that judged it stale), anything may have been removed: look before committing.
  if (!lock.lost()) return;
  size_t missing = 0;
  std::string first;
  for (const auto& o : m.stream.objects) {
    if (!storage_->stat(o.key)) {
      if (!missing++) first = o.key;
    }
  }
  if (missing) {
    fail(ErrorCode::kLocked, "backup " + m.id + " lost its lock while it ran (removed by 'strata unlock' or another "
                             "host's cleanup) and " + std::to_string(missing) + " of its " +
                             std::to_string(m.stream.objects.size()) + " objects are gone (" + first +
                             "); nothing was committed; run the backup again");
  }
  log::warn("lock_lost_objects_present", {{"backup", m.id}, {"objects", uint64_t(m.stream.objects.size())}});
}

Manifest Repository::backup(ByteSource& source, const BackupOptions& options, const ProgressFn& progress) {
  if (options.source.empty() || !valid_id(options.source)) {
    fail(ErrorCode::kUsage, "invalid source name '" + options.source + "': use letters, digits, '-', '_' or '.'");
  }
  const bool unlocking = pending_unlock_.valid();
  if (config_.encrypted && !secret_ && !public_only_ && !unlocking) {
    fail(ErrorCode::kWrongKey, "repository " + location() + " is locked: give the passphrase or use --write-only");
  }
  // No object size set (0 frames per object): the storage driver's hint, in whole frames, at least one.
  PipelineSettings pipeline = options.pipeline;
  if (pipeline.frames_per_object == 0 && pipeline.frame_size != 0) {
    uint64_t frames = storage_->object_size_hint() / pipeline.frame_size;
    pipeline.frames_per_object = static_cast<uint32_t>(std::max<uint64_t>(1, frames));
  }
  Manifest m;
  m.id = options.id.empty() ? new_backup_id() : options.id;
  if (!valid_id(m.id)) fail(ErrorCode::kUsage, "invalid backup id '" + m.id + "'");
  m.source = options.source;
  m.type = options.type;
  m.parent = options.parent;
  m.labels = options.labels;
  m.engine_json = options.engine_json;
  m.host = hostname();
  m.tool_version = kVersion;
  m.compression = options.pipeline.compression.to_string();
  m.frame_size = options.pipeline.frame_size;
  m.frames_per_object = pipeline.frames_per_object;
  m.writer = config_.encrypted ? (secret_ || unlocking ? "passphrase" : "public-key") : "unencrypted";
  Cipher cipher = config_.encrypted ? preferred_cipher() : Cipher::kNone;
  m.cipher = cipher_name(cipher);
  Key32 data_key{};
  if (config_.encrypted) {
    data_key = random_key();
    m.wrapped_data_key = seal_data_key(data_key, config_.public_key);
  }
  if (!writer_key_path_.empty() && !writer_key_) writer_key_ = load_writer_key_file(writer_key_path_);
  if (writer_key_) {
    // Signing with a key the repository does not know would make a backup every reader refuses: fail before work.
    auto rec = writer_record(writer_key_->id);
    if (!rec || rec->public_key != writer_key_->public_key) {
      fail(ErrorCode::kUsage, "writer key " + writer_key_->id + " (" + writer_key_->name + ") from " + writer_key_path_ +
                                  " is not registered in repository " + location() + "; register it where the passphrase is: "
                                  "'strata key add-writer --name " + writer_key_->name + " --public-key " +
                                  hex_encode(ByteView(writer_key_->public_key.data(), 32)) + "'");
    }
    m.writer_id = writer_key_->id;
    m.writer_name = rec->name;
  }
  RepoLock lock(*storage_, LockKind::kShared, "backup " + m.source, m.id);
  m.started_us = now_epoch_us();
  m.started_epoch = m.started_us / 1000000;
  m.started = iso_utc(m.started_epoch);
  const auto t0 = std::chrono::steady_clock::now();
  const Logger& logger = logger_or_default(options.pipeline.log);
  logger.info("backup_start", {{"backup", m.id}, {"source", m.source}, {"repo", location()}});
  auto keying = keying_for(m, data_key);
  std::vector<std::string> written;
  std::string entry_key;  // once this run wrote its index entry
  WriteGate gate;
  if (unlocking) {
    gate.ready = [this] { return pending_unlock_.wait_for(std::chrono::seconds(0)) == std::future_status::ready; };
    gate.open = [this] { finish_unlock(); };
  }
  try {
    m.stream = backup_stream(source, *storage_, *keying, pipeline, progress, &written, unlocking ? &gate : nullptr);
    finish_unlock();
    if (m.stream.plain_bytes == 0) {
      // `false | cat` or a tool that printed nothing: exit 0 with an empty backup is how backups silently stop.
      bool refuse = options.fail_on_empty ? *options.fail_on_empty
                                          : fail_on_empty_ ? *fail_on_empty_ : options.type != "stream";
      if (refuse) {
        fail(ErrorCode::kSourceFailed, "source " + m.source + " wrote nothing (0 bytes); no backup was stored "
                                       "(--fail-on-empty; --allow-empty stores an empty one)");
      }
      m.labels["strata.empty"] = "true";
      log::report_warning("backup_empty", "source " + m.source + " wrote nothing: backup " + m.id +
                                              " is empty (0 bytes) and labelled strata.empty=true; --fail-on-empty refuses such backups",
                          {{"backup", m.id}, {"source", m.source}});
    }
    if (options.engine_json_after) m.engine_json = options.engine_json_after();
    m.finished_epoch = now_epoch();
    m.finished = iso_utc(m.finished_epoch);
    // The last moment to give up: after the put below the backup exists.
    if (options.pipeline.cancel) options.pipeline.cancel->throw_if_cancelled();
    verify_own_objects_if_unguarded(lock, m);
    Bytes encoded = encode_manifest(m, cipher, manifest_key(data_key));
    if (writer_key_) {
      auto sig = sign_message(*writer_key_, manifest_signed_message(encoded, encoded.size()));
      append_manifest_signature(encoded, ByteView(sig.data(), sig.size()));
    }
    // The source index entry before the manifest: a crash between the two leaves an entry without a backup, which
    // readers skip, never a committed backup missing from its source's listing.
    if (options.catalog.empty()) {
      storage_->put(index_entry_key(m), as_bytes(encode_index_entry(m)), PutMode::kCreateOnly);
      entry_key = index_entry_key(m);
    }
    storage_->put(manifest_path(options.catalog, m.id), encoded, PutMode::kCreateOnly);
  } catch (const StrataError& e) {
    if (!entry_key.empty()) {
      try {
        storage_->remove(entry_key);
      } catch (...) {
        // Readers skip an entry without a manifest; 'strata cleanup' removes it.
      }
    }
    logger.info("backup_failed", {{"backup", m.id}, {"error", e.what()}, {"objects_to_remove", uint64_t(written.size())}});
    if (e.code() == ErrorCode::kAlreadyExists) {
      // Another writer committed this id: its objects are the same keys as ours. Leave them alone.
      fail(ErrorCode::kAlreadyExists, "backup id " + m.id + " was committed by another writer; nothing of this run was kept");
    }
    for (const auto& key : written) {
      try {
        storage_->remove(key);
      } catch (...) {
        // 'strata check' reports what is left and 'strata cleanup' removes it.
      }
    }
    throw;
  }
  m.sealed_loaded = true;
  logger.info("backup_done", {{"backup", m.id}, {"plain_bytes", m.stream.plain_bytes}, {"stored_bytes", m.stream.stored_bytes},
                              {"objects", uint64_t(m.stream.objects.size())},
                              {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}});
  return m;
}

std::vector<std::string> Repository::list_ids(const std::string& catalog) {
  std::string prefix = manifest_path(catalog, "");
  std::vector<std::string> out;
  for (const auto& o : storage_->list(prefix)) {
    std::string id = o.key.substr(prefix.size());
    if (id.find('/') == std::string::npos) out.push_back(id);
  }
  return out;
}

bool Repository::exists(const std::string& id, const std::string& catalog) {
  return storage_->stat(manifest_path(catalog, id)).has_value();
}

std::vector<std::pair<std::string, std::string>> Repository::all_manifests() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* prefix : {kBackups, kStreams}) {
    for (const auto& o : storage_->list(prefix)) {
      out.emplace_back(o.key, o.key.substr(o.key.rfind('/') + 1));
    }
  }
  return out;
}

Manifest Repository::read_public(const std::string& key, const std::string& id, Bytes* raw_out) {
  Bytes raw = storage_->get(key);
  Manifest m = decode_manifest_public(raw, key);
  if (m.id != id) fail(ErrorCode::kCorrupt, "manifest " + key + " names backup " + excerpt(m.id) + "; it was moved or replaced");
  check_manifest_cipher(m, config_.encrypted, key);
  verify_writer(m, raw, key);
  if (raw_out) *raw_out = std::move(raw);
  return m;
}

std::string Repository::resolve_id(const std::string& id) {
  if (!valid_id(id)) fail(ErrorCode::kUsage, "invalid backup id '" + id + "'");
  if (storage_->stat(kBackups + id)) return id;
  std::vector<std::string> matches;
  for (const auto& o : storage_->list(kBackups + id)) matches.push_back(o.key.substr(std::string(kBackups).size()));
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) fail(ErrorCode::kNotFound, "backup " + id + " not found in " + location() + "; run 'strata list' to see backups");
  fail(ErrorCode::kUsage, "backup id prefix '" + id + "' is ambiguous (" + std::to_string(matches.size()) + " matches); give more characters");
}

Manifest Repository::load(const std::string& id, bool need_sealed, const std::string& catalog) {
  std::string key = manifest_path(catalog, id);
  Bytes raw;
  try {
    raw = storage_->get(key);
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kNotFound) fail(ErrorCode::kNotFound, "backup " + id + " not found in " + location());
    throw;
  }
  Manifest m = decode_manifest_public(raw, key);
  if (m.id != id) fail(ErrorCode::kCorrupt, "manifest " + key + " names backup " + excerpt(m.id) + "; it was moved or replaced");
  check_manifest_cipher(m, config_.encrypted, key);
  verify_writer(m, raw, key);
  // Flagged where a backup is used (show, restore); list shows "unsigned" in its table instead.
  if (m.writer_id.empty() && has_writers()) log::warn("backup_unsigned", {{"manifest", key}});
  if (need_sealed || unlocked()) {
    Key32 dk = data_key_of(m);
    decode_manifest_sealed(raw, m, manifest_key(dk), key);
  }
  return m;
}

void Repository::restore(const Manifest& m, ByteSink& sink, const PipelineSettings& settings, const ProgressFn& progress) {
  if (!m.sealed_loaded) fail(ErrorCode::kWrongKey, "backup " + m.id + " cannot be restored without the repository key");
  Key32 dk = data_key_of(m);
  auto keying = keying_for(m, dk);
  // Objects are checked for presence before the first byte reaches the target: a missing object fails fast.
  for (const auto& o : m.stream.objects) {
    auto st = storage_->stat(o.key);
    if (!st) fail(ErrorCode::kCorrupt, "backup " + m.id + " cannot be restored: object " + o.key + " is missing; run 'strata check' to see all damage");
    if (st->size != o.size) {
      fail(ErrorCode::kCorrupt, "backup " + m.id + " cannot be restored: object " + o.key + " has " +
                                    std::to_string(st->size) + " bytes, the manifest records " + std::to_string(o.size));
    }
  }
  const Logger& logger = logger_or_default(settings.log);
  logger.info("restore_start", {{"backup", m.id}, {"target", sink.describe()}});
  restore_stream(*storage_, *keying, m.stream, sink, settings, progress);
  logger.info("restore_done", {{"backup", m.id}, {"plain_bytes", m.stream.plain_bytes}});
}

std::string Repository::object_problem(const ObjectRecord& o) {
  auto st = storage_->stat(o.key);
  if (!st) return "missing";
  return st->size == o.size ? "" : "wrong size";
}

std::map<std::string, std::vector<std::string>> Repository::children_by_parent() {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& id : list_ids("")) {
    std::string key = manifest_path("", id);
    try {
      Manifest m = decode_manifest_public(storage_->get(key), key);
      if (!m.parent.empty()) out[m.parent].push_back(id);
    } catch (const StrataError& e) {
      // A manifest that cannot be read names no parent we could honour; `strata check` reports it.
      if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kNotFound) throw;
    }
  }
  return out;
}

std::vector<std::string> Repository::dependants(const std::string& id) {
  return children_of({id})[id];
}

void Repository::remove_backup(const std::string& id, const std::string& catalog) {
  RepoLock lock(*storage_, LockKind::kExclusive, "delete " + id);
  if (catalog.empty()) {
    if (auto deps = children_of({id})[id]; !deps.empty()) {
      std::string list;
      for (const auto& d : deps) list += (list.empty() ? "" : ", ") + d;
      fail(ErrorCode::kUsage, "backup " + id + " cannot be deleted: " + list + " build" + (deps.size() == 1 ? "s" : "") +
                                  " on it and could no longer be restored; delete them first or together with it");
    }
  }
  remove_unlocked(id, catalog);
}

std::vector<std::string> Repository::delete_backups(const std::vector<std::string>& requested, bool dry_run) {
  std::optional<RepoLock> lock;
  std::string what;
  for (const auto& r : requested) what += " " + r;
  // Under the lock no backup can commit a new child of one we are about to delete.
  if (!dry_run) lock.emplace(*storage_, LockKind::kExclusive, "delete" + what);
  std::vector<std::string> ids;
  for (const auto& raw : requested) {
    std::string id;
    try {
      id = resolve_id(raw);
    } catch (const StrataError& e) {
      fail(e.code(), std::string(e.what()) + "; nothing was deleted");
    }
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  auto children = children_of(ids);
  std::set<std::string> chosen(ids.begin(), ids.end());
  std::string refused;
  std::vector<std::string> missing_all;
  for (const auto& id : ids) {
    auto it = children.find(id);
    if (it == children.end()) continue;
    std::vector<std::string> missing;
    for (const auto& c : it->second) {
      if (!chosen.count(c)) missing.push_back(c);
    }
    if (missing.empty()) continue;
    std::string list;
    for (const auto& c : missing) list += (list.empty() ? "" : ", ") + c;
    refused += (refused.empty() ? "" : "; ") + std::string("backup ") + id + " is the parent of " + list;
    missing_all.insert(missing_all.end(), missing.begin(), missing.end());
  }
  if (!refused.empty()) {
    std::string all = what;
    for (const auto& c : missing_all) all += " " + c;
    fail(ErrorCode::kUsage, refused + " (they build on it and could no longer be restored); nothing was deleted: "
                            "delete the dependants too ('strata delete" + all + "') or keep it");
  }
  // Dependants before what they build on: a run that stops half-way leaves whole chains only.
  std::vector<std::string> order;
  std::set<std::string> done;
  while (order.size() < ids.size()) {
    size_t before = order.size();
    for (const auto& id : ids) {
      if (done.count(id)) continue;
      bool ready = true;
      if (auto it = children.find(id); it != children.end()) {
        for (const auto& c : it->second) {
          if (chosen.count(c) && !done.count(c)) ready = false;
        }
      }
      if (!ready) continue;
      order.push_back(id);
      done.insert(id);
    }
    if (order.size() == before) {  // a cycle only a tampered manifest can make: delete the rest in the given order
      for (const auto& id : ids) {
        if (done.insert(id).second) order.push_back(id);
      }
    }
  }
  if (!dry_run) {
    for (const auto& id : order) remove_unlocked(id, "");
  }
  return order;
}

void Repository::purge_backup(const std::string& id, const std::string& catalog) { purge_backups({id}, catalog); }

namespace {

// fn(0..n-1) on up to `threads` threads (inline for one item); the first exception is rethrown once all are done.
void for_each_parallel(size_t n, size_t threads, const std::function<void(size_t)>& fn) {
  threads = std::min(threads, n);
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr first;
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) {
        try {
          fn(i);
        } catch (...) {
          std::lock_guard lock(mu);
          if (!first) first = std::current_exception();
          next.store(n);  // the others stop taking items
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace

void Repository::purge_backups(const std::vector<std::string>& ids, const std::string& catalog) {
  for (const auto& id : ids) {
    if (!valid_id(id)) fail(ErrorCode::kUsage, "invalid backup id '" + excerpt(id) + "'");
  }
  // Reads and listings are independent requests: on S3 they overlap (the driver caps requests in flight).
  constexpr size_t kThreads = 16;
  struct Doomed {
    bool listed = false;                 // its manifest is there
    std::optional<Manifest> manifest;    // readable
  };
  std::vector<Doomed> doomed(ids.size());
  for_each_parallel(ids.size(), kThreads, [&](size_t i) {
    const std::string key = manifest_path(catalog, ids[i]);
    Bytes raw;
    try {
      raw = storage_->get(key);
    } catch (const StrataError& e) {
      if (e.code() == ErrorCode::kNotFound) return;  // a delete cut short: only objects are left
      throw;
    }
    doomed[i].listed = true;
    try {
      doomed[i].manifest = decode_manifest_public(raw, key);
    } catch (const StrataError& e) {
      // A damaged manifest's error says "delete the backup": its objects are still found under data/<id>/ below.
      if (e.code() != ErrorCode::kCorrupt) throw;
      log::warn("manifest_damaged", {{"backup", ids[i]}, {"error", e.what()}});
    }
  });
  // Manifests first: once they are gone the backups are no longer listed, and anything left is a leftover.
  std::vector<std::string> keys;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (doomed[i].listed) keys.push_back(manifest_path(catalog, ids[i]));
  }
  storage_->remove_many(keys);
  // Then their index entries: one left by a crash here names a missing manifest, which readers skip.
  if (catalog.empty()) {
    keys.clear();
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!doomed[i].listed) continue;
      if (doomed[i].manifest && !doomed[i].manifest->source.empty()) keys.push_back(index_entry_key(*doomed[i].manifest));
      else index_remove(Manifest{}, ids[i]);  // unreadable: found by its id among every source's entries
    }
    storage_->remove_many(keys);
  }
  // Only keys under each backup's own data prefix: the public part is not authenticated without keys, and a
  // tampered manifest must not be able to steer a delete at another backup's objects.
  keys.clear();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!doomed[i].manifest) continue;
    const std::string own = layout::data_prefix(ids[i]);
    for (const auto& o : doomed[i].manifest->stream.objects) {
      if (o.key.compare(0, own.size(), own) == 0) keys.push_back(o.key);
      else log::warn("delete_skipped_foreign_key", {{"backup", ids[i]}, {"key", o.key}});
    }
  }
  storage_->remove_many(keys);
  // What else is under their prefixes: objects a manifest does not name (a damaged one's, a retried upload's).
  std::vector<std::vector<std::string>> rest(ids.size());
  for_each_parallel(ids.size(), kThreads, [&](size_t i) {
    for (const auto& o : storage_->list(layout::data_prefix(ids[i]))) rest[i].push_back(o.key);
  });
  keys.clear();
  for (auto& r : rest) keys.insert(keys.end(), r.begin(), r.end());
  storage_->remove_many(keys);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (doomed[i].listed) log::info("backup_deleted", {{"backup", ids[i]}});
  }
}

void Repository::remove_unlocked(const std::string& id, const std::string& catalog) {
  // A delete names a backup that is there (purge_backups would quietly remove only an absent one's leftovers).
  if (!exists(id, catalog)) fail(ErrorCode::kNotFound, "backup " + id + " not found in " + location());
  purge_backups({id}, catalog);
}

namespace {

// Reads one object whole in blocks: checks the stored digest and, with a keying, authenticates every frame.
std::string verify_object(Storage& storage, const ObjectRecord& obj, const ObjectKeying* keying, bool last_object,
                          Sha256* plain_hash, uint64_t* bytes_read) {
  constexpr uint64_t kBlock = 8u << 20;
  Xxh128 stored;
  FrameSplitter split;
  uint64_t offset = 0, frame = obj.first_frame, frames = 0;
  std::optional<FrameContext> ctx;
  if (keying) ctx = keying->frame_context(obj.name);
  Bytes plain;
  std::string problem;  // why a frame failed to verify
  auto verify_frame = [&](const FrameSplitter::Frame& f) {
    if (!decode_frame(*ctx, frame, f.bytes, f.payload(), plain)) {
      problem = "object " + obj.key + ": frame " + std::to_string(frame) + " failed authentication";
      return false;
    }
    bool expect_last = last_object && frames + 1 == obj.frame_count;
    if (f.header.last() != expect_last) {
      problem = "object " + obj.key + ": frame " + std::to_string(frame) + " has a wrong last-frame flag";
      return false;
    }
    if (plain_hash) plain_hash->update(plain);
    ++frame;
    ++frames;
    return true;
  };
  while (offset < obj.size) {
    Bytes b;
    try {
      b = storage.get(obj.key, offset, std::min(kBlock, obj.size - offset));
    } catch (const StrataError& e) {
      return e.what();
    }
    if (b.empty()) return "object " + obj.key + " is truncated at " + std::to_string(offset) + " bytes";
    stored.update(b);
    offset += b.size();
    *bytes_read += b.size();
    if (!keying) continue;
    // The manifest's layout was validated: frames start right after the object header (validate_layout).
    switch (split.feed(std::make_shared<const Bytes>(std::move(b)), verify_frame)) {
      case FrameSplitter::Status::kMore: break;
      case FrameSplitter::Status::kStopped: return problem;
      case FrameSplitter::Status::kBadObjectHeader: return "object " + obj.key + " has a bad header";
      case FrameSplitter::Status::kDamagedFrameHeader:
        return "object " + obj.key + ": frame " + std::to_string(frame) + " has a damaged header";
    }
  }
  Digest16 d = stored.finish();
  if (d != obj.digest) return "object " + obj.key + " does not match its recorded digest (stored bytes damaged)";
  if (keying && (frames != obj.frame_count || split.has_partial())) {
    return "object " + obj.key + " holds " + std::to_string(frames) + " whole frames where the manifest records " +
           std::to_string(obj.frame_count);
  }
  return "";
}

}  // namespace

namespace {

// The group of restic's --read-data-subset=n/t an object belongs to: from its key, so the same on every run and
// every host, and independent of how many other objects there are.
uint32_t subset_group(const std::string& key, uint32_t t) {
  Digest32 d = Sha256::of(as_bytes(key));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[i];
  return static_cast<uint32_t>(v % t);
}

}  // namespace

CheckReport Repository::check(const CheckOptions& options) {
  CheckReport report;
  report.keys_used = config_.encrypted ? secret_.has_value() : true;
  std::mt19937_64 rng(options.seed ? options.seed : std::random_device{}());
  std::set<std::string> committed;
  // First every manifest and the presence of every object, so that a sample is drawn from all of them.
  struct Entry {
    std::string id;
    Manifest m;
    std::vector<bool> present, read;
  };
  std::vector<Entry> entries;
  std::vector<std::pair<size_t, size_t>> candidates;  // (entry, object) present with the recorded size
  std::set<std::string> damaged_ids;
  auto damage = [&](const std::string& id, const Manifest* m, const std::string& what) {
    report.errors.push_back("backup " + id + ": " + what);
    if (!damaged_ids.insert(id).second) return;
    DamagedBackup d{id, "", "", "", "", what};
    if (m) {
      d.source = m->source;
      d.type = m->type;
      d.started = m->started;
      d.finished = m->finished;
    }
    report.damaged.push_back(std::move(d));
  };
  std::set<std::string> expected_entries;  // the source index entries of the readable user backups
  for (const auto& [key, id] : all_manifests()) {
    committed.insert(id);
    ++report.backups;
    Manifest m;
    try {
      Bytes raw;
      m = read_public(key, id, &raw);
      if (report.keys_used) decode_manifest_sealed(raw, m, manifest_key(data_key_of(m)), key);
    } catch (const StrataError& e) {
      damage(id, m.id.empty() ? nullptr : &m, e.what());  // the public part, when only the sealed one failed
      continue;
    }
    if (layout::has_prefix(key, kBackups)) expected_entries.insert(index_entry_key(m));
    Entry e{id, std::move(m), {}, {}};
    e.present.assign(e.m.stream.objects.size(), false);
    e.read.assign(e.m.stream.objects.size(), false);
    for (size_t i = 0; i < e.m.stream.objects.size(); ++i) {
      const auto& obj = e.m.stream.objects[i];
      ++report.objects;
      auto st = storage_->stat(obj.key);
      if (!st) {
        damage(id, &e.m, "object " + obj.key + " is missing");
        continue;
      }
      if (st->size != obj.size) {
        damage(id, &e.m, "object " + obj.key + " has " + std::to_string(st->size) + " bytes, the manifest records " +
                             std::to_string(obj.size));
        continue;
      }
      e.present[i] = true;
      candidates.emplace_back(entries.size(), i);
    }
    entries.push_back(std::move(e));
  }
  // Which objects to read. A share is a count, not a coin per object: 10% of 4 objects reads one, never none.
  if (options.subset_t > 0) {
    for (auto [e, i] : candidates) {
      entries[e].read[i] = subset_group(entries[e].m.stream.objects[i].key, options.subset_t) == options.subset_n - 1;
    }
  } else if (options.read_fraction >= 1.0) {
    for (auto [e, i] : candidates) entries[e].read[i] = true;
  } else if (options.read_fraction > 0 && !candidates.empty()) {
    size_t k = static_cast<size_t>(std::ceil(options.read_fraction * static_cast<double>(candidates.size()) - 1e-9));
    k = std::clamp<size_t>(k, 1, candidates.size());
    std::shuffle(candidates.begin(), candidates.end(), rng);
    for (size_t j = 0; j < k; ++j) entries[candidates[j].first].read[candidates[j].second] = true;
  }
  uint64_t to_read = 0;
  for (const auto& e : entries) {
    for (size_t i = 0; i < e.read.size(); ++i) {
      if (e.read[i]) to_read += e.m.stream.objects[i].size;
    }
  }
  if (options.progress) options.progress(0, to_read);
  for (auto& e : entries) {
    std::unique_ptr<ObjectKeying> keying;
    if (e.m.sealed_loaded) keying = keying_for(e.m, data_key_of(e.m));
    Sha256 plain_hash;
    bool all_read = !e.read.empty() && std::all_of(e.read.begin(), e.read.end(), [](bool b) { return b; });
    for (size_t i = 0; i < e.m.stream.objects.size(); ++i) {
      if (!e.read[i]) continue;
      const auto& obj = e.m.stream.objects[i];
      ++report.objects_read;
      std::string err = verify_object(*storage_, obj, keying.get(), i + 1 == e.m.stream.objects.size(),
                                      all_read ? &plain_hash : nullptr, &report.bytes_read);
      if (options.progress) options.progress(report.bytes_read, to_read);
      if (!err.empty()) {
        damage(e.id, &e.m, err);
        all_read = false;
      }
    }
    if (all_read && keying) {
      if (plain_hash.finish() != e.m.stream.plain_sha256) {
        damage(e.id, &e.m, "restored data would not match the recorded SHA-256");
      } else {
        ++report.backups_verified;
      }
    }
  }
  check_key_files(report);
  std::set<std::string> writing;
  for (const auto& l : RepoLock::list(*storage_)) {
    if (!l.backup_id.empty() && !l.stale) writing.insert(l.backup_id);
    report.notes.push_back("lock " + l.key + ": " + l.command + " (pid " + std::to_string(l.holder.pid) + " on " +
                           l.holder.host + ")" + (l.stale ? " is stale (" + l.stale_reason + ")" : ""));
  }
  for (const auto& o : storage_->list(kData)) {
    std::string rest = o.key.substr(std::string(kData).size());
    std::string id = rest.substr(0, rest.find('/'));
    if (committed.count(id)) continue;
    if (writing.count(id)) {
      report.notes.push_back("object " + o.key + " belongs to backup " + id + " which is still being written");
    } else {
      report.leftovers.push_back(o.key);
    }
  }
  check_index(report, expected_entries, committed, writing);
  for (const auto& o : storage_->list_incomplete("")) {
    if (is_tier_key(o.key)) continue;  // tiering's own (tier gc removes them, under tiering's locks)
    if (writing.empty()) report.leftovers.push_back(o.key + " (incomplete write)");
    else report.notes.push_back("incomplete write " + o.key + " may belong to a backup still running");
  }
  return report;
}

void Repository::check_key_files(CheckReport& report) {
  if (!config_.encrypted) return;
  for (const auto& o : storage_->list(kKeys)) {
    try {
      WrappedKey w = wrapped_key_from_json(to_string(storage_->get(o.key)), o.key);
      if (kKeys + w.id != o.key) fail(ErrorCode::kCorrupt, o.key + " holds key " + excerpt(w.id) + " (renamed or replaced)");
    } catch (const StrataError& e) {
      if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kUnsupportedVersion) throw;
      report.errors.push_back("key " + o.key + " is damaged: " + e.what());
    }
  }
}

namespace {

// The time a data object's backup started, from its key (data/<YYYYMMDDTHHMMSSZ-...>/...); 0 if it does not say.
int64_t backup_epoch_of_key(const std::string& key) {
  if (key.compare(0, std::string(kData).size(), kData) != 0) return 0;
  std::tm tm{};
  std::string id = key.substr(std::string(kData).size(), 16);
  if (id.size() < 16 || !strptime(id.c_str(), "%Y%m%dT%H%M%SZ", &tm)) return 0;
  return ::timegm(&tm);
}

}  // namespace

std::vector<std::string> Repository::cleanup(bool dry_run, int64_t min_age_seconds, std::vector<std::string>* kept) {
  std::optional<RepoLock> lock;
  if (!dry_run) lock.emplace(*storage_, LockKind::kExclusive, "cleanup");
  const int64_t now = LockTiming::process_default().now_epoch();
  // Kopia's rule on top of the lock: a leftover of a backup that started less than min_age ago may belong to a
  // writer whose lock we could not see (another repository client, a clock far off); leave it for a later run.
  auto young = [&](const std::string& key) {
    if (min_age_seconds <= 0) return false;
    int64_t t = backup_epoch_of_key(key);
    bool is_young = t == 0 || now - t < min_age_seconds;
    if (is_young && kept) kept->push_back(key);
    return is_young;
  };
  std::set<std::string> committed;
  for (const auto& entry : all_manifests()) committed.insert(entry.second);
  std::vector<std::string> removed;
  for (const auto& o : storage_->list(kData)) {
    std::string rest = o.key.substr(std::string(kData).size());
    if (committed.count(rest.substr(0, rest.find('/')))) continue;
    if (young(o.key)) continue;
    if (!dry_run) storage_->remove(o.key);
    removed.push_back(o.key);
  }
  // Index entries whose backup never committed (or whose delete was cut short), by the start their name records.
  for (const auto& e : index_entries_without_backup(committed, nullptr, nullptr)) {
    std::string key = layout::index_entry_key(e.source, e.started_us, e.id);
    if (min_age_seconds > 0 && now - e.started_us / 1000000 < min_age_seconds) {
      if (kept) kept->push_back(key);
      continue;
    }
    if (!dry_run) storage_->remove(key);
    removed.push_back(key);
  }
  // Under the exclusive lock no writer is running, so every incomplete write older than min_age is abandoned.
  for (const auto& o : storage_->list_incomplete("")) {
    // Tiering data is not the backup format's: an incomplete write under tier/ may be an index rewrite in flight,
    // which the repository lock does not cover. `strata tier gc` removes tiering's leftovers under its own locks.
    if (is_tier_key(o.key)) continue;
    if (young(o.key)) continue;
    if (!dry_run) storage_->remove_incomplete(o);
    removed.push_back(o.key + " (incomplete write)");
  }
  if (!dry_run) log::info("cleanup_done", {{"objects_removed", uint64_t(removed.size())}});
  return removed;
}

std::optional<WriterRecord> Repository::writer_record(const std::string& id) {
  auto it = writer_cache_.find(id);
  if (it != writer_cache_.end()) return it->second;
  std::optional<WriterRecord> rec;
  std::string key = kWritersPrefix + id;
  try {
    rec = writer_record_from_json(to_string(storage_->get(key)), key);
    if (rec->id != id) rec.reset();
  } catch (const StrataError& e) {
    if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorrupt) throw;
    if (e.code() == ErrorCode::kCorrupt) log::warn("writer_record_damaged", {{"writer", key}, {"error", e.what()}});
  }
  writer_cache_[id] = rec;
  return rec;
}

bool Repository::has_writers() {
  if (!has_writers_) has_writers_ = !storage_->list(kWritersPrefix).empty();
  return *has_writers_;
}

void Repository::verify_writer(Manifest& m, ByteView raw, const std::string& where) {
  WriterStatus status = WriterStatus::kUnsigned;
  std::optional<WriterRecord> rec;
  if (!m.signature.empty()) {
    rec = writer_record(m.writer_id);
    if (!rec) {
      status = WriterStatus::kUnknownWriter;
    } else if (!verify_message(rec->public_key, manifest_signed_message(raw, m.signed_size), m.signature)) {
      status = WriterStatus::kBadSignature;
    } else if (!secret_) {
      status = WriterStatus::kUnverifiedRegistry;
    } else {
      status = writer_record_authentic(*rec, config_.id, writer_registry_key(secret_->bytes())) ? WriterStatus::kVerified
                                                                                               : WriterStatus::kUnknownWriter;
    }
    if (rec && status != WriterStatus::kUnknownWriter) m.writer_name = rec->name;
  }
  m.writer_status = writer_status_name(status);
  switch (status) {
    case WriterStatus::kBadSignature:
      fail(ErrorCode::kCorrupt, "manifest " + where + " has a writer signature that does not verify: it was changed after "
                                    "writer " + m.writer_name + " signed it, or forged; do not trust this backup");
    case WriterStatus::kUnknownWriter:
      fail(ErrorCode::kCorrupt, "manifest " + where + " is signed by writer " + m.writer_id + " ('" + excerpt(m.writer_name) +
                                    "'), which is not registered in this repository (or whose registration does not "
                                    "authenticate); do not trust this backup; if the writer is yours, register it with "
                                    "'strata key add-writer'");
    case WriterStatus::kUnsigned:
      if (refuse_unsigned_) {
        fail(ErrorCode::kCorrupt, "manifest " + where + " is not signed by a registered writer and unsigned_backups is "
                                      "'refuse'; set unsigned_backups = \"warn\" to accept it");
      }
      break;
    default:
      break;
  }
}

std::vector<WriterInfo> Repository::writers() {
  std::vector<WriterInfo> out;
  for (const auto& o : storage_->list(kWritersPrefix)) {
    WriterInfo info;
    info.id = o.key.substr(std::string(kWritersPrefix).size());
    try {
      WriterRecord r = writer_record_from_json(to_string(storage_->get(o.key)), o.key);
      info.name = r.name;
      info.created = r.created;
      info.host = r.host;
      info.authentic = r.id == info.id && secret_ &&
                       writer_record_authentic(r, config_.id, writer_registry_key(secret_->bytes()));
    } catch (const StrataError& e) {
      if (e.code() != ErrorCode::kCorrupt) throw;
      info.damaged = e.what();
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::string Repository::add_writer(const std::string& name, const SignPublicKey& pk) {
  if (!config_.encrypted) {
    fail(ErrorCode::kUsage, "repository " + location() + " is not encrypted: it has no key to authenticate writers with");
  }
  if (!secret_) fail(ErrorCode::kWrongKey, "registering a writer needs the repository passphrase");
  WriterRecord r = make_writer_record(name, pk, config_.id, writer_registry_key(secret_->bytes()));
  try {
    storage_->put(kWritersPrefix + r.id, as_bytes(writer_record_to_json(r)), PutMode::kCreateOnly);
  } catch (const StrataError& e) {
    if (e.code() != ErrorCode::kAlreadyExists) throw;
    fail(ErrorCode::kAlreadyExists, "writer " + r.id + " is already registered; 'strata key writers' lists them");
  }
  writer_cache_.erase(r.id);
  has_writers_ = true;
  log::info("writer_added", {{"writer", r.id}, {"name", r.name}});
  return r.id;
}

void Repository::remove_writer(const std::string& id) {
  if (!secret_) fail(ErrorCode::kWrongKey, "removing a writer needs the repository passphrase");
  RepoLock lock(*storage_, LockKind::kExclusive, "key remove-writer " + id);
  if (id.size() != 16 || !storage_->stat(kWritersPrefix + id)) {
    fail(ErrorCode::kNotFound, "writer " + excerpt(id) + " not found; run 'strata key writers'");
  }
  storage_->remove(kWritersPrefix + id);
  writer_cache_.erase(id);
  log::info("writer_removed", {{"writer", id}});
}

std::vector<KeyInfo> Repository::keys() {
  std::vector<KeyInfo> out;
  for (const auto& o : storage_->list(kKeys)) {
    try {
      WrappedKey w = wrapped_key_from_json(to_string(storage_->get(o.key)), o.key);
      out.push_back({w.id, w.created, w.host, w.label, w.id == current_key_id_, ""});
    } catch (const StrataError& e) {
      if (e.code() != ErrorCode::kCorrupt) throw;
      out.push_back({o.key.substr(std::string(kKeys).size()), "", "", "", false, e.what()});
    }
  }
  return out;
}

std::string Repository::add_key(const std::string& passphrase, const std::string& label, const KdfParams& kdf) {
  if (!config_.encrypted) fail(ErrorCode::kUsage, "repository " + location() + " is not encrypted; it has no keys");
  if (!secret_) fail(ErrorCode::kWrongKey, "adding a key needs the repository unlocked with an existing passphrase");
  if (passphrase.empty()) fail(ErrorCode::kUsage, "an empty passphrase is not allowed");
  WrappedKey w = wrap_secret_key(*secret_, passphrase, config_.id, kdf);
  w.created = iso_utc(now_epoch());
  w.host = hostname();
  w.label = label;
  storage_->put(kKeys + w.id, as_bytes(wrapped_key_to_json(w)), PutMode::kCreateOnly);
  log::info("key_added", {{"key", w.id}});
  return w.id;
}

void Repository::remove_key(const std::string& id) {
  if (!secret_) fail(ErrorCode::kWrongKey, "removing a key needs the repository unlocked with a passphrase");
  RepoLock lock(*storage_, LockKind::kExclusive, "key remove " + id);
  auto all = keys();
  bool found = std::any_of(all.begin(), all.end(), [&](const KeyInfo& k) { return k.id == id; });
  if (!found) fail(ErrorCode::kNotFound, "key " + id + " not found; run 'strata key list'");
  if (all.size() == 1) fail(ErrorCode::kUsage, "key " + id + " is the last key; removing it would make every backup unreadable");
  if (id == current_key_id_) {
    fail(ErrorCode::kUsage, "key " + id + " is the one you unlocked with; unlock with another passphrase to remove it");
  }
  storage_->remove(kKeys + id);
  log::info("key_removed", {{"key", id}});
}

std::vector<LockInfo> Repository::unlock(const std::vector<std::string>& ids, bool all) {
  std::vector<LockInfo> removed;
  auto locks = RepoLock::list(*storage_);
  for (const auto& id : ids) {
    auto it = std::find_if(locks.begin(), locks.end(), [&](const LockInfo& l) { return l.id == id || l.key == id; });
    if (it == locks.end()) fail(ErrorCode::kNotFound, "lock " + id + " not found in " + location() + "; run 'strata unlock' to list the locks");
  }
  for (const auto& l : locks) {
    bool named = std::find(ids.begin(), ids.end(), l.id) != ids.end() || std::find(ids.begin(), ids.end(), l.key) != ids.end();
    // Without names or --all: what no live holder can still own. An unreadable (empty, damaged) lock file has no
    // holder that could refresh it; local and S3 writes are atomic, so it is never a lock being written.
    bool take = all || named || (ids.empty() && (l.stale || !l.readable));
    if (!take) continue;
    if (all || named) storage_->remove(l.key);
    else if (!RepoLock::remove_if_unchanged(*storage_, l)) continue;
    log::info("lock_removed", {{"lock", l.key}, {"reason", l.readable ? l.stale_reason : "unreadable"}});
    removed.push_back(l);
  }
  return removed;
}

size_t Repository::unlock_all(bool only_stale) { return unlock({}, !only_stale).size(); }

}  // namespace strata
