#include "engines/mysql/binlog_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/error.hpp"
#include "io/stream.hpp"

namespace strata {

namespace {
uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
constexpr uint8_t kMagic[4] = {0xfe, 'b', 'i', 'n'};
constexpr size_t kHeader = 19;
}  // namespace

void BinlogEventScanner::feed(const uint8_t* data, size_t n) {
  uint64_t start = offset_;
  offset_ += n;
  if (start < 4) {
    size_t k = static_cast<size_t>(std::min<uint64_t>(4 - start, n));
    std::memcpy(magic_ + start, data, k);
    if (start + k == 4 && std::memcmp(magic_, kMagic, 4) != 0) bad_magic_ = true;
  }
  if (bad_magic_ || bad_event_) return;
  // Walk every header that begins inside [start, offset_); a header may span two calls.
  while (next_ < offset_) {
    uint64_t at = std::max(next_ + header_have_, start);
    size_t k = static_cast<size_t>(std::min<uint64_t>(kHeader - header_have_, offset_ - at));
    std::memcpy(header_ + header_have_, data + (at - start), k);
    header_have_ += k;
    if (header_have_ < kHeader) return;
    uint32_t size = le32(header_ + 9);
    if (size < kHeader) {
      bad_event_ = true;
      return;
    }
    int64_t ts = le32(header_);
    if (events_ == 0) first_ts_ = ts;
    last_ts_ = ts;
    last_type_ = header_[4];
    ++events_;
    next_ += size;
    header_have_ = 0;
  }
}

std::string BinlogEventScanner::problem_as_closed_file() const {
  if (offset_ < 4 || bad_magic_) return "it does not start with the binlog magic bytes";
  if (bad_event_) return "event header at offset " + std::to_string(next_) + " is damaged";
  if (events_ == 0) return "it holds no events";
  if (next_ != offset_ || header_have_ != 0) {
    return "it ends inside an event (" + std::to_string(offset_) + " bytes, the last event ends at " +
           std::to_string(next_) + ")";
  }
  if (last_type_ != kBinlogRotateEvent && last_type_ != kBinlogStopEvent) {
    return "its last event (type " + std::to_string(last_type_) + ") is not a rotate or stop event: the server did not close it";
  }
  return "";
}

namespace {
class ScanningSource final : public ByteSource {
 public:
  ScanningSource(std::unique_ptr<ByteSource> inner, BinlogEventScanner& scanner) : inner_(std::move(inner)), scanner_(scanner) {}
  size_t read(uint8_t* buf, size_t n) override {
    size_t got = inner_->read(buf, n);
    scanner_.feed(buf, got);
    return got;
  }
  void finish() override { inner_->finish(); }
  void abort() noexcept override { inner_->abort(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  BinlogEventScanner& scanner_;
};
}  // namespace

std::unique_ptr<ByteSource> scanning_source(std::unique_ptr<ByteSource> inner, BinlogEventScanner& scanner) {
  return std::make_unique<ScanningSource>(std::move(inner), scanner);
}

BinlogEventScanner scan_binlog_file(const std::string& path) {
  auto src = open_file_source(path);
  BinlogEventScanner s;
  std::vector<uint8_t> buf(1 << 20);
  while (size_t n = src->read(buf.data(), buf.size())) s.feed(buf.data(), n);
  return s;
}

int64_t binlog_created_epoch(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open binlog " + path, errno);
  uint8_t hdr[8];
  ssize_t n = ::pread(fd, hdr, sizeof hdr, 0);
  ::close(fd);
  if (n != 8 || std::memcmp(hdr, kMagic, 4) != 0) {
    fail(ErrorCode::kSourceFailed, path + " is not a binlog file (bad magic); check binlog_dir of the source");
  }
  return le32(hdr + 4);
}

}  // namespace strata
