// The source index (repo/index.hpp, docs/FORMAT.md "Source index"), hermetic over the in-memory driver: a query by
// source reads only that source's manifests, a repository without the marker is scanned, `reindex` repairs what a
// crash or an older strata left, and delete takes the entry with the manifest.
#include "repo/index.hpp"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "../common/test_helpers.hpp"
#include "repo/layout.hpp"
#include "repo/repository.hpp"
#include "storage/fault/fault_storage.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

using testing::BufferSource;

// Counts reads by the first segment of the key ("backups/", "index/", ...) and lists by prefix.
class CountingStorage final : public StorageWrapper {
 public:
  struct Counts {
    std::mutex mu;
    std::map<std::string, size_t> gets, lists;
    size_t gets_of(const std::string& prefix) {
      std::lock_guard<std::mutex> g(mu);
      size_t n = 0;
      for (const auto& [k, c] : gets) n += k.rfind(prefix, 0) == 0 ? c : 0;
      return n;
    }
    size_t lists_of(const std::string& prefix) {
      std::lock_guard<std::mutex> g(mu);
      return lists.count(prefix) ? lists[prefix] : 0;
    }
    void reset() {
      std::lock_guard<std::mutex> g(mu);
      gets.clear();
      lists.clear();
    }
  };
  CountingStorage(std::unique_ptr<Storage> inner, std::shared_ptr<Counts> counts)
      : StorageWrapper(std::move(inner)), counts_(std::move(counts)) {}
  Bytes get(const std::string& key, uint64_t offset, uint64_t length) override {
    {
      std::lock_guard<std::mutex> g(counts_->mu);
      ++counts_->gets[key];
    }
    return StorageWrapper::get(key, offset, length);
  }
  std::vector<ObjectInfo> list(const std::string& prefix) override {
    {
      std::lock_guard<std::mutex> g(counts_->mu);
      ++counts_->lists[prefix];
    }
    return StorageWrapper::list(prefix);
  }

 private:
  std::shared_ptr<Counts> counts_;
};

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MemoryStorage s(state_);
    InitOptions o;
    o.encrypted = false;
    Repository::init(s, o);
  }
  std::unique_ptr<Repository> open() {
    return std::make_unique<Repository>(
        std::make_unique<CountingStorage>(std::make_unique<MemoryStorage>(state_), counts_));
  }
  Manifest backup(Repository& r, const std::string& source, const std::string& parent = "",
                  const std::string& type = "stream") {
    BackupOptions o;
    o.source = source;
    o.type = type;
    o.parent = parent;
    o.fail_on_empty = false;
    o.pipeline.frame_size = 64;
    o.pipeline.frames_per_object = 4;
    o.pipeline.threads = 1;
    BufferSource src(testing::pseudo_random(300, ++seed_));
    return r.backup(src, o, nullptr);
  }
  std::vector<std::string> keys(const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& o : MemoryStorage(state_).list(prefix)) out.push_back(o.key);
    return out;
  }
  static std::vector<std::string> ids(const std::vector<Manifest>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) out.push_back(m.id);
    return out;
  }
  // What an index-unaware strata leaves: manifests and data, no marker, no entries.
  void forget_index() {
    std::lock_guard<std::mutex> g(state_->mu);
    for (auto it = state_->objects.begin(); it != state_->objects.end();) {
      it = layout::has_prefix(it->first, layout::kIndex) ? state_->objects.erase(it) : std::next(it);
    }
  }

  std::shared_ptr<MemoryStorage::State> state_ = std::make_shared<MemoryStorage::State>();
  std::shared_ptr<CountingStorage::Counts> counts_ = std::make_shared<CountingStorage::Counts>();
  uint64_t seed_ = 0;
};

TEST_F(IndexTest, ListBySourceReadsOnlyThatSourcesManifests) {
  auto r = open();
  EXPECT_TRUE(r->indexed()) << "a new repository is indexed from its first backup";
  std::vector<std::string> a;
  for (int i = 0; i < 3; ++i) a.push_back(backup(*r, "a").id);
  for (int i = 0; i < 20; ++i) backup(*r, "b");
  ASSERT_EQ(keys(layout::index_source_prefix("a")).size(), 3u);
  ASSERT_EQ(keys(layout::index_source_prefix("b")).size(), 20u);

  auto fresh = open();
  counts_->reset();
  EXPECT_EQ(ids(fresh->list("a")), a);
  EXPECT_EQ(counts_->gets_of(layout::kBackups), 3u) << "only a's manifests are read";
  EXPECT_EQ(counts_->lists_of(layout::kBackups), 0u) << "backups/ is not listed";
  EXPECT_EQ(counts_->lists_of(layout::index_source_prefix("a")), 1u);

  counts_->reset();
  EXPECT_EQ(open()->latest_id("b"), fresh->list("b").back().id);
  counts_->reset();
  EXPECT_EQ(open()->latest_id("a"), a.back());
  EXPECT_EQ(counts_->gets_of(layout::kBackups), 1u) << "latest reads the newest manifest only";
  EXPECT_STRATA_ERROR(open()->latest_id("c"), ErrorCode::kNotFound, "no backups of source c");
}

TEST_F(IndexTest, RepositoryWithoutMarkerIsScannedUntilReindexed) {
  auto r = open();
  std::vector<std::string> a;
  for (int i = 0; i < 2; ++i) a.push_back(backup(*r, "a").id);
  for (int i = 0; i < 5; ++i) backup(*r, "b");
  forget_index();

  auto old = open();
  EXPECT_FALSE(old->indexed());
  counts_->reset();
  EXPECT_EQ(ids(old->list("a")), a) << "an old repository lists by scanning";
  EXPECT_EQ(counts_->gets_of(layout::kBackups), 7u);
  EXPECT_EQ(open()->latest_id("a"), a.back());

  // A backup by an index-aware strata before the reindex writes its entry; the scan still finds the others.
  a.push_back(backup(*open(), "a").id);
  EXPECT_EQ(ids(open()->list("a")), a);

  ReindexReport rep = open()->reindex();
  EXPECT_EQ(rep.manifests, 8u);
  EXPECT_EQ(rep.written, 7u) << "the entry the last backup wrote is kept";
  EXPECT_EQ(rep.removed, 0u);
  EXPECT_TRUE(rep.damaged.empty());
  auto now = open();
  EXPECT_TRUE(now->indexed());
  counts_->reset();
  EXPECT_EQ(ids(now->list("a")), a);
  EXPECT_EQ(counts_->gets_of(layout::kBackups), 3u);
  EXPECT_EQ(open()->reindex().written, 0u) << "a second reindex has nothing to do";
}

TEST_F(IndexTest, EntryWithoutManifestIsSkippedAndReindexRemovesIt) {
  auto r = open();
  Manifest a1 = backup(*r, "a");
  // A crash between the entry and the manifest: the entry names a backup that never committed.
  Manifest ghost = a1;
  ghost.id = "29990101T000000Z-deadbeef";
  ghost.started_us = a1.started_us + 1;
  MemoryStorage(state_).put(index_entry_key(ghost), as_bytes(encode_index_entry(ghost)));
  EXPECT_EQ(ids(open()->list("a")), std::vector<std::string>{a1.id});
  EXPECT_EQ(open()->latest_id("a"), a1.id) << "the newest entry has no manifest: the one before it is the latest";
  CheckReport check = open()->check(CheckOptions{});
  EXPECT_TRUE(check.errors.empty());
  EXPECT_EQ(check.leftovers, std::vector<std::string>{index_entry_key(ghost) + " (index entry without a backup)"});
  std::vector<std::string> kept;
  EXPECT_TRUE(open()->cleanup(true, Repository::kCleanupMinAge, &kept).empty()) << "it started a moment ago: young";
  EXPECT_EQ(kept, std::vector<std::string>{index_entry_key(ghost)});
  EXPECT_EQ(open()->cleanup(true, 0), std::vector<std::string>{index_entry_key(ghost)});
  ReindexReport rep = open()->reindex();
  EXPECT_EQ(rep.removed, 1u);
  EXPECT_EQ(keys(layout::index_source_prefix("a")), std::vector<std::string>{index_entry_key(a1)});
}

TEST_F(IndexTest, ManifestWithoutEntryIsRepairedByReindex) {
  auto r = open();
  Manifest a1 = backup(*r, "a"), a2 = backup(*r, "a");
  // The entry lost (written by a strata before the index into a marked repository, or removed by hand).
  MemoryStorage(state_).remove(index_entry_key(a2));
  EXPECT_EQ(ids(open()->list("a")), std::vector<std::string>{a1.id}) << "the index is what a marked repository trusts";
  CheckReport check = open()->check(CheckOptions{});
  ASSERT_EQ(check.errors.size(), 1u);
  EXPECT_NE(check.errors[0].find(index_entry_key(a2) + " is missing"), std::string::npos) << check.errors[0];
  EXPECT_NE(check.errors[0].find("strata repo reindex"), std::string::npos);
  EXPECT_EQ(open()->reindex().written, 1u);
  EXPECT_TRUE(open()->check(CheckOptions{}).errors.empty());
  EXPECT_EQ(ids(open()->list("a")), (std::vector<std::string>{a1.id, a2.id}));
  EXPECT_EQ(open()->latest_id("a"), a2.id);
}

TEST_F(IndexTest, AFailedCommitLeavesNoEntry) {
  FaultPlan plan;
  plan.fail_nth = 1;
  plan.ops = {StorageOp::kCommit};
  plan.key_prefix = layout::kBackups;
  Repository faulty(std::make_unique<FaultStorage>(std::make_unique<MemoryStorage>(state_), plan));
  EXPECT_THROW(backup(faulty, "a"), StrataError);
  EXPECT_TRUE(keys(layout::kBackups).empty());
  EXPECT_TRUE(keys(layout::kIndexSources).empty()) << "the entry of a backup that did not commit is removed";
}

TEST_F(IndexTest, DeleteAndPurgeRemoveTheEntry) {
  auto r = open();
  Manifest a1 = backup(*r, "a"), a2 = backup(*r, "a"), b1 = backup(*r, "b");
  EXPECT_EQ(r->delete_backups({a1.id}, false), std::vector<std::string>{a1.id});
  EXPECT_EQ(keys(layout::index_source_prefix("a")), std::vector<std::string>{index_entry_key(a2)});
  r->purge_backup(b1.id);
  EXPECT_TRUE(keys(layout::index_source_prefix("b")).empty());
  // A damaged manifest names no source: its entry is found by id.
  state_->objects[layout::manifest_key("", a2.id)] = testing::bytes_of("not a manifest");
  r->remove_backup(a2.id);
  EXPECT_TRUE(keys(layout::kIndexSources).empty());
  EXPECT_TRUE(keys(layout::kBackups).empty());
}

TEST_F(IndexTest, ParentsAreFoundThroughTheIndex) {
  auto r = open();
  Manifest full = backup(*r, "a", "", "full");
  Manifest inc = backup(*r, "a", full.id, "incremental");
  Manifest other = backup(*r, "b", "", "full");
  EXPECT_STRATA_ERROR(open()->remove_backup(full.id), ErrorCode::kUsage, inc.id);
  EXPECT_STRATA_ERROR(open()->delete_backups({full.id}, true), ErrorCode::kUsage, "is the parent of " + inc.id);
  EXPECT_EQ(open()->delete_backups({full.id, inc.id}, true), (std::vector<std::string>{inc.id, full.id}));
  EXPECT_TRUE(open()->dependants(other.id).empty());
  // A child whose manifest is gone (its delete cut short before the entry went) no longer holds the parent.
  MemoryStorage(state_).remove(layout::manifest_key("", inc.id));
  EXPECT_TRUE(open()->dependants(full.id).empty());
  open()->remove_backup(full.id);
}

TEST_F(IndexTest, QueriesByTimeTypeAndParent) {
  auto r = open();
  Manifest full = backup(*r, "a", "", "full");
  Manifest inc1 = backup(*r, "a", full.id, "incremental");
  Manifest inc2 = backup(*r, "a", full.id, "incremental");
  backup(*r, "b", "", "full");
  MemoryStorage s(state_);
  ObjectIndex objects(s);
  ScanIndex scan(open()->list_ids(), [&](const std::string& id) -> std::optional<Manifest> { return open()->load(id, false); });
  for (BackupIndex* index : {static_cast<BackupIndex*>(&objects), static_cast<BackupIndex*>(&scan)}) {
    auto all = index->by_source("a");
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].id, full.id);
    EXPECT_EQ(all[2].id, inc2.id);
    auto incs = index->by_type("a", "incremental");
    ASSERT_EQ(incs.size(), 2u);
    EXPECT_EQ(incs[0].id, inc1.id);
    auto kids = index->children("a", full.id);
    ASSERT_EQ(kids.size(), 2u);
    EXPECT_EQ(kids[1].id, inc2.id);
    auto later = index->by_time("a", inc1.order_key(), INT64_MAX);
    ASSERT_EQ(later.size(), 2u);
    EXPECT_EQ(later[0].id, inc1.id);
  }
  // A body copied under another backup's name says nothing about that one.
  s.put(index_entry_key(inc2), as_bytes(encode_index_entry(inc1)));
  EXPECT_EQ(objects.children("a", full.id).size(), 1u);
}

TEST_F(IndexTest, EntryNamesSortByTime) {
  EXPECT_EQ(layout::index_entry_key("db", 1234, "x"), "index/src/db/00000000000000001234.x");
  Manifest m;
  m.id = "i";
  m.source = "s";
  m.started_epoch = 7;  // a manifest from before started_us: its whole second
  EXPECT_EQ(index_entry_key(m), "index/src/s/00000000000007000000.i");
  IndexEntry e = decode_index_entry(encode_index_entry(m), "k");
  EXPECT_EQ(e.started_us, 7000000);
  EXPECT_STRATA_ERROR(decode_index_entry("{\"format\":\"strata-index-entry\",\"version\":2}", "k"), ErrorCode::kCorrupt, "version 2");
  EXPECT_STRATA_ERROR(decode_index_entry("[", "k"), ErrorCode::kCorrupt, "index entry k");
}

TEST_F(IndexTest, AnUnknownMarkerMeansScan) {
  MemoryStorage(state_).put(layout::kIndexMarker, as_bytes("{\"format\":\"strata-index\",\"version\":2}"));
  EXPECT_FALSE(open()->indexed());
  MemoryStorage(state_).put(layout::kIndexMarker, as_bytes("garbage"));
  EXPECT_FALSE(open()->indexed());
}

}  // namespace
}  // namespace strata
