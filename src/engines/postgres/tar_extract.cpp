#include "engines/postgres/tar_extract.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>

#include "common/error.hpp"

namespace strata::pg {
namespace {

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

void TarExtractSink::write(ByteView data) { parser_.feed(data); }

void TarExtractSink::member_start(const TarMember& m) {
  std::string rel = safe_relative(m.name);
  auto mode = static_cast<mode_t>(m.mode);
  char type = m.type;
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
    if (type == '2' ? ::symlink(m.link.c_str(), path.c_str()) != 0
                    : ::link((dir_ + "/" + safe_relative(m.link)).c_str(), path.c_str()) != 0) {
      fail_errno("cannot create link " + path, errno);
    }
    return;
  }
  if (type != '0' && type != '\0') {
    fail(ErrorCode::kCorrupt, std::string("base backup member '") + m.name + "' has tar type '" + type +
                                  "', which pg_basebackup never writes; refusing to extract");
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode ? mode : 0600);
  if (fd_ < 0) fail_errno("cannot create " + path, errno);
  files_.push_back(path);
}

void TarExtractSink::member_data(ByteView data) {
  if (fd_ < 0) return;  // a link's or an unknown member's bytes
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd_, data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail_errno("cannot write " + dir_ + "/" + current_, errno);
    off += static_cast<size_t>(w);
  }
}

void TarExtractSink::member_end() {
  if (fd_ < 0) return;
  // Start writeback now, while the rest of the stream is still being decrypted, instead of all at the end.
  ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
  ::close(fd_);
  fd_ = -1;
}

void TarExtractSink::finish() {
  if (fd_ >= 0 || parser_.data_left() || parser_.header_pending()) {
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
