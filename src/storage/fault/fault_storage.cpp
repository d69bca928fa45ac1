#include "storage/fault/fault_storage.hpp"

#include <algorithm>
#include <thread>

#include "common/error.hpp"

namespace strata {
namespace {

class FaultWriter final : public ObjectWriter {
 public:
  FaultWriter(FaultStorage* owner, std::string key, std::unique_ptr<ObjectWriter> inner)
      : owner_(owner), key_(std::move(key)), inner_(std::move(inner)) {}
  void write(ByteView data) override {
    owner_->maybe_fail(StorageOp::kWrite, key_);
    const auto& plan = owner_->plan();
    bool match = key_.compare(0, plan.key_prefix.size(), plan.key_prefix) == 0;
    Bytes copy(data.begin(), data.end());
    if (match && plan.flip_byte_on_write >= 0) {
      uint64_t at = static_cast<uint64_t>(plan.flip_byte_on_write);
      if (at >= written_ && at < written_ + copy.size()) copy[at - written_] ^= 0x01;
    }
    if (match && plan.truncate_write_at >= 0) {
      uint64_t limit = static_cast<uint64_t>(plan.truncate_write_at);
      copy.resize(written_ >= limit ? 0 : std::min<uint64_t>(copy.size(), limit - written_));
    }
    written_ += data.size();
    inner_->write(copy);
  }
  void commit() override {
    owner_->maybe_fail(StorageOp::kCommit, key_);
    inner_->commit();
  }
  void abort() noexcept override { inner_->abort(); }

 private:
  FaultStorage* owner_;
  std::string key_;
  std::unique_ptr<ObjectWriter> inner_;
  uint64_t written_ = 0;
};

}  // namespace

FaultStorage::FaultStorage(std::unique_ptr<Storage> inner, FaultPlan plan)
    : StorageWrapper(std::move(inner)), plan_(std::move(plan)), rng_(plan_.seed) {}

void FaultStorage::maybe_fail(StorageOp op, const std::string& key) {
  if (key.compare(0, plan_.key_prefix.size(), plan_.key_prefix) != 0) return;
  if (!plan_.ops.empty() && std::find(plan_.ops.begin(), plan_.ops.end(), op) == plan_.ops.end()) return;
  if (plan_.delay.count() > 0) std::this_thread::sleep_for(plan_.delay);
  bool fire = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (plan_.fail_nth != 0 && calls_ == plan_.fail_nth) fire = true;
    if (plan_.fail_probability > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < plan_.fail_probability) {
      fire = true;
    }
  }
  if (fire) {
    injected_++;
    fail(plan_.error, plan_.error_text + " on " + key);
  }
}

std::unique_ptr<ObjectWriter> FaultStorage::open_write(const std::string& key, PutMode mode) {
  return std::make_unique<FaultWriter>(this, key, target().open_write(key, mode));
}

Bytes FaultStorage::get(const std::string& key, uint64_t offset, uint64_t length) {
  maybe_fail(StorageOp::kGet, key);
  Bytes b = target().get(key, offset, length);
  bool match = key.compare(0, plan_.key_prefix.size(), plan_.key_prefix) == 0;
  if (match && plan_.flip_byte_on_read >= 0) {
    uint64_t at = static_cast<uint64_t>(plan_.flip_byte_on_read);
    if (at >= offset && at < offset + b.size()) b[at - offset] ^= 0x01;
  }
  return b;
}

std::optional<ObjectInfo> FaultStorage::stat(const std::string& key) {
  maybe_fail(StorageOp::kStat, key);
  return target().stat(key);
}

std::vector<ObjectInfo> FaultStorage::list(const std::string& prefix) {
  maybe_fail(StorageOp::kList, prefix);
  return target().list(prefix);
}

void FaultStorage::remove(const std::string& key) {
  maybe_fail(StorageOp::kRemove, key);
  target().remove(key);
}

void FaultStorage::remove_many(const std::vector<std::string>& keys) {
  for (size_t i = 0; i < keys.size(); ++i) {
    try {
      maybe_fail(StorageOp::kRemove, keys[i]);
    } catch (...) {
      target().remove_many(std::vector<std::string>(keys.begin(), keys.begin() + static_cast<ptrdiff_t>(i)));
      throw;
    }
  }
  target().remove_many(keys);
}

}  // namespace strata
