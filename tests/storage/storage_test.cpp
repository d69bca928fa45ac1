// One conformance suite for every driver behind the Storage interface (here LocalStorage on a temp dir and
// MemoryStorage); the S3 driver can join by adding a factory.
#include "storage/storage.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>
#include <functional>
#include <memory>

#include "../common/test_helpers.hpp"
#include "storage/local/local_storage.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

using testing::bytes_of;

struct Driver {
  std::string name;
  std::function<std::unique_ptr<Storage>(const std::string& dir)> make;
};

class StorageConformance : public ::testing::TestWithParam<Driver> {
 protected:
  void SetUp() override { storage_ = GetParam().make(dir_.path() + "/repo"); }
  std::vector<std::string> keys(const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& o : storage_->list(prefix)) out.push_back(o.key);
    return out;
  }
  testing::TempDir dir_;
  std::unique_ptr<Storage> storage_;
};

TEST_P(StorageConformance, PutThenGetReturnsExactBytes) {
  Bytes data = testing::pseudo_random(100000, 1);
  storage_->put("data/a/000000", data);
  EXPECT_EQ(storage_->get("data/a/000000"), data);
  storage_->put("empty", {});
  EXPECT_TRUE(storage_->get("empty").empty());
  auto st = storage_->stat("empty");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 0u);
}

TEST_P(StorageConformance, StreamingWriteInPieces) {
  auto w = storage_->open_write("obj", PutMode::kOverwrite);
  w->write(bytes_of("hello "));
  w->write({});
  w->write(bytes_of("world"));
  w->commit();
  EXPECT_EQ(to_string(storage_->get("obj")), "hello world");
}

TEST_P(StorageConformance, OverwriteReplaces) {
  storage_->put("k", bytes_of("first version"));
  storage_->put("k", bytes_of("second"));
  EXPECT_EQ(to_string(storage_->get("k")), "second");
  EXPECT_EQ(storage_->stat("k")->size, 6u);
}

TEST_P(StorageConformance, RangeGetIsClippedToTheEnd) {
  storage_->put("r", bytes_of("0123456789"));
  EXPECT_EQ(to_string(storage_->get("r", 0, 3)), "012");
  EXPECT_EQ(to_string(storage_->get("r", 3, 4)), "3456");
  EXPECT_EQ(to_string(storage_->get("r", 7, 100)), "789");
  EXPECT_EQ(to_string(storage_->get("r", 7)), "789");
  EXPECT_EQ(to_string(storage_->get("r", 9, 1)), "9");
  EXPECT_TRUE(storage_->get("r", 10, 5).empty()) << "offset at the end";
  EXPECT_TRUE(storage_->get("r", 1000, 5).empty()) << "offset past the end";
  EXPECT_TRUE(storage_->get("r", 2, 0).empty()) << "zero length";
}

TEST_P(StorageConformance, StatReportsSizeOrNothing) {
  storage_->put("dir/file", bytes_of("12345"));
  auto st = storage_->stat("dir/file");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->key, "dir/file");
  EXPECT_EQ(st->size, 5u);
  EXPECT_FALSE(storage_->stat("dir/missing"));
  EXPECT_FALSE(storage_->stat("nowhere/at/all"));
  EXPECT_FALSE(storage_->stat("dir")) << "a prefix of keys is not an object";
  EXPECT_FALSE(storage_->stat("dir/file/below")) << "nothing lives under an object";
}

TEST_P(StorageConformance, ListByPrefixIsSortedAndRecursive) {
  for (const char* k : {"data/b/000001", "data/a/000000", "data/ab/000000", "data/b/000000", "data/a/sub/deep/x",
                        "backups/one", "data-other", "locks/x", "dataz"}) {
    storage_->put(k, bytes_of(k));
  }
  EXPECT_EQ(keys("data/"), (std::vector<std::string>{"data/a/000000", "data/a/sub/deep/x", "data/ab/000000",
                                                     "data/b/000000", "data/b/000001"}));
  // A prefix that ends in the middle of a name matches every name it starts.
  EXPECT_EQ(keys("data/a"), (std::vector<std::string>{"data/a/000000", "data/a/sub/deep/x", "data/ab/000000"}));
  EXPECT_EQ(keys("data/a/"), (std::vector<std::string>{"data/a/000000", "data/a/sub/deep/x"}));
  EXPECT_EQ(keys("data/b/0000"), (std::vector<std::string>{"data/b/000000", "data/b/000001"}));
  EXPECT_EQ(keys("data"), (std::vector<std::string>{"data-other", "data/a/000000", "data/a/sub/deep/x",
                                                    "data/ab/000000", "data/b/000000", "data/b/000001", "dataz"}));
  EXPECT_EQ(keys("data/b/000001"), (std::vector<std::string>{"data/b/000001"}));
  EXPECT_TRUE(keys("data/c").empty());
  EXPECT_TRUE(keys("zzz/").empty());
  auto all = storage_->list("");
  ASSERT_EQ(all.size(), 9u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.key < b.key; }));
  for (const auto& o : all) EXPECT_EQ(o.size, o.key.size()) << o.key;
}

TEST_P(StorageConformance, ListOfEmptyStorageIsEmpty) { EXPECT_TRUE(storage_->list("").empty()); }

TEST_P(StorageConformance, RemoveIsIdempotent) {
  storage_->put("x/y", bytes_of("1"));
  storage_->remove("x/y");
  EXPECT_FALSE(storage_->stat("x/y"));
  EXPECT_TRUE(keys("x/").empty());
  storage_->remove("x/y");        // absent now
  storage_->remove("never/was");  // never existed
  EXPECT_STRATA_ERROR(storage_->get("x/y"), ErrorCode::kNotFound, "x/y");
}

TEST_P(StorageConformance, CreateOnlyConflictIsAlreadyExists) {
  storage_->put("config", bytes_of("original"), PutMode::kCreateOnly);
  EXPECT_STRATA_ERROR(storage_->put("config", bytes_of("intruder"), PutMode::kCreateOnly), ErrorCode::kAlreadyExists,
                      "config");
  EXPECT_EQ(to_string(storage_->get("config")), "original");
  EXPECT_EQ(keys(""), (std::vector<std::string>{"config"})) << "the losing write leaves nothing behind";
}

TEST_P(StorageConformance, CreateOnlyRaceHasExactlyOneWinner) {
  // Both writers open before either commits: the check must happen at commit time.
  auto a = storage_->open_write("lock", PutMode::kCreateOnly);
  auto b = storage_->open_write("lock", PutMode::kCreateOnly);
  a->write(bytes_of("a"));
  b->write(bytes_of("b"));
  a->commit();
  EXPECT_STRATA_ERROR(b->commit(), ErrorCode::kAlreadyExists, "lock");
  EXPECT_EQ(to_string(storage_->get("lock")), "a");
}

TEST_P(StorageConformance, GetMissingIsNotFound) {
  EXPECT_STRATA_ERROR(storage_->get("data/x/000000"), ErrorCode::kNotFound, "data/x/000000");
  storage_->put("dir/inner", bytes_of("1"));
  EXPECT_STRATA_ERROR(storage_->get("dir"), ErrorCode::kNotFound, "dir") << "a prefix of keys is not an object";
  EXPECT_STRATA_ERROR(storage_->get("dir/inner/below"), ErrorCode::kNotFound, "dir/inner/below");
}

TEST_P(StorageConformance, UncommittedWriterLeavesNothingVisible) {
  {
    auto w = storage_->open_write("data/pending/000000", PutMode::kCreateOnly);
    w->write(testing::pseudo_random(1000, 2));
    EXPECT_FALSE(storage_->stat("data/pending/000000"));
    EXPECT_TRUE(storage_->list("").empty()) << "no temp file may show up in list()";
    EXPECT_TRUE(storage_->list("data/pending/").empty());
    EXPECT_STRATA_ERROR(storage_->get("data/pending/000000"), ErrorCode::kNotFound, "");
  }  // destroyed without commit
  EXPECT_TRUE(storage_->list("").empty());
  {
    auto w = storage_->open_write("data/aborted", PutMode::kOverwrite);
    w->write(bytes_of("partial"));
    w->abort();
  }
  EXPECT_TRUE(storage_->list("").empty());
  EXPECT_FALSE(storage_->stat("data/aborted"));
  // The same key can be written afterwards, create-only.
  storage_->put("data/pending/000000", bytes_of("ok"), PutMode::kCreateOnly);
  EXPECT_EQ(keys(""), (std::vector<std::string>{"data/pending/000000"}));
}

TEST_P(StorageConformance, ConcurrentWritersOfDifferentKeys) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string key = "data/t" + std::to_string(t) + "/" + std::to_string(i);
        storage_->put(key, bytes_of(key), PutMode::kCreateOnly);
      }
    });
  }
  for (auto& th : threads) th.join();
  auto all = storage_->list("data/");
  ASSERT_EQ(all.size(), 80u);
  for (const auto& o : all) EXPECT_EQ(to_string(storage_->get(o.key)), o.key);
}

INSTANTIATE_TEST_SUITE_P(
    Drivers, StorageConformance,
    ::testing::Values(Driver{"local", [](const std::string& dir) { return std::make_unique<LocalStorage>(dir); }},
                      Driver{"memory", [](const std::string&) { return std::make_unique<MemoryStorage>(); }}),
    [](const auto& info) { return info.param.name; });

// Driver-specific behaviour of LocalStorage.

std::vector<std::string> files_under(const std::string& root) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(root)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out.push_back(std::filesystem::relative(e.path(), root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(LocalStorage, UncommittedWriteIsATempFileThatListHidesAndAbortRemoves) {
  testing::TempDir dir;
  LocalStorage s(dir.path());
  {
    auto w = s.open_write("data/b1/000000", PutMode::kOverwrite);
    w->write(bytes_of("abc"));
    auto files = files_under(dir.path());
    ASSERT_EQ(files.size(), 1u);
    EXPECT_TRUE(LocalStorage::is_temp_name(files[0])) << files[0];
    EXPECT_TRUE(s.list("").empty());
    EXPECT_TRUE(s.list("data/b1/").empty());
  }
  EXPECT_TRUE(files_under(dir.path()).empty()) << "destroying the writer removes its temp file";
}

TEST(LocalStorage, CommitLeavesExactlyTheFinalFile) {
  testing::TempDir dir;
  LocalStorage s(dir.path() + "/");  // a trailing slash is tolerated
  s.put("data/b1/000000", bytes_of("abc"), PutMode::kCreateOnly);
  s.put("config", bytes_of("c"), PutMode::kOverwrite);
  EXPECT_EQ(files_under(dir.path()), (std::vector<std::string>{"config", "data/b1/000000"}));
}

TEST(LocalStorage, RemoveTakesAwayTheDirectoriesItEmptiedButNotTopLevelOnes) {
  testing::TempDir dir;
  LocalStorage s(dir.path());
  s.put("data/b1/x/000000", bytes_of("a"), PutMode::kCreateOnly);
  s.put("data/b1/000001", bytes_of("b"), PutMode::kCreateOnly);
  s.put("locks/l1", bytes_of("l"), PutMode::kCreateOnly);
  s.remove("data/b1/x/000000");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data/b1/x"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/data/b1/000001")) << "a non-empty directory stays";
  s.remove("data/b1/000001");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data/b1")) << "a deleted backup leaves no empty folder";
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/data"));
  s.remove("locks/l1");
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/locks")) << "top-level directories stay";
  // A writer whose directory was just taken away makes it again.
  auto w = s.open_write("data/b2/000000", PutMode::kCreateOnly);
  s.put("data/b2/000001", bytes_of("c"), PutMode::kCreateOnly);
  s.remove("data/b2/000001");  // the directory holds w's temp file: rmdir cannot take it
  w->write(bytes_of("d"));
  w->commit();
  EXPECT_EQ(static_cast<Storage&>(s).get("data/b2/000000"), bytes_of("d"));
}

TEST(LocalStorage, FailedCreateOnlyLeavesNoTempFile) {
  testing::TempDir dir;
  LocalStorage s(dir.path());
  s.put("k", bytes_of("1"), PutMode::kCreateOnly);
  EXPECT_STRATA_ERROR(s.put("k", bytes_of("2"), PutMode::kCreateOnly), ErrorCode::kAlreadyExists, "already exists");
  EXPECT_EQ(files_under(dir.path()), (std::vector<std::string>{"k"}));
}

TEST(LocalStorage, RejectsKeysThatEscapeTheRoot) {
  testing::TempDir dir;
  LocalStorage s(dir.path() + "/repo");
  EXPECT_STRATA_ERROR(s.put("../escape", bytes_of("x")), ErrorCode::kUsage, "invalid object key '../escape'");
  EXPECT_STRATA_ERROR(s.get("/etc/passwd", 0, Storage::kToEnd), ErrorCode::kUsage, "invalid object key");
  EXPECT_STRATA_ERROR(s.stat(""), ErrorCode::kUsage, "invalid object key");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/escape"));
}

TEST(LocalStorage, DescribesItsRootAndIsDurable) {
  LocalStorage s("/backups/main//");
  EXPECT_EQ(s.describe(), "/backups/main");
  EXPECT_TRUE(s.has(StorageCapability::kDurable));
  EXPECT_TRUE(s.has(StorageCapability::kConditionalCreate));
  MemoryStorage m;
  EXPECT_FALSE(m.has(StorageCapability::kDurable));
  EXPECT_TRUE(m.has(StorageCapability::kAtomicWrite));
}

TEST(OpenStorage, MapsLocationsToDrivers) {
  testing::TempDir dir;
  auto local = open_storage("file://" + dir.path());
  EXPECT_EQ(local->describe(), dir.path());
  EXPECT_EQ(open_storage(dir.path())->describe(), dir.path());
  // mem:// stores with the same name share objects within the process.
  auto a = open_storage("mem://storage-test-shared");
  auto b = open_storage("mem://storage-test-shared");
  a->put("k", bytes_of("v"));
  EXPECT_EQ(to_string(b->get("k")), "v");
  EXPECT_FALSE(open_storage("mem://storage-test-other")->stat("k"));
  EXPECT_STRATA_ERROR(open_storage(""), ErrorCode::kUsage, "no repository given");
  EXPECT_STRATA_ERROR(open_storage("ftp://host/x"), ErrorCode::kUsage, "unknown repository scheme");
}

}  // namespace
}  // namespace strata
