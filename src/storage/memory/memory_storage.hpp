#pragma once
// In-memory driver (LevelDB's memenv idea): hermetic tests of everything above the storage interface.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "storage/storage.hpp"

namespace strata {

class MemoryStorage final : public Storage {
 public:
  struct State {
    std::mutex mu;
    std::map<std::string, Bytes> objects;
  };

  MemoryStorage() : state_(std::make_shared<State>()) {}
  explicit MemoryStorage(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // Named process-wide stores, so "mem://x" opened twice in one process sees the same objects.
  static std::shared_ptr<State> shared(const std::string& name);

  uint32_t capabilities() const override;
  std::string describe() const override { return "mem://"; }
  std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode mode) override;
  Bytes get(const std::string& key, uint64_t offset, uint64_t length) override;
  std::optional<ObjectInfo> stat(const std::string& key) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void remove(const std::string& key) override;

  // Direct access for tests that corrupt objects.
  State& state() { return *state_; }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace strata
