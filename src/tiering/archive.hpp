#pragma once
// Frozen entities in a Strata repository (docs/TIERING.md "Archive format"). Entities are stored in packs: one data
// object `tier/<entity>/packs/<pack-id>` holding many sealed entries back to back, and one small index object
// `tier/<entity>/index/<pack-id>` with a fixed-size record per entry (offset, length, digest, and that entry's own
// key wrapped under the pack's data key). The index is the commit point of a pack. A single entity is read with
// two small range reads of the index and one of the data object. Erasing an entity destroys its key in the
// index (crypto-shredding): the data object is never rewritten, so it can sit in a cold storage class.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "io/codec.hpp"
#include "io/crypto.hpp"
#include "repo/layout.hpp"

namespace strata {
class Repository;
class Storage;
}  // namespace strata

namespace strata::tiering {

struct ArchiveEntry {
  std::string key;       // the entity key as text
  std::string document;  // plaintext document (JSON)
  Digest32 digest{};     // content digest of the entity's rows: decides the pack id, and lets a re-run reuse a pack
};

struct ReadEntry {
  std::string document;
  Digest32 digest{};
};

struct PackInfo {
  std::string pack_id;
  uint32_t entries = 0;
  uint32_t live = 0;  // entries whose key has not been destroyed
  uint64_t data_bytes = 0;
};

class ArchiveStore {
 public:
  ArchiveStore(Repository& repo, std::string entity, Compression compression);
  ~ArchiveStore();

  // Writes one pack holding `entries` (create-only), reads both objects back and verifies them; returns each
  // entry's location ("<pack-id>/<slot>"). The pack id is derived from the keys and digests, so a run repeated after
  // a crash finds its own pack and reuses it once every entry has been decrypted and matched — but only if
  // `reusable(pack_id)` says so: a pack with an entry a thaw released is about to be destroyed by `reap`, so it must
  // never be referenced again (the next id in the sequence is taken instead).
  std::vector<std::string> write_pack(const std::vector<ArchiveEntry>& entries,
                                      const std::function<bool(const std::string& pack_id)>& reusable = {});
  // One entity: authenticates and decompresses. Throws kNotFound (erased/absent) or kCorrupt naming entity/key.
  ReadEntry read(const std::string& location, const std::string& key);
  // Many at once, grouped by pack (one index read per pack, one data read when most of a pack is wanted).
  std::vector<ReadEntry> read_many(const std::vector<std::pair<std::string, std::string>>& location_keys);
  // Destroys the entry's key. When no live entry remains, removes the pack. Returns false if it was already gone.
  // Callers serialize rewrites of one pack's index (tiering holds a database advisory lock).
  bool shred(const std::string& location, const std::string& key);
  // The same for many entries: one index rewrite per pack. Returns how many keys were destroyed.
  size_t shred_many(const std::vector<std::pair<std::string, std::string>>& location_keys);
  // Every entry of `key` in any pack of this entity (old archives kept after thaw included).
  std::vector<std::string> find_all(const std::string& key);
  std::vector<PackInfo> packs();
  // For the garbage collector. Pack ids with an index object, and data objects that have none (what a crash between
  // a pack's two writes leaves).
  std::vector<std::string> pack_ids();
  std::vector<std::string> orphan_data_objects();
  // Slots of a pack whose key has not been destroyed.
  std::vector<uint32_t> live_slots(const std::string& pack_id);
  // Destroys these slots' keys without knowing the entities' keys (shred_many checks them); removes the pack when
  // nothing in it is live any more. Returns how many keys were destroyed.
  size_t shred_slots(const std::string& pack_id, const std::vector<uint32_t>& slots);
  // Writes that were started under tier/<entity>/ but never committed (a crashed freeze's data or index object, a
  // crashed index rewrite: the latter still holds wrapped keys that a later erase destroyed in the real index).
  // Callers must exclude every writer first (tiering holds the gc and index-rewrite locks exclusively).
  std::vector<std::string> incomplete_writes();
  size_t remove_incomplete_writes();
  // Removes a pack's data object, then its index.
  void remove_pack(const std::string& pack_id);
  std::string pack_of(const std::string& location) const;

  std::string data_key(const std::string& pack_id) const { return packs_prefix_ + pack_id; }
  std::string index_key(const std::string& pack_id) const { return index_prefix_ + pack_id; }
  Digest32 key_hash(const std::string& key) const;

 private:
  struct Header;
  Header read_header(const std::string& pack_id);
  Key32 pack_key(const std::string& pack_id, const Header& h);
  // Destroys `slots` of one pack; a non-null key hash per slot must match its record.
  size_t shred_in_pack(const std::string& pack_id, const std::vector<std::pair<uint32_t, const std::string*>>& slots);
  bool verify_existing(const std::string& pack_id, const std::vector<ArchiveEntry>& entries,
                       std::vector<std::string>& locations);

  Repository& repo_;
  Storage& storage_;
  std::string entity_;
  std::string prefix_, packs_prefix_, index_prefix_;  // repo/layout.hpp
  Compression compression_;
  std::mutex mu_;
  std::map<std::string, Key32> key_cache_;  // pack id -> opened data key (opening costs an X25519 operation)
};

// "<pack-id>/<slot>" -> parts; throws kCorrupt on a malformed location.
void parse_location(const std::string& location, std::string& pack_id, uint32_t& slot);

}  // namespace strata::tiering
