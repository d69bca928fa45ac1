#include "storage/memory/memory_storage.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace strata {
namespace {

class MemoryWriter final : public ObjectWriter {
 public:
  MemoryWriter(std::shared_ptr<MemoryStorage::State> state, std::string key, PutMode mode)
      : state_(std::move(state)), key_(std::move(key)), mode_(mode) {}
  void write(ByteView data) override { buf_.insert(buf_.end(), data.begin(), data.end()); }
  void commit() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (mode_ == PutMode::kCreateOnly && state_->objects.count(key_)) {
      fail(ErrorCode::kAlreadyExists, "mem://" + key_ + " already exists");
    }
    state_->objects[key_] = std::move(buf_);
  }
  void abort() noexcept override { buf_.clear(); }

 private:
  std::shared_ptr<MemoryStorage::State> state_;
  std::string key_;
  PutMode mode_;
  Bytes buf_;
};

}  // namespace

std::shared_ptr<MemoryStorage::State> MemoryStorage::shared(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<State>> stores;
  std::lock_guard<std::mutex> lock(mu);
  auto& s = stores[name];
  if (!s) s = std::make_shared<State>();
  return s;
}

uint32_t MemoryStorage::capabilities() const {
  return StorageCapability::kAtomicWrite | StorageCapability::kConditionalCreate | StorageCapability::kRangeRead;
}

std::unique_ptr<ObjectWriter> MemoryStorage::open_write(const std::string& key, PutMode mode) {
  return std::make_unique<MemoryWriter>(state_, key, mode);
}

Bytes MemoryStorage::get(const std::string& key, uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->objects.find(key);
  if (it == state_->objects.end()) fail(ErrorCode::kNotFound, "object " + key + " is missing from mem://");
  const Bytes& b = it->second;
  if (offset >= b.size()) return {};
  uint64_t n = std::min<uint64_t>(length, b.size() - offset);
  return Bytes(b.begin() + static_cast<ptrdiff_t>(offset), b.begin() + static_cast<ptrdiff_t>(offset + n));
}

std::optional<ObjectInfo> MemoryStorage::stat(const std::string& key) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->objects.find(key);
  if (it == state_->objects.end()) return std::nullopt;
  return ObjectInfo{key, it->second.size()};
}

std::vector<ObjectInfo> MemoryStorage::list(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<ObjectInfo> out;
  for (auto it = state_->objects.lower_bound(prefix); it != state_->objects.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back({it->first, it->second.size()});
  }
  return out;
}

void MemoryStorage::remove(const std::string& key) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->objects.erase(key);
}

}  // namespace strata
