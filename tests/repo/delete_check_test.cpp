// Repository-level cases of issue 13 items 5-7: delete resolves every id before deleting and honours backups that
// build on others; check samples a count of objects (never none) and restic's deterministic n/t subsets; an empty
// stream is labelled, or refused by policy.
#include <gtest/gtest.h>

#include <set>

#include "../common/test_helpers.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

using testing::BufferSource;

class DeleteCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MemoryStorage s(state_);
    InitOptions o;
    o.passphrase = "pw";
    o.kdf = KdfParams{1, 8ull << 20};
    Repository::init(s, o);
    repo_ = open();
  }
  std::unique_ptr<Repository> open() {
    auto r = std::make_unique<Repository>(std::make_unique<MemoryStorage>(state_));
    r->unlock("pw");
    return r;
  }
  Manifest backup(size_t bytes, const std::string& parent = "", const std::string& type = "stream",
                  std::optional<bool> fail_on_empty = std::nullopt) {
    BackupOptions o;
    o.source = "db";
    o.type = type;
    o.parent = parent;
    o.fail_on_empty = fail_on_empty;
    o.pipeline.frame_size = 64;
    o.pipeline.frames_per_object = 4;  // 256 bytes per object
    o.pipeline.threads = 2;
    BufferSource src(testing::pseudo_random(bytes, bytes + 7));
    return repo_->backup(src, o, nullptr);
  }
  size_t count(const std::string& prefix) { return MemoryStorage(state_).list(prefix).size(); }

  std::shared_ptr<MemoryStorage::State> state_ = std::make_shared<MemoryStorage::State>();
  std::unique_ptr<Repository> repo_;
};

TEST_F(DeleteCheckTest, OneUnknownIdDeletesNothing) {
  Manifest a = backup(1000);
  size_t objects = count("data/");
  EXPECT_STRATA_ERROR(repo_->delete_backups({a.id, "20990101T000000Z-00000000"}, false), ErrorCode::kNotFound,
                      "nothing was deleted");
  EXPECT_TRUE(repo_->exists(a.id)) << "the first id must not be deleted before the second is resolved";
  EXPECT_EQ(count("data/"), objects);
  EXPECT_EQ(count("locks/"), 0u);
}

TEST_F(DeleteCheckTest, DryRunDeletesNothingAndNamesTheOrder) {
  Manifest a = backup(1000);
  auto order = repo_->delete_backups({a.id.substr(0, 20)}, true);
  EXPECT_EQ(order, std::vector<std::string>{a.id});
  EXPECT_TRUE(repo_->exists(a.id));
  EXPECT_EQ(repo_->delete_backups({a.id}, false), std::vector<std::string>{a.id});
  EXPECT_FALSE(repo_->exists(a.id));
  EXPECT_EQ(count("data/"), 0u);
}

TEST_F(DeleteCheckTest, ABackupOthersBuildOnIsRefusedUnlessTheyGoWithIt) {
  Manifest full = backup(1000, "", "full");
  Manifest inc1 = backup(500, full.id, "incremental");
  Manifest inc2 = backup(500, inc1.id, "incremental");
  EXPECT_EQ(repo_->dependants(full.id), std::vector<std::string>{inc1.id});
  try {
    repo_->delete_backups({full.id}, false);
    ADD_FAILURE() << "deleting the parent of an incremental was allowed";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    std::string msg = e.what();
    EXPECT_NE(msg.find("backup " + full.id + " is the parent of " + inc1.id), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing was deleted"), std::string::npos) << msg;
  }
  EXPECT_STRATA_ERROR(repo_->remove_backup(full.id), ErrorCode::kUsage, inc1.id + " builds on it");
  EXPECT_STRATA_ERROR(repo_->delete_backups({full.id, inc1.id}, false), ErrorCode::kUsage,
                      "backup " + inc1.id + " is the parent of " + inc2.id);
  EXPECT_EQ(repo_->list().size(), 3u);
  // The whole chain at once, in any order: dependants go first.
  auto order = repo_->delete_backups({full.id, inc2.id, inc1.id}, false);
  EXPECT_EQ(order, (std::vector<std::string>{inc2.id, inc1.id, full.id}));
  EXPECT_TRUE(repo_->list().empty());
  EXPECT_EQ(count("data/"), 0u);
}

TEST_F(DeleteCheckTest, ASharePicksACountOfObjectsNeverNone) {
  backup(4 * 256);  // 4 objects
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CheckOptions o;
    o.read_fraction = 0.10;
    o.seed = seed;
    CheckReport r = repo_->check(o);
    EXPECT_TRUE(r.errors.empty());
    EXPECT_EQ(r.objects, 4u);
    EXPECT_EQ(r.objects_read, 1u) << "10% of 4 objects is one object, seed " << seed;
  }
  CheckOptions half;
  half.read_fraction = 0.5;
  EXPECT_EQ(repo_->check(half).objects_read, 2u);
}

TEST_F(DeleteCheckTest, SubsetsAreDeterministicAndCoverEverything) {
  backup(10 * 256);
  backup(7 * 256);
  const size_t total = 17;
  size_t sum = 0;
  for (uint32_t n = 1; n <= 3; ++n) {
    CheckOptions o;
    o.subset_n = n;
    o.subset_t = 3;
    CheckReport a = repo_->check(o), b = open()->check(o);
    EXPECT_EQ(a.objects_read, b.objects_read) << "the same subset on every run";
    EXPECT_EQ(a.bytes_read, b.bytes_read);
    sum += a.objects_read;
  }
  EXPECT_EQ(sum, total) << "3 runs of 1/3, 2/3, 3/3 read every object exactly once";
  CheckOptions all;
  all.subset_n = 1;
  all.subset_t = 1;
  CheckReport r = repo_->check(all);
  EXPECT_EQ(r.objects_read, total);
  EXPECT_EQ(r.backups_verified, 2u);
}

TEST_F(DeleteCheckTest, CheckReportsProgressOverWhatItReads) {
  backup(8 * 256);
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  CheckOptions o;
  o.read_fraction = 1.0;
  o.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  CheckReport r = repo_->check(o);
  ASSERT_GE(calls.size(), 9u) << "a start and one call per object";
  EXPECT_EQ(calls.front().first, 0u);
  EXPECT_EQ(calls.back().first, r.bytes_read);
  EXPECT_EQ(calls.back().second, r.bytes_read) << "the total is what was read";
}

TEST_F(DeleteCheckTest, EmptyStreamsAreLabelledOrRefused) {
  Manifest m = backup(0);
  EXPECT_EQ(m.labels.at("strata.empty"), "true");
  EXPECT_EQ(repo_->load(m.id, false).labels.at("strata.empty"), "true");
  size_t objects = count("data/");
  // Engine output (any type but a plain stream) is never legitimately empty.
  EXPECT_STRATA_ERROR(backup(0, "", "full"), ErrorCode::kSourceFailed, "wrote nothing (0 bytes); no backup was stored");
  EXPECT_STRATA_ERROR(backup(0, "", "stream", true), ErrorCode::kSourceFailed, "wrote nothing");
  EXPECT_EQ(repo_->list().size(), 1u);
  EXPECT_EQ(count("data/"), objects) << "a refused empty backup leaves no object";
  EXPECT_EQ(backup(0, "", "full", false).labels.at("strata.empty"), "true");
  repo_->set_fail_on_empty(true);
  EXPECT_STRATA_ERROR(backup(0), ErrorCode::kSourceFailed, "wrote nothing");
  EXPECT_EQ(backup(1).labels.count("strata.empty"), 0u);
}

}  // namespace
}  // namespace strata
