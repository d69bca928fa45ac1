#include "engines/postgres/tar_extract.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/error.hpp"

namespace strata::pg {
namespace {

uint64_t tar_number(const char* p, size_t n) {
  if (static_cast<unsigned char>(p[0]) & 0x80) {  // GNU base-256
    uint64_t v = static_cast<unsigned char>(p[0]) & 0x7f;
    for (size_t i = 1; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n && p[i]; ++i) {
    if (p[i] >= '0' && p[i] <= '7') v = v * 8 + static_cast<uint64_t>(p[i] - '0');
  }
  return v;
}

std::string tar_string(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }

// The member name relative to the target, or "" for the archive root. The stream is authenticated, but a path
// that could leave the target directory is refused all the same.
std::string safe_relative(std::string name) {
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  while (!name.empty() && name.back() == '/') name.pop_back();
  if (name == ".") return "";
  if (!name.empty() && name[0] == '/') fail(ErrorCode::kCorrupt, "base backup member '" + name + "' has an absolute path; refusing to extract");
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") fail(ErrorCode::kCorrupt, "base backup member '" + name + "' points outside the data directory; refusing to extract");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return name;
}

void make_parents(const std::string& root, const std::string& rel) {
  size_t pos = 0;
  while ((pos = rel.find('/', pos)) != std::string::npos) {
    std::string d = root + "/" + rel.substr(0, pos);
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) fail_errno("cannot create " + d, errno);
    ++pos;
  }
}

void sync_path(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open " + path + " to sync it", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail_errno("cannot sync " + path, err);
}

}  // namespace

TarExtractSink::TarExtractSink(std::string dir) : dir_(std::move(dir)) {}

TarExtractSink::~TarExtractSink() {
  if (fd_ >= 0) ::close(fd_);
}

void TarExtractSink::write(ByteView data) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n) {
    if (data_left_) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(data_left_, n));
      if (fd_ >= 0) {
        size_t off = 0;
        while (off < take) {
          ssize_t w = ::write(fd_, p + off, take - off);
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) fail_errno("cannot write " + dir_ + "/" + current_, errno);
          off += static_cast<size_t>(w);
        }
      }
      data_left_ -= take;
      p += take;
      n -= take;
      if (data_left_ == 0) end_file();
      continue;
    }
    if (pad_left_) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(pad_left_, n));
      pad_left_ -= take;
      p += take;
      n -= take;
      continue;
    }
    size_t take = std::min<size_t>(512 - header_.size(), n);
    header_.append(reinterpret_cast<const char*>(p), take);
    p += take;
    n -= take;
    if (header_.size() == 512) {
      start_member();
      header_.clear();
    }
  }
}

void TarExtractSink::start_member() {
  const char* h = header_.data();
  if (h[0] == 0) return;  // end-of-archive blocks
  std::string name = tar_string(h, 100);
  if (std::memcmp(h + 257, "ustar", 5) == 0 && h[345]) name = tar_string(h + 345, 155) + "/" + name;
  std::string rel = safe_relative(name);
  uint64_t size = tar_number(h + 124, 12);
  mode_t mode = static_cast<mode_t>(tar_number(h + 100, 8) & 07777);
  char type = h[156];
  current_ = rel;
  std::string path = dir_ + "/" + rel;
  if (type == '5') {
    if (!rel.empty()) {
      make_parents(dir_, rel);
      if (::mkdir(path.c_str(), mode ? mode : 0700) != 0 && errno != EEXIST) fail_errno("cannot create " + path, errno);
      dirs_.push_back(path);
    }
    return;
  }
  if (rel.empty()) fail(ErrorCode::kCorrupt, "base backup has a non-directory member named like the root");
  make_parents(dir_, rel);
  if (type == '2' || type == '1') {
    std::string target = tar_string(h + 157, 100);
    if (type == '2' ? ::symlink(target.c_str(), path.c_str()) != 0
                    : ::link((dir_ + "/" + safe_relative(target)).c_str(), path.c_str()) != 0) {
      fail_errno("cannot create link " + path, errno);
    }
    return;
  }
  if (type != '0' && type != '\0') {
    fail(ErrorCode::kCorrupt, std::string("base backup member '") + name + "' has tar type '" + type +
                                  "', which pg_basebackup never writes; refusing to extract");
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode ? mode : 0600);
  if (fd_ < 0) fail_errno("cannot create " + path, errno);
  files_.push_back(path);
  data_left_ = size;
  pad_left_ = (512 - size % 512) % 512;
  if (size == 0) end_file();
}

void TarExtractSink::end_file() {
  if (fd_ < 0) return;
  // Start writeback now, while the rest of the stream is still being decrypted, instead of all at the end.
  ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
  ::close(fd_);
  fd_ = -1;
}

void TarExtractSink::finish() {
  if (fd_ >= 0 || data_left_ || !header_.empty()) {
    fail(ErrorCode::kCorrupt, "base backup stream ended inside member '" + current_ + "'");
  }
  // A few threads: fsync latency, not bandwidth, dominates for thousands of small files.
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&] {
      for (size_t i; !failed && (i = next++) < files_.size();) {
        try {
          sync_path(files_[i], false);
        } catch (const std::exception& e) {
          if (!failed.exchange(true)) error = e.what();
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (failed) fail(ErrorCode::kStorage, error);
  std::sort(dirs_.begin(), dirs_.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& d : dirs_) sync_path(d, true);
  sync_path(dir_, true);
}

void TarExtractSink::abort() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace strata::pg
