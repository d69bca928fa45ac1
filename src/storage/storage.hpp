#pragma once
// The one interface every repository backend implements (local disk, memory, S3, ...). Modelled on pgBackRest's
// storage driver: a few required operations plus capability flags. Callers never know which driver they hold.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"

namespace strata {

enum class StorageCapability : uint32_t {
  kAtomicWrite = 1u << 0,        // a committed object appears whole or not at all
  kConditionalCreate = 1u << 1,  // PutMode::kCreateOnly is enforced by the backend itself
  kRangeRead = 1u << 2,          // get() with an offset does not transfer the preceding bytes
  kDurable = 1u << 3,            // commit() returns only once the data survives a crash (fsync or remote ack)
};
inline uint32_t operator|(StorageCapability a, StorageCapability b) {
  return static_cast<uint32_t>(a) | static_cast<uint32_t>(b);
}
inline uint32_t operator|(uint32_t a, StorageCapability b) { return a | static_cast<uint32_t>(b); }

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
};

enum class PutMode {
  kOverwrite,
  kCreateOnly,
  // Overwrite, and durability is not needed: records that only matter while their writer lives (locks). Drivers
  // may skip fsync; a record lost in a crash is exactly as harmless as a stale one.
  kEphemeral,
};

// A streaming write of one object. Nothing is visible until commit(); destroying an uncommitted writer aborts it.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual void write(ByteView data) = 0;
  // Makes the object durable and visible. With PutMode::kCreateOnly throws StrataError(kAlreadyExists) if the key
  // exists already.
  virtual void commit() = 0;
  virtual void abort() noexcept = 0;
};

class Storage {
 public:
  static constexpr uint64_t kToEnd = UINT64_MAX;

  // Data object size (plaintext bytes) for backups that set none: 64 MiB suits disks.
  static constexpr uint64_t kDefaultObjectSize = 64u << 20;

  virtual ~Storage() = default;
  virtual uint32_t capabilities() const = 0;
  bool has(StorageCapability c) const { return (capabilities() & static_cast<uint32_t>(c)) != 0; }
  // The data object size this backend works best with; used when neither --object-size nor the config sets one.
  virtual uint64_t object_size_hint() const { return kDefaultObjectSize; }
  // A location for messages, e.g. "/backups/main" or "s3://bucket/prefix". Never contains credentials.
  virtual std::string describe() const = 0;

  virtual std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode mode = PutMode::kOverwrite) = 0;
  // Reads [offset, offset+length) clipped to the object's end. Throws StrataError(kNotFound) if the key is absent.
  virtual Bytes get(const std::string& key, uint64_t offset = 0, uint64_t length = kToEnd) = 0;
  virtual std::optional<ObjectInfo> stat(const std::string& key) = 0;
  // Every object whose key starts with prefix, sorted by key.
  virtual std::vector<ObjectInfo> list(const std::string& prefix) = 0;
  // Removing an absent key is not an error.
  virtual void remove(const std::string& key) = 0;
  // Removes every key, absent ones included, in as few requests as the backend allows (S3: up to 1,000 keys per
  // DeleteObjects request, so a rotation of 10,000 objects is ten requests, not 10,000). Throws on the first key
  // that could not be removed; keys before it in the list may already be gone — callers order keys so that a
  // partial run leaves leftovers, never a listed backup without its data.
  virtual void remove_many(const std::vector<std::string>& keys) {
    for (const auto& k : keys) remove(k);
  }

  // Writes that were started but never committed or aborted: a crashed writer's temp file, an S3 multipart
  // upload left open. `check` reports them and `cleanup` removes them. Drivers that cannot leave any keep the
  // defaults.
  virtual std::vector<ObjectInfo> list_incomplete(const std::string& prefix) { return {}; }
  virtual void remove_incomplete(const ObjectInfo& info) {}

  // Whole-object write through open_write().
  void put(const std::string& key, ByteView data, PutMode mode = PutMode::kOverwrite);
};

// The base of every decorator (fault injection, throttling, ...): forwards each operation to the driver it wraps,
// so a decorator overrides only what it changes and never silently drops an operation it did not think of
// (LevelDB's EnvWrapper). A new virtual of Storage is forwarded here and driven by the Forwarding tests
// (tests/storage/storage_wrapper_test.cpp), which pass every operation through each decorator.
class StorageWrapper : public Storage {
 public:
  explicit StorageWrapper(std::unique_ptr<Storage> target);

  uint32_t capabilities() const override { return target_->capabilities(); }
  uint64_t object_size_hint() const override { return target_->object_size_hint(); }
  std::string describe() const override { return target_->describe(); }
  std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode mode = PutMode::kOverwrite) override {
    return target_->open_write(key, mode);
  }
  Bytes get(const std::string& key, uint64_t offset = 0, uint64_t length = kToEnd) override {
    return target_->get(key, offset, length);
  }
  std::optional<ObjectInfo> stat(const std::string& key) override { return target_->stat(key); }
  std::vector<ObjectInfo> list(const std::string& prefix) override { return target_->list(prefix); }
  void remove(const std::string& key) override { target_->remove(key); }
  void remove_many(const std::vector<std::string>& keys) override { target_->remove_many(keys); }
  std::vector<ObjectInfo> list_incomplete(const std::string& prefix) override {
    return target_->list_incomplete(prefix);
  }
  void remove_incomplete(const ObjectInfo& info) override { target_->remove_incomplete(info); }

  // The wrapped driver.
  Storage& target() const { return *target_; }

 private:
  std::unique_ptr<Storage> target_;
};

// Maps a location to a driver: "/path", "file:///path", "mem://name", "s3://bucket/prefix".
std::unique_ptr<Storage> open_storage(const std::string& location);
// Driver settings from the config file (its [s3] table), as text by key; drivers reject keys they do not know.
using StorageOptions = std::map<std::string, std::string>;
std::unique_ptr<Storage> open_storage(const std::string& location, const StorageOptions& s3_options);

}  // namespace strata
