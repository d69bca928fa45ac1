#pragma once
// Runs a function over a stream of items on a fixed set of threads and hands results back in submission order.
// submit() blocks once `max_in_flight` items are submitted but not yet taken: that bound is the back-pressure that
// keeps memory proportional to the settings, never to the stream. An exception in the function is rethrown by
// next() for that item.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace strata {

template <class In, class Out>
class OrderedPool {
 public:
  using Fn = std::function<Out(In&, uint64_t seq)>;

  OrderedPool(size_t threads, size_t max_in_flight, Fn fn) : fn_(std::move(fn)), max_in_flight_(max_in_flight) {
    if (threads == 0) threads = 1;
    if (max_in_flight_ < threads) max_in_flight_ = threads;
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~OrderedPool() { shutdown(); }
  OrderedPool(const OrderedPool&) = delete;
  OrderedPool& operator=(const OrderedPool&) = delete;

  // Returns false if the pool was cancelled (the consumer gave up); the item is dropped.
  bool submit(In item) {
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock, [&] { return cancelled_ || next_submit_ - next_take_ < max_in_flight_; });
    if (cancelled_) return false;
    queue_.push_back({next_submit_++, std::move(item)});
    work_cv_.notify_one();
    return true;
  }

  // No more items will be submitted.
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    done_cv_.notify_all();
  }

  // Next result in order; nullopt once closed and drained. Rethrows the function's exception for that item.
  std::optional<Out> next() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return done_.count(next_take_) || (closed_ && next_take_ == next_submit_) || cancelled_; });
    if (cancelled_ || !done_.count(next_take_)) return std::nullopt;
    auto node = done_.extract(next_take_);
    ++next_take_;
    space_cv_.notify_all();
    if (node.mapped().error) std::rethrow_exception(node.mapped().error);
    return std::move(node.mapped().value);
  }

  // Whether next() would return at once (a result, the end, or cancellation), waiting at most `timeout`.
  template <class Rep, class Period>
  bool wait_for_next(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_cv_.wait_for(lock, timeout, [&] {
      return done_.count(next_take_) || (closed_ && next_take_ == next_submit_) || cancelled_;
    });
  }

  // Wakes everyone and drops pending work; used when one side fails.
  void cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    queue_.clear();
    space_cv_.notify_all();
    work_cv_.notify_all();
    done_cv_.notify_all();
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cancelled_ = true;
      work_cv_.notify_all();
      space_cv_.notify_all();
      done_cv_.notify_all();
    }
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  struct Result {
    std::optional<Out> value;
    std::exception_ptr error;
  };

  void run() {
    for (;;) {
      std::pair<uint64_t, In> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      Result r;
      try {
        r.value.emplace(fn_(job.second, job.first));
      } catch (...) {
        r.error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu_);
      done_.emplace(job.first, std::move(r));
      done_cv_.notify_all();
    }
  }

  Fn fn_;
  size_t max_in_flight_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_, space_cv_;
  std::deque<std::pair<uint64_t, In>> queue_;
  std::map<uint64_t, Result> done_;
  uint64_t next_submit_ = 0, next_take_ = 0;
  bool closed_ = false, cancelled_ = false, stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata
