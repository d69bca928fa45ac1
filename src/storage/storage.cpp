#include "storage/storage.hpp"

#include <sys/stat.h>

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

namespace {

// Locations that are almost a scheme are typos, never directory names: 's3:/bucket' must not become ./s3:/bucket.
void refuse_malformed(const std::string& location) {
  for (const char* scheme : {"s3", "file", "mem"}) {
    std::string s = std::string(scheme) + ":";
    if (location.rfind(s, 0) != 0 || location.rfind(s + "//", 0) == 0) continue;
    std::string rest = location.substr(s.size());
    while (!rest.empty() && rest[0] == '/') rest.erase(0, 1);
    std::string meant = std::string(scheme) + (std::string(scheme) == "file" ? ":///" : "://") + rest;
    fail(ErrorCode::kUsage, "repository location '" + location + "' is not valid; did you mean '" + meant + "'?");
  }
  if (location.rfind("file://", 0) == 0 && location.compare(7, 1, "/") != 0) {
    // file://tmp/x names the host 'tmp' in a URL; a relative path has no file:// form.
    fail(ErrorCode::kUsage, "repository location '" + location + "' is not valid: a file:// location needs an absolute "
                            "path (file:///" + location.substr(7) + "), or give a plain path");
  }
}

// An existing non-directory (a file, a device) can never hold a repository: say so instead of "no config object".
void refuse_non_directory(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) return;
  fail(ErrorCode::kUsage, "repository location '" + path + "' is " + (S_ISREG(st.st_mode) ? "a file" : "not a directory") +
                              "; a local repository is a directory: give its path (or a new one for 'strata repo init')");
}

}  // namespace

std::unique_ptr<Storage> open_storage(const std::string& location, const StorageOptions& s3_options) {
  if (location.empty()) fail(ErrorCode::kUsage, "no repository given: pass --repo or set STRATA_REPO");
  refuse_malformed(location);
  if (location.rfind("file://", 0) == 0) {
    refuse_non_directory(location.substr(7));
    return std::make_unique<LocalStorage>(location.substr(7));
  }
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
  refuse_non_directory(location);
  return std::make_unique<LocalStorage>(location);
}

}  // namespace strata
