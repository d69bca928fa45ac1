#pragma once
// Limits that protect production networks from backup traffic: a process-wide bandwidth cap per direction and a
// cap on storage calls in flight. A decorator, so every driver gets them and no driver has to know.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "storage/storage.hpp"

namespace strata {

// Token bucket with a short burst allowance: consume() returns once the bytes fit under the rate.
class RateLimiter {
 public:
  explicit RateLimiter(uint64_t bytes_per_second, std::chrono::milliseconds burst = std::chrono::milliseconds(250));
  void consume(uint64_t bytes);
  void set_rate(uint64_t bytes_per_second);
  uint64_t rate() const { return rate_; }

 private:
  std::mutex mu_;
  uint64_t rate_;
  std::chrono::nanoseconds burst_;
  // When everything consumed so far will have drained at the rate; a caller may run up to one burst ahead of it.
  std::chrono::steady_clock::time_point next_;
};

class RequestGate {
 public:
  explicit RequestGate(unsigned limit) : limit_(limit) {}
  void enter();
  void leave();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  unsigned limit_, in_ = 0;
};

struct StorageLimits {
  uint64_t upload_bytes_per_second = 0;  // 0 = unlimited
  uint64_t download_bytes_per_second = 0;
  unsigned max_requests = 0;  // storage calls in flight; 0 = unlimited
  bool any() const { return upload_bytes_per_second || download_bytes_per_second || max_requests; }
};

// Every storage call passes the request gate; bytes pass the rate limiters. The rest (capabilities, the size hint,
// describe) is StorageWrapper's forwarding.
class ThrottledStorage final : public StorageWrapper {
 public:
  // The limiters are shared by every ThrottledStorage of the process: the caps hold for the process as a whole.
  ThrottledStorage(std::unique_ptr<Storage> inner, const StorageLimits& limits);
  std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode mode) override;
  Bytes get(const std::string& key, uint64_t offset, uint64_t length) override;
  std::optional<ObjectInfo> stat(const std::string& key) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void remove(const std::string& key) override;
  void remove_many(const std::vector<std::string>& keys) override;
  std::vector<ObjectInfo> list_incomplete(const std::string& prefix) override;
  void remove_incomplete(const ObjectInfo& info) override;

  RateLimiter* upload() { return up_.get(); }
  RateLimiter* download() { return down_.get(); }
  RequestGate* gate() { return gate_.get(); }

 private:
  std::shared_ptr<RateLimiter> up_, down_;
  std::shared_ptr<RequestGate> gate_;
};

// Wraps `inner` when any limit is set; returns it unchanged otherwise.
std::unique_ptr<Storage> apply_limits(std::unique_ptr<Storage> inner, const StorageLimits& limits);

}  // namespace strata
