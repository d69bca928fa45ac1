#include "tiering/archive.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "common/error.hpp"
#include "repo/layout.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"
#include "tiering/failpoint.hpp"

namespace strata::tiering {
namespace {

constexpr char kIndexMagic[8] = {'S', 'T', 'R', 'T', 'I', 'D', 'X', '1'};
constexpr char kPackMagic[8] = {'S', 'T', 'R', 'T', 'P', 'A', 'K', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 128;
constexpr size_t kRecordSize = 128;
constexpr size_t kPackHeaderSize = 16;
constexpr size_t kSealedMax = 80;
constexpr size_t kEntryHeader = 40;  // u8 codec | 3 zero | u32 plain_len | content digest (32)
constexpr uint32_t kFlagShredded = 1;

struct Record {
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t flags = 0;
  Digest32 stored_sha{};
  Digest32 key_hash{};
  uint8_t wrapped[32 + kTagSize]{};
};

void encode_record(const Record& r, uint8_t* p) {
  std::memset(p, 0, kRecordSize);
  put_u64le(p, r.offset);
  put_u32le(p + 8, r.length);
  put_u32le(p + 12, r.flags);
  std::memcpy(p + 16, r.stored_sha.data(), 32);
  std::memcpy(p + 48, r.key_hash.data(), 32);
  std::memcpy(p + 80, r.wrapped, sizeof r.wrapped);
}

Record decode_record(const uint8_t* p) {
  Record r;
  r.offset = get_u64le(p);
  r.length = get_u32le(p + 8);
  r.flags = get_u32le(p + 12);
  std::memcpy(r.stored_sha.data(), p + 16, 32);
  std::memcpy(r.key_hash.data(), p + 48, 32);
  std::memcpy(r.wrapped, p + 80, sizeof r.wrapped);
  return r;
}

Bytes aad_for(const char* domain, const std::string& pack_id, const Digest32& key_hash) {
  Bytes aad(domain, domain + std::strlen(domain));
  aad.push_back(0);
  aad.insert(aad.end(), pack_id.begin(), pack_id.end());
  aad.push_back(0);
  aad.insert(aad.end(), key_hash.begin(), key_hash.end());
  return aad;
}

void slot_nonce(uint32_t slot, uint8_t nonce[kNonceSize]) {
  std::memset(nonce, 0, kNonceSize);
  put_u64le(nonce + 4, slot);
}

}  // namespace

struct ArchiveStore::Header {
  uint32_t count = 0;
  Cipher cipher = Cipher::kAes256Gcm;
  Bytes sealed;
  uint64_t data_size = 0;
};

void parse_location(const std::string& location, std::string& pack_id, uint32_t& slot) {
  auto slash = location.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= location.size()) {
    fail(ErrorCode::kCorrupt, "archive location '" + location + "' is malformed (expected <pack-id>/<slot>)");
  }
  pack_id = location.substr(0, slash);
  try {
    slot = static_cast<uint32_t>(std::stoul(location.substr(slash + 1)));
  } catch (...) {
    fail(ErrorCode::kCorrupt, "archive location '" + location + "' is malformed (expected <pack-id>/<slot>)");
  }
}

ArchiveStore::ArchiveStore(Repository& repo, std::string entity, Compression compression)
    : repo_(repo), storage_(repo.storage()), entity_(std::move(entity)), prefix_(layout::tier_prefix(entity_)),
      packs_prefix_(layout::tier_packs_prefix(entity_)), index_prefix_(layout::tier_index_prefix(entity_)),
      compression_(compression) {}

ArchiveStore::~ArchiveStore() {
  for (auto& [id, k] : key_cache_) std::fill(k.begin(), k.end(), 0);
}

Digest32 ArchiveStore::key_hash(const std::string& key) const {
  return Sha256::of(as_bytes("strata/tier/v1/" + entity_ + "/" + key));
}

std::string ArchiveStore::pack_of(const std::string& location) const {
  std::string id;
  uint32_t slot;
  parse_location(location, id, slot);
  return id;
}

std::vector<std::string> ArchiveStore::write_pack(const std::vector<ArchiveEntry>& entries,
                                                  const std::function<bool(const std::string&)>& reusable) {
  if (entries.empty()) return {};
  // Deterministic id: the same entities with the same contents always land in the same pack.
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return entries[a].key < entries[b].key; });
  Sha256 idh;
  idh.update(as_bytes(entity_));
  for (size_t i : order) {
    idh.update(as_bytes(entries[i].key));
    uint8_t zero = 0;
    idh.update(ByteView(&zero, 1));
    idh.update(entries[i].digest);
  }
  std::string base_id = digest_hex(idh.finish()).substr(0, 32);
  std::string pack_id = base_id;

  std::vector<std::string> locations;
  // A pack with this id exists when a run with the same batch died after storing it (reuse it), or when the same
  // entities with the same rows were frozen, thawed and partly reaped before (then it no longer matches: take the
  // next id in a fixed sequence, so re-runs still converge on one key).
  for (int attempt = 1; storage_.stat(index_key(pack_id)); ++attempt) {
    bool same = false;
    try {
      // Checked before the entries are verified: a release recorded now is either still listed (refuse) or already
      // reaped, and then its key is destroyed and verification fails.
      same = (!reusable || reusable(pack_id)) && verify_existing(pack_id, entries, locations);
    } catch (const StrataError& e) {
      if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorrupt) throw;
    }
    if (same) return locations;
    if (attempt >= 16) fail(ErrorCode::kCorrupt, "entity " + entity_ + ": packs " + base_id + "-* exist but none matches the entities being frozen; run `strata tier status` and report it");
    pack_id = base_id + "-" + std::to_string(attempt);
  }

  Cipher cipher = preferred_cipher();
  Key32 dk = random_key();
  Bytes sealed = repo_.seal_key(dk);
  if (sealed.size() > kSealedMax) fail(ErrorCode::kGeneric, "sealed key too large");

  Bytes data(kPackHeaderSize);
  std::memcpy(data.data(), kPackMagic, 8);
  put_u32le(data.data() + 8, kVersion);
  put_u32le(data.data() + 12, static_cast<uint32_t>(entries.size()));
  Bytes index(kHeaderSize + kRecordSize * entries.size());
  Bytes compressed, plain;
  for (uint32_t slot = 0; slot < entries.size(); ++slot) {
    const auto& e = entries[slot];
    Record r;
    r.key_hash = key_hash(e.key);
    Key32 ek = random_key();
    Codec codec = compress_frame(compression_, as_bytes(e.document), compressed);
    plain.assign(kEntryHeader, 0);
    plain[0] = static_cast<uint8_t>(codec);
    put_u32le(plain.data() + 4, static_cast<uint32_t>(e.document.size()));
    std::memcpy(plain.data() + 8, e.digest.data(), 32);
    plain.insert(plain.end(), compressed.begin(), compressed.end());
    uint8_t nonce[kNonceSize] = {};
    Bytes aad = aad_for("strata/tier/entry/v1", pack_id, r.key_hash);
    r.offset = data.size();
    r.length = static_cast<uint32_t>(plain.size() + kTagSize);
    data.resize(data.size() + r.length);
    // Each entry has its own random key, so the fixed nonce is used once per key.
    aead_seal(cipher, ek, nonce, aad, plain, data.data() + r.offset);
    r.stored_sha = Sha256::of(ByteView(data.data() + r.offset, r.length));
    slot_nonce(slot, nonce);
    Bytes kaad = aad_for("strata/tier/key/v1", pack_id, r.key_hash);
    aead_seal(cipher, dk, nonce, kaad, ByteView(ek.data(), ek.size()), r.wrapped);
    std::fill(ek.begin(), ek.end(), 0);
    encode_record(r, index.data() + kHeaderSize + kRecordSize * slot);
    locations.push_back(pack_id + "/" + std::to_string(slot));
  }
  std::memcpy(index.data(), kIndexMagic, 8);
  put_u32le(index.data() + 8, kVersion);
  put_u32le(index.data() + 12, static_cast<uint32_t>(entries.size()));
  index[16] = static_cast<uint8_t>(cipher);
  put_u32le(index.data() + 20, static_cast<uint32_t>(sealed.size()));
  std::memcpy(index.data() + 24, sealed.data(), sealed.size());
  put_u64le(index.data() + 104, data.size());
  Digest32 data_sha = Sha256::of(data);
  std::memcpy(index.data() + 112, data_sha.data(), 16);

  try {
    storage_.put(data_key(pack_id), data, PutMode::kCreateOnly);
  } catch (const StrataError& e) {
    if (e.code() != ErrorCode::kAlreadyExists) throw;
    // A data object without an index is what a crash between the two writes leaves; nothing can refer to it.
    storage_.remove(data_key(pack_id));
    storage_.put(data_key(pack_id), data, PutMode::kCreateOnly);
  }
  failpoint("freeze.after_data");
  storage_.put(index_key(pack_id), index, PutMode::kCreateOnly);
  failpoint("freeze.after_index");
  // Verify what the storage holds now, not what we meant to write.
  Bytes back = storage_.get(data_key(pack_id));
  if (back.size() != data.size() || Sha256::of(back) != data_sha) {
    fail(ErrorCode::kStorage, "entity " + entity_ + ": pack " + pack_id + " reads back different from what was written; nothing was deleted, check the storage");
  }
  Bytes iback = storage_.get(index_key(pack_id));
  if (iback != index) {
    fail(ErrorCode::kStorage, "entity " + entity_ + ": index of pack " + pack_id + " reads back different; nothing was deleted, check the storage");
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    key_cache_[pack_id] = dk;
  }
  std::fill(dk.begin(), dk.end(), 0);
  return locations;
}

bool ArchiveStore::verify_existing(const std::string& pack_id, const std::vector<ArchiveEntry>& entries,
                                   std::vector<std::string>& locations) {
  Header h = read_header(pack_id);
  if (h.count != entries.size()) return false;
  Bytes index = storage_.get(index_key(pack_id));
  std::map<std::string, uint32_t> slot_of;
  for (uint32_t s = 0; s < h.count; ++s) {
    Record r = decode_record(index.data() + kHeaderSize + kRecordSize * s);
    slot_of[hex_encode(r.key_hash)] = s;
  }
  locations.clear();
  for (const auto& e : entries) {
    auto it = slot_of.find(hex_encode(key_hash(e.key)));
    if (it == slot_of.end()) return false;
    std::string loc = pack_id + "/" + std::to_string(it->second);
    ReadEntry got = read(loc, e.key);
    if (got.digest != e.digest) return false;
    locations.push_back(loc);
  }
  return true;
}

ArchiveStore::Header ArchiveStore::read_header(const std::string& pack_id) {
  Bytes b = storage_.get(index_key(pack_id), 0, kHeaderSize);
  if (b.size() != kHeaderSize || std::memcmp(b.data(), kIndexMagic, 8) != 0) {
    fail(ErrorCode::kCorrupt, "entity " + entity_ + ": index of pack " + pack_id + " is damaged (bad header)");
  }
  if (get_u32le(b.data() + 8) > kVersion) {
    fail(ErrorCode::kUnsupportedVersion, "entity " + entity_ + ": pack " + pack_id + " has a newer format; upgrade strata");
  }
  Header h;
  h.count = get_u32le(b.data() + 12);
  h.cipher = static_cast<Cipher>(b[16]);
  uint32_t sl = get_u32le(b.data() + 20);
  if (sl > kSealedMax) fail(ErrorCode::kCorrupt, "entity " + entity_ + ": index of pack " + pack_id + " is damaged");
  h.sealed.assign(b.begin() + 24, b.begin() + 24 + sl);
  h.data_size = get_u64le(b.data() + 104);
  return h;
}

Key32 ArchiveStore::pack_key(const std::string& pack_id, const Header& h) {
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = key_cache_.find(pack_id);
    if (it != key_cache_.end()) return it->second;
  }
  Key32 k = repo_.open_sealed_key(h.sealed, "entity " + entity_ + " pack " + pack_id);
  std::lock_guard<std::mutex> g(mu_);
  if (key_cache_.size() > 4096) key_cache_.clear();
  key_cache_[pack_id] = k;
  return k;
}

namespace {

ReadEntry open_entry(const std::string& entity, const std::string& key, const std::string& pack_id, Cipher cipher,
                     const Key32& dk, uint32_t slot, const Record& r, ByteView stored) {
  std::string what = "archive of " + entity + "/" + key + " (pack " + pack_id + ")";
  if (r.flags & kFlagShredded) fail(ErrorCode::kNotFound, what + " was erased");
  if (stored.size() != r.length || Sha256::of(stored) != r.stored_sha) {
    fail(ErrorCode::kCorrupt, what + " is damaged (digest mismatch); restore the pack from a copy or erase the entity");
  }
  uint8_t nonce[kNonceSize];
  slot_nonce(slot, nonce);
  Key32 ek{};
  Bytes kaad = aad_for("strata/tier/key/v1", pack_id, r.key_hash);
  if (!aead_open(cipher, dk, nonce, kaad, ByteView(r.wrapped, sizeof r.wrapped), ek.data())) {
    fail(ErrorCode::kCorrupt, what + ": entry key does not authenticate (index damaged or from another repository)");
  }
  std::memset(nonce, 0, sizeof nonce);
  Bytes plain(stored.size() - kTagSize);
  Bytes aad = aad_for("strata/tier/entry/v1", pack_id, r.key_hash);
  bool ok = aead_open(cipher, ek, nonce, aad, stored, plain.data());
  std::fill(ek.begin(), ek.end(), 0);
  if (!ok || plain.size() < kEntryHeader) fail(ErrorCode::kCorrupt, what + " does not authenticate; it is damaged");
  ReadEntry out;
  uint32_t plain_len = get_u32le(plain.data() + 4);
  std::memcpy(out.digest.data(), plain.data() + 8, 32);
  out.document.resize(plain_len);
  if (!decompress_frame(static_cast<Codec>(plain[0]), ByteView(plain.data() + kEntryHeader, plain.size() - kEntryHeader),
                        reinterpret_cast<uint8_t*>(out.document.data()), plain_len)) {
    fail(ErrorCode::kCorrupt, what + " does not decompress; it is damaged");
  }
  return out;
}

}  // namespace

ReadEntry ArchiveStore::read(const std::string& location, const std::string& key) {
  std::string pack_id;
  uint32_t slot;
  parse_location(location, pack_id, slot);
  std::string what = "archive of " + entity_ + "/" + key;
  Header h;
  try {
    h = read_header(pack_id);
  } catch (const StrataError& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    fail(ErrorCode::kNotFound, what + ": pack " + pack_id + " is missing from " + storage_.describe() + "; restore it from a copy or erase the entity");
  }
  if (slot >= h.count) fail(ErrorCode::kCorrupt, what + ": location " + location + " is past the end of its pack");
  Bytes rb = storage_.get(index_key(pack_id), kHeaderSize + kRecordSize * uint64_t{slot}, kRecordSize);
  if (rb.size() != kRecordSize) fail(ErrorCode::kCorrupt, what + ": index of pack " + pack_id + " is truncated");
  Record r = decode_record(rb.data());
  if (r.key_hash != key_hash(key)) fail(ErrorCode::kCorrupt, what + ": location " + location + " holds another entity");
  if (r.flags & kFlagShredded) fail(ErrorCode::kNotFound, what + " was erased");
  Bytes stored = storage_.get(data_key(pack_id), r.offset, r.length);
  return open_entry(entity_, key, pack_id, h.cipher, pack_key(pack_id, h), slot, r, stored);
}

std::vector<ReadEntry> ArchiveStore::read_many(const std::vector<std::pair<std::string, std::string>>& location_keys) {
  std::vector<ReadEntry> out(location_keys.size());
  std::map<std::string, std::vector<std::pair<size_t, uint32_t>>> by_pack;
  for (size_t i = 0; i < location_keys.size(); ++i) {
    std::string pack_id;
    uint32_t slot;
    parse_location(location_keys[i].first, pack_id, slot);
    by_pack[pack_id].emplace_back(i, slot);
  }
  for (auto& [pack_id, wanted] : by_pack) {
    if (wanted.size() == 1) {
      out[wanted[0].first] = read(location_keys[wanted[0].first].first, location_keys[wanted[0].first].second);
      continue;
    }
    if (!storage_.stat(index_key(pack_id))) fail(ErrorCode::kNotFound, "entity " + entity_ + ": pack " + pack_id + " is missing from " + storage_.describe());
    Bytes index = storage_.get(index_key(pack_id));
    Header h = read_header(pack_id);
    Key32 dk = pack_key(pack_id, h);
    bool whole = wanted.size() * 4 >= h.count;
    Bytes data;
    if (whole) data = storage_.get(data_key(pack_id));
    for (auto [i, slot] : wanted) {
      const std::string& key = location_keys[i].second;
      if (slot >= h.count || index.size() < kHeaderSize + kRecordSize * (uint64_t{slot} + 1)) {
        fail(ErrorCode::kCorrupt, "archive of " + entity_ + "/" + key + ": location past the end of pack " + pack_id);
      }
      Record r = decode_record(index.data() + kHeaderSize + kRecordSize * slot);
      if (r.key_hash != key_hash(key)) fail(ErrorCode::kCorrupt, "archive of " + entity_ + "/" + key + ": location holds another entity");
      if (whole) {
        if (r.offset + r.length > data.size()) fail(ErrorCode::kCorrupt, "archive of " + entity_ + "/" + key + ": pack " + pack_id + " is truncated");
        out[i] = open_entry(entity_, key, pack_id, h.cipher, dk, slot, r, ByteView(data.data() + r.offset, r.length));
      } else {
        Bytes stored = storage_.get(data_key(pack_id), r.offset, r.length);
        out[i] = open_entry(entity_, key, pack_id, h.cipher, dk, slot, r, stored);
      }
    }
  }
  return out;
}

bool ArchiveStore::shred(const std::string& location, const std::string& key) {
  return shred_many({{location, key}}) == 1;
}

size_t ArchiveStore::shred_many(const std::vector<std::pair<std::string, std::string>>& location_keys) {
  std::map<std::string, std::vector<std::pair<uint32_t, const std::string*>>> by_pack;
  for (const auto& [loc, key] : location_keys) {
    std::string pack_id;
    uint32_t slot;
    parse_location(loc, pack_id, slot);
    by_pack[pack_id].emplace_back(slot, &key);
  }
  size_t destroyed = 0;
  for (const auto& [pack_id, slots] : by_pack) destroyed += shred_in_pack(pack_id, slots);
  return destroyed;
}

size_t ArchiveStore::shred_slots(const std::string& pack_id, const std::vector<uint32_t>& slots) {
  std::vector<std::pair<uint32_t, const std::string*>> s;
  for (uint32_t slot : slots) s.emplace_back(slot, nullptr);
  return shred_in_pack(pack_id, s);
}

size_t ArchiveStore::shred_in_pack(const std::string& pack_id, const std::vector<std::pair<uint32_t, const std::string*>>& slots) {
  if (!storage_.stat(index_key(pack_id))) return 0;
  Bytes index = storage_.get(index_key(pack_id));
  if (index.size() < kHeaderSize || std::memcmp(index.data(), kIndexMagic, 8) != 0) {
    fail(ErrorCode::kCorrupt, "entity " + entity_ + ": index of pack " + pack_id + " is damaged (bad header)");
  }
  uint32_t count = get_u32le(index.data() + 12);
  if (index.size() < kHeaderSize + kRecordSize * uint64_t{count}) {
    fail(ErrorCode::kCorrupt, "entity " + entity_ + ": index of pack " + pack_id + " is truncated");
  }
  size_t changed = 0;
  for (const auto& [slot, key] : slots) {
    if (slot >= count) fail(ErrorCode::kCorrupt, "entity " + entity_ + ": location " + pack_id + "/" + std::to_string(slot) + " is past the end of its pack");
    uint8_t* p = index.data() + kHeaderSize + kRecordSize * slot;
    Record r = decode_record(p);
    if (key && r.key_hash != key_hash(*key)) fail(ErrorCode::kCorrupt, "archive of " + entity_ + "/" + *key + ": location " + pack_id + "/" + std::to_string(slot) + " holds another entity");
    if (r.flags & kFlagShredded) continue;
    r.flags |= kFlagShredded;
    std::memset(r.wrapped, 0, sizeof r.wrapped);
    encode_record(r, p);
    ++changed;
  }
  if (!changed) return 0;
  uint32_t live = 0;
  for (uint32_t s = 0; s < count; ++s) {
    if (!(get_u32le(index.data() + kHeaderSize + kRecordSize * s + 12) & kFlagShredded)) ++live;
  }
  if (live == 0) {
    // Data first: an index whose data is gone still says every entry was destroyed.
    storage_.remove(data_key(pack_id));
    storage_.remove(index_key(pack_id));
  } else {
    auto w = storage_.open_write(index_key(pack_id), PutMode::kOverwrite);
    w->write(index);
    // A crash here leaves the rewritten copy as an incomplete write: still holding the wrapped keys of every entry
    // live in it (tier gc and erase remove such copies; see incomplete_writes).
    failpoint("index.before_rename");
    w->commit();
  }
  return changed;
}

void ArchiveStore::remove_pack(const std::string& pack_id) {
  storage_.remove(data_key(pack_id));
  storage_.remove(index_key(pack_id));
}

std::vector<std::string> ArchiveStore::incomplete_writes() {
  std::vector<std::string> out;
  for (const auto& o : storage_.list_incomplete(prefix_)) out.push_back(o.key);
  return out;
}

size_t ArchiveStore::remove_incomplete_writes() {
  auto all = storage_.list_incomplete(prefix_);
  for (const auto& o : all) storage_.remove_incomplete(o);
  return all.size();
}

std::vector<std::string> ArchiveStore::pack_ids() {
  std::vector<std::string> out;
  for (const auto& o : storage_.list(index_prefix_)) out.push_back(o.key.substr(index_prefix_.size()));
  return out;
}

std::vector<std::string> ArchiveStore::orphan_data_objects() {
  std::vector<std::string> ids = pack_ids();
  std::set<std::string> indexed(ids.begin(), ids.end());
  std::vector<std::string> out;
  for (const auto& o : storage_.list(packs_prefix_)) {
    std::string id = o.key.substr(packs_prefix_.size());
    if (!indexed.count(id)) out.push_back(id);
  }
  return out;
}

std::vector<uint32_t> ArchiveStore::live_slots(const std::string& pack_id) {
  Bytes index = storage_.get(index_key(pack_id));
  if (index.size() < kHeaderSize || std::memcmp(index.data(), kIndexMagic, 8) != 0) {
    fail(ErrorCode::kCorrupt, "entity " + entity_ + ": index of pack " + pack_id + " is damaged (bad header)");
  }
  uint32_t count = get_u32le(index.data() + 12);
  std::vector<uint32_t> out;
  for (uint32_t s = 0; s < count && kHeaderSize + kRecordSize * (uint64_t{s} + 1) <= index.size(); ++s) {
    if (!(get_u32le(index.data() + kHeaderSize + kRecordSize * s + 12) & kFlagShredded)) out.push_back(s);
  }
  return out;
}

std::vector<std::string> ArchiveStore::find_all(const std::string& key) {
  std::vector<std::string> out;
  Digest32 kh = key_hash(key);
  for (const auto& o : storage_.list(index_prefix_)) {
    std::string pack_id = o.key.substr(index_prefix_.size());
    Bytes index = storage_.get(o.key);
    if (index.size() < kHeaderSize) continue;
    uint32_t count = get_u32le(index.data() + 12);
    for (uint32_t s = 0; s < count && kHeaderSize + kRecordSize * (s + 1) <= index.size(); ++s) {
      Record r = decode_record(index.data() + kHeaderSize + kRecordSize * s);
      if (r.key_hash == kh && !(r.flags & kFlagShredded)) out.push_back(pack_id + "/" + std::to_string(s));
    }
  }
  return out;
}

std::vector<PackInfo> ArchiveStore::packs() {
  std::vector<PackInfo> out;
  std::map<std::string, uint64_t> sizes;
  for (const auto& o : storage_.list(packs_prefix_)) sizes[o.key.substr(packs_prefix_.size())] = o.size;
  for (const auto& o : storage_.list(index_prefix_)) {
    PackInfo p;
    p.pack_id = o.key.substr(index_prefix_.size());
    Bytes index = storage_.get(o.key);
    if (index.size() < kHeaderSize) continue;
    p.entries = get_u32le(index.data() + 12);
    for (uint32_t s = 0; s < p.entries && kHeaderSize + kRecordSize * (s + 1) <= index.size(); ++s) {
      if (!(get_u32le(index.data() + kHeaderSize + kRecordSize * s + 12) & kFlagShredded)) ++p.live;
    }
    p.data_bytes = sizes.count(p.pack_id) ? sizes[p.pack_id] : 0;
    out.push_back(p);
  }
  return out;
}

}  // namespace strata::tiering
