#include "storage/local/local_storage.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <random>

#include "common/error.hpp"

namespace strata {
namespace {

constexpr const char* kTempMarker = ".strata-tmp-";

void check_key(const std::string& key) {
  if (key.empty() || key.front() == '/' || key.find("..") != std::string::npos) {
    fail(ErrorCode::kUsage, "invalid object key '" + key + "'");
  }
}

void mkdir_p(const std::string& dir) {
  if (dir.empty()) return;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) return;
  auto slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) mkdir_p(dir.substr(0, slash));
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) fail_errno("cannot create directory " + dir, errno);
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

class LocalWriter final : public ObjectWriter {
 public:
  LocalWriter(std::string final_path, PutMode mode) : final_(std::move(final_path)), mode_(mode) {
    auto slash = final_.rfind('/');
    dir_ = final_.substr(0, slash);
    tmp_ = dir_ + "/" + kTempMarker + final_.substr(slash + 1) + "." + random_suffix();
    // remove() takes away a directory it emptied: one removed between our mkdir and our create makes the create
    // fail with ENOENT, so make it again. Once our temp file is in it, rmdir cannot take it any more.
    for (int attempt = 0; fd_ < 0; ++attempt) {
      mkdir_p(dir_);
      fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
      if (fd_ < 0 && (errno != ENOENT || attempt >= 8)) fail_errno("cannot create " + tmp_, errno);
    }
  }
  ~LocalWriter() override { abort(); }

  void write(ByteView data) override {
    const uint8_t* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        abort();
        fail_errno("cannot write " + final_, err);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

  void commit() override {
    if (fd_ < 0) fail(ErrorCode::kStorage, "write of " + final_ + " was already aborted");
    if (mode_ != PutMode::kEphemeral && ::fsync(fd_) != 0) {
      int err = errno;
      abort();
      fail_errno("cannot sync " + final_, err);
    }
    ::close(fd_);
    fd_ = -1;
    if (mode_ == PutMode::kCreateOnly) {
      // link() fails with EEXIST where rename() would silently replace: that is the create-only guarantee.
      if (::link(tmp_.c_str(), final_.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp_.c_str());
        tmp_.clear();
        if (err == EEXIST) fail(ErrorCode::kAlreadyExists, final_ + " already exists");
        fail_errno("cannot commit " + final_, err);
      }
      ::unlink(tmp_.c_str());
    } else if (::rename(tmp_.c_str(), final_.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp_.c_str());
      tmp_.clear();
      fail_errno("cannot commit " + final_, err);
    }
    tmp_.clear();
    if (mode_ != PutMode::kEphemeral) fsync_dir(dir_);
  }

  void abort() noexcept override {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (!tmp_.empty()) {
      ::unlink(tmp_.c_str());
      tmp_.clear();
    }
  }

 private:
  std::string final_, dir_, tmp_;
  PutMode mode_;
  int fd_ = -1;
};

}  // namespace

LocalStorage::LocalStorage(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

uint32_t LocalStorage::capabilities() const {
  return StorageCapability::kAtomicWrite | StorageCapability::kConditionalCreate | StorageCapability::kRangeRead |
         StorageCapability::kDurable;
}

bool LocalStorage::is_temp_name(const std::string& name) { return name.find(kTempMarker) != std::string::npos; }

std::string LocalStorage::path_of(const std::string& key) const {
  check_key(key);
  return root_ + "/" + key;
}

std::unique_ptr<ObjectWriter> LocalStorage::open_write(const std::string& key, PutMode mode) {
  return std::make_unique<LocalWriter>(path_of(key), mode);
}

Bytes LocalStorage::get(const std::string& key, uint64_t offset, uint64_t length) {
  std::string path = path_of(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) fail(ErrorCode::kNotFound, "object " + key + " is missing from " + root_);
    fail_errno("cannot open " + path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail_errno("cannot stat " + path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    // A directory is only a prefix of other keys, not an object: the same answer stat() and the other drivers give.
    ::close(fd);
    fail(ErrorCode::kNotFound, "object " + key + " is missing from " + root_);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  Bytes out;
  if (offset < size) {
    uint64_t n = std::min<uint64_t>(length, size - offset);
    out.resize(n);
    uint64_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        fail_errno("cannot read " + path, err);
      }
      if (r == 0) break;
      done += static_cast<uint64_t>(r);
    }
    out.resize(done);
  }
  ::close(fd);
  return out;
}

std::optional<ObjectInfo> LocalStorage::stat(const std::string& key) {
  struct stat st;
  if (::stat(path_of(key).c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    fail_errno("cannot stat " + path_of(key), errno);
  }
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return ObjectInfo{key, static_cast<uint64_t>(st.st_size)};
}

std::vector<ObjectInfo> LocalStorage::list(const std::string& prefix) { return walk(prefix, false); }

std::vector<ObjectInfo> LocalStorage::list_incomplete(const std::string& prefix) { return walk(prefix, true); }

void LocalStorage::remove_incomplete(const ObjectInfo& info) {
  if (!is_temp_name(info.key)) fail(ErrorCode::kUsage, info.key + " is not an incomplete write");
  remove(info.key);
}

std::vector<ObjectInfo> LocalStorage::walk(const std::string& prefix, bool temp_files) {
  std::vector<ObjectInfo> out;
  // Walk only the directory that can contain the prefix.
  std::string dir_part = prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
  std::function<void(const std::string&)> walk = [&](const std::string& rel) {
    std::string dir = rel.empty() ? root_ : root_ + "/" + rel;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      if (errno == ENOENT || errno == ENOTDIR) return;
      fail_errno("cannot list " + dir, errno);
    }
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string key = rel.empty() ? name : rel + "/" + name;
      if (is_temp_name(name)) {
        // A temp file stands for the key it would have become; match the prefix against that.
        if (!temp_files) continue;
        std::string target = name.substr(std::string(kTempMarker).size());
        target = target.substr(0, target.rfind('.'));
        std::string target_key = rel.empty() ? target : rel + "/" + target;
        struct stat tst;
        if (target_key.compare(0, prefix.size(), prefix) == 0 && ::lstat((dir + "/" + name).c_str(), &tst) == 0) {
          out.push_back({key, static_cast<uint64_t>(tst.st_size)});
        }
        continue;
      }
      struct stat st;
      if (::lstat((dir + "/" + name).c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        if (key.size() >= prefix.size() ? key.compare(0, prefix.size(), prefix) == 0
                                        : prefix.compare(0, key.size(), key) == 0) {
          walk(key);
        }
      } else if (!temp_files && S_ISREG(st.st_mode) && key.compare(0, prefix.size(), prefix) == 0) {
        out.push_back({key, static_cast<uint64_t>(st.st_size)});
      }
    }
    ::closedir(d);
  };
  walk(dir_part);
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

void LocalStorage::remove(const std::string& key) {
  std::string path = path_of(key);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail_errno("cannot remove " + path, errno);
  // Take away the directories this emptied (data/<id>/ of a deleted backup), below the top-level ones (data/,
  // locks/, ... stay). rmdir only ever removes an empty directory, and a writer that loses the race to it makes
  // the directory again (LocalWriter), so this cannot lose or block a concurrent write.
  for (auto slash = key.rfind('/'); slash != std::string::npos && key.find('/') < slash; slash = key.rfind('/', slash - 1)) {
    if (::rmdir((root_ + "/" + key.substr(0, slash)).c_str()) != 0) break;
  }
}

}  // namespace strata
