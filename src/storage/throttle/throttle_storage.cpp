#include "storage/throttle/throttle_storage.hpp"

#include <thread>

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<RateLimiter> shared_limiter(std::shared_ptr<RateLimiter>& slot, uint64_t rate) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (!slot) slot = std::make_shared<RateLimiter>(rate);
  else slot->set_rate(rate);
  return slot;
}

std::shared_ptr<RateLimiter> g_upload, g_download;
std::shared_ptr<RequestGate> g_gate;

class GateHold {
 public:
  explicit GateHold(RequestGate* g) : g_(g) {
    if (g_) g_->enter();
  }
  ~GateHold() {
    if (g_) g_->leave();
  }

 private:
  RequestGate* g_;
};

class ThrottledWriter final : public ObjectWriter {
 public:
  ThrottledWriter(std::unique_ptr<ObjectWriter> inner, RateLimiter* up, RequestGate* gate)
      : inner_(std::move(inner)), up_(up), gate_(gate) {}
  void write(ByteView data) override {
    if (up_) up_->consume(data.size());
    inner_->write(data);
  }
  void commit() override {
    GateHold hold(gate_);
    inner_->commit();
  }
  void abort() noexcept override { inner_->abort(); }

 private:
  std::unique_ptr<ObjectWriter> inner_;
  RateLimiter* up_;
  RequestGate* gate_;
};

}  // namespace

RateLimiter::RateLimiter(uint64_t bytes_per_second, std::chrono::milliseconds burst)
    : rate_(bytes_per_second ? bytes_per_second : 1), burst_(burst), next_(Clock::now()) {}

void RateLimiter::set_rate(uint64_t bytes_per_second) {
  std::lock_guard<std::mutex> lock(mu_);
  rate_ = bytes_per_second ? bytes_per_second : 1;
}

void RateLimiter::consume(uint64_t bytes) {
  Clock::time_point wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    // Idle time earns nothing beyond the burst allowance below, so the credit is one burst, not two.
    if (next_ < now) next_ = now;
    next_ += std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(bytes) * 1e9 / static_cast<double>(rate_)));
    wake = next_ - burst_;
  }
  std::this_thread::sleep_until(wake);
}

void RequestGate::enter() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return in_ < limit_; });
  ++in_;
}

void RequestGate::leave() {
  std::lock_guard<std::mutex> lock(mu_);
  --in_;
  cv_.notify_one();
}

ThrottledStorage::ThrottledStorage(std::unique_ptr<Storage> inner, const StorageLimits& limits)
    : StorageWrapper(std::move(inner)) {
  if (limits.upload_bytes_per_second) up_ = shared_limiter(g_upload, limits.upload_bytes_per_second);
  if (limits.download_bytes_per_second) down_ = shared_limiter(g_download, limits.download_bytes_per_second);
  if (limits.max_requests) {
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    if (!g_gate) g_gate = std::make_shared<RequestGate>(limits.max_requests);
    gate_ = g_gate;
  }
}

std::unique_ptr<ObjectWriter> ThrottledStorage::open_write(const std::string& key, PutMode mode) {
  return std::make_unique<ThrottledWriter>(target().open_write(key, mode), up_.get(), gate_.get());
}

Bytes ThrottledStorage::get(const std::string& key, uint64_t offset, uint64_t length) {
  if (down_ && length != kToEnd) down_->consume(length);
  Bytes b;
  {
    GateHold hold(gate_.get());
    b = target().get(key, offset, length);
  }
  if (down_ && length == kToEnd) down_->consume(b.size());
  return b;
}

std::optional<ObjectInfo> ThrottledStorage::stat(const std::string& key) {
  GateHold hold(gate_.get());
  return target().stat(key);
}

std::vector<ObjectInfo> ThrottledStorage::list(const std::string& prefix) {
  GateHold hold(gate_.get());
  return target().list(prefix);
}

void ThrottledStorage::remove(const std::string& key) {
  GateHold hold(gate_.get());
  target().remove(key);
}

void ThrottledStorage::remove_many(const std::vector<std::string>& keys) {
  GateHold hold(gate_.get());
  target().remove_many(keys);
}

std::vector<ObjectInfo> ThrottledStorage::list_incomplete(const std::string& prefix) {
  GateHold hold(gate_.get());
  return target().list_incomplete(prefix);
}

void ThrottledStorage::remove_incomplete(const ObjectInfo& info) {
  GateHold hold(gate_.get());
  target().remove_incomplete(info);
}

std::unique_ptr<Storage> apply_limits(std::unique_ptr<Storage> inner, const StorageLimits& limits) {
  if (!limits.any()) return inner;
  return std::make_unique<ThrottledStorage>(std::move(inner), limits);
}

}  // namespace strata
