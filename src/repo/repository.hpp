#pragma once
// A Strata repository: config, keys, backups (manifests), data objects and locks on one Storage.
// The repository is self-describing: everything needed to list, restore and check lives in it.
#include <map>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/pipeline.hpp"
#include "repo/keys.hpp"
#include "repo/lock.hpp"
#include "repo/manifest.hpp"
#include "repo/writer.hpp"

namespace strata {

class Storage;
class BackupIndex;
struct IndexEntry;
class ByteSource;
class ByteSink;
class RepoLock;

inline constexpr uint32_t kRepoVersion = 1;

struct RepoConfig {
  std::string id;
  uint32_t version = kRepoVersion;
  std::string created;
  bool encrypted = true;
  PublicKey public_key{};
};

struct InitOptions {
  bool encrypted = true;
  std::string passphrase;
  KdfParams kdf;
  std::string key_label = "initial";
};

struct BackupOptions {
  std::string source;
  std::map<std::string, std::string> labels;
  std::string type = "stream";
  std::string parent;
  std::string engine_json = "{}";
  PipelineSettings pipeline;
  std::string id;  // normally generated
  // Empty: a user-visible backup ("backups/<id>"). Otherwise an engine's side stream such as "wal/pg1" or
  // "binlog/db1", kept out of `strata list` ("streams/<catalog>/<id>") but checked and cleaned up the same way.
  std::string catalog;
  // Engines whose metadata (end LSN, binlog position) is only known once the tool has exited: called after the
  // source finished and before the manifest is written; its result replaces engine_json.
  std::function<std::string()> engine_json_after;
  // A stream of 0 bytes: refused (kSourceFailed, nothing kept) when true; stored with a warning and the label
  // strata.empty=true when false. Unset: the repository's policy (set_fail_on_empty), else on for engine backups
  // (type other than "stream": a database never backs up to nothing) and off for plain streams.
  std::optional<bool> fail_on_empty;
};

// A manifest that could not be read (damaged, forged, or from a newer strata): listed apart so one bad file does
// not hide every other backup.
struct DamagedManifest {
  std::string key;    // backups/<id> or streams/<catalog>/<id>
  std::string error;  // the one-line reason
};

// `strata repo reindex`: the source index rebuilt from the manifests (repo/index.hpp).
struct ReindexReport {
  size_t manifests = 0;  // user backups indexed
  size_t written = 0;    // entries added or rewritten
  size_t removed = 0;    // entries of backups that are gone
  std::vector<DamagedManifest> damaged;  // manifests that could not be indexed
};

struct WriterInfo {
  std::string id, name, created, host;
  bool authentic = false;  // its record authenticates with the repository key (needs the passphrase)
  std::string damaged;
};

struct KeyInfo {
  std::string id, created, host, label;
  bool current = false;
  std::string damaged;  // why the key file cannot be read; such a key can still be removed
};

struct CheckOptions {
  // Which objects to read (and verify); at most one of these:
  double read_fraction = 0.0;  // 0 = metadata and object presence only; 1 = every object; in between: a random
                               // ceil(fraction x objects) of them, at least one
  uint64_t seed = 0;           // for sampling; 0 = random
  uint32_t subset_n = 0, subset_t = 0;  // restic's --read-data-subset=n/t: the objects whose key hashes to group n
                                        // of t, the same on every run, so t runs cover everything
  // Bytes read so far of the total to read, while reading.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// A backup `check` found damaged, with what its manifest says of it (empty when the manifest itself is what is
// damaged): what an invalidation notice to the OPS platform carries.
struct DamagedBackup {
  std::string id, source, type, started, finished;
  std::string error;  // the first error found in it
};

struct CheckReport {
  size_t backups = 0;
  size_t objects = 0;
  size_t objects_read = 0;
  uint64_t bytes_read = 0;
  bool keys_used = false;        // manifests authenticated, and the frames of every object read
  size_t backups_verified = 0;   // backups whose every object was read: their plaintext SHA-256 was recomputed
  std::vector<std::string> errors;     // damage: exit non-zero
  std::vector<DamagedBackup> damaged;  // the backups those errors are in, once each, in the order found
  std::vector<std::string> leftovers;  // objects of backups that never committed, and incomplete writes
  std::vector<std::string> notes;
};

class Repository {
 public:
  static void init(Storage& storage, const InitOptions& options);
  // Reads the config. Throws kNotARepository / kUnsupportedVersion / kCorrupt.
  explicit Repository(std::unique_ptr<Storage> storage);
  ~Repository();

  const RepoConfig& config() const { return config_; }
  Storage& storage() { return *storage_; }
  std::string location() const;

  // Opens the secret key with a passphrase. Throws kWrongKey if no stored key opens.
  void unlock(const std::string& passphrase);
  // unlock() on a background thread, for a backup() that follows: the Argon2id derivation (~0.1 s and 64 MiB) then
  // overlaps with reading and compressing the stream, while no byte reaches storage before it has succeeded — the
  // check that the repository's public key is really ours comes before anything is encrypted to it. backup()
  // completes the unlock and throws its error.
  void unlock_async(const std::string& passphrase);
  bool unlocked() const { return secret_.has_value() || !config_.encrypted; }
  // Write-only mode: back up with just the public key; `pinned` (hex) must match the repository's if given.
  void use_public_key_only(const std::string& pinned_hex);

  Manifest backup(ByteSource& source, const BackupOptions& options, const ProgressFn& progress);
  // Every readable manifest, oldest first. A damaged one is skipped and appended to `damaged`, or, if that is
  // null, logged as a warning. With a source (user catalog) the source index is asked (indexed()): only that
  // source's manifests are read, and only its damaged ones reported; without the index every manifest is read
  // and every damaged one reported, since a damaged manifest's source is unknown.
  std::vector<Manifest> list(const std::string& source_filter = "", const std::string& catalog = "",
                             std::vector<DamagedManifest>* damaged = nullptr);
  // Ids in a catalog, sorted, without reading the manifests.
  std::vector<std::string> list_ids(const std::string& catalog = "");
  bool exists(const std::string& id, const std::string& catalog = "");
  // The newest committed backup of `source` (with the index: one manifest read); throws kNotFound naming the source.
  std::string latest_id(const std::string& source);
  // Resolves a unique id prefix; throws kNotFound.
  std::string resolve_id(const std::string& id_or_prefix);
  // Loads and, when keys are available, verifies the sealed part.
  Manifest load(const std::string& id, bool need_sealed, const std::string& catalog = "");
  void restore(const Manifest& m, ByteSink& sink, const PipelineSettings& settings, const ProgressFn& progress);
  // Why an object of a manifest cannot be read as recorded ("missing", "wrong size"); empty when it is present with
  // its recorded size. For engines that check a whole chain before they touch a target.
  std::string object_problem(const ObjectRecord& o);
  // Deletes one backup under an exclusive lock; refuses one that other backups build on (kUsage, naming them).
  void remove_backup(const std::string& id, const std::string& catalog = "");
  // `strata delete`: resolves every id (or unique prefix) first, refuses the whole request if one is unknown or
  // if a backup others build on would be deleted without them, then deletes dependants before what they build
  // on. Returns the ids in deletion order; with dry_run deletes nothing (and takes no lock).
  std::vector<std::string> delete_backups(const std::vector<std::string>& ids, bool dry_run);
  // Retention's physical delete of one expired backup (platform/retention/rotation.cpp): its manifest, then its
  // objects under data/<id>/ — nothing else, and no lock of its own: the caller holds a shared one, so backups of
  // other sources keep running. A manifest already gone (a delete cut short) leaves only the objects to remove.
  // With a catalog: one side stream (an archived WAL segment) the same way.
  void purge_backup(const std::string& id, const std::string& catalog = "");
  // purge_backup of many at once, as rotation deletes them: the manifests are read in parallel, then removed in one
  // remove_many (no longer listed), then every object under their own data prefixes in another — a rotation of
  // thousands of backups on S3 is a few requests per backup instead of one per object. A crash in between leaves
  // objects that `cleanup` removes, never a listed backup without its data; the caller never puts a backup and
  // one it builds on in one call (rotation deletes dependants in an earlier call).
  void purge_backups(const std::vector<std::string>& ids, const std::string& catalog = "");
  // Backups of the user catalog whose parent is `id` (incrementals that need it to restore).
  std::vector<std::string> dependants(const std::string& id);
  void set_fail_on_empty(std::optional<bool> policy) { fail_on_empty_ = policy; }
  CheckReport check(const CheckOptions& options);
  // True when the repository has the source index marker (index/v1): every committed user backup has its entry
  // and queries by source read only that source's. Without it (a repository from before the index) they scan.
  bool indexed();
  // Rebuilds every source index entry from the manifests under an exclusive lock (adds missing ones, removes those
  // of backups that are gone), then writes the marker.
  ReindexReport reindex();
  // Removes objects of backups that never committed. Returns the keys removed (or that would be, if dry_run).
  // Leftovers of backups that started less than `min_age_seconds` ago are left alone (listed in `kept`).
  static constexpr int64_t kCleanupMinAge = 3600;
  std::vector<std::string> cleanup(bool dry_run, int64_t min_age_seconds = kCleanupMinAge,
                                   std::vector<std::string>* kept = nullptr);

  // Keys for other formats kept in this repository (tiering archives): seal a fresh random key to the repository
  // public key (empty for unencrypted repositories, whose data keys are all zero), and open one again. `what` names
  // the object in error messages.
  Bytes seal_key(const Key32& key) const;
  // A key for authenticating small metadata records (retention tombstones, repo/expiry.hpp): HKDF of the
  // repository secret key with `info`. Empty without the passphrase and for unencrypted repositories.
  std::optional<Key32> metadata_key(const std::string& info) const;
  // list() and latest_id() leave out backups with a retention tombstone (expired/<id>) unless this is set
  // (list --all, expired restore).
  void set_include_expired(bool include) { include_expired_ = include; }
  Key32 open_sealed_key(ByteView sealed, const std::string& what) const;

  // Writer identities (repo/writer.hpp). Backups written through this handle are signed with the key in `path`
  // (read at the first backup); the writer must be registered. Empty: unsigned.
  void set_writer_key_file(const std::string& path) { writer_key_path_ = path; }
  // Unsigned backups are refused (true) or flagged with a warning once writers are registered (false, default).
  void set_refuse_unsigned(bool refuse) { refuse_unsigned_ = refuse; }
  std::vector<WriterInfo> writers();
  std::string add_writer(const std::string& name, const SignPublicKey& pk);
  void remove_writer(const std::string& id);

  std::vector<KeyInfo> keys();
  std::string add_key(const std::string& passphrase, const std::string& label, const KdfParams& kdf);
  void remove_key(const std::string& id);
  // Removes the locks named by id; with none, `all` removes every lock, otherwise the stale and unreadable ones.
  // Returns what was removed. Throws kNotFound for a named lock that does not exist.
  std::vector<LockInfo> unlock(const std::vector<std::string>& ids, bool all);
  size_t unlock_all(bool only_stale);

 private:
  // Every committed manifest: (storage key, id).
  std::vector<std::pair<std::string, std::string>> all_manifests();
  void verify_own_objects_if_unguarded(RepoLock& lock, const Manifest& m);
  std::unique_ptr<ObjectKeying> keying_for(const Manifest& m, const Key32& data_key) const;
  Key32 data_key_of(const Manifest& m) const;
  struct OpenedKey {
    SecretKey secret;
    std::string key_id;
  };
  OpenedKey open_secret(const std::string& passphrase) const;
  // Reads and checks one manifest's public part against this repository (id, cipher).
  Manifest read_public(const std::string& key, const std::string& id, Bytes* raw = nullptr);
  // Key files that cannot be parsed, as check errors.
  void check_key_files(CheckReport& report);
  void finish_unlock();
  std::optional<WriterRecord> writer_record(const std::string& id);
  // Checks m's signature (sets writer_status and writer_name), then applies the policy: throws kCorrupt for a bad
  // signature, an unknown writer, or (when refusing) an unsigned manifest.
  void verify_writer(Manifest& m, ByteView raw, const std::string& where);
  bool has_writers();
  // parent id -> the ids of the user backups that name it (damaged manifests skipped).
  std::map<std::string, std::vector<std::string>> children_by_parent();
  // The same for `ids` only: through the source index when there is one (repository_index.cpp).
  std::map<std::string, std::vector<std::string>> children_of(const std::vector<std::string>& ids);
  // One manifest's public part for a listing: nullopt when it is gone (a warning when an index entry named it) or
  // damaged (appended to `damaged`, else a warning).
  std::optional<Manifest> read_listed(const std::string& key, const std::string& id, bool from_index,
                                      std::vector<DamagedManifest>* damaged);
  std::unique_ptr<BackupIndex> source_index(std::vector<DamagedManifest>* damaged);
  // The backups of one source, oldest first, expired ones hidden unless include_expired_; with newest_only just the
  // newest readable one.
  std::vector<Manifest> source_backups(const std::string& source, std::vector<DamagedManifest>* damaged, bool newest_only);
  // check() and cleanup() of the source index: entries whose backup is not among `committed` (ids with a
  // manifest); `strays` gets keys under index/src/ that are no entry, `present` every entry key.
  std::vector<IndexEntry> index_entries_without_backup(const std::set<std::string>& committed, std::vector<std::string>* strays,
                                                       std::set<std::string>* present = nullptr);
  // When indexed, also the `expected` entries that are missing.
  void check_index(CheckReport& report, const std::set<std::string>& expected, const std::set<std::string>& committed,
                   const std::set<std::string>& writing);
  // Removes the index entry of a backup whose manifest was just removed (`m` empty when it could not be read).
  void index_remove(const Manifest& m, const std::string& id);
  void remove_unlocked(const std::string& id, const std::string& catalog);

  std::unique_ptr<Storage> storage_;
  RepoConfig config_;
  std::optional<SecretKey> secret_;
  std::string current_key_id_;
  bool public_only_ = false;
  std::shared_future<OpenedKey> pending_unlock_;
  std::string writer_key_path_;
  std::optional<WriterKey> writer_key_;
  bool refuse_unsigned_ = false;
  std::map<std::string, std::optional<WriterRecord>> writer_cache_;
  std::optional<bool> has_writers_;
  std::optional<bool> fail_on_empty_;
  bool include_expired_ = false;
  std::optional<bool> indexed_;
};

}  // namespace strata
