#include "engines/postgres/tar_extract.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
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

struct TarExtractSink::OutFile {
  std::string path;
  mode_t mode = 0600;
};

// Writes files from a few threads ("lanes"). Each file goes to one lane, which writes its pieces in order, so no
// two threads contend for one inode; a new file goes to the least loaded lane, so small files pass beside a large
// one. A lane creates the file on its first piece and fsyncs and closes it on its last, while the stream goes on:
// at most one descriptor per lane is open. Queues hold at most kMaxBytes / kMaxPieces per lane.
class TarExtractSink::Writers {
 public:
  struct Piece {
    std::shared_ptr<OutFile> file;
    std::shared_ptr<const void> owner;  // keeps `data` alive
    const uint8_t* data = nullptr;
    size_t size = 0;
    bool end = false;  // the file's last piece: flush, fsync, close
  };

  explicit Writers(unsigned lanes) : lanes_(std::max(1u, lanes)) {
    for (auto& l : lanes_) l.thread = std::thread([this, &l] { run(l); });
  }
  ~Writers() { stop(); }

  size_t pick_lane() {
    std::lock_guard<std::mutex> lock(mu_);
    // Queued and in-progress bytes, plus a page's worth per piece: creating and syncing a small file costs more
    // than its size says.
    auto load = [](const Lane& l) { return l.bytes + 4096 * l.pieces; };
    size_t best = 0;
    for (size_t i = 1; i < lanes_.size(); ++i) {
      if (load(lanes_[i]) < load(lanes_[best])) best = i;
    }
    return best;
  }
  // Throws the first writer error instead of queueing more work behind it.
  void submit(size_t lane, Piece p) {
    Lane& l = lanes_[lane];
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return failed_ || (l.bytes < kMaxBytes && l.pieces < kMaxPieces); });
    if (failed_) rethrow(lock);
    l.bytes += p.size;
    ++l.pieces;
    l.queue.push_back(std::move(p));
    l.work_cv.notify_one();
  }
  // Waits until every file submitted is written, synced and closed, or a writer failed.
  void drain() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] {
      return std::all_of(lanes_.begin(), lanes_.end(), [](const Lane& l) { return l.pieces == 0; });
    });
    if (failed_) rethrow(lock);
  }
  void stop() noexcept {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (auto& l : lanes_) {
        l.pieces -= l.queue.size();
        for (const auto& p : l.queue) l.bytes -= p.size;
        l.queue.clear();
        l.work_cv.notify_all();
      }
      done_cv_.notify_all();
    }
    for (auto& l : lanes_) {
      if (l.thread.joinable()) l.thread.join();
    }
  }

 private:
  static constexpr size_t kMaxBytes = 16u << 20;
  static constexpr size_t kMaxPieces = 256;

  struct Lane {
    std::deque<Piece> queue;
    size_t bytes = 0, pieces = 0;  // queued or being written
    std::condition_variable work_cv;
    std::thread thread;
  };

  // The file a lane is writing. Errors are thrown as (message, errno) and recorded by run().
  struct Failure {
    std::string what;
    int err;
  };
  struct Open {
    OutFile* file = nullptr;
    int fd = -1;
    uint64_t offset = 0;

    void close() noexcept {
      if (fd >= 0) ::close(fd);
      fd = -1;
      file = nullptr;
    }
    void start(OutFile& f) {
      file = &f;
      offset = 0;
      fd = ::open(f.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, f.mode);
      if (fd < 0) throw Failure{"cannot create " + f.path, errno};
    }
    void write(const uint8_t* data, size_t n) {
      uint64_t start = offset;
      while (n) {
        ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw Failure{"cannot write " + file->path, errno};
        data += w;
        n -= static_cast<size_t>(w);
        offset += static_cast<uint64_t>(w);
      }
      // Start writeback of this range now, while the stream is still being decrypted, instead of leaving a
      // gigabyte of dirty pages to the fsync at the end of the file.
      ::sync_file_range(fd, static_cast<off_t>(start), static_cast<off_t>(offset - start), SYNC_FILE_RANGE_WRITE);
    }
    void finish() {
      if (::fsync(fd) != 0) throw Failure{"cannot sync " + file->path, errno};
      close();
    }
  };

  [[noreturn]] void rethrow(std::unique_lock<std::mutex>& lock) {
    std::string what = error_;
    int err = error_errno_;
    lock.unlock();
    fail_errno(what, err);
  }

  void run(Lane& lane) {
    Open open;
    for (;;) {
      Piece p;
      {
        std::unique_lock<std::mutex> lock(mu_);
        lane.work_cv.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
        if (lane.queue.empty()) break;
        p = std::move(lane.queue.front());
        lane.queue.pop_front();
      }
      Failure failure{"", 0};
      if (!failed_.load(std::memory_order_relaxed)) {
        try {
          if (open.file != p.file.get()) {
            open.close();
            open.start(*p.file);
          }
          if (p.size) open.write(p.data, p.size);
          if (p.end) open.finish();
        } catch (const Failure& f) {
          failure = f;
          open.close();
        }
      }
      size_t size = p.size;
      p = Piece{};  // release the buffer before the piece counts as done
      std::lock_guard<std::mutex> lock(mu_);
      lane.bytes -= size;
      --lane.pieces;
      if (failure.err && !failed_) {
        failed_ = true;
        error_ = std::move(failure.what);
        error_errno_ = failure.err;
      }
      done_cv_.notify_all();
    }
    open.close();
  }

  std::mutex mu_;
  std::condition_variable done_cv_;  // a piece was written (or failed), or the writers stop
  std::vector<Lane> lanes_;
  bool stopping_ = false;
  std::atomic<bool> failed_{false};
  std::string error_;
  int error_errno_ = 0;
};

TarExtractSink::TarExtractSink(std::string dir, unsigned writer_threads)
    : dir_(std::move(dir)), writers_(std::make_unique<Writers>(writer_threads)) {}

TarExtractSink::~TarExtractSink() { writers_->stop(); }

void TarExtractSink::write(ByteView data) {
  auto copy = std::make_shared<const FrameBuffer>(data.begin(), data.end());
  write_shared(SharedView{copy, ByteView(copy->data(), copy->size())});
}

void TarExtractSink::write_shared(SharedView frame) {
  owner_ = std::move(frame.owner);
  parser_.feed(frame.bytes);
  owner_.reset();
}

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
    if (type == '1') writers_->drain();  // the link's target may still be in a writer's queue
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
  file_ = std::make_shared<OutFile>();
  file_->path = path;
  file_->mode = mode ? mode : 0600;
  lane_ = writers_->pick_lane();
  files_.push_back(path);
}

void TarExtractSink::member_data(ByteView data) {
  if (!file_) return;  // a link's or an unknown member's bytes
  writers_->submit(lane_, Writers::Piece{file_, owner_, data.data(), data.size(), false});
}

void TarExtractSink::member_end() {
  if (!file_) return;
  writers_->submit(lane_, Writers::Piece{std::move(file_), nullptr, nullptr, 0, true});
  file_.reset();
}

void TarExtractSink::finish() {
  if (file_ || parser_.data_left() || parser_.header_pending()) {
    fail(ErrorCode::kCorrupt, "base backup stream ended inside member '" + current_ + "'");
  }
  writers_->drain();  // every file is synced by now
  std::sort(dirs_.begin(), dirs_.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& d : dirs_) sync_path(d, true);
  sync_path(dir_, true);
}

void TarExtractSink::abort() noexcept {
  writers_->stop();
  file_.reset();
}

}  // namespace strata::pg
