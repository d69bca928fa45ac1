#include "storage/storage.hpp"

#include "common/error.hpp"
#include "storage/local/local_storage.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {

StorageWrapper::StorageWrapper(std::unique_ptr<Storage> target) : target_(std::move(target)) {}

void Storage::put(const std::string& key, ByteView data, PutMode mode) {
  auto w = open_write(key, mode);
  w->write(data);
  w->commit();
}

std::unique_ptr<Storage> open_s3_storage(const std::string& location, const StorageOptions& options);  // storage/s3

std::unique_ptr<Storage> open_storage(const std::string& location) { return open_storage(location, StorageOptions{}); }

std::unique_ptr<Storage> open_storage(const std::string& location, const StorageOptions& s3_options) {
  if (location.empty()) fail(ErrorCode::kUsage, "no repository given: pass --repo or set STRATA_REPO");
  if (location.rfind("file://", 0) == 0) return std::make_unique<LocalStorage>(location.substr(7));
  if (location.rfind("mem://", 0) == 0) return std::make_unique<MemoryStorage>(MemoryStorage::shared(location.substr(6)));
  if (location.rfind("s3://", 0) == 0) {
#ifdef STRATA_HAVE_S3
    return open_s3_storage(location, s3_options);
#else
    fail(ErrorCode::kUsage, "s3:// repositories are not supported by this build");
#endif
  }
  auto scheme = location.find("://");
  if (scheme != std::string::npos) {
    fail(ErrorCode::kUsage, "unknown repository scheme in '" + location + "': use a path, file://, or s3://");
  }
  return std::make_unique<LocalStorage>(location);
}

}  // namespace strata
