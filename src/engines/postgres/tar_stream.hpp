#pragma once
// The one tar reader behind TarObserver (watches pg_basebackup's stream on its way to the pipeline) and
// TarExtractSink (writes it into a data directory on restore). Bytes arrive in arbitrary pieces; the parser
// gathers 512-byte headers, hands data to a visitor and skips the padding. It knows ustar's name prefix and GNU
// base-256 sizes; pg_basebackup writes no pax or GNU long-name records, so those are passed on as plain members.
#include <array>
#include <cstdint>
#include <string>

#include "common/bytes.hpp"

namespace strata::pg {

struct TarMember {
  std::string name;  // ustar prefix + "/" + name, as stored (not sanitised)
  std::string link;  // target of a link member ('1' or '2')
  uint64_t size = 0;   // the header's size field
  uint32_t mode = 0;   // permission bits only
  char type = '0';     // tar type flag: '0' or '\0' file, '1' hard link, '2' symlink, '5' directory, ...
};

class TarVisitor {
 public:
  virtual ~TarVisitor() = default;
  virtual void member_start(const TarMember& m) = 0;
  virtual void member_data(ByteView data) {}
  // After the member's last data byte (at once for members without data), before its padding.
  virtual void member_end() {}
};

class TarStreamParser {
 public:
  explicit TarStreamParser(TarVisitor& visitor) : visitor_(visitor) {}
  void feed(ByteView data);
  // Data bytes of the current member not seen yet.
  uint64_t data_left() const { return data_left_; }
  // Part of a header has been fed but not all 512 bytes.
  bool header_pending() const { return header_len_ != 0; }
  // Nothing half-read: not inside a header, a member's data or its padding.
  bool at_boundary() const { return data_left_ == 0 && pad_left_ == 0 && header_len_ == 0; }

 private:
  void parse_header();

  TarVisitor& visitor_;
  std::array<char, 512> header_{};
  size_t header_len_ = 0;
  uint64_t data_left_ = 0, pad_left_ = 0;
};

}  // namespace strata::pg
