#pragma once
// Fault-injecting decorator (RocksDB's FaultInjectionFileSystem idea): wraps any driver and makes chosen calls
// fail, corrupt, truncate or stall, so every error path above the storage interface can be tested without an outage.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "common/error.hpp"
#include "storage/storage.hpp"

namespace strata {

enum class StorageOp { kWrite, kCommit, kGet, kStat, kList, kRemove };

struct FaultPlan {
  // Fail the Nth matching call (1-based; 0 = never). Counted across all ops in `ops`.
  uint64_t fail_nth = 0;
  // Fail each matching call with this probability (0..1).
  double fail_probability = 0.0;
  // Which ops the above apply to; empty = all.
  std::vector<StorageOp> ops;
  // Only keys that start with this prefix are affected.
  std::string key_prefix;
  // The error thrown by an injected failure.
  ErrorCode error = ErrorCode::kStorage;
  std::string error_text = "injected fault";
  // Flip one bit of the byte at this offset of data written to / read from matching keys (-1 = never).
  int64_t flip_byte_on_write = -1;
  int64_t flip_byte_on_read = -1;
  // Drop everything written after this many bytes (-1 = never): a torn write that still "succeeds".
  int64_t truncate_write_at = -1;
  // Delay every matching call.
  std::chrono::milliseconds delay{0};
  uint64_t seed = 42;
};

// Every operation the plan does not cover (capabilities, the size hint, incomplete writes, ...) reaches the wrapped
// driver unchanged through StorageWrapper.
class FaultStorage final : public StorageWrapper {
 public:
  FaultStorage(std::unique_ptr<Storage> inner, FaultPlan plan);
  std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode mode) override;
  Bytes get(const std::string& key, uint64_t offset, uint64_t length) override;
  std::optional<ObjectInfo> stat(const std::string& key) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void remove(const std::string& key) override;
  // Each key is one matching kRemove call: the keys before a failing one are removed, as a driver would.
  void remove_many(const std::vector<std::string>& keys) override;

  uint64_t injected() const { return injected_.load(); }
  Storage& inner() { return target(); }
  // Called by writers; public so the writer class can reach it.
  void maybe_fail(StorageOp op, const std::string& key);
  const FaultPlan& plan() const { return plan_; }

 private:
  FaultPlan plan_;
  std::mutex mu_;
  std::mt19937_64 rng_;
  uint64_t calls_ = 0;
  std::atomic<uint64_t> injected_{0};
};

}  // namespace strata
