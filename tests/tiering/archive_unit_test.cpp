// The tiering archive format (docs/TIERING.md "Archive format") over the in-memory storage, without a database:
// a pack round-trips every entry byte for byte, one read touches only its own entry, a re-run reuses a pack only
// when allowed, crypto-shredding makes exactly one entry unreadable, and damage is named instead of returned.
#include <gtest/gtest.h>

#include <set>

#include "../common/test_helpers.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"
#include "tiering/archive.hpp"

using namespace strata;
using namespace strata::tiering;

namespace {

class TierArchive : public ::testing::Test {
 protected:
  void SetUp() override {
    MemoryStorage s(state_);
    InitOptions o;
    o.passphrase = "pw";
    o.kdf = KdfParams{1, 8ull << 20};
    Repository::init(s, o);
    repo_ = std::make_unique<Repository>(std::make_unique<MemoryStorage>(state_));
    repo_->unlock("pw");
  }
  // A fresh store (no pack key cached), as another process would open it.
  ArchiveStore store() { return ArchiveStore(*repo_, "players", parse_compression("zstd:3")); }

  static std::vector<ArchiveEntry> entries(size_t n, const std::string& salt = "") {
    std::vector<ArchiveEntry> out;
    for (size_t i = 0; i < n; ++i) {
      ArchiveEntry e;
      e.key = "key-" + std::to_string(i);
      // Documents of different sizes and content, one empty-ish, one large and incompressible-ish.
      e.document = R"({"key":")" + e.key + R"(","salt":")" + salt + R"(","rows":")" + std::string(i * 37, static_cast<char>('a' + i % 26)) + "\"}";
      if (i == 3) e.document += std::string(20000, 'z');
      e.digest = Sha256::of(as_bytes(e.document + salt));
      out.push_back(e);
    }
    return out;
  }
  Bytes& object(const std::string& key) { return state_->objects.at(key); }

  std::shared_ptr<MemoryStorage::State> state_ = std::make_shared<MemoryStorage::State>();
  std::unique_ptr<Repository> repo_;
};

TEST_F(TierArchive, APackRoundTripsEveryEntryAndReadManyAgreesWithRead) {
  auto es = entries(7);
  auto a = store();
  auto locs = a.write_pack(es);
  ASSERT_EQ(locs.size(), es.size());
  std::string pack = a.pack_of(locs[0]);
  EXPECT_EQ(pack.size(), 32u);
  auto b = store();
  std::vector<std::pair<std::string, std::string>> lks;
  for (size_t i = 0; i < es.size(); ++i) {
    EXPECT_EQ(locs[i], pack + "/" + std::to_string(i));
    ReadEntry r = b.read(locs[i], es[i].key);
    EXPECT_EQ(r.document, es[i].document);
    EXPECT_EQ(r.digest, es[i].digest);
    lks.emplace_back(locs[i], es[i].key);
  }
  auto many = store().read_many(lks);
  ASSERT_EQ(many.size(), es.size());
  for (size_t i = 0; i < es.size(); ++i) EXPECT_EQ(many[i].document, es[i].document);
  auto packs = b.packs();
  ASSERT_EQ(packs.size(), 1u);
  EXPECT_EQ(packs[0].pack_id, pack);
  EXPECT_EQ(packs[0].entries, 7u);
  EXPECT_EQ(packs[0].live, 7u);
  EXPECT_EQ(packs[0].data_bytes, object(b.data_key(pack)).size());
  EXPECT_EQ(b.live_slots(pack).size(), 7u);
  // The stored bytes are sealed: no document text appears in the data object or the index.
  std::string data(object(b.data_key(pack)).begin(), object(b.data_key(pack)).end());
  EXPECT_EQ(data.find("key-1"), std::string::npos);
  EXPECT_EQ(data.rfind("STRTPAK1", 0), 0u);
  EXPECT_EQ(std::string(object(b.index_key(pack)).begin(), object(b.index_key(pack)).begin() + 8), "STRTIDX1");
}

TEST_F(TierArchive, ARerunReusesItsPackUnlessTold) {
  auto es = entries(3);
  auto locs = store().write_pack(es);
  // A freeze re-run after a crash computes the same pack id and finds its own pack.
  EXPECT_EQ(store().write_pack(es), locs);
  EXPECT_EQ(store().pack_ids().size(), 1u);
  // A pack with a released entry must not be referenced again: the next id in the sequence is taken.
  std::set<std::string> asked;
  auto fresh = store().write_pack(es, [&](const std::string& id) {
    asked.insert(id);
    return false;
  });
  EXPECT_EQ(asked.count(store().pack_of(locs[0])), 1u);
  EXPECT_NE(store().pack_of(fresh[0]), store().pack_of(locs[0]));
  EXPECT_EQ(store().read(fresh[1], es[1].key).document, es[1].document);
  EXPECT_EQ(store().pack_ids().size(), 2u);
}

TEST_F(TierArchive, ShreddingDestroysExactlyOneEntryAndTheLastRemovesThePack) {
  auto es = entries(4);
  auto locs = store().write_pack(es);
  std::string pack = store().pack_of(locs[0]);
  EXPECT_TRUE(store().shred(locs[1], es[1].key));
  EXPECT_FALSE(store().shred(locs[1], es[1].key));  // already gone
  EXPECT_STRATA_ERROR(store().read(locs[1], es[1].key), ErrorCode::kNotFound, "archive of players/key-1 was erased");
  EXPECT_EQ(store().read(locs[0], es[0].key).document, es[0].document);
  EXPECT_EQ(store().find_all(es[1].key).size(), 0u);
  EXPECT_EQ(store().find_all(es[2].key), std::vector<std::string>{locs[2]});
  EXPECT_EQ(store().live_slots(pack), (std::vector<uint32_t>{0, 2, 3}));
  // The wrong key for a location is refused, never shredded.
  EXPECT_STRATA_ERROR(store().shred(locs[0], es[2].key), ErrorCode::kCorrupt, "holds another entity");
  EXPECT_EQ(store().shred_many({{locs[0], es[0].key}, {locs[2], es[2].key}}), 2u);
  EXPECT_EQ(store().shred_slots(pack, {3}), 1u);
  EXPECT_FALSE(state_->objects.count(store().data_key(pack)));
  EXPECT_FALSE(state_->objects.count(store().index_key(pack)));
}

TEST_F(TierArchive, DamageIsNamedNotReturned) {
  auto es = entries(3);
  auto locs = store().write_pack(es);
  std::string pack = store().pack_of(locs[0]);
  EXPECT_STRATA_ERROR(store().read(locs[0], es[1].key), ErrorCode::kCorrupt, "holds another entity");
  EXPECT_STRATA_ERROR(store().read(pack + "/9", es[0].key), ErrorCode::kCorrupt, "past the end of its pack");
  std::string id;
  uint32_t slot = 0;
  EXPECT_STRATA_ERROR(parse_location("nonsense", id, slot), ErrorCode::kCorrupt, "");
  // One flipped bit in an entry: that entry fails authentication, its neighbours still read.
  Bytes& data = object(store().data_key(pack));
  Bytes saved = data;
  data[data.size() - 1] ^= 1;
  EXPECT_STRATA_ERROR(store().read(locs[2], es[2].key), ErrorCode::kCorrupt, "players/key-2");
  EXPECT_EQ(store().read(locs[0], es[0].key).document, es[0].document);
  data = saved;
  // A missing data object is reported as missing, with what to do.
  state_->objects.erase(store().data_key(pack));
  EXPECT_EQ(store().orphan_data_objects().size(), 0u);
  EXPECT_STRATA_ERROR(store().read(locs[0], es[0].key), ErrorCode::kNotFound, "");
  // A data object without an index (a crash between the two writes) is found for gc.
  state_->objects.erase(store().index_key(pack));
  state_->objects[store().data_key(pack)] = saved;
  EXPECT_EQ(store().orphan_data_objects(), std::vector<std::string>{pack});
}

}  // namespace
