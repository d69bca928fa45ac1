// What the repository takes from its storage driver through decorators: incomplete writes (a crashed writer's temp
// file must be reported by check and removed by cleanup even when the storage is decorated) and the data object size
// when a backup sets none (the driver's hint: 8 MiB on S3, 64 MiB on disk).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "../common/test_helpers.hpp"
#include "repo/repository.hpp"
#include "storage/fault/fault_storage.hpp"
#include "storage/local/local_storage.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

using testing::BufferSource;

BackupOptions unsized_backup(const std::string& source, uint32_t frame) {
  BackupOptions o;
  o.source = source;
  o.pipeline.frame_size = frame;
  o.pipeline.frames_per_object = 0;  // not set: the storage driver's hint decides
  o.pipeline.compression = Compression{Codec::kNone, 0};
  o.pipeline.threads = 2;
  return o;
}

void init_unencrypted(Storage& s) {
  InitOptions o;
  o.encrypted = false;
  Repository::init(s, o);
}

TEST(RepositoryStorage, DecoratedRepositoryReportsAndRemovesIncompleteWrites) {
  testing::TempDir dir;
  LocalStorage local(dir.path());
  init_unencrypted(local);
  std::filesystem::create_directories(dir.path() + "/data/crashed");
  const std::string leftover = dir.path() + "/data/crashed/.strata-tmp-000000.Ab12";
  std::ofstream(leftover) << "half an object";

  Repository repo(std::make_unique<FaultStorage>(std::make_unique<LocalStorage>(dir.path()), FaultPlan{}));
  CheckReport report = repo.check(CheckOptions{});
  EXPECT_EQ(report.leftovers, std::vector<std::string>{"data/crashed/.strata-tmp-000000.Ab12 (incomplete write)"});
  // Minimum age 0: the leftover's key carries no start time, so the default safety age (1h) would keep it.
  EXPECT_EQ(repo.cleanup(true, 0), std::vector<std::string>{"data/crashed/.strata-tmp-000000.Ab12 (incomplete write)"});
  EXPECT_TRUE(std::filesystem::exists(leftover)) << "a dry run removes nothing";
  EXPECT_EQ(repo.cleanup(false, 0), std::vector<std::string>{"data/crashed/.strata-tmp-000000.Ab12 (incomplete write)"});
  EXPECT_FALSE(std::filesystem::exists(leftover));
  EXPECT_TRUE(repo.check(CheckOptions{}).leftovers.empty());
}

// A driver that prefers small objects, as S3 does (one PUT each).
class SmallObjects final : public StorageWrapper {
 public:
  SmallObjects(std::unique_ptr<Storage> s, uint64_t hint) : StorageWrapper(std::move(s)), hint_(hint) {}
  uint64_t object_size_hint() const override { return hint_; }

 private:
  uint64_t hint_;
};

TEST(RepositoryStorage, ObjectSizeComesFromTheDriverWhenTheBackupSetsNone) {
  auto state = std::make_shared<MemoryStorage::State>();
  init_unencrypted(*std::make_unique<MemoryStorage>(state));
  constexpr uint32_t kFrame = 64 << 10;
  const Bytes data = testing::pseudo_random(10 * kFrame + 5, 3);

  // 256 KiB hint, 64 KiB frames: 4 frames per object, so 11 frames make 3 objects.
  {
    Repository repo(std::make_unique<SmallObjects>(std::make_unique<MemoryStorage>(state), 256 << 10));
    BufferSource src(data);
    Manifest m = repo.backup(src, unsized_backup("small", kFrame), nullptr);
    EXPECT_EQ(m.frames_per_object, 4u);
    EXPECT_EQ(m.stream.objects.size(), 3u);
    testing::VectorSink out;
    repo.restore(repo.load(m.id, true), out, PipelineSettings{}, nullptr);
    EXPECT_EQ(out.data(), data);
  }
  // A hint below one frame still makes whole frames: one per object.
  {
    Repository repo(std::make_unique<SmallObjects>(std::make_unique<MemoryStorage>(state), 1000));
    BufferSource src(data);
    Manifest m = repo.backup(src, unsized_backup("tiny", kFrame), nullptr);
    EXPECT_EQ(m.frames_per_object, 1u);
    EXPECT_EQ(m.stream.objects.size(), 11u);
  }
  // The default hint (64 MiB, disks and memory): everything in one object.
  {
    Repository repo(std::make_unique<MemoryStorage>(state));
    BufferSource src(data);
    Manifest m = repo.backup(src, unsized_backup("default", kFrame), nullptr);
    EXPECT_EQ(m.frames_per_object, (64u << 20) / kFrame);
    EXPECT_EQ(m.stream.objects.size(), 1u);
  }
  // A size the backup sets wins over the hint.
  {
    Repository repo(std::make_unique<SmallObjects>(std::make_unique<MemoryStorage>(state), 256 << 10));
    BufferSource src(data);
    BackupOptions o = unsized_backup("set", kFrame);
    o.pipeline.frames_per_object = 2;
    Manifest m = repo.backup(src, o, nullptr);
    EXPECT_EQ(m.frames_per_object, 2u);
    EXPECT_EQ(m.stream.objects.size(), 6u);
  }
}

TEST(StorageHints, DisksPreferLargeObjects) {
  testing::TempDir dir;
  EXPECT_EQ(LocalStorage(dir.path()).object_size_hint(), 64u << 20);
  EXPECT_EQ(MemoryStorage(std::make_shared<MemoryStorage::State>()).object_size_hint(), 64u << 20);
  EXPECT_EQ(FaultStorage(std::make_unique<LocalStorage>(dir.path()), FaultPlan{}).object_size_hint(), 64u << 20);
}

}  // namespace
}  // namespace strata
