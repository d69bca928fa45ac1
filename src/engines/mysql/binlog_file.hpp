#pragma once
// What strata reads from a binary log file itself, without mariadb-binlog: the event headers. Every event starts
// with a 19-byte header (timestamp u32, type u8, server_id u32, event_size u32, log_pos u32, flags u16, all
// little-endian) after the 4-byte magic "\xfe" "bin"; event_size covers the whole event, checksum included, so the
// headers can be followed without decoding a body.
#include <cstdint>
#include <memory>
#include <string>

namespace strata {

class ByteSource;

inline constexpr uint8_t kBinlogStopEvent = 3;
inline constexpr uint8_t kBinlogRotateEvent = 4;

// Follows the headers as the bytes of one file pass by (fed in any chunking).
class BinlogEventScanner {
 public:
  void feed(const uint8_t* data, size_t n);
  // The file's first event (format description) and its last event; meaningful once events() > 0.
  int64_t first_timestamp() const { return first_ts_; }
  int64_t last_timestamp() const { return last_ts_; }
  uint8_t last_type() const { return last_type_; }
  uint64_t events() const { return events_; }
  uint64_t bytes() const { return offset_; }
  // Empty when the bytes so far are a whole binlog file that the server closed (ends on an event boundary with a
  // rotate or stop event); otherwise what is wrong, for an error message.
  std::string problem_as_closed_file() const;

 private:
  uint64_t offset_ = 0;     // bytes fed
  uint64_t next_ = 4;       // offset of the next event header
  uint8_t header_[19] = {};
  size_t header_have_ = 0;  // bytes of the header at next_ collected so far
  bool bad_magic_ = false, bad_event_ = false;
  uint8_t magic_[4] = {};
  int64_t first_ts_ = 0, last_ts_ = 0;
  uint8_t last_type_ = 0;
  uint64_t events_ = 0;
};

// A source that hands `inner`'s bytes on unchanged and feeds them to `scanner`.
std::unique_ptr<ByteSource> scanning_source(std::unique_ptr<ByteSource> inner, BinlogEventScanner& scanner);

// Scans a whole file. Throws StrataError(kNotFound) if it cannot be opened.
BinlogEventScanner scan_binlog_file(const std::string& path);

// The timestamp of the format description event: when the server opened the file. Throws StrataError(kSourceFailed)
// for a file that is not a binlog.
int64_t binlog_created_epoch(const std::string& path);

}  // namespace strata
