#include "common/ordered_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace strata {
namespace {

// A one-shot gate the test opens; workers wait on it instead of sleeping.
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Counts completed items and lets a thread wait for a count.
class Counter {
 public:
  void add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++n_;
    cv_.notify_all();
  }
  void wait_for(uint64_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return n_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t n_ = 0;
};

uint64_t busy_work(uint64_t rounds) {
  uint64_t x = rounds + 1;
  for (uint64_t i = 0; i < rounds * 1000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

TEST(OrderedPool, ResultsComeBackInSubmissionOrderEvenWhenLaterItemsFinishFirst) {
  // Item 0 cannot finish before item 3 has: completion order differs from submission order by construction.
  Gate item3_done;
  OrderedPool<int, int> pool(4, 8, [&](int& v, uint64_t seq) {
    EXPECT_EQ(static_cast<uint64_t>(v), seq);
    if (v == 0) item3_done.wait();
    if (v == 3) item3_done.open();
    busy_work(static_cast<uint64_t>((v * 7919) % 13));
    return v * 10;
  });
  constexpr int kItems = 200;
  std::thread producer([&] {
    for (int i = 0; i < kItems; ++i) ASSERT_TRUE(pool.submit(i));
    pool.close();
  });
  for (int i = 0; i < kItems; ++i) {
    auto r = pool.next();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(*r, i * 10);
  }
  EXPECT_FALSE(pool.next().has_value()) << "closed and drained";
  producer.join();
}

TEST(OrderedPool, EmptyStreamEndsImmediately) {
  OrderedPool<int, int> pool(2, 2, [](int& v, uint64_t) { return v; });
  pool.close();
  EXPECT_FALSE(pool.next().has_value());
}

TEST(OrderedPool, ExceptionOfOneItemIsRethrownAtItsTurn) {
  OrderedPool<int, int> pool(3, 6, [](int& v, uint64_t) {
    if (v == 3) throw std::runtime_error("item 3 failed");
    return v;
  });
  std::thread producer([&] {
    for (int i = 0; i < 6; ++i) pool.submit(i);
    pool.close();
  });
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pool.next().value(), i);
  try {
    pool.next();
    ADD_FAILURE() << "item 3 should have thrown";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "item 3 failed");
  }
  // The failure belongs to item 3 only: later items are still delivered.
  EXPECT_EQ(pool.next().value(), 4);
  EXPECT_EQ(pool.next().value(), 5);
  EXPECT_FALSE(pool.next().has_value());
  producer.join();
}

TEST(OrderedPool, SubmitBlocksOnceMaxInFlightItemsAreUntaken) {
  constexpr size_t kMax = 4;
  constexpr uint64_t kItems = 100;
  std::atomic<uint64_t> submitted{0};
  std::atomic<int64_t> in_flight{0};  // lower bound of submitted-but-untaken: see below
  std::atomic<int64_t> peak{0};
  Counter completed;
  OrderedPool<uint64_t, uint64_t> pool(2, kMax, [&](uint64_t& v, uint64_t) {
    completed.add();
    return v;
  });
  std::thread producer([&] {
    for (uint64_t i = 0; i < kItems; ++i) {
      ASSERT_TRUE(pool.submit(i));
      // Counted after submit() returns and uncounted before next() is called, so in_flight never overstates.
      submitted.fetch_add(1);
      int64_t now = in_flight.fetch_add(1) + 1;
      int64_t p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
    }
    pool.close();
  });
  for (uint64_t taken = 0; taken < kItems; ++taken) {
    // Give the producer every chance to run ahead: wait until the workers have finished all the items it may
    // legally have submitted. If submit() did not block, it would now be far past taken + kMax.
    completed.wait_for(std::min<uint64_t>(taken + kMax, kItems));
    ASSERT_LE(submitted.load(), taken + kMax) << "after " << taken << " taken";
    in_flight.fetch_sub(1);
    EXPECT_EQ(pool.next().value(), taken);
  }
  producer.join();
  EXPECT_LE(peak.load(), static_cast<int64_t>(kMax));
  EXPECT_GE(peak.load(), 2) << "the producer never ran ahead of the consumer";
}

TEST(OrderedPool, MaxInFlightIsAtLeastTheThreadCount) {
  Counter started;
  Gate release;
  OrderedPool<int, int> pool(3, 1, [&](int& v, uint64_t) {
    started.add();
    release.wait();
    return v;
  });
  // With max_in_flight raised to 3, three submits succeed without a consumer and all three run at once.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.submit(i));
  started.wait_for(3);
  release.open();
  pool.close();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pool.next().value(), i);
}

TEST(OrderedPool, CancelUnblocksABlockedSubmit) {
  Gate release;
  Counter started;
  OrderedPool<int, int> pool(1, 1, [&](int& v, uint64_t) {
    started.add();
    release.wait();
    return v;
  });
  ASSERT_TRUE(pool.submit(0));
  started.wait_for(1);
  std::atomic<bool> second_returned{false};
  std::atomic<bool> second_result{true};
  Gate about_to_submit;
  std::thread producer([&] {
    about_to_submit.open();
    second_result = pool.submit(1);  // the window (1) is full and nobody takes: blocks until cancel()
    second_returned = true;
  });
  about_to_submit.wait();
  pool.cancel();
  producer.join();  // hangs (and the test times out) if cancel() does not wake the submitter
  EXPECT_TRUE(second_returned.load());
  EXPECT_FALSE(second_result.load()) << "a cancelled pool refuses the item";
  EXPECT_FALSE(pool.submit(2));
  EXPECT_FALSE(pool.next().has_value());
  release.open();  // let the worker finish so the destructor can join it
}

TEST(OrderedPool, CancelUnblocksAWaitingConsumer) {
  OrderedPool<int, int> pool(1, 1, [](int& v, uint64_t) { return v; });
  std::optional<int> got = 42;
  std::thread consumer([&] { got = pool.next(); });  // nothing submitted, not closed: waits
  pool.cancel();
  consumer.join();
  EXPECT_FALSE(got.has_value());
}

TEST(OrderedPool, DestructorWithPendingWorkDoesNotHang) {
  Gate release;
  {
    OrderedPool<int, int> pool(2, 8, [&](int& v, uint64_t) {
      if (v == 0) release.wait();
      return v;
    });
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(pool.submit(i));
    release.open();
  }
  SUCCEED();
}

}  // namespace
}  // namespace strata
