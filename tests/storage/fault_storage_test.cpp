#include "storage/fault/fault_storage.hpp"

#include <gtest/gtest.h>

#include "../common/test_helpers.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

using testing::bytes_of;

struct Faulty {
  explicit Faulty(FaultPlan plan) {
    auto mem = std::make_unique<MemoryStorage>();
    inner = mem.get();
    storage = std::make_unique<FaultStorage>(std::move(mem), std::move(plan));
  }
  MemoryStorage* inner;
  std::unique_ptr<FaultStorage> storage;
};

TEST(FaultStorage, PassesThroughWithAnEmptyPlan) {
  Faulty f(FaultPlan{});
  f.storage->put("a", bytes_of("abc"));
  EXPECT_EQ(to_string(f.storage->get("a", 0, Storage::kToEnd)), "abc");
  EXPECT_EQ(f.storage->stat("a")->size, 3u);
  EXPECT_EQ(f.storage->list("").size(), 1u);
  f.storage->remove("a");
  EXPECT_FALSE(f.inner->stat("a"));
  EXPECT_EQ(f.storage->injected(), 0u);
  EXPECT_EQ(f.storage->capabilities(), f.inner->capabilities());
}

TEST(FaultStorage, FailsExactlyTheNthMatchingCall) {
  FaultPlan plan;
  plan.fail_nth = 3;
  plan.ops = {StorageOp::kGet};
  plan.error_text = "disk on fire";
  Faulty f(plan);
  f.inner->put("k", bytes_of("v"));
  f.storage->stat("k");  // not a counted op
  EXPECT_EQ(to_string(f.storage->get("k", 0, Storage::kToEnd)), "v");
  EXPECT_EQ(to_string(f.storage->get("k", 0, Storage::kToEnd)), "v");
  EXPECT_STRATA_ERROR(f.storage->get("k", 0, Storage::kToEnd), ErrorCode::kStorage, "disk on fire on k");
  EXPECT_EQ(to_string(f.storage->get("k", 0, Storage::kToEnd)), "v") << "only the Nth call fails";
  EXPECT_EQ(f.storage->injected(), 1u);
}

TEST(FaultStorage, FailsTheNthCommitWithTheConfiguredCode) {
  FaultPlan plan;
  plan.fail_nth = 2;
  plan.ops = {StorageOp::kCommit};
  plan.error = ErrorCode::kNotFound;
  Faulty f(plan);
  f.storage->put("one", bytes_of("1"));
  EXPECT_STRATA_ERROR(f.storage->put("two", bytes_of("2")), ErrorCode::kNotFound, "injected fault on two");
  f.storage->put("three", bytes_of("3"));
  EXPECT_TRUE(f.inner->stat("one"));
  EXPECT_FALSE(f.inner->stat("two")) << "a failed commit publishes nothing";
  EXPECT_TRUE(f.inner->stat("three"));
}

TEST(FaultStorage, ProbabilityOneFailsEveryCallAndZeroNone) {
  FaultPlan always;
  always.fail_probability = 1.0;
  Faulty f(always);
  for (int i = 0; i < 10; ++i) EXPECT_STRATA_ERROR(f.storage->stat("k"), ErrorCode::kStorage, "injected fault");
  EXPECT_STRATA_ERROR(f.storage->list(""), ErrorCode::kStorage, "");
  EXPECT_STRATA_ERROR(f.storage->remove("k"), ErrorCode::kStorage, "");
  EXPECT_EQ(f.storage->injected(), 12u);
}

TEST(FaultStorage, ProbabilityIsSeededAndPartial) {
  auto failures = [](uint64_t seed) {
    FaultPlan plan;
    plan.fail_probability = 0.3;
    plan.seed = seed;
    Faulty f(plan);
    std::vector<bool> pattern;
    for (int i = 0; i < 400; ++i) {
      try {
        f.storage->stat("k");
        pattern.push_back(false);
      } catch (const StrataError&) {
        pattern.push_back(true);
      }
    }
    EXPECT_EQ(f.storage->injected(), static_cast<uint64_t>(std::count(pattern.begin(), pattern.end(), true)));
    return pattern;
  };
  auto a = failures(7), b = failures(7), c = failures(8);
  EXPECT_EQ(a, b) << "same seed, same faults";
  EXPECT_NE(a, c);
  auto n = std::count(a.begin(), a.end(), true);
  EXPECT_GT(n, 60);   // ~120 expected
  EXPECT_LT(n, 200);
}

TEST(FaultStorage, FlipsOneBitOnWriteAcrossChunkBoundaries) {
  for (int64_t at : {0, 3, 4, 9}) {
    FaultPlan plan;
    plan.flip_byte_on_write = at;
    Faulty f(plan);
    auto w = f.storage->open_write("obj", PutMode::kOverwrite);
    Bytes original = bytes_of("0123456789");
    w->write(ByteView(original).first(4));
    w->write(ByteView(original).subspan(4));
    w->commit();
    Bytes expected = original;
    expected[static_cast<size_t>(at)] ^= 0x01;
    EXPECT_EQ(f.inner->get("obj", 0, Storage::kToEnd), expected) << at;
    EXPECT_EQ(original, bytes_of("0123456789")) << "the caller's buffer is untouched";
  }
}

TEST(FaultStorage, FlipsOneBitOnReadOnlyInsideTheRange) {
  FaultPlan plan;
  plan.flip_byte_on_read = 5;
  Faulty f(plan);
  f.inner->put("obj", bytes_of("0123456789"));
  Bytes all = f.storage->get("obj", 0, Storage::kToEnd);
  EXPECT_EQ(to_string(all), std::string("01234") + char('5' ^ 1) + "6789");
  EXPECT_EQ(to_string(f.storage->get("obj", 4, 3)), std::string("4") + char('5' ^ 1) + "6");
  EXPECT_EQ(to_string(f.storage->get("obj", 6, 4)), "6789");
  EXPECT_EQ(to_string(f.storage->get("obj", 0, 5)), "01234");
  EXPECT_EQ(to_string(f.inner->get("obj", 0, Storage::kToEnd)), "0123456789") << "stored bytes are intact";
}

TEST(FaultStorage, TruncatesWritesButStillCommits) {
  FaultPlan plan;
  plan.truncate_write_at = 6;
  Faulty f(plan);
  auto w = f.storage->open_write("obj", PutMode::kOverwrite);
  w->write(bytes_of("0123"));
  w->write(bytes_of("4567"));
  w->write(bytes_of("89"));
  w->commit();
  EXPECT_EQ(to_string(f.inner->get("obj", 0, Storage::kToEnd)), "012345");
  FaultPlan zero;
  zero.truncate_write_at = 0;
  Faulty g(zero);
  g.storage->put("obj", bytes_of("abc"));
  EXPECT_EQ(g.inner->stat("obj")->size, 0u);
}

TEST(FaultStorage, KeyPrefixLimitsEveryKindOfFault) {
  FaultPlan plan;
  plan.key_prefix = "data/";
  plan.fail_probability = 1.0;
  plan.ops = {StorageOp::kGet};
  plan.flip_byte_on_write = 0;
  plan.truncate_write_at = 2;
  Faulty f(plan);
  f.storage->put("config", bytes_of("abcd"));
  EXPECT_EQ(to_string(f.storage->get("config", 0, Storage::kToEnd)), "abcd") << "outside the prefix: untouched";
  f.storage->put("data/x", bytes_of("abcd"));
  EXPECT_EQ(to_string(f.inner->get("data/x", 0, Storage::kToEnd)), std::string(1, char('a' ^ 1)) + "b");
  EXPECT_STRATA_ERROR(f.storage->get("data/x", 0, Storage::kToEnd), ErrorCode::kStorage, "injected fault on data/x");
  EXPECT_EQ(f.storage->injected(), 1u);
}

TEST(FaultStorage, WriteFaultsAbortTheObject) {
  FaultPlan plan;
  plan.fail_nth = 2;
  plan.ops = {StorageOp::kWrite};
  Faulty f(plan);
  auto w = f.storage->open_write("obj", PutMode::kCreateOnly);
  w->write(bytes_of("a"));
  EXPECT_STRATA_ERROR(w->write(bytes_of("b")), ErrorCode::kStorage, "injected fault on obj");
  w->abort();
  EXPECT_FALSE(f.inner->stat("obj"));
}

}  // namespace
}  // namespace strata
