// The S3 driver against a real S3 server (moto) on loopback: round trips byte for byte, multipart uploads,
// ranged reads, create-only commits, listing past 1,000 keys, aborted and orphaned uploads, error messages.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <random>
#include <thread>

#include "common/error.hpp"
#include "storage/s3/s3_storage.hpp"
#include "storage/storage.hpp"
#include "support/fault_proxy.hpp"
#include "support/moto_server.hpp"

namespace strata {
namespace {

using test::MotoServer;

Bytes random_bytes_of(size_t n, uint64_t seed) {
  Bytes b(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) b[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  return b;
}

// Puts <prefix><i, 5 digits> = body(i) for i < n from 8 threads.
void put_numbered(Storage& s, const std::string& prefix, int n, const std::function<std::string(int)>& body) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        char key[32];
        std::snprintf(key, sizeof key, "%05d", i);
        s.put(prefix + key, as_bytes(body(i)));
      }
    });
  }
  for (auto& t : threads) t.join();
}

class S3StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [k, v] : moto().env()) ::setenv(k.c_str(), v.c_str(), 1);
    moto().create_bucket(kBucket);
    prefix_ = std::string("t-") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  static MotoServer& moto() { return MotoServer::shared(); }
  std::unique_ptr<Storage> open(const std::string& options = "") {
    return open_storage("s3://" + std::string(kBucket) + "/" + prefix_ + "?part_size=5MiB&upload_concurrency=3" + options);
  }
  static constexpr const char* kBucket = "strata-s3-tests";
  std::string prefix_;
};

TEST_F(S3StorageTest, SmallObjectRoundTripAndRanges) {
  auto s = open();
  EXPECT_TRUE(s->has(StorageCapability::kConditionalCreate));
  Bytes data = random_bytes_of(100000, 1);
  s->put("dir/a b+c", data);
  EXPECT_EQ(s->get("dir/a b+c"), data);
  EXPECT_EQ(s->get("dir/a b+c", 10, 20), Bytes(data.begin() + 10, data.begin() + 30));
  EXPECT_EQ(s->get("dir/a b+c", 99990), Bytes(data.begin() + 99990, data.end()));
  EXPECT_TRUE(s->get("dir/a b+c", 100000, 10).empty());
  auto st = s->stat("dir/a b+c");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 100000u);
  EXPECT_FALSE(s->stat("dir/none"));
  try {
    s->get("dir/none");
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(std::string(e.what()), "object " + prefix_ + "/dir/none is missing from s3://strata-s3-tests/" + prefix_);
  }
  s->remove("dir/a b+c");
  s->remove("dir/a b+c");  // absent: not an error
  EXPECT_FALSE(s->stat("dir/a b+c"));
}

TEST_F(S3StorageTest, MultipartUploadInPiecesReadsBackExactly) {
  auto s = open();
  Bytes data = random_bytes_of(23u << 20 | 12345, 2);  // 5 parts of 5 MiB, the last one short
  {
    auto w = s->open_write("big", PutMode::kCreateOnly);
    for (size_t off = 0; off < data.size(); off += 1u << 20) {
      w->write(ByteView(data).subspan(off, std::min<size_t>(1u << 20, data.size() - off)));
    }
    w->commit();
  }
  EXPECT_EQ(s->stat("big")->size, data.size());
  EXPECT_EQ(s->get("big"), data);
  // Ranges across part boundaries, as restore's concurrent block reads do.
  for (uint64_t off : {0ull, (5ull << 20) - 7, 11ull << 20, (23ull << 20) + 12000}) {
    Bytes got = s->get("big", off, 4u << 20);
    uint64_t n = std::min<uint64_t>(4u << 20, data.size() - off);
    EXPECT_EQ(got, Bytes(data.begin() + off, data.begin() + off + n)) << off;
  }
  EXPECT_TRUE(s->list_incomplete("").empty());
}

TEST_F(S3StorageTest, Crc32ChecksumsSinglePutAndMultipart) {
  auto s = open("&checksum=crc32");
  Bytes small = random_bytes_of(1000, 21), big = random_bytes_of((12u << 20) + 5, 22);
  s->put("small", small, PutMode::kCreateOnly);
  s->put("big", big, PutMode::kCreateOnly);
  EXPECT_EQ(s->get("small"), small);
  EXPECT_EQ(s->get("big"), big);
  EXPECT_TRUE(s->list_incomplete("").empty());
}

TEST_F(S3StorageTest, CreateOnlyRefusesAnExistingKey) {
  for (const char* mode : {"", "&if_none_match=false"}) {
    auto s = open(mode);
    std::string key = std::string("manifest") + (*mode ? "-fallback" : "");
    s->put(key, as_bytes("first"), PutMode::kCreateOnly);
    try {
      s->put(key, as_bytes("second"), PutMode::kCreateOnly);
      FAIL() << "second create-only write must fail";
    } catch (const StrataError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
      EXPECT_EQ(std::string(e.what()), "s3://strata-s3-tests/" + prefix_ + "/" + key + " already exists");
    }
    EXPECT_EQ(to_string(s->get(key)), "first");
    // Multipart commits are conditional too.
    Bytes big = random_bytes_of(6u << 20, 3);
    auto w = s->open_write(key, PutMode::kCreateOnly);
    w->write(big);
    EXPECT_THROW(w->commit(), StrataError);
    EXPECT_EQ(to_string(s->get(key)), "first");
    EXPECT_TRUE(s->list_incomplete("").empty()) << "the refused upload must be aborted";
    s->put(key, as_bytes("third"));  // overwrite mode replaces
    EXPECT_EQ(to_string(s->get(key)), "third");
  }
}

TEST_F(S3StorageTest, ListingPagesPastOneThousandKeys) {
  auto s = open();
  const int n = 1105;
  put_numbered(*s, "many/", n, [](int i) { return std::to_string(i); });
  s->put("other/x", as_bytes("x"));
  auto all = s->list("many/");
  ASSERT_EQ(all.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "many/%05d", i);
    EXPECT_EQ(all[i].key, key);
    EXPECT_EQ(all[i].size, std::to_string(i).size());
  }
  EXPECT_EQ(s->list("").size(), static_cast<size_t>(n + 1));
}

// 2,345 keys in three DeleteObjects requests: every listed one is gone, absent ones are no error, keys that need
// XML escaping are deleted by their exact name, and keys not named stay.
TEST_F(S3StorageTest, RemoveManyDeletesExactlyTheNamedKeysInBatches) {
  auto s = open();
  const int n = 2340;
  put_numbered(*s, "gone/", n, [](int) { return std::string("x"); });
  const std::vector<std::string> odd = {"gone/a&b", "gone/<c>", "gone/it's \"quoted\"", "gone/sp ace+plus"};
  for (const auto& k : odd) s->put(k, as_bytes("y"));
  s->put("stay/1", as_bytes("kept"));
  s->put("gone-not/1", as_bytes("kept"));
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "gone/%05d", i);
    keys.push_back(key);
  }
  keys.insert(keys.end(), odd.begin(), odd.end());
  keys.push_back("gone/never-written");
  s->remove_many(keys);
  EXPECT_TRUE(s->list("gone/").empty());
  auto left = s->list("");
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].key, "gone-not/1");
  EXPECT_EQ(left[1].key, "stay/1");
  s->remove_many({});
  EXPECT_EQ(s->list("").size(), 2u);
}

TEST_F(S3StorageTest, AbortedAndOrphanedUploads) {
  auto s = open();
  {
    auto w = s->open_write("dropped");
    Bytes part = random_bytes_of(6u << 20, 4);
    w->write(part);
    w->write(part);  // a multipart upload is now under way
  }  // destroyed without commit: aborted
  EXPECT_FALSE(s->stat("dropped"));
  EXPECT_TRUE(s->list_incomplete("").empty());

  // An upload a crashed process left behind: started with a raw client, never completed.
  auto raw = moto().client(kBucket);
  s3::Call start;
  start.method = "POST";
  start.key = prefix_ + "/data/orphan";
  start.query = {{"uploads", ""}};
  std::string id = s3::xml_value(raw->execute(start).body, "UploadId");
  ASSERT_FALSE(id.empty());
  auto left = s->list_incomplete("");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].key, "data/orphan?uploadId=" + id);
  s->remove_incomplete(left[0]);
  EXPECT_TRUE(s->list_incomplete("").empty());
}

TEST_F(S3StorageTest, MissingBucketIsOneClearLine) {
  auto s = open_storage("s3://no-such-bucket-here/x");
  try {
    s->get("config");
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStorage);
    EXPECT_EQ(std::string(e.what()), "bucket no-such-bucket-here does not exist at 127.0.0.1:" + std::to_string(moto().port()) +
                                         " (NoSuchBucket); create it or fix the repository location");
  }
}

// A create-only PUT that landed but whose answer was lost: the retry meets a 412 for its own bytes, which must
// count as success, while someone else's object under the key must still be refused.
TEST_F(S3StorageTest, CreateOnlyRetryAfterLostAnswerSucceeds) {
  test::FaultProxy proxy(moto().port());
  test::FaultSchedule f;
  f.lose_put_answer_every = 2;
  proxy.set_schedule(f);
  auto s = open("&retry_base_ms=10&endpoint=http://127.0.0.1:" + std::to_string(proxy.port()));
  s->put("one", as_bytes("first object"), PutMode::kCreateOnly);   // PUT 1 answered
  s->put("two", as_bytes("second object"), PutMode::kCreateOnly);  // PUT 2 lands, answer lost; PUT 3 gets 412
  EXPECT_EQ(proxy.lost_answers(), 1u);
  EXPECT_EQ(to_string(s->get("two")), "second object");
  proxy.set_schedule({});
  EXPECT_THROW(s->put("two", as_bytes("other bytes"), PutMode::kCreateOnly), StrataError);
}

// bucket.localhost resolves to loopback in curl and moto takes the first label as the bucket: a real
// virtual-hosted request (Host: strata-s3-tests.localhost:PORT, path /PREFIX/KEY), signed as such.
TEST_F(S3StorageTest, VirtualHostedAddressing) {
  auto s = open("&addressing=virtual&endpoint=http://localhost:" + std::to_string(moto().port()));
  Bytes data = random_bytes_of(7u << 20, 9);  // multipart too
  s->put("vh/object", data, PutMode::kCreateOnly);
  EXPECT_EQ(s->get("vh/object", 1000, 5000), Bytes(data.begin() + 1000, data.begin() + 6000));
  ASSERT_EQ(s->list("vh/").size(), 1u);
  EXPECT_EQ(open()->get("vh/object"), data) << "path-style sees the same object";
}

TEST_F(S3StorageTest, BufferBudgetBoundsMemory) {
  auto s = open("&upload_buffer=10MiB");
  auto& s3 = dynamic_cast<s3::S3Storage&>(*s);
  Bytes piece = random_bytes_of(1u << 20, 5);
  auto w = s->open_write("bounded");
  for (int i = 0; i < 40; ++i) w->write(piece);
  w->commit();
  EXPECT_EQ(s->stat("bounded")->size, 40u << 20);
  EXPECT_LE(s3.budget().peak(), 10u << 20);
}

}  // namespace
}  // namespace strata
